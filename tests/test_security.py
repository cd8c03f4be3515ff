"""Security: no network, no markup or action injection, no impostor signals, private files.

The promise (docs/commands.md, docs/notify.md):
the daemon talks only over Unix sockets (the session bus, its own
control socket, the system bus); text from the config is shown as text, with exactly sundown's
buttons; only the notification server's own signals are believed; and every file and directory
it creates is the user's alone (0600 / 0700), whatever the umask.
"""

from __future__ import annotations

import html
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sundown.paths import resolve_paths
from support.daemon import Evening, events, start, stop, wait_events
from support.desktop import Desktop, FakeServer, wait_until
from support.in_process import tick_daemon_once
from support.sandbox import Sandbox

UTC = timezone.utc
OUR_ACTIONS = ["default", "Acknowledge", "done", "Done", "snooze", "Snooze"]


def lax_umask() -> None:
    os.umask(0)  # whatever sundown creates must be private by its own doing


def socket_inodes(pid: int) -> set[int]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if m := re.fullmatch(r"socket:\[(\d+)\]", target):
            found.add(int(m.group(1)))
    return found


def table_inodes(pid: int, table: str) -> set[int]:
    """Inodes of the sockets listed in /proc/PID/net/TABLE (its network namespace)."""
    path = Path(f"/proc/{pid}/net/{table}")
    if not path.exists():
        return set()
    lines = path.read_text().splitlines()
    # unix: "Num RefCount Protocol Flags Type St Inode Path"; inet: the 10th field of a row
    # ("sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...", two header words per pair).
    column = 6 if table == "unix" else 9
    return {int(line.split()[column]) for line in lines[1:] if len(line.split()) > column}


