"""Push through ntfy: config, the pure rules, and the adapter against a local ntfy server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sundown import config
from sundown.core import push as rules
from sundown.core.answers import Answer, judge
from sundown.core.plan import night_plan
from sundown.core.routine import Routine
from sundown.core.state import ReminderNight, fold_night
from sundown.errors import ConfigError
from sundown.paths import resolve_paths
from sundown.push.ntfy import NtfyPush, header_text
from sundown.runtime.daemon import Daemon
from support.answers import PHONE_SIGNER, SECRET, far, secret_file
from support.desktop import wait_until
from support.in_process import CHILD_DAEMON, in_process_daemon
from support.ntfy_server import NtfyServer
from support.sandbox import FakeClock, Sandbox

BERLIN = ZoneInfo("Europe/Berlin")
ROUTINE = """
timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
[reminders.magnesium]
before = "45m"
title = "Magnesium"
body = "Time for your evening magnesium."
[reminders.screens-off]
at = "22:00"
[push]
ntfy = "{url}/evening-test"
device = "laptop"
secret_file = "{secret}"
"""


@pytest.fixture
def server():
    srv = NtfyServer()
    yield srv
    srv.close()


def push_config(url: str) -> str:
    return ROUTINE.format(url=url, secret=secret_file())


def routine(url: str = "https://ntfy.example.org", extra: str = "") -> Routine:
    return config.parse(push_config(url) + extra, "c.toml")


# --- config ------------------------------------------------------------------------------------


def test_push_config_is_read_with_defaults() -> None:
    r = routine()
    assert r.push is not None
    assert (r.push.server, r.push.topic, r.push.reply_topic) == (
        "https://ntfy.example.org",
        "evening-test",
        "evening-test-replies",
    )
    assert r.push.when == "always" and r.push.reminders is None and r.push.device == "laptop"
    assert config.parse('[bedtime]\ndefault = "22:30"\n', "c").push is None


def test_token_file_readable_by_others_is_refused_and_the_token_never_quoted(tmp_path: Path) -> None:
    token = tmp_path / "ntfy-token"
    token.write_text("tk_supersecret\n")
    token.chmod(0o644)
    cfg = tmp_path / "config.toml"
    text = push_config("https://ntfy.example.org") + 'token_file = "ntfy-token"\n'
    with pytest.raises(ConfigError) as err:
        config.parse(text, str(cfg))
    (problem,) = err.value.problems
    assert ":15: push.token_file:" in problem and "chmod 600" in problem
    assert "supersecret" not in problem
    token.chmod(0o600)
    r = config.parse(text, str(cfg))
    assert r.push is not None and r.push.token_file == token
    assert "supersecret" not in repr(r)


@pytest.mark.e2e
def test_bad_push_values_exit_78_with_line_and_key(sandbox) -> None:
    sandbox.write_config(
        push_config("ftp://x")
        + 'reminders = ["magnesium", "bedtme"]\nwhen = "never"\ntoken_file = "/nonexistent/tok"\n'
    )
    proc = sandbox.run("check")
    assert proc.returncode == 78
    lines = proc.stderr.strip().splitlines()
    assert any(":12: push.ntfy:" in line for line in lines), proc.stderr
    assert any(":15: push.reminders:" in line and '"bedtme"' in line for line in lines), proc.stderr
    assert any(":16: push.when:" in line for line in lines), proc.stderr
    assert any(":17: push.token_file:" in line for line in lines), proc.stderr
    assert "Traceback" not in proc.stderr


# --- the pure rules ----------------------------------------------------------------------------


def test_sequence_ids_are_valid_and_the_same_on_every_machine() -> None:
    assert rules.sequence_id("2026-11-25/magnesium") == "sd-2026-11-25-magnesium"
    long = rules.sequence_id("2026-11-25/" + "x" * 100)
    assert len(long) == 64 and rules.SID_RE.fullmatch(long)
    assert long == rules.sequence_id("2026-11-25/" + "x" * 100)


def test_answers_round_trip_and_junk_is_not_an_answer() -> None:
    body = rules.encode_answer(date(2026, 11, 25), ("magnesium",), "done", "laptop", "n1")
    a = rules.parse_answer({"id": "abc", "time": 1_800_000_000, "message": body})
    assert a is not None and a.source == "device:laptop" and a.ident == "n1" and a.action == "done"
    phone = rules.parse_answer(
        {"id": "xyz", "message": rules.encode_answer(date(2026, 11, 25), ("magnesium",), "snooze", "phone")}
    )
    assert phone is not None and phone.source == "phone" and phone.ident == "xyz"
    until = datetime(2026, 11, 25, 21, 0, tzinfo=BERLIN)
    body = rules.encode_answer(date(2026, 11, 25), ("tea",), "snooze", "laptop", "n2", until)
    later = rules.parse_answer({"id": "q", "message": body})
    assert later is not None and later.until == until
    naive = body.replace("+00:00", "")
    assert rules.parse_answer({"id": "q", "message": naive}) is None
    for junk in (
        {"id": "a", "message": "hello"},
        {"id": "a", "message": "[]"},
        {
            "id": "a",
            "message": json.dumps(
                {"sundown": 1, "night": "2026-13-01", "reminders": ["m"], "action": "done", "from": "phone"}
            ),
        },
        {
            "id": "a",
            "message": json.dumps(
                {
                    "sundown": 1,
                    "night": "2026-11-25",
                    "reminders": ["m"],
                    "action": "explode",
                    "from": "phone",
                }
            ),
        },
        {
            "id": "a",
            "message": json.dumps(
                {"sundown": 1, "night": "2026-11-25", "reminders": [], "action": "done", "from": "phone"}
            ),
        },
        {
            "id": "a",
            "message": json.dumps(
                {
                    "sundown": 1,
                    "night": "2026-11-25",
                    "reminders": ["m"],
                    "action": "done",
                    "from": "bad name!",
                }
            ),
        },
        {"message": rules.encode_answer(date(2026, 11, 25), ("m",), "done", "phone")},
    ):
        assert rules.parse_answer(junk) is None, junk


def test_an_answer_from_elsewhere_is_unknown_duplicate_or_applied() -> None:
    r = routine()
    now = datetime(2026, 11, 25, 21, 50, tzinfo=BERLIN)
    night = date(2026, 11, 25)

    def outcome(rid: str, n: date = night, seen: frozenset[str] = frozenset(), acked: bool = False) -> str:
        states = {"magnesium": ReminderNight(notified=1, acknowledged=now)} if acked else {}
        folded = replace(fold_night(r, BERLIN, n, []), states=states)
        [ruling] = judge(Answer(n, (rid,), "done", "phone", "i1"), r, BERLIN, now, folded, {}, seen)
        return ruling.outcome

    assert outcome("magnesium") == "applied"
    assert outcome("nope") == "unknown"
    assert outcome("magnesium", date(2026, 10, 1)) == "unknown"
    assert outcome("magnesium", seen=frozenset({"i1"})) == "duplicate"
    assert outcome("magnesium", acked=True) == "unchanged"


def test_when_away_and_the_reminder_list() -> None:
    r = routine(extra='reminders = ["magnesium"]\nwhen = "away"\n')
    assert r.push is not None
    assert rules.should_push(r.push, ("magnesium",), away=True)
    assert not rules.should_push(r.push, ("magnesium",), away=False)
    assert rules.should_push(r.push, ("magnesium",), away=None)  # not known here: push
    assert not rules.should_push(r.push, ("screens-off",), away=True)


def test_due_while_asleep_lists_unsent_pushed_reminders_ahead() -> None:
    r = routine()
    now = datetime(2026, 11, 25, 21, 0, tzinfo=BERLIN)
    night = date(2026, 11, 25)
    due = rules.due_while_asleep(r, BERLIN, now, {}, {})
    assert [(o.night, o.reminder.id) for o in due] == [(night, "magnesium"), (night, "screens-off")]
    sent = {(night, "magnesium"): ReminderNight(notified=1)}
    assert [o.reminder.id for o in rules.due_while_asleep(r, BERLIN, now, sent, {})] == ["screens-off"]


def test_publication_priority_and_tags() -> None:
    r = routine()
    plan = night_plan(r, date(2026, 11, 25), BERLIN)
    assert plan is not None
    occ = plan.occurrences[0]
    pub = rules.publication("2026-11-25/magnesium", "Magnesium", "b", (occ,))
    assert pub.priority == 3 and pub.sid == "sd-2026-11-25-magnesium" and pub.reminders == ("magnesium",)
    assert rules.publication("k", "t", "b", (occ,), repeat=1).priority == 4
    assert rules.publication("k", "t", "b", (occ,), urgent=True).priority == 4


def test_header_text_encodes_non_ascii() -> None:
    assert header_text("Magnesium") == "Magnesium"
    assert header_text("Schlafenszeit 🌙").startswith("=?UTF-8?B?")


# --- the adapter against the local server -----------------------------------------------------


class Inbox:
    def __init__(self, accept: bool = True) -> None:
        self.events: list[dict] = []
        self.taken: list[str] = []  # the ids of the events it said it took
        self.accept = accept
        self.lock = threading.Lock()

    def __call__(self, event: dict) -> bool:
        with self.lock:
            self.events.append(event)
            took = self.accept
            if took:
                self.taken.append(event["id"])
        return took

    def ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.events]


def adapter(server: NtfyServer, tmp_path: Path, inbox: Inbox, token: str | None = None) -> NtfyPush:
    r = routine(server.url)
    assert r.push is not None
    client = NtfyPush(r.push, tmp_path / "push-since", inbox, token=token, backoff_cap=0.5)
    client.start()
    return client


def a_publication(key: str = "2026-11-25/magnesium") -> rules.Publication:
    plan = night_plan(routine(), date(2026, 11, 25), BERLIN)
    assert plan is not None
    night = date(2026, 11, 25)
    answers = rules.phone_answers(PHONE_SIGNER, night, ("magnesium",), far(night), ("nonce-d", "nonce-s"))
    return rules.publication(
        key, "Magnesium 🌙", "Time for your evening magnesium.", plan.occurrences[:1], answers=answers
    )


def test_publish_sends_title_priority_tags_and_two_http_actions(server: NtfyServer, tmp_path: Path) -> None:
    client = adapter(server, tmp_path, Inbox(), token="tk_secret")
    server.tokens = {"tk_secret"}
    try:
        client.publish(a_publication())
        (msg,) = wait_until(lambda: server.messages("evening-test"), 5, "the push")
    finally:
        client.close()
    assert msg["title"] == "Magnesium 🌙" and msg["message"] == "Time for your evening magnesium."
    assert msg["priority"] == 3 and msg["tags"] == ["crescent_moon"]
    assert msg["sequence_id"] == "sd-2026-11-25-magnesium"
    done, snooze = msg["actions"]
    assert (done["label"], done["action"], done["method"]) == ("Done", "http", "POST")
    assert done["url"] == f"{server.url}/evening-test-replies" and done["clear"] is True
    assert done["headers"]["Authorization"] == "Bearer tk_secret"
    body = json.loads(snooze["body"])
    assert {k: body[k] for k in ("sundown", "night", "reminders", "action", "from", "id")} == {
        "sundown": 1,
        "night": "2026-11-25",
        "reminders": ["magnesium"],
        "action": "snooze",
        "from": "phone",
        "id": "nonce-s",
    }
    # Signed for the phone to echo: believed as it is, and only as it is.
    echoed = {"id": "m1", "message": snooze["body"]}
    assert rules.verify(echoed, SECRET, datetime(2026, 11, 25, 22, tzinfo=BERLIN)).distrust is None


def test_429_and_500_are_retried_with_backoff_and_never_duplicated(
    server: NtfyServer, tmp_path: Path
) -> None:
    server.fail_next = [429, 500, 503]
    client = adapter(server, tmp_path, Inbox())
    try:
        client.publish(a_publication())
        wait_until(lambda: server.messages("evening-test"), 10, "the push after retries")
        time.sleep(0.5)
    finally:
        client.close()
    assert len(server.messages("evening-test")) == 1
    assert client.status.retries == 3
    assert client.status.publish_error is None


@pytest.mark.e2e
def test_a_server_down_then_back_gets_the_latest_state_once(server: NtfyServer, tmp_path: Path) -> None:
    server.stop()
    client = adapter(server, tmp_path, Inbox())
    try:
        client.publish(a_publication())
        client.clear("sd-2026-11-25-magnesium")  # settled meanwhile: the clear replaces the unsent publish
        wait_until(lambda: client.status.publish_error, 5, "the error to be noticed")
        assert "cannot reach" in client.snapshot()["error"]
        server.start()
        wait_until(lambda: server.messages("evening-test", "message_clear"), 10, "the clear")
    finally:
        client.close()
    assert server.messages("evening-test") == []


def test_401_is_reported_and_not_retried(server: NtfyServer, tmp_path: Path) -> None:
    server.tokens = {"tk_right"}
    client = adapter(server, tmp_path, Inbox(), token="tk_wrong")
    try:
        client.publish(a_publication())
        wait_until(lambda: client.status.dropped, 5, "the refusal")
    finally:
        client.close()
    assert "401" in client.snapshot()["error"] and "token_file" in client.snapshot()["error"]
    assert "tk_wrong" not in json.dumps(client.snapshot())


def test_slow_server_does_not_block_the_caller(server: NtfyServer, tmp_path: Path) -> None:
    server.delay_s = 5
    client = adapter(server, tmp_path, Inbox())
    try:
        started = time.monotonic()
        for _ in range(5):
            client.publish(a_publication())
        assert time.monotonic() - started < 0.1
    finally:
        client.close()


def test_stream_resumes_from_the_last_id_and_skips_cut_and_garbage_lines(
    server: NtfyServer, tmp_path: Path
) -> None:
    inbox = Inbox()
    client = adapter(server, tmp_path, inbox)
    try:
        wait_until(lambda: client.status.connected, 5, "the stream")
        first = server.publish("evening-test-replies", "one")
        wait_until(lambda: first["id"] in inbox.ids(), 5, "the first answer")
        server.garbage()
        server.cut_next_line = True
        second = server.publish("evening-test-replies", "two")  # cut in half: reconnect, seen whole
        wait_until(lambda: second["id"] in inbox.ids(), 5, "the second answer after the cut")
    finally:
        client.close()
    assert inbox.ids() == [first["id"], second["id"]]
    assert client.status.stream_errors >= 1
    saved = json.loads((tmp_path / "push-since").read_text())
    assert saved["since"] == second["id"]
    # Down while the daemon is away: a new client picks up exactly what it missed.
    third = server.publish("evening-test-replies", "three")
    again = Inbox()
    client = adapter(server, tmp_path, again)
    try:
        wait_until(lambda: third["id"] in again.ids(), 5, "the missed answer")
    finally:
        client.close()
    assert again.ids() == [third["id"]]


def test_an_answer_the_daemon_did_not_take_is_seen_again(server: NtfyServer, tmp_path: Path) -> None:
    inbox = Inbox(accept=False)
    client = adapter(server, tmp_path, inbox)
    try:
        wait_until(lambda: client.status.connected, 5, "the stream")
        msg = server.publish("evening-test-replies", "x")
        wait_until(lambda: inbox.ids().count(msg["id"]) >= 2, 5, "a replay")
        inbox.accept = True
        wait_until(lambda: msg["id"] in inbox.taken, 5, "the replay taken")
        settled = len(inbox.ids())
        time.sleep(1.0)  # two backoffs (0.5 s): a replay would come in this time
        assert len(inbox.ids()) == settled  # taken: no more replays
    finally:
        client.close()


@pytest.mark.e2e
@pytest.mark.e2e
def test_push_is_not_imported_without_push_config(sandbox) -> None:
    sandbox.write_config('[bedtime]\ndefault = "22:30"\n')
    code = (
        "import sys\n"
        f"{CHILD_DAEMON}"
        "d.tick(); d.stop()\n"
        "heavy = ('sundown.push', 'sundown.core.push', 'http.client')\n"
        "bad = [m for m in sys.modules if m.startswith(heavy)]\n"
        "print(bad)\n"
    )
    proc = sandbox.python(code)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


# --- suspend: hand-off to the server --------------------------------------------------------------


EVENING = datetime(2031, 11, 25, 20, 0, tzinfo=BERLIN)  # before tonight's first reminder


def console_daemon(sandbox: Sandbox, text: str, now: datetime) -> tuple[Daemon, FakeClock]:
    """A console-backend daemon on `text`, its clock stopped at `now` (a test moves it)."""
    sandbox.write_config(text)
    clock = FakeClock(now)
    return in_process_daemon(clock), clock


def away_daemon(sandbox: Sandbox, server: NtfyServer) -> tuple[Daemon, FakeClock, list[bool | None]]:
    """Pushing `when = "away"` at 21:45:01, magnesium's time; set `away[0]` to say the person left."""
    text = push_config(server.url) + 'when = "away"\n'
    daemon, clock = console_daemon(sandbox, text, datetime(2031, 11, 25, 21, 45, 1, tzinfo=BERLIN))
    away: list[bool | None] = [False]
    daemon.away = lambda: away[0]  # type: ignore[method-assign]
    return daemon, clock, away


