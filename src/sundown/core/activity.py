"""The evening as it was: activity spans, and what they say about each night. Pure.

From a night's first reminder (or its wind-down's start, when that comes first) until
the morning (`until`: the wind-down's, else 07:00), the daemon keeps the session's
activity as spans — `active`, `idle` (no input for `context.idle`), `locked`, `asleep`
(suspended) — and writes each one once it closes (an `activity` row: `state`, `from`,
`to`). Everything else is derived here, per night, and never stored: `lights_out` and
`active_after_bedtime_s` (docs/stats.md).

Instants in spans are whole POSIX seconds (UTC): the log's rows carry them to the
second, consecutive spans share their boundary exactly, and a 10-year log's
60,000 boundaries are compared as integers, not parsed as datetimes.

The rules, precisely:
- Several machines of one person: a moment is *active* when any machine was
  active then, *off* when none was and at least one was idle, locked or asleep.
- Off spans in a row count as one stretch, also across a gap of at most
  `BRIDGE_S` (the daemon restarted between them); an active span, or a longer
  gap with nothing known, ends the stretch.
- Once the night is over, the time after a machine's last span counts as off:
  the machine was shut down, or sundown stopped with it (the span open then was
  closed and written on the way out).
- `lights_out`: the start of the first off stretch that lasted until `until`
  or for at least `LIGHTS_OUT_RUN_S`; None when there was none.
- `active_after_bedtime_s`: active seconds between the planned bedtime and `until`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from operator import itemgetter
from typing import Any

from sundown.core.plan import NO_CHANGES, NOON, NightChanges, night_plan, wall_instant
from sundown.core.routine import Routine
from sundown.core.vocabulary import ACTIVITY_STATES, ActivityState

UTC = timezone.utc
ACTIVE: ActivityState = "active"
OFF_STATES: frozenset[str] = frozenset({"idle", "locked", "asleep"})
MORNING = time(7, 0)  # `until` without a wind-down: recording stops, the night's stretch ends
LIGHTS_OUT_RUN_S = 2 * 3600
BRIDGE_S = 120
# A span as stats read it: (source, state, start, end); the source (`daemon`, `device:<name>`)
# tells the machines apart.
SpanRow = tuple[str, str, int, int]


def epoch(t: datetime) -> int:
    """Whole POSIX seconds of an aware instant (floored: a boundary is never moved later)."""
    return int(t.timestamp() // 1)


def instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class Span:
    """One closed span of one machine's session."""

    state: ActivityState
    start: int  # POSIX seconds, UTC
    end: int

    def details(self) -> dict[str, Any]:
        """The `activity` row's details: `state`, `from`, `to` (ISO 8601 UTC, to the second)."""
        return {
            "state": self.state,
            "from": instant(self.start).isoformat(),
            "to": instant(self.end).isoformat(),
        }

    @classmethod
    def from_details(cls, details: Mapping[str, Any], night: date) -> Span | None:
        """The span of an `activity` row of `night`, or None when the row does not hold one."""
        state, start, end = details.get("state"), details.get("from"), details.get("to")
        if state not in ACTIVITY_STATES or not isinstance(start, str) or not isinstance(end, str):
            return None
        try:
            a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
        except ValueError:
            return None
        if a.tzinfo is None or b.tzinfo is None or not plausible(night, epoch(a), epoch(b)):
            return None
        return cls(state, epoch(a), epoch(b))


DAY_S = 86400


def plausible(night: date, start: int, end: int) -> bool:
    """A span that can be of `night`: it ends after it starts, lasts at most a day, and lies within
    the night's evening and morning in any zone (the day before its date to three days after).
    A row or a message that says otherwise says nothing (store/log.py's trigger asks the same)."""
    first = int(datetime(night.year, night.month, night.day, tzinfo=UTC).timestamp()) - DAY_S
    return first <= start < end <= first + 4 * DAY_S and end - start <= DAY_S


# --- the recording window --------------------------------------------------------------------


def until_wall(routine: Routine) -> time:
    """When a night's recording ends, as a wall time of the next morning: the wind-down's
    `until` when `[winddown]` is configured (the evening ends when the desktop is put back),
    else 07:00."""
    return routine.winddown.until if routine.winddown is not None else MORNING


def until_of(routine: Routine, night: date, zone: tzinfo) -> datetime:
    """The instant a night's recording ends (the next morning's `until`, DST resolved)."""
    return wall_instant(night, until_wall(routine), zone).astimezone(UTC)


