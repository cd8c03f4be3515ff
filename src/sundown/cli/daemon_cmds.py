"""Commands around the running daemon: run, status, ack, snooze, skip, unskip, tonight, reload.

Each command that changes state writes its event to the log first (so exit 0
means the row is durable), then nudges the daemon, which re-reads the log at
once. With no daemon running they still work against the log, and say so.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sundown.cli.args import FOLLOW_FORMATS, instant, night_arg, time_of_day
from sundown.cli.show import clock_column
from sundown.core.vocabulary import BACKENDS
from sundown.errors import SundownError, UsageError

if TYPE_CHECKING:
    from sundown.cli.context import Context
    from sundown.core.answers import Answer, Ruling
    from sundown.core.status import Row, Status
    from sundown.core.vocabulary import EventName

UTC = timezone.utc
FORCE_HELP = "accept a night before the log's first night or after tomorrow night"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add run, status, ack, snooze, skip, unskip, tonight and reload."""
    p = sub.add_parser(
        "run",
        parents=[common],
        help="run the reminder daemon in the foreground",
        description="Run the daemon in the foreground: sends each reminder, records the log.",
    )
    p.add_argument("--backend", choices=BACKENDS, help="notification backend (default: notify.backend)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "status",
        parents=[common],
        help="is the daemon running, and tonight's reminders",
        description="Whether the daemon runs (pid, backend) and the state of tonight's reminders.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--follow",
        action="store_true",
        help="a line now and one per change, until killed (status bars; waits for a daemon that is not up)",
    )
    p.add_argument(
        "--format",
        choices=FOLLOW_FORMATS,
        help="one line: text (polybar, i3blocks), waybar (its custom-module JSON) or json (default with"
        " --follow: text)",
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "ack",
        parents=[common],
        help="acknowledge a reminder",
        description="Acknowledge a reminder (default: the latest notified, unacknowledged one).",
    )
    p.add_argument("id", nargs="?", metavar="ID", help="reminder id (see `sundown check`)")
    p.add_argument("--night", type=night_arg, metavar="DATE", help="the night (its evening's date)")
    p.add_argument(
        "--at",
        metavar="TIME",
        help="backfill: when it was done; HH:MM on the night (--night, default tonight) or an ISO"
        " time, local to the routine's zone",
    )
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=cmd_ack)

    p = sub.add_parser(
        "snooze",
        parents=[common],
        help="re-notify a reminder later",
        description="The daemon re-notifies a reminder after DURATION (default: notify.snooze)."
        " Without ID: the latest notified, unacknowledged reminder; `sundown snooze 20m` snoozes"
        " it for 20 minutes.",
    )
    p.add_argument(
        "args",
        nargs="*",
        metavar="ID|DURATION",
        help='a reminder id and/or a duration like "10m" (at most 12h)',
    )
    p.set_defaults(func=cmd_snooze)

    for name, doing, description in (
        ("skip", "skip", "Skip single reminders, or with no ID the whole night (default: tonight)."),
        (
            "unskip",
            "undo a skip of",
            "Undo the skip of single reminders, or with no ID the whole-night skip (reminders"
            " skipped one by one stay skipped). `unskip ID` during a whole-night skip brings that"
            " one back.",
        ),
    ):
        p = sub.add_parser(
            name,
            parents=[common],
            help=f"{doing} the rest of a night, or single reminders",
            description=description,
        )
        p.add_argument("ids", nargs="*", metavar="ID", help="reminder ids (none: the whole night)")
        p.add_argument("--night", type=night_arg, metavar="DATE", help="the night (default: tonight)")
        p.add_argument("--force", action="store_true", help=FORCE_HELP)
        p.set_defaults(func=cmd_skip, undo=name == "unskip")

    p = sub.add_parser(
        "tonight",
        parents=[common],
        help="change tonight's bedtime only",
        description="Change tonight's bedtime, or set tomorrow morning's wake time (bedtime = wake"
        " - sleep); reminders set `before` bedtime move with it. It wins over the routine, the"
        " calendar and the phone's alarm for this night.",
    )
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--bedtime", type=_clock_arg, metavar="HH:MM", help="tonight's bedtime")
    group.add_argument(
        "--wake",
        type=_clock_arg,
        metavar="HH:MM",
        help="tomorrow morning's wake time: bedtime = wake - sleep",
    )
    group.add_argument("--clear", action="store_true", help="back to the routine (both --bedtime and --wake)")
    p.set_defaults(func=cmd_tonight)

    p = sub.add_parser(
        "reload",
        parents=[common],
        help="make the running daemon re-read its config",
        description="Ask the running daemon to re-read its config (it also does so when the file is saved).",
    )
    p.set_defaults(func=cmd_reload)


