"""The time rules of docs/time.md, with explicit instants in named zones (plan.py is pure)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sundown.core import plan
from sundown.core.plan import NightChanges, night_of, night_plan, occurrences, upcoming
from sundown.core.routine import WEEKDAYS, Bedtimes, Reminder, Routine
from support.instants import local, utc

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
APIA = ZoneInfo("Pacific/Apia")


def hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def mins(n: int) -> timedelta:
    return timedelta(minutes=n)


def routine(
    bedtime: str = "22:30", *reminders: Reminder, skip: tuple[date, ...] = (), **by_day: str
) -> Routine:
    times = tuple(hm(by_day.get(d, bedtime)) for d in WEEKDAYS)
    return Routine(Bedtimes(times), tuple(reminders), skip_dates=frozenset(skip))  # type: ignore[arg-type]


def before(rid: str, minutes: int, **kw: object) -> Reminder:
    return Reminder(rid, rid.title(), before=mins(minutes), **kw)  # type: ignore[arg-type]


def at(rid: str, wall: str, **kw: object) -> Reminder:
    return Reminder(rid, rid.title(), at=hm(wall), **kw)  # type: ignore[arg-type]


def times_of(night_plan_: plan.NightPlan | None) -> dict[str, datetime]:
    assert night_plan_ is not None
    return {o.reminder.id: o.at.astimezone(UTC) for o in night_plan_.occurrences}


# --- nights ------------------------------------------------------------------------------------


class TestNightOf:
    def test_noon_starts_the_night(self) -> None:
        assert night_of(local(BERLIN, 2026, 11, 25, 12, 0), BERLIN) == date(2026, 11, 25)
        assert night_of(local(BERLIN, 2026, 11, 25, 11, 59), BERLIN) == date(2026, 11, 24)

    def test_after_midnight_belongs_to_the_evening_before(self) -> None:
        assert night_of(local(BERLIN, 2026, 11, 29, 0, 30), BERLIN) == date(2026, 11, 28)

    def test_uses_the_zone_not_the_instants_offset(self) -> None:
        # 23:00 UTC is 00:00 CET, still the evening of the 25th; 11:30 UTC is 12:30 CET.
        assert night_of(utc(2026, 11, 25, 23, 0), BERLIN) == date(2026, 11, 25)
        assert night_of(utc(2026, 11, 25, 11, 30), BERLIN) == date(2026, 11, 25)  # 12:30 CET

    def test_apia_skipped_date_has_no_night(self) -> None:
        assert not plan.night_exists(date(2011, 12, 30), APIA)
        assert plan.night_exists(date(2011, 12, 29), APIA)
        assert plan.night_exists(date(2011, 12, 31), APIA)
        # The morning of 12-31 still belongs to the night of 12-29, which lasts 48h on the clock.
        assert night_of(local(APIA, 2011, 12, 31, 5, 0), APIA) == date(2011, 12, 29)
        assert night_of(local(APIA, 2011, 12, 31, 12, 0), APIA) == date(2011, 12, 31)
        assert plan.night_end(date(2011, 12, 29), APIA).astimezone(UTC) == utc(2011, 12, 30, 22, 0)
        assert plan.night_start(date(2011, 12, 31), APIA).astimezone(UTC) == utc(2011, 12, 30, 22, 0)


# --- resolving wall times: gaps, folds, real-time offsets -----------------------------------


class TestBerlinDst:
    def test_gap_moves_forward_by_the_gap(self) -> None:
        # 2026-03-29 02:00 CET -> 03:00 CEST: "02:30" does not exist and becomes 03:30 CEST.
        r = routine("22:30", before("bedtime", 0), sat="02:30")  # 2026-03-28 is a Saturday
        p = night_plan(r, date(2026, 3, 28), BERLIN)
        assert p is not None
        assert p.bedtime == local(BERLIN, 2026, 3, 29, 3, 30)
        assert p.bedtime.astimezone(UTC) == utc(2026, 3, 29, 1, 30)

    def test_before_is_real_time_across_the_spring_transition(self) -> None:
        # Bedtime 03:30 CEST (01:30 UTC); 2h before is 23:30 UTC = 00:30 CET: 3h on the wall clock.
        r = routine("03:30", before("early", 120), before("bedtime", 0))
        t = times_of(night_plan(r, date(2026, 3, 28), BERLIN))
        assert t["bedtime"] == utc(2026, 3, 29, 1, 30)
        assert t["early"] == utc(2026, 3, 28, 23, 30)
        assert t["early"].astimezone(BERLIN).time() == time(0, 30)

    def test_fold_means_first_occurrence(self) -> None:
        # 2026-10-25 03:00 CEST -> 02:00 CET: "02:30" happens twice; the first is 00:30 UTC.
        r = routine("02:30", before("wind-down", 60), before("bedtime", 0))
        t = times_of(night_plan(r, date(2026, 10, 24), BERLIN))
        assert t["bedtime"] == utc(2026, 10, 25, 0, 30)
        assert t["bedtime"].astimezone(BERLIN).fold == 0
        assert t["wind-down"] == utc(2026, 10, 24, 23, 30)  # 01:30 CEST

    def test_before_is_real_time_across_the_fall_transition(self) -> None:
        # Bedtime 03:30 CET (02:30 UTC); 2h before is 00:30 UTC = 02:30 CEST (the first 02:30).
        r = routine("03:30", before("early", 120))
        t = times_of(night_plan(r, date(2026, 10, 24), BERLIN))
        assert t["early"] == utc(2026, 10, 25, 0, 30)

    def test_evening_times_keep_their_wall_clock_across_both_changes(self) -> None:
        r = routine("22:30", before("magnesium", 45), at("screens-off", "22:00"))
        for night in (date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 24), date(2026, 10, 25)):
            p = night_plan(r, night, BERLIN)
            assert p is not None
            walls = {o.reminder.id: o.at.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M") for o in p.occurrences}
            assert walls == {"magnesium": f"{night} 21:45", "screens-off": f"{night} 22:00"}

    def test_at_time_in_the_gap(self) -> None:
        r = routine("23:00", at("late", "02:15"))
        t = times_of(night_plan(r, date(2026, 3, 28), BERLIN))
        assert t["late"].astimezone(BERLIN) == local(BERLIN, 2026, 3, 29, 3, 15)


class TestNewYorkDst:
    def test_gap(self) -> None:
        p = night_plan(routine("02:30"), date(2026, 3, 7), NEW_YORK)
        assert p is not None and p.bedtime.astimezone(UTC) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT

    def test_fold_first_occurrence(self) -> None:
        p = night_plan(routine("01:30", before("bedtime", 0)), date(2026, 10, 31), NEW_YORK)
        assert p is not None and p.bedtime.astimezone(UTC) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT

    def test_before_across_fall_back(self) -> None:
        # Bedtime 01:30 is the first (EDT) one; 1h30m before it is 00:00 EDT.
        r = routine("01:30", before("wind-down", 90))
        t = times_of(night_plan(r, date(2026, 10, 31), NEW_YORK))
        assert t["wind-down"] == utc(2026, 11, 1, 4, 0)

    def test_upcoming_over_the_spring_week_keeps_wall_times(self) -> None:
        r = routine("22:30", before("bedtime", 0), before("wind-down", 60))
        found = upcoming(r, NEW_YORK, local(NEW_YORK, 2026, 3, 6, 12, 0), 6)
        walls = [
            (o.night.isoformat(), o.reminder.id, o.at.astimezone(NEW_YORK).strftime("%d %H:%M"))
            for o in found
        ]
        assert walls == [
            ("2026-03-06", "wind-down", "06 21:30"),
            ("2026-03-06", "bedtime", "06 22:30"),
            ("2026-03-07", "wind-down", "07 21:30"),
            ("2026-03-07", "bedtime", "07 22:30"),
            ("2026-03-08", "wind-down", "08 21:30"),
            ("2026-03-08", "bedtime", "08 22:30"),
        ]
        # 23 hours of real time between the two evenings around the change, not 24.
        assert found[4].at.astimezone(UTC) - found[2].at.astimezone(UTC) == timedelta(hours=23)


class TestLordHoweHalfHourShift:
    def test_gap_of_thirty_minutes(self) -> None:
        # 2026-10-04 02:00 -> 02:30 (+10:30 -> +11): "02:15" becomes 02:45.
        p = night_plan(routine("02:15"), date(2026, 10, 3), LORD_HOWE)
        assert p is not None
        assert p.bedtime.astimezone(LORD_HOWE).time() == time(2, 45)
        assert p.bedtime.astimezone(UTC) == utc(2026, 10, 3, 15, 45)

    def test_fold_of_thirty_minutes(self) -> None:
        # 2026-04-05 02:00 -> 01:30 (+11 -> +10:30): "01:45" twice; the first is at +11.
        r = routine("01:45", before("early", 30))
        p = night_plan(r, date(2026, 4, 4), LORD_HOWE)
        assert p is not None
        assert p.bedtime.astimezone(UTC) == utc(2026, 4, 4, 14, 45)
        assert times_of(p)["early"] == utc(2026, 4, 4, 14, 15)

    def test_before_across_the_half_hour_change(self) -> None:
        # Bedtime 03:00 (+11) = 16:00 UTC; 1h before is 15:00 UTC = 01:30 (+10:30): 1h30m on the wall.
        t = times_of(night_plan(routine("03:00", before("early", 60)), date(2026, 10, 3), LORD_HOWE))
        assert t["early"] == utc(2026, 10, 3, 15, 0)
        assert t["early"].astimezone(LORD_HOWE).time() == time(1, 30)


class TestApia:
    def test_skipped_date_has_no_plan(self) -> None:
        assert night_plan(routine("22:30", before("bedtime", 0)), date(2011, 12, 30), APIA) is None

    def test_after_midnight_bedtime_of_the_night_before_lands_on_the_31st(self) -> None:
        # 2011-12-29 was a Thursday; its bedtime "00:30" would be on 12-30, which never existed.
        r = routine("22:30", before("bedtime", 0), thu="00:30")
        p = night_plan(r, date(2011, 12, 29), APIA)
        assert p is not None
        assert p.bedtime == local(APIA, 2011, 12, 31, 0, 30)
        assert p.bedtime.astimezone(UTC) == utc(2011, 12, 30, 10, 30)

    def test_upcoming_jumps_over_the_missing_night(self) -> None:
        r = routine("22:30", before("bedtime", 0))
        found = upcoming(r, APIA, local(APIA, 2011, 12, 29, 12, 0), 3)
        assert [o.night for o in found] == [date(2011, 12, 29), date(2011, 12, 31), date(2012, 1, 1)]
        assert [o.at.astimezone(APIA).strftime("%Y-%m-%d %H:%M") for o in found] == [
            "2011-12-29 22:30",
            "2011-12-31 22:30",
            "2012-01-01 22:30",
        ]


# --- routine rules -----------------------------------------------------------------------------


class TestRoutineRules:
    def test_saturday_after_midnight_bedtime_falls_on_sunday(self) -> None:
        r = routine("22:30", before("bedtime", 0), before("wind-down", 60), sat="00:30")
        p = night_plan(r, date(2026, 11, 28), BERLIN)  # a Saturday
        assert p is not None
        assert p.bedtime == local(BERLIN, 2026, 11, 29, 0, 30)
        assert p.bedtime.strftime("%a") == "Sun"
        assert times_of(p)["wind-down"].astimezone(BERLIN) == local(BERLIN, 2026, 11, 28, 23, 30)

    def test_per_weekday_bedtimes(self) -> None:
        r = routine("22:00", before("bedtime", 0), fri="23:30", sun="21:45")
        got = {
            night.strftime("%a"): plan.bedtime_of(r, night, BERLIN).at.strftime("%H:%M")
            for night in (date(2026, 11, 23) + timedelta(days=k) for k in range(7))
        }
        assert got == {
            "Mon": "22:00",
            "Tue": "22:00",
            "Wed": "22:00",
            "Thu": "22:00",
            "Fri": "23:30",
            "Sat": "22:00",
            "Sun": "21:45",
        }

    def test_days_limits_the_evenings(self) -> None:
        screens = at("screens-off", "22:00", days=frozenset({0, 1, 2, 3, 6}))
        r = routine("22:30", screens, before("bedtime", 0))
        found = upcoming(r, BERLIN, local(BERLIN, 2026, 11, 23, 12, 0), 12)  # from Monday
        nights = [o.night.strftime("%a") for o in found if o.reminder.id == "screens-off"]
        assert nights == ["Mon", "Tue", "Wed", "Thu", "Sun"]
        assert len([o for o in found if o.reminder.id == "bedtime"]) == 7

    def test_skip_dates_skip_the_whole_night(self) -> None:
        r = routine("22:30", before("bedtime", 0), before("wind-down", 60), skip=(date(2026, 12, 24),))
        p = night_plan(r, date(2026, 12, 24), BERLIN)
        assert p is not None and p.skipped and all(o.skipped for o in p.occurrences) and not p.active()
        found = upcoming(r, BERLIN, local(BERLIN, 2026, 12, 24, 12, 0), 2)
        assert {o.night for o in found} == {date(2026, 12, 25)}

    def test_night_changes_bedtime_moves_before_reminders_not_at_ones(self) -> None:
        r = routine("22:30", before("wind-down", 60), at("screens-off", "22:00"))
        changes = NightChanges(bedtime=time(23, 30))
        t = times_of(night_plan(r, date(2026, 11, 25), BERLIN, changes))
        assert t["wind-down"].astimezone(BERLIN).time() == time(22, 30)
        assert t["screens-off"].astimezone(BERLIN).time() == time(22, 0)

    def test_night_changes_skip_single_reminders_and_whole_nights(self) -> None:
        r = routine("22:30", before("wind-down", 60), before("bedtime", 0))
        start = local(BERLIN, 2026, 11, 25, 12, 0)
        changes = {
            date(2026, 11, 25): NightChanges(skip=frozenset({"wind-down"})),
            date(2026, 11, 26): NightChanges(skip_all=True),
        }
        found = upcoming(r, BERLIN, start, 3, changes)
        assert [(o.night.day, o.reminder.id) for o in found] == [
            (25, "bedtime"),
            (27, "wind-down"),
            (27, "bedtime"),
        ]
        p = night_plan(r, date(2026, 11, 25), BERLIN, changes[date(2026, 11, 25)])
        assert p is not None and [o.skipped for o in p.occurrences] == [True, False] and not p.skipped

    def test_upcoming_starts_at_or_after_start(self) -> None:
        r = routine("22:30", before("bedtime", 0), before("wind-down", 60))
        start = local(BERLIN, 2026, 11, 25, 22, 30)
        found = upcoming(r, BERLIN, start, 2)
        assert [o.reminder.id for o in found] == ["bedtime", "wind-down"]
        assert found[0].at == start

    def test_no_reminders_no_occurrences(self) -> None:
        assert upcoming(routine("22:30"), BERLIN, utc(2026, 1, 1), 5) == []

    def test_zero_or_negative_count(self) -> None:
        r = routine("22:30", before("bedtime", 0))
        assert upcoming(r, BERLIN, utc(2026, 1, 1), 0) == []
        assert upcoming(r, BERLIN, utc(2026, 1, 1), -3) == []


class TestOccurrence:
    def test_repeats_stop_at_bedtime(self) -> None:
        r = routine("22:30", before("magnesium", 45, repeat=mins(10), repeat_limit=9))
        p = night_plan(r, date(2026, 11, 25), BERLIN)
        assert p is not None
        (o,) = p.occurrences
        assert [t.strftime("%H:%M") for t in o.repeat_times()] == ["21:55", "22:05", "22:15", "22:25"]

    def test_repeat_limit(self) -> None:
        r = routine("22:30", before("magnesium", 45, repeat=mins(10), repeat_limit=2))
        (o,) = night_plan(r, date(2026, 11, 25), BERLIN).occurrences  # type: ignore[union-attr]
        assert len(o.repeat_times()) == 2

    def test_status(self) -> None:
        r = routine("22:30", before("wind-down", 60))
        (o,) = night_plan(r, date(2026, 11, 25), BERLIN).occurrences  # type: ignore[union-attr]
        assert o.status_at(o.at - mins(1)) == "pending"
        assert o.status_at(o.at + timedelta(seconds=30)) == "due"
        assert o.status_at(o.at + mins(30)) == "late"
        assert o.status_at(o.bedtime) == "missed"


# --- properties over random routines, zones and instants --------------------------------------

ZONES = sorted(
    z
    for z in available_timezones()
    if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/"))
)
INTERESTING = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "Pacific/Chatham"]

walls = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45, 59]))
offsets = st.integers(0, 12 * 60).map(mins)


@st.composite
def reminders(draw: st.DrawFn, rid: str) -> Reminder:
    days = draw(st.none() | st.frozensets(st.integers(0, 6), min_size=1))
    if draw(st.booleans()):
        return Reminder(rid, rid, before=draw(offsets), days=days)
    return Reminder(rid, rid, at=draw(walls), days=days)


@st.composite
def routines(draw: st.DrawFn) -> Routine:
    default = draw(walls)
    by_day = tuple(draw(st.none() | walls) or default for _ in range(7))
    n = draw(st.integers(1, 4))
    rems = tuple(draw(reminders(f"r{i}")) for i in range(n))
    return Routine(Bedtimes(by_day), rems)  # type: ignore[arg-type]


zones = st.sampled_from(INTERESTING) | st.sampled_from(ZONES)
# Around the transitions of the interesting zones, and anywhere from 2000 to 2040.
starts = st.sampled_from(
    [utc(2011, 12, 29, 0, 0), utc(2026, 3, 27, 0, 0), utc(2026, 10, 23, 0, 0), utc(2026, 4, 3, 0, 0)]
) | st.datetimes(datetime(2000, 1, 1), datetime(2040, 1, 1)).map(lambda d: d.replace(tzinfo=UTC))

DAYS = 5


def reach_start(night: date, zone: ZoneInfo) -> datetime:
    return plan.night_start(night, zone).astimezone(UTC) - timedelta(hours=12)


def reach_end(night: date, zone: ZoneInfo) -> datetime:
    return plan.night_end(night, zone).astimezone(UTC)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routines(), zones, starts)
def test_properties_of_occurrences(r: Routine, zone_name: str, start: datetime) -> None:
    zone = ZoneInfo(zone_name)
    found = []
    horizon = start + timedelta(days=DAYS)
    for o in occurrences(r, zone, start):
        if o.at.astimezone(UTC) >= horizon:
            break
        found.append(o)
    instants = [o.at.astimezone(UTC) for o in found]
    # Time order, never before start.
    assert instants == sorted(instants)
    assert all(t >= start for t in instants)
    # Each occurrence lies within its night's reach: [noon(D) - 12h, noon(D+1)), in real time
    # (aware datetimes sharing a tzinfo compare and subtract as wall times, hence the UTC).
    for o in found:
        assert reach_start(o.night, zone) <= o.at.astimezone(UTC) < reach_end(o.night, zone), (o.night, o.at)
    # Exactly one per reminder per existing night whose whole reach lies inside [start, horizon).
    by_key: dict[tuple[date, str], int] = {}
    for o in found:
        by_key[o.key] = by_key.get(o.key, 0) + 1
    assert all(n == 1 for n in by_key.values())
    night = night_of(start, zone)
    while reach_end(night, zone) < horizon:
        if plan.night_exists(night, zone) and reach_start(night, zone) >= start:
            expected = {rem.id for rem in r.reminders if rem.runs_on(night.weekday())}
            assert {rid for (n, rid) in by_key if n == night} == expected, night
        night += timedelta(days=1)
    # upcoming() agrees with occurrences().
    assert upcoming(r, zone, start, len(found)) == found


@settings(max_examples=60, deadline=None)
@given(routines(), zones, starts)
def test_night_of_an_occurrence_contains_its_bedtime(r: Routine, zone_name: str, start: datetime) -> None:
    zone = ZoneInfo(zone_name)
    night = night_of(start, zone)
    p = night_plan(r, night, zone)
    assert p is not None
    first, end = plan.night_start(night, zone).astimezone(UTC), reach_end(night, zone)
    assert first <= p.bedtime.astimezone(UTC) < end
    assert first <= start < end


@pytest.mark.parametrize("zone_name", INTERESTING)
def test_every_night_of_a_year_exists_once_in_a_row(zone_name: str) -> None:
    """Nights tile time: each one ends where the next existing one starts."""
    zone = ZoneInfo(zone_name)
    night = date(2011, 1, 1)
    prev_end = None
    while night < date(2013, 1, 1):
        if plan.night_exists(night, zone):
            if prev_end is not None:
                assert plan.night_start(night, zone).astimezone(UTC) == prev_end
            prev_end = reach_end(night, zone)
        night += timedelta(days=1)


def test_status_with_now_in_the_routines_own_zone_counts_real_time() -> None:
    """Bedtime 03:30 CEST on 2026-03-29; 30 real minutes after 01:30 CET is 03:00 CEST, not 02:00."""
    r = routine("03:30", before("early", 120))
    (o,) = night_plan(r, date(2026, 3, 28), BERLIN).occurrences  # type: ignore[union-attr]
    assert o.at.astimezone(BERLIN).time() == time(0, 30)
    # 00:30 CET + 30 s, said in Berlin time: due; 03:00 CEST (1.5h later on the wall, 1.5h real): late.
    assert o.status_at(local(BERLIN, 2026, 3, 29, 0, 30, 30)) == "due"
    assert o.status_at(local(BERLIN, 2026, 3, 29, 3, 0)) == "late"
    assert o.status_at(local(BERLIN, 2026, 3, 29, 3, 30)) == "missed"


def test_status_across_the_fold_in_local_time() -> None:
    """Bedtime "02:30" on 2026-10-24 is the first 02:30 (CEST); the second 02:10 (CET) is after it."""
    r = routine("02:30", before("wind-down", 60))
    (o,) = night_plan(r, date(2026, 10, 24), BERLIN).occurrences  # type: ignore[union-attr]
    second_0210 = local(BERLIN, 2026, 10, 25, 2, 10, fold=1)
    assert o.status_at(second_0210) == "missed"
