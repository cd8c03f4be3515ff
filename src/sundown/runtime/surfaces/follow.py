"""`sundown status --follow`: the daemon writes a status line to each follower on every change.

A follower connects to the control socket (the same socket, and the same check that the
peer is this user, as every CLI request) and sends `{"cmd": "follow"}`; the control server
hands the connection over here. The follower gets the current snapshot at once and then one
JSON line per change; nothing is polled. Writes never block the daemon: a follower that stops
reading until its socket buffer is full (hundreds of lines) is hung up on, and one that went
away is dropped at the next write. At most MAX_FOLLOWERS are kept (the oldest goes first).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading

from sundown.core.status import Status

log = logging.getLogger(__name__)

MAX_FOLLOWERS = 32


def line_of(status: Status) -> bytes:
    return json.dumps(status.to_json(), separators=(",", ":"), default=str).encode() + b"\n"


class Followers:
    """The connections of `sundown status --follow` processes; a surface (see runtime.surfaces)."""

    name = "follow"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._line: bytes | None = None  # the last snapshot, for a follower that joins now
        self._closed = False

    def start(self) -> None:
        """Nothing to start: followers arrive through the control socket."""

    def add(self, conn: socket.socket) -> None:
        """A new follower (from the control thread): the current line now, every change later."""
        conn.setblocking(False)
        with self._lock:
            if self._closed:
                conn.close()
                return
            self._conns = [c for c in self._conns if _alive(c)]
            if self._line is not None and not _write(conn, self._line):
                conn.close()
                return
            self._conns.append(conn)
            while len(self._conns) > MAX_FOLLOWERS:
                log.warning("more than %d status followers: hanging up on the oldest", MAX_FOLLOWERS)
                self._conns.pop(0).close()

    def publish(self, status: Status) -> None:
        line = line_of(status)
        with self._lock:
            self._line = line
            kept = []
            for conn in self._conns:
                if _write(conn, line):
                    kept.append(conn)
                else:
                    conn.close()
            self._conns = kept

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._conns)

    def close(self) -> None:
        """The daemon stops: each follower sees the end of its stream (and waits for the next daemon)."""
        with self._lock:
            self._closed = True
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


def _write(conn: socket.socket, line: bytes) -> bool:
    """The whole line, or False: gone, or so far behind that its buffer is full."""
    try:
        sent = conn.send(line)
    except OSError:  # EPIPE, ECONNRESET, EAGAIN (full)
        return False
    if sent == len(line):
        return True
    log.warning("a status follower stopped reading; hanging up on it")
    return False


def _alive(conn: socket.socket) -> bool:
    """Still connected: nothing to read (followers send nothing after their request), or data."""
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
