"""Where the D-Bus buses are, found without loading a D-Bus library.

An idle daemon on a machine without a bus (a container, a headless box) then never
loads jeepney at all.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from pathlib import Path

from sundown.notify import NotifyError

# jeepney's (and libdbus's) default when DBUS_SYSTEM_BUS_ADDRESS is unset.
SYSTEM_BUS_SOCKET = Path("/var/run/dbus/system_bus_socket")


def bus_address(env: Mapping[str, str]) -> str:
    """The session bus address: DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket."""
    address = env.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and (Path(runtime) / "bus").is_socket():
        return "unix:path=" + _escape_address(str(Path(runtime) / "bus"))
    raise NotifyError(
        "no session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist"
    )


def system_bus_may_exist(address: str, env: Mapping[str, str]) -> bool:
    """False only when `address` is the default system bus and nothing can be listening there."""
    if address != "SYSTEM" or env.get("DBUS_SYSTEM_BUS_ADDRESS"):
        return True
    return SYSTEM_BUS_SOCKET.is_socket()


def _escape_address(value: str) -> str:
    safe = set(string.ascii_letters + string.digits + "-_/.\\*")
    return "".join(c if c in safe else "".join(f"%{b:02x}" for b in c.encode()) for c in value)
