"""The daemon's recorder of the evening as it was, driven by hand-made context snapshots.

The desktop's real signals (logind, the screensaver, X11) drive it in test_evening_desktop.py;
here every instant is chosen, so each span is checked to the second.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sundown.core.activity import Span, epoch
from sundown.core.context import Context
from sundown.core.plan import NightChanges
from sundown.core.routine import ContextRules, Routine, WindDown
from sundown.runtime.activity import POLL, Recorder
from support.routines import EVENING

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
M = timedelta(minutes=1)
NIGHT = date(2026, 11, 25)
ROUTINE = EVENING
ACTIVE = Context(locked=False, idle_known=True)


def at(hh: int, mm: int, ss: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hh, mm, ss, tzinfo=BERLIN)


class Tape:
    """The rows the recorder wrote: (night, state, from, to) in local wall times."""

    def __init__(self) -> None:
        self.rows: list[tuple[date, str, str, str]] = []

    def __call__(self, night: date, span: Span) -> None:
        fmt = "%d %H:%M:%S"
        start = datetime.fromtimestamp(span.start, BERLIN).strftime(fmt)
        end = datetime.fromtimestamp(span.end, BERLIN).strftime(fmt)
        self.rows.append((night, span.state, start, end))


def look(rec: Recorder, now: datetime, ctx: Context, polled: bool = False, routine: Routine = ROUTINE):
    return rec.look(now.astimezone(UTC), routine, BERLIN, {}, ctx, polled)


def idle_since(t: datetime) -> Context:
    return Context(locked=False, idle_known=True, idle_since=t.astimezone(UTC))


def locked(since: datetime) -> Context:
    return Context(locked=True, locked_since=since.astimezone(UTC), idle_known=True)


def test_a_typical_evening_is_four_rows() -> None:
    tape = Tape()
    rec = Recorder(tape)
    # Before the first reminder (wind-down, 21:30): nothing, and the next look is at 21:30.
    assert look(rec, at(21, 0), ACTIVE) == at(21, 30).astimezone(UTC)
    assert look(rec, at(21, 30), ACTIVE) == at(7, 0, day=26).astimezone(UTC)  # signals only: until then
    look(rec, at(22, 41), idle_since(at(22, 36, 12)))  # no input for 4m48s: still active
    look(rec, at(22, 41, 12), idle_since(at(22, 36, 12)))  # 5 minutes: idle since the last input
    look(rec, at(22, 44, 30), locked(at(22, 44, 30)))  # the screensaver locks
    rec.sleep(at(22, 59, 3).astimezone(UTC), ROUTINE, BERLIN, {})  # the lid closes
    # Opened in the morning after 07:00: the asleep span ends at 07:00, the window's end.
    rec.resume(at(7, 40, day=26).astimezone(UTC), ROUTINE, BERLIN, {})
    look(rec, at(7, 40, 1, day=26), locked(at(22, 44, 30)))
    assert tape.rows == [
        (NIGHT, "active", "25 21:30:00", "25 22:36:12"),
        (NIGHT, "idle", "25 22:36:12", "25 22:44:30"),
        (NIGHT, "locked", "25 22:44:30", "25 22:59:03"),
        (NIGHT, "asleep", "25 22:59:03", "26 07:00:00"),
    ]
    assert rec.open is None


def test_polled_idle_is_asked_every_30_seconds_inside_the_window_and_never_outside() -> None:
    rec = Recorder(Tape())
    now = at(21, 45)
    assert look(rec, now, idle_since(at(21, 44, 50)), polled=True) == now.astimezone(UTC) + POLL
    assert look(rec, at(21, 0), ACTIVE, polled=True) == at(21, 30).astimezone(UTC)  # the next window
    morning = at(7, 0, 1, day=26)
    assert look(rec, morning, ACTIVE, polled=True) == at(21, 30, day=26).astimezone(UTC)
    # Signals only: active since the last input 4 minutes ago, idle at 5: looked at then.
    rec = Recorder(Tape())
    assert look(rec, now, idle_since(at(21, 41))) == at(21, 46).astimezone(UTC)


def test_the_window_end_and_a_stop_close_the_open_span() -> None:
    tape = Tape()
    rec = Recorder(tape)
    look(rec, at(23, 0), locked(at(22, 50)))  # the daemon starts, the session locked at 22:50
    look(rec, at(7, 0, 0, day=26), locked(at(22, 50)))  # the look at `until`
    rec.stop(at(7, 5, day=26).astimezone(UTC), ROUTINE, BERLIN)
    assert tape.rows == [(NIGHT, "locked", "25 22:50:00", "26 07:00:00")]
    tape.rows.clear()
    look(rec, at(21, 40, day=26), ACTIVE)
    rec.stop(at(21, 52, 9, day=26).astimezone(UTC), ROUTINE, BERLIN)  # SIGTERM
    assert tape.rows == [(date(2026, 11, 26), "active", "26 21:40:00", "26 21:52:09")]


def test_a_sleep_that_began_before_the_window_is_asleep_from_its_start() -> None:
    tape = Tape()
    rec = Recorder(tape)
    rec.sleep(at(19, 0).astimezone(UTC), ROUTINE, BERLIN, {})
    rec.resume(at(22, 10).astimezone(UTC), ROUTINE, BERLIN, {})
    look(rec, at(22, 10, 1), ACTIVE)
    assert tape.rows == [(NIGHT, "asleep", "25 21:30:00", "25 22:10:01")]


def test_measure_false_records_nothing_and_a_skipped_night_has_no_window() -> None:
    tape = Tape()
    off = Routine(ROUTINE.bedtime, ROUTINE.reminders, "Europe/Berlin", context=ContextRules(measure=False))
    rec = Recorder(tape)
    assert look(rec, at(22, 0), ACTIVE, routine=off) is None
    look(rec, at(23, 0), locked(at(22, 30)), routine=off)
    assert tape.rows == [] and rec.open is None
    skipped = {NIGHT: NightChanges(skip_all=True)}
    assert rec.look(at(22, 0).astimezone(UTC), ROUTINE, BERLIN, skipped, ACTIVE, True) == at(
        21, 30, day=26
    ).astimezone(UTC)
    assert rec.open is None


def test_a_wind_down_before_the_first_reminder_opens_the_window_and_its_until_closes_it() -> None:
    """[winddown] at 20:45 until 06:30: the recorder looks first at 20:45 (not the first reminder,
    21:30), and the evening's last span ends at 06:30."""
    tape = Tape()
    rec = Recorder(tape)
    routine = replace(ROUTINE, winddown=WindDown(until=time(6, 30), at=time(20, 45)))
    assert look(rec, at(20, 0), ACTIVE, routine=routine) == at(20, 45).astimezone(UTC)
    assert look(rec, at(20, 45), ACTIVE, routine=routine) == at(6, 30, day=26).astimezone(UTC)
    look(rec, at(23, 10), locked(at(23, 10)), routine=routine)
    # The look at its `until` closes the span; the next look is the next evening's wind-down.
    morning = look(rec, at(6, 30, day=26), locked(at(23, 10)), routine=routine)
    assert morning == at(20, 45, day=26).astimezone(UTC)
    assert tape.rows == [
        (NIGHT, "active", "25 20:45:00", "25 23:10:00"),
        (NIGHT, "locked", "25 23:10:00", "26 06:30:00"),
    ]
    assert rec.open is None


