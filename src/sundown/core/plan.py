"""Pure time rules: which night an instant belongs to, when each reminder fires.

Every function takes the zone (and `now` where it matters) as an argument and does
no I/O, so the rules are tested with explicit datetimes in named zones.

Rules (docs/time.md): the night of date D runs from 12:00 on D to 12:00 on D+1 local
time; a wall time before 12:00 falls on D+1. Wall times are resolved with
``fold=0``: a time in a spring-forward gap moves forward by the gap, a time that
occurs twice means its first occurrence. Offsets (`before`, `sleep`) are subtracted
as real elapsed time, i.e. in UTC.

A night's bedtime (docs/morning.md) comes from one of five sources: `[bedtime]`
("routine"), the next morning's `[wake]` time less `sleep` ("wake"), `sundown tonight`
("tonight", which wins over everything), or, only ever earlier than the routine's,
tomorrow's first calendar event ("calendar") or the phone's alarm ("alarm").
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from itertools import takewhile

from sundown.core.routine import MAX_BEFORE, Reminder, Routine
from sundown.core.vocabulary import BedtimeSource

UTC = timezone.utc
NOON = time(12, 0)
ONE_DAY = timedelta(days=1)
# A reminder handled this long after its instant still counts as on time
# (scheduler jitter); later than that it is "late" (docs/time.md).
ON_TIME = timedelta(seconds=60)


def resolve(day: date, wall: time, zone: tzinfo) -> datetime:
    """The instant a wall time on `day` names in `zone`.

    ``fold=0`` interprets a nonexistent time with the offset from before the
    transition, which lands it exactly one gap later (02:30 -> 03:30), and an
    ambiguous time as its first occurrence: the two rules of docs/time.md.
    """
    naive = datetime.combine(day, wall.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def exists(day: date, wall: time, zone: tzinfo) -> bool:
    """Whether the wall time ever appeared on a local clock in `zone`."""
    at = resolve(day, wall, zone)
    return at.date() == day and at.time().replace(tzinfo=None) == wall.replace(tzinfo=None)


def night_exists(night: date, zone: tzinfo) -> bool:
    """A night exists when its 12:00 existed (Pacific/Apia skipped 2011-12-30)."""
    return exists(night, NOON, zone)


def night_start(night: date, zone: tzinfo) -> datetime:
    return resolve(night, NOON, zone)


def night_end(night: date, zone: tzinfo) -> datetime:
    return resolve(night + ONE_DAY, NOON, zone)


def night_of(instant: datetime, zone: tzinfo) -> date:
    """The night (its evening's date) that `instant` falls in."""
    local = instant.astimezone(zone)
    night = local.date() if local.time() >= NOON else local.date() - ONE_DAY
    while not night_exists(night, zone):
        night -= ONE_DAY
    return night


def after_midnight(wall: time) -> bool:
    """A wall time before 12:00 is the morning after its night's evening (docs/time.md)."""
    return wall.replace(tzinfo=None) < NOON


def into_night(wall: time) -> timedelta:
    """How long after its night's 12:00 a wall time comes, by the clock face (no DST)."""
    since_noon = datetime.combine(date.min, wall.replace(tzinfo=None)) - datetime.combine(date.min, NOON)
    return since_noon + ONE_DAY if after_midnight(wall) else since_noon


def after_bedtime(routine: Routine) -> dict[str, dict[int, tuple[time, timedelta]]]:
    """Reminders whose `at` comes after that evening's bedtime: per weekday they run on, the
    bedtime (its wall time; from `[wake]`, the wake time less `sleep`) and by how much, by the
    clock face. Allowed, but sent after the person went to bed, so rarely meant."""
    late: dict[str, dict[int, tuple[time, timedelta]]] = {}
    for r in routine.reminders:
        if r.at is None:
            continue
        for weekday in range(7):
            bed = routine.bedtime.for_weekday(weekday)
            wake = routine.bedtime.wake_after(weekday)
            if bed is None and wake is not None:
                bed = (datetime.combine(date.min, wake) + ONE_DAY - routine.bedtime.sleep).time()
            if bed is None or not r.runs_on(weekday):
                continue
            past = into_night(r.at) - into_night(bed)
            if past > timedelta(0):
                late.setdefault(r.id, {})[weekday] = (bed, past)
    return late


def window(now: datetime, zone: tzinfo) -> list[date]:
    """The nights whose reminders can fall near `now`: yesterday's, tonight's, tomorrow's."""
    tonight = night_of(now, zone)
    return [tonight - ONE_DAY, tonight, tonight + ONE_DAY]


def wall_instant(night: date, wall: time, zone: tzinfo) -> datetime:
    """A wall time of night `night`: on D from 12:00, on D+1 before 12:00."""
    day = night + ONE_DAY if after_midnight(wall) else night
    return resolve(day, wall, zone)


@dataclass(frozen=True)
class Morning:
    """What the morning after a night asks of it: be awake at `wake`.

    From the calendar (its first timed event less `prepare`: `event` is its title, `starts`
    its start) or from the phone's alarm (no event). An instant, aware; it moves that
    night's bedtime only when `wake` less `sleep` is earlier than the routine's bedtime.
    """

    wake: datetime
    event: str | None = None
    starts: datetime | None = None


@dataclass(frozen=True)
class NightChanges:
    """What changed for one night, folded from the log: the person's `tonight` and `skip`,
    the calendar's word as the daemon logged it (`replanned`), the phone's alarm."""

    bedtime: time | None = None  # `tonight --bedtime`
    skip_all: bool = False
    skip: frozenset[str] = frozenset()
    keep: frozenset[str] = frozenset()  # unskipped one by one during a whole-night skip
    wake: time | None = None  # `tonight --wake`: the next morning's wake time
    calendar: Morning | None = None
    alarm: Morning | None = None

    def skips(self, reminder_id: str) -> bool:
        return (self.skip_all and reminder_id not in self.keep) or reminder_id in self.skip

    @property
    def chosen(self) -> bool:
        """The person chose tonight's bedtime (`tonight --bedtime` or `--wake`): it wins."""
        return self.bedtime is not None or self.wake is not None


NO_CHANGES = NightChanges()


@dataclass(frozen=True)
class Occurrence:
    """One reminder on one night."""

    night: date
    reminder: Reminder
    at: datetime
    bedtime: datetime
    skipped: bool = False
    bedtime_source: BedtimeSource = "routine"

    @property
    def key(self) -> tuple[date, str]:
        return (self.night, self.reminder.id)

    @property
    def deadline(self) -> datetime:
        """Until when a late reminder is still worth sending (docs/time.md)."""
        # Compared in UTC: aware datetimes sharing a tzinfo compare as wall times.
        return max(self.bedtime, self.at, key=lambda t: t.astimezone(UTC))

    def repeat_times(self) -> list[datetime]:
        """Re-notification instants; repeats stop when the night's bedtime passes."""
        r = self.reminder
        if r.repeat is None:
            return []
        start = self.at.astimezone(UTC)
        if r.repeat >= self.bedtime.astimezone(UTC) - start:
            return []  # also keeps a "99999h" repeat from overflowing the datetime below
        times = (start + r.repeat * k for k in range(1, r.repeat_limit + 1))
        # takewhile, not a filter: with repeat_limit = 10**11 a filter would run for hours.
        return [t.astimezone(self.at.tzinfo) for t in takewhile(lambda t: t < self.bedtime, times)]

    def status_at(self, now: datetime) -> str:
        """'pending', 'due' (on time), 'late' (send now, late) or 'missed'."""
        # In UTC: `now` in the routine's zone would otherwise subtract as wall times across DST.
        now, at = now.astimezone(UTC), self.at.astimezone(UTC)
        if now < at:
            return "pending"
        if now - at <= ON_TIME:
            return "due"
        if now < self.deadline.astimezone(UTC):
            return "late"
        return "missed"


def _order(o: Occurrence) -> tuple[datetime, date, str]:
    return (o.at.astimezone(UTC), o.night, o.reminder.id)


@dataclass(frozen=True)
class NightPlan:
    """All of one night's reminders, in time order, skipped ones flagged; where its bedtime
    comes from (`source`) and, when the calendar or the alarm moved it, what (`morning`)."""

    night: date
    bedtime: datetime
    occurrences: tuple[Occurrence, ...] = field(default=())
    skipped: bool = False
    source: BedtimeSource = "routine"
    morning: Morning | None = None

    def active(self) -> list[Occurrence]:
        return [o for o in self.occurrences if not o.skipped]


@dataclass(frozen=True)
class Bedtime:
    """A night's bedtime, where it comes from, and the morning that moved it (if one did)."""

    at: datetime
    source: BedtimeSource
    morning: Morning | None = None


def from_wake(night: date, wake: time, zone: tzinfo, sleep: timedelta) -> datetime:
    """Bedtime of `night` for waking at `wake` the morning after: `sleep` of real time before.

    The wake time is resolved like every wall time (a gap moves it forward, a fold means the
    first), on D+1 whatever the hour: `[wake]` names the morning's day.
    """
    return wake_bedtime(night, resolve(night + ONE_DAY, wake, zone), zone, sleep)


def wake_bedtime(night: date, wake: datetime, zone: tzinfo, sleep: timedelta) -> datetime:
    """`wake` less `sleep` (in UTC), kept inside the night (12:00 on D to 12:00 on D+1): a
    bedtime outside its night would belong to another one."""
    at = wake.astimezone(UTC) - sleep
    start, end = night_start(night, zone).astimezone(UTC), night_end(night, zone).astimezone(UTC)
    return min(max(at, start), end - timedelta(minutes=1)).astimezone(zone)


def routine_bedtime(routine: Routine, night: date, zone: tzinfo) -> Bedtime:
    """The night's bedtime by the config alone: `[bedtime]`, else the next morning's `[wake]`."""
    weekday = night.weekday()
    wall = routine.bedtime.for_weekday(weekday)
    if wall is not None:
        return Bedtime(wall_instant(night, wall, zone), "routine")
    wake = routine.bedtime.wake_after(weekday)
    assert wake is not None  # Bedtimes guarantees one of the two
    return Bedtime(from_wake(night, wake, zone, routine.bedtime.sleep), "wake")


def bedtime_of(routine: Routine, night: date, zone: tzinfo, changes: NightChanges = NO_CHANGES) -> Bedtime:
    """The night's bedtime and its source (docs/morning.md).

    `tonight --bedtime`/`--wake` wins: the person chose this night's bedtime. Otherwise the
    routine's, made earlier (never later) by the calendar's first event or the phone's
    alarm: whichever asks for the earliest bedtime.
    """
    if changes.bedtime is not None:
        return Bedtime(wall_instant(night, changes.bedtime, zone), "tonight")
    if changes.wake is not None:
        return Bedtime(from_wake(night, changes.wake, zone, routine.bedtime.sleep), "tonight")
    chosen = routine_bedtime(routine, night, zone)
    sources: tuple[tuple[Morning | None, BedtimeSource], ...] = (
        # The calendar's logged word counts only while a calendar is configured.
        (changes.calendar if routine.calendar is not None else None, "calendar"),
        (changes.alarm, "alarm"),
    )
    for morning, source in sources:
        if morning is None:
            continue
        at = wake_bedtime(night, morning.wake, zone, routine.bedtime.sleep)
        if at.astimezone(UTC) < chosen.at.astimezone(UTC):
            chosen = Bedtime(at, source, morning)
    return chosen


def night_plan(
    routine: Routine, night: date, zone: tzinfo, changes: NightChanges = NO_CHANGES
) -> NightPlan | None:
    """The plan of one night, or None when the night does not exist locally."""
    if not night_exists(night, zone):
        return None
    chosen = bedtime_of(routine, night, zone, changes)
    bedtime = chosen.at
    night_skipped = changes.skip_all or night in routine.skip_dates
    weekday = night.weekday()
    occurrences = []
    for r in routine.reminders:
        if not r.runs_on(weekday):
            continue
        if r.at is not None:
            at = wall_instant(night, r.at, zone)
        else:
            assert r.before is not None
            at = (bedtime.astimezone(UTC) - r.before).astimezone(zone)
        skipped = (night_skipped and r.id not in changes.keep) or r.id in changes.skip
        occurrences.append(Occurrence(night, r, at, bedtime, skipped, chosen.source))
    occurrences.sort(key=_order)
    return NightPlan(night, bedtime, tuple(occurrences), night_skipped, chosen.source, chosen.morning)


def _earliest_possible(night: date, zone: tzinfo) -> datetime:
    """No occurrence of `night` or later can come before this instant.

    Bedtimes and `at` times fall at or after the night's noon, `before` is at
    most 12 h; a day of slack covers the odd offsets of gaps and folds.
    """
    return resolve(night, NOON, zone).astimezone(UTC) - MAX_BEFORE - ONE_DAY


def occurrences(
    routine: Routine,
    zone: tzinfo,
    start: datetime,
    changes: Mapping[date, NightChanges] | None = None,
) -> Iterator[Occurrence]:
    """Every unskipped occurrence at or after `start`, in time order, forever."""
    changes = changes or {}
    start_utc = start.astimezone(UTC)
    night = night_of(start, zone) - 2 * ONE_DAY
    heap: list[tuple[tuple[datetime, date, str], Occurrence]] = []
    if not routine.reminders:
        return
    while True:
        plan = night_plan(routine, night, zone, changes.get(night, NO_CHANGES))
        if plan is not None:
            for o in plan.active():
                if o.at.astimezone(UTC) >= start_utc:
                    heapq.heappush(heap, (_order(o), o))
        night += ONE_DAY
        bound = _earliest_possible(night, zone)
        while heap and heap[0][0][0] < bound:
            yield heapq.heappop(heap)[1]


def upcoming(
    routine: Routine,
    zone: tzinfo,
    start: datetime,
    count: int,
    changes: Mapping[date, NightChanges] | None = None,
    settled: Collection[tuple[date, str]] = (),
) -> list[Occurrence]:
    """The next `count` occurrences at or after `start` (`sundown next`), leaving out the skipped
    ones and those `settled` (night, reminder id): acknowledged in advance, nothing is to come."""
    result: list[Occurrence] = []
    if count <= 0:
        return result
    for o in occurrences(routine, zone, start, changes):
        if o.key in settled:
            continue
        result.append(o)
        if len(result) == count:
            break
    return result
