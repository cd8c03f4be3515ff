"""xfce4-notifyd's Do Not Disturb: its `/do-not-disturb` setting in xfconf."""

from __future__ import annotations

from typing import Any

from sundown.notify.bus import BusLink, unvariant
from sundown.runtime.sources.source import Source, attempt

XFCONF = ("org.xfce.Xfconf", "/org/xfce/Xfconf", "org.xfce.Xfconf")
SETTING = ("xfce4-notifyd", "/do-not-disturb")


class XfceDoNotDisturb(Source):
    name = "xfce4-notifyd do-not-disturb"
    tells = "dnd"
    service = XFCONF[0]

    def look(self, bus: BusLink) -> bool:
        found = attempt(self.name, lambda: bus.ask(*XFCONF, "GetProperty", "ss", *SETTING))
        value = unvariant(found[0]) if found else None
        if not isinstance(value, bool):
            return False
        self.value = value
        return True

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": XFCONF[0], "interface": XFCONF[2], "member": "PropertyChanged"}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        if member != "PropertyChanged" or len(body) != 3 or tuple(body[:2]) != SETTING:
            return False
        return self.say(unvariant(body[2]))
