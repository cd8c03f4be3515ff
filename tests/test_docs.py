"""The product documents itself: the key reference in docs/config.md is the config spec's
own `doc` strings, config.example.toml shows every key, and no text points at files a user
does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sundown.config import spec
from support.scripts import load_script

REPO = Path(__file__).resolve().parent.parent


def test_config_md_carries_the_current_key_reference() -> None:
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    assert load_script("scripts/docs.py").with_reference(text) == text, (
        "docs/config.md's key table is not the spec's: run `python3 scripts/docs.py`"
    )


def test_every_key_of_the_spec_has_a_doc() -> None:
    for name, doc in spec.keys():
        assert doc.strip(), f"{name} has no doc string in src/sundown/config/spec.py"


def _sections(text: str) -> dict[str, str]:
    """The example's text by table ("" for the top), commented-out tables included; every
    [reminders.X] goes under "reminders.ID"."""
    sections: dict[str, str] = {"": ""}
    current = ""
    for line in text.splitlines():
        m = re.match(r"\s*#?\s*\[([A-Za-z0-9_.\-\"]+)\]\s*(#.*)?$", line)
        if m:
            current = m.group(1)
            if current.startswith("reminders."):
                current = "reminders.ID"
            sections.setdefault(current, "")
            continue
        sections[current] += line + "\n"
    return sections


@pytest.mark.parametrize("name", [name for name, _doc in spec.keys()])
def test_config_example_shows_every_key(name: str) -> None:
    sections = _sections((REPO / "src" / "sundown" / "config.example.toml").read_text(encoding="utf-8"))
    if name.startswith("["):
        assert name.strip("[]") in sections, f"config.example.toml has no {name} table (even commented)"
        return
    table, _, key = name.rpartition(".")
    assert table in sections, f"config.example.toml has no [{table}] table for {name}"
    assert re.search(rf"\b{re.escape(key)}\b", sections[table]), (
        f"config.example.toml does not show {name} (write it, commented out if optional, under [{table}])"
    )


def test_no_text_points_at_a_spec_users_do_not_have() -> None:
    """Product text and tests speak for themselves: the contract lives in docs/, in the product's words."""
    mine = {REPO / "tests" / "test_docs.py", REPO / "tests" / "test_help.py"}  # they name the word
    roots = [REPO / d for d in ("src", "docs", "tests", "bench", "scripts", ".ci")] + [REPO / "README.md"]
    found = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if not path.is_file() or path in mine or "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary
            lines = enumerate(text.splitlines(), 1)
            found += [f"{path.relative_to(REPO)}:{n}" for n, line in lines if "SPEC" in line]
    assert found == []


def test_commands_md_names_every_event_and_source() -> None:
    from sundown.core.vocabulary import DEVICE_PREFIX, EVENTS, SOURCES

    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    for word in (*EVENTS, *SOURCES, DEVICE_PREFIX):
        assert f"`{word}" in text, f"docs/commands.md does not explain {word!r}"


def test_commands_md_lists_every_command() -> None:
    from sundown.cli import GROUP_OF

    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    for command in GROUP_OF:
        assert f"`sundown {command}" in text, f"docs/commands.md does not list `sundown {command}`"


def _shell_commands(text: str) -> list[str]:
    """`sundown ...` command lines of the ```sh blocks, without their comments."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = line.split("  #")[0].split(" | ")[0].split(" && ")[0].split(" > ")[0].strip()
            if command.startswith("sundown "):
                found.append(command)
    return found


@pytest.mark.parametrize(
    "page", ["README.md", "docs/stats.md", "docs/service.md", "docs/config.md", "docs/completion.md"]
)
def test_the_commands_the_docs_show_are_commands(page: str) -> None:
    """A renamed option or command fails here, not in a reader's terminal."""
    import shlex

    from sundown.cli import build_parser, invoked_command

    commands = _shell_commands((REPO / page).read_text(encoding="utf-8"))
    for command in commands:
        argv = shlex.split(command, comments=True)[1:]
        parser = build_parser(invoked_command(argv))
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            raise AssertionError(f"{page}: `{command}` is not a valid command line") from exc
    if page == "README.md":
        assert len(commands) >= 15


def test_commands_md_explains_every_key_of_status_json() -> None:
    import dataclasses

    from sundown.core.status import Status

    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    section = text[text.index("`sundown status --json`") :]
    for field in dataclasses.fields(Status):
        assert f"`{field.name}`" in section, f"docs/commands.md does not explain status key {field.name!r}"


def test_the_readme_and_the_example_config_promise_the_same_reload_delay() -> None:
    """Before: "within a fraction of a second" in the README, "within 2 seconds" in the example."""
    promise = "within 2 seconds of saving, usually a fraction of one"
    example = " ".join(line.lstrip("# ") for line in (REPO / "config.example.toml").read_text().splitlines())
    assert promise in " ".join((REPO / "README.md").read_text().split())
    assert promise in " ".join(example.split())


@pytest.mark.parametrize("page", ["README.md", "docs/bars.md"])
def test_the_status_bar_snippets_run_commands_that_parse(page: str) -> None:
    """The `exec`/`command` lines a newcomer copies into waybar, polybar or i3blocks."""
    import shlex

    from sundown.cli import build_parser, invoked_command

    text = (REPO / page).read_text(encoding="utf-8")
    found = re.findall(r'^\s*(?:"exec":\s*"|exec\s*=\s*|command=)(sundown [^"\n]*)', text, re.M)
    assert len(found) >= 3, f"{page} has no waybar, polybar and i3blocks snippets"
    for command in found:
        argv = shlex.split(command)[1:]
        assert "--follow" in argv
        build_parser(invoked_command(argv)).parse_args(argv)
