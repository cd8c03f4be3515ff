"""Numbers from the log (docs/stats.md): adherence, streaks, delays, bedtimes. No I/O, no printing.

Everything is computed from per-(night, reminder) aggregates of the log
(`state.ReminderNight`), the nights' changes (`tonight`, `skip`), the routine, its
zone and an explicit `now`, so the numbers are tested with hand-made logs.

Rules (also in docs/stats.md):
- Nights before the log's first event do not count (sundown was not in use yet).
- A reminder of the current config counts by the config, except before its first
  mention in the log on nights when the daemon was running (the daemon logs every
  due reminder, so it was not in the routine yet) and on backfilled nights: those
  before the first row written as it happened (`ack --at` fills them in later), where
  a reminder added since has no rows. A reminder no longer in the config counts on
  the nights the log has events for it.
- An acknowledgement wins over a skip (the night counts as acknowledged).
- "missed" = scheduled, not skipped, not acknowledged, and its night's bedtime (or
  its own time, if later) has passed or the daemon logged it `missed`; before that
  it is "open" (still counted in the adherence denominator).
- Delays below zero (acknowledged before the reminder was due) count as 0.
- p90 is the nearest-rank percentile: a delay that actually happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from sundown.core import activity
from sundown.core.activity import SpanRow
from sundown.core.plan import NO_CHANGES, ONE_DAY, NightChanges, NightPlan, night_plan
from sundown.core.routine import Routine
from sundown.core.state import ReminderNight
from sundown.store.log import EventLog

# An acknowledgement within this delay is "on time"; later ones are "late" (charts only).
ON_TIME = timedelta(minutes=15)
ON_TIME_S = ON_TIME.total_seconds()
BEDTIME_ID = "bedtime"

# Cell statuses, one per reminder per night.
NONE = "none"  # not scheduled (not configured that night, before it existed)
ACK = "ack"  # acknowledged within ON_TIME
LATE = "late"  # acknowledged later
MISSED = "missed"
OPEN = "open"  # due, not acknowledged yet, its night still running
SKIPPED = "skipped"
# Not due yet (later tonight), skipped or not: not scheduled yet, so not counted, but shown as such.
PENDING = "pending"
SKIPPED_AHEAD = "skipped_ahead"
STATUSES = (ACK, LATE, MISSED, OPEN, SKIPPED, PENDING, SKIPPED_AHEAD, NONE)
UNCOUNTED = (NONE, PENDING, SKIPPED_AHEAD)


class Cell(NamedTuple):
    """One reminder on one night (a tuple: a 10-year window has tens of thousands)."""

    status: str
    delay_s: float | None = None


def acknowledged(delay_s: float) -> Cell:
    """An acknowledged reminder's cell: on time or late by its delay. Made in C (`Cell(...)` runs
    a Python `__new__`, three times dearer): ten years have 20,000 of them."""
    return tuple.__new__(Cell, (ACK if delay_s <= ON_TIME_S else LATE, delay_s))


SKIPPED_CELL = Cell(SKIPPED)
MISSED_CELL = Cell(MISSED)
OPEN_CELL = Cell(OPEN)
PENDING_CELL = Cell(PENDING)
SKIPPED_AHEAD_CELL = Cell(SKIPPED_AHEAD)


@dataclass
class ReminderStats:
    id: str
    title: str
    configured: bool  # still in the current config
    cells: list[Cell] = field(default_factory=list)  # one per night of the window
    scheduled: int = 0
    acknowledged: int = 0
    skipped: int = 0
    missed: int = 0
    open: int = 0
    repeats: int = 0
    current_streak: int = 0
    longest_streak: int = 0
    delays: list[float] = field(default_factory=list)

    @property
    def adherence(self) -> float | None:
        denominator = self.scheduled - self.skipped
        return self.acknowledged / denominator if denominator > 0 else None

    @property
    def median_delay_s(self) -> float | None:
        return _whole(median(self.delays)) if self.delays else None

    @property
    def p90_delay_s(self) -> float | None:
        return _whole(percentile(self.delays, 0.9)) if self.delays else None

    def to_json(self) -> dict[str, Any]:
        return {
            "scheduled": self.scheduled,
            "acknowledged": self.acknowledged,
            "skipped": self.skipped,
            "missed": self.missed,
            "adherence": self.adherence,
            "current_streak": self.current_streak,
            "longest_streak": self.longest_streak,
            "median_delay_s": self.median_delay_s,
            "p90_delay_s": self.p90_delay_s,
            "repeats": self.repeats,
            "open": self.open,
            "title": self.title,
        }


@dataclass(slots=True)
class NightBedtime:
    """One night's bedtime, planned and as it went. A value, never changed in place; not frozen,
    with slots, as `ReminderNight`: ten years are 3,650 of them and a frozen init costs 5x."""

    night: date
    planned: datetime | None
    acknowledged: datetime | None  # lights out: the acknowledgement of the `bedtime` reminder
    # "idle" | "lock": that acknowledgement was measured (the screen went idle or locked,
    # `done_when`), not clicked; None: clicked, typed, or no acknowledgement.
    measured: str | None = None
    # The evening as it was (core/activity.py), measured, never clicked: None where unknown.
    lights_out: datetime | None = None  # the screens went off (idle, locked, asleep) for good
    active_after_bedtime_s: int | None = None
    in_bed: datetime | None = None  # the phone's sleep app started tracking
    awake: datetime | None = None  # the phone's alarm dismissed
    # on_time | late | never (the screens stayed on) | None (nothing measured, or not over yet)
    lights_out_status: str | None = None

    @property
    def went_to_bed(self) -> datetime | None:
        """Lights out as measured: the phone's in-bed time where it has one, else the screens'."""
        return self.in_bed or self.lights_out

    def to_json(self) -> dict[str, Any]:
        """One of `stats --json`'s `nights` (docs/stats.md); the optional keys in their place."""
        row: dict[str, Any] = {
            "night": self.night.isoformat(),
            "bedtime_planned": _iso(self.planned),
            "bedtime_acknowledged": _iso(self.acknowledged),
        }
        if self.measured:  # "idle" | "lock" where lights out was measured, not clicked (docs/context.md)
            row["bedtime_measured"] = self.measured
        row["lights_out"] = _iso(self.lights_out)
        row["active_after_bedtime_s"] = self.active_after_bedtime_s
        if self.in_bed:
            row["in_bed"] = _iso(self.in_bed)
        if self.awake:
            row["awake"] = _iso(self.awake)
        return row


