"""The wind-down controller: it owns the effects and the undo journal.

The daemon calls `tick(now, ...)` from its own tick; the controller decides from the pure
rules (core/winddown.py) whether the desktop should be wound down now, starts or ends it, and
returns the next instant it needs (the window's start or end, a child's restart). Applying
and putting back run on one thread of the controller's own, one change after another (two
effects never race on one setting), so a tool that hangs until its timeout never holds back
a reminder; the rows for the log are handed to the daemon's worker (`emit`), which owns the log.

Undo (the journal, runtime/effects/journal.py) at `until`, on `sundown winddown off`, on a
whole-night skip, at a clean stop (and applied again at the next start inside the window),
and at the first start after a crash or a reboot: what has passed `until` is put back,
what has not is applied where it no longer holds (an inhibition that died with the old
process, a child that went with it). A setting the person changed meanwhile stays theirs.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from sundown.core import winddown as rules
from sundown.core.plan import NightChanges, night_of
from sundown.core.routine import EFFECTS, Routine, WindDown
from sundown.core.winddown import FAILED, KEPT, ON, RESTORED, UNAVAILABLE, Span, failed
from sundown.paths import Paths

if TYPE_CHECKING:
    from sundown.runtime.delivery import Delivery
    from sundown.runtime.effects import Choice, Interface
    from sundown.runtime.effects.journal import Entry
    from sundown.runtime.effects.session import Session, Starter
    from sundown.runtime.ledger import Ledger
    from sundown.runtime.worker import Worker

# The effects, their journal and their tools are imported when a controller is made: a daemon
# without [winddown] (and nothing to undo) never loads them.

log = logging.getLogger("sundown")

UTC = timezone.utc
STOP_BUDGET_S = 1.5  # a clean stop puts back what it can in this long; the rest at the next start
WAIT_S = 10.0  # how long a CLI request waits for its change
RESTART_FIRST = timedelta(seconds=2)
RESTART_MAX = timedelta(minutes=5)
GIVE_UP_AFTER = 5  # deaths of a child within RESTART_WINDOW: not started again tonight
RESTART_WINDOW = timedelta(minutes=10)
Emit = Callable[[date, dict[str, Any]], None]


def _earliest(*times: datetime | None) -> datetime | None:
    return min((t for t in times if t is not None), key=lambda t: t.astimezone(UTC), default=None)


def _worst(old: str | None, new: str) -> str:
    """One word per effect when it has several settings: failed > kept > restored."""
    rank = {RESTORED: 0, KEPT: 1}
    if old is None:
        return new
    if old.startswith(FAILED):
        return old
    if new.startswith(FAILED):
        return new
    return old if rank.get(old, 0) >= rank.get(new, 0) else new


class WindDownControl:
    """See the module's docstring. `tick`, `snapshot`, `own_dnd` are called on the daemon's
    worker; the changes run on the controller's thread."""

    def __init__(
        self,
        paths: Paths,
        env: Mapping[str, str],
        emit: Emit,
        wake: Callable[[], None],
        commands: Starter | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.paths = paths
        self.clock = clock
        self.env = dict(env)
        self.emit = emit
        self.wake = wake
        self.commands = commands
        from sundown.runtime.effects.journal import Journal, JournalError

        self.problem: str | None = None
        try:
            self.journal = Journal.load(paths.winddown_journal)
        except JournalError as exc:
            log.error("wind-down: %s", exc)
            self.problem = str(exc)
            self.journal = Journal(paths.winddown_journal)
        self.live: dict[str, Interface] = {}  # what this process applied (bound ones hold things)
        self.outcomes: dict[str, str] = {}  # effect -> word, for `status`
        self.choices: dict[str, Choice] = {}
        self.active: Span | None = None  # the stretch applied now
        self.applied_with: WindDown | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._job: concurrent.futures.Future[None] | None = None
        self._check = threading.Event()  # a resume, a child that died: look what still holds
        self.restart_at: datetime | None = None
        self.deaths: list[datetime] = []
        self.gave_up: str | None = None
        self.zone: tzinfo = UTC
        self.next_start: datetime | None = None  # when the next stretch begins (for `status`)

    # -- on the daemon's worker ---------------------------------------------------------------

    def tick(
        self,
        now: datetime,
        routine: Routine,
        zone: tzinfo,
        events: Iterable[Any],
        changes: Mapping[date, NightChanges],
    ) -> datetime | None:
        """Start, keep or end the wind-down for `now`; the next instant the controller needs."""
        self.zone = zone
        wd = routine.winddown
        if self.busy():
            return None  # the job in hand ticks again when it is done
        if wd is None:
            if self.active is not None or self.journal.entries:
                self._submit(self._end, self._reason(now, None, changes, ()), now)
            return None
        requests = rules.requests_of(events, zone)
        state = rules.state_at(wd, routine, zone, now, changes, requests)
        self.next_start = state.next_start
        want = state.active
        if want is not None:
            if self.active is None or wd != self.applied_with:
                self._submit(self._start, want, wd, now, self.active is not None)
            elif self._check.is_set() or (self.restart_at is not None and self.restart_at <= now):
                self._check.clear()
                self.restart_at = None
                self._submit(self._start, want, wd, now, True)
            else:
                self.active = want  # the same stretch, perhaps longer (`winddown on` joined it)
        elif self.active is not None or self.journal.entries:
            self._submit(self._end, self._reason(now, wd, changes, requests), now)
        return _earliest(state.next_at, self.restart_at if want is not None else None)

    def _reason(
        self,
        now: datetime,
        wd: WindDown | None,
        changes: Mapping[date, NightChanges],
        requests: Iterable[rules.Request],
    ) -> str:
        """Why the wind-down ends now: until | off | skip | config | moved (its window was planned
        anew and no longer holds now: travel, `sundown tonight --bedtime`, the calendar)."""
        if wd is None:
            return "config"
        window = self.journal.window
        until = self.active.end if self.active is not None else window.get("until")
        since = self.active.start if self.active is not None else window.get("since")
        if isinstance(until, str):
            until = datetime.fromisoformat(until)
        if isinstance(since, str):
            since = datetime.fromisoformat(since)
        if until is None or until.astimezone(UTC) <= now.astimezone(UTC):
            return "until"
        if self.active is not None and changes.get(self.active.night, NightChanges()).skip_all:
            return "skip"
        asked = [r for r in requests if not r.on and r.at <= now.astimezone(UTC)]
        if since is None or any(r.at >= since.astimezone(UTC) for r in asked):
            return "off"
        return "moved"

    def woke(self) -> None:
        """A resume or a clock change: the next tick looks at what still holds."""
        self._check.set()

    def busy(self) -> bool:
        return self._job is not None and not self._job.done()

    def wait(self, timeout: float = WAIT_S) -> bool:
        """Until the change in hand is done (a CLI request waits for its answer)."""
        job = self._job
        if job is None:
            return True
        try:
            job.result(timeout)
        except concurrent.futures.TimeoutError:
            return False
        except Exception:  # logged where it happened
            return True
        return True

    def own_dnd(self) -> tuple[str | None, str | None]:
        """(the context source of sundown's own Do Not Disturb, the urgency its own reminders need
        to show through it); (None, None) while none holds. A Do Not Disturb the person had on
        before is theirs: it still counts as busy."""
        iface = self.live.get("dnd")
        if iface is None:
            return None, None
        # From the journal, which has the entry before the change is made: a reminder due while
        # the other effects are still being applied already knows the Do Not Disturb is ours.
        entries = self.journal.of("dnd")
        if not entries or not any(iface.changed(e) for e in entries):
            return None, None
        return iface.context_key, iface.own_urgency

    def snapshot(self, zone: tzinfo) -> dict[str, Any]:
        """`status --json`'s "winddown" (and `next`, when the next stretch begins)."""
        found = rules.snapshot(self.active, zone, self.outcomes, self.pending_problem())
        if self.active is None and self.next_start is not None:
            found["next"] = self.next_start.astimezone(zone).isoformat()
        return found

    def pending_problem(self) -> str | None:
        stuck = [e for e in self.journal.entries if e.error]
        if stuck and self.active is None:
            what = "; ".join(f"{e.effect} ({e.setting}): {e.error}" for e in stuck[:3])
            return f"{len(stuck)} setting(s) could not be put back yet, tried again at the next start: {what}"
        return self.problem or self.gave_up

    # -- the controller's thread ----------------------------------------------------------------

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sundown-winddown")
        self._job = self._executor.submit(self._guarded, fn, *args)
        # Once the job is done (not from inside it: that tick would still find it busy and not
        # ask for the next instant), the daemon ticks again: the window's end, own DND.
        self._job.add_done_callback(lambda _job: self.wake())

    def _guarded(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # never let a wind-down problem take the daemon with it
            log.exception("wind-down: %s failed", getattr(fn, "__name__", fn))

    def _session(self, deadline: float | None = None) -> Session:
        from sundown.runtime.effects.session import Session

        session = Session(self.env, commands=self.commands)
        session.deadline = deadline
        return session

    def _start(self, want: Span, wd: WindDown, now: datetime, again: bool) -> None:
        """Apply every effect `wd` asks for that does not hold yet (all of them, the first time)."""
        from sundown.runtime.effects.journal import JournalError

        first = self.active is None
        if again and self.applied_with is not None and wd != self.applied_with:
            self._restore_all("config", now, emit=False)  # the section changed: apply it anew
            first = True
        session = self._session()
        since, until = rules.window_text(want, want.start.tzinfo or UTC)
        window = self.journal.window
        paused = window.get("since") == since and bool(window.get("paused"))
        try:
            self.journal.set_window(since=since, until=until, paused=paused)
        except JournalError as exc:
            self._journal_failed(exc)
            return
        outcomes: dict[str, str] = {}
        unavailable: dict[str, str] = {}
        started = time.monotonic()
        for effect in wd.wanted():
            outcomes[effect] = self._apply(effect, session, wd, paused)
            choice = self.choices.get(effect)
            if outcomes[effect] == UNAVAILABLE and choice is not None:
                unavailable[effect] = choice.why + (f"; fix: {choice.fix}" if choice.fix else "")
        for effect in {e.effect for e in self.journal.entries} - set(wd.wanted()):
            self._restore_effect(effect, session, {})
        self.active, self.applied_with = want, wd
        changed = outcomes != {k: v for k, v in self.outcomes.items() if k in outcomes}
        self.outcomes = outcomes
        took = time.monotonic() - started
        if first or changed:
            log.info(
                "wind-down %s until %s (%.2f s): %s",
                "started" if first else "re-applied",
                want.end.astimezone(self.zone).strftime("%H:%M"),
                took,
                ", ".join(f"{k} {v}" for k, v in outcomes.items()),
            )
            details: dict[str, Any] = {"phase": "start", "effects": outcomes, "since": since, "until": until}
            if unavailable:
                details["unavailable"] = unavailable
            if not first:
                details["again"] = True
            self.emit(want.night, details)

    def _apply(self, effect: str, session: Session, wd: WindDown, paused: bool) -> str:
        from sundown.runtime.effects import EffectError, choose
        from sundown.runtime.effects.journal import JournalError

        if effect == "pause_media" and paused:
            return ON  # once a stretch, not again after a restart
        entries = self.journal.of(effect)
        if entries:
            iface = self._interface(entries[0], session, wd)
            if iface is not None and all(iface.holds(e) for e in entries):
                self.live[effect] = iface
                return self.outcomes.get(effect, ON)
            # Held by a process that is gone (an inhibition, a child), or a child that died:
            # let go of what is left, and apply it again.
            self._restore_effect(effect, session, {})
        choice = choose(effect, session, wd)
        self.choices[effect] = choice
        iface = choice.interface
        if iface is None:
            if choice.broken:
                log.warning("wind-down: %s failed: %s", effect, choice.why)
                return failed(choice.why)
            log.info("wind-down: %s unavailable: %s", effect, choice.why)
            return UNAVAILABLE
        self.live[effect] = iface  # before it applies: what it records is known as ours at once
        try:
            iface.apply(self.journal)
        except (EffectError, JournalError) as exc:
            log.warning("wind-down: %s (%s) failed: %s", effect, iface.label, exc)
            return failed(str(exc))
        except Exception as exc:  # an unexpected answer from a tool: that effect failed, not the rest
            log.exception("wind-down: %s (%s)", effect, iface.label)
            return failed(f"{type(exc).__name__}: {exc}")
        iface.watch(self._ended_by_itself)
        if effect == "pause_media":
            with_pause = dict(self.journal.window, paused=True)
            try:
                self.journal.set_window(**with_pause)
            except JournalError as exc:
                log.warning("wind-down: %s", exc)
        return ON

    def _interface(self, entry: Entry, session: Session, wd: WindDown | None) -> Interface | None:
        from sundown.runtime.effects import registry

        live = self.live.get(entry.effect)
        if live is not None and live.name == entry.interface:
            # This change's session: a stop's bounds every tool by its deadline (STOP_BUDGET_S).
            live.session = session
            return live
        cls = registry().get(entry.interface)
        return cls(session, wd) if cls is not None else None

    def _end(self, reason: str, now: datetime) -> None:
        self._restore_all(reason, now, emit=True)

    def _restore_all(self, reason: str, now: datetime, emit: bool, deadline: float | None = None) -> None:
        from sundown.runtime.effects.journal import JournalError

        session = self._session(deadline)
        outcomes: dict[str, str] = {}
        night = self.active.night if self.active is not None else night_of(now, self.zone)
        for effect in dict.fromkeys(e.effect for e in reversed(self.journal.entries)):
            self._restore_effect(effect, session, outcomes)
        for iface in self.live.values():
            iface.release()
        self.live = {}
        self.active = None
        self.applied_with = None
        self.restart_at = None
        self.deaths = []
        self.gave_up = None
        self.outcomes = outcomes
        try:
            if not self.journal.entries:
                self.journal.set_window(**(self.journal.window if reason == "stop" else {}))
        except JournalError as exc:
            log.warning("wind-down: %s", exc)
        session.close()
        if not emit or not outcomes:
            return
        log.info("wind-down ended (%s): %s", reason, ", ".join(f"{k} {v}" for k, v in outcomes.items()))
        ordered = {e: outcomes[e] for e in EFFECTS if e in outcomes}
        self.emit(night, {"phase": "end", "effects": ordered, "reason": reason})

    def _restore_effect(self, effect: str, session: Session, outcomes: dict[str, str]) -> None:
        from sundown.runtime.effects import EffectError
        from sundown.runtime.effects.journal import JournalError

        for entry in reversed(self.journal.of(effect)):
            iface = self._interface(entry, session, None)
            try:
                if iface is None:
                    raise EffectError(f"no interface {entry.interface!r} in this version of sundown")
                word = RESTORED if iface.restore(entry) else KEPT
                self.journal.remove(entry.setting)
            except (EffectError, JournalError) as exc:
                word = failed(str(exc))
                log.warning("wind-down: could not put back %s: %s", entry.setting, exc)
                try:
                    self.journal.update(replace(entry, error=str(exc)))
                except JournalError as again:
                    log.warning("wind-down: %s", again)
            except Exception as exc:
                word = failed(f"{type(exc).__name__}: {exc}")
                log.exception("wind-down: putting back %s", entry.setting)
            if word == KEPT:
                log.info("wind-down: %s was changed meanwhile; left as it is", entry.setting)
            outcomes[effect] = _worst(outcomes.get(effect), word)
        live = self.live.pop(effect, None)
        if live is not None:
            live.release()

    def _journal_failed(self, exc: Exception) -> None:
        """Without a journal nothing is changed: an undo that cannot be written is no undo."""
        log.error("wind-down: %s; nothing is changed", exc)
        self.problem = str(exc)

    def _ended_by_itself(self, why: str) -> None:
        """From a child's watch thread: it died. Started again after a pause that grows."""
        now = self.clock()
        self.deaths = [t for t in self.deaths if now - t < RESTART_WINDOW] + [now]
        log.warning("wind-down: %s", why)
        if len(self.deaths) >= GIVE_UP_AFTER:
            self.gave_up = f"{why}; it died {len(self.deaths)} times in {RESTART_WINDOW}: not started again"
            for effect, iface in self.live.items():
                if iface.bound:
                    self.outcomes[effect] = failed(self.gave_up)
            self.restart_at = None
        else:
            pause = min(RESTART_FIRST * 2 ** (len(self.deaths) - 1), RESTART_MAX)
            self.restart_at = (now.astimezone(UTC) + pause).astimezone(now.tzinfo)
        self.wake()

    # -- the daemon stops --------------------------------------------------------------------

    def close(self, restore: bool, now: datetime) -> None:
        """A clean stop: put everything back (in at most STOP_BUDGET_S; what is left stays in the
        journal for the next start), let go of what is held, end the thread."""
        deadline = time.monotonic() + STOP_BUDGET_S
        if self._job is not None:
            try:
                self._job.result(max(0.0, deadline - time.monotonic()))
            except (concurrent.futures.TimeoutError, Exception):
                pass
        if restore and (self.active is not None or self.journal.entries) and not self.busy():
            self._restore_all("stop", now, emit=True, deadline=deadline)
        for iface in self.live.values():
            iface.release()
        self.live = {}
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def survey(env: Mapping[str, str], wd: WindDown) -> list[Choice]:
    """What each effect `wd` asks for would use on this desktop (`sundown doctor`); nothing is changed."""
    from sundown.runtime.effects import choose
    from sundown.runtime.effects.session import Session

    session = Session(env)
    try:
        return [choose(effect, session, wd) for effect in wd.wanted()]
    finally:
        session.close()


def restore_now(paths: Paths, env: Mapping[str, str], reason: str) -> tuple[dict[str, str], str | None]:
    """Put back everything in the journal from this process (no daemon runs): `sundown winddown
    off` and `sundown service uninstall`. The outcome per effect, and a problem if any."""
    rows: list[dict[str, Any]] = []
    control = WindDownControl(paths, env, lambda night, details: rows.append(details), lambda: None)
    problem = control.problem
    control._restore_all(reason, datetime.now(UTC), emit=True)
    control.close(restore=False, now=datetime.now(UTC))
    return (rows[0]["effects"] if rows else {}), problem or control.pending_problem()


class WindDownLink:
    """The daemon's side of the wind-down, so the daemon calls one line for each: the controller
    is made at start when `[winddown]` is configured or its journal has something to undo (or
    later, when a reload adds the section); `tick` folds the nights' rows for it; `request`
    answers `sundown winddown on|off|status` from the control thread."""

    def __init__(
        self,
        ledger: Ledger,
        delivery: Delivery,
        paths: Paths,
        env: Mapping[str, str],
        worker: Worker,
        tick: Callable[[], None],
    ) -> None:
        self.ledger = ledger
        self.paths = paths
        self.env = dict(env)
        self.commands = delivery.commands
        self.worker = worker
        self.daemon_tick = tick
        self.clock = worker.clock
        self.control: WindDownControl | None = None
        # Its own Do Not Disturb: sundown's reminders go out at the urgency that shows through it.
        delivery.through_dnd = lambda: self.own_dnd()[1]
        self.make()  # now, before the worker trims the start-up's memory

    def make(self) -> WindDownControl | None:
        if self.control is None and (
            self.ledger.loaded.routine.winddown is not None or self.paths.winddown_journal.exists()
        ):
            self.control = WindDownControl(
                self.paths,
                self.env,
                self._row,
                self._changed,
                lambda label, argv: self.commands.start(label, argv, self.ledger.loaded.path),
                self.clock,
            )
        return self.control

    def _changed(self) -> None:
        """From the controller's thread: a change is done (or a child died): tick again."""
        if self.worker.running:
            self.worker.submit(self.daemon_tick)

    def _row(self, night: date, details: dict[str, Any]) -> None:
        """From the controller's thread (or a stopping daemon's): the row, written by the worker."""
        if self.worker.running:
            self.worker.submit(lambda: self.ledger.apply("winddown", night, None, "daemon", **details))
        else:  # tests drive tick() themselves, or the worker is gone
            self.ledger.apply("winddown", night, None, "daemon", **details)

    def tick(self, now: datetime, also: datetime | None = None) -> datetime | None:
        """On the worker: start, keep or end it; the next instant the daemon needs, the wind-down's
        or `also` (the reminders'), whichever comes first."""
        found = self._tick(now)
        return min((t for t in (found, also) if t is not None), key=lambda t: t.timestamp(), default=None)

    def _tick(self, now: datetime) -> datetime | None:
        control = self.make()
        if control is None:
            return None
        from sundown.core.state import fold_changes

        loaded = self.ledger.loaded
        events: list[Any] = []
        changes = {}
        for night in rules.nights_around(now, loaded.zone):
            rows = self.ledger.night_events(night)
            events.extend(rows)
            changes[night] = fold_changes(rows)
        try:
            return control.tick(now, loaded.routine, loaded.zone, events, changes)
        except Exception:  # the wind-down never stops a reminder
            log.exception("wind-down")
            return None

    def own_dnd(self) -> tuple[str | None, str | None]:
        return self.control.own_dnd() if self.control is not None else (None, None)

    def status(self) -> dict[str, Any] | None:
        return self.control.snapshot(self.ledger.loaded.zone) if self.control is not None else None

    def woke(self) -> None:
        if self.control is not None:
            self.control.woke()

    def close(self, now: datetime) -> None:
        """A clean stop: everything put back (the next start inside the window applies it again)."""
        if self.control is not None:
            self.control.close(restore=True, now=now)

    def request(self, action: str, timeout: float) -> dict[str, Any]:
        """`sundown winddown on|off|status`, from the control thread: the request's row first,
        then the change, then the state once the change is done."""
        call = self.worker.call
        if action == "status":
            return {"ok": True, "winddown": call(self.status, timeout=timeout)}
        if action not in ("on", "off"):
            return {"ok": False, "error": f"unknown wind-down action {action!r}"}
        if action == "on" and self.ledger.loaded.routine.winddown is None:
            return {"ok": False, "error": "the config has no [winddown] section (`sundown help winddown`)"}
        control = call(self.make, timeout=timeout)
        if control is None:
            return {"ok": True, "nothing": True, "winddown": None}

        def holds() -> bool:
            return control.active is not None or bool(control.journal.entries)

        if action == "off":
            control.wait()
            if not call(holds, timeout=timeout):
                return {"ok": True, "nothing": True, "winddown": call(self.status, timeout=timeout)}
        call(self._requested, action, timeout=timeout)
        done = control.wait()
        reply: dict[str, Any] = {"ok": True, "winddown": call(self.status, timeout=timeout)}
        if not done:
            reply["pending"] = True
        return reply

    def _requested(self, action: str) -> None:
        now = self.clock()
        phase = "start" if action == "on" else "end"
        night = night_of(now, self.ledger.loaded.zone)
        self.ledger.apply("winddown", night, None, "cli", phase=phase, requested=True)
        self.daemon_tick()
