"""The person's context (busy, away) and what it changes about a decision. Pure.

`dispatch.decide` says what the clock wants; `adjust` takes that decision, a
snapshot of the person's context and what already happened to each reminder
(`Attention`), and says what actually happens at `now`:

- busy (Do Not Disturb, presenting, a fullscreen window) with `quiet = "defer"`:
  a due reminder (or a snooze's end) is held back (`deferred`) until the state
  ends, or until `max_defer` after its own time, when it goes out with urgency
  critical; `urgent` reminders are never held back;
- away: `done_when = "idle"` / `"locked"` reminders are acknowledged by
  themselves, at the later of their time and the moment the person left;
- ignored: `escalate` steps fall due `after` the first notification, once each,
  while the person is active, and stop on snooze, idle or lock.

It also sets each notification's urgency: a reminder's own (critical only when
`urgent`), raised by the escalation steps it has reached, critical when released
at `max_defer`. Whatever falls due for one reminder at one instant (a repeat and
an escalation step, say) is one notification with the strongest urgency among
them: GNOME shows critical banners one at a time and never hides them, and KDE
Plasma refuses a second similar notification within a second. A step due up to
`TOGETHER` after a repeat counts as due with it: its urgency goes out on the
repeat, and a command it runs still runs at its own time, with no notification.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

from sundown.core.dispatch import Decision, Send, message_key
from sundown.core.plan import ON_TIME, UTC, NightChanges, Occurrence, night_end, night_plan, window
from sundown.core.routine import ContextRules, Routine, Step
from sundown.core.state import NOTHING, ReminderNight
from sundown.core.vocabulary import URGENCIES, Urgency

Key = tuple[date, str]
Waiting = Literal["busy", "idle", "locked"]  # what a verdict may wait on
POLL = timedelta(seconds=5)  # how often a source that cannot signal is asked, while something waits on it
# A reminder held back while a fullscreen window or a logind idle inhibitor may be the reason
# looks again this often (one X round trip, one D-Bus call), so it goes out within 2 s of the
# state ending; nothing is asked while no reminder is held.
FULLSCREEN_POLL = timedelta(seconds=1.5)
BUSY_REASONS: tuple[str, ...] = ("dnd", "presenting", "fullscreen")
# An escalation step due this soon after a repeat of its reminder gives the repeat its urgency.
TOGETHER = ON_TIME
CAPABILITIES: tuple[str, ...] = ("dnd", "presenting", "fullscreen", "idle", "locked", "zone")


@dataclass(frozen=True)
class Context:
    """What the desktop says about the person at one instant; None = unknown (no source)."""

    dnd: bool | None = None
    presenting: bool | None = None
    fullscreen: bool | None = None
    idle_since: datetime | None = None  # start of the current period without input; None: active/unknown
    idle_known: bool = False
    locked: bool | None = None
    locked_since: datetime | None = None

    def busy(self) -> str | None:
        """Why the person should not be interrupted now, or None."""
        for reason in BUSY_REASONS:
            if getattr(self, reason):
                return reason
        return None

    def idle_for(self, now: datetime) -> timedelta:
        return max(now - self.idle_since, timedelta(0)) if self.idle_since is not None else timedelta(0)

    def away(self, now: datetime, rules: ContextRules) -> bool:
        return bool(self.locked) or (self.idle_since is not None and self.idle_for(now) >= rules.idle)


UNKNOWN = Context()


@dataclass(frozen=True)
class Attention:
    """What the context rules need to know about one reminder on one night, beyond `ReminderNight`."""

    first_notified: datetime | None = None
    steps_done: frozenset[int] = frozenset()
    snoozes: int = 0
    deferred: bool = False
    deferred_until: datetime | None = None  # the `until` of its latest `deferred` row
    escalation_stopped: bool = False


QUIET = Attention()


@dataclass(frozen=True)
class Held:
    """A send held back because the person is busy."""

    send: Send
    reason: str
    until: datetime  # max_defer after its time (or after its snooze's end): sent then at the latest
    # The occurrences whose hold is new (no `deferred` row with this `until` yet): a snooze that
    # ends during Do Not Disturb is held anew and announced, though its first send was deferred too.
    announce: tuple[Key, ...] = ()


@dataclass(frozen=True)
class AwayAck:
    key: Key
    at: datetime  # when the person actually left (or the reminder's time, if later)
    source: str  # "idle" | "lock"
    notified: bool  # False: acknowledged before any notification went out


@dataclass(frozen=True)
class Escalation:
    occurrence: Occurrence
    index: int  # 0-based position in `escalate`
    step: Step
    # The urgency of the notification this step shows by itself; None when it shows none: it
    # only runs a command, or its urgency rides on another notification due at the same instant.
    notify: Urgency | None = None
    # Its urgency went out with a repeat sent just before its time (`TOGETHER`): at its own
    # time it runs its command only, and shows no second notification.
    shown_ahead: bool = False


@dataclass
class Verdict:
    sends: list[tuple[Send, Urgency]] = field(default_factory=list)  # (send, urgency); one per reminder
    held: list[Held] = field(default_factory=list)
    missed: list[Occurrence] = field(default_factory=list)  # the decision's, less those still deferred
    acks: list[AwayAck] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    stop_escalating: list[Key] = field(default_factory=list)
    next_at: datetime | None = None
    # What something waits on: a source that can only be asked is then asked again (`next_look`).
    waits_on: set[Waiting] = field(default_factory=set)
    idle_check_at: datetime | None = None


def next_look(
    verdict: Verdict, now: datetime, idle_since: datetime | None, asked: Collection[Waiting]
) -> datetime | None:
    """The next tick: the clock's next instant, or sooner to ask a source that cannot signal
    (`asked`: what is known here only by asking), or when the first escalation step of a
    reminder just sent falls due."""
    times = [verdict.next_at]
    for send, _ in verdict.sends:  # just notified: its first escalation step counts from now
        times.extend(now + step.after for o in send.occurrences for step in o.reminder.escalate[:1])
    if "busy" in verdict.waits_on and "busy" in asked:
        times.append(now + FULLSCREEN_POLL)
    check = verdict.idle_check_at
    if check is not None:
        if "idle" in asked:
            times.append(max(check, now + POLL))
        elif idle_since is not None:
            times.append(check)
    return _earliest(*times)


def _earliest(*times: datetime | None) -> datetime | None:
    return min((t for t in times if t is not None), key=lambda t: t.astimezone(UTC), default=None)


def louder(*urgencies: Urgency | None) -> Urgency:
    """The strongest of `urgencies` (low < normal < critical); normal when none is given."""
    given = [u for u in urgencies if u is not None]
    return max(given, key=URGENCIES.index) if given else "normal"


def own_urgency(occ: Occurrence, seen: Attention) -> Urgency:
    """The urgency a reminder goes out with at its time or as a repeat: critical when `urgent`,
    else the loudest escalation step it has reached tonight (an escalation is not undone by
    the next repeat), else normal. Never critical just for being a repeat: GNOME shows one
    critical banner at a time and never hides it, holding every later banner back."""
    if occ.reminder.urgent:
        return "critical"
    steps = occ.reminder.escalate
    return louder(*(steps[i].urgency for i in seen.steps_done if i < len(steps)))


@dataclass(frozen=True)
class _Scene:
    """What `adjust` and each of its steps look at, taken once."""

    routine: Routine
    zone: tzinfo
    now: datetime
    progress: Mapping[Key, ReminderNight]
    attention: Mapping[Key, Attention]
    changes: Mapping[date, NightChanges]
    ctx: Context

    def open_occurrences(self) -> Iterable[Occurrence]:
        """Occurrences in the window neither skipped, acknowledged nor missed, before their night ends."""
        now, zone = self.now, self.zone
        for night in window(now, zone):
            plan = night_plan(self.routine, night, zone, self.changes.get(night, NightChanges()))
            if plan is None or now >= night_end(night, zone):
                continue
            for occ in plan.occurrences:
                done = self.progress.get(occ.key, NOTHING)
                if occ.skipped or done.acknowledged or done.missed:
                    continue
                yield occ


def adjust(
    routine: Routine,
    zone: tzinfo,
    now: datetime,
    decision: Decision,
    progress: Mapping[Key, ReminderNight],
    attention: Mapping[Key, Attention],
    changes: Mapping[date, NightChanges],
    ctx: Context,
) -> Verdict:
    """What happens at `now` once the person's context is taken into account."""
    scene = _Scene(routine, zone, now, progress, attention, changes, ctx)
    rules = routine.context
    verdict = Verdict(next_at=decision.next_at)
    acked = _away_acks(scene, set(decision.waiting), verdict)
    for occ in decision.missed:
        # Deferred past its deadline (a reminder at bedtime, say): still sent, until max_defer.
        seen = attention.get(occ.key, QUIET)
        if seen.deferred and rules.quiet == "defer" and now < occ.at + rules.max_defer + ON_TIME:
            if occ.key not in acked:
                send = Send(message_key(*occ.key), (occ,), late=now - occ.at)
                _send_or_hold(scene, send, verdict)
        else:
            verdict.missed.append(occ)
    for send in decision.sends:
        occs = tuple(o for o in send.occurrences if o.key not in acked)
        if not occs:
            continue
        if occs != send.occurrences:
            send = replace(send, occurrences=occs)
        _send_or_hold(scene, send, verdict)
    sending = {o.key for send in decision.sends for o in send.occurrences} | acked
    for send in _snoozes_held_past_the_deadline(scene, sending):
        _send_or_hold(scene, send, verdict)
    _escalate(scene, acked, verdict)
    _one_notification_each(verdict)
    return verdict


