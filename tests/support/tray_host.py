"""A real tray for tests: xfce4-panel with only its status tray plugin, under Xvfb on a private bus.

The status tray plugin (libsystray) runs a StatusNotifierWatcher (org.kde.StatusNotifierWatcher)
and is a StatusNotifierHost: registered items are asked for their properties and menus like on
an XFCE desktop. The panel keeps its configuration in xfconf, so a private xfconfd runs with a
channel file that holds one panel with that one plugin; nothing of the tester's desktop is used.
"""

from __future__ import annotations

import glob
import subprocess
from typing import Any

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

from support.desktop import Desktop, require, wait_until

WATCHER = "org.kde.StatusNotifierWatcher"
PANEL_XML = """<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="30"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray"/>
  </property>
</channel>
"""


def xfconfd() -> str:
    found = sorted(glob.glob("/usr/lib/*/xfce4/xfconf/xfconfd"))
    if not found:
        require("xfconfd-not-found", "xfconf")
    return found[0]


class TrayHost:
    """xfce4-panel (with xfconfd) on `desk`'s bus and display; `restart()` to kill and start it again."""

    def __init__(self, desk: Desktop) -> None:
        self.desk = desk
        config = desk.root / "config" / "xfce4" / "xfconf" / "xfce-perchannel-xml"
        config.mkdir(parents=True)
        (config / "xfce4-panel.xml").write_text(PANEL_XML)
        desk.env["XDG_CONFIG_HOME"] = str(desk.root / "config")
        desk._spawn("xfconfd", [xfconfd()], stdout=subprocess.DEVNULL)
        self.start()

    def start(self, timeout: float = 30) -> None:
        self.desk._spawn("xfce4-panel", [require("xfce4-panel", "xfce4-panel")], stdout=subprocess.DEVNULL)
        wait_until(lambda: self.desk.name_owner(WATCHER), timeout, f"xfce4-panel's tray to own {WATCHER}")

    def stop(self) -> None:
        from support.desktop import _kill_group

        _kill_group(self.desk.procs.pop("xfce4-panel"))
        wait_until(lambda: not self.desk.name_owner(WATCHER), 10, f"{WATCHER} to go")

    def registered(self) -> list[str]:
        """The watcher's RegisteredStatusNotifierItems."""
        conn = open_dbus_connection(self.desk.address)
        try:
            props = DBusAddress(
                "/StatusNotifierWatcher", bus_name=WATCHER, interface="org.freedesktop.DBus.Properties"
            )
            reply = conn.send_and_get_reply(
                new_method_call(props, "Get", "ss", (WATCHER, "RegisteredStatusNotifierItems")), timeout=10
            )
            return list(reply.body[0][1])
        finally:
            conn.close()


def call(
    address: str, name: str, path: str, interface: str, member: str, signature: str = "", *args: Any
) -> Any:
    """One method call on the tray item, as a tray host makes them: the reply message."""
    conn = open_dbus_connection(address)
    try:
        at = DBusAddress(path, bus_name=name, interface=interface)
        return conn.send_and_get_reply(new_method_call(at, member, signature or None, args), timeout=10)
    finally:
        conn.close()
