"""Soak: 24 simulated nights through a real Daemon on a compressed clock; is its footprint flat?

A started `Daemon` (scheduler, detectors, control socket, config watch, console backend to
/dev/null, real SQLite log in a temp dir) is driven by an injected clock through 24 nights in
Europe/Berlin (across the March DST change): every reminder, repeats, acknowledgements from the
notification (`handle_action`) and from a second connection as the CLI writes them, snoozes,
dismissals, skipped reminders and nights, missed reminders, a bedtime change, a config reload.
The clock stays in the future of the real one, so the scheduler's own tick jobs never fire and
every tick runs on the worker thread through `Daemon.call`, as CLI nudges do.

After each night: VmRSS, open fds (/proc/self/fd), threads, and the daemon's in-memory maps.
Target: flat after the first night (growth within noise, no fd or thread growth).

Usage: python3 bench/bench_soak.py [--nights 24]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

UTC = timezone.utc
ZONE = ZoneInfo("Europe/Berlin")
FIRST_NIGHT = date(2031, 3, 20)  # DST starts 2031-03-30: nights 11 and 12 straddle it

CONFIG = """timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
fri = "23:30"
[notify]
snooze = "10m"
[reminders.wind-down]
before = "60m"
[reminders.magnesium]
before = "45m"
repeat = "10m"
repeat_limit = 3
[reminders.screens-off]
at = "22:00"
[reminders.tea]
before = "30m"
[reminders.bedtime]
before = "0m"
"""


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2031, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def local(self, night: date, hh: int, mm: int) -> None:
        """Set the clock to HH:MM local on the evening of `night` (after midnight: the next day)."""
        day = night if hh >= 12 else night + timedelta(days=1)
        self.now = datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZONE).astimezone(UTC)


def save(path: Path, text: str) -> None:
    """As editors do: a temp file renamed over the config (the watcher reloads it as well)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.rename(path)


def footprint() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return {
        "rss_kb": rss,
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threading.active_count(),
        "py_blocks": sys.getallocatedblocks(),  # live Python objects: a leak, not SQLite cache
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=24)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="sundown-soak-"))
    for name in ("config", "state", "run"):
        (root / name).mkdir(mode=0o700)
    os.environ.update(
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_STATE_HOME=str(root / "state"),
        XDG_RUNTIME_DIR=str(root / "run"),
    )
    for key in ("SUNDOWN_CONFIG", "SUNDOWN_STATE_DIR", "NOTIFY_SOCKET", "WATCHDOG_USEC"):
        os.environ.pop(key, None)

    from sundown.config import load_for
    from sundown.paths import resolve_paths
    from sundown.runtime.control_server import InstanceLock
    from sundown.runtime.daemon import Daemon
    from sundown.store.log import EventLog

    paths = resolve_paths()
    paths.config.parent.mkdir(mode=0o700)
    paths.config.write_text(CONFIG)
    paths.config.chmod(0o600)

    real_stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the console backend's output, for the whole run
    clock = Clock()
    clock.local(FIRST_NIGHT, 12, 0)
    lock = InstanceLock(paths)  # as `sundown run` does; it also makes the runtime dir
    daemon = Daemon(paths, load_for(paths), {}, backend="console", clock=clock)
    daemon.start()
    cli = EventLog(paths.database)  # a second connection, as `sundown ack/skip/tonight` have
    rows: list[dict[str, int]] = []
    started = time.perf_counter()

    def at(night: date, hh: int, mm: int) -> None:
        clock.local(night, hh, mm)
        daemon.call(daemon.tick, timeout=10)

    def action(night: date, rid: str, what: str) -> None:
        daemon.call(daemon.handle_action, f"{night.isoformat()}/{rid}", what, timeout=10)

    try:
        for n in range(args.nights):
            night = FIRST_NIGHT + timedelta(days=n)
            late = night.weekday() == 4  # Friday: bedtime 23:30
            if n % 7 == 3:
                cli.record("skipped", night, "tea", "cli")
            if n % 11 == 5:
                cli.record("skipped", night, None, "cli")  # the whole night
            if n % 6 == 2:
                cli.record("bedtime_changed", night, None, "cli", {"bedtime": "23:00"})
            if n % 8 == 7:
                save(paths.config, CONFIG.replace("repeat_limit = 3", "repeat_limit = 2"))
                daemon.call(daemon.reload, timeout=10)
            elif n % 8 == 0 and n:
                save(paths.config, CONFIG)
                daemon.call(daemon.reload, timeout=10)
            at(night, 20, 0)
            base = 60 if late else 0  # minutes to add on a late night
            for minute in range(21 * 60 + 25, 24 * 60 + 45, 5):  # every 5 minutes, 21:25 .. 00:40
                total = minute + base
                hh, mm = divmod(total, 60)
                at(night, hh % 24, mm)
                hm = (hh % 24, mm)
                if hm == ((21, 35) if not late else (22, 35)):
                    action(night, "wind-down", "done")
                if hm == ((22, 0) if not late else (23, 0)):
                    action(night, "screens-off", "snooze" if n % 2 else "dismissed")
                if hm == ((22, 20) if not late else (23, 20)) and n % 3:
                    cli.record("acknowledged", night, "magnesium", "cli")
                    daemon.call(daemon.tick, timeout=10)  # the CLI's nudge
                if hm == ((22, 35) if not late else (23, 35)) and n % 2 == 0:
                    action(night, "bedtime", "done")
                if hm == ((22, 40) if not late else (23, 40)):
                    action(night, "tea", "done")
            at(night + timedelta(days=1), 12, 0)  # the night turns
            gc.collect()  # count what is alive, not what the collector has not reached yet
            row = {"night": n + 1, **footprint(), "memory": len(daemon.memory), "shown": len(daemon.shown)}
            rows.append(row)
    finally:
        elapsed = time.perf_counter() - started
        daemon.stop()
        lock.release()
        cli.close()
        sys.stdout.close()
        sys.stdout = real_stdout

    with EventLog(paths.database) as log:
        events = log.events()
    counts: dict[str, int] = {}
    for e in events:
        counts[e.event] = counts.get(e.event, 0) + 1
    gc.collect()

    print(f"{args.nights} nights in {elapsed:.1f} s; {len(events)} events: {counts}")
    print(f"{'night':>5} {'rss_kb':>8} {'fds':>4} {'threads':>7} {'py_blocks':>9} {'memory':>6} {'shown':>5}")
    for row in rows:
        print(
            f"{row['night']:>5} {row['rss_kb']:>8} {row['fds']:>4} {row['threads']:>7} {row['py_blocks']:>9}"
            f" {row['memory']:>6} {row['shown']:>5}"
        )
    first, second, last = rows[0], rows[min(1, len(rows) - 1)], rows[-1]
    print(
        f"first night: {first['rss_kb']} kB, {first['fds']} fds;"
        f" last: {last['rss_kb']} kB, {last['fds']} fds;"
        f" max: {max(r['rss_kb'] for r in rows)} kB, {max(r['fds'] for r in rows)} fds;"
        f" growth night 2 -> {last['night']}: {last['rss_kb'] - second['rss_kb']:+d} kB,"
        f" {last['fds'] - second['fds']:+d} fds, {last['threads'] - second['threads']:+d} threads,"
        f" {last['py_blocks'] - second['py_blocks']:+d} Python blocks"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
