"""systemd integration: sd_notify on a real datagram socket, journal detection, the unit, install.

The install side runs against a stand-in `systemctl`: a script first in PATH that records its
argv and keeps a little unit state in a JSON file. It pins what the real manager cannot show
as easily (the exact sequence of calls, an inactive graphical-session.target, a manager with
another XDG_CONFIG_HOME, no manager at all, a hung systemctl). tests/test_user_manager.py runs
the same commands against a real `systemd --user`; `systemd-analyze verify` runs for real here.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sundown.systemd import unit as systemd_unit
from sundown.systemd.journal import journal_stream
from sundown.systemd.notify import SdNotify, child_environment
from support.desktop import wait_until
from support.systemd import ONE_REMINDER, FakeSystemctl, NotifyListener

REPO = Path(__file__).resolve().parent.parent

# --- a real NOTIFY_SOCKET ------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[NotifyListener]:
    # A short path: AF_UNIX addresses are limited to 107 bytes, pytest's tmp_path can be longer.
    root = tempfile.mkdtemp(prefix="sdn-")
    lst = NotifyListener(os.path.join(root, "notify"))
    try:
        yield lst
    finally:
        lst.close()
        shutil.rmtree(root, ignore_errors=True)


def test_messages_arrive_on_notify_socket(listener: NotifyListener) -> None:
    with SdNotify.from_env({"NOTIFY_SOCKET": listener.address}) as n:
        assert n.enabled
        assert n.ready("next: Magnesium at 21:45")
        assert listener.receive() == {"READY": "1", "STATUS": "next: Magnesium at 21:45"}
        assert n.status("idle")
        assert listener.receive() == {"STATUS": "idle"}
        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert n.reloading()
        fields = listener.receive()
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert fields["RELOADING"] == "1"
        assert before <= int(fields["MONOTONIC_USEC"]) <= after
        assert n.stopping()
        assert listener.receive() == {"STOPPING": "1"}
        assert n.ping()
        assert listener.receive() == {"WATCHDOG": "1"}


def test_abstract_socket_names_are_understood() -> None:
    lst = NotifyListener(f"@sundown-test-{os.getpid()}-{time.monotonic_ns()}")
    try:
        with SdNotify.from_env({"NOTIFY_SOCKET": lst.address}) as n:
            assert n.ready()
        assert lst.receive() == {"READY": "1"}
    finally:
        lst.close()


def test_status_text_stays_one_assignment(listener: NotifyListener) -> None:
    with SdNotify.from_env({"NOTIFY_SOCKET": listener.address}) as n:
        n.status("line one\nREADY=1")
    assert listener.receive() == {"STATUS": "line one READY=1"}


def test_without_notify_socket_everything_is_a_no_op() -> None:
    n = SdNotify.from_env({})
    assert not n.enabled
    assert not n.ready("x") and not n.status("x") and not n.ping() and not n.stopping() and not n.reloading()
    assert n.watchdog_interval() is None
    n.close()


def test_a_vanished_manager_is_logged_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    n = SdNotify.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.DEBUG, logger="sundown.systemd.notify"):
        assert not n.ready()
        assert not n.ping()
    n.close()
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG], "warn once, then quietly"
    assert "cannot notify the service manager" in caplog.records[0].getMessage()


def test_watchdog_interval_and_ping_at_half() -> None:
    n = SdNotify.from_env({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "60000000"})
    assert n.watchdog_interval() == 60.0
    assert n.ping_interval() == 30.0
    mine = SdNotify.from_env({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())})
    assert mine.watchdog_interval() == 2.0
    # Inherited from a parent that systemd watches: not ours to ping.
    theirs = SdNotify.from_env({"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid() + 1)})
    assert theirs.watchdog_interval() is None
    for bad in ("", "0", "-5", "soon"):
        assert SdNotify.from_env({"WATCHDOG_USEC": bad}).watchdog_interval() is None


def test_child_environment_drops_what_systemd_meant_for_the_daemon() -> None:
    env = {
        "NOTIFY_SOCKET": "/run/x",
        "WATCHDOG_USEC": "1",
        "WATCHDOG_PID": "2",
        "DISPLAY": ":0",
        "JOURNAL_STREAM": "1:2",
    }
    assert child_environment(env) == {"DISPLAY": ":0", "JOURNAL_STREAM": "1:2"}


# --- journal or terminal -------------------------------------------------------------------------


def test_journal_stream_matches_device_and_inode(tmp_path: Path) -> None:
    with open(tmp_path / "stream", "w") as f:
        st = os.fstat(f.fileno())
        assert journal_stream({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, f.fileno())
        assert not journal_stream({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, f.fileno())
        for bad in ("", "1", "a:b", f"{st.st_dev}:"):
            assert not journal_stream({"JOURNAL_STREAM": bad}, f.fileno())
        assert not journal_stream({}, f.fileno())


LOG_SCRIPT = """
import logging, sys
from sundown.systemd.journal import configure_logging
configure_logging()
configure_logging()  # twice: still one handler
log = logging.getLogger("sundown.test")
log.info("started")
log.warning("careful")
logging.getLogger("apscheduler.executors.default").info("Running job ...")  # per-job chatter: dropped
try:
    1 / 0
