"""The calendar's first morning event, from real .ics files (tests/calendars/) through the parser
(`calendar.ics`) and the pure choice (`core.morning`).

Expected instants are worked out by hand in the comments (the zone's offset that day, then the
subtraction), never by calling the code under test. The routine wakes at 07:00 and sleeps 8h, so
its own bedtime is 23:00 CET, and `prepare` is 1h15m.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("icalendar")
pytest.importorskip("recurring_ical_events")

from sundown.calendar import ics  # noqa: E402
from sundown.calendar.source import decode, parse, shown  # noqa: E402
from sundown.core.morning import calendar_morning  # noqa: E402
from sundown.core.plan import Morning, NightChanges, night_plan  # noqa: E402
from sundown.core.routine import Bedtimes, Calendar, Routine  # noqa: E402
from support.instants import utc

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HERE = Path(__file__).parent / "calendars"
ROUTINE = Routine(Bedtimes.from_wake(datetime(2000, 1, 1, 7, 0).time()), (), calendar=Calendar("work.ics"))
PREPARE = timedelta(hours=1, minutes=15)


def morning(name: str, night: date, zone: ZoneInfo = BERLIN, data: bytes | None = None) -> Morning | None:
    """The calendar's word for `night`, read in-process like the child reads it."""
    data = data if data is not None else (HERE / name).read_bytes()
    start = datetime.combine(night, datetime.min.time(), UTC) - timedelta(days=1)
    answer = ics.expand(data, start, start + timedelta(days=4))
    assert "error" not in answer, answer
    return calendar_morning(decode(answer["events"]), ROUTINE, night, zone, PREPARE)


def wake_and_event(m: Morning | None) -> tuple[datetime, str | None] | None:
    return (m.wake.astimezone(UTC), m.event) if m else None


class TestGoogleExport:
    def test_the_flight_of_the_spec(self) -> None:
        # Flight 06:30Z = 07:30 CET; the cancelled 05:00Z breakfast, the free 05:30Z focus time and
        # the all-day trip ask nothing. Wake 06:30Z - 1h15m = 05:15Z.
        m = morning("google.ics", date(2026, 11, 25))
        assert wake_and_event(m) == (utc(2026, 11, 26, 5, 15), "Flight")
        assert m is not None and m.starts is not None and m.starts.astimezone(UTC) == utc(2026, 11, 26, 6, 30)
        plan = night_plan(ROUTINE, date(2026, 11, 25), BERLIN, NightChanges(calendar=m))
        assert plan is not None and plan.source == "calendar"
        # 05:15Z - 8h = 21:15Z = 22:15 CET.
        assert plan.bedtime.astimezone(UTC) == utc(2026, 11, 25, 21, 15)
        from sundown.core.morning import why

        assert why(plan, BERLIN) == "Tomorrow starts 07:30 (Flight): bedtime 22:15"

    def test_the_next_night_and_an_evening_event(self) -> None:
        # Thursday night: the 21:00Z dinner is that evening; Friday's run at 06:00Z = 07:00 CET.
        assert wake_and_event(morning("google.ics", date(2026, 11, 26))) == (
            utc(2026, 11, 27, 4, 45),
            "Beach run",
        )

    def test_a_night_with_nothing_in_its_morning(self) -> None:
        assert morning("google.ics", date(2026, 11, 27)) is None


class TestWeeklyMeeting:
    def test_a_plain_thursday(self) -> None:
        # Thu 2026-11-19 08:00 CET = 07:00Z; wake 05:45Z.
        assert wake_and_event(morning("weekly.ics", date(2026, 11, 18))) == (
            utc(2026, 11, 19, 5, 45),
            "Team standup",
        )

    def test_wall_time_kept_across_the_fall_back(self) -> None:
        # Thu 2026-10-22 08:00 CEST (+2) = 06:00Z; Thu 10-29 08:00 CET (+1) = 07:00Z.
        assert wake_and_event(morning("weekly.ics", date(2026, 10, 21))) == (
            utc(2026, 10, 22, 4, 45),
            "Team standup",
        )
        assert wake_and_event(morning("weekly.ics", date(2026, 10, 28))) == (
            utc(2026, 10, 29, 5, 45),
            "Team standup",
        )

    def test_the_exdate_leaves_a_free_morning(self) -> None:
        assert morning("weekly.ics", date(2026, 11, 25)) is None

    def test_an_rdate_adds_a_tuesday(self) -> None:
        # RDATE Tue 2026-11-24 07:30 CET = 06:30Z: Monday night's; wake 05:15Z.
        assert wake_and_event(morning("weekly.ics", date(2026, 11, 23))) == (
            utc(2026, 11, 24, 5, 15),
            "Team standup",
        )

    def test_the_moved_occurrence(self) -> None:
        # RECURRENCE-ID 12-03 08:00 moved to 06:30 CET = 05:30Z; wake 04:15Z. The original 08:00 is gone.
        assert wake_and_event(morning("weekly.ics", date(2026, 12, 2))) == (
            utc(2026, 12, 3, 4, 15),
            "Team standup (early: release day)",
        )


