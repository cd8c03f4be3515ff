"""Config hot reload: inotify on the config's directory (editors save by rename).

Watching the directory rather than the file survives write-to-temp-and-rename
saves and a file that does not exist yet. The thread blocks while idle; a burst
of events from one save is coalesced into one callback.
"""

from __future__ import annotations

import ctypes
import logging
import os
import struct
from collections.abc import Callable
from pathlib import Path

from sundown.runtime.waiting import FdThread

log = logging.getLogger(__name__)

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_MOVED_FROM = 0x40
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_CLOEXEC = 0o2000000
MASK = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
HEADER = struct.Struct("iIII")
SETTLE_MS = 150


class ConfigWatch(FdThread):
    """Calls `on_change()` shortly after the config file is written, replaced or removed."""

    def __init__(self, path: Path, on_change: Callable[[], None]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add_watch = libc.inotify_add_watch
        self._rm_watch = libc.inotify_rm_watch
        fd = libc.inotify_init1(IN_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._fd = fd
        self.path = path
        self._on_change = on_change
        self._wd: int | None = None
        self._watched: Path | None = None
        self._rewatch()
        self.start_thread(fd, "sundown-config")

    def _rewatch(self) -> None:
        """Watch the config's directory, or its nearest existing ancestor until it exists."""
        target = self.path.parent
        while not target.is_dir() and target != target.parent:
            target = target.parent
        if target == self._watched:
            return
        if self._wd is not None:
            self._rm_watch(self._fd, self._wd)
        wd = self._add_watch(self._fd, os.fsencode(target), MASK)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"cannot watch {target}")
        self._wd, self._watched = wd, target

    def _relevant(self, data: bytes) -> bool:
        offset, hit = 0, False
        while offset + HEADER.size <= len(data):
            _, mask, _, length = HEADER.unpack_from(data, offset)
            name = data[offset + HEADER.size : offset + HEADER.size + length].rstrip(b"\0")
            offset += HEADER.size + length
            if self._watched == self.path.parent:
                hit |= name == os.fsencode(self.path.name) or bool(mask & (IN_DELETE_SELF | IN_MOVE_SELF))
            else:
                hit = True  # an ancestor changed: the config dir may have appeared
        return hit

    def readable(self) -> bool:
        hit = self._relevant(os.read(self._fd, 65536))
        # Coalesce the burst of events one save makes (truncate, write, rename).
        while more := self.stopper.wait(self._fd, SETTLE_MS):
            hit |= self._relevant(os.read(self._fd, 65536))
        if more is False:
            return False  # stopping
        try:
            self._rewatch()
        except OSError as exc:
            log.warning("%s", exc)
        if hit:
            self._on_change()
        return True

    def release(self) -> None:
        os.close(self._fd)
