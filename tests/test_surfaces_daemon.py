"""The surfaces in a running daemon: its D-Bus API on the session bus tells each change with
PropertiesChanged and answers like the command line (the same messages, refusals and rows,
source `dbus`, asked of both here); its tray item is there or not as `[notify] tray` says, and
its menu's "Open today's report" writes the report and opens it."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from support.daemon import Evening, events, start, stop, wait_events
from support.dbus_client import NAME, Client
from support.desktop import Desktop, wait_until
from support.sandbox import Sandbox
from support.tray_host import call

pytestmark = pytest.mark.e2e
MENU = "com.canonical.dbusmenu"


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
