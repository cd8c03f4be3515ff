"""One reminder on one night: its state, folded from the log's events. Pure.

The log holds rows; everything that needs "where does this reminder stand
tonight" (the daemon's decisions, `status`, `ack`, stats) reads one type,
`ReminderNight`, folded here. Rows belong to an occurrence (night, reminder,
planned time): after the routine is edited or `tonight --bedtime` moves a
reminder later, the rows of its earlier planned time (a `missed`, a
notification) belong to the old occurrence, and the new one is pending again.
An acknowledgement is the person's, not a plan's: it counts whatever the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

from sundown.core.plan import (
    NO_CHANGES,
    ONE_DAY,
    Morning,
    NightChanges,
    NightPlan,
    Occurrence,
    night_exists,
    night_of,
    night_plan,
)
from sundown.core.routine import Routine
from sundown.core.vocabulary import State

UTC = timezone.utc


@dataclass(frozen=True)
class Event:
    """One row of the log. `ts` is aware UTC; `details` a JSON object."""

    id: int
    ts: datetime
    night: date
    reminder: str | None
    event: str
    source: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ReminderNight:
    """What happened to one reminder on one night: the one state type.

    Folded from the night's events (`fold`), read from the log's summary table for
    stats, and kept by the daemon for what it did while the log could not be written.
    A value: never changed in place (`dataclasses.replace` makes a new one). Not frozen, with
    slots, because stats build ~30k of them for a 10-year log and a frozen init costs 5x.
    """

    notified: int = 0  # notifications sent, repeats and snoozes' re-notifications included
    repeats: int = 0  # of which repeats (a snooze's re-notification is not a repeat)
    first_notified: datetime | None = None
    last_notified: datetime | None = None
    acknowledged: datetime | None = None  # the first acknowledgement
    snoozed_until: datetime | None = None  # kept by its re-notification, cleared by an acknowledgement
    missed: bool = False
    dismissed: bool = False  # closed without acknowledging since its last notification
    scheduled_at: datetime | None = None  # its planned time, as the daemon logged it
    planned_bedtime: datetime | None = None  # the night's bedtime, from its last notification
    # Held back while the person was busy (a `deferred` row): sent by this time at the latest, and
    # why ("dnd", "presenting", "fullscreen"); cleared by a later notification or acknowledgement.
    deferred_until: datetime | None = None
    deferred_reason: str | None = None


NOTHING = ReminderNight()


# Instants a row may name: anything outside is not a time sundown wrote, and arithmetic near
# datetime's own limits (a snooze until 9999-12-31 in -23:59, which no UTC can hold) overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


_FIRST_YEAR, _LAST_YEAR = EARLIEST.year, LATEST.year
_from_iso = datetime.fromisoformat  # bound once: looked up on each call it costs a sixth of `instant`


def instant(text: Any) -> datetime | None:
    """An aware instant (in its own offset) from a row's details, or None for anything else:
    a wrong type, no offset, or a time out of range says nothing, and never raises."""
    # Stats read ~80k of these: the common case is two C calls and two plain tests.
    try:
        t = _from_iso(text) if len(text) <= 64 else None  # a long text is not parsed at all
    except (TypeError, ValueError):  # not text (a number, a list), or not a time
        return None
    if t is None or t.tzinfo is None:
        return None
    if _FIRST_YEAR < t.year < _LAST_YEAR:
        return t  # within the range whatever its offset: no conversion
    try:
        in_utc = t.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return t if EARLIEST <= in_utc <= LATEST else None


def _count(value: Any) -> int:
    """A count from a row's details; anything that is not a whole number counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _clock(value: Any) -> time | None:
    """ "HH:MM" from a row's details, or None."""
    if not isinstance(value, str) or len(value) > 16:
        return None
    try:
        t = time.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo is None else None


# How far a DST change moves a wall time between two zones' plans of one occurrence: a time in
# one zone's gap (02:30 becomes 03:30 there only), a `before` across one zone's change.
DST_SHIFT = timedelta(hours=1)


def _earlier_plan(row_at: datetime | None, at: datetime | None) -> bool:
    """Whether a row logged for `row_at` belongs to an earlier plan than the occurrence at `at`.

    A row planned in the occurrence's own zone (its offset is the zone's at that instant) is
    compared as an instant: a later bedtime or a changed `before` makes a new occurrence,
    across a DST change too. A row planned in another zone (a trip: the system zone changed,
    no `timezone` configured) is compared by wall-clock time, each in its own offset: a trip
    moves every instant but not the plan, so 21:45 in Berlin and 21:45 in New York are one
    occurrence, never sent twice; so are 02:30 in Berlin and 03:30 in New York on the night
    New York's clocks skip 02:30 (a wall time moved by up to DST_SHIFT is not a re-plan).
    """
    if at is None or row_at is None:
        return False
    if row_at.utcoffset() == row_at.astimezone(at.tzinfo).utcoffset():
        return row_at.astimezone(UTC) < at.astimezone(UTC)
    return row_at.replace(tzinfo=None) + DST_SHIFT < at.replace(tzinfo=None)


