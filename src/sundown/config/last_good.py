"""The last good routine: a copy of what the daemon runs, for read-only commands to show
while the config file has errors (or was deleted under a running daemon)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sundown.config.load import LoadedConfig, parse
from sundown.errors import ConfigError
from sundown.paths import write_atomic

if TYPE_CHECKING:
    from sundown.paths import Paths


def remember_good(paths: Paths, loaded: LoadedConfig) -> None:
    """Keep a copy of the routine the daemon runs, beside the log: while the config file has
    errors (or was deleted), read-only commands show that routine, as the daemon keeps it."""
    target = paths.last_good
    try:
        if loaded.path is None:
            target.unlink(missing_ok=True)
            return
        text = loaded.path.read_text(encoding="utf-8")
        parse(text, str(loaded.path))  # the copy must be the routine that loaded, not a newer edit
        if target.exists() and target.read_text(encoding="utf-8") == text:
            return
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(target, text)
    except (OSError, UnicodeDecodeError, ConfigError):
        pass  # only a fallback for read-only commands; the daemon runs on without it


def last_good(paths: Paths) -> LoadedConfig | None:
    """The routine the daemon last loaded (see `remember_good`), or None."""
    try:
        text = paths.last_good.read_text(encoding="utf-8")
        routine = parse(text, str(paths.config))
    except (OSError, UnicodeDecodeError, ConfigError):
        return None
    return LoadedConfig.of(routine, paths.config)
