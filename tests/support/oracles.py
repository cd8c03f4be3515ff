"""Test-only oracles: the same numbers as the product computes, the slow and obvious way."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, tzinfo

from sundown.core.activity import Span, SpanRow, epoch
from sundown.core.plan import NO_CHANGES
from sundown.core.routine import Routine
from sundown.core.state import Event, ReminderNight, by_reminder, fold, fold_changes
from sundown.reports.stats import Stats, compute, window


def stats_from_events(
    events: list[Event], routine: Routine, zone: tzinfo, until: date, days: int, now: datetime
) -> Stats:
    """The same numbers as `stats.from_log`, folded from a list of events in pure Python."""
    first, last = window(until, days)
    by_night: dict[date, list[Event]] = {}
    first_nights: dict[str, date] = {}
    for e in events:
        if first <= e.night <= last:
            by_night.setdefault(e.night, []).append(e)
        if e.reminder is not None and e.night < first_nights.get(e.reminder, date.max):
            first_nights[e.reminder] = e.night
    changes = {
        n: c for n, evs in by_night.items() if (c := fold_changes(sorted(evs, key=_order))) != NO_CHANGES
    }
    summaries = {
        n: {rid: fold(sorted(revs, key=_order)) for rid, revs in by_reminder(evs).items()}
        for n, evs in by_night.items()
    }
    log_start = min((e.night for e in events), default=None)
    live = [e.night for e in events if not (e.event == "acknowledged" and e.details.get("backfilled"))]
    live_start = min(live, default=date.max)
    spans, phone = activity_from_events(events, first, last)
    return compute(
        routine, zone, first, last, now, summaries, changes, first_nights, log_start,
        live_start=live_start, spans=spans, phone=phone,
    )  # fmt: skip


def activity_from_events(
    events: list[Event], first: date, last: date
) -> tuple[dict[date, list[SpanRow]], dict[date, list[tuple[str, int]]]]:
    """What `EventLog.spans_between` and `phone_between` read, from the rows themselves: a span
    written twice by one machine counts once."""
    spans: dict[date, dict[tuple[str, int], SpanRow]] = {}
    phone: dict[date, list[tuple[str, int]]] = {}
    for e in sorted(events, key=_order):
        if not first <= e.night <= last:
            continue
        if e.event == "activity":
            span = Span.from_details(e.details, e.night)
            if span is not None:
                key = (e.source, span.start)
                spans.setdefault(e.night, {}).setdefault(key, (e.source, span.state, span.start, span.end))
        elif e.event in ("in_bed", "awake"):
            phone.setdefault(e.night, []).append((e.event, epoch(e.ts)))
    return {n: sorted(s.values(), key=lambda r: r[2]) for n, s in spans.items()}, phone


def _order(e: Event) -> tuple[datetime, int]:
    return (e.ts, e.id)


def summaries_from_events(events: list[Event]) -> dict[tuple[date, str], ReminderNight]:
    """What the log's summary table holds, folded in Python: every row of a night counts
    (no plan); the last notification, snoozes and dismissals are not summarised."""
    by_night: dict[date, list[Event]] = {}
    for e in sorted(events, key=_order):
        by_night.setdefault(e.night, []).append(e)
    return {
        (night, rid): replace(fold(evs), last_notified=None, snoozed_until=None, dismissed=False)
        for night, nevs in by_night.items()
        for rid, evs in by_reminder(nevs).items()
    }