# --- argument types (argparse turns their errors into usage errors, exit 2) --------------------


def _clock_arg(text: str) -> time:
    from sundown.config.values import Invalid, read_clock

    try:
        return read_clock(text)
    except Invalid as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration(text: str) -> timedelta | None:
    from sundown.config.values import Invalid, read_interval

    try:
        return read_interval(text)
    except Invalid:
        return None


# --- helpers ------------------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC)


def _tonight(ctx: Context, at: datetime | None = None) -> date:
    """The night of a backfilled instant, or "tonight" (in the morning: this evening)."""
    from sundown.core.plan import night_of

    if at is not None:
        return night_of(at, ctx.loaded.zone)
    return ctx.tonight(_now()).night


def _check_night(ctx: Context, night: date) -> None:
    """A night before the log's first night or after tomorrow night is a slip, unless --force:
    `skip --night 1999-01-01` would make every night since count in stats."""
    if ctx.args.force:
        return
    from sundown.core.plan import night_of

    tonight = _tonight(ctx)
    latest = tonight + timedelta(days=1)
    if night > latest:
        raise UsageError(
            f"the night of {night} is after tomorrow night ({latest}); add --force if you mean it"
        )
    created = ctx.log.created()
    began = [n for n in (ctx.log.first_night(), created and night_of(created, ctx.loaded.zone)) if n]
    first = min(began, default=tonight)
    if night < first:
        raise UsageError(
            f"the night of {night} is before the log's first night ({first}), when sundown was not"
            " in use yet; add --force to record it anyway"
        )


def _label(ctx: Context, night: date) -> str:
    from sundown.core.status import night_label

    return night_label(night, _tonight(ctx))


def _waiting(ctx: Context) -> tuple[date, str] | None:
    """What a bare `ack`/`snooze` acts on: the latest waiting reminder, as `status` shows it."""
    from sundown.core.state import NOTHING, waiting

    snap = _status(ctx)
    for row in reversed(snap.tonight):
        if row.waiting:
            return date.fromisoformat(row.night), row.reminder
    if not snap.running:
        tonight = ctx.night(date.fromisoformat(snap.night))
        found = [
            (st.last_notified, o.reminder.id)
            for o in (tonight.plan.occurrences if tonight.plan else ())
            if waiting(st := tonight.states.get(o.reminder.id, NOTHING), o) and st.last_notified
        ]
        if found:
            return tonight.night, max(found)[1]
    return ctx.log.latest_unacknowledged()


def _known_ids(ctx: Context, night: date) -> list[str]:
    ids = [r.id for r in ctx.loaded.routine.reminders]
    ids += sorted({e.reminder for e in ctx.log.night_events(night) if e.reminder and e.reminder not in ids})
    return ids


def _check_ids(ctx: Context, ids: list[str], night: date) -> None:
    from sundown.config.values import unknown_reminder

    known = _known_ids(ctx, night)
    for rid in ids:
        if rid not in known:  # as the config checker says it: `did you mean "magnesium"?`
            raise UsageError(unknown_reminder(rid, known))


def _title(ctx: Context, rid: str) -> str:
    reminder = ctx.loaded.routine.reminder(rid)
    return reminder.title if reminder else rid


def _nudge(ctx: Context, done: str) -> dict[str, Any] | None:
    """Tell the daemon the log changed; say so when there is none. None: no daemon runs.

    The row is already written, so a daemon that does not answer (stopped, hung, flooded)
    is a warning, never a failure: a script retrying on failure would write the row twice.
    """
    from sundown.runtime.control import DaemonSilent, request

    try:
        reply = request(ctx.paths, {"cmd": "refresh"})
    except DaemonSilent as exc:
        ctx.note(f"warning: {exc}; {done} is recorded in the log and the daemon will pick it up")
        return {}
    if reply is None:
        ctx.note(f"no daemon is running; {done} is recorded in the log")
    return reply


