"""`sundown winddown on|off|status`: the wind-down now, by hand (docs/winddown.md).

With a daemon running, the request goes over its control socket and the answer comes once the
change is done. Without one: `on` is written to the log (the daemon applies it when it starts,
until the next `until`); `off` puts back what the journal holds, from this process, and is
written to the log so a daemon started later tonight does not apply it again; `status` says
what the plan and the journal say.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sundown.errors import SundownError

if TYPE_CHECKING:
    from sundown.cli.context import Context

UTC = timezone.utc


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add winddown."""
    p = sub.add_parser(
        "winddown",
        parents=[common],
        help="the desktop's wind-down now: on, off, status",
        description="`on` starts the wind-down now, until the next `until`; `off` ends it and puts"
        " every setting back (one you changed meanwhile stays as you set it); `status` shows it"
        " and each effect. Configured in [winddown] (`sundown help winddown`).",
    )
    p.add_argument("action", choices=("on", "off", "status"), help="what to do")
    p.add_argument("--json", action="store_true", help="status: print one JSON object")
    p.set_defaults(func=cmd_winddown)


def _now() -> datetime:
    return datetime.now(UTC)


def cmd_winddown(ctx: Context) -> int:
    from sundown.runtime.control import DaemonSilent, request

    action = ctx.args.action
    try:
        reply = request(ctx.paths, {"cmd": "winddown", "action": action}, timeout=15.0)
    except DaemonSilent as exc:
        if action != "status":
            raise SundownError(f"{exc}; nothing was changed") from None
        ctx.note(f"warning: {exc}; showing what the config and the journal say")
        reply = None
    if reply is not None and not reply.get("ok"):
        raise SundownError(str(reply.get("error") or "the daemon refused"))
    if action == "status":
        return _status(ctx, reply)
    if reply is None:
        return _without_daemon(ctx, action)
    state = reply.get("winddown") or {}
    if reply.get("nothing"):
        ctx.print("no wind-down is on; nothing to put back")
        return 0
    if reply.get("pending"):
        ctx.note("warning: the daemon is still at it; `sundown winddown status` shows how it ends")
    if action == "on":
        ctx.print(f"wind-down on until {_hm(ctx, state.get('until'))}")
    else:
        ctx.print("wind-down off")
    _print_effects(ctx, state.get("effects") or {})
    return 0


def _hm(ctx: Context, iso: str | None) -> str:
    if not iso:
        return "?"
    at = datetime.fromisoformat(iso).astimezone(ctx.loaded.zone)
    return at.strftime("%H:%M") if (at - _now()).total_seconds() < 20 * 3600 else at.strftime("%a %H:%M")


def _print_effects(ctx: Context, effects: dict[str, str]) -> None:
    width = max((len(e) for e in effects), default=0)
    for effect, word in effects.items():
        ctx.print(f"  {effect:<{width}}  {word}")


def _plan_state(ctx: Context) -> Any:
    """The wind-down the config and the log's requests say holds now (no daemon to ask)."""
    from sundown.core import winddown as rules
    from sundown.core.state import fold_changes

    loaded = ctx.loaded
    wd = loaded.routine.winddown
    if wd is None:
        return None
    now = _now()
    events, changes = [], {}
    exists = ctx.paths.database.exists()
    for night in rules.nights_around(now, loaded.zone):
        rows = ctx.log.night_events(night) if exists else []
        events.extend(rows)
        changes[night] = fold_changes(rows)
    return rules.state_at(
        wd, loaded.routine, loaded.zone, now, changes, rules.requests_of(events, loaded.zone)
    )


def _without_daemon(ctx: Context, action: str) -> int:
    from sundown.core.plan import night_of

    loaded = ctx.loaded
    wd = loaded.routine.winddown
    night = night_of(_now(), loaded.zone)
    if action == "on":
        if wd is None:
            raise SundownError("the config has no [winddown] section (`sundown help winddown`)")
        ctx.log.record("winddown", night, None, "cli", {"phase": "start", "requested": True})
        state = _plan_state(ctx)
        until = state.active.end.isoformat() if state is not None and state.active else None
        ctx.note(
            f"no daemon is running; the wind-down is recorded and starts when the daemon does"
            f" (`sundown run`), until {_hm(ctx, until)}"
        )
        return 0
    from sundown.runtime.effects.journal import Journal, JournalError
    from sundown.runtime.winddown import restore_now

    try:
        leftovers = bool(Journal.load(ctx.paths.winddown_journal).entries)
    except JournalError as exc:
        raise SundownError(str(exc)) from None
    state = _plan_state(ctx)
    planned_now = state is not None and state.active is not None
    if not leftovers and not planned_now:
        ctx.print("no wind-down is on; nothing to put back")
        return 0
    import os

    effects, problem = restore_now(ctx.paths, os.environ, "off") if leftovers else ({}, None)
    details: dict[str, Any] = {"phase": "end", "requested": True, "effects": effects, "reason": "off"}
    ctx.log.record("winddown", night, None, "cli", details)
    ctx.print("wind-down off" + ("" if effects else " (nothing was changed: no daemon is running)"))
    _print_effects(ctx, effects)
    if problem:
        ctx.note(f"warning: {problem}")
    return 0


def _status(ctx: Context, reply: dict[str, Any] | None) -> int:
    from sundown.runtime.effects.journal import Journal, JournalError

    running = reply is not None
    state = (reply or {}).get("winddown") if running else None
    if not running:
        try:
            journal = Journal.load(ctx.paths.winddown_journal)
            effects = {
                e.effect: f"not put back yet: {e.error or 'no daemon ran at its end'}"
                for e in journal.entries
            }
        except JournalError as exc:
            effects, journal = {"journal": str(exc)}, None
        plan = _plan_state(ctx)
        state = {"active": False, "since": None, "until": None, "effects": effects}
        if plan is not None and plan.active is not None:
            state["planned"] = {"since": plan.active.start.isoformat(), "until": plan.active.end.isoformat()}
        elif plan is not None and plan.next_start is not None:
            state["next"] = plan.next_start.isoformat()
    if ctx.args.json:
        ctx.print(json.dumps(state, indent=2))
        return 0
    if state is None:
        ctx.print("no wind-down: the config has no [winddown] section (`sundown help winddown`)")
        return 0
    if state.get("active"):
        ctx.print(f"wind-down on since {_hm(ctx, state['since'])}, until {_hm(ctx, state['until'])}")
    elif not running and state.get("planned"):
        window = state["planned"]
        ctx.print(
            f"wind-down due now ({_hm(ctx, window['since'])} to {_hm(ctx, window['until'])}),"
            " but no daemon is running to apply it"
        )
    else:
        nxt = state.get("next")
        ctx.print("wind-down off" + (f"; next at {_hm(ctx, nxt)}" if nxt else ""))
    _print_effects(ctx, state.get("effects") or {})
    if state.get("problem"):
        ctx.print(f"  problem: {state['problem']}")
    return 0
