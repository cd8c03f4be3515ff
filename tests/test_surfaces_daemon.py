"""The surfaces in a running daemon: its D-Bus API on the session bus tells each change with
PropertiesChanged and answers like the command line (the same messages, refusals and rows,
source `dbus`, asked of both here); its tray item is there or not as `[notify] tray` says, and
its menu's "Open today's report" writes the report and opens it; a real wind-down window shows
in the follower's line, the API and the tray, and goes from each at its end."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jeepney import HeaderFields, MatchRule, Message
from jeepney.bus_messages import message_bus

from support.daemon import Evening, events, start, stop, wait_events
from support.dbus_client import NAME, Client
from support.desktop import Desktop, running_desktop, wait_until
from support.follow import Follower
from support.in_process import in_process_daemon
from support.sandbox import Sandbox
from support.tray_host import TrayHost, call
from support.winddown import OffsetClock

pytestmark = pytest.mark.e2e
MENU = "com.canonical.dbusmenu"
BERLIN = ZoneInfo("Europe/Berlin")


def _daemon(sandbox: Sandbox, bus: Desktop, **extra: str):  # type: ignore[no-untyped-def]
    return start(sandbox, "--backend", "console", env={**bus.session_vars, **extra})


def test_the_api_follows_a_reminder_and_answers_as_the_command_line(
    sandbox: Sandbox, bare_bus: Desktop
) -> None:
    evening = Evening(a=3, b=3000)
    sandbox.write_config(evening.text())
    daemon = _daemon(sandbox, bare_bus)
    client = Client(bare_bus.address)
    try:
        wait_until(client.owner, 10, f"the daemon to own {NAME}")
        props = client.get_all()
        assert [r["id"][1] for r in props["Reminders"][1]] == ["a", "b"]
        with client.properties_changed() as queue:
            arrived, changed = client.next_change(queue, timeout=15)
            while changed.get("State") != ("s", "pending"):
                arrived, changed = client.next_change(queue, timeout=15)
            received = time.time() - (time.monotonic() - arrived)
            [row] = wait_events(sandbox, "notified")
            logged = datetime.fromisoformat(row["ts"]).timestamp()
            print(f"PropertiesChanged {1000 * (received - logged):.1f} ms after the notified row")
            assert received - logged < 1.0
            assert changed["Summary"] == ("s", "A: now")

            # A refusal is the command's, word for word.
            cli = sandbox.run("ack", "nope")
            reply = client.call("Ack", "s", "nope")
            assert cli.returncode == 2 and reply.error == f"{NAME}.Error.Usage"
            assert cli.stderr.strip() == f"sundown: {reply.body[0]}"
            cli = sandbox.run("snooze", "b")
            reply = client.call("Snooze", "ss", "b", "")
            assert cli.returncode == 1 and reply.error == f"{NAME}.Error.Failed"
            assert cli.stderr.strip() == f"sundown: {reply.body[0]}"
            assert client.call("Snooze", "ss", "", "13h").error == f"{NAME}.Error.Usage"

            reply = client.call("Ack", "s", "")  # the latest waiting, as a bare `sundown ack`
            assert reply.error is None and reply.body[0].startswith("acknowledged A (")
            _, changed = client.next_change(queue)
            assert changed["State"] == ("s", "idle")
        [ack] = wait_events(sandbox, "acknowledged")
        assert (ack["reminder"], ack["source"]) == ("a", "dbus")
        again = client.call("Ack", "s", "a")
        assert again.body[0].startswith("A (") and "was already acknowledged" in again.body[0]
        assert len(events(sandbox, "acknowledged")) == 1

        assert client.call("Skip", "as", ["b"]).body[0].startswith("skipped B tonight (")
        assert client.call("Unskip", "as", []).body[0].startswith("unskipped every reminder tonight (")
        assert [(e["reminder"], e["source"]) for e in events(sandbox) if e["event"].endswith("skipped")] == [
            ("b", "dbus"),
            (None, "dbus"),
        ]
        sandbox.write_config(evening.text().replace('default = "', 'default = "25:'))
        cli = sandbox.run("reload")
        reply = client.call("Reload")
        assert cli.returncode == 78 and reply.error == f"{NAME}.Error.Config"
        assert reply.body[0] in cli.stderr
        status = json.loads(sandbox.run("status", "--json", check=True).stdout)
        assert status["config_error"]  # the daemon kept its routine, and says why
    finally:
        client.close()
        out, err = stop(daemon)
    assert "Traceback" not in err


def test_the_tray_item_is_there_unless_turned_off_and_opens_the_report(
    sandbox: Sandbox, bare_bus: Desktop, tmp_path: Path
) -> None:
    opened = tmp_path / "opened"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "xdg-open").write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    (bin_dir / "xdg-open").chmod(0o755)
    path = f"{bin_dir}:{sandbox.env['PATH']}"
    evening = Evening(a=3000)
    sandbox.write_config(evening.text() + "\n[notify]\ntray = false\n")
    daemon = _daemon(sandbox, bare_bus, PATH=path)
    item = f"org.kde.StatusNotifierItem-{daemon.pid}-1"
    try:
        wait_until(lambda: bare_bus.name_owner(NAME), 10, "the D-Bus API")
        assert bare_bus.name_owner(item) is None  # tray = false: no item
        sandbox.write_config(evening.text())
        assert sandbox.run("reload").returncode == 0
        wait_until(lambda: bare_bus.name_owner(item), 10, "the tray item after tray was turned on")
        reply = call(bare_bus.address, item, "/MenuBar", MENU, "Event", "isvu", 5, "clicked", ("s", ""), 0)
        assert reply.body == ()
        report = Path(sandbox.env["XDG_STATE_HOME"]) / "sundown" / "report.html"
        wait_until(lambda: opened.exists() and opened.read_text().strip(), 20, "the report to be opened")
        assert opened.read_text().strip() == str(report)
        assert report.read_text().startswith("<!DOCTYPE html>")  # the report of `sundown report --html`
        assert report.stat().st_mode & 0o777 == 0o600
    finally:
        _, err = stop(daemon)
    assert "Traceback" not in err


def test_a_wind_down_window_shows_in_the_follower_the_api_and_the_tray_and_goes_at_until(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """A real `[winddown]` window through a daemon (only `run` and `undo`: nothing of the desktop is
    changed), its clock 3 s before the window (OffsetClock: its scheduler still waits in real time).
    At the start the follower's waybar line gains the class `winddown`, the D-Bus `WindDown`
    property says so (since, until, the effects) in a PropertiesChanged and in GetAll, and the
    tray's icon and tooltip become the wind-down's (NewIcon, then the tray host reads them again);
    at `until` each of them goes back."""
    from sundown.paths import resolve_paths
    from sundown.runtime.control_server import InstanceLock
    from sundown.runtime.surfaces.tray import ICONS, ITEM, ITEM_PATH

    record = tmp_path / "commands.txt"
    begins = datetime(2026, 11, 26, 6, 59, 54, tzinfo=BERLIN)
    ends = datetime(2026, 11, 26, 7, 0, tzinfo=BERLIN)
    text = (
        'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "07:00"\n'
        '[winddown]\nbefore = "6s"\nuntil = "07:00"\n'
        f'run = ["sh", "-c", "echo run >> {record}"]\nundo = ["sh", "-c", "echo undo >> {record}"]\n'
    )
    with running_desktop(tmp_path, with_x=True, with_server=False) as desk:
        TrayHost(desk)
        env = {**sandbox.env, **desk.session_vars}
        clock = OffsetClock(begins - timedelta(seconds=3))
        daemon = in_process_daemon(clock, text=text, env=env)
        lock = InstanceLock(resolve_paths(env))  # as `sundown run` holds it: the follower finds the daemon
        client = Client(desk.address)
        follower = None
        try:
            daemon.start()
            tray = daemon.on_bus.tray
            assert tray is not None
            asked: list[tuple[float, str]] = []  # what the tray host asks of the item, and when
            handle = tray._handle

            def noted(msg: Message) -> None:
                asked.append((time.monotonic(), str(msg.header.fields.get(HeaderFields.member))))
                handle(msg)

            tray._handle = noted  # type: ignore[method-assign]
            follower = Follower(sandbox, "waybar")
            wait_until(client.owner, 10, f"the daemon to own {NAME}")
            icon_rule = MatchRule(type="signal", interface=ITEM, member="NewIcon", path=ITEM_PATH)
            client.conn.send_and_get_reply(message_bus.AddMatch(icon_rule), timeout=10)
            with client.properties_changed() as changes, client.conn.filter(icon_rule, bufsize=16) as icons:

                def wind_down_becomes(active: bool) -> dict[str, Any]:
                    deadline = time.monotonic() + 15
                    while True:
                        left = max(0.1, deadline - time.monotonic())
                        _, changed = client.next_change(changes, timeout=left)
                        if "WindDown" in changed and changed["WindDown"][1]["active"] == ("b", active):
                            return dict(changed["WindDown"][1])

                def item(name: str) -> Any:
                    props = "org.freedesktop.DBus.Properties"
                    reply = call(desk.address, tray.bus_name, ITEM_PATH, props, "Get", "ss", ITEM, name)
                    return reply.body[0][1]

                def reread(since: int) -> None:
                    """NewIcon came, and the tray host asked for the item's properties after `since`."""
                    client.conn.recv_until_filtered(icons, timeout=5)
                    looked = {"Get", "GetAll"}
                    wait_until(lambda: {m for _, m in asked[since:]} & looked, 5, "the tray host to look")

                # The window begins: applied (the `run` command), then shown everywhere.
                quiet = len(asked)
                on = wind_down_becomes(True)
                late = (clock() - begins).total_seconds()
                assert on == {
                    "active": ("b", True),
                    "since": ("x", int(begins.timestamp())),
                    "until": ("x", int(ends.timestamp())),
                    "effects": ("a{ss}", {"run": "on"}),
                }
                assert client.get_all()["WindDown"] == ("a{sv}", on)
                assert record.read_text().split() == ["run"]
                line = follower.json(follower.wait_line(lambda d: "winddown" in d["class"], timeout=5))
                assert line["class"] == ["idle", "winddown"] and line["text"].startswith("wind-down · ")
                assert "wind-down on until 07:00" in line["tooltip"]
                reread(quiet)
                assert item("IconName") == ICONS["winddown"]
                assert "wind-down on until 07:00" in item("ToolTip")[3]

                # ... and ends at `until`: put back (`undo`), and gone from each of them.
                seen, quiet = len(follower.lines), len(asked)
                off = wind_down_becomes(False)
                late_end = (clock() - ends).total_seconds()
                assert off == {"active": ("b", False)}
                assert client.get_all()["WindDown"] == ("a{sv}", off)
                wait_until(lambda: record.read_text().split() == ["run", "undo"], 5, "the undo command")
                line = follower.json(follower.wait_line(lambda d: "winddown" not in d["class"], 5, seen))
                assert "wind-down" not in line["text"] and "wind-down on" not in line["tooltip"]
                reread(quiet)
                assert item("IconName") == ICONS["idle"] and "wind-down" not in item("ToolTip")[3]
            print(f"\nWindDown shown {late:.2f} s after the window began, gone {late_end:.2f} s after until")
            assert late < 3 and late_end < 3
        finally:
            client.close()
            if follower is not None:
                follower.stop()
            daemon.stop()
            lock.release()
