"""The SQLite event log: schema, migrations, writes, queries (events: docs/stats.md).

The log is the single source of truth for runtime state: every state change is
one row, and per-night state is folded from that night's rows. The daemon and
any number of CLI processes write it at once: WAL, a busy timeout, and every
`record` is its own `BEGIN IMMEDIATE` transaction committed (synchronous=FULL)
before it returns, so a command that exited 0 left a durable row.

Threads: one `EventLog` holds one connection opened with
``check_same_thread=False`` and serialises every use of it with a lock, so the
daemon's scheduler and notification threads may share one instance.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time as _time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime, timezone
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sundown.core.plan import NO_CHANGES, NightChanges
from sundown.core.state import CHANGE_EVENTS, Event, ReminderNight, fold_changes, instant
from sundown.core.vocabulary import EVENTS, EventName, is_source
from sundown.errors import LogError

if TYPE_CHECKING:
    from sundown.core.activity import SpanRow

UTC = timezone.utc
NIGHT_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
NIGHT_GLOB = "night GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"


# "SDWN": marks a database as ours, so a foreign SQLite file is refused, not adopted.
APPLICATION_ID = 0x5344574E
SCHEMA_VERSION = 5
BUSY_TIMEOUT_MS = 10_000
# On top of SQLite's own busy handler: a few retries of the whole transaction.
WRITE_ATTEMPTS = 5

# Schema history, each migrated in place by `_migrate`:
#   1: events without `source` (every row was the daemon's)
#   2: events with `source`
#   3: + `night_summary`, one row per (night, reminder), kept by a trigger in the same
#      transaction as the event, so stats over ten years read 20k rows instead of
#      aggregating 50k events.
#   4: + `meta` (`created`: when the log began; nothing before it is missed), and a
#      snooze's re-notification is no longer counted as a repeat in the summary.
#   5: + `activity_spans`, one row per `activity` event (night, source, start, end as POSIX
#      seconds, state), kept by a trigger like `night_summary`: stats over ten years read
#      15k integer rows instead of parsing 15k JSON objects; a span seen twice is one row.
# One `activity` row as a span: SQLite's strftime reads the ISO text with its offset
# ("+00:00") as UTC, and `%s` floors to whole seconds, as `activity.epoch` does. A row that
# holds no span is left out of the table, never refused. Used by the trigger and the migration.
_SPAN_FROM = "CAST(strftime('%s', json_extract({row}.details, '$.from')) AS INTEGER)"
_SPAN_TO = "CAST(strftime('%s', json_extract({row}.details, '$.to')) AS INTEGER)"
_SPAN_STATE = "json_extract({row}.details, '$.state')"
_NIGHT_START = "CAST(strftime('%s', {row}.night) AS INTEGER)"
# As `activity.plausible`: text instants (a number would be read as a Julian day), ending after
# the start, at most a day long, between the day before the night's date and three days after.
_IS_SPAN = (
    "{row}.event = 'activity' AND json_valid({row}.details)"
    f" AND {_SPAN_STATE} IN ('active', 'idle', 'locked', 'asleep')"
    " AND json_type({row}.details, '$.from') = 'text' AND json_type({row}.details, '$.to') = 'text'"
    f" AND {_SPAN_TO} > {_SPAN_FROM} AND {_SPAN_TO} - {_SPAN_FROM} <= 86400"
    f" AND {_SPAN_FROM} >= {_NIGHT_START} - 86400 AND {_SPAN_TO} <= {_NIGHT_START} + 3 * 86400"
)
_SPAN_VALUES = f"{{row}}.night, {{row}}.source, {_SPAN_FROM}, {_SPAN_TO}, {_SPAN_STATE}"
_ACTIVITY_SCHEMA = [
    """CREATE TABLE activity_spans (
        night TEXT NOT NULL,
        source TEXT NOT NULL,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (night, source, start)
    ) WITHOUT ROWID""",
    f"""CREATE TRIGGER events_activity AFTER INSERT ON events WHEN {_IS_SPAN.format(row="NEW")}
    BEGIN
        INSERT OR IGNORE INTO activity_spans (night, source, start, end, state)
        VALUES ({_SPAN_VALUES.format(row="NEW")});
    END""",
]
_SCHEMA = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
    """CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        night TEXT NOT NULL,
        reminder TEXT,
        event TEXT NOT NULL,
        source TEXT NOT NULL,
        details TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX events_night ON events (night, ts)",
    "CREATE INDEX events_event ON events (event, night, reminder)",
    """CREATE TABLE night_summary (
        night TEXT NOT NULL,
        reminder TEXT NOT NULL,
        notified INTEGER NOT NULL DEFAULT 0,
        repeats INTEGER NOT NULL DEFAULT 0,
        first_notified TEXT,
        scheduled_at TEXT,
        last_notified TEXT,
        planned_bedtime TEXT,
        acknowledged TEXT,
        missed INTEGER NOT NULL DEFAULT 0,
        missed_ts TEXT,
        missed_at TEXT,
        PRIMARY KEY (night, reminder)
    ) WITHOUT ROWID""",
    # All SET expressions see the row as it was before the UPDATE (SQL semantics), and the
    # comparisons keep the first notification/acknowledgement by time even for rows
    # inserted out of order (a backfilled `ack --at`). Same rules as `state.fold`.
    """CREATE TRIGGER events_summary AFTER INSERT ON events WHEN NEW.reminder IS NOT NULL
    BEGIN
        INSERT OR IGNORE INTO night_summary (night, reminder) VALUES (NEW.night, NEW.reminder);
        UPDATE night_summary SET
            notified = notified + (NEW.event = 'notified'),
            repeats = repeats + (NEW.event = 'notified'
                                 AND COALESCE(json_extract(NEW.details, '$.repeat'), 0) > 0
                                 AND NOT COALESCE(json_extract(NEW.details, '$.snoozed'), 0)),
            first_notified = CASE WHEN NEW.event = 'notified'
                AND (first_notified IS NULL OR NEW.ts < first_notified) THEN NEW.ts ELSE first_notified END,
            scheduled_at = CASE WHEN NEW.event = 'notified'
                AND (first_notified IS NULL OR NEW.ts < first_notified)
                THEN json_extract(NEW.details, '$.at') ELSE scheduled_at END,
            last_notified = CASE WHEN NEW.event = 'notified'
                AND (last_notified IS NULL OR NEW.ts >= last_notified) THEN NEW.ts ELSE last_notified END,
            planned_bedtime = CASE WHEN NEW.event = 'notified'
                AND (last_notified IS NULL OR NEW.ts >= last_notified)
                THEN json_extract(NEW.details, '$.bedtime') ELSE planned_bedtime END,
            acknowledged = CASE WHEN NEW.event = 'acknowledged'
                AND (acknowledged IS NULL OR NEW.ts < acknowledged) THEN NEW.ts ELSE acknowledged END,
            missed = missed OR NEW.event = 'missed',
            missed_ts = CASE WHEN NEW.event = 'missed'
                AND (missed_ts IS NULL OR NEW.ts < missed_ts) THEN NEW.ts ELSE missed_ts END,
            missed_at = CASE WHEN NEW.event = 'missed'
                AND (missed_ts IS NULL OR NEW.ts < missed_ts)
                THEN json_extract(NEW.details, '$.at') ELSE missed_at END
        WHERE night = NEW.night AND reminder = NEW.reminder;
    END""",
    *_ACTIVITY_SCHEMA,
]


