"""The daemon's decisions with an injected clock: on time, late, missed, repeats, snooze."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sundown.core.dispatch import Decision, decide, late_key, message_key
from sundown.core.plan import NightChanges
from sundown.core.routine import Bedtimes, Reminder, Routine
from sundown.core.state import NOTHING, Event, ReminderNight, fold

BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = date(2026, 11, 25)


def routine(**kw) -> Routine:
    reminders = (
        Reminder("wind-down", "Wind down", before=timedelta(minutes=60)),
        Reminder(
            "magnesium",
            "Magnesium",
            before=timedelta(minutes=45),
            repeat=timedelta(minutes=10),
            repeat_limit=3,
        ),
        Reminder("screens-off", "Screens off", at=time(22, 0)),
        Reminder("bedtime", "Bedtime", before=timedelta(0)),
    )
    return Routine(Bedtimes.uniform(time(22, 30)), kw.get("reminders", reminders))


def at(hh: int, mm: int, ss: int = 0, day: date = NIGHT) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=BERLIN)


def done(
    notified: int = 0,
    last_notified: datetime | None = None,
    acknowledged: bool = False,
    snoozed_until: datetime | None = None,
    missed: bool = False,
) -> ReminderNight:
    """A reminder's state on NIGHT; acknowledged at its last notification."""
    return ReminderNight(
        notified=notified,
        last_notified=last_notified,
        acknowledged=last_notified if acknowledged else None,
        snoozed_until=snoozed_until,
        missed=missed,
    )


def run(r: Routine, now: datetime, progress=None, changes=None) -> Decision:
    return decide(r, BERLIN, now, progress or {}, changes or {})


def test_on_time_reminder_is_sent_alone_and_next_tick_is_the_following_reminder():
    d = run(routine(), at(21, 30, 0))
    assert [s.key for s in d.sends] == [message_key(NIGHT, "wind-down")]
    assert d.sends[0].late == timedelta(0)
    assert d.next_at == at(21, 45)


def test_nothing_due_before_the_first_reminder():
    d = run(routine(), at(20, 0))
    assert d.sends == [] and d.missed == []
    assert d.next_at == at(21, 30)


def test_after_a_suspend_late_reminders_before_bedtime_come_as_one_notification():
    d = run(routine(), at(22, 10))
    assert len(d.sends) == 1
    send = d.sends[0]
    assert send.key == late_key(NIGHT)
    assert [o.reminder.id for o in send.occurrences] == ["wind-down", "magnesium", "screens-off"]
    assert d.missed == []


def test_after_bedtime_everything_unsent_is_missed_without_notification():
    d = run(routine(), at(23, 0))
    assert d.sends == []
    assert sorted(o.reminder.id for o in d.missed) == ["bedtime", "magnesium", "screens-off", "wind-down"]


def test_missed_is_not_logged_for_nights_long_past():
    # Started at 16:00 the next day: yesterday's reminders are not reported as missed now.
    d = run(routine(), at(16, 0, day=NIGHT + timedelta(days=1)))
    assert d.missed == []


def test_repeat_due_once_last_notification_predates_the_repeat_instant():
    notified = {(NIGHT, "magnesium"): done(notified=1, last_notified=at(21, 45))}
    d = run(routine(), at(21, 55), notified | {(NIGHT, "wind-down"): done(1, at(21, 30))})
    assert [(s.key, s.repeat) for s in d.sends] == [(message_key(NIGHT, "magnesium"), 1)]


def test_several_overdue_repeats_become_one():
    notified = {
        (NIGHT, "wind-down"): done(1, at(21, 30), acknowledged=True),
        (NIGHT, "magnesium"): done(1, at(21, 45)),
        (NIGHT, "screens-off"): done(1, at(22, 0), acknowledged=True),
    }
    d = run(routine(), at(22, 20), notified)
    assert [(s.key, s.repeat) for s in d.sends] == [(message_key(NIGHT, "magnesium"), 3)]


def test_repeats_stop_when_acknowledged_snoozed_or_at_bedtime():
    base = {
        (NIGHT, "wind-down"): done(1, at(21, 30), acknowledged=True),
        (NIGHT, "screens-off"): done(1, at(22, 0), acknowledged=True),
    }
    acked = base | {(NIGHT, "magnesium"): done(1, at(21, 45), acknowledged=True)}
    assert run(routine(), at(21, 55), acked).sends == []
    snoozed = base | {(NIGHT, "magnesium"): done(1, at(21, 45), snoozed_until=at(22, 5))}
    assert run(routine(), at(21, 55), snoozed).sends == []
    d = run(routine(), at(22, 5), snoozed)
    assert [(s.key, s.snoozed) for s in d.sends] == [(message_key(NIGHT, "magnesium"), True)]
    after_snooze = base | {
        (NIGHT, "magnesium"): done(2, at(22, 5), snoozed_until=at(22, 5)),
    }
    assert run(routine(), at(22, 15), after_snooze).sends == []


