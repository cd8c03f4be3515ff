"""The person's context against real and mocked desktop services, end to end through `sundown run`.

python-dbusmock plays logind, timedated, the notification server and GNOME's screensaver on a
private bus (which doubles as the system bus through SUNDOWN_SYSTEM_BUS); Xvfb gives real
idle times and fullscreen windows (openbox, wmctrl, xdotool); dunst is paused for real.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

from support.daemon import Evening, events, stop, wait_events
from support.dbusmocks import LOGIND, MOCK, NOTIFY, SESSION, Mocks, call, daemon_env, set_prop
from support.desktop import Desktop, _kill_group, require, wait_until
from support.doctor import doctor_lines
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes


def status(box: Sandbox) -> dict[str, Any]:
    return json.loads(box.run("status", "--json", check=True).stdout)


def asked(box: Sandbox) -> dict[str, Any]:
    """The daemon's own `status` (what `status --json` shows of it), asked in process: for polling,
    where a CLI process per poll would keep a core busy."""
    reply = box.ask("status")
    assert reply is not None and reply.get("ok"), f"the daemon did not answer: {reply}"
    return reply


def with_context(evening: Evening, context: str = "", **extra: str) -> str:
    text = evening.text(**extra)
    return text.replace("[bedtime]", f"[context]\n{context}\n[bedtime]", 1) if context else text


def notifies(bus: Desktop) -> list[Any]:
    return bus.monitor.notify_calls()


def sleep_until(at: datetime) -> None:
    time.sleep(max(0.0, (at - datetime.now(at.tzinfo)).total_seconds()))


# --- busy -> deferred ---------------------------------------------------------------------------


def test_do_not_disturb_defers_then_sends_within_2s_of_its_end(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.notification_server(inhibited=("b", True))
    ev = Evening(tea=3)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "deferred", timeout=10, what="the deferral")
        deferred = events(sandbox, "deferred")[0]
        assert deferred["details"]["reason"] == "dnd" and deferred["reminder"] == "tea"
        time.sleep(1)
        assert notifies(mocks.bus) == []
        held = status(sandbox)
        assert held["context"]["dnd"] is True
        # The daemon's status says so, with why and until when (before: "due", no reason, no time).
        [tea] = held["tonight"]
        assert (tea["state"], tea["reason"]) == ("deferred", "dnd")
        assert datetime.fromisoformat(tea["until"]) == datetime.fromisoformat(deferred["details"]["until"])
        set_prop(mocks.address, *NOTIFY, NOTIFY[0], "Inhibited", "b", False)
        ended = time.monotonic()
        wait_until(lambda: notifies(mocks.bus), 5, "the reminder after DND")
        assert time.monotonic() - ended < 2.5
        assert notifies(mocks.bus)[0].urgency == 1  # normal: the state ended before max_defer
        assert len(events(sandbox, "deferred")) == 1
        late = events(sandbox, "notified")[0]["details"]["late"]
        assert late >= 1  # counted from its own time, not from the end of DND
    finally:
        stop(proc)


def test_max_defer_sends_through_do_not_disturb_as_critical(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.notification_server(inhibited=("b", True))
    ev = Evening(tea=3, pills=3)
    sandbox.write_config(with_context(ev, 'max_defer = "4s"', pills="urgent = true\n"))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        wait_until(lambda: notifies(mocks.bus), 10, "the urgent reminder")
        first = notifies(mocks.bus)[0]
        assert first.urgency == 2 and "Pills" in first.summary  # urgent: at once, critical
        wait_until(lambda: len(notifies(mocks.bus)) >= 2, 10, "the deferred reminder at max_defer")
        second = notifies(mocks.bus)[1]
        assert second.urgency == 2 and "Tea" in second.summary
        sent_at = datetime.fromisoformat(events(sandbox, "notified")[-1]["ts"])
        assert abs((sent_at - (ev.at["tea"] + timedelta(seconds=4))).total_seconds()) < 2
        assert [e["reminder"] for e in events(sandbox, "deferred")] == ["tea"]
    finally:
        stop(proc)


def test_a_snooze_ending_during_do_not_disturb_is_deferred_again_with_a_row_of_its_own(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    """Deferred at its time, shown when DND ended, snoozed, DND on again: the snooze's end is a new
    hold and gets its own `deferred` row (it went out unannounced at max_defer)."""
    mocks.notification_server(inhibited=("b", True))
    ev = Evening(tea=2)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "deferred", timeout=10, what="the first deferral")
        set_prop(mocks.address, *NOTIFY, NOTIFY[0], "Inhibited", "b", False)
        wait_events(sandbox, "notified", timeout=5, what="the reminder once DND ended")
        sandbox.run("snooze", "tea", "2s", check=True)
        set_prop(mocks.address, *NOTIFY, NOTIFY[0], "Inhibited", "b", True)
        snoozed_until = datetime.fromisoformat(events(sandbox, "snoozed")[0]["details"]["until"])
        first, second = wait_events(sandbox, "deferred", 2, timeout=10, what="the snooze's deferral")
        assert second["details"]["reason"] == "dnd"
        held_until = datetime.fromisoformat(second["details"]["until"])
        assert held_until == snoozed_until + timedelta(minutes=20)  # max_defer after the snooze's end
        assert held_until != datetime.fromisoformat(first["details"]["until"])
        assert len(notifies(mocks.bus)) == 1  # held: not sent
        set_prop(mocks.address, *NOTIFY, NOTIFY[0], "Inhibited", "b", False)
        wait_until(lambda: len(notifies(mocks.bus)) == 2, 5, "the snoozed reminder once DND ended")
        assert len(events(sandbox, "deferred")) == 2
    finally:
        stop(proc)


def test_quiet_ignore_sends_during_do_not_disturb(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.notification_server(inhibited=("b", True))
    ev = Evening(tea=2)
    sandbox.write_config(with_context(ev, 'quiet = "ignore"'))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        wait_until(lambda: notifies(mocks.bus), 10, "the reminder")
        assert events(sandbox, "deferred") == []
    finally:
        stop(proc)


def test_presenting_through_a_logind_idle_inhibitor_defers(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1", "--parameters", '{"BlockInhibited": "sleep:idle"}')
    ev = Evening(tea=3)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "deferred", timeout=10, what="the deferral")
        assert events(sandbox, "deferred")[0]["details"]["reason"] == "presenting"
        st = status(sandbox)
        assert st["context"]["presenting"] is True and st["sources"]["presenting"] == "logind idle inhibitors"
        set_prop(mocks.address, "org.freedesktop.login1", "/org/freedesktop/login1",
                 "org.freedesktop.login1.Manager", "BlockInhibited", "s", "sleep")  # fmt: skip
        wait_events(sandbox, "notified", timeout=3, what="the reminder once the presentation ended")
    finally:
        stop(proc)


def test_dunst_paused_for_real_defers(sandbox: Sandbox, desktop: Desktop) -> None:
    require("dunstctl")
    subprocess.run(["dunstctl", "set-paused", "true"], env=desktop.env, check=True, timeout=10)
    ev = Evening(tea=3)
    sandbox.write_config(with_context(ev))
    env = {"DBUS_SESSION_BUS_ADDRESS": desktop.address, "SUNDOWN_SYSTEM_BUS": desktop.address}
    proc = sandbox.start_daemon("--backend", "dbus", env=env)
    try:
        assert status(sandbox)["sources"]["dnd"] == "dunst paused"
        wait_events(sandbox, "deferred", timeout=10, what="the deferral")
        assert events(sandbox, "deferred")[0]["details"]["reason"] == "dnd"
        subprocess.run(["dunstctl", "set-paused", "false"], env=desktop.env, check=True, timeout=10)
        wait_events(sandbox, "notified", timeout=3, what="the reminder after unpausing")
    finally:
        stop(proc)


def test_a_server_that_quits_is_forgotten_and_one_that_starts_later_is_used(
    sandbox: Sandbox, desktop: Desktop
) -> None:
    desktop.dunstctl("set-paused", "true")
    ev = Evening(later=200)
    sandbox.write_config(with_context(ev))
    env = {"DBUS_SESSION_BUS_ADDRESS": desktop.address, "SUNDOWN_SYSTEM_BUS": desktop.address}
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        assert status(sandbox)["sources"]["dnd"] == "dunst paused"
        # The paused dunst dies: what it said must not hold tea back.
        desktop.kill_server()
        wait_until(lambda: asked(sandbox)["sources"]["dnd"] is None, 5, "the dead server forgotten")
        assert status(sandbox)["context"]["dnd"] is None
        ev.add(tea=2)  # due once the dead server is forgotten
        sandbox.write_config(with_context(ev))
        wait_events(sandbox, "notified", timeout=12, what="tea, on time, with no Do Not Disturb source")
        assert not events(sandbox, "deferred")
        # A dunst started later (unpaused, as dunst starts) is used, and its pause is heard.
        desktop.start_server()
        wait_until(lambda: asked(sandbox)["sources"]["dnd"] == "dunst paused", 5, "the new dunst used")
        assert status(sandbox)["context"]["dnd"] is False
        desktop.dunstctl("set-paused", "true")
        wait_until(lambda: asked(sandbox)["context"]["dnd"] is True, 5, "the new dunst's pause")
    finally:
        stop(proc)


# --- away -> acknowledged by itself -------------------------------------------------------------


def test_lock_acknowledges_with_source_lock_and_withdraws_the_notification(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    mocks.start("notification_daemon", NOTIFY[0])
    ev = Evening(screens=2)
    sandbox.write_config(with_context(ev, screens='done_when = "locked"\n'))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        wait_until(lambda: notifies(mocks.bus), 10, "the reminder")
        time.sleep(1)
        locked_at = datetime.now().astimezone()
        call(
            mocks.address,
            "org.freedesktop.login1",
            SESSION,
            "org.freedesktop.login1.Session",
            "SetLockedHint",
            "b",
            True,
        )
        wait_events(sandbox, "acknowledged", timeout=3, what="the acknowledgement")
        ack = events(sandbox, "acknowledged")[0]
        assert ack["source"] == "lock"
        assert abs((datetime.fromisoformat(ack["ts"]) - locked_at).total_seconds()) < 1.5
        wait_until(lambda: mocks.bus.monitor.calls("CloseNotification"), 3, "the notification withdrawn")
    finally:
        stop(proc)


def screensaver_and_a_locked_reminder(sandbox: Sandbox, mocks: Mocks) -> subprocess.Popen[str]:
    """GNOME's screensaver (unlocked), and a daemon that has just sent a `done_when = "locked"` reminder."""
    mocks.start("gnome_screensaver", "org.gnome.ScreenSaver")
    ev = Evening(screens=2)
    sandbox.write_config(with_context(ev, screens='done_when = "locked"\n'))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "notified", timeout=10, what="the reminder")
    except BaseException:
        stop(proc)
        raise
    return proc


