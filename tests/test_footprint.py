"""What the daemon loads: its footprint is part of the product (an idle daemon stays small)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e  # every test here starts real processes


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_apscheduler_loads_without_asyncio_or_openssl_and_both_import_later() -> None:
    out = _run(
        "import sys\n"
        "import sundown.runtime.scheduler\n"
        "print(sorted(m for m in ('asyncio', 'ssl', '_ssl') if m in sys.modules))\n"
        "import asyncio, ssl\n"
        "print(asyncio.get_event_loop_policy() is not None, bool(ssl.OPENSSL_VERSION))\n"
        "print(asyncio.run(asyncio.sleep(0, 'ok')))\n"
    )
    assert out.splitlines() == ["[]", "True True", "ok"]


def test_the_scheduler_runs_jobs_on_its_thread_pool() -> None:
    out = _run(
        "import threading\n"
        "from sundown.runtime.scheduler import BackgroundScheduler, ThreadPoolExecutor\n"
        "done = threading.Event()\n"
        "s = BackgroundScheduler(executors={'default': ThreadPoolExecutor(1)})\n"
        "s.start()\n"
        "s.add_job(done.set)\n"
        "print(done.wait(10))\n"
        "s.shutdown()\n"
    )
    assert out == "True"


def test_an_asyncio_already_loaded_is_left_alone() -> None:
    out = _run(
        "import asyncio, sys\nimport sundown.runtime.scheduler\nprint(sys.modules['asyncio'] is asyncio)\n"
    )
    assert out == "True"
