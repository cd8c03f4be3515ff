"""Mutter's IdleMonitor (GNOME on X11 and Wayland): the time since the last input, asked, and
its watches, which say by signals when the session has been idle for a while and when it is back.

The watches: an idle watch of `context.idle` (`watch`, registered again when it changes) and,
only while idle, a one-shot user-active watch for the next input (armed by the worker after
the idle watch fired), so typing at the screen never wakes the daemon. Where Mutter refuses
them, idle time is asked as before (`ContextWatch.idle_signalled` says which).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sundown.notify.bus import BusLink
from sundown.runtime.sources.source import Asked, attempt, is_int

IDLE_MONITOR = (
    "org.gnome.Mutter.IdleMonitor",
    "/org/gnome/Mutter/IdleMonitor/Core",
    "org.gnome.Mutter.IdleMonitor",
)


class MutterIdle(Asked):
    name = "Mutter IdleMonitor"
    tells = "idle"
    service = IDLE_MONITOR[0]

    def __init__(self, idle_after: timedelta | None = None) -> None:
        super().__init__()
        self.idle_after = idle_after
        self.idle_watch: int | None = None
        self.active_watch: int | None = None
        self._arm = False  # the idle watch fired: the worker arms the one-shot active watch

    def read(self, bus: BusLink) -> timedelta | None:
        ms = bus.ask(*IDLE_MONITOR, "GetIdletime")[0]
        return timedelta(milliseconds=ms) if is_int(ms) else None

    def took(self, answer: Any) -> None:
        self.idle_watch = self.active_watch = None  # a new Mutter: none of ours
        if self.idle_after is not None:
            self.watch(self.idle_after, idle_now=answer)

    def watch(self, after: timedelta, idle_now: timedelta | None = None) -> None:
        """Be told when the session has had no input for `after` (the worker, or at start)."""
        self.idle_after = after
        bus = self._bus
        if bus is None:
            return
        old = self.idle_watch
        if old is not None:
            attempt("RemoveWatch", lambda: bus.ask(*IDLE_MONITOR, "RemoveWatch", "u", old))
        ms = max(int(after.total_seconds() * 1000), 1)
        watch = attempt("AddIdleWatch", lambda: bus.ask(*IDLE_MONITOR, "AddIdleWatch", "t", ms)[0])
        self.idle_watch = watch if is_int(watch) else None
        if self.idle_watch is not None and idle_now is not None and idle_now >= after:
            self._arm = True  # idle already: the return is what to be told of

    def rules(self) -> list[dict[str, str]]:
        path, iface = IDLE_MONITOR[1], IDLE_MONITOR[2]
        return [{"sender": IDLE_MONITOR[0], "path": path, "interface": iface, "member": "WatchFired"}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        if member != "WatchFired" or path != IDLE_MONITOR[1] or len(body) != 1:
            return False
        if body[0] == self.idle_watch and self.idle_watch is not None:
            self._arm = True  # a D-Bus call: the worker's next snapshot makes it (`refresh`)
            return True
        if body[0] == self.active_watch and self.active_watch is not None:
            self.active_watch = None  # one-shot: Mutter removed it
            return True
        return False

    def refresh(self) -> None:
        """In the worker: after the idle watch fired, ask to be told of the next input (once)."""
        if not self._arm:
            return
        self._arm = False
        bus = self._bus
        if bus is None or self.idle_watch is None or self.active_watch is not None:
            return
        watch = attempt("AddUserActiveWatch", lambda: bus.ask(*IDLE_MONITOR, "AddUserActiveWatch")[0])
        self.active_watch = watch if is_int(watch) else None

    def forget(self) -> None:
        super().forget()
        self.idle_watch = self.active_watch = None
        self._arm = False
