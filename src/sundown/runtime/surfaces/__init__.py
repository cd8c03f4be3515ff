"""Where people look: the places the daemon shows its state and takes answers besides notifications.

One class per surface, behind one protocol: `start()`, `publish(status)` with each new status
snapshot, `close()`. The daemon publishes after every change of state (a reminder sent,
answered, deferred; a reload) through `Surfaces`, which passes a snapshot on only when it
differs from the last one, so a surface sees each change once and never a tick that changed
nothing. A surface that fails is logged and dropped, never the daemon's problem.

- follow.Followers: `sundown status --follow`, a line per change over the control socket
- dbus_api.DBusApi: io.github.sundown.Sundown1 on the session bus (properties and methods)
- tray.Tray: a StatusNotifierItem with a menu, where a tray host runs

Answers given through a surface (a D-Bus method, a tray menu item) go to the daemon as a
`Request`; the daemon applies it with the same rules, errors and log rows as the CLI.
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

from sundown.core.status import Status

log = logging.getLogger(__name__)

Verb = Literal["ack", "snooze", "skip", "unskip", "reload", "report"]


@dataclass(frozen=True)
class Request:
    """An answer or a command from a surface, as `sundown VERB [IDS] [DURATION]` would give it."""

    verb: Verb
    ids: tuple[str, ...] = ()  # none: what the bare command acts on (the latest waiting; the whole night)
    duration: str | None = None  # snooze: "10m" (none: notify.snooze)


# How a surface hands a request to the daemon: the future carries the message the CLI would
# print, or the SundownError (UsageError, ConfigError, ...) it would exit with.
Act = Callable[[Request], "concurrent.futures.Future[str]"]


class Surface(Protocol):
    name: str

    def start(self) -> None:
        """Begin showing; may do nothing where the desktop offers no place for it."""

    def publish(self, status: Status) -> None:
        """Show this snapshot; called on the daemon's worker thread, must not block."""

    def close(self) -> None:
        """Stop showing and release what it holds; may be called more than once."""


def changes_of(status: Status) -> str:
    """What counts as a change: the snapshot without the seconds of idle time, which tick by."""
    data: dict[str, Any] = status.to_json()
    context = data.get("context")
    if isinstance(context, dict):
        data["context"] = {k: v for k, v in context.items() if k != "idle_s"}
    return json.dumps(data, sort_keys=True, default=str)


class Surfaces:
    """The daemon's surfaces: started together, each change published once to each, closed together."""

    def __init__(self, surfaces: Iterable[Surface] = ()) -> None:
        self._surfaces: list[Surface] = list(surfaces)
        self._last: str | None = None
        self._status: Status | None = None

    def add(self, surface: Surface) -> None:
        self._surfaces.append(surface)

    def start(self) -> None:
        for surface in list(self._surfaces):
            self._guard(surface, "start", surface.start)

    def start_one(self, surface: Surface) -> None:
        """A surface added while running: started, and shown the current snapshot."""
        self._guard(surface, "start", surface.start)
        if self._status is not None and surface in self._surfaces:
            self._guard(surface, "publish", partial(surface.publish, self._status))

    def remove(self, surface: Surface) -> None:
        if surface in self._surfaces:
            self._surfaces.remove(surface)
        try:
            surface.close()
        except Exception:
            log.exception("closing the %s surface failed", surface.name)

    @property
    def current(self) -> Status | None:
        """The last snapshot published (None before the first)."""
        return self._status

    def publish(self, status: Status) -> bool:
        """Pass `status` on when it differs from the last one; True when it did."""
        key = changes_of(status)
        if key == self._last:
            return False
        self._last = key
        self._status = status
        for surface in list(self._surfaces):
            self._guard(surface, "publish", partial(surface.publish, status))
        return True

    def close(self) -> None:
        for surface in self._surfaces:
            try:
                surface.close()
            except Exception:  # closing the others matters more
                log.exception("closing the %s surface failed", surface.name)
        self._surfaces = []

    def _guard(self, surface: Surface, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:
            log.exception("the %s surface failed to %s; it is turned off", surface.name, what)
            self._surfaces.remove(surface)
            try:
                surface.close()
            except Exception:
                log.debug("closing the failed %s surface", surface.name, exc_info=True)
