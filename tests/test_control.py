"""The control socket from the CLI's side: a row once written is the truth, and the socket is
trusted only when it and its directory are this user's.

A daemon that does not answer (SIGSTOPped, as a hung process is; flooded) never makes a command
that wrote its row fail: it warns and exits 0 within 10 s. Another local user who got to the
runtime directory first (no XDG_RUNTIME_DIR: ssh, cron, root in CI) neither locks sundown out
nor hears or answers its requests.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.daemon import Evening, events
from support.doctor import doctor_lines
from support.other_user import other_user, system_python
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes
# The tests that time a CLI against a silent daemon, and the sixty processes started at once, on one
# worker with the crash test: no CPU burst of one test beside another's timing (scripts/test runs 4).
CPU_BURSTS = pytest.mark.xdist_group("cpu-bursts")

WARNING = "the daemon did not answer"


@pytest.fixture
def stopped_daemon(sandbox: Sandbox) -> Iterator[subprocess.Popen[str]]:
    """A running daemon, then SIGSTOPped: it holds its socket and lock but answers nothing."""
    sandbox.write_config(Evening(a=600, b=660).text())
    proc = sandbox.start_daemon("--backend", "console")
    proc.send_signal(signal.SIGSTOP)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.communicate(timeout=10)


def timed(box: Sandbox, *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    proc = box.run(*args, timeout=30)
    return proc, time.monotonic() - t0


@CPU_BURSTS
def test_a_stopped_daemon_is_a_warning_after_the_row_is_written(
    sandbox: Sandbox, stopped_daemon: subprocess.Popen[str]
) -> None:
    commands = ((("ack", "a"), "acknowledged"), (("skip", "b"), "skipped"))
    # Both at once: each waits out the daemon's silence on its own, the same seconds twice otherwise.
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        results = list(pool.map(lambda args: timed(sandbox, *args), [args for args, _ in commands]))
    for (args, event), (proc, took) in zip(commands, results, strict=True):
        print(f"{args[0]} against a stopped daemon: exit {proc.returncode} after {took:.1f} s")
        assert proc.returncode == 0, proc.stderr
        assert WARNING in proc.stderr and "will pick it up" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert took < 10
        assert [e["reminder"] for e in events(sandbox, event)] == [args[1]]
    # status still tells what the log says, and that the daemon did not answer.
    proc, took = timed(sandbox, "status", "--json")
    assert proc.returncode == 0 and took < 10, proc.stderr
    assert WARNING in proc.stderr
    status = json.loads(proc.stdout)
    assert status["running"] is True and status["pid"] == stopped_daemon.pid
    assert {r["reminder"]: r["state"] for r in status["tonight"]}["b"] == "skipped"


@CPU_BURSTS
def test_the_stopped_daemon_picks_the_rows_up_when_it_runs_again(
    sandbox: Sandbox, stopped_daemon: subprocess.Popen[str]
) -> None:
    assert sandbox.run("skip", "a").returncode == 0
    stopped_daemon.send_signal(signal.SIGCONT)
    status = json.loads(sandbox.run("status", "--json", check=True).stdout)
    assert status["pid"] == stopped_daemon.pid  # the daemon itself answered
    assert {r["reminder"]: r["state"] for r in status["tonight"]}["a"] == "skipped"


@CPU_BURSTS
def test_sixty_concurrent_acks_against_a_busy_daemon_all_succeed_once(sandbox: Sandbox) -> None:
    """The daemon is paused while 60 `ack`s connect (a full listen queue before), then resumes."""
    sandbox.write_config(Evening(a=600).text())
    daemon = sandbox.start_daemon("--backend", "console")
    nights = [f"2026-10-{day:02d}" for day in range(1, 31)] + [f"2026-09-{day:02d}" for day in range(1, 31)]
    try:
        daemon.send_signal(signal.SIGSTOP)
        with ThreadPoolExecutor(max_workers=60) as pool:
            ack = ("ack", "a", "--force", "--night")  # nights before the log began: --force
            futures = [pool.submit(sandbox.run, *ack, night, timeout=60) for night in nights]
            deadline = time.monotonic() + 60
            while sandbox.logged("acknowledged") < 60 and time.monotonic() < deadline:
                time.sleep(0.2)
            daemon.send_signal(signal.SIGCONT)
            results = [f.result() for f in futures]
    finally:
        daemon.send_signal(signal.SIGCONT)
        daemon.kill()
        daemon.communicate(timeout=10)
    failed = [r.stderr for r in results if r.returncode != 0]
    warned = sum(WARNING in r.stderr for r in results)
    print(f"60 concurrent acks: {60 - len(failed)} exit 0 ({warned} with the warning), {len(failed)} failed")
    assert failed == []
    assert not any("Resource temporarily unavailable" in r.stderr for r in results)
    rows = events(sandbox, "acknowledged")
    assert sorted(r["night"] for r in rows) == sorted(nights)  # each once: nothing to retry


# --- another user's runtime directory ------------------------------------------------------------


PLANTED = r"""
import json, os, socket, sys
sock = socket.socket(socket.AF_UNIX)
sock.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
sock.listen(64)
seen = open(sys.argv[2], "a")
print("ready", flush=True)
while True:
    conn, _ = sock.accept()
    try:
        data = conn.recv(65536)
        if data:
            seen.write(data.decode() + "\n")
            seen.flush()
        lie = {"ok": True, "pid": 4242, "backend": "attacker", "tonight": []}
        conn.sendall(json.dumps(lie).encode() + b"\n")
    except OSError:
        pass
    conn.close()
