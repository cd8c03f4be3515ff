"""`sundown doctor` against real buses: dunst, a bus with no server, a server without actions, no bus.

The service checks use the recording `systemctl` stand-in from support.systemd (no user manager
can run here); the environment of a "running service" is a real process's /proc/PID/environ.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sundown import doctor
from sundown.paths import resolve_paths
from support.desktop import Desktop, wait_until
from support.doctor import doctor_lines
from support.systemd import ONE_REMINDER, FakeSystemctl, NotifyListener

pytestmark = pytest.mark.e2e  # every test here starts real processes


@pytest.fixture
def systemctl(tmp_path: Path) -> FakeSystemctl:
    fake = FakeSystemctl(tmp_path)
    fake.set(reachable=False)  # as here: no user manager unless a test says otherwise
    return fake


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[NotifyListener]:
    root = Path(tempfile.mkdtemp(prefix="sdn-"))  # AF_UNIX paths are short; tmp_path may not be
    lst = NotifyListener(str(root / "notify"))
    try:
        yield lst
    finally:
        lst.close()
        shutil.rmtree(root, ignore_errors=True)


def session_env(desk: Desktop, systemctl: FakeSystemctl, **extra: str) -> dict[str, str]:
    env = {
        "DBUS_SESSION_BUS_ADDRESS": desk.address,
        **systemctl.env(),
        **extra,
    }
    if "DISPLAY" in desk.env:
        env["DISPLAY"] = desk.env["DISPLAY"]
    return env


def lines(proc: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Each check's line by check name ("ok    service  ..."), and its fix line as NAME.fix."""
    return doctor_lines(proc.stdout)


