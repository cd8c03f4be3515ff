"""A reminder's `run` command: argv (never a shell), its own session, a timeout, output to our log.

The child starts as if from a login shell, not as a copy of the daemon's
insides: an empty signal mask and default signal dispositions (the daemon
blocks SIGTERM/SIGINT/SIGHUP for its sigwait, and a child inheriting that
ignores `timeout` and systemd's stop), stdin from /dev/null, and its own
session, so that on timeout its whole process group can be killed. We wait for
the child itself, not for the last process holding its stdout: a command that
starts something in the background (`sh -c "player &"`) is done when `sh`
exits. Output is decoded with replacement and only its last 64 KiB are kept.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sundown.config import commands_refused
from sundown.systemd.notify import child_environment

log = logging.getLogger("sundown")

RUN_TIMEOUT_S = 60.0
KEEP_BYTES = 64 * 1024
# After the child exits, what is already in the pipe is read; a background process that
# still holds the pipe open is not waited for.
DRAIN_S = 0.2


@dataclass(frozen=True)
class Outcome:
    """What a command did: exit status (negative: killed by that signal) or None on timeout."""

    status: int | None
    output: str
    dropped: int  # bytes of earlier output not kept


def default_signals() -> set[signal.Signals]:
    return {s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)}


def spawn(
    argv: Sequence[str], env: Mapping[str, str], stdout: int, stderr: int, close: Sequence[int] = ()
) -> int:
    """Start `argv` as the module's docstring says a command starts (its own session, an empty
    signal mask, default dispositions, stdin from /dev/null); its pid. `close`: fds of ours the
    child must not hold. The effects' tools start the same way (runtime/effects/session.py)."""
    return os.posix_spawnp(
        argv[0],
        list(argv),
        dict(env),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, stdout, 1),
            (os.POSIX_SPAWN_DUP2, stderr, 2),
            *((os.POSIX_SPAWN_CLOSE, fd) for fd in close),
        ],
        setsid=True,
        setsigmask=(),
        setsigdef=default_signals(),
    )


def execute(argv: tuple[str, ...], env: Mapping[str, str], timeout: float = RUN_TIMEOUT_S) -> Outcome:
    """Run `argv` to its end or its timeout (then its process group is killed)."""
    r, w = os.pipe()
    try:
        pid = spawn(argv, env, w, w, close=(r,))
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    try:
        return _collect(pid, r, timeout)
    finally:
        os.close(r)


def _collect(pid: int, fd: int, timeout: float) -> Outcome:
    buf = bytearray()
    dropped = 0
    deadline = time.monotonic() + timeout
    status: int | None = None
    pidfd = _pidfd(pid)
    try:
        eof = False
        while status is None:
            left = deadline - time.monotonic()
            if left <= 0:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)  # the child and everything it started
                os.waitpid(pid, 0)
                break
            watch = ([] if eof else [fd]) + ([pidfd] if pidfd is not None else [])
            # Without a pidfd (old kernels) look at the child every 0.2 s.
            ready = select.select(watch, [], [], min(left, 0.2) if pidfd is None else left)[0]
            if fd in ready:
                chunk = os.read(fd, 65536)
                eof = not chunk
                buf += chunk
                if len(buf) > KEEP_BYTES:
                    dropped += len(buf) - KEEP_BYTES
                    del buf[: len(buf) - KEEP_BYTES]
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
    finally:
        if pidfd is not None:
            os.close(pidfd)
    # What the child (and anything still holding the pipe) has written by now.
    end = time.monotonic() + DRAIN_S
    while time.monotonic() < end and select.select([fd], [], [], max(0.0, end - time.monotonic()))[0]:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        if len(buf) > KEEP_BYTES:
            dropped += len(buf) - KEEP_BYTES
            del buf[: len(buf) - KEEP_BYTES]
    return Outcome(status, buf.decode("utf-8", "replace"), dropped)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def run_and_log(
    reminder_id: str, argv: tuple[str, ...], env: Mapping[str, str], timeout: float
) -> str | None:
    """Run one command and put what it printed and how it ended into our log; returns how it
    failed ("exited with 1"), or None when it exited 0."""
    name = argv[0]
    try:
        outcome = execute(argv, env, timeout)
    except OSError as exc:
        log.warning("%s: command %s failed: %s", reminder_id, name, exc.strerror or exc)
        return f"could not be started: {exc.strerror or exc}"
    if outcome.dropped:
        log.info("%s: (%d earlier bytes of output not kept)", reminder_id, outcome.dropped)
    for line in outcome.output.splitlines():
        log.info("%s: %s", reminder_id, line)
    if outcome.status is None:
        failure = f"timed out after {timeout:g} s"
    elif outcome.status < 0:
        failure = f"was killed by signal {-outcome.status}"
    elif outcome.status:
        failure = f"exited with {outcome.status}"
    else:
        return None
    stopped = "; stopped it and what it started" if outcome.status is None else ""
    log.warning("%s: command %s %s%s", reminder_id, name, failure, stopped)
    return failure


# What opens a file in the person's browser: the freedesktop opener, else GLib's.
OPENERS = (("xdg-open",), ("gio", "open"))


def _report_then_open(report: tuple[str, ...], path: Path, env: Mapping[str, str], timeout: float) -> None:
    try:
        outcome = execute(report, env, timeout)
    except OSError as exc:
        log.warning("could not write the report: %s", exc.strerror or exc)
        return
    if outcome.status != 0:
        log.warning("could not write the report: %s", outcome.output.strip() or f"exit {outcome.status}")
        return
    for opener in OPENERS:
        try:
            opened = execute((*opener, str(path)), env, timeout)
        except OSError:
            continue  # not installed: the next one
        if opened.status == 0:
            log.info("opened the report %s with %s", path, opener[0])
            return
        log.warning("%s could not open %s: %s", opener[0], path, opened.output.strip() or opened.status)
        return
    log.warning("wrote %s, but found no xdg-open or gio to open it", path)


class Commands:
    """The daemon's `run` commands: at most two at once, each in its own thread."""

    def __init__(self, env: Mapping[str, str], timeout: float = RUN_TIMEOUT_S) -> None:
        self.env = child_environment(env)
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="sundown-run")

    def start(
        self, reminder_id: str, argv: tuple[str, ...], config: Path | None
    ) -> Future[str | None] | None:
        """Run `argv` in the background; the future says how it failed (None: exit 0). None when
        the config may not run commands (logged)."""
        problem = commands_refused(config)
        if problem:
            log.warning("not running %s for %s: %s", argv[0], reminder_id, problem)
            return None
        return self._pool.submit(run_and_log, reminder_id, argv, self.env, self.timeout)

    def open_report(self, report: tuple[str, ...], path: Path) -> Future[None]:
        """Write the HTML report with `report` (a `sundown report --html PATH` argv) in a process of
        its own (its imports never weigh on the daemon), then open it in the desktop's browser."""
        return self._pool.submit(_report_then_open, report, path, self.env, self.timeout)

    def wait(self) -> None:
        """Until every started command has finished (tests; a clean stop does not wait)."""
        self._pool.shutdown(wait=True)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
