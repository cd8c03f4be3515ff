"""`sundown completion SHELL`: the completion script for bash, zsh or fish.

The scripts are generated from this CLI's own parser by shtab (`python3 scripts/completions.py`
whenever a command or option changes; a test fails while they are stale) and ship with the
package. So completing costs no Python start and shtab is no dependency of an install; only
reminder ids are asked of sundown itself, through the hidden `sundown completion --ids`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sundown.errors import UsageError

if TYPE_CHECKING:
    from sundown.cli.context import Context

# Each shell and the file its script ships as (the names each shell looks for in its directories).
SCRIPTS = {"bash": "sundown.bash", "zsh": "_sundown", "fish": "sundown.fish"}
IDS_OPTION = "--ids"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add completion."""
    p = sub.add_parser(
        "completion",
        parents=[common],
        help="print the shell completion script (bash, zsh, fish)",
        description="Print the completion script for SHELL; commands, options and the config's"
        " reminder ids complete. Install: `sundown help completion`.",
    )
    p.add_argument("shell", nargs="?", choices=tuple(SCRIPTS), metavar="SHELL", help="bash, zsh or fish")
    # What the scripts run to complete reminder ids: one id a line, from the config in use.
    p.add_argument(IDS_OPTION, action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_completion)


def script(shell: str) -> str:
    from importlib.resources import files

    return files("sundown").joinpath("completion").joinpath(SCRIPTS[shell]).read_text(encoding="utf-8")


def cmd_completion(ctx: Context) -> int:
    if ctx.args.ids:
        for reminder in ctx.loaded.routine.reminders:
            ctx.print(reminder.id)
        return 0
    if ctx.args.shell is None:
        raise UsageError(f"completion: name the shell: sundown completion {'|'.join(SCRIPTS)}")
    ctx.out.write(script(ctx.args.shell))
    return 0
