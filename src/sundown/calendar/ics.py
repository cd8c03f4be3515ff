"""Parse an .ics calendar and expand its events over a window: run as a child process.

    python -m sundown.calendar.ics START END  < calendar.ics  > events.json

START and END are ISO 8601 instants. The output is one JSON object: `events` (each
`title`, `start` — ISO with offset, without one for a floating time, a bare date for
an all-day event —, `cancelled`, `transparent`), `series`, `skipped` (series that
were broken or too slow to expand), `truncated`; or `error`.

Run apart from the daemon because a calendar is foreign input: a hostile one (a rule
repeating every second since the year 1, nesting thousands deep, a million events)
could otherwise spin the daemon's CPU or fill its memory. Here it meets a memory limit,
a CPU limit, a time budget per series and caps on what is returned, and the daemon
kills the process if it still takes too long (`source.PARSE_TIMEOUT_S`).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any

MAX_BYTES = 10 * 1024 * 1024  # a calendar larger than this is refused unread
MAX_SERIES = 50_000  # events (after narrowing to the window) parsed at most
MAX_PER_SERIES = 200  # occurrences of one series in the window
MAX_OCCURRENCES = 5_000  # occurrences returned in all
SERIES_BUDGET_S = 1.0  # expanding one series; a slower one is skipped
MEMORY_LIMIT = 1 << 30  # address space of this process
CPU_LIMIT_S = 60
TOO_BIG = f"it is over {MAX_BYTES // (1024 * 1024)} MB; sundown reads calendars up to that size"
MISSING_EXTRA = "reading a calendar needs the calendar extra: pip install 'sundown[calendar]'"

UNFOLD_RE = re.compile(r"\r?\n[ \t]")
DATE_AT_END_RE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T\d{6}Z?)?\s*$")
RECURRING = ("RRULE", "RDATE", "RECURRENCE-ID", "EXRULE")


class SeriesTooSlow(Exception):
    pass


def _name(line: str) -> str:
    """A content line's property name, upper case ("DTSTART;TZID=..." -> "DTSTART")."""
    return re.split(r"[;:]", line, maxsplit=1)[0].strip().upper()


def narrow(text: str, first: date, last: date) -> tuple[str, int]:
    """The calendar without the one-off events that start outside `first`..`last`.

    Parsing is the costly part (a 10 MB export: seconds, hundreds of MB), and most of a
    long-lived calendar is history. A top-level VEVENT is dropped unread when it has no
    recurrence (RRULE, RDATE, EXRULE, or a RECURRENCE-ID: a moved occurrence must stay, or
    the original would come back) and its DTSTART's date is outside the days asked for.
    Anything unusual (no readable DTSTART, nesting) is kept for the real parser to judge.
    Returns the text and how many events were dropped.
    """
    lines = UNFOLD_RE.sub("", text).splitlines()
    out: list[str] = []
    block: list[str] = []
    depth = 0  # inside VCALENDAR = 1, inside a top-level VEVENT = 2, ...
    dropped = 0
    for line in lines:
        upper = line.strip().upper()
        if upper.startswith("BEGIN:"):
            depth += 1
            if depth == 2 and upper == "BEGIN:VEVENT":
                block = [line]
                continue
        elif upper.startswith("END:"):
            depth -= 1
            if depth == 1 and block:
                block.append(line)
                if _outside(block, first, last):
                    dropped += 1
                else:
                    out.extend(block)
                block = []
                continue
        if block:
            block.append(line)
        else:
            out.append(line)
    out.extend(block)  # an unterminated event: the parser says what is wrong
    return "\r\n".join(out) + "\r\n", dropped


def _outside(block: list[str], first: date, last: date) -> bool:
    start = None
    for line in block[1:-1]:
        name = _name(line)
        if name in RECURRING or name.startswith("BEGIN"):
            return False
        if name == "DTSTART":
            m = DATE_AT_END_RE.search(line)
            if m is None:
                return False
            try:
                start = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            except ValueError:
                return False
    return start is not None and not first <= start <= last


def _text(value: Any) -> str:
    return str(value) if value is not None else ""


def _start(value: Any) -> str:
    """DTSTART as ISO text: with its UTC offset, without one (floating), or a date."""
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() is None:
            value = value.replace(tzinfo=None)  # an unknown TZID: read as floating
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise ValueError(f"DTSTART {value!r} is not a date or time")


