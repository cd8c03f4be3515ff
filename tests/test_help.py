"""The help users need ships with the package: `sundown help TOPIC` prints the pages of docs/
(linked into the package), `sundown help COMMAND` a command's options, and no --help text
points at a file a pip install does not have."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from sundown.cli import GROUP_OF, build_parser
from sundown.cli.help_cmds import for_terminal, topics
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
    for topic, title in topics().items():
        assert re.search(rf"^  {re.escape(topic)} +{re.escape(title)}$", r.stdout, re.M), topic


@pytest.mark.e2e
def test_help_topic_prints_the_page_with_links_a_terminal_can_follow(sandbox: Sandbox) -> None:
    r = sandbox.run("help", "config", check=True)
    assert r.stdout.startswith("# The config file")
    assert "| `reminders.ID.before` |" in r.stdout  # the key reference, generated from the spec
    stats = sandbox.run("help", "stats", check=True).stdout
    assert '"median_delay_s"' in stats  # what `stats --help` promises for --json
    assert "](" not in sandbox.run("help", "commands", check=True).stdout
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