def fold(events: Iterable[Event], at: datetime | None = None) -> ReminderNight:
    """One reminder's events of one night, in time order, as seen by its occurrence at `at`.

    With `at` given, notifications and `missed` rows of an earlier planned time (and the
    snoozes and dismissals that followed them) belong to an earlier occurrence and are left out.
    """
    notified = repeats = 0
    first = last = ack = snoozed = scheduled = bedtime = held = None
    reason: str | None = None
    missed = dismissed = False
    current = True  # whether the latest notification was this occurrence's
    for e in events:
        kind = e.event
        if kind == "notified":
            row_at = instant(e.details.get("at"))
            current = not _earlier_plan(row_at, at)
            if not current:
                continue
            notified += 1
            if not e.details.get("snoozed") and _count(e.details.get("repeat")) > 0:
                repeats += 1
            if first is None:
                first = e.ts
                scheduled = row_at or scheduled
            last = e.ts
            bedtime = instant(e.details.get("bedtime"))
            held = reason = None
            if not e.details.get("snoozed"):
                snoozed = None  # a snooze's own re-notification keeps it: no repeats after a snooze
            dismissed = False
        elif kind == "acknowledged":
            if ack is None or e.ts < ack:
                ack = e.ts
            snoozed = held = reason = None
        elif kind == "missed":
            row_at = instant(e.details.get("at"))
            if _earlier_plan(row_at, at):
                continue
            missed = True
            if scheduled is None:
                scheduled = row_at
        elif kind == "snoozed" and current:
            snoozed = instant(e.details.get("until"))
        elif kind == "dismissed" and current:
            dismissed = True
        elif kind == "deferred" and ack is None:
            held = instant(e.details.get("until"))
            why = e.details.get("reason")
            reason = why if isinstance(why, str) and len(why) <= 32 else None
    if not (notified or ack or missed or snoozed or dismissed or held):
        return NOTHING
    return ReminderNight(
        notified, repeats, first, last, ack, snoozed, missed, dismissed, scheduled, bedtime, held, reason
    )


def _morning(details: Mapping[str, Any], key: str) -> Morning | None:
    """The wake instant a `replanned` (calendar) or alarm row carries; None: no demand."""
    wake = instant(details.get(key))
    if wake is None:
        return None
    event = details.get("event")
    return Morning(wake, event if isinstance(event, str) else None, instant(details.get("starts")))


# The rows `fold_changes` reads (the log selects them by these names).
CHANGE_EVENTS = ("skipped", "unskipped", "bedtime_changed", "replanned")


def fold_changes(events: Iterable[Event]) -> NightChanges:
    """One night's `skip`/`unskip`/`tonight`/alarm/calendar rows, applied in order.

    A whole-night skip and its unskip are one switch: the unskip restores what that
    skip skipped, and reminders skipped one by one stay skipped. `unskip ID` during a
    whole-night skip brings that one reminder back. `tonight --bedtime` and `--wake`
    replace each other (`--clear` clears both); the latest alarm row (source `phone`) and
    the latest calendar `replanned` row are what the phone and the calendar say now.
    """
    bedtime: time | None = None
    wake: time | None = None
    calendar: Morning | None = None
    alarm: Morning | None = None
    skip_all = False
    skip: set[str] = set()
    keep: set[str] = set()
    for e in events:
        if e.event == "skipped":
            if e.reminder is None:
                skip_all = True
                keep.clear()
            else:
                skip.add(e.reminder)
                keep.discard(e.reminder)
        elif e.event == "unskipped":
            if e.reminder is None:
                skip_all = False
                keep.clear()
            else:
                skip.discard(e.reminder)
                if skip_all:
                    keep.add(e.reminder)
        elif e.event == "bedtime_changed" and e.source == "phone":
            alarm = _morning(e.details, "alarm")
        elif e.event == "bedtime_changed":
            bedtime, wake = _clock(e.details.get("bedtime")), _clock(e.details.get("wake"))
        elif e.event == "replanned" and e.details.get("source") == "calendar":
            calendar = _morning(e.details, "wake")
    if bedtime is None and wake is None and calendar is None and alarm is None and not skip_all and not skip:
        return NO_CHANGES
    return NightChanges(
        bedtime,
        skip_all,
        frozenset(skip),
        frozenset(keep) if skip_all else frozenset(),
        wake,
        calendar,
        alarm,
    )


