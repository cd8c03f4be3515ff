"""How commands print times: shared so that `check`, `status` and `tonight` read alike."""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sundown.core.plan import NightPlan
    from sundown.core.routine import Routine


def clock_column(times: list[datetime], night: date, zone: tzinfo) -> list[str]:
    """Times of one night, "22:30"; with the weekday for all when one falls after midnight
    ("Sat 22:30", "Sun 00:30"), so that a time of the next morning reads as such."""
    local = [t.astimezone(zone) for t in times]
    if all(t.date() == night for t in local):
        return [t.strftime("%H:%M") for t in local]
    return [t.strftime("%a %H:%M") for t in local]


def terminal_width() -> int:
    """The columns to fit output into: the terminal's, $COLUMNS, else 80 (a pipe); at least 40."""
    from sundown.cli import terminal_columns

    return max(terminal_columns(), 40)


def bedtime_origin(plan: NightPlan, routine: Routine, zone: tzinfo) -> str:
    """Where a night's bedtime comes from, in words (`check`, `tonight`)."""
    from sundown.config.values import duration_text

    sleep = duration_text(routine.bedtime.sleep)
    morning = plan.morning
    if plan.source == "routine":
        return "from [bedtime]"
    if plan.source == "wake":
        weekday = plan.night.weekday()
        wall = routine.bedtime.wake_after(weekday)
        day = (plan.night + timedelta(days=1)).strftime("%a")
        return f"from [wake]: waking {day} {wall:%H:%M} less {sleep} of sleep" if wall else "from [wake]"
    if plan.source == "tonight":
        return "set for this night by `sundown tonight`"
    if morning is not None and plan.source == "calendar":
        starts = morning.starts.astimezone(zone).strftime("%a %H:%M") if morning.starts else "?"
        wake = morning.wake.astimezone(zone).strftime("%H:%M")
        return f"from the calendar: {morning.event} at {starts}, waking {wake}, less {sleep} of sleep"
    if morning is not None and plan.source == "alarm":
        return f"from the phone's alarm at {morning.wake.astimezone(zone):%a %H:%M}, less {sleep} of sleep"
    return f"from {plan.source}"


SOURCE_WORDS = {
    "routine": "[bedtime]",
    "wake": "[wake]",
    "tonight": "sundown tonight",
    "calendar": "the calendar",
    "alarm": "the phone's alarm",
}
