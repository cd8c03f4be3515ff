"""sundown under a real `systemd --user` with a real journald (tests/support/user_manager.py).

Install, status and uninstall as a person would run them; READY=1 (Type=notify), the watchdog
restarting a hung (SIGSTOPped) daemon, and a config error (exit 78) that fails once, with its
errors in the journal at error priority, instead of restarting in a loop. Needs root; skipped
elsewhere, failed under SUNDOWN_REQUIRE_E2E=1 (CI) when root lacks a tool or the test user.
"""

from __future__ import annotations

import json
import re
import signal
import sys
import time
from datetime import datetime, timezone

import pytest

from support.desktop import wait_until
from support.doctor import doctor_lines
from support.user_manager import UserManager

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a systemd --user per test: 5-20 s each


def _zone_at_noon() -> str:
    """A fixed-offset zone where it is about noon now: tonight's reminder is hours ahead, always."""
    offset = 12 - datetime.now(timezone.utc).hour  # -11 .. 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


UNIT = "sundown.service"
CONFIG = ".config/sundown/config.toml"
GOOD = f"""timezone = "{_zone_at_noon()}"
[bedtime]
default = "22:30"
[notify]
backend = "console"
[reminders.magnesium]
before = "45m"
title = "Magnesium"
"""
BROKEN = f"""timezone = "{_zone_at_noon()}"
[bedtime]
default = "25:00"
"""
# The unit's own timings (watchdog 60 s, restart after 10 s) would make these tests take minutes;
# a drop-in, as a person would write with `systemctl --user edit sundown`, shortens them.
FAST = """[Service]
WatchdogSec=2s
RestartSec=300ms
TimeoutStopSec=3s
"""


def _install(m: UserManager, fast: bool = False) -> dict[str, str]:
    m.write(CONFIG, GOOD, 0o600)
    if fast:
        m.write(".config/systemd/user/sundown.service.d/fast.conf", FAST)
    proc = m.sundown("service", "install")
    assert proc.returncode == 0, proc.stdout + proc.stderr + m.diagnostics()
    return m.show(UNIT, "ActiveState", "SubState", "MainPID", "StatusText", "NRestarts", "UnitFileState")


def test_install_starts_a_ready_daemon_status_reports_it_and_uninstall_removes_it(
    user_manager: UserManager,
) -> None:
    state = _install(user_manager)
    # Type=notify: `enable --now` returned, so the manager got READY=1; the daemon says what is next.
    assert state["ActiveState"] == "active" and state["SubState"] == "running", state
    assert state["UnitFileState"] == "enabled"
    assert state["StatusText"].startswith("next: Magnesium at "), state
    pid = int(state["MainPID"])
    # READY=1 came after the control socket was up: the CLI reaches the daemon at once.
    daemon = json.loads(user_manager.sundown("status", "--json", check=True).stdout)
    assert daemon["running"] is True and daemon["pid"] == pid
    assert daemon["backend"] == "console"

    proc = user_manager.sundown("service", "status")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"sundown.service: active (running), pid {pid}" in proc.stdout
    assert "status: next: Magnesium at " in proc.stdout
    assert f"daemon: running (pid {pid}" in proc.stdout
    assert "sundown running" in user_manager.journal("-u", "sundown")

    # A second install is safe and restarts the running daemon with the unit as written.
    again = user_manager.sundown("service", "install")
    assert again.returncode == 0, again.stdout + again.stderr
    after = user_manager.show(UNIT, "ActiveState", "MainPID")
    assert after["ActiveState"] == "active" and int(after["MainPID"]) not in (0, pid)

    proc = user_manager.sundown("service", "uninstall")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (user_manager.home / ".config/systemd/user/sundown.service").exists()
    gone = user_manager.show(UNIT, "LoadState", "ActiveState")
    assert gone == {"LoadState": "not-found", "ActiveState": "inactive"}
    assert user_manager.run(["kill", "-0", after["MainPID"]]).returncode != 0  # the daemon is gone
    proc = user_manager.sundown("service", "status")
    assert proc.returncode == 1 and "not installed" in proc.stdout


