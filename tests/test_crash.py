"""Crash safety: the daemon is SIGKILLed over and over while CLI processes write acknowledgements.

What must hold afterwards (docs/stats.md, docs/notify.md): every `sundown ack` that exited 0 left its row, the
database passes `PRAGMA integrity_check`, and tonight's reminders -- due a few seconds apart
right across the kill/restart cycle -- are each logged `notified` exactly once and shown at least
once (a second showing is only possible when an instance died between showing and logging it).

1,000 separate CLI processes would spend most of the test starting Python, so most of them are
forked from a small pre-imported launcher (`LAUNCHER`): each child is still a separate process
running `sundown.cli.main(argv)`, opening its own connection and exiting with its own status. A
share of them is started as plain `python -m sundown` processes too.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from support.daemon import Evening
from support.desktop import wait_until
from support.sandbox import Sandbox

pytestmark = [
    pytest.mark.e2e,  # every test here starts real processes
    # A CPU burst: never beside the tests that time a CLI against a silent daemon (test_control.py).
    pytest.mark.xdist_group("cpu-bursts"),
]

UTC = timezone.utc
KILLS = 20
ACKS = 1000
NIGHTS = 40
REMINDERS = ACKS // NIGHTS  # 25 reminder ids x 40 past nights = 1,000 distinct (night, reminder) pairs
REAL_PROCESS_EVERY = 25  # every 25th ack is a plain `python -m sundown` process
KILLED_ACK_EVERY = 40  # and every 40th is a plain process that is itself SIGKILLed

# Reads one JSON argv per line, forks a child that runs the CLI's main() with it, answers its status.
LAUNCHER = r"""
import json, os, sys
from sundown.cli import main
# What `ack` imports on its way (the CLI imports lazily): each child would import it again.
import sqlite3, tomllib, zoneinfo
import sundown.cli.daemon_cmds, sundown.cli.show, sundown.config, sundown.core.plan, sundown.core.state
import sundown.runtime.control, sundown.store.log
err = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
for line in sys.stdin:
    argv = json.loads(line)
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(err, 2)
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            import traceback
            traceback.print_exc()
            code = 70
        sys.stdout.flush(); sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(f"{os.waitstatus_to_exitcode(status)}\n")
    sys.stdout.flush()