class TestZones:
    def test_a_floating_time_is_in_the_routines_zone(self) -> None:
        # 06:30 floating: in Berlin 05:30Z (wake 04:15Z); in New York 06:30 EST = 11:30Z (wake 10:15Z).
        assert wake_and_event(morning("floating.ics", date(2026, 11, 25))) == (
            utc(2026, 11, 26, 4, 15),
            "Gym",
        )
        assert wake_and_event(morning("floating.ics", date(2026, 11, 25), NEW_YORK)) == (
            utc(2026, 11, 26, 10, 15),
            "Gym",
        )

    def test_an_event_in_its_own_zone(self) -> None:
        # Tokyo 15:30 JST (+9) = 06:30Z; New York 02:00 EST (-5) = 07:00Z: Tokyo first; wake 05:15Z.
        assert wake_and_event(morning("elsewhere.ics", date(2026, 11, 25))) == (
            utc(2026, 11, 26, 5, 15),
            "Call with the Tokyo office",
        )


# --- hostile and broken calendars -----------------------------------------------------------------

WINDOW = (utc(2026, 11, 25, 0, 0), utc(2026, 11, 28, 0, 0))


def calendar_text(*events: str) -> bytes:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"
    ).encode()


def vevent(uid: str, start: str, summary: str, *extra: str) -> str:
    lines = [f"UID:{uid}", "DTSTAMP:20261120T090000Z", f"DTSTART:{start}", f"SUMMARY:{summary}", *extra]
    return "BEGIN:VEVENT\r\n" + "".join(f"{x}\r\n" for x in lines) + "END:VEVENT\r\n"


FLIGHT = vevent("f", "20261126T063000Z", "Flight")


def titles(answer: dict[str, object]) -> list[str]:
    return sorted(e["title"] for e in answer["events"])  # type: ignore[index, union-attr]


