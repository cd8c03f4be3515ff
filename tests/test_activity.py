"""The evening as it was: spans, lights out and active time after bedtime, from hand-made logs.

Every expected number is worked out in the comments from the spans themselves, not by the
code under test; stats read the log's `activity_spans` table and the pure fold of the rows
(support.oracles) and must agree.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sundown.core import activity
from sundown.core.activity import Open, Span, close, observe, state_of
from sundown.core.plan import NightChanges
from sundown.core.routine import ContextRules, Routine, WindDown
from sundown.reports import stats
from sundown.store.log import EventLog
from support.oracles import stats_from_events
from support.routines import EVENING

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)
ROUTINE = EVENING
LATER = datetime(2027, 1, 1, tzinfo=UTC)


def berlin(y: int, mo: int, d: int, h: int, mi: int, s: int = 0, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=BERLIN, fold=fold)


def span(
    log: EventLog, night: date, state: str, start: datetime, end: datetime, source: str = "daemon"
) -> None:
    s = Span(state, activity.epoch(start), activity.epoch(end))  # type: ignore[arg-type]
    log.record("activity", night, None, source, s.details(), ts=end, once=source != "daemon")


@pytest.fixture
def log(tmp_path: Path):
    with EventLog(tmp_path / "sundown.db") as log:
        yield log


def both(log: EventLog, until: date, days: int, now: datetime = LATER) -> stats.Stats:
    """Stats from the log's span table and from the rows folded in Python: one answer."""
    got = stats.from_log(log, ROUTINE, BERLIN, until, days, now)
    ref = stats_from_events(log.events(), ROUTINE, BERLIN, until, days, now)
    assert got.to_json() == ref.to_json()
    return got


def night_json(log: EventLog, night: date, now: datetime = LATER) -> dict:
    return both(log, night, 1, now).to_json()["nights"][0]


# --- the pure rules ----------------------------------------------------------------------------


def test_a_late_session_to_the_second(log: EventLog) -> None:
    """Wednesday 25 November 2026 (CET, UTC+1), bedtime 22:30: the laptop stays open until 00:40."""
    n = date(2026, 11, 25)
    span(log, n, "active", berlin(2026, 11, 25, 21, 30), berlin(2026, 11, 25, 23, 2, 17))
    span(log, n, "idle", berlin(2026, 11, 25, 23, 2, 17), berlin(2026, 11, 25, 23, 9, 41))  # 7 min: not it
    span(log, n, "active", berlin(2026, 11, 25, 23, 9, 41), berlin(2026, 11, 26, 0, 40, 3))
    span(log, n, "locked", berlin(2026, 11, 26, 0, 40, 3), berlin(2026, 11, 26, 0, 52, 0))
    span(log, n, "asleep", berlin(2026, 11, 26, 0, 52, 0), berlin(2026, 11, 26, 7, 0))
    j = night_json(log, n)
    # Lights out: the locked + asleep stretch from 00:40:03 to 07:00 (the first idle lasted 7m24s).
    assert j["lights_out"] == "2026-11-26T00:40:03+01:00"
    # Active after 22:30: 22:30 -> 23:02:17 (32m17s = 1937 s) + 23:09:41 -> 00:40:03 (1h30m22s = 5422 s).
    assert j["active_after_bedtime_s"] == 1937 + 5422
    assert j["bedtime_planned"] == "2026-11-25T22:30:00+01:00"


def test_short_idle_spans_do_not_count_and_two_hours_do(log: EventLog) -> None:
    n = date(2026, 11, 24)
    # 23:00-01:00 idle (exactly 2 h), then active again until 01:30, then asleep until morning.
    span(log, n, "active", berlin(2026, 11, 24, 21, 30), berlin(2026, 11, 24, 23, 0))
    span(log, n, "idle", berlin(2026, 11, 24, 23, 0), berlin(2026, 11, 25, 1, 0))
    span(log, n, "active", berlin(2026, 11, 25, 1, 0), berlin(2026, 11, 25, 1, 30))
    span(log, n, "asleep", berlin(2026, 11, 25, 1, 30), berlin(2026, 11, 25, 7, 0))
    j = night_json(log, n)
    assert j["lights_out"] == "2026-11-24T23:00:00+01:00"  # the first stretch of 2 h counts
    assert j["active_after_bedtime_s"] == 30 * 60 + 30 * 60  # 22:30-23:00 and 01:00-01:30