def _hm(at: datetime, ctx: Context) -> str:
    return at.astimezone(ctx.loaded.zone).strftime("%H:%M")


# --- commands -----------------------------------------------------------------------------------


def cmd_run(ctx: Context) -> int:
    from sundown.runtime.process import run

    ctx.loaded  # noqa: B018 - a config error exits 78 before anything starts; notes the default routine
    return run(ctx.paths, ctx.args.backend)


def cmd_ack(ctx: Context) -> int:
    from sundown.core.answers import Answer

    args = ctx.args
    # "--at 22:40" is a time of that night: --night's, else tonight's.
    bare = bool(args.at) and time_of_day(args.at)
    on = args.night or (_tonight(ctx) if bare else None)
    at = instant("--at", args.at, ctx.loaded.zone, on).astimezone(UTC) if args.at else None
    if at is not None and at > _now() + timedelta(minutes=1):
        hint = ""
        if bare and not args.night:
            hint = f" (tonight's, {on}); for another night add --night YYYY-MM-DD"
        raise UsageError(f"--at {args.at} is in the future{hint}")
    if args.id:
        night = args.night or _tonight(ctx, at)
        if args.night or at is not None:
            _check_night(ctx, night)
        _check_ids(ctx, [args.id], night)
        rid = args.id
    elif args.night:
        raise UsageError("with --night, name the reminder: sundown ack ID --night DATE")
    else:
        target = _waiting(ctx)
        if target is None:
            raise SundownError("nothing to acknowledge: no reminder is waiting; name one: sundown ack ID")
        night, rid = target
    now = _now()
    [ruling] = _answer(ctx, Answer(night, (rid,), "done", "cli", at=at), now)
    if ruling.outcome != "applied":
        done = ctx.night(night).states[rid].acknowledged or now
        ctx.print(f"{_title(ctx, rid)} ({night}) was already acknowledged at {_hm(done, ctx)}")
        return 0
    ctx.print(f"acknowledged {_title(ctx, rid)} ({night}) at {_hm(at or now, ctx)}")
    _nudge(ctx, "the acknowledgement")
    return 0


def _answer(ctx: Context, answer: Answer, now: datetime) -> list[Ruling]:
    """The answer applied as every answer is, the row written to the log by this command."""
    from sundown.runtime.answers import apply

    return apply(ctx, answer, now)


def _snooze_words(words: list[str], known: list[str]) -> tuple[str | None, timedelta | None]:
    """[ID] [DURATION] in either order; a lone word that is no reminder is the duration."""
    from sundown.config.values import Invalid, read_interval

    def duration(word: str) -> timedelta:
        try:
            return read_interval(word)
        except Invalid as exc:
            if word[:1].isdigit() or word[:1] in "+-.":
                raise UsageError(f"snooze: {exc}") from None
            names = ", ".join(known) or "none"
            raise UsageError(
                f'snooze: {word!r} is not a duration (write e.g. "10m", at most "12h")'
                f" nor a reminder (the routine has: {names})"
            ) from None

    if len(words) > 2:
        raise UsageError("snooze takes at most an ID and a DURATION: sundown snooze [ID] [DURATION]")
    if not words:
        return None, None
    if len(words) == 1:
        return (words[0], None) if words[0] in known else (None, duration(words[0]))
    first, second = words
    if first in known:
        return first, duration(second)
    if second in known:
        return second, duration(first)
    # Neither is a reminder: the one that reads as a duration is it, the other is an unknown id.
    try:
        return second, duration(first)
    except UsageError:
        return first, duration(second)


