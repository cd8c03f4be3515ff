"""A change of zone while a night is under way: which reminders it put in the past. Pure.

With no `timezone` configured, the routine follows the system's zone, and a change re-plans
tonight in the new zone (docs/context.md, "Travel"). A reminder the new zone puts later is
simply pending again; one it puts in the past while it was still ahead in the zone before
would be sent at once or logged `missed` at once, though the change may be a blip that is
undone seconds later (an automatic zone flapping, a zone set by mistake and put back).

So such a reminder keeps its time from before the change (docs/time.md, "A change of
zone"): until then nothing happens to it, and a change undone by then changes nothing. When
that time comes under the new zone, it is handled like any reminder that came due meanwhile,
by the new zone's plan: sent late while its night's bedtime has not passed, else logged
`missed` at once, however long ago that bedtime was, because the daemon was there to see it
(the 12-hour horizon of `dispatch` is for a daemon that was not running). `decide` takes
the result as `moved`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, tzinfo

from sundown.core.dispatch import left_alone, nights
from sundown.core.plan import NO_CHANGES, UTC, NightChanges, night_plan
from sundown.core.routine import Routine
from sundown.core.state import Night

Key = tuple[date, str]


def moved(
    routine: Routine,
    before: tzinfo,
    after: tzinfo,
    now: datetime,
    changes: Mapping[date, NightChanges],
    log_start: datetime | None = None,
    kept: Mapping[Key, datetime | None] | None = None,
) -> dict[Key, datetime | None]:
    """What a change of zone from `before` to `after` at `now` does to each occurrence, for
    `decide`: one the new zone has in the past while it was still ahead keeps its time in
    `before`. One `before` had left alone (due before the log began, or past its deadline
    beyond the 12-hour horizon) is None: left alone wherever it falls in the past, so a blip
    that comes back brings no `missed` row for it (it is still sent if a zone has it ahead).
    Everything else follows the new zone: what was sent or logged is matched by its wall time
    (`state.fold`), and one held back while busy is decided by the new zone's plan now.

    `kept` is what earlier changes left (Berlin -> Kolkata -> Tokyo: the reminder keeps its
    Berlin time, which Kolkata's plan had in the past too).
    """
    kept = kept or {}
    now = now.astimezone(UTC)
    result: dict[Key, datetime | None] = {}
    for night in nights(now, after, kept, before):
        night_changes = changes.get(night, NO_CHANGES)
        new = night_plan(routine, night, after, night_changes)
        if new is None:
            continue
        old = night_plan(routine, night, before, night_changes)
        was = {o.reminder.id: o for o in old.occurrences} if old is not None else {}
        for occ in new.occurrences:
            if occ.skipped:
                continue
            past = occ.at.astimezone(UTC) <= now
            if occ.key in kept:
                at = kept[occ.key]
                if at is None or (past and at.astimezone(UTC) > now):
                    result[occ.key] = at
                continue
            earlier = was.get(occ.reminder.id)
            if earlier is None:
                continue
            if past and earlier.at.astimezone(UTC) > now:
                result[occ.key] = earlier.at
            elif left_alone(earlier, now, log_start):
                result[occ.key] = None
    return result


def still_kept(
    kept: Mapping[Key, datetime | None], now: datetime, first_night: date
) -> dict[Key, datetime | None]:
    """What to remember after the tick at `now`: the times still ahead (one that came was
    handled by that tick: sent late, held back, or logged `missed`; then it follows the zone in
    force), and what stands from before a change, until its night is done with."""
    now = now.astimezone(UTC)
    return {
        key: at
        for key, at in kept.items()
        if (at is None and key[0] >= first_night) or (at is not None and at.astimezone(UTC) > now)
    }


def as_planned_now(night: Night, kept: Mapping[Key, datetime | None], now: datetime) -> Night:
    """`night` with each reminder still waiting for its time from before a change of zone shown at
    that time (`status`: pending then, not due at a time the new zone has in the past)."""
    if night.plan is None or not kept:
        return night
    now = now.astimezone(UTC)
    waiting = {key: at for key, at in kept.items() if at is not None and at.astimezone(UTC) > now}
    occurrences = tuple(
        replace(occ, at=waiting[occ.key]) if occ.key in waiting else occ for occ in night.plan.occurrences
    )
    return replace(night, plan=replace(night.plan, occurrences=occurrences))