def test_a_snooze_the_log_alone_knows_stops_the_repeats_as_one_from_the_button_does():
    """A snooze from the command line or the phone, or any snooze after a restart, is known from
    the log: its fold forgot the snooze at its re-notification, and the 22:15 repeat came again
    (a snooze from the button, kept in memory, stopped them: one rule whatever the source)."""
    utc = ZoneInfo("UTC")

    def row(i: int, when: datetime, event: str, **details) -> Event:
        return Event(i, when.astimezone(utc), NIGHT, "magnesium", event, "daemon", details)

    rows = [
        row(1, at(21, 45), "notified", at=at(21, 45).astimezone(utc).isoformat(), repeat=0),
        row(2, at(21, 50), "snoozed", until=at(22, 5).astimezone(utc).isoformat()),
        row(3, at(22, 5), "notified", at=at(21, 45).astimezone(utc).isoformat(), repeat=1, snoozed=True),
    ]
    logged = fold(rows)
    assert logged.snoozed_until is not None and logged.notified == 2
    base = {
        (NIGHT, "wind-down"): done(1, at(21, 30), acknowledged=True),
        (NIGHT, "screens-off"): done(1, at(22, 0), acknowledged=True),
    }
    for now in (at(22, 15), at(22, 25)):
        assert run(routine(), now, base | {(NIGHT, "magnesium"): logged}).sends == []


def test_no_repeat_after_bedtime():
    r = routine(
        reminders=(
            Reminder("m", "M", before=timedelta(minutes=15), repeat=timedelta(minutes=10), repeat_limit=3),
        )
    )
    progress = {(NIGHT, "m"): done(1, at(22, 15))}
    assert [s.repeat for s in run(r, at(22, 25), progress).sends] == [1]
    progress = {(NIGHT, "m"): done(2, at(22, 25))}
    assert run(r, at(22, 35), progress).sends == []


def test_skipped_reminders_are_neither_sent_nor_missed():
    changes = {NIGHT: NightChanges(skip=frozenset({"wind-down"}))}
    d = run(routine(), at(21, 30), changes=changes)
    assert d.sends == []
    d = run(routine(), at(23, 0), changes={NIGHT: NightChanges(skip_all=True)})
    assert d.sends == [] and d.missed == []


def test_tonight_bedtime_change_moves_before_reminders():
    d = run(routine(), at(22, 30), changes={NIGHT: NightChanges(bedtime=time(23, 30))})
    on_time = [s.key for s in d.sends if s.late == timedelta(0)]
    assert on_time == [message_key(NIGHT, "wind-down")]


def test_after_midnight_bedtime_belongs_to_the_evening_before():
    r = Routine(Bedtimes.uniform(time(0, 30)), (Reminder("b", "B", before=timedelta(minutes=30)),))
    d = run(r, at(0, 0, day=NIGHT + timedelta(days=1)))
    assert [s.key for s in d.sends] == [message_key(NIGHT, "b")]


def _simulate(r: Routine, wakeups: list[datetime]) -> dict[str, list[int]]:
    """Apply each decision as the daemon would; return the repeat numbers sent per key."""
    progress: dict = {}
    sent: dict[str, list[int]] = {}
    for now in wakeups:
        d = run(r, now, progress)
        keys_this_tick = [s.key for s in d.sends]
        assert len(keys_this_tick) == len(set(keys_this_tick)), "one notification per key per wakeup"
        for s in d.sends:
            for o in s.occurrences:
                p = progress.get(o.key, NOTHING)
                progress[o.key] = replace(p, notified=p.notified + 1, last_notified=now)
                sent.setdefault(message_key(*o.key), []).append(s.repeat)
        for o in d.missed:
            assert o.key not in progress or not progress[o.key].notified
            progress[o.key] = replace(progress.get(o.key, NOTHING), missed=True)
    return sent


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=6 * 3600), min_size=1, max_size=40),
)
def test_any_wakeup_pattern_sends_each_reminder_once_and_repeats_in_order(offsets):
    start = at(20, 0)
    wakeups = sorted(start + timedelta(seconds=s) for s in offsets)
    sent = _simulate(routine(), wakeups)
    for key, repeats in sent.items():
        assert repeats.count(0) <= 1, f"{key} first-sent twice"
        assert repeats == sorted(repeats) and len(set(repeats)) == len(repeats), f"{key}: {repeats}"
        assert len(repeats) <= 4


def test_following_next_at_hits_every_instant_exactly():
    """Waking exactly when told to sends everything on time, with all repeats."""
    r = routine()
    progress: dict = {}
    now = at(20, 0)
    log = []
    for _ in range(30):
        d = run(r, now, progress)
        for s in d.sends:
            assert s.late == timedelta(0)
            for o in s.occurrences:
                p = progress.get(o.key, NOTHING)
                progress[o.key] = replace(p, notified=p.notified + 1, last_notified=now)
                log.append((now.strftime("%H:%M"), o.reminder.id, s.repeat))
        assert d.missed == []
        if d.next_at is None or d.next_at > at(23, 0):
            break
        now = d.next_at
    assert log == [
        ("21:30", "wind-down", 0),
        ("21:45", "magnesium", 0),
        ("21:55", "magnesium", 1),
        ("22:00", "screens-off", 0),
        ("22:05", "magnesium", 2),
        ("22:15", "magnesium", 3),
        ("22:30", "bedtime", 0),
    ]
