"""APScheduler, imported the way the daemon needs it: without asyncio.

APScheduler 3.x imports asyncio at start-up only for `iscoroutinefunction`, which its
asyncio and tornado executors use; the daemon runs jobs on a thread pool and never uses
them. Importing asyncio (and through it `ssl`, which maps OpenSSL) costs an idle daemon
about 9 MB of resident memory. While APScheduler loads, `asyncio` is a stand-in that
carries only `iscoroutinefunction` from `inspect` (what APScheduler itself uses on
Python 3.14 and later); the stand-in is removed at once, so a later `import asyncio`
gets the real module.
"""

from __future__ import annotations

import inspect
import sys
import types

_real_asyncio = sys.modules.get("asyncio")
if _real_asyncio is None:
    _stand_in = types.ModuleType("asyncio", "a stand-in while APScheduler loads")
    _stand_in.iscoroutinefunction = inspect.iscoroutinefunction  # type: ignore[attr-defined]
    sys.modules["asyncio"] = _stand_in
try:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
finally:
    if _real_asyncio is None:
        del sys.modules["asyncio"]

__all__ = ["BackgroundScheduler", "ThreadPoolExecutor"]
