"""Push end to end: two real daemons (two state dirs, one topic) and a local ntfy server.

A phone answer (a publish to the reply topic, as the ntfy app's `http` action does)
settles the reminder on both; a Done on one desktop (real dunst) withdraws the other
daemon's notification; kill -9 in the middle of the stream loses no answer.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest

from sundown.core.plan import night_of
from support.answers import secret_line, signed
from support.daemon import UTC, Evening
from support.desktop import Desktop, wait_until
from support.ntfy_server import NtfyServer
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes

TOPIC = "evening-e2e"
REPLIES = f"{TOPIC}-replies"
SETTLE_S = 2.0


@pytest.fixture
def server():
    srv = NtfyServer()
    yield srv
    srv.close()


@pytest.fixture
def procs():
    running: list[subprocess.Popen[str]] = []
    yield running
    for p in running:
        if p.poll() is None:
            p.kill()
            p.communicate()


def box(tmp_path: Path, name: str) -> Sandbox:
    root = tmp_path / name
    root.mkdir()
    return Sandbox(root)


def push_config(evening: Evening, server: NtfyServer, device: str, **extra: str) -> str:
    push = f'\n[push]\nntfy = "{server.url}/{TOPIC}"\ndevice = "{device}"\n' + secret_line()
    return evening.text(**extra) + push


def two_machines(tmp_path: Path, server: NtfyServer, evening: Evening) -> tuple[Sandbox, Sandbox]:
    """The laptop and the desktop of one person: `evening` on both, pushed through `server`."""
    a, b = box(tmp_path, "a"), box(tmp_path, "b")
    a.write_config(push_config(evening, server, "laptop"))
    b.write_config(push_config(evening, server, "desktop"))
    return a, b


def both_connected(a: Sandbox, b: Sandbox, timeout: float = 10) -> None:
    wait_until(lambda: push_status(a)["connected"] and push_status(b)["connected"], timeout, "both streams")


def rows(sandbox: Sandbox, event: str | None = None) -> list[dict]:
    """The log read directly (no CLI process): fast enough to time a 2 s promise."""
    if not sandbox.db_path.exists():
        return []
    with closing(sqlite3.connect(f"file:{sandbox.db_path}?mode=ro", uri=True, timeout=5)) as conn, conn:
        found = conn.execute(
            "SELECT night, reminder, event, source, details FROM events ORDER BY id"
        ).fetchall()
    out = [
        {"night": n, "reminder": r, "event": e, "source": s, "details": json.loads(d)}
        for n, r, e, s, d in found
    ]
    return [r for r in out if event is None or r["event"] == event]


def push_status(sandbox: Sandbox) -> dict:
    """The daemon's `push` status (what `status --json` shows), asked in process: cheap to poll."""
    reply = sandbox.ask("status")
    assert reply is not None and reply.get("ok"), f"the daemon did not answer: {reply}"
    return reply["push"]


def night(evening: Evening) -> date:
    return night_of(evening.at[next(iter(evening.at))], UTC)


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=5)
    return err


def test_a_phone_answer_settles_the_reminder_on_both_machines(
    tmp_path: Path, server: NtfyServer, procs
) -> None:
    evening = Evening(magnesium=3, tea=200)
    a, b = two_machines(tmp_path, server, evening)
    procs.append(a.start_daemon("--backend", "console"))
    procs.append(b.start_daemon("--backend", "console"))
    wait_until(lambda: rows(a, "notified") and rows(b, "notified"), 15, "both daemons to notify")
    pushes = wait_until(lambda: len(server.messages(TOPIC)) >= 2 and server.messages(TOPIC), 5, "two pushes")
    # Both machines pushed the same reminder under one sequence id: one notification on the phone.
    assert {m["sequence_id"] for m in pushes} == {f"sd-{night(evening).isoformat()}-magnesium"}
    assert all(m["title"] == "Magnesium" and len(m["actions"]) == 2 for m in pushes)

    both_connected(a, b, timeout=5)
    done = json.loads(pushes[0]["actions"][0]["body"])  # exactly what the phone's Done button publishes
    started = time.monotonic()
    server.publish(REPLIES, json.dumps(done))
    wait_until(lambda: rows(a, "acknowledged") and rows(b, "acknowledged"), 10, "both to settle")
    took = time.monotonic() - started
    assert took < SETTLE_S, took
    for s in (a, b):
        [ack] = rows(s, "acknowledged")
        assert (ack["reminder"], ack["source"]) == ("magnesium", "phone")
    # The phone's copy is cleared by the app itself (the action has clear: true); nothing repeats.

    # The same answer again, an unknown reminder, junk: ignored, counted, nothing logged.
    server.publish(REPLIES, json.dumps(done))
    server.publish(REPLIES, signed(night(evening), ("no-such",), "done", nonce="n-no-such"))
    server.publish(REPLIES, "hello from someone else")
    for s in (a, b):
        counts = wait_until(
            lambda s=s: (
                (c := push_status(s)["answers"]) and c["duplicate"] and c["unknown"] and c["unparsed"] and c
            ),
            5,
            "the counts",
        )
        assert {k: v for k, v in counts.items() if v} == {
            "unparsed": 1,
            "unknown": 1,
            "duplicate": 1,
            "applied": 1,
        }
        assert len(rows(s, "acknowledged")) == 1
    human = a.run("status", check=True).stdout
    assert "push" in human and "ignored" in human
    for p in procs:
        assert "Traceback" not in stop(p)


