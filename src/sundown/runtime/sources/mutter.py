"""Mutter's IdleMonitor (GNOME on X11 and Wayland): the time since the last input, asked."""

from __future__ import annotations

from datetime import timedelta

from sundown.notify.bus import BusLink
from sundown.runtime.sources.source import Asked, is_int

IDLE_MONITOR = (
    "org.gnome.Mutter.IdleMonitor",
    "/org/gnome/Mutter/IdleMonitor/Core",
    "org.gnome.Mutter.IdleMonitor",
)


class MutterIdle(Asked):
    name = "Mutter IdleMonitor"
    tells = "idle"
    service = IDLE_MONITOR[0]

    def read(self, bus: BusLink) -> timedelta | None:
        ms = bus.ask(*IDLE_MONITOR, "GetIdletime")[0]
        return timedelta(milliseconds=ms) if is_int(ms) else None