def cmd_snooze(ctx: Context) -> int:
    from sundown.core.answers import Answer

    known = [r.id for r in ctx.loaded.routine.reminders]
    rid, duration = _snooze_words(list(ctx.args.args), known)
    duration = duration or ctx.loaded.routine.snooze
    if rid is None:
        target = _waiting(ctx)
        if target is None:
            raise SundownError("nothing to snooze: no reminder is waiting")
        night, rid = target
    else:
        night = _tonight(ctx)
        _check_ids(ctx, [rid], night)
    now = _now()
    until = now + duration  # at most 12h: read_interval caps it
    [ruling] = _answer(ctx, Answer(night, (rid,), "snooze", "cli", until=until), now)
    if ruling.outcome == "refused":
        hint = f"; acknowledge it with `sundown ack {rid}`" if ruling.refusal == "snooze_limit" else ""
        raise SundownError(ruling.why + hint)
    ctx.print(f"snoozed {_title(ctx, rid)} until {_hm(until, ctx)}")
    if _nudge(ctx, "the snooze") is None:
        ctx.note("nothing will re-notify until `sundown run` is started")
    return 0


def cmd_skip(ctx: Context) -> int:
    night = ctx.args.night or _tonight(ctx)
    if ctx.args.night:
        _check_night(ctx, night)
    ids: list[str] = list(dict.fromkeys(ctx.args.ids))
    _check_ids(ctx, ids, night)
    event: EventName = "unskipped" if ctx.args.undo else "skipped"
    targets: list[str | None] = list(ids) or [None]
    for rid in targets:
        ctx.log.record(event, night, rid, "cli")
    what = ", ".join(_title(ctx, rid) for rid in ids) if ids else "every reminder"
    if ctx.args.undo and not ids:
        # A whole-night unskip leaves the reminders skipped one by one skipped: say which.
        from sundown.core.status import unskipped_words

        kept = [(rid, _title(ctx, rid)) for rid in _still_skipped(ctx, night)]
        ctx.print(unskipped_words(_label(ctx, night), kept, f" --night {night}" if ctx.args.night else ""))
    else:
        ctx.print(f"{event} {what} {_label(ctx, night)}")
    _nudge(ctx, f"the {'unskip' if ctx.args.undo else 'skip'}")
    return 0


def _still_skipped(ctx: Context, night: date) -> list[str]:
    """The reminders of `night` that stay skipped after a whole-night unskip, in the routine's order."""
    from sundown.core.state import fold_changes

    skip = fold_changes(ctx.log.night_events(night)).skip
    return [rid for rid in _known_ids(ctx, night) if rid in skip]


def cmd_tonight(ctx: Context) -> int:
    from sundown.cli.show import bedtime_origin
    from sundown.core.plan import after_midnight, night_plan

    night = _tonight(ctx)
    bedtime: time | None = None if ctx.args.clear else ctx.args.bedtime
    wake: time | None = None if ctx.args.clear else ctx.args.wake
    details = (
        {"wake": wake.strftime("%H:%M")}
        if wake
        else {"bedtime": bedtime.strftime("%H:%M") if bedtime else None}
    )
    ctx.log.record("bedtime_changed", night, None, "cli", details)
    plan = night_plan(ctx.loaded.routine, night, ctx.loaded.zone, ctx.log.changes(night))
    if plan is None:
        return 0
    zone = ctx.loaded.zone
    [when, *clocks] = clock_column([plan.bedtime, *(o.at for o in plan.occurrences)], night, zone)
    origin = bedtime_origin(plan, ctx.loaded.routine, zone)
    if wake is not None:
        morning = night + timedelta(days=1)
        origin = f"waking {morning:%a} {wake:%H:%M} less {_sleep(ctx)} of sleep"
    ctx.print(f"tonight ({night:%a} {night}): bedtime {when}, {origin}")
    if bedtime is not None and after_midnight(bedtime):
        ctx.print(
            f"  {bedtime:%H:%M} is before noon: it means the morning after,"
            f" {plan.bedtime.astimezone(zone):%a %Y-%m-%d %H:%M}"
        )
    for occ, clock in zip(plan.occurrences, clocks, strict=True):
        ctx.print(f"  {clock}  {occ.reminder.title}{'  (skipped)' if occ.skipped else ''}")
    _nudge(ctx, "the change")
    return 0


def _sleep(ctx: Context) -> str:
    from sundown.config.values import duration_text

    return duration_text(ctx.loaded.routine.bedtime.sleep)


