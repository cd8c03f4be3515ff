"""The SQLite event log: durability, permissions, concurrency, migration, folding."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from sundown.core.plan import NO_CHANGES, NightChanges
from sundown.core.state import ReminderNight, by_reminder, fold
from sundown.errors import LogError
from sundown.store.log import APPLICATION_ID, SCHEMA_VERSION, EventLog
from support.oracles import summaries_from_events as summarize

REPO = Path(__file__).resolve().parent.parent


def night_state(log: EventLog, night: date) -> dict[str, ReminderNight]:
    return {rid: fold(evs) for rid, evs in by_reminder(log.night_events(night)).items()}


UTC = timezone.utc
N1 = date(2026, 11, 25)
T0 = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "state" / "sundown" / "sundown.db"


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


# -- files ---------------------------------------------------------------------------------


def test_creates_private_dir_and_file_whatever_the_umask(db: Path) -> None:
    old = os.umask(0)
    try:
        with EventLog(db) as log:
            log.record("notified", N1, "magnesium", "daemon")
    finally:
        os.umask(old)
    assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for extra in db.parent.iterdir():  # -wal / -shm take the database's mode
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra


def test_uses_wal_full_sync_and_a_busy_timeout(db: Path) -> None:
    with EventLog(db) as log:
        conn = log._conn
        assert conn is not None
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    other = sqlite3.connect(db)
    assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert other.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    other.close()


def test_record_returns_the_committed_row(db: Path) -> None:
    with EventLog(db) as log:
        e = log.record("notified", N1, "magnesium", "daemon", {"late": 0, "repeat": 0}, ts=at(0))
        # Visible at once to another connection: committed, not pending.
        other = sqlite3.connect(db)
        row = other.execute("SELECT id, ts, night, reminder, event, source, details FROM events").fetchone()
        other.close()
    assert row == (e.id, "2026-11-25T20:00:00.000000+00:00", "2026-11-25", "magnesium", "notified",
                   "daemon", '{"late":0,"repeat":0}')  # fmt: skip
    assert e.ts == at(0) and e.ts.tzinfo is not None


def test_ts_defaults_to_now_in_utc(db: Path) -> None:
    before = datetime.now(UTC)
    with EventLog(db) as log:
        e = log.record("acknowledged", N1, "magnesium", "cli")
        stored = log.events()[0]
    assert before <= e.ts <= datetime.now(UTC)
    assert stored.ts == e.ts and stored.ts.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"event": "acked"},
        {"source": "user"},
        {"night": datetime(2026, 11, 25, 20)},
        {"night": "2026-11-25"},
        {"ts": datetime(2026, 11, 25, 20)},
        {"reminder": 5},
    ],
)
def test_record_rejects_programming_errors(db: Path, kwargs: dict) -> None:
    args = {"event": "notified", "night": N1, "reminder": "x", "source": "daemon", **kwargs}
    with EventLog(db) as log, pytest.raises(ValueError):
        log.record(**args)


# -- refusing files that are not ours --------------------------------------------------------


def written_by_hand(db: Path, script: str) -> None:
    """`db` as sqlite3 alone leaves it after `script`: another program's file, an older sundown's log."""
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.executescript(script)
    conn.close()


def assert_refused_untouched(db: Path, match: str) -> None:
    """Opening `db` as the log fails with `match`; the file is left byte for byte, and alone."""
    before = db.read_bytes()
    with pytest.raises(LogError, match=match):
        EventLog(db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["sundown.db"]


def test_corrupt_file_is_refused_and_left_byte_identical(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.write_bytes(b"this is my diary, not a database\n" * 200)
    assert_refused_untouched(db, "not a readable sundown log.*left untouched")


def test_foreign_sqlite_database_is_refused_and_left_byte_identical(db: Path) -> None:
    written_by_hand(db, "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup');")
    assert_refused_untouched(db, "did not write.*recipes")


def test_foreign_table_named_events_is_refused_too(db: Path) -> None:
    written_by_hand(db, "CREATE TABLE events (what TEXT);")
    assert_refused_untouched(db, "did not write")


def test_log_from_a_newer_sundown_is_refused(db: Path) -> None:
    EventLog(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LogError, match="newer sundown"):
        EventLog(db)


def test_empty_file_becomes_a_log(db: Path) -> None:
    db.parent.mkdir(parents=True)
    db.touch()
    with EventLog(db) as log:
        log.record("missed", N1, "magnesium", "daemon")
        assert len(log.events()) == 1


# -- migration -------------------------------------------------------------------------------


def test_version_1_log_is_migrated_in_place(db: Path) -> None:
    """Schema 1 had no `source` column: the rows survive and read as the daemon's."""
    written_by_hand(
        db,
        f"""
        CREATE TABLE events (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, night TEXT NOT NULL,
                             reminder TEXT, event TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{{}}');
        INSERT INTO events (ts, night, reminder, event, details) VALUES
            ('2026-11-24T20:00:00.000000+00:00', '2026-11-24', 'magnesium', 'notified', '{{"late":0}}'),
            ('2026-11-24T20:05:00.000000+00:00', '2026-11-24', 'magnesium', 'acknowledged', '{{}}');
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = 1;
        """,
    )
    with EventLog(db) as log:
        old = log.events()
        new = log.record("notified", N1, "magnesium", "daemon", ts=at(0))
        assert [(e.id, e.event, e.source, dict(e.details)) for e in old] == [
            (1, "notified", "daemon", {"late": 0}),
            (2, "acknowledged", "daemon", {}),
        ]
        assert old[1].ts == datetime(2026, 11, 24, 20, 5, tzinfo=UTC)
        assert new.id == 3
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"events_night", "events_event"} <= indexes
    conn.close()


