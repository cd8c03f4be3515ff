"""Mutter's IdleMonitor (GNOME on X11 and Wayland): the time since the last input, asked."""

from __future__ import annotations

from datetime import timedelta

from sundown.notify.bus import BusLink
from sundown.runtime.sources.source import Source, attempt, is_int

IDLE_MONITOR = (
    "org.gnome.Mutter.IdleMonitor",
    "/org/gnome/Mutter/IdleMonitor/Core",
    "org.gnome.Mutter.IdleMonitor",
)


class MutterIdle(Source):
    name = "Mutter IdleMonitor"
    tells = "idle"
    service = IDLE_MONITOR[0]
    polled = True

    def __init__(self) -> None:
        super().__init__()
        self._bus: BusLink | None = None

    def look(self, bus: BusLink) -> bool:
        self._bus = bus
        return is_int(attempt(self.name, self._milliseconds))

    def _milliseconds(self) -> object:
        assert self._bus is not None
        return self._bus.ask(*IDLE_MONITOR, "GetIdletime")[0]

    def ask(self) -> timedelta | None:
        ms = self._milliseconds()
        return timedelta(milliseconds=ms) if is_int(ms) else None  # type: ignore[arg-type]
