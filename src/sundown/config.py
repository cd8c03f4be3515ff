"""TOML -> Routine, checked against one declarative spec of keys (SPEC §2).

Every problem is collected and reported at once as ``PATH:LINE: KEY.PATH: message``.
tomllib gives no line numbers for keys, so `KeyLines` finds them by scanning the text.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sundown.errors import ConfigError
from sundown.routine import (
    BACKENDS,
    DEFAULT_REPEAT_LIMIT,
    DEFAULT_SNOOZE,
    MAX_BEFORE,
    WEEKDAYS,
    Bedtimes,
    Reminder,
    Routine,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sundown.paths import Paths

EXAMPLE_FILE = "config.example.toml"
DEFAULT_NAME = "<built-in default routine>"

KeyPath = tuple[str | int, ...]


# --- reading single values -------------------------------------------------------------------


class Invalid(Exception):
    """A value that does not fit its key: (message, list index or None) for each problem."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.issues: list[tuple[str, int | None]] = [(message, index)]

    @classmethod
    def many(cls, issues: Sequence[tuple[str, int | None]]) -> Invalid:
        exc = cls(issues[0][0], issues[0][1])
        exc.issues = list(issues)
        return exc


def show(value: object) -> str:
    """A value as it would look in TOML, for quoting it in a message."""
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        escaped = re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped)
        return f'"{escaped}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, list):
        inner = ", ".join(show(v) for v in value[:6])
        return f"[{inner}{', ...' if len(value) > 6 else ''}]"
    if isinstance(value, dict):
        return "a table"
    return str(value)


CLOCK_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
LOOSE_CLOCK_RE = re.compile(r"\s*(\d{1,2})\s*[:.h]\s*(\d{1,2})\s*")
DURATION_RE = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")


def read_clock(value: object) -> time:
    """ "HH:MM" (24-hour), or a TOML local time with no seconds."""
    if isinstance(value, time):
        if value.second or value.microsecond:
            raise Invalid(f'{show(value)} has seconds; sundown works in minutes: write "{value:%H:%M}"')
        return value
    if isinstance(value, str):
        m = CLOCK_RE.fullmatch(value)
        if m:
            return time(int(m.group(1)), int(m.group(2)))
        loose = LOOSE_CLOCK_RE.fullmatch(value)
        if loose:
            hour, minute = int(loose.group(1)), int(loose.group(2))
            if hour > 23 or minute > 59:
                raise Invalid(f"{show(value)} is not a time of day; hours go 00-23 and minutes 00-59")
            raise Invalid(
                f'{show(value)} is not a time; write exactly "HH:MM", e.g. "{hour:02d}:{minute:02d}"'
            )
    raise Invalid(f'{show(value)} is not a time; write "HH:MM" on a 24-hour clock, e.g. "22:30"')


def read_duration(value: object) -> timedelta:
    """One or more <int><unit> with units h, m, s, in that order: "45m", "1h30m", "0m"."""
    if isinstance(value, str) and value:
        m = DURATION_RE.fullmatch(value)
        if m:
            h, mi, s = (int(g or 0) for g in m.groups())
            try:
                return timedelta(hours=h, minutes=mi, seconds=s)
            except OverflowError:
                raise Invalid(f'{show(value)} is far too long; write e.g. "45m" or "1h30m"') from None
        if value.lstrip().startswith("-"):
            raise Invalid(f'{show(value)} is negative; durations count forward, e.g. "{value.lstrip()[1:]}"')
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise Invalid(
            f'{show(value)} is not a duration; write a string with a unit, e.g. "{value}m" or "1h30m"'
        )
    raise Invalid(f'{show(value)} is not a duration; write e.g. "45m" or "1h30m"')


def read_before(value: object) -> timedelta:
    offset = read_duration(value)
    if offset > MAX_BEFORE:
        raise Invalid(
            f"{show(value)} is over 12h before bedtime, which would leave the night; "
            'use `at = "HH:MM"` for a time earlier in the evening'
        )
    return offset