def test_the_screen_never_went_off(log: EventLog) -> None:
    n = date(2026, 11, 23)
    span(log, n, "active", berlin(2026, 11, 23, 21, 30), berlin(2026, 11, 24, 7, 0))
    j = both(log, n, 1).to_json()
    assert j["nights"][0]["lights_out"] is None
    assert j["nights"][0]["active_after_bedtime_s"] == (8 * 60 + 30) * 60
    assert j["lights_out"] == {
        "nights": 0, "median_after_bedtime_s": None, "within_15m": 0,
        "current_streak": 0, "longest_streak": 0,
    }  # fmt: skip


def test_a_machine_shut_down_is_off_from_its_last_span_once_the_night_is_over(log: EventLog) -> None:
    n = date(2026, 11, 22)
    # SIGTERM at shutdown closed the active span at 23:12:05; nothing after it.
    span(log, n, "active", berlin(2026, 11, 22, 21, 30), berlin(2026, 11, 22, 23, 12, 5))
    assert night_json(log, n)["lights_out"] == "2026-11-22T23:12:05+01:00"
    # Seen during the night (before 07:00), the machine may still be on: not yet.
    early = berlin(2026, 11, 23, 1, 0).astimezone(UTC)
    assert night_json(log, n, now=early)["lights_out"] is None


def test_a_restart_between_two_off_spans_is_one_stretch_a_long_gap_is_not(log: EventLog) -> None:
    n = date(2026, 11, 21)
    span(log, n, "active", berlin(2026, 11, 21, 21, 30), berlin(2026, 11, 21, 23, 0))
    span(log, n, "locked", berlin(2026, 11, 21, 23, 0), berlin(2026, 11, 22, 0, 30))  # daemon updated:
    span(log, n, "locked", berlin(2026, 11, 22, 0, 30, 40), berlin(2026, 11, 22, 7, 0))  # 40 s gap
    assert night_json(log, n)["lights_out"] == "2026-11-21T23:00:00+01:00"
    n = date(2026, 11, 20)
    # A crash lost an active span 22:00-01:00: the idle before it is not the night's lights out.
    span(log, n, "idle", berlin(2026, 11, 20, 21, 30), berlin(2026, 11, 20, 22, 0))
    span(log, n, "idle", berlin(2026, 11, 21, 1, 0), berlin(2026, 11, 21, 7, 0))
    assert night_json(log, n)["lights_out"] == "2026-11-21T01:00:00+01:00"


def test_several_machines_a_person_is_active_when_any_machine_is(log: EventLog) -> None:
    n = date(2026, 11, 19)
    # The laptop locks at 22:40; the desktop stays on until 00:15.
    span(log, n, "active", berlin(2026, 11, 19, 21, 30), berlin(2026, 11, 19, 22, 40))
    span(log, n, "locked", berlin(2026, 11, 19, 22, 40), berlin(2026, 11, 20, 7, 0))
    span(log, n, "active", berlin(2026, 11, 19, 22, 0), berlin(2026, 11, 20, 0, 15), "device:desktop")
    span(log, n, "asleep", berlin(2026, 11, 20, 0, 15), berlin(2026, 11, 20, 7, 0), "device:desktop")
    j = night_json(log, n)
    assert j["lights_out"] == "2026-11-20T00:15:00+01:00"
    assert j["active_after_bedtime_s"] == 105 * 60  # 22:30 -> 00:15, one person's time, not two
    # The same span published twice by the desktop changes nothing.
    span(log, n, "asleep", berlin(2026, 11, 20, 0, 15), berlin(2026, 11, 20, 7, 0), "device:desktop")
    assert night_json(log, n) == j
    assert len([e for e in log.events() if e.event == "activity"]) == 4


def test_dst_nights_are_correct_to_the_second(log: EventLog) -> None:
    # Fall back: the night of Sat 24 October 2026 has 25 hours; 02:00-03:00 happens twice.
    fall = date(2026, 10, 24)
    span(log, fall, "active", berlin(2026, 10, 24, 21, 30), berlin(2026, 10, 25, 2, 30, 0, fold=1))
    span(log, fall, "asleep", berlin(2026, 10, 25, 2, 30, 0, fold=1), berlin(2026, 10, 25, 7, 0))
    j = night_json(log, fall)
    assert j["lights_out"] == "2026-10-25T02:30:00+01:00"  # the second 02:30 (CET)
    # 22:30 CEST (20:30 UTC) to 02:30 CET (01:30 UTC): 5 real hours, not 4.
    assert j["active_after_bedtime_s"] == 5 * 3600
    # Spring forward: the night of Sat 28 March 2026 has 23 hours; 02:00-03:00 never happens.
    spring = date(2026, 3, 28)
    span(log, spring, "active", berlin(2026, 3, 28, 21, 30), berlin(2026, 3, 29, 3, 30))
    span(log, spring, "idle", berlin(2026, 3, 29, 3, 30), berlin(2026, 3, 29, 7, 0))
    j = night_json(log, spring)
    assert j["lights_out"] == "2026-03-29T03:30:00+02:00"
    # 22:30 CET (21:30 UTC) to 03:30 CEST (01:30 UTC): 4 real hours.
    assert j["active_after_bedtime_s"] == 4 * 3600


