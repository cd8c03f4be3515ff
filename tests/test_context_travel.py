"""Travel: with no `timezone`, the daemon follows the system zone. Re-planning tonight in the new
zone sends nothing twice and loses nothing (a reminder is sent once, or logged `missed` once),
across DST changes and the date line, in several zones."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sundown.core.plan import night_of
from sundown.paths import resolve_paths
from sundown.store.log import EventLog
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox

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
