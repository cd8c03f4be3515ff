"""Commands that read the log: log, stats, report.

They never need the daemon. `log --format jsonl|csv` does not even read the
config (no zone is needed to print UTC rows), so a broken config never hides
the history.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable
from datetime import date, datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from sundown.cli.args import night_arg
from sundown.cli.show import terminal_width
from sundown.errors import SundownError, UsageError

if TYPE_CHECKING:
    from sundown.cli.context import Context
    from sundown.reports.stats import Stats
    from sundown.store.log import Event

DEFAULT_STATS_DAYS = 30
DEFAULT_REPORT_DAYS = 90
COLUMNS = ("id", "ts", "night", "reminder", "event", "source", "details")


def days_arg(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of nights") from None
    if n < 1:
        raise argparse.ArgumentTypeError("--days must be at least 1")
    return n


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add log, stats and report."""
    p = sub.add_parser(
        "log",
        parents=[common],
        help="print the event log",
        description="Print the event log: every notification, acknowledgement, snooze, skip, miss."
        " Dates are nights (the evening's date), inclusive; without them, everything.",
    )
    p.add_argument("--since", type=night_arg, metavar="DATE", help="first night, YYYY-MM-DD")
    p.add_argument("--until", type=night_arg, metavar="DATE", help="last night, YYYY-MM-DD")
    p.add_argument(
        "--format",
        choices=("table", "jsonl", "csv"),
        default="table",
        help="table (local times, default), jsonl (one JSON object per line) or csv",
    )
    p.set_defaults(func=cmd_log)

    p = sub.add_parser(
        "stats",
        parents=[common],
        help="adherence, streaks and delays per reminder, bedtime chart",
        description="Adherence per reminder, streaks, acknowledgement delay and a bedtime chart"
        " over the N nights ending with --until.",
    )
    p.add_argument(
        "--days",
        type=days_arg,
        default=DEFAULT_STATS_DAYS,
        metavar="N",
        help=f"number of nights (default {DEFAULT_STATS_DAYS}; never before the log's first night)",
    )
    p.add_argument("--until", type=night_arg, metavar="DATE", help="last night (default: the current night)")
    p.add_argument(
        "--json", action="store_true", help="print one JSON object (its fields: `sundown help stats`)"
    )
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "report",
        parents=[common],
        help="write a self-contained HTML report with charts",
        description="Write one self-contained HTML page (inline SVG, no scripts, nothing from the"
        " network): adherence calendar, acknowledgement delays, planned vs actual bedtime.",
    )
    p.add_argument("--html", metavar="FILE", help="the HTML file to write")
    p.add_argument("file", nargs="?", metavar="FILE", help="the same, without --html: sundown report r.html")
    p.add_argument(
        "--days",
        type=days_arg,
        default=None,
        metavar="N",
        help=f"number of nights (default: the whole history, at most {DEFAULT_REPORT_DAYS})",
    )
    p.add_argument("--until", type=night_arg, metavar="DATE", help="last night (default: the current night)")
    p.set_defaults(func=cmd_report)


# --- log ---------------------------------------------------------------------------------------


def event_record(e: Event) -> dict[str, Any]:
    """One row as `log --format jsonl` prints it; keys in a stable order."""
    return {
        "id": e.id,
        "ts": e.ts.isoformat(),
        "night": e.night.isoformat(),
        "reminder": e.reminder,
        "event": e.event,
        "source": e.source,
        "details": dict(e.details),
    }


# Keys shown first, in the order a person reads them (the log stores them sorted: an activity
# span would read "from=... state=locked to=...").
DETAILS_FIRST = {"activity": ("state", "from", "to")}


def _details_text(details: dict[str, Any], zone: tzinfo, first: tuple[str, ...] = ()) -> str:
    """key=value pairs, `first` leading; instants in the table's zone, like its TIME column."""

    from sundown.core.state import instant

    def value(v: Any) -> str:
        if not isinstance(v, str):
            return json.dumps(v, ensure_ascii=False)
        when = instant(v) if "T" in v else None
        return v if when is None else when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    keys = [k for k in first if k in details] + [k for k in details if k not in first]
    return " ".join(f"{k}={value(details[k])}" for k in keys)


CONTROL = {c: "?" for c in (*range(0x20), *range(0x7F, 0xA0))}


def printable(text: str) -> str:
    """Terminal control characters (an escape sequence in a row of the log) shown as "?"."""
    return text.translate(CONTROL)


def _check_range(since: date | None, until: date | None) -> None:
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")


def cmd_log(ctx: Context) -> int:
    args = ctx.args
    _check_range(args.since, args.until)
    events = ctx.log.events(args.since, args.until)
    if ctx.log.unreadable:
        ids = sorted(ctx.log.unreadable)
        shown = ", ".join(map(str, ids[:10])) + (", ..." if len(ids) > 10 else "")
        ctx.note(f"{len(ids)} row(s) of the log could not be read and are left out (id {shown})")
    # `sundown log | head`: a closed pipe ends the command quietly (cli.main sees to it).
    if args.format == "jsonl":
        write_jsonl(ctx.out, events)
    elif args.format == "csv":
        write_csv(ctx.out, events)
    else:
        write_table(ctx, events)
    return 0


def write_jsonl(out: Any, events: Iterable[Event]) -> None:
    for e in events:
        out.write(json.dumps(event_record(e), ensure_ascii=False) + "\n")


