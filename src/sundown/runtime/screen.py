"""The notifications on screen: the backend that shows them and what each one stands for.

A notification's key names what it stands for ("2026-11-25/magnesium"); a combined
one (several late reminders, or reminders joined on a one-at-a-time server) stands
for several. A notification goes when everything it names is settled; a combined
one is redrawn with the rest. A restarted daemon takes over the notifications its
previous process showed (their server ids are in the log's `notified` rows).
Runs on the daemon's worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sundown.core.dispatch import Send
from sundown.core.plan import Occurrence, window
from sundown.core.state import NOTHING
from sundown.notify import Backend, Message, NotifyError, OnAction, choose
from sundown.runtime.ledger import Ledger
from sundown.runtime.messages import combined_message, notice

log = logging.getLogger("sundown")

Key = tuple[date, str]


class Screen:
    """The backend and the notifications it shows; `deliver` never loses a reminder."""

    def __init__(self, name: str, on_action: OnAction, env: Mapping[str, str]) -> None:
        self.name = name  # the configured backend
        self._on_action = on_action
        self._env = env
        self.backend: Backend = choose(name, on_action, env)
        self.last_backend = name  # the one that delivered the last notification
        self.shown: dict[str, tuple[Key, ...]] = {}  # notification key -> what it stands for
        self.combined: dict[str, tuple[Occurrence, ...]] = {}  # the shown combined late notifications

    def use(self, name: str) -> None:
        """Another backend configured: the old one is closed."""
        if name != self.name:
            self.backend.close()
            self.name = name
            self.backend = choose(name, self._on_action, self._env)

    # -- showing ----------------------------------------------------------------------------

    def deliver(self, message: Message) -> str:
        """Send through the chosen backend; if it fails, the console: a reminder is never lost."""
        try:
            self.backend.send(message)
            self.last_backend = self.backend.delivered_by()
            return self.last_backend
        except NotifyError as exc:
            log.warning("%s backend failed (%s); printing the reminder instead", self.backend.name, exc)
        from sundown.notify.console import ConsoleBackend

        ConsoleBackend().send(message)
        return "console"

    def show(
        self, message: Message, stands_for: tuple[Occurrence, ...], combined: tuple[Occurrence, ...]
    ) -> str:
        """Deliver `message`, standing for `stands_for`; `combined`: the late ones it names."""
        by = self.deliver(message)
        self.shown[message.key] = tuple(o.key for o in stands_for)
        if len(combined) > 1:
            self.combined[message.key] = combined
        return by

    def shown_as(self, key: str) -> dict[str, object] | None:
        """The server's id for the notification shown for `key` (kept in the `notified` row)."""
        return self.backend.shown_as(key)

    def notice(self, title: str, body: str) -> None:
        """A notice about sundown itself (bad config, unwritable log): no buttons."""
        try:
            self.deliver(notice(title, body))
        except Exception as exc:  # never let a notice take down the daemon
            log.error("could not show notice %r: %s", title, exc)

    def withdraw_notice(self, title: str) -> None:
        self.backend.withdraw(notice(title, "").key)

    # -- what a notification stands for -------------------------------------------------------

    def stands_for(self, key: str) -> tuple[Key, ...]:
        """What the notification `key` names: as shown, or (shown before a restart) by its key."""
        return self.shown.get(key) or _parse_key(key)

    def answered(self, key: str) -> None:
        """Done or dismissed on screen: the notification is gone."""
        self.shown.pop(key, None)
        self.combined.pop(key, None)

    def withdraw_covering(self, keys: set[Key]) -> None:
        """Withdraw the open notifications that stand only for `keys` (answered elsewhere)."""
        for key, stands_for in list(self.shown.items()):
            if stands_for and all(k in keys for k in stands_for):
                self.backend.withdraw(key)
                del self.shown[key]

    def withdraw_settled(self, settled: set[Key], ledger: Ledger) -> list[str]:
        """A notification goes when all it names is settled; a combined one names only the rest.
        Returns the keys of the notifications withdrawn."""
        gone = []
        for key, stands_for in list(self.shown.items()):
            if not stands_for or not any(k in settled for k in stands_for):
                continue
            rest = tuple(k for k in stands_for if k not in settled)
            if not rest:
                self.backend.withdraw(key)
                del self.shown[key]
                gone.append(key)
            elif len(stands_for) > 1:
                occurrences = _planned(rest, self.combined.get(key, ()), ledger)
                if not occurrences:  # what it names left the routine
                    self.backend.withdraw(key)
                    del self.shown[key]
                    continue
                self.combined[key] = occurrences
                self.shown[key] = rest
                try:
                    self.backend.send(combined_message(key, occurrences))  # same key: replaces it
                except NotifyError as exc:
                    log.warning("could not update the notification %s: %s", key, exc)
        return gone

    def join_open(self, send: Send, now: datetime, ledger: Ledger) -> Send:
        """On a server that shows one notification at a time (notification-daemon) and queues the
        rest, a reminder sent while another is unanswered on screen would wait, hidden, behind it
        (ours never expire): it replaces the open one instead, with one notification naming both."""
        if not self.shown or not self.backend.one_at_a_time:
            return send
        mine = {o.key for o in send.occurrences}
        others = {k for stands_for in self.shown.values() for k in stands_for} - mine
        waiting = []
        for folded in ledger.nights(sorted({night for night, _ in others})).values():
            for occ in folded.plan.occurrences if folded.plan else ():
                done = folded.states.get(occ.reminder.id, NOTHING)
                snoozed = done.snoozed_until is not None and done.snoozed_until > now
                answered = done.acknowledged is not None or done.missed or done.dismissed or snoozed
                if occ.key in others and not (occ.skipped or answered):
                    waiting.append(occ)
        key = next(iter(self.shown))  # the open one (there is one at a time) is replaced
        for other in list(self.shown)[1:]:
            self.backend.withdraw(other)
            del self.shown[other]
        return replace(send, key=key, occurrences=(*waiting, *send.occurrences))

    # -- a restart ---------------------------------------------------------------------------

    def take_over(self, ledger: Ledger) -> bool:
        """The notifications a previous daemon process showed: a repeat replaces them, a settled
        one is closed, their buttons are heard (once `listen` connects). True when there are any."""
        found: dict[str, dict[str, Any]] = {}
        for night in window(ledger.clock(), ledger.loaded.zone):
            for event in ledger.night_events(night):
                ref = event.details.get("notification") if event.event == "notified" else None
                if not isinstance(ref, dict) or not isinstance(ref.get("key"), str) or event.reminder is None:
                    continue
                # The latest row wins: a server may give a repeat a new id, a key may stand for others.
                found[ref["key"]] = ref
                together = event.details.get("together")
                if not isinstance(together, list) or not all(isinstance(r, str) for r in together):
                    together = [event.reminder]  # a row that says something else says nothing
                self.shown[ref["key"]] = tuple((night, rid) for rid in together)
        for key, ref in found.items():
            self.backend.adopt(key, ref)
        return bool(found)

    def listen(self) -> None:
        """Connect now, so the buttons of notifications taken over are heard."""
        self.backend.listen()

    def forget_before(self, first_night: date) -> None:
        # Notifications never acted on (dismissed, left on screen) would otherwise pile up, one a night.
        self.shown = {k: v for k, v in self.shown.items() if any(night >= first_night for night, _ in v)}
        self.combined = {k: v for k, v in self.combined.items() if k in self.shown}

    def close(self) -> None:
        self.backend.close()


def _planned(keys: tuple[Key, ...], known: tuple[Occurrence, ...], ledger: Ledger) -> tuple[Occurrence, ...]:
    """The occurrences `keys` name: as sent, or (a notification a previous process showed)
    as planned now."""
    found = {o.key: o for o in known}
    for night in {n for n, _ in keys} - {n for n, _ in found}:
        plan = ledger.night(night).plan
        found.update({o.key: o for o in plan.occurrences} if plan else {})
    return tuple(found[k] for k in keys if k in found)


def _parse_key(key: str) -> tuple[Key, ...]:
    night, _, rid = key.partition("/")
    try:
        return ((date.fromisoformat(night), rid),) if rid and rid != "late" else ()
    except ValueError:
        return ()
