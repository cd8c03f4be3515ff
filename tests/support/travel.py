"""An evening of the pure core with changes of zone: `decide` and `adjust` tick by tick, their
rows folded back as the daemon's ledger folds the log, the clock jumping to each next instant.

No daemon, no log file: thousands of evenings fit into a property test. What the daemon adds
(the log, the notification server) is tested through it in test_context_travel.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sundown.core import context, travel
from sundown.core.dispatch import decide, nights
from sundown.core.plan import UTC
from sundown.core.routine import Routine
from sundown.core.state import Event, ReminderNight, fold_night

Key = tuple[date, str]


@dataclass
class Row:
    """A row the simulated daemon logged: `ts` in UTC, `at` the occurrence's planned time."""

    ts: datetime
    night: date
    reminder: str
    event: str
    at: datetime
    repeat: int = 0


@dataclass
class CoreEvening:
    routine: Routine
    zone: tzinfo
    log_start: datetime
    rows: list[Row] = field(default_factory=list)
    moved: dict[Key, datetime | None] = field(default_factory=dict)

    def _events(self, night: date) -> list[Event]:
        return [
            Event(
                i, r.ts, r.night, r.reminder, r.event, "daemon", {"at": r.at.isoformat(), "repeat": r.repeat}
            )
            for i, r in enumerate(self.rows)
            if r.night == night
        ]

    def state(self, nights: Iterable[date]) -> tuple[dict[Key, ReminderNight], dict[date, Any]]:
        progress: dict[Key, ReminderNight] = {}
        changes = {}
        for night in nights:
            folded = fold_night(self.routine, self.zone, night, self._events(night))
            progress.update({(night, rid): st for rid, st in folded.states.items()})
            changes[night] = folded.changes
        return progress, changes

    def tick(self, now: datetime) -> datetime | None:
        """What the daemon's tick does at `now` (no context: by the clock); the next instant."""
        looked_at = nights(now, self.zone, self.moved)
        progress, changes = self.state(looked_at)
        decision = decide(self.routine, self.zone, now, progress, changes, self.log_start, self.moved)
        verdict = context.adjust(
            self.routine, self.zone, now, decision, progress, {}, changes, context.UNKNOWN
        )
        for occ in verdict.missed:
            self.rows.append(Row(now, occ.night, occ.reminder.id, "missed", occ.at))
        for send, _ in verdict.sends:
            for occ in send.occurrences:
                self.rows.append(Row(now, occ.night, occ.reminder.id, "notified", occ.at, send.repeat))
        self.moved = travel.still_kept(self.moved, now, looked_at[0])
        return verdict.next_at

    def change(self, zone: tzinfo, now: datetime) -> None:
        """The system zone changed at `now` (what `Ledger.use` does)."""
        _, changes = self.state(nights(now, zone, self.moved, self.zone))
        self.moved = travel.moved(self.routine, self.zone, zone, now, changes, self.log_start, self.moved)
        self.zone = zone

    def run(self, start: datetime, end: datetime, changes: Iterable[tuple[datetime, tzinfo]] = ()) -> None:
        """From `start` to `end`, ticking at each instant the core asks for and at each change,
        which is applied and followed by a tick (as `follow_zone` does)."""
        pending = sorted(changes, key=lambda c: c[0].astimezone(UTC))
        now = start.astimezone(UTC)
        end = end.astimezone(UTC)
        while now < end:
            nxt = self.tick(now)
            step = end if nxt is None else min(end, nxt.astimezone(UTC))
            step = max(step, now + timedelta(seconds=1))  # as the daemon's timer: at or after it
            while pending and pending[0][0].astimezone(UTC) <= step:
                at, zone = pending.pop(0)
                at = max(at.astimezone(UTC), now)
                if at > now:
                    self.tick(at)
                self.change(zone, at)
                now = at
                nxt = self.tick(now)
                step = end if nxt is None else min(end, max(nxt.astimezone(UTC), now + timedelta(seconds=1)))
            now = step

    def first_rows(self) -> dict[Key, list[Row]]:
        """Per occurrence key, its first notifications and `missed` rows (repeats left out)."""
        found: dict[Key, list[Row]] = {}
        for r in self.rows:
            if r.event == "missed" or r.repeat == 0:
                found.setdefault((r.night, r.reminder), []).append(r)
        return found
