"""`sundown run`: APScheduler wiring and the run loop. The only importer of APScheduler.

All decisions come from `dispatch.decide`, which is pure and idempotent; this
module only executes them (notify, log, run commands) and arranges to be woken
up: one APScheduler job ("tick") at the next due instant, plus wakeups from the
clock/resume detectors, the config watcher, notification actions and CLI
nudges. Every piece of work runs on the scheduler's single worker thread, so
state is never touched by two threads at once.

Late jobs are handled on purpose: `misfire_grace_time=None` (APScheduler's 1 s
default silently drops a job that wakes late after suspend) and `coalesce`,
because a late tick is still exactly one tick: `decide` sorts late from missed.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sundown.config import LoadedConfig, commands_refused, load_for
from sundown.core import dispatch
from sundown.core.dispatch import Send
from sundown.core.plan import UTC, NightChanges, Occurrence, night_of, upcoming
from sundown.core.state import NOTHING, Night, ReminderNight, fold_night, merge
from sundown.core.status import Status, snapshot
from sundown.core.status import tonight as tonight_of
from sundown.core.vocabulary import EventName
from sundown.errors import ConfigError, LogError
from sundown.notify import Message, NotifyError, adopt, choose, delivered_by, one_at_a_time, shown_as
from sundown.paths import Paths
from sundown.runtime.control import ControlServer, InstanceLock
from sundown.runtime.scheduler import BackgroundScheduler, ThreadPoolExecutor
from sundown.runtime.wake import start_detectors
from sundown.runtime.watch import ConfigWatch
from sundown.store.log import EventLog
from sundown.systemd.notify import SdNotify, child_environment

log = logging.getLogger("sundown")

RUN_TIMEOUT_S = 60
CONFIG_NOTICE = "sundown: config has errors"
REFRESH_WAIT_S = 2.0
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Daemon:
    """The running reminder service; `start()`, then `stop()` from the main thread."""

    def __init__(
        self,
        paths: Paths,
        loaded: LoadedConfig,
        env: Mapping[str, str],
        backend: str | None = None,
        clock: Clock = utc_now,
        systemd: SdNotify | None = None,
    ) -> None:
        self.paths = paths
        self.loaded = loaded
        self.env = dict(env)
        self.backend_override = backend
        self.clock = clock
        self.systemd = systemd or SdNotify.from_env(self.env)
        self.memory: dict[tuple[date, str], ReminderNight] = {}
        self.shown: dict[str, tuple[tuple[date, str], ...]] = {}  # notification key -> what it stands for
        self.combined: dict[str, tuple[Occurrence, ...]] = {}  # the shown combined late notifications
        self.backend_name = backend or loaded.routine.backend
        self.backend = choose(self.backend_name, self._on_action, self.env)
        self.last_backend = self.backend_name
        self.eventlog: EventLog | None = None
        self.log_problem: str | None = None
        self.config_problem: str | None = None
        self.started = clock()
        self.log_start: datetime = self.started  # when the log began: nothing before it is missed
        self._open_log()
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 8},
        )
        self.runner = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="sundown-run")
        self._closers: list[Any] = []
        self._detectors: list[Any] = []
        self.push_link: Any = None  # runtime.push.PushLink while [push] is configured

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.scheduler.start()
        self._detectors = start_detectors(self.wake, self.env, self._before_sleep)
        self._closers.extend(self._detectors)
        self._start_push()
        self._closers.append(ControlServer(self.paths.socket, self._on_request))
        if self.loaded.path is not None or not self.paths.config_explicit:
            try:
                self._closers.append(ConfigWatch(self.paths.config, self._config_changed))
            except OSError as exc:
                log.warning("config changes are picked up only on SIGHUP: %s", exc)
        self.submit(self._take_over_shown)
        self.call(self.tick)
        interval = self.systemd.watchdog_interval()
        if interval:
            # Pinged from the worker thread: a stuck worker stops the pings and systemd restarts us.
            self.scheduler.add_job(self.systemd.ping, "interval", seconds=interval / 2, id="watchdog")
        self.systemd.ready(self.status_line())
        log.info("sundown running: %s", self.status_line())
        _release_startup_memory()

    def stop(self) -> None:
        self.systemd.stopping()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for closer in self._closers:
            try:
                closer.close()
            except OSError as exc:
                log.debug("closing %r: %s", closer, exc)
        self._stop_push()
        self.backend.close()
        self.runner.shutdown(wait=False, cancel_futures=True)
        if self.eventlog is not None:
            self.eventlog.close()

    # -- running work on the one worker thread ---------------------------------------------

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Queue `fn(*args)` on the worker thread; the future carries its result."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def job() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
                log.exception("error in %s", getattr(fn, "__name__", fn))

        self.scheduler.add_job(job)  # no trigger: run as soon as the worker is free
        return future

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = REFRESH_WAIT_S) -> Any:
        return self.submit(fn, *args).result(timeout)

    def _config_changed(self) -> None:
        self.submit(self.reload)

    def wake(self, reason: str) -> None:
        """A detector saw a resume or clock set: re-evaluate now."""
        log.info("woke up (%s)", reason)
        if reason == "resume" and self.push_link is not None:
            self.submit(self.push_link.resumed)
        self.submit(self.tick)  # adding a job also wakes the scheduler's own wait

    # -- push (the phone, other machines): only loaded when [push] is configured ------------

    def _start_push(self) -> None:
        push = self.loaded.routine.push
        if push is None:
            return
        from sundown.runtime.push import PushLink

        self.push_link = PushLink(self, push)
        self.push_link.start()
        self._delay_sleep(True)
        log.info("pushing to %s as %s", push.server, push.device)

    def _stop_push(self) -> None:
        if self.push_link is not None:
            self._delay_sleep(False)
            self.push_link.close()
            self.push_link = None

    def _delay_sleep(self, on: bool) -> None:
        for detector in self._detectors:
            if hasattr(detector, "want_delay"):
                detector.want_delay(on)

    def _before_sleep(self) -> None:
        """From the logind thread: the machine is about to sleep."""
        if self.push_link is not None:
            self.call(self.push_link.before_sleep, timeout=4.5)

    def _away(self) -> bool | None:
        """Is the person away from this screen (idle, locked)? None: not known here."""
        return None

    def withdraw_covering(self, keys: set[tuple[date, str]]) -> None:
        """Withdraw the open notifications that stand only for `keys` (answered elsewhere)."""
        for key, stands_for in list(self.shown.items()):
            if stands_for and all(k in keys for k in stands_for):
                self.backend.withdraw(key)
                del self.shown[key]

    # -- the log, tolerant of a full disk or read-only state dir ---------------------------

    def _open_log(self) -> EventLog | None:
        """The log, opened now if it could not be before (a state dir fixed while we run)."""
        if self.eventlog is None:
            try:
                self.eventlog = EventLog(self.paths.database, created=self.started)
                self.log_problem = None
                created = self.eventlog.created()
                self.log_start = min(created, self.started) if created else self.started
            except LogError as exc:
                self._log_failed(str(exc))
        return self.eventlog

    def _log_failed(self, problem: str) -> None:
        if problem != self.log_problem:
            log.error("cannot write the log, reminders go on without it: %s", problem)
            self._send_notice("sundown cannot write its log", problem)
        self.log_problem = problem

    def record(
        self, event: EventName, night: date, reminder: str | None, source: str, **details: Any
    ) -> None:
        self.record_at(None, event, night, reminder, source, **details)

    def record_at(
        self,
        ts: datetime | None,
        event: EventName,
        night: date,
        reminder: str | None,
        source: str,
        **details: Any,
    ) -> None:
        """`record` with the event's own time (an answer's, as the push server saw it)."""
        eventlog = self._open_log()
        if eventlog is None:
            return
        try:
            eventlog.record(event, night, reminder, source, details, ts)
            self.log_problem = None
        except LogError as exc:
            self._log_failed(str(exc))

    def _night_events(self, night: date) -> list[Any]:
        eventlog = self._open_log()
        if eventlog is None:
            return []
        try:
            return eventlog.night_events(night)
        except LogError as exc:
            self._log_failed(str(exc))
            return []

    # -- the tick ---------------------------------------------------------------------------

    def _nights(self, nights: list[date]) -> dict[date, Night]:
        """What already happened, from the log merged with this process's own memory."""
        routine, zone = self.loaded.routine, self.loaded.zone
        result = {}
        for night in nights:
            folded = fold_night(routine, zone, night, self._night_events(night))
            states = dict(folded.states)
            planned = {o.reminder.id: o.at for o in folded.plan.occurrences} if folded.plan else {}
            for (n, rid), mine in self.memory.items():
                if n == night:
                    states[rid] = merge(states.get(rid, NOTHING), mine, planned.get(rid))
            result[night] = replace(folded, states=states)
        return result

    def _state(
        self, nights: list[date]
    ) -> tuple[dict[tuple[date, str], ReminderNight], dict[date, NightChanges]]:
        folded = self._nights(nights)
        progress = {(n, rid): st for n, f in folded.items() for rid, st in f.states.items()}
        return progress, {n: f.changes for n, f in folded.items()}

    def tick(self) -> None:
        """Do whatever is due now, then schedule the next tick."""
        now = self.clock()
        if self.push_link is not None:
            self.push_link.settle_handed_over(now)
        routine, zone = self.loaded.routine, self.loaded.zone
        nights = dispatch.window(now, zone)
        progress, changes = self._state(nights)
        decision = dispatch.decide(routine, zone, now, progress, changes, self.log_start)
        for occ in decision.missed:
            log.info("missed %s on night %s (due %s)", occ.reminder.id, occ.night, _hm(occ.at))
            self.record("missed", occ.night, occ.reminder.id, "daemon", at=occ.at.isoformat())
            self._remember(occ.key, missed=True, scheduled_at=occ.at)
        for send in decision.sends:
            self._send(send, now)
        self._withdraw_settled(set(decision.settled))
        self._forget_old(nights[0])
        if decision.next_at is not None:
            self.scheduler.add_job(
                self.tick, "date", run_date=decision.next_at, id="tick", replace_existing=True
            )
        for detector in self._detectors[:1]:  # the first one fires at an instant; the rest need none
            detector.arm(decision.next_at + timedelta(seconds=1) if decision.next_at else None)
        self.systemd.status(self.status_line(now))

    def _remember(self, key: tuple[date, str], **fields: Any) -> None:
        self.memory[key] = replace(self.memory.get(key, NOTHING), **fields)

    def _forget_old(self, first_night: date) -> None:
        self.memory = {k: v for k, v in self.memory.items() if k[0] >= first_night}
        # Notifications never acted on (dismissed, left on screen) would otherwise pile up, one a night.
        self.shown = {k: v for k, v in self.shown.items() if any(night >= first_night for night, _ in v)}
        self.combined = {k: v for k, v in self.combined.items() if k in self.shown}

    def _send(self, send: Send, now: datetime) -> None:
        shown = self._join_open(send, now)
        message = self._message(shown, joined=len(shown.occurrences) > len(send.occurrences))
        delivered_by = self._deliver(message)
        if self.push_link is not None:
            own = message if shown.occurrences == send.occurrences else self._message(send)
            self.push_link.on_send(send, own.title, own.body, self._away())
        self.shown[message.key] = tuple(o.key for o in shown.occurrences)
        # Its id on the server, so that a restarted daemon replaces and closes it (_take_over_shown).
        ref = shown_as(self.backend, message.key) if delivered_by == "dbus" else None
        if len(send.occurrences) > 1:
            self.combined[message.key] = send.occurrences
        for occ in send.occurrences:
            done = self.memory.get(occ.key, NOTHING)
            if done.scheduled_at is not None and done.scheduled_at != occ.at:
                done = NOTHING  # re-planned: a new occurrence
            self._remember(
                occ.key,
                notified=done.notified + 1,
                first_notified=done.first_notified or now,
                last_notified=now,
                scheduled_at=occ.at,
            )
            self.record(
                "notified",
                occ.night,
                occ.reminder.id,
                "daemon",
                late=int(max((now - occ.at).total_seconds(), 0)) if send.repeat == 0 else 0,
                repeat=send.repeat,
                backend=delivered_by,
                at=occ.at.isoformat(),
                bedtime=occ.bedtime.isoformat(),
                **(
                    {"together": [o.reminder.id for o in shown.occurrences]}
                    if len(shown.occurrences) > 1
                    else {}
                ),
                **({"snoozed": True} if send.snoozed else {}),
                **({"notification": {"key": message.key, **ref}} if ref else {}),
            )
            if send.repeat == 0 and not send.snoozed and occ.reminder.run:
                self._run_command(occ.reminder.id, occ.reminder.run)
        log.info("notified %s via %s", message.title, delivered_by)

    def _message(self, send: Send, joined: bool = False) -> Message:
        first = send.occurrences[0]
        if joined:  # reminders waiting on a one-at-a-time server: one notification naming each
            lines = [f"{_hm(o.at)}  {o.reminder.title}" for o in send.occurrences]
            title = ", ".join(o.reminder.title for o in send.occurrences)
            return Message(send.key, title, "\n".join(lines), "critical" if send.repeat else "normal")
        if len(send.occurrences) > 1:
            return _combined_message(send.key, send.occurrences)
        body = first.reminder.body
        if send.late > dispatch.ON_TIME and not send.snoozed and send.repeat == 0:
            body = f"{body}\n(late: was due at {_hm(first.at)})".strip()
        return Message(send.key, first.reminder.title, body, "critical" if send.repeat else "normal")

    def _join_open(self, send: Send, now: datetime) -> Send:
        """On a server that shows one notification at a time (notification-daemon) and queues the
        rest, a reminder sent while another is unanswered on screen would wait, hidden, behind it
        (ours never expire): it replaces the open one instead, with one notification naming both."""
        if not self.shown or not one_at_a_time(self.backend):
            return send
        mine = {o.key for o in send.occurrences}
        others = {k for stands_for in self.shown.values() for k in stands_for} - mine
        nights = sorted({night for night, _ in others})
        waiting = []
        for folded in self._nights(nights).values():
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

    def _deliver(self, message: Message) -> str:
        """Send through the chosen backend; if it fails, the console: a reminder is never lost."""
        try:
            self.backend.send(message)
            self.last_backend = delivered_by(self.backend)
            return self.last_backend
        except NotifyError as exc:
            log.warning("%s backend failed (%s); printing the reminder instead", self.backend.name, exc)
        from sundown.notify.console import ConsoleBackend

        ConsoleBackend().send(message)
        return "console"

    def _send_notice(self, title: str, body: str) -> None:
        """A notice about sundown itself (bad config, unwritable log): no buttons."""
        try:
            self._deliver(Message(f"notice/{title}", title, body, "normal", actions=False, expire_ms=-1))
        except Exception as exc:  # never let a notice take down the daemon
            log.error("could not show notice %r: %s", title, exc)

    def _take_over_shown(self) -> None:
        """The notifications a previous daemon process showed (their ids are in the log's
        `notified` rows): a repeat replaces them, a settled one is closed, their buttons heard."""
        found: dict[str, dict[str, Any]] = {}
        for night in dispatch.window(self.clock(), self.loaded.zone):
            for event in self._night_events(night):
                ref = event.details.get("notification") if event.event == "notified" else None
                if not isinstance(ref, dict) or not isinstance(ref.get("key"), str) or event.reminder is None:
                    continue
                # The latest row wins: a server may give a repeat a new id, a key may stand for others.
                found[ref["key"]] = ref
                together = event.details.get("together") or [event.reminder]
                self.shown[ref["key"]] = tuple((night, rid) for rid in together)
        if found:
            adopt(self.backend, found)
            self.submit(self._listen)

    def _listen(self) -> None:
        listen = getattr(self.backend, "listen", None)
        if listen is not None:
            listen()

    def _withdraw_settled(self, settled: set[tuple[date, str]]) -> None:
        """A notification goes when all it names is settled; a combined one names only the rest."""
        for key, stands_for in list(self.shown.items()):
            if not stands_for or not any(k in settled for k in stands_for):
                continue
            rest = tuple(k for k in stands_for if k not in settled)
            if not rest:
                self.backend.withdraw(key)
                del self.shown[key]
                if self.push_link is not None:
                    self.push_link.on_settled(key)
            elif key in self.combined:
                occurrences = tuple(o for o in self.combined[key] if o.key in rest)
                self.combined[key] = occurrences
                self.shown[key] = rest
                try:
                    self.backend.send(_combined_message(key, occurrences))  # same key: replaces it
                except NotifyError as exc:
                    log.warning("could not update the notification %s: %s", key, exc)

    # -- run commands -------------------------------------------------------------------------

    def _run_command(self, reminder_id: str, argv: tuple[str, ...]) -> None:
        problem = self._unsafe_config()
        if problem:
            log.warning("not running %s for %s: %s", argv[0], reminder_id, problem)
            return
        self.runner.submit(_run, reminder_id, argv, child_environment(self.env))

    def _unsafe_config(self) -> str | None:
        """Like ssh with its keys: a config others can write must not run commands."""
        return commands_refused(self.loaded.path)

    # -- actions, CLI requests, reload ----------------------------------------------------------

    def _on_action(self, key: str, action: str) -> None:
        """From the backend's thread: hand over to the worker."""
        self.submit(self.handle_action, key, action)

    def handle_action(self, key: str, action: str) -> None:
        stands_for = self.shown.get(key) or _parse_key(key)
        now = self.clock()
        progress, _ = self._state(sorted({night for night, _ in stands_for}))
        for night, rid in stands_for:
            done = progress.get((night, rid), NOTHING)
            if action == "done":
                if done.acknowledged is not None:
                    continue  # acknowledged already (from the CLI): never a second row
                self.record("acknowledged", night, rid, "action")
                self._remember((night, rid), acknowledged=now)
            elif action == "snooze":
                until = now + self.loaded.routine.snooze
                self.record("snoozed", night, rid, "action", until=until.isoformat())
                self._remember((night, rid), snoozed_until=until)
            elif action == "dismissed":
                if done.acknowledged is not None:
                    continue
                self.record("dismissed", night, rid, "action")
                self._remember((night, rid), dismissed=True)
        log.info("%s: %s", action, ", ".join(rid for _, rid in stands_for))
        if self.push_link is not None:
            self.push_link.on_desktop_answer(key, stands_for, action)
        if action in ("done", "dismissed"):
            self.shown.pop(key, None)
            self.combined.pop(key, None)
        self.tick()

    def _on_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """From the control thread; waits for the worker so the CLI knows it took effect."""
        cmd = request.get("cmd")
        try:
            if cmd == "refresh":
                self.call(self.tick)
                return {"ok": True}
            if cmd == "reload":
                problems = self.call(self.reload)
                if not problems and self._config_removed():
                    return {"ok": False, "removed": str(self.paths.config), "errors": []}
                return {"ok": not problems, "errors": problems}
            if cmd == "status":
                return {"ok": True, **self.call(self.status)}
        except concurrent.futures.TimeoutError:
            return {"ok": False, "error": "the daemon is busy; try again"}
        return {"ok": False, "error": f"unknown request {cmd!r}"}

    def _config_removed(self) -> bool:
        """The routine came from a file that is gone: a reload keeps it (never the defaults)."""
        return self.loaded.path is not None and not self.paths.config.exists()

    def reload(self) -> list[str]:
        """Re-read the config; a bad one keeps the old routine and is reported once."""
        self.systemd.reloading()
        try:
            if self._config_removed():
                log.warning("%s was removed; keeping the last good routine", self.paths.config)
                return []
            try:
                loaded = load_for(self.paths)
            except ConfigError as exc:
                text = "\n".join(exc.problems)
                if text != self.config_problem:
                    self.config_problem = text
                    log.error("config has errors; keeping the previous routine:\n%s", text)
                    night = night_of(self.clock(), self.loaded.zone)
                    self.record("config_error", night, None, "daemon", errors=exc.problems)
                    self._send_notice(CONFIG_NOTICE, text)
                return exc.problems
            if self.config_problem is not None:
                self.backend.withdraw(f"notice/{CONFIG_NOTICE}")  # the errors it showed are gone
            self.config_problem = None
            backend = self.backend_override or loaded.routine.backend
            if backend != self.backend_name:
                self.backend.close()
                self.backend_name = backend
                self.backend = choose(backend, self._on_action, self.env)
            push_changed = loaded.routine.push != self.loaded.routine.push
            self.loaded = loaded
            if push_changed:
                self._stop_push()
                self._start_push()
            log.info("config reloaded from %s", loaded.path or "the built-in default")
            self.tick()
            return []
        finally:
            self.systemd.ready(self.status_line())

    def status(self) -> dict[str, Any]:
        return self.snapshot().to_json()

    def snapshot(self) -> Status:
        """`sundown status`: tonight's reminders as this daemon sees them."""
        now = self.clock()
        zone = self.loaded.zone
        current = night_of(now, zone)
        nights = self._nights([current])
        night = tonight_of(now, zone, nights[current])
        if night not in nights:
            nights.update(self._nights([night]))
        return snapshot(
            nights[night],
            now,
            running=True,
            pid=os.getpid(),
            backend=self.backend_name,
            last_backend=self.last_backend,
            config=str(self.loaded.path) if self.loaded.path else None,
            config_error=self.config_problem,
            log_error=self.log_problem,
            push=self.push_link.snapshot() if self.push_link is not None else None,
        )

    def status_line(self, now: datetime | None = None) -> str:
        now = now or self.clock()
        nxt = upcoming(self.loaded.routine, self.loaded.zone, now, 1)
        if not nxt:
            return "no reminders configured"
        o = nxt[0]
        return f"next: {o.reminder.title} at {o.at.strftime('%a %H:%M')}"