def format_ts(ts: datetime) -> str:
    """Fixed-width UTC text, so the text order in SQL is the time order."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _read_ts(text: object) -> datetime | None:
    """A row's time in UTC, or None when the row holds something else (never raises)."""
    found = instant(text)
    return found.astimezone(UTC) if found is not None else None


def _read_night(text: object) -> date | None:
    if not isinstance(text, str) or not NIGHT_RE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _row_event(row: tuple[Any, ...]) -> Event | None:
    """One row as an Event, or None when it cannot be one: only sundown writes the log, but a
    row written past `record` (by hand, by a bug, by a forged answer of an older version) must
    never stop a reader. Details that are not a JSON object read as none."""
    id_, ts, night, reminder, event, source, details = row
    when, day = _read_ts(ts), _read_night(night)
    if when is None or day is None or not isinstance(event, str) or not isinstance(source, str):
        return None
    if reminder is not None and not isinstance(reminder, str):
        return None
    try:
        fields = json.loads(details) if isinstance(details, str) and details else {}
    except ValueError:
        fields = {}
    return Event(id_, when, day, reminder, event, source, fields if isinstance(fields, dict) else {})


# A span row without its night (SpanRow), taken in C: ten years are 15k of them.
_SPAN_ROW = itemgetter(1, 2, 3, 4)

