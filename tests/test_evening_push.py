"""The evening of one person on two machines: each daemon publishes the spans of a night it closed
to the reply topic of a local ntfy-protocol server, stores the other's, and both agree on lights out.

Two in-process daemons with clocks of their own (the night has to reach 07:00), each with its own
state directory, sharing one local server (tests/support/ntfy_server.py).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sundown.config import load_for
from sundown.core import push_spans
from sundown.core.activity import Span
from sundown.core.context import Context
from sundown.core.push import BAD_SIGNATURE, UNSIGNED, Signer
from sundown.reports import stats
from sundown.store.log import EventLog
from support.answers import SECRET, secret_line
from support.desktop import wait_until
from support.in_process import FakeWatch, in_process_daemon
from support.ntfy_server import NtfyServer
from support.sandbox import FakeClock

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = date(2031, 11, 25)
TOPIC = "evening-spans"
CONFIG = """timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
[reminders.wind-down]
before = "60m"
[push]
ntfy = "{url}/{topic}"
device = "{device}"
"""
SIGNER = Signer(SECRET, "laptop", "test-machine-id")
ACTIVE = Context(locked=False, idle_known=True)


def at(hh: int, mm: int, day: int = 25) -> datetime:
    return datetime(2031, 11, day, hh, mm, tzinfo=BERLIN).astimezone(UTC)


def locked(since: datetime) -> Context:
    return Context(locked=True, locked_since=since, idle_known=True)


class Machine:
    """One daemon: its own state directory and config, its clock and its desktop set by the test."""

    def __init__(self, root: Path, device: str, server: NtfyServer, now: datetime, extra: str = "") -> None:
        root.mkdir()
        config = root / "config.toml"
        config.write_text(CONFIG.format(url=server.url, topic=TOPIC, device=device) + secret_line() + extra)
        self.clock = FakeClock(now)
        files = {"SUNDOWN_STATE_DIR": str(root / "state"), "SUNDOWN_CONFIG": str(config)}
        self.daemon = in_process_daemon(self.clock, env=files)
        self.paths = self.daemon.paths
        self.watch = FakeWatch(ACTIVE)
        self.daemon.context = self.watch  # type: ignore[assignment]
        self.daemon.worker.start()  # answers from the stream are handled on the worker
        self.daemon.call(self.daemon._start_push)

    def at(self, now: datetime, ctx: Context | None = None) -> None:
        """Time passes to `now`, where the desktop says `ctx`: the daemon takes a look."""
        self.clock.now = now
        if ctx is not None:
            self.watch.ctx = ctx
        self.daemon.call(self.daemon.tick)

    def lights_out(self) -> dict:
        with EventLog(self.paths.database) as log:
            s = stats.from_log(log, load_for(self.paths).routine, BERLIN, NIGHT, 1, at(12, 0, day=26))
        return {
            k: v for k, v in s.to_json()["nights"][0].items() if k in ("lights_out", "active_after_bedtime_s")
        }

    def rows(self, event: str) -> list:
        with EventLog(self.paths.database) as log:
            return [e for e in log.events() if e.event == event]

    def spans(self, source: str) -> list[tuple[str, str, str]]:
        with EventLog(self.paths.database) as log:
            rows = [e for e in log.events() if e.event == "activity" and e.source == source]
        return [(e.details["state"], e.details["from"], e.details["to"]) for e in rows]


@pytest.fixture
def server():
    srv = NtfyServer()
    yield srv
    srv.close()


def test_two_machines_share_their_spans_and_agree_on_lights_out(tmp_path: Path, server: NtfyServer) -> None:
    laptop = Machine(tmp_path / "laptop", "laptop", server, at(21, 30))
    desktop = Machine(tmp_path / "desktop", "desktop", server, at(21, 30))
    try:
        for m in (laptop, desktop):
            m.at(at(21, 30))  # the window opens: both at their screens
        laptop.at(at(22, 40), locked(at(22, 40)))  # the laptop locks ...
        desktop.at(at(0, 15, day=26), locked(at(0, 15, day=26)))  # ... the desktop stays on until 00:15
        for m in (laptop, desktop):
            m.at(at(7, 0, day=26))  # the window's end: each closes its night and publishes it
        wait_until(
            lambda: laptop.spans("device:desktop") and desktop.spans("device:laptop"),
            10,
            "each other's spans",
        )
        # Published twice (a restart before the server took it): nothing changes. Spans from a
        # stranger on the topic (unsigned, or signed with a guess) are not believed.
        replies = f"{TOPIC}-replies"
        desktops = next(m["message"] for m in server.messages(replies) if '"from":"desktop"' in m["message"])
        server.publish(replies, desktops)
        stranger = json.loads(desktops)
        stranger["spans"][0][1] -= 3600  # an hour more at the screen, says a stranger
        server.publish(replies, json.dumps({k: v for k, v in stranger.items() if k not in ("sig", "dev")}))
        server.publish(replies, json.dumps(stranger))
        counts = laptop.daemon.push_link.counts  # type: ignore[union-attr]
        seen = lambda: counts["duplicate"] == 1 and counts[UNSIGNED] == 1 and counts[BAD_SIGNATURE] == 1  # noqa: E731
        wait_until(seen, 5, "the replay and the strangers' spans seen")
        laptop.at(at(7, 5, day=26))  # and nothing more to publish
    finally:
        laptop.daemon.stop()
        desktop.daemon.stop()
    assert laptop.spans("device:desktop") == desktop.spans("daemon")
    assert desktop.spans("device:laptop") == laptop.spans("daemon")
    assert len(laptop.spans("device:desktop")) == 2  # the duplicate was not written again
    # One person: active until the desktop went off at 00:15; 105 minutes after 22:30.
    want = {"lights_out": "2031-11-26T00:15:00+01:00", "active_after_bedtime_s": 105 * 60}
    assert laptop.lights_out() == desktop.lights_out() == want
    assert len(server.messages(f"{TOPIC}-replies")) == 5  # one night each, and the test's three
    mark = json.loads((laptop.paths.state_dir / "push-spans").read_text())
    assert mark["night"] == NIGHT.isoformat()  # the server took it: not published again after a restart


def test_span_messages_refuse_what_no_machine_would_send() -> None:
    good = push_spans.encode(NIGHT, [Span("idle", 1953408600, 1953412200)], SIGNER)
    assert len(good) == 1 and push_spans.parse({"message": good[0]}) is not None
    assert push_spans.verify({"message": good[0]}, SECRET).device_id == "test-machine-id"
    data = json.loads(good[0])
    tampered = {**data, "spans": [["idle", 1953408600, 1953415800]]}
    assert push_spans.verify({"message": json.dumps(tampered)}, SECRET).distrust == BAD_SIGNATURE
    assert push_spans.verify({"message": good[0]}, b"a guess" * 5).distrust == BAD_SIGNATURE
    for bad in (
        {**data, "from": "no spaces allowed"},
        {**data, "night": "2031-13-01"},
        {**data, "spans": [["dreaming", 1953408600, 1953412200]]},
        {**data, "spans": [["idle", 1953412200, 1953408600]]},  # ends before it starts
        {**data, "spans": [["idle", 1, 2]]},  # not that night
        {**data, "spans": [["idle", 1953408600, 1953408600 + 2 * 86400]]},  # longer than a day
        {**data, "spans": [["idle", True, 1953412200]]},
        {**data, "spans": []},
        {**data, "kind": "answer"},
    ):
        assert push_spans.parse({"message": json.dumps(bad)}) is None, bad
    many = [Span("active", 1953408600 + 60 * k, 1953408600 + 60 * k + 30) for k in range(100)]
    messages = push_spans.encode(NIGHT, many, SIGNER)
    assert len(messages) == 3 and all(len(m) < 4096 for m in messages)
    assert sum(len(push_spans.parse({"message": m}).spans) for m in messages) == 100  # type: ignore[union-attr]
    assert timedelta(seconds=1953412200 - 1953408600) == timedelta(hours=1)


def test_a_sleep_apps_webhook_is_in_bed_in_stats_and_the_same_on_the_reply_topic_is_nothing(
    tmp_path: Path, server: NtfyServer
) -> None:
    now = datetime.now(UTC)
    phone = Machine(tmp_path / "laptop", "laptop", server, now, 'webhook_topic = "evening-spans-sleep"\n')
    try:
        wait_until(lambda: phone.daemon.push_link.client.status.connected, 5, "the stream")  # type: ignore[union-attr]
        body = '{"event": "sleep_tracking_started", "value1": "1795000000000"}'  # Sleep as Android
        server.publish("evening-spans-sleep", body)
        wait_until(lambda: phone.rows("in_bed"), 5, "the in_bed row")
        counts = phone.daemon.push_link.counts  # type: ignore[union-attr]
        unparsed = counts["unparsed"]
        server.publish(f"{TOPIC}-replies", body)  # where only signed answers and spans count
        wait_until(lambda: counts["unparsed"] == unparsed + 1, 5, "the same body on the reply topic")
    finally:
        phone.daemon.stop()
    [row] = phone.rows("in_bed")
    assert row.source == "phone" and not phone.rows("acknowledged")
    night = row.night
    with EventLog(phone.paths.database) as log:
        got = stats.from_log(log, load_for(phone.paths).routine, BERLIN, night, 1, now + timedelta(days=1))
    said = row.ts.astimezone(BERLIN).replace(microsecond=0)
    assert got.to_json()["nights"][0]["in_bed"] == said.isoformat()