"""


class Launcher:
    """One pre-imported Python that forks a CLI process per request (one at a time)."""

    def __init__(self, box: Sandbox, errors: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(errors)],
            env=box.env,
            cwd=box.root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: list[str]) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@dataclass
class Instance:
    proc: subprocess.Popen[str]
    out: Path
    started: float
    killed: float | None = None


@dataclass
class Daemons:
    """Starts `sundown run` instances, each with its own stdout file; kills them with SIGKILL."""

    box: Sandbox
    instances: list[Instance] = field(default_factory=list)

    def start(self) -> Instance:
        out = self.box.root / f"daemon-{len(self.instances)}.out"
        with out.open("w") as f:
            proc = self.box.popen("run", "--backend", "console", stdout=f, stderr=subprocess.STDOUT)
        inst = Instance(proc, out, time.time())
        self.instances.append(inst)
        return inst

    def kill(self, inst: Instance) -> None:
        inst.proc.send_signal(signal.SIGKILL)
        inst.proc.wait(timeout=10)
        inst.killed = time.time()

    def close(self) -> None:
        for inst in self.instances:
            if inst.proc.poll() is None:
                inst.proc.kill()
                inst.proc.wait()


def test_kill_9_during_a_thousand_acks_loses_no_row_and_no_reminder(sandbox: Sandbox):
    rng = random.Random(20261125)
    ids = [f"r{i:02d}" for i in range(REMINDERS)]
    # Reminders 1 s apart from 4 s on, so the kills land before, between and while they fire.
    evening = Evening(**{rid: 4 + 1.0 * i for i, rid in enumerate(ids)})
    sandbox.write_config(evening.text())
    tonight = evening.bedtime.date() if evening.bedtime.hour >= 12 else evening.bedtime.date() - timedelta(1)
    pairs = [(tonight - timedelta(days=2 + n), rid) for n in range(NIGHTS) for rid in ids]
    rng.shuffle(pairs)
    errors = sandbox.root / "cli-errors.txt"

    daemons = Daemons(sandbox)
    launchers: list[Launcher] = []
    results: dict[tuple[date, str], int] = {}
    killed_acks: dict[tuple[date, str], int] = {}
    lock = threading.Lock()
    local = threading.local()
    done = threading.Event()

    def ack(index: int, night: date, rid: str) -> None:
        argv = ["ack", rid, "--night", night.isoformat(), "--force"]
        if index % KILLED_ACK_EVERY == 7:
            # This one is itself killed at a random moment (start-up, mid-write, nudging).
            victim = sandbox.popen(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with lock:
                pause = rng.uniform(0.05, 0.5)
            time.sleep(pause)
            victim.kill()
            code = victim.wait(timeout=30)
            with lock:
                killed_acks[(night, rid)] = code
            return
        if index % REAL_PROCESS_EVERY == 0:
            proc = sandbox.run(*argv, timeout=60)
            code = proc.returncode
            if "Traceback" in proc.stderr:
                with errors.open("a") as f:
                    f.write(proc.stderr)
        else:
            if not hasattr(local, "launcher"):
                local.launcher = Launcher(sandbox, errors)
                with lock:
                    launchers.append(local.launcher)
            code = local.launcher.run(argv)
        with lock:
            results[(night, rid)] = code

    def all_acks() -> None:
        try:
            with ThreadPoolExecutor(4) as pool:
                for f in [pool.submit(ack, i, n, r) for i, (n, r) in enumerate(pairs)]:
                    f.result()
        finally:
            done.set()

    last_due = max(evening.at.values()).timestamp()
    t0 = time.monotonic()
    writer = threading.Thread(target=all_acks)
    try:
        current = daemons.start()
        writer.start()
        kills = 0
        # Tonight's last two are settled from the CLI while the daemons come and go: never sent.
        sandbox.run("ack", ids[-1], check=True)
        sandbox.run("skip", ids[-2], check=True)
        # Kill at random moments (during start-up too) until enough kills happened, every ack
        # finished and every reminder came due.
        while kills < KILLS or not done.is_set() or time.time() < last_due + 1:
            time.sleep(rng.uniform(0.2, 1.5))
            daemons.kill(current)
            kills += 1
            current = daemons.start()
            assert time.monotonic() - t0 < 150, "the crash test ran too long"
        writer.join()
        # The last instance stays up: it must end with tonight's state intact.
        wait_until(sandbox.daemon_answers, 20, "the last daemon")
        status = json.loads(sandbox.run("status", "--json", check=True).stdout)
        current.proc.send_signal(signal.SIGTERM)
        current.proc.wait(timeout=10)
        assert current.proc.returncode == 0
    finally:
        done.set()
        if writer.is_alive():
            writer.join(timeout=60)
        for launcher in launchers:
            launcher.close()
        daemons.close()

    # 1. Every ack that exited 0 is in the log, once.
    assert len(results) + len(killed_acks) == ACKS
    ok = {pair for pair, code in results.items() if code == 0}
    failed = {pair: code for pair, code in results.items() if code != 0}
    cli_errors = errors.read_text() if errors.exists() else ""
    assert "Traceback" not in cli_errors, cli_errors[-3000:]
    conn = sqlite3.connect(sandbox.db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        acked = conn.execute(
            "SELECT night, reminder, count(*) FROM events WHERE event = 'acknowledged' GROUP BY 1, 2"
        ).fetchall()
        notified = conn.execute(
            "SELECT reminder, count(*), max(json_extract(details, '$.late')) FROM events"
            " WHERE event = 'notified' AND night = ? GROUP BY 1",
            (tonight.isoformat(),),
        ).fetchall()
        missed = conn.execute("SELECT count(*) FROM events WHERE event = 'missed'").fetchone()[0]
    finally:
        conn.close()
    logged = {(date.fromisoformat(n), r): c for n, r, c in acked}
    assert logged.pop((tonight, ids[-1])) == 1  # the one settled from the CLI for tonight
    lost = ok - logged.keys()
    assert not lost, f"{len(lost)} acknowledgements exited 0 but are not in the log: {sorted(lost)[:5]}"
    assert all(c == 1 for c in logged.values()), "an acknowledgement was written twice"
    assert logged.keys() <= ok | killed_acks.keys(), "a row nobody wrote"
    finished = {pair for pair, code in killed_acks.items() if code == 0}
    assert finished <= logged.keys()
    assert len(failed) <= ACKS // 100, f"too many acks failed: {failed}"

    # 2. Tonight's reminders: each logged exactly once, none missed, all shown.
    sent = ids[:-2]
    assert {r: c for r, c, _ in notified} == dict.fromkeys(sent, 1)
    assert missed == 0
    states = [row["state"] for row in status["tonight"]]
    assert states == ["notified"] * len(sent) + ["skipped", "acknowledged"], states
    shown: dict[str, list[int]] = {rid: [] for rid in sent}
    for number, inst in enumerate(daemons.instances):
        for line in inst.out.read_text().splitlines():
            if line.startswith("sundown: ["):
                for rid in ids:
                    if f"R{rid[1:]}" in line:
                        assert rid in sent, f"{rid} was settled from the CLI but shown: {line}"
                        shown[rid].append(number)
    never = [rid for rid, who in shown.items() if not who]
    assert not never, f"never shown: {never}"
    for rid, who in shown.items():
        # Shown twice only by different instances, the earlier one killed (between show and log).
        assert len(who) == len(set(who)), f"{rid} shown twice by one instance"
        assert all(daemons.instances[n].killed is not None for n in who[:-1]), rid
    assert kills >= KILLS
    report = {
        "kills": kills,
        "acks_ok": len(ok),
        "acks_failed": len(failed),
        "acks_killed": len(killed_acks) - len(finished),
        "killed_acks_committed_anyway": len((killed_acks.keys() - finished) & logged.keys()),
        "shown_twice": sum(len(w) > 1 for w in shown.values()),
        "max_late_s": max(late for _, _, late in notified),
        "seconds": round(time.monotonic() - t0, 1),
    }
    print("crash test:", json.dumps(report))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    (sandbox.root / "report.json").write_text(json.dumps({"at": stamp, **report}))