# The events table as schema 2 made it (schema 3 kept it).
EVENTS_2 = """
    CREATE TABLE events (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, night TEXT NOT NULL, reminder TEXT,
                         event TEXT NOT NULL, source TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}');
    CREATE INDEX events_night ON events (night, ts);
    CREATE INDEX events_event ON events (event, night, reminder);
"""


def test_version_2_log_gets_its_night_summary_built_in_place(db: Path) -> None:
    written_by_hand(
        db,
        f"""
        {EVENTS_2}
        INSERT INTO events (ts, night, reminder, event, source, details) VALUES
            ('2026-11-24T20:00:00.000000+00:00', '2026-11-24', 'm', 'notified', 'daemon',
             '{{"at":"2026-11-24T21:00:00+01:00","bedtime":"2026-11-24T22:30:00+01:00","repeat":0}}'),
            ('2026-11-24T20:10:00.000000+00:00', '2026-11-24', 'm', 'notified', 'daemon', '{{"repeat":1}}'),
            ('2026-11-24T20:12:00.000000+00:00', '2026-11-24', 'm', 'acknowledged', 'cli', '{{}}'),
            ('2026-11-24T21:40:00.000000+00:00', '2026-11-24', 'b', 'missed', 'daemon',
             '{{"at":"2026-11-24T22:30:00+01:00"}}');
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = 2;
        """,
    )
    with EventLog(db) as log:
        n = date(2026, 11, 24)
        assert [e.source for e in log.events()] == ["daemon", "daemon", "cli", "daemon"]
        first = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
        assert log.night_summaries(n, n) == {
            (n, "m"): ReminderNight(
                notified=2,
                repeats=1,
                first_notified=first,
                acknowledged=first + timedelta(minutes=12),
                scheduled_at=datetime.fromisoformat("2026-11-24T21:00:00+01:00"),
            ),
            (n, "b"): ReminderNight(
                missed=True, scheduled_at=datetime.fromisoformat("2026-11-24T22:30:00+01:00")
            ),
        }


def test_night_summary_matches_the_events_even_when_written_out_of_order(db: Path) -> None:
    import random

    rng = random.Random(7)
    kinds = ["notified", "acknowledged", "snoozed", "dismissed", "missed", "skipped"]
    with EventLog(db) as log:
        for _ in range(600):
            night = N1 + timedelta(days=rng.randrange(5))
            kind = rng.choice(kinds)
            details = {}
            if kind in ("notified", "missed"):
                details = {
                    "at": at(rng.randrange(100)).isoformat(),
                    "bedtime": at(rng.randrange(200)).isoformat(),
                }
                if kind == "notified" and rng.random() < 0.7:
                    details["repeat"] = rng.randrange(3)
            # Random timestamps: backfilled acknowledgements arrive after later rows.
            log.record(kind, night, rng.choice("abc"), "cli", details, ts=at(rng.randrange(300)))
        assert log.night_summaries(N1, N1 + timedelta(days=4)) == summarize(log.events())
        assert log.night_summaries(N1, N1) == {k: v for k, v in summarize(log.events()).items() if k[0] == N1}


# -- concurrency and durability --------------------------------------------------------------

WRITER = """
import sys
from datetime import date
from sundown.store.log import EventLog
path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
log = EventLog(path)
for i in range(count):
    log.record("notified", date(2026, 11, 25), name, "cli", {"i": i})
log.close()
"""


