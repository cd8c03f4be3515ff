"""The help users need ships with the package: `sundown help TOPIC` prints the pages of docs/
(linked into the package), `sundown help COMMAND` a command's options, and no --help text
points at a file a pip install does not have."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

import pytest

from sundown.cli import GROUP_OF, build_parser
from sundown.cli.help_cmds import _pages, for_terminal, topics
from sundown.cli.markdown import render
from support.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent
PACKAGED = REPO / "src" / "sundown" / "help"


def _parsers(
    parser: argparse.ArgumentParser, path: str = "sundown"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}")
    return found


def test_no_help_text_points_at_files_a_user_does_not_have() -> None:
    for path, parser in _parsers(build_parser()):
        text = parser.format_help()
        for needle in ("docs/", ".md", "SPEC", "§"):
            assert needle not in text, f"`{path} --help` mentions {needle!r}:\n{text}"


def test_the_packaged_pages_are_the_pages_of_docs() -> None:
    assert PACKAGED.resolve() == REPO / "docs"  # a link: one text, in the repo and in the package
    assert set(topics()) == {p.stem for p in (REPO / "docs").glob("*.md")}
    assert {"commands", "config", "time", "stats", "service", "notify"} <= set(topics())


@pytest.mark.e2e
def test_help_lists_commands_and_topics(sandbox: Sandbox) -> None:
    r = sandbox.run("help", check=True)
    assert "usage: sundown" in r.stdout
    for command in ("status", "snooze", "report"):
        assert command in r.stdout
    listed = " ".join(r.stdout.split("topics (sundown help TOPIC):")[1].split())  # long titles wrap
    for topic, title in topics().items():
        assert f"{topic} {' '.join(title.split())}" in listed, topic
    assert max(map(len, r.stdout.splitlines())) <= 80  # a pipe: 80 columns


@pytest.mark.e2e
def test_help_topic_prints_the_page_with_links_a_terminal_can_follow(sandbox: Sandbox) -> None:
    r = sandbox.run("help", "config", check=True)
    assert r.stdout.startswith("# The config file")
    # The key reference, generated from the spec: its meanings wrapped beside the keys, in 80 columns.
    assert re.search(r"^`reminders\.ID\.before` +offset before bedtime, e\.g\. 45m", r.stdout, re.M)
    stats = sandbox.run("help", "stats", check=True).stdout
    assert '"median_delay_s"' in stats  # what `stats --help` promises for --json
    assert "](" not in sandbox.run("help", "commands", check=True).stdout
    for topic in ("commands", "service"):  # before: 34 lines each over 80 columns, raw tables
        shown = sandbox.run("help", topic, check=True, env={"COLUMNS": "80"}).stdout
        assert max(map(len, shown.splitlines())) <= 80 and "|---" not in shown
    assert "(`sundown help stats`)" in sandbox.run("help", "commands", check=True).stdout


@pytest.mark.e2e
def test_help_command_prints_its_options(sandbox: Sandbox) -> None:
    r = sandbox.run("help", "snooze", check=True)
    assert r.stdout.startswith("usage: sundown snooze") and "DURATION" in r.stdout
    assert sandbox.run("snooze", "--help", check=True).stdout == r.stdout


@pytest.mark.e2e
def test_help_for_something_unknown_suggests(sandbox: Sandbox) -> None:
    r = sandbox.run("help", "confg")
    assert r.returncode == 2 and 'did you mean "config"?' in r.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("command", sorted(GROUP_OF))
def test_every_command_is_explained_somewhere(sandbox: Sandbox, command: str) -> None:
    r = sandbox.run("help", command, check=True)
    assert command in r.stdout


def test_links_become_help_commands() -> None:
    text = "See [stats.md](stats.md), [the example](../config.example.toml) and [ntfy](https://ntfy.sh)."
    assert (
        for_terminal(text) == "See stats.md (`sundown help stats`), the example and ntfy (https://ntfy.sh)."
    )


@pytest.mark.parametrize("topic", sorted(topics()))
@pytest.mark.parametrize("width", [80, 60])
def test_every_page_fits_the_terminal(topic: str, width: int) -> None:
    """Paragraphs, list items, tables and code are fitted to the width (a test's long name too)."""
    text = render(for_terminal(_pages()[topic].read_text(encoding="utf-8")), width)
    wide = [line for line in text.splitlines() if len(line) > width]
    assert not wide, "\n".join(wide)
    # Nothing is lost on the way: every word of the page is still there (a table too wide for the
    # width loses only its first column's name: each entry starts with that cell instead).
    source = for_terminal(_pages()[topic].read_text(encoding="utf-8"))
    names = [m[1].strip() for m in re.finditer(r"^\|([^|\n]*)\|.*\n\|[-: |]+\|$", source, re.M)]
    words = lambda t: Counter(re.sub(r"[|`*#\\:]|-{3,}", " ", t).split())  # noqa: E731
    missing = words(source) - words(text) - words(" ".join(names))
    unbroken = re.sub(r"\n *", "", text)  # a word too long for a line is broken after `::`, `/`, `_`, `.`
    assert not [word for word in missing if word not in unbroken], missing


def test_a_table_is_aligned_where_it_fits_and_one_entry_a_row_where_not() -> None:
    table = "| code | meaning |\n|---|---|\n| 0 | success |\n| 78 | config error: `a \\| b` |\n"
    assert render(table, 80) == (
        "code  meaning\n----  ---------------------\n0     success\n78    config error: `a | b`\n"
    )
    wide = "| what | where | override |\n|---|---|---|\n| config | `~/.config/sundown/config.toml` | `-c` |\n"
    assert render(wide, 45) == "config\n    where: `~/.config/sundown/config.toml`\n    override: `-c`\n"
    text = "A paragraph " + "word " * 20 + "\n\n```sh\nsundown run --backend console\n```\n"
    assert render(text, 40).splitlines() == [
        "A paragraph word word word word word",
        "word word word word word word word word",
        "word word word word word word word",
        "",
        "```sh",
        "sundown run --backend console",  # code that fits stays as written
        "```",
    ]
