"""Routines several test modules reckon with (one copy each)."""

from __future__ import annotations

from datetime import time, timedelta

from sundown.core.routine import Bedtimes, Reminder, Routine

M = timedelta(minutes=1)

# The stats' routine: a repeating reminder, one on five weekdays only, and bedtime itself
# (tests/test_stats.py, tests/test_night_cache.py).
STATS = Routine(
    Bedtimes.uniform(time(22, 30)),
    (
        Reminder("magnesium", "Magnesium", before=45 * M, repeat=10 * M, repeat_limit=3),
        Reminder("screens-off", "Screens off", at=time(22, 0), days=frozenset({0, 1, 2, 3, 6})),
        Reminder("bedtime", "Lights out", before=0 * M),
    ),
    timezone="Europe/Berlin",
)

# The evening's routine: its window opens with the wind-down, an hour before bedtime
# (tests/test_activity.py, tests/test_recorder.py).
EVENING = Routine(
    Bedtimes.uniform(time(22, 30)),
    (Reminder("wind-down", "Wind down", before=60 * M), Reminder("bedtime", "Lights out", before=0 * M)),
    timezone="Europe/Berlin",
)
