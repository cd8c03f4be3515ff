"""The declarative spec of the config file: every key, how it is read, and what it means.

The `doc` strings are the key reference: `reference()` renders them, docs/config.md carries
that table (`python3 scripts/docs.py` rewrites it; a test checks it is current), and a test
checks that config.example.toml shows every key."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sundown.config.values import (
    read_argv,
    read_backend,
    read_before,
    read_bool,
    read_clock,
    read_count,
    read_dates,
    read_device,
    read_done_when,
    read_escalate,
    read_ics,
    read_ids,
    read_interval,
    read_limit,
    read_night_light,
    read_ntfy_url,
    read_path,
    read_prepare,
    read_quiet,
    read_sleep,
    read_text,
    read_title,
    read_topic_name,
    read_until,
    read_volume,
    read_weekdays,
    read_when,
    read_zone_name,
)
from sundown.core.routine import DEFAULT_PREPARE, DEFAULT_REPEAT_LIMIT, DEFAULT_SLEEP, WEEKDAYS

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Key:
    """A leaf key: how its value is read, and what it means."""

    read: Callable[[Any], Any]
    doc: str


@dataclass(frozen=True)
class Table:
    """A table with a fixed set of keys."""

    keys: Mapping[str, Key | Table | TableOf]
    doc: str


@dataclass(frozen=True)
class TableOf:
    """A table whose keys are chosen by the person (reminder ids), each an `item` table."""

    item: Table
    doc: str


def _hours(d: timedelta) -> str:
    return f"{int(d.total_seconds() // 3600)}h"


BEDTIME_KEYS: dict[str, Key | Table | TableOf] = {
    "default": Key(read_clock, "bedtime of every evening not named below, HH:MM"),
    **{
        day: Key(read_clock, f"bedtime on {day} evenings (a time before 12:00 falls after midnight)")
        for day in WEEKDAYS
    },
}

WAKE_KEYS: dict[str, Key | Table | TableOf] = {
    "default": Key(read_clock, "wake time of every morning not named below, HH:MM"),
    **{
        day: Key(read_clock, f"wake time on {day} MORNINGS: the bedtime of the evening before")
        for day in WEEKDAYS
    },
    "sleep": Key(
        read_sleep, f"how long you sleep: bedtime = wake time - sleep (default {_hours(DEFAULT_SLEEP)})"
    ),
}

CALENDAR = Table(
    {
        "ics": Key(read_ics, "an .ics file, or an https URL (fetched at most hourly)"),
        "prepare": Key(read_prepare, f"from waking to the first event (default {_hours(DEFAULT_PREPARE)})"),
    },
    "tomorrow's first event can make tonight's bedtime earlier (`sundown help morning`)",
)

REMINDER = Table(
    {
        "before": Key(read_before, "offset before bedtime, e.g. 45m or 1h30m (at most 12h)"),
        "at": Key(read_clock, "absolute evening time HH:MM instead of `before`"),
        "title": Key(read_title, "notification title; default: the id made readable"),
        "body": Key(read_text, "notification body; default: empty"),
        "repeat": Key(read_interval, "re-notify this often until acknowledged"),
        "repeat_limit": Key(read_count, f"at most this many repeats (default {DEFAULT_REPEAT_LIMIT})"),
        "run": Key(read_argv, "argv run when the reminder fires, never through a shell"),
        "days": Key(read_weekdays, "only on these evenings: mon tue wed thu fri sat sun"),
        "done_when": Key(
            read_done_when, "idle | locked: acknowledged by itself when, after its time, the person leaves"
        ),
        "urgent": Key(read_bool, "true: never deferred by Do Not Disturb, sent with urgency critical"),
        "snooze_limit": Key(read_limit, "at most this many snoozes a night (0: none)"),
        "escalate": Key(
            read_escalate,
            'steps while it stays unacknowledged: { after = "10m", urgency = "critical" }, '
            '{ after = "20m", run = [...] }',
        ),
    },
    "one step of the evening; the table's key is its id",
)

PUSH = Table(
    {
        "ntfy": Key(
            read_ntfy_url, "topic URL on an ntfy server, e.g. https://ntfy.example.org/evening-8f3k2q"
        ),
        "token_file": Key(read_path, "file holding the access token (not readable by others)"),
        "reminders": Key(read_ids, "ids of the reminders pushed; default: all"),
        "when": Key(read_when, "always | away (desktop idle or locked, or the machine asleep)"),
        "device": Key(read_device, "this machine's name in the log; default: the hostname"),
        "secret_file": Key(
            read_path, "file holding the secret answers are signed with (`sundown push init` writes it)"
        ),
        "webhook_topic": Key(
            read_topic_name, "topic for a sleep app's webhook (unsigned: only in bed / awake, never Done)"
        ),
    },
    "reminders on the phone and every machine, through ntfy (`sundown help push`)",
)

WINDDOWN = Table(
    {
        "before": Key(read_before, "the wind-down starts this long before bedtime, e.g. 30m (at most 12h)"),
        "at": Key(read_clock, "or at this evening time HH:MM instead of `before`"),
        "until": Key(read_until, "everything is put back at this time the next morning, HH:MM before 12:00"),
        "dnd": Key(read_bool, "Do Not Disturb for everything but sundown's own reminders"),
        "night_light": Key(
            read_night_light, "warm the screen to this colour temperature in K; true: the desktop's own"
        ),
        "grayscale": Key(read_bool, "grey the screen, where the desktop can"),
        "dark": Key(read_bool, "prefer the dark colour scheme"),
        "volume": Key(read_volume, 'cap the default output\'s volume, e.g. "30%" (never raises it)'),
        "pause_media": Key(read_bool, "pause every media player (MPRIS) once, at the start"),
        "run": Key(read_argv, "argv run at the start, never through a shell"),
        "undo": Key(read_argv, "argv run at the end"),
    },
    "the desktop winds down too, and is put back in the morning (`sundown help winddown`)",
)

FILE = Table(
    {
        "timezone": Key(read_zone_name, "IANA zone name; default: the system's zone"),
        "bedtime": Table(BEDTIME_KEYS, "bedtime per evening (required unless [wake] is given)"),
        "wake": Table(
            WAKE_KEYS, "wake time per morning: bedtime follows, for evenings [bedtime] does not name"
        ),
        "notify": Table(
            {
                "backend": Key(read_backend, "auto | dbus | plyer | console"),
                "snooze": Key(read_interval, "default snooze duration"),
                "tray": Key(
                    read_bool,
                    "a tray icon with a menu where the desktop has a tray (StatusNotifierItem); default true",
                ),
            },
            "how reminders are delivered",
        ),
        "context": Table(
            {
                "quiet": Key(read_quiet, "defer | ignore: what Do Not Disturb, presenting, fullscreen do"),
                "max_defer": Key(
                    read_interval, "a deferred reminder is sent at the latest this long after its time"
                ),
                "idle": Key(read_interval, "no input for this long = away from the screen"),
                "measure": Key(
                    read_bool,
                    "false: do not record the evening's activity (when the screens really went off);"
                    " what was recorded stays",
                ),
            },
            "the person's context: busy, away",
        ),
        "reminders": TableOf(REMINDER, "the steps of the evening"),
        "skip": Table({"dates": Key(read_dates, "nights (YYYY-MM-DD) with no reminders")}, "nights off"),
        "push": PUSH,
        "calendar": CALENDAR,
        "winddown": WINDDOWN,
    },
    "the whole file",
)


def keys(table: Table = FILE, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted name, doc) of every table and key, in file order: `[reminders.ID]`, `reminders.ID.at`."""
    rows: list[tuple[str, str]] = []
    for name, child in table.keys.items():
        dotted = f"{prefix}{name}"
        if isinstance(child, Key):
            rows.append((dotted, child.doc))
        elif isinstance(child, Table):
            rows.append((f"[{dotted}]", child.doc))
            rows += keys(child, f"{dotted}.")
        else:
            rows.append((f"[{dotted}.ID]", child.item.doc))
            rows += keys(child.item, f"{dotted}.ID.")
    return rows


def reference() -> str:
    """The key reference as a Markdown table (docs/config.md carries it)."""
    lines = ["| key | meaning |", "|---|---|"]
    for name, doc in keys():
        lines.append(f"| `{name}` | {doc.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"
