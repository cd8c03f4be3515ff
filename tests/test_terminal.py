"""What the commands print in a terminal: it fits 80 columns, dates label short charts, and
times read as the person's clock (the log's details too, the next morning's times with their day)."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sundown.core.activity import Span, epoch
from sundown.store.log import EventLog
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes

BERLIN = ZoneInfo("Europe/Berlin")
CONFIG = """\
timezone = "Europe/Berlin"

[bedtime]
default = "22:30"
fri = "23:30"

[reminders.wind-down]
before = "1h"

[reminders.magnesium]
before = "45m"
repeat = "10m"

[reminders.screens-off-and-phone-away]
at = "22:00"

[reminders.bedtime]
before = "0m"
"""


def _current_night() -> date:
    """The night `stats` ends with by default: Berlin's, which until its noon is yesterday's date
    (before: date.today(), which failed these tests from midnight to noon in Berlin)."""
    from sundown.core.plan import night_of

    return night_of(datetime.now(BERLIN), BERLIN)


def _history(box: Sandbox, nights: int) -> None:
    """`nights` nights before today: each reminder notified, then acknowledged (0-40 min) or missed;
    the evening's activity on most nights (at the screen from 21:30, locked from about bedtime)."""
    rnd = random.Random(7)
    today = _current_night()
    with EventLog(box.db_path) as log:
        for k in range(nights, 0, -1):
            night = today - timedelta(days=k)
            if k % 5:
                _evening(log, night, rnd.randint(-20, 90))
            for rid, hh, mm in (
                ("wind-down", 21, 30),
                ("magnesium", 21, 45),
                ("screens-off-and-phone-away", 22, 0),
                ("bedtime", 22, 30),
            ):
                at = datetime(night.year, night.month, night.day, hh, mm, tzinfo=BERLIN)
                log.record("notified", night, rid, "daemon", {"late": 0, "repeat": 0}, ts=at)
                if rnd.random() < 0.7:
                    later = at + timedelta(minutes=rnd.randint(0, 40))
                    log.record("acknowledged", night, rid, "action", ts=later)
                else:
                    log.record("missed", night, rid, "daemon", ts=at + timedelta(hours=1))


def _evening(log: EventLog, night: date, minutes_after_bedtime: int) -> None:
    """Active from 21:30 until `minutes_after_bedtime` after 22:30, then locked until 07:00 (Berlin)."""
    start = datetime(night.year, night.month, night.day, 21, 30, tzinfo=BERLIN)
    off = start + timedelta(minutes=60 + minutes_after_bedtime)
    morning = datetime.combine(night + timedelta(days=1), datetime.min.time().replace(hour=7), BERLIN)
    for state, a, b in (("active", start, off), ("locked", off, morning)):
        span = Span(state, epoch(a), epoch(b))
        log.record("activity", night, None, "daemon", span.details(), ts=b)


@pytest.fixture
def box(sandbox: Sandbox) -> Sandbox:
    sandbox.write_config(CONFIG)
    sandbox.env.pop("COLUMNS", None)
    sandbox.env.pop("LINES", None)
    return sandbox


@pytest.mark.parametrize("days", [1, 7, 11, 20, 90, 400])
def test_stats_fits_80_columns(box: Sandbox, days: int) -> None:
    _history(box, 90)
    out = box.run("stats", "--days", str(days), check=True).stdout
    wide = [line for line in out.splitlines() if len(line) > 80]
    assert not wide, "\n".join(wide)


def test_stats_uses_a_wider_terminal_when_it_has_one(box: Sandbox) -> None:
    _history(box, 90)
    out = box.run("stats", "--days", "90", env={"COLUMNS": "120"}, check=True).stdout
    assert max(len(line) for line in out.splitlines()) > 80
    assert all(len(line) <= 120 for line in out.splitlines())


def test_a_short_chart_has_a_date_over_each_night(box: Sandbox) -> None:
    _history(box, 7)
    out = box.run("stats", "--days", "7", check=True).stdout.splitlines()
    today = _current_night()
    dates = [(today - timedelta(days=k)).strftime("%m-%d") for k in range(6, -1, -1)]
    axis = next(line for line in out if line.startswith(" ") and dates[0] in line)
    assert axis.split() == dates
    row = [line for line in out if line.startswith("magnesium ")][-1]  # the chart's, after the table's
    # Each night's cell sits under its date.
    for k, d in enumerate(dates[:-1]):
        assert row[axis.index(d)] in "#+x-?.", (k, row, axis)


def test_a_long_chart_is_dated_at_both_ends(box: Sandbox) -> None:
    _history(box, 30)
    out = box.run("stats", "--days", "30", check=True).stdout.splitlines()
    first = (_current_night() - timedelta(days=29)).strftime("%m-%d")
    axis = next(line for line in out if line.startswith(" ") and first in line)
    assert axis.split() == [first, _current_night().strftime("%m-%d")]


