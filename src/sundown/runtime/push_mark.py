"""How far the push server has what this machine sends: a mark on disk, per device and topic.

The answers relayed to the phone (runtime/push.py) and the nights whose spans went to the
other machines (runtime/push_spans.py) each keep one: the instant, or the night, of the last
thing the server took. It is read when push starts, moves only forward, and is saved from the
publisher thread once the server has taken a message, with an atomic rename (a crash leaves
the old mark or the new one). A mark for another device or topic is not ours: push starts
from where its owner says, and that is saved at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

from sundown.paths import write_atomic

if TYPE_CHECKING:
    from sundown.core.routine import Push

log = logging.getLogger("sundown")

At = TypeVar("At", bound=date)  # a datetime (an answer's row) or a date (a night)


class PushMark(Generic[At]):
    """The mark in `path`, stored as `{"device", "topic", key: value.isoformat()}`; `what` names
    what it marks in the log."""

    def __init__(self, path: Path, push: Push, key: str, kind: type[At], floor: At, what: str) -> None:
        self.path = path
        self._push = push
        self._key = key
        self._kind = kind
        self._what = what
        self._lock = threading.Lock()
        self._saved = floor

    def load(self, start: Callable[[], At]) -> At:
        """The mark on disk, or `start()` (saved at once) when there is none of ours."""
        try:
            data = json.loads(self.path.read_text())
            if data.get("device") == self._push.device and data.get("topic") == self._push.topic:
                value = self._kind.fromisoformat(data[self._key])
                self._saved = value
                return value
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        value = start()
        self.save(value)
        return value

    def save(self, value: At) -> None:
        """Move the mark to `value` (never back); from the publisher thread."""
        with self._lock:
            if value <= self._saved:
                return
            self._saved = value
            record = {"device": self._push.device, "topic": self._push.topic, self._key: value.isoformat()}
            try:
                write_atomic(self.path, json.dumps(record))
            except OSError as exc:
                log.warning("cannot save which %s the push server has: %s", self._what, exc)
