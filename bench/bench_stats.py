"""Benchmark `sundown stats --days 3650` and `sundown report --html` on a generated 10-year log.

    python3 bench/bench_stats.py [--years 10] [--runs 15] [--no-spans] [--cold]

Prints the median wall time of each command (a real subprocess, as a person runs
it), the `python3 -c pass` baseline and the ratio, the runs interleaved (one of each per
round, so load on the machine falls on all alike), and the load average. The log has every
event kind and, unless --no-spans, the evening's activity (about 4 spans a night, a phone's
in-bed time on some nights). Past nights are kept in the cache directory (docs/stats.md,
"Performance"): timed as a person's second run sees them (warm), or with `--cold` as on a first
run, the cache removed before each run (outside the timing). Targets: stats and stats --json
<= 150 ms, report <= 300 ms.
Exits 1 when a target is missed.

`generate()` is also used by the tests to build realistic multi-year logs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from sundown.core.activity import Span, epoch, until_of  # noqa: E402
from sundown.core.plan import NightChanges, night_plan  # noqa: E402
from sundown.core.routine import Bedtimes, Reminder, Routine  # noqa: E402
from sundown.store.log import EventLog, format_ts  # noqa: E402

UTC = timezone.utc
ZONE = "Europe/Berlin"
CONFIG = """\
timezone = "Europe/Berlin"

[bedtime]
default = "22:30"
fri = "23:30"
sat = "00:30"

[reminders.wind-down]
before = "1h"
title = "Start winding down"

[reminders.magnesium]
before = "45m"
title = "Magnesium"
repeat = "10m"
repeat_limit = 3

[reminders.screens-off]
at = "22:00"
days = ["mon", "tue", "wed", "thu", "sun"]

[reminders.journal]
before = "30m"

[reminders.teeth]
before = "15m"