def write_csv(out: Any, events: Iterable[Event]) -> None:
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e in events:
        r = event_record(e)
        r["reminder"] = r["reminder"] or ""
        r["details"] = json.dumps(r["details"], ensure_ascii=False, sort_keys=True)
        writer.writerow([r[c] for c in COLUMNS])


def write_table(ctx: Context, events: list[Event]) -> None:
    if not events:
        ctx.note("no events in the log" + (" for those nights" if ctx.args.since or ctx.args.until else ""))
        return
    zone = _display_zone(ctx)
    rows = [
        (
            e.ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            e.night.isoformat(),
            printable(e.reminder or "-"),
            printable(e.event),
            printable(e.source),
            printable(_details_text(dict(e.details), zone, DETAILS_FIRST.get(e.event, ()))),
        )
        for e in events
    ]
    header = ("TIME (" + str(zone) + ")", "NIGHT", "REMINDER", "EVENT", "SOURCE", "DETAILS")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(5)]
    for r in (header, *rows):
        ctx.print("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5])


def _display_zone(ctx: Context) -> tzinfo:
    """The routine's zone; with a broken config, the system's (the history is still worth showing)."""
    from sundown.errors import ConfigError

    try:
        return ctx.loaded.zone
    except ConfigError as exc:
        from sundown.config import system_zone

        ctx.note(f"the config has errors ({len(exc.problems)}); showing times in the system's zone")
        return system_zone()


# --- stats -------------------------------------------------------------------------------------


def _compute(ctx: Context, days: int) -> Stats:
    import gc

    from sundown.core.plan import night_of
    from sundown.reports import night_cache

    loaded = ctx.loaded
    now = datetime.now(timezone.utc)
    until = ctx.args.until or night_of(now, loaded.zone)
    # Ten years are ~150k objects that live until this command ends and hold no cycles: the
    # cycle collector would only walk them again and again (a tenth of `stats`).
    gc.disable()
    # Past nights as they were reckoned before, kept in the cache directory (reports/night_cache).
    return night_cache.from_log(ctx.log, loaded.routine, loaded.zone, until, days, now, ctx.paths.stats_cache)


def cmd_stats(ctx: Context) -> int:
    from sundown.core.plan import night_of

    days = ctx.args.days
    first_night = ctx.log.first_night()
    if first_night is not None:
        # Never before the first night the log knows: sundown was not in use yet.
        until = ctx.args.until or night_of(datetime.now(timezone.utc), ctx.loaded.zone)
        days = max(min(days, (until - first_night).days + 1), 1)
    result = _compute(ctx, days)
    if ctx.args.json:
        # Indented for a person at a terminal; compact (C-speed encoder) for a script.
        indent = 2 if getattr(ctx.out, "isatty", lambda: False)() else None
        lines = [json.dumps(result.to_json(), indent=indent)]
    elif first_night is None:
        lines = [EMPTY_LOG]  # not a month of empty charts
    else:
        from sundown.reports.terminal import render_stats

        lines = render_stats(result, ctx.loaded.zone, terminal_width(), _use_color(ctx))
    ctx.out.write("\n".join(lines) + "\n")
    return 0


EMPTY_LOG = (
    "Nothing in the log yet: once sundown has sent its first reminders (`sundown run`),\n"
    "this shows how your evenings went."
)


def _use_color(ctx: Context) -> bool:
    isatty = getattr(ctx.out, "isatty", lambda: False)
    return bool(isatty()) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


# --- report ------------------------------------------------------------------------------------


def _history_days(ctx: Context, first_night: date | None) -> int:
    """The report's default window: the nights the log knows, at most DEFAULT_REPORT_DAYS."""
    from sundown.core.plan import night_of

    until = ctx.args.until or night_of(datetime.now(timezone.utc), ctx.loaded.zone)
    if first_night is None:
        return 1
    return max(min((until - first_night).days + 1, DEFAULT_REPORT_DAYS), 1)


def cmd_report(ctx: Context) -> int:
    from pathlib import Path

    from sundown.paths import write_atomic
    from sundown.reports import report

    args = ctx.args
    if args.html and args.file and Path(args.html).expanduser() != Path(args.file).expanduser():
        raise UsageError(f"report writes one file: --html {args.html} or {args.file}, not both")
    name = args.html or args.file
    if not name:
        raise UsageError("name the HTML file to write: sundown report --html FILE (or sundown report FILE)")
    loaded = ctx.loaded
    now = datetime.now(timezone.utc)
    first_night = ctx.log.first_night()
    days = ctx.args.days or _history_days(ctx, first_night)
    result = _compute(ctx, days)
    if first_night is None or first_night > result.until:
        html = report.render_empty(loaded.zone, generated=now)
    else:
        html = report.render(result, loaded.zone, generated=now)
    target = Path(name).expanduser()
    if target.is_dir():
        example = target / "sundown.html"
        raise UsageError(f"{target} is a directory; name the file to write, e.g. {example}")
    if not target.parent.is_dir():
        raise SundownError(f"cannot write {target}: there is no directory {target.parent}")
    try:
        write_atomic(target, html)  # private like every file sundown writes: it shows a person's evenings
    except OSError as exc:
        raise SundownError(f"cannot write {target}: {exc.strerror or exc}") from None
    if first_night is None:
        ctx.note(f"wrote {target}: the log has no events yet")
    else:
        ctx.note(f"wrote {target} ({result.first} .. {result.until}, {len(result.nights)} nights)")
    return 0
