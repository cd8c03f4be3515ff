"""An ignored reminder's escalation steps: louder again, a command, and whether a lock locked.

A step that runs a command which locks the screen (`locks_screen`) is checked
`LOCK_VERIFY_S` later against the sources that tell whether the session locked;
a step that did not lock is logged (`lock_failed`) and said in a notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sundown.core.context import QUIET, Escalation, locks_screen
from sundown.core.dispatch import Send, message_key
from sundown.runtime.messages import reminder_message

if TYPE_CHECKING:
    from sundown.runtime.commands import Commands
    from sundown.runtime.ledger import Ledger
    from sundown.runtime.screen import Screen
    from sundown.runtime.sources import ContextWatch

log = logging.getLogger("sundown")

LOCK_VERIFY_S = 5.0
Later = Callable[..., None]  # later(delay, fn, *args): fn(*args) on the worker, `delay` from now


class Escalator:
    """Executes the escalation steps the rules say are due."""

    def __init__(
        self,
        ledger: Ledger,
        screen: Screen,
        commands: Commands,
        later: Later,
        watch: Callable[[], ContextWatch | None],
    ) -> None:
        self.ledger = ledger
        self.screen = screen
        self.commands = commands
        self._later = later
        self._watch = watch

    def step(self, esc: Escalation, now: datetime) -> None:
        occ, step = esc.occurrence, esc.step
        number = esc.index + 1
        details: dict[str, Any] = {"step": number}
        if step.urgency:
            details["urgency"] = step.urgency
        if step.run:
            details["run"] = list(step.run)
        self.ledger.apply("escalated", occ.night, occ.reminder.id, "daemon", **details)
        log.info("escalated %s: step %d", occ.reminder.id, number)
        if esc.notify:  # None: its urgency rode on the repeat sent at this instant, or just before
            key = message_key(*occ.key)
            seen = self.ledger.seen.get(occ.key, QUIET)
            message = replace(reminder_message(Send(key, (occ,)), seen, esc.notify), body=occ.reminder.body)
            self.screen.show(message, (occ,), (occ,))
        if step.run:
            ran = self.commands.start(occ.reminder.id, step.run, self.ledger.loaded.path)
            if locks_screen(step.run):
                watch = self._watch()
                night, rid = occ.night, occ.reminder.id
                if watch is not None and watch.can_verify_lock():
                    self._later(timedelta(seconds=LOCK_VERIFY_S), self.check_lock, night, rid, now)
                elif ran is None:  # the config may not run commands (logged why)
                    self.lock_failed(night, rid, "was not run")
                else:  # nothing can see a lock here: its command's exit status is all there is
                    ended = self._command_ended
                    ran.add_done_callback(lambda f: self._later(timedelta(0), ended, night, rid, f))

    def check_lock(self, night: date, rid: str, since: datetime) -> None:
        """After a lock step: did the session lock (LockedHint, the screensaver) since?"""
        watch = self._watch()
        if watch is not None and watch.locked_since(since):
            return
        self.lock_failed(night, rid)

    def _command_ended(self, night: date, rid: str, ran: Future[str | None]) -> None:
        """A lock step's command ended where no source tells whether the session locked."""
        failure = None if ran.cancelled() or ran.exception() else ran.result()
        if failure is None:
            log.info("%s: the lock step ran; no source tells whether the screen locked", rid)
            return
        self.lock_failed(night, rid, failure)

    def lock_failed(self, night: date, rid: str, command: str | None = None) -> None:
        """The person is told: a lock step that did not lock is a broken promise (docs/context.md)."""
        if command is None:
            log.warning("%s: the escalation step did not lock the screen within %g s", rid, LOCK_VERIFY_S)
            self.ledger.apply("lock_failed", night, rid, "daemon", waited_s=LOCK_VERIFY_S)
            body = "The escalation step ran, but the session did not lock."
        else:
            log.warning("%s: the escalation step's lock command %s: the screen is not locked", rid, command)
            self.ledger.apply("lock_failed", night, rid, "daemon", command=command)
            body = f"The escalation step's lock command {command}."
        self.screen.notice("sundown could not lock the screen", body)