def test_a_desktop_that_says_nothing_about_idle_or_lock_records_nothing() -> None:
    tape = Tape()
    rec = Recorder(tape)
    look(rec, at(22, 0), Context())
    look(rec, at(23, 0), Context())
    assert tape.rows == []
    assert epoch(at(0, 0)) % 60 == 0


CONFIG = """timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
[reminders.wind-down]
before = "60m"
"""


def test_the_daemon_writes_each_closed_span_and_the_open_one_when_it_stops(sandbox) -> None:
    from sundown.store.log import EventLog
    from support.in_process import FakeWatch, in_process_daemon
    from support.sandbox import FakeClock

    clock = FakeClock(at(21, 45).astimezone(UTC))
    daemon = in_process_daemon(clock, text=CONFIG)
    watch = FakeWatch(ACTIVE)
    daemon.context = watch
    try:
        daemon.tick()
        clock.now = at(22, 50, 7).astimezone(UTC)
        watch.ctx = locked(clock.now)
        daemon.tick()
        clock.now = at(23, 1, 30).astimezone(UTC)
    finally:
        daemon.stop()
    with EventLog(daemon.paths.database) as log:
        rows = [(e.night, e.source, dict(e.details), e.ts) for e in log.events() if e.event == "activity"]
    start, lock, stop = "2026-11-25T20:45:00+00:00", "2026-11-25T21:50:07+00:00", "2026-11-25T22:01:30+00:00"
    assert rows == [
        (NIGHT, "daemon", {"state": "active", "from": start, "to": lock}, at(22, 50, 7)),
        (NIGHT, "daemon", {"state": "locked", "from": lock, "to": stop}, at(23, 1, 30)),
    ]


