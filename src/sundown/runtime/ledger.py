"""The night's state, one owner: the log and what this process did that the log may lack.

Every change to a night goes through `apply`: it writes the row (through the
`LogWriter`, which never raises and keeps rows that wait for a lock) and updates
this process's memory of what it did, in one call, so the two never drift. The
memory matters when the log cannot be written (a full disk, a foreign file): the
daemon must still not send a reminder twice. Reading a night (`nights`, `state`)
folds the log's rows and merges the memory in.

The ledger also holds the routine in force (`loaded`): a night's plan, and so its
state, depends on it; `use` changes it, and a change of zone there keeps the reminders
it put in the past at their time from before (`moved`, core/travel.py). It runs on the
daemon's worker thread, like all that reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sundown.core import answers, context, dispatch, travel
from sundown.core.context import Attention
from sundown.core.plan import NightChanges, night_of
from sundown.core.state import (
    CHANGE_EVENTS,
    NOTHING,
    Event,
    Night,
    ReminderNight,
    fold_night,
    instant,
    merge,
    tonight,
)
from sundown.core.vocabulary import EventName
from sundown.runtime.logwriter import LogWriter, Row

if TYPE_CHECKING:
    from sundown.config import LoadedConfig

Key = tuple[date, str]
Clock = Callable[[], datetime]


class Ledger:
    """The rows of the log plus this process's memory of what it did; `apply` changes both."""

    def __init__(
        self,
        rows: LogWriter,
        loaded: LoadedConfig,
        clock: Clock,
        on_waiting: Callable[[], None] | None = None,
    ) -> None:
        self.rows = rows
        self.loaded = loaded
        self.clock = clock
        self._on_waiting = on_waiting  # a row waits for the log's lock: try again later
        # Reminders a change of zone put in the past, with their time from before it (not logged:
        # a restart forgets them, and the plan of the zone it starts in decides).
        self.moved: dict[Key, datetime | None] = {}
        self.memory: dict[Key, ReminderNight] = {}
        self.attention: dict[Key, Attention] = {}  # this process's own
        self._seen: dict[Key, Attention] = {}  # the log's, merged with the memory, at the last fold
        self.night_rows: dict[date, list[Event]] = {}  # whole-night changes this process wrote

    # -- the routine in force ---------------------------------------------------------------

    def use(self, loaded: LoadedConfig, log_start: datetime | None = None) -> None:
        """Plan with `loaded` from now on (a reload, a new system zone). A reminder the change of
        zone puts in the past while it was still ahead keeps its time from before, and one left
        alone before stays so (core/travel.py; `log_start`: when the log began, by default as
        the log itself says)."""
        now = self.clock()
        log_start = log_start or self.rows.created
        before = self.loaded.zone
        _, changes = self.state(dispatch.nights(now, loaded.zone, self.moved, before))
        self.moved = travel.moved(loaded.routine, before, loaded.zone, now, changes, log_start, self.moved)
        self.loaded = loaded

    # -- changing a night -------------------------------------------------------------------

    def apply(
        self,
        event: EventName,
        night: date,
        reminder: str | None,
        source: str,
        ts: datetime | None = None,
        **details: Any,
    ) -> datetime:
        """Write the row (at `ts`, default now) and remember what it changes; returns `ts`."""
        return self.apply_row(event, night, reminder, source, details, ts)

    def apply_row(
        self,
        event: EventName,
        night: date,
        reminder: str | None,
        source: str,
        details: Mapping[str, Any],
        ts: datetime | None = None,
    ) -> datetime:
        """`apply` with the details as a mapping (a `replanned` row has details named `source`, `event`)."""
        ts = ts or self.clock()
        row = Row(ts, night, reminder, event, source, details)
        self.rows.write(row)
        if reminder is not None:
            self._remember(event, (night, reminder), ts, details)
        elif event in CHANGE_EVENTS:
            # A night's change (the calendar's word, the phone's alarm): the plan must not
            # forget it while the log cannot take the row (`night_events` adds it back).
            self.night_rows.setdefault(night, []).append(row.as_event())
        if self.rows.pending and self._on_waiting is not None:
            self._on_waiting()
        return ts

    def _remember(self, event: EventName, key: Key, ts: datetime, details: Mapping[str, Any]) -> None:
        done = self.memory.get(key, NOTHING)
        if event == "notified":
            at = instant(details.get("at"))
            if done.scheduled_at is not None and done.scheduled_at != at:
                done = NOTHING  # re-planned: a new occurrence
            self.memory[key] = replace(
                done,
                notified=done.notified + 1,
                first_notified=done.first_notified or ts,
                last_notified=ts,
                scheduled_at=at,
            )
        elif event == "acknowledged":
            self.memory[key] = replace(done, acknowledged=min(done.acknowledged or ts, ts))
        elif event == "snoozed":
            self.memory[key] = replace(done, snoozed_until=instant(details.get("until")))
        elif event == "dismissed":
            self.memory[key] = replace(done, dismissed=True)
        elif event == "missed":
            self.memory[key] = replace(done, missed=True, scheduled_at=instant(details.get("at")))
        elif event == "deferred":
            self._attend(key, deferred=True, deferred_until=instant(details.get("until")))
        elif event == "escalated":
            step = details.get("step")
            if isinstance(step, int):
                self._attend(key, steps_done=self.attention.get(key, context.QUIET).steps_done | {step - 1})

    def stop_escalating(self, key: Key) -> None:
        """The person went away while a step was due: no more steps for it (no row)."""
        self._attend(key, escalation_stopped=True)

    def _attend(self, key: Key, **fields: Any) -> None:
        self.attention[key] = replace(self.attention.get(key, context.QUIET), **fields)

    # -- reading nights ---------------------------------------------------------------------

    def night_events(self, night: date) -> list[Event]:
        """The night's rows, with the changes this process wrote that the log lacks."""
        events = self.rows.night_events(night)
        mine = self.night_rows.get(night)
        if not mine:
            return events
        logged = {_identity(e) for e in events}
        missing = [e for e in mine if _identity(e) not in logged]
        return sorted(events + missing, key=lambda e: e.ts) if missing else events

    def nights(self, nights: Iterable[date]) -> dict[date, Night]:
        """What already happened, from the log merged with this process's memory."""
        routine, zone = self.loaded.routine, self.loaded.zone
        result = {}
        self._seen = {}
        for night in nights:
            events = self.night_events(night)
            folded = fold_night(routine, zone, night, events)
            self._seen.update(context.attention_of(night, events))
            states = dict(folded.states)
            planned = {o.reminder.id: o.at for o in folded.plan.occurrences} if folded.plan else {}
            for (n, rid), mine in self.memory.items():
                if n == night:
                    states[rid] = merge(states.get(rid, NOTHING), mine, planned.get(rid))
            result[night] = replace(folded, states=states)
        for key, seen in self.attention.items():
            self._seen[key] = context.merge(self._seen.get(key, context.QUIET), seen)
        return result

    def night(self, night: date) -> Night:
        return self.nights([night])[night]

    def tonight(self, now: datetime) -> Night:
        """The night `status` shows at `now` ("tonight"), a reminder kept from before a change of
        zone shown at that time (pending then, not due at a time the new zone has in the past)."""
        zone = self.loaded.zone
        current = night_of(now, zone)
        folded = travel.as_planned_now(self.night(current), self.moved, now)
        night = tonight(now, zone, folded)
        return folded if night == current else travel.as_planned_now(self.night(night), self.moved, now)

    def state(self, nights: Iterable[date]) -> tuple[dict[Key, ReminderNight], dict[date, NightChanges]]:
        """Each reminder's state and each night's changes, for `decide` and the rules."""
        folded = self.nights(nights)
        progress = {(n, rid): st for n, f in folded.items() for rid, st in f.states.items()}
        return progress, {n: f.changes for n, f in folded.items()}

    @property
    def seen(self) -> Mapping[Key, Attention]:
        """Attention per reminder (log and memory) of the nights folded last."""
        return self._seen

    def snoozes(self, night: date, reminder: str) -> int:
        """How often it was snoozed that night, by the log and by this process (`snooze_limit`)."""
        mine = self.attention.get((night, reminder), context.QUIET).snoozes
        return max(answers.snoozes(self.night_events(night), reminder), mine)

    def answered(self, night: date) -> set[str]:
        """The ids of the answers from elsewhere applied on `night` (each is applied once)."""
        return answers.answered(self.night_events(night))

    def forget_before(self, first_night: date, now: datetime | None = None) -> None:
        """After the tick at `now`: the nights before `first_night` are done with, and so is each
        moved reminder whose time from before its change of zone has come (that tick handled it)."""
        self.moved = travel.still_kept(self.moved, now or self.clock(), first_night)
        self.memory = {k: v for k, v in self.memory.items() if k[0] >= first_night}
        self.night_rows = {k: v for k, v in self.night_rows.items() if k >= first_night}
        self.attention = {k: v for k, v in self.attention.items() if k[0] >= first_night}

    # -- the log underneath ---------------------------------------------------------------

    @property
    def problem(self) -> str | None:
        """What is wrong with the log right now, if anything (for `status`)."""
        rows = self.rows
        if rows.problem is None and rows.pending:
            return (
                f"another program holds the write lock of {rows.path}; {len(rows.pending)}"
                " row(s) wait and are written, in order, once it lets go"
            )
        return rows.problem

    def flush(self) -> bool:
        return self.rows.flush()

    def close(self) -> None:
        self.rows.close()


def _identity(e: Event) -> tuple[str, str, str]:
    """A row as this process wrote it, whatever id and time precision the log gave it."""
    return (e.event, e.source, json.dumps(dict(e.details), sort_keys=True, default=str))
