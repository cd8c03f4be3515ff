"""The session's screensaver: locked (`GetActive`, `ActiveChanged`) and, on the freedesktop
interface, the session's idle time (`GetSessionIdleTime`, asked)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sundown.notify.bus import BusLink
from sundown.runtime.sources.source import Asked, Source, attempt, is_int

FREEDESKTOP = ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver")
GNOME = ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver")
GET_SESSION_IDLE_TIME = "org.freedesktop.ScreenSaver.GetSessionIdleTime"


class ScreenSaverLock(Source):
    tells = "locked"

    def __init__(self, where: tuple[str, str, str]) -> None:
        super().__init__()
        self.where = where
        self.service = where[0]
        self.name = f"{where[0]} ActiveChanged"

    def look(self, bus: BusLink) -> bool:
        active = attempt(self.service or "", lambda: bus.ask(*self.where, "GetActive")[0])
        if not isinstance(active, bool):
            return False
        self.value = active
        return True

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": self.where[0], "interface": self.where[2], "member": "ActiveChanged"}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        if member != "ActiveChanged" or len(body) != 1 or path != self.where[1]:
            return False
        return self.say(body[0])


class SessionIdleTime(Asked):
    """How long the session has been idle, as the freedesktop screensaver counts it (seconds)."""

    name = GET_SESSION_IDLE_TIME
    tells = "idle"
    service = FREEDESKTOP[0]

    def read(self, bus: BusLink) -> timedelta | None:
        seconds = bus.ask(*FREEDESKTOP, "GetSessionIdleTime")[0]
        return timedelta(seconds=seconds) if is_int(seconds) else None