def test_until_is_the_next_mornings_seven_in_every_zone() -> None:
    for zone in ("Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham"):
        z = ZoneInfo(zone)
        for night in (
            date(2026, 3, 7),
            date(2026, 3, 28),
            date(2026, 4, 4),
            date(2026, 10, 24),
            date(2026, 11, 1),
        ):
            until = activity.until_of(ROUTINE, night, z)
            local = until.astimezone(z)
            assert (local.date(), local.time()) == (night + timedelta(days=1), time(7, 0)), (zone, night)


def test_the_phones_in_bed_is_preferred_to_the_screens(log: EventLog) -> None:
    n = date(2026, 11, 18)
    span(log, n, "active", berlin(2026, 11, 18, 21, 30), berlin(2026, 11, 18, 22, 50))
    span(log, n, "asleep", berlin(2026, 11, 18, 22, 50), berlin(2026, 11, 19, 7, 0))
    log.record("in_bed", n, None, "phone", ts=berlin(2026, 11, 18, 22, 20))  # tracking started, stopped,
    log.record("in_bed", n, None, "phone", ts=berlin(2026, 11, 18, 22, 40))  # started again for real
    log.record("awake", n, None, "phone", ts=berlin(2026, 11, 19, 6, 45))
    s = both(log, n, 1)
    j = s.to_json()["nights"][0]
    assert (j["lights_out"], j["in_bed"], j["awake"]) == (
        "2026-11-18T22:50:00+01:00", "2026-11-18T22:40:00+01:00", "2026-11-19T06:45:00+01:00",
    )  # fmt: skip
    assert s.to_json()["lights_out"]["median_after_bedtime_s"] == 600.0  # 22:40, not 22:50
    assert s.to_json()["lights_out"]["within_15m"] == 1


def test_median_within_15_minutes_and_streak_over_a_week(log: EventLog) -> None:
    # Lights out (minutes after 22:30) on the nights of 10..16 November; 13th: nothing recorded.
    after = {10: 5, 11: 40, 12: -20, 14: 15, 15: 16, 16: 0}
    for day, minutes in after.items():
        n = date(2026, 11, day)
        off = berlin(2026, 11, day, 22, 30) + minutes * M
        span(log, n, "active", berlin(2026, 11, day, 21, 30), off)
        span(log, n, "locked", off, berlin(2026, 11, day + 1, 7, 0))
    s = both(log, date(2026, 11, 16), 7).to_json()["lights_out"]
    assert s == {
        "nights": 6,
        "median_after_bedtime_s": 600.0,  # -20, 0, 5, 15, 16, 40 -> (5 + 15) / 2 minutes
        "within_15m": 4,  # 10, 12 (earlier counts), 14 (exactly 15), 16
        "current_streak": 1,  # 16; 15 was 16 minutes late
        "longest_streak": 2,  # 12, (13 unmeasured: neither breaks nor extends), 14
    }


# --- recording: spans from what the context says ----------------------------------------------


def test_observe_backdates_idle_to_the_last_input_and_resume_ends_asleep_at_resume() -> None:
    n = date(2026, 11, 25)
    start = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    t = start
    cur: Open | None = None
    closed: list[Span] = []

    def see(state: str, since: datetime, now: datetime) -> None:
        nonlocal cur
        done, cur = observe(cur, n, state, since, now, start)  # type: ignore[arg-type]
        if done:
            closed.append(done)

    rules = ContextRules()
    see(*state_of(None, None, rules.idle, t, False), t)  # active from the window's start
    last_input = t + 40 * M
    now = last_input + 5 * M  # the idle threshold reached
    see(*state_of(None, last_input, rules.idle, now, False), now)
    see("locked", now + 2 * M, now + 2 * M)
    see("asleep", now + 3 * M, now + 3 * M)
    resumed = now + 60 * M
    # After the resume the session is still locked (since before the sleep): asleep ends at the resume.
    see("locked", now + 2 * M, resumed)
    assert [(c.state, c.end - c.start) for c in closed] == [
        ("active", 40 * 60), ("idle", 7 * 60), ("locked", 60), ("asleep", 57 * 60),
    ]  # fmt: skip
    assert all(a.end == b.start for a, b in zip(closed, closed[1:], strict=False))
    last = close(cur, resumed + 10 * M)
    assert last is not None and (last.state, last.end - last.start) == ("locked", 600)


