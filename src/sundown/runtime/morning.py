"""The morning's word on the night (docs/morning.md): the calendar and the phone's alarm.

Only with `[calendar]` is the calendar read, by its own thread, off the worker (it asks for a
tick when what it read changed). On each tick the calendar's word for each night still ahead
re-plans it, logged as a `replanned` row when it moves the plan; the phone's alarm arrives
through the push link and is logged as `bedtime_changed` (source `phone`). The night's first
notification after a replan carries a line saying why (`why`). Runs on the daemon's worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sundown.core.dispatch import Send
from sundown.core.plan import NO_CHANGES, UTC, NightChanges, night_of, night_plan
from sundown.core.state import ReminderNight
from sundown.runtime.messages import hm

if TYPE_CHECKING:
    from sundown.calendar.source import CalendarSource
    from sundown.paths import Paths
    from sundown.runtime.ledger import Ledger

log = logging.getLogger("sundown")

Key = tuple[date, str]


class Morning:
    """The calendar source (while configured) and what it and the alarm change about the nights."""

    def __init__(self, ledger: Ledger, paths: Paths, on_change: Callable[[], None]) -> None:
        self.ledger = ledger
        self.paths = paths
        self.on_change = on_change  # from the calendar's thread: ask the worker for a tick
        self.calendar: CalendarSource | None = None
        self.changes: dict[date, NightChanges] = {}  # each night's changes, as the last tick folded them

    @property
    def zone(self) -> tzinfo:
        """The routine's zone, as reloaded: the times its log lines give read as the person's clock."""
        return self.ledger.loaded.zone

    # -- the calendar's thread -------------------------------------------------------------------

    def start(self) -> None:
        """Only with [calendar]: its thread reads and parses off the worker, then asks for a tick."""
        calendar = self.ledger.loaded.routine.calendar
        if calendar is None:
            return
        from sundown.calendar.source import CalendarSource
        from sundown.runtime.watch import ConfigWatch

        self.calendar = CalendarSource(
            calendar,
            self.paths.calendar_copy,
            self.paths.calendar_meta,
            self.on_change,
            self.ledger.clock,
            watch_file=ConfigWatch,
        )
        self.calendar.start()

    def close(self) -> None:
        if self.calendar is not None:
            self.calendar.close()
            self.calendar = None

    def kick(self) -> None:
        """Awake again: an hour may have passed asleep, the calendar's URL is due again."""
        if self.calendar is not None:
            self.calendar.kick()

    def status(self) -> dict[str, Any] | None:
        """`status`'s `calendar`: what was read, when, and any problem (null without [calendar])."""
        return self.calendar.view().to_json() if self.calendar is not None else None

    # -- the worker ------------------------------------------------------------------------------

    def replan(
        self,
        now: datetime,
        nights: list[date],
        progress: dict[Key, ReminderNight],
        changes: dict[date, NightChanges],
    ) -> tuple[dict[Key, ReminderNight], dict[date, NightChanges]]:
        """The calendar's word for each night still ahead, logged (`replanned`) when it changes
        the plan; the state again if it did. A calendar not read yet changes nothing."""
        from sundown.core import morning
        from sundown.core.plan import bedtime_of

        routine, zone = self.ledger.loaded.routine, self.ledger.loaded.zone
        source, calendar = self.calendar, routine.calendar
        if source is None or calendar is None:
            self.changes = changes
            return progress, changes
        view = source.view()
        changed = False
        for night in nights:
            c = changes.get(night, NO_CHANGES)
            plan = night_plan(routine, night, zone, c)
            if plan is None or now.astimezone(UTC) >= plan.bedtime.astimezone(UTC):
                continue  # a night whose bedtime has passed keeps its plan
            if not view.covering(*morning.morning_window(routine, night, zone)):
                continue
            word = morning.calendar_morning(view.events, routine, night, zone, calendar.prepare)
            if not morning.replans(routine, night, zone, c, word):
                continue
            after = bedtime_of(routine, night, zone, replace(c, calendar=word))
            why = word.event if word else "no early event"
            log.info(
                "replanned the night of %s from the calendar: bedtime %s (%s)",
                night,
                hm(after.at, self.zone),
                why,
            )
            details = {
                "source": "calendar",
                "bedtime": after.at.isoformat(),
                "event": word.event if word else None,
                "starts": word.starts.isoformat() if word and word.starts else None,
                "wake": word.wake.isoformat() if word else None,
            }
            self.ledger.apply_row("replanned", night, None, "daemon", details)
            changed = True
        if changed:
            progress, changes = self.ledger.state(nights)
        self.changes = changes
        return progress, changes

    def alarm_changed(self, at: datetime | None) -> bool:
        """Record the phone's next alarm as its morning's wake time (rows `bedtime_changed`, source
        `phone`), clear older alarms before it, and log `replanned` where it moves a bedtime. None:
        no alarm is set. True when anything was recorded (a tick should follow)."""
        from sundown.core import morning
        from sundown.core.plan import ONE_DAY, bedtime_of

        routine, zone = self.ledger.loaded.routine, self.ledger.loaded.zone
        now = self.ledger.clock()
        first = night_of(now, zone)
        plan = night_plan(routine, first, zone, self.ledger.night(first).changes)
        if plan is None or now.astimezone(UTC) >= plan.bedtime.astimezone(UTC):
            first += ONE_DAY  # its bedtime passed: an alarm now is for the coming night
        horizon = [first + ONE_DAY * i for i in range(morning.ALARM_HORIZON.days + 1)]
        folded = {n: f.changes for n, f in self.ledger.nights(horizon).items()}
        rows = morning.alarm_rows(at, now, zone, first, folded)
        if at is not None and not rows and morning.alarm_night(at, now, zone) is None:
            when = at.astimezone(zone).strftime("%a %H:%M")
            log.info("the phone's alarm at %s is not a morning sundown plans; ignored", when)
        for night, wake in rows:
            before = bedtime_of(routine, night, zone, folded.get(night, NO_CHANGES))
            after = bedtime_of(routine, night, zone, replace(folded.get(night, NO_CHANGES), alarm=wake))
            alarm = wake.wake.isoformat() if wake else None
            self.ledger.apply_row("bedtime_changed", night, None, "phone", {"alarm": alarm})
            moved = (after.at, after.source) != (before.at, before.source)
            if moved and "alarm" in (after.source, before.source):
                log.info(
                    "replanned the night of %s from the phone's alarm: bedtime %s",
                    night,
                    hm(after.at, self.zone),
                )
                details = {"source": "alarm", "bedtime": after.at.isoformat(), "wake": alarm}
                self.ledger.apply_row("replanned", night, None, "daemon", details)
        return bool(rows)

    def why(self, send: Send) -> str | None:
        """The line the night's first notification after a replan carries: once, by the log."""
        from sundown.core.morning import why

        loaded = self.ledger.loaded
        night = send.occurrences[0].night
        plan = night_plan(loaded.routine, night, loaded.zone, self.changes.get(night, NO_CHANGES))
        text = why(plan, loaded.zone) if plan is not None else None
        if text is None:
            return None
        events = self.ledger.night_events(night)
        said = any(e.event == "notified" and e.details.get("why") == text for e in events)
        return None if said else text
