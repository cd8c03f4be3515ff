"""What `sundown status` shows: one snapshot, built the same way by the daemon and the CLI. Pure.

The daemon answers a status request with `snapshot(...).to_json()`; without a
daemon the CLI builds the same snapshot from the log. Both have the same keys,
null where the one building it cannot know (the backend, with no daemon).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, tzinfo
from typing import Any

from sundown.core.plan import UTC, NightPlan, Occurrence, upcoming
from sundown.core.routine import Routine
from sundown.core.state import NOTHING, Night, ReminderNight, state_name
from sundown.core.vocabulary import STATES, State


@dataclass(frozen=True)
class Row:
    """One of tonight's reminders as `status` shows it."""

    night: str
    reminder: str
    title: str
    at: str  # ISO 8601 with the zone's offset
    state: State
    # Snoozed: when the snooze ends. Held back while the person is busy (state "deferred", or a held
    # repeat): when it goes out at the latest, and why ("dnd", "presenting", "fullscreen").
    until: str | None = None  # ISO 8601 with the zone's offset
    reason: str | None = None

    @property
    def waiting(self) -> bool:
        """Notified and not settled: what a bare `ack` or `snooze` acts on."""
        return self.state in ("notified", "snoozed", "dismissed")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Row:
        state = data.get("state")
        until, reason = data.get("until"), data.get("reason")
        return cls(
            night=str(data.get("night") or ""),
            reminder=str(data.get("reminder") or ""),
            title=str(data.get("title") or ""),
            at=str(data.get("at") or ""),
            state=state if state in STATES else "pending",
            until=until if isinstance(until, str) else None,
            reason=reason if isinstance(reason, str) else None,
        )


@dataclass(frozen=True)
class Status:
    """What `status` shows, from the daemon or, without one, from the log (docs/commands.md, JSON output)."""

    running: bool
    pid: int | None
    backend: str | None  # the configured backend (null: no daemon to ask)
    last_backend: str | None  # the one that delivered the last notification
    config: str | None  # the config file in use (null: the built-in default)
    config_error: str | None  # the config has errors: the routine shown is the last good one
    log_error: str | None  # the log cannot be opened or written
    night: str  # "tonight": see `state.tonight`
    tonight: list[Row] = field(default_factory=list)
    push: dict[str, Any] | None = None  # the phone link, when `[push]` is configured and a daemon runs
    # The person's context as the daemon sees it (null per key where unknown, all null without a
    # daemon) and the source in use for each capability (docs/context.md).
    context: dict[str, Any] | None = None
    sources: dict[str, Any] | None = None
    # Tonight's bedtime, where it comes from (routine|wake|tonight|calendar|alarm) and, when the
    # calendar or the alarm moved it, why; the calendar as the daemon last read it (docs/morning.md).
    bedtime: str | None = None
    bedtime_source: str | None = None
    why: str | None = None
    calendar: dict[str, Any] | None = None
    # The wind-down (docs/winddown.md): {"active", "since", "until", "effects"}; null without
    # [winddown] and nothing left to put back.
    winddown: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Status:
        """A snapshot sent by the daemon; keys it did not send are null."""
        known: dict[str, Any] = {f.name: data.get(f.name) for f in fields(cls)}
        known["running"] = bool(known["running"])
        known["tonight"] = [Row.from_json(row) for row in known["tonight"] or [] if isinstance(row, Mapping)]
        known["night"] = str(known["night"] or "")
        return cls(**known)


def night_label(night: date, tonight_night: date) -> str:
    """ "tonight (Sat 2026-11-28)" or "the night of Fri 2026-11-27", for output."""
    day = f"{night:%a} {night.isoformat()}"
    return f"tonight ({day})" if night == tonight_night else f"the night of {day}"


def unskipped_words(label: str, kept: Sequence[tuple[str, str]], night_option: str = "") -> str:
    """What a whole-night `unskip` did: every reminder back, but those skipped one by one, which
    stay skipped, named ((id, title) each) with the command that brings them back."""
    if not kept:
        return f"unskipped every reminder {label}"
    titles = [title for _, title in kept]
    but = ", ".join(titles[:-1]) + f" and {titles[-1]}" if len(titles) > 1 else titles[0]
    ids = " ".join(rid for rid, _ in kept)
    back = f"`sundown unskip {ids}{night_option}` brings {'them' if len(kept) > 1 else 'it'} back"
    return f"unskipped every reminder {label} but {but}\n(skipped one by one: {back})"


def rows(night: Night, now: datetime) -> list[Row]:
    """The night's reminders with their state."""
    return [_row(night, occ, night.states.get(occ.reminder.id, NOTHING), now) for occ in _plan(night)]


def _plan(night: Night) -> tuple[Occurrence, ...]:
    return night.plan.occurrences if night.plan else ()


def _row(night: Night, occ: Occurrence, done: ReminderNight, now: datetime) -> Row:
    """One reminder's row: its state, and the `until` (and `reason`) its snooze or hold has."""
    state = state_name(occ, done, now)
    until: datetime | None = None
    reason = None
    if state == "snoozed":
        until = done.snoozed_until
    elif state not in ("acknowledged", "skipped", "missed") and done.deferred_until is not None:
        if done.deferred_until > now:  # held back: the first notification, or a repeat
            until, reason = done.deferred_until, done.deferred_reason
    return Row(
        night=night.night.isoformat(),
        reminder=occ.reminder.id,
        title=occ.reminder.title,
        at=occ.at.isoformat(),
        state=state,
        until=until.astimezone(occ.at.tzinfo).isoformat() if until is not None else None,
        reason=reason,
    )


def snapshot(
    night: Night,
    now: datetime,
    *,
    running: bool,
    pid: int | None = None,
    backend: str | None = None,
    last_backend: str | None = None,
    config: str | None = None,
    config_error: str | None = None,
    log_error: str | None = None,
    push: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    sources: dict[str, Any] | None = None,
    calendar: dict[str, Any] | None = None,
    zone: tzinfo | None = None,
    winddown: dict[str, Any] | None = None,
) -> Status:
    """The status of `night` ("tonight") at `now`; `zone` words the `why` line."""
    plan = night.plan
    return Status(
        running=running,
        pid=pid,
        backend=backend,
        last_backend=last_backend,
        config=config,
        config_error=config_error,
        log_error=log_error,
        night=night.night.isoformat(),
        tonight=rows(night, now),
        push=push,
        context=context,
        sources=sources,
        bedtime=plan.bedtime.isoformat() if plan else None,
        bedtime_source=plan.source if plan else None,
        why=_why(plan, zone or plan.bedtime.tzinfo or UTC) if plan else None,
        calendar=calendar,
        winddown=winddown,
    )


def _why(plan: NightPlan, zone: tzinfo) -> str | None:
    """Why the morning moved tonight's bedtime; only a night it moved reads the morning's rules."""
    if plan.morning is None:
        return None
    from sundown.core.morning import why

    return why(plan, zone)


def next_line(routine: Routine, zone: tzinfo, now: datetime) -> str:
    """The daemon's one-line status for the service manager: "next: Magnesium at Wed 21:45"."""
    nxt = upcoming(routine, zone, now, 1)
    if not nxt:
        return "no reminders configured"
    return f"next: {nxt[0].reminder.title} at {nxt[0].at.strftime('%a %H:%M')}"
