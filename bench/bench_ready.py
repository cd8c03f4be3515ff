"""Benchmark: process start -> READY=1 for `sundown run --backend console` under a NOTIFY_SOCKET.

    python3 bench/bench_ready.py [--runs 10] [--target-ms 600]

This is what systemd waits for with Type=notify before the unit counts as started
(and what `systemctl --user start sundown` blocks on). Each run gets its own
isolated XDG dirs and a fresh AF_UNIX datagram socket as NOTIFY_SOCKET; the clock
starts just before the process is spawned. Prints each run, the median and the
`python3 -c pass` baseline; exits 1 when the median misses the target.
"""

from __future__ import annotations

import argparse
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from isolated import isolated_env

REPO = Path(__file__).resolve().parent.parent

CONFIG = """
[bedtime]
default = "22:30"
[reminders.wind-down]
before = "60m"
[reminders.magnesium]
before = "45m"
repeat = "10m"
[reminders.screens-off]
at = "22:00"
"""


def one_run(root: Path) -> float:
    """Seconds from spawn to READY=1 on the notify socket."""
    for sub in ("config/sundown", "state", "run"):
        (root / sub).mkdir(parents=True, mode=0o700)
    (root / "config" / "sundown" / "config.toml").write_text(CONFIG)
    address = str(root / "notify")
    env = isolated_env(root, NOTIFY_SOCKET=address)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(30)
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sundown", "run", "--backend", "console"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=root,
        )
        try:
            while True:
                fields = sock.recv(4096).decode().split("\n")
                if "READY=1" in fields:
                    elapsed = time.perf_counter() - start
                    break
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return elapsed


def baseline(runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--target-ms", type=float, default=600.0)
    args = parser.parse_args()
    times = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="sundown-ready-") as tmp:
            t = one_run(Path(tmp))
        times.append(t)
        print(f"run {i + 1:2d}: {t * 1000:6.1f} ms")
    median = statistics.median(times)
    base = baseline(args.runs)
    spread = f"min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}"
    print(f"start -> READY=1: median {median * 1000:.1f} ms ({spread})")
    print(f"python3 -c pass:  median {base * 1000:.1f} ms")
    ok = median * 1000 <= args.target_ms
    print(f"target <= {args.target_ms:.0f} ms: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