def cmd_reload(ctx: Context) -> int:
    from sundown.errors import ConfigError
    from sundown.runtime.control import request

    reply = request(ctx.paths, {"cmd": "reload"})
    if reply is None:
        if ctx.loaded.path is None:  # validates: a bad config exits 78
            ctx.note("no daemon is running; it will start with the built-in default routine")
        else:
            ctx.note("no daemon is running; the config is valid and will be used when it starts")
        return 0
    if reply.get("errors"):
        ctx.note("the daemon keeps its previous routine:")
        raise ConfigError(list(reply["errors"]))
    if reply.get("removed"):
        raise SundownError(
            f"{reply['removed']} does not exist any more; the daemon keeps the routine it last read"
            " (`sundown init` writes a new config, `sundown check` validates one)"
        )
    if not reply.get("ok"):
        raise SundownError(str(reply.get("error") or "the daemon refused to reload"))
    ctx.print("reloaded")
    return 0


def _status(ctx: Context) -> Status:
    """The daemon's status snapshot, or the same snapshot built from the log when none answers."""
    from sundown.core.status import snapshot
    from sundown.runtime.control import DaemonSilent, daemon_status, running_pid

    pid = running_pid(ctx.paths)
    try:
        answered = daemon_status(ctx.paths) if pid else None
    except DaemonSilent as exc:
        ctx.note(f"warning: {exc}; showing what the log says")
        answered = None
    if answered is not None:
        return answered
    now = _now()
    loaded = ctx.loaded
    return snapshot(
        ctx.tonight(now),
        now,
        running=bool(pid),
        pid=pid if pid and pid > 0 else None,
        config=str(loaded.path) if loaded.path else None,
        config_error=ctx.config_problem,
        zone=loaded.zone,
    )


def _cli_zone(ctx: Context) -> str | None:
    """The zone this command plans in; None when the config has errors (the daemon's answer says so)."""
    from sundown.errors import ConfigError

    try:
        return ctx.loaded.zone.key
    except ConfigError:
        return None


def _zone_problem(ctx: Context) -> str | None:
    """What is wrong with the system's zone as this command read it (the daemon reads the same
    /etc/localtime): a broken link or a copy of no zone means UTC, never silently."""
    from sundown.errors import ConfigError

    try:
        found = ctx.loaded.zone_source
    except ConfigError:
        return None
    if found is None or not found.problem:
        return None
    return f"the system's time zone: {found.problem}; fix: {found.fix}" if found.fix else found.problem


def cmd_status(ctx: Context) -> int:
    from sundown.config import ZONE_FIX, daemon_zone, zone_difference

    fmt = ctx.args.format
    if ctx.args.json and fmt not in (None, "json"):
        raise UsageError(f"status: --json and --format {fmt} ask for two outputs; give one")
    if ctx.args.follow:
        from sundown.cli.follow import follow

        return follow(ctx, "json" if ctx.args.json else fmt or "text")
    info = _status(ctx)
    if fmt is not None:
        from sundown.cli.follow import Printer

        Printer(ctx, fmt).show(info.to_json())
        return 0
    differs = zone_difference(daemon_zone(info.context), _cli_zone(ctx))
    broken = _zone_problem(ctx)
    if ctx.args.json:
        if differs:
            ctx.note(f"warning: {differs}; {ZONE_FIX}")
        if broken:
            ctx.note(f"warning: {broken}")
        ctx.print(json.dumps(info.to_json(), indent=2))
        return 0
    if info.running:
        ctx.print(f"sundown is running (pid {info.pid}, backend {info.backend})")
    else:
        ctx.print("sundown is not running (start it: `sundown run` or `sundown service install`)")
    for problem in (info.config_error, info.log_error, differs and f"{differs}; {ZONE_FIX}", broken):
        if problem:
            _print_problem(ctx, problem)
    if info.push:
        _print_push(ctx, info.push)
    calendar = info.calendar or {}
    if calendar.get("problem"):
        ctx.print(f"  calendar problem: {calendar['ics']}: {calendar['problem']}")
    if info.winddown:
        _print_winddown(ctx, info.winddown)
    night = date.fromisoformat(info.night)
    ctx.print(f"tonight ({night:%a} {night}):{_bedtime_words(ctx, info, night)}")
    clocks = clock_column([datetime.fromisoformat(row.at) for row in info.tonight], night, ctx.loaded.zone)
    for row, clock in zip(info.tonight, clocks, strict=True):
        ctx.print(f"  {clock}  {row.title:<28} {_state_words(ctx, row)}")
    return 0


