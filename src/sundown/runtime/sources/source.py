"""What every context source is: one thing the desktop tells about the person, from one service.

A source says what it can tell (`tells`, shown in `status` as `name`), how it is
watched (`look` asks it once, `on_signal` takes the signals of the service it
believes, `ask` is for those that can only be asked) and how it is released.
Signal-fed sources keep `value` current from the bus's receiver thread; everything
else runs on the daemon's worker. Any missing service, error reply or wrongly typed
answer means "no such source here": the daemon carries on by the clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar

from sundown.notify.bus import BusLink, unvariant

log = logging.getLogger("sundown.runtime.sources")

Capability = Literal["dnd", "presenting", "fullscreen", "idle", "locked", "zone"]
CALL_TIMEOUT_S = 1.0
T = TypeVar("T")


class Source:
    """One context source; the defaults say "tells nothing, needs nothing"."""

    name: str = ""  # as `status` and `doctor` show it, e.g. "notification server Inhibited"
    tells: Capability = "dnd"
    # The session-bus name it is about: looked at when it starts, forgotten when it quits.
    service: str | None = None
    # Whose signals it believes (the current owner of this well-known name); default: `service`.
    sender: str | None = None
    polled = False  # known only by asking: asked again while something waits on it

    def __init__(self) -> None:
        self.value: bool | None = None  # what it says now (signal-fed booleans)

    @property
    def believes(self) -> str | None:
        """The well-known name whose current owner's signals it takes."""
        return self.sender or self.service

    def look(self, bus: BusLink) -> bool:
        """Ask what it says now; True when it says something (the worker, or at start)."""
        return False

    def rules(self) -> list[dict[str, str]]:
        """The match rules of the signals it listens to (added once it is found)."""
        return []

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        """A signal from the owner of `believes`: True when what it says changed (receiver thread)."""
        return False

    def refresh(self) -> None:
        """Read again what a signal said has changed, where reading needs a call (the worker)."""

    def ask(self) -> Any:
        """For a polled source: ask now (the worker); raises when it stopped answering."""
        return None

    def say(self, value: object) -> bool:
        """Take a new value from a signal; True when it changed. A non-boolean is ignored."""
        if not isinstance(value, bool):
            log.debug("context: ignoring %s = %r (not a boolean)", self.name, value)
            return False
        old, self.value = self.value, value
        return old != value

    def forget(self) -> None:
        """Its service quit: what it said is gone."""
        self.value = None

    def release(self) -> None:
        """Let go of what it holds (a connection of its own)."""


class Asked(Source):
    """A source known only by asking its service: `read` asks once, at the look and on each `ask`."""

    polled = True

    def __init__(self) -> None:
        super().__init__()
        self._bus: BusLink | None = None

    def read(self, bus: BusLink) -> Any:
        """The answer, or None when it gives none that counts."""
        return None

    def look(self, bus: BusLink) -> bool:
        self._bus = bus
        answer = attempt(self.name, lambda: self.read(bus))
        if answer is None:
            return False
        self.took(answer)
        return True

    def took(self, answer: Any) -> None:
        """What the first answer tells beyond "it is there"."""

    def ask(self) -> Any:
        assert self._bus is not None
        return self.read(self._bus)


def attempt(what: str, fn: Callable[[], T]) -> T | None:
    """`fn()`, or None when the service is missing, answers with an error, or does not answer."""
    try:
        return fn()
    except Exception as exc:  # any missing service, error reply or wrong answer: no such source
        log.debug("context: no %s (%s)", what, exc)
        return None


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def changed_prop(
    member: str | None, path: str | None, body: tuple[Any, ...], at: str, prop: str, iface: str | None = None
) -> object:
    """The new value of `prop` of the object at `at` (of `iface`, if given) when this signal is a
    PropertiesChanged that changes it, else None (D-Bus has no null value)."""
    if member != "PropertiesChanged" or path != at or len(body) < 2 or not isinstance(body[1], dict):
        return None
    if (iface is not None and str(body[0]) != iface) or prop not in body[1]:
        return None
    return unvariant(body[1][prop])


Clock = Callable[[], datetime]