def test_gnome_screensaver_lock_acknowledges(sandbox: Sandbox, mocks: Mocks) -> None:
    proc = screensaver_and_a_locked_reminder(sandbox, mocks)
    try:
        call(
            mocks.address, "org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver", "Lock"
        )
        wait_events(sandbox, "acknowledged", timeout=3, what="the acknowledgement")
        assert events(sandbox, "acknowledged")[0]["source"] == "lock"
    finally:
        stop(proc)


def test_already_locked_at_its_time_is_acknowledged_then_with_no_notification(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1", "--parameters", '{"LockedHint": true}')
    ev = Evening(screens=2)
    sandbox.write_config(with_context(ev, screens='done_when = "locked"\n'))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "acknowledged", timeout=10, what="the acknowledgement")
        ack = events(sandbox, "acknowledged")[0]
        assert ack["source"] == "lock" and events(sandbox, "notified") == []
        assert abs((datetime.fromisoformat(ack["ts"]) - ev.at["screens"]).total_seconds()) < 1
    finally:
        stop(proc)


# --- X11: idle time and fullscreen windows -------------------------------------------------------


def test_x11_idle_acknowledges_at_the_start_of_the_idle_period(sandbox: Sandbox, desktop: Desktop) -> None:
    require("xdotool")

    def touch() -> None:
        step = "5" if int(time.monotonic() * 3) % 2 else "-5"
        subprocess.run(["xdotool", "mousemove_relative", "--", step, step], env=desktop.env, check=True)

    touch()  # the person is at the screen from the start (Xvfb has seen no input yet)
    ev = Evening(screens=6)
    sandbox.write_config(with_context(ev, 'idle = "3s"', screens='done_when = "idle"\n'))
    env = {"DBUS_SESSION_BUS_ADDRESS": desktop.address, "DISPLAY": desktop.env["DISPLAY"]}
    proc = sandbox.start_daemon("--backend", "dbus", env=env)
    try:
        assert status(sandbox)["sources"]["idle_s"] == "X11 MIT-SCREEN-SAVER"
        # Active until two seconds after the reminder's time ...
        while datetime.now().astimezone() < ev.at["screens"] + timedelta(seconds=2):
            touch()
            time.sleep(0.3)
        left = datetime.now().astimezone()
        assert events(sandbox, "notified"), "sent while the person was at the screen"
        assert events(sandbox, "acknowledged") == []
        # ... then away: acknowledged within a poll (5 s) of the idle threshold, dated when they left.
        wait_events(sandbox, "acknowledged", timeout=12, what="the idle acknowledgement")
        ack = events(sandbox, "acknowledged")[0]
        assert ack["source"] == "idle"
        assert abs((datetime.fromisoformat(ack["ts"]) - left).total_seconds()) < 1.5
    finally:
        stop(proc)


