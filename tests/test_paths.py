"""Where files live: on Linux sundown reads the XDG variables itself, and answers as platformdirs does
(installed for the tests only on Linux).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import platformdirs
import pytest

from sundown.paths import resolve_paths

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the XDG rules are Linux's")

XDG = ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "HOME", "SUNDOWN_CONFIG", "SUNDOWN_STATE_DIR")


def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **values: str | None) -> dict[str, str]:
    """The XDG variables as given (None: unset) in os.environ, and nothing else of ours; returns them."""
    run = tmp_path / "run"
    run.mkdir(mode=0o700, exist_ok=True)
    for key in XDG:
        monkeypatch.delenv(key, raising=False)
    defaults = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_RUNTIME_DIR": str(run),
    }
    env = {k: v for k, v in {**defaults, **values}.items() if v is not None}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


CASES = {
    "all set": {},
    "XDG homes unset": {"XDG_CONFIG_HOME": None, "XDG_STATE_HOME": None},
    "XDG homes empty": {"XDG_CONFIG_HOME": "", "XDG_STATE_HOME": ""},
    "XDG homes relative (ignored)": {"XDG_CONFIG_HOME": "cfg", "XDG_STATE_HOME": "./state"},
    "HOME unset": {"XDG_CONFIG_HOME": None, "XDG_STATE_HOME": None, "HOME": None},
    "HOME relative": {"XDG_CONFIG_HOME": None, "XDG_STATE_HOME": None, "HOME": "home"},
}


@pytest.mark.parametrize("case", CASES)
def test_config_and_state_dirs_are_platformdirs_answers(case: str, tmp_path: Path, monkeypatch) -> None:
    env = environment(tmp_path, monkeypatch, **CASES[case])
    paths = resolve_paths(env)
    assert paths.config == platformdirs.user_config_path("sundown") / "config.toml"
    assert paths.state_dir == platformdirs.user_state_path("sundown")


def test_a_private_xdg_runtime_dir_is_platformdirs_answer_and_a_relative_one_is_not_trusted(
    tmp_path: Path, monkeypatch
) -> None:
    env = environment(tmp_path, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert resolve_paths(env).runtime_dir == platformdirs.user_runtime_path("sundown")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "run")  # private, but relative: where would it be tomorrow?
    runtime = resolve_paths(env).runtime_dir
    assert runtime.is_absolute() and runtime != tmp_path / "run" / "sundown"