@dataclass
class LightsOut:
    """Measured lights out over the range, against the planned bedtime (per routine)."""

    nights: int = 0  # nights with a measured lights out (screens or phone)
    median_after_bedtime_s: float | None = None  # below zero: before the planned bedtime
    within: int = 0  # nights with lights out at most ON_TIME after the planned bedtime (or earlier)
    current_streak: int = 0
    longest_streak: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "nights": self.nights,
            "median_after_bedtime_s": self.median_after_bedtime_s,
            f"within_{ON_TIME // timedelta(minutes=1)}m": self.within,
            "current_streak": self.current_streak,
            "longest_streak": self.longest_streak,
        }


@dataclass
class Stats:
    first: date
    until: date
    nights: list[date]
    reminders: dict[str, ReminderStats]
    bedtimes: list[NightBedtime]
    lights_out: LightsOut = field(default_factory=LightsOut)

    def to_json(self) -> dict[str, Any]:
        """The object of `sundown stats --json` (docs/stats.md)."""
        return {
            "from": self.first.isoformat(),
            "until": self.until.isoformat(),
            "reminders": {rid: r.to_json() for rid, r in self.reminders.items()},
            "nights": [b.to_json() for b in self.bedtimes],
            "lights_out": self.lights_out.to_json(),
        }


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _whole(x: float) -> float:
    """Whole seconds: the log's microseconds are noise in a delay."""
    return float(round(x))


