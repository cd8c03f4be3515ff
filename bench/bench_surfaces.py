"""Where people look: how soon a change shows there, and what the surfaces cost while idle.
Prints figures; not a timed test.

- Latency: reminders a few seconds apart, a `sundown status --follow --format json` process and a
  D-Bus client on the daemon's PropertiesChanged; for each reminder, the follower's line and the
  signal, each measured from the reminder's scheduled instant and from its `notified` row.
  Target: within 50 ms of the row.
- Idle: a daemon with nothing due for the next hour, its D-Bus API on a private session bus, its
  tray item registered with a real tray (xfce4-panel's status tray under Xvfb) and a follower
  connected: context switches of every thread over the idle period (target 0) and VmRSS
  (target <= 26 MB).

Usage: python3 bench/bench_surfaces.py [--idle-seconds 120] [--reminders 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from bench_daemon import rss_kb, start_daemon, stop, switches, write_config
from isolated import isolated_env

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.dbus_client import NAME, Client  # noqa: E402
from support.desktop import Desktop, wait_until  # noqa: E402
from support.tray_host import TrayHost  # noqa: E402


def desktop(root: Path, with_x: bool) -> Desktop:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "XDG_", "DISPLAY", "WAYLAND_"))}
    runtime = root / "run"
    runtime.mkdir(mode=0o700, parents=True)
    desk = Desktop(root, env={**base, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(root)})
    desk.start_bus()
    if with_x:
        desk.start_x()
    return desk


def follower(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[tuple[float, dict]]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sundown", "status", "--follow", "--format", "json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[tuple[float, dict]] = []

    def read() -> None:
        assert proc.stdout is not None
        for text in proc.stdout:
            lines.append((time.time(), json.loads(text)))

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def notified_rows(env: dict[str, str]) -> dict[str, float]:
    db = Path(env["XDG_STATE_HOME"]) / "sundown" / "sundown.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT reminder, ts FROM events WHERE event = 'notified'").fetchall()
    finally:
        conn.close()
    return {rid: datetime.fromisoformat(ts).timestamp() for rid, ts in rows}


def summary(name: str, values: list[float]) -> str:
    values = sorted(values)
    return f"{name}: median {statistics.median(values):.1f} ms, max {values[-1]:.1f} ms"


def bench_latency(root: Path, count: int) -> None:
    desk = desktop(root / "desk", with_x=False)
    try:
        env = {**isolated_env(root / "lat"), **desk.session_vars}
        instants = write_config(env, [4 + 2 * i for i in range(count)])
        daemon = start_daemon(env, "--backend", "console")
        follow, lines = follower(env)
        client = Client(desk.address)
        signals: dict[str, float] = {}
        try:
            wait_until(client.owner, 10, NAME)
            with client.properties_changed() as queue:
                deadline = time.monotonic() + 2 * count + 30
                while len(signals) < count and time.monotonic() < deadline:
                    arrived, changed = client.next_change(queue, timeout=30)
                    wall = time.time() - (time.monotonic() - arrived)
                    for row in changed.get("Reminders", ("", []))[1]:
                        rid = row["id"][1]
                        if row["state"][1] == "notified" and rid not in signals:
                            signals[rid] = wall
            wait_until(lambda: len({r for _, d in lines for r in _notified(d)}) >= count, 10, "the lines")
            rows = notified_rows(env)
        finally:
            client.close()
            follow.terminate()
            follow.wait(5)
            stop(daemon)
        first_line = {}
        for at, data in lines:
            for rid in _notified(data):
                first_line.setdefault(rid, at)
        due = {f"r{i:02d}": t.timestamp() for i, t in enumerate(instants)}
        print(f"over {count} reminders:")
        print(
            "  "
            + summary(
                "follower line after the notified row", [1000 * (first_line[r] - rows[r]) for r in rows]
            )
        )
        print(
            "  "
            + summary(
                "PropertiesChanged after the notified row", [1000 * (signals[r] - rows[r]) for r in rows]
            )
        )
        print(
            "  "
            + summary(
                "follower line after the scheduled instant", [1000 * (first_line[r] - due[r]) for r in rows]
            )
        )
        print(
            "  "
            + summary(
                "PropertiesChanged after the scheduled instant", [1000 * (signals[r] - due[r]) for r in rows]
            )
        )
        print("  (target: within 50 ms of the row)")
    finally:
        desk.close()


def _notified(data: dict) -> list[str]:
    return [r["reminder"] for r in data.get("tonight", []) if r["state"] == "notified"]


def bench_idle(root: Path, seconds: float) -> None:
    desk = desktop(root / "idle-desk", with_x=True)
    try:
        panel = TrayHost(desk)
        env = {**isolated_env(root / "idle"), **desk.session_vars}
        write_config(env, [3600])
        daemon = start_daemon(env, "--backend", "console")
        follow, _ = follower(env)
        try:
            item = f"org.kde.StatusNotifierItem-{daemon.pid}-1"
            wait_until(lambda: any(item in r for r in panel.registered()), 20, "the tray item registered")
            time.sleep(3)  # the tray host has read the item
            before = switches(daemon.pid)
            time.sleep(seconds)
            after = switches(daemon.pid)
            rss = rss_kb(daemon.pid)
            threads = len(list(Path(f"/proc/{daemon.pid}/task").iterdir()))
        finally:
            follow.terminate()
            follow.wait(5)
            stop(daemon)
        print(
            f"idle with the D-Bus API, the tray (in xfce4-panel) and a follower: {after - before}"
            f" context switches across {threads} threads in {seconds:.0f} s (target 0);"
            f" VmRSS {rss / 1024:.1f} MB (target <= 26 MB)"
        )
    finally:
        desk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument("--reminders", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench_latency(root, args.reminders)
        bench_idle(root, args.idle_seconds)


if __name__ == "__main__":
    main()
