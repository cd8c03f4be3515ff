"""An ignored reminder's escalation steps: louder again, a command, and whether a lock locked.

A step that runs a command which locks the screen (`locks_screen`) is checked
`LOCK_VERIFY_S` later against the sources that tell whether the session locked;
a step that did not lock is logged (`lock_failed`) and said in a notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sundown.core.context import QUIET, Escalation, locks_screen
from sundown.core.dispatch import Send, message_key
from sundown.runtime.messages import reminder_message

if TYPE_CHECKING:
    from sundown.runtime.commands import Commands
    from sundown.runtime.context import ContextWatch
    from sundown.runtime.ledger import Ledger
    from sundown.runtime.screen import Screen

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
        if step.urgency:
            key = message_key(*occ.key)
            seen = self.ledger.seen.get(occ.key, QUIET)
            self.screen.show(reminder_message(Send(key, (occ,)), seen, step.urgency), (occ,), (occ,))
        if step.run:
            self.commands.start(occ.reminder.id, step.run, self.ledger.loaded.path)
            if locks_screen(step.run):
                watch = self._watch()
                if watch is not None and watch.can_verify_lock():
                    self._later(
                        timedelta(seconds=LOCK_VERIFY_S), self.check_lock, occ.night, occ.reminder.id, now
                    )
                else:
                    log.info("%s: no source tells whether the screen locked; not verified", occ.reminder.id)

    def check_lock(self, night: date, rid: str, since: datetime) -> None:
        """After a lock step: did the session lock (LockedHint, the screensaver) since?"""
        watch = self._watch()
        if watch is not None and watch.locked_since(since):
            return
        log.warning("%s: the escalation step did not lock the screen within %g s", rid, LOCK_VERIFY_S)
        self.ledger.apply("lock_failed", night, rid, "daemon", waited_s=LOCK_VERIFY_S)
        self.screen.notice(
            "sundown could not lock the screen", "The escalation step ran, but the session did not lock."
        )
