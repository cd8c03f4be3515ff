"""Push across machines: answer-to-settle latency and the daemon's memory with push on.

Two daemons (two state dirs, one topic) run against the local ntfy server of the
tests (tests/support/ntfy_server.py, 127.0.0.1). For each of N reminders of tonight, an
answer is published to the reply topic exactly as the phone's Done button does;
latency = the moment both daemons' logs hold the acknowledgement - the publish.
Target (docs/push.md): every answer settles on every machine within 2 s.

Memory: VmRSS of one daemon with push on (after the answers) and of one without
`[push]`, each idle on the same routine.

Usage: python3 bench/bench_push.py [--answers 40]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from isolated import isolated_env

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src"))

from sundown.core.plan import night_of  # noqa: E402
from support.answers import secret_line, signed  # noqa: E402
from support.ntfy_server import NtfyServer  # noqa: E402

UTC = timezone.utc
TOPIC = "bench-push"


def write_config(env: dict[str, str], count: int, push: str) -> datetime:
    """`count` reminders an hour or more ahead (nothing fires during the run)."""
    now = datetime.now(UTC)
    bedtime = (now + timedelta(hours=3)).replace(second=0, microsecond=0)
    lines = [f'timezone = "UTC"\n[bedtime]\ndefault = "{bedtime:%H:%M}"\n']
    lines += [f'[reminders.r{i:02d}]\nbefore = "{60 + i}m"\n' for i in range(count)]
    path = Path(env["XDG_CONFIG_HOME"]) / "sundown" / "config.toml"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text("\n".join(lines) + push)
    path.chmod(0o600)
    return bedtime


def start(env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sundown", "run", "--backend", "console"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        out = subprocess.run(
            [sys.executable, "-m", "sundown", "status", "--json"], env=env, capture_output=True, text=True
        ).stdout
        if '"running": true' in out and (push := json.loads(out).get("push")) is not None:
            if push.get("connected"):
                return proc
        elif '"running": true' in out and "[push]" not in config_text(env):
            return proc
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the daemon did not come up")


def config_text(env: dict[str, str]) -> str:
    return (Path(env["XDG_CONFIG_HOME"]) / "sundown" / "config.toml").read_text()


def acked(db: Path) -> set[str]:
    if not db.exists():
        return set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return {r for (r,) in conn.execute("SELECT reminder FROM events WHERE event = 'acknowledged'")}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--answers", type=int, default=40)
    args = parser.parse_args()
    server = NtfyServer()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            envs = [isolated_env(Path(tmp) / name) for name in ("a", "b", "plain")]
            for env, device in zip(envs[:2], ("laptop", "desktop"), strict=True):
                bedtime = write_config(
                    env,
                    args.answers,
                    f'\n[push]\nntfy = "{server.url}/{TOPIC}"\ndevice = "{device}"\n' + secret_line(),
                )
            write_config(envs[2], args.answers, "")
            procs = [start(env) for env in envs]
            dbs = [Path(env["XDG_STATE_HOME"]) / "sundown" / "sundown.db" for env in envs[:2]]
            night = night_of(bedtime - timedelta(hours=1), UTC)
            latencies = []
            for i in range(args.answers):
                rid = f"r{i:02d}"
                t0 = time.monotonic()
                server.publish(f"{TOPIC}-replies", signed(night, (rid,), "done", nonce=f"bench-{rid}"))
                while not all(rid in acked(db) for db in dbs):
                    if time.monotonic() - t0 > 10:
                        raise SystemExit(f"{rid} did not settle on both daemons within 10 s")
                    time.sleep(0.002)
                latencies.append((time.monotonic() - t0) * 1000)
                time.sleep(0.05)
            time.sleep(1)
            latencies.sort()
            p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
            print(f"answer-to-settle on both daemons, {len(latencies)} answers:")
            median = statistics.median(latencies)
            print(f"  median {median:.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms")
            print(f"daemon RSS with push on:  {rss_mb(procs[0].pid):.1f} MB (after the answers)")
            print(f"daemon RSS without push:  {rss_mb(procs[2].pid):.1f} MB")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
        server.close()


if __name__ == "__main__":
    main()
