"""`sundown run`: APScheduler wiring and the run loop. The only importer of APScheduler.

All decisions come from `dispatch.decide`, which is pure and idempotent; this
module only executes them (notify, log, run commands) and arranges to be woken
up: one APScheduler job ("tick") at the next due instant, plus wakeups from the
clock/resume detectors, the config watcher, notification actions and CLI
nudges. Every piece of work runs on the scheduler's single worker thread, so
state is never touched by two threads at once.

The daemon orchestrates; the parts own their state: the `Ledger` the night's
state (the log and what this process did), the `Screen` the notifications shown,
`answers` the rules of an answer, the `Escalator` the escalation steps, the
context watch what the desktop says.

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
from typing import TYPE_CHECKING, Any

from sundown.config import LoadedConfig, load_for, localtime_path, remember_good, system_zone
from sundown.config.values import load_zone
from sundown.core import activity, context, dispatch
from sundown.core.activity import Span
from sundown.core.answers import Answer
from sundown.core.context import QUIET, UNKNOWN, AwayAck, Context, Held, Verdict
from sundown.core.dispatch import Send
from sundown.core.plan import NO_CHANGES, UTC, NightChanges, night_of, night_plan, upcoming, window
from sundown.core.state import ReminderNight
from sundown.core.status import Status, snapshot
from sundown.core.status import tonight as tonight_of
from sundown.core.vocabulary import Action, EventName, Source, Urgency
from sundown.errors import ConfigError, SundownError
from sundown.notify import Backend
from sundown.paths import Paths
from sundown.runtime import answers
from sundown.runtime.activity import Recorder
from sundown.runtime.commands import Commands
from sundown.runtime.control_server import ControlServer, InstanceLock
from sundown.runtime.escalation import Escalator
from sundown.runtime.ledger import Ledger
from sundown.runtime.logwriter import LogWriter
from sundown.runtime.messages import hm, joined_message, reminder_message
from sundown.runtime.scheduler import BackgroundScheduler, ThreadPoolExecutor
from sundown.runtime.screen import Screen
from sundown.runtime.surfaces import Request, Surfaces
from sundown.runtime.surfaces.follow import Followers
from sundown.runtime.wake import Alarm, SleepWatch, clock_timer, sleep_watch
from sundown.runtime.watch import ConfigWatch
from sundown.systemd.notify import SdNotify

if TYPE_CHECKING:
    from sundown.calendar.source import CalendarSource
    from sundown.runtime.context import ContextWatch
    from sundown.runtime.push import PushLink

log = logging.getLogger("sundown")

CONFIG_NOTICE = "sundown: config has errors"
POLL = timedelta(seconds=5)  # how often a source that cannot signal is asked, while something waits on it
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
LOG_RETRY = timedelta(seconds=1)
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
        self.env = dict(env)
        self.backend_override = backend
        self.clock = clock
        self.systemd = systemd or SdNotify.from_env(self.env)
        self.config_problem: str | None = None
        self.started = clock()
        remember_good(paths, loaded)  # what read-only commands show while the config has errors
        self.screen = Screen(backend or loaded.routine.backend, self._on_action, self.env)
        rows = LogWriter(paths.database, paths.spool, self._log_failed, clock, created=self.started)
        self.ledger = Ledger(rows, loaded, clock, on_waiting=self._retry_log_later)
        self.commands = Commands(self.env)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 8},
        )
        self.escalator = Escalator(self.ledger, self.screen, self.commands, self.later, lambda: self.context)
        # The helpers: each wakes the worker up; the worker re-arms the timer after each tick.
        self.timer: Alarm | None = None
        self.sleep_watch: SleepWatch | None = None
        self.config_watch: ConfigWatch | None = None
        self.control: ControlServer | None = None
        self._finished = threading.Event()
        self.push_link: PushLink | None = None  # while [push] is configured
        self.zone_watch: ConfigWatch | None = None  # /etc/localtime replaced: travel
        self.context: ContextWatch | None = None  # when the session offers anything
        self.ctx_now: Context = UNKNOWN
        self._context_queued = threading.Event()
        self.calendar: CalendarSource | None = None  # while [calendar] is configured
        self._changes: dict[date, NightChanges] = {}  # each night's changes, as the last tick folded them
        # Where people look besides notifications (runtime/surfaces): each change is published there.
        self.followers = Followers()
        self.surfaces = Surfaces([self.followers])
        self.tray: Any = None  # runtime.surfaces.tray.Tray while `[notify] tray` is on and a bus exists
        self.activity = Recorder(self._write_span)

    @property
    def loaded(self) -> LoadedConfig:
        """The routine in force (the ledger plans the nights with it)."""
        return self.ledger.loaded

    @loaded.setter
    def loaded(self, loaded: LoadedConfig) -> None:
        self.ledger.loaded = loaded

    @property
    def backend(self) -> Backend:
        return self.screen.backend

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
        self.scheduler.start()
        self.timer = clock_timer(self.wake)
        self.sleep_watch = sleep_watch(self.wake, self.env, self._before_sleep)
        self._start_context()
        self._start_push()
        self._start_calendar()
        if self.loaded.path is not None or not self.paths.config_explicit:
            try:
                self.config_watch = ConfigWatch(self.paths.config, self._config_changed)
            except OSError as exc:
                log.warning("config changes are picked up only on SIGHUP: %s", exc)
        self._start_bus_surfaces()
        self.surfaces.start()
        # Last: a CLI that gets an answer may rely on everything above (a config saved the
        # moment `status` says we run is seen).
        self.control = ControlServer(self.paths.socket, self._on_request, self.followers.add)
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
        helpers = (
            self.control,
            self.config_watch,
            self.sleep_watch,
            self.context,
            self.zone_watch,
            self.calendar,
        )
        for helper in helpers:
            if helper is not None:
                helper.close()
        self.surfaces.close()  # followers see the stream end: the daemon stops
        if self.scheduler.running:
            finished = self.submit(self._finish)
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
        self.activity.stop(self.clock(), self.loaded.routine, self.loaded.zone)  # the open span
        self._stop_push()
        self.screen.close()
        self.ledger.close()

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

    def later(self, delay: timedelta, fn: Callable[..., Any], *args: Any, job: str | None = None) -> None:
        """`fn(*args)` on the worker, `delay` from now; a named `job` replaces its earlier one."""
        now = self.clock()
        at = self._on_system_clock(now.astimezone(UTC) + delay, now)
        self.scheduler.add_job(
            fn, "date", run_date=at, args=list(args), id=job, replace_existing=job is not None
        )

    def _on_system_clock(self, at: datetime, now: datetime) -> datetime:
        """`at` on this daemon's clock as a UTC time of the system clock, which the scheduler and
        the timer wait on. In service they are the same clock; a test may give the daemon its own."""
        at = at.astimezone(UTC)
        if self.clock is utc_now:
            return at
        return utc_now() + (at - now.astimezone(UTC))

    def _config_changed(self) -> None:
        self.submit(self.reload)

    # -- surfaces: the follow stream, the D-Bus API, the tray (runtime/surfaces) ---------------

    def _start_bus_surfaces(self) -> None:
        """The D-Bus API and the tray, where there is a session bus (none: jeepney is not even loaded)."""
        from sundown.notify import NotifyError
        from sundown.notify.bus import bus_address

        try:
            bus_address(self.env)
        except NotifyError:
            return
        from sundown.runtime.surfaces.dbus_api import DBusApi

        self.surfaces.add(DBusApi(lambda: bus_address(self.env), self._acting("dbus"), self.clock))
        if self.loaded.routine.tray:
            self._start_tray()

    def _start_tray(self) -> Any:
        from sundown.notify.bus import bus_address
        from sundown.runtime.surfaces.tray import Tray

        self.tray = Tray(lambda: bus_address(self.env), self._acting("tray"), self.clock)
        self.surfaces.add(self.tray)
        return self.tray

    def _tray_follows_config(self) -> None:
        """`[notify] tray` changed on a reload: show or hide the icon."""
        wanted = self.loaded.routine.tray
        if wanted and self.tray is None and self.control is not None:
            from sundown.notify import NotifyError
            from sundown.notify.bus import bus_address

            try:
                bus_address(self.env)
            except NotifyError:
                return
            self.surfaces.start_one(self._start_tray())
        elif not wanted and self.tray is not None:
            self.surfaces.remove(self.tray)
            self.tray = None

    def _acting(self, source: Source) -> Callable[[Request], concurrent.futures.Future[Any]]:
        """How a surface hands the daemon a request: done on the worker, the future has its outcome
        (a refusal is an outcome, not an error of the daemon's: it is not logged as one)."""

        def act(request: Request) -> concurrent.futures.Future[Any]:
            outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()

            def job() -> None:
                try:
                    outcome.set_result(self.answer(request, source))
                except SundownError as exc:
                    outcome.set_exception(exc)

            def ran(done: concurrent.futures.Future[Any]) -> None:
                if outcome.done():
                    return
                if done.cancelled():  # the daemon is stopping
                    outcome.cancel()
                elif done.exception() is not None:  # a fault of ours, logged by `submit`
                    outcome.set_exception(done.exception())

            self.submit(job).add_done_callback(ran)
            return outcome

        return act

    def answer(self, request: Request, source: Source) -> str:
        """A request from a surface, by the command line's rules; then a tick acts on it."""
        from sundown.runtime.surfaces import requests

        message = requests.apply(self, request, source)
        if request.verb != "report":
            self.tick()
        return message

    def reload_config(self) -> tuple[list[str], str | None]:
        problems = self.reload()
        return problems, str(self.paths.config) if not problems and self._config_removed() else None

    def open_report(self) -> str:
        """The HTML report written beside the log, then opened in the browser (the tray's menu)."""
        import sys

        path = self.paths.state_dir / "report.html"
        config = ("--config", str(self.paths.config)) if self.paths.config_explicit else ()
        argv = (sys.executable, "-m", "sundown", *config, "report", "--html", str(path))
        self.commands.open_report(argv, path)
        return f"writing {path} and opening it"

    def _start_context(self) -> None:
        """The person's context (busy, away) and the system zone: every source optional."""
        from sundown.runtime.context import ContextWatch

        try:
            self.context = ContextWatch(
                self.env,
                self._context_changed,
                self._zone_named,
                self.clock,
                idle_after=self.loaded.routine.context.idle,
            )
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
        if self.calendar is not None:
            self.calendar.kick()  # an hour may have passed asleep: the URL is due again
        self.submit(self.tick)  # adding a job also wakes the scheduler's own wait

    # -- push (the phone, other machines): only loaded when [push] is configured ------------

    def _start_push(self) -> None:
        push = self.loaded.routine.push
        if push is None:
            return
        from sundown.runtime.push import PushLink

        self.push_link = PushLink(push, self.ledger, self.screen, self, self.paths)
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
        _, changes = self.ledger.state(window(at, self.loaded.zone))
        self.activity.sleep(at, self.loaded.routine, self.loaded.zone, changes)

    def _resumed(self, at: datetime) -> None:
        _, changes = self.ledger.state(window(at, self.loaded.zone))
        self.activity.resume(at, self.loaded.routine, self.loaded.zone, changes)

    def _write_span(self, night: date, span: Span) -> None:
        """A closed span, as an `activity` row dated at its end."""
        self.ledger.apply("activity", night, None, "daemon", ts=activity.instant(span.end), **span.details())

    def _idle_polled(self) -> bool:
        """Idle time is known here only by asking (X11, the ScreenSaver's idle time; Mutter where
        its watches are refused): the recorder polls."""
        watch = self.context
        return watch is not None and watch.polled("idle") and not watch.idle_signalled()

    # -- the morning: the calendar and the phone's alarm (docs/morning.md) --------------------

    def _start_calendar(self) -> None:
        """Only with [calendar]: its thread reads and parses off the worker, then asks for a tick."""
        calendar = self.loaded.routine.calendar
        if calendar is None:
            return
        from sundown.calendar.source import CalendarSource

        self.calendar = CalendarSource(
            calendar, self.paths.calendar_copy, self.paths.calendar_meta, self._calendar_changed, self.clock
        )
        self.calendar.start()

    def _stop_calendar(self) -> None:
        if self.calendar is not None:
            self.calendar.close()
            self.calendar = None

    def _calendar_changed(self) -> None:
        self.submit(self.tick)

    def _replan(
        self,
        now: datetime,
        nights: list[date],
        progress: dict[tuple[date, str], ReminderNight],
        changes: dict[date, NightChanges],
    ) -> tuple[dict[tuple[date, str], ReminderNight], dict[date, NightChanges]]:
        """The calendar's word for each night still ahead, logged (`replanned`) when it changes
        the plan; the state again if it did. A calendar not read yet changes nothing."""
        from sundown.core import morning
        from sundown.core.plan import bedtime_of

        routine, zone = self.loaded.routine, self.loaded.zone
        source, calendar = self.calendar, routine.calendar
        if source is None or calendar is None:
            return progress, changes
        view = source.view()
        changed = False
        for night in nights:
            c = changes.get(night, NO_CHANGES)
            plan = night_plan(routine, night, zone, c)
            if plan is None or now.astimezone(UTC) >= plan.bedtime.astimezone(UTC):
                continue  # a night whose bedtime has passed keeps its plan
            if not view.covering(*morning.morning_window(routine, night, zone)):
                continue
            word = morning.calendar_morning(view.events, routine, night, zone, calendar.prepare)
            if not morning.replans(routine, night, zone, c, word):
                continue
            after = bedtime_of(routine, night, zone, replace(c, calendar=word))
            why = word.event if word else "no early event"
            log.info("replanned the night of %s from the calendar: bedtime %s (%s)", night, hm(after.at), why)
            details = {
                "source": "calendar",
                "bedtime": after.at.isoformat(),
                "event": word.event if word else None,
                "starts": word.starts.isoformat() if word and word.starts else None,
                "wake": word.wake.isoformat() if word else None,
            }
            self.ledger.apply_row("replanned", night, None, "daemon", details)
            changed = True
        return self.ledger.state(nights) if changed else (progress, changes)

    def alarm_changed(self, at: datetime | None) -> None:
        """On the worker (the push link's webhook, `PushLink.on_sleep_signal`): record the phone's
        next alarm as its morning's wake time (rows `bedtime_changed`, source `phone`), clear older
        alarms before it, and log `replanned` where it moves a bedtime. None: no alarm is set."""
        from sundown.core import morning
        from sundown.core.plan import ONE_DAY, bedtime_of

        routine, zone = self.loaded.routine, self.loaded.zone
        now = self.clock()
        first = night_of(now, zone)
        plan = night_plan(routine, first, zone, self.ledger.night(first).changes)
        if plan is None or now.astimezone(UTC) >= plan.bedtime.astimezone(UTC):
            first += ONE_DAY  # its bedtime passed: an alarm now is for the coming night
        horizon = [first + ONE_DAY * i for i in range(morning.ALARM_HORIZON.days + 1)]
        folded = {n: f.changes for n, f in self.ledger.nights(horizon).items()}
        rows = morning.alarm_rows(at, now, zone, first, folded)
        if at is not None and not rows and morning.alarm_night(at, now, zone) is None:
            log.info("the phone's alarm at %s is not a morning sundown plans; ignored", at.isoformat())
        for night, wake in rows:
            before = bedtime_of(routine, night, zone, folded.get(night, NO_CHANGES))
            after = bedtime_of(routine, night, zone, replace(folded.get(night, NO_CHANGES), alarm=wake))
            alarm = wake.wake.isoformat() if wake else None
            self.ledger.apply_row("bedtime_changed", night, None, "phone", {"alarm": alarm})
            moved = (after.at, after.source) != (before.at, before.source)
            if moved and "alarm" in (after.source, before.source):
                log.info("replanned the night of %s from the phone's alarm: bedtime %s", night, hm(after.at))
                details = {"source": "alarm", "bedtime": after.at.isoformat(), "wake": alarm}
                self.ledger.apply_row("replanned", night, None, "daemon", details)
        if rows:
            self.tick()

    def _why(self, send: Send) -> str | None:
        """The line the night's first notification after a replan carries: once, by the log."""
        from sundown.core.morning import why

        night = send.occurrences[0].night
        plan = night_plan(self.loaded.routine, night, self.loaded.zone, self._changes.get(night, NO_CHANGES))
        text = why(plan, self.loaded.zone) if plan is not None else None
        if text is None:
            return None
        events = self.ledger.night_events(night)
        said = any(e.event == "notified" and e.details.get("why") == text for e in events)
        return None if said else text

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

    def record(
        self, event: EventName, night: date, reminder: str | None, source: str, **details: Any
    ) -> None:
        """A row, at this daemon's clock (see `Ledger.apply`)."""
        self.ledger.apply(event, night, reminder, source, **details)

    def _retry_log_later(self) -> None:
        if self.scheduler.running:
            self.later(LOG_RETRY, self._flush_log, job="log-retry")

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
        nights = window(now, zone)
        progress, changes = self.ledger.state(nights)
        progress, changes = self._replan(now, nights, progress, changes)
        self._changes = changes
        decision = dispatch.decide(routine, zone, now, progress, changes, self.log_start)
        self.ctx_now = self._context_at(now)
        seen = self.ledger.seen
        verdict = context.adjust(routine, zone, now, decision, progress, seen, changes, self.ctx_now)
        for occ in verdict.missed:
            log.info("missed %s on night %s (due %s)", occ.reminder.id, occ.night, hm(occ.at))
            self.ledger.apply("missed", occ.night, occ.reminder.id, "daemon", at=occ.at.isoformat())
        for ack in verdict.acks:
            self._away_ack(ack)
        for held in verdict.held:
            self._defer(held)
        for send, urgency in verdict.sends:
            self._send(send, now, urgency)
        for step in verdict.escalations:
            self.escalator.step(step, now)
        for key in verdict.stop_escalating:
            self.ledger.stop_escalating(key)
        for gone in self.screen.withdraw_settled(
            set(decision.settled) | {a.key for a in verdict.acks}, self.ledger
        ):
            if self.push_link is not None:
                self.push_link.on_settled(gone)
        signalled = self.context is not None and self.context.idle_signalled()
        polled = self._idle_polled()
        measure_at = self.activity.look(now, routine, zone, changes, self.ctx_now, polled, signalled)
        if self.push_link is not None:
            self.push_link.after_sends(now, progress, changes)
            self.push_link.spans.publish_closed(now)  # after the look: a night's last span is in
        self.ledger.forget_before(nights[0])
        self.screen.forget_before(nights[0])
        # In UTC: `next_at` is a local time, and wall-clock arithmetic on it drops the fold of a
        # fall-back night's repeated hour (the timer would aim an hour early and fire at once).
        next_at = self._next_look(verdict, now, measure_at)
        next_at = self._on_system_clock(next_at, now) if next_at is not None else None
        if next_at is not None:
            self.scheduler.add_job(self.tick, "date", run_date=next_at, id="tick", replace_existing=True)
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

    def _context_at(self, now: datetime) -> Context:
        if self.context is None:
            return UNKNOWN
        try:
            return self.context.snapshot(now)
        except Exception as exc:  # a source gone wrong must never stop a reminder
            log.warning("could not read the desktop's state (%s); going by the clock", exc)
            return UNKNOWN

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

    def _defer(self, held: Held) -> None:
        for occ in held.send.occurrences:
            if occ.key not in held.announce:
                continue  # this hold is logged already
            log.info("deferred %s (%s) until %s at the latest", occ.reminder.id, held.reason, hm(held.until))
            self.ledger.apply(
                "deferred",
                occ.night,
                occ.reminder.id,
                "daemon",
                reason=held.reason,
                until=held.until.isoformat(),
            )

    def _away_ack(self, ack: AwayAck) -> None:
        night, rid = ack.key
        log.info("%s acknowledged by itself (%s since %s)", rid, ack.source, hm(ack.at))
        self.ledger.apply("acknowledged", night, rid, ack.source, ts=ack.at, notified=ack.notified)

    def _send(self, send: Send, now: datetime, urgency: Urgency = "normal") -> None:
        shown = self.screen.join_open(send, now, self.ledger)
        if len(shown.occurrences) > len(send.occurrences):
            message = joined_message(shown, urgency)
        else:
            message = reminder_message(shown, self.ledger.seen.get(shown.occurrences[0].key, QUIET), urgency)
        why = self._why(send)
        if why is not None:  # "Tomorrow starts 07:30 (Flight): bedtime 22:15"
            message = replace(message, body=f"{message.body}\n{why}".strip())
        delivered_by = self.screen.show(message, shown.occurrences, send.occurrences)
        if self.push_link is not None:
            own = message if shown.occurrences == send.occurrences else reminder_message(send, QUIET)
            self.push_link.on_send(send, own.title, own.body, self.away())
        # Its id on the server, so that a restarted daemon replaces and closes it (_take_over_shown).
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
                self.commands.start(occ.reminder.id, occ.reminder.run, self.loaded.path)
        log.info("notified %s via %s", message.title, delivered_by)

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
        now = self.clock()
        for night in sorted({night for night, _ in stands_for}):
            ids = tuple(rid for n, rid in stands_for if n == night)
            for ruling in answers.apply(self.ledger, Answer(night, ids, action, "action"), now):
                if ruling.outcome == "refused":
                    log.info("%s of %s refused: %s", action, ruling.reminder, ruling.why)
        log.info("%s: %s", action, ", ".join(rid for _, rid in stands_for))
        if self.push_link is not None:
            self.push_link.on_desktop_answer(key, action)
        if action in ("done", "dismissed"):
            self.screen.answered(key)
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
                    self.ledger.apply("config_error", night, None, "daemon", errors=exc.problems)
                    self.screen.notice(CONFIG_NOTICE, text)
                return exc.problems
            if self.config_problem is not None:
                self.screen.withdraw_notice(CONFIG_NOTICE)  # the errors it showed are gone
            self.config_problem = None
            self.screen.use(self.backend_override or loaded.routine.backend)
            push_changed = loaded.routine.push != self.loaded.routine.push
            if self.context is not None and loaded.routine.context.idle != self.loaded.routine.context.idle:
                self.context.watch_idle(loaded.routine.context.idle)
            calendar_changed = loaded.routine.calendar != self.loaded.routine.calendar
            self.loaded = loaded
            remember_good(self.paths, loaded)
            if push_changed:
                self._stop_push()
                self._start_push()
            if calendar_changed:
                self._stop_calendar()
                self._start_calendar()
            self._tray_follows_config()
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
        nights = self.ledger.nights([current])
        night = tonight_of(now, zone, nights[current])
        if night not in nights:
            nights.update(self.ledger.nights([night]))
        return snapshot(
            nights[night],
            now,
            running=True,
            pid=os.getpid(),
            backend=self.screen.name,
            last_backend=self.screen.last_backend,
            config=str(self.loaded.path) if self.loaded.path else None,
            config_error=self.config_problem,
            log_error=self.ledger.problem,
            push=self.push_link.snapshot() if self.push_link is not None else None,
            calendar=self.calendar.view().to_json() if self.calendar is not None else None,
            zone=zone,
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
