"""The daemon's one worker thread: every piece of work runs on it, so state is never touched by
two threads at once. It is APScheduler's single executor (the only use of APScheduler).

Late jobs are handled on purpose: `misfire_grace_time=None` (APScheduler's 1 s default
silently drops a job that wakes late after suspend) and `coalesce`, because a late tick
is still exactly one tick.

The daemon may run on a clock of its own (tests): times on it are translated to the
system clock the scheduler waits on (`on_system_clock`), in UTC, since a local time would
add wall-clock time across a DST change.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sundown.runtime.scheduler import Scheduler, ThreadPoolExecutor

log = logging.getLogger("sundown")

UTC = timezone.utc
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Worker:
    """Jobs now (`submit`, `call`), after a delay (`later`), at an instant (`at`), or every so often."""

    def __init__(self, clock: Clock = utc_now) -> None:
        self.clock = clock
        self.scheduler = Scheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 8},
        )
        self._finished = threading.Event()

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def start(self) -> None:
        self.scheduler.start()

    def submit(
        self, fn: Callable[..., Any], *args: Any, last: bool = False
    ) -> concurrent.futures.Future[Any]:
        """Queue `fn(*args)`; the future carries its result. After a `last` job, jobs do nothing."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def job() -> None:
            if self._finished.is_set():
                future.cancel()
                return
            if last:
                self._finished.set()
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)
                log.exception("error in %s", getattr(fn, "__name__", fn))

        self.scheduler.add_job(job)  # no trigger: run as soon as the worker is free
        return future

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """`fn(*args)` on the worker, waited for; TimeoutError when the worker is busy longer."""
        return self.submit(fn, *args).result(timeout)

    def later(self, delay: timedelta, fn: Callable[..., Any], *args: Any, job: str | None = None) -> None:
        """`fn(*args)`, `delay` from now; a named `job` replaces its earlier one."""
        now = self.clock()
        self.at(self.on_system_clock(now.astimezone(UTC) + delay, now), fn, *args, job=job)

    def at(self, when: datetime, fn: Callable[..., Any], *args: Any, job: str | None = None) -> None:
        """`fn(*args)` at `when` on the system clock; a named `job` replaces its earlier one."""
        self.scheduler.add_job(
            fn, "date", run_date=when, args=list(args), id=job, replace_existing=job is not None
        )

    def every(self, seconds: float, fn: Callable[[], Any], job: str) -> None:
        self.scheduler.add_job(fn, "interval", seconds=seconds, id=job)

    def on_system_clock(self, at: datetime, now: datetime) -> datetime:
        """`at` on the worker's clock as a UTC time of the system clock, which the scheduler and
        the timer wait on. In service they are the same clock; a test may give the daemon its own."""
        at = at.astimezone(UTC)
        if self.clock is utc_now:
            return at
        return utc_now() + (at - now.astimezone(UTC))

    def shutdown(self) -> None:
        self.scheduler.shutdown(wait=False)


def release_startup_memory() -> None:
    """Hand back to the OS what imports left behind (APScheduler scans every entry point)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to trim
