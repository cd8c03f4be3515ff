"""What tomorrow morning asks of tonight: the calendar's first event, the phone's alarm. Pure.

The calendar adapter (`sundown.calendar`) reads and expands the calendar into
`CalendarEvent`s; the push link hands over the phone's next alarm. Here they become
a `plan.Morning` for one night (docs/morning.md), and the daemon is told whether that
changes the night's plan, so it logs the change (`replanned`) once and only then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, tzinfo

from sundown.core.plan import (
    NO_CHANGES,
    NOON,
    ONE_DAY,
    UTC,
    Morning,
    NightChanges,
    NightPlan,
    bedtime_of,
    night_exists,
    resolve,
    routine_bedtime,
)
from sundown.core.routine import Routine

# How far ahead the phone's next alarm is taken: a week and a day covers "the next alarm is
# Monday's" on a Friday; anything later is no night sundown plans yet.
ALARM_HORIZON = timedelta(days=8)
TITLE_MAX = 60


@dataclass(frozen=True)
class CalendarEvent:
    """One occurrence of a calendar event, as the adapter read it.

    `start` is an aware datetime (UTC or the event's own zone), a naive one (a floating
    time: the routine's zone) or a date (an all-day event, which never sets a wake time).
    """

    title: str
    start: datetime | date
    cancelled: bool = False
    transparent: bool = False  # TRANSP:TRANSPARENT: shown as free

    @property
    def timed(self) -> bool:
        return isinstance(self.start, datetime)

    def instant(self, zone: tzinfo) -> datetime | None:
        """When it starts; a floating time is resolved in `zone` by the gap and fold rules."""
        start = self.start
        if not isinstance(start, datetime):
            return None
        if start.tzinfo is None:
            return resolve(start.date(), start.time(), zone)
        return start


def morning_window(routine: Routine, night: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """Where the night's morning events are looked for: from midnight (or the routine's
    bedtime, if later: a 00:30 event is still the evening of someone who goes to bed at 01:00)
    to 12:00, the end of the night."""
    midnight = resolve(night + ONE_DAY, time(0, 0), zone).astimezone(UTC)
    bed = routine_bedtime(routine, night, zone).at.astimezone(UTC)
    return max(midnight, bed), resolve(night + ONE_DAY, NOON, zone).astimezone(UTC)


def first_event(
    events: Iterable[CalendarEvent], routine: Routine, night: date, zone: tzinfo
) -> tuple[CalendarEvent, datetime] | None:
    """The morning's first timed event that asks for you: not all-day, not cancelled, not free."""
    start, end = morning_window(routine, night, zone)
    best: tuple[datetime, str, CalendarEvent] | None = None
    for e in events:
        if e.cancelled or e.transparent:
            continue
        at = e.instant(zone)
        if at is None:
            continue
        at_utc = at.astimezone(UTC)
        if not start <= at_utc < end:
            continue
        if best is None or (at_utc, e.title) < best[:2]:
            best = (at_utc, e.title, e)
    return (best[2], best[0]) if best else None


def calendar_morning(
    events: Iterable[CalendarEvent], routine: Routine, night: date, zone: tzinfo, prepare: timedelta
) -> Morning | None:
    """The calendar's word for the night: wake at the first event's start less `prepare`."""
    found = first_event(events, routine, night, zone)
    if found is None:
        return None
    event, at = found
    return Morning((at.astimezone(UTC) - prepare).astimezone(zone), title(event.title), at.astimezone(zone))


def title(text: str) -> str:
    """An event's title as sundown shows it: one line, no control characters, not too long."""
    flat = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]+", " ", text)
    flat = " ".join(flat.split()) or "an event"
    return flat if len(flat) <= TITLE_MAX else flat[: TITLE_MAX - 1].rstrip() + "…"


def replans(
    routine: Routine, night: date, zone: tzinfo, changes: NightChanges, morning: Morning | None
) -> bool:
    """Whether the calendar's word `morning` changes the night's plan from what the log says.

    A word that moves nothing (a 10:00 meeting after a 07:00 wake) is not logged; one that
    stops moving the bedtime (the flight was removed) is, so every command sees it.
    """
    if changes.calendar == morning:
        return False
    return bedtime_of(routine, night, zone, changes) != bedtime_of(
        routine, night, zone, replace(changes, calendar=morning)
    )


def alarm_night(alarm: datetime, now: datetime, zone: tzinfo) -> date | None:
    """The night an alarm wakes you from (the evening before its local date), or None when
    it is past or further ahead than sundown plans."""
    if not now.astimezone(UTC) < alarm.astimezone(UTC) <= now.astimezone(UTC) + ALARM_HORIZON:
        return None
    night = alarm.astimezone(zone).date() - ONE_DAY
    while not night_exists(night, zone):  # Pacific/Apia 2011-12-30: the night before it
        night -= ONE_DAY
    return night


def alarm_rows(
    alarm: datetime | None,
    now: datetime,
    zone: tzinfo,
    tonight: date,
    changes: Mapping[date, NightChanges],
) -> list[tuple[date, Morning | None]]:
    """The rows that record the phone's next alarm: its own night's wake, and a clearing row
    for each night before it that still has an older alarm (the phone's NEXT alarm is this
    one, so no alarm comes earlier). `alarm` None: no alarm is set any more.

    `changes` holds the nights from `tonight` on; `tonight` is the first night it may change.
    """
    night = alarm_night(alarm, now, zone) if alarm is not None else None
    rows: list[tuple[date, Morning | None]] = []
    for n in sorted(changes):
        if n >= tonight and (night is None or n < night) and changes[n].alarm is not None:
            rows.append((n, None))
    if night is not None and night >= tonight:
        assert alarm is not None
        wake = Morning(alarm.astimezone(zone))
        if changes.get(night, NO_CHANGES).alarm != wake:
            rows.append((night, wake))
    return rows


def why(plan: NightPlan, zone: tzinfo) -> str | None:
    """The line the night's first reminder carries when the morning moved its bedtime."""
    morning = plan.morning
    if morning is None:
        return None
    bed = plan.bedtime.astimezone(zone).strftime("%H:%M")
    if plan.source == "calendar" and morning.starts is not None:
        return f"Tomorrow starts {morning.starts.astimezone(zone):%H:%M} ({morning.event}): bedtime {bed}"
    if plan.source == "alarm":
        return f"Alarm at {morning.wake.astimezone(zone):%H:%M} tomorrow: bedtime {bed}"
    return None
