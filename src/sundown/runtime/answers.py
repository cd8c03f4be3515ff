"""Applying an answer, whatever its source: the rules of `core.answers`, then the rows.

One function for a notification's button, the phone, another machine and the
command line: `apply(book, answer, now)`. The book is the night's state: the
daemon's `Ledger` (the log plus what the daemon did), or the log itself for the
command line, which writes its row before it nudges the daemon (so exit 0 means
the row is durable). What follows an applied answer on screen (a notification
withdrawn, the phone's copy cleared, a tick) is the daemon's to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sundown.core.answers import EVENT_OF, Answer, Ruling, details, judge

if TYPE_CHECKING:
    from sundown.config import LoadedConfig
    from sundown.core.state import Night
    from sundown.core.vocabulary import AnswerAction, EventName


class Book(Protocol):
    """What applying an answer needs of a night's state."""

    @property
    def loaded(self) -> LoadedConfig:
        """The routine in force and its zone."""

    def night(self, night: date) -> Night:
        """The night as it stands."""

    def snoozes(self, night: date, reminder: str) -> int:
        """How often the reminder was snoozed that night."""

    def answered(self, night: date) -> set[str]:
        """The ids of the answers from elsewhere applied on that night."""

    def apply(
        self,
        event: EventName,
        night: date,
        reminder: str | None,
        source: str,
        ts: datetime | None = None,
        **details: Any,
    ) -> datetime:
        """Write the row; returns its time."""


def apply(book: Book, answer: Answer, now: datetime) -> list[Ruling]:
    """Judge `answer` by the rules of `core.answers` and write a row for each reminder it changes."""
    loaded = book.loaded
    snoozes = (
        {rid: book.snoozes(answer.night, rid) for rid in answer.reminders}
        if answer.action == "snooze"
        else {}
    )
    answered = book.answered(answer.night) if answer.remote and answer.ident is not None else set()
    rulings = judge(answer, loaded.routine, loaded.zone, now, book.night(answer.night), snoozes, answered)
    at = answer.time(now)
    for ruling in rulings:
        if ruling.outcome == "applied":
            event = EVENT_OF[answer.action]
            book.apply(event, answer.night, ruling.reminder, answer.source, ts=at, **details(answer, ruling))
    return rulings


def applied(rulings: list[Ruling]) -> list[str]:
    """The reminders an answer changed."""
    return [r.reminder for r in rulings if r.outcome == "applied"]


def from_button(
    book: Book, stands_for: Iterable[tuple[date, str]], action: AnswerAction, now: datetime
) -> None:
    """A notification's button (or its dismissal), for what the notification stands for (a
    combined one, several reminders, maybe of two nights): one answer per night."""
    import logging  # here: the command line, which applies answers too, never loads it

    log = logging.getLogger("sundown")
    keys = list(stands_for)
    for night in sorted({n for n, _ in keys}):
        ids = tuple(rid for n, rid in keys if n == night)
        for ruling in apply(book, Answer(night, ids, action, "action"), now):
            if ruling.outcome == "refused":
                log.info("%s of %s refused: %s", action, ruling.reminder, ruling.why)
