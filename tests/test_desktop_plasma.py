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
    # Serials are per connection: an error answers one of these calls only when sent to their sender.
    refused = [
        o.args
        for o in plasma.monitor.snapshot()
        if o.kind == "error" and o.destination == first.sender and o.reply_serial in mine
    ]
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


def send_as(plasma: Plasma, app: str, summary: str) -> None:
    """A notification of another app (normal urgency), sent from the test's own connection."""
    from jeepney import DBusAddress, new_method_call

    from support.desktop import NOTIFICATIONS, NOTIFICATIONS_PATH

    notify = DBusAddress(NOTIFICATIONS_PATH, NOTIFICATIONS, NOTIFICATIONS)
    with plasma.connection() as conn:
        msg = new_method_call(
            notify, "Notify", "susssasa{sv}i", (app, 0, "", summary, "", [], {"urgency": ("y", 1)}, -1)
        )
        conn.send_and_get_reply(msg, timeout=5)


def night_color(plasma: Plasma) -> tuple[bool, int, int]:
    """KWin 5.27's night colour as it runs: (enabled, mode (3: constant), target temperature)."""
    from jeepney import DBusAddress, new_method_call

    props = DBusAddress("/ColorCorrect", "org.kde.KWin", "org.freedesktop.DBus.Properties")
    with plasma.connection() as conn:
        reply = conn.send_and_get_reply(new_method_call(props, "GetAll", "s", ("org.kde.kwin.ColorCorrect",)))
    found = {k: v[1] for k, v in reply.body[0].items()}
    return found["enabled"], found["mode"], found["targetTemperature"]


def test_a_wind_down_holds_other_apps_through_a_held_inhibit_shows_its_own_and_lets_go(
    sandbox: Sandbox, plasma: Plasma
) -> None:
    """Plasma's Do Not Disturb is the inhibition sundown holds on one connection: another app's
    notification is held (no popup), sundown's own reminder shows, critical (Plasma shows critical
    notifications during Do Not Disturb); `Inhibited` is false again at `until` and after `off`.
    KWin's night colour is on at the temperature asked, and as it was after `until`."""
    from datetime import timedelta

    from support.winddown import SHORT_WINDOW, short_window, wait_row

    until = SHORT_WINDOW + timedelta(seconds=5)
    # The tools the daemon runs (kwriteconfig5) write the session's kwinrc, as they would at home;
    # the daemon's own files are the sandbox's (its paths come from this process's XDG_* variables).
    env = {**sandbox.env, **plasma.session_vars, "XDG_CONFIG_HOME": plasma.env["XDG_CONFIG_HOME"]}
    daemon, clock = short_window(sandbox, env, "dnd = true\nnight_light = 3400\n", lead=1)  # tea in 2 s
    before = night_color(plasma)
    assert before[0] is False
    daemon.start()
    try:
        assert wait_row(sandbox.db_path, "start")["effects"] == {"dnd": "on", "night_light": "on"}
        wait_until(lambda: plasma.inhibited() is True, 5, "Plasma's Inhibited to be true")
        # KWin 5.27 re-read kwinrc (kwriteconfig5, then the change notice): warm, all the time.
        wait_until(lambda: night_color(plasma) == (True, 3, 3400), 5, "KWin's night colour on, at 3400 K")
        [inhibit] = plasma.monitor.calls("Inhibit")
        send_as(plasma, "org.kde.konsole", "Build finished")
        [other, tea] = plasma.monitor.wait_notify(2, timeout=10)
        assert (other.app_name, tea.summary, tea.urgency) == ("org.kde.konsole", "Tea", 2)
        assert tea.sender != inhibit.sender  # the inhibition has a connection of its own
        # sundown's popup, with its buttons (104 px high here); the other app's (one line, 70 px,
        # shown within 0.1 s without Do Not Disturb, 1.5 s before the reminder) is held.
        # Plasma lays a new popup out more than once (seen under load: 138 px high at first, then 104 px), so
        # the popups are counted once they stand still.
        wait_until(lambda: [g for g in plasma.popups() if g[3] > 90], 5, "the reminder's popup")
        [mine] = wait_until(lambda: plasma.settled(still=0.5), 10, "the popups to stop moving")
        assert mine[3] > 90 and sandbox.logged("deferred") == 0
        clock.jump(until - clock())  # the clock is set to `until` (no need to wait for it)
        daemon.wake("clock jump or resume")
        end = wait_row(sandbox.db_path, "end", timeout=15)
        assert (end["reason"], end["effects"]) == ("until", {"dnd": "restored", "night_light": "restored"})
        wait_until(lambda: night_color(plasma) == before, 5, "KWin's night colour as before")
        wait_until(lambda: plasma.inhibited() is False, 5, "Plasma's Inhibited to be false at until")
        # Held, not lost: Plasma shows the other app's notification once Do Not Disturb ends.
        wait_until(lambda: len(plasma.popups()) == 2, 5, "the held notification shown after until")
        # By hand, the next evening: on, then off.
        sandbox.run("winddown", "on", check=True)
        wait_until(lambda: plasma.inhibited() is True, 5, "Inhibited after `winddown on`")
        off = sandbox.run("winddown", "off", check=True)
        assert "restored" in off.stdout
        wait_until(lambda: plasma.inhibited() is False, 5, "Inhibited false after `winddown off`")
    finally:
        daemon.stop()
