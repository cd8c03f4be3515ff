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
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sundown.config import LoadedConfig, load_for, localtime_path, remember_good, system_zone
from sundown.config.values import load_zone
from sundown.core import activity, context, dispatch
from sundown.core.activity import Span
from sundown.core.context import UNKNOWN, Attention, AwayAck, Context, Escalation, Held, Verdict
from sundown.core.dispatch import Send
from sundown.core.plan import UTC, NightChanges, Occurrence, night_of, upcoming
from sundown.core.state import NOTHING, Night, ReminderNight, fold_night, merge
from sundown.core.status import Status, snapshot
from sundown.core.status import tonight as tonight_of
from sundown.core.vocabulary import EventName
from sundown.errors import ConfigError, SundownError
from sundown.notify import Message, NotifyError, adopt, choose, delivered_by, one_at_a_time, shown_as
from sundown.paths import Paths
from sundown.runtime.activity import Recorder
from sundown.runtime.commands import Commands
from sundown.runtime.control_server import ControlServer, InstanceLock
from sundown.runtime.logwriter import LogWriter
from sundown.runtime.scheduler import BackgroundScheduler, ThreadPoolExecutor
from sundown.runtime.wake import Alarm, SleepWatch, clock_timer, sleep_watch
from sundown.runtime.watch import ConfigWatch
from sundown.store.log import Event
from sundown.systemd.notify import SdNotify

log = logging.getLogger("sundown")

