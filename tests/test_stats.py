"""Stats over hand-made logs (real SQLite), every number computed by hand in the comments."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sundown.core.routine import Bedtimes, Reminder, Routine
from sundown.reports import night_cache, stats
from sundown.store.log import EventLog
from support.oracles import stats_from_events
from support.routines import STATS
from support.scripts import load_script

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)
REPO = Path(__file__).resolve().parent.parent

ROUTINE = STATS
LATER = datetime(2026, 12, 1, 12, tzinfo=UTC)  # long after every night below


def utc(day: int, hh: int, mm: int, month: int = 11, ss: int = 0) -> datetime:
    return datetime(2026, month, day, hh, mm, ss, tzinfo=UTC)


def d(day: int, month: int = 11) -> date:
    return date(2026, month, day)


@pytest.fixture
def log(tmp_path: Path):
    with EventLog(tmp_path / "sundown.db") as log:
        yield log


def notified(log: EventLog, night: date, rid: str, ts: datetime, repeat: int = 0, at: datetime | None = None):
    details = {"late": 0, "repeat": repeat, "backend": "dbus"}
    if at is not None:
        details["at"] = at.astimezone(BERLIN).isoformat()
    log.record("notified", night, rid, "daemon", details, ts=ts)


def both(log: EventLog, until: date, days: int, now: datetime = LATER, routine: Routine = ROUTINE):
    """Stats via the SQLite summary and via the pure fold must agree; return the former."""
    got = stats.from_log(log, routine, BERLIN, until, days, now)
    ref = stats_from_events(log.events(), routine, BERLIN, until, days, now)
    assert got.to_json() == ref.to_json()
    assert [r.cells for r in got.reminders.values()] == [r.cells for r in ref.reminders.values()]
    cache = log.path.with_name("stats-nights.json")
    for _ in range(2):  # with the nights kept by the run before (an earlier call's, or none), then warm
        kept = night_cache.from_log(log, routine, BERLIN, until, days, now, cache)
        assert kept.to_json() == got.to_json()
        assert [r.cells for r in kept.reminders.values()] == [r.cells for r in got.reminders.values()]
    return got


def test_a_week_of_magnesium(log: EventLog) -> None:
    # Magnesium is due at 21:45 Berlin = 20:45 UTC every night of Mon 16 .. Sun 22 November.
    notified(log, d(16), "magnesium", utc(16, 20, 45))
    log.record("acknowledged", d(16), "magnesium", "action", ts=utc(16, 20, 47))  # 120 s
    notified(log, d(17), "magnesium", utc(17, 20, 45))
    notified(log, d(17), "magnesium", utc(17, 20, 55), repeat=1)
    log.record("acknowledged", d(17), "magnesium", "action", ts=utc(17, 20, 58))  # 780 s
    notified(log, d(18), "magnesium", utc(18, 20, 45))  # never acknowledged: missed
    log.record("dismissed", d(18), "magnesium", "action", ts=utc(18, 20, 46))  # not an acknowledgement
    log.record("skipped", d(19), "magnesium", "cli", ts=utc(19, 12, 0))  # reminder skip
    log.record("skipped", d(20), None, "cli", ts=utc(20, 12, 0))  # whole-night skip
    log.record("acknowledged", d(21), "magnesium", "cli", {"backfilled": True}, ts=utc(21, 20, 50))  # 300 s
    notified(log, d(22), "magnesium", utc(22, 20, 45))
    log.record("acknowledged", d(22), "magnesium", "action", ts=utc(22, 21, 5))  # 1200 s: late

    s = both(log, d(22), 7)
    assert (s.first, s.until) == (d(16), d(22))
    assert s.to_json()["reminders"]["magnesium"] == {
        "scheduled": 7,
        "acknowledged": 4,
        "skipped": 2,
        "missed": 1,
        "adherence": 0.8,  # 4 / (7 - 2)
        "current_streak": 2,  # 21, 22 (19 and 20 skipped: neither break nor extend)
        "longest_streak": 2,  # 16-17, then 18 missed
        "median_delay_s": 540.0,  # (300 + 780) / 2 of 120, 300, 780, 1200
        "p90_delay_s": 1200.0,  # nearest rank: ceil(0.9 * 4) = 4th
        "repeats": 1,
        "open": 0,
        "title": "Magnesium",
    }
    assert [c.status for c in s.reminders["magnesium"].cells] == [
        "ack", "ack", "missed", "skipped", "skipped", "ack", "late",
    ]  # fmt: skip


def test_streak_spans_skipped_nights_and_the_current_streak_ends_at_the_last_scheduled_night(
    log: EventLog,
) -> None:
    for day in (16, 17, 19, 21, 22):
        log.record("acknowledged", d(day), "magnesium", "cli", ts=utc(day, 20, 46))
    log.record("skipped", d(18), None, "cli", ts=utc(18, 12, 0))
    # 20: nothing logged at all, but magnesium was in the routine: missed.
    s = both(log, d(22), 7).reminders["magnesium"]
    assert (s.current_streak, s.longest_streak) == (2, 3)  # 16,17,(18 skip),19 = 3; 20 missed; 21,22 = 2
    assert (s.scheduled, s.acknowledged, s.skipped, s.missed) == (7, 5, 1, 1)
    # The window ends on a night where it is not due yet: the current streak still counts.
    s = both(log, d(23), 8, now=utc(23, 20, 0)).reminders["magnesium"]
    assert s.current_streak == 2 and s.scheduled == 7 and s.cells[-1].status == "pending"  # later tonight


def test_tonight_changed_bedtime_moves_before_reminders(log: EventLog) -> None:
    # `sundown tonight --bedtime 23:30` on the 23rd (recorded directly: `tonight` only acts on tonight).
    log.record("bedtime_changed", d(23), None, "cli", {"bedtime": "23:30"}, ts=utc(23, 15, 0))
    # Backfilled, never notified: the delay counts from the shifted time 22:45 Berlin = 21:45 UTC.
    log.record("acknowledged", d(23), "magnesium", "cli", ts=utc(23, 21, 50))
    log.record("acknowledged", d(23), "bedtime", "cli", ts=utc(23, 22, 40))  # 23:40 Berlin
    s = both(log, d(23), 1)
    j = s.to_json()
    assert j["reminders"]["magnesium"]["median_delay_s"] == 300.0
    assert j["reminders"]["bedtime"]["median_delay_s"] == 600.0
    assert j["nights"] == [
        {
            "night": "2026-11-23",
            "bedtime_planned": "2026-11-23T23:30:00+01:00",
            "bedtime_acknowledged": "2026-11-23T23:40:00+01:00",
            "lights_out": None,  # nothing measured that night
            "active_after_bedtime_s": None,
        }
    ]
    # `tonight --clear` restores the configured bedtime.
    log.record("bedtime_changed", d(23), None, "cli", {"bedtime": None}, ts=utc(23, 16, 0))
    j = both(log, d(23), 1).to_json()
    assert j["nights"][0]["bedtime_planned"] == "2026-11-23T22:30:00+01:00"
    assert j["reminders"]["magnesium"]["median_delay_s"] == 3900.0  # from 21:45 Berlin (20:45 UTC)


def test_acknowledgement_after_midnight_counts_for_its_night(log: EventLog) -> None:
    notified(log, d(16), "bedtime", utc(16, 21, 30))
    log.record("acknowledged", d(16), "bedtime", "action", ts=utc(16, 23, 10))  # 00:10 Berlin on the 17th
    j = both(log, d(17), 2).to_json()
    assert j["reminders"]["bedtime"]["median_delay_s"] == 6000.0
    assert j["reminders"]["bedtime"]["acknowledged"] == 1
    assert j["nights"][0] == {
        "night": "2026-11-16",
        "bedtime_planned": "2026-11-16T22:30:00+01:00",
        "bedtime_acknowledged": "2026-11-17T00:10:00+01:00",
        "lights_out": None,  # nothing measured that night
        "active_after_bedtime_s": None,
    }
    assert j["nights"][1]["bedtime_acknowledged"] is None


def test_skip_dates_and_acknowledgement_wins_over_a_skip(log: EventLog) -> None:
    routine = Routine(ROUTINE.bedtime, ROUTINE.reminders, "Europe/Berlin", skip_dates=frozenset({d(17)}))
    log.record("acknowledged", d(16), "magnesium", "cli", ts=utc(16, 20, 50))
    log.record("skipped", d(18), None, "cli", ts=utc(18, 12, 0))
    log.record("acknowledged", d(18), "magnesium", "cli", ts=utc(18, 20, 50))  # done anyway
    s = both(log, d(18), 3, routine=routine).reminders["magnesium"]
    assert (s.scheduled, s.acknowledged, s.skipped, s.missed) == (3, 2, 1, 0)
    assert s.adherence == 1.0
    assert [c.status for c in s.cells] == ["ack", "skipped", "ack"]


def test_adherence_is_null_when_everything_was_skipped(log: EventLog) -> None:
    log.record("skipped", d(16), None, "cli", ts=utc(16, 12, 0))
    log.record("skipped", d(17), "magnesium", "cli", ts=utc(17, 12, 0))
    j = both(log, d(17), 2).to_json()["reminders"]["magnesium"]
    assert (j["scheduled"], j["skipped"], j["adherence"], j["median_delay_s"]) == (2, 2, None, None)


def test_reminders_added_and_removed_mid_history(log: EventLog) -> None:
    """Until Thursday the 19th the routine had `journal` (21:00) instead of `screens-off` (22:00)."""
    due = {"journal": (20, 0), "magnesium": (20, 45), "screens-off": (21, 0), "bedtime": (21, 30)}

    def done(day: int, rid: str, ack: bool = True) -> None:
        hh, mm = due[rid]
        when = datetime(2026, 11, day, hh, mm, tzinfo=UTC)
        notified(log, d(day), rid, when, at=when)
        if ack:
            log.record("acknowledged", d(day), rid, "action", ts=when + timedelta(minutes=3))

    done(16, "journal"), done(16, "magnesium"), done(16, "bedtime")
    done(17, "journal", ack=False), done(17, "magnesium"), done(17, "bedtime", ack=False)
    # 18: the computer was off: nothing logged; the current routine counts (all missed).
    for day in (19, 20, 21, 22):
        done(day, "magnesium"), done(day, "bedtime")
    done(19, "screens-off")
    log.record(
        "missed", d(22), "screens-off", "daemon", {"at": "2026-11-22T22:00:00+01:00"}, ts=utc(22, 21, 31)
    )

    s = both(log, d(22), 7)
    assert list(s.reminders) == ["magnesium", "screens-off", "bedtime", "journal"]
    journal = s.reminders["journal"]
    assert not journal.configured
    assert (journal.scheduled, journal.acknowledged, journal.missed, journal.median_delay_s) == (
        2,
        1,
        1,
        180.0,
    )
    assert [c.status for c in journal.cells] == ["ack", "missed", "none", "none", "none", "none", "none"]
    screens = s.reminders["screens-off"]
    # 16, 17: the daemon ran and never mentioned it: not in the routine yet. 18 (Wed): counts, missed.
    # 20 Fri, 21 Sat: not configured on those evenings. 22 Sun: logged missed.
    assert [c.status for c in screens.cells] == ["none", "none", "missed", "ack", "none", "none", "missed"]
    assert (screens.scheduled, screens.acknowledged, screens.missed) == (3, 1, 2)
    mg = s.reminders["magnesium"]
    assert (mg.scheduled, mg.acknowledged, mg.missed, mg.current_streak, mg.longest_streak) == (7, 6, 1, 4, 4)
    bed = s.reminders["bedtime"]
    assert (bed.scheduled, bed.acknowledged, bed.missed) == (7, 5, 2)
    assert [n["bedtime_acknowledged"] is not None for n in s.to_json()["nights"]] == [
        True, False, False, True, True, True, True,
    ]  # fmt: skip


def test_nights_before_the_log_began_do_not_count(log: EventLog) -> None:
    log.record("acknowledged", d(20), "magnesium", "cli", ts=utc(20, 20, 50))
    s = both(log, d(22), 7)
    mg = s.reminders["magnesium"]
    assert [c.status for c in mg.cells] == ["none"] * 4 + ["ack", "missed", "missed"]
    assert s.reminders["bedtime"].scheduled == 3  # 20..22, all missed
    assert len(s.to_json()["nights"]) == 7  # the bedtime chart still shows every night


def test_dst_nights_use_the_real_elapsed_time() -> None:
    """Saturday bedtime 02:30: ambiguous on 2026-10-25 (first occurrence), missing on 2026-03-29."""
    bedtimes = Bedtimes((time(22, 30),) * 5 + (time(2, 30), time(22, 30)))  # type: ignore[arg-type]
    routine = Routine(bedtimes, (Reminder("magnesium", "Magnesium", before=45 * M),), "Europe/Berlin")
    from sundown.store.log import Event

    def ack(i: int, night: date, ts: datetime) -> Event:
        return Event(i, ts, night, "magnesium", "acknowledged", "cli", {})

    events = [
        # Fall back: 02:30 CEST (00:30 UTC) is the first 02:30; magnesium 45 min earlier = 23:45 UTC.
        ack(1, date(2026, 10, 24), datetime(2026, 10, 24, 23, 50, tzinfo=UTC)),
        # Spring forward: 02:30 does not exist -> 03:30 CEST = 01:30 UTC; magnesium at 00:45 UTC.
        ack(2, date(2026, 3, 28), datetime(2026, 3, 29, 0, 50, tzinfo=UTC)),
    ]
    fall = stats_from_events(events, routine, BERLIN, date(2026, 10, 24), 1, LATER).to_json()
    spring = stats_from_events(events, routine, BERLIN, date(2026, 3, 28), 1, LATER).to_json()
    assert fall["reminders"]["magnesium"]["median_delay_s"] == 300.0
    assert fall["nights"][0]["bedtime_planned"] == "2026-10-25T02:30:00+02:00"
    assert spring["reminders"]["magnesium"]["median_delay_s"] == 300.0
    assert spring["nights"][0]["bedtime_planned"] == "2026-03-29T03:30:00+02:00"


def test_current_night_counts_reminders_only_once_due(log: EventLog) -> None:
    # Wednesday 25th, 21:50 Berlin: magnesium (21:45) is due, screens-off (22:00) and bedtime are not.
    now = utc(25, 20, 50)
    for rid in ("magnesium", "screens-off", "bedtime"):
        log.record("acknowledged", d(24), rid, "cli", ts=utc(24, 21, 40))
    notified(log, d(25), "magnesium", utc(25, 20, 45))
    s = both(log, d(25), 2, now=now)
    mg = s.reminders["magnesium"]
    assert [c.status for c in mg.cells] == ["late", "open"]  # 24th: 55 min late; 25th: waiting
    assert (mg.scheduled, mg.acknowledged, mg.missed, mg.open, mg.adherence) == (2, 1, 0, 1, 0.5)
    assert mg.current_streak == 0  # the streak ends with the last night it was scheduled
    assert s.reminders["screens-off"].scheduled == 1 and s.reminders["bedtime"].scheduled == 1
    assert s.reminders["screens-off"].current_streak == 1
    # Once bedtime passed without an acknowledgement, the open night becomes missed.
    mg = both(log, d(25), 2, now=utc(25, 21, 31)).reminders["magnesium"]
    assert (mg.open, mg.missed) == (0, 1)


def test_daemon_logged_missed_without_notification(log: EventLog) -> None:
    log.record("missed", d(16), "magnesium", "daemon", {"at": "2026-11-16T21:45:00+01:00"}, ts=utc(16, 22, 0))
    mg = both(log, d(16), 1).reminders["magnesium"]
    assert (mg.scheduled, mg.missed, mg.adherence, mg.current_streak) == (1, 1, 0.0, 0)


def test_window_validation() -> None:
    assert stats.window(d(22), 7) == (d(16), d(22))
    with pytest.raises(ValueError):
        stats.window(d(22), 0)


def test_percentile_nearest_rank() -> None:
    assert stats.percentile([5.0], 0.9) == 5.0
    assert stats.percentile(list(map(float, range(1, 11))), 0.9) == 9.0
    assert stats.percentile(list(map(float, range(1, 12))), 0.9) == 10.0


def test_generated_multi_year_log_sql_and_pure_fold_agree(tmp_path: Path) -> None:
    bench = load_script("bench/bench_stats.py")
    db = tmp_path / "sundown.db"
    count = bench.generate(db, date(2023, 1, 1), 3 * 365)
    routine = bench.routine()
    with EventLog(db) as log:
        events = log.events()
        assert len(events) == count
        kinds = {e.event for e in events}
        assert kinds >= {"notified", "acknowledged", "snoozed", "dismissed", "skipped", "missed",
                         "unskipped", "bedtime_changed", "config_error"}  # fmt: skip
        until = date(2025, 12, 31)
        got = stats.from_log(log, routine, BERLIN, until, 3 * 365, LATER)
    ref = stats_from_events(events, routine, BERLIN, until, 3 * 365, LATER)
    assert got.to_json() == ref.to_json()
    with EventLog(db) as log:  # a month in the middle: each reminder's first night is before it
        month = stats.from_log(log, routine, BERLIN, date(2024, 6, 30), 30, LATER)
    ref = stats_from_events(events, routine, BERLIN, date(2024, 6, 30), 30, LATER)
    assert month.to_json() == ref.to_json()
    j = got.to_json()
    assert len(j["nights"]) == 3 * 365
    for r in j["reminders"].values():
        assert r["scheduled"] == r["acknowledged"] + r["skipped"] + r["missed"] + r["open"]
        assert 0.8 < r["adherence"] < 0.95
        assert r["median_delay_s"] <= r["p90_delay_s"]
    assert j["reminders"]["magnesium"]["repeats"] > 0


# --- properties over arbitrary logs ----------------------------------------------------------


KINDS = [
    "notified",
    "acknowledged",
    "snoozed",
    "dismissed",
    "missed",
    "skipped",
    "unskipped",
    "bedtime_changed",
]
event_strategy = st.tuples(
    st.integers(0, 5),  # night offset
    st.sampled_from(KINDS),
    st.sampled_from(["magnesium", "bedtime", "screens-off", "gone", None]),
    st.integers(-120, 26 * 60),  # minutes after the night's 12:00 UTC
    st.integers(0, 2),  # repeat
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(event_strategy, max_size=40), st.integers(0, 7 * 24 * 60))
def test_any_log_gives_consistent_numbers(tmp_path_factory, raw, now_minutes) -> None:
    now = datetime(2026, 11, 16, 12, tzinfo=UTC) + timedelta(minutes=now_minutes)
    with EventLog(tmp_path_factory.mktemp("h") / "sundown.db") as log:
        for offset, kind, rid, minutes, repeat in raw:
            night = d(16) + timedelta(days=offset)
            ts = datetime(2026, 11, 16 + offset, 12, tzinfo=UTC) + timedelta(minutes=minutes)
            details: dict = {}
            if kind == "notified":
                details = {"repeat": repeat, "at": (ts - timedelta(minutes=1)).isoformat()}
            elif kind == "bedtime_changed":
                rid, details = None, {"bedtime": ["23:15", None, "00:30"][repeat]}
            log.record(kind, night, rid, "cli", details, ts=ts)
        s = both(log, d(21), 6, now=now)  # SQL summary and pure fold agree
        both(log, d(21), 3, now=now)  # also from a night after the log's first: reminders seen before it
    for r in s.reminders.values():
        assert len(r.cells) == 6
        assert r.scheduled == r.acknowledged + r.skipped + r.missed + r.open
        assert r.adherence is None or 0 <= r.adherence <= 1
        assert 0 <= r.current_streak <= r.longest_streak <= r.acknowledged
        assert (r.median_delay_s is None) == (r.acknowledged == 0)
        if r.median_delay_s is not None:
            assert 0 <= r.median_delay_s <= (r.p90_delay_s or 0)


def test_a_night_that_never_existed_is_left_out() -> None:
    """Pacific/Apia skipped 2011-12-30: no reminders, no bedtime row, nothing breaks."""
    apia = ZoneInfo("Pacific/Apia")
    routine = Routine(ROUTINE.bedtime, ROUTINE.reminders[:1], "Pacific/Apia")
    from sundown.store.log import Event

    events = [
        Event(
            1,
            datetime(2011, 12, 29, 8, 0, tzinfo=UTC),
            date(2011, 12, 29),
            "magnesium",
            "acknowledged",
            "cli",
            {},
        ),
        Event(
            2,
            datetime(2011, 12, 31, 8, 0, tzinfo=UTC),
            date(2011, 12, 31),
            "magnesium",
            "acknowledged",
            "cli",
            {},
        ),
    ]
    s = stats_from_events(events, routine, apia, date(2011, 12, 31), 3, datetime(2012, 1, 5, tzinfo=UTC))
    assert [n["night"] for n in s.to_json()["nights"]] == ["2011-12-29", "2011-12-31"]
    mg = s.reminders["magnesium"]
    assert [c.status for c in mg.cells] == ["ack", "none", "ack"]
    assert (mg.scheduled, mg.current_streak) == (2, 2)


def test_a_reminder_added_after_a_backfill_does_not_count_on_the_backfilled_nights(log: EventLog) -> None:
    """Sundown in use from the 22nd, a week filled in with `ack --at` before it; screens-off, in the
    routine today, has no rows on those nights: it was not in the routine then."""
    for day in range(16, 22):
        log.record("acknowledged", d(day), "magnesium", "cli", {"backfilled": True}, ts=utc(day, 20, 50))
        if day != 18:  # one evening without lights out: a backfilled reminder counts from its first row
            log.record("acknowledged", d(day), "bedtime", "cli", {"backfilled": True}, ts=utc(day, 21, 35))
    notified(log, d(22), "magnesium", utc(22, 20, 45))  # the daemon runs from the 22nd
    log.record(
        "missed", d(22), "screens-off", "daemon", {"at": "2026-11-22T22:00:00+01:00"}, ts=utc(22, 21, 31)
    )
    s = both(log, d(22), 7)
    screens = s.reminders["screens-off"]
    assert [c.status for c in screens.cells] == ["none"] * 6 + ["missed"]  # before: 4 nights missed
    assert (screens.scheduled, screens.missed) == (1, 1)
    bed = s.reminders["bedtime"]
    assert [c.status for c in bed.cells] == ["ack", "ack", "missed", "ack", "ack", "ack", "missed"]
    assert log.first_live_night() == d(22)


def test_later_tonight_is_shown_apart_from_not_scheduled_and_not_counted(log: EventLog) -> None:
    notified(log, d(21), "magnesium", utc(21, 20, 45))
    log.record("skipped", d(22), "screens-off", "cli", ts=utc(22, 12, 5))  # Sunday, skipped in advance
    s = both(log, d(22), 2, now=utc(22, 20, 0))  # 21:00 Berlin: everything of tonight is ahead
    assert {rid: r.cells[-1].status for rid, r in s.reminders.items()} == {
        "magnesium": "pending",
        "screens-off": "skipped_ahead",
        "bedtime": "pending",
    }
    screens = s.reminders["screens-off"]
    assert (screens.scheduled, screens.skipped) == (0, 0)  # scheduled once its time has passed