def test_a_phone_snooze_snoozes_both(tmp_path: Path, server: NtfyServer, procs) -> None:
    evening = Evening(tea=2)
    a, b = two_machines(tmp_path, server, evening)
    procs.append(a.start_daemon("--backend", "console"))
    procs.append(b.start_daemon("--backend", "console"))
    both_connected(a, b)
    wait_until(lambda: rows(a, "notified") and rows(b, "notified"), 5, "both to notify tea")
    server.publish(REPLIES, signed(night(evening), ("tea",), "snooze", nonce="n-tea"))
    wait_until(lambda: rows(a, "snoozed") and rows(b, "snoozed"), SETTLE_S + 1, "both to snooze")
    for s in (a, b):
        [snooze] = rows(s, "snoozed")
        assert snooze["source"] == "phone" and "until" in snooze["details"]


def test_done_on_one_desktop_withdraws_the_other_machines_notification(
    tmp_path: Path, server: NtfyServer, desktop: Desktop, procs
) -> None:
    evening = Evening(magnesium=4)
    a, b = box(tmp_path, "a"), box(tmp_path, "b")
    # Two machines, one dunst here: titles differ so that dunst does not stack them into one.
    a.write_config(push_config(evening, server, "laptop", magnesium='title = "Magnesium (laptop)"\n'))
    b.write_config(push_config(evening, server, "desktop", magnesium='title = "Magnesium (desktop)"\n'))
    env = desktop.session_vars
    procs.append(a.start_daemon("--backend", "dbus", env=env))
    procs.append(b.start_daemon("--backend", "dbus", env=env))
    both_connected(a, b)
    desktop.monitor.wait_notify(2, timeout=15)
    wait_until(lambda: desktop.displayed() == 2, 5, "both notifications on screen")
    clicked = time.monotonic()
    desktop.dunstctl("action", "0")  # Done on one of the two (whichever dunst shows first)
    wait_until(lambda: desktop.displayed() == 0, 5, "both notifications gone")
    took = time.monotonic() - clicked
    by_click = [s for s in (a, b) if any(r["source"] == "action" for r in rows(s, "acknowledged"))]
    assert len(by_click) == 1
    other = b if by_click[0] is a else a
    device = "laptop" if by_click[0] is a else "desktop"
    [ack] = rows(other, "acknowledged")
    assert ack["source"] == f"device:{device}"
    assert took < SETTLE_S, took
    # The desktop's Done was published as an answer too: the phone's copy is cleared.
    wait_until(lambda: server.messages(TOPIC, "message_clear"), 5, "the phone's copy cleared")
    for p in procs:
        assert "Traceback" not in stop(p)


def test_kill_9_mid_stream_loses_no_answer(tmp_path: Path, server: NtfyServer, procs) -> None:
    evening = Evening(one=-40, two=-30, three=-20, four=-10)  # due: an answer from elsewhere may be
    a = box(tmp_path, "a")
    a.write_config(push_config(evening, server, "laptop"))
    n = night(evening)
    proc = a.start_daemon("--backend", "console")
    wait_until(lambda: push_status(a)["connected"], 10, "the stream")
    server.publish(REPLIES, signed(n, ("one",), "done", nonce="n-one"))
    wait_until(lambda: rows(a, "acknowledged"), 5, "the first answer")
    # The second answer is on its way down the stream as the daemon dies.
    server.publish(REPLIES, signed(n, ("two",), "done", nonce="n-two"))
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    # The third and fourth come while it is down.
    server.publish(REPLIES, signed(n, ("three",), "done", nonce="n-three"))
    server.publish(REPLIES, signed(n, ("four",), "snooze", nonce="n-four"))
    procs.append(a.start_daemon("--backend", "console"))
    wait_until(lambda: len(rows(a, "acknowledged")) == 3 and rows(a, "snoozed"), 10, "every answer")
    time.sleep(1)
    acked = sorted(r["reminder"] for r in rows(a, "acknowledged"))
    assert acked == ["one", "three", "two"]  # each exactly once
    assert [r["reminder"] for r in rows(a, "snoozed")] == ["four"]