def _xauth_entry(family: int, address: bytes, number: bytes, secret: bytes) -> bytes:
    fields = (address, number, b"MIT-MAGIC-COOKIE-1", secret)
    return struct.pack(">H", family) + b"".join(struct.pack(">H", len(f)) + f for f in fields)


def test_the_x_server_is_asked_over_its_socket_with_the_cookie_it_wants(tmp_path: Path) -> None:
    """No libX11 (it kept about 1 MB resident in an idle daemon): the protocol itself. An Xvfb
    that demands a MIT-MAGIC-COOKIE-1 lets it in with XAUTHORITY's (a wild entry, after another
    machine's), refuses it without one and it says why; a server that goes away is noticed."""
    from sundown.runtime.sources.xlib import X11, cookie, parse_display

    require("Xvfb")
    secret = os.urandom(16)
    auth = tmp_path / "Xauthority"
    other_machine = _xauth_entry(256, b"elsewhere", b"", os.urandom(16))
    auth.write_bytes(other_machine + _xauth_entry(65535, b"", b"", secret))
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-auth", str(auth), "-nolisten", "tcp"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = int(pipe.readline())
        assert parse_display(f":{number}.0") == parse_display(f"unix:{number}") == ("", number, 0)
        assert cookie({"XAUTHORITY": str(auth)}, number, hostname="here") == secret
        x11 = X11(f":{number}", {"XAUTHORITY": str(auth)})
        assert x11.has_idle and isinstance(x11.idle(), timedelta) and x11.fullscreen() is False
        with pytest.raises(OSError, match="refused the connection: Authorization required"):
            X11(f":{number}", {"HOME": str(tmp_path / "nowhere")})
        with pytest.raises(OSError, match="no screen 1"):
            X11(f":{number}.1", {"XAUTHORITY": str(auth)})
        _kill_group(xvfb)
        assert x11.fullscreen() is None and x11.dead
        with pytest.raises(OSError, match="went away"):
            x11.idle()
        x11.close()
    finally:
        if xvfb.poll() is None:
            _kill_group(xvfb)


def active_window_fullscreen(env: dict[str, str]) -> bool:
    """Is the X server's active window fullscreen, as `xprop` reads it (not sundown's own reader)?"""

    def xprop(*args: str) -> str:
        return subprocess.run(["xprop", *args], env=env, capture_output=True, text=True, timeout=10).stdout

    active = xprop("-root", "_NET_ACTIVE_WINDOW").split()  # _NET_ACTIVE_WINDOW(WINDOW): window id # 0x...
    if not active or not active[-1].startswith("0x") or int(active[-1], 16) == 0:
        return False
    return "_NET_WM_STATE_FULLSCREEN" in xprop("-id", active[-1], "_NET_WM_STATE")


def test_fullscreen_window_defers_until_it_leaves_fullscreen(sandbox: Sandbox, desktop: Desktop) -> None:
    for tool in ("openbox", "wmctrl", "xmessage", "xprop", "xwininfo"):
        require(tool)

    def wmctrl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["wmctrl", *args], env=desktop.env, capture_output=True, text=True, timeout=10)

    def mapped() -> bool:
        info = ["xwininfo", "-name", "film"]
        return "IsViewable" in subprocess.run(info, env=desktop.env, capture_output=True, text=True).stdout

    # The window first, then openbox, which takes on the windows already mapped when it starts. The
    # other way round raced openbox's start-up: `wmctrl -m` answers before openbox watches for new
    # windows, and one mapped in between stayed unmanaged (4 in 36 with six at once).
    win = subprocess.Popen(["xmessage", "-title", "film", "a film"], env=desktop.env, start_new_session=True)
    wm = None
    try:
        wait_until(mapped, 10, "the film's window mapped")
        wm = subprocess.Popen(["openbox"], env=desktop.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        wait_until(lambda: "film" in wmctrl("-l").stdout, 10, "openbox to manage the film's window")
        wait_until(lambda: wmctrl("-r", "film", "-b", "add,fullscreen").returncode == 0, 10, "fullscreen")
        subprocess.run(["wmctrl", "-a", "film"], env=desktop.env, check=True)
        # wmctrl only asks; openbox acts when it gets to it (late, under load).
        wait_until(lambda: active_window_fullscreen(desktop.env), 10, "the film active and fullscreen")
        ev = Evening(tea=3)
        sandbox.write_config(with_context(ev))
        env = {"DBUS_SESSION_BUS_ADDRESS": desktop.address, "DISPLAY": desktop.env["DISPLAY"]}
        proc = sandbox.start_daemon("--backend", "dbus", env=env)
        try:
            wait_events(sandbox, "deferred", timeout=10, what="the deferral")
            assert events(sandbox, "deferred")[0]["details"]["reason"] == "fullscreen"
            assert status(sandbox)["context"]["fullscreen"] is True
            subprocess.run(["wmctrl", "-r", "film", "-b", "remove,fullscreen"], env=desktop.env, check=True)
            wait_until(lambda: not active_window_fullscreen(desktop.env), 10, "the film out of fullscreen")
            left = datetime.now(timezone.utc)
            # Waited for generously (a 3 s wait once failed on two cores shared with six other test
            # workers); the promise, within 2 s of the window leaving fullscreen (asked every 1.5 s),
            # is checked on the daemon's own time stamp, with 1 s to spare for such load.
            [sent] = wait_events(sandbox, "notified", timeout=15, what="the reminder after fullscreen ended")
            assert datetime.fromisoformat(sent["ts"]) - left < timedelta(seconds=3)
        finally:
            stop(proc)
    finally:
        _kill_group(win)
        if wm is not None:
            _kill_group(wm)


# --- escalation and snooze_limit ----------------------------------------------------------------


def test_escalation_steps_then_a_lock_that_did_not_lock_is_logged(
    sandbox: Sandbox, mocks: Mocks, tmp_path: Path
) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    mocks.start("notification_daemon", NOTIFY[0])
    fake_lock = tmp_path / "fake-lock"
    fake_lock.write_text("#!/bin/sh\nexit 0\n")
    fake_lock.chmod(0o755)
    ev = Evening(tea=2)
    steps = (
        f'escalate = [{{ after = "2s", urgency = "critical" }}, {{ after = "3s", run = ["{fake_lock}"] }}]\n'
    )
    sandbox.write_config(with_context(ev, tea=steps))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "escalated", 2, 15, "both steps")
        steps_logged = [e["details"]["step"] for e in events(sandbox, "escalated")]
        assert steps_logged == [1, 2]
        assert [c.urgency for c in notifies(mocks.bus)] == [1, 2]  # re-shown as critical
        wait_events(sandbox, "lock_failed", timeout=10, what="lock_failed after 5 s")
    finally:
        stop(proc)