def by_reminder(events: Iterable[Event]) -> dict[str, list[Event]]:
    grouped: dict[str, list[Event]] = {}
    for e in events:
        if e.reminder is not None:
            grouped.setdefault(e.reminder, []).append(e)
    return grouped


@dataclass(frozen=True)
class Night:
    """One night as the log tells it: its changes, its plan and each reminder's state."""

    night: date
    changes: NightChanges
    plan: NightPlan | None
    states: dict[str, ReminderNight]


def fold_night(routine: Routine, zone: tzinfo, night: date, events: Sequence[Event]) -> Night:
    """A night's events folded against the night's plan (each reminder at its planned time)."""
    changes = fold_changes(events)
    plan = night_plan(routine, night, zone, changes)
    planned = {o.reminder.id: o.at for o in plan.occurrences} if plan else {}
    states = {rid: fold(evs, planned.get(rid)) for rid, evs in by_reminder(events).items()}
    return Night(night, changes, plan, {rid: s for rid, s in states.items() if s is not NOTHING})


def merge(logged: ReminderNight, mine: ReminderNight, at: datetime | None = None) -> ReminderNight:
    """The log's state plus what the daemon itself did (the log may have failed to record it),
    for the occurrence planned at `at`: what it did for an earlier planned time does not count."""
    if _earlier_plan(mine.scheduled_at, at) or _earlier_plan(mine.scheduled_at, logged.scheduled_at):
        return logged

    def later(x: datetime | None, y: datetime | None) -> datetime | None:
        return max((t for t in (x, y) if t is not None), default=None)

    def earlier(x: datetime | None, y: datetime | None) -> datetime | None:
        return min((t for t in (x, y) if t is not None), default=None)

    # A hold either knows of, unless the daemon notified after what the log has.
    held = NOTHING if mine.notified > logged.notified else logged if logged.deferred_until else mine
    return ReminderNight(
        notified=max(logged.notified, mine.notified),
        repeats=max(logged.repeats, mine.repeats),
        first_notified=earlier(logged.first_notified, mine.first_notified),
        last_notified=later(logged.last_notified, mine.last_notified),
        acknowledged=earlier(logged.acknowledged, mine.acknowledged),
        snoozed_until=later(logged.snoozed_until, mine.snoozed_until),
        missed=logged.missed or mine.missed,
        dismissed=logged.dismissed or mine.dismissed,
        scheduled_at=logged.scheduled_at or mine.scheduled_at,
        planned_bedtime=logged.planned_bedtime or mine.planned_bedtime,
        deferred_until=held.deferred_until,
        deferred_reason=held.deferred_reason,
    )


def state_name(occ: Occurrence, done: ReminderNight, now: datetime) -> State:
    """One word for `sundown status`, in the order stats counts: an acknowledgement wins."""
    if done.acknowledged is not None:
        return "acknowledged"
    if occ.skipped:
        return "skipped"
    if done.missed:
        return "missed"
    if done.snoozed_until is not None and done.snoozed_until > now:
        return "snoozed"
    if done.deferred_until is not None and done.deferred_until > now and not done.notified:
        return "deferred"  # its first notification held back (a held repeat stays "notified")
    if done.dismissed:
        return "dismissed"
    if done.notified:
        return "notified"
    return "pending" if occ.at > now else "due"


def waiting(done: ReminderNight, occ: Occurrence | None) -> bool:
    """Notified and not settled: what a bare `sundown ack` acknowledges."""
    if occ is not None and occ.skipped:
        return False
    return bool(done.notified) and done.acknowledged is None and not done.missed


def is_open(occ: Occurrence, done: ReminderNight, now: datetime) -> bool:
    """Something may still happen to it: ahead, or waiting and still worth sending or snoozed."""
    if occ.skipped or done.acknowledged is not None or done.missed:
        return False
    now = now.astimezone(UTC)
    if occ.at.astimezone(UTC) > now:
        return True
    if done.snoozed_until is not None and done.snoozed_until.astimezone(UTC) > now:
        return True
    return waiting(done, occ) and now < occ.deadline.astimezone(UTC)


def tonight(now: datetime, zone: tzinfo, current: Night | None) -> date:
    """ "Tonight": the night of `now` while its bedtime has not passed or a reminder of it is
    still open, else the coming night (in the morning, tonight is this evening, not last night).

    `current` is the night of `now` as folded from the log (None: its plan alone counts).
    """
    night = night_of(now, zone)
    if current is None or current.night != night or current.plan is None:
        return night
    plan = current.plan
    if now.astimezone(UTC) < plan.bedtime.astimezone(UTC):
        return night
    if any(is_open(o, current.states.get(o.reminder.id, NOTHING), now) for o in plan.occurrences):
        return night
    coming = night + ONE_DAY
    while not night_exists(coming, zone):
        coming += ONE_DAY
    return coming