[reminders.bedtime]
before = "0m"
title = "Lights out"
"""


def routine() -> Routine:
    """The same routine as CONFIG, built directly (the generator must not depend on config.py)."""
    m = timedelta(minutes=1)
    return Routine(
        Bedtimes(tuple(dtime(22, 30) for _ in range(4)) + (dtime(23, 30), dtime(0, 30), dtime(22, 30))),  # type: ignore[arg-type]
        (
            Reminder("wind-down", "Start winding down", before=60 * m),
            Reminder("magnesium", "Magnesium", before=45 * m, repeat=10 * m, repeat_limit=3),
            Reminder("screens-off", "Screens off", at=dtime(22, 0), days=frozenset({0, 1, 2, 3, 6})),
            Reminder("journal", "Journal", before=30 * m),
            Reminder("teeth", "Teeth", before=15 * m),
            Reminder("bedtime", "Lights out", before=0 * m),
        ),
        timezone=ZONE,
    )


def generate(db: Path, first: date, nights: int, seed: int = 1, spans: bool = True) -> int:
    """Write a plausible log of `nights` nights (every event kind) into `db`; returns the row count.

    With `spans`, each night not skipped also has the evening's activity, as the daemon records it.
    """
    rng = random.Random(seed)
    zone = ZoneInfo(ZONE)
    r = routine()
    EventLog(db).close()  # schema, permissions
    rows: list[tuple[str, str, str | None, str, str, str]] = []

    def add(
        ts: datetime, night: date, reminder: str | None, event: str, source: str, details: str = "{}"
    ) -> None:
        rows.append((format_ts(ts), night.isoformat(), reminder, event, source, details))

    for k in range(nights):
        night = first + timedelta(days=k)
        noon = datetime(night.year, night.month, night.day, 12, tzinfo=zone)
        changes = NightChanges()
        roll = rng.random()
        if roll < 0.03:
            add(noon + timedelta(hours=2), night, None, "skipped", "cli")
            changes = NightChanges(skip_all=True)
            if rng.random() < 0.2:
                add(noon + timedelta(hours=3), night, None, "unskipped", "cli")
                changes = NightChanges()
        elif roll < 0.08:
            bt = dtime(23, rng.choice((0, 15, 45)))
            add(
                noon + timedelta(hours=4),
                night,
                None,
                "bedtime_changed",
                "cli",
                f'{{"bedtime":"{bt:%H:%M}"}}',
            )
            changes = NightChanges(bedtime=bt)
        elif roll < 0.1:
            add(noon + timedelta(hours=5), night, "journal", "skipped", "cli")
            changes = NightChanges(skip=frozenset({"journal"}))
        if rng.random() < 0.005:
            add(noon + timedelta(hours=1), night, None, "config_error", "daemon", '{"errors":["x"]}')
        plan = night_plan(r, night, zone, changes)
        assert plan is not None
        bed = plan.bedtime.isoformat()
        for o in plan.active():
            rid = o.reminder.id
            at = o.at.astimezone(UTC)
            detail = f'"at":"{o.at.isoformat()}","backend":"dbus","bedtime":"{bed}"'
            if rng.random() < 0.04:
                add(
                    max(o.bedtime, o.at) + timedelta(seconds=1),
                    night,
                    rid,
                    "missed",
                    "daemon",
                    f"{{{detail}}}",
                )
                continue
            add(at, night, rid, "notified", "daemon", f'{{{detail},"late":0,"repeat":0}}')
            delay = rng.expovariate(1 / 420)
            t = at
            if o.reminder.repeat is not None:
                for n, rt in enumerate(o.repeat_times(), 1):
                    if delay < (rt - o.at).total_seconds():
                        break
                    add(
                        rt.astimezone(UTC),
                        night,
                        rid,
                        "notified",
                        "daemon",
                        f'{{{detail},"late":0,"repeat":{n}}}',
                    )
            if rng.random() < 0.05:
                until = at + timedelta(minutes=10)
                add(
                    at + timedelta(seconds=30),
                    night,
                    rid,
                    "snoozed",
                    "action",
                    f'{{"until":"{until.isoformat()}"}}',
                )
                add(
                    until,
                    night,
                    rid,
                    "notified",
                    "daemon",
                    f'{{{detail},"late":0,"repeat":0,"snoozed":true}}',
                )
                t = until
            if rng.random() < 0.08:
                add(t + timedelta(seconds=20), night, rid, "dismissed", "action")
                continue
            add(t + timedelta(seconds=delay), night, rid, "acknowledged", rng.choice(("action", "cli")))
        if spans and plan.active():
            _evening(add, rng, night, plan.active()[0].at, plan.bedtime, until_of(r, night, zone))
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(
            "INSERT INTO events (ts, night, reminder, event, source, details) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
    conn.close()
    return len(rows)


def _evening(add, rng, night: date, start: datetime, bedtime: datetime, until: datetime) -> None:  # type: ignore[no-untyped-def]
    """One evening's spans: at the screen from the first reminder to about bedtime (now and then a
    late session), a few idle minutes, locked, then asleep until the morning; in bed from the phone
    on one night in five."""
    off = bedtime + timedelta(minutes=rng.gauss(15, 30))
    states: list[tuple[str, datetime]] = [("active", start)]
    if rng.random() < 0.15:  # a late session: away for a while, then back at the screen
        back = off + timedelta(minutes=rng.uniform(10, 40))
        states += [("idle", off), ("active", back)]
        off = back + timedelta(minutes=rng.uniform(20, 120))
    lock = off + timedelta(minutes=rng.uniform(5, 15))
    sleep = lock + timedelta(minutes=rng.uniform(1, 20))
    states += [("idle", off), ("locked", lock), ("asleep", sleep)]
    ends = [t for _, t in states[1:]] + [until]
    for (state, a), b in zip(states, ends, strict=True):
        span = Span(state, epoch(a), epoch(min(b, until)))  # type: ignore[arg-type]
        if span.end > span.start:
            text = json.dumps(span.details(), sort_keys=True, separators=(",", ":"))
            add(min(b, until), night, None, "activity", "daemon", text)
    if rng.random() < 0.2:
        add(off - timedelta(minutes=rng.uniform(0, 10)), night, None, "in_bed", "phone")
        add(until - timedelta(minutes=rng.uniform(0, 30)), night, None, "awake", "phone")


def _interleaved(
    cases: dict[str, list[str]], env: dict[str, str], runs: int, cache: Path | None = None
) -> dict[str, float]:
    """The median wall time of each case, one run of each per round; `cache`: removed before each."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            if cache is not None:
                shutil.rmtree(cache, ignore_errors=True)
            start = time.perf_counter()
            proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr}")
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-spans", action="store_true", help="a log without the evening's activity")
    parser.add_argument("--cold", action="store_true", help="no cache of past nights: each run as the first")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sundown-bench-") as tmp:
        root = Path(tmp)
        from isolated import isolated_env  # here: tests import this module by path for generate()

        env = isolated_env(root)
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as an installed package: bytecode cached
        config = root / "config" / "sundown" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(CONFIG)
        nights = round(365.25 * args.years)
        until = date(2026, 11, 24)
        first = until - timedelta(days=nights - 1)
        started = time.perf_counter()
        count = generate(root / "state" / "sundown" / "sundown.db", first, nights, spans=not args.no_spans)
        print(f"generated {count} events over {nights} nights in {time.perf_counter() - started:.1f} s")
        cli = [sys.executable, "-m", "sundown"]
        window = ["--days", str(nights), "--until", str(until)]
        cases = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            f"stats --days {nights}": [*cli, "stats", *window],
            "stats --json": [*cli, "stats", *window, "--json"],
            "report --html": [*cli, "report", "--html", str(root / "r.html"), *window],
        }
        for argv in cases.values():  # the page cache and the .pyc files
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        load = os.getloadavg()[0]
        cache = root / ".cache" / "sundown" if args.cold else None  # XDG_CACHE_HOME is unset: ~/.cache
        results = _interleaved(cases, env, args.runs, cache)
        size = (root / "r.html").stat().st_size
        base = results.pop("python3 -c pass")
        ok = True
        after = os.getloadavg()[0]
        mode = "cold" if args.cold else "warm"
        print(f"{mode}: median of {args.runs}, interleaved; load {load:.2f} before, {after:.2f} after")
        print(f"python3 -c pass        {base * 1000:7.0f} ms")
        for (name, t), target in zip(results.items(), (0.15, 0.15, 0.3), strict=True):
            if name == "report --html":
                name = f"report --html ({size // 1024} KiB)"
            verdict = "ok" if t <= target else "SLOW"
            ok = ok and t <= target
            print(
                f"{name:22} {t * 1000:7.0f} ms  ({t / base:4.1f}x baseline;"
                f" target {target * 1000:.0f} ms: {verdict})"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
