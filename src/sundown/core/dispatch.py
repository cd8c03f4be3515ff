"""What to do at `now`: which reminders to send, repeat or mark missed. Pure.

The daemon calls `decide` on every wakeup (scheduled instant, resume, clock
set, CLI nudge, reload). It is idempotent: the answer depends only on the plan
and on what already happened (each reminder's `state.ReminderNight`, folded
from the log plus the daemon's own memory), so an extra wakeup never doubles a reminder and a missed wakeup is
caught up by the next one. Stale work is never replayed in a burst: late
reminders before their bedtime come as one combined notification, older ones
are marked missed, and of several overdue repeats only one is sent.

A reminder that a change of zone put in the past while it was still ahead waits for its
time from before the change (`moved`, from `travel.moved`): a blip of a zone changes
nothing, and a real trip gets it sent late or logged `missed`, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from sundown.core.plan import (
    ON_TIME,
    UTC,
    NightChanges,
    Occurrence,
    night_end,
    night_of,
    night_plan,
    window,
)
from sundown.core.routine import Routine
from sundown.core.state import NOTHING, ReminderNight

# A reminder whose deadline passed longer ago than this (the daemon was not
# running) is left alone rather than logged `missed` days later. Not one a change of
# zone put in the past: the daemon was there, so it is logged.
MISSED_HORIZON = timedelta(hours=12)


@dataclass(frozen=True)
class Send:
    """One notification to send now. Several occurrences = one combined late notification."""

    key: str
    occurrences: tuple[Occurrence, ...]
    repeat: int = 0
    late: timedelta = timedelta(0)
    snoozed: bool = False


@dataclass
class Decision:
    sends: list[Send] = field(default_factory=list)
    missed: list[Occurrence] = field(default_factory=list)
    # Keys (night, reminder) settled for now (acknowledged, skipped, snoozed): their notification goes.
    settled: list[tuple[date, str]] = field(default_factory=list)
    # Keys a change of zone put in the past, waiting for their time from before it: not due yet.
    waiting: list[tuple[date, str]] = field(default_factory=list)
    next_at: datetime | None = None


def message_key(night: date, reminder_id: str) -> str:
    return f"{night.isoformat()}/{reminder_id}"


def late_key(night: date) -> str:
    return f"{night.isoformat()}/late"


def decide(
    routine: Routine,
    zone: tzinfo,
    now: datetime,
    progress: Mapping[tuple[date, str], ReminderNight],
    changes: Mapping[date, NightChanges],
    log_start: datetime | None = None,
    moved: Mapping[tuple[date, str], datetime | None] | None = None,
) -> Decision:
    """Everything due at `now`, and when to look again.

    Nothing planned before `log_start` (when the log began) is logged missed: sundown
    was not there to send it. `moved`: the occurrences a change of zone put in the past,
    with their time from before it (`travel.moved`).
    """
    moved = moved or {}
    decision = Decision()
    upcoming: list[datetime] = [night_end(night_of(now, zone), zone)]  # re-plan at the night's turn
    for night in nights(now, zone, moved):
        plan = night_plan(routine, night, zone, changes.get(night, NightChanges()))
        if plan is None:
            continue
        late: list[Occurrence] = []
        for occ in plan.occurrences:
            done = progress.get(occ.key, NOTHING)
            if occ.skipped or done.acknowledged:
                if done.notified:
                    decision.settled.append(occ.key)
                continue
            if done.missed:
                continue
            if not done.notified:
                kept = moved.get(occ.key)
                status = occ.status_at(now)
                if occ.key in moved and kept is None and status != "pending":
                    continue  # left alone before a change of zone, and so after it
                if kept is not None and kept.astimezone(UTC) > now.astimezone(UTC):
                    decision.waiting.append(occ.key)
                    upcoming.append(kept)
                    continue
                if status == "pending":
                    upcoming.append(occ.at)
                elif status == "due":
                    decision.sends.append(Send(message_key(*occ.key), (occ,), late=now - occ.at))
                elif status == "late":
                    late.append(occ)
                elif kept is not None or not left_alone(occ, now, log_start):
                    decision.missed.append(occ)  # a reminder kept from before a change: it was seen
                if status in ("due", "late"):
                    upcoming.extend(t for t in occ.repeat_times() if t > now)
                continue
            _follow_up(occ, done, now, decision, upcoming)
        if len(late) == 1:
            occ = late[0]
            decision.sends.append(Send(message_key(*occ.key), (occ,), late=now - occ.at))
        elif late:
            decision.sends.append(Send(late_key(night), tuple(late), late=now - late[0].at))
    decision.next_at = min((t for t in upcoming if t > now), key=lambda t: t.astimezone(UTC), default=None)
    return decision


def _before(at: datetime, start: datetime | None) -> bool:
    return start is not None and at.astimezone(UTC) < start.astimezone(UTC)


def left_alone(occ: Occurrence, now: datetime, log_start: datetime | None) -> bool:
    """Its deadline has passed, but it is not logged `missed` (if never sent): it was due
    before the log began, or its deadline passed longer than MISSED_HORIZON ago (sundown
    was not there to send it)."""
    if now.astimezone(UTC) < occ.deadline.astimezone(UTC):
        return False
    return _before(occ.at, log_start) or now - occ.deadline >= MISSED_HORIZON


def nights(
    now: datetime, zone: tzinfo, kept: Mapping[tuple[date, str], datetime | None], *others: tzinfo
) -> list[date]:
    """The nights to look at: the window around `now` in `zone` (and in `others`), and any night
    with a reminder that keeps its time from before a change (an offset of more than a day,
    Honolulu -> Kiritimati, can leave it outside the new zone's window)."""
    found: set[date] = set(window(now, zone))
    for other in others:
        found.update(window(now, other))
    found.update(night for (night, _), at in kept.items() if at is not None)
    return sorted(found)


def _follow_up(
    occ: Occurrence, done: ReminderNight, now: datetime, decision: Decision, upcoming: list[datetime]
) -> None:
    """A notified, unacknowledged reminder: a snooze or a repeat may be due."""
    last = done.last_notified or occ.at
    if done.snoozed_until is not None:
        if done.snoozed_until > now:
            upcoming.append(done.snoozed_until)
            decision.settled.append(occ.key)  # back on screen when the snooze ends
        elif done.snoozed_until > last and now < max(occ.deadline, done.snoozed_until + ON_TIME):
            # A snooze is honoured past bedtime, but not one that came due long ago (suspend).
            decision.sends.append(
                Send(
                    message_key(*occ.key),
                    (occ,),
                    repeat=done.notified,
                    snoozed=True,
                    late=now - done.snoozed_until,
                )
            )
        return
    repeats = occ.repeat_times()
    passed = [i for i, t in enumerate(repeats, start=1) if t <= now]
    # Past the repeats already sent: after a trip west the new zone's repeat times come again,
    # and a repeat is never sent twice (nor more of them than `repeat_limit`).
    if passed and passed[-1] > done.repeats and repeats[passed[-1] - 1] > last and now < occ.bedtime:
        decision.sends.append(
            Send(message_key(*occ.key), (occ,), repeat=passed[-1], late=now - repeats[passed[-1] - 1])
        )
    upcoming.extend(t for t in repeats if t > now)