def _send_or_hold(scene: _Scene, send: Send, verdict: Verdict) -> None:
    now, rules, ctx, attention = scene.now, scene.routine.context, scene.ctx, scene.attention
    repeat = send.repeat > 0 and not send.snoozed
    # A first notification or a snooze's end starts afresh; a repeat keeps what escalation reached.
    urgency = louder(
        *(own_urgency(o, attention.get(o.key, QUIET) if repeat else QUIET) for o in send.occurrences)
    )
    if any(o.reminder.urgent for o in send.occurrences):
        verdict.sends.append((send, "critical"))
        return
    reason = ctx.busy()
    if repeat:
        # A repeat while busy waits for the next repeat (or the end of the state); never released
        # at max_defer (the reminder it repeats was shown already).
        if reason and rules.quiet == "defer":
            verdict.waits_on.add("busy")
            return
        verdict.sends.append((send, urgency))
        return
    if reason is None or rules.quiet == "ignore":
        verdict.sends.append((send, urgency))
        return
    base = now - send.late if send.snoozed else min(o.at for o in send.occurrences)
    until = base + rules.max_defer
    if now < until:
        new = tuple(o.key for o in send.occurrences if attention.get(o.key, QUIET).deferred_until != until)
        verdict.held.append(Held(send, reason, until, new))
        verdict.waits_on.add("busy")
        verdict.next_at = _earliest(verdict.next_at, until)
        return
    verdict.sends.append((send, "critical"))  # past max_defer: through Do Not Disturb


