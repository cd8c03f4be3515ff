"""`[bedtime]`, `[wake]` and `[calendar]` -> how each evening's bedtime is found (docs/morning.md).

Which key gives an evening its bedtime, most specific first: its `[bedtime]` weekday key,
then the `[wake]` key of the MORNING after (Saturday's for Friday evening), then a
default. `[bedtime].default` and `[wake].default` both mean "every other evening", so
giving both is an error, not a silent choice.
"""

from __future__ import annotations

import os
from datetime import time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sundown.config.spec import BEDTIME_KEYS, CALENDAR, WAKE_KEYS
from sundown.config.values import duration_text, show
from sundown.core.routine import DEFAULT_PREPARE, DEFAULT_SLEEP, NO_WAKE, WEEKDAYS, Bedtimes, Calendar

if TYPE_CHECKING:
    from sundown.config.check import Problems

DAY = 24 * 60
HALF_DAY = 12 * 60


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def bedtimes(raw: dict[str, Any], values: dict[str, Any], problems: Problems) -> Bedtimes | None:
    """Each evening's bedtime rule; every problem found is added to `problems`."""
    if "bedtime" not in raw and "wake" not in raw:
        problems.add(
            ("bedtime",),
            'missing; add a [bedtime] section with e.g. default = "22:30" '
            '(or a [wake] section with e.g. default = "07:00")',
        )
        return None
    bed_raw, wake_raw = raw.get("bedtime", {}), raw.get("wake", {})
    if not isinstance(bed_raw, dict) or not isinstance(wake_raw, dict):
        return None  # reported by the walk
    bed, wake = values.get("bedtime", {}), values.get("wake", {})
    if any(k not in bed for k in bed_raw if k in BEDTIME_KEYS) or any(
        k not in wake for k in wake_raw if k in WAKE_KEYS
    ):
        return None  # a bad value was reported already
    if "default" in bed and "default" in wake:
        problems.add(
            ("wake", "default"),
            "gives every other evening's bedtime, and so does bedtime.default; keep one of the two "
            "(a weekday key of [bedtime] wins over [wake] for its evening)",
        )
        return None
    sleep: timedelta = wake.get("sleep", DEFAULT_SLEEP)
    wake_times = tuple(wake.get(d, wake.get("default")) for d in WEEKDAYS)
    by_day: list[time | None] = []
    uncovered = []
    for e, day in enumerate(WEEKDAYS):
        if day in bed:
            by_day.append(bed[day])
        elif wake_times[(e + 1) % 7] is not None:
            by_day.append(None)
        elif "default" in bed:
            by_day.append(bed["default"])
        else:
            by_day.append(None)
            uncovered.append(e)
    if uncovered:
        _uncovered(uncovered, "wake" in raw, problems)
        return None
    if not _wake_fits(by_day, wake_times, sleep, wake, problems):
        return None
    return Bedtimes(tuple(by_day), wake_times if "wake" in raw else NO_WAKE, sleep)


def _uncovered(evenings: list[int], has_wake: bool, problems: Problems) -> None:
    if not has_wake:
        missing = ", ".join(WEEKDAYS[e] for e in evenings)
        problems.add(
            ("bedtime",),
            f'needs default = "HH:MM" for the evenings not given ({missing}), '
            "unless all seven weekdays are given",
        )
        return
    mornings = ", ".join(WEEKDAYS[(e + 1) % 7] for e in evenings)
    evenings_text = ", ".join(WEEKDAYS[e] for e in evenings)
    problems.add(
        ("wake",),
        f'needs default = "HH:MM" for the mornings not given ({mornings}), or [bedtime] keys '
        f"for the evenings before them ({evenings_text})",
    )


def _wake_fits(
    by_day: list[time | None],
    wake_times: tuple[time | None, ...],
    sleep: timedelta,
    given: dict[str, Any],
    problems: Problems,
) -> bool:
    """wake - sleep must fall inside the evening's night: 12:00 that day to 12:00 the next."""
    ok = True
    reported: set[str] = set()
    sleep_min = int(sleep.total_seconds() // 60)
    for e, wall in enumerate(by_day):
        if wall is not None:
            continue
        morning = (e + 1) % 7
        wake = wake_times[morning]
        assert wake is not None
        bed = _minutes(wake) - sleep_min  # minutes from midnight of the morning's day
        if -HALF_DAY <= bed < HALF_DAY:
            continue
        ok = False
        where = WEEKDAYS[morning] if WEEKDAYS[morning] in given else "default"
        if where in reported:
            continue
        reported.add(where)
        sleep_text = f' less sleep "{duration_text(sleep)}"' + ("" if "sleep" in given else " (the default)")
        clock = f"{(bed % DAY) // 60:02d}:{bed % 60:02d}"
        if bed < -HALF_DAY:
            why = f"is {clock} on {WEEKDAYS[e]}, before that night begins (12:00)"
        else:
            why = f"is {clock} on {WEEKDAYS[morning]}, after {WEEKDAYS[e]}'s night ends (12:00)"
        problems.add(
            ("wake", where),
            f"{show(wake.strftime('%H:%M'))}{sleep_text} {why}; write another wake time or sleep",
        )
    return ok


def wall_bedtime(bedtimes: Bedtimes, weekday: int) -> time:
    """Evening `weekday`'s bedtime on the wall clock, as the config means it (DST aside)."""
    wall = bedtimes.for_weekday(weekday)
    if wall is not None:
        return wall
    wake = bedtimes.wake_after(weekday)
    assert wake is not None
    bed = (_minutes(wake) - int(bedtimes.sleep.total_seconds() // 60)) % DAY
    return time(bed // 60, bed % 60)


def calendar(raw: dict[str, Any], values: dict[str, Any], problems: Problems) -> Calendar | None:
    """`[calendar]`; a relative file path is relative to the config file's directory."""
    table = raw.get("calendar")
    if not isinstance(table, dict):
        return None
    if "ics" not in table:
        problems.add(
            ("calendar",),
            'needs ics = "PATH" or "https://URL", the calendar to read (e.g. an .ics export)',
        )
        return None
    if any(k not in values for k in table if k in CALENDAR.keys):
        return None  # a bad value was reported already
    ics: str = values["ics"]
    if "://" not in ics:
        path = Path(os.path.expanduser(ics))
        if not path.is_absolute():
            path = Path(problems.name).resolve().parent / path
        ics = str(path)
    return Calendar(ics, values.get("prepare", DEFAULT_PREPARE))
