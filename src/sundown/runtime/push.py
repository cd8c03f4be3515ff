"""The daemon's side of push: what to publish when, and answers applied like button presses.

Imported only when `[push]` is configured. Every method but `on_stream_message` runs
on the daemon's worker thread, like everything that touches its state; the ntfy
adapter's threads only hand over (`Daemon.call`) and wait.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sundown.core import push as rules
from sundown.core.dispatch import Send, window
from sundown.core.plan import ON_TIME
from sundown.push.ntfy import ANSWER_WAIT_S, NtfyPush, read_token

if TYPE_CHECKING:
    from sundown.core.routine import Push
    from sundown.runtime.daemon import Daemon

log = logging.getLogger("sundown.push")

Key = tuple[date, str]


class PushLink:
    def __init__(self, daemon: Daemon, push: Push) -> None:
        self.daemon = daemon
        self.push = push
        self.counts = {"unparsed": 0, "unknown": 0, "duplicate": 0, "applied": 0}
        self.pushed: set[str] = set()  # notification keys with a copy on the phone
        self.handed_over: dict[str, tuple[tuple[Key, ...], datetime, rules.Publication]] = {}
        token = read_token(push.token_file)
        self.client = NtfyPush(push, daemon.paths.state_dir, self.on_stream_message, token)

    def start(self) -> None:
        self.client.start()

    def close(self) -> None:
        self.client.close()

    # -- out: reminders and desktop answers --------------------------------------------------

    def on_send(self, send: Send, title: str, body: str, away: bool | None) -> None:
        ids = tuple(o.reminder.id for o in send.occurrences)
        if not rules.should_push(self.push, ids, away):
            return
        pub = rules.publication(
            send.key,
            title,
            body,
            send.occurrences,
            urgent=any(getattr(o.reminder, "urgent", False) for o in send.occurrences),
            repeat=send.repeat,
            late=send.late > ON_TIME and not send.repeat and not send.snoozed,
        )
        self.pushed.add(send.key)
        self.client.publish(pub)

    def on_settled(self, key: str) -> None:
        """Acknowledged or skipped here: the phone's copy goes too."""
        if key in self.pushed:
            self.pushed.discard(key)
            self.client.clear(rules.sequence_id(key))

    def on_desktop_answer(self, key: str, stands_for: tuple[Key, ...], action: str) -> None:
        """Done or Snooze on this desktop: every other machine (and the phone's copy) learns it."""
        if action not in rules.ACTIONS:
            return
        by_night: dict[date, list[str]] = {}
        for night, rid in stands_for:
            by_night.setdefault(night, []).append(rid)
        for night, rids in by_night.items():
            nonce = uuid.uuid4().hex[:16]
            self.client.answer(rules.encode_answer(night, tuple(rids), action, self.push.device, nonce))
        self.on_settled(key)

    # -- in: answers from the reply stream ---------------------------------------------------

    def on_stream_message(self, event: dict[str, Any]) -> bool:
        """From the subscriber thread: True once the worker has applied (or ignored) it."""
        try:
            self.daemon.call(self.handle_answer, event, timeout=ANSWER_WAIT_S)
            return True
        except Exception as exc:  # busy or stopping: the adapter replays it
            log.warning("an answer from the push server was not handled yet: %s", exc)
            return False

    def handle_answer(self, event: dict[str, Any]) -> str:
        answer = rules.parse_answer(event)
        if answer is None:
            self.counts["unparsed"] += 1
            return "unparsed"
        if answer.origin == self.push.device:
            return "own"  # our own desktop's answer, echoed back: already applied here
        d = self.daemon
        now = d.clock()
        routine, zone = d.loaded.routine, d.loaded.zone
        nights = window(now, zone)
        progress, changes = d._state(nights)
        seen = self._seen(answer.night) if answer.night in nights else set()
        verdict = rules.classify(answer, routine, zone, now, progress, changes, seen)
        if verdict != "apply":
            self.counts[verdict] += 1
            log.info("ignored a %s answer from %s (%s)", answer.action, answer.source, verdict)
            return verdict
        self.counts["applied"] += 1
        at = min(answer.at or now, now)
        for rid in answer.reminders:
            key = (answer.night, rid)
            if answer.action == "done":
                d.record_at(at, "acknowledged", answer.night, rid, answer.source, answer=answer.ident)
                d._remember(key, acknowledged=True)
            else:
                until = at + routine.snooze
                d.record_at(
                    at,
                    "snoozed",
                    answer.night,
                    rid,
                    answer.source,
                    until=until.isoformat(),
                    answer=answer.ident,
                )
                d._remember(key, snoozed_until=until)
        log.info("%s from %s: %s", answer.action, answer.source, ", ".join(answer.reminders))
        d.withdraw_covering({(answer.night, rid) for rid in answer.reminders})
        d.tick()
        return "apply"

    def _seen(self, night: date) -> set[str]:
        return {str(e.details["answer"]) for e in self.daemon._night_events(night) if "answer" in e.details}

    # -- status -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {**self.client.snapshot(), "answers": dict(self.counts)}