def test_reminders_due_while_asleep_go_to_the_server_and_are_not_sent_again(
    sandbox, server: NtfyServer, capfd
) -> None:
    daemon, clock = console_daemon(sandbox, push_config(server.url), EVENING)
    try:
        daemon._start_push()
        daemon.tick()
        assert daemon.push_link.before_sleep() == 2
        with server.lock:
            scheduled = {m["fields"]["sequence_id"]: m["at"] for m in server.scheduled}
        magnesium = datetime(2031, 11, 25, 21, 45, tzinfo=BERLIN).timestamp()
        screens = datetime(2031, 11, 25, 22, 0, tzinfo=BERLIN).timestamp()
        assert scheduled == {"sd-2031-11-25-magnesium": magnesium, "sd-2031-11-25-screens-off": screens}
        # Asleep until 21:50: magnesium was delivered by the server, screens-off is still ahead.
        clock.now = datetime(2031, 11, 25, 21, 50, tzinfo=BERLIN)

        def streams() -> int:
            return sum(1 for r in server.requests if r.method == "GET" and "/json" in r.path)

        wait_until(lambda: streams() == 1, 5, "the reply stream")
        daemon.push_link.resumed()
        wait_until(lambda: streams() == 2, 5, "a fresh reply stream after the resume")
        daemon.tick()
        wait_until(lambda: server.messages("evening-test", "message_delete"), 5, "the cancel")
        with server.lock:  # (the local server's clock is real: 2031 has not come for magnesium)
            assert [m["fields"]["sequence_id"] for m in server.scheduled] == ["sd-2031-11-25-magnesium"]
        clock.now = datetime(2031, 11, 25, 22, 0, 5, tzinfo=BERLIN)
        daemon.tick()
        wait_until(lambda: server.messages("evening-test"), 5, "screens-off pushed as usual")
    finally:
        daemon.stop()
    out = capfd.readouterr().out
    assert "Magnesium" not in out and "Screens off" in out
    events = [(e.reminder, e.event, e.details.get("backend")) for e in daemon_log(daemon.paths)]
    magnesium = [e for e in events if e[0] == "magnesium" and e[1] == "notified"]
    assert magnesium == [("magnesium", "notified", "ntfy")]  # once, by the server, not by the desktop