def test_escalation_lock_that_locks_is_verified_and_nothing_more_happens(
    sandbox: Sandbox, mocks: Mocks, tmp_path: Path
) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    lock = tmp_path / "lock-session"
    lock.write_text(
        f"#!{sys.executable}\n"
        "from jeepney import DBusAddress, new_method_call\n"
        "from jeepney.io.blocking import open_dbus_connection\n"
        f"conn = open_dbus_connection(bus={mocks.address!r})\n"
        f"addr = DBusAddress({SESSION!r}, 'org.freedesktop.login1', 'org.freedesktop.login1.Session')\n"
        "conn.send_and_get_reply(new_method_call(addr, 'SetLockedHint', 'b', (True,)), timeout=5)\n"
    )
    lock.chmod(0o755)
    ev = Evening(tea=2)
    steps = f'escalate = [{{ after = "2s", run = ["{lock}"] }}, {{ after = "6s", urgency = "critical" }}]\n'
    sandbox.write_config(with_context(ev, tea=steps))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        [step] = wait_events(sandbox, "escalated", timeout=10, what="the lock step")
        # Past the lock's check (5 s after the step) and the second step's time, then a tick forced
        # by a round trip: by its answer whatever was due has been done.
        ran = datetime.fromisoformat(step["ts"])
        checked, second_step = ran + timedelta(seconds=5), ev.at["tea"] + timedelta(seconds=6)
        sleep_until(max(checked, second_step) + timedelta(seconds=0.5))
        sandbox.refresh()
        assert events(sandbox, "lock_failed") == []
        assert len(events(sandbox, "escalated")) == 1, "escalation stops once the session is locked"
    finally:
        stop(proc)


def test_a_failing_lock_command_where_nothing_can_see_a_lock_is_lock_failed_and_told(
    sandbox: Sandbox, mocks: Mocks, tmp_path: Path
) -> None:
    """No logind, no screensaver: only the command's exit status can tell, and `loginctl` failing
    (no session here) used to be logged "not verified" at info level only."""
    mocks.start("notification_daemon", NOTIFY[0])
    lock = tmp_path / "lock-session"
    lock.write_text("#!/bin/sh\necho 'Could not get session' >&2\nexit 1\n")
    lock.chmod(0o755)
    ev = Evening(tea=2)
    sandbox.write_config(with_context(ev, tea=f'escalate = [{{ after = "1s", run = ["{lock}"] }}]\n'))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        [failed] = wait_events(sandbox, "lock_failed", timeout=15, what="lock_failed")
        assert failed["details"] == {"command": "exited with 1"} and failed["reminder"] == "tea"
        wait_until(
            lambda: any(c.summary == "sundown could not lock the screen" for c in notifies(mocks.bus)),
            5,
            "the notice telling the person",
        )
        assert status(sandbox)["sources"]["locked"] is None
    finally:
        stop(proc)


def test_snooze_limit_refuses_the_extra_snooze_from_the_cli(sandbox: Sandbox) -> None:
    ev = Evening(tea=1)
    sandbox.write_config(ev.text(tea="snooze_limit = 1\n"))
    proc = sandbox.start_daemon("--backend", "console")
    try:
        wait_events(sandbox, "notified", timeout=10, what="the reminder")
        sandbox.run("snooze", "tea", "1m", check=True)
        again = sandbox.run("snooze", "tea", "1m")
        assert again.returncode == 1
        assert "snooze_limit" in again.stderr and "sundown ack tea" in again.stderr
        assert len(events(sandbox, "snoozed")) == 1
    finally:
        stop(proc)


# --- travel -------------------------------------------------------------------------------------


