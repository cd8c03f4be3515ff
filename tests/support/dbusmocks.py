"""python-dbusmock services on a private bus, and the D-Bus calls tests make to drive them.

`Mocks` starts dbusmock templates (ours live in tests/mocks/, e.g. logind_session.py) or bare
objects on a `Desktop`'s bus, which doubles as the system bus through SUNDOWN_SYSTEM_BUS
(`daemon_env`). The `mocks` fixture (conftest.py) kills them all at the end.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, new_method_call
from jeepney.io.blocking import open_dbus_connection

from support.desktop import Desktop, _kill_group, wait_until

MOCKS = Path(__file__).resolve().parent.parent / "mocks"
LOGIND = str(MOCKS / "logind_session.py")
LOGIN1 = ("org.freedesktop.login1", "/org/freedesktop/login1", "org.freedesktop.login1.Manager")
SESSION = "/org/freedesktop/login1/session/c1"
SESSION_IFACE = "org.freedesktop.login1.Session"
NOTIFY = ("org.freedesktop.Notifications", "/org/freedesktop/Notifications")
GNOME_SCREENSAVER = ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver")
MOCK = "org.freedesktop.DBus.Mock"  # dbusmock's own interface: add methods, properties, emit signals


def call(address: str, dest: str, path: str, iface: str, member: str, sig: str = "", *args: Any) -> tuple:
    conn = open_dbus_connection(bus=address)
    try:
        msg = new_method_call(DBusAddress(path, dest, iface), member, sig or None, args if sig else None)
        return tuple(conn.send_and_get_reply(msg, timeout=5).body)
    finally:
        conn.close()


def set_prop(address: str, dest: str, path: str, iface: str, name: str, sig: str, value: Any) -> None:
    call(address, dest, path, "org.freedesktop.DBus.Properties", "Set", "ssv", iface, name, (sig, value))


class Mocks:
    """dbusmock services on one private bus; every process killed at the end."""

    def __init__(self, bus: Desktop) -> None:
        self.bus = bus
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def address(self) -> str:
        return self.bus.address

    def start(self, template: str, name: str, *params: str) -> None:
        """A dbusmock template's service, owning `name` when this returns."""
        self._spawn(name, "--template", template, *params)

    def bare(self, name: str, path: str, iface: str) -> None:
        """A bare dbusmock object (no template) that the test fills with methods and properties."""
        self._spawn(name, name, path, iface)

    def _spawn(self, name: str, *args: str) -> None:
        argv = [sys.executable, "-m", "dbusmock", "--session", *args]
        log = open(self.bus.root / f"mock-{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed with the proc
        proc = subprocess.Popen(argv, env=self.bus.env, stdout=log, stderr=log, start_new_session=True)
        self.procs.append(proc)
        wait_until(lambda: self.bus.name_owner(name), 10, f"{name} on the bus")

    def notification_server(self, inhibited: tuple[str, Any]) -> None:
        """dbusmock's notification server with the `Inhibited` property: (its signature, its value)."""
        self.start("notification_daemon", NOTIFY[0])
        call(self.address, *NOTIFY, MOCK, "AddProperty", "ssv", NOTIFY[0], "Inhibited", inhibited)

    def session_hint(self, name: str, sig: str, value: Any) -> None:
        """Set a property of the mocked logind session (LockedHint, IdleHint, IdleSinceHint)."""
        set_prop(self.address, LOGIN1[0], SESSION, SESSION_IFACE, name, sig, value)

    def prepare_for_sleep(self, going: bool) -> None:
        """logind's PrepareForSleep, sent by the mocked logind itself (the owner of its name)."""
        call(self.address, LOGIN1[0], LOGIN1[1], MOCK, "EmitSignal", "sssav",
             LOGIN1[2], "PrepareForSleep", "b", [("b", going)])  # fmt: skip

    def close(self) -> None:
        for proc in self.procs:
            _kill_group(proc)


def daemon_env(mocks: Mocks, **extra: str) -> dict[str, str]:
    return {
        "DBUS_SESSION_BUS_ADDRESS": mocks.address,
        "SUNDOWN_SYSTEM_BUS": mocks.address,
        **extra,
    }