@pytest.mark.e2e
def test_many_processes_writing_at_once_lose_no_row(db: Path) -> None:
    EventLog(db).close()
    procs = [subprocess.Popen(python(WRITER, str(db), f"w{k}", "60"), env=child_env()) for k in range(8)]
    for p in procs:
        assert p.wait(timeout=120) == 0
    with EventLog(db) as log:
        rows = log.events()
    assert len(rows) == 8 * 60
    for k in range(8):
        assert sorted(e.details["i"] for e in rows if e.reminder == f"w{k}") == list(range(60))
    assert len({e.id for e in rows}) == len(rows)


@pytest.mark.e2e
def test_processes_creating_the_log_at_the_same_moment(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "sundown.db"
    procs = [subprocess.Popen(python(WRITER, str(db), f"w{k}", "5"), env=child_env()) for k in range(6)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    with EventLog(db) as log:
        assert len(log.events()) == 30


# Forks its writers from one imported Python, so that they open a new log at the same instant
# (separate interpreters start tens of milliseconds apart): one trial per directory of ROOT.
FORKED_CREATORS = """
import os, sys
from datetime import date
from pathlib import Path
from sundown.store.log import EventLog
root, trials, writers = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for trial in range(trials):
    pids = []
    for k in range(writers):
        pid = os.fork()
        if pid == 0:
            try:
                with EventLog(root / str(trial) / "sundown.db") as log:
                    log.record("notified", date(2026, 11, 25), f"w{k}", "cli")
            except BaseException as exc:
                print(f"trial {trial}, writer {k}: {exc}", flush=True)
                os._exit(1)
            os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)
"""


@pytest.mark.e2e
def test_processes_opening_a_new_log_at_one_instant_all_open_it(tmp_path: Path) -> None:
    """Before: about one trial in thirty failed a writer, "database is locked" (the switch to WAL,
    which SQLite refuses at once, not after its busy timeout) or "an SQLite database that
    sundown did not write (tables: none)" (its checks read across another's creating it)."""
    proc = subprocess.run(
        python(FORKED_CREATORS, str(tmp_path), "30", "8"),
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    for trial in range(30):
        with EventLog(tmp_path / str(trial) / "sundown.db") as log:
            assert len(log.events()) == 8


@pytest.mark.e2e
def test_threads_may_share_one_log(db: Path) -> None:
    log = EventLog(db)
    errors: list[BaseException] = []

    def write(k: int) -> None:
        try:
            for i in range(50):
                log.record("notified", N1, f"t{k}", "daemon", {"i": i})
                night_state(log, N1)
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert {r: s.notified for r, s in night_state(log, N1).items()} == {f"t{k}": 50 for k in range(6)}
    log.close()


KILLED_WRITER = """
import sys
from datetime import date
from sundown.store.log import EventLog
log = EventLog(sys.argv[1])
i = 0
while True:
    e = log.record("acknowledged", date(2026, 11, 25), "magnesium", "cli", {"i": i})
    print(e.id, flush=True)   # printed only after the commit returned
    i += 1
"""


@pytest.mark.e2e
def test_kill_9_of_a_writer_loses_no_committed_row(db: Path) -> None:
    EventLog(db).close()
    for _ in range(3):
        proc = subprocess.Popen(
            python(KILLED_WRITER, str(db)), env=child_env(), stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        acked = [int(proc.stdout.readline()) for _ in range(40)]
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait()
        acked += [int(x) for x in rest.split()]
        with EventLog(db) as log:
            ids = {e.id for e in log.events()}
        assert set(acked) <= ids
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# -- unwritable state -------------------------------------------------------------------------


def _can_mount() -> bool:
    return os.geteuid() == 0 and sys.platform.startswith("linux")


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 256 KiB tmpfs (root only), unmounted afterwards."""
    if not _can_mount():
        pytest.skip("needs root to mount a small tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)]).returncode != 0:
        pytest.skip("cannot mount tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=True)


@pytest.mark.e2e
def test_full_disk_is_a_log_error_from_record(small_fs: Path) -> None:
    log = EventLog(small_fs / "sundown.db")
    log.record("notified", N1, "magnesium", "daemon")
    fd = os.open(small_fs / "filler", os.O_WRONLY | os.O_CREAT)
    with pytest.raises(OSError):  # fill the disk up
        while True:
            os.write(fd, b"\0" * 4096)
    os.close(fd)
    with pytest.raises(LogError, match="disk is full|cannot write"):
        for _ in range(1000):
            log.record("notified", N1, "magnesium", "daemon", {"pad": "x" * 2000})
    (small_fs / "filler").unlink()
    log.record("acknowledged", N1, "magnesium", "cli")  # recovers once there is room again
    log.close()


@pytest.mark.e2e
def test_read_only_state_dir_is_a_log_error(small_fs: Path) -> None:
    path = small_fs / "sundown.db"
    with EventLog(path) as log:
        log.record("notified", N1, "magnesium", "daemon")
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    with pytest.raises(LogError, match="read-only|cannot"):
        EventLog(path).record("acknowledged", N1, "magnesium", "cli")


def test_read_only_dir_without_root(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes through permission bits; the tmpfs test covers this")
    path = tmp_path / "ro" / "sundown.db"
    EventLog(path).close()
    path.chmod(0o400)
    path.parent.chmod(0o500)
    try:
        with pytest.raises(LogError):
            EventLog(path).record("acknowledged", N1, "magnesium", "cli")
    finally:
        path.parent.chmod(0o700)


def test_uncreatable_state_dir_is_a_log_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(LogError, match="cannot create"):
        EventLog(tmp_path / "file" / "sundown.db")


# -- reading and folding ----------------------------------------------------------------------


def test_events_filter_by_night_inclusive_in_time_order(db: Path) -> None:
    with EventLog(db) as log:
        for k in range(5):
            night = N1 + timedelta(days=k)
            log.record("notified", night, "a", "daemon", ts=at(k * 1440 + 1))
            log.record("notified", night, "b", "daemon", ts=at(k * 1440))
        got = log.events(N1 + timedelta(days=1), N1 + timedelta(days=3))
        assert [(e.night.day, e.reminder) for e in got] == [(26, "b"), (26, "a"), (27, "b"), (27, "a"),
                                                            (28, "b"), (28, "a")]  # fmt: skip
        assert len(log.events()) == 10
        assert len(log.events(since=N1 + timedelta(days=4))) == 2
        assert len(log.events(until=N1)) == 2
        assert [e.reminder for e in log.night_events(N1)] == ["b", "a"]


def test_changes_fold_skips_unskips_and_bedtime_in_order(db: Path) -> None:
    with EventLog(db) as log:
        assert log.changes(N1) is NO_CHANGES
        log.record("skipped", N1, "magnesium", "cli", ts=at(0))
        log.record("skipped", N1, "screens-off", "cli", ts=at(1))
        log.record("unskipped", N1, "screens-off", "cli", ts=at(2))
        log.record("bedtime_changed", N1, None, "cli", {"bedtime": "23:15"}, ts=at(3))
        assert log.changes(N1) == NightChanges(time(23, 15), False, frozenset({"magnesium"}))
        log.record("skipped", N1, None, "cli", ts=at(4))
        assert log.changes(N1).skip_all
        log.record("unskipped", N1, None, "cli", ts=at(5))
        log.record("bedtime_changed", N1, None, "cli", {"bedtime": None}, ts=at(6))
        # The whole-night unskip undoes the whole-night skip, not the earlier single skip.
        assert log.changes(N1) == NightChanges(skip=frozenset({"magnesium"}))
        log.record("unskipped", N1, "magnesium", "cli", ts=at(7))
        assert log.changes(N1) == NO_CHANGES
        n2 = N1 + timedelta(days=2)
        log.record("bedtime_changed", n2, None, "cli", {"bedtime": "00:30"}, ts=at(3000))
        log.record("notified", n2, "magnesium", "daemon", ts=at(3001))
        assert log.changes_between(N1, n2 + timedelta(days=3)) == {n2: NightChanges(bedtime=time(0, 30))}


def test_night_state_folds_notifications_snoozes_and_acks(db: Path) -> None:
    with EventLog(db) as log:
        log.record("notified", N1, "m", "daemon", {"late": 0, "repeat": 0}, ts=at(0))
        log.record("snoozed", N1, "m", "action", {"until": at(10).isoformat()}, ts=at(1))
        s = night_state(log, N1)["m"]
        assert s.snoozed_until == at(10) and s.notified == 1
        log.record("notified", N1, "m", "daemon", {"late": 0, "repeat": 1}, ts=at(10))
        log.record("snoozed", N1, "m", "cli", {"until": at(30).isoformat()}, ts=at(11))
        log.record("dismissed", N1, "m", "action", ts=at(12))
        log.record("acknowledged", N1, "m", "cli", ts=at(13))
        log.record("acknowledged", N1, "m", "action", ts=at(14))
        log.record("missed", N1, "w", "daemon", ts=at(20))
        assert night_state(log, N1) == {
            "m": ReminderNight(
                notified=2,
                repeats=1,
                first_notified=at(0),
                last_notified=at(10),
                acknowledged=at(13),
                snoozed_until=None,
                missed=False,
                dismissed=True,
            ),  # fmt: skip
            "w": ReminderNight(missed=True),
        }


def test_latest_unacknowledged_skips_acked_missed_and_skipped(db: Path) -> None:
    n0 = N1 - timedelta(days=1)
    with EventLog(db) as log:
        assert log.latest_unacknowledged() is None
        log.record("notified", n0, "old", "daemon", ts=at(-1440))
        log.record("notified", N1, "a", "daemon", ts=at(0))
        log.record("notified", N1, "b", "daemon", ts=at(5))
        log.record("notified", N1, "c", "daemon", ts=at(6))
        log.record("notified", N1, "a", "daemon", {"repeat": 1}, ts=at(10))  # a repeat: latest
        assert log.latest_unacknowledged() == (N1, "a")
        log.record("acknowledged", N1, "a", "action", ts=at(11))
        assert log.latest_unacknowledged() == (N1, "c")
        log.record("skipped", N1, "c", "cli", ts=at(12))
        assert log.latest_unacknowledged() == (N1, "b")
        log.record("missed", N1, "b", "daemon", ts=at(13))
        assert log.latest_unacknowledged() == (n0, "old")
        log.record("unskipped", N1, "c", "cli", ts=at(14))
        assert log.latest_unacknowledged() == (N1, "c")
        log.record("skipped", N1, None, "cli", ts=at(15))
        assert log.latest_unacknowledged() == (n0, "old")


def test_closed_log_raises_log_error(db: Path) -> None:
    log = EventLog(db)
    log.close()
    with pytest.raises(LogError):
        log.events()


def test_version_3_log_gets_its_start_and_a_summary_without_snoozes_as_repeats(db: Path) -> None:
    written_by_hand(
        db,
        f"""
        {EVENTS_2}
        CREATE TABLE night_summary (night TEXT NOT NULL, reminder TEXT NOT NULL, repeats INTEGER,
                                    PRIMARY KEY (night, reminder)) WITHOUT ROWID;
        INSERT INTO night_summary VALUES ('2026-11-24', 'm', 1);
        INSERT INTO events (ts, night, reminder, event, source, details) VALUES
            ('2026-11-24T20:00:00.000000+00:00', '2026-11-24', 'm', 'notified', 'daemon', '{{"repeat":0}}'),
            ('2026-11-24T20:10:00.000000+00:00', '2026-11-24', 'm', 'notified', 'daemon',
             '{{"repeat":1,"snoozed":true}}');
        PRAGMA application_id = {APPLICATION_ID};
        PRAGMA user_version = 3;
        """,
    )
    with EventLog(db) as log:
        n = date(2026, 11, 24)
        assert log.night_summaries(n, n)[(n, "m")].repeats == 0  # a snooze's re-notification
        assert log.created() == datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # the log began with its first row
        assert len(log.events()) == 2


def test_version_4_log_gets_its_activity_spans_in_place(db: Path) -> None:
    """Schema 5 only adds the `activity_spans` table and its trigger: a version 4 log keeps every row
    and its summary, and gains the spans its rows already hold."""
    with EventLog(db) as log:  # a log as it is now, taken back to version 4: no spans table, no trigger
        log.record("notified", N1, "m", "daemon", {"repeat": 0}, ts=at(0))
        log.record("acknowledged", N1, "m", "cli", ts=at(3))
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        DROP TRIGGER events_activity;
        DROP TABLE activity_spans;
        INSERT INTO events (ts, night, reminder, event, source, details) VALUES
            ('2026-11-25T21:00:00.000000+00:00', '2026-11-25', NULL, 'activity', 'device:desk',
             '{"from":"2026-11-25T20:00:00+00:00","state":"active","to":"2026-11-25T21:00:00+00:00"}');
        PRAGMA user_version = 4;
        """
    )
    conn.close()
    with EventLog(db) as log:
        assert [e.event for e in log.events()] == ["notified", "acknowledged", "activity"]
        assert log.night_summaries(N1, N1)[(N1, "m")].acknowledged == at(3)
        hour = int(T0.timestamp())
        assert log.spans_between(N1, N1) == {N1: [("device:desk", "active", hour, hour + 3600)]}
        log.record(
            "activity", N1, None, "daemon",
            {"state": "idle", "from": "2026-11-25T21:00:00+00:00", "to": "2026-11-25T21:30:00+00:00"},
        )  # fmt: skip
        assert ("daemon", "idle", hour + 3600, hour + 5400) in log.spans_between(N1, N1)[N1]
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    conn.close()