def read_interval(value: object) -> timedelta:
    """A duration within a night that is not zero (a zero repeat or snooze would fire in a loop)."""
    interval = read_duration(value)
    if not interval:
        raise Invalid(f'{show(value)} is zero; write a positive duration, e.g. "10m"')
    if interval > MAX_BEFORE:
        raise Invalid(f'{show(value)} is over 12h, longer than a night; write e.g. "10m"')
    return interval


def read_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            raise Invalid(f"{show(value)} is a string; write the number without quotes: {value.strip()}")
        raise Invalid(f"{show(value)} is not a whole number; write e.g. {DEFAULT_REPEAT_LIMIT}")
    if value < 1:
        raise Invalid(f"{show(value)} is not a positive number; write 1 or more (or remove `repeat`)")
    return value


def read_text(value: object) -> str:
    if not isinstance(value, str):
        fix = f'put it in quotes: "{value}"' if isinstance(value, (int, float)) else "write text in quotes"
        raise Invalid(f"{show(value)} is not a string; {fix}")
    return value


def read_title(value: object) -> str:
    text = read_text(value)
    if not text.strip():
        raise Invalid(f"{show(value)} is empty; write a title or remove the key to use the reminder's id")
    return text


def read_backend(value: object) -> str:
    if value not in BACKENDS:
        names = ", ".join(show(b) for b in BACKENDS)
        raise Invalid(f"{show(value)} is not a notification backend; choose one of {names}")
    return str(value)


def read_zone_name(value: object) -> str:
    if not isinstance(value, str) or load_zone(value) is None:
        hint = '; write an IANA name, e.g. "Europe/Berlin"'
        if isinstance(value, str) and value:
            from zoneinfo import available_timezones

            hint = _closest(value, sorted(available_timezones())) or hint
        raise Invalid(f"{show(value)} is not a known time zone{hint}")
    return value


def read_weekdays(value: object) -> frozenset[int]:
    if not isinstance(value, list):
        example = f"[{show(value)}]" if isinstance(value, str) else '["mon", "tue"]'
        raise Invalid(f"{show(value)} is not a list; write e.g. days = {example}")
    if not value:
        raise Invalid("[] names no evening; list at least one weekday, or remove `days` for every evening")
    issues = []
    days = set()
    for i, item in enumerate(value):
        if isinstance(item, str) and item in WEEKDAYS:
            days.add(WEEKDAYS.index(item))
        else:
            issues.append((f"{show(item)} is not a weekday; use {', '.join(WEEKDAYS)}", i))
    if issues:
        raise Invalid.many(issues)
    return frozenset(days)


def read_argv(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        example = show(value.split() or ["command"])
        raise Invalid(
            f"{show(value)} is a string; write the command as a list of arguments, e.g. {example} "
            "(it is run directly, never through a shell)"
        )
    if not isinstance(value, list) or not value:
        raise Invalid(
            f'{show(value)} is not a command; write a list of arguments, e.g. ["loginctl", "lock-session"]'
        )
    issues = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            what = "empty" if item == "" else "not a string"
            issues.append((f"{show(item)} is {what}; each argument must be a non-empty string", i))
    if issues:
        raise Invalid.many(issues)
    return tuple(value)


def read_dates(value: object) -> frozenset[date]:
    if not isinstance(value, list):
        raise Invalid(f'{show(value)} is not a list; write e.g. dates = ["2026-12-24"]')
    issues = []
    dates = set()
    for i, item in enumerate(value):
        if isinstance(item, datetime):
            issues.append((f'{show(item)} has a time of day; write just the date, e.g. "{item:%Y-%m-%d}"', i))
        elif isinstance(item, date):
            dates.add(item)
        elif isinstance(item, str) and DATE_RE.fullmatch(item):
            try:
                dates.add(date.fromisoformat(item))
            except ValueError:
                issues.append((f"{show(item)} is not a date in the calendar", i))
        else:
            issues.append((f'{show(item)} is not a date; write "YYYY-MM-DD", e.g. "2026-12-24"', i))
    if issues:
        raise Invalid.many(issues)
    return frozenset(dates)


# --- the declarative spec ---------------------------------------------------------------------


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


BEDTIME_KEYS: dict[str, Key | Table | TableOf] = {
    "default": Key(read_clock, "bedtime of every evening not named below, HH:MM"),
    **{
        day: Key(read_clock, f"bedtime on {day} evenings (a time before 12:00 falls after midnight)")
        for day in WEEKDAYS
    },
}

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
    },
    "one step of the evening; the table's key is its id",
)

