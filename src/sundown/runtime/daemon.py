"""The running daemon: it wires the parts and orchestrates; each part owns its state.

All decisions come from `dispatch.decide` and `context.adjust`, which are pure and
idempotent; the daemon has them executed and arranges to be woken up: one job
("tick") at the next due instant on the `Worker` (the one thread all work runs on),
plus wakeups from the clock/resume detectors, the config watcher, the context
sources, notification actions and CLI nudges. The parts: the `Ledger` (the night's
state: the log and what this process did), the `Screen` (the notifications shown),
the `Evening` (the activity spans, recorded),
`answers` (one set of rules for an answer), `Delivery` and the `Escalator` (a verdict
carried out), the `ContextWatch` (what the desktop says), the `PushLink` (the phone), the
`Morning` (the calendar and the phone's alarm), the `Surfaces` (where people look).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sundown.config import LoadedConfig, load_for, remember_good
from sundown.core import context, dispatch
from sundown.core.context import UNKNOWN, Context, Waiting
from sundown.core.plan import UTC, night_of
from sundown.core.status import Status, next_line, snapshot
from sundown.core.vocabulary import Action, Source
from sundown.errors import ConfigError
from sundown.paths import Paths
from sundown.runtime import answers
from sundown.runtime.activity import Evening
from sundown.runtime.commands import Commands
from sundown.runtime.control_server import ControlServer, serve_request
from sundown.runtime.delivery import Delivery
from sundown.runtime.escalation import Escalator
from sundown.runtime.ledger import Ledger
from sundown.runtime.logwriter import LogWriter
from sundown.runtime.morning import Morning
from sundown.runtime.screen import Screen
from sundown.runtime.sources import context_at, context_status
from sundown.runtime.surfaces import Request, Surfaces
from sundown.runtime.surfaces.follow import Followers
from sundown.runtime.surfaces.session import SessionSurfaces
from sundown.runtime.travel import Travel
from sundown.runtime.wake import Alarm, SleepWatch, clock_timer, sleep_watch
from sundown.runtime.watch import ConfigWatch
from sundown.runtime.winddown import WindDownLink
from sundown.runtime.worker import Clock, Worker, release_startup_memory, utc_now
from sundown.systemd.notify import SdNotify

if TYPE_CHECKING:
    from sundown.runtime.push import PushLink
    from sundown.runtime.sources import ContextWatch

log = logging.getLogger("sundown")

CONFIG_NOTICE = "sundown: config has errors"
REFRESH_WAIT_S = 2.0
# The clock timer fires this long after the due instant, so the tick it causes finds it due.
ARM_MARGIN = timedelta(seconds=1)
# How long `stop()` lets the worker finish what it is doing before interrupting a hung send,
# and then how long it waits for it to end (SIGTERM must exit within 1 s).
STOP_GRACE_S = 0.1
FINISH_WAIT_S = 0.5
LOG_RETRY = timedelta(seconds=1)
ASKED_AGAIN: tuple[Waiting, ...] = ("busy", "idle")  # what a source may know only by being asked


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
        self.env = dict(env)
        self.backend_override = backend
        self.clock = clock
        self.systemd = systemd or SdNotify.from_env(self.env)
        self.config_problem: str | None = None
        self.started = clock()
        remember_good(paths, loaded)  # what read-only commands show while the config has errors
        self.screen = Screen(backend or loaded.routine.backend, self._on_action, self.env)
        rows = LogWriter(paths.database, paths.spool, self._log_failed, created=self.started)
        self.ledger = Ledger(rows, loaded, clock, on_waiting=self._retry_log_later)
        self.commands = Commands(self.env)
        self.worker = Worker(clock)
        escalator = Escalator(
            self.ledger, self.screen, self.commands, self.worker.later, lambda: self.context
        )
        self.morning = Morning(self.ledger, paths, self._tick_soon)
        self.delivery = Delivery(
            self.ledger, self.screen, self.commands, escalator, lambda: self.push_link, lambda: self.away()
        )
        self.delivery.why = self.morning.why
        # Where people look besides notifications (runtime/surfaces): each change is published there.
        self.followers = Followers()
        self.surfaces = Surfaces([self.followers])
        self.on_bus = SessionSurfaces(self.surfaces, self.env, self.submit, self.answer, clock)
        # The helpers: each wakes the worker up; the worker re-arms the timer after each tick.
        self.timer: Alarm | None = None
        self.sleep_watch: SleepWatch | None = None
        self.config_watch: ConfigWatch | None = None
        self.control: ControlServer | None = None
        self.push_link: PushLink | None = None  # while [push] is configured
        # The system zone followed (`log_start`: a zone change never makes a reminder from before the
        # log missed).
        self.travel = Travel(self.ledger, self.env, self.tick, self.submit, lambda: self.log_start)
        self.winddown = WindDownLink(self.ledger, self.delivery, paths, self.env, self.worker, self.tick)
        self.context: ContextWatch | None = None  # when the session offers anything
        self.ctx_now: Context = UNKNOWN
        self.next_look: datetime | None = None  # when the last tick asked to look again (its clock)
        self._context_queued = threading.Event()
        self.activity = Evening(self.ledger)  # the evening as it was

    @property
    def loaded(self) -> LoadedConfig:
        """The routine in force (the ledger plans the nights with it)."""
        return self.ledger.loaded

    @loaded.setter
    def loaded(self, loaded: LoadedConfig) -> None:
        self.ledger.loaded = loaded

    @property
    def log_start(self) -> datetime:
        """When the log began: nothing before it is missed."""
        created = self.ledger.rows.created
        return min(created, self.started) if created else self.started

    # -- lifecycle -------------------------------------------------------------------------
    #
    # The worker (APScheduler's one executor thread) owns the log, the backend and the clock
    # timer: it uses them, and at `stop()` it closes them as its last job, so nothing is closed
    # under a running tick. `start()` never waits for a tick: a slow notification server must
    # not decide whether the daemon starts.

    def start(self) -> None:
        """Start the worker and the helpers; returns at once, READY=1 comes from the worker."""
        self.worker.start()
        self.timer = clock_timer(self.wake)
        self.sleep_watch = sleep_watch(self.wake, self.env, self._before_sleep)
        self._start_context()
        self._start_push()
        self.morning.start()
        if self.loaded.path is not None or not self.paths.config_explicit:
            try:
                self.config_watch = ConfigWatch(self.paths.config, self._config_changed)
            except OSError as exc:
                log.warning("config changes are picked up only on SIGHUP: %s", exc)
        self.on_bus.add(self.loaded.routine.tray)
        self.surfaces.start()
        # Last: a CLI that gets an answer may rely on everything above (a config saved the
        # moment `status` says we run is seen).
        self.control = ControlServer(self.paths.socket, self._on_request, self.followers.add)
        interval = self.systemd.watchdog_interval()
        if interval:
            # Pinged from the worker thread: a stuck worker stops the pings and systemd restarts us.
            self.worker.every(interval / 2, self.systemd.ping, "watchdog")
        self.submit(self._running)
        self.submit(self._take_over_shown)
        self.submit(self.tick)

    def _running(self) -> None:
        """The worker's first job: it runs, so the service is ready."""
        self.systemd.ready(self.status_line())
        log.info("sundown running: %s", self.status_line())
        found = self.loaded.zone_source
        if found is not None and found.problem:
            log.warning("the system's time zone: %s", found.problem)
        release_startup_memory()

    def stop(self) -> None:
        """Stop the helpers, let the worker finish and close what it owns; bounded to about 1 s."""
        self.systemd.stopping()
        for helper in (self.control, self.config_watch, self.sleep_watch, self.context, self.travel):
            if helper is not None:
                helper.close()
        self.morning.close()
        self.winddown.close(self.clock())  # the desktop put back; its rows go before the last job
        self.surfaces.close()  # followers see the stream end: the daemon stops
        if self.worker.running:
            finished = self.worker.submit(self._finish, last=True)
            try:
                finished.result(STOP_GRACE_S)
            except concurrent.futures.TimeoutError:
                # The worker is stuck, most likely on a hung notification server: interrupting
                # the backend makes that send fail over to the console, and the worker goes on.
                self.screen.close()
                try:
                    finished.result(FINISH_WAIT_S)
                except concurrent.futures.TimeoutError:
                    log.warning("the worker did not finish in time; stopping without it")
            self.worker.shutdown()
        else:
            self._finish()  # never started (tests drive `tick()` themselves): we are the worker
        self.commands.close()

    def _finish(self) -> None:
        """The worker's last job: close what it owns. Jobs queued after it do nothing."""
        if self.timer is not None:
            self.timer.close()
            self.timer = None
        self.activity.stop(self.clock())  # the open span
        self._stop_push()
        self.screen.close()
        self.ledger.close()

    # -- running work on the one worker thread ---------------------------------------------

    def submit(self, fn: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        """Queue `fn(*args)` on the worker thread; the future carries its result."""
        return self.worker.submit(fn, *args)

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = REFRESH_WAIT_S) -> Any:
        return self.worker.call(fn, *args, timeout=timeout)

    def _on_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """From the control thread: `refresh`, `reload`, `status`, `winddown` (`serve_request`)."""
        return serve_request(self, request, REFRESH_WAIT_S)

    def _config_changed(self) -> None:
        self.submit(self.reload)

    # -- surfaces: the follow stream, the D-Bus API, the tray (runtime/surfaces) ---------------

    def answer(self, request: Request, source: Source) -> str:
        """A request from a surface, by the command line's rules; then a tick acts on it."""
        from sundown.runtime.surfaces import requests

        message = requests.apply(self, request, source)
        if request.verb != "report":
            self.tick()
        return message

    def _start_context(self) -> None:
        """The person's context (busy, away) and the system zone: every source optional."""
        from sundown.runtime.sources import ContextWatch

        try:
            self.context = ContextWatch(
                self.env,
                self._context_changed,
                self.travel.told,
                self.clock,
                idle_after=self.loaded.routine.context.idle,
            )
        except Exception as exc:  # whatever the desktop does, reminders still go by the clock
            log.warning("cannot watch the desktop's state (%s); reminders go by the clock only", exc)
        self.travel.start()

    def _tick_soon(self) -> None:
        """From a helper thread (the calendar's): a tick on the worker."""
        self.submit(self.tick)

    def _context_changed(self, what: str) -> None:
        """From a detector thread: one tick however many signals arrive before it runs."""
        if not self._context_queued.is_set():
            self._context_queued.set()
            self.submit(self._context_tick)

    def _context_tick(self) -> None:
        self._context_queued.clear()
        self.tick()

    def wake(self, reason: str) -> None:
        """A detector saw a resume or clock set: re-evaluate now."""
        log.info("woke up (%s)", reason)
        if reason == "resume":
            self.submit(self.activity.resume, self.clock())  # timed here: the worker may be busy
            if self.push_link is not None:
                self.submit(self.push_link.resumed)
        self.morning.kick()  # an hour may have passed asleep: the calendar's URL is due again
        self.winddown.woke()  # inside the window: apply what no longer holds
        self.submit(self.tick)  # adding a job also wakes the scheduler's own wait

    # -- push (the phone, other machines): only loaded when [push] is configured ------------

    def _start_push(self) -> None:
        push = self.loaded.routine.push
        if push is not None:
            from sundown.runtime.push import PushLink

            self.push_link = PushLink.open(push, self.ledger, self.screen, self, self.paths, self.sleep_watch)

    def _stop_push(self) -> None:
        if self.push_link is not None:
            self.push_link.close()
            self.push_link = None

    def _before_sleep(self) -> None:
        """From the logind thread: the machine is about to sleep."""
        # Timed here: without a delay lock the worker may only run it after the resume.
        self.submit(self.activity.sleep, self.clock())
        if self.push_link is not None:
            self.call(self.push_link.before_sleep, timeout=4.5)

    def away(self) -> bool | None:
        """Is the person away from this screen (idle, locked)? None: not known here."""
        ctx = self.ctx_now  # taken by this tick, just before its sends
        if not ctx.idle_known and ctx.locked is None:
            return None
        return ctx.away(self.clock(), self.loaded.routine.context)

    # -- the log (see LogWriter: tolerant of a full disk, a held lock, a replaced file) --------

    def _log_failed(self, problem: str) -> None:
        log.error("cannot write the log, reminders go on without it: %s", problem)
        self.screen.notice("sundown cannot write its log", problem)

    def _retry_log_later(self) -> None:
        if self.worker.running:
            self.worker.later(LOG_RETRY, self._flush_log, job="log-retry")

    def _flush_log(self) -> None:
        if not self.ledger.flush():
            self._retry_log_later()

    # -- the tick ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Do whatever is due now, then schedule the next tick."""
        now = self.clock()
        if self.push_link is not None:
            self.push_link.on_tick(now)
        routine, zone = self.loaded.routine, self.loaded.zone
        self.ledger.flush()
        moved = self.ledger.moved
        nights = dispatch.nights(now, zone, moved)
        progress, changes = self.ledger.state(nights)
        progress, changes = self.morning.replan(now, nights, progress, changes)
        decision = dispatch.decide(routine, zone, now, progress, changes, self.log_start, moved)
        self.ctx_now = context_at(self.context, now, own_dnd=self.winddown.own_dnd()[0])
        seen = self.ledger.seen
        verdict = context.adjust(routine, zone, now, decision, progress, seen, changes, self.ctx_now)
        self.delivery.carry_out(verdict, now)
        for gone in self.screen.withdraw_settled(
            set(decision.settled) | {a.key for a in verdict.acks}, self.ledger
        ):
            if self.push_link is not None:
                self.push_link.on_settled(gone)
        measure_at = self.activity.look(now, changes, self.ctx_now, self.context)
        if self.push_link is not None:
            self.push_link.after_sends(now, progress, changes)
            self.push_link.spans.publish_closed(now)  # after the look: a night's last span is in
        self.ledger.forget_before(nights[0], now)
        self.screen.forget_before(nights[0])
        # In UTC: `next_at` is a local time, and wall-clock arithmetic on it drops the fold of a
        # fall-back night's repeated hour (the timer would aim an hour early and fire at once).
        watch = self.context
        asked = [w for w in ASKED_AGAIN if watch is not None and watch.polled(w)]
        self.next_look = context.next_look(verdict, now, self.ctx_now.idle_since, asked)
        next_at = self.winddown.tick(now, self.next_look)  # the earlier of the two
        if measure_at is not None and (
            next_at is None or measure_at.astimezone(UTC) < next_at.astimezone(UTC)
        ):
            next_at = measure_at  # the evening's recorder: the window's end, a poll, the idle threshold
        next_at = self.worker.on_system_clock(next_at, now) if next_at is not None else None
        if next_at is not None:
            self.worker.at(next_at, self.tick, job="tick")
        if self.timer is not None:
            self.timer.arm(next_at + ARM_MARGIN if next_at is not None else None)
        self.systemd.status(self.status_line(now))
        self.publish()

    def publish(self) -> None:
        """Show the state after a tick where people look (status bars, D-Bus, the tray), if it changed."""
        try:
            self.surfaces.publish(self.snapshot())
        except Exception:  # a snapshot gone wrong must never stop a reminder
            log.exception("could not publish the status")

    def alarm_changed(self, at: datetime | None) -> None:
        """The phone's next alarm (the push link's webhook): its morning's wake time (`Morning`)."""
        if self.morning.alarm_changed(at):
            self.tick()

    def _take_over_shown(self) -> None:
        """The notifications a previous daemon process showed: taken over, their buttons heard."""
        if self.screen.take_over(self.ledger):
            self.submit(self.screen.listen)

    # -- actions, CLI requests, reload ----------------------------------------------------------

    def _on_action(self, key: str, action: Action) -> None:
        """From the backend's thread: hand over to the worker."""
        self.submit(self.handle_action, key, action)

    def handle_action(self, key: str, action: Action) -> None:
        """A button on the notification `key` (or its dismissal), applied like any answer."""
        stands_for = self.screen.stands_for(key)
        answers.from_button(self.ledger, stands_for, action, self.clock())
        log.info("%s: %s", action, ", ".join(rid for _, rid in stands_for))
        if self.push_link is not None:
            self.push_link.on_desktop_answer(key, action)
        if action in ("done", "dismissed"):
            self.screen.answered(key)
        self.tick()

    def config_removed(self) -> bool:
        """The routine came from a file that is gone: a reload keeps it (never the defaults)."""
        return self.loaded.path is not None and not self.paths.config.exists()

    def reload(self) -> list[str]:
        """Re-read the config; a bad one keeps the old routine and is reported once."""
        self.systemd.reloading()
        try:
            if self.config_removed():
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
                    self.ledger.apply("config_error", night, None, "daemon", errors=exc.problems)
                    self.screen.notice(CONFIG_NOTICE, text)
                return exc.problems
            if self.config_problem is not None:
                self.screen.withdraw_notice(CONFIG_NOTICE)  # the errors it showed are gone
            self.config_problem = None
            self.screen.use(self.backend_override or loaded.routine.backend)
            push_changed = loaded.routine.push != self.loaded.routine.push
            calendar_changed = loaded.routine.calendar != self.loaded.routine.calendar
            if self.context is not None and loaded.routine.context.idle != self.loaded.routine.context.idle:
                self.context.watch_idle(loaded.routine.context.idle)
            self.ledger.use(loaded, self.log_start)  # a new zone too: see core/travel.py
            remember_good(self.paths, loaded)
            if push_changed:
                self._stop_push()
                self._start_push()
            if calendar_changed:
                self.morning.close()
                self.morning.start()
            if self.control is not None:  # running: the tray follows `[notify] tray`
                self.on_bus.follow_config(loaded.routine.tray)
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
        return snapshot(
            self.ledger.tonight(now),
            now,
            running=True,
            pid=os.getpid(),
            backend=self.screen.name,
            last_backend=self.screen.last_backend,
            config=str(self.loaded.path) if self.loaded.path else None,
            config_error=self.config_problem,
            log_error=self.ledger.problem,
            push=self.push_link.snapshot() if self.push_link is not None else None,
            calendar=self.morning.status(),
            winddown=self.winddown.status(),
            zone=zone,
            **context_status(
                self.context,
                now,
                zone.key,
                self.loaded.routine.timezone is not None,
                zone_remark=self.loaded.zone_source.remark if self.loaded.zone_source else None,
                ignored=self.sleep_watch.strangers if self.sleep_watch is not None else 0,
            ),
        )

    def status_line(self, now: datetime | None = None) -> str:
        return next_line(self.loaded.routine, self.loaded.zone, now or self.clock())
