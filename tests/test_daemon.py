"""`sundown run` end to end: a real daemon process, real CLI processes, a real log,
and for notifications a real dbus-daemon with dunst under Xvfb."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import date, timedelta, timezone

import pytest

from support.daemon import Evening, events, start, stop, wait_events
from support.desktop import Desktop
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes

UTC = timezone.utc


@pytest.fixture
def daemon_box(sandbox: Sandbox):
    procs: list[subprocess.Popen[str]] = []
    yield sandbox, procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


# --- with a real notification server -------------------------------------------------------------


def test_reminder_arrives_as_notify_call_on_time_and_done_click_is_logged(sandbox: Sandbox, desktop: Desktop):
    evening = Evening(magnesium=4)
    sandbox.write_config(evening.text(magnesium='title = "Magnesium"\nbody = "Take <b>400 mg</b> & water"\n'))
    env = desktop.session_vars
    proc = start(sandbox, "--backend", "dbus", env=env)
    try:
        [call] = desktop.monitor.wait_notify(1, timeout=10)
        arrived = time.time() - (time.monotonic() - call.at)
        assert abs(arrived - evening.at["magnesium"].timestamp()) < 0.5
        assert call.summary == "Magnesium"
        assert call.body == "Take &lt;b&gt;400 mg&lt;/b&gt; &amp; water"
        assert set(call.action_pairs) >= {"default", "done", "snooze"}
        assert call.urgency == 1
        assert call.expire_timeout == 0
        desktop.dunstctl("action", "0")
        wait_events(sandbox, "acknowledged", timeout=5, what="the click to be logged")
        [ack] = events(sandbox, "acknowledged")
        assert (ack["reminder"], ack["source"]) == ("magnesium", "action")
    finally:
        out, err = stop(proc)
    assert proc.returncode == 0, err


def test_cli_ack_stops_repeats_within_a_second(sandbox: Sandbox, desktop: Desktop):
    evening = Evening(magnesium=3)
    sandbox.write_config(evening.text(magnesium='repeat = "1s"\nrepeat_limit = 20\n'))
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        calls = desktop.monitor.wait_notify(2, timeout=10)
        assert calls[1].replaces_id != 0, "a repeat replaces the previous notification"
        started = time.monotonic()
        sandbox.run("ack", "magnesium", check=True)
        acked = time.monotonic()
        assert acked - started < 1.0 + 2  # process start included; the nudge itself is synchronous
        # Two repeat intervals after the ack, and a tick (by its answer, whatever was due has been
        # sent): no repeat came.
        time.sleep(2.5)
        sandbox.refresh()
        time.sleep(0.2)  # a Notify sent in that tick reaches the monitor as it reaches dunst
        later = [c for c in desktop.monitor.notify_calls() if c.at > acked]
        assert later == []
    finally:
        stop(proc)
    assert [e["source"] for e in events(sandbox, "acknowledged")] == ["cli"]


def test_snooze_renotifies_after_its_duration(sandbox: Sandbox, desktop: Desktop):
    evening = Evening(tea=3)
    sandbox.write_config(evening.text())
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        desktop.monitor.wait_notify(1, timeout=10)
        sandbox.run("snooze", "tea", "3s", check=True)
        snoozed_at = time.monotonic()
        calls = desktop.monitor.wait_notify(2, timeout=10)
        assert 2.5 < calls[1].at - snoozed_at < 4.5
    finally:
        stop(proc)
    assert [e["event"] for e in events(sandbox)] == ["notified", "snoozed", "notified"]


def test_killing_the_notification_server_loses_no_reminder(sandbox: Sandbox, desktop: Desktop):
    evening = Evening(first=3, second=7)
    sandbox.write_config(evening.text())
    proc = start(sandbox, env=desktop.session_vars)  # backend auto
    try:
        desktop.monitor.wait_notify(1, timeout=10)
        desktop.kill_server()
        wait_events(sandbox, "notified", 2, 10, "the second reminder")
        desktop.start_server()
        # A third one after the server is back goes to it again.
        sandbox.write_config(evening.add(third=3))
        wait_events(sandbox, "notified", 3, 12, "the third reminder")
    finally:
        out, _ = stop(proc)
    notified = events(sandbox, "notified")
    assert [e["reminder"] for e in notified] == ["first", "second", "third"]
    assert notified[1]["details"]["backend"] != "dbus" and "Second" in out
    assert notified[2]["details"]["backend"] == "dbus"


# --- console backend: lifecycle, reload, CLI against the daemon -----------------------------------


def test_console_reminder_sigterm_exits_zero_quickly(daemon_box):
    box, procs = daemon_box
    evening = Evening(wind=2)
    box.write_config(evening.text(wind='title = "Wind down"\n'))
    proc = start(box, "--backend", "console")
    procs.append(proc)
    wait_events(box, "notified", timeout=10, what="the reminder")
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=5)
    assert time.monotonic() - t0 < 1.0
    assert proc.returncode == 0
    assert "Wind down" in out
    assert "Traceback" not in err


def test_second_instance_exits_1_naming_the_pid(daemon_box):
    box, procs = daemon_box
    box.write_config(Evening(x=600).text())
    proc = start(box, "--backend", "console")
    procs.append(proc)
    second = box.run("run", "--backend", "console", timeout=10)
    assert second.returncode == 1
    assert f"pid {proc.pid}" in second.stderr
    stop(proc)


def test_config_saved_by_rename_is_reloaded_and_bad_config_keeps_old_routine(daemon_box):
    box, procs = daemon_box
    evening = Evening(a=600)
    box.write_config(evening.text())
    proc = start(box, "--backend", "console")
    procs.append(proc)
    # An editor's save: write a temp file and rename it over the config.
    new = Evening(b=3)
    tmp = box.config_path.with_suffix(".tmp")
    tmp.write_text(new.text())
    tmp.rename(box.config_path)
    wait_events(box, "notified", timeout=10, what="a reminder from the new config")
    assert events(box, "notified")[0]["reminder"] == "b"
    box.config_path.write_text("[bedtime]\ndefault = '25:00'\n")
    wait_events(box, "config_error", timeout=5, what="the config error to be logged")
    status = json.loads(box.run("status", "--json", check=True).stdout)
    assert status["config_error"] and "25:00" in status["config_error"]
    reload = box.run("reload")
    assert reload.returncode == 78 and "bedtime.default" in reload.stderr
    assert len(events(box, "config_error")) == 1, "reported once"
    out, err = stop(proc)
    assert "config has errors" in out  # the notice went through the backend


def test_skip_and_status_against_the_daemon(daemon_box):
    box, procs = daemon_box
    evening = Evening(a=6, b=7)  # `a` must still be ahead when `skip` runs, also on a loaded machine
    box.write_config(evening.text())
    proc = start(box, "--backend", "console")
    procs.append(proc)
    box.run("skip", "a", check=True)
    wait_events(box, "notified", timeout=10, what="b")
    # `status` is answered by the daemon's worker: every tick before it has run, so "a" would be in.
    status = json.loads(box.run("status", "--json", check=True).stdout)
    assert [e["reminder"] for e in events(box, "notified")] == ["b"]
    states = {r["reminder"]: r["state"] for r in status["tonight"]}
    assert states == {"a": "skipped", "b": "notified"}
    assert status["pid"] == proc.pid
    stop(proc)


def test_commands_work_without_a_daemon_and_say_so(sandbox: Sandbox):
    sandbox.write_config(Evening(a=600).text())
    r = sandbox.run("skip", "a")
    assert r.returncode == 0 and "no daemon is running" in r.stderr
    status = sandbox.run("status")
    assert "not running" in status.stdout
    assert sandbox.run("ack").returncode == 1  # nothing notified yet: a clear error
    r = sandbox.run("ack", "nope")
    assert r.returncode == 2 and 'no reminder "nope" (the routine has: a)' in r.stderr
    r = sandbox.run("skip", "aa")  # a typo: the config checker's "did you mean", from the same helper
    assert r.returncode == 2 and 'no reminder "aa"; did you mean "a"? (the routine has: a)' in r.stderr
    r = sandbox.run("ack", "a", "--at", "2026-11-20T22:40", "--night", "2026-11-20", "--force")
    assert r.returncode == 0, r.stderr
    [ack] = events(sandbox, "acknowledged")
    assert ack["ts"].startswith("2026-11-20T22:40") and ack["details"] == {"backfilled": True}


def test_bad_input_changes_nothing(sandbox: Sandbox):
    sandbox.write_config(Evening(a=600).text())
    sandbox.run("skip", "a", check=True)
    db = sandbox.db_path
    before = db.read_bytes()
    for args in (
        ("ack", "a", "--at", "yesterday"),
        ("ack", "a", "--night", "2026-13-01"),
        ("snooze", "a", "5m", "extra"),
        ("tonight", "--bedtime", "25:00"),
        ("skip", "nope"),
    ):
        r = sandbox.run(*args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr
    assert db.read_bytes() == before
    with closing(sqlite3.connect(db)) as conn, conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_snooze_button_on_the_notification_snoozes_and_renotifies(sandbox: Sandbox, desktop: Desktop):
    evening = Evening(tea=3)
    sandbox.write_config(evening.text().replace("[bedtime]", '[notify]\nsnooze = "3s"\n\n[bedtime]'))
    proc = start(sandbox, "--backend", "dbus", env=desktop.session_vars)
    try:
        desktop.monitor.wait_notify(1, timeout=10)
        desktop.dunstctl("context")  # dunst's action menu; the harness's picker chooses Snooze
        wait_events(sandbox, "snoozed", timeout=5, what="the snooze to be logged")
        calls = desktop.monitor.wait_notify(2, timeout=10)
        assert calls[1].summary == "Tea"
    finally:
        stop(proc)
    [snoozed] = events(sandbox, "snoozed")
    assert snoozed["source"] == "action"


def test_tonight_bedtime_moves_before_reminders_and_unskip_restores(sandbox: Sandbox):
    sandbox.write_config('timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n')
    r = sandbox.run("tonight", "--bedtime", "23:45", check=True)
    assert "23:45" in r.stdout and "23:00" in r.stdout
    # "Tonight" is the coming night once this one's bedtime (22:30) has passed: the night the
    # command names, not the night of the clock, whatever the hour the test runs at.
    found = re.search(r"tonight \(\w{3} (\d{4}-\d{2}-\d{2})\)", r.stdout)
    assert found, r.stdout
    night = date.fromisoformat(found.group(1))
    upcoming = json.loads(sandbox.run("next", "--from", f"{night}T12:00", "--count", "2", "--json").stdout)
    assert [u["at"] for u in upcoming] == [
        f"{night}T23:00:00+00:00",
        f"{night + timedelta(days=1)}T21:45:00+00:00",
    ]
    sandbox.run("tonight", "--clear", check=True)
    sandbox.run("skip", check=True)
    skipped = json.loads(sandbox.run("next", "--from", f"{night}T12:00", "--count", "1", "--json").stdout)
    assert skipped[0]["night"] == str(night + timedelta(days=1))
    sandbox.run("unskip", check=True)
    back = json.loads(sandbox.run("next", "--from", f"{night}T12:00", "--count", "1", "--json").stdout)
    assert back[0]["at"] == f"{night}T21:45:00+00:00"
