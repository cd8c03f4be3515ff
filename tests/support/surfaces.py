"""What the daemon's surfaces (the D-Bus API, the tray) are given in their tests: a night's
status rows and the daemon's side of the requests."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any

from sundown.runtime.surfaces import Request


def tonight(state: str) -> list[dict[str, Any]]:
    """The status rows of 2026-11-28: tea acknowledged, magnesium in `state`."""
    return [
        {"night": "2026-11-28", "reminder": "tea", "title": "Tea", "at": "2026-11-28T19:30:00+00:00",
         "state": "acknowledged"},
        {"night": "2026-11-28", "reminder": "magnesium", "title": "Magnesium",
         "at": "2026-11-28T20:45:00+00:00", "state": state},
    ]  # fmt: skip


class Acts:
    """The daemon's side of the requests: records them, answers as told (`answer`; it may raise)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answer: Callable[[Request], str] = lambda r: f"did {r.verb}"

    def __call__(self, request: Request) -> concurrent.futures.Future[str]:
        self.requests.append(request)
        future: concurrent.futures.Future[str] = concurrent.futures.Future()
        try:
            future.set_result(self.answer(request))
        except BaseException as exc:
            future.set_exception(exc)
        return future
