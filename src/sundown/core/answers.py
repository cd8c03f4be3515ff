"""Done, Snooze, Skip and a dismissal: one set of rules, whatever the answer's source. Pure.

An answer comes from a notification's button (`action`), the command line (`cli`),
the phone (`phone`) or another machine's desktop (`device:NAME`). The last two
come over the network, so they obey every rule a local answer obeys and a few
more (docs/push.md, "What an answer from elsewhere may do"):

- the night must be near now and name only reminders of its plan, else `unknown`;
- each is applied once (its id), and one that changes nothing writes no row;
- Done only for a reminder that is due (the command line may acknowledge ahead);
- a snooze obeys `snooze_limit`, needs an unacknowledged reminder sent here (from
  elsewhere: one that is due, as it may be sent there first), and (from elsewhere)
  ends within the night and is not one more while one runs.

`judge` says what an answer does to each reminder; the caller writes the rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Literal

from sundown.core.plan import UTC, Occurrence, night_end, window
from sundown.core.routine import Routine
from sundown.core.state import NOTHING, Event, Night, ReminderNight
from sundown.core.vocabulary import DEVICE_PREFIX, AnswerAction, EventName

Outcome = Literal["applied", "unchanged", "unknown", "duplicate", "refused"]
Refusal = Literal["not_due", "not_sent", "acknowledged", "snooze_limit", "outside_night"]
REMOTE_SOURCES = ("phone",)  # and every "device:NAME"
EVENT_OF: dict[AnswerAction, EventName] = {
    "done": "acknowledged",
    "snooze": "snoozed",
    "skip": "skipped",
    "dismissed": "dismissed",
}


@dataclass(frozen=True)
class Answer:
    """What a person answered about reminders of one night, and where it came from."""

    night: date
    reminders: tuple[str, ...]
    action: AnswerAction
    source: str  # action | cli | phone | device:NAME (the log's source)
    ident: str | None = None  # from elsewhere: what makes it unique (its nonce, or the server's id)
    at: datetime | None = None  # when it was given (the server's time; a backfill); None: now
    until: datetime | None = None  # a snooze's own end; None: `notify.snooze` after `at`

    @property
    def remote(self) -> bool:
        """From the phone or another machine: it came over the network."""
        return self.source in REMOTE_SOURCES or self.source.startswith(DEVICE_PREFIX)

    def time(self, now: datetime) -> datetime:
        """When it counts as given: a remote answer never in the future, a local one as said."""
        if self.remote:
            return min(self.at or now, now, key=lambda t: t.astimezone(UTC))
        return self.at or now


@dataclass(frozen=True)
class Ruling:
    """What one answer does to one reminder."""

    reminder: str
    outcome: Outcome
    refusal: Refusal | None = None
    why: str = ""  # a refusal in the product's words, e.g. "Magnesium is already acknowledged tonight"
    until: datetime | None = None  # an applied snooze: its end, in UTC


def snooze_refused(snooze_limit: int | None, snoozes: int) -> bool:
    """True when one more snooze would go over the reminder's `snooze_limit`."""
    return snooze_limit is not None and snoozes >= snooze_limit


