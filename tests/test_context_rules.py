"""The person's context, decided purely: busy -> deferred, away -> acknowledged, ignored -> escalated
(and, at the end, what of it reaches the screen through a daemon in this process)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sundown import config
from sundown.core.answers import snooze_refused
from sundown.core.context import (
    Attention,
    Context,
    Verdict,
    adjust,
    attention_of,
    locks_screen,
)
from sundown.core.dispatch import decide
from sundown.core.routine import Bedtimes, ContextRules, Reminder, Routine, Step
from sundown.core.state import ReminderNight
from sundown.errors import ConfigError

ZONE = ZoneInfo("Europe/Berlin")
NIGHT = date(2026, 11, 25)
M = timedelta(minutes=1)


def at(hh: int, mm: int, ss: int = 0) -> datetime:
    return datetime(NIGHT.year, NIGHT.month, NIGHT.day, hh, mm, ss, tzinfo=ZONE)


def routine(*reminders: Reminder, **rules) -> Routine:
    return Routine(Bedtimes.uniform(time(22, 30)), reminders, context=ContextRules(**rules))


def verdict(r: Routine, now: datetime, ctx: Context, progress=None, attention=None) -> Verdict:
    progress = progress or {}
    d = decide(r, ZONE, now, progress, {})
    return adjust(r, ZONE, now, d, progress, attention or {}, {}, ctx)


MG = Reminder("magnesium", "Magnesium", at=time(21, 45))


@pytest.mark.parametrize("reason", ["dnd", "presenting", "fullscreen"])
def test_a_reminder_due_while_busy_is_held_with_its_reason_until_max_defer(reason: str) -> None:
    v = verdict(routine(MG), at(21, 45), Context(**{reason: True}))
    assert v.sends == []
    assert [(h.reason, h.until) for h in v.held] == [(reason, at(22, 5))]
    assert v.next_at == at(22, 5)  # the max_defer deadline wakes the daemon


def test_once_the_busy_state_ends_the_held_reminder_goes_out_normally() -> None:
    v = verdict(routine(MG), at(21, 50), Context(dnd=False))
    assert [(s.key, u) for s, u in v.sends] == [("2026-11-25/magnesium", "normal")]
    assert v.sends[0][0].late == 5 * M  # lateness counts from its own time


def test_at_max_defer_it_goes_out_through_do_not_disturb_as_critical() -> None:
    v = verdict(routine(MG, max_defer=10 * M), at(21, 55), Context(dnd=True))
    assert [u for _, u in v.sends] == ["critical"] and v.held == []


def test_urgent_reminders_are_never_deferred_and_always_critical() -> None:
    urgent = replace(MG, urgent=True)
    for ctx in (Context(dnd=True), Context()):
        v = verdict(routine(urgent), at(21, 45), ctx)
        assert [u for _, u in v.sends] == ["critical"]


def test_quiet_ignore_keeps_the_clock_only_behaviour() -> None:
    v = verdict(routine(MG, quiet="ignore"), at(21, 45), Context(dnd=True, fullscreen=True))
    assert [u for _, u in v.sends] == ["normal"] and v.held == []


def test_unknown_context_is_the_clock_only_behaviour() -> None:
    v = verdict(routine(MG), at(21, 45), Context())
    assert [u for _, u in v.sends] == ["normal"] and v.acks == [] and v.escalations == []


# --- away ---------------------------------------------------------------------------------------

SCREENS = Reminder("screens-off", "Screens off", at=time(22, 0), done_when="idle")
LOCKED = Reminder("screens-off", "Screens off", at=time(22, 0), done_when="locked")
NOTIFIED = {(NIGHT, "screens-off"): ReminderNight(notified=1, last_notified=at(22, 0))}


def test_idle_acknowledges_at_the_start_of_the_idle_period_not_its_detection() -> None:
    ctx = Context(idle_since=at(22, 10), idle_known=True)
    v = verdict(routine(SCREENS), at(22, 15), ctx, NOTIFIED)
    assert [(a.source, a.at, a.notified) for a in v.acks] == [("idle", at(22, 10), True)]


def test_idle_shorter_than_the_threshold_is_not_away_and_says_when_to_look_again() -> None:
    ctx = Context(idle_since=at(22, 12), idle_known=True)
    v = verdict(routine(SCREENS), at(22, 15), ctx, NOTIFIED)
    assert v.acks == []
    assert v.idle_check_at == at(22, 17)
    assert "idle" in v.waits_on


def test_a_person_already_away_at_the_reminders_time_is_acknowledged_then_with_no_notification() -> None:
    ctx = Context(idle_since=at(21, 30), idle_known=True)
    v = verdict(routine(SCREENS), at(22, 0), ctx)
    assert v.sends == []
    assert [(a.at, a.notified) for a in v.acks] == [(at(22, 0), False)]


def test_locked_acknowledges_with_source_lock_at_the_lock_time() -> None:
    v = verdict(routine(LOCKED), at(22, 30), Context(locked=True, locked_since=at(22, 20)), NOTIFIED)
    assert [(a.source, a.at) for a in v.acks] == [("lock", at(22, 20))]
    v = verdict(routine(LOCKED), at(22, 0), Context(locked=True, locked_since=at(21, 0)))
    assert v.sends == [] and [(a.at, a.notified) for a in v.acks] == [(at(22, 0), False)]


def test_idle_before_the_reminders_time_does_not_acknowledge_it_early() -> None:
    ctx = Context(idle_since=at(21, 0), idle_known=True)
    v = verdict(routine(SCREENS), at(21, 59), ctx)
    assert v.acks == []


# --- escalation ---------------------------------------------------------------------------------

STEPS = (Step(10 * M, urgency="critical"), Step(20 * M, run=("loginctl", "lock-session")))
NAG = Reminder("magnesium", "Magnesium", at=time(21, 45), escalate=STEPS)
SEEN = {(NIGHT, "magnesium"): Attention(first_notified=at(21, 45))}
SHOWN = {(NIGHT, "magnesium"): ReminderNight(notified=1, last_notified=at(21, 45))}


def test_escalation_steps_fall_due_after_the_first_notification_once_each() -> None:
    v = verdict(routine(NAG), at(21, 50), Context(), SHOWN, SEEN)
    assert v.escalations == [] and v.next_at is not None and v.next_at <= at(21, 55)
    v = verdict(routine(NAG), at(21, 55), Context(), SHOWN, SEEN)
    assert [(e.index, e.step.urgency) for e in v.escalations] == [(0, "critical")]
    done = {k: replace(a, steps_done=frozenset({0})) for k, a in SEEN.items()}
    v = verdict(routine(NAG), at(21, 56), Context(), SHOWN, done)
    assert v.escalations == [] and v.next_at == at(22, 5)
    v = verdict(routine(NAG), at(22, 5), Context(), SHOWN, done)
    assert [e.index for e in v.escalations] == [1]


def test_escalation_stops_when_the_person_is_idle_or_locked() -> None:
    for ctx in (Context(idle_since=at(21, 46), idle_known=True), Context(locked=True)):
        v = verdict(routine(NAG), at(21, 55), ctx, SHOWN, SEEN)
        assert v.escalations == [] and v.stop_escalating == [(NIGHT, "magnesium")]


def test_escalation_stops_on_snooze_and_acknowledge() -> None:
    snoozed = {k: replace(p, snoozed_until=at(22, 30)) for k, p in SHOWN.items()}
    assert verdict(routine(NAG), at(21, 55), Context(), snoozed, SEEN).escalations == []
    acked = {k: replace(p, acknowledged=True) for k, p in SHOWN.items()}
    assert verdict(routine(NAG), at(21, 55), Context(), acked, SEEN).escalations == []


def test_escalation_ends_with_the_night() -> None:
    late_step = replace(NAG, escalate=(Step(timedelta(hours=11)),))
    seen = {(NIGHT, "magnesium"): Attention(first_notified=at(21, 45))}
    noon = datetime(2026, 11, 26, 12, 0, tzinfo=ZONE)
    assert verdict(routine(late_step), noon, Context(), SHOWN, seen).escalations == []


# --- urgency, and one notification per reminder and instant --------------------------------------

REPEATING = Reminder("magnesium", "Magnesium", at=time(21, 45), repeat=10 * M, repeat_limit=3)


def test_repeats_go_out_at_the_reminders_own_urgency_not_critical() -> None:
    """GNOME shows critical banners one at a time and never hides them: a critical repeat held
    every later banner back."""
    v = verdict(routine(REPEATING), at(21, 55), Context(), SHOWN, SEEN)
    assert [(s.repeat, u) for s, u in v.sends] == [(1, "normal")]
    v = verdict(routine(replace(REPEATING, urgent=True)), at(21, 55), Context(), SHOWN, SEEN)
    assert [(s.repeat, u) for s, u in v.sends] == [(1, "critical")]


def test_a_repeat_after_an_escalation_step_keeps_the_urgency_it_reached() -> None:
    nag = replace(REPEATING, escalate=(Step(5 * M, urgency="critical"),))
    escalated = {k: replace(a, steps_done=frozenset({0})) for k, a in SEEN.items()}
    v = verdict(routine(nag), at(21, 55), Context(), SHOWN, escalated)
    assert [(s.repeat, u) for s, u in v.sends] == [(1, "critical")] and v.escalations == []


def test_a_repeat_and_an_escalation_step_due_at_one_instant_are_one_notification() -> None:
    """KDE Plasma refuses a second similar notification within a second (and the example config's
    repeat = "10m" with a step after "10m" made two): the step rides on the repeat, louder."""
    nag = replace(REPEATING, escalate=STEPS)
    v = verdict(routine(nag), at(21, 55), Context(), SHOWN, SEEN)
    assert [(s.repeat, u) for s, u in v.sends] == [(1, "critical")]
    assert [(e.index, e.notify) for e in v.escalations] == [(0, None)]  # logged, shows nothing itself


def test_a_step_due_just_after_a_repeat_comes_with_it() -> None:
    """The step counts from the first notification, sent 19 ms after the reminder's time; the
    repeat from the reminder's time: the example config's repeat = "10m" with a step after "10m"
    were two notifications 19 ms apart, and Plasma refused the second."""
    nag = replace(REPEATING, escalate=STEPS)
    late = {k: replace(a, first_notified=at(21, 45) + timedelta(milliseconds=19)) for k, a in SEEN.items()}
    v = verdict(routine(nag), at(21, 55), Context(), SHOWN, late)
    assert [(s.repeat, u) for s, u in v.sends] == [(1, "critical")]
    assert [(e.index, e.notify) for e in v.escalations] == [(0, None)]
    # Without a repeat at this instant the step keeps its own time.
    alone = verdict(routine(NAG), at(21, 55), Context(), SHOWN, late)
    assert alone.escalations == [] and alone.next_at == at(21, 55) + timedelta(milliseconds=19)
    # A step that runs a command gives the repeat its urgency, and runs its command at its own
    # time (a lock is never pulled forward), with no notification of its own then: Plasma
    # refused a second one 19 ms after the repeat ("ExcessNotificationGeneration").
    locking = replace(
        REPEATING, escalate=(Step(10 * M, urgency="critical", run=("loginctl", "lock-session")),)
    )
    v = verdict(routine(locking), at(21, 55), Context(), SHOWN, late)
    assert v.escalations == [] and [(s.repeat, u) for s, u in v.sends] == [(1, "critical")]
    assert v.next_at == at(21, 55) + timedelta(milliseconds=19)
    repeated = {k: replace(p, notified=2, repeats=1, last_notified=at(21, 55)) for k, p in SHOWN.items()}
    v = verdict(routine(locking), v.next_at, Context(), repeated, late)
    assert v.sends == [] and [(e.index, e.step.run, e.notify) for e in v.escalations] == [
        (0, ("loginctl", "lock-session"), None)
    ]
    # A repeat not sent before the step's time (a late tick) goes out with it: one notification.
    v = verdict(routine(locking), at(21, 55) + timedelta(milliseconds=19), Context(), SHOWN, late)
    assert [(s.repeat, u) for s, u in v.sends] == [(1, "critical")]
    assert [(e.index, e.notify) for e in v.escalations] == [(0, None)]
    # Further than TOGETHER after the repeat: the step is a notification of its own, as ever.
    far = {k: replace(a, first_notified=at(21, 47)) for k, a in SEEN.items()}
    v = verdict(routine(locking), at(21, 55), Context(), SHOWN, far)
    assert [u for _, u in v.sends] == ["normal"] and v.next_at == at(21, 57)
    v = verdict(routine(locking), at(21, 57), Context(), repeated, far)
    assert [(e.index, e.notify) for e in v.escalations] == [(0, "critical")]


def test_a_snooze_that_ends_with_a_repeat_and_a_step_is_one_notification() -> None:
    """A snooze's end at the instant a repeat and an escalation step fall due: one notification.
    A snooze is an answer: the repeats and the steps stop, so the snooze's end goes out alone,
    at the reminder's own urgency (critical when `urgent`), and nothing follows it 19 ms later."""
    nag = replace(REPEATING, escalate=STEPS)
    snoozed = {k: replace(p, snoozed_until=at(21, 55)) for k, p in SHOWN.items()}
    once = {k: replace(a, snoozes=1) for k, a in SEEN.items()}
    for reminder, urgency in ((nag, "normal"), (replace(nag, urgent=True), "critical")):
        v = verdict(routine(reminder), at(21, 55), Context(), snoozed, once)
        assert [(s.snoozed, u) for s, u in v.sends] == [(True, urgency)] and v.escalations == []
    late = {k: replace(a, first_notified=at(21, 45) + timedelta(milliseconds=19)) for k, a in once.items()}
    v = verdict(routine(nag), at(21, 55), Context(), snoozed, late)
    assert [(s.snoozed, u) for s, u in v.sends] == [(True, "normal")] and v.escalations == []
    sent = {k: replace(p, notified=2, last_notified=at(21, 55)) for k, p in snoozed.items()}
    v = verdict(routine(nag), at(21, 55) + timedelta(milliseconds=19), Context(), sent, late)
    assert v.sends == [] and v.escalations == []
    # The same as the log folds it (a notification after the snooze clears its `until`): a snooze
    # from the command line or the phone, which the daemon does not remember, or after a restart.
    # The steps stopped all the same (they once resumed: a critical notification 19 ms after the
    # snooze's end, which Plasma refused).
    folded = {k: replace(p, snoozed_until=None) for k, p in sent.items()}
    v = verdict(routine(nag), at(21, 55) + timedelta(milliseconds=19), Context(), folded, late)
    assert v.sends == [] and v.escalations == []
    assert verdict(routine(nag), at(22, 20), Context(), folded, late).escalations == []  # the lock too


