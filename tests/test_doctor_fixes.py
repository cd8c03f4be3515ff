"""Every fix line that `sundown doctor` prints fixes the problem it names (the tests run it), and
`check` and `doctor` warn about what the daemon will refuse before it comes to that."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from sundown import doctor
from sundown.config import commands_refused
from sundown.paths import resolve_paths
from support.sandbox import Sandbox

WITH_COMMAND = """\
[bedtime]
default = "22:30"

[reminders.screens-off]
at = "22:00"
run = ["true"]
"""


def _systemctl(root: Path, reachable: bool) -> dict[str, str]:
    """PATH with a `systemctl` whose user manager answers, or does not."""
    bin_dir = root / ("bin-ok" if reachable else "bin-none")
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "systemctl"
    if reachable:
        exe.write_text("#!/bin/sh\necho Version=252\nexit 0\n")
    else:
        exe.write_text("#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n")
    exe.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}


def _apply(fix: str | None, cwd: Path) -> None:
    """Run a fix line as a person would paste it (its `# ...` comment is shell comment)."""
    assert fix
    subprocess.run(fix, shell=True, check=True, cwd=cwd, capture_output=True)


# --- the daemon is not running -------------------------------------------------------------------


@pytest.mark.e2e
def test_without_systemd_user_doctor_does_not_recommend_service_install(sandbox: Sandbox) -> None:
    env = _systemctl(sandbox.root, reachable=False)
    assert not doctor.has_user_manager(env)
    check = doctor.check_daemon(resolve_paths(), env, user_manager=doctor.has_user_manager(env))
    assert check.status == "warn" and check.fix
    assert "service install" not in check.fix
    assert "autostart" in check.fix and "run" in check.fix
    proc = sandbox.run("doctor", env=env)
    assert "fix: sundown service install" not in proc.stdout, proc.stdout


@pytest.mark.e2e
def test_with_systemd_user_doctor_recommends_service_install(sandbox: Sandbox) -> None:
    env = _systemctl(sandbox.root, reachable=True)
    assert doctor.has_user_manager(env)
    check = doctor.check_daemon(resolve_paths(), env, user_manager=True)
    assert check.fix and check.fix.startswith("sundown service install")


# --- the log -------------------------------------------------------------------------------------


def _log_check_after_fix(sandbox: Sandbox) -> tuple[doctor.Check, doctor.Check]:
    paths = resolve_paths()
    before = doctor.check_log(paths)
    _apply(before.fix, sandbox.root)
    return before, doctor.check_log(paths)


@pytest.mark.e2e
def test_a_corrupt_log_is_moved_away_not_chmod_ed(sandbox: Sandbox) -> None:
    sandbox.db_path.parent.mkdir(mode=0o700, parents=True)
    sandbox.db_path.write_bytes(b"this is not a database at all" * 100)
    before, after = _log_check_after_fix(sandbox)
    assert before.status == "fail" and before.fix and "chmod" not in before.fix
    assert after.status == "ok", after
    assert sandbox.db_path.with_name("sundown.db.broken").exists()  # kept for recovery


@pytest.mark.e2e
def test_a_foreign_database_is_moved_away(sandbox: Sandbox) -> None:
    sandbox.db_path.parent.mkdir(mode=0o700, parents=True)
    with closing(sqlite3.connect(sandbox.db_path)) as conn, conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    before, after = _log_check_after_fix(sandbox)
    assert before.status == "fail" and "did not write" in before.detail
    assert after.status == "ok"


@pytest.mark.e2e
def test_a_state_dir_that_is_a_file_is_moved_away(sandbox: Sandbox) -> None:
    state = sandbox.state_home / "sundown"
    state.write_text("oops")
    before, after = _log_check_after_fix(sandbox)
    assert before.status == "fail" and "is a file, not a directory" in before.detail
    assert after.status == "ok"


@pytest.mark.e2e
@pytest.mark.skipif(os.getuid() == 0, reason="root writes through any mode")
def test_an_unwritable_log_gets_chmod(sandbox: Sandbox) -> None:
    sandbox.run("log", check=True)  # creates the log
    sandbox.db_path.chmod(0o400)
    before, after = _log_check_after_fix(sandbox)
    assert before.status == "fail" and before.fix and before.fix.startswith("chmod")
    assert after.status == "ok"


# --- a config others can write -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "who"),
    [(0o664, "writable by your group (mode 664)"), (0o646, "writable by other users (mode 646)"),
     (0o666, "writable by your group and other users (mode 666)")],
)  # fmt: skip
def test_the_refusal_names_who_can_write(sandbox: Sandbox, mode: int, who: str) -> None:
    path = sandbox.write_config(WITH_COMMAND)
    path.chmod(mode)
    assert who in (commands_refused(path) or "")
    path.chmod(0o600)
    assert commands_refused(path) is None


@pytest.mark.e2e
def test_check_and_doctor_warn_about_commands_the_daemon_will_refuse(sandbox: Sandbox) -> None:
    path = sandbox.write_config(WITH_COMMAND)
    path.chmod(0o664)
    check = sandbox.run("check")
    assert check.returncode == 0  # the config is valid ...
    assert "warning: the daemon will not run the commands of screens-off" in check.stderr  # ... but
    assert "writable by your group" in check.stderr and "others" not in check.stderr
    config = doctor.check_config(resolve_paths())
    assert config.status == "warn" and "screens-off" in config.detail
    _apply(config.fix, sandbox.root)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert doctor.check_config(resolve_paths()).status == "ok"
    assert "warning" not in sandbox.run("check", check=True).stderr


@pytest.mark.e2e
def test_a_writable_config_without_commands_is_no_warning(sandbox: Sandbox) -> None:
    path = sandbox.write_config('[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "1h"\n')
    path.chmod(0o664)
    assert "warning" not in sandbox.run("check", check=True).stderr
    assert doctor.check_config(resolve_paths()).status == "ok"