def test_before_suspend_the_running_daemon_hands_reminders_to_the_server(
    tmp_path: Path, server: NtfyServer, bare_bus: Desktop, procs
) -> None:
    from support.desktop import emit_prepare_for_sleep

    evening = Evening(tea=120, water=180)
    a = box(tmp_path, "a")
    a.write_config(push_config(evening, server, "laptop"))
    proc = a.start_daemon("--backend", "console", env={"SUNDOWN_SYSTEM_BUS": bare_bus.address})
    procs.append(proc)
    emit_prepare_for_sleep(bare_bus, True)
    try:
        scheduled = wait_until(lambda: len(server.scheduled) == 2 and list(server.scheduled), 10, "hand-off")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stop(proc)}") from None
    n = night(evening).isoformat()
    assert sorted(m["fields"]["sequence_id"] for m in scheduled) == [f"sd-{n}-tea", f"sd-{n}-water"]
    assert {int(m["at"]) for m in scheduled} == {int(t.timestamp()) for t in evening.at.values()}
    # Woken before their time: cancelled on the server, sent as usual later.
    emit_prepare_for_sleep(bare_bus, False)
    wait_until(lambda: not server.scheduled, 5, "the cancel on resume")
    assert len(server.messages(TOPIC, "message_delete")) == 2
    assert "Traceback" not in stop(proc)


@pytest.mark.parametrize("fault", ["down", "slow", "429-500"])
def test_a_bad_server_never_delays_the_desktop_and_the_push_arrives_once(
    tmp_path: Path, server: NtfyServer, procs, fault: str
) -> None:
    evening = Evening(tea=4)
    a = box(tmp_path, "a")
    a.write_config(push_config(evening, server, "laptop"))
    procs.append(a.start_daemon("--backend", "console"))
    if fault == "down":
        server.stop()
    elif fault == "slow":
        server.delay_s = 5
    else:
        server.fail_next = [429, 500, 502]
    [notified] = wait_until(lambda: rows(a, "notified"), 15, "the desktop notification")
    # `late` is counted from the reminder's own time: the desktop did not wait for the server.
    assert notified["details"]["late"] <= 1, notified
    if fault == "down":
        status = wait_until(lambda: (p := push_status(a))["error"] and p, 5, "the problem in status")
        assert "cannot reach" in status["error"] and status["queued"] == 1
        server.start()
    [pushed] = wait_until(lambda: server.messages(TOPIC), 20, "the push once the server is back")
    # Nothing left to send: a job stays queued until the server took it, so no retry can follow.
    wait_until(
        lambda: (p := push_status(a))["error"] is None and p["queued"] == 0, 10, "the problem to clear"
    )
    assert server.messages(TOPIC) == [pushed]  # once


def test_ack_and_snooze_from_the_command_line_reach_the_other_machine(
    tmp_path: Path, server: NtfyServer, procs
) -> None:
    evening = Evening(magnesium=2, tea=3)
    a, b = two_machines(tmp_path, server, evening)
    procs.append(a.start_daemon("--backend", "console"))
    procs.append(b.start_daemon("--backend", "console"))
    both_connected(a, b)
    wait_until(lambda: len(rows(a, "notified")) == 2, 15, "both reminders")
    a.run("ack", "magnesium", check=True)
    a.run("snooze", "tea", "20m", check=True)
    wait_until(lambda: rows(b, "acknowledged") and rows(b, "snoozed"), SETTLE_S + 1, "b to follow")
    [ack] = rows(b, "acknowledged")
    assert (ack["reminder"], ack["source"]) == ("magnesium", "device:laptop")
    [snooze_a], [snooze_b] = rows(a, "snoozed"), rows(b, "snoozed")
    assert snooze_b["source"] == "device:laptop"
    assert snooze_b["details"]["until"][:19] == snooze_a["details"]["until"][:19]  # the same 20 minutes
    time.sleep(1)
    assert len(rows(a, "acknowledged")) == 1 and len(rows(a, "snoozed")) == 1  # its own echo changes nothing


