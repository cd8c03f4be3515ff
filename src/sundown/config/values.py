"""Readers of single config values: each returns the converted value or raises `Invalid`
with a message that quotes the offending value and says what to write instead."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sundown.core.routine import (
    DEFAULT_REPEAT_LIMIT,
    DONE_WHEN,
    MAX_BEFORE,
    PUSH_WHEN,
    QUIET_MODES,
    WEEKDAYS,
    Step,
)
from sundown.core.vocabulary import BACKENDS, URGENCIES, Urgency

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo


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


Word = TypeVar("Word", bound=str)


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
AMPM_RE = re.compile(r"\s*(\d{1,2})(?:\s*[:.]\s*(\d{2}))?\s*([ap])\.?\s*m\.?\s*", re.IGNORECASE)
OFFSET_ZONE_RE = re.compile(r"\s*(?:UTC|GMT|Z)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*", re.IGNORECASE)
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
        twelve = AMPM_RE.fullmatch(value)
        if twelve and 1 <= int(twelve.group(1)) <= 12 and int(twelve.group(2) or 0) <= 59:
            hour = int(twelve.group(1)) % 12 + (12 if twelve.group(3).lower() == "p" else 0)
            minute = int(twelve.group(2) or 0)
            raise Invalid(
                f'{show(value)} is not a time; write it on a 24-hour clock: "{hour:02d}:{minute:02d}"'
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


def duration_text(d: timedelta) -> str:
    """A duration as the config writes it: "1h30m", "45m", "50m6s", "0m"."""
    total = int(d.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0m"


def read_bounded(value: object, most: timedelta, over: str, zero: str | None = None) -> timedelta:
    """A duration of at most `most` (else the error says `over`); with `zero` (how to fix it),
    not zero either."""
    duration = read_duration(value)
    if zero is not None and not duration:
        raise Invalid(f"{show(value)} is zero; {zero}")
    if duration > most:
        raise Invalid(f"{show(value)} {over}")
    return duration


def read_before(value: object) -> timedelta:
    over = (
        "is over 12h before bedtime, which would leave the night; "
        'use `at = "HH:MM"` for a time earlier in the evening'
    )
    return read_bounded(value, MAX_BEFORE, over)


def read_interval(value: object) -> timedelta:
    """A duration within a night that is not zero (a zero repeat or snooze would fire in a loop)."""
    over = 'is over 12h, longer than a night; write e.g. "10m"'
    return read_bounded(value, MAX_BEFORE, over, zero='write a positive duration, e.g. "10m"')


def read_whole(value: object, example: object) -> int:
    """An integer written as one (not a bool, not in quotes); `example` is what the error suggests."""
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            raise Invalid(f"{show(value)} is a string; write the number without quotes: {value.strip()}")
        raise Invalid(f"{show(value)} is not a whole number; write e.g. {example}")
    return value


def read_count(value: object) -> int:
    value = read_whole(value, DEFAULT_REPEAT_LIMIT)
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
    return _one_of(value, BACKENDS, "a notification backend")


def read_zone_name(value: object) -> str:
    if not isinstance(value, str) or load_zone(value) is None:
        hint = '; write an IANA name, e.g. "Europe/Berlin"'
        offset = OFFSET_ZONE_RE.fullmatch(value) if isinstance(value, str) else None
        if offset and int(offset.group(2)) <= 14 and not offset.group(3):
            # Etc/GMT names invert the sign (POSIX): UTC+1 is "Etc/GMT-1".
            sign = "-" if offset.group(1) == "+" else "+"
            hint = (
                "; a fixed UTC offset is not a zone: write the IANA name of your place, e.g."
                f' "Europe/Berlin", which follows its DST (or "Etc/GMT{sign}{int(offset.group(2))}"'
                " for a fixed offset: those names have the sign inverted)"
            )
        elif offset:
            hint = (
                '; a fixed UTC offset is not a zone: write the IANA name of your place, e.g. "Asia/Kolkata"'
            )
        elif isinstance(value, str) and value:
            from zoneinfo import available_timezones

            hint = closest(value, sorted(available_timezones())) or hint
        raise Invalid(f"{show(value)} is not a known time zone{hint}")
    return value


def read_list(value: object, key: str, example: str, empty: str) -> list[Any]:
    """A list that is not empty (else the error says `empty`); a lone string is shown in brackets,
    as the fix, else `example` is (`key = example`)."""
    if not isinstance(value, list):
        example = f"[{show(value)}]" if isinstance(value, str) else example
        raise Invalid(f"{show(value)} is not a list; write e.g. {key} = {example}")
    if not value:
        raise Invalid(empty)
    return value


def read_weekdays(value: object) -> frozenset[int]:
    empty = "[] names no evening; list at least one weekday, or remove `days` for every evening"
    value = read_list(value, "days", '["mon", "tue"]', empty)
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


def _one_of(value: object, choices: tuple[Word, ...], what: str) -> Word:
    """`value` when it is one of `choices` (a vocabulary's words)."""
    for choice in choices:
        if value == choice:
            return choice
    names = ", ".join(show(c) for c in choices)
    hint = closest(value, list(choices)) if isinstance(value, str) else ""
    raise Invalid(f"{show(value)} is not {what}{hint}; choose one of {names}")


def read_quiet(value: object) -> str:
    return _one_of(value, QUIET_MODES, "a quiet mode")


def read_done_when(value: object) -> str:
    return _one_of(value, DONE_WHEN, "a way of being done")


def read_urgency(value: object) -> Urgency:
    return _one_of(value, URGENCIES, "an urgency")


def read_bool(value: object) -> bool:
    if not isinstance(value, bool):
        fix = (
            f"write {value.strip().lower()} without quotes"
            if isinstance(value, str) and value.strip().lower() in ("true", "false")
            else "write true or false"
        )
        raise Invalid(f"{show(value)} is not true or false; {fix}")
    return value


MAX_SNOOZE_LIMIT = 100


def read_limit(value: object) -> int:
    """A count that may be zero (`snooze_limit = 0`: no snoozing at all)."""
    value = read_whole(value, 2)
    if value < 0:
        raise Invalid(f"{show(value)} is negative; write 0 (no snoozing) or more")
    if value > MAX_SNOOZE_LIMIT:
        raise Invalid(
            f"{show(value)} is more snoozes than a night has room for; write at most {MAX_SNOOZE_LIMIT}"
        )
    return value


STEP_KEYS = ("after", "urgency", "run")
MAX_STEPS = 10


def read_step_urgency(value: object) -> str:
    """A step makes a reminder louder: "low" would make it quieter than its first notification."""
    urgency = read_urgency(value)
    if urgency == "low":
        raise Invalid(f'{show(value)} would make it quieter; a step makes it louder: write "critical"')
    return urgency


def read_escalate(value: object) -> tuple[Step, ...]:
    """A list of steps `{ after = "10m", urgency = "critical" }` / `{ after = "20m", run = [...] }`."""
    example = '[{ after = "10m", urgency = "critical" }]'
    if not isinstance(value, list):
        raise Invalid(f"{show(value)} is not a list of steps; write e.g. escalate = {example}")
    if len(value) > MAX_STEPS:
        raise Invalid(
            f"has {len(value)} steps; at most {MAX_STEPS} (a step louder than the last every few minutes"
            " is already an alarm)"
        )
    issues: list[tuple[str, int | None]] = []
    steps = []
    for i, item in enumerate(value):
        n = i + 1
        if not isinstance(item, dict):
            issues.append((f"step {n}: {show(item)} is not a table; write e.g. {example[1:-1]}", i))
            continue
        unknown = [k for k in item if k not in STEP_KEYS]
        known = ", ".join(STEP_KEYS)
        for k in unknown:
            issues.append(
                (
                    f"step {n}: unknown key {show(k)}{closest(k, list(STEP_KEYS))} (known: {known})",
                    i,
                )
            )
        fields: dict[str, object] = {}
        for key, reader in (("after", read_interval), ("urgency", read_step_urgency), ("run", read_argv)):
            if key in item:
                try:
                    fields[key] = reader(item[key])
                except Invalid as exc:
                    issues.extend((f"step {n}: {key}: {message}", i) for message, _ in exc.issues)
        if "after" not in item:
            issues.append((f'step {n} has no "after"; write when it happens, e.g. after = "10m"', i))
        elif "urgency" not in item and "run" not in item:
            issues.append((f'step {n} does nothing; add urgency = "critical" or a run = [...] command', i))
        if not unknown and set(fields) == set(item) and "after" in fields:
            steps.append(Step(fields["after"], fields.get("urgency"), fields.get("run", ())))  # type: ignore[arg-type]
    if issues:
        raise Invalid.many(issues)
    return tuple(steps)


def nearest(word: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice `word` was most likely meant to be (a typo, two letters swapped), or None.

    The one "did you mean" of sundown: the config checker's keys, ids and zones, and the CLI's
    commands, help topics and reminder ids.
    """
    import difflib

    matches = difflib.get_close_matches(word, list(choices), n=3, cutoff=cutoff)
    # Two letters swapped ("stauts") first: difflib alone would rank "stats" above "status".
    matches.sort(key=lambda match: sorted(match) != sorted(word))
    return matches[0] if matches else None


def closest(word: str, choices: Iterable[str]) -> str:
    """`; did you mean "X"?` for a message, or nothing."""
    match = nearest(word, choices)
    return f'; did you mean "{match}"?' if match else ""


def unknown_reminder(rid: str, known: Sequence[str]) -> str:
    """What `ack`, `snooze` and `skip` say of an id the routine lacks, from the CLI or the D-Bus API."""
    return f'no reminder "{rid}"{closest(rid, known)} (the routine has: {", ".join(known) or "none"})'


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


# --- [winddown] --------------------------------------------------------------------------------

NIGHT_LIGHT_K = (1000, 10000)  # what the desktops' night lights accept (GNOME, KWin, gammastep)
VOLUME_RE = re.compile(r"\s*(\d{1,3})\s*%\s*")


def read_until(value: object) -> time:
    """The morning the wind-down ends: a time before 12:00 (the night's end)."""
    at = read_clock(value)
    if at.hour >= 12:
        raise Invalid(
            f"{show(value)} is not in the morning; `until` is when everything is put back, the next"
            ' morning (a time before 12:00), e.g. "07:00"'
        )
    return at


def read_night_light(value: object) -> int | bool:
    """A colour temperature in K (warmer is lower), or true for the desktop's own setting."""
    low, high = NIGHT_LIGHT_K
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        digits = value.strip().upper().removesuffix("K").strip()
        if digits.isdigit():
            raise Invalid(f"{show(value)} is a string; write the temperature without quotes: {int(digits)}")
    if not isinstance(value, int):
        raise Invalid(f"{show(value)} is not a colour temperature; write e.g. 3400 (K), or true")
    if not low <= value <= high:
        raise Invalid(f"{show(value)} K is outside {low}-{high}; write e.g. 3400 (lower is warmer)")
    return value


def read_volume(value: object) -> int:
    """A volume cap as a percentage of the default output's full volume: "30%"."""
    m = VOLUME_RE.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        number = isinstance(value, int) and not isinstance(value, bool)
        hint = f'"{value}%"' if number else '"30%"'
        raise Invalid(f"{show(value)} is not a volume; write a percentage in quotes, e.g. {hint}")
    percent = int(m.group(1))
    if percent > 100:
        raise Invalid(f'{show(value)} is over 100%; a cap never raises the volume: write e.g. "30%"')
    return percent


# --- [push] ------------------------------------------------------------------------------------

TOPIC_RE = re.compile(r"[-_A-Za-z0-9]{1,56}")  # ntfy allows 64; "-replies" must still fit
DEVICE_RE = re.compile(r"[A-Za-z0-9][-_.A-Za-z0-9]{0,62}")
HOST_LABEL = r"[A-Za-z0-9_](?:[-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?"
HOST_RE = re.compile(rf"{HOST_LABEL}(?:\.{HOST_LABEL})*\.?")


def read_ntfy_url(value: object) -> tuple[str, str]:
    """A topic URL "https://host[:port][/prefix]/topic" -> (server URL, topic)."""
    from urllib.parse import urlsplit

    example = '"https://ntfy.example.org/evening-8f3k2q"'
    if not isinstance(value, str) or not value:
        raise Invalid(f"{show(value)} is not a topic URL; write e.g. {example}")
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        raise Invalid(f"{show(value)} is not a URL; write e.g. {example}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise Invalid(f"{show(value)} is not an http(s) URL; write e.g. {example}")
    if not _host_name(url.hostname):
        raise Invalid(f"{show(value)} names no valid host ({show(url.hostname)}); write e.g. {example}")
    if url.username is not None or url.password is not None:
        raise Invalid(
            f"{show(value)} has a user or password in it; put an access token in a file "
            "and name it in `token_file` instead"
        )
    if url.query or url.fragment:
        raise Invalid(f"{show(value)} has a query or fragment; write just the topic URL, e.g. {example}")
    prefix, _, topic = url.path.rstrip("/").rpartition("/")
    if not TOPIC_RE.fullmatch(topic):
        raise Invalid(
            f"{show(value)} names no valid topic: end the URL with a topic of up to 56 letters, "
            f"digits, '-' or '_', e.g. {example}"
        )
    host = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
    server = f"{url.scheme}://{host}{f':{port}' if port else ''}{prefix}"
    return server, topic


def _host_name(host: str) -> bool:
    """A DNS name or an IP address: nothing with a space, a quote or a slash in it."""
    import ipaddress

    if HOST_RE.fullmatch(host) and len(host) <= 253:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def loopback(host: str) -> bool:
    """This machine: localhost or a loopback address (plain http to it never leaves the machine)."""
    import ipaddress

    if host.rstrip(".").lower() in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def read_topic_name(value: object) -> str:
    """`webhook_topic`: a topic on the same server as `ntfy`."""
    if not isinstance(value, str) or not TOPIC_RE.fullmatch(value):
        hint = " (just the topic, on the server of `ntfy`)" if isinstance(value, str) and "/" in value else ""
        raise Invalid(
            f"{show(value)} is not a topic name{hint}; write up to 56 letters, digits, '-' or '_',"
            ' e.g. "evening-8f3k2q-sleep"'
        )
    return value


def read_when(value: object) -> str:
    return _one_of(value, PUSH_WHEN, "a time to push")


def read_device(value: object) -> str:
    if not isinstance(value, str) or not DEVICE_RE.fullmatch(value):
        raise Invalid(
            f'{show(value)} is not a device name; use up to 63 letters, digits, "." "-" "_", e.g. "laptop"'
        )
    if value.lower() == "phone":
        raise Invalid(
            f'{show(value)} is what answers from the phone are called; name this machine, e.g. "laptop"'
        )
    return value


def read_ids(value: object) -> frozenset[str]:
    empty = "is empty, which would push nothing; name the reminders to push, or remove the key to push all"
    value = read_list(value, "reminders", '["magnesium", "bedtime"]', empty)
    issues = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not ID_RE.fullmatch(item):
            issues.append((f"{show(item)} is not a reminder id", i))
    if issues:
        raise Invalid.many(issues)
    return frozenset(value)


def read_path(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f'{show(value)} is not a file path; write e.g. "~/.config/sundown/ntfy-token"')
    return value


# --- [wake] and [calendar] ---------------------------------------------------------------------

MAX_SLEEP = timedelta(hours=16)
MAX_PREPARE = timedelta(hours=12)


def read_sleep(value: object) -> timedelta:
    """How long a night's sleep is: positive, and at most 16h (longer is no night's sleep)."""
    over = 'is over 16h, longer than a night\'s sleep; write e.g. "8h"'
    return read_bounded(value, MAX_SLEEP, over, zero='write how long you sleep, e.g. "8h" or "7h30m"')


def read_prepare(value: object) -> timedelta:
    """From waking to the first event: may be zero, at most 12h (a morning)."""
    return read_bounded(value, MAX_PREPARE, 'is over 12h, longer than a morning; write e.g. "1h15m"')


def read_ics(value: object) -> str:
    """A calendar: a file path ("~/cal.ics"), an https URL, or http only to this machine.

    webcal:// (what calendar apps hand out) means https://. A user or password in the URL is
    refused: sundown keeps no secrets in its config; a calendar's secret address works.
    """
    from urllib.parse import urlsplit

    example = '"~/.local/share/calendars/work.ics" or "https://example.org/work.ics"'
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{show(value)} is not a calendar; write a file path or a URL, e.g. {example}")
    if "://" not in value:
        return value
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise Invalid(f"{show(value)} is not a URL; write e.g. {example}") from None
    scheme = url.scheme.lower()
    if scheme == "webcal":
        scheme, value = "https", "https" + value[len(url.scheme) :]
    if scheme not in ("https", "http") or not url.hostname:
        raise Invalid(f"{show(value)} is not an https URL nor a file path; write e.g. {example}")
    if url.username is not None or url.password is not None:
        raise Invalid(
            f"{show(value)} has a user or password in it; use the calendar's secret address "
            '(e.g. Google\'s "secret address in iCal format") or a local copy of the file'
        )
    if scheme == "http" and not is_loopback(url.hostname):
        raise Invalid(
            f"{show(value)} is plain http: anyone on the way could change your calendar; "
            f'write "https://{value[len("http://") :]}" (plain http is only for this machine, e.g. localhost)'
        )
    return value


def is_loopback(host: str) -> bool:
    """localhost, 127.0.0.0/8 or ::1: traffic that never leaves this machine."""
    import ipaddress

    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
