"""Logging of the running daemon: `<N>`-prefixed lines when stderr is the journal, timestamps otherwise."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO


def journal_stream(env: Mapping[str, str] | None = None, fd: int = 2) -> bool:
    """True when `fd` (stderr) is the journal stream systemd connected (JOURNAL_STREAM=dev:ino)."""
    env = os.environ if env is None else env
    value = env.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return st.st_dev == int(dev) and st.st_ino == int(ino)


_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """Plain lines with a `<N>` syslog priority on each line (journald adds the time itself).

    Every line of a multi-line record (a traceback) carries the prefix, because the
    journal stores each line as its own entry.
    """

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        level = max((lv for lv in _SYSLOG_PRIORITY if lv <= record.levelno), default=logging.DEBUG)
        prefix = f"<{_SYSLOG_PRIORITY[level]}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines() or [""])


TERMINAL_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(
    env: Mapping[str, str] | None = None, level: int = logging.INFO, stream: TextIO | None = None
) -> bool:
    """Point the root logger at stderr: journal-style lines under systemd, timestamped otherwise.

    Returns True when journal mode was chosen. Calling it again replaces the handler it
    installed before instead of adding a second one.
    """
    stream = sys.stderr if stream is None else stream
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    journal = fd >= 0 and journal_stream(env, fd)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JournalFormatter() if journal else logging.Formatter(TERMINAL_FORMAT))
    handler.set_name("sundown")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "sundown"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler logs two INFO lines per job run: the watchdog alone would fill the journal.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    return journal