def test_an_escalation_step_due_alone_shows_one_notification_with_the_loudest_urgency() -> None:
    v = verdict(routine(NAG), at(21, 55), Context(), SHOWN, SEEN)
    assert v.sends == [] and [(e.index, e.notify) for e in v.escalations] == [(0, "critical")]
    # Woken long after both were due (a suspend): both steps happen, one notification.
    two = replace(NAG, escalate=(Step(10 * M, urgency="normal"), Step(12 * M, urgency="critical")))
    v = verdict(routine(two), at(22, 0), Context(), SHOWN, SEEN)
    assert [(e.index, e.notify) for e in v.escalations] == [(0, "critical"), (1, None)]
    runs = replace(NAG, escalate=(Step(10 * M, run=("true",)),))
    v = verdict(routine(runs), at(21, 55), Context(), SHOWN, SEEN)
    assert [(e.index, e.notify) for e in v.escalations] == [(0, None)]  # a command only


def test_a_snooze_that_ends_during_do_not_disturb_is_held_and_announced_again() -> None:
    """Its first send was deferred (and announced) already: the snooze's end is a new hold, with
    its own `until`, and gets its own `deferred` row instead of going out at max_defer unannounced."""
    snoozed = {k: replace(p, snoozed_until=at(22, 10)) for k, p in SHOWN.items()}
    first_hold = {k: replace(a, deferred=True, deferred_until=at(22, 5)) for k, a in SEEN.items()}
    v = verdict(routine(MG), at(22, 10), Context(dnd=True), snoozed, first_hold)
    assert v.sends == [] and [(h.until, h.announce) for h in v.held] == [
        (at(22, 30), ((NIGHT, "magnesium"),))
    ]
    announced = {k: replace(a, deferred_until=at(22, 30)) for k, a in first_hold.items()}
    v = verdict(routine(MG), at(22, 12), Context(dnd=True), snoozed, announced)
    assert [(h.until, h.announce) for h in v.held] == [(at(22, 30), ())]  # once per hold
    v = verdict(routine(MG), at(22, 30), Context(dnd=True), snoozed, announced)
    assert [(s.snoozed, u) for s, u in v.sends] == [(True, "critical")]  # through DND at max_defer