CONFIG_NOTICE = "sundown: config has errors"
POLL = timedelta(seconds=5)  # how often a source that cannot signal is asked, while something waits on it
LOCK_VERIFY_S = 5.0
# A reminder held back while a fullscreen window or a logind idle inhibitor may be the reason
# looks again this often (one X round trip, one D-Bus call), so it goes out within 2 s of the
# state ending; nothing is asked while no reminder is held.
FULLSCREEN_POLL = timedelta(seconds=1.5)
REFRESH_WAIT_S = 2.0
# The clock timer fires this long after the due instant, so the tick it causes finds it due.
ARM_MARGIN = timedelta(seconds=1)
# How long `stop()` lets the worker finish what it is doing before interrupting a hung send,
# and then how long it waits for it to end (SIGTERM must exit within 1 s).
STOP_GRACE_S = 0.1
FINISH_WAIT_S = 0.5
LOG_RETRY_S = 1.0
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
        self.config_problem: str | None = None
        self.started = clock()
        remember_good(paths, loaded)  # what read-only commands show while the config has errors
        self.rows = LogWriter(paths.database, paths.spool, self._log_failed, clock, created=self.started)
        self.commands = Commands(self.env)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 8},
        )
        # The helpers: each wakes the worker up; the worker re-arms the timer after each tick.
        self.timer: Alarm | None = None
        self.sleep_watch: SleepWatch | None = None
        self.config_watch: ConfigWatch | None = None
        self.control: ControlServer | None = None
        self._finished = threading.Event()
        self.push_link: Any = None  # runtime.push.PushLink while [push] is configured
        self.zone_watch: ConfigWatch | None = None  # /etc/localtime replaced: travel
        self.context: Any = None  # runtime.context.ContextWatch, when the session offers anything
        self.attention: dict[tuple[date, str], Attention] = {}  # this process's own memory
        self._seen: dict[tuple[date, str], Attention] = {}  # the log's, merged with memory, per tick
        self.ctx_now: Context = UNKNOWN
        self._context_queued = threading.Event()
        self.activity = Recorder(self._write_span)

    @property
    def log_problem(self) -> str | None:
        if self.rows.problem is None and self.rows.pending:
            return (
                f"another program holds the write lock of {self.rows.path}; {len(self.rows.pending)}"
                " row(s) wait and are written, in order, once it lets go"
            )
        return self.rows.problem

    @property
    def log_start(self) -> datetime:
        """When the log began: nothing before it is missed."""
        created = self.rows.created
        return min(created, self.started) if created else self.started

    # -- lifecycle -------------------------------------------------------------------------
    #
    # The worker (APScheduler's one executor thread) owns the log, the backend and the clock
    # timer: it uses them, and at `stop()` it closes them as its last job, so nothing is closed
    # under a running tick. `start()` never waits for a tick: a slow notification server must
    # not decide whether the daemon starts.

    def start(self) -> None:
        """Start the worker and the helpers; returns at once, READY=1 comes from the worker."""
        self.scheduler.start()
        self.timer = clock_timer(self.wake)
        self.sleep_watch = sleep_watch(self.wake, self.env, self._before_sleep)
        self._start_context()
        self._start_push()
        if self.loaded.path is not None or not self.paths.config_explicit:
            try:
                self.config_watch = ConfigWatch(self.paths.config, self._config_changed)
            except OSError as exc:
                log.warning("config changes are picked up only on SIGHUP: %s", exc)
        # Last: a CLI that gets an answer may rely on everything above (a config saved the
        # moment `status` says we run is seen).
        self.control = ControlServer(self.paths.socket, self._on_request)
        interval = self.systemd.watchdog_interval()
        if interval:
            # Pinged from the worker thread: a stuck worker stops the pings and systemd restarts us.
            self.scheduler.add_job(self.systemd.ping, "interval", seconds=interval / 2, id="watchdog")
        self.submit(self._running)
        self.submit(self._take_over_shown)
        self.submit(self.tick)

    def _running(self) -> None:
        """The worker's first job: it runs, so the service is ready."""
        self.systemd.ready(self.status_line())
        log.info("sundown running: %s", self.status_line())
        _release_startup_memory()

    def stop(self) -> None:
        """Stop the helpers, let the worker finish and close what it owns; bounded to about 1 s."""
        self.systemd.stopping()
        for helper in (self.control, self.config_watch, self.sleep_watch, self.context, self.zone_watch):
            if helper is not None:
                helper.close()
        if self.scheduler.running:
            finished = self.submit(self._finish)
            try:
                finished.result(STOP_GRACE_S)
            except concurrent.futures.TimeoutError:
                # The worker is stuck, most likely on a hung notification server: interrupting
                # the backend makes that send fail over to the console, and the worker goes on.
                self.backend.close()
                try:
                    finished.result(FINISH_WAIT_S)
                except concurrent.futures.TimeoutError:
                    log.warning("the worker did not finish in time; stopping without it")
            self.scheduler.shutdown(wait=False)
        else:
            self._finish()  # never started (tests drive `tick()` themselves): we are the worker
        self.commands.close()

    def _finish(self) -> None:
        """The worker's last job: close what it owns. Jobs queued after it do nothing."""
        self._finished.set()
        if self.timer is not None:
            self.timer.close()
            self.timer = None
        self.activity.stop(self.clock(), self.loaded.routine, self.loaded.zone)
        self._stop_push()
        self.backend.close()
        self.rows.close()

    # -- running work on the one worker thread ---------------------------------------------

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Queue `fn(*args)` on the worker thread; the future carries its result."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def job() -> None:
            if self._finished.is_set() and fn != self._finish:
                future.cancel()
                return
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

    def _start_context(self) -> None:
        """The person's context (busy, away) and the system zone: every source optional."""
        from sundown.runtime.context import ContextWatch

        try:
            self.context = ContextWatch(self.env, self._context_changed, self._zone_named, self.clock)

        except Exception as exc:  # whatever the desktop does, reminders still go by the clock
            log.warning("cannot watch the desktop's state (%s); reminders go by the clock only", exc)
        try:
            self.zone_watch = ConfigWatch(localtime_path(self.env), self._zone_file_changed)
        except OSError as exc:
            log.info("a change of the system time zone is noticed only on restart: %s", exc)

    def _context_changed(self, what: str) -> None:
        """From a detector thread: one tick however many signals arrive before it runs."""
        if not self._context_queued.is_set():
            self._context_queued.set()
            self.submit(self._context_tick)

    def _context_tick(self) -> None:
        self._context_queued.clear()
        self.tick()

    def _zone_named(self, name: str | None) -> None:
        self.submit(self.follow_zone, name)

    def _zone_file_changed(self) -> None:
        self.submit(self.follow_zone, None)

    def follow_zone(self, name: str | None) -> None:
        """Travel: with no `timezone` configured, re-plan in the system's new zone."""
        if self.loaded.routine.timezone is not None:
            return
        zone = load_zone(name) if name and not self.env.get("TZ") else None
        zone = zone or system_zone(self.env)
        if zone.key == self.loaded.zone.key:
            return
        log.info("time zone changed from %s to %s; re-planning tonight", self.loaded.zone.key, zone.key)
        self.loaded = replace(self.loaded, zone=zone)
        self.tick()

    def wake(self, reason: str) -> None:
        """A detector saw a resume or clock set: re-evaluate now."""
        log.info("woke up (%s)", reason)
        if reason == "resume":
            self.submit(self._resumed, self.clock())  # timed here: the worker may be busy
            if self.push_link is not None:
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
        if self.sleep_watch is not None:
            self.sleep_watch.want_delay(on)

    def _before_sleep(self) -> None:
        """From the logind thread: the machine is about to sleep."""
        # Timed here: without a delay lock the worker may only run it after the resume.
        self.submit(self._going_to_sleep, self.clock())
        if self.push_link is not None:
            self.call(self.push_link.before_sleep, timeout=4.5)

    # -- the evening as it was: activity spans (runtime/activity.py) ------------------------

    def _going_to_sleep(self, at: datetime) -> None:
        routine, zone = self.loaded.routine, self.loaded.zone
        _, changes = self._state(dispatch.window(at, zone))
        self.activity.sleep(at, routine, zone, changes)

    def _resumed(self, at: datetime) -> None:
        routine, zone = self.loaded.routine, self.loaded.zone
        _, changes = self._state(dispatch.window(at, zone))
        self.activity.resume(at, routine, zone, changes)

    def _write_span(self, night: date, span: Span) -> None:
        """A closed span, as an `activity` row dated at its end."""
        self.record_at(activity.instant(span.end), "activity", night, None, "daemon", **span.details())

    def _away(self) -> bool | None:
        """Is the person away from this screen (idle, locked)? None: not known here."""
        ctx = self.ctx_now  # taken by this tick, just before its sends
        if not ctx.idle_known and ctx.locked is None:
            return None
        return ctx.away(self.clock(), self.loaded.routine.context)

    def withdraw_covering(self, keys: set[tuple[date, str]]) -> None:
        """Withdraw the open notifications that stand only for `keys` (answered elsewhere)."""
        for key, stands_for in list(self.shown.items()):
            if stands_for and all(k in keys for k in stands_for):
                self.backend.withdraw(key)
                del self.shown[key]

    # -- the log (see LogWriter: tolerant of a full disk, a held lock, a replaced file) --------

    def _log_failed(self, problem: str) -> None:
        log.error("cannot write the log, reminders go on without it: %s", problem)
        self._send_notice("sundown cannot write its log", problem)

    def record(
        self, event: EventName, night: date, reminder: str | None, source: str, **details: Any
    ) -> None:
        self.record_at(self.clock(), event, night, reminder, source, **details)  # its own clock

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
        self.rows.record(event, night, reminder, source, ts=ts, **details)
        if self.rows.pending and self.scheduler.running:
            self._retry_log_later()

    def _retry_log_later(self) -> None:
        at = self._after(self.clock(), timedelta(seconds=LOG_RETRY_S))
        self.scheduler.add_job(self._flush_log, "date", run_date=at, id="log-retry", replace_existing=True)

    def _on_system_clock(self, at: datetime, now: datetime) -> datetime:
        """`at` on this daemon's clock as a UTC time of the system clock, which the scheduler and
        the timer wait on. In service they are the same clock; a test may give the daemon its own."""
        at = at.astimezone(UTC)
        if self.clock is utc_now:
            return at
        return utc_now() + (at - now.astimezone(UTC))

    def _after(self, now: datetime, delay: timedelta) -> datetime:
        """`delay` after `now` (in UTC: a local `now` would add wall-clock time) on the system clock."""
        return self._on_system_clock(now.astimezone(UTC) + delay, now)

    def _flush_log(self) -> None:
        if not self.rows.flush() and self.scheduler.running:
            self._retry_log_later()

    def _night_events(self, night: date) -> list[Event]:
        return self.rows.night_events(night)

    # -- the tick ---------------------------------------------------------------------------

    def _nights(self, nights: list[date]) -> dict[date, Night]:
        """What already happened, from the log merged with this process's own memory."""
        routine, zone = self.loaded.routine, self.loaded.zone
        result = {}
        self._seen = {}
        for night in nights:
            events = self._night_events(night)
            folded = fold_night(routine, zone, night, events)
            self._seen.update(context.attention_of(night, events))
            states = dict(folded.states)
            planned = {o.reminder.id: o.at for o in folded.plan.occurrences} if folded.plan else {}
            for (n, rid), mine in self.memory.items():
                if n == night:
                    states[rid] = merge(states.get(rid, NOTHING), mine, planned.get(rid))
            result[night] = replace(folded, states=states)
        for key, seen in self.attention.items():
            self._seen[key] = context.merge(self._seen.get(key, context.QUIET), seen)
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
            self.push_link.on_tick(now)
        routine, zone = self.loaded.routine, self.loaded.zone
        self.rows.flush()
        nights = dispatch.window(now, zone)
        progress, changes = self._state(nights)
        decision = dispatch.decide(routine, zone, now, progress, changes, self.log_start)
        self.ctx_now = self._context_at(now)
        verdict = context.adjust(routine, zone, now, decision, progress, self._seen, changes, self.ctx_now)
        for occ in verdict.missed:
            log.info("missed %s on night %s (due %s)", occ.reminder.id, occ.night, _hm(occ.at))
            self.record("missed", occ.night, occ.reminder.id, "daemon", at=occ.at.isoformat())
            self._remember(occ.key, missed=True, scheduled_at=occ.at)
        for ack in verdict.acks:
            self._away_ack(ack)
        for held in verdict.held:
            self._defer(held)
        for send, urgency in verdict.sends:
            self._send(send, now, urgency)
        for step in verdict.escalations:
            self._escalate(step, now)
        for key in verdict.stop_escalating:
            self._attend(key, escalation_stopped=True)
        self._withdraw_settled(set(decision.settled) | {a.key for a in verdict.acks})
        measure_at = self.activity.look(now, routine, zone, changes, self.ctx_now, self._idle_polled())
        if self.push_link is not None:
            self.push_link.after_sends(now, progress, changes)
        self._forget_old(nights[0])
        # In UTC: `next_at` is a local time, and wall-clock arithmetic on it drops the fold of a
        # fall-back night's repeated hour (the timer would aim an hour early and fire at once).
        next_at = self._next_look(verdict, now, measure_at)
        next_at = self._on_system_clock(next_at, now) if next_at is not None else None
        if next_at is not None:
            self.scheduler.add_job(self.tick, "date", run_date=next_at, id="tick", replace_existing=True)
        if self.timer is not None:
            self.timer.arm(next_at + ARM_MARGIN if next_at is not None else None)
        self.systemd.status(self.status_line(now))

    # -- the person's context ------------------------------------------------------------------

    def _context_at(self, now: datetime) -> Context:
        if self.context is None:
            return UNKNOWN
        try:
            return self.context.snapshot(now)  # type: ignore[no-any-return]
        except Exception as exc:  # a source gone wrong must never stop a reminder
            log.warning("could not read the desktop's state (%s); going by the clock", exc)
            return UNKNOWN

    def _idle_polled(self) -> bool:
        """Idle time is known here only by asking (X11, Mutter, ScreenSaver): the recorder polls."""
        return self.context is not None and bool(self.context.polled("idle"))

    def _next_look(
        self, verdict: Verdict, now: datetime, measure_at: datetime | None = None
    ) -> datetime | None:
        """The next tick: the clock's next instant, or sooner to ask a source that cannot signal
        (or to close or poll the evening's open activity span)."""
        times = [verdict.next_at, measure_at]
        for send, _ in verdict.sends:  # just notified: its first escalation step counts from now
            times.extend(now + step.after for o in send.occurrences for step in o.reminder.escalate[:1])
        watch = self.context
        if watch is not None:
            if "busy" in verdict.waits_on and watch.polled("busy"):
                times.append(now + FULLSCREEN_POLL)
            check = verdict.idle_check_at
            if check is not None:
                if watch.polled("idle"):
                    times.append(max(check, now + POLL))
                elif self.ctx_now.idle_since is not None:
                    times.append(check)
        return min((t for t in times if t is not None), key=lambda t: t.astimezone(UTC), default=None)

    def _attend(self, key: tuple[date, str], **fields: Any) -> None:
        self.attention[key] = replace(self.attention.get(key, context.QUIET), **fields)

    def _defer(self, held: Held) -> None:
        for occ in held.send.occurrences:
            if occ.key not in held.announce:
                continue  # this hold is logged already
            log.info("deferred %s (%s) until %s at the latest", occ.reminder.id, held.reason, _hm(held.until))
            self.record(
                "deferred",
                occ.night,
                occ.reminder.id,
                "daemon",
                reason=held.reason,
                until=held.until.isoformat(),
            )
            self._attend(occ.key, deferred=True, deferred_until=held.until)

    def _away_ack(self, ack: AwayAck) -> None:
        night, rid = ack.key
        log.info("%s acknowledged by itself (%s since %s)", rid, ack.source, _hm(ack.at))
        self.record_at(ack.at, "acknowledged", night, rid, ack.source, notified=ack.notified)
        self._remember(ack.key, acknowledged=ack.at)

    def _escalate(self, esc: Escalation, now: datetime) -> None:
        occ, step = esc.occurrence, esc.step
        number = esc.index + 1
        self._attend(occ.key, steps_done=self.attention.get(occ.key, context.QUIET).steps_done | {esc.index})
        details: dict[str, Any] = {"step": number}
        if step.urgency:
            details["urgency"] = step.urgency
        if step.run:
            details["run"] = list(step.run)
        self.record("escalated", occ.night, occ.reminder.id, "daemon", **details)
        log.info("escalated %s: step %d", occ.reminder.id, number)
        if esc.notify:  # None: its urgency rode on the repeat sent at this instant
            key = dispatch.message_key(*occ.key)
            message = replace(self._message(Send(key, (occ,)), urgency=esc.notify), body=occ.reminder.body)
            self._deliver(message)
            self.shown[key] = (occ.key,)
        if step.run:
            ran = self._run_command(occ.reminder.id, step.run)
            if context.locks_screen(step.run):
                if self.context is not None and self.context.sources["locked"]:
                    check = self._after(now, timedelta(seconds=LOCK_VERIFY_S))
                    self.scheduler.add_job(
                        self._check_lock, "date", run_date=check, args=[occ.night, occ.reminder.id, now]
                    )
                elif ran is None:  # the config may not run commands (logged why)
                    self._lock_failed(occ.night, occ.reminder.id, "was not run")
                else:  # nothing can see a lock here: its command's exit status is all there is
                    night, rid = occ.night, occ.reminder.id
                    ran.add_done_callback(lambda f: self.submit(self._lock_command_ended, night, rid, f))

    def _check_lock(self, night: date, rid: str, since: datetime) -> None:
        """5 s after a lock step: did the session lock (LockedHint, the screensaver) since?"""
        watch = self.context
        if watch is not None and (any(watch.locked.values()) or (watch.last_locked or since) > since):
            return
        self._lock_failed(night, rid)

    def _lock_command_ended(self, night: date, rid: str, ran: concurrent.futures.Future[str | None]) -> None:
        """A lock step's command ended where no source tells whether the session locked."""
        failure = None if ran.cancelled() or ran.exception() else ran.result()
        if failure is None:
            log.info("%s: the lock step ran; no source tells whether the screen locked", rid)
            return
        self._lock_failed(night, rid, failure)

    def _lock_failed(self, night: date, rid: str, command: str | None = None) -> None:
        """The person is told: a lock step that did not lock is a broken promise (docs/context.md)."""
        if command is None:
            log.warning("%s: the escalation step did not lock the screen within %g s", rid, LOCK_VERIFY_S)
            self.record("lock_failed", night, rid, "daemon", waited_s=LOCK_VERIFY_S)
            body = "The escalation step ran, but the session did not lock."
        else:
            log.warning("%s: the escalation step's lock command %s: the screen is not locked", rid, command)
            self.record("lock_failed", night, rid, "daemon", command=command)
            body = f"The escalation step's lock command {command}."
        self._send_notice("sundown could not lock the screen", body)

    def _remember(self, key: tuple[date, str], **fields: Any) -> None:
        self.memory[key] = replace(self.memory.get(key, NOTHING), **fields)

    def _forget_old(self, first_night: date) -> None:
        self.memory = {k: v for k, v in self.memory.items() if k[0] >= first_night}
        self.attention = {k: v for k, v in self.attention.items() if k[0] >= first_night}
        # Notifications never acted on (dismissed, left on screen) would otherwise pile up, one a night.
        self.shown = {k: v for k, v in self.shown.items() if any(night >= first_night for night, _ in v)}
        self.combined = {k: v for k, v in self.combined.items() if k in self.shown}

    def _send(self, send: Send, now: datetime, urgency: str = "normal") -> None:
        shown = self._join_open(send, now)
        message = self._message(shown, joined=len(shown.occurrences) > len(send.occurrences), urgency=urgency)
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
                **({"urgency": urgency} if urgency != "normal" else {}),
            )
            if send.repeat == 0 and not send.snoozed and occ.reminder.run:
                self._run_command(occ.reminder.id, occ.reminder.run)
        log.info("notified %s via %s", message.title, delivered_by)

    def _message(self, send: Send, joined: bool = False, urgency: str = "normal") -> Message:
        first = send.occurrences[0]
        if joined:  # reminders waiting on a one-at-a-time server: one notification naming each
            lines = [f"{_hm(o.at)}  {o.reminder.title}" for o in send.occurrences]
            title = ", ".join(o.reminder.title for o in send.occurrences)
            return Message(send.key, title, "\n".join(lines), urgency)
        if len(send.occurrences) > 1:
            return replace(_combined_message(send.key, send.occurrences), urgency=urgency)
        body = first.reminder.body
        if send.late > dispatch.ON_TIME and not send.snoozed and send.repeat == 0:
            body = f"{body}\n(late: was due at {_hm(first.at)})".strip()
        seen = self._seen.get(first.key, context.QUIET)
        snooze = not context.snooze_refused(first.reminder.snooze_limit, seen.snoozes)
        return Message(send.key, first.reminder.title, body, urgency, snooze=snooze)

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
            elif len(stands_for) > 1:
                occurrences = self._planned(rest, self.combined.get(key, ()))
                if not occurrences:  # what it names left the routine
                    self.backend.withdraw(key)
                    del self.shown[key]
                    continue
                self.combined[key] = occurrences
                self.shown[key] = rest
                try:
                    self.backend.send(_combined_message(key, occurrences))  # same key: replaces it
                except NotifyError as exc:
                    log.warning("could not update the notification %s: %s", key, exc)

    def _planned(
        self, keys: tuple[tuple[date, str], ...], known: tuple[Occurrence, ...]
    ) -> tuple[Occurrence, ...]:
        """The occurrences `keys` name: as sent, or (a notification a previous process showed)
        as planned now."""
        found = {o.key: o for o in known}
        for night in {n for n, _ in keys} - {n for n, _ in found}:
            plan = self._nights([night])[night].plan
            found.update({o.key: o for o in plan.occurrences} if plan else {})
        return tuple(found[k] for k in keys if k in found)

    # -- run commands -------------------------------------------------------------------------

    def _run_command(
        self, reminder_id: str, argv: tuple[str, ...]
    ) -> concurrent.futures.Future[str | None] | None:
        return self.commands.start(reminder_id, argv, self.loaded.path)

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
                reminder = self.loaded.routine.reminder(rid)
                seen = self._seen.get((night, rid), context.QUIET)
                if reminder is not None and context.snooze_refused(reminder.snooze_limit, seen.snoozes):
                    log.info(
                        "snooze of %s refused: its snooze_limit (%d) is used up", rid, reminder.snooze_limit
                    )
                    continue
                until = now.astimezone(UTC) + self.loaded.routine.snooze
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
            remember_good(self.paths, loaded)
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
            **self.context_status(now),
        )

    def context_status(self, now: datetime) -> dict[str, Any]:
        """`context` (null where unknown) and the `sources` in use for each capability."""
        ctx = self._context_at(now)
        watch = self.context
        idle_s = int(ctx.idle_for(now).total_seconds()) if ctx.idle_known else None
        zone_source = "config timezone" if self.loaded.routine.timezone else "system zone"
        sources: dict[str, Any] = {}
        for cap in ("dnd", "presenting", "fullscreen", "idle", "locked"):
            found = watch.sources[cap] if watch is not None else []
            sources[cap] = found[0] if found else None
        if watch is not None and watch.sources["zone"] and not self.loaded.routine.timezone:
            zone_source = "system zone (timedated Timezone, /etc/localtime)"
        sources["zone"] = zone_source
        return {
            "context": {
                "dnd": ctx.dnd,
                "presenting": ctx.presenting,
                "fullscreen": ctx.fullscreen,
                "idle_s": idle_s,
                "locked": ctx.locked,
                "zone": self.loaded.zone.key,
            },
            "sources": {("idle_s" if k == "idle" else k): v for k, v in sources.items()},
        }

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