"""


HOLD_LOCK = r"""
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"4242\n")
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A shared temp dir of our own with a short path (socket paths are limited to 107 bytes)."""
    root = Path(tempfile.mkdtemp(prefix="sdt-"))
    root.chmod(0o1777)  # as /tmp: anyone may create names in it
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def plant(directory: Path, user: pwd.struct_passwd, seen: Path) -> subprocess.Popen[str]:
    """Another user's listener at `directory/control.sock`, recording every request."""
    seen.touch()
    seen.chmod(0o666)
    proc = subprocess.Popen(
        [system_python(), "-c", PLANTED, str(directory / "control.sock"), str(seen)],
        user=user.pw_uid,
        group=user.pw_gid,
        cwd="/",
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_a_runtime_dir_taken_by_another_user_neither_locks_out_nor_listens(
    sandbox: Sandbox, short_tmp: Path
) -> None:
    """No XDG_RUNTIME_DIR: `nobody` pre-created our fallback dir in the shared temp dir and
    listens in it. Everything still works, from a directory under the state dir."""
    user = other_user()
    taken = short_tmp / f"sundown-{os.getuid()}"
    taken.mkdir(mode=0o777)
    taken.chmod(0o777)
    os.chown(taken, user.pw_uid, user.pw_gid)
    seen = short_tmp / "seen.txt"
    attacker = plant(taken, user, seen)
    state = short_tmp / "state"  # short: the fallback socket lives under it
    state.mkdir(mode=0o700)
    sandbox.env.update(TMPDIR=str(short_tmp), XDG_STATE_HOME=str(state))
    del sandbox.env["XDG_RUNTIME_DIR"]
    sandbox.write_config(Evening(a=600).text())
    daemon = None
    try:
        proc = sandbox.run("status", "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["running"] is False  # not the attacker's invented state
        daemon = sandbox.start_daemon("--backend", "console")
        status = json.loads(sandbox.run("status", "--json", check=True).stdout)
        assert status["running"] is True and status["pid"] == daemon.pid
        ack = sandbox.run("ack", "a")
        assert ack.returncode == 0 and WARNING not in ack.stderr, ack.stderr
        reload = sandbox.run("reload")
        assert reload.returncode == 0 and reload.stdout.strip() == "reloaded", reload.stderr
        own = state / "sundown" / "run"
        assert (own / "control.sock").is_socket()
        st = own.lstat()
        assert st.st_uid == os.getuid() and st.st_mode & 0o777 == 0o700
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.communicate(timeout=10)
        attacker.kill()
        attacker.communicate(timeout=10)
    assert seen.read_text() == "", "a request reached the other user's socket"


def test_a_socket_held_by_another_user_in_our_dir_is_not_believed(sandbox: Sandbox, short_tmp: Path) -> None:
    """Our own private runtime dir, but the process listening on control.sock is another user's
    (SO_PEERCRED): the CLI does not send it anything it could act on, nor believe its answer."""
    user = other_user()
    run = short_tmp / "run"
    runtime = run / "sundown"
    runtime.mkdir(parents=True)
    for p in (run, runtime):
        p.chmod(0o777)  # only while the other user binds; then ours and private again
    seen = short_tmp / "seen.txt"
    attacker = plant(runtime, user, seen)
    for p in (run, runtime):
        p.chmod(0o700)
    # A lock the daemon would hold, so that status asks the socket.
    lock_holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(runtime / "daemon.lock")], stdout=subprocess.PIPE, text=True
    )
    assert lock_holder.stdout is not None and lock_holder.stdout.readline().strip() == "ready"
    sandbox.env["XDG_RUNTIME_DIR"] = str(run)
    sandbox.write_config(Evening(a=600).text())
    try:
        status = sandbox.run("status", "--json")
        assert status.returncode == 0, status.stderr
        assert "another user" in status.stderr
        assert json.loads(status.stdout).get("backend") != "attacker"
        ack = sandbox.run("ack", "a")
        assert ack.returncode == 0 and "another user" in ack.stderr, ack.stderr
        assert [e["reminder"] for e in events(sandbox, "acknowledged")] == ["a"]
    finally:
        attacker.kill()
        attacker.communicate(timeout=10)
        lock_holder.kill()
        lock_holder.communicate(timeout=10)
    assert seen.read_text() == "", "a request reached the other user's socket"