def test_a_hold_is_announced_once() -> None:
    v = verdict(routine(MG), at(21, 45), Context(dnd=True))
    assert [h.announce for h in v.held] == [((NIGHT, "magnesium"),)]
    seen = {(NIGHT, "magnesium"): Attention(deferred=True, deferred_until=at(22, 5))}
    assert [h.announce for h in verdict(routine(MG), at(21, 50), Context(dnd=True), attention=seen).held] == [
        ()
    ]


class Ev:
    def __init__(self, event: str, reminder: str, ts: datetime, **details) -> None:
        self.event, self.reminder, self.ts, self.details = event, reminder, ts, details


def test_attention_is_folded_from_the_log() -> None:
    events = [
        Ev("deferred", "magnesium", at(21, 45), reason="dnd"),
        Ev("notified", "magnesium", at(21, 50)),
        Ev("notified", "magnesium", at(22, 0), repeat=1),
        Ev("escalated", "magnesium", at(22, 0), step=1),
        Ev("snoozed", "magnesium", at(22, 1)),
    ]
    a = attention_of(NIGHT, events)[(NIGHT, "magnesium")]
    assert a == Attention(first_notified=at(21, 50), steps_done=frozenset({0}), snoozes=1, deferred=True)
    later = [*events, Ev("deferred", "magnesium", at(22, 11), reason="dnd", until=at(22, 31).isoformat())]
    assert attention_of(NIGHT, later)[(NIGHT, "magnesium")].deferred_until == at(22, 31)
    bad = [
        Ev("deferred", "magnesium", at(22, 11), until="tomorrow"),
        Ev("deferred", "tea", at(22, 1), until=7),
    ]
    assert {a.deferred_until for a in attention_of(NIGHT, bad).values()} == {None}  # a row is never trusted


