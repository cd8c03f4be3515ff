"""Commands about the routine itself: init, check, next.

They read only the config and the clock, so they must stay fast: no sqlite3,
APScheduler, jeepney or plyer on their import path (a test checks it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sundown.cli.args import instant
from sundown.cli.show import clock_column
from sundown.core.routine import NO_WAKE
from sundown.errors import SundownError, UsageError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sundown.cli.context import Context
    from sundown.config import LoadedConfig
    from sundown.core.plan import NightChanges, NightPlan, Occurrence
    from sundown.core.routine import Routine
    from sundown.core.state import Night

DEFAULT_COUNT = 10


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add init, check and next."""
    p = sub.add_parser(
        "init",
        parents=[common],
        help="write the example config to the config path",
        description="Write the example routine (the built-in default, keys commented) to the config path.",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing config file")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "check",
        parents=[common],
        help="validate the config and print tonight's timeline",
        description="Validate a config file (every problem at once, exit 78) and print tonight's timeline.",
    )
    p.add_argument("path", nargs="?", metavar="PATH", help="config file to check (default: the config path)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "next",
        parents=[common],
        help="list the next reminder occurrences",
        description="The next N reminder occurrences at or after --from (default: now), in time order.",
    )
    p.add_argument(
        "--count",
        "-n",
        type=int,
        default=DEFAULT_COUNT,
        metavar="N",
        help=f"how many (default {DEFAULT_COUNT})",
    )
    p.add_argument(
        "--from",
        dest="start",
        metavar="ISO",
        help="start time, ISO 8601; without a UTC offset it is local to the routine's zone (default: now)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='JSON list of {"night", "reminder", "at", "title", "bedtime_source"}',
    )
    p.set_defaults(func=cmd_next)


# --- helpers ----------------------------------------------------------------------------------


def night_changes(ctx: Context, first: date) -> Mapping[date, NightChanges]:
    """Per-night changes (`tonight`, `skip`) from the log, from the night `first` on.

    Without a log there are none, and sqlite3 is not even imported.
    """
    if not ctx.paths.database.exists():
        return {}
    return ctx.log.changes_between(first, date.max)