def test_an_unlock_into_idle_ends_the_lock_at_the_unlock_not_at_the_last_input() -> None:
    """The screensaver unlocks before logind's idle hint clears (two signals, a look between):
    idle since long before the lock must not erase the locked span (CI saw `idle` where the
    lock was, one run in three)."""
    n = date(2026, 11, 25)
    start = datetime(2026, 11, 25, 20, 30, tzinfo=UTC)
    last_input = start + 10 * M
    locked_at, unlocked_at = start + 20 * M, start + 50 * M
    _, cur = observe(None, n, "locked", locked_at, locked_at, start)
    closed, cur = observe(cur, n, "idle", last_input, unlocked_at, start)
    assert closed == Span("locked", activity.epoch(locked_at), activity.epoch(unlocked_at))
    assert (cur.state, cur.start) == ("idle", activity.epoch(unlocked_at))
    # Back to active from the lock: the last input (the password typed) is the boundary, as before.
    _, cur = observe(None, n, "locked", locked_at, locked_at, start)
    typed = unlocked_at - M
    closed, cur = observe(cur, n, "active", typed, unlocked_at, start)
    assert closed is not None and closed.end == activity.epoch(typed)


def test_nothing_is_recorded_before_the_window_and_the_window_is_first_reminder_to_seven() -> None:
    n = date(2026, 11, 25)
    start, end = activity.recording_window(ROUTINE, n, BERLIN)
    assert start == berlin(2026, 11, 25, 21, 30).astimezone(UTC)  # wind-down, 60 min before 22:30
    assert end == berlin(2026, 11, 26, 7, 0).astimezone(UTC)
    skipped = Routine(ROUTINE.bedtime, ROUTINE.reminders, "Europe/Berlin", skip_dates=frozenset({n}))
    assert activity.recording_window(skipped, n, BERLIN) is None
    # Idle since long before the window: the span starts with it.
    _, cur = observe(None, n, "idle", start - 3 * 60 * M, start + M, start)
    assert cur.start == activity.epoch(start)


def test_a_wind_down_moves_the_window_its_start_when_earlier_and_its_until() -> None:
    """With [winddown] the evening is recorded from its start when that comes before the first
    reminder (21:30 here), and ends at its `until`; a wind-down after the first reminder leaves
    the start alone. A skipped night has neither."""
    n = date(2026, 11, 25)
    early = replace(ROUTINE, winddown=WindDown(until=time(6, 15), before=90 * M))  # 21:00
    assert activity.until_wall(early) == time(6, 15)
    assert activity.recording_window(early, n, BERLIN) == (
        berlin(2026, 11, 25, 21, 0).astimezone(UTC),
        berlin(2026, 11, 26, 6, 15).astimezone(UTC),
    )
    late = replace(ROUTINE, winddown=WindDown(until=time(7, 30), at=time(22, 0)))
    assert activity.recording_window(late, n, BERLIN) == (
        berlin(2026, 11, 25, 21, 30).astimezone(UTC),  # the first reminder, 60 min before 22:30
        berlin(2026, 11, 26, 7, 30).astimezone(UTC),
    )
    # A night whose reminders are all skipped one by one still has its wind-down: recorded from it.
    quiet = NightChanges(skip=frozenset({"wind-down", "bedtime"}))
    assert activity.recording_window(early, n, BERLIN, quiet) == (
        berlin(2026, 11, 25, 21, 0).astimezone(UTC),
        berlin(2026, 11, 26, 6, 15).astimezone(UTC),
    )
    assert activity.recording_window(early, n, BERLIN, NightChanges(skip_all=True)) is None
    # DST: the night of 24 October 2026 falls back at 03:00; `until` 06:15 is CET, 5:15 UTC.
    fall = date(2026, 10, 24)
    assert activity.until_of(early, fall, BERLIN) == datetime(2026, 10, 25, 5, 15, tzinfo=UTC)
    assert activity.until_epoch(early, fall, BERLIN) == activity.epoch(
        datetime(2026, 10, 25, 5, 15, tzinfo=UTC)
    )


