"""Waiting for a daemon without asking it: inotify on the directories its control socket needs.

`sundown status --follow` waits quietly for a daemon that is not up (yet, or again after a
restart). Instead of trying to connect every few seconds it sleeps on an inotify descriptor
watching the socket's directory, or the nearest ancestor that exists (the daemon creates
`$XDG_RUNTIME_DIR/sundown/` itself): any name created, moved in or removed there wakes it to
try again. No wakeups while nothing happens.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

from sundown.runtime.watch import (
    IN_CLOEXEC,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_MOVE_SELF,
    IN_MOVED_TO,
    watched_names,
)

IN_NONBLOCK = 0o4000
MASK = IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF


class SocketWatch:
    """An fd that becomes readable when the socket at `path` may have appeared or gone."""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add_watch = libc.inotify_add_watch
        self._rm_watch = libc.inotify_rm_watch
        fd = libc.inotify_init1(IN_CLOEXEC | IN_NONBLOCK)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._fd = fd
        self.path = path
        self._wds: list[int] = []

    def fileno(self) -> int:
        return self._fd

    def arm(self) -> None:
        """Watch what matters now (before trying to connect: nothing between the two is missed)."""
        self.drain()
        for wd in self._wds:
            self._rm_watch(self._fd, wd)
        self._wds = []
        for directory in watched_names(self.path):
            wd = self._add_watch(self._fd, os.fsencode(directory), MASK)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"cannot watch {directory}")
            self._wds.append(wd)

    def drain(self) -> None:
        try:
            while os.read(self._fd, 65536):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
