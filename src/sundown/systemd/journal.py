"""Logging of the running daemon: `<N>`-prefixed lines when stderr is the journal, timestamps otherwise."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
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


def stream_is_journal(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """True when `stream` is the journal stream systemd connected (False for any non-file stream)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return journal_stream(env, fd)


_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def error_lines(lines: Iterable[str], journal: bool) -> list[str]:
    """Lines of an error for stderr: each prefixed `<3>` (error) when stderr is the journal.

    Without it journald files them at the default priority 6 (info), so
    `journalctl -p warning` would not show why a start failed.
    """
    parts = [part for line in lines for part in (line.splitlines() or [""])]
    return [f"<{_SYSLOG_PRIORITY[logging.ERROR]}>{part}" for part in parts] if journal else parts


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
    journal = stream_is_journal(stream, env)
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