def test_lights_out_and_time_after_bedtime_end_at_the_wind_downs_until(log: EventLog) -> None:
    """`until` 06:00: a locked stretch from 05:00 that lasted until then is lights out (1 h, not
    the 2 h a stretch needs otherwise), and active time after 06:00 is not after-bedtime time."""
    n = date(2026, 11, 18)
    routine = replace(ROUTINE, winddown=WindDown(until=time(6, 0), before=30 * M))
    span(log, n, "active", berlin(2026, 11, 18, 21, 30), berlin(2026, 11, 19, 5, 0))
    span(log, n, "locked", berlin(2026, 11, 19, 5, 0), berlin(2026, 11, 19, 6, 0))
    span(log, n, "active", berlin(2026, 11, 19, 6, 0), berlin(2026, 11, 19, 6, 40))
    got = stats.from_log(log, routine, BERLIN, n, 1, LATER)
    ref = stats_from_events(log.events(), routine, BERLIN, n, 1, LATER)
    assert got.to_json() == ref.to_json()
    j = got.to_json()["nights"][0]
    assert j["lights_out"] == "2026-11-19T05:00:00+01:00"
    assert j["active_after_bedtime_s"] == (6 * 60 + 30) * 60  # 22:30 to 05:00
    # Without the wind-down the same night ends at 07:00: the 1-hour stretch is not lights out
    # (the silence after the last span until 07:00 is), and 40 more minutes count.
    plain = night_json(log, n)
    assert plain["lights_out"] == "2026-11-19T06:40:00+01:00"
    assert plain["active_after_bedtime_s"] == (7 * 60 + 10) * 60


def test_a_row_that_holds_no_span_is_kept_in_the_log_and_left_out_of_stats(log: EventLog) -> None:
    n = date(2026, 11, 17)
    ten, eleven = "2026-11-17T22:00:00+00:00", "2026-11-17T23:00:00+00:00"
    for details in (
        {"state": "dreaming", "from": ten, "to": eleven},
        {"state": "idle", "from": eleven, "to": ten},
        {"state": "idle", "from": "yesterday", "to": "today"},
        {"state": "idle", "from": 123, "to": eleven},  # SQLite would read 123 as a Julian day
        {"state": "idle", "from": "2026-11-01T22:00:00+00:00", "to": eleven},  # over a day, not that night
        {"state": "idle", "from": "0001-01-01T00:00:00+00:00", "to": "0001-01-01T01:00:00+00:00"},
        {},
    ):
        log.record("activity", n, None, "device:other", details)
    # Written by another program: not even JSON. The trigger leaves it out; the insert goes through.
    with closing(sqlite3.connect(log.path)) as conn, conn:
        conn.execute(
            "INSERT INTO events (ts, night, reminder, event, source, details) VALUES (?, ?, NULL, ?, ?, ?)",
            ("2026-11-17T23:00:00.000000+00:00", "2026-11-17", "activity", "daemon", "not json"),
        )
    assert len(log.events()) == 8
    assert log.spans_between(n, n) == {}
    assert night_json(log, n)["lights_out"] is None


SPAN_STRATEGY = st.tuples(st.sampled_from(activity.ACTIVITY_STATES), st.integers(0, 9000))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(SPAN_STRATEGY, min_size=1, max_size=8),
    st.integers(0, 4000),
    st.integers(0, 40000),
    st.integers(-10, 200),
)
# Found by Hypothesis: idle, active 30 s later, idle 30 s after that. The union joined the two idle
# spans across the gap holding the active one, so its stretch began at the active span's end.
@example(raw=[("idle", 1), ("active", 1), ("idle", 7170)], start=0, now=0, first_gap=0)
def test_one_machines_single_pass_agrees_with_the_general_union(raw, start, now, first_gap) -> None:
    """The one-pass reckoning used for a machine alone gives what the union of machines gives."""
    spans, t = [], start + first_gap
    for state, length in raw:
        spans.append(("daemon", state, t, t + length))
        t += length + (length % 7) * 30  # now and then a gap, sometimes past BRIDGE_S
    until, bedtime = 30000, 5000
    fast = activity._one_machine(spans, bedtime, until, now >= until)
    assert fast == activity._machines(spans, bedtime, until, now >= until)
    assert activity.evening(spans, bedtime, until, now) == fast