# Why a reminder is held back, as the log's `deferred` rows say it.
BUSY_WORDS = {"dnd": "Do Not Disturb", "presenting": "presenting", "fullscreen": "a fullscreen window"}


def _state_words(ctx: Context, row: Row) -> str:
    """ "snoozed until 22:05", "deferred (Do Not Disturb) until 20:56": a state and its time."""
    if row.until is None:
        return row.state
    until = _hm(datetime.fromisoformat(row.until), ctx)
    if row.state == "snoozed":
        return f"snoozed until {until}"
    why = f" ({BUSY_WORDS.get(row.reason or '', row.reason)})" if row.reason else ""
    if row.state == "deferred":
        return f"deferred{why} until {until}"
    return f"{row.state}, held back{why} until {until}"  # a repeat held back


def _print_problem(ctx: Context, problem: str) -> None:
    """A problem under the status line: each of its lines (a config's errors, one a line) indented
    alike, and wrapped at the terminal's width, going on two columns deeper."""
    import textwrap

    from sundown.cli.show import terminal_width

    width, lead = terminal_width(), "  problem: "
    for k, part in enumerate(problem.splitlines()):
        first = lead if k == 0 else " " * len(lead)
        for line in textwrap.wrap(
            part,
            width,
            initial_indent=first,
            subsequent_indent=" " * (len(lead) + 2),
            break_long_words=False,  # a path stays whole
            break_on_hyphens=False,
        ):
            ctx.print(line)


def _bedtime_words(ctx: Context, info: Status, night: date) -> str:
    """ " bedtime 22:15, from the calendar (Tomorrow starts 07:30 (Flight))": where it comes from."""
    if not info.bedtime:
        return ""
    from sundown.cli.show import SOURCE_WORDS

    [bed] = clock_column([datetime.fromisoformat(info.bedtime)], night, ctx.loaded.zone)
    source = info.bedtime_source or ""
    why = f" ({info.why.rsplit(': bedtime', 1)[0]})" if info.why else ""
    return f" bedtime {bed}, from {SOURCE_WORDS.get(source, source)}{why}"


def _print_winddown(ctx: Context, state: dict[str, Any]) -> None:
    """One line: on until when (each effect's word), or off and the next start."""

    def hm(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(ctx.loaded.zone).strftime("%a %H:%M")

    if state.get("active"):
        effects = ", ".join(f"{k} {v}" for k, v in (state.get("effects") or {}).items())
        ctx.print(f"  wind-down: on until {hm(state['until'])} ({effects})")
    elif state.get("next"):
        ctx.print(f"  wind-down: off; next at {hm(state['next'])}")
    if state.get("problem"):
        ctx.print(f"  wind-down problem: {state['problem']}")


def _print_push(ctx: Context, push: dict[str, Any]) -> None:
    stream = "reply stream connected" if push["connected"] else "reply stream NOT connected"
    ctx.print(
        f"  push: {push['server']} as {push['device']} (when {push['when']}): {stream}, "
        f"{push['published']} sent, {push['queued']} waiting"
    )
    if push.get("error"):
        ctx.print(f"  push problem: {push['error']}")
    if push.get("signed") is False:
        ctx.print("  push problem: no secret to sign and check answers with (`sundown doctor` says why)")
    if push.get("namesakes"):
        ctx.print(f"  push: another machine also calls itself {push['device']!r}; give each its own `device`")
    answers = push.get("answers", {})
    ignored = {k: v for k, v in answers.items() if k not in ("applied", "webhook") and v}
    if ignored:
        what = {
            "unparsed": "not sundown's",
            "refused": "refused by a rule",
            "unknown": "unknown reminder or night",
            "duplicate": "seen twice",
            "unsigned": "unsigned",
            "bad_signature": "wrongly signed",
            "expired": "expired",
        }
        ctx.print("  push answers ignored: " + ", ".join(f"{v} {what.get(k, k)}" for k, v in ignored.items()))