def _snoozes_held_past_the_deadline(scene: _Scene, sending: set[Key]) -> Iterable[Send]:
    """A snooze's end held back while busy stays due until its own max_defer, though `decide`
    gives up on a snooze once the reminder's deadline (its bedtime) has passed."""
    routine, now, progress, attention = scene.routine, scene.now, scene.progress, scene.attention
    if routine.context.quiet != "defer" or not any(a.deferred_until for a in attention.values()):
        return
    for occ in scene.open_occurrences():
        done = progress.get(occ.key, NOTHING)
        end = done.snoozed_until
        hold = attention.get(occ.key, QUIET).deferred_until
        if occ.key in sending or end is None or hold is None or end > now:
            continue
        if end <= (done.last_notified or occ.at) or hold != end + routine.context.max_defer:
            continue  # shown since, or not this snooze's hold
        if now < hold + ON_TIME:
            yield Send(message_key(*occ.key), (occ,), repeat=done.notified, snoozed=True, late=now - end)


def _one_notification_each(verdict: Verdict) -> None:
    """Whatever is due for one reminder now goes out as one notification, with the strongest
    urgency: an escalation step due with a send rides on it, and of several steps due at once
    (after a suspend, say) only the first shows a notification, with the loudest urgency."""
    sent = {o.key: i for i, (send, _) in enumerate(verdict.sends) for o in send.occurrences}
    loudest: dict[Key, Urgency] = {}
    for esc in verdict.escalations:
        if esc.step.urgency and not esc.shown_ahead:
            loudest[esc.occurrence.key] = louder(loudest.get(esc.occurrence.key), esc.step.urgency)
    for key, urgency in loudest.items():
        if key in sent:
            send, before = verdict.sends[sent[key]]
            verdict.sends[sent[key]] = (send, louder(before, urgency))
    shown: set[Key] = set(sent)
    for n, esc in enumerate(verdict.escalations):
        key = esc.occurrence.key
        if esc.step.urgency and not esc.shown_ahead and key not in shown:
            verdict.escalations[n] = replace(esc, notify=loudest[key])
            shown.add(key)


