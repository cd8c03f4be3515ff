"""logind, on the system bus: the session's LockedHint and IdleHint, and the idle inhibitors
(`BlockInhibited`: a video player or a presentation keeping the session from going idle)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sundown.notify.bus import PROPERTIES, BusLink
from sundown.runtime.sources.source import Asked, Clock, Source, attempt, changed_prop

UTC = timezone.utc
LOGIN1 = "org.freedesktop.login1"
MANAGER = ("/org/freedesktop/login1", "org.freedesktop.login1.Manager")
SESSION = "org.freedesktop.login1.Session"


def find_session(bus: BusLink, env: Mapping[str, str]) -> str | None:
    """This session's object path: by XDG_SESSION_ID, the user's display session, or our pid."""
    session_id = env.get("XDG_SESSION_ID")
    if session_id:
        path = attempt("GetSession", lambda: bus.ask(LOGIN1, *MANAGER, "GetSession", "s", session_id)[0])
        if isinstance(path, str):
            return path
    display = attempt(
        "user Display",
        lambda: bus.get(
            LOGIN1, "/org/freedesktop/login1/user/self", "org.freedesktop.login1.User", "Display"
        ),
    )
    if isinstance(display, tuple) and len(display) == 2 and isinstance(display[1], str) and display[1] != "/":
        return display[1]
    path = attempt(
        "GetSessionByPID", lambda: bus.ask(LOGIN1, *MANAGER, "GetSessionByPID", "u", os.getpid())[0]
    )
    return path if isinstance(path, str) else None


class SessionProperty(Source):
    """A property of this session's logind object, kept current by PropertiesChanged."""

    sender = LOGIN1
    prop = ""

    def __init__(self, session: str) -> None:
        super().__init__()
        self.session = session

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": LOGIN1, "path": self.session, "interface": PROPERTIES}]

    def _changed(self, member: str | None, path: str | None, body: tuple[Any, ...]) -> object:
        """The new value of `prop` in this signal, or None."""
        return changed_prop(member, path, body, self.session, self.prop)


class LockedHint(SessionProperty):
    name = "logind LockedHint"
    tells = "locked"
    prop = "LockedHint"

    def look(self, bus: BusLink) -> bool:
        locked = attempt(self.prop, lambda: bus.get(LOGIN1, self.session, SESSION, self.prop))
        if not isinstance(locked, bool):
            return False
        self.value = locked
        return True

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        value = self._changed(member, path, body)
        return value is not None and self.say(value)


class IdleHint(SessionProperty):
    """Idle as logind says it (the desktop sets it); the start of the idle period is IdleSinceHint,
    read by the worker after a change (a D-Bus call, never from the thread that would answer it)."""

    name = "logind IdleHint"
    tells = "idle"
    prop = "IdleHint"

    def __init__(self, session: str, clock: Clock) -> None:
        super().__init__(session)
        self.clock = clock
        self.since: datetime | None = None
        self._bus: BusLink | None = None
        self._dirty = False

    def look(self, bus: BusLink) -> bool:
        self._bus = bus
        idle = attempt(self.prop, lambda: bus.get(LOGIN1, self.session, SESSION, self.prop))
        if not isinstance(idle, bool):
            return False
        self.value = idle
        self._read_since()
        return True

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        idle = self._changed(member, path, body)
        if not isinstance(idle, bool) or idle == self.value:
            return False
        self.value = idle
        self._dirty = True  # IdleSinceHint is read by the worker's next snapshot
        return True

    def refresh(self) -> None:
        if self._dirty:
            self._dirty = False
            self._read_since()

    def idle_since(self) -> datetime | None:
        return self.since if self.value else None

    def _read_since(self) -> None:
        bus = self._bus
        if bus is None:
            return
        usec = attempt("IdleSinceHint", lambda: bus.get(LOGIN1, self.session, SESSION, "IdleSinceHint"))
        if self.value and isinstance(usec, int) and usec > 0:
            self.since = datetime.fromtimestamp(usec / 1e6, UTC)
        elif self.value:
            self.since = self.clock()
        else:
            self.since = None


class IdleInhibitors(Asked):
    """Presenting: something holds a logind `idle` inhibitor. logind does not promise a signal
    for BlockInhibited, so it is asked again while a reminder waits on it."""

    name = "logind idle inhibitors"
    tells = "presenting"
    sender = LOGIN1

    def read(self, bus: BusLink) -> bool | None:
        value = bus.get(LOGIN1, *MANAGER, "BlockInhibited")
        return "idle" in value.split(":") if isinstance(value, str) else None

    def took(self, answer: bool) -> None:
        self.value = answer

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": LOGIN1, "path": MANAGER[0], "interface": PROPERTIES}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        value = changed_prop(member, path, body, MANAGER[0], "BlockInhibited")
        return isinstance(value, str) and self.say("idle" in value.split(":"))
