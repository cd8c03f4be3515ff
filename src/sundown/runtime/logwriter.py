"""The daemon's side of the event log: it never holds back a reminder and never drops a row.

- The log cannot be opened or written (disk full, unusable state dir, a foreign
  file): the problem is reported once, reminders go on, and the next write tries
  again (a state dir fixed while we run is used at once).
- Another process holds the write lock (a long transaction, a backup tool): the
  row waits, in order, in memory and in a spool file beside the log, and is
  written once the lock is free. Our writes wait at most `BUSY_MS` for the lock,
  so sending never waits on the log. A restarted daemon reads the spool, so a
  reminder whose row was still waiting is not sent again.
- The file was replaced by a rename or removed while we run: noticed before each
  write (the path no longer names the file we opened), and the log at the path
  is opened again, so rows do not vanish into a deleted file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from sundown.core.vocabulary import EventName
from sundown.errors import LogError
from sundown.store.log import Event, EventLog, LogBusy, format_ts, parse_ts

log = logging.getLogger("sundown")

UTC = timezone.utc
BUSY_MS = 100


@dataclass(frozen=True)
class Row:
    """One event not yet in the log, with the time it happened."""

    ts: datetime
    night: date
    reminder: str | None
    event: EventName
    source: str
    details: Mapping[str, Any]

    def as_event(self) -> Event:
        return Event(0, self.ts, self.night, self.reminder, self.event, self.source, self.details)

    def to_json(self) -> str:
        return json.dumps(
            {
                "ts": format_ts(self.ts),
                "night": self.night.isoformat(),
                "reminder": self.reminder,
                "event": self.event,
                "source": self.source,
                "details": dict(self.details),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Row:
        d = json.loads(text)
        return cls(
            parse_ts(d["ts"]),
            date.fromisoformat(d["night"]),
            d["reminder"],
            d["event"],
            d["source"],
            d["details"],
        )


class LogWriter:
    """Rows in, never an exception out; `problem` says what is wrong right now, if anything."""

    def __init__(
        self,
        path: Path,
        spool: Path,
        on_problem: Callable[[str], None],
        created: datetime | None = None,
    ) -> None:
        self.path = path
        self._new_log_created = created
        self.spool = spool  # rows waiting for the lock, beside the log
        self._on_problem = on_problem
        self._log: EventLog | None = None
        self._identity: tuple[int, int] | None = None
        self.problem: str | None = None
        self.opened = False  # at least once
        self.created: datetime | None = None  # when the log began, as it said when first opened
        self.pending: list[Row] = self._read_spool()
        self._open()

    # -- the file ------------------------------------------------------------------------------

    def _open(self) -> EventLog | None:
        """The log, opened now if it could not be before, or again if its path names another file."""
        if self._log is not None and self._identity != _identity(self.path):
            log.warning("the log %s was replaced or removed; opening the one now at that path", self.path)
            with contextlib.suppress(LogError):
                self._log.checkpoint()  # our rows go with the file, not into the next one's WAL
            self._log.close()
            self._log = None
        if self._log is None:
            try:
                self._log = EventLog(
                    self.path, created=self._new_log_created, busy_timeout_ms=BUSY_MS, write_attempts=1
                )
                self._identity = _identity(self.path)
                if not self.opened:
                    self.created = self._log.created()
                    self.opened = True
                self._failed(None)
            except LogBusy:
                pass  # creating or migrating it needs the lock: next time
            except LogError as exc:
                self._failed(str(exc))
        return self._log

    def _failed(self, problem: str | None) -> None:
        if problem is not None and problem != self.problem:
            self._on_problem(problem)
        self.problem = problem

    # -- writing -------------------------------------------------------------------------------

    def write(self, row: Row) -> None:
        """One row; see the module docstring for what happens on failure."""
        row = replace(row, ts=row.ts.astimezone(UTC))
        if self.flush():
            try:
                self._write(row, once=False)
                return
            except LogBusy:
                pass
            except LogError as exc:
                self._failed(str(exc))
        if self.problem is not None:
            return  # a broken log is reported, not queued: it may stay broken for days
        self.pending.append(row)
        self._append_spool(row)

    def flush(self) -> bool:
        """Write the rows that waited for the lock, in order; True when none waits any more."""
        if not self.pending:
            return True
        while self.pending:
            try:
                self._write(self.pending[0], once=True)
            except LogError as exc:
                if not isinstance(exc, LogBusy):
                    self._failed(str(exc))
                return False
            self.pending.pop(0)
        with contextlib.suppress(FileNotFoundError):
            self.spool.unlink()
        log.info("the log took the rows that waited for it")
        return True

    def _write(self, row: Row, once: bool) -> None:
        eventlog = self._open()
        if eventlog is None:
            raise LogBusy("the log is not open yet") if self.problem is None else LogError(self.problem)
        eventlog.record(row.event, row.night, row.reminder, row.source, row.details, ts=row.ts, once=once)
        self._failed(None)

    # -- the spool: rows waiting for the lock survive a restart --------------------------------

    def _read_spool(self) -> list[Row]:
        try:
            lines = self.spool.read_text().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            log.error("cannot read %s: %s", self.spool, exc.strerror)
            return []
        rows = []
        for line in lines:
            try:
                rows.append(Row.from_json(line))
            except (ValueError, KeyError, TypeError, OverflowError, AttributeError):
                log.warning("%s: skipping a damaged line", self.spool)  # a crash mid-append
        return rows

    def _append_spool(self, row: Row) -> None:
        try:
            fd = os.open(self.spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, (row.to_json() + "\n").encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("cannot keep a waiting row in %s: %s", self.spool, exc.strerror)

    # -- reading -------------------------------------------------------------------------------

    def night_events(self, night: date) -> list[Event]:
        """The night's rows, with those still waiting for the lock."""
        eventlog = self._open()
        events: list[Event] = []
        if eventlog is not None:
            try:
                events = eventlog.night_events(night)
            except LogError as exc:
                self._failed(str(exc))
        waiting = [r.as_event() for r in self.pending if r.night == night]
        return sorted(events + waiting, key=lambda e: e.ts) if waiting else events

    def close(self) -> None:
        self.flush()
        if self._log is not None:
            self._log.close()
            self._log = None


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)
