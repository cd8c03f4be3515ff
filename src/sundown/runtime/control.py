"""How the CLI reaches a running daemon: one JSON line each way over a Unix socket.

The log stays the source of truth: a command writes its event first and then
nudges the daemon, so it works (and says so) when no daemon runs. The socket
lives in the private runtime dir (0700) and is itself 0600. The daemon's end
(its instance locks and the socket's server) is runtime/control_server.py; this
side loads no threads or logging, which every `sundown status` would pay for.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sundown.errors import SundownError
from sundown.paths import Paths, owned_private_dir

if TYPE_CHECKING:
    import socket

    from sundown.core.status import Status


def read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None


def running_pid(paths: Paths) -> int | None:
    """The pid of the running daemon, or None (checked through its locks, not a stale pid file)."""
    for path in (paths.lock, paths.state_lock):
        pid = _holder(path)
        if pid is not None:
            return pid
    return None


def _holder(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_pid(fd) or -1
    else:
        return None
    finally:
        os.close(fd)


class DaemonSilent(SundownError):
    """Something holds the daemon's socket but gave no answer: stopped, hung, overloaded, or not ours.

    A command that already wrote its row says so as a warning and still succeeds: the
    daemon reads the log when it runs again.
    """


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket (SO_PEERCRED)."""
    import socket
    import struct

    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _connect(paths: Paths, deadline: float) -> socket.socket | None:
    """A connection to the daemon's socket, checked to be this user's; None when no daemon listens.

    Raises DaemonSilent when there is a socket but no connection by `deadline`, or when the
    socket or its directory is not this user's.
    """
    if not paths.socket.exists() and not paths.socket.is_symlink():
        return None
    if not owned_private_dir(paths.runtime_dir):
        raise DaemonSilent(f"{paths.runtime_dir} is not a private directory of this user's; not using it")
    import socket  # here: `status` with no daemon never loads it

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                sock.connect(str(paths.socket))
                break
            except BlockingIOError:  # EAGAIN: the listen queue is full; a busy daemon, try again
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None  # no daemon (a stale socket of a dead one)
    except OSError as exc:
        sock.close()
        raise DaemonSilent(f"the daemon did not answer ({exc.strerror or exc})") from None
    try:
        uid = peer_uid(sock)
    except OSError:
        uid = -1
    if uid != os.getuid():
        sock.close()
        raise DaemonSilent(f"{paths.socket} is held by another user (uid {uid}); not talking to it")
    return sock


def request(paths: Paths, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    """Send one request to the daemon and return its answer; None when no daemon listens.

    Raises DaemonSilent when there is a socket but no answer within `timeout` seconds in all
    (connecting, sending and reading together), or when the socket or its directory is not
    this user's: a listener another user planted is never told anything, nor believed.
    """
    deadline = time.monotonic() + timeout
    sock = _connect(paths, deadline)
    if sock is None:
        return None
    data = b""
    with sock:
        try:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock.sendall(json.dumps(payload).encode() + b"\n")
            while not data.endswith(b"\n"):
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            raise DaemonSilent(f"the daemon did not answer within {timeout:g} s") from None
        except OSError as exc:
            raise DaemonSilent(f"the daemon did not answer ({exc.strerror or exc})") from None
    try:
        reply = json.loads(data)
    except json.JSONDecodeError:
        reply = None
    if not isinstance(reply, dict):
        # It closed without a whole answer (it died mid-request, or was stopped): no answer.
        raise DaemonSilent("the daemon did not answer")
    return reply


def daemon_status(paths: Paths, timeout: float = 5.0) -> Status | None:
    """The running daemon's `status`, or None when no daemon answers the socket, or says it
    cannot (busy). Raises DaemonSilent as `request` does."""
    from sundown.core.status import Status

    reply = request(paths, {"cmd": "status"}, timeout=timeout)
    if not reply or not reply.get("ok"):
        return None
    return Status.from_json({**reply, "running": True})


def subscribe(paths: Paths, timeout: float = 5.0) -> socket.socket | None:
    """A connection on which the daemon writes its status as one JSON line now and one per change
    (`sundown status --follow`); None when no daemon listens. The same checks as `request`."""
    sock = _connect(paths, time.monotonic() + timeout)
    if sock is None:
        return None
    try:
        sock.settimeout(timeout)
        sock.sendall(b'{"cmd": "follow"}\n')
    except OSError:
        sock.close()
        return None  # it went away at once: as if it had not been there
    sock.settimeout(None)
    return sock
