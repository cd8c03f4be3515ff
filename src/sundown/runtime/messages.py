"""What a notification says: a reminder, several late ones together, a notice about sundown."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, tzinfo

from sundown.core.answers import snooze_refused
from sundown.core.context import Attention
from sundown.core.dispatch import Send
from sundown.core.plan import ON_TIME, Occurrence
from sundown.core.vocabulary import Urgency
from sundown.notify import Message


def reminder_message(send: Send, seen: Attention, urgency: Urgency = "normal") -> Message:
    """One reminder (or several late ones, combined); no Snooze once its `snooze_limit` is used up."""
    if len(send.occurrences) > 1:
        return replace(combined_message(send.key, send.occurrences), urgency=urgency)
    first = send.occurrences[0]
    body = first.reminder.body
    if send.late > ON_TIME and not send.snoozed and send.repeat == 0:
        body = f"{body}\n(late: was due at {hm(first.at)})".strip()
    snooze = not snooze_refused(first.reminder.snooze_limit, seen.snoozes)
    return Message(send.key, first.reminder.title, body, urgency, snooze=snooze)


def joined_message(send: Send, urgency: Urgency = "normal") -> Message:
    """Reminders waiting on a one-at-a-time server: one notification naming each."""
    lines = [f"{hm(o.at)}  {o.reminder.title}" for o in send.occurrences]
    title = ", ".join(o.reminder.title for o in send.occurrences)
    return Message(send.key, title, "\n".join(lines), urgency)


def combined_message(key: str, occurrences: tuple[Occurrence, ...]) -> Message:
    """One notification for several late reminders, naming each of them."""
    lines = [f"{hm(o.at)}  {o.reminder.title}" for o in occurrences]
    if len(lines) == 1:
        return Message(key, f"{occurrences[0].reminder.title} came due while away", lines[0])
    return Message(key, f"{len(lines)} reminders came due while away", "\n".join(lines))


def notice(title: str, body: str) -> Message:
    """A notice about sundown itself (bad config, unwritable log): no buttons, the usual timeout."""
    return Message(f"notice/{title}", title, body, "normal", actions=False, expire_ms=-1)


def hm(at: datetime, zone: tzinfo | None = None) -> str:
    """A time for a person: its wall clock in the routine's `zone` (an instant the daemon keeps in
    UTC, a hold's end, when someone left, reads as their clock, not UTC's). Without `zone`: the
    time's own, for an occurrence, planned in that zone already."""
    return (at.astimezone(zone) if zone is not None else at).strftime("%H:%M")
