"""The daemon's end of the control socket: its instance locks and the server that answers the CLI.

The CLI's end, and the protocol (one JSON line each way), is runtime/control.py.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sundown.errors import SundownError
from sundown.paths import Paths, private_dir
from sundown.runtime.control import peer_uid, read_pid
from sundown.runtime.waiting import FdThread

if TYPE_CHECKING:
    from sundown.runtime.winddown import WindDownLink

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]
# Takes over a connection that asked to follow the daemon's status (`{"cmd": "follow"}`).
OnFollow = Callable[[socket.socket], None]
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
        pid = read_pid(fd)
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


class ControlServer(FdThread):
    """Accepts requests on the daemon's socket in one thread that blocks while idle.

    A request is one JSON line answered with one; `{"cmd": "follow"}` instead hands the
    connection, kept open, to `on_follow` (`sundown status --follow`: runtime/surfaces/follow.py).
    """

    def __init__(self, path: Path, handler: Handler, on_follow: OnFollow | None = None) -> None:
        self.path = path
        self._handler = handler
        self._on_follow = on_follow
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
        if not self._serve(conn):
            conn.close()
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

    def _serve(self, conn: socket.socket) -> bool:
        """Answer one request; True when the connection was handed over (a follower) and stays open."""
        if not self._from_this_user(conn):
            return False
        conn.settimeout(2.0)
        try:
            data = b""
            while not data.endswith(b"\n") and len(data) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            payload = json.loads(data or b"{}")
            if not isinstance(payload, dict):
                payload = {}
            if payload.get("cmd") == "follow" and self._on_follow is not None:
                self._on_follow(conn)
                return True
            reply = self._handler(payload)
        except (OSError, ValueError) as exc:
            reply = {"ok": False, "error": str(exc)}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(reply, default=str).encode() + b"\n")
        return False

    def release(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Served(Protocol):
    """What the daemon answers its socket's requests with (`serve_request`), on its worker."""

    paths: Paths
    winddown: WindDownLink

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = ...) -> Any: ...

    def tick(self) -> None: ...

    def reload(self) -> list[str]: ...

    def config_removed(self) -> bool: ...

    def status(self) -> dict[str, Any]: ...


def serve_request(daemon: Served, request: dict[str, Any], wait_s: float) -> dict[str, Any]:
    """From the control thread; waits for the worker so the CLI knows it took effect."""
    cmd = request.get("cmd")
    try:
        if cmd == "refresh":
            daemon.call(daemon.tick, timeout=wait_s)
            return {"ok": True}
        if cmd == "reload":
            problems = daemon.call(daemon.reload, timeout=wait_s)
            if not problems and daemon.config_removed():
                return {"ok": False, "removed": str(daemon.paths.config), "errors": []}
            return {"ok": not problems, "errors": problems}
        if cmd == "status":
            return {"ok": True, **daemon.call(daemon.status, timeout=wait_s)}
        if cmd == "winddown":
            return daemon.winddown.request(str(request.get("action")), wait_s)
    except concurrent.futures.TimeoutError:
        return {"ok": False, "error": "the daemon is busy; try again"}
    return {"ok": False, "error": f"unknown request {cmd!r}"}
