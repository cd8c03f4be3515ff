"""The daemon's side of push: what to publish when, and answers applied like button presses.

Imported only when `[push]` is configured. Every method but `on_stream_message` and
`on_stream_webhook` runs on the daemon's worker thread, like everything that touches its
state; the ntfy adapter's threads only hand over (`Worker.call`) and wait. The night's
state is the ledger's, the notifications on screen the screen's; an answer from the reply
stream is applied by `answers.apply`, under the same rules as a button.

Trust: an answer is believed only once `verify` found it signed with the shared secret
and not expired (`core.push.verify`); nothing before that looks at what it asks. A sleep
app's webhook (`webhook_topic`) can only become `in_bed` / `awake` rows (`on_sleep_signal`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sundown.core import push as rules
from sundown.core import push_spans
from sundown.core.answers import Answer
from sundown.core.dispatch import NOTHING, Send, message_key
from sundown.core.plan import NO_CHANGES, ON_TIME, UTC, Occurrence, night_end, night_of, night_plan, window
from sundown.core.state import ReminderNight, instant
from sundown.core.vocabulary import DEVICE_PREFIX
from sundown.push.keys import device_id, new_nonce
from sundown.push.ntfy import ANSWER_WAIT_S, NtfyPush, read_secret, read_token
from sundown.runtime import answers
from sundown.runtime.push_mark import PushMark
from sundown.runtime.push_spans import SpanRelay

if TYPE_CHECKING:
    from sundown.core.plan import NightChanges
    from sundown.core.routine import Push
    from sundown.core.vocabulary import EventName
    from sundown.paths import Paths
    from sundown.runtime.ledger import Ledger
    from sundown.runtime.screen import Screen
    from sundown.runtime.wake import SleepWatch

log = logging.getLogger("sundown.push")

Key = tuple[date, str]
RELAYED = ("action", "cli")  # this machine's own answers, published for the others
# logind waits for a delay lock at most InhibitDelayMaxSec (5 s by default).
HANDOFF_BUDGET_S = 3.5


class Worker(Protocol):
    """What push needs of the daemon: its worker thread, a tick, whether the person is away, and
    where the phone's next alarm goes (the morning's plan, docs/morning.md)."""

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = ...) -> Any: ...

    def tick(self) -> None: ...

    def away(self) -> bool | None: ...

    def alarm_changed(self, at: datetime | None) -> None: ...


class PushLink:
    def __init__(self, push: Push, ledger: Ledger, screen: Screen, worker: Worker, paths: Paths) -> None:
        self.push = push
        self.ledger = ledger
        self.screen = screen
        self.worker = worker
        self._sleep_watch: SleepWatch | None = None  # holding a delay lock while `open`
        self.counts = {"unparsed": 0, "unknown": 0, "duplicate": 0, "refused": 0, "applied": 0}
        self.counts.update(dict.fromkeys(rules.DISTRUST, 0))
        self.counts["webhook"] = 0  # sleep-app messages taken from the webhook topic
        self.pushed: set[str] = set()  # notification keys with a copy on the phone
        # Handed to the server before a suspend, by notification key: delivered there at their time.
        self.handed_over: dict[str, tuple[Occurrence, rules.Publication]] = {}
        # Other machines seen answering under this machine's name (their ids): `doctor` warns.
        self.namesakes: set[str] = set()
        self.secret = read_secret(push.secret_file)
        self.device_id = device_id(paths.push_device)
        # Without the secret (unreadable since the config was checked) nothing is signed: the
        # phone gets no buttons, this machine's answers stay here, and no answer is believed.
        self.signer = rules.Signer(self.secret, push.device, self.device_id) if self.secret else None
        token = read_token(push.token_file)
        self.client = NtfyPush(
            push, paths.push_since, self.on_stream_message, token, on_webhook=self.on_stream_webhook
        )
        self.relayed: set[tuple[date, str, str, str]] = set()  # local answers queued to publish
        self._mark = PushMark(
            paths.push_relayed, push, "ts", datetime, datetime.min.replace(tzinfo=UTC), "answers"
        )
        # Push just configured (or for another topic): nothing older is sent, and from now on
        # the mark is on disk, so what is answered next survives a crash before it is sent.
        self.watermark = self._mark.load(self.ledger.clock)
        self.spans = SpanRelay(push, ledger, self.client, paths.push_spans, self.signer)  # the evening

    @classmethod
    def open(
        cls,
        push: Push,
        ledger: Ledger,
        screen: Screen,
        worker: Worker,
        paths: Paths,
        sleep_watch: SleepWatch | None,
    ) -> PushLink:
        """A started link; while it runs, logind waits a moment before sleep (a delay lock) for
        the hand-off of the reminders due while asleep."""
        link = cls(push, ledger, screen, worker, paths)
        link.start()
        link._sleep_watch = sleep_watch
        if sleep_watch is not None:
            sleep_watch.want_delay(True)
        log.info("pushing to %s as %s", push.server, push.device)
        return link

    def start(self) -> None:
        self.client.start()

    def close(self) -> None:
        if self._sleep_watch is not None:
            self._sleep_watch.want_delay(False)
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
            urgent=any(o.reminder.urgent for o in send.occurrences),
            repeat=send.repeat,
            late=send.late > ON_TIME and not send.repeat and not send.snoozed,
            answers=self._phone_answers(send.occurrences[0].night, ids),
        )
        self.pushed.add(send.key)
        self.client.publish(pub)

    def _phone_answers(self, night: date, ids: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
        """The phone's Done and Snooze, signed here for it to echo, valid until the night ends."""
        if self.signer is None:
            return ()
        expires = night_end(night, self.ledger.loaded.zone)
        return rules.phone_answers(self.signer, night, ids, expires, (new_nonce(), new_nonce()))

    def on_settled(self, key: str) -> None:
        """Acknowledged or skipped here: the phone's copy goes too."""
        if key in self.pushed:
            self.pushed.discard(key)
            self.client.clear(rules.sequence_id(key))

    def on_desktop_answer(self, key: str, action: str) -> None:
        """Done or Snooze on this desktop: the phone's copy goes; the answer itself is in the
        log now, and the tick that follows publishes it (`_relay_answers`)."""
        if action in rules.ACTIONS:
            self.on_settled(key)

    # -- in: answers from the reply stream ---------------------------------------------------

    def on_stream_message(self, event: dict[str, Any]) -> bool:
        """From the subscriber thread: True once the worker has applied (or ignored) it."""
        return self._on_worker(self.handle_answer, event, "an answer from the push server")

    def _on_worker(self, handle: Callable[[dict[str, Any]], str], event: dict[str, Any], what: str) -> bool:
        """`handle(event)` on the worker, from the subscriber thread: False when the worker is
        busy or stopping (the adapter then replays the event)."""
        try:
            self.worker.call(handle, event, timeout=ANSWER_WAIT_S)
            return True
        except Exception as exc:  # busy or stopping: the adapter replays it
            log.warning("%s was not handled yet: %s", what, exc)
            return False

    def handle_answer(self, event: dict[str, Any]) -> str:
        """One message of the reply stream: "unparsed", why it is not believed ("unsigned",
        "bad_signature", "expired"), "own", or how the answer was taken."""
        report = push_spans.parse(event)
        if report is not None:  # another machine's evening, not an answer
            return self.take_spans(event, report)
        answer = rules.parse_answer(event)
        if answer is None:
            self.counts["unparsed"] += 1
            return "unparsed"
        refused = self.verify(event, answer.source, self.ledger.clock())
        if refused is not None:
            return refused
        return self.take(answer)

    def verify(self, event: dict[str, Any], source: str, now: datetime) -> str | None:
        """None when the answer in `event` may be applied: signed with the shared secret, not
        expired, and not this machine's own echo (then "own"); else why not, counted. An
        answer signed by another machine that uses this machine's name is believed, and that
        machine remembered (a namesake: `status`, `doctor`)."""
        verdict = rules.verify(event, self.secret, now) if self.secret else rules.Verdict(rules.UNSIGNED)
        return self._believe(verdict, source)

    def _believe(self, verdict: rules.Verdict, source: str) -> str | None:
        """`verify`'s reckoning of a signature's verdict (answers and spans alike)."""
        if verdict.distrust is not None:
            n = self.counts[verdict.distrust] = self.counts[verdict.distrust] + 1
            # A flood of forgeries costs the journal a line at the 1st, 2nd, 4th, 8th, ... of each kind.
            log.log(
                logging.WARNING if n & (n - 1) == 0 else logging.DEBUG,
                "ignored an answer claiming to be from %s: %s (%d so far)",
                source,
                verdict.distrust.replace("_", " "),
                n,
            )
            return verdict.distrust
        if source == f"{DEVICE_PREFIX}{self.push.device}":
            if verdict.device_id == self.device_id:
                return "own"  # our own desktop's answer, echoed back: already applied here
            if verdict.device_id not in self.namesakes:
                self.namesakes.add(verdict.device_id)
                log.warning(
                    "another machine also calls itself %r (its id %s); give each machine its own"
                    " `device` in [push]",
                    self.push.device,
                    verdict.device_id,
                )
        return None

    def take_spans(self, event: dict[str, Any], report: push_spans.SpanReport) -> str:
        """Another machine's activity spans: believed when signed, then each written once."""
        verdict = push_spans.verify(event, self.secret) if self.secret else rules.Verdict(rules.UNSIGNED)
        refused = self._believe(verdict, report.source)
        if refused is not None:
            return refused
        taken = self.spans.take(report)
        if taken == "duplicate":
            self.counts["duplicate"] += 1
        return taken

    def take(self, answer: Answer) -> str:
        """Apply an answer from elsewhere by the rules every answer obeys; counted by outcome."""
        rulings = answers.apply(self.ledger, answer, self.ledger.clock())
        changed = answers.applied(rulings)
        outcomes = {r.outcome for r in rulings}
        # One that changes nothing ("unchanged") counts as seen twice.
        outcome = next((o for o in ("applied", "unknown", "refused") if o in outcomes), "duplicate")
        self.counts[outcome] += 1
        if not changed:
            why = next((r.why for r in rulings if r.why), outcome)
            log.info("ignored a %s answer from %s (%s)", answer.action, answer.source, why)
            return outcome
        log.info("%s from %s: %s", answer.action, answer.source, ", ".join(changed))
        self.screen.withdraw_covering({(answer.night, rid) for rid in changed})
        self.worker.tick()
        return "apply"

    # -- suspend: the server delivers what falls due while the machine sleeps ---------------

    def before_sleep(self) -> int:
        """Hand reminders due while asleep to the server as scheduled messages (ntfy `At`)."""
        now = self.ledger.clock()
        routine, zone = self.ledger.loaded.routine, self.ledger.loaded.zone
        progress, changes = self.ledger.state(window(now, zone))
        deadline = time.monotonic() + HANDOFF_BUDGET_S
        handed = 0
        for occ in rules.due_while_asleep(routine, zone, now, progress, changes):
            key = message_key(*occ.key)
            if key in self.handed_over:
                continue
            remaining = deadline - time.monotonic()
            if remaining < 0.2:
                log.warning("no time left before sleep to hand over %s", occ.reminder.id)
                break
            pub = _publication_of(
                key, occ, at=occ.at, answers=self._phone_answers(occ.night, (occ.reminder.id,))
            )
            if self.client.publish_now(pub, timeout=min(3.0, remaining)):
                self.handed_over[key] = (occ, pub)
                self.pushed.add(key)
                handed += 1
        if handed:
            log.info("handed %d reminder(s) due while asleep to the push server", handed)
        return handed

    def on_tick(self, now: datetime) -> None:
        self.settle_handed_over(now)
        self._relay_answers(now)

    def after_sends(
        self, now: datetime, progress: Mapping[Key, ReminderNight], changes: Mapping[date, NightChanges]
    ) -> None:
        """`when = "away"`: a reminder still open on this screen follows the person to the phone
        once they are away (noticed at the next tick: a lock, a repeat, a command)."""
        if self.push.when != "away" or not self.worker.away():
            return
        routine, zone = self.ledger.loaded.routine, self.ledger.loaded.zone
        for key, stands_for in list(self.screen.shown.items()):
            if key in self.pushed or len(stands_for) != 1:
                continue
            night, rid = stands_for[0]
            done = progress.get((night, rid), NOTHING)
            if not self.push.pushes(rid) or done.acknowledged or (done.snoozed_until or now) > now:
                continue
            plan = night_plan(routine, night, zone, changes.get(night, NO_CHANGES))
            occ = next((o for o in plan.occurrences if o.reminder.id == rid), None) if plan else None
            if occ is None or occ.skipped:
                continue
            pub = _publication_of(key, occ, answers=self._phone_answers(night, (rid,)))
            self.pushed.add(key)
            self.client.publish(pub)
            log.info("pushed %s: the person is away from this screen", rid)

    def _relay_answers(self, now: datetime) -> None:
        """Done/Snooze on this desktop and `sundown ack`/`snooze` here reach the other machines.

        The log is the outbox: every such row newer than the last one the server took (kept in
        `push-relayed`, saved by the publisher once the server accepted it) is published, with
        an id derived from the row, so a daemon killed before the server took it publishes it
        after its restart, and one published twice counts once on the other machines.
        """
        nights = window(now, self.ledger.loaded.zone)
        self.relayed = {m for m in self.relayed if m[0] >= nights[0]}
        for night in nights:
            for e in self.ledger.night_events(night):
                if (
                    e.source not in RELAYED
                    or e.event not in ("acknowledged", "snoozed")
                    or e.reminder is None
                ):
                    continue
                if e.ts <= self.watermark:
                    continue  # the server has it, or it came before push was configured
                mark = (night, e.reminder, e.event, e.ts.isoformat())
                if mark in self.relayed or self.signer is None:
                    continue
                self.relayed.add(mark)
                action = "done" if e.event == "acknowledged" else "snooze"
                # From the row: a daemon killed before the server took it sends the same again.
                nonce = f"{self.device_id}-{e.ts.timestamp():.6f}-{e.reminder}"
                body = self.signer.answer(
                    night,
                    (e.reminder,),
                    action,
                    nonce,
                    night_end(night, self.ledger.loaded.zone),
                    until=instant(e.details.get("until")),
                )
                self.client.answer(body, on_sent=functools.partial(self._mark.save, e.ts))
                self.on_settled(message_key(night, e.reminder))

    def settle_handed_over(self, now: datetime) -> None:
        """Those the server delivered while we slept count as notified: not sent again."""
        for key, (occ, _) in list(self.handed_over.items()):
            if occ.at > now:
                continue
            del self.handed_over[key]
            if self.ledger.memory.get(occ.key, NOTHING).acknowledged:
                continue
            self.ledger.apply(
                "notified",
                occ.night,
                occ.reminder.id,
                "daemon",
                late=0,
                repeat=0,
                backend="ntfy",
                at=occ.at.isoformat(),
                bedtime=occ.bedtime.isoformat(),
                scheduled=True,
                ts=occ.at,
            )

    def resumed(self) -> None:
        """Awake again: a fresh reply stream (the old connection may be silently dead), and
        reminders handed over but not yet due are cancelled on the server; they go out as usual."""
        self.client.kick()
        now = self.ledger.clock()
        self.settle_handed_over(now)
        for key, (_, pub) in list(self.handed_over.items()):
            self.client.delete(pub.sid)
            self.pushed.discard(key)
            del self.handed_over[key]

    # -- status -------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            **self.client.snapshot(),
            "away": self.worker.away(),
            "answers": dict(self.counts),
            "handed_over": len(self.handed_over),
            "signed": self.signer is not None,
            "namesakes": len(self.namesakes),
            "spans_received": self.spans.received,
        }

    # -- a sleep app's webhook: in bed, awake, the next alarm -------------------------------

    def on_stream_webhook(self, event: dict[str, Any]) -> bool:
        """From the subscriber thread, for a message on `webhook_topic`."""
        return self._on_worker(self.handle_webhook, event, "a message from the webhook topic")

    def handle_webhook(self, event: dict[str, Any]) -> str:
        signal = rules.parse_webhook(event, self.ledger.clock())
        if signal is None:
            self.counts["unparsed"] += 1
            return "unparsed"
        self.counts["webhook"] += 1
        self.on_sleep_signal(signal)
        return signal.kind

    def on_sleep_signal(self, signal: rules.SleepSignal) -> None:
        """The one seam for what a sleep app says: `in_bed` and `awake` are logged (source
        `phone`), once per message; `next_alarm` sets tomorrow's wake time, only ever earlier
        (`Daemon.alarm_changed`: the same alarm again changes nothing)."""
        if signal.kind not in ("in_bed", "awake"):
            zone = self.ledger.loaded.zone  # the person's clock, not UTC
            rings = signal.alarm.astimezone(zone).strftime("%a %H:%M") if signal.alarm else "?"
            log.info("the sleep app says the next alarm rings at %s", rings)
            self.worker.alarm_changed(signal.alarm)
            return
        event: EventName = "in_bed" if signal.kind == "in_bed" else "awake"
        night = night_of(signal.at, self.ledger.loaded.zone)
        if any(e.details.get("message") == signal.ident for e in self.ledger.night_events(night)):
            return  # seen before (a replay after a restart)
        self.ledger.apply(event, night, None, rules.PHONE, ts=signal.at, message=signal.ident, app=signal.app)
        log.info("the sleep app says: %s", signal.kind.replace("_", " "))


def _publication_of(
    key: str, occ: Occurrence, at: datetime | None = None, answers: tuple[tuple[str, str], ...] = ()
) -> rules.Publication:
    """One reminder's push, now or (`at`) scheduled on the server."""
    reminder = occ.reminder
    return rules.publication(
        key, reminder.title, reminder.body, (occ,), urgent=reminder.urgent, at=at, answers=answers
    )