def _away_acks(scene: _Scene, waiting: set[Key], verdict: Verdict) -> set[Key]:
    now, progress, ctx, rules = scene.now, scene.progress, scene.ctx, scene.routine.context
    if not any(r.done_when for r in scene.routine.reminders):
        return set()
    acked: set[Key] = set()
    for occ in scene.open_occurrences():
        mode = occ.reminder.done_when
        if mode is None or occ.at > now or occ.key in waiting:
            continue  # not due yet (a change of zone may have put it in the past: it waits)
        done = progress.get(occ.key, NOTHING)
        if mode == "locked":
            verdict.waits_on.add("locked")
            if ctx.locked:
                # Locked since before sundown looked (no source says when): at its time.
                at = max(occ.at, ctx.locked_since) if ctx.locked_since else occ.at
                acked.add(occ.key)
                verdict.acks.append(AwayAck(occ.key, at, "lock", bool(done.notified)))
            continue
        verdict.waits_on.add("idle")
        if ctx.idle_since is not None and ctx.idle_for(now) >= rules.idle:
            at = max(occ.at, ctx.idle_since)
            acked.add(occ.key)
            verdict.acks.append(AwayAck(occ.key, at, "idle", bool(done.notified)))
        else:
            check = now + (rules.idle - ctx.idle_for(now))
            verdict.idle_check_at = _earliest(verdict.idle_check_at, check)
    return acked


def _escalate(scene: _Scene, acked: set[Key], verdict: Verdict) -> None:
    routine, now, progress, attention = scene.routine, scene.now, scene.progress, scene.attention
    if not any(r.escalate for r in routine.reminders):
        return
    sending = {o.key for send, _ in verdict.sends for o in send.occurrences}
    for occ in scene.open_occurrences():
        steps = occ.reminder.escalate
        if not steps or occ.key in acked:
            continue
        done = progress.get(occ.key, NOTHING)
        seen = attention.get(occ.key, QUIET)
        if not done.notified or seen.first_notified is None or seen.escalation_stopped:
            continue
        if done.snoozed_until is not None or seen.snoozes:
            # A snooze is an answer: no more escalation tonight. `snoozes` too: what this
            # process saw of the answers, whatever the log's fold keeps of them.
            continue
        pending = [(i, s) for i, s in enumerate(steps) if i not in seen.steps_done]
        # A step counts from the first notification, a repeat from the reminder's time: with
        # repeat = "10m" and a step after "10m" the two fall due the first notification's few
        # milliseconds of lateness apart. A step due up to TOGETHER after a repeat gives that
        # repeat its urgency, as one notification: one that only sets an urgency comes with it
        # whole; one that runs a command (a lock) runs it at its own time, never sooner, and
        # shows no notification of its own then.
        soon = now + TOGETHER if occ.key in sending else now
        due: list[tuple[int, Step]] = []
        ahead: Urgency | None = None
        for i, s in pending:
            when = seen.first_notified + s.after
            if when <= now or (when <= soon and s.urgency and not s.run):
                due.append((i, s))
            elif when <= soon and s.urgency:
                ahead = louder(ahead, s.urgency)
        if (due or ahead) and scene.ctx.away(now, routine.context):
            verdict.stop_escalating.append(occ.key)
            continue
        if ahead is not None:
            _raise_send(verdict, occ.key, ahead)
        verdict.escalations.extend(
            Escalation(
                occ, i, s, shown_ahead=_shown_with_a_repeat(occ, done, seen.first_notified + s.after, s)
            )
            for i, s in due
        )
        taken = {i for i, _ in due}
        later = [
            seen.first_notified + s.after
            for i, s in pending
            if i not in taken and seen.first_notified + s.after > now
        ]
        verdict.next_at = _earliest(verdict.next_at, *later)
        if later:
            verdict.waits_on.add("idle")


