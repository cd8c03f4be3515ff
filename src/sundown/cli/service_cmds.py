"""Commands: `sundown service install|uninstall|status` and `sundown doctor`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from sundown.cli.context import Context
from sundown.errors import EX_FAILURE, EX_OK, SundownError

if TYPE_CHECKING:
    from sundown.doctor import Report


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add this group's subcommands."""
    svc = sub.add_parser(
        "service",
        parents=[common],
        help="the systemd user unit: install, uninstall, status",
        description="Run sundown in the background as a systemd user service (`sundown help service`).",
    )
    actions = svc.add_subparsers(dest="service_action", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install",
        parents=[common],
        help="write ~/.config/systemd/user/sundown.service, enable and start it",
        description="Write the user unit for this sundown, hand it the desktop session's environment, "
        "enable and start it. Run it from a terminal inside your desktop session.",
    )
    install.add_argument(
        "--wanted-by",
        choices=("graphical-session.target", "default.target"),
        default=None,
        help="start with this target (default: graphical-session.target where the desktop "
        "activates it, else default.target)",
    )
    install.set_defaults(func=cmd_install)
    uninstall = actions.add_parser(
        "uninstall", parents=[common], help="stop and disable the unit and remove its file"
    )
    uninstall.set_defaults(func=cmd_uninstall)
    status = actions.add_parser(
        "status", parents=[common], help="the unit's state as systemd sees it, and the daemon's pid"
    )
    status.set_defaults(func=cmd_status)

    doctor = sub.add_parser(
        "doctor",
        parents=[common],
        help="check that notifications can be delivered, and say how to fix what is missing",
        description="Checks the config, the log, the session bus, the notification server and its "
        "capabilities, and the service's environment. Exit 0 when nothing failed (warnings allowed).",
    )
    doctor.add_argument(
        "--notify", action="store_true", help="also send a test notification through the configured backend"
    )
    doctor.set_defaults(func=cmd_doctor)


# --- service -------------------------------------------------------------------------------------


def _argv(ctx: Context) -> list[str]:
    from sundown.systemd import unit

    argv = unit.exec_argv()
    if ctx.paths.config_explicit:
        # The service has none of this shell's variables: name the config it was installed with.
        argv += ["--config", str(ctx.paths.config.resolve())]
    return argv


def _no_user_manager(ctx: Context, reason: str) -> int:
    """Say that systemd --user is out of reach, and how to start sundown at login instead."""
    from sundown.systemd import unit

    ctx.error(f"{reason}.")
    ctx.print("Without systemd --user, start `sundown run` with your desktop session instead:")
    ctx.print(f"  save this as {unit.autostart_path()}:\n")
    for line in unit.autostart_entry(_argv(ctx)).splitlines():
        ctx.print(f"    {line}")
    ctx.print("\n  or add `sundown run &` to ~/.xinitrc or your window manager's startup file.")
    ctx.print("Then `sundown doctor` checks that notifications can be delivered.")
    return EX_FAILURE


