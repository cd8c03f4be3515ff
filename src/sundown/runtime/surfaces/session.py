"""The surfaces on the session bus: the D-Bus API always, the tray while `[notify] tray` is on.

Without a session bus there are none (and jeepney is not even loaded). Each hands its
requests to the daemon's worker (`on_worker`), with its own source (`dbus`, `tray`).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sundown.core.vocabulary import Source
from sundown.errors import SundownError
from sundown.notify import NotifyError
from sundown.notify.bus import bus_address
from sundown.runtime.surfaces import Act, Request, Surfaces

if TYPE_CHECKING:
    from sundown.runtime.surfaces.tray import Tray

Submit = Callable[..., "concurrent.futures.Future[Any]"]
Answer = Callable[[Request, Source], str]


def on_worker(submit: Submit, answer: Answer, source: Source) -> Act:
    """How a surface hands the daemon a request: done on the worker, the future has its outcome
    (a refusal is an outcome, not an error of the daemon's: it is not logged as one)."""

    def act(request: Request) -> concurrent.futures.Future[Any]:
        outcome: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def job() -> None:
            try:
                outcome.set_result(answer(request, source))
            except SundownError as exc:
                outcome.set_exception(exc)

        def ran(done: concurrent.futures.Future[Any]) -> None:
            if outcome.done():
                return
            if done.cancelled():  # the daemon is stopping
                outcome.cancel()
            elif done.exception() is not None:  # a fault of ours, logged by `submit`
                outcome.set_exception(done.exception())

        submit(job).add_done_callback(ran)
        return outcome

    return act


class SessionSurfaces:
    """The D-Bus API and the tray, added to the daemon's `Surfaces` where a session bus exists."""

    def __init__(
        self,
        surfaces: Surfaces,
        env: Mapping[str, str],
        submit: Submit,
        answer: Answer,
        clock: Callable[[], datetime],
    ) -> None:
        self.surfaces = surfaces
        self.env = env
        self.submit = submit
        self.answer = answer
        self.clock = clock
        self.tray: Tray | None = None

    def _address(self) -> str:
        return bus_address(self.env)

    def _bus(self) -> bool:
        try:
            self._address()
        except NotifyError:
            return False
        return True

    def add(self, tray: bool) -> None:
        """Before the surfaces start: the D-Bus API, and the tray if it is wanted."""
        if not self._bus():
            return
        from sundown.runtime.surfaces.dbus_api import DBusApi

        self.surfaces.add(DBusApi(self._address, on_worker(self.submit, self.answer, "dbus"), self.clock))
        if tray:
            self.surfaces.add(self._tray())

    def _tray(self) -> Tray:
        from sundown.runtime.surfaces.tray import Tray

        self.tray = Tray(self._address, on_worker(self.submit, self.answer, "tray"), self.clock)
        return self.tray

    def follow_config(self, tray: bool) -> None:
        """`[notify] tray` changed on a reload (the surfaces run): show or hide the icon."""
        if tray and self.tray is None and self._bus():
            icon = self._tray()
            self.surfaces.add(icon)
            self.surfaces.start_one(icon)
        elif not tray and self.tray is not None:
            self.surfaces.remove(self.tray)
            self.tray = None
