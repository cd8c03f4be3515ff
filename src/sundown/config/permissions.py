"""Files others could write or read: refused, like ssh refuses such keys."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sundown.config.values import show
from sundown.core.routine import Routine


def token_file_problem(path: Path) -> str | None:
    """Like ssh with its keys: a token others can read is refused. Never quotes the token."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{show(str(path))} does not exist; write the access token into it (mode 600)"
    except OSError as exc:
        return f"cannot read {show(str(path))}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"{show(str(path))} is not a file"
    if st.st_uid != os.getuid():
        return f"{show(str(path))} belongs to another user (uid {st.st_uid}); run `chown $USER {path}`"
    if st.st_mode & 0o077:
        return (
            f"{show(str(path))} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        empty = not path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {show(str(path))}: {getattr(exc, 'strerror', None) or exc}"
    if empty:
        return f"{show(str(path))} is empty; write the access token into it"
    return None


def commands_refused(path: Path | None) -> str | None:
    """Why the daemon will not run this config's commands, or None. Like ssh with its keys:
    a config another user could write must not choose what runs as you."""
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot check {path}: {exc.strerror}"
    if st.st_uid != os.getuid():
        return f"{path} belongs to another user (uid {st.st_uid}); run `chown $USER {path}`"
    bits = ((stat.S_IWGRP, "your group"), (stat.S_IWOTH, "other users"))
    writers = [who for bit, who in bits if st.st_mode & bit]
    if writers:
        mode = f"{stat.S_IMODE(st.st_mode):o}"
        return f"{path} is writable by {' and '.join(writers)} (mode {mode}); run `chmod go-w {path}`"
    return None


def with_commands(routine: Routine) -> list[str]:
    """Ids of the reminders that run a command (when they fire, or as an escalation step)."""
    return [r.id for r in routine.reminders if r.run or any(step.run for step in r.escalate)]