def test_an_answer_made_while_the_server_is_down_survives_kill_9_of_its_daemon(
    tmp_path: Path, server: NtfyServer, procs
) -> None:
    evening = Evening(magnesium=-10)  # due: the other machine takes no Done for one ahead
    a, b = two_machines(tmp_path, server, evening)
    proc_a = a.start_daemon("--backend", "console")
    procs.append(b.start_daemon("--backend", "console"))
    both_connected(a, b)
    server.stop()
    a.run("ack", "magnesium", check=True)
    wait_until(lambda: push_status(a)["queued"] >= 1, 5, "the answer waiting for the server")
    proc_a.send_signal(signal.SIGKILL)
    proc_a.communicate()
    server.start()
    procs.append(a.start_daemon("--backend", "console"))
    wait_until(lambda: rows(b, "acknowledged"), 15, "the answer to reach the other machine")
    [ack] = rows(b, "acknowledged")
    assert ack["source"] == "device:laptop"
    replies = [m for m in server.messages(REPLIES) if '"from":"laptop"' in m["message"]]
    assert len(replies) == 1
    # Published once: a further restart sends nothing again.
    procs[-1].send_signal(signal.SIGTERM)
    procs[-1].communicate(timeout=5)
    procs.append(a.start_daemon("--backend", "console"))
    time.sleep(2)
    assert len([m for m in server.messages(REPLIES) if '"from":"laptop"' in m["message"]]) == 1
    assert len(rows(b, "acknowledged")) == 1


def test_sigterm_while_a_push_hangs_on_a_slow_server_exits_within_a_second(
    tmp_path: Path, server: NtfyServer, procs
) -> None:
    evening = Evening(tea=3)
    a = box(tmp_path, "a")
    a.write_config(push_config(evening, server, "laptop"))
    proc = a.start_daemon("--backend", "console")
    procs.append(proc)
    server.delay_s = 5
    wait_until(lambda: rows(a, "notified"), 15, "the reminder")
    # The push reached the server, which holds its answer back: the daemon is waiting on it.
    # Waited for as such: a guessed pause is too short when the daemon runs late on a loaded machine.
    wait_until(lambda: any(r.method in ("POST", "PUT") for r in server.requests), 5, "the push at the server")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=5)
    assert time.monotonic() - started < 1.0, err
    assert proc.returncode == 0 and "Traceback" not in err


def test_a_stranger_who_knows_the_topic_changes_nothing_and_the_daemon_keeps_reminding(
    tmp_path: Path, server: NtfyServer, procs
) -> None:
    evening = Evening(magnesium=3, tea=9)  # tea after the answers below (about 3 s after magnesium)
    a = box(tmp_path, "a")
    a.write_config(push_config(evening, server, "laptop"))
    procs.append(a.start_daemon("--backend", "console"))
    wait_until(lambda: push_status(a)["connected"], 10, "the stream")
    n = night(evening)
    [pushed] = wait_until(lambda: server.messages(TOPIC), 15, "magnesium pushed")
    forged = {"sundown": 1, "night": n.isoformat(), "reminders": ["magnesium"], "action": "snooze"}
    # The answer that once stopped every tick, then unsigned, wrongly signed and expired ones.
    server.publish(REPLIES, json.dumps({**forged, "from": "phone", "until": "9999-12-31T23:59:59-23:59"}))
    server.publish(REPLIES, json.dumps({**forged, "from": "desktop", "id": "x1"}))
    server.publish(REPLIES, signed(n, ("magnesium",), "done", nonce="x2", secret=b"a guess" * 5))
    server.publish(
        REPLIES, signed(n, ("magnesium",), "done", nonce="x3", expires=evening.bedtime.replace(year=2020))
    )
    # What the phone's Snooze publishes, then the same body again from whoever read it off the topic.
    snooze = pushed["actions"][1]["body"]
    server.publish(REPLIES, snooze)
    server.publish(REPLIES, snooze)
    counts = wait_until(
        lambda: (c := push_status(a)["answers"])["duplicate"] and c["expired"] and c,
        10,
        "every answer counted",
    )
    assert {k: v for k, v in counts.items() if v} == {
        "unparsed": 1,
        "unsigned": 1,
        "bad_signature": 1,
        "expired": 1,
        "applied": 1,
        "duplicate": 1,
    }
    [snoozed] = rows(a, "snoozed")
    assert snoozed["source"] == "phone" and not rows(a, "acknowledged")
    # The daemon ticks on: tea comes, and a restart, `log`, `status` and `stats` are fine.
    assert not any(r["reminder"] == "tea" for r in rows(a, "notified")), "tea came first: make it later"
    wait_until(lambda: any(r["reminder"] == "tea" for r in rows(a, "notified")), 15, "tea")
    for args in (("log",), ("status",), ("stats",)):
        proc = a.run(*args)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, (args, proc.stderr)
    assert "Traceback" not in stop(procs[-1])
