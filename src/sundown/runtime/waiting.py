"""Blocking on a file descriptor in a thread that can still be stopped at once.

The daemon's helper threads (clock timer, logind, config watch, control socket)
must cost nothing while idle — no polling with short timeouts — yet stop within
the 1 s SIGTERM budget. Closing an fd does not wake a thread blocked on it, so
each waits on its fd and on a pipe that `stop()` writes to.
"""

from __future__ import annotations

import contextlib
import os
import select


class Stoppable:
    """`wait(fd)` returns True when `fd` is readable, False once `stop()` was called."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()

    def wait(self, fd: int, timeout_ms: int | None = None) -> bool | None:
        """True: `fd` is readable; False: stopping; None: `timeout_ms` passed first."""
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(self._r, select.POLLIN)
        ready = {f for f, _ in poller.poll(timeout_ms)}
        if self._r in ready:
            return False
        return True if ready else None

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # already closed: the thread is gone
            os.write(self._w, b"x")

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)
