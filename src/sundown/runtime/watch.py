"""Config hot reload: inotify on the config's directory (editors save by rename).

Watching the directory rather than the file survives write-to-temp-and-rename
saves and a file that does not exist yet. A config that is a symlink (the
dotfiles setup: `config.toml -> ~/dotfiles/sundown.toml`) also has the
directory of each link on the way to its target watched, and a link that
changes is followed. The thread blocks while idle; a burst of events from one
save is coalesced into one callback.
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


MAX_LINKS = 40  # as the kernel's own limit on a symlink chain


def watched_names(path: Path) -> dict[Path, set[str]]:
    """Each directory whose entries decide what `path` reads, with the names in it that matter.

    That is the config's own directory and, for a symlink, the directory of every link
    on the way to the final target. A directory that does not exist yet maps to the
    nearest existing ancestor with no names: any change there may make it appear.
    """
    wanted: dict[Path, set[str]] = {}
    path = Path(os.path.abspath(path))
    for _ in range(MAX_LINKS):
        parent = path.parent
        if parent.is_dir():
            wanted.setdefault(parent, set()).add(path.name)
        else:
            while not parent.is_dir() and parent != parent.parent:
                parent = parent.parent
            wanted.setdefault(parent, set())
            break
        try:
            target = os.readlink(path)
        except OSError:  # not a link (or gone): the end of the chain
            break
        path = Path(os.path.abspath(parent / target))
    return wanted


class ConfigWatch(FdThread):
    """Calls `on_change()` soon after the config (or its link target) is written, replaced or removed."""

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
        # wd -> the names that matter in that directory; None: an ancestor, every change matters.
        self._names: dict[int, set[str] | None] = {}
        self._watched: dict[Path, int] = {}
        self._rewatch()
        self.start_thread(fd, "sundown-config")

    def _rewatch(self) -> None:
        """Watch what `watched_names` says now: new directories added, ones no longer needed dropped."""
        names: dict[int, set[str] | None] = {}
        watched: dict[Path, int] = {}
        for directory, dir_names in watched_names(self.path).items():
            wd = self._watched.get(directory)
            if wd is None:
                wd = self._add_watch(self._fd, os.fsencode(directory), MASK)
                if wd < 0:
                    raise OSError(ctypes.get_errno(), f"cannot watch {directory}")
            watched[directory] = wd
            # Two paths to one directory share one watch descriptor: merge what matters.
            if not dir_names or names.get(wd, set()) is None:
                names[wd] = None
            else:
                names[wd] = (names.get(wd) or set()) | dir_names
        for wd in self._watched.values():
            if wd not in names:
                self._rm_watch(self._fd, wd)
        self._names, self._watched = names, watched

    def _relevant(self, data: bytes) -> bool:
        offset, hit = 0, False
        while offset + HEADER.size <= len(data):
            wd, mask, _, length = HEADER.unpack_from(data, offset)
            name = data[offset + HEADER.size : offset + HEADER.size + length].rstrip(b"\0")
            offset += HEADER.size + length
            names = self._names.get(wd, set())
            if names is None:
                hit = True  # an ancestor changed: the config dir may have appeared
            else:
                hit |= os.fsdecode(name) in names or bool(mask & (IN_DELETE_SELF | IN_MOVE_SELF))
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
