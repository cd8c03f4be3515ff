"""Shell completion: the shipped scripts are what shtab makes of today's parser, and real bash,
zsh and fish complete commands, options, choices and the config's reminder ids with them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from sundown.cli import main
from sundown.cli.completion_cmds import SCRIPTS, script
from support.sandbox import REPO, Sandbox
from support.shells import (
    bash_complete,
    bash_spec,
    fish_complete,
    sundown_on_path,
    zsh_complete,
    zsh_loads,
)

CONFIG = """timezone = "UTC"
[bedtime]
default = "22:30"
[reminders.tea]
before = "1h"
[reminders.stretch]
before = "30m"
[reminders.lights-out]
before = "0m"
"""
IDS = ["lights-out", "stretch", "tea"]
COMMANDS = {"ack", "check", "completion", "help", "log", "report", "run", "snooze", "status", "stats"}


def _generator():
    pytest.importorskip("shtab", reason="shtab generates the scripts: pip install -e '.[test]'")
    loaded = importlib.util.spec_from_file_location("completions_script", REPO / "scripts" / "completions.py")
    assert loaded and loaded.loader
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def test_the_shipped_scripts_are_generated_from_the_current_parser() -> None:
    made = _generator().scripts()
    for shell, name in SCRIPTS.items():
        assert script(shell) == made[name], (
            f"src/sundown/completion/{name} is stale: run `python3 scripts/completions.py`"
        )


def test_completion_prints_the_shipped_script_and_the_config_ids(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", "fish"]) == 0
    assert capsys.readouterr().out == script("fish")
    sandbox.write_config(CONFIG)
    assert main(["completion", "--ids"]) == 0
    assert sorted(capsys.readouterr().out.split()) == IDS
    assert main(["completion"]) == 2
    assert "name the shell" in capsys.readouterr().err


def test_the_hidden_ids_option_is_not_offered() -> None:
    for text in (script("bash"), script("zsh"), script("fish")):
        assert "--ids" not in text.replace("completion --ids", "")


@pytest.fixture
def shell_env(sandbox: Sandbox, tmp_path: Path) -> dict[str, str]:
    """The sandbox's environment with a `sundown` on PATH and the three scripts written out."""
    sandbox.write_config(CONFIG)
    bin_dir = tmp_path / "bin"
    sundown_on_path(bin_dir)
    env = {**sandbox.env, "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin"}
    out = tmp_path / "completion"
    (out / "zsh").mkdir(parents=True)
    for shell, name in SCRIPTS.items():
        target = out / "zsh" / name if shell == "zsh" else out / name
        target.write_text(script(shell))
    return env


def _path(tmp_path: Path, name: str) -> Path:
    return tmp_path / "completion" / name


@pytest.mark.e2e
def test_bash_loads_the_script_and_completes(shell_env: dict[str, str], tmp_path: Path) -> None:
    bash = _path(tmp_path, "sundown.bash")
    assert bash_spec(bash, shell_env).endswith(" sundown")
    assert "-F _shtab_sundown" in bash_spec(bash, shell_env)
    assert COMMANDS <= set(bash_complete(bash, ["sundown", ""], shell_env))
    assert bash_complete(bash, ["sundown", "sta"], shell_env) == ["stats", "status"]
    assert bash_complete(bash, ["sundown", "ack", ""], shell_env) == IDS
    assert bash_complete(bash, ["sundown", "skip", "tea", "st"], shell_env) == ["stretch"]
    assert bash_complete(bash, ["sundown", "run", "--backend", ""], shell_env) == sorted(
        ["auto", "dbus", "plyer", "console"]
    )
    assert bash_complete(bash, ["sundown", "completion", ""], shell_env) == ["bash", "fish", "zsh"]
    assert "--json" in bash_complete(bash, ["sundown", "status", "--"], shell_env)


@pytest.mark.e2e
def test_fish_loads_the_script_and_completes(shell_env: dict[str, str], tmp_path: Path) -> None:
    fish = _path(tmp_path, "sundown.fish")
    assert COMMANDS <= set(fish_complete(fish, "sundown ", shell_env))
    assert fish_complete(fish, "sundown ack ", shell_env) == IDS
    assert fish_complete(fish, "sundown completion ", shell_env) == ["bash", "fish", "zsh"]


@pytest.mark.e2e
def test_zsh_loads_the_script_and_completes(shell_env: dict[str, str], tmp_path: Path) -> None:
    functions = _path(tmp_path, "zsh")
    assert zsh_loads(functions, shell_env) == "_sundown"
    assert set(IDS) <= set(zsh_complete(functions, "sundown ack ", shell_env))
    assert {"stats", "status"} <= set(zsh_complete(functions, "sundown sta", shell_env))


def test_completion_is_no_dependency_of_the_cli() -> None:
    """The CLI never imports shtab: the scripts are data in the package."""
    src = "\n".join(p.read_text() for p in (REPO / "src" / "sundown").rglob("*.py"))
    assert "import shtab" not in src
