"""Travel: with no `timezone`, the daemon follows the system zone. Re-planning tonight in the new
zone sends nothing twice and loses nothing (a reminder is sent once, or logged `missed` once),
across DST changes and the date line, in several zones."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from sundown.config import load_for
from sundown.core.plan import UTC, night_of, night_plan
from sundown.paths import resolve_paths
from sundown.store.log import EventLog
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox

if TYPE_CHECKING:
    from sundown.runtime.daemon import Daemon

ROUTINE = (
    '[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n[reminders.bedtime]\nbefore = "0m"\n'
)

# (from, to, an evening): ordinary nights, DST nights (Berlin and New York spring forward, Lord
# Howe's half-hour change, Apia's old date-line jump) and a trip across the date line.
TRIPS = [
    ("Europe/Berlin", "America/New_York", date(2026, 11, 25)),
    ("America/New_York", "Europe/Berlin", date(2026, 3, 8)),
    ("Europe/Berlin", "Australia/Lord_Howe", date(2026, 3, 29)),
    ("Australia/Lord_Howe", "Pacific/Apia", date(2026, 10, 4)),
    ("Pacific/Apia", "Europe/Berlin", date(2011, 12, 28)),
    ("America/New_York", "Pacific/Apia", date(2026, 11, 1)),
]


def run_trip(sandbox: Sandbox, start_zone: str, end_zone: str, evening: date) -> list:
    sandbox.write_config(ROUTINE)
    paths = resolve_paths()
    zone = ZoneInfo(start_zone)
    now = datetime(evening.year, evening.month, evening.day, 21, 50, tzinfo=zone)  # tea (21:45) sent
    clock = FakeClock(now)
    daemon = in_process_daemon(clock, zone=zone)
    try:
        daemon.tick()
        daemon.travel.follow(end_zone)  # timedated says: the system zone changed
        assert daemon.loaded.zone.key == end_zone
        # Then the rest of the two nights, tick by tick every 5 minutes.
        for _ in range(2 * 24 * 12):
            clock.now = clock.now + timedelta(minutes=5)
            daemon.tick()
    finally:
        daemon.stop()
    with EventLog(paths.database) as log:
        return log.events()


@pytest.mark.parametrize(("start", "end", "evening"), TRIPS, ids=[f"{a}->{b}" for a, b, _ in TRIPS])
def test_travel_sends_nothing_twice_and_loses_nothing(
    sandbox: Sandbox, start: str, end: str, evening: date
) -> None:
    events = run_trip(sandbox, start, end, evening)
    by_key: dict[tuple[date, str], list[str]] = {}
    for e in events:
        if e.reminder and e.event in ("notified", "missed"):
            by_key.setdefault((e.night, e.reminder), []).append(e.event)
    for key, what in by_key.items():
        assert len(what) == 1, f"{key}: {what}"  # once: sent or missed, never both, never twice
    first = night_of(
        datetime(evening.year, evening.month, evening.day, 21, 50, tzinfo=ZoneInfo(start)), ZoneInfo(start)
    )
    assert by_key[(first, "tea")] == ["notified"]  # sent before the trip, not again after it
    # The next night is wholly in the new zone: both reminders sent at their local times there.
    zone = ZoneInfo(end)
    later = [e for e in events if e.event == "notified" and e.night > first]
    assert later, "the next night's reminders were sent"
    for e in later:
        local = e.ts.astimezone(zone)
        assert (local.hour, local.minute) in ((21, 45), (22, 30)), (e.reminder, local)


def test_a_zone_named_by_config_does_not_move(sandbox: Sandbox) -> None:
    sandbox.write_config('timezone = "Europe/Berlin"\n' + ROUTINE)
    daemon = in_process_daemon(FakeClock(datetime.now(ZoneInfo("UTC"))))
    try:
        daemon.travel.follow("Pacific/Apia")
        assert daemon.loaded.zone.key == "Europe/Berlin"
    finally:
        daemon.stop()


# --- a change of zone never loses a reminder silently; a blip changes nothing -------------------


def evening_daemon(start: datetime, zone: ZoneInfo, routine: str = ROUTINE, log_days: int = 30) -> Daemon:
    """A console daemon on `routine` in `zone`, its log begun `log_days` before `start`, at `start`."""
    clock = FakeClock(start - timedelta(days=log_days))
    daemon = in_process_daemon(clock, text=routine, zone=zone)
    daemon.tick()  # the log begins
    clock.now = start
    return daemon


def live(daemon: Daemon, until: datetime, changes: list[tuple[datetime, str]]) -> None:
    """The daemon's evening up to `until`: its clock jumps to each instant it asks to look again
    at (as its timer would fire), and each change of zone comes at its own instant, as
    timedated's signal would."""
    clock = daemon.clock
    assert isinstance(clock, FakeClock)
    pending = sorted(changes)
    daemon.tick()
    while clock.now < until:
        step = min((t for t in (daemon.next_look, until) if t is not None), key=lambda t: t.astimezone(UTC))
        step = max(step, clock.now + timedelta(seconds=1))
        if pending and pending[0][0] <= step:
            clock.now, name = pending.pop(0)
            daemon.travel.follow(name)
        else:
            clock.now = step
        daemon.tick()


def rows(paths_db, night: date) -> list[tuple[str, str, str, str]]:
    with EventLog(paths_db) as log:
        return [
            (e.ts.isoformat(), e.reminder or "", e.event, str(e.details.get("at")))
            for e in log.events()
            if e.night == night and e.reminder and e.event in ("notified", "missed")
        ]