def test_measure_false_keeps_the_spans_recorded_and_stats_still_show_them(sandbox, capsys) -> None:
    """Issue 21: `[context] measure = false` turns recording off and deletes nothing. A night
    recorded whole, then a night whose open span is written when the reload switches measuring
    off, then a night with nothing: the rows stay, and `stats` and `stats --json` show them."""
    import json

    from sundown.cli import main
    from sundown.store.log import EventLog
    from support.in_process import FakeWatch, in_process_daemon
    from support.sandbox import FakeClock

    def berlin(day: int, hh: int, mm: int, ss: int = 0) -> datetime:
        return datetime(2025, 11, day, hh, mm, ss, tzinfo=BERLIN)  # nights long over, whatever today is

    def activity_rows() -> list[tuple[str, dict]]:
        with EventLog(sandbox.db_path) as log:
            return [(e.night.isoformat(), dict(e.details)) for e in log.events() if e.event == "activity"]

    sandbox.write_config(CONFIG)
    clock = FakeClock(berlin(24, 21, 45).astimezone(UTC))
    daemon = in_process_daemon(clock)
    watch = FakeWatch(ACTIVE)
    daemon.context = watch

    def tick(t: datetime, ctx: Context) -> None:
        clock.now, watch.ctx = t.astimezone(UTC), ctx
        daemon.tick()

    try:
        # Monday 24 November 2025, measured: at the screen from 21:45, locked 23:05:20 until 07:00.
        tick(berlin(24, 21, 45), ACTIVE)
        tick(berlin(24, 23, 5, 20), locked(berlin(24, 23, 5, 20)))
        tick(berlin(25, 7, 0), locked(berlin(24, 23, 5, 20)))
        # Tuesday: locked at 22:50:07; at 23:10 the config says `measure = false` and is reloaded:
        # the open span is written, ending then, and nothing after it is recorded.
        tick(berlin(25, 21, 45), ACTIVE)
        tick(berlin(25, 22, 50, 7), locked(berlin(25, 22, 50, 7)))
        recorded = activity_rows()
        clock.now = berlin(25, 23, 10).astimezone(UTC)
        sandbox.write_config(CONFIG + "[context]\nmeasure = false\n")
        assert daemon.reload() == []
        tick(berlin(25, 23, 30), ACTIVE)  # back at the screen: not recorded
        tick(berlin(26, 7, 0), ACTIVE)
        # Wednesday: nothing recorded, neither by a look nor by the stop.
        tick(berlin(26, 21, 45), ACTIVE)
        tick(berlin(26, 23, 0), locked(berlin(26, 23, 0)))
        clock.now = berlin(26, 23, 30).astimezone(UTC)
    finally:
        daemon.stop()

    tuesday_lock = {"state": "locked", "from": "2025-11-25T21:50:07+00:00", "to": "2025-11-25T22:10:00+00:00"}
    assert activity_rows() == [*recorded, ("2025-11-25", tuesday_lock)]
    assert [night for night, _ in recorded] == ["2025-11-24", "2025-11-24", "2025-11-25"]

    capsys.readouterr()  # the console backend's reminders

    def cli(*args: str) -> str:
        assert main(list(args)) == 0
        return capsys.readouterr().out

    window = ("--until", "2025-11-26", "--days", "3")
    nights = json.loads(cli("stats", "--json", *window))["nights"]
    got = [(n["night"], n["lights_out"], n["active_after_bedtime_s"]) for n in nights]
    assert got == [
        # 22:30 -> 23:05:20 at the screen: 35m20s.
        ("2025-11-24", "2025-11-24T23:05:20+01:00", 35 * 60 + 20),
        # 22:30 -> 22:50:07: 20m07s; after the last span (23:10) the night counts as off, as for a
        # machine shut down (docs/stats.md): measuring was off, so 23:30 is not known.
        ("2025-11-25", "2025-11-25T22:50:07+01:00", 20 * 60 + 7),
        ("2025-11-26", None, None),  # measuring off all evening: nothing recorded, nothing derived
    ]
    table = cli("stats", *window)
    assert "22:30 off 23:05" in table and "22:30 off 22:50" in table, table
    assert "Lights out, measured, on 2 of 2 nights" in table, table
