"""The daemon's calendar: one thread that reads or fetches it and expands the coming mornings.

Nothing here runs on the daemon's worker: the worker asks `view()` for the last events
read (an immutable value) and decides with `core.morning`. The thread wakes up when the
file changes (inotify on its directory, like the config: within 2 s), when an hour has
passed for a URL, when the expanded window needs to move on (twice a day), and when the
daemon kicks it (resume, clock set). The parsing itself happens in a child process
(`calendar.ics`) with limits; whatever goes wrong keeps the last good events and is
said once, in the service log, `status` and `doctor`.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from sundown.calendar.ics import MAX_BYTES, TOO_BIG
from sundown.core.morning import CalendarEvent
from sundown.core.routine import Calendar

if TYPE_CHECKING:
    from sundown.calendar.fetch import Cache


class Watching(Protocol):
    """A file being watched (the daemon's inotify watch): closed when the calendar stops."""

    def close(self) -> None: ...


# Watch a local file: calls back on each change. Handed in by the daemon, which owns its threads.
WatchFile = Callable[[Path, Callable[[], None]], Watching]

log = logging.getLogger("sundown.calendar")

UTC = timezone.utc
BEHIND = timedelta(hours=12)  # the expanded window: from now - BEHIND ...
AHEAD = timedelta(days=3)  # ... to now + AHEAD: tonight's and tomorrow night's mornings
SLIDE_AT = timedelta(days=2, hours=12)  # expanded again once now + SLIDE_AT passes its end
FETCH_EVERY = timedelta(hours=1)
RETRY_FIRST = timedelta(minutes=5)  # after a failed fetch; doubling up to FETCH_EVERY
PARSE_TIMEOUT_S = 30.0
MAX_WAIT_S = 3600.0


def fingerprint(data: bytes) -> str:
    """Whether the bytes changed since they were parsed. CRC-32 and length, not hashlib: that
    maps OpenSSL's libcrypto into the daemon (MBs) to tell an edited calendar from the old one."""
    import zlib

    return f"{zlib.crc32(data):08x}-{len(data)}"


def utc_now() -> datetime:
    return datetime.now(UTC)


def shown(ics: str) -> str:
    """How a calendar is named in logs and `status`: a URL without its path, which for a
    calendar's secret address is the secret."""
    if "://" not in ics:
        return ics
    parts = urlsplit(ics)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.path not in ("", "/") else ics


@dataclass(frozen=True)
class CalendarView:
    """The calendar as last read: its events over `covers`, or why it could not be read."""

    where: str
    events: tuple[CalendarEvent, ...] = ()
    covers: tuple[datetime, datetime] | None = None
    problem: str | None = None
    read_at: datetime | None = None  # when the events were read
    series: int = 0
    skipped: int = 0  # series left out: broken, or too slow to expand
    truncated: bool = False
    fetched: datetime | None = None  # a URL: when the server last answered

    def covering(self, start: datetime, end: datetime) -> bool:
        """Whether the events read cover `start`..`end` (else: not known, change nothing)."""
        return self.covers is not None and self.covers[0] <= start and end <= self.covers[1]

    def parsed(
        self, answer: Mapping[str, Any], covers: tuple[datetime, datetime], now: datetime
    ) -> CalendarView:
        """This view with what the parser answered (no "error") for `covers`, read at `now`."""
        return replace(
            self,
            events=decode(answer.get("events") or []),
            covers=covers,
            read_at=now,
            series=int(answer.get("series") or 0),
            skipped=int(answer.get("skipped") or 0),
            truncated=bool(answer.get("truncated")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ics": self.where,
            "problem": self.problem,
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "fetched": self.fetched.isoformat() if self.fetched else None,
            "events": len(self.events),
            "skipped": self.skipped,
            "truncated": self.truncated,
        }


def decode(items: list[dict[str, Any]]) -> tuple[CalendarEvent, ...]:
    """The parser's JSON events; one it cannot read is left out."""
    events = []
    for item in items:
        try:
            text = str(item["start"])
            start: datetime | date = (
                date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
            )
            events.append(
                CalendarEvent(
                    str(item.get("title") or ""),
                    start,
                    bool(item.get("cancelled")),
                    bool(item.get("transparent")),
                )
            )
        except (KeyError, ValueError, TypeError):
            continue
    return tuple(events)


# The child imports this very sundown (its source tree first, as the daemon did; an installed
# one is found as usual) and nothing from the daemon's working directory, which `-c` would put
# first on its path.
CHILD = (
    "import sys; sys.path[:] = [p for p in sys.path if p]; "
    "sys.argv[1] and sys.path.insert(0, sys.argv[1]); "
    "from sundown.calendar.ics import main; sys.exit(main(sys.argv[2:]))"
)


def _argv(start: datetime, end: datetime) -> list[str]:
    root = Path(__file__).resolve().parent.parent.parent
    tree = "" if root.name in ("site-packages", "dist-packages") else str(root)
    return [sys.executable, "-c", CHILD, tree, start.isoformat(), end.isoformat()]


def parse(
    data: bytes, start: datetime, end: datetime, child: list[subprocess.Popen[bytes]] | None = None
) -> dict[str, Any]:
    """Run the parser child on `data`; its JSON answer, or {"error": ...}."""
    try:
        proc = subprocess.Popen(
            _argv(start, end), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/"
        )
    except OSError as exc:
        return {"error": f"cannot start the calendar reader: {exc.strerror or exc}"}
    if child is not None:
        child.append(proc)
    try:
        out, err = proc.communicate(data, timeout=PARSE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"reading it took over {PARSE_TIMEOUT_S:.0f} s; left alone"}
    finally:
        if child is not None:
            child.remove(proc)
    try:
        answer = json.loads(out)
        if isinstance(answer, dict):
            return answer
    except ValueError:
        pass
    if proc.returncode and proc.returncode < 0:
        return {"error": f"the calendar reader was stopped by signal {-proc.returncode} (too big to read?)"}
    last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no answer"]
    return {"error": f"the calendar reader failed: {last[0][:200]}"}


def read_file(path: Path) -> tuple[bytes | None, str | None]:
    """A local calendar's bytes, or why they cannot be read (over 10 MB: unread)."""
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > MAX_BYTES:
                return None, TOO_BIG
            data = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None, "the file does not exist"
    except IsADirectoryError:
        return None, "it is a directory, not an .ics file"
    except OSError as exc:
        return None, f"cannot read it: {exc.strerror or exc}"
    return (None, TOO_BIG) if len(data) > MAX_BYTES else (data, None)


def read_once(calendar: Calendar, copy: Path, meta: Path, now: datetime) -> CalendarView:
    """The calendar as `check` and `doctor` see it without a daemon: a local file, or the copy
    of a URL the daemon kept (never fetched here: a command must not wait on a server)."""
    where = shown(calendar.ics)
    fetched = None
    data: bytes | None
    problem: str | None
    if calendar.is_url:
        from sundown.calendar.fetch import Cache

        cached = Cache(copy, meta, calendar.ics).load()
        if cached.body is None:
            return CalendarView(where, problem="not fetched yet: the daemon fetches it (at most hourly)")
        data, problem, fetched = cached.body, None, cached.fetched
    else:
        data, problem = read_file(Path(calendar.ics))
    if data is None:
        return CalendarView(where, problem=problem)
    start, end = now - BEHIND, now + AHEAD
    answer = parse(data, start, end)
    if "error" in answer:
        return CalendarView(where, problem=str(answer["error"]), fetched=fetched)
    return CalendarView(where, fetched=fetched).parsed(answer, (start, end), now)


class CalendarSource:
    """The calendar's events for the coming mornings, kept fresh by one thread."""

    def __init__(
        self,
        calendar: Calendar,
        copy: Path,
        meta: Path,
        on_change: Callable[[], None],
        clock: Callable[[], datetime] = utc_now,
        watch_file: WatchFile | None = None,
    ) -> None:
        self.calendar = calendar
        self.watch_file = watch_file
        self.on_change = on_change
        self.clock = clock
        self._view = CalendarView(shown(calendar.ics))
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._children: list[subprocess.Popen[bytes]] = []
        self._parsed: str | None = None  # fingerprint of the bytes the events were read from
        self._failed: tuple[str, datetime, str] | None = None  # bytes the parser failed on: when, why
        self._said: str | None = None  # the problem last written to the service log
        self._watch: Watching | None = None  # a local file: inotify on it
        self._cache: Cache | None = None  # a URL: the copy beside the log and its validators
        self._next_fetch: datetime | None = None
        self._failures = 0
        if calendar.is_url:
            from sundown.calendar.fetch import Cache

            self._cache = Cache(copy, meta, calendar.ics)
        self._thread = threading.Thread(target=self._run, name="sundown-calendar", daemon=True)

    def start(self) -> None:
        if not self.calendar.is_url and self.watch_file is not None:
            try:
                self._watch = self.watch_file(Path(self.calendar.ics), self.kick)
            except OSError as exc:
                log.warning("changes to %s are picked up only hourly: %s", self.calendar.ics, exc)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._watch is not None:
            self._watch.close()
        for proc in list(self._children):
            proc.kill()
        self._thread.join(timeout=0.2)  # a fetch in flight is left to its timeout (a daemon thread)

    def kick(self) -> None:
        """Look again now: the file changed, the machine resumed, the clock was set."""
        self._wake.set()

    def view(self) -> CalendarView:
        return self._view

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._step(self.clock())
            except Exception as exc:  # the thread must outlive any surprise; the routine goes on
                log.exception("calendar: unexpected error")
                self._publish(replace(self._view, problem=f"unexpected error: {exc}"))
            self._wake.wait(self._wait_s(self.clock()))
            self._wake.clear()

    def _wait_s(self, now: datetime) -> float:
        """Until the next fetch, the window's next move, or an hour; a kick comes sooner."""
        times = [t for t in (self._next_fetch, self._retry_at()) if t is not None]
        covers = self._view.covers
        if covers is not None and covers[1] - SLIDE_AT > now:
            times.append(covers[1] - SLIDE_AT)
        if not times:
            return MAX_WAIT_S
        seconds = (min(times) - now).total_seconds()
        return min(max(seconds, 1.0), MAX_WAIT_S)

    def _retry_at(self) -> datetime | None:
        """Bytes the parser failed on are tried again only when they change, or an hour on."""
        return self._failed[1] + FETCH_EVERY if self._failed is not None else None

    def _step(self, now: datetime) -> None:
        data, problem = self._fetch(now) if self._cache is not None else self._read()
        view = self._view
        if data is not None:
            digest = fingerprint(data)
            stale = view.covers is None or now + SLIDE_AT > view.covers[1]
            failed = self._failed
            if failed is not None and failed[0] == digest and now < failed[1] + FETCH_EVERY:
                problem = problem or failed[2]
            elif digest != self._parsed or stale:
                start, end = now - BEHIND, now + AHEAD
                answer = parse(data, start, end, self._children)
                if self._stop.is_set():
                    return
                if "error" in answer:
                    kept = (
                        "; keeping what was read before"
                        if view.read_at
                        else "; the routine's bedtimes are kept"
                    )
                    self._failed = (digest, now, f"{answer['error']}{kept}")
                    problem = problem or self._failed[2]
                else:
                    self._parsed, self._failed = digest, None
                    view = view.parsed(answer, (start, end), now)
        self._publish(replace(view, problem=problem))

    def _read(self) -> tuple[bytes | None, str | None]:
        return read_file(Path(self.calendar.ics))

    def _fetch(self, now: datetime) -> tuple[bytes | None, str | None]:
        from sundown.calendar.fetch import Cached, refresh

        cache = self._cache
        assert cache is not None, "fetched only for a URL, which has its cache"
        cached: Cached = cache.load()
        due = self._next_fetch if self._next_fetch is not None else self._first_fetch(cached, now)
        problem = self._view.problem if self._next_fetch is not None else None
        if now >= due:
            cached, problem = refresh(cache, now)
            if problem is None:
                self._failures = 0
                self._next_fetch = now + FETCH_EVERY
            else:
                self._failures += 1
                retry = min(RETRY_FIRST * 2 ** (self._failures - 1), FETCH_EVERY)
                self._next_fetch = now + retry
                # Worded the same on every failure of one kind: it is said once (`fetched` says when).
                problem = f"{problem}; " + ("using the last good copy" if cached.body else "no copy yet")
        else:
            self._next_fetch = due
        self._view = replace(self._view, fetched=cached.fetched)
        return cached.body, problem

    def _first_fetch(self, cached: Any, now: datetime) -> datetime:
        """At start: within the hour of the last answer, the kept copy is fresh enough."""
        if cached.body is not None and cached.fetched is not None and cached.fetched <= now:
            return cached.fetched + FETCH_EVERY
        return now

    def _publish(self, view: CalendarView) -> None:
        changed = view != self._view
        self._view = view
        if view.problem != self._said:
            if view.problem is not None:
                log.warning("calendar %s: %s", view.where, view.problem)
            elif self._said is not None:
                log.info("calendar %s: read again", view.where)
            self._said = view.problem
        if changed:
            self.on_change()
