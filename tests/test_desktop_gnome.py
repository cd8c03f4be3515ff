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