PROBE = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(b'{"cmd": "status"}\n')
    print(repr(s.recv(65536)))
except (ConnectionResetError, BrokenPipeError):  # hung up on, the request unread
    print(repr(b""))
"""


def test_the_daemon_hangs_up_on_another_user(sandbox: Sandbox, short_tmp: Path) -> None:
    """Were the socket reachable by someone else (a loosened directory), the daemon answers only us."""
    user = other_user()
    run = short_tmp / "run"
    run.mkdir(mode=0o700)
    env = {"XDG_RUNTIME_DIR": str(run)}
    sandbox.env.update(env)
    sandbox.write_config(Evening(a=600).text())
    daemon = sandbox.start_daemon("--backend", "console")
    try:
        sock_path = run / "sundown" / "control.sock"
        for p in (run, sock_path.parent):
            p.chmod(0o755)
        sock_path.chmod(0o777)
        probe = subprocess.run(
            [
                system_python(),
                "-c",
                PROBE,
                str(sock_path),
            ],
            user=user.pw_uid,
            group=user.pw_gid,
            cwd="/",
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == "b''", "the daemon answered another user"
        for p in (run, sock_path.parent):
            p.chmod(0o700)
        assert sandbox.daemon_answers()  # and still answers us
    finally:
        daemon.terminate()
        _, err = daemon.communicate(timeout=10)
    assert "refused a request" in err and f"uid {user.pw_uid}" in err


# --- the daemon's zone and the shell's ------------------------------------------------------------

NO_ZONE = '[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n'


def test_status_and_doctor_say_when_the_daemon_plans_in_another_zone(sandbox: Sandbox) -> None:
    """No `timezone` in the config: the daemon (no TZ: Europe/Berlin here) and a shell with
    TZ=Asia/Tokyo plan different nights; both `status` and `doctor` say so."""
    sandbox.write_config(NO_ZONE)
    daemon = sandbox.start_daemon("--backend", "console")
    try:
        same = sandbox.run("status", check=True)
        assert "problem" not in same.stdout and "plans in" not in same.stderr
        tokyo = {"TZ": "Asia/Tokyo"}
        text = sandbox.run("status", env=tokyo, check=True)
        said = " ".join(text.stdout.split())  # wrapped at 80 columns
        assert "problem: the daemon plans in Europe/Berlin and this shell's is Asia/Tokyo" in said
        as_json = sandbox.run("status", "--json", env=tokyo, check=True)
        assert json.loads(as_json.stdout)["context"]["zone"] == "Europe/Berlin"
        assert "the daemon plans in Europe/Berlin" in as_json.stderr
        doctor = sandbox.run("doctor", env=tokyo)
        [line] = [ln for ln in doctor_lines(doctor.stdout).values() if "plans in" in ln]
        assert "Europe/Berlin" in line and "Asia/Tokyo" in line
        assert "plans in" not in sandbox.run("doctor").stdout
    finally:
        daemon.terminate()
        daemon.communicate(timeout=10)
