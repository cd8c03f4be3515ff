"""The daemon's recorder of the evening as it was: the session's activity as spans, in the log.

From a night's first reminder (or its wind-down's start) until `until` (core/activity.py),
every look the daemon takes at the context (a tick: a reminder, a signal, a resume) says
what the session does now: `active`, `idle`, `locked`, or `asleep` between PrepareForSleep(true) and
(false). A change closes the open span, which is written at once (an `activity` row):
a crash loses at most the span still open. The open span is also closed and written
when the daemon stops, when the machine goes to sleep and at the window's end.

Signals drive it (logind IdleHint/LockedHint, the screensaver's ActiveChanged, the
suspend); where idle time can only be asked (X11, Mutter and ScreenSaver idle time),
it asks for a look every `POLL` inside the window and never outside it. Only time spans
and states are kept: nothing about windows or input.

Runs on the daemon's worker thread only, like everything that touches its state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING

from sundown.core import activity
from sundown.core.activity import Open, Span
from sundown.core.context import Context
from sundown.core.plan import NO_CHANGES, ONE_DAY, NightChanges, night_of, window
from sundown.core.routine import Routine

if TYPE_CHECKING:
    from sundown.runtime.ledger import Ledger
    from sundown.runtime.sources import ContextWatch

log = logging.getLogger("sundown")

UTC = timezone.utc
# How often a source that can only be asked (X11 idle time) is asked, inside the window.
POLL = timedelta(seconds=30)
Write = Callable[[date, Span], None]
Changes = Mapping[date, NightChanges]


class Recorder:
    """The open span and the night it belongs to; `write` puts each closed span in the log."""

    def __init__(self, write: Write) -> None:
        self.write = write
        self.open: Open | None = None
        self.asleep_since: datetime | None = None  # PrepareForSleep(true) seen, (false) not yet

    def look(
        self,
        now: datetime,
        routine: Routine,
        zone: tzinfo,
        changes: Changes,
        ctx: Context,
        polled: bool,
        signalled: bool = False,
    ) -> datetime | None:
        """Take in what the context says at `now`; returns when to look again (None: no need).

        `polled`: idle time is known only by asking (a look every `POLL`); `signalled`: a source
        says when `context.idle` has passed without input (Mutter's watch), so no look is needed
        for it either."""
        if not routine.context.measure:
            self.stop(now, routine, zone)
            return None
        window = _window_at(now, routine, zone, changes)
        if self.open is not None and (window is None or window[0] != self.open.night):
            self.stop(now, routine, zone)  # its window is over (or gone: a skip, a reload)
        knows = ctx.locked is not None or ctx.idle_known
        if window is None:
            return _next_start(now, routine, zone, changes) if knows else None
        night, start, end = window
        asleep = self.asleep_since is not None
        if not asleep and not knows:
            # Nothing on this desktop says idle or locked: nothing to record but the sleeps.
            self._write(night, activity.close(self.open, now))
            self.open = None
            return None
        state, since = activity.state_of(ctx.locked, ctx.idle_since, routine.context.idle, now, asleep)
        if self.asleep_since is not None:
            since = self.asleep_since  # PrepareForSleep(true) seen, (false) not yet
        elif state == "locked" and ctx.locked_since is not None:
            since = ctx.locked_since  # when the lock signal came, not when we looked
        elif state == "active" and ctx.idle_since is not None:
            # Back from idle: the last input is the best word on the return a poll has (never
            # later than it, never earlier than the previous look).
            since = ctx.idle_since
        closed, self.open = activity.observe(self.open, night, state, since, now, start)
        self._write(night, closed)
        if asleep:
            return end
        later = [end, now + POLL] if polled else [end]
        if state == "active" and ctx.idle_since is not None and not signalled:
            later.append(ctx.idle_since + routine.context.idle)  # idle by then, if no input comes
        return min((t for t in later if t > now), default=end)

    def sleep(self, at: datetime, routine: Routine, zone: tzinfo, changes: Changes) -> None:
        """PrepareForSleep(true) at `at`: the open span ends there, `asleep` begins."""
        self.asleep_since = at
        if not routine.context.measure:
            return
        window = _window_at(at, routine, zone, changes)
        if window is None:
            return
        night, start, _ = window
        closed, self.open = activity.observe(self.open, night, "asleep", at, at, start)
        self._write(night, closed)

    def resume(self, at: datetime, routine: Routine, zone: tzinfo, changes: Changes) -> None:
        """PrepareForSleep(false) at `at`: the look that follows ends `asleep` (at its own time, or
        at the window's end); a sleep that began before the window is `asleep` from its start."""
        since, self.asleep_since = self.asleep_since, None
        if since is None or not routine.context.measure:
            return
        window = _window_at(at, routine, zone, changes)
        if window is not None and (self.open is None or self.open.night != window[0]):
            self.open = Open(window[0], "asleep", activity.epoch(max(since, window[1])))

    def stop(self, now: datetime, routine: Routine, zone: tzinfo) -> None:
        """The daemon stops (or measuring is switched off): the open span is written, ending now
        (or at its window's end, if no look came then)."""
        if self.open is None:
            return
        until = activity.until_of(routine, self.open.night, zone)
        self._write(self.open.night, activity.close(self.open, min(now, until)))
        self.open = None

    def _write(self, night: date, span: Span | None) -> None:
        if span is not None:
            self.write(night, span)


def _window_at(
    now: datetime, routine: Routine, zone: tzinfo, changes: Changes
) -> tuple[date, datetime, datetime] | None:
    """The night whose recording window holds `now`, with the window, or None."""
    tonight = night_of(now, zone)
    for night in (tonight, tonight + ONE_DAY):
        window = activity.recording_window(routine, night, zone, changes.get(night, NO_CHANGES))
        if window is not None and window[0] <= now < window[1]:
            return night, window[0], window[1]
    return None


def _next_start(now: datetime, routine: Routine, zone: tzinfo, changes: Changes) -> datetime | None:
    """When the next window opens (the night's first reminder or wind-down start: a tick is due
    then anyway)."""
    tonight = night_of(now, zone)
    for night in (tonight, tonight + ONE_DAY):
        window = activity.recording_window(routine, night, zone, changes.get(night, NO_CHANGES))
        if window is not None and window[0] > now:
            return window[0]
    return None


class Evening:
    """The recorder as the daemon uses it: spans written through the ledger (an `activity` row
    dated at each span's end), the routine in force and the nights' changes from the ledger."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.recorder = Recorder(self._write)

    def _write(self, night: date, span: Span) -> None:
        self.ledger.apply("activity", night, None, "daemon", ts=activity.instant(span.end), **span.details())

    def _changes(self, at: datetime) -> Changes:
        return self.ledger.state(window(at, self.ledger.loaded.zone))[1]

    def sleep(self, at: datetime) -> None:
        """PrepareForSleep(true), timed when it came (the worker may run this after the resume)."""
        loaded = self.ledger.loaded
        self.recorder.sleep(at, loaded.routine, loaded.zone, self._changes(at))

    def resume(self, at: datetime) -> None:
        loaded = self.ledger.loaded
        self.recorder.resume(at, loaded.routine, loaded.zone, self._changes(at))

    def look(
        self, now: datetime, changes: Changes, ctx: Context, watch: ContextWatch | None
    ) -> datetime | None:
        """A tick's look at the context; when the recorder wants the next one."""
        signalled = watch is not None and watch.idle_signalled()
        # Idle time known here only by asking (X11, the ScreenSaver's; Mutter refusing watches).
        polled = watch is not None and watch.polled("idle") and not signalled
        loaded = self.ledger.loaded
        return self.recorder.look(now, loaded.routine, loaded.zone, changes, ctx, polled, signalled)

    def stop(self, now: datetime) -> None:
        """The daemon stops: the open span is written."""
        loaded = self.ledger.loaded
        self.recorder.stop(now, loaded.routine, loaded.zone)
