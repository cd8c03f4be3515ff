"""The system's time zone as timedated says it: a trip re-plans tonight (`on_zone`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sundown.notify.bus import PROPERTIES, BusLink
from sundown.runtime.sources.source import Source, attempt, changed_prop

TIMEDATE = ("org.freedesktop.timedate1", "/org/freedesktop/timedate1", "org.freedesktop.timedate1")


class Timedated(Source):
    name = "timedated Timezone"
    tells = "zone"
    sender = TIMEDATE[0]

    def __init__(self, on_zone: Callable[[str | None], None] | None) -> None:
        super().__init__()
        self.on_zone = on_zone

    def look(self, bus: BusLink) -> bool:
        return isinstance(attempt("timedated", lambda: bus.get(*TIMEDATE, "Timezone")), str)

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": TIMEDATE[0], "path": TIMEDATE[1], "interface": PROPERTIES}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        zone = changed_prop(member, path, body, TIMEDATE[1], "Timezone")
        if isinstance(zone, str) and self.on_zone is not None:
            self.on_zone(zone)
        return False  # the zone is followed through on_zone, not by a tick of its own