class TestHostile:
    def test_not_a_calendar(self) -> None:
        assert "not an iCalendar file" in ics.expand(b"<html>Please log in</html>", *WINDOW)["error"]

    def test_over_ten_megabytes_is_refused_unread(self) -> None:
        assert ics.expand(b"BEGIN:VCALENDAR\r\n" + b"X" * ics.MAX_BYTES, *WINDOW)["error"] == ics.TOO_BIG

    @pytest.fixture(autouse=True)
    def _short_budget(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(ics, "SERIES_BUDGET_S", 0.3)

    def test_a_million_occurrences_are_capped(self) -> None:
        # 259,200 seconds in the window: the series is cut at MAX_PER_SERIES, or left out when
        # even listing them overruns its budget; the flight is found either way.
        every_second = vevent("s", "20261125T000000Z", "Tick", "RRULE:FREQ=SECONDLY")
        began = time.monotonic()
        answer = ics.expand(calendar_text(every_second, FLIGHT), *WINDOW)
        assert time.monotonic() - began < ics.SERIES_BUDGET_S + 3
        assert answer["truncated"] or answer["skipped"] == 1
        assert "Flight" in titles(answer) and len(answer["events"]) <= ics.MAX_PER_SERIES + 1

    def test_a_rule_walking_from_the_year_one_is_skipped(self) -> None:
        since_year_one = vevent("m", "00010101T000000Z", "Ancient", "RRULE:FREQ=MINUTELY")
        began = time.monotonic()
        answer = ics.expand(calendar_text(since_year_one, FLIGHT), *WINDOW)
        assert time.monotonic() - began < ics.SERIES_BUDGET_S + 3
        assert titles(answer) == ["Flight"] and answer["skipped"] == 1

    def test_absurd_years_and_broken_events_leave_the_rest(self) -> None:
        answer = ics.expand(
            calendar_text(
                vevent("far", "99991231T230000Z", "Far future", "RRULE:FREQ=DAILY"),
                vevent("old", "00010101T070000", "Daily since year 1", "RRULE:FREQ=YEARLY"),
                vevent("bad", "20261126T050000Z", "Bad rule", "RRULE:FREQ=SOMETIMES"),
                "BEGIN:VEVENT\r\nUID:nostart\r\nSUMMARY:No start\r\nEND:VEVENT\r\n",
                FLIGHT,
            ),
            *WINDOW,
        )
        assert "Flight" in titles(answer) and "Far future" not in titles(answer)

    def test_deep_nesting(self) -> None:
        n = 5000
        data = calendar_text("BEGIN:VEVENT\r\n" * n + "END:VEVENT\r\n" * n, FLIGHT)
        answer = ics.expand(data, *WINDOW)
        assert "error" in answer or titles(answer) == ["Flight"]

    def test_history_is_dropped_before_parsing(self) -> None:
        # 30,000 one-off events of past years (3 MB; seconds to parse in full): only the window's are.
        past = "".join(
            vevent(f"p{i}", f"2019{1 + i % 12:02d}{1 + i % 28:02d}T100000Z", f"Old {i}")
            for i in range(30_000)
        )
        data = calendar_text(past, FLIGHT)
        began = time.monotonic()
        answer = ics.expand(data, *WINDOW)
        assert titles(answer) == ["Flight"] and answer["dropped"] == 30_000
        assert time.monotonic() - began < 5

    def test_narrow_keeps_what_recurs_or_moved(self) -> None:
        text = calendar_text(
            vevent("old", "20190101T100000Z", "Old one-off"),
            vevent("wk", "20190101T100000Z", "Old weekly", "RRULE:FREQ=WEEKLY"),
            vevent("wk", "20190108T090000Z", "Moved", "RECURRENCE-ID:20190108T100000Z"),
            "BEGIN:VEVENT\r\nUID:f\r\nDTSTART;TZID=Europe/Berlin:\r\n 20261126T073000\r\n"
            "SUMMARY:Folded\r\nEND:VEVENT\r\n",
        ).decode()
        narrowed, dropped = ics.narrow(text, date(2026, 11, 24), date(2026, 11, 29))
        assert dropped == 1
        assert "Old one-off" not in narrowed and "Old weekly" in narrowed and "Moved" in narrowed
        assert "Folded" in narrowed


@pytest.mark.e2e
class TestParserChild:
    """The parser as the daemon runs it: a child process with limits and a timeout."""

    def test_answers_with_events(self) -> None:
        answer = parse((HERE / "google.ics").read_bytes(), *WINDOW)
        assert "Flight" in [e["title"] for e in answer["events"]]

    def test_a_parser_that_overruns_is_killed(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import sundown.calendar.source as source

        monkeypatch.setattr(source, "PARSE_TIMEOUT_S", 0.5)
        monkeypatch.setattr(source.sys, "executable", sys.executable)
        # A reader that never answers: `sleep` standing in for a parser stuck in C code.
        monkeypatch.setattr(source, "_argv", lambda start, end: ["sleep", "30"], raising=False)
        began = time.monotonic()
        answer = source.parse(b"BEGIN:VCALENDAR\r\n", *WINDOW)
        assert "took over" in answer["error"] and time.monotonic() - began < 5

    def test_a_missing_extra_is_said(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        blocker = tmp_path / "icalendar.py"
        blocker.write_text("raise ImportError('not installed')\n")
        monkeypatch.setenv("PYTHONPATH", str(tmp_path))
        answer = parse(calendar_text(FLIGHT), *WINDOW)
        assert answer.get("missing_extra") and "sundown[calendar]" in answer["error"]


def test_urls_are_shown_without_their_secret_path() -> None:
    assert (
        shown("https://calendar.google.com/calendar/ical/x/private-abc123/basic.ics")
        == "https://calendar.google.com/…"
    )
    assert shown("/home/ana/work.ics") == "/home/ana/work.ics"


def test_the_parsers_json_is_plain() -> None:
    answer = ics.expand(calendar_text(FLIGHT), *WINDOW)
    assert json.loads(json.dumps(answer)) == answer
