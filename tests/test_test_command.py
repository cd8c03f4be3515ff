"""The README's test command (`bash scripts/test`) as a newcomer meets it: on a machine without
dbus-python's build dependencies it says which packages to install, not a compiler's error; and
CI runs it as a regular user as well as root, so that a test passing only as root (who writes
through any file mode) cannot hide there."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.desktop import require

REPO = Path(__file__).resolve().parent.parent

# A python3 that is not externally managed and whose pip fails as dbus-python's build does where
# libdbus-1-dev is missing; every other call goes to the real interpreter.
PYTHON = f"""#!/bin/sh
case "$*" in
  *EXTERNALLY-MANAGED*) exit 1 ;;
  *"-m pip install"*)
    echo "  Building wheel for dbus-python (pyproject.toml): started"
    echo "  ../meson.build:31:0: ERROR: Dependency \\"dbus-1\\" not found, tried pkgconfig"
    echo "error: subprocess-exited-with-error"
    exit 1 ;;
esac
exec {sys.executable} "$@"
"""
PKG_CONFIG = "#!/bin/sh\nexit 1\n"  # dbus-1 and glib-2.0 are not there


@pytest.mark.e2e
def test_the_test_command_names_the_packages_dbus_python_needs(tmp_path: Path) -> None:
    stub = tmp_path / "bin"
    stub.mkdir()
    for name, text in (("python3", PYTHON), ("pkg-config", PKG_CONFIG)):
        (stub / name).write_text(text)
        (stub / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env |= {"PATH": f"{stub}:{os.environ.get('PATH', os.defpath)}", "TMPDIR": str(tmp_path)}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "test")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "dbus-python (which python-dbusmock needs) is built" in proc.stderr
    assert "sudo apt install libdbus-1-dev libglib2.0-dev" in proc.stderr
    assert "meson.build" not in proc.stderr  # the build's own error stays in the log it names
    log = re.search(r"pip's whole output: (\S+)", proc.stderr)
    assert log and "meson.build" in Path(log.group(1)).read_text()


def test_the_readme_names_the_test_commands_build_dependencies() -> None:
    readme = (REPO / "README.md").read_text()
    assert "libdbus-1-dev libglib2.0-dev pkg-config" in readme


def test_ci_runs_the_test_command_as_a_regular_user_as_well_as_root() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    regular = re.search(r"runuser -u (\S+) -- env -i .*?bash scripts/test", ci, re.DOTALL)
    assert regular, "CI no longer runs the README's test command as a regular user"
    assert regular.group(1) == "sundown-ci" and "useradd --create-home" in ci
    assert "SUNDOWN_REQUIRE_E2E=1" in regular.group(0)  # a missing tool fails there too
    assert re.search(r"^bash scripts/test\b", ci, re.MULTILINE)  # and as root


@pytest.mark.parametrize(
    ("binary", "package"), [("wmctrl", "wmctrl"), ("xmessage", "x11-utils"), ("dunstctl", "dunst")]
)
def test_a_skipped_test_names_the_package_to_install(monkeypatch, binary: str, package: str) -> None:
    """Not the whole dunst list for wmctrl (before: `apt-get install dbus dunst xvfb libnotify-bin`)."""
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SUNDOWN_REQUIRE_E2E", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require(binary)
    assert str(skipped.value) == f"{binary} is not installed (apt-get install {package})"