def run(paths: Paths, backend: str | None = None, env: Mapping[str, str] | None = None) -> int:
    """The foreground daemon until SIGTERM/SIGINT. Config errors at start raise ConfigError (78)."""
    env = dict(os.environ if env is None else env)
    from sundown.systemd.journal import configure_logging

    configure_logging(env)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its INFO lines drown ours
    # Block the signals before any thread starts, so only sigwait below receives them.
    signals = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        lock = InstanceLock(paths)
        try:
            daemon = Daemon(paths, load_for(paths), env, backend)
            try:
                daemon.start()
                _serve_signals(daemon, signals)
            finally:
                daemon.stop()
        finally:
            lock.release()
    except OSError as exc:
        # Whatever failed while starting (a socket path too long, a full disk): one readable line.
        where = f" ({exc.filename})" if exc.filename else ""
        detail = exc.strerror or str(exc) or type(exc).__name__  # TimeoutError() says nothing
        raise SundownError(f"cannot start: {detail}{where}") from exc
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    return 0


def _serve_signals(daemon: Daemon, signals: set[signal.Signals]) -> None:
    while True:
        sig = signal.sigwait(signals)
        if sig == signal.SIGHUP:
            daemon.submit(daemon.reload)
            continue
        log.info("stopping (%s)", signal.Signals(sig).name)
        return