def judge(
    answer: Answer,
    routine: Routine,
    zone: tzinfo,
    now: datetime,
    night: Night,
    snoozes: Mapping[str, int],
    answered: Collection[str],
) -> list[Ruling]:
    """What `answer` does to each reminder it names, given the night as the log tells it,
    the snoozes each had that night and the ids of the answers from elsewhere applied."""
    every = answer.reminders
    if answer.remote:
        if answer.ident is not None and answer.ident in answered:
            return [Ruling(rid, "duplicate") for rid in every]
        planned = {o.reminder.id for o in night.plan.occurrences} if night.plan else set()
        if answer.night not in window(now, zone) or not set(every) <= planned:
            return [Ruling(rid, "unknown") for rid in every]
    occurrences = {o.reminder.id: o for o in night.plan.occurrences} if night.plan else {}
    at = answer.time(now)
    rulings = []
    for rid in every:
        occ = occurrences.get(rid)
        reminder = occ.reminder if occ is not None else routine.reminder(rid)
        title = reminder.title if reminder is not None else rid
        done = night.states.get(rid, NOTHING)
        if answer.action == "snooze" and answer.remote and occ is not None and _after(occ.at, at):
            # Elsewhere it may be sent before it is here: not due yet is the rule from elsewhere.
            rulings.append(Ruling(rid, "refused", "not_due", f"{title} is not due before {occ.at:%H:%M}"))
        elif answer.action == "snooze":
            limit = reminder.snooze_limit if reminder is not None else None
            end = night_end(answer.night, zone)
            rulings.append(_snooze(answer, rid, title, done, limit, snoozes.get(rid, 0), at, routine, end))
        else:
            rulings.append(_settle(answer, rid, title, occ, done, at))
    return rulings


def _settle(
    answer: Answer, rid: str, title: str, occ: Occurrence | None, done: ReminderNight, at: datetime
) -> Ruling:
    """Done, Skip or a dismissal."""
    if answer.action == "skip":
        return Ruling(rid, "unchanged" if occ is not None and occ.skipped else "applied")
    if done.acknowledged is not None or (answer.action == "dismissed" and done.dismissed):
        return Ruling(rid, "unchanged")
    if answer.action == "done" and answer.remote and occ is not None and _after(occ.at, at):
        return Ruling(rid, "refused", "not_due", f"{title} is not due before {occ.at:%H:%M}")
    return Ruling(rid, "applied")


def _snooze(
    answer: Answer,
    rid: str,
    title: str,
    done: ReminderNight,
    limit: int | None,
    snoozes: int,
    at: datetime,
    routine: Routine,
    end: datetime,
) -> Ruling:
    if not done.notified and not answer.remote:
        return Ruling(rid, "refused", "not_sent", f"{title} has not been sent yet tonight; nothing to snooze")
    if done.acknowledged is not None:
        return Ruling(rid, "refused", "acknowledged", f"{title} is already acknowledged tonight")
    if snooze_refused(limit, snoozes):
        times = "no snoozes" if limit == 0 else f"{limit} snooze{'s' if limit != 1 else ''}"
        why = f"{title} allows {times} a night (snooze_limit) and has had {snoozes}"
        return Ruling(rid, "refused", "snooze_limit", why)
    until = (answer.until or at.astimezone(UTC) + routine.snooze).astimezone(UTC)
    if answer.remote and not (_after(until, at) and not _after(until, end)):
        why = f"a snooze of {title} until {until:%Y-%m-%d %H:%M} UTC does not end within its night"
        return Ruling(rid, "refused", "outside_night", why)
    running = done.snoozed_until
    if running is not None and _after(running, at) and (answer.remote or running == until):
        return Ruling(rid, "unchanged")  # one more snooze while one runs changes nothing new
    return Ruling(rid, "applied", until=until)


def _after(a: datetime, b: datetime) -> bool:
    """`a` is later than `b`, compared as instants (aware datetimes of one zone compare as wall times)."""
    return a.astimezone(UTC) > b.astimezone(UTC)


def snoozes(events: Iterable[Event], reminder: str) -> int:
    """How often `reminder` was snoozed, by one night's rows."""
    return sum(1 for e in events if e.reminder == reminder and e.event == "snoozed")


def answered(events: Iterable[Event]) -> set[str]:
    """The ids of the answers from elsewhere in one night's rows (each is applied once)."""
    return {str(e.details["answer"]) for e in events if "answer" in e.details}


def details(answer: Answer, ruling: Ruling) -> dict[str, object]:
    """The row's details for an applied ruling."""
    found: dict[str, object] = {}
    if ruling.until is not None:
        found["until"] = ruling.until.isoformat()
    if answer.remote and answer.ident is not None:
        found["answer"] = answer.ident
    elif not answer.remote and answer.at is not None and answer.action == "done":
        found["backfilled"] = True
    return found
