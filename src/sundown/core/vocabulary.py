"""The words the log, the backends and the scripts share, each defined once.

They are `Literal` types, so mypy catches a misspelt event or source at its call site,
and tuples of the same words for the checks made at run time.
"""

from __future__ import annotations

from typing import Literal, get_args

EventName = Literal[
    "notified",
    "acknowledged",
    "snoozed",
    "dismissed",
    "skipped",
    "unskipped",
    "missed",
    "config_error",
    "bedtime_changed",
    "deferred",
    "escalated",
    "lock_failed",
    "activity",  # one closed span of the session's activity (details: state, from, to)
    "in_bed",
    "awake",
    "replanned",
    "winddown",
]
EVENTS: tuple[EventName, ...] = get_args(EventName)

# Who caused an event. An answer from another machine is "device:<its name>" (see `is_source`).
Source = Literal["action", "cli", "daemon", "idle", "lock", "phone", "dbus", "tray"]
SOURCES: tuple[Source, ...] = get_args(Source)
DEVICE_PREFIX = "device:"

# What the session was doing, one state per `activity` span (docs/stats.md, "The evening as it was").
ActivityState = Literal["active", "idle", "locked", "asleep"]
ACTIVITY_STATES: tuple[ActivityState, ...] = get_args(ActivityState)

# Where a night's bedtime comes from (`check`, `status`, `next --json`; docs/morning.md):
# `[bedtime]`, `[wake]`, `sundown tonight`, the calendar's first event, the phone's alarm.
BedtimeSource = Literal["routine", "wake", "tonight", "calendar", "alarm"]
BEDTIME_SOURCES: tuple[BedtimeSource, ...] = get_args(BedtimeSource)

Backend = Literal["auto", "dbus", "plyer", "console"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)

# What a person did with a notification, as a backend reports it.
Action = Literal["done", "snooze", "dismissed"]
ACTIONS: tuple[Action, ...] = get_args(Action)

# What an answer does, whatever its source (a button, the command line, the phone): core/answers.
AnswerAction = Literal["done", "snooze", "skip", "dismissed"]

# Where a reminder stands tonight, as `status` says it (core/state.state_name).
State = Literal[
    "pending", "due", "deferred", "notified", "snoozed", "dismissed", "acknowledged", "skipped", "missed"
]
STATES: tuple[State, ...] = get_args(State)

Urgency = Literal["low", "normal", "critical"]
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)


def is_source(word: str) -> bool:
    """One of SOURCES, or "device:<name>" with a non-empty name."""
    return word in SOURCES or (word.startswith(DEVICE_PREFIX) and len(word) > len(DEVICE_PREFIX))
