"""Noticing that time moved under us: resume from suspend and wall-clock jumps.

APScheduler 3.x waits on the monotonic clock, which stops during suspend and
ignores clock sets, so on its own it wakes up late. Three detectors call
`on_wake(reason)` so the daemon re-evaluates at once (docs/time.md):

- a CLOCK_REALTIME timerfd armed at the next due instant with
  TFD_TIMER_CANCEL_ON_SET: it fires when that wall time passes, also right after
  a resume, and is cancelled by any clock set;
- logind's PrepareForSleep(false) on the system bus, where there is one;
- where timerfd is missing (not Linux), a drift check once a minute.

Every thread blocks without a timeout while idle and stops via a pipe.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sundown.runtime.waiting import FdThread

log = logging.getLogger(__name__)
LOGIN1 = "org.freedesktop.login1"
BUS = "org.freedesktop.DBus"

CLOCK_REALTIME = 0
TFD_CLOEXEC = 0o2000000
TFD_TIMER_ABSTIME = 1
TFD_TIMER_CANCEL_ON_SET = 2
FAR_AHEAD_S = 86400


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class ClockTimer(FdThread):
    """A realtime timerfd that fires at the next due instant or on any clock set."""

    def __init__(self, on_wake: Callable[[str], None]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._create = libc.timerfd_create
        self._settime = libc.timerfd_settime
        fd = self._create(CLOCK_REALTIME, TFD_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd = fd
        self._on_wake = on_wake
        self._lock = threading.Lock()
        self._target = time.time() + FAR_AHEAD_S
        self.arm(None)
        self.start_thread(fd, "sundown-clock")

    def arm(self, at: datetime | None) -> None:
        """Fire at `at` (or only on a clock set when None); `at` must be aware."""
        with self._lock:
            # .timestamp() of an aware datetime honours its fold (the repeated hour of a
            # fall-back night), which wall-clock arithmetic on it would not.
            self._target = at.timestamp() if at is not None else time.time() + FAR_AHEAD_S
            self._set(self._target)

    def _set(self, target: float) -> None:
        spec = _Itimerspec()
        spec.it_value.tv_sec = int(target)
        spec.it_value.tv_nsec = max(1, int((target - int(target)) * 1e9))
        flags = TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET
        if self._settime(self._fd, flags, ctypes.byref(spec), None) != 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")

    def readable(self) -> bool:
        try:
            os.read(self._fd, 8)
            reason = "timer"
        except OSError as exc:
            if exc.errno != errno.ECANCELED:
                raise
            reason = "clock set"
        with self._lock:
            # After a cancel or an expiry the timer must be re-armed to keep watching.
            self._target = max(self._target, time.time() + FAR_AHEAD_S) if reason == "timer" else self._target
            self._set(self._target)
        self._on_wake(reason)
        return True

    def release(self) -> None:
        os.close(self._fd)


class DriftCheck:
    """Fallback where timerfd is missing: compare wall and monotonic clocks once a minute."""

    def __init__(self, on_wake: Callable[[str], None], period: float = 60.0) -> None:
        self._on_wake = on_wake
        self._period = period
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sundown-drift", daemon=True)
        self._thread.start()

    def arm(self, at: datetime | None) -> None:
        """Nothing to arm: the check runs on a fixed period."""

    def _loop(self) -> None:
        offset = time.time() - time.monotonic()
        while not self._stopped.wait(self._period):
            now_offset = time.time() - time.monotonic()
            if abs(now_offset - offset) > 2:
                self._on_wake("clock jump or resume")
            offset = now_offset

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=1)


class SleepWatch(FdThread):
    """logind's PrepareForSleep on the system bus: about to sleep (true), just resumed (false).

    With `on_sleep` and `want_delay(True)` (push configured), it holds a logind "delay"
    inhibitor, so the machine waits (at most logind's InhibitDelayMaxSec, 5 s by default)
    while `on_sleep` hands reminders to the push server; the lock is let go once it
    returns and taken again on resume.

    Only logind is believed: a signal counts when its sender (set by the bus, it cannot be
    forged) is the unique name that owns org.freedesktop.login1 now (GetNameOwner at start,
    then NameOwnerChanged). Anyone else's, even sent to us alone, is counted (`strangers`) and
    changes nothing. A flood costs little: a resume is acted on at most once per
    `RESUME_GAP_S` (a tick, a log line, a fresh push connection each), the rest are counted.
    """

    RESUME_GAP_S = 2.0

    def __init__(
        self,
        on_wake: Callable[[str], None],
        address: str = "SYSTEM",
        on_sleep: Callable[[], None] | None = None,
    ) -> None:
        from jeepney import MatchRule, message_bus
        from jeepney.io.blocking import open_dbus_connection

        self._on_wake = on_wake
        self._on_sleep = on_sleep
        self._address = address
        self._delay = False
        self._lock_fd: int | None = None
        self.strangers = 0  # PrepareForSleep from someone not owning login1: ignored
        self.flooded = 0  # resumes within RESUME_GAP_S of the last one acted on: ignored
        self._last_resume = -self.RESUME_GAP_S
        self._conn = open_dbus_connection(bus=address)
        rule = MatchRule(
            type="signal",
            sender=LOGIN1,  # the bus matches this against the name's owner only (broadcasts)
            interface="org.freedesktop.login1.Manager",
            member="PrepareForSleep",
            path="/org/freedesktop/login1",
        )
        owners = MatchRule(
            type="signal", sender=BUS, interface=BUS, member="NameOwnerChanged", path="/org/freedesktop/DBus"
        )
        owners.add_arg_condition(0, LOGIN1)
        for match in (rule, owners):
            self._conn.send_and_get_reply(message_bus.AddMatch(match), timeout=2)
        reply = self._conn.send_and_get_reply(message_bus.GetNameOwner(LOGIN1), timeout=2)
        owner = reply.body[0] if reply.body and isinstance(reply.body[0], str) else None
        self._owner: str | None = owner if owner and owner.startswith(":") else None  # none: an error
        self.start_thread(self._conn.sock.fileno(), "sundown-sleep")

    def want_delay(self, on: bool) -> None:
        """Hold (or let go of) the delay inhibitor that gives `on_sleep` its time."""
        self._delay = on and self._on_sleep is not None
        if self._delay:
            self._take_lock()
        else:
            self._release_lock()

    def _take_lock(self) -> None:
        if self._lock_fd is not None:
            return
        try:
            from jeepney import DBusAddress, MessageType, new_method_call
            from jeepney.io.blocking import open_dbus_connection

            login1 = DBusAddress(
                "/org/freedesktop/login1", "org.freedesktop.login1", "org.freedesktop.login1.Manager"
            )
            call = new_method_call(
                login1, "Inhibit", "ssss", ("sleep", "sundown", "hand reminders to the push server", "delay")
            )
            with open_dbus_connection(bus=self._address, enable_fds=True) as conn:
                reply = conn.send_and_get_reply(call, timeout=2)
            if reply.header.message_type is MessageType.error:
                raise OSError(str(reply.body[0] if reply.body else "refused"))
            self._lock_fd = reply.body[0].to_raw_fd()
        except Exception as exc:  # no logind (containers): suspend just does not wait for us
            log.info("no sleep delay lock (%s); reminders are handed over only if there is time", exc)

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)

    def readable(self) -> bool:
        try:
            msg = self._conn.receive(timeout=1)
        except Exception as exc:  # connection lost: the other detectors still cover us
            log.warning("lost the system bus (%s); resume detection falls back to the clock timer", exc)
            return False
        while msg is not None:
            self._take(msg)
            try:  # what else has come in already: a buffered message wakes no poll
                msg = self._conn.receive(timeout=0)
            except TimeoutError:
                msg = None
            except Exception as exc:
                log.warning("lost the system bus (%s); resume detection falls back to the clock timer", exc)
                return False
        return True

    def _take(self, msg: Any) -> None:
        from jeepney import HeaderFields

        fields = msg.header.fields
        member, sender = fields.get(HeaderFields.member), fields.get(HeaderFields.sender)
        if member == "NameOwnerChanged" and sender == BUS and len(msg.body) == 3 and msg.body[0] == LOGIN1:
            self._owner = msg.body[2] or None
            return
        if member != "PrepareForSleep":
            return
        if sender is None or sender != self._owner:
            if not self.strangers:
                log.info("ignoring PrepareForSleep from %s, which does not own %s", sender, LOGIN1)
            self.strangers += 1
            return
        if msg.body == (False,):
            now = time.monotonic()
            if now - self._last_resume < self.RESUME_GAP_S:
                self.flooded += 1  # one resume is enough: a tick finds everything late
                return
            self._last_resume = now
            if self._delay:
                self._take_lock()
            self._on_wake("resume")
        elif msg.body == (True,) and self._on_sleep is not None:
            try:
                self._on_sleep()
            except Exception as exc:  # never keep the machine from sleeping
                log.warning("before sleep: %s", exc)
            finally:
                self._release_lock()

    def release(self) -> None:
        self._conn.close()
        self._release_lock()


Alarm = ClockTimer | DriftCheck


def clock_timer(on_wake: Callable[[str], None]) -> Alarm:
    """The timerfd where the kernel has one, else the once-a-minute drift check."""
    try:
        return ClockTimer(on_wake)
    except (OSError, AttributeError) as exc:
        log.info("no timerfd (%s); checking for clock jumps once a minute", exc)
        return DriftCheck(on_wake)


def sleep_watch(
    on_wake: Callable[[str], None], env: Mapping[str, str], on_sleep: Callable[[], None] | None = None
) -> SleepWatch | None:
    """logind's sleep signals, or None where there is no system bus (the timer covers resume)."""
    from sundown.notify.bus import system_bus_may_exist

    address = env.get("SUNDOWN_SYSTEM_BUS") or "SYSTEM"
    if not system_bus_may_exist(address, env):
        log.debug("no system bus; resume is caught by the clock timer")
        return None
    try:
        return SleepWatch(on_wake, address, on_sleep)
    except Exception as exc:  # no system bus (containers, macOS): the timer covers resume too
        log.debug("no logind sleep signal (%s); resume is caught by the clock timer", exc)
        return None