SPEC = Table(
    {
        "timezone": Key(read_zone_name, "IANA zone name; default: the system's zone"),
        "bedtime": Table(BEDTIME_KEYS, "bedtime per evening (required)"),
        "notify": Table(
            {
                "backend": Key(read_backend, "auto | dbus | plyer | console"),
                "snooze": Key(read_interval, "default snooze duration"),
            },
            "how reminders are delivered",
        ),
        "reminders": TableOf(REMINDER, "the steps of the evening"),
        "skip": Table({"dates": Key(read_dates, "nights (YYYY-MM-DD) with no reminders")}, "nights off"),
    },
    "the whole file",
)


# --- where keys are in the text --------------------------------------------------------------


BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class KeyLines:
    """The line on which each key path (and list element) first appears.

    The text is already known to be valid TOML, so this scanner is lenient: at worst
    a path is not found and the caller falls back to its table's line.
    """

    def __init__(self, text: str) -> None:
        self.s = text.replace("\r\n", "\n")
        self.i = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        try:
            self._document()
        except IndexError:  # ran off the end of a construct we did not understand
            pass

    def line_of(self, path: KeyPath) -> int:
        """The path's own line, else its closest recorded parent's, else 1."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return 1

    def _record(self, path: KeyPath, start: int = 0) -> None:
        for n in range(max(start, 1), len(path) + 1):
            self.lines.setdefault(path[:n], self.line)

    def _peek(self, k: int = 1) -> str:
        return self.s[self.i : self.i + k]

    def _spaces(self) -> None:
        while self._peek() in (" ", "\t") and self._peek():
            self.i += 1

    def _blank(self) -> None:
        """Skip spaces, newlines and comments."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r":
                self.i += 1
            elif c == "\n":
                self.i += 1
                self.line += 1
            elif c == "#":
                self._to_eol()
            else:
                return

    def _to_eol(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = len(self.s) if end < 0 else end

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._blank()
            if self.i >= len(self.s):
                return
            start = self.i
            if self._peek() == "[":
                self.i += 2 if self._peek(2) == "[[" else 1
                self._spaces()
                table = self._key()
                self._record(table)
                self._to_eol()
            else:
                path = table + self._key()
                self._spaces()
                if self._peek() == "=":
                    self.i += 1
                    self._spaces()
                    self._record(path, len(table) + 1)
                    self._value(path)
                if self.i == start:  # not understood: never loop forever
                    self._to_eol()

    def _key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self._spaces()
            c = self._peek()
            if c in ('"', "'"):
                parts.append(self._string())
            else:
                begin = self.i
                while self._peek() and self._peek() in BARE_KEY_CHARS:
                    self.i += 1
                if self.i == begin:
                    return tuple(parts)
                parts.append(self.s[begin : self.i])
            self._spaces()
            if self._peek() != ".":
                return tuple(parts)
            self.i += 1

    def _string(self) -> str:
        quote = self.s[self.i]
        if self._peek(3) == quote * 3:
            self.i += 3
            end = self.s.find(quote * 3, self.i) if quote == "'" else self._find_basic_end(self.i, multi=True)
            end = len(self.s) if end < 0 else end
            while self.s[end + 3 : end + 4] == quote and end + 3 < len(self.s):
                end += 1  # up to two quotes may close the string's content: """a"""""
            content = self.s[self.i : end]
            self.line += content.count("\n")
            self.i = end + 3
            return content
        self.i += 1
        if quote == "'":
            end = self.s.find("'", self.i)
            end = len(self.s) if end < 0 else end
            content = self.s[self.i : end]
        else:
            end = self._find_basic_end(self.i, multi=False)
            content = re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), self.s[self.i : end])
        self.i = end + 1
        return content

    def _find_basic_end(self, i: int, multi: bool) -> int:
        closing = '"""' if multi else '"'
        while i < len(self.s):
            if self.s[i] == "\\":
                i += 2
            elif self.s.startswith(closing, i):
                return i
            else:
                i += 1
        return len(self.s)

    def _value(self, path: KeyPath) -> None:
        c = self._peek()
        if c in ('"', "'"):
            self._string()
        elif c == "{":
            self.i += 1
            while True:
                self._blank()
                if self._peek() in ("}", ""):
                    self.i += 1
                    return
                begin = self.i
                sub = path + self._key()
                self._spaces()
                if self._peek() == "=":
                    self.i += 1
                    self._spaces()
                    self._record(sub, len(path) + 1)
                    self._value(sub)
                self._blank()
                if self._peek() == ",":
                    self.i += 1
                elif self.i == begin:
                    self.i += 1
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self._blank()
                if self._peek() in ("]", ""):
                    self.i += 1
                    return
                begin = self.i
                self._record(path + (index,), len(path) + 1)
                self._value(path + (index,))
                self._blank()
                if self._peek() == ",":
                    self.i += 1
                elif self.i == begin:
                    self.i += 1
                index += 1
        else:
            while self._peek() and self._peek() not in ",]}\n#":
                self.i += 1