def test_with_dunst_everything_is_ok_but_the_missing_daemon(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    proc = sandbox.run("doctor", env=session_env(desktop, systemctl))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    got = lines(proc)
    assert got["config"].startswith("ok ")
    assert got["event log"].startswith("ok ")
    assert got["session bus"].startswith("ok ") and desktop.address in got["session bus"]
    assert got["notifications"].startswith("ok ")
    assert "dunst" in got["notifications"] and "actions" in got["notifications"]
    assert got["service"].startswith("ok ") and "not installed" in got["service"]
    assert got["daemon"].startswith("warn ")
    # No user manager here: the fix is the session's autostart, not `service install` (which cannot work).
    assert "service install" not in got["daemon.fix"] and "autostart" in got["daemon.fix"]
    assert proc.stdout.rstrip().endswith("1 warning")


def test_notify_sends_a_real_test_notification(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    proc = sandbox.run("doctor", "--notify", env=session_env(desktop, systemctl))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lines(proc)["test notification"].startswith("ok ")
    assert "sent through dbus" in proc.stdout
    calls = desktop.monitor.wait_notify(1)  # type: ignore[union-attr]
    assert calls[0].summary == "sundown doctor"
    assert calls[0].actions == []  # nothing would answer a click once doctor has exited
    assert calls[0].expire_timeout == 10_000  # it goes by itself
    assert desktop.displayed() == 1


@pytest.mark.parametrize("real_server", ["lxqt-notificationd"], indirect=True)
def test_the_test_notification_has_no_buttons_and_goes_by_itself_on_lxqt(
    sandbox: Any, real_server: Desktop, systemctl: FakeSystemctl
) -> None:
    proc = sandbox.run("doctor", "--notify", env=session_env(real_server, systemctl))
    assert lines(proc)["test notification"].startswith("ok "), proc.stdout
    [call] = real_server.monitor.wait_notify(1)
    assert call.actions == []
    wait_until(real_server.windows, 5, "the test notification on screen")
    started = time.monotonic()
    wait_until(lambda: not real_server.windows(), 20, "the test notification to go by itself", interval=0.1)
    assert time.monotonic() - started < 12


def test_a_bus_without_a_notification_server_fails_with_the_install_command(
    sandbox: Any, bare_bus: Desktop, systemctl: FakeSystemctl
) -> None:
    proc = sandbox.run("doctor", env=session_env(bare_bus, systemctl))
    assert proc.returncode == 1
    got = lines(proc)
    assert got["session bus"].startswith("ok ")
    assert got["notifications"].startswith("FAIL ")
    assert "no notification server" in got["notifications"]
    # apt-get is on this machine (Debian): the fix names the package to install.
    assert "apt install dunst" in got["notifications.fix"]
    assert "notification daemon" in got["notifications.fix"]


def test_a_server_without_actions_is_a_warning(
    sandbox: Any, bare_bus: Desktop, fake_server: Any, systemctl: FakeSystemctl
) -> None:
    fake_server(capabilities=("body",))
    proc = sandbox.run("doctor", env=session_env(bare_bus, systemctl))
    assert proc.returncode == 0, proc.stdout
    got = lines(proc)
    assert got["notifications"].startswith("warn ")
    assert "no action buttons" in got["notifications"] and "sundown ack" in got["notifications"]
    assert "plain text" in got["notifications"]


def test_a_one_at_a_time_server_is_a_warning(
    sandbox: Any, bare_bus: Desktop, fake_server: Any, systemctl: FakeSystemctl
) -> None:
    fake_server(info=("Notification Daemon", "GNOME", "3.20.0", "1.2"))  # notification-daemon
    proc = sandbox.run("doctor", env=session_env(bare_bus, systemctl))
    got = lines(proc)
    assert got["notifications"].startswith("warn "), proc.stdout
    assert "one notification at a time" in got["notifications"]
    assert "dunst" in got["notifications.fix"]


def test_without_any_bus_doctor_fails(sandbox: Any, systemctl: FakeSystemctl) -> None:
    proc = sandbox.run("doctor", env=systemctl.env())
    assert proc.returncode == 1
    got = lines(proc)
    assert (
        got["session bus"].startswith("FAIL ") and "DBUS_SESSION_BUS_ADDRESS is not set" in got["session bus"]
    )
    assert got["notifications"].startswith("FAIL ")
    assert proc.stdout.rstrip().endswith("2 problems, 1 warning")


def test_the_user_bus_socket_is_a_fallback_with_a_warning(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    env = {
        **systemctl.env(),
        "XDG_RUNTIME_DIR": desktop.env["XDG_RUNTIME_DIR"],
        "DISPLAY": desktop.env["DISPLAY"],
    }
    proc = sandbox.run("doctor", env=env)
    assert proc.returncode == 0, proc.stdout
    got = lines(proc)
    assert got["session bus"].startswith("warn ")
    assert got["session bus.fix"] == f"fix: export DBUS_SESSION_BUS_ADDRESS=unix:path={desktop.bus_socket}"
    assert got["notifications"].startswith("ok ")


def test_a_broken_config_fails(sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl) -> None:
    sandbox.write_config('[bedtime]\ndefault = "25:00"\n[notify]\nsnooze = "0m"\n')
    proc = sandbox.run("doctor", env=session_env(desktop, systemctl))
    assert proc.returncode == 1
    got = lines(proc)
    assert (
        got["config"].startswith("FAIL ") and "bedtime.default" in got["config"] and "1 more" in got["config"]
    )
    assert got["config.fix"] == f"fix: sundown check {sandbox.config_path}"


def test_an_unusable_state_dir_fails_the_log_check(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    blocker = sandbox.root / "not-a-dir"
    blocker.write_text("")
    env = session_env(desktop, systemctl, SUNDOWN_STATE_DIR=str(blocker / "state"))
    proc = sandbox.run("doctor", env=env)
    assert proc.returncode == 1
    assert lines(proc)["event log"].startswith("FAIL ")


# --- the service's environment -------------------------------------------------------------------


def install_unit(sandbox: Any) -> None:
    unit = sandbox.config_home / "systemd" / "user" / "sundown.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/bin/true\n")


def test_service_without_display_gets_the_import_environment_fix(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    install_unit(sandbox)
    systemctl.set(
        reachable=True,
        active=["sundown.service", "graphical-session.target"],
        main_pid=0,
        wanted_by=["graphical-session.target"],
        env={"DBUS_SESSION_BUS_ADDRESS": desktop.address, "HOME": str(sandbox.root)},
    )
    proc = sandbox.run("doctor", env=session_env(desktop, systemctl))
    got = lines(proc)
    assert (
        got["service"].startswith("warn ")
        and "systemd --user has neither DISPLAY nor WAYLAND_DISPLAY" in got["service"]
    )
    assert (
        got["service.fix"]
        == "fix: systemctl --user import-environment DISPLAY && systemctl --user restart sundown"
    )


def test_the_running_service_process_environment_is_what_counts(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    install_unit(sandbox)
    # A "service" started before the session's variables were imported: no bus, no display.
    stale = subprocess.Popen(["sleep", "60"], env={"PATH": "/usr/bin:/bin", "HOME": str(sandbox.root)})
    try:
        systemctl.set(
            reachable=True,
            active=["sundown.service"],
            main_pid=stale.pid,
            wanted_by=["default.target"],
            env={"DBUS_SESSION_BUS_ADDRESS": desktop.address, "DISPLAY": desktop.env["DISPLAY"]},
        )
        proc = sandbox.run("doctor", env=session_env(desktop, systemctl))
    finally:
        stale.kill()
        stale.wait()
    assert proc.returncode == 1
    got = lines(proc)
    assert got["service"].startswith("FAIL ")
    assert f"the running service (pid {stale.pid}) has no DBUS_SESSION_BUS_ADDRESS" in got["service"]
    assert got["service.fix"].endswith(
        "import-environment DBUS_SESSION_BUS_ADDRESS && systemctl --user restart sundown"
    )


def test_a_healthy_service_is_ok(sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl) -> None:
    install_unit(sandbox)
    good = subprocess.Popen(["sleep", "60"], env={**desktop.env, "PATH": "/usr/bin:/bin"})
    try:
        systemctl.set(
            reachable=True, active=["sundown.service"], main_pid=good.pid, wanted_by=["default.target"]
        )
        proc = sandbox.run("doctor", env=session_env(desktop, systemctl))
    finally:
        good.kill()
        good.wait()
    got = lines(proc)
    assert got["service"].startswith("ok ") and f"pid {good.pid}" in got["service"]


def test_a_failed_service_points_at_the_journal(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    install_unit(sandbox)
    systemctl.set(reachable=True, active_state="failed", result="exit-code")
    proc = sandbox.run("doctor", env=session_env(desktop, systemctl))
    assert proc.returncode == 1
    got = lines(proc)
    assert got["service"].startswith("FAIL ") and "exit-code" in got["service"]
    assert "journalctl --user -u sundown -e" in got["service.fix"]


def test_a_unit_wanted_by_an_inactive_graphical_target_will_not_start_at_login(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    install_unit(sandbox)
    systemctl.set(reachable=True, active=["sundown.service"], wanted_by=["graphical-session.target"])
    proc = sandbox.run("doctor", env=session_env(desktop, systemctl))
    got = lines(proc)
    assert got["service"].startswith("warn ") and "will not start at the next login" in got["service"]
    assert got["service.fix"] == "fix: sundown service install --wanted-by default.target"


# --- as data -------------------------------------------------------------------------------------


def test_checks_are_data_and_a_running_daemon_is_seen(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl
) -> None:
    from sundown.runtime.control_server import InstanceLock

    paths = resolve_paths(env={})
    lock = InstanceLock(paths)  # this test process plays the running daemon
    try:
        report = doctor.run(paths, {**desktop.env, **systemctl.env()})
    finally:
        lock.release()
    by_name = {c.name: c for c in report.checks}
    assert [c.name for c in report.checks] == [
        "config",
        "event log",
        "session bus",
        "notifications",
        "service",
        "daemon",
        "dnd",
        "presenting",
        "fullscreen",
        "idle",
        "locked",
        "zone",
    ]
    # The lock is held but nothing answers on the control socket.
    assert by_name["daemon"] == doctor.Check(
        "daemon", doctor.OK, f"running (pid {os.getpid()}; it did not answer a status request)"
    )
    assert all(c.status == doctor.OK for c in report.checks), report.checks
    assert report.exit_code == 0 and not report.failed


def test_a_running_daemon_reports_its_backend_and_config_trouble(
    sandbox: Any, desktop: Desktop, systemctl: FakeSystemctl, listener: NotifyListener
) -> None:
    sandbox.write_config(ONE_REMINDER)
    env = session_env(desktop, systemctl)
    proc = sandbox.popen(
        "run",
        "--backend",
        "console",
        env={**env, "NOTIFY_SOCKET": listener.address},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        listener.wait_for("READY", "1")
        healthy = sandbox.run("doctor", env=env)
        assert healthy.returncode == 0, healthy.stdout
        assert lines(healthy)["daemon"] == f"ok    daemon         running (pid {proc.pid}, backend console)"
        status = sandbox.run("service", "status", env=env)
        assert f"daemon: running (pid {proc.pid}, backend console)" in status.stdout

        # A broken save: the daemon keeps the old routine, and doctor says so twice.
        sandbox.config_path.write_text(ONE_REMINDER.replace('"45m"', '"45"'))
        listener.wait_for("RELOADING", "1")
        listener.wait_for("READY", "1")
        broken = sandbox.run("doctor", env=env)
        assert broken.returncode == 1
        got = lines(broken)
        assert got["config"].startswith("FAIL ") and "reminders.magnesium.before" in got["config"]
        assert got["daemon"].startswith("warn ") and "on the previous routine" in got["daemon"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_report_fits_80_columns_and_keeps_a_command_to_paste_whole(monkeypatch) -> None:
    import argparse
    import io

    from sundown.cli.context import Context
    from sundown.cli.service_cmds import print_report

    monkeypatch.setenv("COLUMNS", "80")
    command = (
        "systemctl --user import-environment DISPLAY WAYLAND_DISPLAY && systemctl --user restart sundown"
    )
    report = doctor.Report(
        (
            doctor.Check("config", "ok", "/home/ana/.config/sundown/config.toml: 4 reminders"),
            doctor.Check(  # before: 155 columns in one line
                "service",
                "warn",
                "not installed as a user service (systemd --user is not running or not reachable (Failed"
                " to connect to bus: No such file or directory))",
                "no systemd --user here: start `sundown run` with your desktop session",
            ),
            doctor.Check(
                "daemon", "warn", "the running service has neither DISPLAY nor WAYLAND_DISPLAY", command
            ),
        )
    )
    out = io.StringIO()
    print_report(Context(argparse.Namespace(), out=out), report)
    shown = out.getvalue().splitlines()
    assert [line for line in shown if len(line) > 80] == [f"{'':15}fix: {command}"]  # pasted as one line
    assert shown[1:6] == [
        "warn  service  not installed as a user service (systemd --user is not running or",
        "               not reachable (Failed to connect to bus: No such file or",
        "               directory))",
        "               fix: no systemd --user here: start `sundown run` with your",
        "                    desktop session",
    ]
    assert doctor_lines(out.getvalue())["daemon.fix"] == f"fix: {command}"
