"""Command line: argument parsing, printing, and the one funnel from errors to exit codes.

Each command group lives in its own module with a `register(subparsers, common)`
function; handlers take a `Context` and return an exit status. Handlers import
heavy modules (sqlite3, APScheduler, jeepney) inside the function so that quick
commands start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sundown import __version__
from sundown.cli import daemon_cmds, log_cmds, routine_cmds, service_cmds
from sundown.cli.context import Context
from sundown.errors import EX_FAILURE, ConfigError, SundownError

GROUPS = (routine_cmds, daemon_cmds, log_cmds, service_cmds)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="config file (default: $SUNDOWN_CONFIG or ~/.config/sundown/config.toml)",
    )
    parser = argparse.ArgumentParser(
        prog="sundown",
        description="Evening wind-down reminders: desktop notifications before bedtime, with a log.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"sundown {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # usage errors exit 2 here, as argparse does
    ctx = Context(args)
    try:
        return int(args.func(ctx) or 0)
    except ConfigError as exc:
        # Already `PATH:LINE: KEY.PATH: message` lines, one per problem.
        for problem in exc.problems:
            print(problem, file=ctx.err)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
