"""The night follows the morning (docs/morning.md): bedtimes from wake times, the calendar's first
event and the phone's alarm, with explicit instants in named zones. Pure: core.plan, core.morning.

Every expected instant is worked out by hand in the comment beside it (offsets of the day, the
subtraction in UTC), never by calling the code under test.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sundown.core import morning as rules
from sundown.core.morning import CalendarEvent, alarm_night, alarm_rows, calendar_morning, first_event
from sundown.core.plan import (
    NO_CHANGES,
    Morning,
    NightChanges,
    bedtime_of,
    night_plan,
    upcoming,
)
from sundown.core.routine import WEEKDAYS, Bedtimes, Calendar, Reminder, Routine
from support.instants import utc

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
APIA = ZoneInfo("Pacific/Apia")
TOKYO = ZoneInfo("Asia/Tokyo")
H = timedelta(hours=1)


def hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


CALENDAR = Calendar("/home/ana/work.ics")


def woken(
    default: str | None = "07:00",
    sleep: timedelta = 8 * H,
    bedtime: dict[str, str] | None = None,
    reminders: tuple[Reminder, ...] = (),
    **mornings: str,
) -> Routine:
    """A routine with [wake] (mornings by day), optionally [bedtime] weekday keys, and a [calendar]."""
    wake = tuple(hm(mornings[d]) if d in mornings else hm(default) if default else None for d in WEEKDAYS)
    bed = bedtime or {}
    by_day = tuple(hm(bed[d]) if d in bed else None for d in WEEKDAYS)
    return Routine(Bedtimes(by_day, wake, sleep), reminders, calendar=CALENDAR)


def bed(r: Routine, night: date, zone: ZoneInfo, changes: NightChanges = NO_CHANGES) -> tuple[datetime, str]:
    b = bedtime_of(r, night, zone, changes)
    return b.at.astimezone(UTC), b.source


# --- [wake] and sleep -----------------------------------------------------------------------------


class TestWake:
    def test_bedtime_is_the_next_mornings_wake_less_sleep(self) -> None:
        # Wed 2026-11-25, CET (+1): wake Thu 07:00 = 06:00 UTC; less 8h = 22:00 UTC (23:00 CET).
        assert bed(woken(), date(2026, 11, 25), BERLIN) == (utc(2026, 11, 25, 22, 0), "wake")

    def test_weekday_keys_name_the_morning(self) -> None:
        r = woken(sat="09:00")
        # Friday evening wakes on Saturday 09:00 CET = 08:00 UTC; less 8h: 00:00 UTC Sat (01:00 CET).
        assert bed(r, date(2026, 11, 27), BERLIN) == (utc(2026, 11, 28, 0, 0), "wake")
        # Saturday evening wakes on Sunday: the default 07:00 = 06:00 UTC; less 8h: 22:00 UTC Sat.
        assert bed(r, date(2026, 11, 28), BERLIN) == (utc(2026, 11, 28, 22, 0), "wake")

    def test_a_bedtime_weekday_key_wins_over_wake(self) -> None:
        r = woken(sat="09:00", bedtime={"fri": "23:30"})
        # Friday: its [bedtime] key, 23:30 CET = 22:30 UTC, not Saturday's wake time.
        assert bed(r, date(2026, 11, 27), BERLIN) == (utc(2026, 11, 27, 22, 30), "routine")

    def test_sleep_is_real_time_across_spring_forward(self) -> None:
        # Berlin springs forward at 02:00 on Sun 2026-03-29. Wake 07:00 CEST (+2) = 05:00 UTC;
        # less 8h = 21:00 UTC Sat = 22:00 CET: an hour earlier on the wall than other nights.
        assert bed(woken(), date(2026, 3, 28), BERLIN) == (utc(2026, 3, 28, 21, 0), "wake")

    def test_sleep_is_real_time_across_fall_back(self) -> None:
        # Berlin falls back at 03:00 on Sun 2026-10-25. Wake 07:00 CET (+1) = 06:00 UTC;
        # less 8h = 22:00 UTC Sat = 00:00 CEST Sunday: an hour later on the wall.
        assert bed(woken(), date(2026, 10, 24), BERLIN) == (utc(2026, 10, 24, 22, 0), "wake")

    def test_a_wake_time_in_the_gap_moves_forward(self) -> None:
        # 02:30 does not exist on 2026-03-29 in Berlin: it is 03:30 CEST = 01:30 UTC; less 8h
        # = 17:30 UTC Saturday.
        r = woken("02:30")
        assert bed(r, date(2026, 3, 28), BERLIN) == (utc(2026, 3, 28, 17, 30), "wake")

    def test_a_wake_time_in_the_fold_means_the_first(self) -> None:
        # 02:30 happens twice on 2026-10-25: first in CEST (+2) = 00:30 UTC; less 8h = 16:30 UTC.
        r = woken("02:30")
        assert bed(r, date(2026, 10, 24), BERLIN) == (utc(2026, 10, 24, 16, 30), "wake")

    def test_new_york_spring_forward(self) -> None:
        # New York springs forward on Sun 2026-03-08: wake 07:00 EDT (-4) = 11:00 UTC; less 8h
        # = 03:00 UTC = 22:00 EST (-5) Saturday.
        assert NEW_YORK.utcoffset(datetime(2026, 3, 8, 7)) == timedelta(hours=-4)
        assert bed(woken(), date(2026, 3, 7), NEW_YORK) == (utc(2026, 3, 8, 3, 0), "wake")

    def test_lord_howe_half_hour_shift(self) -> None:
        # Lord Howe moves from +10:30 to +11 at 02:00 on Sun 2026-10-04. Wake 07:00 (+11)
        # = 20:00 UTC Sat; less 8h = 12:00 UTC = 22:30 (+10:30): half an hour earlier on the wall.
        assert LORD_HOWE.utcoffset(datetime(2026, 10, 3, 22)) == timedelta(hours=10, minutes=30)
        assert LORD_HOWE.utcoffset(datetime(2026, 10, 4, 7)) == timedelta(hours=11)
        assert bed(woken(), date(2026, 10, 3), LORD_HOWE) == (utc(2026, 10, 3, 12, 0), "wake")

    def test_apia_skipped_morning(self) -> None:
        # Apia skipped 2011-12-30 (-10 until 23:59:59 on the 29th, then +14). The night of the
        # 29th wakes on the missing 30th: 07:00 there, read with the offset before the jump
        # (-10), is 17:00 UTC on the 30th, 07:00 on the 31st (+14); less 8h = 09:00 UTC on the
        # 30th, still 23:00 on the 29th (-10).
        assert bed(woken(), date(2011, 12, 29), APIA) == (utc(2011, 12, 30, 9, 0), "wake")
        assert night_plan(woken(), date(2011, 12, 30), APIA) is None

    def test_travel_plans_in_the_zone_in_use(self) -> None:
        # The same routine in New York (EST, -5 in November): 07:00 = 12:00 UTC; less 8h = 04:00 UTC.
        assert bed(woken(), date(2026, 11, 25), NEW_YORK) == (utc(2026, 11, 26, 4, 0), "wake")

    def test_a_before_of_twelve_hours_from_a_wake_bedtime(self) -> None:
        early = Reminder("early", "Early", before=12 * H)
        r = woken(reminders=(early,))
        plan = night_plan(r, date(2026, 11, 25), BERLIN)
        assert plan is not None
        # Bedtime 22:00 UTC; 12h before = 10:00 UTC = 11:00 CET on the 25th (before the night's
        # noon, as a 12h `before` of a fixed 23:00 bedtime would be).
        assert plan.occurrences[0].at.astimezone(UTC) == utc(2026, 11, 25, 10, 0)
        found = upcoming(r, BERLIN, utc(2026, 11, 25, 0, 0), 2)
        assert [o.at.astimezone(UTC) for o in found] == [utc(2026, 11, 25, 10, 0), utc(2026, 11, 26, 10, 0)]

    def test_a_bedtime_before_the_nights_noon_is_kept_in_the_night(self) -> None:
        # Wake 04:00 with 16h of sleep: on the spring-forward night 04:00 CEST = 02:00 UTC; less
        # 16h = 10:00 UTC Saturday = 11:00 CET, before the night's start at 12:00 CET (11:00 UTC).
        r = woken("04:00", sleep=16 * H)
        assert bed(r, date(2026, 3, 28), BERLIN) == (utc(2026, 3, 28, 11, 0), "wake")

    def test_plans_and_occurrences_carry_the_source(self) -> None:
        r = woken(reminders=(Reminder("tea", "Tea", before=30 * timedelta(minutes=1)),))
        plan = night_plan(r, date(2026, 11, 25), BERLIN)
        assert plan is not None and plan.source == "wake"
        assert plan.occurrences[0].bedtime_source == "wake"


# --- tonight, calendar and alarm ------------------------------------------------------------------


def changes(**kw: object) -> NightChanges:
    return NightChanges(**kw)  # type: ignore[arg-type]


class TestSources:
    night = date(2026, 11, 25)  # Wed, CET; the routine's bedtime 22:00 UTC (wake 07:00 CET)

    def test_tonight_wake_is_the_wake_time_twin_of_tonight_bedtime(self) -> None:
        # 06:10 CET = 05:10 UTC; less 8h = 21:10 UTC.
        assert bed(woken(), self.night, BERLIN, changes(wake=hm("06:10"))) == (
            utc(2026, 11, 25, 21, 10),
            "tonight",
        )

    def test_calendar_moves_bedtime_only_earlier(self) -> None:
        early = Morning(utc(2026, 11, 26, 5, 15))  # 06:15 CET: less 8h = 21:15 UTC
        late = Morning(utc(2026, 11, 26, 8, 0))
        assert bed(woken(), self.night, BERLIN, changes(calendar=early)) == (
            utc(2026, 11, 25, 21, 15),
            "calendar",
        )
        assert bed(woken(), self.night, BERLIN, changes(calendar=late)) == (utc(2026, 11, 25, 22, 0), "wake")

    def test_calendar_also_moves_a_fixed_bedtime(self) -> None:
        r = Routine(Bedtimes.uniform(hm("23:30")), (), calendar=CALENDAR)
        early = Morning(utc(2026, 11, 26, 5, 15))
        # The routine's 23:30 CET (22:30 UTC) is later than 05:15 - 8h = 21:15 UTC.
        assert bed(r, self.night, BERLIN, changes(calendar=early)) == (utc(2026, 11, 25, 21, 15), "calendar")

    def test_the_earliest_of_calendar_and_alarm_wins(self) -> None:
        cal = Morning(utc(2026, 11, 26, 5, 15))
        alarm = Morning(utc(2026, 11, 26, 5, 0))
        assert bed(woken(), self.night, BERLIN, changes(calendar=cal, alarm=alarm)) == (
            utc(2026, 11, 25, 21, 0),
            "alarm",
        )
        later_alarm = Morning(utc(2026, 11, 26, 5, 30))
        assert bed(woken(), self.night, BERLIN, changes(calendar=cal, alarm=later_alarm))[1] == "calendar"

    def test_an_alarm_later_than_the_routine_never_moves_bedtime_later(self) -> None:
        alarm = Morning(utc(2026, 11, 26, 9, 0))
        assert bed(woken(), self.night, BERLIN, changes(alarm=alarm)) == (utc(2026, 11, 25, 22, 0), "wake")

    def test_the_calendars_word_counts_only_while_a_calendar_is_configured(self) -> None:
        early = Morning(utc(2026, 11, 26, 5, 15))
        r = replace(woken(), calendar=None)  # [calendar] removed from the config since
        assert bed(r, self.night, BERLIN, changes(calendar=early)) == (utc(2026, 11, 25, 22, 0), "wake")

    def test_tonight_wins_over_the_calendar(self) -> None:
        cal = Morning(utc(2026, 11, 26, 4, 0))
        c = changes(bedtime=hm("23:30"), calendar=cal)
        assert bed(woken(), self.night, BERLIN, c) == (utc(2026, 11, 25, 22, 30), "tonight")

    def test_reminders_before_bedtime_move_with_the_calendar(self) -> None:
        tea = Reminder("tea", "Tea", before=timedelta(minutes=45))
        fixed = Reminder("screens", "Screens", at=hm("21:00"))
        r = woken(reminders=(tea, fixed))
        plan = night_plan(r, self.night, BERLIN, changes(calendar=Morning(utc(2026, 11, 26, 5, 15))))
        assert plan is not None and plan.source == "calendar"
        at = {o.reminder.id: o.at.astimezone(UTC) for o in plan.occurrences}
        # 21:15 UTC less 45m = 20:30 UTC; an `at` time stays at 21:00 CET = 20:00 UTC.
        assert at == {"tea": utc(2026, 11, 25, 20, 30), "screens": utc(2026, 11, 25, 20, 0)}

    def test_why_names_the_event_and_the_bedtime(self) -> None:
        starts = datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN)
        m = Morning(datetime(2026, 11, 26, 6, 15, tzinfo=BERLIN), "Flight", starts)
        plan = night_plan(woken(), self.night, BERLIN, changes(calendar=m))
        assert plan is not None
        assert rules.why(plan, BERLIN) == "Tomorrow starts 07:30 (Flight): bedtime 22:15"
        alarm = Morning(datetime(2026, 11, 26, 6, 10, tzinfo=BERLIN))
        plan = night_plan(woken(), self.night, BERLIN, changes(alarm=alarm))
        assert plan is not None
        assert rules.why(plan, BERLIN) == "Alarm at 06:10 tomorrow: bedtime 22:10"
        plain = night_plan(woken(), self.night, BERLIN)
        assert plain is not None and rules.why(plain, BERLIN) is None


# --- the calendar's choice ------------------------------------------------------------------------


def event(title: str, start: datetime | date, **kw: bool) -> CalendarEvent:
    return CalendarEvent(title, start, **kw)


class TestFirstEvent:
    night = date(2026, 11, 25)
    routine = woken()  # bedtime 23:00 CET, so the morning is 00:00-12:00 CET on the 26th

    def pick(self, *events: CalendarEvent, zone: ZoneInfo = BERLIN) -> str | None:
        found = first_event(events, self.routine, self.night, zone)
        return found[0].title if found else None

    def test_the_earliest_timed_event_of_the_morning(self) -> None:
        assert (
            self.pick(
                event("Standup", datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN)),
                event("Flight", datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN)),
            )
            == "Flight"
        )

    def test_all_day_cancelled_and_free_events_ask_nothing(self) -> None:
        assert (
            self.pick(
                event("Holiday", date(2026, 11, 26)),
                event("Cancelled", datetime(2026, 11, 26, 6, 0, tzinfo=BERLIN), cancelled=True),
                event("Free", datetime(2026, 11, 26, 6, 30, tzinfo=BERLIN), transparent=True),
                event("Dentist", datetime(2026, 11, 26, 8, 0, tzinfo=BERLIN)),
            )
            == "Dentist"
        )

    def test_the_noon_cut_off_and_the_evening_before(self) -> None:
        assert self.pick(event("Lunch", datetime(2026, 11, 26, 12, 0, tzinfo=BERLIN))) is None
        assert self.pick(event("Late", datetime(2026, 11, 26, 11, 59, tzinfo=BERLIN))) == "Late"
        assert self.pick(event("Party", datetime(2026, 11, 25, 23, 30, tzinfo=BERLIN))) is None

    def test_a_floating_time_is_in_the_routines_zone(self) -> None:
        # 07:00 floating is 07:00 in New York (12:00 UTC), in the morning window there.
        found = first_event([event("Gym", datetime(2026, 11, 26, 7, 0))], self.routine, self.night, NEW_YORK)
        assert found is not None and found[1].astimezone(UTC) == utc(2026, 11, 26, 12, 0)

    def test_an_event_in_another_zone_is_at_its_own_instant(self) -> None:
        # 15:30 in Tokyo (+9) = 06:30 UTC = 07:30 CET: inside Berlin's morning.
        call = event("Tokyo call", datetime(2026, 11, 26, 15, 30, tzinfo=TOKYO))
        found = first_event([call], self.routine, self.night, BERLIN)
        assert found is not None and found[1].astimezone(UTC) == utc(2026, 11, 26, 6, 30)
        # 20:00 in Tokyo = 11:00 UTC = 12:00 CET: the cut-off.
        assert self.pick(event("Too late", datetime(2026, 11, 26, 20, 0, tzinfo=TOKYO))) is None

    def test_an_after_midnight_sleeper_s_evening_is_not_the_morning(self) -> None:
        r = Routine(Bedtimes.uniform(hm("01:00")), ())
        party = event("Party", datetime(2026, 11, 26, 0, 30, tzinfo=BERLIN))
        assert first_event([party], r, self.night, BERLIN) is None

    def test_wake_is_the_start_less_prepare(self) -> None:
        flight = event("Flight", datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN))
        m = calendar_morning([flight], self.routine, self.night, BERLIN, timedelta(hours=1, minutes=15))
        # 07:30 CET = 06:30 UTC; less 1h15m = 05:15 UTC.
        assert m is not None and m.wake.astimezone(UTC) == utc(2026, 11, 26, 5, 15)
        assert m.event == "Flight" and m.starts is not None

    def test_titles_are_one_short_line(self) -> None:
        assert rules.title("Board\nmeeting\x1b[31m ") == "Board meeting [31m"
        assert len(rules.title("x" * 500)) == rules.TITLE_MAX
        assert rules.title("") == "an event"

    def test_replans_only_when_the_plan_changes(self) -> None:
        early = Morning(utc(2026, 11, 26, 5, 15), "Flight")
        late = Morning(utc(2026, 11, 26, 9, 0), "Standup")
        assert rules.replans(self.routine, self.night, BERLIN, NO_CHANGES, early)
        assert not rules.replans(self.routine, self.night, BERLIN, NO_CHANGES, late)
        was = changes(calendar=early)
        assert not rules.replans(self.routine, self.night, BERLIN, was, early)
        assert rules.replans(self.routine, self.night, BERLIN, was, late)  # the flight went away
        assert rules.replans(self.routine, self.night, BERLIN, was, None)
        chosen = changes(bedtime=hm("23:30"))
        assert not rules.replans(self.routine, self.night, BERLIN, chosen, early)  # tonight wins


# --- the phone's alarm ----------------------------------------------------------------------------


class TestAlarm:
    now = utc(2026, 11, 25, 9, 0)  # Wednesday morning, CET

    def test_an_alarm_wakes_from_the_evening_before_its_day(self) -> None:
        # Thu 06:10 CET: the night of Wednesday.
        assert alarm_night(utc(2026, 11, 26, 5, 10), self.now, BERLIN) == date(2026, 11, 25)
        # Mon 06:10: Sunday's night, five days ahead.
        assert alarm_night(utc(2026, 11, 30, 5, 10), self.now, BERLIN) == date(2026, 11, 29)

    def test_past_and_far_alarms_plan_nothing(self) -> None:
        assert alarm_night(utc(2026, 11, 25, 5, 0), self.now, BERLIN) is None
        assert alarm_night(utc(2026, 12, 9, 5, 0), self.now, BERLIN) is None

    def test_apia_alarm_on_the_day_after_the_skipped_one(self) -> None:
        # 07:00 on 2011-12-31 (+14) = 17:00 UTC on the 30th; the evening before, the 30th, never
        # existed: the night of the 29th.
        assert alarm_night(utc(2011, 12, 30, 17, 0), utc(2011, 12, 29, 20, 0), APIA) == date(2011, 12, 29)

    def test_the_next_alarm_clears_older_ones_before_it(self) -> None:
        wed, thu, fri = date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27)
        old = Morning(utc(2026, 11, 26, 5, 0))
        now_changes = {wed: changes(alarm=old), thu: NO_CHANGES, fri: NO_CHANGES}
        # The phone's next alarm is now Saturday 08:00 CET (07:00 UTC): Friday's night; the
        # Thursday-morning alarm of Wednesday's night is gone.
        rows = alarm_rows(utc(2026, 11, 28, 7, 0), self.now, BERLIN, wed, now_changes)
        assert rows == [(wed, None), (fri, Morning(utc(2026, 11, 28, 7, 0)))]
        # No alarm at all: every alarm from tonight on is cleared.
        assert alarm_rows(None, self.now, BERLIN, wed, now_changes) == [(wed, None)]
        # The same alarm again: nothing to record.
        assert alarm_rows(utc(2026, 11, 26, 5, 0), self.now, BERLIN, wed, now_changes) == []


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK, LORD_HOWE, APIA])
def test_every_night_of_a_year_has_its_bedtime_inside_the_night(zone: ZoneInfo) -> None:
    """Across every DST change of a year (and Apia's lost day), wake - sleep stays in its night."""
    from sundown.core.plan import night_end, night_start

    r = woken("06:30", sleep=7 * H + timedelta(minutes=30))
    night = date(2011, 1, 1) if zone is APIA else date(2026, 1, 1)
    for _ in range(366):
        plan = night_plan(r, night, zone)
        if plan is not None:
            b = plan.bedtime.astimezone(UTC)
            assert night_start(night, zone) <= b < night_end(night, zone)
            wake = datetime.combine(night + timedelta(days=1), hm("06:30")).replace(tzinfo=zone)
            if wake.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wake.replace(tzinfo=None):
                assert wake.astimezone(UTC) - b == 7 * H + timedelta(minutes=30)
        night += timedelta(days=1)


ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia", "Asia/Kolkata", "UTC"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    wake_min=st.integers(0, 24 * 60 - 1),
    sleep_min=st.integers(1, 16 * 60),
    zone_name=st.sampled_from(ZONES),
    night=st.dates(date(2011, 1, 1), date(2030, 12, 31)),
    early_min=st.integers(0, 24 * 60),
)
def test_any_wake_sleep_and_morning_keep_the_bedtime_inside_its_night(
    wake_min: int, sleep_min: int, zone_name: str, night: date, early_min: int
) -> None:
    """Whatever the wake time, sleep, zone, night, calendar or alarm: one bedtime, inside its night,
    never later than the routine's, and every `before` reminder at its distance from it."""
    from sundown.core.plan import night_end, night_start

    zone = ZoneInfo(zone_name)
    wake = time(wake_min // 60, wake_min % 60)
    if not -12 * 60 <= wake_min - sleep_min < 12 * 60:
        return  # the config refuses it (wake - sleep outside the night)
    tea = Reminder("tea", "Tea", before=timedelta(minutes=45))
    r = Routine(Bedtimes.from_wake(wake, timedelta(minutes=sleep_min)), (tea,), calendar=CALENDAR)
    base = night_plan(r, night, zone)
    if base is None:
        return  # Apia's skipped day
    morning = Morning(night_start(night, zone) + timedelta(hours=12) + timedelta(minutes=early_min))
    for c in (NO_CHANGES, changes(calendar=morning), changes(alarm=morning)):
        plan = night_plan(r, night, zone, c)
        assert plan is not None
        b = plan.bedtime.astimezone(UTC)
        assert night_start(night, zone) <= b < night_end(night, zone)
        assert b <= base.bedtime.astimezone(UTC)
        assert plan.occurrences[0].at.astimezone(UTC) == b - timedelta(minutes=45)
