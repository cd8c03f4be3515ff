"""Files others could write: refused, like ssh refuses such keys (the token and the secret,
which others must not read either: `sundown.config.push`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sundown.core.routine import Routine


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
    """Ids of the reminders that run a command (when they fire, or as an escalation step), and
    `winddown` when the wind-down runs one."""
    ids = [r.id for r in routine.reminders if r.run or any(step.run for step in r.escalate)]
    wd = routine.winddown
    return ids + (["winddown"] if wd is not None and (wd.run or wd.undo) else [])