def test_snooze_limit_and_lock_commands() -> None:
    assert not snooze_refused(None, 99)
    assert not snooze_refused(2, 1) and snooze_refused(2, 2) and snooze_refused(0, 0)
    assert locks_screen(("loginctl", "lock-session"))
    assert locks_screen(("xdg-screensaver", "lock"))
    assert not locks_screen(("notify-send", "hi"))


# --- config -------------------------------------------------------------------------------------

FULL = """
[bedtime]
default = "22:30"
[context]
quiet = "ignore"
max_defer = "15m"
idle = "3m"
[reminders.screens-off]
at = "22:00"
done_when = "idle"
urgent = true
snooze_limit = 2
escalate = [
  { after = "10m", urgency = "critical" },
  { after = "20m", run = ["loginctl", "lock-session"] },
]
"""


def test_context_keys_are_read_into_the_routine() -> None:
    r = config.parse(FULL, "c.toml")
    assert r.context == ContextRules("ignore", 15 * M, 3 * M)
    s = r.reminder("screens-off")
    assert s is not None
    assert (s.done_when, s.urgent, s.snooze_limit) == ("idle", True, 2)
    assert s.escalate == STEPS


def test_defaults_without_a_context_table() -> None:
    r = config.parse('[bedtime]\ndefault = "22:30"\n[reminders.a]\nat = "22:00"\n', "c.toml")
    assert r.context == ContextRules("defer", 20 * M, 5 * M)
    a = r.reminder("a")
    assert a is not None and (a.done_when, a.urgent, a.snooze_limit, a.escalate) == (None, False, None, ())


