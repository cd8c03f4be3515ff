"""Instants spelled the short way in tests: `utc(2026, 11, 25, 21, 0)`, `local(zone, ...)`."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo


def utc(*args: int) -> datetime:
    """datetime(*args) in UTC."""
    return datetime(*args, tzinfo=timezone.utc)  # type: ignore[misc]


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    """datetime(*args) on `zone`'s wall clock; `fold` picks the second of a repeated hour."""
    return datetime(*args, tzinfo=zone, fold=fold)  # type: ignore[misc]