def until_epoch(routine: Routine, night: date, zone: tzinfo) -> int:
    """`until_of` in POSIX seconds, for stats' ten years of nights: the same rule (fold=0: a wall
    time in a gap moves forward by the gap, one that occurs twice is the first), a fifth of the cost."""
    wall = until_wall(routine)
    day = night + timedelta(days=1) if wall < NOON else night
    return int(datetime.combine(day, wall, zone).timestamp())


def recording_window(
    routine: Routine, night: date, zone: tzinfo, changes: NightChanges = NO_CHANGES
) -> tuple[datetime, datetime] | None:
    """From the night's first reminder (not skipped) or its wind-down's planned start, whichever
    comes first, until `until`, in UTC; None: nothing to record (a skipped night has neither)."""
    plan = night_plan(routine, night, zone, changes)
    if plan is None:
        return None
    starts = [o.at.astimezone(UTC) for o in plan.active()]
    if routine.winddown is not None:
        from sundown.core import winddown  # its rules only where one is configured (stats: never)

        window = winddown.planned(routine.winddown, routine, zone, night, changes)
        if window is not None:
            starts.append(window.start.astimezone(UTC))
    if not starts:
        return None
    start = min(starts)
    end = until_of(routine, night, zone)
    return (start, end) if start < end else None


# --- the open span: what the recorder keeps between two looks ---------------------------------


@dataclass(frozen=True)
class Open:
    """The span in progress: not in the log yet (a crash loses it, and only it)."""

    night: date
    state: ActivityState
    start: int


def state_of(
    locked: bool | None, idle_since: datetime | None, idle_for: timedelta, now: datetime, asleep: bool
) -> tuple[ActivityState, datetime]:
    """The session's state at `now` and since when, from what the context says.

    Idle counts from the last input (as `done_when = "idle"` does), once there has been
    none for `context.idle` (`idle_for`); locked since `now` (a source that saw the lock
    happen gives its own time through `observe`'s `since`).
    """
    if asleep:
        return "asleep", now
    if locked:
        return "locked", now
    if idle_since is not None and now - idle_since >= idle_for:
        return "idle", idle_since
    return ACTIVE, now


def observe(
    current: Open | None, night: date, state: ActivityState, since: datetime, now: datetime, start: datetime
) -> tuple[Span | None, Open]:
    """The session is in `state` since `since` (as seen at `now`): the span that closes, if any,
    and the one open now. `start` is the window's start: nothing is recorded before it.

    The boundary is `since`, kept inside the open span (a source may say "idle since" a
    moment before the span began); leaving `asleep`, it is `now` (the resume: a lock or
    an idle period that began before the sleep says nothing about when it ended); leaving
    `locked` for `idle`, it is `now` too (the unlock: no input since before the lock says
    the person is idle now, not that the lock ended when the input stopped).
    A span of another night is not closed here: the recorder closes it at that night's end first.
    """
    at = max(epoch(since), epoch(start))
    if current is None or current.night != night:
        return None, Open(night, state, min(at, epoch(now)))
    if current.state == state:
        return None, current
    if current.state == "asleep" or (current.state == "locked" and state == "idle"):
        boundary = epoch(now)
    else:
        boundary = min(max(at, current.start), epoch(now))
    closed = Span(current.state, current.start, boundary) if boundary > current.start else None
    return closed, Open(night, state, boundary)


def close(current: Open | None, at: datetime) -> Span | None:
    """The open span ended at `at` (stop, window's end): the span to write, if it lasted."""
    if current is None:
        return None
    end = epoch(at)
    return Span(current.state, current.start, end) if end > current.start else None


# --- per night, derived --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evening:
    """What one night's spans say."""

    lights_out: int | None  # POSIX seconds; None: the screens never went off (or no spans)
    active_after_bedtime_s: int | None  # None: no spans that night


NO_EVENING = Evening(None, None)


def evening(spans: Sequence[SpanRow], bedtime: int, until: int, now: int) -> Evening:
    """`lights_out` and `active_after_bedtime_s` of one night (see the module's rules).

    `spans`: the night's spans of every machine, (source, state, start, end); `now` decides
    whether the night is over (then the time after a machine's last span counts as off).
    """
    if not spans:
        return NO_EVENING
    if len({s[0] for s in spans}) == 1:  # one machine
        found = _one_machine(sorted(spans, key=_START), bedtime, until, now >= until)
        if found is not None:
            return found
    return _machines(spans, bedtime, until, now >= until)


_START = itemgetter(2)  # a span's start, taken in C: ten years are 15k spans


