"""A D-Bus client of sundown's API for tests (jeepney, blocking), and a bus another user can reach."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, MatchRule, Message, MessageType, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import DBusConnection, open_dbus_connection

from support.desktop import require, wait_until

NAME = "io.github.sundown.Sundown1"
PATH = "/io/github/sundown/Sundown1"
API = DBusAddress(PATH, bus_name=NAME, interface=NAME)
PROPS = DBusAddress(PATH, bus_name=NAME, interface="org.freedesktop.DBus.Properties")


class Reply:
    """A method's reply: `error` is the D-Bus error name (None on success)."""

    def __init__(self, msg: Message) -> None:
        self.error = msg.header.fields.get(4) if msg.header.message_type is MessageType.error else None
        self.body = msg.body

    def __repr__(self) -> str:
        return f"Reply(error={self.error!r}, body={self.body!r})"


class Client:
    def __init__(self, address: str) -> None:
        self.conn: DBusConnection = open_dbus_connection(address)

    def call(self, method: str, signature: str | None = None, *args: Any, on: DBusAddress = API) -> Reply:
        msg = new_method_call(on, method, signature, args)
        return Reply(self.conn.send_and_get_reply(msg, timeout=10))

    def get_all(self) -> dict[str, tuple[str, Any]]:
        reply = self.call("GetAll", "s", NAME, on=PROPS)
        assert reply.error is None, reply
        return dict(reply.body[0])

    def introspect(self, path: str = PATH) -> str:
        at = DBusAddress(path, bus_name=NAME, interface="org.freedesktop.DBus.Introspectable")
        reply = self.call("Introspect", on=at)
        assert reply.error is None, reply
        return str(reply.body[0])

    def owner(self) -> str | None:
        reply = Reply(self.conn.send_and_get_reply(message_bus.GetNameOwner(NAME), timeout=10))
        return None if reply.error else str(reply.body[0])

    @contextmanager
    def properties_changed(self) -> Iterator[Any]:
        """A queue of PropertiesChanged signals of sundown's object: `next_change(queue)` reads one."""
        rule = MatchRule(
            type="signal", interface="org.freedesktop.DBus.Properties", member="PropertiesChanged", path=PATH
        )
        self.conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=10)
        with self.conn.filter(rule, bufsize=64) as queue:
            yield queue

    def next_change(self, queue: Any, timeout: float = 5) -> tuple[float, dict[str, tuple[str, Any]]]:
        """(arrival time.monotonic(), the changed properties) of the next PropertiesChanged."""
        msg = self.conn.recv_until_filtered(queue, timeout=timeout)
        arrived = time.monotonic()
        interface, changed, invalidated = msg.body
        assert interface == NAME and invalidated == []
        return arrived, dict(changed)

    def close(self) -> None:
        self.conn.close()


POLICY_BUS = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    {users}
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextmanager
def session_bus(directory: Path, allow_others: bool) -> Iterator[str]:
    """A session bus with the session bus's own rule for who may connect: only its user, as
    Debian's session.conf has it (no `<allow user>`), or, `allow_others`, a loosened one that
    lets every uid connect (`<allow user="*"/>`). Its socket sits in `directory`."""
    config = directory / "bus.conf"
    socket_path = directory / "bus"
    users = '<allow user="*"/>' if allow_others else ""
    config.write_text(POLICY_BUS.format(socket=socket_path, users=users))
    proc = subprocess.Popen(
        [require("dbus-daemon"), f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        assert address, "dbus-daemon did not start"
        wait_until(socket_path.exists, 5, "the bus socket")
        socket_path.chmod(0o777)
        yield address
    finally:
        proc.kill()
        proc.wait(5)
