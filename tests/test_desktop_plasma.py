"""sundown on a real KDE Plasma 5.27 (tests/support/sessions.py): the daemon as a person meets it,
popups pressed with xdotool where a person would, Do Not Disturb turned on the way an app does
(a held `Inhibit`). docs/notify.md says what Plasma does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support.daemon import Evening, events, stop, wait_events
from support.desktop import wait_until
from support.sandbox import Sandbox
from support.sessions import Plasma

# One Plasma for the whole module (slow to start): its tests run on one worker, in turn.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("plasma")]


def start(box: Sandbox, plasma: Plasma, ev: Evening, **extra: str) -> subprocess.Popen[str]:
    box.write_config(ev.text(**extra))
    return box.start_daemon("--backend", "dbus", env=plasma.session_vars)


def test_done_on_a_first_and_on_a_repeated_popup(sandbox: Sandbox, plasma: Plasma, tmp_path: Path) -> None:
    proc = start(sandbox, plasma, Evening(magnesium=2, tea=6), tea='repeat = "3s"\nrepeat_limit = 1\n')
    try:
        plasma.monitor.wait_notify(1, timeout=10)
        plasma.press("Done")
        [ack] = wait_events(sandbox, "acknowledged", timeout=10, what="Done on magnesium's popup")
        assert (ack["reminder"], ack["source"]) == ("magnesium", "action")
        wait_until(lambda: not plasma.popups(), 5, "magnesium's popup to go")
        _, tea, repeat = plasma.monitor.wait_notify(3, timeout=15)
        assert repeat.replaces_id == plasma.monitor.reply_to_notify(tea) != 0  # the same popup
        assert repeat.urgency == 1  # a repeat is not critical
        plasma.screenshot(tmp_path / "plasma-repeat.png")
        plasma.press("Done")
        wait_events(sandbox, "acknowledged", 2, timeout=10, what="Done on tea's repeated popup")
        assert [e["reminder"] for e in events(sandbox, "acknowledged")] == ["magnesium", "tea"]
    finally:
        stop(proc)


def test_its_x_is_logged_dismissed(sandbox: Sandbox, plasma: Plasma) -> None:
    proc = start(sandbox, plasma, Evening(magnesium=2))
    try:
        plasma.monitor.wait_notify(1, timeout=10)
        plasma.press("close")
        [row] = wait_events(sandbox, "dismissed", timeout=10, what="the × logged")
        assert (row["reminder"], row["source"]) == ("magnesium", "action")
        assert events(sandbox, "acknowledged") == []
    finally:
        stop(proc)


def test_do_not_disturb_through_a_held_inhibit_defers_and_releases_a_reminder(
    sandbox: Sandbox, plasma: Plasma
) -> None:
    proc = None
    try:
        with plasma.do_not_disturb():
            proc = start(sandbox, plasma, Evening(magnesium=2))
            [deferred] = wait_events(sandbox, "deferred", timeout=10, what="the deferral")
            assert deferred["details"]["reason"] == "dnd"
            assert plasma.monitor.notify_calls() == [] and not plasma.popups()
        # The inhibiting connection closed: Plasma ended Do Not Disturb.
        [notified] = wait_events(sandbox, "notified", timeout=5, what="the reminder once DND ended")
        assert notified["details"]["backend"] == "dbus"
        wait_until(plasma.popups, 5, "its popup")
    finally:
        if proc is not None:
            stop(proc)


def test_a_repeat_and_an_escalation_step_due_together_are_one_notification(
    sandbox: Sandbox, plasma: Plasma
) -> None:
    """Two Notify calls 19 ms apart: Plasma refused the second as too many similar notifications,
    and sundown printed the reminder on the console though `backend = "dbus"`."""
    steps = 'repeat = "3s"\nrepeat_limit = 1\nescalate = [{ after = "3s", urgency = "critical" }]\n'
    proc = start(sandbox, plasma, Evening(magnesium=2), magnesium=steps)
    try:
        wait_events(sandbox, "escalated", timeout=15, what="the escalation step")
        wait_events(sandbox, "notified", 2, timeout=5, what="the repeat")
        sandbox.refresh()
    finally:
        out, _ = stop(proc)
    first, repeat = plasma.monitor.notify_calls()
    assert (first.urgency, repeat.urgency) == (1, 2)  # one notification, with the step's urgency
    mine = {c.serial for c in plasma.monitor.calls("Notify") if c.sender == first.sender}
    refused = [o.args for o in plasma.monitor.snapshot() if o.kind == "error" and o.reply_serial in mine]
    assert refused == []  # no ExcessNotificationGeneration
    assert {e["details"]["backend"] for e in events(sandbox, "notified")} == {"dbus"}
    assert "sundown: [" not in out  # nothing printed on the console


def test_a_popup_hidden_by_dnd_is_not_gone_and_one_answered_meanwhile_is_withdrawn(
    sandbox: Sandbox, plasma: Plasma
) -> None:
    """Plasma hides popups during Do Not Disturb (no NotificationClosed) and shows them again after."""
    proc = start(sandbox, plasma, Evening(magnesium=2, tea=2))
    try:
        plasma.monitor.wait_notify(2, timeout=10)
        wait_until(lambda: len(plasma.popups()) == 2, 5, "both popups")
        with plasma.do_not_disturb():
            wait_until(lambda: not plasma.popups(), 5, "the popups hidden by DND")
            sandbox.run("ack", "tea", check=True)  # answered elsewhere meanwhile: its popup is withdrawn
            wait_until(lambda: plasma.monitor.calls("CloseNotification"), 5, "tea's notification closed")
        wait_until(plasma.popups, 5, "magnesium's popup back after DND")
        assert len(plasma.popups()) == 1
        plasma.press("Done")
        wait_events(sandbox, "acknowledged", 2, timeout=10, what="Done on the popup that came back")
        assert [e["source"] for e in events(sandbox, "acknowledged")] == ["cli", "action"]
        assert events(sandbox, "dismissed") == []
    finally:
        stop(proc)
