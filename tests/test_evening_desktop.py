"""The evening as it was, end to end: `sundown run` records activity spans from real signals.

python-dbusmock plays logind (IdleHint, IdleSinceHint, LockedHint, PrepareForSleep) and GNOME's
screensaver (ActiveChanged) on a private bus that doubles as the system bus; Xvfb gives real
X11 idle time, moved by xdotool. Each test's routine is in a zone where it is evening now, its
first reminder a few seconds ahead: the recording window opens then and lasts until 07:00.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from support.daemon import stop, wait_events
from support.dbusmocks import GNOME_SCREENSAVER, LOGIND, MOCK, Mocks, call, daemon_env
from support.desktop import Desktop, require, wait_until
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes

UTC = timezone.utc
SLACK_S = 1.5  # a signal's way through the bus and the daemon's worker


def evening_zone(now: datetime) -> str:
    """A fixed-offset zone in which it is about 20:00 now (a window from 20:00 to 07:00)."""
    offset = (20 - now.hour) % 24
    if offset > 14:
        offset -= 24
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-2 is UTC+2


def config(first_in_s: float, idle: str) -> tuple[str, datetime]:
    """A routine whose one reminder is due in `first_in_s` seconds; and that instant."""
    now = datetime.now(UTC)
    zone = ZoneInfo(evening_zone(now))
    first = (now + timedelta(seconds=first_in_s)).replace(microsecond=0)
    bedtime = (first.astimezone(zone) + timedelta(minutes=3)).replace(second=0)
    before = int((bedtime - first).total_seconds())
    text = (
        f'timezone = "{zone.key}"\n[context]\nidle = "{idle}"\n'
        f'[bedtime]\ndefault = "{bedtime:%H:%M}"\n'
        f'[reminders.wind-down]\nbefore = "{before // 60}m{before % 60}s"\n'
    )
    return text, first


def spans(box: Sandbox) -> list[tuple[str, datetime, datetime]]:
    """The `activity` rows as `sundown log` shows them: (state, from, to)."""
    rows = [json.loads(r) for r in box.run("log", "--format", "jsonl", check=True).stdout.splitlines()]
    details = [r["details"] for r in rows if r["event"] == "activity"]
    return [(d["state"], datetime.fromisoformat(d["from"]), datetime.fromisoformat(d["to"])) for d in details]


def near(t: datetime, mark: datetime) -> bool:
    """A span boundary (whole seconds, floored) at a moment the test marked just before it."""
    return -1.0 <= (t - mark).total_seconds() <= SLACK_S


def marked() -> datetime:
    return datetime.now(UTC)


def test_logind_idle_the_screensaver_lock_and_a_suspend_become_spans(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    mocks.start("gnome_screensaver", GNOME_SCREENSAVER[0])
    text, first = config(2, idle="2s")
    sandbox.write_config(text)
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "notified", timeout=10, what="the first reminder: the window opens")
        time.sleep(1.1)  # spans are whole seconds: one that closes within its first second is none
        # No input from t1 on: logind says idle since then; 2 s later it counts (context.idle).
        t1 = marked()
        mocks.session_hint("IdleSinceHint", "t", int(t1.timestamp() * 1e6))
        mocks.session_hint("IdleHint", "b", True)
        wait_until(lambda: sandbox.logged("activity") == 1, 6, "the active span closed by the idle")
        time.sleep(1.1)  # each span lasts a second at least (a shorter one is whole seconds: none)
        t2 = marked()
        call(mocks.address, *GNOME_SCREENSAVER, "SetActive", "b", True)  # the screensaver locks
        wait_until(lambda: sandbox.logged("activity") == 2, 4, "the idle span closed by the lock")
        time.sleep(1.1)
        t3 = marked()
        mocks.prepare_for_sleep(True)
        wait_until(lambda: sandbox.logged("activity") == 3, 4, "the locked span closed by the suspend")
        time.sleep(1.2)  # asleep for a while
        t4 = marked()
        mocks.prepare_for_sleep(False)  # resumed, still locked
        wait_until(lambda: sandbox.logged("activity") == 4, 4, "the asleep span closed by the resume")
        time.sleep(1.1)
        t5 = marked()
        call(mocks.address, *GNOME_SCREENSAVER, "SetActive", "b", False)
        mocks.session_hint("IdleHint", "b", False)
        wait_until(lambda: sandbox.logged("activity") == 5, 4, "the locked span closed by the unlock")
        time.sleep(1.1)
        t6 = marked()
    finally:
        stop(proc)  # SIGTERM: the open active span is written on the way out
    got = spans(sandbox)
    assert [s for s, _, _ in got] == ["active", "idle", "locked", "asleep", "locked", "active"]
    assert all(a[2] == b[1] for a, b in zip(got, got[1:], strict=False))  # contiguous
    assert near(got[0][1], first)
    for (_, _, end), mark in zip(got, (t1, t2, t3, t4, t5, t6), strict=True):
        assert near(end, mark), (end, mark)


def test_kill_9_in_the_middle_of_a_span_loses_only_that_span(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    text, _ = config(2, idle="5m")
    sandbox.write_config(text)
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "notified", timeout=10, what="the window opening")
        time.sleep(1.1)
        mocks.session_hint("LockedHint", "b", True)
        wait_until(lambda: sandbox.logged("activity") == 1, 4, "the active span closed by the lock")
        time.sleep(1.1)
        proc.send_signal(signal.SIGKILL)  # in the middle of the locked span
        proc.communicate(timeout=5)
        after_kill = marked()
        assert [s for s, _, _ in spans(sandbox)] == ["active"]
        proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
        sandbox.refresh()
        time.sleep(1.1)
        mocks.session_hint("LockedHint", "b", False)
        wait_until(lambda: sandbox.logged("activity") == 2, 4, "the new locked span closed by the unlock")
        time.sleep(1.1)
    finally:
        stop(proc)
    got = spans(sandbox)
    assert [s for s, _, _ in got] == ["active", "locked", "active"]
    # The killed daemon's locked span is the only thing missing: from the lock to the restart.
    assert got[1][1] >= after_kill.replace(microsecond=0) and got[0][2] < got[1][1]


def test_x11_idle_time_under_xvfb_becomes_spans(sandbox: Sandbox, desktop: Desktop) -> None:
    require("xdotool")

    def touch() -> None:
        step = "5" if int(time.monotonic() * 3) % 2 else "-5"
        subprocess.run(["xdotool", "mousemove_relative", "--", step, step], env=desktop.env, check=True)

    touch()
    text, first = config(2, idle="3s")
    sandbox.write_config(text)
    env = {"DBUS_SESSION_BUS_ADDRESS": desktop.address, "DISPLAY": desktop.env["DISPLAY"]}
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        while True:
            left = marked()  # the last input is just after this: idle from here, once 3 s pass
            touch()
            if datetime.now(UTC) > first + timedelta(seconds=2):
                break
            time.sleep(0.3)
        wait_until(lambda: sandbox.logged("activity") == 1, 8, "the active span closed by the idle")
        time.sleep(1)
        back = marked()
        touch()
        sandbox.refresh()  # a look now (the poll would come within 30 s)
        wait_until(lambda: sandbox.logged("activity") == 2, 4, "the idle span closed by the input")
        time.sleep(1.1)
    finally:
        stop(proc)
    got = spans(sandbox)
    assert [s for s, _, _ in got] == ["active", "idle", "active"]
    assert near(got[0][1], first) and near(got[0][2], left) and near(got[1][2], back)


MUTTER = ("org.gnome.Mutter.IdleMonitor", "/org/gnome/Mutter/IdleMonitor/Core")
IDLE_WATCH, ACTIVE_WATCH = 7, 8


def mutter_mock(mocks: Mocks, member: str, sig: str = "", *args: object) -> tuple:
    """A call to dbusmock's own interface on the mocked IdleMonitor."""
    return call(mocks.address, *MUTTER, MOCK, member, sig, *args)


