"""How the CLI reaches a running daemon: one JSON line each way over a Unix socket.

The log stays the source of truth: a command writes its event first and then
nudges the daemon, so it works (and says so) when no daemon runs. The socket
lives in the private runtime dir (0700) and is itself 0600.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sundown.errors import SundownError
from sundown.paths import Paths, owned_private_dir, private_dir
from sundown.runtime.waiting import FdThread

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
_OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
MAX_BACKOFF_MS = 1000
LOCK_PATIENCE_S = 1.0  # far longer than any probe holds the lock


class AlreadyRunning(SundownError):
    def __init__(self, pid: int | None) -> None:
        super().__init__(f"sundown is already running (pid {pid})" if pid else "sundown is already running")
        self.pid = pid


class InstanceLock:
    """One daemon per user and per log: flocks held for the daemon's lifetime, with its pid inside.

    One lock in the runtime dir, one beside the log: a second daemon started from a shell
    with another (or no) XDG_RUNTIME_DIR would otherwise send every reminder twice.
    """

    def __init__(self, paths: Paths) -> None:
        private_dir(paths.runtime_dir)
        fd = _lock(paths.lock)
        assert fd is not None  # only the state lock may be missing
        self._fds = [fd]
        try:
            state_fd = _lock(paths.state_lock, missing_ok=True)
        except AlreadyRunning:
            self.release()
            raise
        if state_fd is not None:
            self._fds.append(state_fd)

    def release(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)
        self._fds = []


def _lock(path: Path, missing_ok: bool = False) -> int | None:
    """Take the flock on `path` and write our pid; AlreadyRunning names the holder."""
    try:
        if missing_ok:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)  # as the log creates it
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if not missing_ok:
            raise
        # An unusable state dir: the log cannot be written either, and reminders go on without it.
        log.warning("cannot lock %s: %s", path, exc.strerror or exc)
        return None
    if not _lock_within(fd, LOCK_PATIENCE_S):
        pid = _read_pid(fd)
        os.close(fd)
        raise AlreadyRunning(pid)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _lock_within(fd: int, patience: float) -> bool:
    """Take the lock, waiting out a prober (`running_pid` holds it shared for microseconds).

    A daemon holds it for its whole life; a `sundown status` that happens to probe at the
    moment we start must not make the start fail.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)


def _read_pid(fd: int) -> int | None:
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
        return _read_pid(fd) or -1
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
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def request(paths: Paths, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any] | None:
    """Send one request to the daemon and return its answer; None when no daemon listens.

    Raises DaemonSilent when there is a socket but no answer within `timeout` seconds in all
    (connecting, sending and reading together), or when the socket or its directory is not
    this user's: a listener another user planted is never told anything, nor believed.
    """
    deadline = time.monotonic() + timeout
    if not paths.socket.exists() and not paths.socket.is_symlink():
        return None
    if not owned_private_dir(paths.runtime_dir):
        raise DaemonSilent(f"{paths.runtime_dir} is not a private directory of this user's; not using it")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    with sock:
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
            return None  # no daemon (a stale socket of a dead one)
        except OSError as exc:
            raise DaemonSilent(f"the daemon did not answer ({exc.strerror or exc})") from None
        try:
            uid = peer_uid(sock)
        except OSError:
            uid = -1
        if uid != os.getuid():
            raise DaemonSilent(f"{paths.socket} is held by another user (uid {uid}); not talking to it")
        data = b""
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


class ControlServer(FdThread):
    """Accepts requests on the daemon's socket in one thread that blocks while idle."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._backoff_ms = 0
        self._refused = False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale socket of a dead daemon: we hold the instance lock
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            self._sock.bind(str(path))
        except OSError:
            self._sock.close()
            raise
        finally:
            os.umask(old)
        self._sock.listen(socket.SOMAXCONN)  # a burst of CLI commands waits in the queue, not EAGAIN
        self.start_thread(self._sock.fileno(), "sundown-control")

    def readable(self) -> bool:
        try:
            conn, _ = self._sock.accept()
        except OSError as exc:
            if exc.errno not in _OUT_OF_FDS:
                return True  # the client gave up before we accepted it: nothing to answer
            # The connection stays queued, so the socket stays readable: without a pause this
            # loop would spin at full speed until an fd is free.
            if not self._backoff_ms:
                log.error("out of file descriptors (%s): requests from the CLI wait until some are free", exc)
            self._backoff_ms = min(max(2 * self._backoff_ms, 50), MAX_BACKOFF_MS)
            return self.stopper.sleep(self._backoff_ms)
        if self._backoff_ms:
            log.warning("file descriptors are free again: answering the CLI")
            self._backoff_ms = 0
        with conn:
            self._serve(conn)
        return True

    def _from_this_user(self, conn: socket.socket) -> bool:
        """Only this user's processes are served (SO_PEERCRED); anyone else is hung up on, said once."""
        try:
            uid = peer_uid(conn)
        except OSError:
            uid = -1
        if uid == os.getuid():
            return True
        if not self._refused:
            log.warning("refused a request on %s from uid %s (not this user)", self.path, uid)
            self._refused = True
        return False

    def _serve(self, conn: socket.socket) -> None:
        if not self._from_this_user(conn):
            return
        conn.settimeout(2.0)
        try:
            data = b""
            while not data.endswith(b"\n") and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            payload = json.loads(data or b"{}")
            reply = self._handler(payload if isinstance(payload, dict) else {})
        except (OSError, ValueError) as exc:
            reply = {"ok": False, "error": str(exc)}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply, default=str).encode() + b"\n")

    def release(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