def _in_a_terminal(pid: int) -> bool:
    """Does `pid` have a controlling terminal (a `sundown run` typed in one)? /proc/PID/stat's tty_nr."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
    return len(fields) > 4 and fields[4] != "0"


def _runs_outside_the_service(ctx: Context) -> int | None:
    """The pid of a daemon of this user that the service is not (a foreground `sundown run`), if any.

    The service's daemon would find that one's lock taken and exit: refuse before touching systemd.
    """
    from sundown.runtime.control import running_pid
    from sundown.systemd import unit

    pid = running_pid(ctx.paths)
    if pid is None:
        return None
    try:
        return None if unit.service_pid(os.environ) == pid else pid
    except SundownError:
        return None  # no user manager: install says so and prints the autostart entry instead


def _refuse_beside(ctx: Context, pid: int) -> int:
    """Say which `sundown run` to stop before the service can start (pid -1: its pid is unknown)."""
    which = f" (pid {pid})" if pid > 0 else ""
    lines = [
        f"sundown: `sundown run` is already running{which}, outside the service;",
        "  the service's daemon would find it and exit. Nothing was installed.",
    ]
    if pid > 0 and _in_a_terminal(pid):
        lines.append(f"Stop the `sundown run` in your other terminal (pid {pid}) first:")
        lines.append(f"Ctrl+C there, or `kill {pid}`. Then run `sundown service install` again.")
    else:
        stop = f"`kill {pid}`" if pid > 0 else "`sundown status` shows its pid"
        lines.append(f"Stop that `sundown run` first ({stop}),")
        lines.append("then run `sundown service install` again.")
    ctx.errors(lines)
    return EX_FAILURE


def cmd_install(ctx: Context) -> int:
    from sundown.systemd import unit

    ctx.loaded  # noqa: B018 - a broken config exits 78 here, not in a restart loop later
    foreground = _runs_outside_the_service(ctx)
    if foreground is not None:
        return _refuse_beside(ctx, foreground)
    try:
        result = unit.install(os.environ, argv=_argv(ctx), wanted_by=ctx.args.wanted_by)
    except unit.NoUserManager as exc:
        return _no_user_manager(ctx, str(exc))
    except unit.StartFailed as exc:
        lines = ["sundown: sundown.service was installed but did not start."]
        lines += [f"  the daemon said: {line}" for line in exc.daemon_said]
        lines += [] if exc.daemon_said else [f"  systemd said: {exc.systemd_said}"]
        ctx.errors([*lines, "more: journalctl --user -u sundown -e"])
        return EX_FAILURE
    except SundownError as exc:
        ctx.error(str(exc))
        ctx.print("See why: journalctl --user -u sundown -e")
        return EX_FAILURE
    ctx.print(f"wrote {result.path}")
    ctx.print(f"  ExecStart={' '.join(result.argv)}")
    ctx.print(f"  WantedBy={result.wanted_by}")
    if result.imported:
        ctx.print(f"imported {', '.join(result.imported)} into systemd --user")
    ctx.print(f"enabled and {'restarted' if result.restarted else 'started'} sundown.service")
    if "DBUS_SESSION_BUS_ADDRESS" in result.missing or (
        "DISPLAY" in result.missing and "WAYLAND_DISPLAY" in result.missing
    ):
        ctx.note(
            f"{' and '.join(result.missing)} not set here: run `sundown service install` from a terminal "
            "inside your desktop session, then `sundown doctor`"
        )
    ctx.print("check it: sundown service status   logs: journalctl --user -u sundown -f")
    return EX_OK


def cmd_uninstall(ctx: Context) -> int:
    from sundown.systemd import unit

    try:
        result = unit.uninstall(os.environ)
    except unit.NoUserManager as exc:
        ctx.error(f"{exc}; nothing to uninstall from systemd.")
        return EX_FAILURE
    if result.removed:
        ctx.print(f"stopped and disabled sundown.service, removed {result.path}")
    else:
        ctx.print(f"sundown.service was not installed ({result.path} does not exist)")
    _put_back_winddown(ctx)
    return EX_OK


def _put_back_winddown(ctx: Context) -> None:
    """The stopped daemon put its wind-down back; what it could not (or a daemon killed before)
    is put back here: nothing starts again to do it."""
    from sundown.runtime.control import running_pid
    from sundown.runtime.effects.journal import Journal, JournalError

    try:
        if running_pid(ctx.paths) is not None or not Journal.load(ctx.paths.winddown_journal).entries:
            return
    except JournalError as exc:
        ctx.note(f"warning: {exc}")
        return
    from sundown.core.plan import night_of
    from sundown.runtime.winddown import restore_now

    effects, problem = restore_now(ctx.paths, os.environ, "uninstall")
    if effects:
        from datetime import datetime, timezone

        try:
            night = night_of(datetime.now(timezone.utc), ctx.loaded.zone)
            ctx.log.record(
                "winddown", night, None, "cli", {"phase": "end", "effects": effects, "reason": "uninstall"}
            )
        except SundownError as exc:
            ctx.note(f"warning: {exc}")
        ctx.print("put back the wind-down's settings: " + ", ".join(f"{k} {v}" for k, v in effects.items()))
    if problem:
        ctx.note(f"warning: {problem}")


def _daemon_view(ctx: Context) -> str:
    """What the daemon says about itself over its control socket (the same as doctor's check)."""
    from sundown.doctor import check_daemon
    from sundown.runtime.control import running_pid

    if running_pid(ctx.paths) is None:
        return "not running"
    return check_daemon(ctx.paths).detail


def cmd_status(ctx: Context) -> int:
    from sundown.systemd import unit

    try:
        props = unit.status(os.environ)
    except unit.NoUserManager as exc:
        ctx.print(f"daemon: {_daemon_view(ctx)}")
        return _no_user_manager(ctx, str(exc))
    if props.get("LoadState") != "loaded":
        ctx.print("sundown.service: not installed (sundown service install)")
        ctx.print(f"daemon: {_daemon_view(ctx)}")
        return EX_FAILURE
    active, sub = props.get("ActiveState", "?"), props.get("SubState", "?")
    line = f"sundown.service: {active} ({sub})"
    pid = int(props.get("MainPID") or 0)
    if pid:
        line += f", pid {pid}"
    if props.get("ActiveEnterTimestamp") and active == "active":
        line += f", since {props['ActiveEnterTimestamp']}"
    ctx.print(line)
    ctx.print(f"  unit file: {props.get('FragmentPath', '?')} ({props.get('UnitFileState', '?')})")
    if props.get("StatusText"):
        ctx.print(f"  status: {props['StatusText']}")
    if active == "failed" or props.get("Result", "success") != "success":
        ctx.print(f"  result: {props.get('Result', '?')}, exit status {props.get('ExecMainStatus', '?')}")
    if int(props.get("NRestarts") or 0):
        ctx.print(f"  restarts: {props['NRestarts']}")
    ctx.print(f"daemon: {_daemon_view(ctx)}")
    ctx.print("logs: journalctl --user -u sundown -e")
    return EX_OK if active in ("active", "reloading") else EX_FAILURE


# --- doctor --------------------------------------------------------------------------------------

MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def print_report(ctx: Context, report: Report) -> None:
    """One check a line, its detail wrapped at the terminal's width under itself; a fix that is a
    command (no `backticks` in it) stays on one line, so that it can be pasted."""
    import re
    import textwrap

    from sundown.cli.show import terminal_width

    width = max(len(c.name) for c in report.checks)
    columns = terminal_width()
    under = " " * (6 + width + 2)

    def fill(text: str, first: str, rest: str) -> list[str]:
        # A `command` in the text is never broken: its spaces are held until the lines are made.
        held = re.sub(r"`[^`]*`", lambda m: m.group(0).replace(" ", "\0"), text)
        lines = textwrap.wrap(
            held,
            columns,
            initial_indent=first,
            subsequent_indent=rest,
            break_long_words=False,  # a path or a bus address stays whole
            break_on_hyphens=False,
        )
        return [line.replace("\0", " ") for line in lines]

    for check in report.checks:
        for line in fill(check.detail, f"{MARK[check.status]}  {check.name:<{width}}  ", under):
            ctx.print(line)
        if check.fix and check.status != "ok":
            if "`" in check.fix or ": " in check.fix:  # advice in words
                for line in fill(check.fix, f"{under}fix: ", f"{under}     "):
                    ctx.print(line)
            else:
                ctx.print(f"{under}fix: {check.fix}")
    fails, warns = report.count("fail"), report.count("warn")
    if not fails and not warns:
        ctx.print("all good: reminders can reach you")
    else:
        parts = [f"{n} {word}{'s' * (n != 1)}" for n, word in ((fails, "problem"), (warns, "warning")) if n]
        ctx.print(", ".join(parts))


def cmd_doctor(ctx: Context) -> int:
    from sundown import doctor

    report = doctor.run(ctx.paths, os.environ, send_test=ctx.args.notify)
    try:
        print_report(ctx, report)
    finally:
        if report.test_notification is not None:  # the server would keep it: doctor closes it
            ctx.out.flush()  # the report is read while doctor waits
            report.test_notification.close_when_due()
    return report.exit_code
