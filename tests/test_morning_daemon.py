"""The night follows the morning, through the daemon and the CLI in process (no process started):
`[wake]` and `tonight --wake` in `check`, `next` and `status`; the calendar's word logged once as
`replanned` and said at the night's first reminder; the phone's alarm through `Daemon.alarm_changed`
(the push link's webhook hands it the next alarm); config errors for the new keys.

Expected times are worked out by hand: Wednesday 2026-11-25 in Berlin (CET, +1), waking 07:00
with 8h of sleep: the routine's bedtime is 23:00.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sundown.calendar.source import CalendarView
from sundown.core.morning import CalendarEvent
from support.in_process import cli, in_process_daemon
from support.sandbox import FakeClock, Sandbox

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = date(2026, 11, 25)

ROUTINE = """\
timezone = "Europe/Berlin"

[wake]
default = "07:00"
sat = "09:00"

[calendar]
ics = "work.ics"
prepare = "1h15m"

[reminders.tea]
before = "45m"

[reminders.bedtime]
before = "0m"
"""


def at(hh: int, mm: int, day: date = NIGHT) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=BERLIN)


class FakeCalendar:
    """Stands in for the calendar thread: the view a test gives it (no file, no parser child)."""

    def __init__(self, *events: CalendarEvent) -> None:
        self.set(*events)

    def set(self, *events: CalendarEvent) -> None:
        wide = (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC))
        self.current = CalendarView("work.ics", tuple(events), wide, read_at=wide[0])

    def view(self) -> CalendarView:
        return self.current

    def close(self) -> None:
        pass

    def kick(self) -> None:
        pass


def daemon_at(clock: FakeClock, calendar: FakeCalendar | None = None):
    d = in_process_daemon(clock)
    d.morning.calendar = calendar  # type: ignore[assignment]
    return d


def rows(event: str | None = None) -> list[tuple[str, str | None, str, str, dict]]:
    from sundown.paths import resolve_paths
    from sundown.store.log import EventLog

    with EventLog(resolve_paths().database) as log:
        return [
            (e.night.isoformat(), e.reminder, e.event, e.source, dict(e.details))
            for e in log.events()
            if event in (None, e.event)
        ]


@pytest.fixture
def box(sandbox: Sandbox) -> Sandbox:
    sandbox.write_config(ROUTINE)
    return sandbox


FLIGHT = CalendarEvent("Flight", datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN))


# --- [wake] in check, next and status --------------------------------------------------------------


def test_check_says_where_bedtime_comes_from_and_that_wake_names_the_morning(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (box.config_path.parent / "work.ics").write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    import sundown.calendar.source as source

    monkeypatch.setattr(source, "parse", lambda data, start, end, child=None: {"events": []})
    code, out, err = cli(capsys, monkeypatch, at(20, 0, date(2026, 11, 27)), "check")
    assert code == 0, err
    # Friday evening: Saturday's 09:00 less 8h = 01:00 Saturday.
    assert "tonight (Fri 2026-11-27): bedtime Sat 01:00" in out
    assert "from [wake]: waking Sat 09:00 less 8h of sleep" in out
    assert "[wake] names the MORNING" in out
    assert "no timed event tomorrow morning" in out


def test_check_shows_the_calendars_effect_on_tonight(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sundown.calendar.source as source

    (box.config_path.parent / "work.ics").write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    flight = {
        "title": "Flight",
        "start": "2026-11-26T07:30:00+01:00",
        "cancelled": False,
        "transparent": False,
    }
    monkeypatch.setattr(source, "parse", lambda data, start, end, child=None: {"events": [flight]})
    code, out, err = cli(capsys, monkeypatch, at(20, 0), "check")
    assert code == 0, err
    assert "tomorrow starts Thu 07:30 (Flight)" in out
    assert "bedtime 22:15" in out and "from the calendar: Flight at Thu 07:30, waking 06:15" in out
    assert "21:30" in out  # tea, 45m before


def test_check_warns_about_a_calendar_it_cannot_read(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli(capsys, monkeypatch, at(20, 0), "check")
    assert code == 0
    assert "work.ics: the file does not exist; the routine's bedtimes are kept" in err
    assert "bedtime 23:00" in out


def test_tonight_wake_is_a_log_row_and_wins(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = cli(capsys, monkeypatch, at(19, 0), "tonight", "--wake", "06:10")
    assert code == 0, err
    # 06:10 Thursday less 8h = 22:10 Wednesday; tea 45m before.
    assert "tonight (Wed 2026-11-25): bedtime 22:10" in out
    assert "waking Thu 06:10 less 8h of sleep" in out and "21:25" in out
    assert rows("bedtime_changed") == [("2026-11-25", None, "bedtime_changed", "cli", {"wake": "06:10"})]
    code, out, _ = cli(capsys, monkeypatch, at(19, 0), "next", "--json", "--count", "2")
    found = json.loads(out)
    assert [(o["at"], o["bedtime_source"]) for o in found] == [
        ("2026-11-25T21:25:00+01:00", "tonight"),
        ("2026-11-25T22:10:00+01:00", "tonight"),
    ]
    code, out, _ = cli(capsys, monkeypatch, at(19, 0), "tonight", "--clear")
    assert "bedtime 23:00" in out and "from [wake]" in out


def test_next_json_names_each_nights_source(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    box.write_config(ROUTINE.replace("[wake]\n", '[bedtime]\nfri = "23:30"\n\n[wake]\n'))
    code, out, err = cli(capsys, monkeypatch, at(12, 0, date(2026, 11, 27)), "next", "--json", "--count", "4")
    assert code == 0, err
    found = json.loads(out)
    # Friday: its [bedtime] key (23:30); Saturday: Sunday's default wake (07:00 - 8h = 23:00).
    assert [(o["night"], o["reminder"], o["at"][11:16], o["bedtime_source"]) for o in found] == [
        ("2026-11-27", "tea", "22:45", "routine"),
        ("2026-11-27", "bedtime", "23:30", "routine"),
        ("2026-11-28", "tea", "22:15", "wake"),
        ("2026-11-28", "bedtime", "23:00", "wake"),
    ]


# --- the calendar through the daemon --------------------------------------------------------------


def test_the_calendar_replans_tonight_once_and_the_first_reminder_says_why(
    box: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock(at(20, 0).astimezone(UTC))
    d = daemon_at(clock, FakeCalendar(FLIGHT))
    try:
        d.tick()
        d.tick()  # a second look changes nothing: one row
        [row] = rows("replanned")
        # 07:30 less 1h15m = 06:15 wake; less 8h = 22:15 CET.
        assert row[:4] == ("2026-11-25", None, "replanned", "daemon")
        assert row[4]["source"] == "calendar" and row[4]["event"] == "Flight"
        assert datetime.fromisoformat(row[4]["bedtime"]) == at(22, 15)
        assert datetime.fromisoformat(row[4]["wake"]) == at(6, 15, date(2026, 11, 26))
        status = d.status()
        assert status["bedtime_source"] == "calendar"
        assert status["why"] == "Tomorrow starts 07:30 (Flight): bedtime 22:15"
        assert status["calendar"]["events"] == 1 and status["calendar"]["problem"] is None

        capsys.readouterr()
        clock.now = at(21, 30).astimezone(UTC)  # tea: 45m before 22:15
        d.tick()
        out = capsys.readouterr().out
        assert "Tomorrow starts 07:30 (Flight): bedtime 22:15" in out
        clock.now = at(22, 15).astimezone(UTC)
        d.tick()
        out = capsys.readouterr().out
        assert "Bedtime" in out and "Tomorrow starts" not in out  # said once
        notified = rows("notified")
        assert [(r[1], r[4].get("why")) for r in notified] == [
            ("tea", "Tomorrow starts 07:30 (Flight): bedtime 22:15"),
            ("bedtime", None),
        ]
        assert rows("missed") == []
    finally:
        d.stop()


def test_a_later_or_no_event_never_moves_bedtime_later(box: Sandbox) -> None:
    clock = FakeClock(at(20, 0).astimezone(UTC))
    standup = CalendarEvent("Standup", datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN))
    d = daemon_at(clock, FakeCalendar(standup))
    try:
        d.tick()
        assert rows("replanned") == []  # 09:00 less 1h15m is later than 07:00: nothing to log
        assert d.status()["bedtime_source"] == "wake"
    finally:
        d.stop()


def test_the_flight_going_away_puts_the_routine_back(box: Sandbox) -> None:
    clock = FakeClock(at(18, 0).astimezone(UTC))
    calendar = FakeCalendar(FLIGHT)
    d = daemon_at(clock, calendar)
    try:
        d.tick()
        calendar.set()  # the flight was deleted
        clock.now = at(19, 0).astimezone(UTC)
        d.tick()
        first, second = rows("replanned")
        assert first[4]["event"] == "Flight"
        assert second[4]["event"] is None and datetime.fromisoformat(second[4]["bedtime"]) == at(23, 0)
        assert d.status()["bedtime_source"] == "wake"
    finally:
        d.stop()


def test_a_night_whose_bedtime_passed_is_not_replanned(box: Sandbox) -> None:
    clock = FakeClock(at(23, 30).astimezone(UTC))  # Wednesday's 23:00 has passed
    d = daemon_at(clock, FakeCalendar(FLIGHT))
    try:
        d.tick()
        assert [r for r in rows("replanned") if r[0] == "2026-11-25"] == []
    finally:
        d.stop()


def test_a_calendar_not_covering_the_morning_changes_nothing(box: Sandbox) -> None:
    clock = FakeClock(at(20, 0).astimezone(UTC))
    calendar = FakeCalendar(FLIGHT)
    calendar.current = CalendarView("work.ics", (FLIGHT,), None, problem="the file does not exist")
    d = daemon_at(clock, calendar)
    try:
        d.tick()
        assert rows("replanned") == []
        assert d.status()["calendar"]["problem"] == "the file does not exist"
    finally:
        d.stop()


def test_the_calendar_row_is_kept_when_the_log_cannot_take_it(box: Sandbox) -> None:
    clock = FakeClock(at(20, 0).astimezone(UTC))
    d = daemon_at(clock, FakeCalendar(FLIGHT))
    try:
        d.ledger.rows.write = lambda *a, **kw: None  # type: ignore[method-assign]  # every row lost
        d.tick()
        assert d.status()["bedtime_source"] == "calendar"
    finally:
        d.stop()


# --- the phone's alarm ---------------------------------------------------------------------------


def test_the_phones_alarm_sets_tomorrows_wake_only_earlier(
    box: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    box.write_config(ROUTINE.replace('[calendar]\nics = "work.ics"\nprepare = "1h15m"\n', ""))
    clock = FakeClock(at(19, 0).astimezone(UTC))
    d = daemon_at(clock)
    try:
        d.alarm_changed(at(6, 10, date(2026, 11, 26)))
        # 06:10 less 8h = 22:10.
        assert rows("bedtime_changed")[-1][2:] == (
            "bedtime_changed",
            "phone",
            {"alarm": "2026-11-26T06:10:00+01:00"},
        )
        [replanned] = rows("replanned")
        assert replanned[4]["source"] == "alarm" and datetime.fromisoformat(replanned[4]["bedtime"]) == at(
            22, 10
        )
        status = d.status()
        assert (
            status["bedtime_source"] == "alarm" and status["why"] == "Alarm at 06:10 tomorrow: bedtime 22:10"
        )

        d.alarm_changed(at(6, 10, date(2026, 11, 26)))  # the same alarm again: nothing new
        assert len(rows("bedtime_changed")) == 1

        d.alarm_changed(at(8, 30, date(2026, 11, 26)))  # later than the routine's 07:00
        assert d.status()["bedtime_source"] == "wake"
        assert datetime.fromisoformat(rows("replanned")[-1][4]["bedtime"]) == at(23, 0)

        # The next alarm is now Saturday's: Wednesday's own alarm row is cleared, Friday gets one.
        d.alarm_changed(at(5, 0, date(2026, 11, 28)))
        changed = [(r[0], r[4]) for r in rows("bedtime_changed")]
        assert changed[-2:] == [
            ("2026-11-25", {"alarm": None}),
            ("2026-11-27", {"alarm": "2026-11-28T05:00:00+01:00"}),
        ]
        clock.now = at(20, 0, date(2026, 11, 27)).astimezone(UTC)
        # Friday: 05:00 Saturday less 8h = 21:00, earlier than Saturday's 09:00 wake (01:00).
        status = d.status()
        assert status["bedtime_source"] == "alarm" and datetime.fromisoformat(status["bedtime"]) == at(
            21, 0, date(2026, 11, 27)
        )
    finally:
        d.stop()


def test_an_alarm_in_the_past_or_far_ahead_is_ignored(box: Sandbox) -> None:
    clock = FakeClock(at(19, 0).astimezone(UTC))
    d = daemon_at(clock)
    try:
        d.alarm_changed(at(6, 0))  # this morning: past
        d.alarm_changed(at(6, 0, NIGHT + timedelta(days=20)))
        assert rows("bedtime_changed") == [] and rows("replanned") == []
    finally:
        d.stop()


# --- config errors for the new keys ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[wake]\ndefault = "7:00"\n',
            'c.toml:2: wake.default: "7:00" is not a time; write exactly "HH:MM", e.g. "07:00"',
        ),
        ('[wake]\nsat = "09:00"\nsleep = "0m"\n', 'c.toml:3: wake.sleep: "0m" is zero;'),
        ('[wake]\nmon = "06:00"\n', "c.toml:1: wake: needs default"),
        (
            '[bedtime]\ndefault = "22:00"\n[wake]\ndefault = "07:00"\n',
            "c.toml:4: wake.default: gives every other",
        ),
        (
            '[wake]\ndefault = "13:00"\nsleep = "30m"\n',
            'c.toml:2: wake.default: "13:00" less sleep "30m" is 12:30',
        ),
        ('[wake]\ndefault = "07:00"\nwakeup = "07:00"\n', "c.toml:3: wake.wakeup: unknown key"),
        ('[wake]\ndefault = "07:00"\n[calendar]\nprepare = "1h"\n', "c.toml:3: calendar: needs ics"),
        (
            '[wake]\ndefault = "07:00"\n[calendar]\nics = "http://example.org/c.ics"\n',
            'c.toml:4: calendar.ics: "http://example.org/c.ics" is plain http',
        ),
        (
            '[wake]\ndefault = "07:00"\n[calendar]\nics = "c.ics"\nprepare = "1 hour"\n',
            'c.toml:5: calendar.prepare: "1 hour" is not a duration',
        ),
    ],
)
def test_config_errors_for_the_new_keys_have_line_and_key(text: str, message: str) -> None:
    from sundown.config import parse
    from sundown.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        parse(text, "c.toml")
    assert any(p.startswith(message) for p in exc.value.problems), exc.value.problems


def test_calendar_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    from sundown.config import parse

    r = parse('[wake]\ndefault = "07:00"\n[calendar]\nics = "cals/work.ics"\n', str(tmp_path / "config.toml"))
    assert r.calendar is not None and r.calendar.ics == str(tmp_path / "cals" / "work.ics")
    r = parse('[wake]\ndefault = "07:00"\n[calendar]\nics = "webcal://example.org/a.ics"\n', "c.toml")
    assert r.calendar is not None and r.calendar.ics == "https://example.org/a.ics"
    r = parse('[wake]\ndefault = "07:00"\n[calendar]\nics = "http://localhost:8080/a.ics"\n', "c.toml")
    assert r.calendar is not None and r.calendar.is_url


def test_status_and_stats_read_the_replan_from_the_log(
    box: Sandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(at(20, 0).astimezone(UTC))
    d = daemon_at(clock, FakeCalendar(FLIGHT))
    try:
        d.tick()
    finally:
        d.stop()
    # No daemon now: `status` and `stats` fold the `replanned` row like every other.
    code, out, err = cli(capsys, monkeypatch, at(20, 5), "status")
    assert code == 0, err
    assert (
        "tonight (Wed 2026-11-25): bedtime 22:15, from the calendar (Tomorrow starts 07:30 (Flight))" in out
    )
    code, out, err = cli(
        capsys, monkeypatch, at(23, 0), "stats", "--json", "--days", "1", "--until", "2026-11-25"
    )
    assert code == 0, err
    [night] = json.loads(out)["nights"]
    assert datetime.fromisoformat(night["bedtime_planned"]) == at(22, 15)


def test_doctor_names_a_calendar_it_cannot_read_and_a_missing_extra(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from sundown import doctor
    from sundown.paths import resolve_paths

    [check] = doctor.check_calendar(resolve_paths())
    assert check.status == doctor.WARN and "work.ics: the file does not exist (read now)" in check.detail
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "icalendar" else real(name))
    [check] = doctor.check_calendar(resolve_paths())
    assert check.status == doctor.FAIL and "icalendar not installed" in check.detail
    assert check.fix is not None and "sundown[calendar]" in check.fix
