"""Argument values shared by several commands: nights, ISO instants, the follow formats."""

from __future__ import annotations

import argparse
import re
from datetime import date, datetime, tzinfo

from sundown.errors import UsageError

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FOLLOW_FORMATS = ("text", "json", "waybar")  # `status --follow --format` (cli/follow prints them)
_DATE_PART = re.compile(r"\d{4}-|\d[Tt]")  # an ISO date (and time); else a time of day


def night_arg(text: str) -> date:
    """A night as YYYY-MM-DD (the evening's date); argparse makes the error a usage error."""
    if not _DATE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from exc


def time_of_day(text: str) -> bool:
    """Whether `text` has no date in it ("22:40", "10pm"): a time of day on some night."""
    return not _DATE_PART.search(text)


def instant(option: str, text: str, zone: tzinfo, night: date | None = None) -> datetime:
    """An ISO 8601 time (or date); without an offset it is a wall time in the routine's zone,
    resolved by the plan's gap and fold rules. With `night`, a time of day alone ("22:40") is
    accepted too: that night's, as a bedtime is (before 12:00: the morning after)."""
    from sundown.core.plan import resolve, wall_instant

    raw = text.strip()
    if night is not None and time_of_day(raw):
        from sundown.config.values import Invalid, read_clock

        try:
            return wall_instant(night, read_clock(raw), zone)
        except Invalid as exc:
            raise UsageError(f"{option}: {exc}, or an ISO 8601 time such as 2026-11-25T21:00") from None
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        try:
            when = datetime.combine(date.fromisoformat(raw), datetime.min.time())
        except ValueError:
            raise UsageError(
                f'{option}: "{text}" is not an ISO 8601 time; write e.g. 2026-11-25T21:00 '
                "(local to the routine's zone) or 2026-11-25T21:00+01:00"
            ) from None
    if when.tzinfo is None:
        return resolve(when.date(), when.time(), zone)
    return when
