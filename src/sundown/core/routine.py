"""The routine a person configured: frozen data, no I/O, no time arithmetic.

Everything else (plan, daemon, CLI) reads these objects; only config.py builds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path

from sundown.core.vocabulary import Urgency

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SNOOZE = timedelta(minutes=10)
DEFAULT_REPEAT_LIMIT = 3
MAX_BEFORE = timedelta(hours=12)
QUIET_MODES: tuple[str, ...] = ("defer", "ignore")
DONE_WHEN: tuple[str, ...] = ("idle", "locked")


@dataclass(frozen=True)
class Step:
    """One escalation step: `after` the first notification, re-notify louder and/or run a command."""

    after: timedelta
    urgency: Urgency | None = None
    run: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContextRules:
    """`[context]`: how the person's state (busy, away) changes what is sent."""

    quiet: str = "defer"
    max_defer: timedelta = timedelta(minutes=20)
    idle: timedelta = timedelta(minutes=5)
    measure: bool = True  # record the evening's activity spans (docs/stats.md); false: nothing recorded


PUSH_WHEN: tuple[str, ...] = ("always", "away")


@dataclass(frozen=True)
class Reminder:
    """One step of the evening: fires once per night, `before` bedtime or `at` a wall time."""

    id: str
    title: str
    body: str = ""
    before: timedelta | None = None
    at: time | None = None
    repeat: timedelta | None = None
    repeat_limit: int = 0
    run: tuple[str, ...] = ()
    # Weekday numbers (0 = Monday) of the evenings it runs on; None means every evening.
    days: frozenset[int] | None = None
    done_when: str | None = None  # "idle" | "locked": acknowledged by itself when the person leaves
    urgent: bool = False  # never deferred, always sent with urgency critical
    snooze_limit: int | None = None  # None: no limit
    escalate: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if (self.before is None) == (self.at is None):
            raise ValueError(f"reminder {self.id!r} needs exactly one of before/at")

    def runs_on(self, weekday: int) -> bool:
        return self.days is None or weekday in self.days


@dataclass(frozen=True)
class Bedtimes:
    """Bedtime wall time per evening weekday (index 0 = Monday evening)."""

    by_weekday: tuple[time, time, time, time, time, time, time]

    @classmethod
    def uniform(cls, t: time) -> Bedtimes:
        return cls((t,) * 7)

    def for_weekday(self, weekday: int) -> time:
        return self.by_weekday[weekday]


@dataclass(frozen=True)
class Push:
    """`[push]`: reminders also go to an ntfy topic (the phone, other machines).

    Only the token file's path is kept here, never the token: a Routine may be printed or logged.
    """

    server: str  # "https://ntfy.example.org", no trailing slash
    topic: str
    device: str
    token_file: Path | None = None
    reminders: frozenset[str] | None = None  # None: all
    when: str = "always"
    secret_file: Path | None = None  # the key answers are signed with; None only in tests of the rules
    webhook_topic: str | None = None  # where apps that cannot sign (a sleep app) post; same server

    @property
    def reply_topic(self) -> str:
        return f"{self.topic}-replies"

    def pushes(self, reminder_id: str) -> bool:
        return self.reminders is None or reminder_id in self.reminders


@dataclass(frozen=True)
class Routine:
    """A whole configured routine. `timezone` None means the system's zone."""

    bedtime: Bedtimes
    reminders: tuple[Reminder, ...]
    timezone: str | None = None
    backend: str = "auto"
    snooze: timedelta = DEFAULT_SNOOZE
    skip_dates: frozenset[date] = field(default_factory=frozenset)
    context: ContextRules = field(default_factory=ContextRules)
    push: Push | None = None

    def reminder(self, reminder_id: str) -> Reminder | None:
        for r in self.reminders:
            if r.id == reminder_id:
                return r
        return None
