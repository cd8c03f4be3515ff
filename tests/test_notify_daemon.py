"""The daemon with real notification servers: what survives its restart, one-at-a-time servers."""

from __future__ import annotations

import subprocess

import pytest

from support.daemon import Evening, events, start, stop, wait_events
from support.desktop import Desktop, wait_until
from support.in_process import in_process_daemon
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes


def shown_ids(box: Sandbox) -> list[int]:
    return [e["details"]["notification"]["id"] for e in events(box, "notified")]


def restart(box: Sandbox, desktop: Desktop, proc):  # type: ignore[no-untyped-def]
    out, err = stop(proc)
    assert proc.returncode == 0, err
    return start(box, "--backend", "dbus", env=desktop.session_vars)


def test_a_restarted_daemon_replaces_its_predecessors_notification_and_closes_it(
    sandbox: Sandbox, desktop: Desktop
) -> None:
    evening = Evening(magnesium=2)
    # The repeat comes 5 s after the first showing: after the restart below (its first step, the
    # stop, is over within a second or two of the showing), so from the new process.
    sandbox.write_config(evening.text(magnesium='repeat = "5s"\n'))
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        [first] = desktop.monitor.wait_notify(1, timeout=10)
        nid = desktop.monitor.reply_to_notify(first)
        wait_events(sandbox, "notified", timeout=5, what="the notified row")
        assert shown_ids(sandbox) == [nid]  # the id is kept in the log
        proc = restart(sandbox, desktop, proc)
        calls = desktop.monitor.wait_notify(2, timeout=15)  # the repeat, from the new process
        assert calls[1].sender != first.sender, "repeated by the stopped process"
        assert calls[1].replaces_id == nid
        assert desktop.displayed() == 1, "replaced, not stacked"
        sandbox.run("ack", "magnesium", check=True)
        wait_until(lambda: desktop.displayed() == 0, 5, "the acknowledged reminder's notification to close")
    finally:
        stop(proc)
    assert [e["event"] for e in events(sandbox)] == ["notified", "notified", "acknowledged"]


def showing_magnesium(sandbox: Sandbox, desktop: Desktop) -> subprocess.Popen[str]:
    """A daemon that has shown magnesium (due in 2 s) on `desktop` and logged it: the daemon's process."""
    sandbox.write_config(Evening(magnesium=2).text())
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        desktop.monitor.wait_notify(1, timeout=10)
        wait_events(sandbox, "notified", timeout=5, what="the notified row")
    except BaseException:
        stop(proc)
        raise
    return proc


def test_a_reminder_acknowledged_while_no_daemon_ran_is_closed_at_the_next_start(
    sandbox: Sandbox, desktop: Desktop
) -> None:
    proc = showing_magnesium(sandbox, desktop)
    try:
        out, err = stop(proc)
        sandbox.run("ack", "magnesium", check=True)
        assert desktop.displayed() == 1
        proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
        wait_until(lambda: desktop.displayed() == 0, 5, "the notification to be closed by the new daemon")
        assert [e["event"] for e in events(sandbox)] == ["notified", "acknowledged"]  # no dismissal
    finally:
        stop(proc)


@pytest.mark.parametrize("real_server", ["lxqt-notificationd", "mate-notification-daemon"], indirect=True)
def test_a_click_on_a_notification_from_before_the_restart_is_heard(
    sandbox: Sandbox, real_server: Desktop
) -> None:
    """Where the server broadcasts its signals; dunst sends them to the process that showed it."""
    desktop = real_server
    proc = showing_magnesium(sandbox, desktop)
    try:
        proc = restart(sandbox, desktop, proc)
        # The new process connects by itself (no reminder to send): it asks who the server is.
        wait_until(lambda: len(desktop.monitor.calls("GetServerInformation")) >= 2, 10, "the new daemon")
        desktop.click("Done")
        wait_events(sandbox, "acknowledged", timeout=5, what="the click to be logged")
        [ack] = events(sandbox, "acknowledged")
        assert (ack["reminder"], ack["source"]) == ("magnesium", "action")
    finally:
        stop(proc)


