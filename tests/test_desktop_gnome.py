"""sundown on a real GNOME Shell 43 (tests/support/sessions.py): the daemon and `doctor` as a
person meets them, banners pressed with xdotool where a person would. docs/notify.md says what
GNOME does and why sundown works around it.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from support.daemon import Evening, events, stop, wait_events
from support.desktop import NotifyCall
from support.doctor import doctor_lines
from support.sandbox import Sandbox
from support.sessions import GnomeShell

# One GNOME Shell for the whole module (slow to start): its tests run on one worker, in turn.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("gnome-shell")]

REPEATING = 'repeat = "3s"\nrepeat_limit = 1\n'


def shown_and_repeated(gnome: GnomeShell) -> tuple[NotifyCall, NotifyCall]:
    """A daemon showed magnesium, then its repeat: the two Notify calls (the daemon runs on)."""
    first, repeat = gnome.monitor.wait_notify(2, timeout=15)
    assert (first.summary, repeat.summary) == ("Magnesium", "Magnesium")
    return first, repeat


def start_magnesium(box: Sandbox, gnome: GnomeShell) -> subprocess.Popen[str]:
    """A daemon on GNOME whose magnesium is due in 2 s and repeated once 3 s later."""
    box.write_config(Evening(magnesium=2).text(magnesium=REPEATING))
    return box.start_daemon("--backend", "dbus", env=gnome.session_vars)


def test_a_repeat_keeps_done_and_snooze_and_its_done_acknowledges(
    sandbox: Sandbox, gnome_shell: GnomeShell, tmp_path: Path
) -> None:
    """GNOME's replace empties a shown banner's buttons (a click where Done was did nothing): the
    repeat closes the first notification and is a new one, with Done and Snooze; and a repeat is
    not critical (GNOME shows critical banners one at a time and never hides them)."""
    proc = start_magnesium(sandbox, gnome_shell)
    try:
        first, repeat = shown_and_repeated(gnome_shell)
        first_id = gnome_shell.monitor.reply_to_notify(first)
        closes = [c.args for c in gnome_shell.monitor.calls("CloseNotification") if c.sender == first.sender]
        assert closes == [(first_id,)] and repeat.replaces_id == 0
        assert repeat.action_pairs == {"default": "Acknowledge", "done": "Done", "snooze": "Snooze"}
        assert (first.urgency, repeat.urgency) == (1, 1)  # normal, not critical
        gnome_shell.press("Done")
        [ack] = wait_events(sandbox, "acknowledged", timeout=10, what="Done on the repeat")
        gnome_shell.screenshot(tmp_path / "gnome-after-done.png")
        assert ack["source"] == "action" and ack["reminder"] == "magnesium"
    finally:
        stop(proc)


def test_a_click_on_a_repeated_banner_is_one_default_and_one_row(
    sandbox: Sandbox, gnome_shell: GnomeShell
) -> None:
    """After a replace GNOME reported a body click as `default` once per replacement."""
    proc = start_magnesium(sandbox, gnome_shell)
    try:
        _, repeat = shown_and_repeated(gnome_shell)
        repeat_id = gnome_shell.monitor.reply_to_notify(repeat)
        gnome_shell.press("body")
        wait_events(sandbox, "acknowledged", timeout=10, what="the click on the repeat")
        sandbox.refresh()  # whatever else the click made is handled by the answer to this
        invoked = [
            o.args
            for o in gnome_shell.monitor.snapshot()
            if (o.kind, o.member, o.destination) == ("signal", "ActionInvoked", repeat.sender)
        ]  # as the daemon got them (GNOME's helper passes on what the shell broadcasts)
        assert invoked == [(repeat_id, "default")]
        assert len(events(sandbox, "acknowledged")) == 1
    finally:
        stop(proc)


def test_doctor_closes_its_test_notification_after_10s_and_says_dnd_holds_it(
    sandbox: Sandbox, gnome_shell: GnomeShell
) -> None:
    """GNOME ignores expire_timeout (the test notification stayed in its list for good), and with
    Do Not Disturb on (`show-banners` false) no banner shows at all."""
    gnome_shell.share_settings(Path(sandbox.env["XDG_CONFIG_HOME"]))
    gnome_shell.show_banners(False)
    started = time.monotonic()
    proc = sandbox.run("doctor", "--notify", env=gnome_shell.session_vars)
    took = time.monotonic() - started
    line = doctor_lines(proc.stdout)["test notification"]  # its detail wraps at 80 columns
    assert line.startswith("warn ") and "Do Not Disturb is on (GNOME show-banners)" in line, proc.stdout
    assert "closed after 10 s" in line and "look for it on your screen" not in proc.stdout
    [call] = gnome_shell.monitor.wait_notify(1)
    nid = gnome_shell.monitor.reply_to_notify(call)
    [close] = [c for c in gnome_shell.monitor.calls("CloseNotification") if c.sender == call.sender]
    assert close.args == (nid,) and 9.5 <= close.at - call.at <= 12
    assert 10 <= took < 15
    assert not gnome_shell.banner()


def test_a_wind_down_turns_banners_off_shows_its_own_reminder_critical_and_puts_them_back(
    sandbox: Sandbox, gnome_shell: GnomeShell
) -> None:
    """GNOME's Do Not Disturb is `show-banners` false: another app's notification gets no banner,
    sundown's own reminder goes out critical and shows as a banner (expanded by itself), and the
    setting is true again at `until`."""
    from datetime import timedelta

    from jeepney import DBusAddress, new_method_call

    from support.desktop import NOTIFICATIONS, NOTIFICATIONS_PATH, wait_until
    from support.winddown import SHORT_WINDOW, short_window, wait_row

    gnome = gnome_shell
    gnome.share_settings(Path(sandbox.env["XDG_CONFIG_HOME"]))
    banners = ("get", "org.gnome.desktop.notifications", "show-banners")
    until = SHORT_WINDOW + timedelta(seconds=5)
    env = {**sandbox.env, **gnome.session_vars}
    # The wind-down opens 1 s after the start, tea is due 2 s before 07:00, 3 s after the opening.
    daemon, clock = short_window(sandbox, env, "dnd = true\n", lead=1, tea=2)
    tea_due = SHORT_WINDOW + timedelta(seconds=3)
    daemon.start()
    try:
        assert wait_row(sandbox.db_path, "start")["effects"] == {"dnd": "on"}
        assert gnome.gsettings(*banners) == "false"
        with gnome.connection() as conn:  # another app, normal urgency (GNOME shows its banner in 0.2 s)
            notify = DBusAddress(NOTIFICATIONS_PATH, NOTIFICATIONS, NOTIFICATIONS)
            body = ("org.gnome.Terminal", 0, "", "Build finished", "", [], {"urgency": ("y", 1)}, -1)
            conn.send_and_get_reply(new_method_call(notify, "Notify", "susssasa{sv}i", body), timeout=5)
        # No banner until the reminder is due. A banner is told apart by its pixels only, so the
        # screen is looked at while the reminder cannot have been sent yet (by the daemon's clock):
        # the bus monitor may learn of its Notify after GNOME has drawn it (seen under load).
        sent = clock()
        shown = False
        while clock() < tea_due - timedelta(seconds=0.1):
            shown = shown or gnome.banner()
            time.sleep(0.05)
        assert clock() - sent >= timedelta(seconds=0.5), "too little time to look for the other's banner"
        [other, tea] = gnome.monitor.wait_notify(2, timeout=10)
        assert (other.app_name, tea.summary, tea.urgency) == ("org.gnome.Terminal", "Tea", 2)
        assert not shown and sandbox.logged("deferred") == 0
        # Critical: a banner in spite of Do Not Disturb, expanded by itself (its buttons show).
        wait_until(lambda: gnome.banner(at=gnome.POSITIONS["Done"]), 5, "the reminder's banner, expanded")
        clock.jump(until - clock())  # the clock is set to `until` (no need to wait for it)
        daemon.wake("clock jump or resume")
        end = wait_row(sandbox.db_path, "end", timeout=15)
        assert (end["reason"], end["effects"]) == ("until", {"dnd": "restored"})
        assert gnome.gsettings(*banners) == "true"
    finally:
        daemon.stop()


def test_a_wind_down_greys_the_real_screen_through_the_magnifier_and_gives_the_colour_back(
    sandbox: Sandbox, gnome_shell: GnomeShell
) -> None:
    """GNOME Shell's colour saturation 0 with its full-screen magnifier at 1x: the blue desktop
    background is grey from the window's start (in 0.2 s here) until `until`, and every magnifier
    setting is as it was after."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from support.desktop import wait_until
    from support.in_process import in_process_daemon
    from support.sandbox import FakeClock

    gnome = gnome_shell
    gnome.share_settings(Path(sandbox.env["XDG_CONFIG_HOME"]))
    keys = [
        ("org.gnome.desktop.a11y.magnifier", k)
        for k in ("color-saturation", "mag-factor", "lens-mode", "screen-position")
    ] + [("org.gnome.desktop.a11y.applications", "screen-magnifier-enabled")]
    before = [gnome.gsettings("get", *k) for k in keys]
    corner = (1200, 700)  # the desktop's background, blue

    def grey() -> bool:
        red, green, blue = gnome.pixel(*corner)
        return abs(red - blue) < 8 and abs(green - blue) < 8

    assert not grey()
    berlin = ZoneInfo("Europe/Berlin")
    sandbox.write_config(
        '[bedtime]\ndefault = "22:30"\n[winddown]\nat = "22:00"\nuntil = "07:00"\ngrayscale = true\n'
    )
    clock = FakeClock(datetime(2026, 11, 25, 22, 0, tzinfo=berlin))
    daemon = in_process_daemon(clock, env={**sandbox.env, **gnome.session_vars})
    try:
        daemon.tick()
        assert daemon.winddown.control.wait()
        assert daemon.winddown.status()["effects"] == {"grayscale": "on"}
        wait_until(grey, 5, "the screen to turn grey")
        clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=berlin)
        daemon.tick()
        assert daemon.winddown.control.wait()
        wait_until(lambda: not grey(), 5, "the colour back")
        assert [gnome.gsettings("get", *k) for k in keys] == before
    finally:
        daemon.stop()