def mutter_method(mocks: Mocks, member: str, sig_in: str, sig_out: str, code: str) -> None:
    """(Re)define a method of the IdleMonitor (dbusmock replaces a method added again)."""
    mutter_mock(mocks, "AddMethod", "sssss", MUTTER[0], member, sig_in, sig_out, code)


def mutter_calls(mocks: Mocks, member: str) -> list[list]:
    """The arguments of each call the daemon made to `member` (as (signature, value) variants)."""
    return [list(c[2]) for c in mutter_mock(mocks, "GetCalls")[0] if c[1] == member]


def test_mutters_idle_monitor_watches_say_idle_and_back_without_polling(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    mocks.bare(*MUTTER, MUTTER[0])
    mutter_method(mocks, "GetIdletime", "", "t", "ret = 0")
    mutter_method(mocks, "AddIdleWatch", "t", "u", f"ret = {IDLE_WATCH}")
    mutter_method(mocks, "AddUserActiveWatch", "", "u", f"ret = {ACTIVE_WATCH}")
    mutter_method(mocks, "RemoveWatch", "u", "", "")

    def fire(watch: int) -> None:
        mutter_mock(mocks, "EmitSignal", "sssav", MUTTER[0], "WatchFired", "u", [("u", watch)])

    text, first = config(2, idle="2s")
    sandbox.write_config(text)
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        assert mutter_calls(mocks, "AddIdleWatch") == [[("t", 2000)]]  # context.idle, in ms
        assert mutter_calls(mocks, "AddUserActiveWatch") == []  # at the screen: never woken by input
        wait_events(sandbox, "notified", timeout=10, what="the window opening")
        time.sleep(3.2)  # at the screen for a while: the idle period below starts after the window
        left = marked()
        mutter_method(mocks, "GetIdletime", "", "t", "ret = 2000")
        fire(IDLE_WATCH)  # no input for 2 s, says Mutter
        wait_until(lambda: sandbox.logged("activity") == 1, 4, "the active span closed by the idle watch")
        wait_until(lambda: mutter_calls(mocks, "AddUserActiveWatch"), 4, "the one-shot watch for the return")
        time.sleep(1.1)
        back = marked()
        mutter_method(mocks, "GetIdletime", "", "t", "ret = 0")
        fire(ACTIVE_WATCH)
        wait_until(lambda: sandbox.logged("activity") == 2, 4, "the idle span closed by the active watch")
        asked = len(mutter_calls(mocks, "GetIdletime"))
        time.sleep(2.5)
        assert len(mutter_calls(mocks, "GetIdletime")) == asked  # signals: nothing is polled meanwhile
    finally:
        stop(proc)
    got = spans(sandbox)
    assert [s for s, _, _ in got] == ["active", "idle", "active"]
    # Idle from the last input, which Mutter counts back from (2 s before the watch fired).
    assert near(got[0][2], left - timedelta(seconds=2)) and near(got[1][2], back)
