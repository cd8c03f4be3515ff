"""Wind-down windows: when the desktop winds down, planned by the reminders' time rules. Pure.

A night's window starts `before` its bedtime (the bedtime of `sundown tonight --bedtime`
when one was set) or `at` a wall time, and ends at `until` the next morning. Wall times
are resolved as everywhere (docs/time.md): a time in a spring-forward gap moves forward
by the gap, a time that occurs twice means the first, `before` is subtracted in UTC.
A night skipped as a whole (`skip.dates`, `sundown skip`) has no window.

What the person asked from the command line comes on top, in the order it was asked:
`sundown winddown on` opens a window from then until the next `until`; `sundown winddown
off` ends whatever window holds at that moment; `sundown skip` of the current night (the
whole night) ends it too. Windows that overlap are one stretch of wind-down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from sundown.core.plan import (
    NO_CHANGES,
    ONE_DAY,
    UTC,
    NightChanges,
    bedtime_of,
    night_exists,
    night_of,
    wall_instant,
)
from sundown.core.routine import EFFECTS, Routine, WindDown

# What happened to one effect, as the log's `winddown` rows, `status` and `doctor` say it.
ON = "on"
UNAVAILABLE = "unavailable"
RESTORED = "restored"
KEPT = "kept"  # the person changed the setting meanwhile: left as they set it
FAILED = "failed"


def failed(why: str) -> str:
    """The outcome word of an effect that could not be applied or put back."""
    return f"{FAILED}: {why}"


def _utc(t: datetime) -> datetime:
    return t.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """One stretch of wind-down: from `start` until `end` (aware datetimes, compared in UTC)."""

    night: date
    start: datetime
    end: datetime

    def holds(self, now: datetime) -> bool:
        return _utc(self.start) <= _utc(now) < _utc(self.end)


@dataclass(frozen=True)
class Request:
    """`sundown winddown on` (on=True), or `off` / a whole-night skip of the current night."""

    at: datetime
    on: bool


# Overlapping windows make one stretch; the same type says where it starts and ends.
Span = Window


@dataclass(frozen=True)
class State:
    """The wind-down at one instant: the stretch that holds now, else when the next begins."""

    active: Span | None
    next_start: datetime | None

    @property
    def next_at(self) -> datetime | None:
        """The next instant something changes (the end of this stretch, or the next start)."""
        return self.active.end if self.active is not None else self.next_start


def until_after(wd: WindDown, instant: datetime, zone: tzinfo) -> datetime:
    """The first `until` strictly after `instant` (a `sundown winddown on` lasts until then)."""
    night = night_of(instant, zone) - ONE_DAY
    for _ in range(4):
        end = wall_instant(night, wd.until, zone)
        if _utc(end) > _utc(instant):
            return end
        night += ONE_DAY
    raise AssertionError("an `until` falls in every night")  # pragma: no cover


def planned(
    wd: WindDown, routine: Routine, zone: tzinfo, night: date, changes: NightChanges = NO_CHANGES
) -> Window | None:
    """The configured window of `night`, or None (a skipped night, a night that does not exist,
    or one whose start falls at or after its `until`, e.g. through `sundown tonight --bedtime`).
    The bedtime is the night's as the reminders have it (`plan.bedtime_of`): `[bedtime]` or
    `[wake]`, made earlier by the calendar or the phone's alarm, or `tonight`'s."""
    if not night_exists(night, zone) or changes.skip_all or night in routine.skip_dates:
        return None
    if wd.at is not None:
        start = wall_instant(night, wd.at, zone)
    else:
        assert wd.before is not None
        bedtime = bedtime_of(routine, night, zone, changes).at  # moved by the calendar, the alarm, `tonight`
        start = (_utc(bedtime) - wd.before).astimezone(zone)
    end = wall_instant(night, wd.until, zone)
    if _utc(end) <= _utc(start):
        return None
    return Window(night, start, end)


def windows(
    wd: WindDown,
    routine: Routine,
    zone: tzinfo,
    nights: Iterable[date],
    changes: Mapping[date, NightChanges],
    requests: Sequence[Request],
) -> list[Window]:
    """Every window of `nights` and of the requests, each cut short by a later `off`."""
    found = [w for n in nights if (w := planned(wd, routine, zone, n, changes.get(n, NO_CHANGES)))]
    for r in requests:
        if r.on:
            at = r.at.astimezone(zone)
            found.append(Window(night_of(at, zone), at, until_after(wd, at, zone)))
    cuts = [_utc(r.at) for r in requests if not r.on]
    result = []
    for w in found:
        end = _utc(w.end)
        for cut in cuts:
            if _utc(w.start) <= cut < end:
                end = cut
        if end > _utc(w.start):
            result.append(Window(w.night, w.start, end.astimezone(zone)))
    return result


def spans(found: Iterable[Window]) -> list[Span]:
    """Windows that overlap or touch merged into stretches, in time order."""
    merged: list[Span] = []
    for w in sorted(found, key=lambda w: _utc(w.start)):
        if merged and _utc(w.start) <= _utc(merged[-1].end):
            last = merged[-1]
            if _utc(w.end) > _utc(last.end):
                merged[-1] = Span(last.night, last.start, w.end)
            continue
        merged.append(w)
    return merged


def nights_around(now: datetime, zone: tzinfo) -> list[date]:
    """The nights whose windows may hold `now` or come next (a window starts at most 12 h
    before its bedtime, which may fall the morning after)."""
    night = night_of(now, zone)
    return [night + ONE_DAY * k for k in range(-2, 3)]


def state_at(
    wd: WindDown,
    routine: Routine,
    zone: tzinfo,
    now: datetime,
    changes: Mapping[date, NightChanges],
    requests: Sequence[Request] = (),
) -> State:
    """Is the desktop wound down at `now`, and when does that change?"""
    found = spans(windows(wd, routine, zone, nights_around(now, zone), changes, requests))
    now_utc = _utc(now)
    active = next((s for s in found if s.holds(now)), None)
    later = [s.start for s in found if _utc(s.start) > now_utc]
    return State(active, min(later, key=_utc) if later else None)


def requests_of(events: Iterable[Any], zone: tzinfo) -> list[Request]:
    """The person's requests in the log rows of some nights (objects with event, source,
    reminder, night, ts and details), in time order: `winddown` rows written for the CLI
    (source `cli`, phase start = on, end = off), and whole-night skips of the night they were
    made in (a skip of a later night leaves tonight's wind-down alone). A whole-night unskip
    undoes its skip: the night's wind-down holds again from then, as planned."""
    found = []
    skips: dict[date, list[Request]] = {}
    for ev in sorted(events, key=lambda e: _utc(e.ts)):
        if ev.event == "winddown" and ev.source == "cli":
            phase = (ev.details or {}).get("phase")
            if phase in ("start", "end"):
                found.append(Request(_utc(ev.ts), phase == "start"))
        elif (
            ev.event in ("skipped", "unskipped") and ev.reminder is None and night_of(ev.ts, zone) == ev.night
        ):
            if ev.event == "skipped":
                skips.setdefault(ev.night, []).append(Request(_utc(ev.ts), False))
            elif skips.get(ev.night):
                skips[ev.night].pop()
    found.extend(r for night in skips.values() for r in night)
    return sorted(found, key=lambda r: r.at)


def window_text(span: Span, zone: tzinfo) -> tuple[str, str]:
    """(since, until) as ISO 8601 with their offset, in `zone`."""
    return span.start.astimezone(zone).isoformat(), span.end.astimezone(zone).isoformat()


def snapshot(
    active: Span | None, zone: tzinfo, effects: Mapping[str, str], problem: str | None = None
) -> dict[str, Any]:
    """`status --json`'s "winddown": whether it holds, since and until when, and each effect."""
    since, until = window_text(active, zone) if active is not None else (None, None)
    found: dict[str, Any] = {
        "active": active is not None,
        "since": since,
        "until": until,
        "effects": {e: effects[e] for e in EFFECTS if e in effects},
    }
    if problem:
        found["problem"] = problem
    return found


def starts_after_until(wd: WindDown, bedtime_minutes: int) -> bool:
    """For config checks, on the wall clock in seconds after 12:00: does the window start at or
    after its `until` on an evening with this bedtime (minutes after 12:00)?"""
    day = 24 * 3600
    until = ((wd.until.hour - 12) * 3600 + wd.until.minute * 60) % day
    if wd.at is not None:
        start = ((wd.at.hour - 12) * 3600 + wd.at.minute * 60) % day
    else:
        assert wd.before is not None
        start = bedtime_minutes * 60 - int(wd.before.total_seconds())
    return start >= until