except ZeroDivisionError:
    log.exception("broke")
"""


def _stderr_lines(
    argv: list[str], env_extra: dict[str, str], journal: bool, base: dict[str, str] | None = None
) -> tuple[int, list[str]]:
    """Run `argv` with stderr on a stream socket, as journald connects a service."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    env = {k: v for k, v in (base or os.environ).items() if k != "JOURNAL_STREAM"}
    env["PYTHONPATH"] = str(REPO / "src")
    if journal:
        st = os.fstat(theirs.fileno())
        env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    env.update(env_extra)
    with ours, theirs:
        proc = subprocess.run(argv, stderr=theirs, env=env, timeout=30)
        theirs.close()
        data = b""
        while chunk := ours.recv(65536):
            data += chunk
    return proc.returncode, data.decode().splitlines()


def _log_lines(env_extra: dict[str, str], journal: bool) -> list[str]:
    status, lines = _stderr_lines([sys.executable, "-c", LOG_SCRIPT], env_extra, journal)
    assert status == 0
    return lines


@pytest.mark.e2e
def test_under_the_journal_lines_have_priorities_and_no_timestamps() -> None:
    lines = _log_lines({}, journal=True)
    assert lines[0] == "<6>sundown.test: started"
    assert lines[1] == "<4>sundown.test: careful"
    assert lines[2] == "<3>sundown.test: broke"
    # The traceback keeps the error priority on every line (journald stores each line alone).
    assert len(lines) > 4 and all(line.startswith("<3>") for line in lines[2:])
    assert lines[-1] == "<3>ZeroDivisionError: division by zero"
    assert not any("Running job" in line for line in lines)


@pytest.mark.e2e
def test_on_a_terminal_lines_have_timestamps() -> None:
    lines = _log_lines({}, journal=False)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO sundown\.test: started", lines[0])
    assert re.fullmatch(r"\S+ \S+ WARNING sundown\.test: careful", lines[1])


@pytest.mark.e2e
def test_a_stale_journal_stream_is_not_believed() -> None:
    # Inherited by a shell started from a service: stderr is no longer the journal.
    lines = _log_lines({"JOURNAL_STREAM": "8:12345"}, journal=False)
    assert not lines[0].startswith("<")


@pytest.mark.e2e
def test_config_errors_of_a_failing_start_reach_the_journal_as_errors(sandbox: Any) -> None:
    # Under systemd a broken config ends `sundown run` with 78; `journalctl -p warning` must say why.
    sandbox.write_config('[bedtime]\ndefault = "25:00"\n[notify]\nbackend = "loud"\n')
    run = [sys.executable, "-m", "sundown", "run"]
    status, lines = _stderr_lines(run, {}, journal=True, base=sandbox.env)
    assert status == 78
    assert len(lines) == 2 and all(line.startswith("<3>") for line in lines), lines
    assert 'bedtime.default: "25:00" is not a time of day' in lines[0]
    assert "notify.backend" in lines[1]
    # In a terminal the same lines, without the priority.
    status, lines = _stderr_lines(run, {}, journal=False, base=sandbox.env)
    assert status == 78 and len(lines) == 2 and not any(line.startswith("<") for line in lines)


