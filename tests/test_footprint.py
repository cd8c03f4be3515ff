"""What the daemon loads: its footprint is part of the product (an idle daemon stays small)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from support.desktop import Desktop
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


# What an idle daemon has no use for, and what once loaded it (each stayed resident for good).
NEVER_IDLE = (
    "asyncio", "ssl",  # APScheduler's asyncio executor (about 9 MB with OpenSSL)
    "importlib.metadata", "email", "zipfile", "csv",  # APScheduler's entry-point scan (1.3 MB)
    "multiprocessing", "concurrent.futures.process", "pickle",  # its process pool (0.6 MB)
    "uuid", "platform", "tzlocal",  # its job ids and the local zone
    "shutil", "bz2", "lzma",  # argparse's help width (0.6 MB)
    "ctypes.util", "tempfile",  # finding libX11 (no longer loaded at all: the X server is spoken to)
    "subprocess",  # gsettings, only on GNOME once asked
    "importlib.resources",  # the D-Bus API's introspection XML, read when asked
    "http.client",  # push, only with [push]
)  # fmt: skip


IDLE_DAEMON = """
import json, os, sys, time
before = set(sys.modules)  # what this interpreter's site loaded is not the daemon's
from sundown.cli import build_parser
build_parser("run").parse_args(["run"])
from sundown.config import load_for
from sundown.paths import resolve_paths
from sundown.runtime.control_server import InstanceLock
from sundown.runtime.daemon import Daemon
p = resolve_paths()
lock = InstanceLock(p)  # as `sundown run` takes it (it makes the runtime dir)
d = Daemon(p, load_for(p), dict(os.environ))
d.start()
deadline = time.monotonic() + 20
while (d.surfaces.current is None or d.winddown.control is None) and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.5)
loaded = sorted(m for m in set(sys.modules) - before if m in sys.argv[1:])
asks_x = d.context is not None and "X11 MIT-SCREEN-SAVER" in d.context.sources("idle")
shown = [d.surfaces.current is not None, asks_x]
d.stop()
lock.release()
print(json.dumps([shown, loaded]))
"""


def test_an_idle_daemon_on_a_desktop_loads_nothing_it_does_not_use(
    sandbox: Sandbox, desktop: Desktop
) -> None:
    """`sundown run`'s parse and a started daemon with everything but push on (the D-Bus API, the
    tray, the X server's idle time, `[winddown]` outside its window), after its first tick."""
    bedtime = (datetime.now(timezone.utc) + timedelta(hours=3)).strftime("%H:%M")
    sandbox.write_config(
        f'timezone = "UTC"\n[bedtime]\ndefault = "{bedtime}"\n[reminders.tea]\nbefore = "1h"\n'
        '[winddown]\nbefore = "2h"\nuntil = "07:00"\ndark = true\nrun = ["true"]\n'
    )
    proc = subprocess.run(
        [sys.executable, "-c", IDLE_DAEMON, *NEVER_IDLE],
        env={**sandbox.env, **desktop.session_vars},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    shown, loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert shown == [True, True], proc.stderr  # it published, and asks the X server for idle time
    assert loaded == [], f"an idle daemon loaded {loaded}"


def test_apscheduler_leaves_out_what_the_daemon_never_uses_and_each_imports_later() -> None:
    out = _run(
        "import sys\n"
        "before = set(sys.modules)\n"
        "import sundown.runtime.scheduler\n"
        "heavy = ('asyncio', 'importlib.metadata', 'email', 'zipfile', 'multiprocessing',\n"
        "         'concurrent.futures.process', 'pickle', 'uuid', 'platform', 'tzlocal')\n"
        "print(sorted(m for m in heavy if m in set(sys.modules) - before))\n"
        "import importlib.metadata, multiprocessing, uuid, tzlocal\n"
        "import concurrent.futures.process as cfp\n"
        "print(bool(importlib.metadata.version('jeepney')), len(uuid.uuid4().hex))\n"
        "print(cfp.BrokenProcessPool.__module__, multiprocessing.get_context('spawn').get_start_method())\n"
        "print(tzlocal.get_localzone() is not None)\n"
    )
    assert out.splitlines() == ["[]", "True 32", "concurrent.futures.process spawn", "True"]


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
    """A job now (the `date` trigger by default), one by alias, one every so often; named and not;
    with no zone given (the real tzlocal is asked then)."""
    out = _run(
        "import threading\n"
        "from sundown.runtime.scheduler import Scheduler, ThreadPoolExecutor\n"
        "done, later, often = threading.Event(), threading.Event(), threading.Event()\n"
        "s = Scheduler(executors={'default': ThreadPoolExecutor(1)})\n"
        "s.start()\n"
        "job = s.add_job(done.set)\n"
        "s.add_job(later.set, 'date', id='named')\n"
        "s.add_job(often.set, 'interval', seconds=0.2, id='often')\n"
        "print(done.wait(10), later.wait(10), often.wait(10), len(job.id))\n"
        "try:\n"
        "    s.add_job(print, 'cron', hour=1)\n"
        "except LookupError as exc:\n"
        "    print(exc)\n"
        "s.shutdown()\n"
    )
    assert out.splitlines() == ["True True True 32", 'No trigger by the name "cron" was found']


def test_an_asyncio_already_loaded_is_left_alone() -> None:
    out = _run(
        "import asyncio, sys\nimport sundown.runtime.scheduler\nprint(sys.modules['asyncio'] is asyncio)\n"
    )
    assert out == "True"