def test_every_bad_step_is_reported_with_its_line() -> None:
    text = (
        '[bedtime]\ndefault = "22:30"\n[reminders.a]\nat = "22:00"\nescalate = [\n'
        '  { after = "10m" },\n'
        '  { after = "5m", run = [1] , urgency = "loud"},\n'
        "  3,\n"
        "]\n"
    )
    with pytest.raises(ConfigError) as info:
        config.parse(text, "c.toml")
    problems = info.value.problems
    assert any(p.startswith("c.toml:6: reminders.a.escalate: step 1 does nothing") for p in problems)
    assert any(p.startswith("c.toml:7: reminders.a.escalate: step 2: urgency:") for p in problems)
    assert any(p.startswith("c.toml:7: reminders.a.escalate: step 2: run:") for p in problems)
    assert any(p.startswith("c.toml:8: reminders.a.escalate: step 3:") for p in problems)


# --- stats: a measured lights out is shown as what it is ----------------------------------------


def test_stats_report_idle_and_lock_acknowledgements_as_measured_lights_out(tmp_path) -> None:
    from sundown.reports import report, stats, terminal
    from sundown.store.log import EventLog

    bed = Reminder("bedtime", "Lights out", before=timedelta(0), done_when="idle")
    r = Routine(Bedtimes.uniform(time(22, 30)), (bed,))
    first, second = NIGHT, NIGHT + timedelta(days=1)
    with EventLog(tmp_path / "sundown.db") as log:
        for night, source, minutes in ((first, "idle", 20), (second, "cli", 5)):
            planned = datetime(night.year, night.month, night.day, 22, 30, tzinfo=ZONE)
            log.record("notified", night, "bedtime", "daemon", {"at": planned.isoformat()}, ts=planned)
            log.record("acknowledged", night, "bedtime", source, {}, ts=planned + minutes * M)
        now = datetime(2026, 11, 27, 9, 0, tzinfo=ZONE)
        result = stats.from_log(log, r, ZONE, second, 2, now)
    nights = result.to_json()["nights"]
    assert nights[0]["bedtime_measured"] == "idle" and nights[0]["bedtime_acknowledged"].endswith(
        "22:50:00+01:00"
    )
    assert "bedtime_measured" not in nights[1]  # typed `sundown ack`: not measured
    chart = "\n".join(terminal.render_bedtimes(result, ZONE, 100))
    assert "o measured" in chart and "22:30 -> 22:50 (+20m) idle" in chart
    html = report.render(result, ZONE, now)
    assert "measured: the screen went idle" in html and 'fill="white"' in html