def test_london_to_kiritimati_half_an_hour_before_logs_each_reminder_missed_at_its_london_time(
    sandbox: Sandbox,
) -> None:
    sandbox.write_config(ROUTINE)
    london = ZoneInfo("Europe/London")
    night = date(2026, 1, 10)
    daemon = evening_daemon(datetime(2026, 1, 10, 20, 0, tzinfo=london), london)
    try:
        live(
            daemon,
            datetime(2026, 1, 11, 1, 0, tzinfo=london),
            [(datetime(2026, 1, 10, 21, 15, tzinfo=london), "Pacific/Kiritimati")],
        )
        got = rows(daemon.paths.database, night)
    finally:
        daemon.stop()
    # Kiritimati (UTC+14) had both 13 h in the past, beyond the 12-hour horizon: before, no row at all.
    assert [
        (datetime.fromisoformat(ts).astimezone(london).strftime("%H:%M"), rid, ev) for ts, rid, ev, _ in got
    ] == [
        ("21:45", "tea", "missed"),
        ("22:30", "bedtime", "missed"),
    ]


def test_a_3_second_blip_to_kolkata_2_minutes_before_a_reminder_changes_nothing(sandbox: Sandbox) -> None:
    sandbox.write_config(ROUTINE)
    berlin = ZoneInfo("Europe/Berlin")
    night = date(2026, 1, 10)
    daemon = evening_daemon(datetime(2026, 1, 10, 21, 0, tzinfo=berlin), berlin)
    try:
        live(daemon, datetime(2026, 1, 10, 21, 43, tzinfo=berlin), [])
        daemon.travel.follow("Asia/Kolkata")
        during = daemon.status()
        daemon.clock.now += timedelta(seconds=3)  # type: ignore[attr-defined]
        daemon.travel.follow("Europe/Berlin")
        live(daemon, datetime(2026, 1, 11, 1, 0, tzinfo=berlin), [])
        got = rows(daemon.paths.database, night)
    finally:
        daemon.stop()
    assert during["context"]["zone"] == "Asia/Kolkata"
    tea = next(r for r in during["tonight"] if r["reminder"] == "tea")
    assert (tea["state"], tea["at"]) == ("pending", "2026-01-10T21:45:00+01:00")  # waits for its Berlin time
    # Before: both logged `missed` during the blip, and never shown at their Berlin times.
    assert [
        (datetime.fromisoformat(ts).astimezone(berlin).strftime("%H:%M"), rid, ev) for ts, rid, ev, _ in got
    ] == [
        ("21:45", "tea", "notified"),
        ("22:30", "bedtime", "notified"),
    ]


# (home, away, evening, bedtime): blips and trips on DST nights: Berlin and New York spring
# forward (a bedtime in New York's gap), Lord Howe's half-hour fall back, Apia's date-line day.
DST_CHANGES = [
    ("Europe/Berlin", "Asia/Kolkata", date(2026, 3, 28), "22:30"),
    ("America/New_York", "Europe/Berlin", date(2026, 3, 7), "02:30"),
    ("Europe/Berlin", "America/New_York", date(2026, 3, 7), "02:30"),
    ("Australia/Lord_Howe", "Pacific/Kiritimati", date(2026, 4, 4), "01:45"),
    ("America/Los_Angeles", "Pacific/Apia", date(2026, 11, 1), "22:30"),
]


@pytest.mark.parametrize(
    ("home", "away", "evening", "bedtime"), DST_CHANGES, ids=[f"{a}-{b}" for a, b, *_ in DST_CHANGES]
)
def test_on_dst_nights_a_blip_changes_nothing_and_a_trip_loses_nothing(
    sandbox: Sandbox, home: str, away: str, evening: date, bedtime: str
) -> None:
    routine = ROUTINE.replace('"22:30"', f'"{bedtime}"')
    sandbox.write_config(routine)
    zone = ZoneInfo(home)
    start = datetime(evening.year, evening.month, evening.day, 12, 0, tzinfo=zone)
    tonight = night_of(start, zone)
    paths = resolve_paths()
    plan = night_plan(load_for(paths).routine, tonight, zone)
    assert plan is not None
    tea = plan.occurrences[0].at
    before = tea - timedelta(minutes=2)
    end = start + timedelta(days=2)

    # Without a change, with a 3-second blip 2 minutes before tea, and with a trip then.
    results = []
    for changes in ([], [(before, away), (before + timedelta(seconds=3), home)], [(before, away)]):
        for f in (paths.database, paths.database.with_name(paths.database.name + "-wal")):
            f.unlink(missing_ok=True)
        daemon = evening_daemon(start, zone, routine)
        try:
            live(daemon, end, changes)
            with EventLog(paths.database) as log:
                results.append([e for e in log.events() if e.reminder and e.event in ("notified", "missed")])
        finally:
            daemon.stop()
    plain, blip, trip = results
    assert [(e.ts, e.night, e.reminder, e.event) for e in blip] == [
        (e.ts, e.night, e.reminder, e.event) for e in plain
    ]
    assert not [e for e in plain if e.event == "missed" and e.night >= tonight]
    once: dict[tuple[date, str], list[str]] = {}
    for e in trip:
        if not e.details.get("repeat"):
            once.setdefault((e.night, e.reminder or ""), []).append(e.event)
    for night in (tonight, tonight + timedelta(days=1)):
        for rid in ("tea", "bedtime"):
            assert len(once.get((night, rid), [])) == 1, (night, rid, once)  # sent or missed, once
