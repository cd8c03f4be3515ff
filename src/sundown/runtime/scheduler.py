"""APScheduler, imported the way the daemon needs it: without OpenSSL.

APScheduler 3.x imports asyncio (only for `iscoroutinefunction`), and asyncio imports
`ssl`, which maps OpenSSL into the process: about 4 MB of an idle daemon's resident
memory for a library the daemon never uses through asyncio. While APScheduler loads,
`ssl` is marked missing (asyncio takes that as "no SSL support"); the mark is removed
at once, so a later `import ssl` (an HTTPS push) works as usual.
"""

from __future__ import annotations

import sys

_had_ssl = "ssl" in sys.modules
if not _had_ssl:
    sys.modules["ssl"] = None  # type: ignore[assignment]
try:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
finally:
    if not _had_ssl:
        del sys.modules["ssl"]

__all__ = ["BackgroundScheduler", "ThreadPoolExecutor"]
