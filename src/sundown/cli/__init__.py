"""Command line: argument parsing, printing, and the one funnel from errors to exit codes.

Each command group lives in its own module with a `register(subparsers, common)`
function; handlers take a `Context` and return an exit status. Start-up time is
most of a quick command's cost, so only the invoked command's group is imported
and its parsers built (all of them only for top-level help and usage errors), and
handlers import heavy modules (sqlite3, APScheduler, jeepney) inside the function.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any

from sundown import __version__
from sundown.cli.context import Context
from sundown.errors import EX_FAILURE, ConfigError, SundownError

# Each command, and the module (in sundown.cli) that registers it; a test checks the table.
GROUP_OF = {
    "init": "routine_cmds",
    "check": "routine_cmds",
    "next": "routine_cmds",
    "run": "daemon_cmds",
    "status": "daemon_cmds",
    "ack": "daemon_cmds",
    "snooze": "daemon_cmds",
    "skip": "daemon_cmds",
    "unskip": "daemon_cmds",
    "tonight": "daemon_cmds",
    "reload": "daemon_cmds",
    "winddown": "winddown_cmds",
    "log": "log_cmds",
    "stats": "log_cmds",
    "report": "log_cmds",
    "service": "service_cmds",
    "doctor": "service_cmds",
    "push": "push_cmds",
    "help": "help_cmds",
    "completion": "completion_cmds",
}
GROUPS = tuple(dict.fromkeys(GROUP_OF.values()))


def invoked_command(argv: Sequence[str]) -> str | None:
    """The command word of `argv` (skipping the top-level `--config PATH`), if any."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif arg == "--":
            return next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def terminal_columns() -> int:
    """What `shutil.get_terminal_size().columns` gives ($COLUMNS, else the terminal on stdout,
    else 80), without importing shutil: argparse does for its help's width, and shutil (bz2
    and lzma with it) would then stay in the daemon's memory for good, 0.6 MB."""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, as wide as `terminal_columns` says (argparse's own asks shutil)."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        width = terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width)


class Parser(argparse.ArgumentParser):
    """The CLI's parsers: each with `HelpFormatter` (a command's subparsers are of this class too)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` alone when it is known, else for every command."""
    common = Parser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $SUNDOWN_CONFIG or ~/.config/sundown/config.toml)",
    )
    parser = Parser(
        prog="sundown",
        description="Evening wind-down reminders: desktop notifications before bedtime, with a log.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"sundown {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = (GROUP_OF[command],) if command in GROUP_OF else GROUPS
    for group in groups:
        import_module(f"sundown.cli.{group}").register(sub, common)
    return parser


def _unknown_command(parser: argparse.ArgumentParser, word: str) -> None:
    """A mistyped command: say what it may have meant (exit 2, like any usage error)."""
    from sundown.config.values import nearest

    names = [name for name in _commands(parser) if not name.startswith("-")]
    match = nearest(word, names, cutoff=0.5)
    hint = f"; did you mean `sundown {match}`?" if match else f" (commands: {', '.join(names)})"
    parser.print_usage(sys.stderr)
    print(f"sundown: error: unknown command {word!r}{hint}", file=sys.stderr)
    raise SystemExit(2)


def _commands(parser: argparse.ArgumentParser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return list(action.choices)
    return []


def not_on_path(script: str, env: Mapping[str, str]) -> str | None:
    """What to say when this `sundown` was started by its path from a shell where plain `sundown` is
    not found: Debian and Ubuntu put ~/.local/bin, where the README links it, on PATH at login only."""
    import os
    import shutil

    if os.path.basename(script) != "sundown" or not os.path.dirname(script):
        return None  # `python -m sundown`, or found through PATH
    where = os.path.abspath(os.path.dirname(script))
    path = env.get("PATH", "")
    on_path = {os.path.abspath(d) for d in path.split(os.pathsep) if d}
    if where in on_path or shutil.which("sundown", path=path):
        return None  # reachable as plain `sundown` (perhaps another one: not ours to judge)
    home = os.path.expanduser("~")
    if where == os.path.join(home, ".local", "bin"):
        return (
            "~/.local/bin is not on PATH in this shell, so plain `sundown` is\n"
            "  not found here. Debian and Ubuntu add it at your next login; until then:\n"
            '  export PATH="$HOME/.local/bin:$PATH"'
        )
    shown = "~" + where[len(home) :] if where.startswith(home + os.sep) else where
    return f"{shown} is not on PATH in this shell, so plain `sundown` is not found here"


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None and sys.stderr.isatty():
        import os

        note = not_on_path(sys.argv[0], os.environ)
        if note:
            print(f"sundown: {note}", file=sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    word = invoked_command(argv)
    parser = build_parser(word)
    if not argv:  # bare `sundown`: what it is and what it can do
        parser.print_help()
        return 0
    if word is not None and word not in GROUP_OF:
        _unknown_command(parser, word)
    args = parser.parse_args(argv)  # usage errors exit 2 here, as argparse does
    ctx = Context(args)
    try:
        status = int(args.func(ctx) or 0)
        ctx.out.flush()  # a closed pipe shows here, not in the interpreter's last flush
        return status
    except BrokenPipeError:
        # `sundown next | head -1`: the reader has what it wanted; leave quietly, as `ls` does.
        _quiet_stdout()
        return 0
    except ConfigError as exc:
        # Already `PATH:LINE: KEY.PATH: message` lines, one per problem.
        ctx.errors(exc.problems)
        return exc.exit_code
    except SundownError as exc:
        ctx.error(str(exc))
        return exc.exit_code
    except OSError as exc:
        ctx.error(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
        return EX_FAILURE
    except KeyboardInterrupt:
        return 130
    finally:
        ctx.close()


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush finds no broken pipe."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