def _one_machine(spans: Sequence[SpanRow], bedtime: int, until: int, over: bool) -> Evening | None:
    """`evening` for one machine's spans in time order, in one pass (a ten-year log has 3,650
    nights); None when two of them overlap (data from elsewhere): `_machines` sorts that out."""
    lights_out = None
    after = 0
    run_start = run_end = last = 0
    running = seen = False
    for _, state, start, end in spans:
        if end > until:
            end = until
        if end <= start:
            continue
        if seen and start < last:
            return None
        last, seen = end, True
        if state == ACTIVE:
            if end > bedtime:
                after += end - (start if start > bedtime else bedtime)
            if running:
                running = False
                if lights_out is None and _lasted(run_start, run_end, until):
                    lights_out = run_start
        elif running and start <= run_end + BRIDGE_S:
            run_end = end
        else:
            if running and lights_out is None and _lasted(run_start, run_end, until):
                lights_out = run_start
            running, run_start, run_end = True, start, end
    if over and seen and last < until:
        if not running:
            running, run_start = True, last
        run_end = until
    if running and lights_out is None and _lasted(run_start, run_end, until):
        lights_out = run_start
    return Evening(lights_out, after)


def _machines(spans: Sequence[SpanRow], bedtime: int, until: int, over: bool) -> Evening:
    """`evening` for any spans: active is the union of the machines' active spans; off is the
    union of their off spans (and, once the night is over, their silence after their last span)
    less the active time."""
    active: list[tuple[int, int]] = []
    off: list[tuple[int, int]] = []
    last: dict[str, int] = {}
    for source, state, start, end in spans:
        if end > until:
            end = until
        if end <= start:
            continue
        (active if state == ACTIVE else off).append((start, end))
        if end > last.get(source, 0):
            last[source] = end
    if over:
        off.extend((end, until) for end in last.values() if end < until)
    on = _merged(active, 0)
    stretches = _bridged(_without(_merged(off, 0), on), on, BRIDGE_S)
    lights_out = next((a for a, b in stretches if _lasted(a, b, until)), None)
    after = sum(max(0, min(b, until) - max(a, bedtime)) for a, b in on)
    return Evening(lights_out, after)


def _lasted(start: int, end: int, until: int) -> bool:
    """An off stretch that is lights out: until the morning, or long enough to be sleep."""
    return end >= until or end - start >= LIGHTS_OUT_RUN_S


def _merged(intervals: list[tuple[int, int]], bridge: int) -> list[tuple[int, int]]:
    """Sorted, overlapping (or at most `bridge` apart) intervals joined."""
    if len(intervals) < 2:
        return intervals
    intervals.sort()
    out = [intervals[0]]
    for a, b in intervals[1:]:
        la, lb = out[-1]
        if a <= lb + bridge:
            if b > lb:
                out[-1] = (la, b)
        else:
            out.append((a, b))
    return out


def _bridged(pieces: list[tuple[int, int]], on: list[tuple[int, int]], bridge: int) -> list[tuple[int, int]]:
    """Off pieces (sorted, disjoint) joined across a gap of at most `bridge` seconds in which no
    machine was active: a gap with activity in it ends the stretch (as `_one_machine` reads one
    machine's spans: an active span ends the run; joined across the gap first, the stretch
    began at the active span's end whenever an off span came before it)."""
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        if out and a - out[-1][1] <= bridge and not any(ha < a and hb > out[-1][1] for ha, hb in on):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _without(intervals: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`intervals` minus `holes` (both sorted and disjoint)."""
    if not holes:
        return intervals
    out = []
    for a, b in intervals:
        for ha, hb in holes:
            if hb <= a or ha >= b:
                continue
            if ha > a:
                out.append((a, ha))
            a = max(a, hb)
            if a >= b:
                break
        if a < b:
            out.append((a, b))
    return out


# --- the phone's word: in bed, awake ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phone:
    """What the phone's sleep app said about one night."""

    in_bed: int | None = None  # the last `in_bed` of the night
    awake: int | None = None  # the first `awake` after it


def phone_night(marks: Iterable[tuple[str, int]]) -> Phone:
    """One night's `in_bed` / `awake` rows (event, POSIX seconds): tracking restarted counts from
    the last start; the alarm dismissed first after it ends the night."""
    ordered = sorted(marks, key=itemgetter(1))
    in_bed = max((t for e, t in ordered if e == "in_bed"), default=None)
    awake = next((t for e, t in ordered if e == "awake" and (in_bed is None or t > in_bed)), None)
    return Phone(in_bed, awake)