def test_the_daemon_gets_the_session_and_shares_the_log_with_the_cli(user_manager: UserManager) -> None:
    user_manager.write(CONFIG, GOOD, 0o600)
    state_home = str(user_manager.home / "elsewhere" / "state")
    session = {
        "DISPLAY": ":9",
        "XAUTHORITY": str(user_manager.home / ".Xauthority"),
        "XDG_STATE_HOME": state_home,
    }
    proc = user_manager.sundown("service", "install", env=session)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pid = user_manager.show(UNIT, "MainPID")["MainPID"]
    environ = user_manager.run(["cat", f"/proc/{pid}/environ"], check=True).stdout.split("\0")
    for name, value in session.items():
        assert f"{name}={value}" in environ  # imported (DISPLAY, XAUTHORITY) or pinned (XDG_STATE_HOME)
    # A skip from the shell lands in the log the daemon reads: it answers with the skip.
    user_manager.sundown("skip", "magnesium", env=session, check=True)

    def skipped() -> bool:
        status = json.loads(user_manager.sundown("status", "--json", env=session, check=True).stdout)
        return status["pid"] == int(pid) and "skipped" in json.dumps(status["tonight"])

    wait_until(skipped, 10, "the daemon to show the skip")
    assert (user_manager.home / "elsewhere/state/sundown/sundown.db").exists()


def test_reload_through_systemctl_keeps_the_daemon_and_it_reports_ready_again(
    user_manager: UserManager,
) -> None:
    pid = _install(user_manager)["MainPID"]
    user_manager.write(CONFIG, GOOD.replace('title = "Magnesium"', 'title = "Tea"'), 0o600)
    # ExecReload is `sundown reload`: it exits once the daemon has re-read the config and said
    # RELOADING=1 then READY=1 (a `kill -HUP` returned before that: CI once saw 'reloading' here).
    user_manager.systemctl("reload", UNIT, check=True, timeout=30)
    state = user_manager.show(UNIT, "ActiveState", "MainPID", "StatusText")
    assert state["ActiveState"] == "active" and state["MainPID"] == pid
    assert wait_until(
        lambda: "Tea" in user_manager.show(UNIT, "StatusText")["StatusText"], 10, "the new status"
    )


def test_a_reload_the_daemon_refuses_fails_systemctl_and_the_daemon_keeps_its_routine(
    user_manager: UserManager,
) -> None:
    pid = _install(user_manager)["MainPID"]
    user_manager.write(CONFIG, BROKEN, 0o600)
    done = user_manager.systemctl("reload", UNIT, timeout=30)
    assert done.returncode != 0  # before: `kill -HUP` succeeded whatever the daemon made of it
    state = user_manager.show(UNIT, "ActiveState", "MainPID", "StatusText")
    assert state["ActiveState"] == "active" and state["MainPID"] == pid
    assert "Magnesium" in state["StatusText"]  # the routine it last read
    assert "bedtime" in user_manager.journal("--unit", UNIT, "--priority", "err")  # why, at error


def test_the_watchdog_restarts_a_hung_daemon(user_manager: UserManager) -> None:
    state = _install(user_manager, fast=True)
    assert user_manager.show(UNIT, "WatchdogUSec")["WatchdogUSec"] == "2s"
    pid = state["MainPID"]
    # Pings come from the worker that sends reminders: alive past one interval...
    time.sleep(3)
    assert user_manager.show(UNIT, "MainPID", "NRestarts") == {"MainPID": pid, "NRestarts": "0"}
    # ...then hung, as a stopped process is: no ping, so systemd kills it and starts a new one.
    user_manager.run(["kill", "-STOP", pid], check=True)
    started = time.monotonic()

    def restarted() -> dict[str, str] | None:
        now = user_manager.show(UNIT, "ActiveState", "MainPID", "NRestarts")
        fresh = now["ActiveState"] == "active" and now["MainPID"] not in ("0", pid)
        return now if fresh else None

    now = wait_until(restarted, 30, "the watchdog restart", interval=0.1)
    assert now["NRestarts"] == "1"
    # 2 s watchdog + up to 3 s to stop the stopped process + RestartSec + start-up.
    assert time.monotonic() - started < 20
    assert "Watchdog timeout" in user_manager.journal("-u", "sundown")
    daemon = json.loads(user_manager.sundown("status", "--json", check=True).stdout)
    assert daemon["running"] is True and str(daemon["pid"]) == now["MainPID"]


