"""`auto`: dbus when a notification server answers, else plyer when it works, else console.

On Linux plyer is left out of the chain: see `AutoBackend.default`.

Each send starts again from the top, so a server that went away (or answered
with errors) is tried again on the next reminder, while the reminder in hand
falls back and is never lost.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping, Sequence

from sundown.notify import Backend, Message, NotifyError, OnAction

log = logging.getLogger(__name__)

REMEMBERED_KEYS = 256  # which backend showed a key matters for the latest few reminders only


class AutoBackend(Backend):
    name = "auto"

    def __init__(self, backends: Sequence[Backend]) -> None:
        if not backends:
            raise ValueError("auto needs at least one backend")
        self._backends = tuple(backends)
        self._lock = threading.Lock()
        self._delivered: dict[str, Backend] = {}  # key -> the backend that showed it
        self.last_backend: str | None = None  # which backend delivered the last message (for the log)
        self.last_errors: tuple[str, ...] = ()  # why the ones before it did not, "dbus: reason"

    @classmethod
    def default(cls, on_action: OnAction, env: Mapping[str, str], platform: str | None = None) -> AutoBackend:
        """dbus, plyer, console; on Linux without plyer, which there talks to the very server that
        dbus found missing or failing, and hides its own failures (notify-send's exit status is
        ignored): the reminder would be lost instead of printed."""
        from sundown.notify.console import ConsoleBackend
        from sundown.notify.dbus import DBusBackend
        from sundown.notify.plyer_backend import PlyerBackend

        chain: list[Backend] = [DBusBackend(on_action, env)]
        if not (platform or sys.platform).startswith("linux"):
            chain.append(PlyerBackend(env))
        chain.append(ConsoleBackend())
        return cls(chain)

    @property
    def chain(self) -> tuple[str, ...]:
        """The backends tried, in order (for `sundown status` and the log)."""
        return tuple(b.name for b in self._backends)

    def send(self, message: Message) -> None:
        errors: list[str] = []
        with self._lock:
            for backend in self._backends:
                try:
                    backend.send(message)
                except NotifyError as e:
                    errors.append(f"{backend.name}: {e}")
                    log.info("%s could not deliver %s: %s", backend.name, message.key, e)
                    continue
                previous = self._delivered.get(message.key)
                if previous is not None and previous is not backend:
                    # The earlier one is not replaced by this backend's copy: take it back where we can.
                    _withdraw_quietly(previous, message.key)
                self._delivered.pop(message.key, None)
                self._delivered[message.key] = backend  # re-inserted: dict order is recency
                while len(self._delivered) > REMEMBERED_KEYS:
                    del self._delivered[next(iter(self._delivered))]
                self.last_backend = backend.name
                self.last_errors = tuple(errors)
                return
        self.last_backend = None
        self.last_errors = tuple(errors)
        raise NotifyError("no backend could deliver the notification: " + "; ".join(errors))

    def withdraw(self, key: str) -> None:
        with self._lock:
            backend = self._delivered.pop(key, None)
        if backend is not None:
            _withdraw_quietly(backend, key)

    def delivered_by(self) -> str:
        return self.last_backend or self.name

    def shown_as(self, key: str) -> dict[str, object] | None:
        with self._lock:
            backend = self._delivered.get(key)
        return backend.shown_as(key) if backend is not None else None

    def adopt(self, key: str, shown_as: Mapping[str, object]) -> None:
        """Handed to the first backend that has ids to take over (D-Bus)."""
        for backend in self._backends:
            if backend.adopts:
                backend.adopt(key, shown_as)
                with self._lock:
                    self._delivered[key] = backend
                return

    def listen(self) -> None:
        for backend in self._backends:
            backend.listen()

    @property
    def one_at_a_time(self) -> bool:
        last = next((b for b in self._backends if b.name == self.last_backend), None)
        return last is not None and last.one_at_a_time

    @property
    def keeps_expired(self) -> bool:
        last = next((b for b in self._backends if b.name == self.last_backend), None)
        return last is not None and last.keeps_expired

    def close(self) -> None:
        for backend in self._backends:
            backend.close()


def _withdraw_quietly(backend: Backend, key: str) -> None:
    try:
        backend.withdraw(key)
    except NotifyError as e:
        log.info("%s could not withdraw %s: %s", backend.name, key, e)