def test_a_replaced_localtime_replans_tonight_within_2s(sandbox: Sandbox, tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    localtime = etc / "localtime"
    localtime.symlink_to("/usr/share/zoneinfo/Europe/Berlin")
    sandbox.write_config('[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n')
    env = {"SUNDOWN_LOCALTIME": str(localtime), "TZ": ""}
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        assert status_env(sandbox, env)["context"]["zone"] == "Europe/Berlin"
        new = etc / "localtime.new"
        new.symlink_to("/usr/share/zoneinfo/America/New_York")
        new.rename(localtime)
        wait_until(
            lambda: status_env(sandbox, env)["context"]["zone"] == "America/New_York", 2.5, "the new zone"
        )
        at = status_env(sandbox, env)["tonight"][0]["at"]
        assert at.endswith("-05:00") and "T21:45" in at
        cli = json.loads(sandbox.run("next", "--json", env=env, check=True).stdout)
        assert cli[0]["at"].endswith("-05:00"), "the CLI agrees with the daemon"
    finally:
        stop(proc)


def test_a_copied_localtime_is_named_by_its_contents_and_a_broken_one_said(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """/etc/localtime as a copy (no link to name the zone), overwritten in place as `cp` does,
    then broken: the daemon follows within 2 s, names the copy, and says UTC when it is broken."""
    localtime = tmp_path / "localtime"
    localtime.write_bytes(Path("/usr/share/zoneinfo/Europe/Berlin").read_bytes())
    sandbox.write_config('[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n')
    env = {"SUNDOWN_LOCALTIME": str(localtime), "TZ": ""}

    def zone() -> tuple[str | None, str]:
        reply = sandbox.ask("status") or {}
        return reply["context"]["zone"], reply["sources"]["zone"]

    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        name, source = zone()
        assert name == "Europe/Berlin" and "a copy of Europe/Berlin" in source
        localtime.write_bytes(Path("/usr/share/zoneinfo/America/New_York").read_bytes())
        wait_until(lambda: zone()[0] == "America/New_York", 2.5, "the new copy")
        localtime.write_bytes(b"")
        wait_until(lambda: zone()[0] == "UTC", 2.5, "UTC for a broken copy")
        assert "is not a time zone file, so sundown plans in UTC" in zone()[1]
        out = " ".join(sandbox.run("status", env=env, check=True).stdout.split())  # wrapped at 80
        assert "problem: the system's time zone:" in out
    finally:
        _, err = stop(proc)
    assert "the system's time zone:" in err  # the journal says it too


def status_env(box: Sandbox, env: dict[str, str]) -> dict[str, Any]:
    return json.loads(box.run("status", "--json", env=env, check=True).stdout)


def test_timedated_zone_change_is_followed_and_nothing_is_sent_twice(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start("timedated", "org.freedesktop.timedate1", "--parameters", '{"Timezone": "UTC"}')
    ev = Evening(tea=2)
    sandbox.write_config(ev.text().replace('timezone = "UTC"\n', ""))
    env = daemon_env(mocks, TZ="UTC")
    env.pop("TZ")
    env["TZ"] = ""
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        wait_events(sandbox, "notified", timeout=10, what="the reminder")
        call(mocks.address, "org.freedesktop.timedate1", "/org/freedesktop/timedate1",
             "org.freedesktop.timedate1", "SetTimezone", "sb", "Pacific/Apia", False)  # fmt: skip
        wait_until(lambda: status_env(sandbox, env)["context"]["zone"] == "Pacific/Apia", 2.5, "Apia")
        sandbox.refresh()  # a tick after the zone change: by its answer a second send would be in
        assert len(events(sandbox, "notified")) == 1
    finally:
        stop(proc)


def test_a_3_second_blip_of_the_system_zone_before_a_reminder_changes_nothing(
    sandbox: Sandbox, mocks: Mocks, tmp_path: Path
) -> None:
    """Berlin -> Kolkata -> Berlin for 3 s, as `timedatectl set-timezone` does it (the link
    replaced, then timedated's PropertiesChanged), shortly before a reminder: before, it was
    logged `missed` (Kolkata had it hours ago) and never shown at its Berlin time."""
    mocks.start("timedated", "org.freedesktop.timedate1", "--parameters", '{"Timezone": "Europe/Berlin"}')
    etc = tmp_path / "etc"
    etc.mkdir()
    localtime = etc / "localtime"
    localtime.symlink_to("/usr/share/zoneinfo/Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")

    def tea_in(seconds: int) -> datetime:
        """A routine with tea `seconds` from now (Berlin time), bedtime a few minutes later."""
        now = datetime.now(berlin)
        bedtime = (now + timedelta(minutes=4)).replace(second=0, microsecond=0)
        tea = (now + timedelta(seconds=seconds)).replace(microsecond=0)
        before = int((bedtime - tea).total_seconds())
        reminder = f'[reminders.tea]\nbefore = "{before // 60}m{before % 60}s"\n'
        sandbox.write_config(f'[bedtime]\ndefault = "{bedtime:%H:%M}"\n{reminder}')
        return tea

    env = daemon_env(mocks, SUNDOWN_LOCALTIME=str(localtime), TZ="")

    def switch(name: str) -> None:
        new = etc / "localtime.new"
        new.symlink_to(f"/usr/share/zoneinfo/{name}")
        new.rename(localtime)
        call(mocks.address, "org.freedesktop.timedate1", "/org/freedesktop/timedate1",
             "org.freedesktop.timedate1", "SetTimezone", "sb", name, False)  # fmt: skip

    def zone() -> str | None:
        reply = sandbox.ask("status")
        return reply["context"]["zone"] if reply else None

    tea_in(120)
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        assert zone() == "Europe/Berlin"
        tea = tea_in(8)  # from the moment the daemon runs, however long it took to start
        assert (sandbox.ask("reload") or {}).get("ok")
        switch("Asia/Kolkata")
        wait_until(lambda: zone() == "Asia/Kolkata", 2.5, "Kolkata")
        reply = sandbox.ask("status")
        assert reply is not None
        (row,) = reply["tonight"]
        assert (row["state"], datetime.fromisoformat(row["at"])) == ("pending", tea)  # its Berlin time
        time.sleep(3)
        switch("Europe/Berlin")
        wait_until(lambda: zone() == "Europe/Berlin", 2.5, "Berlin again")
        assert datetime.now(berlin) < tea, "the blip ended before tea's time (a slow machine: make tea later)"
        (sent,) = wait_events(sandbox, "notified", timeout=30, what="tea at its Berlin time")
        assert datetime.fromisoformat(sent["ts"]) >= tea
        assert datetime.fromisoformat(sent["ts"]) - tea < timedelta(seconds=3)
        assert events(sandbox, "missed") == []
    finally:
        stop(proc)


# --- sources missing or misbehaving: the daemon carries on by the clock -------------------------


def test_no_services_at_all_is_clock_only_and_status_says_so(sandbox: Sandbox, bare_bus: Desktop) -> None:
    ev = Evening(tea=2)
    sandbox.write_config(with_context(ev))
    env = {"DBUS_SESSION_BUS_ADDRESS": bare_bus.address, "SUNDOWN_SYSTEM_BUS": bare_bus.address}
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        st = status(sandbox)
        unknown = dict.fromkeys(("dnd", "presenting", "fullscreen", "idle_s", "locked"))
        assert st["context"] == {**unknown, "zone": "UTC"}
        assert st["sources"]["dnd"] is None and st["sources"]["locked"] is None
        wait_events(sandbox, "notified", timeout=10, what="the reminder by the clock")
    finally:
        stop(proc)


def test_a_wrongly_typed_inhibited_property_is_ignored(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.notification_server(inhibited=("s", "yes"))
    ev = Evening(tea=2)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "dbus", env=daemon_env(mocks))
    try:
        wait_until(lambda: notifies(mocks.bus), 10, "the reminder")
        assert events(sandbox, "deferred") == [] and status(sandbox)["sources"]["dnd"] is None
    finally:
        stop(proc)


def reminded_once_through_the_flood(sandbox: Sandbox, proc: subprocess.Popen[str]) -> None:
    wait_events(sandbox, "notified", timeout=10, what="the reminder through the flood")
    sandbox.refresh()  # behind whatever the flood queued on the worker, and a tick of its own
    assert len(events(sandbox, "notified")) == 1
    assert proc.poll() is None


def test_a_signal_flood_neither_stalls_nor_doubles_anything(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    ev = Evening(tea=4)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        conn = open_dbus_connection(bus=mocks.address)
        try:
            for i in range(1000):
                msg = new_method_call(
                    DBusAddress(SESSION, "org.freedesktop.login1", "org.freedesktop.DBus.Properties"),
                    "Set", "ssv", ("org.freedesktop.login1.Session", "LockedHint", ("b", i % 2 == 1)),
                )  # fmt: skip
                conn.send(msg)
            started = time.monotonic()
            assert status(sandbox)["pid"] == proc.pid
            assert time.monotonic() - started < 5
        finally:
            conn.close()
        reminded_once_through_the_flood(sandbox, proc)
    finally:
        stop(proc)


def test_a_flood_of_services_starting_and_quitting_is_looked_at_once(sandbox: Sandbox, mocks: Mocks) -> None:
    from jeepney.bus_messages import message_bus

    ev = Evening(tea=4)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        conn = open_dbus_connection(bus=mocks.address)
        try:
            # A name that owns no object: each start is a look that finds nothing (and no lock source).
            for _ in range(300):
                conn.send_and_get_reply(message_bus.RequestName("org.gnome.ScreenSaver"), timeout=5)
                conn.send_and_get_reply(message_bus.ReleaseName("org.gnome.ScreenSaver"), timeout=5)
            started = time.monotonic()
            assert status(sandbox)["sources"]["locked"] is None
            assert time.monotonic() - started < 5
        finally:
            conn.close()
        reminded_once_through_the_flood(sandbox, proc)
    finally:
        stop(proc)


def test_the_daemon_survives_its_context_services_going_away(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    mocks.notification_server(inhibited=("b", False))
    ev = Evening(tea=3)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        mocks.close()
        wait_events(sandbox, "notified", timeout=10, what="the reminder by the clock")
        assert proc.poll() is None
    finally:
        stop(proc)


def test_doctor_prints_one_line_per_capability_with_its_source(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    mocks.notification_server(inhibited=("b", True))
    out = sandbox.run("doctor", env=daemon_env(mocks)).stdout
    lines = doctor_lines(out)
    assert "notification server Inhibited (now on)" in lines["dnd"]
    assert "logind idle inhibitors (now off)" in lines["presenting"]
    assert "logind LockedHint (now off)" in lines["locked"]
    assert "logind IdleHint" in lines["idle"]
    assert "no source found (no X display)" in lines["fullscreen"]
    assert "the system's" in lines["zone"]


def test_doctor_warns_of_an_unverifiable_lock_step_and_a_test_notification_held_by_dnd(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    """No logind here: a lock step cannot be verified. Do Not Disturb on: the test notification is
    held back, and doctor says so instead of "look for it on your screen"."""
    mocks.notification_server(inhibited=("b", True))
    ev = Evening(tea=600)
    sandbox.write_config(
        with_context(ev, tea='escalate = [{ after = "20m", run = ["loginctl", "lock-session"] }]\n')
    )
    out = sandbox.run("doctor", "--notify", env=daemon_env(mocks)).stdout
    lines = doctor_lines(out)
    assert lines["locked"].startswith("warn ") and "lock step of tea cannot be verified" in lines["locked"]
    test = lines["test notification"]
    assert test.startswith("warn ") and "Do Not Disturb is on (notification server Inhibited)" in test
    assert "look for it on your screen" not in out
    wait_until(lambda: notifies(mocks.bus), 5, "the test notification sent all the same")


def test_the_x_server_going_away_leaves_the_daemon_running_by_the_clock(
    sandbox: Sandbox, desktop: Desktop
) -> None:
    ev = Evening(tea=4)
    sandbox.write_config(with_context(ev))
    env = {"DBUS_SESSION_BUS_ADDRESS": desktop.address, "DISPLAY": desktop.env["DISPLAY"]}
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        assert status(sandbox)["sources"]["fullscreen"] == "X11 _NET_WM_STATE_FULLSCREEN"
        _kill_group(desktop.procs.pop("Xvfb"))  # Xlib's default would exit the whole process
        wait_events(sandbox, "notified", timeout=10, what="the reminder by the clock")
        assert proc.poll() is None
        assert status(sandbox)["sources"]["fullscreen"] is None
    finally:
        stop(proc)


def test_xfce4_notifyd_do_not_disturb_defers(sandbox: Sandbox, mocks: Mocks) -> None:
    xfconf = ("org.xfce.Xfconf", "/org/xfce/Xfconf", "org.xfce.Xfconf")
    mocks.bare(*xfconf)
    call(mocks.address, xfconf[0], xfconf[1], MOCK, "AddMethod", "sssss",
         xfconf[2], "GetProperty", "ss", "v", "ret = dbus.Boolean(True, variant_level=1)")  # fmt: skip
    ev = Evening(tea=3)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        assert status(sandbox)["sources"]["dnd"] == "xfce4-notifyd do-not-disturb"
        wait_events(sandbox, "deferred", timeout=10, what="the deferral")
        call(mocks.address, xfconf[0], xfconf[1], MOCK, "EmitSignal", "sssav", xfconf[2], "PropertyChanged",
             "ssv", [("s", "xfce4-notifyd"), ("s", "/do-not-disturb"), ("v", ("b", False))])  # fmt: skip
        wait_events(sandbox, "notified", timeout=3, what="the reminder once DND is off")
    finally:
        stop(proc)


def test_gnome_presenting_through_the_session_managers_idle_inhibitor_defers(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    sm = ("org.gnome.SessionManager", "/org/gnome/SessionManager", "org.gnome.SessionManager")
    mocks.bare(*sm)
    call(mocks.address, sm[0], sm[1], MOCK, "AddProperty", "ssv", sm[2], "InhibitedActions", ("u", 8))
    ev = Evening(tea=3)
    sandbox.write_config(with_context(ev))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "deferred", timeout=10, what="the deferral")
        assert events(sandbox, "deferred")[0]["details"]["reason"] == "presenting"
        set_prop(mocks.address, sm[0], sm[1], sm[2], "InhibitedActions", "u", 0)
        wait_events(sandbox, "notified", timeout=3, what="the reminder once the presentation ended")
    finally:
        stop(proc)


def test_gnome_do_not_disturb_is_show_banners_read_again_when_dconf_says_it_changed(
    sandbox: Sandbox, mocks: Mocks, tmp_path: Path
) -> None:
    # GNOME Shell on the bus, dconf's writer to signal a change, and a gsettings that reads a file.
    mocks.bare("org.gnome.Shell", "/org/gnome/Shell", "org.gnome.Shell")
    dconf = ("ca.desrt.dconf", "/ca/desrt/dconf/Writer/user", "ca.desrt.dconf.Writer")
    mocks.bare(*dconf)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    value = tmp_path / "show-banners"
    value.write_text("false\n")
    gsettings = bin_dir / "gsettings"
    gsettings.write_text(f'#!/bin/sh\n[ "$3" = show-banners ] && exec cat {value}\nexit 1\n')
    gsettings.chmod(0o755)
    ev = Evening(tea=3)
    sandbox.write_config(with_context(ev))
    env = daemon_env(mocks, PATH=f"{bin_dir}:{sandbox.env['PATH']}")
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        assert status(sandbox)["sources"]["dnd"] == "GNOME show-banners"
        wait_events(sandbox, "deferred", timeout=10, what="the deferral")
        value.write_text("true\n")
        call(mocks.address, dconf[0], dconf[1], MOCK, "EmitSignal", "sssav",
             dconf[2], "Notify", "sass", [("s", "/org/gnome/desktop/notifications/"),
             ("as", ["show-banners"]), ("s", "t1")])  # fmt: skip
        wait_events(sandbox, "notified", timeout=3, what="the reminder once banners are back")
    finally:
        stop(proc)


def test_logind_idle_hint_acknowledges_at_idle_since(sandbox: Sandbox, mocks: Mocks) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    ev = Evening(screens=2)
    sandbox.write_config(with_context(ev, 'idle = "2s"', screens='done_when = "idle"\n'))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        wait_events(sandbox, "notified", timeout=10, what="the reminder")
        left = datetime.now().astimezone()
        iface = "org.freedesktop.login1.Session"
        set_prop(mocks.address, "org.freedesktop.login1", SESSION, iface, "IdleSinceHint", "t",
                 int(left.timestamp() * 1e6))  # fmt: skip
        set_prop(mocks.address, "org.freedesktop.login1", SESSION, iface, "IdleHint", "b", True)
        wait_events(sandbox, "acknowledged", timeout=5, what="the idle acknowledgement")
        ack = events(sandbox, "acknowledged")[0]
        assert ack["source"] == "idle"
        assert abs((datetime.fromisoformat(ack["ts"]) - left).total_seconds()) < 1
    finally:
        stop(proc)


def test_once_the_snooze_limit_is_used_up_the_notification_has_no_snooze_button(
    sandbox: Sandbox, desktop: Desktop
) -> None:
    ev = Evening(tea=2)
    sandbox.write_config(with_context(ev, tea="snooze_limit = 1\n"))
    proc = sandbox.start_daemon("--backend", "dbus", env={"DBUS_SESSION_BUS_ADDRESS": desktop.address})
    try:
        first = desktop.monitor.wait_notify(1, 10)[0]
        assert "snooze" in first.action_pairs
        sandbox.run("snooze", "tea", "2s", check=True)
        again = desktop.monitor.wait_notify(2, 10)[1]  # the snooze's re-notification
        assert "done" in again.action_pairs and "snooze" not in again.action_pairs
    finally:
        stop(proc)


def _idle_method(mocks: Mocks, name: str, path: str, iface: str, member: str, sig: str, value: int) -> None:
    """(Re)define `member` to answer `value`: dbusmock replaces a method added again."""
    code = f"ret = {value}"
    call(mocks.address, name, path, MOCK, "AddMethod", "sssss", iface, member, "", sig, code)


@pytest.mark.parametrize(
    "name, path, member, sig, unit_ms, source",
    [
        (
            "org.gnome.Mutter.IdleMonitor",
            "/org/gnome/Mutter/IdleMonitor/Core",
            "GetIdletime",
            "t",
            1,
            "Mutter IdleMonitor",
        ),
        (
            "org.freedesktop.ScreenSaver",
            "/org/freedesktop/ScreenSaver",
            "GetSessionIdleTime",
            "u",
            1000,
            "org.freedesktop.ScreenSaver.GetSessionIdleTime",
        ),
    ],
)
def test_session_idle_time_sources_acknowledge_at_the_start_of_the_idle_period(
    sandbox: Sandbox, mocks: Mocks, name: str, path: str, member: str, sig: str, unit_ms: int, source: str
) -> None:
    iface = name
    mocks.bare(name, path, iface)
    _idle_method(mocks, name, path, iface, member, sig, 0)  # at the screen
    ev = Evening(screens=3)
    sandbox.write_config(with_context(ev, 'idle = "3s"', screens='done_when = "idle"\n'))
    proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
    try:
        assert status(sandbox)["sources"]["idle_s"] == source
        wait_events(sandbox, "notified", timeout=10, what="the reminder")
        assert events(sandbox, "acknowledged") == []
        # Now away for 20 s already: the next poll (within 5 s) acknowledges, dated at the reminder's
        # own time (the later of it and the start of the idle period).
        _idle_method(mocks, name, path, iface, member, sig, 20_000 // unit_ms)
        wait_events(sandbox, "acknowledged", timeout=8, what="the idle acknowledgement")
        ack = events(sandbox, "acknowledged")[0]
        assert ack["source"] == "idle"
        assert abs((datetime.fromisoformat(ack["ts"]) - ev.at["screens"]).total_seconds()) < 1
    finally:
        stop(proc)


# --- strangers on the bus: believed only from the owner of the name (issue 16 items 2, 3, 12) -----

PROPS = "org.freedesktop.DBus.Properties"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_stranger_on_the_session_bus_can_neither_lock_nor_silence_and_is_counted(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    mocks.notification_server(inhibited=("b", False))
    proc = screensaver_and_a_locked_reminder(sandbox, mocks)
    try:
        saver = ("/org/gnome/ScreenSaver", "org.gnome.ScreenSaver")
        mocks.bus.stranger_signal(*saver, "ActiveChanged", "b", (True,))
        inhibited = (NOTIFY[0], {"Inhibited": ("b", True)}, [])
        mocks.bus.stranger_signal(NOTIFY[1], PROPS, "PropertiesChanged", "sa{sv}as", inhibited)
        sandbox.refresh()
        st = status(sandbox)
        assert st["context"]["locked"] is False and st["context"]["dnd"] is False, st["context"]
        assert st["sources"]["ignored_signals"] >= 2, st["sources"]
        assert events(sandbox, "acknowledged") == []
        # The screensaver itself is believed.
        call(mocks.address, "org.gnome.ScreenSaver", *saver, "Lock")
        wait_events(sandbox, "acknowledged", timeout=3, what="the real lock")
    finally:
        stop(proc)


def test_a_stranger_on_the_system_bus_moves_no_zone_locks_nothing_and_a_flood_costs_little(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    mocks.start(LOGIND, "org.freedesktop.login1")
    mocks.start("timedated", "org.freedesktop.timedate1", "--parameters", '{"Timezone": "UTC"}')
    ev = Evening(tea=2, screens=3)
    sandbox.write_config(with_context(ev, screens='done_when = "locked"\n').replace('timezone = "UTC"\n', ""))
    env = daemon_env(mocks)
    env["TZ"] = ""
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        wait_events(sandbox, "notified", count=2, timeout=10, what="both reminders")
        before = status(sandbox)["context"]["zone"]
        zone = ("org.freedesktop.timedate1", {"Timezone": ("s", "Pacific/Kiritimati")}, [])
        mocks.bus.stranger_signal("/org/freedesktop/timedate1", PROPS, "PropertiesChanged", "sa{sv}as", zone)
        locked = ("org.freedesktop.login1.Session", {"LockedHint": ("b", True)}, [])
        mocks.bus.stranger_signal(SESSION, PROPS, "PropertiesChanged", "sa{sv}as", locked)
        manager = ("/org/freedesktop/login1", "org.freedesktop.login1.Manager")
        cpu = cpu_seconds(proc.pid)
        mocks.bus.stranger_signal(*manager, "PrepareForSleep", "b", (False,), count=3000)
        mocks.bus.stranger_signal(*manager, "PrepareForSleep", "b", (True,))
        wait_until(
            lambda: asked(sandbox)["sources"]["ignored_signals"] >= 3003,
            15,
            "every forgery counted",
            interval=0.1,  # each look is a request the daemon answers: its CPU is measured here
        )
        used = cpu_seconds(proc.pid) - cpu
        st = status(sandbox)
        assert st["context"]["zone"] == before != "Pacific/Kiritimati", st["context"]
        assert st["context"]["locked"] is False, st["context"]
        assert events(sandbox, "acknowledged") == [] and events(sandbox, "missed") == []
        print(f"3000 forged PrepareForSleep(false) and a (true): {used:.2f} s of the daemon's CPU")
        assert used < 3.0, used
    finally:
        out, err = stop(proc)
    assert "woke up" not in err, err  # not one resume acted on
    assert len(err.splitlines()) < 40, err  # a flood is not a flood of log lines


class InhibitedServer:
    """A notification server whose `Inhibited` is true from the moment it owns its name (dbusmock
    adds properties only after taking the name, and a look can come in between)."""

    def __init__(self, address: str) -> None:
        from jeepney import MessageType, new_error, new_method_return
        from jeepney.bus_messages import message_bus

        self.conn = open_dbus_connection(bus=address)
        self.conn.send_and_get_reply(message_bus.RequestName(NOTIFY[0]), timeout=2)
        self._types = (MessageType, new_error, new_method_return)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from jeepney import HeaderFields

        message_type, new_error, new_method_return = self._types
        while True:
            try:
                msg = self.conn.receive()
            except Exception:  # closed
                return
            if msg.header.message_type is not message_type.method_call:
                continue
            if msg.header.fields.get(HeaderFields.member) == "Get" and tuple(msg.body) == (
                NOTIFY[0],
                "Inhibited",
            ):
                self.conn.send(new_method_return(msg, "v", (("b", True),)))
            else:
                self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def close(self) -> None:
        self.conn.close()


def test_a_hung_screensaver_does_not_hide_a_notification_server_started_later(
    sandbox: Sandbox, mocks: Mocks
) -> None:
    from jeepney.bus_messages import message_bus

    hung = open_dbus_connection(bus=mocks.address)  # owns the name, never reads a call
    try:
        hung.send_and_get_reply(message_bus.RequestName("org.freedesktop.ScreenSaver"), timeout=2)
        ev = Evening(tea=30)
        sandbox.write_config(with_context(ev))
        proc = sandbox.start_daemon("--backend", "console", env=daemon_env(mocks))
        try:
            assert status(sandbox)["sources"]["dnd"] is None
            server = InhibitedServer(mocks.address)
            try:
                wait_until(
                    lambda: status(sandbox)["context"]["dnd"] is True, 6, "dnd known despite the hung one"
                )
                assert status(sandbox)["sources"]["dnd"] == "notification server Inhibited"
            finally:
                server.close()
        finally:
            stop(proc)
    finally:
        hung.close()
