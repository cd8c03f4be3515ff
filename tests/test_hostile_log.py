"""A row the log should never hold (written straight into SQLite, as a forged answer once put
one there) never stops the daemon or a command: the tick keeps reminding, `log`, `status` and
`stats` exit 0, and whatever the row says is read as saying nothing."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sundown.core.state import Event, fold, fold_changes
from sundown.store.log import EventLog
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = date(2031, 11, 25)
MAGNESIUM = datetime(2031, 11, 25, 21, 45, tzinfo=BERLIN)
CONFIG = """
timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
[reminders.magnesium]
before = "45m"
repeat = "10m"
[reminders.tea]
before = "30m"
"""
FAR = "9999-12-31T23:59:59-23:59"  # exists with its offset, but not in UTC: every conversion overflows
# (ts, night, reminder, event, source, details): each a way a row can be wrong.
HOSTILE = [
    ("2031-11-25T20:45:30.000000+00:00", "2031-11-25", "magnesium", "snoozed", "phone", {"until": FAR}),
    ("2031-11-25T20:45:31.000000+00:00", "2031-11-25", "magnesium", "snoozed", "phone", {"until": 7}),
    (
        "2031-11-25T20:45:32.000000+00:00",
        "2031-11-25",
        "ghost",
        "notified",
        "daemon",
        {"at": "0001-01-01T00:00:00+23:59", "bedtime": [1], "repeat": "x", "late": "y"},
    ),
    ("2031-11-25T20:45:33.000000+00:00", "2031-11-25", None, "bedtime_changed", "cli", {"bedtime": "25:99"}),
    ("2031-11-25T20:45:34.000000+00:00", "2031-11-25", None, "bedtime_changed", "cli", {"bedtime": 7}),
    (FAR, "2031-11-25", "magnesium", "acknowledged", "phone", {}),
    ("not a time", "2031-11-25", None, "config_error", "daemon", {}),
    ("2031-11-25T20:45:35.000000+00:00", "yesterday", None, "skipped", "cli", {}),
    ("2031-11-25T20:45:36.000000+00:00", "2031-11-25", None, "config_error", "daemon", [1, 2]),
    ("2031-11-25T20:45:37.000000+00:00", "2031-11-25", None, "config_error", "\x1b[31mdaemon", "{not json"),
    ("2031-11-25T20:45:38.000000+00:00", "2031-11-25", 42, "notified", "daemon", {"at": 1.5}),
    (
        "2031-11-25T20:45:38.500000+00:00",
        "2031-11-25",
        "ghost",
        "notified",
        "daemon",
        {"notification": {"key": "2031-11-25/ghost", "id": "x"}, "together": 5},
    ),
    ("2031-11-25T20:45:38.600000+00:00", "2031-11-25", "ghost", "escalated", "daemon", {"step": 10**30}),
    (
        "2031-11-25T20:45:39.000000+00:00",
        "2031-11-25",
        None,
        "config_error",
        "daemon",
        {"x": "\x1b]0;pwned\x07"},
    ),
]


def write_rows(db: Path, rows: list[tuple]) -> None:
    """Rows inserted as SQLite takes them, past every check `EventLog.record` makes."""
    with EventLog(db):  # the schema
        pass
    conn = sqlite3.connect(db)
    try:
        for ts, night, reminder, event, source, details in rows:
            text = details if isinstance(details, str) else json.dumps(details)
            conn.execute(
                "INSERT INTO events (ts, night, reminder, event, source, details) VALUES (?, ?, ?, ?, ?, ?)",
                (ts, night, reminder, event, source, text),
            )
        conn.commit()
    finally:
        conn.close()


def test_a_forged_until_out_of_range_leaves_the_reminder_unsnoozed() -> None:
    e = Event(1, MAGNESIUM, NIGHT, "magnesium", "snoozed", "phone", {"until": FAR})
    assert fold([e]).snoozed_until is None
    odd = Event(2, MAGNESIUM, NIGHT, "magnesium", "notified", "daemon", {"repeat": "x", "at": 3})
    assert fold([odd]).notified == 1
    bad_clock = Event(3, MAGNESIUM, NIGHT, None, "bedtime_changed", "cli", {"bedtime": "25:99"})
    assert fold_changes([bad_clock]).bedtime is None


def test_hostile_rows_never_stop_the_daemon_which_keeps_reminding(sandbox: Sandbox) -> None:
    sandbox.write_config(CONFIG)
    write_rows(sandbox.db_path, HOSTILE)
    clock = FakeClock(MAGNESIUM + timedelta(seconds=40))
    daemon = in_process_daemon(clock)
    try:
        for minutes in (0, 11, 16):  # magnesium, its repeat, tea
            clock.now = MAGNESIUM + timedelta(minutes=minutes, seconds=40)
            daemon.tick()
        status = daemon.status()
    finally:
        daemon.stop()
    json.dumps(status, default=str)
    with EventLog(sandbox.db_path) as log:
        sent = [(e.reminder, e.details.get("repeat")) for e in log.events() if e.event == "notified"]
    assert ("magnesium", 0) in sent and ("magnesium", 1) in sent and ("tea", 0) in sent


@pytest.mark.parametrize(
    "argv",
    [
        ["log"],
        ["log", "--format", "jsonl"],
        ["log", "--format", "csv"],
        ["status"],
        ["status", "--json"],
        ["stats", "--until", "2031-11-25"],
        ["stats", "--until", "2031-11-25", "--json"],
        ["next"],
    ],
)
def test_commands_read_a_log_with_hostile_rows(sandbox: Sandbox, capsys, argv: list[str]) -> None:
    from sundown.cli import main

    sandbox.write_config(CONFIG)
    write_rows(sandbox.db_path, HOSTILE)
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    if argv == ["log"]:
        assert "\x1b" not in out and "\x07" not in out  # no terminal control from a row
        assert "could not be read" in err