def test_a_config_error_at_start_fails_once_and_reaches_the_journal_as_an_error(
    user_manager: UserManager,
) -> None:
    _install(user_manager, fast=True)
    # Broken while running: the daemon keeps the previous routine (not this test's subject).
    user_manager.write(CONFIG, BROKEN, 0o600)
    proc = user_manager.systemctl("restart", UNIT, timeout=30)
    assert proc.returncode != 0  # the start failed...
    state = user_manager.show(UNIT, "ActiveState", "Result", "ExecMainStatus", "NRestarts")
    assert state == {"ActiveState": "failed", "Result": "exit-code", "ExecMainStatus": "78", "NRestarts": "0"}
    # ...and stays failed: a restart loop would have shown by now (five times RestartSec).
    time.sleep(1.5)
    assert user_manager.show(UNIT, "ActiveState", "NRestarts") == {"ActiveState": "failed", "NRestarts": "0"}
    starts = user_manager.journal("-u", "sundown", "-o", "cat").count("Started sundown.service")
    assert starts == 1  # the install's start; the failed one is "Failed to start"

    # What docs/service.md tells a person to run shows why, at error priority.
    warnings = user_manager.journal("-u", "sundown", "-p", "warning", "-o", "cat")
    assert 'bedtime.default: "25:00" is not a time of day' in warnings, warnings
    proc = user_manager.sundown("service", "status")
    assert proc.returncode == 1 and "failed" in proc.stdout

    user_manager.write(CONFIG, GOOD, 0o600)
    user_manager.systemctl("restart", UNIT, check=True, timeout=30)
    assert user_manager.show(UNIT, "ActiveState")["ActiveState"] == "active"


def _daemon_answers(m: UserManager) -> bool:
    return '"running": true' in m.sundown("status", "--json").stdout


def test_install_after_the_quick_start_names_its_daemon_and_a_failed_start_says_why(
    user_manager: UserManager,
) -> None:
    """The README's quick start leaves `sundown run` in a terminal; `service install` comes next."""
    user_manager.write(CONFIG, GOOD, 0o600)
    foreground = user_manager.in_a_terminal([sys.executable, "-m", "sundown", "run"])
    try:
        wait_until(lambda: _daemon_answers(user_manager), 20, "the foreground daemon")
        pid = json.loads(user_manager.sundown("status", "--json", check=True).stdout)["pid"]
        proc = user_manager.sundown("service", "install")
        assert proc.returncode == 1
        assert f"Stop the `sundown run` in your other terminal (pid {pid}) first" in proc.stderr, proc.stderr
        assert user_manager.show(UNIT, "LoadState")["LoadState"] == "not-found"  # nothing installed
        user_manager.run(["kill", str(pid)], check=True)  # as the person does: Ctrl+C there
        foreground.wait(timeout=10)
    finally:
        if foreground.poll() is None:
            foreground.kill()
            foreground.wait()
    # Then the service takes over, at the first try.
    state = _install(user_manager)
    assert state["ActiveState"] == "active" and state["NRestarts"] == "0", state
    assert "Failed to start" not in user_manager.journal("-u", "sundown", "-o", "cat")

    # A start that fails says why in the daemon's own words, not only "Job for ... failed".
    user_manager.write(
        ".config/systemd/user/sundown.service.d/elsewhere.conf",
        "[Service]\nEnvironment=SUNDOWN_CONFIG=/nonexistent/sundown.toml\n",
    )
    proc = user_manager.sundown("service", "install")
    assert proc.returncode == 1
    assert "the daemon said: /nonexistent/sundown.toml: no such config file" in proc.stderr, proc.stderr
    assert "Job for" not in proc.stderr