def _release_startup_memory() -> None:
    """Hand back to the OS what imports left behind (APScheduler scans every entry point)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim


def _combined_message(key: str, occurrences: tuple[Occurrence, ...]) -> Message:
    """One notification for several late reminders, naming each of them."""
    lines = [f"{_hm(o.at)}  {o.reminder.title}" for o in occurrences]
    if len(lines) == 1:
        return Message(key, f"{occurrences[0].reminder.title} came due while away", lines[0])
    return Message(key, f"{len(lines)} reminders came due while away", "\n".join(lines))


def _parse_key(key: str) -> tuple[tuple[date, str], ...]:
    night, _, rid = key.partition("/")
    try:
        return ((date.fromisoformat(night), rid),) if rid and rid != "late" else ()
    except ValueError:
        return ()


def _hm(at: datetime) -> str:
    return at.strftime("%H:%M")


def _run(reminder_id: str, argv: tuple[str, ...], env: dict[str, str]) -> None:
    """Run a reminder's command: argv, never a shell, with a timeout; output to our log."""
    try:
        proc = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("%s: command %s failed: %s", reminder_id, argv[0], exc)
        return
    for line in (proc.stdout + proc.stderr).splitlines():
        log.info("%s: %s", reminder_id, line)
    if proc.returncode != 0:
        log.warning("%s: command %s exited with %d", reminder_id, argv[0], proc.returncode)


def run(paths: Paths, backend: str | None = None, env: Mapping[str, str] | None = None) -> int:
    """The foreground daemon until SIGTERM/SIGINT. Config errors at start raise ConfigError (78)."""
    env = dict(os.environ if env is None else env)
    from sundown.systemd.journal import configure_logging

    configure_logging(env)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its INFO lines drown ours
    # Block the signals before any thread starts, so only sigwait below receives them.
    signals = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    lock = InstanceLock(paths)
    try:
        loaded = load_for(paths)
        daemon = Daemon(paths, loaded, env, backend)
        daemon.start()
        try:
            while True:
                sig = signal.sigwait(signals)
                if sig == signal.SIGHUP:
                    daemon.submit(daemon.reload)
                    continue
                log.info("stopping (%s)", signal.Signals(sig).name)
                break
        finally:
            daemon.stop()
    finally:
        lock.release()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    return 0
