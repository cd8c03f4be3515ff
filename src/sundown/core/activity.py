"""The evening as it was: activity spans, and what they say about each night. Pure.

From a night's first reminder until the morning (`until`, 07:00), the daemon keeps
the session's activity as spans — `active`, `idle` (no input for `context.idle`),
`locked`, `asleep` (suspended) — and writes each one once it closes (an `activity`
row: `state`, `from`, `to`). Everything else is derived here, per night, and never
stored: `lights_out` and `active_after_bedtime_s` (docs/stats.md).

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
from typing import Any

from sundown.core.plan import NO_CHANGES, NightChanges, night_plan, wall_instant
from sundown.core.routine import Routine
from sundown.core.vocabulary import ACTIVITY_STATES, DEVICE_PREFIX, ActivityState

UTC = timezone.utc
ACTIVE: ActivityState = "active"
OFF_STATES: frozenset[str] = frozenset({"idle", "locked", "asleep"})
MORNING = time(7, 0)  # `until` without a wind-down: recording stops, the night's stretch ends
LIGHTS_OUT_RUN_S = 2 * 3600
BRIDGE_S = 120
# A span as stats read it: (device, state, start, end); device "" is this machine.
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
    def from_details(cls, details: Mapping[str, Any]) -> Span | None:
        """The span of an `activity` row, or None when the row does not hold one."""
        state, start, end = details.get("state"), details.get("from"), details.get("to")
        if state not in ACTIVITY_STATES or not isinstance(start, str) or not isinstance(end, str):
            return None
        try:
            a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
        except ValueError:
            return None
        if a.tzinfo is None or b.tzinfo is None or epoch(b) <= epoch(a):
            return None
        return cls(state, epoch(a), epoch(b))


def device_of(source: str) -> str:
    """The machine a row is from: "" for this one (`daemon`), the name of `device:<name>`."""
    return source[len(DEVICE_PREFIX) :] if source.startswith(DEVICE_PREFIX) else ""


# --- the recording window --------------------------------------------------------------------


def until_wall(routine: Routine) -> time:
    """When a night's recording ends, as a wall time of the next morning.

    07:00 by default; a wind-down's `until` when one is configured (its branch adds it).
    """
    return MORNING


def until_of(routine: Routine, night: date, zone: tzinfo) -> datetime:
    """The instant a night's recording ends (the next morning's `until`, DST resolved)."""
    return wall_instant(night, until_wall(routine), zone).astimezone(UTC)


def recording_window(
    routine: Routine, night: date, zone: tzinfo, changes: NightChanges = NO_CHANGES
) -> tuple[datetime, datetime] | None:
    """From the night's first reminder (not skipped) until `until`, in UTC; None: nothing to record."""
    plan = night_plan(routine, night, zone, changes)
    if plan is None:
        return None
    active = plan.active()
    if not active:
        return None
    start = min(o.at.astimezone(UTC) for o in active)
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
    an idle period that began before the sleep says nothing about when it ended).
    A span of another night is not closed here: the recorder closes it at that night's end first.
    """
    at = max(epoch(since), epoch(start))
    if current is None or current.night != night:
        return None, Open(night, state, min(at, epoch(now)))
    if current.state == state:
        return None, current
    boundary = epoch(now) if current.state == "asleep" else min(max(at, current.start), epoch(now))
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

    `spans`: the night's spans of every machine; `now` decides whether the night is over
    (then the time after a machine's last span counts as off).
    """
    if not spans:
        return NO_EVENING
    active: list[tuple[int, int]] = []
    off: list[tuple[int, int]] = []
    last: dict[str, int] = {}
    for device, state, start, end in spans:
        if end > until:
            end = until
        if end <= start:
            continue
        (active if state == ACTIVE else off).append((start, end))
        last[device] = max(last.get(device, end), end)
    if now >= until:
        off.extend((end, until) for end in last.values() if end < until)
    on = _merged(active, 0)
    stretches = _without(_merged(off, BRIDGE_S), on)
    lights_out = next(
        (a for a, b in stretches if b >= until or b - a >= LIGHTS_OUT_RUN_S),
        None,
    )
    after = sum(max(0, min(b, until) - max(a, bedtime)) for a, b in on)
    return Evening(lights_out, after)


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
    ordered = sorted(marks, key=lambda m: m[1])
    in_bed = max((t for e, t in ordered if e == "in_bed"), default=None)
    awake = next((t for e, t in ordered if e == "awake" and (in_bed is None or t > in_bed)), None)
    return Phone(in_bed, awake)