def test_log_table_shows_details_instants_in_local_time(box: Sandbox) -> None:
    with EventLog(box.db_path) as log:
        log.record(
            "snoozed",
            date(2026, 1, 5),
            "magnesium",
            "cli",
            {"until": "2026-01-05T20:55:00+00:00"},
            ts=datetime(2026, 1, 5, 21, 45, tzinfo=BERLIN),
        )
    out = box.run("log", check=True).stdout
    assert "until=2026-01-05 21:55:00" in out  # 20:55 UTC is 21:55 in Berlin, like the TIME column
    assert "+00:00" not in out


LATE = """\
timezone = "Europe/Berlin"

[bedtime]
default = "00:30"

[reminders.wind-down]
before = "1h"

[reminders.bedtime]
before = "0m"
"""


def test_times_after_midnight_carry_their_day(sandbox: Sandbox) -> None:
    sandbox.write_config(LATE)
    check = sandbox.run("check", check=True).stdout
    status = sandbox.run("status", check=True).stdout
    for out in (check, status):
        days = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and ":" in line]
        assert len(days) == 2 and days[0] != days[1], out  # "Sat 23:30", "Sun 00:30"
        assert all(d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun") for d in days), out
    assert "bedtime Sun 00:30" in check or "bedtime" in check and "00:30" in check


def test_evening_times_stay_plain(sandbox: Sandbox) -> None:
    sandbox.write_config(CONFIG)
    out = sandbox.run("check", check=True).stdout
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and "m  " in line]
    assert rows and all(len(r) == 5 and r[2] == ":" for r in rows), out


def test_tonight_with_a_morning_bedtime_says_it_means_the_next_morning(sandbox: Sandbox) -> None:
    sandbox.write_config(CONFIG)
    out = sandbox.run("tonight", "--bedtime", "11:59", check=True).stdout
    assert "11:59 is before noon: it means the morning after" in out
    plain = sandbox.run("tonight", "--bedtime", "23:15", check=True).stdout
    assert "before noon" not in plain


def test_stats_on_an_empty_log_is_one_sentence(box: Sandbox) -> None:
    out = box.run("stats", check=True).stdout
    assert out.startswith("Nothing in the log yet") and len(out.splitlines()) == 2, out
    assert "Bedtime" not in out and "|" not in out
    as_json = json.loads(box.run("stats", "--json", check=True).stdout)  # scripts still get the object
    assert set(as_json) >= {"from", "until", "reminders", "nights"}


def test_stats_tells_later_tonight_skipped_and_not_yet_in_the_routine_apart(sandbox: Sandbox) -> None:
    """Three nights filled in with `ack --at`, then sundown in use tonight (about noon, so tonight is
    ahead): the reminder added since is not missed on the backfilled nights."""
    offset = 12 - datetime.now(ZoneInfo("UTC")).hour  # a zone where it is about noon
    zone = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
    sandbox.write_config(
        f'timezone = "{zone}"\n[bedtime]\ndefault = "22:30"\n[reminders.magnesium]\nbefore = "45m"\n'
        '[reminders.stretch]\nbefore = "20m"\n'
    )
    tonight = datetime.now(ZoneInfo(zone)).date()
    with EventLog(sandbox.db_path) as log:
        for k in (3, 2, 1):
            night = tonight - timedelta(days=k)
            at = datetime(night.year, night.month, night.day, 21, 50, tzinfo=ZoneInfo(zone))
            log.record("acknowledged", night, "magnesium", "cli", {"backfilled": True}, ts=at)
    sandbox.run("skip", "stretch", check=True)  # tonight, as it happens
    out = sandbox.run("stats", "--days", "4", check=True).stdout.splitlines()
    chart = out[out.index("Each night, oldest left:") :]
    assert [line.split()[1:] for line in chart if line.startswith(("magnesium ", "stretch "))] == [
        ["#", "#", "#", "_"],  # later tonight: not "not scheduled"
        [".", ".", ".", "-"],  # skipped tonight; before, not in the routine yet (before: x x x)
    ]
    assert "_ later tonight  . not scheduled (not that evening, or not in the routine yet)" in chart
    assert max(map(len, out)) <= 80


def test_measured_lights_out_beside_the_clicked_one(box: Sandbox) -> None:
    _history(box, 14)
    last = str(_current_night() - timedelta(days=1))  # the 14 nights of history, whatever the hour
    out = box.run("stats", "--days", "14", "--until", last, check=True).stdout.splitlines()
    head = out.index(next(line for line in out if line.startswith("Bedtime:")))
    assert "* `bedtime` acknowledged (clicked)" in out[head] and "@ lights out, measured" in out[head]
    rows = out[head + 3 : head + 3 + 14]
    measured = [line for line in rows if " off " in line]
    assert len(measured) == 12  # every night but the two without spans (10 and 5 nights ago)
    assert all("@" in line.split("  ")[1] or "X" in line for line in measured)
    assert any(line.startswith("Lights out, measured, on ") for line in out)
    assert any("at the screen after bedtime: median" in line for line in out)
    j = json.loads(box.run("stats", "--days", "14", "--until", last, "--json", check=True).stdout)
    assert sum(n["lights_out"] is not None for n in j["nights"]) == 12
