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
- Footprint (`--footprint`): the idle daemon's VmRSS, median of `--runs` fresh daemons, in three
  settings: `console` (no session bus, the console backend: no D-Bus API, no tray), `desktop`
  (an X11 session: a session bus, dunst as the notification server, the D-Bus API, the tray
  registered in xfce4-panel, a follower), `desktop+winddown+push` (the same with a `[winddown]`
  whose window starts in 30 minutes and a `[push]` to the tests' local ntfy server, connected).
  The last daemon of each setting then idles `--idle-seconds`: the context switches of each of
  its threads (target 0; with `[push]` the server's keepalives, every 30 s from the tests'
  server, 45 s from ntfy.sh, wake the thread that reads its stream and the one that watches its
  deadline) and VmRSS again at the end. xfconfd, which xfce4-panel needs at its start, is
  stopped before that period: it quits by itself after five idle minutes, and the daemon, which
  follows the services its context sources live in, then ticks once.
  The sources are compiled first (`compileall`), as an installed package's are: otherwise each
  start compiles them, which leaves about 1 MB more behind. `--python` runs the daemons with
  another interpreter (a virtualenv with only sundown's dependencies, as pipx makes).

Usage: python3 bench/bench_surfaces.py [--idle-seconds 120] [--reminders 10]
       python3 bench/bench_surfaces.py --footprint [--runs 5] [--idle-seconds 300] [--python PATH]
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
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench_daemon import WINDDOWN, desktop, idle_figures, rss_kb, start_daemon, stop, write_config
from isolated import isolated_env

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.dbus_client import NAME, Client  # noqa: E402
from support.desktop import wait_until  # noqa: E402
from support.tray_host import TrayHost  # noqa: E402

UTC = timezone.utc


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
            switched, rss, threads = idle_figures(daemon.pid, seconds)
        finally:
            follow.terminate()
            follow.wait(5)
            stop(daemon)
        print(
            f"idle with the D-Bus API, the tray (in xfce4-panel) and a follower: {switched}"
            f" context switches across {threads} threads in {seconds:.0f} s (target 0);"
            f" VmRSS {rss / 1024:.1f} MB (target <= 26 MB)"
        )
    finally:
        desk.close()


SETTINGS = ("console", "desktop", "desktop+winddown+push")


def footprint_config(env: dict[str, str], winddown: bool, push_url: str | None) -> None:
    """A reminder an hour ahead, bedtime in two; the wind-down's window begins in 30 minutes."""
    now = datetime.now(UTC)
    bedtime = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    text = f'timezone = "UTC"\n[bedtime]\ndefault = "{bedtime:%H:%M}"\n[reminders.r00]\nbefore = "1h"\n'
    if winddown:
        text += WINDDOWN.format(before="90m", until="07:00")
    if push_url:
        from support.answers import secret_line

        text += f'[push]\nntfy = "{push_url}/bench-footprint"\ndevice = "bench"\n' + secret_line()
    path = Path(env["XDG_CONFIG_HOME"]) / "sundown" / "config.toml"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)


def thread_switches(pid: int) -> dict[int, int]:
    """Voluntary + involuntary context switches of each thread."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            lines = (task / "status").read_text().splitlines()
        except OSError:
            continue
        found[int(task.name)] = sum(int(line.split()[1]) for line in lines if "ctxt_switches" in line)
    return found


def memory(pid: int) -> dict[str, int]:
    """VmRSS and its anonymous and file-backed parts (kB)."""
    rollup = dict(
        (line.split(":")[0], int(line.split()[1]))
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
    )
    return {"rss": rss_kb(pid), "anon": rollup["Anonymous"], "file": rollup["Rss"] - rollup["Anonymous"]}


def bench_footprint(root: Path, setting: str, runs: int, seconds: float, python: str) -> None:
    from support.ntfy_server import NtfyServer

    on_desktop = setting != "console"
    root = root / str(SETTINGS.index(setting))  # a bus address takes no "+"
    desk = desktop(root / "desk", with_x=True) if on_desktop else None
    server = NtfyServer() if "push" in setting else None
    try:
        panel = TrayHost(desk) if desk is not None else None
        if desk is not None:
            desk.start_server()
        samples: list[dict[str, int]] = []
        for run in range(runs):
            env = {**isolated_env(root / str(run)), **(desk.session_vars if desk else {})}
            footprint_config(env, "winddown" in setting, server.url if server else None)
            argv = [python, "-m", "sundown", "run"] + ([] if on_desktop else ["--backend", "console"])
            daemon = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            follow = None
            try:
                wait_until(lambda: _status(env).get("running"), 20, "the daemon")  # noqa: B023
                if panel is not None:
                    item = f"org.kde.StatusNotifierItem-{daemon.pid}-1"
                    wait_until(lambda: any(item in r for r in panel.registered()), 20, "the tray item")  # noqa: B023
                    follow, _ = follower(env)
                if server is not None:
                    wait_until(lambda: (_status(env).get("push") or {}).get("connected"), 20, "push")  # noqa: B023
                time.sleep(3)  # the tray host and the follower have read what they read
                samples.append(memory(daemon.pid))
                if run == runs - 1 and seconds > 0:
                    if desk is not None and "xfconfd" in desk.procs:
                        # xfconfd (the panel reads its settings from it at start) quits by itself
                        # after five idle minutes; the daemon, which follows the services its
                        # context sources live in, ticks once when it does: not an idle wakeup.
                        from support.desktop import _kill_group

                        _kill_group(desk.procs.pop("xfconfd"))
                        time.sleep(3)
                    before = thread_switches(daemon.pid)
                    time.sleep(seconds)
                    after = thread_switches(daemon.pid)
                    woke = {tid: after.get(tid, 0) - n for tid, n in before.items()}
                    busy = {tid: n for tid, n in woke.items() if n}
                    end = memory(daemon.pid)
                    print(
                        f"  idle {seconds:.0f} s: {sum(woke.values())} context switches across"
                        f" {len(woke)} threads{f' (per thread id: {busy})' if busy else ''};"
                        f" VmRSS then {end['rss'] / 1024:.1f} MB"
                    )
            finally:
                if follow is not None:
                    follow.terminate()
                    follow.wait(5)
                stop(daemon)
        rss = sorted(s["rss"] for s in samples)
        print(
            f"{setting}: VmRSS median {statistics.median(rss) / 1024:.1f} MB"
            f" (min {rss[0] / 1024:.1f}, max {rss[-1] / 1024:.1f}; {runs} daemons;"
            f" anonymous {statistics.median(s['anon'] for s in samples) / 1024:.1f} MB,"
            f" file-backed {statistics.median(s['file'] for s in samples) / 1024:.1f} MB) (target <= 26 MB)"
        )
    finally:
        if server is not None:
            server.close()
        if desk is not None:
            desk.close()


def _status(env: dict[str, str]) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "sundown", "status", "--json"], env=env, capture_output=True, text=True
    ).stdout
    try:
        return json.loads(out)
    except ValueError:
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=120)
    parser.add_argument("--reminders", type=int, default=10)
    parser.add_argument("--footprint", action="store_true", help="only the idle footprint, three settings")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="with --footprint: which of them")
    parser.add_argument("--runs", type=int, default=5, help="with --footprint: daemons per setting")
    parser.add_argument("--python", default=sys.executable, help="with --footprint: the daemon's interpreter")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.footprint:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=True)
            print(
                f"python: {args.python}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC;"
                f" load average {os.getloadavg()[0]:.2f}"
            )
            for setting in args.settings.split(","):
                bench_footprint(root, setting, args.runs, args.idle_seconds, args.python)
            return
        bench_latency(root, args.reminders)
        bench_idle(root, args.idle_seconds)


if __name__ == "__main__":
    main()
