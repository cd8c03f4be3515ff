"""Notification backends: what the daemon hands a reminder to (docs/notify.md).

This package is import-light on purpose: jeepney and plyer are imported only by
the backend that needs them, when it is chosen, so CLI commands start fast.

Threading contract: `on_action(key, action)` is called from a backend's receiver
thread. It must return quickly and must not call `send()` on the same backend
(the reply to that call would be read by the very thread it blocks): hand the
event to the daemon's own queue or scheduler instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sundown.core.vocabulary import BACKENDS, URGENCIES, Action, Urgency
from sundown.errors import SundownError

OnAction = Callable[[str, Action], None]
"""on_action(key, action); called from a backend thread."""


class NotifyError(SundownError):
    """A notification could not be delivered; the message says why (the caller falls back)."""


@dataclass(frozen=True)
class Message:
    """One notification. Sending the same `key` again replaces the earlier one."""

    key: str  # what it stands for: "2026-11-25/magnesium", "late/2026-11-25"
    title: str
    body: str = ""
    urgency: Urgency = "normal"
    actions: bool = True  # offer Done / Snooze buttons where the server can; False: a notice, no actions
    expire_ms: int = 0  # 0: stays until acted on (reminders); -1: the server's usual timeout; else ms
    snooze: bool = True  # False: no Snooze button (the reminder's snooze_limit is used up)

    def __post_init__(self) -> None:
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency {self.urgency!r} is not one of {', '.join(URGENCIES)}")
        if self.expire_ms < -1:
            raise ValueError(f"expire_ms {self.expire_ms} is neither -1, 0 nor a timeout")


@dataclass(frozen=True)
class ServerInfo:
    """What `sundown doctor` shows about the notification server."""

    name: str
    vendor: str
    version: str
    spec_version: str
    capabilities: tuple[str, ...]


class Backend:
    """What the daemon hands a notification to. `send` is each backend's own; the optional
    abilities below (D-Bus has them) default to "not here", so the daemon never probes for them."""

    name: str = ""
    adopts = False  # its notifications have ids a later process can take over (`adopt`)
    last_errors: tuple[str, ...] = ()  # why the backends tried before the one that delivered did not

    def send(self, message: Message) -> None:
        """Deliver `message` or raise NotifyError."""
        raise NotImplementedError

    def withdraw(self, key: str) -> None:
        """Take back the notification shown for `key`; a no-op where unsupported or already gone."""

    def close(self) -> None:
        """Stop threads and close connections; returns within about 0.5 s."""

    def delivered_by(self) -> str:
        """Which backend delivered the last message (auto's choice), for the `notified` row."""
        return self.name

    def shown_as(self, key: str) -> dict[str, object] | None:
        """How the server knows the notification shown for `key` (its id), for the log; None where
        the backend has no such thing (console, plyer) or the server gave no usable id."""
        return None

    def adopt(self, key: str, shown_as: Mapping[str, object]) -> None:
        """Take over a notification a previous daemon process showed (its `shown_as`), so that a
        repeat replaces it, a settled one is closed and its buttons are heard. No I/O."""

    def listen(self) -> None:
        """Connect now (not at the next send), so the buttons of adopted notifications are heard."""

    @property
    def one_at_a_time(self) -> bool:
        """The server that showed the last notification shows one at a time (notification-daemon)."""
        return False

    @property
    def keeps_expired(self) -> bool:
        """The server that showed the last notification ignores its expire_timeout (GNOME Shell)."""
        return False


def choose(name: str, on_action: OnAction, env: Mapping[str, str]) -> Backend:
    """The backend called `name` ("auto" | "dbus" | "plyer" | "console").

    Construction never talks to the desktop; failures surface on `send()`.
    """
    if name == "dbus":
        from sundown.notify.dbus import DBusBackend

        return DBusBackend(on_action, env)
    if name == "plyer":
        from sundown.notify.plyer_backend import PlyerBackend

        return PlyerBackend(env)
    if name == "console":
        from sundown.notify.console import ConsoleBackend

        return ConsoleBackend()
    if name == "auto":
        from sundown.notify.auto import AutoBackend

        return AutoBackend.default(on_action, env)
    raise ValueError(f"unknown notification backend {name!r}; use one of {', '.join(BACKENDS)}")


def server_info(env: Mapping[str, str], timeout: float = 2.5) -> ServerInfo:
    """Ask the session bus's notification server who it is; NotifyError says what is missing."""
    from sundown.notify.dbus import server_info as dbus_server_info

    return dbus_server_info(env, timeout=timeout)