def _acknowledged(ctx: Context, first: date) -> set[tuple[date, str]]:
    """(night, reminder) acknowledged from the night `first` on: `status` shows them done, so
    `next` leaves them out, as it does the skipped ones."""
    if not ctx.paths.database.exists():
        return set()
    nights = ctx.log.summaries_by_night(first, date.max)
    return {(night, rid) for night, per in nights.items() for rid, s in per.items() if s.acknowledged}


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def fmt_offset(delta: timedelta) -> str:
    """-1h30m, -45m, 0m, +15m: a reminder's time relative to bedtime."""
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else "+" if seconds > 0 else ""
    seconds = abs(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    text = (f"{h}h" if h else "") + (f"{m}m" if m or not (h or s) else "") + (f"{s}s" if s else "")
    return sign + text


def zone_label(zone: ZoneInfo, routine: Routine) -> str:
    name = zone.key or "local"
    return f"{name} (from the config)" if routine.timezone else f"{name} (the system's zone)"


# --- commands ---------------------------------------------------------------------------------


def cmd_init(ctx: Context) -> int:
    from sundown.config import example_text
    from sundown.paths import private_dir

    path = ctx.paths.config
    if path.is_dir():
        raise SundownError(
            f"{path} is a directory; give the config file's path, e.g. --config {path / 'config.toml'}"
        )
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if ctx.args.force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise SundownError(
            f"{path} already exists; not overwriting it (use `sundown init --force` to replace it)"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(example_text())
    ctx.print(f"wrote the example routine to {path}")
    ctx.print("edit it, then run `sundown check` to validate it and see tonight's timeline")
    return 0


def cmd_check(ctx: Context) -> int:
    from pathlib import Path

    from sundown.cli.show import bedtime_origin
    from sundown.config import LoadedConfig, load, warnings
    from sundown.errors import LogError

    if ctx.args.path:
        path = Path(ctx.args.path)
        routine = load(path)
        loaded = LoadedConfig.of(routine, path)
    else:
        loaded = ctx.loaded
    routine, zone = loaded.routine, loaded.zone
    now = now_utc()
    try:
        tonight = ctx.tonight(now, loaded)  # in the morning: this evening, not last night
    except LogError as exc:
        ctx.note(f"warning: {exc}")
        tonight = _plan_only(loaded, now)
    night, plan = tonight.night, tonight.plan
    source = f"{loaded.path}: OK" if loaded.path else "built-in default routine: OK"
    ctx.print(source)
    warning = _commands_warning(loaded)
    if warning:
        ctx.note(f"warning: {warning}")
    for line in warnings(loaded):  # in the config's own `PATH:LINE: KEY:` form, as its errors
        ctx.errors([line])
    if routine.push is not None:
        from sundown.config import topic_warning

        guessable = topic_warning(routine.push)
        if guessable:
            ctx.note(f"warning: push.ntfy: {guessable}")
    ctx.print(f"zone: {zone_label(zone, routine)}")
    if routine.calendar is not None:
        plan = _with_calendar(ctx, loaded, tonight, now) or plan
    if plan is None:  # night_of always names an existing night; kept for type safety
        return 0
    bedtime = plan.bedtime
    [when, *clocks] = clock_column([bedtime, *(o.at for o in plan.occurrences)], night, zone)
    origin = bedtime_origin(plan, routine, zone) + (" (skipped)" if plan.skipped else "")
    ctx.print(f"tonight ({night:%a %Y-%m-%d}): bedtime {when}, {origin}")
    width = max((len(o.reminder.id) for o in plan.occurrences), default=0)
    for o, clock in zip(plan.occurrences, clocks, strict=True):
        mark = "  (skipped)" if o.skipped else ""
        offset = fmt_offset(o.at - bedtime)
        ctx.print(f"  {clock}  {offset:>7}  {o.reminder.id:<{width}}  {o.reminder.title}{mark}")
    not_tonight = [r.id for r in routine.reminders if not r.runs_on(night.weekday())]
    if not_tonight:
        ctx.print(f"  not on {night:%a} evenings: {', '.join(not_tonight)}")
    if not routine.reminders:
        ctx.print("  no reminders configured")
    if routine.bedtime.wake != NO_WAKE:
        ctx.print("[wake] names the MORNING: Saturday's wake time gives Friday evening's bedtime")
    return 0


def _with_calendar(ctx: Context, loaded: LoadedConfig, tonight: Night, now: datetime) -> NightPlan | None:
    """Read the calendar as the daemon will (a local file, or the URL's kept copy), say what
    tomorrow morning asks, and return tonight's plan with it; None when it changes nothing."""
    from dataclasses import replace

    from sundown.calendar.source import read_once
    from sundown.core import morning
    from sundown.core.plan import night_plan

    routine, zone, night = loaded.routine, loaded.zone, tonight.night
    assert routine.calendar is not None
    view = read_once(routine.calendar, ctx.paths.calendar_copy, ctx.paths.calendar_meta, now)
    if view.problem is not None:
        ctx.note(f"warning: calendar {view.where}: {view.problem}; the routine's bedtimes are kept")
        return None
    word = morning.calendar_morning(view.events, routine, night, zone, routine.calendar.prepare)
    if word is None or word.starts is None:
        ctx.print(f"calendar: {view.where}: no timed event tomorrow morning")
        return None
    ctx.print(
        f"calendar: {view.where}: tomorrow starts {word.starts.astimezone(zone):%a %H:%M} ({word.event})"
    )
    if not morning.replans(routine, night, zone, tonight.changes, word):
        return None
    return night_plan(routine, night, zone, replace(tonight.changes, calendar=word))


def _plan_only(loaded: LoadedConfig, now: datetime) -> Night:
    """ "Tonight" by the plan alone (the log cannot be read)."""
    from sundown.core.plan import night_of
    from sundown.core.state import fold_night, tonight

    current = fold_night(loaded.routine, loaded.zone, night_of(now, loaded.zone), [])
    night = tonight(now, loaded.zone, current)
    return current if night == current.night else fold_night(loaded.routine, loaded.zone, night, [])


def _commands_warning(loaded: LoadedConfig) -> str | None:
    """What the daemon will refuse to run, said before it comes to that (check and doctor)."""
    from sundown.config import commands_refused, with_commands

    ids = with_commands(loaded.routine)
    problem = commands_refused(loaded.path) if ids else None
    if problem is None:
        return None
    return f"the daemon will not run the commands of {', '.join(ids)}: {problem}"


def cmd_next(ctx: Context) -> int:
    from sundown.core.plan import night_of, upcoming

    count = ctx.args.count
    if count < 0:
        raise UsageError(f"--count: {count} is negative; give the number of occurrences to list, e.g. 5")
    loaded = ctx.loaded
    zone = loaded.zone
    start = instant("--from", ctx.args.start, zone) if ctx.args.start else now_utc()
    first = night_of(start, zone) - timedelta(days=2)
    changes = night_changes(ctx, first)
    found = upcoming(loaded.routine, zone, start, count, changes, _acknowledged(ctx, first))
    if ctx.args.json:
        import json

        ctx.print(json.dumps([as_json(o, zone) for o in found], indent=2, ensure_ascii=False))
        return 0
    if not found:
        ctx.print("no upcoming reminders")
        return 0
    width = max(len(o.reminder.id) for o in found)
    for o in found:
        local = o.at.astimezone(zone)
        ctx.print(f"{local:%a %Y-%m-%d %H:%M}  {o.reminder.id:<{width}}  {o.reminder.title}")
    return 0


def as_json(o: Occurrence, zone: ZoneInfo) -> dict[str, str]:
    return {
        "night": o.night.isoformat(),
        "reminder": o.reminder.id,
        "at": o.at.astimezone(zone).isoformat(timespec="seconds"),
        "title": o.reminder.title,
        "bedtime_source": o.bedtime_source,
    }
