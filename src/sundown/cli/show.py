"""How commands print times: shared so that `check`, `status` and `tonight` read alike."""

from __future__ import annotations

import shutil
from datetime import date, datetime, tzinfo


def clock_column(times: list[datetime], night: date, zone: tzinfo) -> list[str]:
    """Times of one night, "22:30"; with the weekday for all when one falls after midnight
    ("Sat 22:30", "Sun 00:30"), so that a time of the next morning reads as such."""
    local = [t.astimezone(zone) for t in times]
    if all(t.date() == night for t in local):
        return [t.strftime("%H:%M") for t in local]
    return [t.strftime("%a %H:%M") for t in local]


def terminal_width() -> int:
    """The columns to fit output into: the terminal's, $COLUMNS, else 80 (a pipe); at least 40."""
    return max(shutil.get_terminal_size((80, 24)).columns, 40)