def test_the_socket_tables_are_read_right():
    """The check below would pass vacuously if it misread /proc: it must see a TCP socket."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, socket.socket(socket.AF_UNIX) as unix:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(1)
        unix.bind(b"\0sundown-test-" + str(os.getpid()).encode())
        # These two sockets by their inodes: this process may hold others, left by earlier tests.
        tcp_inode, unix_inode = (os.fstat(s.fileno()).st_ino for s in (tcp, unix))
        assert {tcp_inode, unix_inode} <= socket_inodes(os.getpid())
        assert tcp_inode in table_inodes(os.getpid(), "tcp")
        assert unix_inode in table_inodes(os.getpid(), "unix")
        assert tcp_inode not in table_inodes(os.getpid(), "unix")


@pytest.mark.e2e
def test_daemon_opens_no_network_socket(
    sandbox: Sandbox, bare_bus: Desktop, fake_server: Callable[..., FakeServer]
):
    server = fake_server()
    evening = Evening(tea=2)
    sandbox.write_config(evening.text())
    env = {**bare_bus.session_vars, "SUNDOWN_SYSTEM_BUS": bare_bus.address}
    proc = start(sandbox, "--backend", "auto", env=env)
    try:
        wait_until(lambda: server.notified, 10, "the notification")  # the bus connection is open
        sockets = socket_inodes(proc.pid)
        inet = set()
        for table in ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6"):
            inet |= table_inodes(proc.pid, table)
        unix = table_inodes(proc.pid, "unix")
    finally:
        stop(proc)
    assert len(sockets) >= 3, "the control socket, the session bus, the system bus"
    assert not sockets & inet, "an internet socket"
    assert sockets <= unix, f"sockets that are not AF_UNIX: {sockets - unix}"


@pytest.mark.e2e
def test_markup_and_action_strings_from_the_config_are_shown_as_text(sandbox: Sandbox, desktop: Desktop):
    title = 'done <a href="https://evil.example/">click</a> &amp; <b>now</b>'
    body = '<a href="file:///etc/passwd">x</a> <b>bold</b> <img src="x"/> snooze done default &lt;'
    evening = Evening(tea=3)
    sandbox.write_config(evening.text(tea=f"title = {toml_string(title)}\nbody = {toml_string(body)}\n"))
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        [call] = desktop.monitor.wait_notify(1, timeout=10)
    finally:
        stop(proc)
    assert call.body == html.escape(body, quote=False)  # dunst renders markup: escaped
    assert "<" not in call.body and ">" not in call.body
    assert call.summary == title  # the summary is plain text by the spec: shown, never parsed
    assert call.actions == OUR_ACTIONS
    assert set(call.hints) == {"urgency", "desktop-entry"}


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.mark.e2e
def test_signals_from_others_than_the_notification_server_are_ignored(sandbox: Sandbox, desktop: Desktop):
    evening = Evening(tea=3)
    sandbox.write_config(evening.text())
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        [call] = desktop.monitor.wait_notify(1, timeout=10)
        nid = desktop.monitor.reply_to_notify(call)
        daemon_name = call.sender
        for action in ("done", "default", "snooze"):
            desktop.send_signal("ActionInvoked", "us", (nid, action))  # broadcast by an impostor
            desktop.send_signal("ActionInvoked", "us", (nid, action), destination=daemon_name)
        desktop.send_signal("NotificationClosed", "uu", (nid, 2), destination=daemon_name)
        time.sleep(1.5)
        assert [e["event"] for e in events(sandbox)] == ["notified"], "an impostor changed the log"
        desktop.dunstctl("action", "0")  # the real server: believed
        wait_events(sandbox, "acknowledged", timeout=5, what="the real click")
    finally:
        stop(proc)
    assert [(e["event"], e["source"]) for e in events(sandbox)] == [
        ("notified", "daemon"),
        ("acknowledged", "action"),
    ]


@pytest.mark.e2e
def test_run_never_goes_through_a_shell(sandbox: Sandbox):
    target = sandbox.root / "$(touch PWNED); touch PWNED2"
    sandbox.write_config(
        'timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n'
        f'[reminders.lock]\nbefore = "30m"\nrun = ["touch", {toml_string(str(target))}]\n'
    )
    tick_daemon_once(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    assert target.exists(), "the argument reached touch literally"
    assert not list(sandbox.root.glob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.e2e
def test_created_files_are_0600_and_dirs_0700_under_a_lax_umask(sandbox: Sandbox):
    init = subprocess.run(
        [sys.executable, "-m", "sundown", "init"],
        env=sandbox.env,
        capture_output=True,
        text=True,
        preexec_fn=lax_umask,
        timeout=30,
    )
    assert init.returncode == 0, init.stderr
    config = sandbox.config_path
    config.write_text(config.read_text() + "\n" + Evening(x=600).tables[0])  # keeps its mode
    proc = sandbox.start_daemon("--backend", "console", preexec_fn=lax_umask)
    try:
        paths = resolve_paths()
        state = sandbox.db_path.parent
        files = {
            "config": config,
            "db": sandbox.db_path,
            "wal": state / "sundown.db-wal",
            "shm": state / "sundown.db-shm",
            "socket": paths.socket,
            "lock": paths.lock,
        }
        dirs = {"config dir": config.parent, "state dir": state, "runtime dir": paths.runtime_dir}
        found_files = {name: mode(p) for name, p in files.items()}
        found_dirs = {name: mode(p) for name, p in dirs.items()}
        assert stat.S_ISSOCK(paths.socket.stat().st_mode)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert found_files == dict.fromkeys(files, 0o600)
    assert found_dirs == dict.fromkeys(dirs, 0o700)


@pytest.mark.e2e
@pytest.mark.parametrize("mode_", [0o644])
def test_a_world_readable_config_still_runs_commands(sandbox: Sandbox, mode_: int):
    """Only *writable* by others is refused (as ssh does): a 0644 config is the user's own."""
    marker = sandbox.root / "ran"
    path = sandbox.write_config(
        'timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n'
        f'[reminders.lock]\nbefore = "30m"\nrun = ["touch", "{marker}"]\n'
    )
    path.chmod(mode_)
    tick_daemon_once(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    assert marker.exists()