_TRANSIENT = ("locked", "busy")


class LogBusy(LogError):
    """Another process holds the log's write lock: try again later, nothing is wrong with it."""


class EventLog:
    """The event log at `path`; see the module docstring for the concurrency rules."""

    def __init__(
        self,
        path: Path | str,
        created: datetime | None = None,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        write_attempts: int = WRITE_ATTEMPTS,
    ) -> None:
        """`created`: when a new log begins (default now; the daemon passes its own clock).
        `busy_timeout_ms`, `write_attempts`: how long a write waits for another writer's lock."""
        self.path = Path(path)
        self._created = created
        self.busy_timeout_ms = busy_timeout_ms
        self.write_attempts = write_attempts
        self._lock = threading.RLock()
        self.unreadable: set[int] = set()  # ids of rows read so far that are not events (skipped)
        self._conn: sqlite3.Connection | None = self._open()

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        path = self.path
        try:
            if not path.parent.is_dir():
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
            if path.is_symlink():
                # SQLite would create a missing target with the umask's mode (0644): we make it
                # ourselves, 0600, like the log itself. An existing target is used as it is.
                path = Path(os.path.realpath(path))
            if not path.exists():
                self._create_file(path)
        except OSError as exc:
            for parent in (path.parent, *path.parent.parents):
                if os.path.lexists(parent) and not parent.is_dir():
                    raise LogError(
                        f"cannot create the log {path}: {parent} is a file, not a directory;"
                        " move it away, or point SUNDOWN_STATE_DIR at a directory"
                    ) from exc
            raise LogError(f"cannot create the log {path}: {exc.strerror or exc}") from exc
        try:
            conn = sqlite3.connect(
                str(path), timeout=self.busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise LogError(f"cannot open the log {path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            self._check_ours(conn)
            self._wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            self._migrate(conn)
        except LogError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LogError(self._describe(exc)) from exc
        return conn

    @staticmethod
    def _create_file(path: Path) -> None:
        """Create the file ourselves with 0600: SQLite would use the umask; -wal/-shm copy its mode."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # another process created it between our check and open
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)

    def _describe(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "not a database" in text or "malformed" in text:
            return (
                f"{self.path} is not a readable sundown log ({text}); it was left untouched."
                " Move it away to start a new log, or set SUNDOWN_STATE_DIR."
            )
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return f"cannot write the log {self.path}: {text} (is the state directory read-only?)"
        if "full" in text:
            return f"cannot write the log {self.path}: the disk is full"
        return f"log {self.path}: {text}"

    def _wal(self, conn: sqlite3.Connection) -> None:
        """WAL mode, which a new file switches to once. The switch needs the file to itself and
        SQLite answers "locked" at once, without waiting, while another process opens or creates
        the same new log: tried again until the busy timeout."""
        deadline = _time.monotonic() + self.busy_timeout_ms / 1000
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not any(w in str(exc) for w in _TRANSIENT) or _time.monotonic() > deadline:
                    raise
                _time.sleep(0.01)

    def _check_ours(self, conn: sqlite3.Connection) -> None:
        """Refuse a file that is not a sundown log before changing anything in it."""
        # Reading the schema is the first thing that touches the file's header. In one read
        # transaction: read one by one, the three could straddle another process's creating the
        # log (no tables yet, then its application id not yet, then its schema version).
        conn.execute("BEGIN")
        try:
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                )
            }
            (app_id,) = conn.execute("PRAGMA application_id").fetchone()
            (version,) = conn.execute("PRAGMA user_version").fetchone()
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")  # it only read
        if not tables and app_id == 0 and version == 0:
            return  # a new, empty file
        if app_id != APPLICATION_ID:
            raise LogError(
                f"{self.path} is an SQLite database that sundown did not write"
                f" (tables: {', '.join(sorted(tables)) or 'none'}); it was left untouched."
                " Move it away or set SUNDOWN_STATE_DIR."
            )
        if version > SCHEMA_VERSION:
            raise LogError(
                f"{self.path} was written by a newer sundown (schema {version}, this one knows"
                f" {SCHEMA_VERSION}); upgrade sundown to read it"
            )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Create or upgrade the schema in place, in one transaction per step."""
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version >= SCHEMA_VERSION:
            return  # the common case: no write lock taken just to open the log
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                (version,) = conn.execute("PRAGMA user_version").fetchone()
                if version >= SCHEMA_VERSION:
                    conn.execute("COMMIT")
                    return
                if version == 0:
                    for stmt in _SCHEMA:
                        conn.execute(stmt)
                elif version in (1, 2, 3):
                    # Rebuild: the old rows are replayed in id order through the new trigger,
                    # so the summary is built by the very code that maintains it.
                    source = "'daemon'" if version == 1 else "source"
                    conn.execute("DROP INDEX IF EXISTS events_night")
                    conn.execute("DROP INDEX IF EXISTS events_event")
                    conn.execute("DROP TRIGGER IF EXISTS events_summary")
                    conn.execute("DROP TABLE IF EXISTS night_summary")
                    conn.execute("ALTER TABLE events RENAME TO events_old")
                    for stmt in _SCHEMA:
                        conn.execute(stmt)
                    conn.execute(
                        "INSERT INTO events (id, ts, night, reminder, event, source, details)"
                        f" SELECT id, ts, night, reminder, event, {source}, details"
                        " FROM events_old ORDER BY id"
                    )
                    conn.execute("DROP TABLE events_old")
                elif version == 4:
                    # Only added: the spans already in the log (none, written by sundown) go in too.
                    for stmt in _ACTIVITY_SCHEMA:
                        conn.execute(stmt)
                    values, where = _SPAN_VALUES.format(row="e"), _IS_SPAN.format(row="e")
                    conn.execute(
                        "INSERT OR IGNORE INTO activity_spans (night, source, start, end, state)"
                        f" SELECT {values} FROM events e WHERE {where}"
                    )
                else:  # pragma: no cover - guarded by _check_ours
                    raise LogError(f"{self.path}: unknown schema version {version}")
                # The log began with its first row (an old log) or now (a new one).
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value)"
                    " SELECT 'created', COALESCE(MIN(ts), ?) FROM events",
                    (format_ts(self._created or datetime.now(UTC)),),
                )
                new = SCHEMA_VERSION
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {new}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -- writing ---------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn is None:
                raise LogError(f"the log {self.path} is closed")
            yield self._conn

    def record(
        self,
        event: EventName,
        night: date,
        reminder: str | None,
        source: str,
        details: Mapping[str, Any] | None = None,
        ts: datetime | None = None,
        once: bool = False,
    ) -> Event:
        """Append one event; it is committed to disk when this returns.

        `once`: not if the log already has this very row (same ts, night, reminder, event and
        source) — for rows written again after a crash may have left them written already.
        Raises `LogBusy` when another process holds the write lock past the busy timeout.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        if not is_source(source):
            raise ValueError(f"unknown source {source!r}")
        if not isinstance(night, date) or isinstance(night, datetime):
            raise ValueError(f"night must be a date, not {night!r}")
        if reminder is not None and not isinstance(reminder, str):
            raise ValueError(f"reminder must be a str or None, not {reminder!r}")
        if ts is None:
            ts = datetime.now(UTC)
        elif ts.tzinfo is None or ts.utcoffset() is None:
            raise ValueError(f"ts must be timezone-aware, not {ts!r}")
        ts = ts.astimezone(UTC)
        details = dict(details or {})
        text = json.dumps(details, sort_keys=True, separators=(",", ":"))
        row = (format_ts(ts), night.isoformat(), reminder, event, source, text)
        with self._locked() as conn:
            for attempt in range(self.write_attempts):
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        found = (
                            conn.execute(
                                "SELECT id FROM events WHERE ts = ? AND night = ? AND reminder IS ?"
                                " AND event = ? AND source = ?",
                                row[:5],
                            ).fetchone()
                            if once
                            else None
                        )
                        if found is not None:
                            conn.execute("COMMIT")
                            return Event(found[0], ts, night, reminder, event, source, details)
                        cur = conn.execute(
                            "INSERT INTO events (ts, night, reminder, event, source, details)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            row,
                        )
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                    break
                except sqlite3.OperationalError as exc:
                    transient = any(w in str(exc) for w in _TRANSIENT)
                    if transient and attempt + 1 < self.write_attempts:
                        _time.sleep(0.05 * (attempt + 1))
                        continue
                    raise (LogBusy if transient else LogError)(self._describe(exc)) from exc
                except sqlite3.DatabaseError as exc:
                    raise LogError(self._describe(exc)) from exc
        assert cur.lastrowid is not None
        return Event(cur.lastrowid, ts, night, reminder, event, source, details)

    # -- reading ---------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._locked() as conn:
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                raise LogError(self._describe(exc)) from exc

    _COLUMNS = "id, ts, night, reminder, event, source, details"

    def events(self, since: date | None = None, until: date | None = None) -> list[Event]:
        """Events of the nights `since`..`until` (inclusive; None = open), in time order."""
        where, params = [], []
        if since is not None:
            where.append("night >= ?")
            params.append(since.isoformat())
        if until is not None:
            where.append("night <= ?")
            params.append(until.isoformat())
        sql = f"SELECT {self._COLUMNS} FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts, id"
        return self._readable(self._query(sql, tuple(params)))

    def _readable(self, rows: list[tuple[Any, ...]]) -> list[Event]:
        """The rows that read as events; the ids of the others are kept in `unreadable`."""
        events = []
        for r in rows:
            e = _row_event(r)
            if e is None:
                self.unreadable.add(r[0])
            else:
                events.append(e)
        return events

    def night_events(self, night: date) -> list[Event]:
        return self.events(night, night)

    def changes(self, night: date) -> NightChanges:
        """What `skip`/`unskip`/`tonight`, the alarm and the calendar changed for `night`."""
        return self.changes_between(night, night).get(night, NO_CHANGES)

    def changes_between(self, first: date, last: date) -> dict[date, NightChanges]:
        """Changes of every night in first..last that has any (nights without are absent)."""
        rows = self._query(
            f"SELECT {self._COLUMNS} FROM events WHERE night >= ? AND night <= ?"
            f" AND event IN ({', '.join('?' * len(CHANGE_EVENTS))}) ORDER BY ts, id",
            (first.isoformat(), last.isoformat(), *CHANGE_EVENTS),
        )
        by_night: dict[date, list[Event]] = {}
        for e in self._readable(rows):
            by_night.setdefault(e.night, []).append(e)
        result = {}
        for night, evs in by_night.items():
            c = fold_changes(evs)
            if c != NO_CHANGES:
                result[night] = c
        return result

    def latest_unacknowledged(self) -> tuple[date, str] | None:
        """The most recently notified reminder not acknowledged, missed or skipped on its night."""
        rows = self._query(
            "SELECT n.night, n.reminder, MAX(n.ts) AS last FROM events n"
            " WHERE n.event = 'notified' AND n.reminder IS NOT NULL AND NOT EXISTS ("
            "   SELECT 1 FROM events a WHERE a.event IN ('acknowledged', 'missed')"
            "   AND a.night = n.night AND a.reminder = n.reminder)"
            " GROUP BY n.night, n.reminder ORDER BY last DESC, n.night DESC LIMIT 500"
        )
        changes: dict[date, NightChanges] = {}
        for night_text, reminder, _last in rows:
            night = _read_night(night_text)
            if night is None or not isinstance(reminder, str):
                continue
            if night not in changes:
                changes[night] = self.changes(night)
            c = changes[night]
            if c.skips(reminder):
                continue
            return night, reminder
        return None

    def summaries_by_night(self, first: date, last: date) -> dict[date, dict[str, ReminderNight]]:
        """Each reminder's state on the nights first..last, from the summary table (for stats).

        The same `ReminderNight` as `state.fold`, over all of a night's rows (stats count
        the night, whatever its plan was); the last notification, snoozes and dismissals are
        not summarised.
        """
        rows = self._query(
            "SELECT night, reminder, notified, repeats, first_notified, acknowledged, missed,"
            " COALESCE(scheduled_at, missed_at), planned_bedtime"
            " FROM night_summary WHERE night >= ? AND night <= ? ORDER BY night",
            (first.isoformat(), last.isoformat()),
        )
        # A 10-year log has ~30k of these: parsed inline, built without keyword arguments.
        # `instant` reads what a row may hold wrongly (the times come from its text and details).
        # A night's reminders share its planned bedtime: read once, not once per reminder.
        result: dict[date, dict[str, ReminderNight]] = {}
        text = bed_text = None
        bed = None
        per: dict[str, ReminderNight] = {}
        for night, rid, notified, repeats, first_n, ack, missed, at, bedtime in rows:
            if night != text:
                text = night
                day = _read_night(night)
                per = result.setdefault(day, {}) if day is not None else {}
            if bedtime != bed_text:
                bed_text, bed = bedtime, instant(bedtime) if bedtime else None
            per[rid] = ReminderNight(
                notified,
                repeats,
                instant(first_n) if first_n else None,
                None,  # last_notified: stats do not need it
                instant(ack) if ack else None,
                None,
                bool(missed),
                False,
                instant(at) if at else None,
                bed,
            )
        return result

    def night_summaries(self, first: date, last: date) -> dict[tuple[date, str], ReminderNight]:
        """`summaries_by_night`, keyed by (night, reminder)."""
        return {
            (n, rid): s for n, per in self.summaries_by_night(first, last).items() for rid, s in per.items()
        }

    def created(self) -> datetime | None:
        """When the log began (its creation, or its first row if earlier): nothing before it is missed."""
        ((created, first),) = self._query(
            "SELECT (SELECT value FROM meta WHERE key = 'created'), (SELECT MIN(ts) FROM events)"
        )
        times = [t for t in (_read_ts(created), _read_ts(first)) if t is not None]
        return min(times) if times else None

    def first_night(self) -> date | None:
        """The first night in the log (when sundown began to be used), or None when empty."""
        ((night,),) = self._query(f"SELECT MIN(night) FROM events WHERE {NIGHT_GLOB}")
        return _read_night(night)

    def measured_acknowledgements(
        self, first: date, last: date, reminder: str | None = None
    ) -> dict[tuple[date, str], str]:
        """(night, reminder) -> "idle" | "lock" where the first acknowledgement was measured, not
        clicked; of one `reminder` only when given (stats need the bedtime's)."""
        # The source is filtered first: only the few measured acknowledgements are checked for an
        # earlier one (a 10-year log has 20k acknowledgements, a correlated look-up each took 60 ms).
        # The reminder is in the index, the source is not: naming the reminder saves reading the
        # rows of the others.
        one = " AND reminder = ?" if reminder is not None else ""
        rows = self._query(
            "SELECT night, reminder, source FROM events e WHERE event = 'acknowledged'"
            f" AND night >= ? AND night <= ? AND reminder IS NOT NULL{one} AND source IN ('idle', 'lock')"
            " AND NOT EXISTS ("
            "   SELECT 1 FROM events a WHERE a.event = 'acknowledged' AND a.night = e.night"
            "   AND a.reminder = e.reminder AND (a.ts < e.ts OR (a.ts = e.ts AND a.id < e.id)))",
            (first.isoformat(), last.isoformat(), *([reminder] if reminder is not None else [])),
        )
        found = {(_read_night(n), r): src for n, r, src in rows}
        return {(n, r): src for (n, r), src in found.items() if n is not None}

    def first_live_night(self) -> date | None:
        """The first night with a row written as it happened, not filled in afterwards with
        `ack --at` (None: there is none yet). Before it sundown was not running: the log holds
        only what was backfilled, and a reminder added since has nothing there."""
        # `record` writes details compactly with sorted keys: a backfill is exactly this.
        ((night,),) = self._query(
            "SELECT MIN(night) FROM events"
            " WHERE NOT (event = 'acknowledged' AND details LIKE '%\"backfilled\":true%')"
        )
        return date.fromisoformat(night) if night else None

    def spans_between(self, first: date, last: date) -> dict[date, list[SpanRow]]:
        """The activity spans of the nights first..last, every machine's, from `activity_spans`:
        (source, state, start, end), in the table's order (by machine, then time). A row whose
        night is no date is left out (a hostile row says nothing)."""
        rows = self._query(
            "SELECT night, source, state, start, end FROM activity_spans"
            " WHERE night >= ? AND night <= ? ORDER BY night",
            (first.isoformat(), last.isoformat()),
        )
        nights = groupby(rows, itemgetter(0))
        found = {_read_night(night): list(map(_SPAN_ROW, group)) for night, group in nights}
        found.pop(None, None)
        return found  # type: ignore[return-value]

    def phone_between(self, first: date, last: date) -> dict[date, list[tuple[str, int]]]:
        """What the phone said (`in_bed`, `awake`) on the nights first..last: (event, POSIX seconds)."""
        rows = self._query(
            "SELECT night, event, CAST(strftime('%s', ts) AS INTEGER) FROM events"
            " WHERE event IN ('in_bed', 'awake') AND night >= ? AND night <= ? ORDER BY ts",
            (first.isoformat(), last.isoformat()),
        )
        result: dict[date, list[tuple[str, int]]] = {}
        for night_text, event, seconds in rows:
            night = _read_night(night_text)
            if night is not None and isinstance(seconds, int):
                result.setdefault(night, []).append((event, seconds))
        return result

    def first_nights(self, before: date = date.max) -> dict[str, date]:
        """The first night the log mentions each reminder (when it entered the routine), of those
        it mentions before the night `before`. Read from the summary table, which has a row for
        every (night, reminder) of the events, in a third of the rows."""
        rows = self._query(
            f"SELECT reminder, MIN(night) FROM night_summary WHERE night < ? AND {NIGHT_GLOB}"
            " GROUP BY reminder",
            (before.isoformat(),),
        )
        found = {r: _read_night(n) for r, n in rows if isinstance(r, str)}
        return {r: n for r, n in found.items() if n is not None}

    # -- where the log stands (for what is kept from it: reports/night_cache) ----------------

    def origin(self) -> str | None:
        """When this log was created, as written (`meta`): tells one log from another at the same path."""
        ((created,),) = self._query("SELECT (SELECT value FROM meta WHERE key = 'created')")
        return created if isinstance(created, str) else None

    def row_key(self, id_: int | None = None) -> list[Any] | None:
        """Row `id_` (default: the last one) without its details: [id, ts, night, reminder, event,
        source], or None when there is no such row. Rows are only ever appended: a reader that
        saw the last row sees it unchanged at its id later, and every row added since after it."""
        columns = "id, ts, night, reminder, event, source"
        rows = (
            self._query(f"SELECT {columns} FROM events ORDER BY id DESC LIMIT 1")
            if id_ is None
            else self._query(f"SELECT {columns} FROM events WHERE id = ?", (id_,))
        )
        return list(rows[0]) if rows else None

    def nights_after(self, id_: int) -> set[date]:
        """The nights of the rows after row `id_` (rows whose night is no date are no night's)."""
        rows = self._query("SELECT DISTINCT night FROM events WHERE id > ?", (id_,))
        found = {_read_night(night) for (night,) in rows}
        found.discard(None)
        return found  # type: ignore[return-value]

    def checkpoint(self) -> None:
        """Move what the WAL holds into the database file and empty the WAL.

        Before letting go of a file that was renamed away: SQLite would leave its WAL behind
        under the old name, where the next file at that path would take it for its own.
        """
        with self._locked() as conn:
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.DatabaseError as exc:
                raise LogError(self._describe(exc)) from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