# --- problems and the walk over the spec ------------------------------------------------------


def dotted(path: KeyPath) -> str:
    """`reminders.screens-off.before`; keys that are not bare TOML keys are quoted."""
    parts = []
    for p in path:
        if isinstance(p, int):
            continue
        parts.append(p if p and set(p) <= BARE_KEY_CHARS else show(p))
    return ".".join(parts)


@dataclass
class Problems:
    name: str
    lines: KeyLines
    found: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, path: KeyPath, message: str, index: int | None = None) -> None:
        where = path + (index,) if index is not None else path
        line = self.lines.line_of(where)
        label = dotted(path) or "(top level)"
        self.found.append((line, len(self.found), f"{self.name}:{line}: {label}: {message}"))

    def __bool__(self) -> bool:
        return bool(self.found)

    def messages(self) -> list[str]:
        """In file order; problems on one line in the order they were found."""
        return [text for _, _, text in sorted(self.found)]


def _closest(word: str, choices: Iterator[str] | list[str]) -> str:
    import difflib

    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'; did you mean "{match[0]}"?' if match else ""


def _walk_table(spec: Table, raw: object, path: KeyPath, problems: Problems) -> dict[str, Any]:
    """The valid, converted values of `raw`; every problem found is added to `problems`."""
    if not isinstance(raw, dict):
        header = f"[{dotted(path)}]" if path else "a table"
        problems.add(path, f"{show(raw)} is not a table; write a {header} section")
        return {}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        sub = path + (key,)
        child = spec.keys.get(key)
        if child is None:
            known = list(spec.keys)
            names = ", ".join(known)
            problems.add(sub, f"unknown key{_closest(key, known)} (known here: {names})")
        elif isinstance(child, Key):
            try:
                values[key] = child.read(value)
            except Invalid as exc:
                for message, index in exc.issues:
                    problems.add(sub, message, index)
        elif isinstance(child, Table):
            values[key] = _walk_table(child, value, sub, problems)
        else:
            values[key] = _walk_table_of(child, value, sub, problems)
    return values


def _walk_table_of(
    spec: TableOf, raw: object, path: KeyPath, problems: Problems
) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        problems.add(path, f"{show(raw)} is not a table; write one [{dotted(path)}.ID] section per step")
        return {}
    items: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        sub = path + (key,)
        if not ID_RE.fullmatch(key):
            suggestion = re.sub(r"[^a-z0-9_-]+", "-", key.lower()).strip("-_") or "wind-down"
            problems.add(
                sub,
                f"{show(key)} is not a valid reminder id: ids use lowercase letters, digits, '-' and '_',"
                f' and start with a letter or digit (e.g. "{suggestion}")',
            )
        items[key] = _walk_table(spec.item, value, sub, problems)
    return items


# --- from checked values to the Routine -------------------------------------------------------


def readable(reminder_id: str) -> str:
    """The default title: "screens-off" -> "Screens off"."""
    words = re.sub(r"[-_]+", " ", reminder_id).strip()
    return words[:1].upper() + words[1:] if words else reminder_id


