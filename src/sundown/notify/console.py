"""The console notifier: one line per notification on stdout (headless machines, journald).

This backend *is* the daemon's output, so it is allowed to print.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from typing import TextIO

from sundown.notify import Backend, Message


class ConsoleBackend(Backend):
    name = "console"

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self._stream = stream
        self._clock = clock or (lambda: datetime.now().astimezone())

    def send(self, message: Message) -> None:
        stream = self._stream or sys.stdout  # looked up late: tests and the daemon may swap stdout
        print(format_line(message, self._clock()), file=stream, flush=True)

    def withdraw(self, key: str) -> None:
        """A printed line cannot be taken back."""

    def close(self) -> None:
        """Nothing to stop."""


def format_line(message: Message, when: datetime) -> str:
    """`sundown: [2026-11-25 21:45] Magnesium — Time for your evening magnesium.`"""
    text = message.title if not message.body else f"{message.title} — {message.body}"
    text = " ".join(text.split())  # one line, whatever the body holds
    return f"sundown: [{when:%Y-%m-%d %H:%M}] {text}"