@pytest.mark.parametrize("real_server", ["notification-daemon"], indirect=True)
def test_on_a_one_at_a_time_server_a_new_reminder_joins_the_open_one(
    sandbox: Sandbox, real_server: Desktop
) -> None:
    desktop = real_server
    evening = Evening(magnesium=2, tea=5)
    sandbox.write_config(evening.text())
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        first = desktop.monitor.wait_notify(1, timeout=10)[0]
        nid = desktop.monitor.reply_to_notify(first)
        second = desktop.monitor.wait_notify(2, timeout=10)[1]
        assert second.replaces_id == nid  # the open one is replaced, not queued behind
        assert second.summary == "Magnesium, Tea"
        assert "Magnesium" in second.body and "Tea" in second.body
        assert len(desktop.windows()) == 1
        desktop.click("Done")
        wait_events(sandbox, "acknowledged", 2, 5, "both acknowledged")
    finally:
        stop(proc)
    rows = events(sandbox)
    assert [(e["event"], e["reminder"]) for e in rows] == [
        ("notified", "magnesium"),
        ("notified", "tea"),
        ("acknowledged", "magnesium"),
        ("acknowledged", "tea"),
    ]
    assert rows[1]["details"]["together"] == ["magnesium", "tea"]


def test_the_daemons_notice_of_a_bad_config_has_no_actions_and_expires(
    sandbox: Sandbox, desktop: Desktop
) -> None:
    sandbox.write_config(Evening(a=600).text())
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        sandbox.config_path.write_text("[bedtime]\ndefault = '25:00'\n")
        [call] = desktop.monitor.wait_notify(1, timeout=10)
    finally:
        stop(proc)
    assert call.summary == "sundown: config has errors"
    assert call.actions == []  # nothing to acknowledge; not even a click that does nothing
    assert call.expire_timeout == -1  # the server's usual timeout: it goes by itself


def test_one_at_a_time_the_joined_notification_is_replaced_again_and_names_only_what_is_open(
    sandbox: Sandbox, bare_bus: Desktop, fake_server
) -> None:
    """The joined notification's key stays the open one: a later send replaces it, never queues;
    Done on it acknowledges what it names (not magnesium a second time)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from support.sandbox import FakeClock

    server = fake_server(info=("Notification Daemon", "GNOME", "3.20.0", "1.2"))
    sandbox.write_config(
        'timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n'
        '[reminders.magnesium]\nbefore = "60m"\n'
        '[reminders.tea]\nbefore = "55m"\n'
        '[reminders.lights]\nbefore = "50m"\n'
    )
    zone = ZoneInfo("UTC")
    clock = FakeClock(datetime(2026, 11, 25, 21, 30, tzinfo=zone))
    daemon = in_process_daemon(clock, env=bare_bus.env, backend="dbus")
    try:
        daemon.tick()  # magnesium
        clock.now = datetime(2026, 11, 25, 21, 35, tzinfo=zone)
        daemon.tick()  # tea joins it
        night = datetime(2026, 11, 25).date()
        daemon.ledger.apply("acknowledged", night, "magnesium", "cli")  # as `sundown ack magnesium` does
        clock.now = datetime(2026, 11, 25, 21, 40, tzinfo=zone)
        daemon.tick()  # lights joins tea
        key = "2026-11-25/magnesium"  # the joined notification's key: the one that was open
        daemon.handle_action(key, "done")
    finally:
        daemon.stop()
    (first_id, _), (_, joined), (_, again) = server.notified
    assert (joined[1], joined[3]) == (first_id, "Magnesium, Tea")
    assert (again[1], again[3]) == (first_id, "Tea, Lights")  # replaces it, names only what is open
    acks = [(e["reminder"], e["source"]) for e in events(sandbox, "acknowledged")]
    assert acks == [("magnesium", "cli"), ("tea", "action"), ("lights", "action")]
