"""What a glance at sundown shows: one line, a tooltip, a state class. Pure.

Status bars (`sundown status --follow`), the tray icon and the D-Bus API's summary all show
the same thing, made here from a status snapshot (`core/status.Status.to_json()`, as the daemon
sends it) at `now`. The line changes by itself only while it counts down to the next
reminder (`refresh_at`); every other change comes with a new snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sundown.core.plan import UTC

# The states a glance can be in; the first class of a glance is one of them.
STOPPED = "stopped"  # no daemon runs: nothing will be sent
PENDING = "pending"  # a reminder was sent and waits for an answer
DEFERRED = "deferred"  # a reminder is due but held back while you are busy (Do Not Disturb, ...)
SNOOZED = "snoozed"  # a reminder waits out its snooze
IDLE = "idle"  # nothing waits; the line names the next reminder
WINDDOWN = "winddown"  # an extra class while the wind-down is on
STATES = (STOPPED, PENDING, DEFERRED, SNOOZED, IDLE)

COUNTDOWN = timedelta(hours=1)  # closer than this, the line counts the minutes down
MINUTE = timedelta(minutes=1)
SETTLED = ("acknowledged", "skipped", "missed")
WAITING = ("notified", "dismissed")


@dataclass(frozen=True)
class Glance:
    text: str  # one line: "Magnesium in 12m", "Magnesium: now", "sundown is not running"
    tooltip: str  # tonight's reminders, one a line, with their state
    classes: tuple[str, ...]  # the state (one of STATES), then "winddown" while it is on
    percentage: int  # the part of tonight's reminders settled (acknowledged, skipped, missed), 0-100
    next_reminder: Mapping[str, Any] | None  # the row of the reminder the line names, if any
    refresh_at: datetime | None  # when `text` changes by itself (a countdown's next minute), UTC
    label: str  # `text` without the countdown ("Magnesium at 21:45"): stays true until the next snapshot

    @property
    def state(self) -> str:
        return self.classes[0]


def _at(row: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["at"])).astimezone(UTC)


def _hm(at: datetime, zone: tzinfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


def winddown_of(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The wind-down part of a snapshot while it is on (`winddown.active`), else None."""
    winddown = status.get("winddown")
    return winddown if isinstance(winddown, Mapping) and winddown.get("active") else None


def glance(status: Mapping[str, Any], now: datetime, zone: tzinfo) -> Glance:
    """The glance at `now`; times show in `zone` (the daemon's, where the snapshot names it)."""
    now = now.astimezone(UTC)
    rows: Sequence[Mapping[str, Any]] = list(status.get("tonight") or [])
    winddown = winddown_of(status)
    settled = sum(1 for r in rows if r["state"] in SETTLED)
    percentage = round(100 * settled / len(rows)) if rows else 0
    tooltip = _tooltip(status, rows, winddown, zone)
    extra = (WINDDOWN,) if winddown else ()

    def made(
        text: str, state: str, row: Mapping[str, Any] | None, refresh: datetime | None = None, label: str = ""
    ) -> Glance:
        return Glance(text, tooltip, (state, *extra), percentage, row, refresh, label or text)

    if not status.get("running"):
        return made("sundown is not running", STOPPED, None)
    by_time = sorted(rows, key=_at)
    waiting = [r for r in by_time if r["state"] in WAITING]
    if waiting:
        more = f" +{len(waiting) - 1}" if len(waiting) > 1 else ""
        return made(f"{waiting[-1]['title']}: now{more}", PENDING, waiting[-1])
    held = [r for r in by_time if r["state"] in ("deferred", "due")]
    if held:
        return made(f"{held[0]['title']}: held back", DEFERRED, held[0])
    snoozed = [r for r in by_time if r["state"] == "snoozed"]
    if snoozed:
        return made(f"{snoozed[0]['title']}: snoozed", SNOOZED, snoozed[0])
    ahead = [r for r in by_time if r["state"] == "pending"]
    prefix = "wind-down · " if winddown else ""
    if not ahead:
        if rows and all(r["state"] == "skipped" for r in rows):
            return made(f"{prefix}tonight is skipped", IDLE, None)
        return made(f"{prefix}nothing more tonight", IDLE, None)
    row = ahead[0]
    at = _at(row)
    left = at - now
    if left <= timedelta(0):  # its time has come: the daemon's next snapshot says what became of it
        return made(f"{prefix}{row['title']}: due", IDLE, row)
    label = f"{prefix}{row['title']} at {_hm(at, zone)}"
    if left > COUNTDOWN:
        return made(label, IDLE, row, at - COUNTDOWN)
    minutes = -(-left // MINUTE)  # rounded up: 12m30s left shows "13m" until 12m are left
    return made(f"{prefix}{row['title']} in {minutes}m", IDLE, row, at - (minutes - 1) * MINUTE, label)


def _tooltip(
    status: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    winddown: Mapping[str, Any] | None,
    zone: tzinfo,
) -> str:
    night = status.get("night")
    head = "sundown"
    if night:
        day = date.fromisoformat(str(night))
        head += f" · tonight ({day:%a} {day})"
    lines = [head]
    width = max((len(str(r["title"])) for r in rows), default=0)
    for row in sorted(rows, key=_at):
        lines.append(f"{_hm(_at(row), zone)}  {str(row['title']):<{width}}  {row['state']}")
    if not rows:
        lines.append("no reminders tonight")
    if winddown:
        until = winddown.get("until")
        lines.append(f"wind-down on{f' until {_hm(datetime.fromisoformat(until), zone)}' if until else ''}")
    if not status.get("running"):
        lines.append("the daemon is not running: nothing will be sent")
    return "\n".join(lines)