def _bedtimes(raw: dict[str, Any], values: dict[str, Any], problems: Problems) -> Bedtimes | None:
    if "bedtime" not in raw:
        problems.add(("bedtime",), 'missing; add a [bedtime] section with e.g. default = "22:30"')
        return None
    given = values.get("bedtime", {})
    if not isinstance(raw["bedtime"], dict):
        return None
    missing = [d for d in WEEKDAYS if d not in raw["bedtime"]]
    if "default" not in raw["bedtime"] and missing:
        problems.add(
            ("bedtime",),
            f'needs default = "HH:MM" for the evenings not given ({", ".join(missing)}), '
            "unless all seven weekdays are",
        )
        return None
    if any(k not in given for k in raw["bedtime"] if k in BEDTIME_KEYS):
        return None  # a bad value was reported already
    default = given.get("default")
    by_day = tuple(given.get(d, default) for d in WEEKDAYS)
    return Bedtimes(by_day)  # type: ignore[arg-type]


def _reminder(rid: str, raw: object, values: dict[str, Any], problems: Problems) -> Reminder | None:
    if not isinstance(raw, dict):
        return None
    path: KeyPath = ("reminders", rid)
    ok = all(k in values for k in raw if k in REMINDER.keys) and ID_RE.fullmatch(rid) is not None
    if "before" in raw and "at" in raw:
        problems.add(path + ("at",), 'is given together with "before"; keep exactly one of the two')
        ok = False
    elif "before" not in raw and "at" not in raw:
        problems.add(path, 'needs "before" (e.g. before = "30m") or "at" (e.g. at = "22:00")')
        ok = False
    if "repeat_limit" in raw and "repeat" not in raw:
        problems.add(
            path + ("repeat_limit",),
            'means nothing without "repeat"; add e.g. repeat = "10m" or remove repeat_limit',
        )
        ok = False
    if not ok:
        return None
    repeat = values.get("repeat")
    return Reminder(
        id=rid,
        title=values.get("title", readable(rid)),
        body=values.get("body", ""),
        before=values.get("before"),
        at=values.get("at"),
        repeat=repeat,
        repeat_limit=values.get("repeat_limit", DEFAULT_REPEAT_LIMIT) if repeat else 0,
        run=values.get("run", ()),
        days=values.get("days"),
    )


def _build(raw: dict[str, Any], problems: Problems) -> Routine | None:
    values = _walk_table(SPEC, raw, (), problems)
    bedtimes = _bedtimes(raw, values, problems)
    reminders = []
    raw_reminders = raw.get("reminders")
    if isinstance(raw_reminders, dict):
        checked = values.get("reminders", {})
        for rid, item in raw_reminders.items():
            r = _reminder(rid, item, checked.get(rid, {}), problems)
            if r is not None:
                reminders.append(r)
    if problems or bedtimes is None:
        return None
    notify = values.get("notify", {})
    return Routine(
        bedtime=bedtimes,
        reminders=tuple(reminders),
        timezone=values.get("timezone"),
        backend=notify.get("backend", "auto"),
        snooze=notify.get("snooze", DEFAULT_SNOOZE),
        skip_dates=values.get("skip", {}).get("dates", frozenset()),
    )


# --- TOML syntax errors -----------------------------------------------------------------------


AT_RE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _syntax_problem(name: str, text: str, exc: Exception) -> str:
    """`PATH:LINE:COL: message` from a TOMLDecodeError (whose position is in its message)."""
    message = str(exc)
    lines = text.replace("\r\n", "\n").split("\n")
    m = AT_RE.search(message)
    if m and m.group(1):
        line, col = int(m.group(1)), int(m.group(2))
    else:
        # "end of document": point at the last line that has something on it.
        line = max((n for n, t in enumerate(lines, 1) if t.strip()), default=1)
        col = len(lines[line - 1]) + 1 if lines else 1
    if m:
        message = message[: m.start()]
    message = re.sub(
        r"\(((?:'[^']*'(?:, )?)+),?\)",
        lambda t: "[" + ".".join(re.findall(r"'([^']*)'", t.group(1))) + "]",
        message,
    )
    if message.startswith("Illegal character '\\n'") or message.startswith("Unterminated string"):
        message = "a string is not closed (its closing quote is missing)"
    message = message[:1].lower() + message[1:]
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    value = source.partition("=")[2].split("#")[0].strip()
    if "=" in source and re.fullmatch(r"\d{1,2}:\d{2}", value):
        message += f'; times are strings: write "{value}"'
    elif "=" in source and re.fullmatch(r"-?(\d+[hms])+", value):
        message += f'; durations are strings: write "{value}"'
    return f"{name}:{line}:{col}: TOML syntax error: {message}"


