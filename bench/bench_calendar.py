"""The calendar's cost: planning one night from a year-long recurring calendar, and the daemon's memory.

A generated calendar like a busy work account's: a year of a daily standup, 40 weekly
meetings (each with EXDATEs and a moved occurrence), 12 monthly ones, 1,500 one-off events
spread over the year, a VTIMEZONE and Google's X-WR-TIMEZONE.

- parse child: `python -m sundown.calendar.ics` as the daemon runs it, for the window it asks
  (now - 12 h .. now + 3 days): wall time (median of N) and the child's peak RSS;
- in process: `ics.expand` alone (what the child spends its time on, without the start-up);
- the choice: `core.morning.calendar_morning` over the expanded events, for one night;
- the daemon: VmRSS of `sundown run` with `[calendar]` (after it read the calendar) and of the
  same routine without it, both idle.

Usage: python3 bench/bench_calendar.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from isolated import isolated_env

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from sundown.calendar import ics  # noqa: E402
from sundown.calendar.source import decode, parse  # noqa: E402
from sundown.core.morning import calendar_morning  # noqa: E402
from sundown.core.routine import Bedtimes, Routine  # noqa: E402

UTC = timezone.utc
TZ = """BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r
TZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r
BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"""


def event(uid: str, start: datetime, title: str, *extra: str) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20260101T000000Z",
        f"DTSTART;TZID=Europe/Berlin:{start:%Y%m%dT%H%M%S}",
        f"DTEND;TZID=Europe/Berlin:{start + timedelta(minutes=30):%Y%m%dT%H%M%S}",
        f"SUMMARY:{title}",
        *extra,
        "END:VEVENT",
    ]
    return "\r\n".join(lines) + "\r\n"


def year_calendar(first: date) -> bytes:
    """A year of a busy work calendar, starting at `first`."""
    parts = []
    until = f"UNTIL={first + timedelta(days=365):%Y%m%d}T000000Z"
    start = datetime.combine(first, datetime.min.time())
    parts.append(
        event(
            "standup",
            start.replace(hour=9, minute=15),
            "Standup",
            f"RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;{until}",
        )
    )
    days = ("MO", "TU", "WE", "TH", "FR")
    for i in range(40):
        t = start.replace(hour=8 + i % 9, minute=(i * 15) % 60) + timedelta(days=i % 7)
        ex = [f"EXDATE;TZID=Europe/Berlin:{t + timedelta(weeks=k):%Y%m%dT%H%M%S}" for k in (3, 9, 17)]
        parts.append(
            event(f"weekly{i}", t, f"Weekly {i}", f"RRULE:FREQ=WEEKLY;BYDAY={days[i % 5]};{until}", *ex)
        )
        moved = t + timedelta(weeks=5)
        parts.append(
            event(
                f"weekly{i}",
                moved - timedelta(hours=1),
                f"Weekly {i} (moved)",
                f"RECURRENCE-ID;TZID=Europe/Berlin:{moved:%Y%m%dT%H%M%S}",
            )
        )
    for i in range(12):
        parts.append(
            event(
                f"monthly{i}",
                start.replace(hour=10) + timedelta(days=i),
                f"Monthly {i}",
                f"RRULE:FREQ=MONTHLY;{until}",
            )
        )
    for i in range(1500):
        parts.append(
            event(f"once{i}", start.replace(hour=7 + i % 12) + timedelta(days=(i * 7) % 365), f"One-off {i}")
        )
    body = "".join(parts)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nX-WR-TIMEZONE:Europe/Berlin\r\n"
    return (head + TZ + body + "END:VCALENDAR\r\n").encode()


def daemon_rss(calendar: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        env = isolated_env(Path(tmp))
        config = Path(env["XDG_CONFIG_HOME"]) / "sundown" / "config.toml"
        config.parent.mkdir(mode=0o700)
        text = '[wake]\ndefault = "07:00"\n[reminders.tea]\nbefore = "45m"\n'
        if calendar is not None:
            text += f'[calendar]\nics = "{calendar}"\n'
        config.write_text(text)
        proc = subprocess.Popen(
            [sys.executable, "-m", "sundown", "run", "--backend", "console"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                reply = subprocess.run(
                    [sys.executable, "-m", "sundown", "status", "--json"],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                status = json.loads(reply.stdout or "{}")
                if status.get("backend") and (
                    calendar is None or (status.get("calendar") or {}).get("read_at")
                ):
                    break
                time.sleep(0.3)
            time.sleep(1.0)
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
            return 0
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    first = date(2026, 1, 5)
    data = year_calendar(first)
    night = date(2026, 11, 25)  # a Wednesday in the year's last quarter
    now = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    start, end = now - timedelta(hours=12), now + timedelta(days=3)
    print(f"calendar: {len(data) / 1024:.0f} KiB, {data.count(b'BEGIN:VEVENT')} VEVENTs")

    walls = []
    for _ in range(args.runs):
        began = time.perf_counter()
        answer = parse(data, start, end)
        walls.append(time.perf_counter() - began)
    assert "error" not in answer, answer
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall_ms = statistics.median(walls) * 1000
    print(f"parse child (start-up included): median {wall_ms:.0f} ms, peak RSS {peak / 1024:.0f} MB")
    found, series, dropped = len(answer["events"]), answer["series"], answer["dropped"]
    print(f"  {found} occurrences in the window, {series} series, {dropped} one-offs dropped unread")

    inproc = []
    for _ in range(args.runs):
        began = time.perf_counter()
        ics.expand(data, start, end)
        inproc.append(time.perf_counter() - began)
    print(f"ics.expand in process: median {statistics.median(inproc) * 1000:.0f} ms")

    events = decode(answer["events"])
    from zoneinfo import ZoneInfo

    routine = Routine(Bedtimes.from_wake(datetime(2000, 1, 1, 7).time()), ())
    zone = ZoneInfo("Europe/Berlin")
    n = 2000
    began = time.perf_counter()
    for _ in range(n):
        calendar_morning(events, routine, night, zone, timedelta(hours=1))
    print(f"the choice for one night: {(time.perf_counter() - began) / n * 1e6:.0f} µs")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "year.ics"
        path.write_bytes(data)
        with_calendar = daemon_rss(path)
    without = daemon_rss(None)
    print(
        f"daemon VmRSS: {with_calendar / 1024:.1f} MB with [calendar] (read), {without / 1024:.1f} MB without"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