def daemon_log(paths):
    from sundown.store.log import EventLog

    log = EventLog(paths.database)
    try:
        return log.events()
    finally:
        log.close()


# --- doctor -------------------------------------------------------------------------------------


def test_doctor_checks_the_server_the_topic_and_the_token(sandbox, server: NtfyServer) -> None:
    from sundown import doctor

    token = sandbox.config_home / "sundown" / "ntfy-token"
    sandbox.write_config(push_config(server.url) + 'token_file = "ntfy-token"\n')
    token.write_text("# ntfy token of this laptop\ntk_good_token\n")
    token.chmod(0o600)
    paths = resolve_paths()

    def checks() -> dict[str, doctor.Check]:
        return {c.name: c for c in doctor.check_push(paths, timeout=2)}

    server.tokens = {"tk_good_token"}
    got = checks()
    assert got["push server"].status == "ok" and "healthy" in got["push server"].detail
    assert got["push token"].status == "ok"
    assert got["push topic"].status == "ok" and "with the token" in got["push topic"].detail
    assert got["push daemon"].status == "warn"  # none running

    server.tokens = {"tk_other"}
    got = checks()
    assert got["push topic"].status == "fail" and "token was refused" in got["push topic"].detail
    assert all("tk_good_token" not in (c.detail + (c.fix or "")) for c in got.values())

    token.chmod(0o640)  # the config check reports it, with its line
    config_check = doctor.check_config(paths)
    assert config_check.status == "fail" and "push.token_file" in config_check.detail
    token.chmod(0o600)

    server.stop()
    got = checks()
    assert got["push server"].status == "fail" and "cannot reach" in got["push server"].detail
    assert "push topic" not in got