# --- public API -------------------------------------------------------------------------------


def parse(text: str, name: str) -> Routine:
    """The routine in `text`; raises ConfigError listing every problem, `name` being the file."""
    text = text.removeprefix("\ufeff")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(name, text, exc)]) from None
    problems = Problems(name, KeyLines(text))
    routine = _build(raw, problems)
    if problems or routine is None:
        raise ConfigError(problems.messages() or [f"{name}:1: (top level): not a routine"])
    return routine


def load(path: Path) -> Routine:
    """Read and parse a config file; an unreadable or non-UTF-8 file is a ConfigError too."""
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{name}: no such config file (`sundown init` writes one)"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{name}: is a directory, not a config file"]) from None
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ConfigError(
            [f"{name}:{line}:{col}: not UTF-8 text (byte 0x{bad}); save the file as UTF-8"]
        ) from None
    return parse(text, name)


def example_text() -> str:
    """The shipped config.example.toml: the built-in default routine, commented."""
    return Path(__file__).with_name(EXAMPLE_FILE).read_text(encoding="utf-8")


def default_routine() -> Routine:
    return parse(example_text(), DEFAULT_NAME)


def load_zone(name: str) -> ZoneInfo | None:
    """The zone called `name`, or None when there is no such IANA zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not name or name.startswith("/") or name != name.strip():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError, UnicodeError):
        return None
    except OSError:
        return None


def _zone_name_from_path(target: str) -> str | None:
    """ "/usr/share/zoneinfo/Europe/Berlin" -> "Europe/Berlin"."""
    head, sep, tail = target.partition("zoneinfo/")
    if not sep:
        return None
    for prefix in ("posix/", "right/"):
        tail = tail.removeprefix(prefix)
    return tail


def system_zone(env: Mapping[str, str] | None = None, localtime: Path | None = None) -> ZoneInfo:
    """$TZ when it names a zone, else the /etc/localtime link target, else UTC."""
    from zoneinfo import ZoneInfo

    env = os.environ if env is None else env
    localtime = Path("/etc/localtime") if localtime is None else localtime
    tz = env.get("TZ", "").removeprefix(":")
    candidates = [tz, _zone_name_from_path(tz) or ""] if tz.startswith("/") else [tz]
    try:
        candidates.append(_zone_name_from_path(os.readlink(localtime)) or "")
    except OSError:
        pass
    for name in candidates:
        zone = load_zone(name) if name else None
        if zone is not None:
            return zone
    return ZoneInfo("UTC")


def zone_for(routine: Routine, env: Mapping[str, str] | None = None) -> ZoneInfo:
    """The routine's `timezone`, or the system's zone when unset."""
    if routine.timezone is None:
        return system_zone(env)
    zone = load_zone(routine.timezone)
    if zone is None:
        raise ConfigError(
            [f'timezone: {show(routine.timezone)} is not a known time zone; write e.g. "Europe/Berlin"']
        )
    return zone


@dataclass(frozen=True)
class LoadedConfig:
    routine: Routine
    zone: ZoneInfo
    path: Path | None  # None: the built-in default routine


def load_for(paths: Paths) -> LoadedConfig:
    """The configured routine, or the built-in default when no config file exists (and none was named)."""
    if not paths.config_explicit and not paths.config.exists() and not paths.config.is_symlink():
        routine = default_routine()
        return LoadedConfig(routine, zone_for(routine), None)
    routine = load(paths.config)
    return LoadedConfig(routine, zone_for(routine), paths.config)
