"""Push under attack: a stranger who knows the topic, a hostile or broken server, a careless
token file, cloned machines. Each answer is believed only when signed with the shared secret;
the adapter never stalls, spins or prints what it must not."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sundown import config
from sundown.config import read_token_file, topic_warning
from sundown.config.values import Invalid
from sundown.core import push as rules
from sundown.core.plan import night_end
from sundown.errors import ConfigError
from sundown.push.ntfy import NtfyPush
from support.answers import SECRET, far, secret_file, signed
from support.desktop import wait_until
from support.ntfy_server import NtfyServer

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 21, 50, tzinfo=BERLIN)
FORGED_UNTIL = "9999-12-31T23:59:59-23:59"
ROUTINE = """
timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
[reminders.magnesium]
before = "45m"
[push]
ntfy = "{url}/evening-8f3k2q-test"
device = "laptop"
secret_file = "{secret}"
"""


def routine(url: str = "https://ntfy.example.org", extra: str = "", name: str = "c.toml") -> config.Routine:
    return config.parse(ROUTINE.format(url=url, secret=secret_file()) + extra, name)


def message(body: str, ident: str = "m1") -> dict:
    return {"id": ident, "time": int(NOW.timestamp()), "event": "message", "message": body}


# --- signatures -----------------------------------------------------------------------------------


def distrust(body: str, now: datetime = NOW, secret: bytes = SECRET) -> str | None:
    return rules.verify(message(body), secret, now).distrust


def test_a_signed_answer_is_believed_and_any_change_to_it_is_not() -> None:
    body = signed(NIGHT, ("magnesium",), "snooze", "desktop", nonce="n1", until=NOW + timedelta(minutes=20))
    verdict = rules.verify(message(body), SECRET, NOW)
    assert verdict.distrust is None and verdict.device_id == "test-machine-id"
    answer = rules.parse_answer(message(body))
    assert answer is not None and answer.ident == "n1" and answer.source == "device:desktop"
    data = json.loads(body)
    for field, value in [
        ("reminders", ["tea"]),
        ("action", "done"),
        ("from", "phone"),
        ("until", (NOW + timedelta(hours=2)).isoformat()),
        ("night", "2026-11-26"),
        ("id", "n2"),
        ("dev", "another-machine"),
        ("exp", data["exp"] + 86400),
    ]:
        assert distrust(json.dumps({**data, field: value})) == rules.BAD_SIGNATURE, field
    without_until = {k: v for k, v in data.items() if k != "until"}
    assert distrust(json.dumps(without_until)) == rules.BAD_SIGNATURE
    assert distrust(signed(NIGHT, ("magnesium",), "done", nonce="n", secret=b"x" * 32)) == rules.BAD_SIGNATURE
    assert distrust(rules.encode_answer(NIGHT, ("magnesium",), "done", "phone")) == rules.UNSIGNED
    assert distrust(json.dumps({k: v for k, v in data.items() if k != "exp"})) == rules.UNSIGNED
    end = night_end(NIGHT, BERLIN)
    stale = signed(NIGHT, ("magnesium",), "done", nonce="n", expires=end)
    assert distrust(stale, end) is None
    assert distrust(stale, end + timedelta(seconds=1)) == rules.EXPIRED


def test_the_forged_answer_that_stopped_every_tick_is_no_answer() -> None:
    forged = {
        "sundown": 1,
        "night": NIGHT.isoformat(),
        "reminders": ["magnesium"],
        "action": "snooze",
        "from": "phone",
        "until": FORGED_UNTIL,
    }
    assert rules.parse_answer(message(json.dumps(forged))) is None
    for junk in ("[" * 5000, '{"sundown": 1, "reminders": ["a\\nb"]}', "x" * 10_000):
        assert rules.parse_answer(message(junk)) is None


# --- answers at the daemon: a stranger who knows the topic -----------------------------------------


@pytest.fixture
def server():
    srv = NtfyServer()
    yield srv
    srv.close()


def link(sandbox, server: NtfyServer, now: datetime = NOW):
    """A console daemon at `now` with its push link (not started: answers are handed in directly)."""
    from sundown.runtime.push import PushLink
    from support.in_process import in_process_daemon
    from support.sandbox import FakeClock

    sandbox.write_config(ROUTINE.format(url=server.url, secret=secret_file()))
    daemon = in_process_daemon(FakeClock(now))
    routine = daemon.loaded.routine
    assert routine.push is not None
    return daemon, PushLink(routine.push, daemon.ledger, daemon.screen, daemon, daemon.paths)


def rows(daemon) -> list:
    return [e for e in daemon.ledger.night_events(NIGHT) if e.event in ("acknowledged", "snoozed")]


def test_a_stranger_s_answers_are_ignored_counted_and_never_applied(sandbox, server: NtfyServer) -> None:
    daemon, push = link(sandbox, server)
    try:
        daemon.tick()  # magnesium notified at 21:45
        forged = {"sundown": 1, "night": NIGHT.isoformat(), "reminders": ["magnesium"], "action": "snooze"}
        stranger = [
            message(json.dumps({**forged, "from": "phone", "until": FORGED_UNTIL}), "a"),
            message(rules.encode_answer(NIGHT, ("magnesium",), "done", "phone"), "b"),
            message(rules.encode_answer(NIGHT, ("magnesium",), "done", "desktop", "n-x"), "c"),
            message(signed(NIGHT, ("magnesium",), "done", nonce="n-y", secret=b"guess" * 8), "d"),
            message(
                signed(NIGHT, ("magnesium",), "done", nonce="n-z", expires=NOW - timedelta(minutes=1)), "e"
            ),
        ]
        verdicts = [push.handle_answer(m) for m in stranger]
        assert verdicts == ["unparsed", "unsigned", "unsigned", "bad_signature", "expired"]
        assert rows(daemon) == []
        # The phone's own Snooze, then the same body posted again by whoever read it off the topic.
        snooze = message(signed(NIGHT, ("magnesium",), "snooze", nonce="n-phone"), "f")
        assert push.handle_answer(snooze) == "apply"
        assert push.handle_answer({**snooze, "id": "g"}) == "duplicate"
        assert [e.event for e in rows(daemon)] == ["snoozed"]
        counts = push.snapshot()["answers"]
        assert {k: v for k, v in counts.items() if v} == {
            "unparsed": 1,
            "unsigned": 2,
            "bad_signature": 1,
            "expired": 1,
            "applied": 1,
            "duplicate": 1,
        }
        daemon.tick()  # and the daemon ticks on
    finally:
        push.close()
        daemon.stop()


def test_two_machines_of_one_name_are_told_apart_by_their_id(sandbox, server: NtfyServer) -> None:
    daemon, push = link(sandbox, server)
    try:
        daemon.tick()
        mine = message(signed(NIGHT, ("magnesium",), "done", "laptop", nonce="n1", device_id=push.device_id))
        assert push.handle_answer(mine) == "own"
        clone = message(signed(NIGHT, ("magnesium",), "done", "laptop", nonce="n2", device_id="clone-id-123"))
        assert push.handle_answer(clone) == "apply"
        [ack] = rows(daemon)
        assert ack.source == "device:laptop"
        assert push.snapshot()["namesakes"] == 1
    finally:
        push.close()
        daemon.stop()


def as_running_daemon(monkeypatch, daemon) -> None:
    """`status` and `doctor` in this process ask `daemon` as they would ask the running one over
    its socket (its status through JSON, as the socket carries it)."""
    from sundown.core.status import Status
    from sundown.runtime import control

    def answer(paths, timeout: float = 5.0) -> Status:
        reply = json.loads(json.dumps({"ok": True, **daemon.status()}, default=str))
        return Status.from_json({**reply, "running": True})

    monkeypatch.setattr(control, "running_pid", lambda paths: os.getpid())
    monkeypatch.setattr(control, "daemon_status", answer)


def test_status_and_doctor_say_another_machine_has_this_one_s_name(
    sandbox, server: NtfyServer, monkeypatch, capsys
) -> None:
    from sundown import doctor
    from sundown.cli import main

    daemon, push = link(sandbox, server)
    daemon.push_link = push
    as_running_daemon(monkeypatch, daemon)
    monkeypatch.setenv("COLUMNS", "200")  # each warning on one line
    monkeypatch.setattr(
        doctor, "run", lambda paths, env, **kw: doctor.Report(tuple(doctor.check_push(paths)))
    )
    try:
        daemon.tick()
        assert main(["status"]) == 0
        assert "also calls itself" not in capsys.readouterr().out  # one machine of the name: no word
        clone = message(signed(NIGHT, ("magnesium",), "done", "laptop", nonce="n2", device_id="clone-id-123"))
        assert push.handle_answer(clone) == "apply"
        assert main(["status"]) == 0
        out = capsys.readouterr().out
        assert "  push: another machine also calls itself 'laptop'; give each its own `device`" in out
        assert main(["status", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["push"]["namesakes"] == 1
        main(["doctor"])
        out = capsys.readouterr().out
        [line] = [line for line in out.splitlines() if "push daemon" in line]
        assert line.startswith("warn") and "another machine also calls itself 'laptop'" in line, out
        assert 'fix: give each machine its own name: [push] device = "..."' in out
    finally:
        push.close()
        daemon.stop()


def test_the_phone_s_buttons_carry_signed_answers_that_expire_with_the_night(
    sandbox, server: NtfyServer
) -> None:
    daemon, push = link(sandbox, server)
    try:
        answers = push._phone_answers(NIGHT, ("magnesium",))
        assert [label for label, _ in answers] == ["Done", "Snooze"]
        done = rules.parse_answer(message(answers[0][1]))
        verdict = rules.verify(message(answers[0][1]), SECRET, NOW)
        assert done is not None and done.source == "phone" and verdict.distrust is None
        assert verdict.expires == night_end(NIGHT, BERLIN) and verdict.device_id == push.device_id
        assert distrust(answers[0][1], night_end(NIGHT, BERLIN) + timedelta(seconds=1)) == rules.EXPIRED
        assert done.ident != rules.parse_answer(message(answers[1][1])).ident  # type: ignore[union-attr]
    finally:
        push.close()
        daemon.stop()


# --- the sleep app's webhook -----------------------------------------------------------------------


def test_sleep_as_android_webhooks_are_read_into_sleep_signals() -> None:
    started = rules.parse_webhook(message('{"event": "sleep_tracking_started"}'), NOW)
    assert started is not None and started.kind == "in_bed" and started.ident == "m1"
    dismissed = rules.parse_webhook(
        message('{"event": "alarm_alert_dismiss", "value1": "1795000000000"}'), NOW
    )
    assert dismissed is not None and dismissed.kind == "awake"
    moved = rules.parse_webhook(message('{"event": "alarm_rescheduled", "value1": "1795000000000"}'), NOW)
    assert moved is not None and moved.kind == "next_alarm"
    assert moved.alarm == datetime.fromtimestamp(1_795_000_000, rules.UTC)
    for junk in (
        '{"event": "alarm_rescheduled", "value1": "soon"}',
        '{"event": "alarm_rescheduled", "value1": 1e300}',
        '{"event": "rm -rf"}',
        "[]",
        "hello",
        rules.encode_answer(NIGHT, ("magnesium",), "done", "phone"),
    ):
        assert rules.parse_webhook(message(junk), NOW) is None, junk


def test_the_webhook_records_in_bed_and_awake_once_and_never_acknowledges(
    sandbox, server: NtfyServer
) -> None:
    daemon, push = link(sandbox, server, datetime(2026, 11, 25, 23, 10, tzinfo=BERLIN))
    try:
        bed = {**message('{"event": "sleep_tracking_started"}', "w1"), "topic": "evening-8f3k2q-test-sleep"}
        assert push.handle_webhook(bed) == "in_bed"
        assert push.handle_webhook(bed) == "in_bed"  # a replay after a restart: one row
        awake = {
            "id": "w2",
            "time": int(datetime(2026, 11, 26, 6, 30, tzinfo=BERLIN).timestamp()),
            "message": '{"event": "alarm_alert_dismiss", "value1": "1795000000000"}',
        }
        push.handle_webhook(awake)
        logged = [(e.event, e.source, e.reminder) for e in daemon.ledger.night_events(NIGHT)]
        assert logged.count(("in_bed", "phone", None)) == 1 and logged.count(("awake", "phone", None)) == 1
        # The same message on the reply topic is no answer: nothing changes.
        assert push.handle_answer(message('{"event": "sleep_tracking_started"}', "w3")) == "unparsed"
        assert rows(daemon) == []
    finally:
        push.close()
        daemon.stop()


# --- config ---------------------------------------------------------------------------------------


def test_a_token_file_holds_one_token_comments_aside_and_is_never_quoted(tmp_path: Path) -> None:
    path = tmp_path / "tok"

    def write(text: str | bytes) -> None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        path.chmod(0o600)

    write("# the laptop's token\n\ntk_abcdefghijklmnop\n")
    assert read_token_file(path) == "tk_abcdefghijklmnop"
    for bad in (
        "tk_abcdefghijklmnop\ntk_qrstuvwxyzabcdef\n",
        "Bearer tk_abcdefghijklmnop\n",
        b"tk_abcd\x00efghijklmnop",
        b"\xff\xfe",
        "",
        "x" * 5000,
    ):
        write(bad)
        with pytest.raises(Invalid) as err:
            read_token_file(path)
        assert "abcdefghijklmnop" not in str(err.value) and "qrstuvwxyz" not in str(err.value)
    with pytest.raises(Invalid, match="system file"):
        read_token_file(Path("/proc/self/environ"))


def test_a_token_goes_over_plain_http_only_to_this_machine(tmp_path: Path) -> None:
    token = tmp_path / "tok"
    token.write_text("tk_abcdefghijklmnop\n")
    token.chmod(0o600)
    line = f'token_file = "{token}"\n'
    assert routine("http://127.0.0.1:8080", line).push is not None
    assert routine("http://localhost", line).push is not None
    with pytest.raises(ConfigError) as err:
        routine("http://ntfy.example.org", line)
    (problem,) = err.value.problems
    assert ":8: push.ntfy:" in problem and "https://" in problem
    assert routine("http://ntfy.example.org").push is not None  # no token: nothing to leak


def test_a_guessable_topic_on_a_public_server_is_warned_about() -> None:
    def warned(url: str) -> str | None:
        text = ROUTINE.replace("{url}/evening-8f3k2q-test", url).format(secret=secret_file())
        r = config.parse(text, "c.toml")
        assert r.push is not None
        return topic_warning(r.push)

    assert "short" in (warned("https://ntfy.sh/evening") or "")
    assert "words" in (warned("https://ntfy.sh/my-evening-reminders-2024") or "")
    assert warned("https://ntfy.sh/sundown-2ary6r3ko3sm7ynolcdhubqkah") is None
    assert warned("https://ntfy.sh/evening-8f3k2q") is None
    assert warned("http://127.0.0.1:8080/evening") is None  # this machine
    assert warned("https://ntfy.home.arpa/evening") is None  # the home network


def test_check_and_doctor_warn_about_a_guessable_topic(sandbox, monkeypatch, capsys) -> None:
    from sundown import doctor
    from sundown.cli import main
    from sundown.push import ntfy

    def offline(self, *args, **kw):
        raise OSError("offline")  # the test never reaches ntfy.sh: the warning comes first

    monkeypatch.setattr(ntfy.Connection, "request", offline)
    monkeypatch.setattr(
        doctor, "run", lambda paths, env, **kw: doctor.Report(tuple(doctor.check_push(paths)))
    )
    monkeypatch.setenv("COLUMNS", "300")  # the warning on one line
    warning = 'the topic "evening" on ntfy.sh is short, easy to guess'
    sandbox.write_config(
        ROUTINE.replace("{url}/evening-8f3k2q-test", "https://ntfy.sh/evening").format(secret=secret_file())
    )
    assert main(["check"]) == 0  # a warning, not an error
    out, err = capsys.readouterr()
    assert f"warning: push.ntfy: {warning}" in err and warning not in out
    main(["doctor"])
    out = capsys.readouterr().out
    [line] = [line for line in out.splitlines() if "push topic name" in line]
    assert line.startswith("warn") and warning in line, out
    # An unguessable topic on the same server: neither says a word.
    sandbox.write_config(
        ROUTINE.replace(
            "{url}/evening-8f3k2q-test", "https://ntfy.sh/sundown-2ary6r3ko3sm7ynolcdhubqkah"
        ).format(secret=secret_file())
    )
    assert main(["check"]) == 0
    assert "easy to guess" not in capsys.readouterr().err
    main(["doctor"])
    assert "push topic name" not in capsys.readouterr().out


def test_the_secret_file_is_checked_like_a_key(tmp_path: Path) -> None:
    secret = tmp_path / "push-secret"
    extra = ""
    text = ROUTINE.replace("{secret}", str(secret))
    with pytest.raises(ConfigError, match="push init"):
        config.parse(text.format(url="https://ntfy.example.org") + extra, "c.toml")
    secret.write_text("too-short\n")
    secret.chmod(0o600)
    with pytest.raises(ConfigError, match="does not hold a push secret"):
        config.parse(text.format(url="https://ntfy.example.org"), "c.toml")
    secret.write_text(secret_file().read_text())
    secret.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        config.parse(text.format(url="https://ntfy.example.org"), "c.toml")


# --- the adapter against a hostile server ----------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def __call__(self, event: dict) -> bool:
        self.events.append(event)
        return True


def client(server: NtfyServer, tmp_path: Path, token: str | None = None, **kw) -> NtfyPush:
    r = routine(server.url, name=str(tmp_path / "c.toml"))
    assert r.push is not None
    c = NtfyPush(
        r.push, tmp_path / "push-since", Inbox(), token=token, backoff_cap=kw.pop("backoff_cap", 60.0), **kw
    )
    c.start()
    return c


def a_publication() -> rules.Publication:
    from sundown.core.plan import night_plan

    plan = night_plan(routine(), NIGHT, BERLIN)
    assert plan is not None
    return rules.publication("2026-11-25/magnesium", "Magnesium", "b", plan.occurrences[:1])


def streams(server: NtfyServer) -> int:
    return sum(1 for r in server.requests if r.method == "GET" and "/json" in r.path)


@pytest.mark.parametrize("mode", ["open-then-close", "portal"])
def test_a_stream_that_opens_and_closes_or_is_a_portal_backs_off_and_says_so(
    server: NtfyServer, tmp_path: Path, mode: str
) -> None:
    server.stream_mode = mode
    c = client(server, tmp_path)
    try:
        time.sleep(2.0)  # what the backoff allows in this time is the point, not a condition to wait on
        snap = c.snapshot()
    finally:
        c.close()
    # 0.5 + 1 s of backoff: three connections in 2 s (it was 63,391 in 30 s).
    assert streams(server) <= 4, streams(server)
    assert snap["error"] and not snap["connected"]
    assert ("portal" in snap["error"]) == (mode == "portal")
    assert snap["stream_errors"] <= 5


def test_the_daemon_s_status_shows_a_stream_that_carries_nothing_of_sundown_s(
    sandbox, server: NtfyServer, monkeypatch, capsys
) -> None:
    from sundown.cli import main

    server.stream_mode = "portal"
    daemon, push = link(sandbox, server)
    daemon.push_link = push
    as_running_daemon(monkeypatch, daemon)
    monkeypatch.setenv("COLUMNS", "300")
    push.start()
    try:
        shown = wait_until(lambda: daemon.status()["push"]["error"], 5, "the stream's error in status")
        assert "portal" in shown and daemon.status()["push"]["connected"] is False
        assert main(["status", "--json"]) == 0
        assert "portal" in json.loads(capsys.readouterr().out)["push"]["error"]
        assert main(["status"]) == 0
        [line] = [line for line in capsys.readouterr().out.splitlines() if "push problem" in line]
        assert "portal" in line
    finally:
        push.close()
        daemon.stop()
    assert streams(server) <= 3  # no reconnecting at once (how far the backoff holds off: the test above)


def test_a_server_trickling_a_byte_at_a_time_cannot_stall_pushing(server: NtfyServer, tmp_path: Path) -> None:
    server.trickle_s = 0.2  # an answer of ~150 bytes would take 30 s
    c = client(server, tmp_path, timeout=1.0, backoff_cap=0.5)
    try:
        c.publish(a_publication())
        wait_until(lambda: c.status.publish_error, 5, "the deadline")
        assert "within 1 s" in c.snapshot()["error"] and c.status.queued == 1
        server.trickle_s = 0
        wait_until(
            lambda: c.status.queued == 0 and c.status.published, 10, "the push once the server answers"
        )
    finally:
        c.close()
        server.trickle_s = 0


def test_server_error_text_is_cleaned_and_cut_short(server: NtfyServer, tmp_path: Path) -> None:
    server.fail_next = [400]
    server.error_text = "\x1b[2J\x1b[31mbad\nsundown[1]: your disk is on fire\r\x07" + "A" * 5000
    c = client(server, tmp_path)
    try:
        c.publish(a_publication())
        error = wait_until(lambda: c.snapshot()["error"], 5, "the refusal")
    finally:
        c.close()
    assert not any(ch in error for ch in "\x1b\n\r\x07")
    assert "bad sundown[1]: your disk" in error and len(error) < 320


def test_no_error_and_no_thread_death_ever_shows_the_token(
    server: NtfyServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A token that http.client will not put in a header (as a two-line token file once gave):
    # the request fails, the error says so without the token, and pushing goes on.
    import logging

    caplog.set_level(logging.DEBUG)  # every logger, every level: what the journal could get
    c = client(server, tmp_path, token="tk_secret_value\nX-Evil: 1")
    try:
        c.publish(a_publication())
        wait_until(lambda: c.status.publish_error, 5, "the failure")
        snap = json.dumps(c.snapshot())
        assert "tk_secret_value" not in snap
        assert c._publisher.is_alive()
    finally:
        c.close()
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter())
    shown = [handler.format(r) for r in caplog.records]  # the message, its arguments, any traceback
    assert any("push" in line.lower() for line in shown), shown  # the failure was logged...
    assert not [line for line in shown if "tk_secret_value" in line]  # ...never with the token


def test_a_dead_publisher_thread_is_started_again(server: NtfyServer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # the death this test causes
    c = client(server, tmp_path)
    real = c._send
    calls = []

    def dies_once(job, timeout=None):
        calls.append(job)
        if len(calls) == 1:
            raise SystemExit  # what no `except Exception` catches: the thread ends
        return real(job, timeout)

    c._send = dies_once  # type: ignore[method-assign]
    try:
        c.publish(a_publication())
        wait_until(lambda: not c._publisher.is_alive(), 5, "the thread to die")
        c.publish(a_publication())  # the next word restarts it
        wait_until(lambda: server.messages("evening-8f3k2q-test"), 5, "the push")
    finally:
        c.close()


def test_the_webhook_topic_shares_the_reply_stream(server: NtfyServer, tmp_path: Path) -> None:
    r = routine(server.url, 'webhook_topic = "evening-8f3k2q-sleep"\n', name=str(tmp_path / "c.toml"))
    assert r.push is not None
    answers, hooks = Inbox(), Inbox()
    c = NtfyPush(r.push, tmp_path / "push-since", answers, on_webhook=hooks)
    c.start()
    try:
        wait_until(lambda: c.status.connected, 5, "the stream")
        server.publish("evening-8f3k2q-sleep", '{"event": "sleep_tracking_started"}')
        server.publish("evening-8f3k2q-test-replies", "an answer")
        wait_until(lambda: hooks.events and answers.events, 5, "both")
    finally:
        c.close()
    assert [e["message"] for e in hooks.events] == ['{"event": "sleep_tracking_started"}']
    assert [e["message"] for e in answers.events] == ["an answer"]
    assert streams(server) == 1


# --- push init ------------------------------------------------------------------------------------


def test_push_init_writes_a_secret_once_and_suggests_an_unguessable_topic(sandbox, capsys) -> None:
    from sundown.cli import main

    assert main(["push", "init"]) == 0
    out = capsys.readouterr().out
    secret = sandbox.config_home / "sundown" / "push-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    first = secret.read_text()
    topic = next(line for line in out.splitlines() if "ntfy =" in line).split('"')[1].rsplit("/", 1)[1]
    assert len(topic) >= 30 and "copy both files" in out
    assert (sandbox.state_home / "sundown" / "push-device").exists()
    assert main(["push", "init"]) == 1  # never replaced without --force
    assert "exists already" in capsys.readouterr().err and secret.read_text() == first
    assert main(["push", "init", "--force"]) == 0
    assert secret.read_text() != first and secret.stat().st_mode & 0o777 == 0o600
    # What it wrote is what the config reads.
    sandbox.write_config(f'[bedtime]\ndefault = "22:30"\n[push]\nntfy = "https://ntfy.sh/{topic}"\n')
    assert main(["check"]) == 0, capsys.readouterr().err
    assert "warning" not in capsys.readouterr().err


def test_a_cloned_state_dir_on_another_machine_gets_its_own_id(tmp_path: Path, monkeypatch) -> None:
    from sundown.push import keys

    ids = tmp_path / "machine-id"
    ids.write_text("aaaa\n")
    monkeypatch.setattr(keys, "MACHINE_ID_FILES", (ids,))
    first = keys.device_id(tmp_path / "push-device")
    assert keys.device_id(tmp_path / "push-device") == first
    assert os.stat(tmp_path / "push-device").st_mode & 0o077 == 0
    ids.write_text("bbbb\n")  # the same state dir, another machine
    assert keys.device_id(tmp_path / "push-device") != first


def test_threads_of_a_closed_client_end(server: NtfyServer, tmp_path: Path) -> None:
    before = threading.active_count()
    c = client(server, tmp_path)
    wait_until(lambda: c.status.connected, 5, "the stream")
    c.close()
    wait_until(lambda: threading.active_count() <= before + 1, 5, "the threads to end")
    assert far(NIGHT) > NOW


def test_the_signature_is_hmac_sha256_without_loading_openssl() -> None:
    import hmac

    for key in (b"k", SECRET, b"x" * 64, b"y" * 65, b"z" * 200):
        for text in (b"", b"sundown", bytes(range(256)) * 3):
            assert rules.sign(key, text) == hmac.new(key, text, "sha256").hexdigest()
    assert rules._same("ab", "ab") and not rules._same("ab", "ac") and not rules._same("ab", "abc")


def test_a_flood_of_forged_answers_writes_no_row_and_few_journal_lines(
    sandbox, server: NtfyServer, caplog
) -> None:
    import logging

    daemon, push = link(sandbox, server)
    try:
        daemon.tick()
        caplog.set_level(logging.INFO, logger="sundown.push")
        for i in range(200):
            body = signed(NIGHT, ("magnesium",), "snooze", "desktop", nonce=f"f{i}", secret=b"guess" * 8)
            push.handle_answer(message(body, f"m{i}"))
        warned = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert push.counts["bad_signature"] == 200 and rows(daemon) == []
        assert len(warned) == 8  # the 1st, 2nd, 4th, ... 128th
    finally:
        push.close()
        daemon.stop()