@pytest.mark.e2e
def test_other_errors_of_a_failing_start_reach_the_journal_as_errors(sandbox: Any) -> None:
    sandbox.write_config('[bedtime]\ndefault = "22:00"\n[notify]\nbackend = "console"\n')
    first = sandbox.start_daemon()
    try:
        run = [sys.executable, "-m", "sundown", "run"]
        status, lines = _stderr_lines(run, {}, journal=True, base=sandbox.env)
    finally:
        first.terminate()
        first.communicate(timeout=10)
    assert status == 1 and lines[-1].startswith("<3>sundown: sundown is already running"), lines


# --- the unit ------------------------------------------------------------------------------------


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_repo_unit_file_is_the_shipped_template() -> None:
    assert (REPO / "systemd" / "sundown.service").read_text() == systemd_unit.unit_template()
    assert (REPO / "src" / "sundown" / "sundown.service").read_text() == systemd_unit.unit_template()


def test_unit_has_notify_readiness_watchdog_and_no_restart_loop_on_config_errors() -> None:
    unit = parse_unit(systemd_unit.unit_text(["/opt/sundown/bin/sundown", "run"]))
    svc = unit["Service"]
    assert svc["Type"] == ["notify"]
    assert svc["NotifyAccess"] == ["main"]
    assert svc["ExecStart"] == ["/opt/sundown/bin/sundown run"]
    assert svc["ExecReload"] == ["/opt/sundown/bin/sundown reload"]  # waits for the reload
    assert svc["Restart"] == ["on-failure"]
    assert svc["RestartPreventExitStatus"] == ["78"]
    assert svc["WatchdogSec"] and svc["TimeoutStopSec"]
    assert svc["NoNewPrivileges"] == ["yes"]
    # Options that need user namespaces in a user unit would fail the start on many desktops.
    for risky in ("ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateUsers", "PrivateDevices"):
        assert risky not in svc
    assert unit["Unit"]["PartOf"] == ["graphical-session.target"]
    assert unit["Unit"]["After"] == ["graphical-session.target"]
    assert unit["Install"]["WantedBy"] == ["graphical-session.target"]
    plain_x = parse_unit(systemd_unit.unit_text(["/usr/bin/sundown", "run"], wanted_by="default.target"))
    assert plain_x["Install"]["WantedBy"] == ["default.target"]


def test_unit_refuses_a_relative_exec_start() -> None:
    with pytest.raises(ValueError):
        systemd_unit.unit_text(["sundown", "run"])


def test_exec_start_quotes_spaces_specifiers_and_dollars() -> None:
    assert systemd_unit.systemd_quote("/usr/bin/sundown") == "/usr/bin/sundown"
    assert systemd_unit.systemd_quote("/home/a b/sundown") == '"/home/a b/sundown"'
    assert systemd_unit.systemd_quote("/x/100%/s") == "/x/100%%/s"
    assert systemd_unit.systemd_quote("/x/$HOME") == "/x/$$HOME"


@pytest.mark.e2e
def test_installed_exec_start_is_absolute_and_runs(tmp_path: Path) -> None:
    argv = systemd_unit.exec_argv()
    assert os.path.isabs(argv[0]) and argv[-1] == "run"
    # What systemd would run, with none of the test's PYTHONPATH: swap `run` for `--version`.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([*argv[:-1], "--version"], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("sundown ")


def test_exec_argv_prefers_the_script_next_to_a_venv_python(tmp_path: Path) -> None:
    bin_dir = tmp_path / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.symlink_to(sys.executable)
    assert systemd_unit.exec_argv(str(python)) == [str(python), "-m", "sundown", "run"]
    script = bin_dir / "sundown"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    # The venv's own paths, not the interpreter the symlink resolves to.
    assert systemd_unit.exec_argv(str(python)) == [str(script), "run"]