@contextmanager
def _budget(seconds: float) -> Iterator[None]:
    """SIGALRM after `seconds`: a series whose rule makes dateutil walk from the year 1 in
    seconds steps is interrupted (pure Python, so the signal lands)."""
    import signal

    def expired(signum: int, frame: object) -> None:
        raise SeriesTooSlow

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def expand(data: bytes, start: datetime, end: datetime) -> dict[str, Any]:
    """The events of `data` that start between `start` and `end` (aware), JSON-ready."""
    try:
        import icalendar
        import recurring_ical_events
    except ImportError:
        return {"error": MISSING_EXTRA, "missing_extra": True}
    if len(data) > MAX_BYTES:
        return {"error": TOO_BIG}
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    if "BEGIN:VCALENDAR" not in text[:4096].upper():
        return {"error": "it is not an iCalendar file (no BEGIN:VCALENDAR at its start)"}
    text, dropped = narrow(text, (start - timedelta(days=1)).date(), (end + timedelta(days=1)).date())
    try:
        cal = icalendar.Calendar.from_ical(text)
    except RecursionError:
        return {"error": "it nests components too deeply to be a calendar"}
    except Exception as exc:  # icalendar raises ValueError and a few others for bad input
        return {"error": f"it is not a valid iCalendar file: {_short(exc)}"}
    if isinstance(cal, list):  # several VCALENDARs in one file: the first
        cal = cal[0] if cal else None
    if cal is None or cal.name != "VCALENDAR":
        return {"error": "it is not an iCalendar file (no VCALENDAR)"}
    events = [c for c in cal.subcomponents if c.name == "VEVENT"]
    if len(events) > MAX_SERIES:
        return {"error": f"it has {len(events)} events near tomorrow; sundown reads up to {MAX_SERIES}"}
    broken = [c for c in events if "DTSTART" not in c]
    for c in broken:
        cal.subcomponents.remove(c)
    try:
        query = recurring_ical_events.of(cal, skip_bad_series=True)
    except RecursionError:
        return {"error": "it nests components too deeply to be a calendar"}
    except Exception as exc:
        return {"error": f"its events cannot be expanded: {_short(exc)}"}
    found: list[dict[str, Any]] = []
    skipped = len(broken)
    truncated = False
    for series in query.series:
        if len(found) >= MAX_OCCURRENCES:
            truncated = True
            break
        taken: list[dict[str, Any]] = []
        try:
            with _budget(SERIES_BUDGET_S):
                for occurrence in series.between(start, end):
                    if len(taken) >= MAX_PER_SERIES:
                        truncated = True
                        break
                    c = occurrence.as_component(False)
                    taken.append(
                        {
                            "title": _text(c.get("SUMMARY"))[:500],
                            "start": _start(c.decoded("DTSTART")),
                            "cancelled": _text(c.get("STATUS")).upper() == "CANCELLED",
                            "transparent": _text(c.get("TRANSP")).upper() == "TRANSPARENT",
                        }
                    )
        except (SeriesTooSlow, RecursionError, MemoryError):
            skipped += 1
            continue
        except Exception:  # one broken series (a bad RRULE, a year out of range) is skipped
            skipped += 1
            continue
        found.extend(taken)
    return {
        "events": found[:MAX_OCCURRENCES],
        "series": len(query.series),
        "skipped": skipped,
        "dropped": dropped,
        "truncated": truncated,
    }


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _limit() -> None:
    import resource

    for kind, value in ((resource.RLIMIT_AS, MEMORY_LIMIT), (resource.RLIMIT_CPU, CPU_LIMIT_S)):
        soft, hard = resource.getrlimit(kind)
        cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(kind, (cap, hard))


def main(argv: list[str]) -> int:
    try:
        start, end = (datetime.fromisoformat(a) for a in argv)
    except ValueError:
        print(json.dumps({"error": "usage: python -m sundown.calendar.ics START END < calendar.ics"}))
        return 2
    if start.tzinfo is None or end.tzinfo is None:
        start, end = start.replace(tzinfo=timezone.utc), end.replace(tzinfo=timezone.utc)
    _limit()
    data = sys.stdin.buffer.read(MAX_BYTES + 1)
    try:
        result = expand(data, start, end)
    except MemoryError:
        result = {"error": "it needs more memory to read than sundown allows a calendar"}
    except RecursionError:
        result = {"error": "it nests components too deeply to be a calendar"}
    sys.stdout.write(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
