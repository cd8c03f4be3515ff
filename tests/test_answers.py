"""Done, Snooze, Skip from any source: one set of rules (core.answers), one function applying them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sundown import config
from sundown.config import LoadedConfig
from sundown.core.answers import Answer
from sundown.core.state import Event, Night, fold_night
from sundown.runtime import answers

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = date(2026, 11, 25)
ROUTINE = config.parse(
    'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "22:30"\n'
    '[reminders.magnesium]\nat = "21:45"\nsnooze_limit = 2\n'
    '[reminders.screens-off]\nbefore = "30m"\n',
    "test.toml",
)


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 25, hour, minute, tzinfo=BERLIN)


@dataclass
class Book:
    """The night's state as a list of rows: what `answers.apply` reads and writes."""

    rows: list[Event] = field(default_factory=list)
    loaded: LoadedConfig = field(default_factory=lambda: LoadedConfig(ROUTINE, BERLIN, None))

    def night(self, night: date) -> Night:
        return fold_night(ROUTINE, BERLIN, night, [e for e in self.rows if e.night == night])

    def snoozes(self, night: date, reminder: str) -> int:
        return sum(1 for e in self.rows if (e.night, e.reminder, e.event) == (night, reminder, "snoozed"))

    def answered(self, night: date) -> set[str]:
        return {str(e.details["answer"]) for e in self.rows if e.night == night and "answer" in e.details}

    def apply(self, event: Any, night: date, reminder: str | None, source: str, ts=None, **details: Any):
        self.rows.append(Event(len(self.rows) + 1, ts, night, reminder, event, source, details))
        return ts

    def notified(self, rid: str, when: datetime) -> Book:
        self.apply("notified", NIGHT, rid, "daemon", ts=when, at=when.isoformat(), repeat=0)
        return self

    def events(self, kind: str) -> list[Event]:
        return [e for e in self.rows if e.event == kind]


def outcome(book: Book, answer: Answer, now: datetime) -> list[str]:
    return [r.outcome for r in answers.apply(book, answer, now)]


def test_the_command_line_may_acknowledge_ahead_an_answer_from_elsewhere_may_not() -> None:
    ahead = at(21, 0)
    assert outcome(Book(), Answer(NIGHT, ("magnesium",), "done", "cli"), ahead) == ["applied"]
    book = Book()
    phone = Answer(NIGHT, ("magnesium",), "done", "phone", "n1", at=ahead)
    [ruling] = answers.apply(book, phone, ahead)
    assert (ruling.outcome, ruling.refusal) == ("refused", "not_due") and not book.rows
    assert outcome(book, Answer(NIGHT, ("magnesium",), "done", "device:laptop", "n2"), at(21, 50)) == [
        "applied"
    ]


def test_a_done_or_snooze_from_elsewhere_for_tomorrow_night_is_not_due() -> None:
    tomorrow = NIGHT + timedelta(days=1)
    book = Book().notified("magnesium", at(21, 45))  # tonight's was sent: tomorrow's is not due
    for action in ("done", "snooze"):
        for source in ("phone", "device:laptop"):
            answer = Answer(tomorrow, ("magnesium",), action, source, f"{action}-{source}")
            [ruling] = answers.apply(book, answer, at(22, 0))
            assert (ruling.outcome, ruling.refusal) == ("refused", "not_due"), (action, source)
            assert "21:45" in ruling.why
    assert [e.event for e in book.rows] == ["notified"]  # no row for either night
    assert not book.answered(tomorrow)


def test_a_second_done_from_anywhere_writes_no_row() -> None:
    book = Book().notified("magnesium", at(21, 45))
    for source, ident in (("action", None), ("cli", None), ("phone", "a"), ("device:laptop", "b")):
        answers.apply(book, Answer(NIGHT, ("magnesium",), "done", source, ident), at(21, 50))
    assert [e.source for e in book.events("acknowledged")] == ["action"]


def test_the_snooze_limit_is_one_rule_for_every_source() -> None:
    for source in ("action", "cli", "phone", "device:laptop"):
        book = Book().notified("magnesium", at(21, 45))
        results = []
        for k in range(3):
            now = at(22, 0) + timedelta(minutes=20 * k)  # each after the last one ended
            answer = Answer(NIGHT, ("magnesium",), "snooze", source, f"{source}-{k}")
            [ruling] = answers.apply(book, answer, now)
            results.append(ruling.refusal or ruling.outcome)
        assert results == ["applied", "applied", "snooze_limit"], source
        assert len(book.events("snoozed")) == 2


def test_two_hundred_forged_snoozes_make_one_row() -> None:
    book = Book().notified("screens-off", at(22, 0))
    for k in range(200):
        now = at(22, 1) + timedelta(seconds=k)
        answers.apply(book, Answer(NIGHT, ("screens-off",), "snooze", "phone", f"forged-{k}", at=now), now)
    assert len(book.events("snoozed")) == 1


def test_a_snooze_from_elsewhere_must_end_within_its_night() -> None:
    book = Book().notified("screens-off", at(22, 0))
    until = datetime(2026, 11, 26, 12, 30, tzinfo=BERLIN)  # past the night's end at noon
    answer = Answer(NIGHT, ("screens-off",), "snooze", "device:laptop", "u1", until=until)
    [ruling] = answers.apply(book, answer, at(22, 5))
    assert (ruling.outcome, ruling.refusal) == ("refused", "outside_night") and not book.events("snoozed")
    past = Answer(NIGHT, ("screens-off",), "snooze", "phone", "u2", until=at(21, 0))
    assert outcome(book, past, at(22, 5)) == ["refused"]


def test_an_answer_from_elsewhere_for_a_night_outside_the_window_or_an_unknown_reminder_is_unknown() -> None:
    book = Book()
    far = Answer(date(2026, 10, 1), ("magnesium",), "done", "phone", "x")
    assert outcome(book, far, at(22, 0)) == ["unknown"]
    assert outcome(book, Answer(NIGHT, ("nope",), "done", "phone", "y"), at(22, 0)) == ["unknown"]
    assert not book.rows


def test_the_same_answer_twice_is_a_duplicate() -> None:
    book = Book()
    answer = Answer(NIGHT, ("magnesium",), "done", "phone", "same")
    assert outcome(book, answer, at(22, 0)) == ["applied"]
    book.rows.append(Event(99, at(22, 1), NIGHT, "magnesium", "unskipped", "cli", {}))  # anything after
    assert outcome(book, answer, at(22, 2)) == ["duplicate"]


def test_a_skip_may_be_ahead_and_a_second_one_changes_nothing() -> None:
    book = Book()
    assert outcome(book, Answer(NIGHT, ("magnesium",), "skip", "phone", "s1"), at(20, 0)) == ["applied"]
    assert outcome(book, Answer(NIGHT, ("magnesium",), "skip", "phone", "s2"), at(20, 1)) == ["unchanged"]
