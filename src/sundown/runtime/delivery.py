"""A verdict carried out: reminders missed, acknowledged by themselves, held back, sent.

`context.adjust` says what happens at `now`; this writes it to the screen and the
ledger (and to the phone, while push is on). Runs on the daemon's worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from sundown.core.context import QUIET, AwayAck, Held, Verdict
from sundown.core.dispatch import Send
from sundown.core.plan import Occurrence
from sundown.core.vocabulary import Urgency
from sundown.runtime.messages import hm, joined_message, reminder_message

if TYPE_CHECKING:
    from sundown.runtime.commands import Commands
    from sundown.runtime.escalation import Escalator
    from sundown.runtime.ledger import Ledger
    from sundown.runtime.push import PushLink
    from sundown.runtime.screen import Screen

log = logging.getLogger("sundown")


class Delivery:
    """Carries out a verdict on the screen and in the ledger."""

    def __init__(
        self,
        ledger: Ledger,
        screen: Screen,
        commands: Commands,
        escalator: Escalator,
        push: Callable[[], PushLink | None],
        away: Callable[[], bool | None],
    ) -> None:
        self.ledger = ledger
        self.screen = screen
        self.commands = commands
        self.escalator = escalator
        self._push = push
        self._away = away
        # The line a night's first notification after a replan carries (`Morning.why`); none here.
        self.why: Callable[[Send], str | None] = lambda send: None
        # The urgency sundown's own reminders need to show through its own wind-down Do Not
        # Disturb (critical on GNOME, Plasma, xfce4-notifyd; `WindDownLink.own_dnd`); none here.
        self.through_dnd: Callable[[], str | None] = lambda: None

    @property
    def zone(self) -> tzinfo:
        """The routine's zone, as reloaded: the log's times read as the person's clock."""
        return self.ledger.loaded.zone

    def carry_out(self, verdict: Verdict, now: datetime) -> None:
        for occ in verdict.missed:
            self.missed(occ)
        for ack in verdict.acks:
            self.away_ack(ack)
        for held in verdict.held:
            self.defer(held)
        for send, urgency in verdict.sends:
            self.send(send, now, urgency)
        for step in verdict.escalations:
            self.escalator.step(step, now)
        for key in verdict.stop_escalating:
            self.ledger.stop_escalating(key)

    def missed(self, occ: Occurrence) -> None:
        log.info("missed %s on night %s (due %s)", occ.reminder.id, occ.night, hm(occ.at, self.zone))
        self.ledger.apply("missed", occ.night, occ.reminder.id, "daemon", at=occ.at.isoformat())

    def defer(self, held: Held) -> None:
        for occ in held.send.occurrences:
            if occ.key not in held.announce:
                continue  # this hold is logged already
            until = hm(held.until, self.zone)
            log.info("deferred %s (%s) until %s at the latest", occ.reminder.id, held.reason, until)
            self.ledger.apply(
                "deferred",
                occ.night,
                occ.reminder.id,
                "daemon",
                reason=held.reason,
                until=held.until.isoformat(),
            )

    def away_ack(self, ack: AwayAck) -> None:
        night, rid = ack.key
        log.info("%s acknowledged by itself (%s since %s)", rid, ack.source, hm(ack.at, self.zone))
        self.ledger.apply("acknowledged", night, rid, ack.source, ts=ack.at, notified=ack.notified)

    def send(self, send: Send, now: datetime, urgency: Urgency = "normal") -> None:
        if urgency == "normal" and self.through_dnd() == "critical":
            urgency = "critical"  # inside the wind-down's own Do Not Disturb: still on the screen
        shown = self.screen.join_open(send, now, self.ledger)
        if len(shown.occurrences) > len(send.occurrences):
            message = joined_message(shown, urgency)
        else:
            message = reminder_message(shown, self.ledger.seen.get(shown.occurrences[0].key, QUIET), urgency)
        why = self.why(send)
        if why is not None:  # "Tomorrow starts 07:30 (Flight): bedtime 22:15"
            message = replace(message, body=f"{message.body}\n{why}".strip())
        delivered_by = self.screen.show(message, shown.occurrences, send.occurrences)
        push = self._push()
        if push is not None:
            own = message if shown.occurrences == send.occurrences else reminder_message(send, QUIET)
            push.on_send(send, own.title, own.body, self._away())
        # Its id on the server, so that a restarted daemon replaces and closes it (Screen.take_over).
        ref = self.screen.shown_as(message.key) if delivered_by == "dbus" else None
        together = [o.reminder.id for o in shown.occurrences]
        for occ in send.occurrences:
            details: dict[str, Any] = {
                "late": int(max((now - occ.at).total_seconds(), 0)) if send.repeat == 0 else 0,
                "repeat": send.repeat,
                "backend": delivered_by,
                "at": occ.at.isoformat(),
                "bedtime": occ.bedtime.isoformat(),
            }
            if len(together) > 1:
                details["together"] = together
            if send.snoozed:
                details["snoozed"] = True
            if ref:
                details["notification"] = {"key": message.key, **ref}
            if urgency != "normal":
                details["urgency"] = urgency
            if why is not None:
                details["why"] = why
            self.ledger.apply("notified", occ.night, occ.reminder.id, "daemon", **details)
            if send.repeat == 0 and not send.snoozed and occ.reminder.run:
                self.commands.start(occ.reminder.id, occ.reminder.run, self.ledger.loaded.path)
        log.info("notified %s via %s", message.title, delivered_by)
