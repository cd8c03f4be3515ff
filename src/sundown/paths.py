"""The one place that asks platformdirs and the environment where files live.

Nothing here runs at import time: callers build a `Paths` from an environment
mapping, which keeps tests isolated by pointing XDG_* variables at a temp dir.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sundown.errors import SundownError

APP = "sundown"


@dataclass(frozen=True)
class Paths:
    config: Path
    config_explicit: bool  # given by --config or SUNDOWN_CONFIG: a missing file is an error
    state_dir: Path
    runtime_dir: Path

    @property
    def database(self) -> Path:
        return self.state_dir / "sundown.db"

    @property
    def lock(self) -> Path:
        return self.runtime_dir / "daemon.lock"

    @property
    def state_lock(self) -> Path:
        """One daemon per log too: two runtime dirs (a shell without XDG_RUNTIME_DIR) share it."""
        return self.state_dir / "daemon.lock"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "control.sock"


def resolve_paths(
    env: Mapping[str, str] | None = None, config: str | os.PathLike[str] | None = None
) -> Paths:
    """Where config, log and runtime files are for this user (docs/commands.md, "Files")."""
    import platformdirs

    # platformdirs reads XDG_* from os.environ itself; `env` carries our own variables.
    env = os.environ if env is None else env
    config_dir = platformdirs.user_config_path(APP)
    state_dir = platformdirs.user_state_path(APP)
    with warnings.catch_warnings():
        # Newer platformdirs warn when XDG_RUNTIME_DIR is unset; we have our own fallback below.
        warnings.simplefilter("ignore")
        runtime_dir = platformdirs.user_runtime_path(APP)
    explicit = config is not None or bool(env.get("SUNDOWN_CONFIG"))
    config_path = Path(config or env.get("SUNDOWN_CONFIG") or config_dir / "config.toml").expanduser()
    if env.get("SUNDOWN_STATE_DIR"):
        state_dir = Path(env["SUNDOWN_STATE_DIR"]).expanduser()
    if not runtime_dir.parent.is_dir():
        # No $XDG_RUNTIME_DIR (root in CI, a bare ssh session): a private temp dir.
        import tempfile

        runtime_dir = Path(tempfile.gettempdir()) / f"{APP}-{os.getuid()}"
    return Paths(config_path, explicit, state_dir, runtime_dir)


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 if missing; return it.

    Refuses a directory someone else owns or a symlink: in a shared /tmp
    fallback that would hand our lock and socket to another user.
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
        raise SundownError(f"{path} is not a directory of this user's; remove it or set XDG_RUNTIME_DIR")
    if stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)
    return path
