"""Blocking on a file descriptor in a thread that can still be stopped at once.

The daemon's helper threads (clock timer, logind, config watch, control socket)
must cost nothing while idle — no polling with short timeouts — yet stop within
the 1 s SIGTERM budget. Closing an fd does not wake a thread blocked on it, so
each waits on its fd and on a pipe that `stop()` writes to. `FdThread` is that
pattern once: a helper says which fd it waits on and what to do when it is
readable.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading

log = logging.getLogger(__name__)


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

    def sleep(self, timeout_ms: int) -> bool:
        """Wait `timeout_ms`; False when stopped meanwhile."""
        return not select.select([self._r], [], [], timeout_ms / 1000)[0]

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # already closed: the thread is gone
            os.write(self._w, b"x")

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


class FdThread:
    """A helper thread that sleeps on one fd and calls `readable()` each time it has data.

    Subclasses set up their fd, then call `start_thread(fd, name)`; `readable()`
    returns False to end the thread; `release()` frees what the helper owns, after
    the thread has stopped. `close()` may be called more than once.
    """

    _thread: threading.Thread | None = None
    _stopper: Stoppable | None = None

    def start_thread(self, fd: int, name: str) -> None:
        self._stopper = Stoppable()
        self._wait_fd = fd
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def stopper(self) -> Stoppable:
        assert self._stopper is not None, "start_thread() first"
        return self._stopper

    def readable(self) -> bool:  # pragma: no cover - every helper overrides it
        raise NotImplementedError

    def release(self) -> None:
        """Close the helper's own fds; the thread no longer runs."""

    def _loop(self) -> None:
        try:
            while self.stopper.wait(self._wait_fd):
                if not self.readable():
                    return
        except Exception:  # a helper must never die silently: say so, the others still cover us
            log.exception("%s stopped", threading.current_thread().name)

    def close(self) -> None:
        thread, stopper = self._thread, self._stopper
        if thread is None or stopper is None:
            return
        self._thread = None
        stopper.stop()
        if thread is not threading.current_thread():
            thread.join(timeout=1)
        self.release()
        stopper.close()
