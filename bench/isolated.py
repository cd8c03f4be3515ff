"""The environment every benchmark runs sundown in: XDG dirs under a temp root, nothing inherited
that would point it at the real config, log, bus or systemd."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INHERITED_NOT = ("XDG_", "SUNDOWN_", "DBUS_", "NOTIFY_", "WATCHDOG_", "JOURNAL_")


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """os.environ minus sundown's, systemd's and the session's variables, XDG dirs under `root`."""
    for name in ("config", "state", "run"):
        (root / name).mkdir(mode=0o700, parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(INHERITED_NOT)}
    env.update(
        HOME=str(root),
        XDG_CONFIG_HOME=str(root / "config"),
        XDG_STATE_HOME=str(root / "state"),
        XDG_RUNTIME_DIR=str(root / "run"),
        PYTHONPATH=str(REPO / "src"),
    )
    env.update(extra)
    return env