def median(values: Sequence[float]) -> float:
    """The middle value, or the mean of the two in the middle: `statistics.median`, without
    importing it (with fractions, decimal and random: 1.5 ms of every `stats`)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 < q <= 1)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(q * len(ordered)) - 1, 0)]


def window(until: date, days: int) -> tuple[date, date]:
    if days < 1:
        raise ValueError("days must be at least 1")
    return until - (days - 1) * ONE_DAY, until


def compute(
    routine: Routine,
    zone: tzinfo,
    first: date,
    until: date,
    now: datetime,
    by_night: Mapping[date, Mapping[str, ReminderNight]],
    changes: Mapping[date, NightChanges],
    first_nights: Mapping[str, date],
    log_start: date | None,
    measured: Mapping[tuple[date, str], str] | None = None,
    live_start: date | None = None,
    spans: Mapping[date, Sequence[SpanRow]] | None = None,
    phone: Mapping[date, Sequence[tuple[str, int]]] | None = None,
) -> Stats:
    """Stats of the nights first..until as seen at `now`.

    `by_night` holds the log's summaries per night and reminder; `first_nights` is the
    first night the log mentions each reminder, `log_start` the first night of the
    whole log, `live_start` the first night with a row written as it happened (nights
    before it are backfilled; None: none is; see the module docstring for their use).
    `spans` and `phone` are the nights' activity spans and the phone's `in_bed`/`awake`
    (core/activity.py).

    Each night is reckoned on its own (`night_result`), then the range is summed up
    (`assemble`): the per-night cache (reports/night_cache.py) keeps the former.
    """
    nights = nights_between(first, until)
    evenings, contexts = contexts_of(routine, nights, first_nights, log_start, live_start)
    rows = NightRows(
        dict(by_night), dict(changes), dict(measured or {}), dict(spans or {}), dict(phone or {})
    )
    results = [
        rows.result(routine, zone, now, evenings, night, context)
        for night, context in zip(nights, contexts, strict=True)
    ]
    return assemble(routine, first, until, nights, results)


def nights_between(first: date, last: date) -> list[date]:
    """The nights first..last, in order."""
    return [first + k * ONE_DAY for k in range((last - first).days + 1)]


@dataclass(slots=True)
class NightRows:
    """The log's rows the nights are reckoned from, by night: read a range at a time (the whole
    window, or only the nights the per-night cache does not keep)."""

    by_night: dict[date, Mapping[str, ReminderNight]] = field(default_factory=dict)
    changes: dict[date, NightChanges] = field(default_factory=dict)
    measured: dict[tuple[date, str], str] = field(default_factory=dict)
    spans: dict[date, Sequence[SpanRow]] = field(default_factory=dict)
    phone: dict[date, Sequence[tuple[str, int]]] = field(default_factory=dict)

    def read(self, log: EventLog, first: date, last: date) -> None:
        """Add the rows of the nights first..last."""
        self.by_night.update(log.summaries_by_night(first, last))
        self.changes.update(log.changes_between(first, last))
        self.measured.update(log.measured_acknowledgements(first, last, BEDTIME_ID))  # all a night asks
        self.spans.update(log.spans_between(first, last))
        self.phone.update(log.phone_between(first, last))

    def result(
        self,
        routine: Routine,
        zone: tzinfo,
        now: datetime,
        evenings: Sequence[tuple[str, ...]],
        night: date,
        context: NightContext,
    ) -> NightResult:
        """`night_result` of `night` from these rows."""
        return night_result(
            routine,
            zone,
            night,
            now,
            evenings[night.weekday()],
            context,
            self.by_night.get(night, NO_ROWS),
            self.changes.get(night, NO_CHANGES),
            self.measured.get((night, BEDTIME_ID)),
            self.spans.get(night),
            self.phone.get(night),
        )


class NightResult(NamedTuple):
    """What one night adds to the range's stats: all `assemble` needs of it, and all the cache keeps.

    `cells` holds the reminders scheduled or mentioned that night (the others are "not
    scheduled"); `mentioned` the reminders the log has rows for; `settled`: `now` has passed every
    instant the night was judged against, so a later `now` reckons it the same.
    """

    bedtime: NightBedtime | None  # None: a night that does not exist locally (Pacific/Apia 2011-12-30)
    cells: dict[str, Cell]
    repeats: dict[str, int]
    mentioned: tuple[str, ...]
    settled: bool


# What a night's reckoning takes from the rest of the log: whether the log had begun and whether
# the night is backfilled, and which of the evening's configured reminders had no row yet on any
# night up to it (not in the routine yet). A tuple, compared as it is stored.
NightContext = tuple[bool, bool, tuple[str, ...]]
NO_ROWS: Mapping[str, ReminderNight] = {}  # a night the log has no summary for


def evening_reminders(routine: Routine) -> list[tuple[str, ...]]:
    """The configured reminders of each weekday's evening (index 0 = Monday)."""
    return [tuple(r.id for r in routine.reminders if r.runs_on(weekday)) for weekday in range(7)]


def contexts_of(
    routine: Routine,
    nights: Sequence[date],
    first_nights: Mapping[str, date],
    log_start: date | None,
    live_start: date | None,
) -> tuple[list[tuple[str, ...]], list[NightContext]]:
    """Each weekday's configured reminders, and each night's context; `first_nights`: the first
    night the log mentions each reminder."""
    evenings = evening_reminders(routine)
    starts = {rid: first_nights.get(rid, date.max) for ids in evenings for rid in ids}
    return evenings, night_contexts(nights, evenings, starts, log_start, live_start)


def night_contexts(
    nights: Sequence[date],
    evenings: Sequence[tuple[str, ...]],
    starts: Mapping[str, date],
    log_start: date | None,
    live_start: date | None,
) -> list[NightContext]:
    """`night_context` of each night: one and the same once the log has begun, no night is
    backfilled and every configured reminder has been seen (most of a long log)."""
    steady: NightContext = (True, False, ())
    since = max((log_start or date.max, live_start or date.min, *starts.values()))
    return [
        steady if night >= since else night_context(night, evenings, starts, log_start, live_start)
        for night in nights
    ]


def night_context(
    night: date,
    evenings: Sequence[tuple[str, ...]],
    starts: Mapping[str, date],
    log_start: date | None,
    live_start: date | None,
) -> NightContext:
    """The night's `NightContext`; `starts`: each configured reminder's first night in the log."""
    return (
        log_start is not None and night >= log_start,
        live_start is not None and night < live_start,
        tuple(rid for rid in evenings[night.weekday()] if night < starts[rid]),
    )


def night_result(
    routine: Routine,
    zone: tzinfo,
    night: date,
    now: datetime,
    evening: tuple[str, ...],
    context: NightContext,
    per: Mapping[str, ReminderNight],
    c: NightChanges,
    measured: str | None,
    night_spans: Sequence[SpanRow] | None,
    night_phone: Sequence[tuple[str, int]] | None,
) -> NightResult:
    """One night reckoned: each reminder's cell, the bedtime as planned and as it went.

    `evening`: the configured reminders of the night's weekday (`evening_reminders`).

    A night's plan is computed only when the log does not already say when its reminders and
    bedtime were due (the common case in a long log).
    """
    in_use, backfilled, not_yet = context
    skip_all = c.skip_all or night in routine.skip_dates
    skip = c.skip
    plan: NightPlan | None = None
    settled = True  # turns False at the first instant still ahead of `now`
    # One pass over the night's summaries: the bedtime the daemon planned with at the time
    # (with the notification first made last; the config may have changed since), and whether
    # the daemon ran (it notified, or logged something missed).
    logged_bed = latest = None
    daemon_ran = False
    for x in per.values():
        if x.notified or x.missed:
            daemon_ran = True
        if x.planned_bedtime and x.first_notified and (latest is None or x.first_notified > latest):
            latest, logged_bed = x.first_notified, x.planned_bedtime
    if c.chosen:
        logged_bed = None  # the person chose tonight's bedtime: the plan has it
    # A configured reminder the log says nothing about tonight counts by the config, except
    # before the log began, and before its first mention on a night when the daemon was
    # running (it logs every due reminder, so it was not in the routine yet).
    silent = (
        {rid for rid in evening if rid not in per and not ((daemon_ran or backfilled) and rid in not_yet)}
        if in_use
        else set()
    )
    mentioned = tuple(per)
    planned_at: dict[str, datetime] = {}
    if logged_bed is None or silent:
        plan = night_plan(routine, night, zone, c)
        if plan is None:  # a night that does not exist locally (Pacific/Apia 2011-12-30)
            return NightResult(None, {}, {}, mentioned, True)
        planned_at = {o.reminder.id: o.at for o in plan.occurrences}
        bedtime = plan.bedtime
    if logged_bed is not None:
        bedtime = logged_bed.astimezone(zone)
    lights_out = per[BEDTIME_ID].acknowledged if BEDTIME_ID in per else None
    as_it_was = NOTHING_MEASURED
    if night_spans or night_phone:
        now_s = activity.epoch(now)
        until = activity.until_epoch(routine, night, zone)
        as_it_was = _as_it_was(bedtime, until, zone, now_s, night_spans, night_phone)
        settled = now_s >= until
    bedtime_row = NightBedtime(
        night,
        bedtime,
        lights_out.astimezone(zone) if lights_out else None,
        measured if lights_out else None,
        *as_it_was,
    )

    cells: dict[str, Cell] = {}
    repeats: dict[str, int] = {}
    for rid in (*per, *(rid for rid in silent if rid not in per)):
        s = per.get(rid)
        at: datetime | None = None  # parsed only when needed
        if s is None:
            at = planned_at.get(rid)
            if at is None:
                continue  # not scheduled
            if at > now:  # later tonight: not scheduled yet
                cells[rid] = SKIPPED_AHEAD_CELL if skip_all or rid in skip else PENDING_CELL
                settled = False
                continue
        else:
            if not (s.notified or s.acknowledged or s.missed):
                # Only a skip or snooze so far: scheduled once its time has passed.
                at = _scheduled(rid, s, planned_at, plan, routine, night, zone, c, now)
                if at > now:
                    cells[rid] = SKIPPED_AHEAD_CELL if skip_all or rid in skip else PENDING_CELL
                    settled = False
                    continue
            if s.repeats:
                repeats[rid] = s.repeats
            if s.acknowledged is not None:
                if s.first_notified:
                    start = s.first_notified
                else:
                    start = at or _scheduled(rid, s, planned_at, plan, routine, night, zone, c, now)
                delay = (s.acknowledged - start).total_seconds()
                if delay < 0:
                    delay = 0.0
                cells[rid] = acknowledged(delay)
                continue
        if skip_all or rid in skip:
            cells[rid] = SKIPPED_CELL
            continue
        if s is not None:
            if s.missed:
                cells[rid] = MISSED_CELL
                continue
            if at is None:
                at = _scheduled(rid, s, planned_at, plan, routine, night, zone, c, now)
        assert at is not None
        if now >= bedtime and now >= at:
            cells[rid] = MISSED_CELL
        else:
            cells[rid] = OPEN_CELL
            settled = False
    return NightResult(bedtime_row, cells, repeats, mentioned, settled)


def assemble(
    routine: Routine, first: date, until: date, nights: list[date], results: Sequence[NightResult]
) -> Stats:
    """The range's stats from its nights' results (one per night of `nights`, in order): each
    reminder's cells, counts and streaks, the bedtimes, the range's measured lights out."""
    titles = {r.id: r.title for r in routine.reminders}
    mentioned = set().union(*(result.mentioned for result in results))
    for rid in sorted(mentioned - titles.keys()):
        titles[rid] = rid.replace("-", " ").replace("_", " ").capitalize()
    # Column by column (a comprehension each): ten years are 3,652 nights of 6 reminders.
    none = Cell(NONE)
    cells = {rid: [result.cells.get(rid, none) for result in results] for rid in titles}
    delays = {rid: [c.delay_s for c in column if c.delay_s is not None] for rid, column in cells.items()}
    repeats = dict.fromkeys(titles, 0)
    for result in results:
        for rid, n in result.repeats.items():
            if rid in repeats:
                repeats[rid] += n
    bedtimes = [result.bedtime for result in results if result.bedtime is not None]
    configured = {r.id for r in routine.reminders}
    reminders = {rid: _tally(rid, title, rid in configured, cells[rid], delays[rid], repeats[rid])
                 for rid, title in titles.items()}  # fmt: skip
    return Stats(first, until, nights, reminders, bedtimes, _lights_out(bedtimes))


class Measured(NamedTuple):
    """What a night's spans and the phone say, as `NightBedtime`'s last fields."""

    lights_out: datetime | None
    active_after_bedtime_s: int | None
    in_bed: datetime | None
    awake: datetime | None
    lights_out_status: str | None


NOTHING_MEASURED = Measured(None, None, None, None, None)
NO_PHONE = activity.Phone()


def _as_it_was(
    planned: datetime,
    until: int,
    zone: tzinfo,
    now: int,
    spans: Sequence[SpanRow] | None,
    phone: Sequence[tuple[str, int]] | None,
) -> Measured:
    """A night as it was: the screens' lights out, the active time after bedtime, the phone's word.
    `until`: the night's end (`activity.until_epoch`), `now` in POSIX seconds."""
    bedtime = activity.epoch(planned)
    seen = activity.evening(spans or (), bedtime, until, now)
    said = activity.phone_night(phone) if phone else NO_PHONE
    went = said.in_bed if said.in_bed is not None else seen.lights_out
    status: str | None
    if went is not None:
        status = "on_time" if went - bedtime <= ON_TIME.total_seconds() else "late"
    else:
        status = "never" if spans and now >= until else None
    return Measured(
        _local(seen.lights_out, zone),
        seen.active_after_bedtime_s,
        _local(said.in_bed, zone),
        _local(said.awake, zone),
        status,
    )


def _local(t: int | None, zone: tzinfo) -> datetime | None:
    return datetime.fromtimestamp(t, zone) if t is not None else None


def _lights_out(bedtimes: Sequence[NightBedtime]) -> LightsOut:
    """The range's measured lights out: median against the plan, nights within ON_TIME, streaks.

    A night without measurements (or not over yet) neither breaks nor extends a streak, like a
    skipped night; a night whose screens never went off breaks it.
    """
    result = LightsOut()
    after = []
    run = 0
    for b in bedtimes:
        status = b.lights_out_status
        if status is None:
            continue
        went = b.went_to_bed
        if went is not None and b.planned is not None:
            after.append((went - b.planned).total_seconds())
        if status == "on_time":
            result.within += 1
            run += 1
            result.longest_streak = max(result.longest_streak, run)
        else:
            run = 0
    result.nights = len(after)
    result.median_after_bedtime_s = _whole(median(after)) if after else None
    result.current_streak = run
    return result


def _tally(
    rid: str, title: str, configured: bool, cells: list[Cell], delays: list[float], repeats: int
) -> ReminderStats:
    """Counts and streaks of one reminder, read off its cells."""
    statuses = [c[0] for c in cells]
    r = ReminderStats(rid, title, configured, cells, repeats=repeats, delays=delays)
    r.acknowledged = statuses.count(ACK) + statuses.count(LATE)
    r.skipped = statuses.count(SKIPPED)
    r.missed = statuses.count(MISSED)
    r.open = statuses.count(OPEN)
    r.scheduled = len(statuses) - sum(statuses.count(status) for status in UNCOUNTED)
    run = 0
    for status in statuses:
        if status == ACK or status == LATE:
            run += 1
            if run > r.longest_streak:
                r.longest_streak = run
        elif status == MISSED or status == OPEN:
            run = 0
    r.current_streak = run
    return r


def _scheduled(
    rid: str,
    s: ReminderNight,
    planned_at: Mapping[str, datetime],
    plan: NightPlan | None,
    routine: Routine,
    night: date,
    zone: tzinfo,
    changes: NightChanges,
    now: datetime,
) -> datetime:
    """When a reminder with log entries was due: as logged, else as planned, else its first entry."""
    if s.scheduled_at:
        return s.scheduled_at
    at = planned_at.get(rid)
    if at is None and routine.reminder(rid) is not None:
        p = plan or night_plan(routine, night, zone, changes)
        at = next((o.at for o in p.occurrences if o.reminder.id == rid), None) if p else None
    if at is None:
        at = s.first_notified or s.acknowledged or now
    return at


def from_log(log: EventLog, routine: Routine, zone: tzinfo, until: date, days: int, now: datetime) -> Stats:
    """Stats straight from an `EventLog`: one aggregate query plus the nights' changes."""
    first, last = window(until, days)
    rows = NightRows()
    rows.read(log, first, last)
    # When each reminder entered the routine: from the log before the window, inside it from
    # the summaries just read (in night order); a later first mention changes no night of it.
    first_nights = log.first_nights(before=first)
    for night, per in rows.by_night.items():
        for rid in per:
            first_nights.setdefault(rid, night)
    return compute(
        routine,
        zone,
        first,
        last,
        now,
        rows.by_night,
        rows.changes,
        first_nights,
        log.first_night(),
        rows.measured,
        log.first_live_night() or date.max,
        rows.spans,
        rows.phone,
    )


def duration_text(seconds: float | None, none: str = "-", sep: str = "") -> str:
    """A delay for people: "45s", "12m", "3m05s", "1h02m" (`sep` between the parts)."""
    if seconds is None:
        return none
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h{sep}{m:02d}m"
    return f"{m}m{sep}{sec:02d}s" if sec else f"{m}m"
