"""The shared words: each defined once, checked where rows are written."""

from __future__ import annotations

from datetime import date

import pytest

from sundown.core.vocabulary import ACTIONS, BACKENDS, EVENTS, SOURCES, is_source
from sundown.store.log import EventLog


def test_the_contracts_words_are_all_there() -> None:
    assert {"notified", "acknowledged", "snoozed", "dismissed", "skipped", "missed", "config_error"} <= set(
        EVENTS
    )
    assert {"deferred", "escalated", "lock_failed"} <= set(EVENTS)
    assert {"action", "cli", "daemon", "idle", "lock", "phone", "dbus", "tray"} == set(SOURCES)
    assert BACKENDS == ("auto", "dbus", "plyer", "console")
    assert ACTIONS == ("done", "snooze", "dismissed")


@pytest.mark.parametrize(
    "word, ok",
    [
        ("cli", True),
        ("phone", True),
        ("device:laptop", True),
        ("device:", False),
        ("Device:x", False),
        ("", False),
    ],
)
def test_a_source_is_a_known_word_or_a_named_device(word: str, ok: bool) -> None:
    assert is_source(word) is ok


def test_the_log_refuses_words_it_does_not_know(tmp_path) -> None:
    log = EventLog(tmp_path / "sundown.db")
    try:
        log.record("acknowledged", date(2026, 11, 28), "magnesium", "device:desk")
        with pytest.raises(ValueError, match="unknown event"):
            log.record("acknowledge", date(2026, 11, 28), "magnesium", "cli")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="unknown source"):
            log.record("acknowledged", date(2026, 11, 28), "magnesium", "device:")
    finally:
        log.close()
