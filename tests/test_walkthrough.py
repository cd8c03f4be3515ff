"""The README, walked through on a Python that refuses `pip install` (PEP 668): scripts/walkthrough
installs sundown with the README's quick-start block as it stands (the pipx route the README
leads with; .ci/run walks the venv route too), then lives a first week with
it (init, check, the daemon on the built-in routine, tonight, skip and unskip, a broken edit, a
week of acknowledgements, stats, the report, the service unit). Each step checks itself; this
test runs it and checks the story it tells."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SYSTEM_PYTHON = Path("/usr/bin/python3")

# A user manager that answers, so that `sundown service install` writes its unit (the real
# one is tests/test_user_manager.py's business); every other call succeeds quietly.
SYSTEMCTL = """#!/bin/sh
[ "$1" = --user ] && shift
case "$1 $2" in
  "show --property=Version") echo Version=252 ;;
  "is-active "*) exit 3 ;;
esac
exit 0
"""


def _pep668_python() -> Path | None:
    """Debian's /usr/bin/python3 with EXTERNALLY-MANAGED and a working venv module, else None."""
    if not SYSTEM_PYTHON.exists():
        return None
    probe = subprocess.run(
        [
            str(SYSTEM_PYTHON),
            "-c",
            "import ensurepip, os, sysconfig; "
            "print(os.path.exists(os.path.join(sysconfig.get_path('stdlib'), 'EXTERNALLY-MANAGED')))",
        ],
        capture_output=True,
        text=True,
    )
    return SYSTEM_PYTHON if probe.returncode == 0 and probe.stdout.strip() == "True" else None


@pytest.mark.e2e
@pytest.mark.slow  # pip and pipx installs: 15-30 s
def test_the_readme_walks_through_on_an_externally_managed_python(tmp_path: Path) -> None:
    python = _pep668_python()
    if python is None or shutil.which("pipx") is None:
        if os.environ.get("SUNDOWN_REQUIRE_E2E"):
            pytest.fail(
                "no externally managed /usr/bin/python3 with venv, or no pipx"
                " (Debian: apt install python3-venv pipx)"
            )
        pytest.skip("needs an externally managed /usr/bin/python3 with the venv module, and pipx")
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "systemctl").write_text(SYSTEMCTL)
    (stub / "systemctl").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{stub}:{env.get('PATH', os.defpath)}"
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "walkthrough"), str(python)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    story = [
        "error: externally-managed-environment",  # the old `pip install .` is refused ...
        "the pipx route",
        "the daemon says:",  # ... and the README's block installs and runs it anyway
        "sundown is running",
        "wrote the example routine",
        "config.toml: OK",
        "tonight (",
        "In the morning",
        "skipped Magnesium",
        'bedtime.default: "25:00" is not a time of day',
        "the daemon keeps its previous routine",
        "reloaded",
        "acknowledged Magnesium",
        "Each night, oldest left",
        "sundown.html",
        "topics (sundown help TOPIC):",
        "is already running (pid",  # the quick start's daemon: install says to stop it first
        "Nothing was installed.",
        "exit status 0",
        "/pipx/venvs/sundown/bin/sundown run",  # then the unit starts the pipx venv's sundown
        "Done: the README's first week works on this Python",
    ]
    position = 0
    for line in story:
        found = out.find(line, position)
        assert found >= 0, f"{line!r} missing (or out of order) in the walk-through:\n{out}"
        position = found
    assert "Traceback" not in out
