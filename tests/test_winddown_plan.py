"""The wind-down's window (core/winddown.py, pure): planned with the reminders' time rules, then
what the person asked (`winddown on|off`, a whole-night skip), with instants in named zones."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sundown.core import winddown
from sundown.core.plan import NightChanges
from sundown.core.routine import WEEKDAYS, Bedtimes, Routine, WindDown
from sundown.core.winddown import Request, planned, requests_of, state_at, until_after
from support.instants import local, utc

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
APIA = ZoneInfo("Pacific/Apia")
NIGHT = date(2026, 11, 25)  # a Wednesday


def hm(text: str) -> time:
    h, m = text.split(":")
    return time(int(h), int(m))


def routine(bedtime: str = "22:30", skip: tuple[date, ...] = (), **by_day: str) -> Routine:
    times = tuple(hm(by_day.get(d, bedtime)) for d in WEEKDAYS)
    return Routine(Bedtimes(times), (), skip_dates=frozenset(skip))  # type: ignore[arg-type]


def wd(before: str | None = "30m", at: str | None = None, until: str = "07:00") -> WindDown:
    offset = None if before is None else timedelta(minutes=int(before.rstrip("m")))
    return WindDown(
        until=hm(until), before=offset if at is None else None, at=hm(at) if at else None, dnd=True
    )


def window_utc(w: winddown.Window | None) -> tuple[datetime, datetime]:
    assert w is not None
    return w.start.astimezone(UTC), w.end.astimezone(UTC)


# --- the planned window ---------------------------------------------------------------------------


def test_the_window_runs_from_before_bedtime_until_the_next_morning() -> None:
    w = planned(wd(), routine(), BERLIN, NIGHT)
    assert window_utc(w) == (local(BERLIN, 2026, 11, 25, 22, 0), local(BERLIN, 2026, 11, 26, 7, 0))


def test_at_a_wall_time_instead_of_before_bedtime() -> None:
    w = planned(wd(at="21:15"), routine(), BERLIN, NIGHT)
    assert window_utc(w)[0] == local(BERLIN, 2026, 11, 25, 21, 15)


def test_an_after_midnight_bedtime_starts_the_window_after_midnight_too() -> None:
    sat = date(2026, 11, 28)
    w = planned(wd(), routine(sat="00:30"), BERLIN, sat)
    assert window_utc(w) == (local(BERLIN, 2026, 11, 29, 0, 0), local(BERLIN, 2026, 11, 29, 7, 0))


def test_tonight_bedtime_moves_the_start_with_it() -> None:
    later = NightChanges(bedtime=hm("23:45"))
    w = planned(wd(), routine(), BERLIN, NIGHT, later)
    assert window_utc(w)[0] == local(BERLIN, 2026, 11, 25, 23, 15)


def test_skipped_nights_have_no_window() -> None:
    assert planned(wd(), routine(), BERLIN, NIGHT, NightChanges(skip_all=True)) is None
    assert planned(wd(), routine(skip=(NIGHT,)), BERLIN, NIGHT) is None
    # A single reminder skipped is not a skipped night.
    assert planned(wd(), routine(), BERLIN, NIGHT, NightChanges(skip=frozenset({"tea"}))) is not None


def test_a_bedtime_moved_past_until_leaves_no_window() -> None:
    assert planned(wd(), routine(), BERLIN, NIGHT, NightChanges(bedtime=hm("07:45"))) is None


def test_a_night_that_does_not_exist_has_no_window() -> None:
    assert planned(wd(), routine(), APIA, date(2011, 12, 30)) is None


def test_spring_forward_gap_moves_forward_and_before_is_elapsed_time() -> None:
    # Berlin springs forward on 2027-03-28 at 02:00 -> 03:00: bedtime 02:30 does not exist and
    # becomes 03:30 CEST (01:30 UTC); 1 h before it is 00:30 UTC, 01:30 CET on the wall clock.
    night = date(2027, 3, 27)
    w = planned(wd(before="60m", until="02:45"), routine(sat="02:30"), BERLIN, night)
    assert window_utc(w) == (utc(2027, 3, 28, 0, 30), utc(2027, 3, 28, 1, 45))  # until 02:45 -> 03:45 CEST
    assert w is not None and w.start.astimezone(BERLIN).strftime("%H:%M") == "01:30"


def test_fall_back_fold_means_the_first_occurrence() -> None:
    # New York falls back on 2027-11-07 at 02:00 EDT -> 01:00 EST: until 01:30 is the first 01:30 (EDT).
    night = date(2027, 11, 6)
    w = planned(wd(before="60m", until="01:30"), routine(sat="01:00"), NEW_YORK, night)
    assert window_utc(w) == (utc(2027, 11, 7, 4, 0), utc(2027, 11, 7, 5, 30))


# --- the state at an instant ---------------------------------------------------------------------


def state(now: datetime, requests: tuple[Request, ...] = (), r: Routine | None = None, **changes: Any):
    nights = {NIGHT: NightChanges(**changes)} if changes else {}
    return state_at(wd(), r or routine(), BERLIN, now, nights, requests)


def test_before_the_window_its_start_is_next_inside_it_its_end() -> None:
    before = state(local(BERLIN, 2026, 11, 25, 21, 0))
    assert before.active is None and before.next_at == local(BERLIN, 2026, 11, 25, 22, 0)
    inside = state(local(BERLIN, 2026, 11, 25, 23, 0))
    assert inside.active is not None and inside.next_at == local(BERLIN, 2026, 11, 26, 7, 0)
    after = state(local(BERLIN, 2026, 11, 26, 7, 0))
    assert after.active is None and after.next_at == local(BERLIN, 2026, 11, 26, 22, 0)


def test_winddown_on_lasts_until_the_next_until_and_joins_the_planned_window() -> None:
    on = Request(local(BERLIN, 2026, 11, 25, 20, 0).astimezone(UTC), True)
    s = state(local(BERLIN, 2026, 11, 25, 21, 0), (on,))
    assert s.active is not None
    assert window_utc(s.active) == (local(BERLIN, 2026, 11, 25, 20, 0), local(BERLIN, 2026, 11, 26, 7, 0))


def test_winddown_on_in_the_morning_lasts_until_the_next_morning() -> None:
    at = local(BERLIN, 2026, 11, 26, 8, 0)
    assert until_after(wd(), at, BERLIN) == local(BERLIN, 2026, 11, 27, 7, 0)
    s = state(at + timedelta(hours=2), (Request(at.astimezone(UTC), True),))
    assert s.active is not None and s.next_at == local(BERLIN, 2026, 11, 27, 7, 0)


def test_winddown_off_ends_what_holds_and_the_next_night_comes_as_planned() -> None:
    off = Request(local(BERLIN, 2026, 11, 25, 23, 0).astimezone(UTC), False)
    s = state(local(BERLIN, 2026, 11, 25, 23, 30), (off,))
    assert s.active is None and s.next_at == local(BERLIN, 2026, 11, 26, 22, 0)
    # Before the off, it held.
    assert state(local(BERLIN, 2026, 11, 25, 22, 30), (off,)).active is not None


def test_off_before_the_window_changes_nothing_and_on_after_off_starts_again() -> None:
    early_off = Request(local(BERLIN, 2026, 11, 25, 21, 0).astimezone(UTC), False)
    assert state(local(BERLIN, 2026, 11, 25, 22, 30), (early_off,)).active is not None
    off = Request(local(BERLIN, 2026, 11, 25, 22, 30).astimezone(UTC), False)
    on = Request(local(BERLIN, 2026, 11, 25, 23, 0).astimezone(UTC), True)
    assert state(local(BERLIN, 2026, 11, 25, 22, 45), (off, on)).active is None
    again = state(local(BERLIN, 2026, 11, 25, 23, 5), (off, on))
    assert again.active is not None and again.next_at == local(BERLIN, 2026, 11, 26, 7, 0)


def test_a_whole_night_skip_removes_the_planned_window() -> None:
    s = state(local(BERLIN, 2026, 11, 25, 23, 0), skip_all=True)
    assert s.active is None and s.next_at == local(BERLIN, 2026, 11, 26, 22, 0)


# --- the log's rows as requests ----------------------------------------------------------------


@dataclass
class Row:
    event: str
    source: str
    ts: datetime
    night: date
    reminder: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def test_requests_are_the_cli_rows_and_skips_of_the_night_they_were_made_in() -> None:
    at = local(BERLIN, 2026, 11, 25, 21, 0).astimezone(UTC)
    rows = [
        Row("winddown", "cli", at, NIGHT, details={"phase": "start"}),
        Row("winddown", "daemon", at, NIGHT, details={"phase": "start"}),  # what the daemon did: no request
        Row("winddown", "cli", at + timedelta(hours=1), NIGHT, details={"phase": "end"}),
        Row("skipped", "cli", at + timedelta(hours=2), NIGHT),  # tonight, as a whole: ends it
        Row("skipped", "cli", at + timedelta(hours=3), NIGHT + timedelta(days=1)),  # a later night: no
        Row("skipped", "cli", at + timedelta(hours=4), NIGHT, reminder="tea"),  # one reminder: no
    ]
    assert requests_of(rows, BERLIN) == [
        Request(at, True),
        Request(at + timedelta(hours=1), False),
        Request(at + timedelta(hours=2), False),
    ]


def test_a_skip_of_tonight_ends_a_winddown_on() -> None:
    on = Request(local(BERLIN, 2026, 11, 25, 19, 0).astimezone(UTC), True)
    skip = Row("skipped", "cli", local(BERLIN, 2026, 11, 25, 20, 0), NIGHT)
    s = state(local(BERLIN, 2026, 11, 25, 20, 30), (on, *requests_of([skip], BERLIN)), skip_all=True)
    assert s.active is None


def test_an_unskip_of_tonight_brings_back_the_wind_down_a_skip_ended() -> None:
    """Skipped at 22:40 inside the window (it ends), unskipped at 23:10: the planned window holds
    again from then until its `until`; a skip made before the window never cut it anyway."""
    skip = Row("skipped", "cli", local(BERLIN, 2026, 11, 25, 22, 40), NIGHT)
    unskip = Row("unskipped", "cli", local(BERLIN, 2026, 11, 25, 23, 10), NIGHT)
    during = state(local(BERLIN, 2026, 11, 25, 22, 50), tuple(requests_of([skip], BERLIN)), skip_all=True)
    assert during.active is None
    after = state(local(BERLIN, 2026, 11, 25, 23, 15), tuple(requests_of([skip, unskip], BERLIN)))
    assert after.active is not None and after.next_at == local(BERLIN, 2026, 11, 26, 7, 0)
    # Skip, unskip, skip again: the second skip still ends it.
    again = Row("skipped", "cli", local(BERLIN, 2026, 11, 25, 23, 30), NIGHT)
    assert requests_of([skip, unskip, again], BERLIN) == [Request(_utc_of(again), False)]
    # An unskip of one reminder undoes nothing of the wind-down's.
    one = Row("unskipped", "cli", local(BERLIN, 2026, 11, 25, 23, 10), NIGHT, reminder="tea")
    assert requests_of([skip, one], BERLIN) == [Request(_utc_of(skip), False)]


def _utc_of(row: Row) -> datetime:
    return row.ts.astimezone(UTC)


def test_the_config_check_finds_a_window_that_starts_after_until() -> None:
    late = replace(wd(before="15m"), until=hm("07:00"))
    assert winddown.starts_after_until(late, (7 * 60 + 30 - 12 * 60) % (24 * 60))  # bedtime 07:30
    assert not winddown.starts_after_until(late, 10 * 60 + 30)  # bedtime 22:30