def test_a_reminder_at_bedtime_deferred_is_not_missed_before_max_defer() -> None:
    bed = Reminder("bedtime", "Lights out", before=timedelta(0))
    r = routine(bed)
    deferred = {(NIGHT, "bedtime"): Attention(deferred=True)}
    busy = Context(dnd=True)
    v = verdict(r, at(22, 35), busy, attention=deferred)
    assert v.missed == [] and [h.until for h in v.held] == [at(22, 50)]
    v = verdict(r, at(22, 40), Context(dnd=False), attention=deferred)
    assert [(s.key, u) for s, u in v.sends] == [("2026-11-25/bedtime", "normal")] and v.missed == []
    v = verdict(r, at(22, 50), busy, attention=deferred)
    assert [u for _, u in v.sends] == ["critical"]
    v = verdict(r, at(22, 55), busy, attention=deferred)
    assert v.sends == [] and [o.reminder.id for o in v.missed] == ["bedtime"]
    assert [o.reminder.id for o in verdict(r, at(22, 35), busy).missed] == ["bedtime"]  # never deferred


# --- what reaches the screen: the daemon in this process -------------------------------------------

DIMMING = """\
timezone = "Europe/Berlin"
[bedtime]
default = "22:30"
[reminders.magnesium]
at = "21:45"
repeat = "10m"
repeat_limit = 3
escalate = [{ after = "10m", urgency = "critical", run = ["xset", "dpms", "force", "off"] }]
"""


def test_a_command_step_19_ms_after_a_repeat_runs_its_command_and_shows_nothing_more(sandbox) -> None:
    """The daemon's side of the rule: the repeat goes out critical, and the step at its own time,
    19 ms later, runs its command with no second Notify (Plasma refused that one)."""
    from support.in_process import in_process_daemon
    from support.sandbox import FakeClock

    sandbox.write_config(DIMMING)
    clock = FakeClock(at(21, 45) + timedelta(milliseconds=19))  # the first notification, 19 ms late
    daemon = in_process_daemon(clock)
    shown: list[tuple[str, str]] = []
    ran: list[tuple[datetime, tuple[str, ...]]] = []
    deliver = daemon.screen.deliver

    def seen(message):  # every notification the daemon shows (a reminder, a step, a notice)
        shown.append((message.title, message.urgency))
        return deliver(message)

    daemon.screen.deliver = seen  # type: ignore[method-assign]
    daemon.commands.start = lambda rid, argv, config: ran.append((clock.now, argv))  # type: ignore[method-assign]
    try:
        for instant in (clock.now, at(21, 55), at(21, 55) + timedelta(milliseconds=19)):
            clock.now = instant
            daemon.tick()
        assert shown == [("Magnesium", "normal"), ("Magnesium", "critical")]  # the first, the repeat
        assert ran == [(at(21, 55) + timedelta(milliseconds=19), ("xset", "dpms", "force", "off"))]
        [step] = [e for e in daemon.ledger.night_events(NIGHT) if e.event == "escalated"]
        assert step.details["step"] == 1 and step.details["urgency"] == "critical"
    finally:
        daemon.stop()