def test_doctor_says_nothing_about_push_without_it(sandbox) -> None:
    from sundown import doctor

    sandbox.write_config('[bedtime]\ndefault = "22:30"\n')
    assert doctor.check_push(resolve_paths()) == []


@pytest.mark.e2e
def test_a_plain_http_server_costs_no_openssl_and_https_still_works_after() -> None:
    code = (
        "import sys\n"
        "from sundown.push.ntfy import http_client\n"
        "m = http_client(False)\n"
        "print('ssl' in sys.modules, hasattr(m, 'HTTPSConnection'))\n"
        "m = http_client(True)\n"
        "print('ssl' in sys.modules, hasattr(m, 'HTTPSConnection'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout.split() == ["False", "False", "True", "True"], proc.stderr


def test_when_away_pushes_only_while_the_person_is_away(sandbox, server: NtfyServer) -> None:
    daemon, clock, away = away_daemon(sandbox, server)
    try:
        daemon._start_push()
        daemon.tick()  # magnesium, with the person at the screen: desktop only
        time.sleep(0.5)
        assert server.messages("evening-test") == []
        away[0] = True
        clock.now = datetime(2031, 11, 25, 22, 0, 1, tzinfo=BERLIN)
        daemon.tick()  # screens-off, with the screen locked: pushed, and magnesium, still open, follows
        pushed = wait_until(
            lambda: len(server.messages("evening-test")) == 2 and server.messages("evening-test"), 5, "pushes"
        )
        assert {m["sequence_id"] for m in pushed} == {"sd-2031-11-25-screens-off", "sd-2031-11-25-magnesium"}
        assert daemon.push_link.snapshot()["away"] is True
    finally:
        daemon.stop()


def test_push_is_switched_on_and_off_by_a_reload(sandbox, server: NtfyServer) -> None:
    plain = push_config(server.url).split("[push]")[0]
    daemon, clock = console_daemon(sandbox, plain, EVENING)
    try:
        assert daemon.status()["push"] is None
        sandbox.write_config(push_config(server.url))
        assert daemon.reload() == []
        wait_until(lambda: daemon.push_link and daemon.status()["push"]["connected"], 5, "push on")
        sandbox.write_config(plain)
        assert daemon.reload() == []
        assert daemon.push_link is None and daemon.status()["push"] is None
    finally:
        daemon.stop()


def test_when_away_an_open_reminder_follows_the_person_once_they_leave(sandbox, server: NtfyServer) -> None:
    daemon, clock, away = away_daemon(sandbox, server)
    try:
        daemon._start_push()
        daemon.tick()  # magnesium on this screen only
        time.sleep(0.3)
        assert server.messages("evening-test") == []
        away[0] = True  # the screen locks: the next tick sees it
        clock.now = datetime(2031, 11, 25, 21, 46, tzinfo=BERLIN)
        daemon.tick()
        (msg,) = wait_until(lambda: server.messages("evening-test"), 5, "the push")
        assert msg["sequence_id"] == "sd-2031-11-25-magnesium"
        daemon.tick()
        time.sleep(0.3)
        assert len(server.messages("evening-test")) == 1  # once
    finally:
        daemon.stop()


@pytest.mark.e2e
def test_quick_commands_with_push_configured_load_no_hashing(sandbox) -> None:
    """Checking a signature maps OpenSSL's libcrypto: only the daemon, when answers come, pays it."""
    sandbox.write_config(push_config("https://ntfy.example.org"))
    code = (
        "import sys\n"
        "from sundown.cli import main\n"
        "for argv in (['check'], ['next'], ['status']):\n"
        "    assert main(argv) == 0, argv\n"
        "heavy = ('hashlib', 'hmac', '_hashlib', 'base64', 'http.client')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = sandbox.python(code)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


@pytest.mark.e2e
def test_checking_a_signature_loads_no_openssl() -> None:
    """A plain-http push daemon stays without libcrypto (3.7 MB) while it checks every answer."""
    code = (
        "import sys\n"
        "from datetime import date, datetime, timezone\n"
        "from sundown.core import push\n"
        "s = push.Signer(bytes(32), 'laptop', 'id-1234567')\n"
        "end = datetime(2030, 1, 1, tzinfo=timezone.utc)\n"
        "body = s.answer(date(2029, 12, 31), ('tea',), 'done', 'nonce-1', end)\n"
        "v = push.verify({'id': 'm', 'message': body}, bytes(32), end)\n"
        "from sundown.push import keys\n"
        "import tempfile, pathlib\n"
        "keys.new_nonce(), keys.new_topic(), push.sequence_id('x' * 100)\n"
        "keys.device_id(pathlib.Path(tempfile.mkdtemp()) / 'push-device')\n"
        "print(v.distrust, sorted(m for m in ('_hashlib', 'hashlib', 'hmac', 'ssl') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.stdout.split("\n")[0] == "None []", proc.stdout + proc.stderr
