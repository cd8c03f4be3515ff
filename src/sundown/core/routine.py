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
DEFAULT_SLEEP = timedelta(hours=8)
DEFAULT_PREPARE = timedelta(hours=1)
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


NO_WAKE: tuple[time | None, ...] = (None,) * 7


@dataclass(frozen=True)
class Bedtimes:
    """How each evening's bedtime is found: a wall time, or from the next morning's wake time.

    `by_weekday[e]` is evening e's bedtime (index 0 = Monday evening), None where it follows
    from `[wake]`: the wake time of the MORNING after (`wake[(e + 1) % 7]`, index 0 = Monday
    morning) less `sleep`. The config resolves which key wins for each evening; `sleep` is also
    what a calendar's or an alarm's wake time is turned into a bedtime with.
    """

    by_weekday: tuple[time | None, ...]
    wake: tuple[time | None, ...] = NO_WAKE
    sleep: timedelta = DEFAULT_SLEEP

    def __post_init__(self) -> None:
        for e in range(7):
            if self.by_weekday[e] is None and self.wake_after(e) is None:
                raise ValueError(f"evening {WEEKDAYS[e]} has neither a bedtime nor a wake time")

    @classmethod
    def uniform(cls, t: time) -> Bedtimes:
        return cls((t,) * 7)

    @classmethod
    def from_wake(cls, wake: time, sleep: timedelta = DEFAULT_SLEEP) -> Bedtimes:
        return cls((None,) * 7, (wake,) * 7, sleep)

    def for_weekday(self, weekday: int) -> time | None:
        """Evening `weekday`'s bedtime wall time; None: it follows from the next morning's wake."""
        return self.by_weekday[weekday]

    def wake_after(self, weekday: int) -> time | None:
        """The wake time of the morning after evening `weekday` (Friday evening: Saturday's)."""
        return self.wake[(weekday + 1) % 7]


@dataclass(frozen=True)
class Calendar:
    """`[calendar]`: tomorrow morning's first event can make tonight's bedtime earlier.

    `ics` is a local file (an absolute path) or an https URL, as written after `~` expansion.
    """

    ics: str
    prepare: timedelta = DEFAULT_PREPARE

    @property
    def is_url(self) -> bool:
        return self.ics.startswith(("https://", "http://"))


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
class WindDown:
    """`[winddown]`: the desktop winds down too, from `before` bedtime (or `at`) until `until`.

    Only the effects asked for are applied; `night_light` is a colour temperature in K, or
    True for the desktop's own setting; `volume` a cap in percent (it never raises the volume).
    """

    until: time
    before: timedelta | None = None
    at: time | None = None
    dnd: bool = False
    night_light: int | bool = False
    grayscale: bool = False
    dark: bool = False
    volume: int | None = None
    pause_media: bool = False
    run: tuple[str, ...] = ()
    undo: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.before is None) == (self.at is None):
            raise ValueError("[winddown] needs exactly one of before/at")

    def wanted(self) -> tuple[str, ...]:
        """The effects this configuration asks for, in the order they are applied."""
        asked = {
            "dnd": self.dnd,
            "night_light": self.night_light is not False,
            "grayscale": self.grayscale,
            "dark": self.dark,
            "volume": self.volume is not None,
            "pause_media": self.pause_media,
            "run": bool(self.run or self.undo),
        }
        return tuple(effect for effect in EFFECTS if asked[effect])


# The wind-down effects, in the order they are applied (and listed by `doctor` and `status`).
EFFECTS: tuple[str, ...] = ("dnd", "night_light", "grayscale", "dark", "volume", "pause_media", "run")


@dataclass(frozen=True)
class Routine:
    """A whole configured routine. `timezone` None means the system's zone."""

    bedtime: Bedtimes
    reminders: tuple[Reminder, ...]
    timezone: str | None = None
    backend: str = "auto"
    snooze: timedelta = DEFAULT_SNOOZE
    tray: bool = True  # a tray icon where the desktop has a tray
    skip_dates: frozenset[date] = field(default_factory=frozenset)
    context: ContextRules = field(default_factory=ContextRules)
    push: Push | None = None
    calendar: Calendar | None = None
    winddown: WindDown | None = None

    def reminder(self, reminder_id: str) -> Reminder | None:
        for r in self.reminders:
            if r.id == reminder_id:
                return r
        return None