def _raise_send(verdict: Verdict, key: Key, urgency: Urgency) -> None:
    """The notification sent now for `key` goes out at least this loud."""
    verdict.sends = [
        (send, louder(before, urgency) if any(o.key == key for o in send.occurrences) else before)
        for send, before in verdict.sends
    ]


def _shown_with_a_repeat(occ: Occurrence, done: ReminderNight, when: datetime, step: Step) -> bool:
    """Whether a step due at `when` that runs a command already had its urgency shown by a
    repeat: one due up to TOGETHER before `when` and sent (the notification after it is a
    repeat's). The tick that sent that repeat gave it the step's urgency (`_escalate`)."""
    if not (step.urgency and step.run) or not done.repeats or done.last_notified is None:
        return False
    last = done.last_notified.astimezone(UTC)
    start = (when - TOGETHER).astimezone(UTC)
    return any(start <= t.astimezone(UTC) <= min(last, when.astimezone(UTC)) for t in occ.repeat_times())


def attention_of(night: date, events: Iterable[Any]) -> dict[Key, Attention]:
    """Attention per reminder from one night's log events (objects with event/reminder/ts/details)."""
    found: dict[Key, Attention] = {}
    for ev in events:
        if ev.reminder is None:
            continue
        key = (night, ev.reminder)
        seen = found.get(key, QUIET)
        if ev.event == "notified" and seen.first_notified is None:
            seen = replace(seen, first_notified=ev.ts)
        elif ev.event == "escalated":
            step = (ev.details or {}).get("step")
            if isinstance(step, int):
                seen = replace(seen, steps_done=seen.steps_done | {step - 1})
        elif ev.event == "snoozed":
            seen = replace(seen, snoozes=seen.snoozes + 1)
        elif ev.event == "deferred":
            seen = replace(seen, deferred=True, deferred_until=_instant((ev.details or {}).get("until")))
        else:
            continue
        found[key] = seen
    return found


def merge(a: Attention, b: Attention) -> Attention:
    """Two views of one reminder (the log and the daemon's memory): everything either has seen."""
    firsts = [t for t in (a.first_notified, b.first_notified) if t is not None]
    holds = [t for t in (a.deferred_until, b.deferred_until) if t is not None]
    return Attention(
        first_notified=min(firsts) if firsts else None,
        steps_done=a.steps_done | b.steps_done,
        snoozes=max(a.snoozes, b.snoozes),
        deferred=a.deferred or b.deferred,
        deferred_until=max(holds, key=lambda t: t.astimezone(UTC)) if holds else None,
        escalation_stopped=a.escalation_stopped or b.escalation_stopped,
    )


def _instant(value: object) -> datetime | None:
    """An ISO time from a row's details; None for anything else (a row is never trusted)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def locks_screen(argv: tuple[str, ...]) -> bool:
    """A `run` step that locks the session (verified through logind's LockedHint afterwards)."""
    words = " ".join(argv).lower()
    return "lock" in words and "unlock" not in words


def snapshot(values: Mapping[str, Any]) -> dict[str, Any]:
    """`status --json`'s "context": each capability's value, null where unknown."""
    return {cap: values.get(cap) for cap in ("dnd", "presenting", "fullscreen", "idle_s", "locked", "zone")}