def _verify(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        if os.environ.get("SUNDOWN_REQUIRE_E2E") == "1":
            pytest.fail("systemd-analyze is not installed (apt-get install systemd)")
        pytest.skip("systemd-analyze is not installed")
    unit_dir = tmp_path / "units"
    unit_dir.mkdir(exist_ok=True)
    runtime = tmp_path / "rt"
    runtime.mkdir(mode=0o700, exist_ok=True)
    path = unit_dir / "sundown.service"
    path.write_text(text)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"}
    return subprocess.run(
        [exe, "--user", "verify", "--man=no", str(path)], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.e2e
@pytest.mark.parametrize("target", ["graphical-session.target", "default.target"])
def test_systemd_analyze_verifies_the_installed_unit(tmp_path: Path, target: str) -> None:
    proc = _verify(tmp_path, systemd_unit.unit_text(systemd_unit.exec_argv(), wanted_by=target))
    # verify exits 0 on mere warnings (an unknown key): any output at all is a finding.
    assert proc.returncode == 0 and not proc.stderr.strip() and not proc.stdout.strip(), proc.stderr


@pytest.mark.e2e
def test_systemd_analyze_accepts_a_path_with_spaces_and_percent(tmp_path: Path) -> None:
    odd = tmp_path / "my venv 100%" / "bin"
    odd.mkdir(parents=True)
    exe = odd / "sundown"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    pinned = {"XDG_CONFIG_HOME": str(tmp_path / "my config 100%"), "XDG_STATE_HOME": '/odd "quoted" \\ dir'}
    text = systemd_unit.unit_text([str(exe), "run"], environment=pinned)
    proc = _verify(tmp_path, text)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


@pytest.mark.e2e
def test_systemd_analyze_catches_a_missing_executable(tmp_path: Path) -> None:
    proc = _verify(tmp_path, systemd_unit.unit_text([str(tmp_path / "nowhere" / "sundown"), "run"]))
    assert proc.returncode != 0 and "not executable" in proc.stderr


# --- systemctl --user stand-in -------------------------------------------------------------------


@pytest.fixture
def systemctl(tmp_path: Path) -> FakeSystemctl:
    return FakeSystemctl(tmp_path)


@pytest.mark.e2e
def test_install_writes_the_unit_imports_the_session_and_starts_it(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    del sandbox.env["TZ"]  # a session without TZ (the usual one)
    env = {**systemctl.env(), "DISPLAY": ":7", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/tmp/bus-x"}
    proc = sandbox.run("service", "install", env=env)
    assert proc.returncode == 0, proc.stderr
    unit_file = sandbox.config_home / "systemd" / "user" / "sundown.service"
    assert (unit_file.stat().st_mode & 0o777) == 0o644
    unit = parse_unit(unit_file.read_text())
    exec_start = unit["Service"]["ExecStart"][0].split()
    assert os.path.isabs(exec_start[0]) and exec_start[-1] == "run"
    # No graphical-session.target here (as under a plain X session): default.target, so it starts at login.
    assert unit["Install"]["WantedBy"] == ["default.target"]
    assert systemctl.calls == [
        ["show", "--property=Version"],
        ["is-active", "--quiet", "graphical-session.target"],
        ["is-active", "--quiet", "sundown.service"],
        ["show", "--property=UnitPath"],
        ["daemon-reload"],
        ["import-environment", "DISPLAY", "DBUS_SESSION_BUS_ADDRESS"],  # only the ones set
        ["enable", "--now", "sundown.service"],
    ]
    assert systemctl.state["env"] == {"DISPLAY": ":7", "DBUS_SESSION_BUS_ADDRESS": "unix:path=/tmp/bus-x"}
    assert "enabled and started sundown.service" in proc.stdout
    assert "journalctl --user -u sundown" in proc.stdout


@pytest.mark.e2e
def test_install_carries_tz_into_the_user_manager(sandbox: Any, systemctl: FakeSystemctl) -> None:
    """A shell with TZ=Asia/Tokyo and a config without `timezone`: the service must plan in Tokyo too."""
    proc = sandbox.run("service", "install", env={**systemctl.env(), "DISPLAY": ":7", "TZ": "Asia/Tokyo"})
    assert proc.returncode == 0, proc.stderr
    assert ["import-environment", "DISPLAY", "TZ"] in systemctl.calls
    assert systemctl.state["env"]["TZ"] == "Asia/Tokyo"


@pytest.mark.e2e
def test_install_pins_the_config_and_state_dirs_the_cli_uses(sandbox: Any, systemctl: FakeSystemctl) -> None:
    proc = sandbox.run(
        "service", "install", env={**systemctl.env(), "SUNDOWN_STATE_DIR": str(sandbox.root / "my log")}
    )
    assert proc.returncode == 0, proc.stderr
    unit = parse_unit((sandbox.config_home / "systemd" / "user" / "sundown.service").read_text())
    assert unit["Service"]["Environment"] == [
        "PYTHONUNBUFFERED=1",
        f"XDG_CONFIG_HOME={sandbox.config_home}",
        f"XDG_STATE_HOME={sandbox.state_home}",
        f'"SUNDOWN_STATE_DIR={sandbox.root / "my log"}"',
    ]


@pytest.mark.e2e
def test_install_writes_where_the_manager_looks(sandbox: Any, systemctl: FakeSystemctl) -> None:
    # The manager started with the default ~/.config; this shell has another XDG_CONFIG_HOME.
    manager_dir = sandbox.root / ".config" / "systemd" / "user"
    systemctl.set(
        unit_path=f"{sandbox.root}/.config/systemd/user.control {manager_dir} /usr/lib/systemd/user"
    )
    proc = sandbox.run("service", "install", env=systemctl.env())
    assert proc.returncode == 0, proc.stderr
    assert (manager_dir / "sundown.service").is_file()
    assert not (sandbox.config_home / "systemd").exists()
    assert sandbox.run("service", "uninstall", env=systemctl.env()).returncode == 0
    assert not (manager_dir / "sundown.service").exists()


@pytest.mark.e2e
def test_install_follows_graphical_session_target_where_the_desktop_has_it(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    systemctl.set(active=["graphical-session.target"])
    del sandbox.env["TZ"]
    proc = sandbox.run("service", "install", env={**systemctl.env(), "WAYLAND_DISPLAY": "wayland-1"})
    assert proc.returncode == 0, proc.stderr
    unit = parse_unit((sandbox.config_home / "systemd" / "user" / "sundown.service").read_text())
    assert unit["Install"]["WantedBy"] == ["graphical-session.target"]
    assert ["import-environment", "WAYLAND_DISPLAY"] in systemctl.calls
    # No DBUS_SESSION_BUS_ADDRESS where install ran: it says so.
    assert "DBUS_SESSION_BUS_ADDRESS" in proc.stderr


def after_install(sandbox: Any, systemctl: FakeSystemctl, command: str, **state: Any) -> Any:
    """`sundown service COMMAND` once `service install` succeeded and the stand-in systemctl was
    set to `state`: it succeeds too."""
    assert sandbox.run("service", "install", env=systemctl.env()).returncode == 0
    systemctl.set(**state)
    proc = sandbox.run("service", command, env=systemctl.env())
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.e2e
def test_reinstall_restarts_a_running_service(sandbox: Any, systemctl: FakeSystemctl) -> None:
    proc = after_install(sandbox, systemctl, "install", calls=[])
    assert systemctl.calls[-2:] == [["enable", "sundown.service"], ["restart", "sundown.service"]]
    assert "restarted" in proc.stdout


@pytest.mark.e2e
def test_install_with_explicit_config_passes_it_to_the_service(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    cfg = sandbox.root / "elsewhere.toml"
    cfg.write_text('[bedtime]\ndefault = "22:30"\n')
    proc = sandbox.run("service", "install", env={**systemctl.env(), "SUNDOWN_CONFIG": str(cfg)})
    assert proc.returncode == 0, proc.stderr
    unit = parse_unit((sandbox.config_home / "systemd" / "user" / "sundown.service").read_text())
    assert unit["Service"]["ExecStart"][0].endswith(f"run --config {cfg}")


@pytest.mark.e2e
def test_install_refuses_a_broken_config_before_touching_systemd(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    sandbox.write_config('[bedtime]\ndefault = "25:00"\n')
    proc = sandbox.run("service", "install", env=systemctl.env())
    assert proc.returncode == 78
    assert "bedtime.default" in proc.stderr
    assert systemctl.calls == []
    assert not (sandbox.config_home / "systemd").exists()


@pytest.mark.e2e
def test_install_reports_a_failed_start_with_the_daemons_own_error(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    # The daemon's lines of that start, as `journalctl --user` gives them (twice: two quick restarts).
    sandbox.write_config(ONE_REMINDER)
    said = "/home/me/elsewhere.toml: no such config file"
    systemctl.set(fail_start=True, journal=[said, said])
    proc = sandbox.run("service", "install", env=systemctl.env())
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "sundown: sundown.service was installed but did not start.",
        f"  the daemon said: {said}",  # once, not systemd's "Job for sundown.service failed"
        "more: journalctl --user -u sundown -e",
    ]
    [query] = systemctl.state["journal_calls"]
    assert "--priority=err" in query and "--identifier=sundown" in query  # its own errors, of this start
    assert any(arg.startswith("--since=@") for arg in query)


@pytest.mark.e2e
def test_a_failed_start_without_a_journal_says_what_systemd_said(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    systemctl.set(fail_start=True, journal=[])
    proc = sandbox.run("service", "install", env=systemctl.env())
    assert proc.returncode == 1
    assert "  systemd said: Job for sundown.service failed because the control process" in proc.stderr
    assert "more: journalctl --user -u sundown -e" in proc.stderr


def _in_a_terminal() -> None:
    """preexec_fn: the pty on stdin becomes the new session's controlling terminal (a typed command)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


@pytest.mark.e2e
def test_install_beside_a_foreground_daemon_names_it_and_changes_nothing(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    """The README's quick start leaves `sundown run` in a terminal: install must say to stop it first."""
    sandbox.write_config(ONE_REMINDER)
    primary, secondary = os.openpty()
    daemon = sandbox.popen(
        "run",
        "--backend",
        "console",
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
        preexec_fn=_in_a_terminal,
    )
    os.close(secondary)
    try:
        wait_until(sandbox.daemon_answers, 15, "the foreground daemon")
        proc = sandbox.run("service", "install", env=systemctl.env())
        assert proc.returncode == 1
        assert f"`sundown run` is already running (pid {daemon.pid}), outside the service" in proc.stderr
        assert f"Stop the `sundown run` in your other terminal (pid {daemon.pid}) first" in proc.stderr
        assert f"Ctrl+C there, or `kill {daemon.pid}`." in proc.stderr
        assert max(len(line) for line in proc.stderr.splitlines()) <= 80
        # Nothing was written or started: the unit would only have failed on the lock.
        assert not (sandbox.config_home / "systemd").exists()
        assert [c[0] for c in systemctl.calls] == ["show", "show"]  # the manager, the service's pid
        # The service's own daemon is no obstacle: a reinstall restarts it.
        unit_dir = sandbox.config_home / "systemd" / "user"
        unit_dir.mkdir(parents=True)
        (unit_dir / "sundown.service").write_text("[Service]\n")
        systemctl.set(active=["sundown.service"], main_pid=daemon.pid, calls=[])
        proc = sandbox.run("service", "install", env=systemctl.env())
        assert proc.returncode == 0, proc.stderr
        assert ["restart", "sundown.service"] in systemctl.calls
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        os.close(primary)


@pytest.mark.e2e
def test_without_a_user_manager_install_prints_an_autostart_entry(
    sandbox: Any, systemctl: FakeSystemctl
) -> None:
    systemctl.set(reachable=False)
    proc = sandbox.run("service", "install", env=systemctl.env())
    assert proc.returncode == 1
    assert "systemd --user is not running or not reachable" in proc.stderr
    assert "[Desktop Entry]" in proc.stdout
    exec_line = re.search(r"^\s*Exec=(\S+) run$", proc.stdout, re.M)
    assert exec_line and os.path.isabs(exec_line.group(1))
    assert str(sandbox.config_home / "autostart" / "sundown.desktop") in proc.stdout
    assert not (sandbox.config_home / "systemd").exists()


@pytest.mark.e2e
def test_without_systemctl_at_all_install_says_so(sandbox: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    proc = sandbox.run("service", "install", env={"PATH": str(empty)})
    assert proc.returncode == 1
    assert "systemctl is not installed" in proc.stderr
    assert "[Desktop Entry]" in proc.stdout


@pytest.mark.e2e
def test_real_systemctl_here_has_no_user_manager(sandbox: Any) -> None:
    """Where systemd --user cannot run (root in a container), the real systemctl leads to the fallback."""
    exe = shutil.which("systemctl")
    if exe is None:
        pytest.skip("no systemctl here")
    probe = subprocess.run([exe, "--user", "show", "--property=Version"], capture_output=True, timeout=30)
    if probe.returncode == 0:
        pytest.skip("a user manager answers here; the stand-in tests cover install")
    proc = sandbox.run("service", "install")
    assert proc.returncode == 1
    assert "[Desktop Entry]" in proc.stdout


@pytest.mark.e2e
def test_uninstall_stops_disables_and_removes(sandbox: Any, systemctl: FakeSystemctl) -> None:
    after_install(sandbox, systemctl, "uninstall", calls=[])
    assert not (sandbox.config_home / "systemd" / "user" / "sundown.service").exists()
    assert systemctl.calls == [
        ["show", "--property=Version"],
        ["show", "--property=UnitPath"],
        ["disable", "--now", "sundown.service"],
        ["daemon-reload"],
    ]
    again = sandbox.run("service", "uninstall", env=systemctl.env())
    assert again.returncode == 0 and "was not installed" in again.stdout


@pytest.mark.e2e
def test_status_shows_unit_state_and_status_text(sandbox: Any, systemctl: FakeSystemctl) -> None:
    proc = after_install(sandbox, systemctl, "status", status_text="next: Magnesium at 21:45", main_pid=4242)
    assert "sundown.service: active (running), pid 4242" in proc.stdout
    assert "status: next: Magnesium at 21:45" in proc.stdout
    assert "daemon: not running" in proc.stdout  # no daemon holds the lock in this sandbox


@pytest.mark.e2e
def test_status_when_not_installed_exits_1(sandbox: Any, systemctl: FakeSystemctl) -> None:
    proc = sandbox.run("service", "status", env=systemctl.env())
    assert proc.returncode == 1
    assert "not installed" in proc.stdout


# --- end to end: `sundown run` under a NOTIFY_SOCKET ---------------------------------------------


def start_daemon(sandbox: Any, listener: NotifyListener, **env: str) -> subprocess.Popen[str]:
    sandbox.write_config(ONE_REMINDER)
    return sandbox.popen(
        "run",
        "--backend",
        "console",
        env={"NOTIFY_SOCKET": listener.address, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_daemon(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()


@pytest.mark.e2e
def test_daemon_speaks_sd_notify_from_ready_to_stopping(sandbox: Any, listener: NotifyListener) -> None:
    from sundown.paths import resolve_paths
    from sundown.runtime import control

    proc = start_daemon(sandbox, listener, WATCHDOG_USEC="1000000")
    try:
        ready = listener.wait_for("READY", "1")
        # STATUS= names the next reminder, in the same datagram as READY=1.
        assert re.fullmatch(r"next: Magnesium at \w{3} 21:45", ready["STATUS"]), ready
        # Ready means able to work: the control socket already answers.
        answer = control.request(resolve_paths(sandbox.env), {"cmd": "status"})
        assert answer is not None and answer["pid"] == proc.pid

        # Watchdog: pings at half of WATCHDOG_USEC (1 s), i.e. every 0.5 s.
        pings = [listener.wait_for("WATCHDOG", "1") for _ in range(4)]
        assert len(pings) == 4
        times = [at for at, fields in listener.received if fields.get("WATCHDOG") == "1"]
        gaps = sorted(b - a for a, b in zip(times, times[1:], strict=False))
        # Never near the 1 s deadline; typically every 0.5 s (a loaded machine may delay one).
        assert gaps and all(g < 0.9 for g in gaps) and 0.4 <= gaps[len(gaps) // 2] <= 0.6, gaps

        # SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
        proc.send_signal(signal.SIGHUP)
        reloading = listener.wait_for("RELOADING", "1")
        assert int(reloading["MONOTONIC_USEC"]) <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        again = listener.wait_for("READY", "1")
        assert again["STATUS"].startswith("next: Magnesium at ")

        # SIGTERM: STOPPING=1, then a clean exit 0 within 1 s.
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        listener.wait_for("STOPPING", "1")
        assert proc.wait(timeout=5) == 0
        assert time.monotonic() - sent < 1.5
    finally:
        stop_daemon(proc)


@pytest.mark.e2e
def test_daemon_does_not_ping_a_watchdog_meant_for_another_process(
    sandbox: Any, listener: NotifyListener
) -> None:
    proc = start_daemon(sandbox, listener, WATCHDOG_USEC="400000", WATCHDOG_PID=str(os.getpid()))
    try:
        listener.wait_for("READY", "1")
        time.sleep(0.6)  # three pings' worth, were it ours
        proc.send_signal(signal.SIGTERM)
        listener.wait_for("STOPPING", "1")
        assert proc.wait(timeout=5) == 0
        assert not [f for _, f in listener.received if "WATCHDOG" in f]
    finally:
        stop_daemon(proc)


@pytest.mark.e2e
def test_daemon_logs_journal_lines_when_stderr_is_the_journal(sandbox: Any, listener: NotifyListener) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    st = os.fstat(theirs.fileno())
    sandbox.write_config(ONE_REMINDER)
    proc = sandbox.popen(
        "run",
        "--backend",
        "console",
        env={"NOTIFY_SOCKET": listener.address, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"},
        stdout=subprocess.DEVNULL,
        stderr=theirs,
    )
    theirs.close()
    try:
        listener.wait_for("READY", "1")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        data = b""
        ours.settimeout(5)
        while chunk := ours.recv(65536):
            data += chunk
    finally:
        ours.close()
        stop_daemon(proc)
    lines = [line for line in data.decode().splitlines() if line.startswith("<")]
    assert any(
        re.fullmatch(r"<6>sundown: sundown running: next: Magnesium at \w{3} 21:45", x) for x in lines
    ), lines
    assert not any(re.search(r"\d\d:\d\d:\d\d,\d{3}", x) for x in lines), "journald adds its own timestamps"
    assert not any("apscheduler" in x for x in lines)


@pytest.mark.e2e
def test_a_config_error_at_start_exits_78_without_readiness(sandbox: Any, listener: NotifyListener) -> None:
    sandbox.write_config('[bedtime]\ndefault = "25:00"\n')
    proc = sandbox.popen(
        "run",
        "--backend",
        "console",
        env={"NOTIFY_SOCKET": listener.address},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.wait(timeout=20) == 78  # RestartPreventExitStatus=78: no restart loop
    finally:
        stop_daemon(proc)
    listener.sock.settimeout(0.2)
    with pytest.raises(TimeoutError):
        listener.sock.recv(4096)


@pytest.mark.e2e
def test_a_hung_systemctl_becomes_an_error_not_a_traceback(tmp_path: Path) -> None:
    from sundown.errors import SundownError

    bin_dir = tmp_path / "hung"
    bin_dir.mkdir()
    exe = bin_dir / "systemctl"
    exe.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    exe.chmod(0o755)
    ctl = systemd_unit.Systemctl({"PATH": str(bin_dir)}, timeout=0.5)
    with pytest.raises(SundownError, match="did not finish in 0.5 s"):
        ctl.run("enable", "--now", "sundown.service")
