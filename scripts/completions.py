#!/usr/bin/env python3
"""Regenerate the shell completion scripts in src/sundown/completion/ from the CLI's parser,
with shtab (a test extra: `pip install -e '.[test]'`). Run it after adding or changing a command
or an option; tests/test_completion.py fails until the scripts are current.

What completes besides commands, options and choices, decided by the argument's metavar (so
a new command gets it without a table here): `ID...` arguments complete the config's reminder
ids (the script runs `sundown completion --ids`), `PATH` and `FILE` complete file names.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import shtab  # noqa: E402

from sundown.cli import build_parser  # noqa: E402
from sundown.cli.completion_cmds import IDS_OPTION, SCRIPTS  # noqa: E402

OUT = REPO / "src" / "sundown" / "completion"
IDS = shtab.cmd(f"sundown completion {IDS_OPTION} 2>/dev/null")


def _mark(parser: argparse.ArgumentParser) -> None:
    """Set shtab's `complete` on the arguments that name reminder ids or files, in every subparser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _mark(sub)
            continue
        metavar = str(action.metavar or "")
        if metavar.startswith("ID"):
            action.complete = IDS  # type: ignore[attr-defined]
        elif metavar in ("PATH", "FILE"):
            action.complete = shtab.FILE  # type: ignore[attr-defined]


def scripts() -> dict[str, str]:
    """Each shipped file name and its text, as the current parser makes it."""
    parser = build_parser()
    _mark(parser)
    return {name: shtab.complete(parser, shell=shell) for shell, name in SCRIPTS.items()}


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, text in scripts().items():
        path = OUT / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"updated {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
