"""`sundown status --follow`: a line now and one per change, pushed by the daemon over the control
socket; it waits quietly (no CPU, no wakeups) for a daemon that is not up, follows it across
restarts, and ends with status 0 on SIGTERM, SIGPIPE or a reader that went away."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from sundown.cli import main
from sundown.core.status import Status
from sundown.runtime.control_server import ControlServer
from sundown.runtime.surfaces import Surfaces
from sundown.runtime.surfaces.follow import MAX_FOLLOWERS, Followers
from support.daemon import Evening, start, stop, wait_events
from support.desktop import wait_until
from support.follow import Follower
from support.sandbox import Sandbox

QUIET_S = 1.5


def _status(state: str, running: bool = True) -> Status:
    row = {
        "night": "2026-11-28",
        "reminder": "a",
        "title": "A",
        "at": "2026-11-28T21:00:00+00:00",
        "state": state,
    }
    return Status(running, 1, "console", None, None, None, None, "2026-11-28", [row])


def _quiet(follower: Follower) -> tuple[int, int]:
    """CPU ticks and voluntary context switches of the follower over QUIET_S seconds."""
    before = follower.cpu_ticks()
    time.sleep(QUIET_S)
    after = follower.cpu_ticks()
    return after[0] - before[0], after[1] - before[1]


@pytest.mark.e2e
def test_follow_through_a_reminder_an_ack_and_a_restart(sandbox: Sandbox) -> None:
    evening = Evening(a=4, b=5400)  # b more than an hour ahead: no countdown while it is next
    sandbox.write_config(evening.text())
    follower = Follower(sandbox)
    daemon = None
    try:
        first = follower.wait_line(lambda d: d["class"] == ["stopped"])
        assert _quiet(follower) == (0, 0), "the follower used the CPU while waiting for a daemon"

        daemon = start(sandbox, "--backend", "console")
        up = follower.wait_line(lambda d: d["alt"] != "stopped", after=first + 1)
        assert follower.json(up)["text"] == "A: now" or follower.json(up)["text"].startswith("A in ")
        due = follower.wait_line(lambda d: d["class"] == ["pending"], after=up)
        [row] = wait_events(sandbox, "notified")
        arrived = follower.lines[due][0]
        logged = datetime.fromisoformat(row["ts"]).timestamp()
        late = arrived - evening.at["a"].timestamp()
        print(
            f"follower line {1000 * (arrived - logged):.1f} ms after the notified row, {late:.3f} s after due"
        )
        assert follower.json(due)["text"] == "A: now" and arrived - logged < 1.0

        sandbox.run("ack", "a", check=True)
        acked = follower.wait_line(lambda d: d["percentage"] == 50, after=due)
        assert follower.json(acked)["text"].startswith("B at ") and follower.json(acked)["class"] == ["idle"]
        assert _quiet(follower) == (0, 0), "the follower used the CPU between changes"

        stop(daemon)
        gone = follower.wait_line(lambda d: d["class"] == ["stopped"], after=acked)
        daemon = start(sandbox, "--backend", "console")
        back = follower.wait_line(lambda d: d["class"] == ["idle"], after=gone)
        assert follower.json(back)["text"] == follower.json(acked)["text"]
        lines = [text for _, text in follower.lines]
        assert all(a != b for a, b in zip(lines, lines[1:], strict=False)), "a line printed twice in a row"
        assert follower.stop(signal.SIGTERM) == 0
    finally:
        if daemon is not None:
            stop(daemon)
        follower.stop(signal.SIGKILL)
    assert "Traceback" not in follower.stderr()


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["reader closes", "SIGPIPE"])
def test_follow_ends_with_status_0_when_its_reader_goes(sandbox: Sandbox, how: str) -> None:
    sandbox.write_config(Evening(a=600).text())
    proc = sandbox.popen("status", "--follow", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "sundown is not running\n"
        if how == "SIGPIPE":
            proc.send_signal(signal.SIGPIPE)
        else:
            proc.stdout.close()  # like `| head -1` exiting
        assert proc.wait(5) == 0
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=5)
    assert err == ""


@pytest.mark.e2e
def test_an_older_daemon_that_cannot_be_followed_is_an_error(sandbox: Sandbox, tmp_path: Path) -> None:
    """A daemon of a version without --follow answers the request with an error: exit 1, said why."""
    runtime = Path(sandbox.env["XDG_RUNTIME_DIR"]) / "sundown"
    runtime.mkdir(mode=0o700)
    server = ControlServer(
        runtime / "control.sock", lambda req: {"ok": False, "error": f"unknown request {req.get('cmd')!r}"}
    )
    try:
        proc = sandbox.run("status", "--follow", timeout=20)
    finally:
        server.close()
    assert proc.returncode == 1, proc.stderr
    assert "cannot be followed" in proc.stderr and "restart it" in proc.stderr


def test_status_format_prints_one_line(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sandbox.write_config(Evening(a=600).text())
    assert main(["status", "--format", "waybar"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and json.loads(out)["class"] == ["stopped"]
    assert main(["status", "--json", "--format", "text"]) == 2


def test_a_follower_gets_the_current_line_then_each_change_and_the_end() -> None:
    followers = Followers()
    surfaces = Surfaces([followers])
    surfaces.publish(_status("pending"))
    mine, theirs = socket.socketpair()
    with mine, theirs:
        followers.add(theirs)
        assert json.loads(mine.recv(65536))["tonight"][0]["state"] == "pending"
        assert surfaces.publish(_status("pending")) is False  # nothing changed: nothing sent
        assert surfaces.publish(_status("notified")) is True
        assert json.loads(mine.recv(65536))["tonight"][0]["state"] == "notified"
        surfaces.close()
        assert mine.recv(65536) == b""  # the daemon stopped: end of the stream


def test_a_follower_that_stops_reading_is_hung_up_on_without_blocking_the_daemon() -> None:
    followers = Followers()
    stuck, theirs = socket.socketpair()
    with stuck:
        followers.add(theirs)
        t0 = time.monotonic()
        for i in range(5000):
            followers.publish(_status(f"state-{i}-" + "x" * 200))
        assert time.monotonic() - t0 < 5
        assert followers.count == 0
    gone, theirs = socket.socketpair()
    followers.add(theirs)
    gone.close()
    followers.publish(_status("notified"))
    assert followers.count == 0
    pairs = [socket.socketpair() for _ in range(MAX_FOLLOWERS + 2)]
    for _, theirs in pairs:
        followers.add(theirs)
    assert followers.count == MAX_FOLLOWERS
    followers.close()
    for mine, _ in pairs:
        mine.close()


def test_the_control_server_hands_a_follower_over_and_answers_others(tmp_path: Path) -> None:
    taken: list[socket.socket] = []
    server = ControlServer(tmp_path / "c.sock", lambda req: {"ok": True, "cmd": req.get("cmd")}, taken.append)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(tmp_path / "c.sock"))
            sock.sendall(b'{"cmd": "follow"}\n')
            wait_until(lambda: taken, 5, "the follower handed over")
            taken[0].sendall(b"line\n")
            assert sock.recv(100) == b"line\n"
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(tmp_path / "c.sock"))
            sock.sendall(b'{"cmd": "status"}\n')
            assert json.loads(sock.recv(100)) == {"ok": True, "cmd": "status"}
    finally:
        server.close()
        for conn in taken:
            conn.close()