def test_a_daemon_that_cannot_start_gives_up_after_five_tries(user_manager: UserManager) -> None:
    _install(user_manager, fast=True)
    user_manager.systemctl("stop", UNIT, check=True, timeout=30)
    user_manager.systemctl("reset-failed", UNIT, check=True)  # the install's start counts no more
    # Another daemon of the same user holds the single-instance lock: every start exits 1.
    blocker = [sys.executable, "-m", "sundown", "run"]
    user_manager.run(["systemd-run", "--user", "--unit=blocker", "-p", "Type=exec", *blocker], check=True)
    wait_until(lambda: _daemon_answers(user_manager), 20, "the blocker")
    proc = user_manager.systemctl("start", UNIT, timeout=30)
    assert proc.returncode != 0

    def gave_up() -> dict[str, str] | None:
        state = user_manager.show(UNIT, "ActiveState", "NRestarts")
        return state if state["ActiveState"] == "failed" else None

    # StartLimitBurst=5 in 120 s: with a short RestartSec it gives up within seconds, not minutes.
    started = time.monotonic()
    state = wait_until(gave_up, 30, "systemd to stop retrying", interval=0.1)
    assert state["NRestarts"] == "5", state  # the fifth restart is the one refused
    assert time.monotonic() - started < 20
    time.sleep(1)  # three times RestartSec: a sixth start would have come
    assert user_manager.show(UNIT, "NRestarts", "ActiveState") == {"NRestarts": "5", "ActiveState": "failed"}
    assert "Start request repeated too quickly" in user_manager.journal("-u", "sundown", "-o", "cat")
    # Each of the five starts said why, at error priority.
    errors = user_manager.journal("-u", "sundown", "-p", "err", "-o", "cat")
    assert errors.count("sundown is already running") == 5, errors
    assert user_manager.show("blocker.service", "ActiveState")["ActiveState"] == "active"


def _doctor_service(m: UserManager, env: dict[str, str]) -> tuple[str, str | None]:
    """doctor's service line (level and text) and the fix it prints under it, if any."""
    checks = doctor_lines(m.sundown("doctor", env=env, timeout=60).stdout)
    found = re.match(r"(ok|warn|FAIL)\s+service\s+(.*)", checks["service"])
    assert found, checks
    fix = checks.get("service.fix")
    return found.group(1) + " " + found.group(2), fix[5:] if fix else None


def test_doctor_reads_the_running_service_and_its_fix_works(user_manager: UserManager) -> None:
    _install(user_manager)  # from a session without a display: the service has none either
    session = {"DISPLAY": ":9"}
    check, fix = _doctor_service(user_manager, session)
    assert check.startswith("warn ") and "neither DISPLAY nor WAYLAND_DISPLAY" in check, check
    assert fix is not None and "import-environment DISPLAY" in fix
    # The printed fix, run as printed from the session, makes the check pass.
    user_manager.run(["sh", "-c", fix], env=session, check=True)
    check, fix = _doctor_service(user_manager, session)
    assert check.startswith("ok ") and "active" in check and fix is None, check


def test_a_daemon_stopped_with_sigterm_stays_stopped(user_manager: UserManager) -> None:
    pid = _install(user_manager)["MainPID"]
    user_manager.run(["kill", f"-{signal.SIGTERM.value}", pid], check=True)
    # SIGTERM from outside (a person's `kill`): a clean exit 0 is not a failure, so no restart.
    wait_until(lambda: user_manager.show(UNIT, "ActiveState")["ActiveState"] == "inactive", 10, "the stop")
    assert user_manager.show(UNIT, "NRestarts", "Result") == {"NRestarts": "0", "Result": "success"}
    assert user_manager.sundown("service", "uninstall").returncode == 0
