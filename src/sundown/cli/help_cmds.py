"""`sundown help [TOPIC|COMMAND]`: the documentation that ships with the package.

The topics are the pages of docs/ (src/sundown/help is a link to that directory, so a pip
install carries the same text the repository shows, and a new page is a new topic); a
command name prints that command's --help.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import TYPE_CHECKING

from sundown.errors import UsageError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from sundown.cli.context import Context


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add help."""
    p = sub.add_parser(
        "help",
        parents=[common],
        help="the documentation: a topic (config, time, commands, ...) or a command's options",
        description="Without an argument: the commands and the topics. With a TOPIC: that page of"
        " the documentation. With a COMMAND that is no topic: its options, as"
        " `sundown COMMAND --help`.",
    )
    p.add_argument("topic", nargs="?", metavar="TOPIC|COMMAND", help="what to explain")
    p.set_defaults(func=cmd_help)


def _pages() -> dict[str, Traversable]:
    from importlib.resources import files

    folder = files("sundown").joinpath("help")
    pages = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".md"):
            pages[entry.name[: -len(".md")]] = entry
    return dict(sorted(pages.items()))


def topics() -> dict[str, str]:
    """Each topic and its page's title."""
    return {name: _title(page.read_text(encoding="utf-8")) for name, page in _pages().items()}


def _title(text: str) -> str:
    first = next((line for line in text.splitlines() if line.startswith("#")), "")
    return first.lstrip("#").strip()


def for_terminal(text: str) -> str:
    """Markdown links become what a terminal can follow: `sundown help PAGE` or the bare text."""

    def link(m: re.Match[str]) -> str:
        label, target = m.group(1), m.group(2)
        page = re.fullmatch(r"(?:\.\./docs/|docs/)?([a-z-]+)\.md(?:#.*)?", target)
        if page and page.group(1) in _pages():
            return f"{label} (`sundown help {page.group(1)}`)"
        if target.startswith(("http://", "https://")):
            return f"{label} ({target})"
        return label

    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", link, text)


def cmd_help(ctx: Context) -> int:
    from sundown.cli import GROUP_OF, build_parser

    topic = ctx.args.topic
    if topic is None:
        build_parser().print_help(ctx.out)
        ctx.print("\ntopics (sundown help TOPIC):")
        import textwrap

        from sundown.cli.show import terminal_width

        titles = topics()
        width = max(map(len, titles), default=0)
        for name, title in titles.items():
            lead = f"  {name:<{width}}  "
            # A long title goes on under itself, not past the terminal's edge.
            indent = " " * len(lead)
            for line in textwrap.wrap(title, terminal_width(), initial_indent=lead, subsequent_indent=indent):
                ctx.print(line)
        return 0
    pages = _pages()
    if topic not in pages and topic in GROUP_OF:  # a page first: `help stats` explains more than --help
        parser = build_parser(topic)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                action.choices[topic].print_help(ctx.out)
        return 0
    if topic not in pages:
        from sundown.config.values import nearest

        match = nearest(topic, [*pages, *GROUP_OF], cutoff=0.5)
        hint = f'; did you mean "{match}"?' if match else f" (topics: {', '.join(pages)})"
        raise UsageError(f"help: no topic or command {topic!r}{hint}")
    from sundown.cli.markdown import render
    from sundown.cli.show import terminal_width

    text = render(for_terminal(pages[topic].read_text(encoding="utf-8")), terminal_width())
    isatty = getattr(ctx.out, "isatty", lambda: False)
    if ctx.out is sys.stdout and isatty():
        import pydoc

        pydoc.pager(text)
    else:
        ctx.out.write(text)
    return 0
