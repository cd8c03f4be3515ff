"""Benchmark: wall time of the quick commands against a bare Python start.

    python3 bench/bench_cli.py [--runs 10] [--max-ratio 5]

Runs `python3 -c pass`, `sundown next --count 20` and `sundown check` RUNS times
each (the example config in a temporary XDG config dir, no log), prints the median
of each and its ratio to the baseline. Exits 1 when a ratio is over --max-ratio.
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


def sundown_argv() -> list[str]:
    script = Path(sys.executable).parent / "sundown"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "sundown"]


def median_seconds(argv: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--max-ratio", type=float, default=5.0)
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
            "sundown next --count 20": [*sundown, "next", "--count", "20"],
            "sundown check": [*sundown, "check"],
        }
        for argv in cases.values():  # warm the page cache and the .pyc files
            subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        results = {name: median_seconds(argv, env, args.runs) for name, argv in cases.items()}

    baseline = results["python3 -c pass"]
    worst = 0.0
    cache = "off" if args.no_bytecode else "on"
    print(f"median of {args.runs} runs ({' '.join(sundown)}; bytecode cache {cache})")
    for name, seconds in results.items():
        ratio = seconds / baseline
        worst = max(worst, ratio)
        print(f"  {name:<26} {seconds * 1000:7.1f} ms  {ratio:4.1f}x")
    ok = worst <= args.max_ratio
    print(f"target: each <= {args.max_ratio:g}x baseline: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
