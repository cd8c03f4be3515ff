"""Do Not Disturb as the notification server says it: its `Inhibited` property (the spec's,
1.3: GNOME, KDE Plasma, mako, swaync) and dunst's own `paused`."""

from __future__ import annotations

from typing import Any

from sundown.notify.bus import PROPERTIES, BusLink
from sundown.runtime.sources.source import Source, attempt, changed_prop

NAME, PATH = "org.freedesktop.Notifications", "/org/freedesktop/Notifications"
DUNST = "org.dunstproject.cmd0"


class ServerProperty(Source):
    """A boolean property of the notification server, kept current by PropertiesChanged."""

    tells = "dnd"
    service = NAME
    iface = NAME
    prop = ""

    def look(self, bus: BusLink) -> bool:
        value = attempt(self.name, lambda: bus.get(NAME, PATH, self.iface, self.prop))
        if not isinstance(value, bool):
            return False
        self.value = value
        return True

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": NAME, "path": PATH, "interface": PROPERTIES}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        value = changed_prop(member, path, body, PATH, self.prop, self.iface)
        return value is not None and self.say(value)


class Inhibited(ServerProperty):
    name = "notification server Inhibited"
    prop = "Inhibited"


class DunstPaused(ServerProperty):
    name = "dunst paused"
    iface = DUNST
    prop = "paused"
