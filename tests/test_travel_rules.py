"""A change of zone in the pure core: a blip that comes back before a reminder's time changes
nothing; a trip never loses a reminder silently (each is sent once or logged `missed` once);
across DST nights, the date line and offsets of more than a day (docs/time.md, "A change of zone")."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sundown.core.dispatch import nights
from sundown.core.plan import UTC, night_plan, window
from sundown.core.routine import Bedtimes, Reminder, Routine
from support.travel import CoreEvening

BERLIN, KOLKATA, LONDON = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Europe/London")
KIRITIMATI, HELSINKI, TOKYO = (
    ZoneInfo("Pacific/Kiritimati"),
    ZoneInfo("Europe/Helsinki"),
    ZoneInfo("Asia/Tokyo"),
)

# Zones with DST both ways, half and quarter hours, the date line, and 26 hours apart.
ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "Europe/Helsinki",
    "America/New_York",
    "America/St_Johns",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Asia/Tokyo",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Pacific/Honolulu",
    "Etc/GMT+12",
]
# Evenings of DST changes (US and EU spring and fall, southern spring and fall) and two plain ones.
EVENINGS = [
    date(2026, 3, 7),
    date(2026, 3, 8),
    date(2026, 3, 28),
    date(2026, 3, 29),
    date(2026, 4, 4),
    date(2026, 10, 3),
    date(2026, 10, 24),
    date(2026, 10, 31),
    date(2026, 1, 10),
    date(2026, 7, 15),
]


def routine(bedtime: time = time(22, 30)) -> Routine:
    return Routine(
        Bedtimes.uniform(bedtime),
        (
            Reminder(
                "tea", "Tea", before=timedelta(minutes=45), repeat=timedelta(minutes=10), repeat_limit=2
            ),
            Reminder("screens", "Screens off", at=time(22, 0)),
            Reminder("bedtime", "Bedtime", before=timedelta(0)),
        ),
    )


def evening(zone: ZoneInfo, bedtime: time = time(22, 30), log_days: int = 30, start: datetime | None = None):
    start = start or datetime(2026, 1, 10, 12, 0, tzinfo=zone)
    return CoreEvening(routine(bedtime), zone, log_start=start - timedelta(days=log_days))


def local(zone: ZoneInfo, day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=zone)


def seen(rows) -> list[tuple[str, str, str, str]]:
    """Rows as (time in Berlin, night, reminder, event) for readable asserts."""
    return [
        (r.ts.astimezone(BERLIN).strftime("%d %H:%M:%S"), str(r.night), r.reminder, r.event) for r in rows
    ]


# --- the two cases of the issue -----------------------------------------------------------------

DAY = date(2026, 1, 10)


def test_london_to_kiritimati_half_an_hour_before_a_reminder_logs_it_missed_at_its_london_time() -> None:
    # Kiritimati is 14 h ahead: its plan had tonight's reminders 13 h in the past, beyond the
    # 12-hour horizon, and they were dropped without a row. Now each waits for its London time,
    # then Kiritimati's plan decides: its bedtime passed long ago, so `missed`, with a row.
    ev = evening(LONDON)
    ev.run(local(LONDON, DAY, 12, 0), local(LONDON, DAY, 23, 59), [(local(LONDON, DAY, 21, 15), KIRITIMATI)])
    rows = [
        (r.ts.astimezone(LONDON).strftime("%H:%M"), r.reminder, r.event) for r in ev.rows if r.night == DAY
    ]
    assert rows == [
        ("21:45", "tea", "missed"),
        ("22:00", "screens", "missed"),
        ("22:30", "bedtime", "missed"),
    ]


def test_a_3_second_blip_to_kolkata_2_minutes_before_a_reminder_changes_nothing() -> None:
    plain = evening(BERLIN)
    plain.run(local(BERLIN, DAY, 12, 0), local(BERLIN, DAY + timedelta(days=1), 12, 0))
    blip = evening(BERLIN)
    blip.run(
        local(BERLIN, DAY, 12, 0),
        local(BERLIN, DAY + timedelta(days=1), 12, 0),
        [(local(BERLIN, DAY, 21, 43), KOLKATA), (local(BERLIN, DAY, 21, 43, 3), BERLIN)],
    )
    assert seen(blip.rows) == seen(plain.rows)
    assert [r.event for r in blip.rows] == ["notified"] * 5  # tea (and its 2 repeats), screens, bedtime


def test_during_the_blip_nothing_is_due_and_the_reminder_waits_for_its_time_before() -> None:
    ev = evening(BERLIN)
    now = local(BERLIN, DAY, 21, 43)
    ev.run(local(BERLIN, DAY, 12, 0), now)
    ev.change(KOLKATA, now)
    assert ev.moved == {
        (DAY, "tea"): local(BERLIN, DAY, 21, 45),
        (DAY, "screens"): local(BERLIN, DAY, 22, 0),
        (DAY, "bedtime"): local(BERLIN, DAY, 22, 30),
        # Last night's, past in both zones: what was decided then stands.
        **{(DAY - timedelta(days=1), rid): None for rid in ("tea", "screens", "bedtime")},
    }
    assert ev.tick(now) == local(BERLIN, DAY, 21, 45)  # the next look: tea's Berlin time
    assert ev.rows == []


# --- a change that lasts: the zone in force decides at the reminder's time before ------------------


def test_a_change_that_outlasts_the_reminders_time_is_a_trip_and_its_plan_decides() -> None:
    ev = evening(BERLIN)
    ev.run(
        local(BERLIN, DAY, 12, 0),
        local(BERLIN, DAY, 23, 59),
        [(local(BERLIN, DAY, 21, 43), KOLKATA), (local(BERLIN, DAY, 21, 50), BERLIN)],
    )
    # 21:45 came in Kolkata, where tonight's bedtime had passed: tea is missed, once, for good;
    # back in Berlin at 21:50, screens-off and bedtime come at their Berlin times.
    assert seen(ev.rows) == [
        ("10 21:45:00", "2026-01-10", "tea", "missed"),
        ("10 22:00:00", "2026-01-10", "screens", "notified"),
        ("10 22:30:00", "2026-01-10", "bedtime", "notified"),
    ]


def test_a_reminder_the_new_zone_has_in_the_past_before_its_bedtime_is_sent_late_at_its_time_before() -> None:
    # A reminder 2 h before bedtime; Helsinki is 1 h ahead: at 20:00 Berlin its Helsinki time
    # (20:30 Helsinki = 19:30 Berlin) has passed, its Berlin time (20:30) has not, and at 20:30
    # Berlin Helsinki's bedtime (22:30 = 21:30 Berlin) is still ahead: sent then, late.
    r = Routine(Bedtimes.uniform(time(22, 30)), (Reminder("walk", "Walk", before=timedelta(hours=2)),))
    ev = CoreEvening(r, BERLIN, log_start=local(BERLIN, DAY, 12, 0) - timedelta(days=30))
    ev.run(local(BERLIN, DAY, 12, 0), local(BERLIN, DAY, 23, 0), [(local(BERLIN, DAY, 20, 0), HELSINKI)])
    assert seen(ev.rows) == [("10 20:30:00", "2026-01-10", "walk", "notified")]
    assert ev.rows[0].at == local(HELSINKI, DAY, 20, 30)  # its occurrence in the zone in force


def test_a_chain_of_changes_keeps_the_time_from_before_the_first() -> None:
    # Berlin -> Kolkata -> Tokyo: Tokyo's plan has tea in the past, and so had Kolkata's; it
    # keeps its Berlin time, and the return to Berlin before it changes nothing.
    ev = evening(BERLIN)
    ev.run(
        local(BERLIN, DAY, 12, 0),
        local(BERLIN, DAY, 23, 59),
        [
            (local(BERLIN, DAY, 21, 40), KOLKATA),
            (local(BERLIN, DAY, 21, 41), TOKYO),
            (local(BERLIN, DAY, 21, 42), BERLIN),
        ],
    )
    assert [(r.ts.astimezone(BERLIN).strftime("%H:%M"), r.event) for r in ev.rows if not r.repeat] == [
        ("21:45", "notified"),
        ("22:00", "notified"),
        ("22:30", "notified"),
    ]


def test_a_zone_change_with_a_log_younger_than_the_reminder_keeps_the_log_start_rule() -> None:
    # Nothing planned before the log began is missed: the rule looks at the time the reminder
    # keeps (its London time, after the log began), not at Kiritimati's, before it.
    start = local(LONDON, DAY, 20, 0)
    ev = evening(LONDON, log_days=0, start=start)
    ev.run(start, local(LONDON, DAY, 23, 59), [(local(LONDON, DAY, 21, 15), KIRITIMATI)])
    assert [r.event for r in ev.rows if r.night == DAY] == ["missed"] * 3


def test_more_than_a_day_apart_the_night_is_still_looked_at() -> None:
    # Etc/GMT+12 -> Kiritimati is 26 h. With a bedtime of 10:30 (the morning after), at 10:00
    # the old night's bedtime is still ahead while Kiritimati is past noon of the day after:
    # that night is outside Kiritimati's window of nights, and would be dropped unseen.
    far = ZoneInfo("Etc/GMT+12")
    now = local(far, DAY + timedelta(days=1), 10, 0)
    assert DAY not in window(now, KIRITIMATI)
    ev = evening(far, bedtime=time(10, 30), start=local(far, DAY, 12, 0))
    ev.run(local(far, DAY, 12, 0), now + timedelta(hours=2), [(now, KIRITIMATI)])
    assert [(r.reminder, r.event) for r in ev.rows if r.night == DAY and not r.repeat] == [
        ("screens", "notified"),
        ("tea", "notified"),
        ("bedtime", "missed"),
    ]
    assert ev.rows[-1].ts == local(far, DAY + timedelta(days=1), 10, 30)
    assert nights(now, KIRITIMATI, {(DAY, "bedtime"): now})[0] == DAY


def test_a_reminder_the_new_zone_puts_later_simply_follows_it() -> None:
    ev = evening(BERLIN)
    ev.run(local(BERLIN, DAY, 12, 0), local(BERLIN, DAY + timedelta(days=1), 11, 0),
           [(local(BERLIN, DAY, 21, 43), ZoneInfo("America/New_York"))])  # fmt: skip
    ny = ZoneInfo("America/New_York")
    assert [r.ts.astimezone(ny).strftime("%H:%M") for r in ev.rows if r.night == DAY and not r.repeat] == [
        "21:45",
        "22:00",
        "22:30",
    ]
    assert not any(ev.moved.values())  # nothing keeps a time: all follow New York


# --- properties: any two zones, DST nights, any moment of the evening ------------------------------


# A trip from `home` to `away` at `minutes` past noon of `evening_of`, on a routine at `bedtime`.
A_TRIP = {
    "home": st.sampled_from(ZONES),
    "away": st.sampled_from(ZONES),
    "evening_of": st.sampled_from(EVENINGS),
    "minutes": st.integers(0, 24 * 60 - 1),
    "bedtime": st.sampled_from([time(22, 30), time(23, 45), time(1, 30), time(2, 30)]),
}


def _times(ev: CoreEvening, zone: ZoneInfo, nights: list[date]) -> list[datetime]:
    """Every reminder instant of `nights` in `zone`, repeats included, in UTC."""
    found = []
    for night in nights:
        plan = night_plan(ev.routine, night, zone)
        for o in plan.occurrences if plan else ():
            found.extend(t.astimezone(UTC) for t in (o.at, *o.repeat_times()))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**A_TRIP, seconds=st.integers(1, 10))
def test_a_blip_that_comes_back_before_a_reminders_time_changes_nothing(
    home: str, away: str, evening_of: date, minutes: int, seconds: int, bedtime: time
) -> None:
    a, b = ZoneInfo(home), ZoneInfo(away)
    start = local(a, evening_of, 12, 0)
    end = start + timedelta(days=2)
    t = (start + timedelta(minutes=minutes)).astimezone(UTC)
    back = t + timedelta(seconds=seconds)
    plain = CoreEvening(routine(bedtime), a, log_start=start - timedelta(days=30))
    plain.run(start, end)
    nights = sorted(set(window(t, a)) | set(window(t, b)))
    # Documented exceptions: a reminder whose time (in either zone) falls inside the blip.
    assume(not any(t <= x <= back + timedelta(seconds=1) for x in _times(plain, b, nights)))
    assume(not any(t <= x <= back + timedelta(seconds=1) for x in _times(plain, a, nights)))
    blip = CoreEvening(routine(bedtime), a, log_start=start - timedelta(days=30))
    blip.run(start, end, [(t, b), (back, a)])
    assert seen(blip.rows) == seen(plain.rows)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**A_TRIP)
def test_a_trip_sends_each_reminder_once_or_logs_it_missed_once_never_silently(
    home: str, away: str, evening_of: date, minutes: int, bedtime: time
) -> None:
    a, b = ZoneInfo(home), ZoneInfo(away)
    start = local(a, evening_of, 12, 0)
    t = start + timedelta(minutes=minutes)
    end = start + timedelta(days=3)
    ev = CoreEvening(routine(bedtime), a, log_start=start - timedelta(days=30))
    ev.run(start, end, [(t, b)])
    firsts = ev.first_rows()
    for key, rows in firsts.items():
        assert len(rows) == 1, f"{key}: {seen(rows)}"  # never twice, never sent and missed
    # Every reminder of the nights the trip went through has its row: none lost silently.
    last = min(night_plan_night(end - timedelta(days=1), a), night_plan_night(end - timedelta(days=1), b))
    for night in _dates(evening_of, last):
        if night_plan(ev.routine, night, a) is None or night_plan(ev.routine, night, b) is None:
            continue
        for r in ev.routine.reminders:
            assert (night, r.id) in firsts, f"{night} {r.id} lost: {seen(ev.rows)}"


def night_plan_night(instant: datetime, zone: ZoneInfo) -> date:
    from sundown.core.plan import night_of

    return night_of(instant, zone) - timedelta(days=1)


def _dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]
