"""APScheduler, imported the way the daemon needs it: without what it never uses.

APScheduler 3.x imports, at start-up, modules for features the daemon does not use, and an
idle daemon would carry them all day (measured on an idle daemon, Python 3.11):

- `asyncio`, only for `iscoroutinefunction` (its asyncio and tornado executors), and through it
  `ssl`, which maps OpenSSL: about 9 MB;
- `importlib.metadata`, to scan every installed package's entry points for its plugins and to
  read its own version, and through it `email`, `zipfile`, `csv`: about 1.3 MB;
- `multiprocessing` and `concurrent.futures.process`, for the process pool executor (`pickle`
  with them): about 0.6 MB;
- `uuid` (and `platform`), to name jobs; `tzlocal`, for the local zone.

While APScheduler loads, each of these that is not loaded yet is a stand-in module carrying only
what APScheduler takes from it; the stand-ins are removed at once, so a later import gets the
real module. What that means for APScheduler here: its plugins are not looked up by entry point
(the two triggers the worker uses, `date` and `interval`, are registered by class, as APScheduler
keeps a plugin once loaded; any other alias is "not found"); its `__version__` is 3.5.0 (its
fallback, used only by `export_jobs`); a job without an id gets 32 random hex digits, as `uuid4`
gives; the local zone is asked of the real `tzlocal` only when a trigger has no zone (the worker
gives every one UTC); the process pool loads the real `multiprocessing` if it were ever made.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor
from contextlib import contextmanager
from importlib import import_module
from typing import Any


class _PackageNotFoundError(ModuleNotFoundError):
    """importlib.metadata's: APScheduler falls back to its own version number."""


def _no_version(name: str) -> str:
    raise _PackageNotFoundError(name)


class BrokenProcessPool(BrokenExecutor):
    """concurrent.futures.process's, for the process pool executor's `except` (never made here)."""


class _Id:
    """What APScheduler takes of `uuid.uuid4()`: its hex."""

    def __init__(self) -> None:
        self.hex = os.urandom(16).hex()


def _real(module: str, name: str) -> Any:
    """A function of the real module, imported when first called (the stand-in is gone by then)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(module), name)(*args, **kwargs)

    return call


def _stand_ins() -> dict[str, types.ModuleType]:
    def module(name: str, **attrs: Any) -> types.ModuleType:
        found = types.ModuleType(name, "a stand-in while APScheduler loads (sundown.runtime.scheduler)")
        found.__dict__.update(attrs)
        return found

    return {
        "asyncio": module("asyncio", iscoroutinefunction=inspect.iscoroutinefunction),
        "importlib.metadata": module(
            "importlib.metadata",
            PackageNotFoundError=_PackageNotFoundError,
            version=_no_version,
            entry_points=lambda **selection: (),
        ),
        "multiprocessing": module("multiprocessing", get_context=_real("multiprocessing", "get_context")),
        "concurrent.futures.process": module(
            "concurrent.futures.process", BrokenProcessPool=BrokenProcessPool
        ),
        "uuid": module("uuid", uuid4=_Id),
        "tzlocal": module("tzlocal", get_localzone=_real("tzlocal", "get_localzone")),
    }


@contextmanager
def _standing_in() -> Iterator[None]:
    """The stand-ins in sys.modules for what is not loaded yet; a module already loaded is used as it is."""
    placed = {name: mod for name, mod in _stand_ins().items() if name not in sys.modules}
    sys.modules.update(placed)
    try:
        yield
    finally:
        for name, mod in placed.items():
            if sys.modules.get(name) is mod:
                del sys.modules[name]


with _standing_in():
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.base import JobLookupError
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

# The worker's triggers by their aliases, as APScheduler keeps a plugin it has loaded.
BaseScheduler._trigger_classes.setdefault("date", DateTrigger)  # type: ignore[attr-defined]
BaseScheduler._trigger_classes.setdefault("interval", IntervalTrigger)  # type: ignore[attr-defined]


class Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's background scheduler, quiet when it is shut down while it hands out a job.

    `shutdown()` marks the scheduler stopped before it takes the job stores' lock; the scheduler's
    thread, holding that lock, then removes the one-shot job it just handed to the executor, and
    a stopped scheduler looks for it among the jobs not yet added only: `JobLookupError`, which
    ends its thread with a traceback on stderr (a daemon that could not start printed one above
    its one line, one run in ten under load). The job stores are being emptied anyway."""

    def remove_job(self, job_id: str, jobstore: str | None = None) -> None:
        try:
            super().remove_job(job_id, jobstore)
        except JobLookupError:
            if self.state != STATE_STOPPED:
                raise


__all__ = ["Scheduler", "ThreadPoolExecutor"]
