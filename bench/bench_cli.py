"""Benchmark: wall time of the quick commands against a bare Python start.

    python3 bench/bench_cli.py [--runs 15] [--max-ratio 3]

Runs `python3 -c pass` (the same interpreter: the baseline), `sundown next --count 20
--json`, `sundown check`, `sundown status` (no daemon) and `sundown ack` (a log with a
notified reminder) RUNS times each, interleaved (one of each per round, so load on the
machine falls on all alike), with the example config in a temporary XDG config dir;
prints the median of each, its ratio to the baseline and to the floor. Exits 1 when a ratio is over
--max-ratio. Two more rows, measured alike, show the floor under any command: importing
only the standard modules every quick command needs (argparse, tomllib, zoneinfo,
json, datetime), then with the dataclasses and pathlib the model is built on.
`sundown` is the console script next to this Python (not a pyenv shim, whose own
start-up would be measured too), else `python -m sundown`. Bytecode caching is on
(PYTHONDONTWRITEBYTECODE is dropped) as in an installed package; --no-bytecode keeps
it off and measures compiling every module on each start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isolated import isolated_env

REPO = Path(__file__).resolve().parent.parent
FLOOR = ["argparse", "tomllib" if sys.version_info >= (3, 11) else "tomli", "zoneinfo", "json", "datetime"]
MODEL = ["dataclasses", "pathlib"]


def sundown_argv() -> list[str]:
    script = Path(sys.executable).parent / "sundown"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "sundown"]


def seconds(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def interleaved_medians(cases: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, argv in cases.items():
            times[name].append(seconds(argv, env))
    return {name: statistics.median(ts) for name, ts in times.items()}


def notified_log(env: dict[str, str]) -> None:
    """A log in which a reminder was notified a minute ago, so `ack` has something to do."""
    code = (
        "from datetime import datetime, timedelta, timezone\n"
        "from sundown.paths import resolve_paths\n"
        "from sundown.store.log import EventLog\n"
        "from sundown.config import load_for, zone_for\n"
        "from sundown.core.plan import night_of\n"
        "paths = resolve_paths()\n"
        "now = datetime.now(timezone.utc) - timedelta(minutes=1)\n"
        "night = night_of(now, zone_for(load_for(paths).routine))\n"
        "log = EventLog(paths.database)\n"
        "log.record('notified', night, 'magnesium', 'daemon', {'late': 0, 'repeat': 0}, ts=now)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--max-ratio", type=float, default=3.0)
    ap.add_argument("--no-bytecode", action="store_true", help="compile sources on every start")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sundown-bench-") as tmp:
        root = Path(tmp)
        env = isolated_env(root, TZ="Europe/Berlin")
        if args.no_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
        config = root / "config" / "sundown" / "config.toml"
        config.parent.mkdir(mode=0o700, parents=True)
        config.write_text((REPO / "src" / "sundown" / "config.example.toml").read_text())

        sundown = sundown_argv()
        cases = {
            "python3 -c pass": [sys.executable, "-c", "pass"],
            "sundown next --count 20 --json": [*sundown, "next", "--count", "20", "--json"],
            "sundown check": [*sundown, "check"],
            "sundown status": [*sundown, "status"],
            "sundown ack": [*sundown, "ack", "magnesium"],
        }
        floors = {
            "floor: stdlib the commands need": [sys.executable, "-c", f"import {', '.join(FLOOR)}"],
            "floor: + dataclasses, pathlib": [sys.executable, "-c", f"import {', '.join(FLOOR + MODEL)}"],
        }
        notified_log(env)
        for argv in cases.values():  # warm the page cache and the .pyc files
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        results = interleaved_medians({**cases, **floors}, env, args.runs)

    baseline = results["python3 -c pass"]
    floor = results["floor: + dataclasses, pathlib"]
    worst = 0.0
    cache = "off" if args.no_bytecode else "on"
    load = os.getloadavg()[0]
    print(f"median of {args.runs} runs ({' '.join(sundown)}; bytecode cache {cache}; load {load:.2f})")
    for name, seconds in results.items():
        ratio = seconds / baseline
        if name.startswith("floor"):
            print(f"  ({name:<32} {seconds * 1000:5.1f} ms  {ratio:4.1f}x)")
            continue
        worst = max(worst, ratio)
        over = "" if name.startswith("python3") else f"  {seconds / floor:4.2f}x the floor"
        print(f"  {name:<32} {seconds * 1000:7.1f} ms  {ratio:4.1f}x{over}")
    ok = worst <= args.max_ratio
    print(f"target: each <= {args.max_ratio:g}x baseline: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
