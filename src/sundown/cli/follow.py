"""`sundown status --follow` and `--format`: a line now and one per change, for status bars.

The daemon pushes a status snapshot on each change over the control socket (no polling); this
process prints it as `text` (polybar, i3blocks), `waybar` (its custom-module JSON) or `json` (the
`status --json` object on one line). Between changes it wakes only while the line counts down to
a reminder, once a minute. With no daemon it prints the state the log tells, then waits on
inotify for the daemon's socket, and follows each new daemon across restarts. SIGTERM, SIGPIPE
or the reader closing the pipe end it with status 0.
"""

from __future__ import annotations

import json
import select
import signal
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from sundown.core.glance import Glance, glance

if TYPE_CHECKING:
    from sundown.cli.context import Context

UTC = timezone.utc
MAX_LINE = 1 << 20  # a status line is a few KiB; more is not a daemon of ours
# Polled for the reader going away: a pipe's write end reports POLLERR once its reader closed.
HANGUP = select.POLLERR | select.POLLHUP
STARTING_BACKOFF_MS = (20, 50, 100, 250, 500, 1000, 2000)


def _stop(signum: int, frame: object) -> None:
    from sundown.cli import _quiet_stdout

    _quiet_stdout()  # a closed pipe must not fail the final flush
    raise SystemExit(0)


def line(status: Mapping[str, Any], fmt: str, now: datetime, zone: tzinfo) -> tuple[str, Glance]:
    """The line to print for `status` at `now`, and the glance it was made from."""
    seen = glance(status, now, zone)
    if fmt == "json":
        return json.dumps(status, separators=(",", ":"), default=str), seen
    if fmt == "waybar":
        waybar = {
            "text": _markup(seen.text),
            "alt": seen.state,
            "tooltip": _markup(seen.tooltip),
            "class": list(seen.classes),
            "percentage": seen.percentage,
        }
        return json.dumps(waybar, ensure_ascii=False), seen
    return seen.text, seen


def _markup(text: str) -> str:
    """Waybar renders text and tooltip as Pango markup: a title with `&` or `<` must stay text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Printer:
    """Prints a line when it differs from the last one printed; knows when the line changes by itself."""

    def __init__(self, ctx: Context, fmt: str) -> None:
        self.ctx = ctx
        self.fmt = fmt
        self._status: Mapping[str, Any] | None = None
        self._last: str | None = None
        self._glance: Glance | None = None

    def show(self, status: Mapping[str, Any]) -> None:
        self._status = status
        self.refresh()

    def refresh(self) -> None:
        if self._status is None:
            return
        text, self._glance = line(self._status, self.fmt, datetime.now(UTC), self._zone(self._status))
        if text != self._last:
            self._last = text
            self.ctx.print(text)
            self.ctx.out.flush()

    def timeout_ms(self) -> int | None:
        """Until the line changes by itself (a countdown's next minute); None: only with a new status."""
        if self.fmt == "json" or self._glance is None or self._glance.refresh_at is None:
            return None
        left = (self._glance.refresh_at - datetime.now(UTC)).total_seconds()
        return max(0, int(left * 1000) + 5)  # a few ms late: the new minute has begun

    def _zone(self, status: Mapping[str, Any]) -> tzinfo:
        """The daemon's zone where the snapshot names it, else the routine's."""
        from sundown.config.values import load_zone

        context = status.get("context")
        name = context.get("zone") if isinstance(context, Mapping) else None
        zone = load_zone(name) if isinstance(name, str) else None
        if zone is not None:
            return zone
        return self.ctx.loaded.zone if _config_loads(self.ctx) else UTC


def _config_loads(ctx: Context) -> bool:
    from sundown.errors import ConfigError, LogError

    try:
        ctx.loaded  # noqa: B018
    except (ConfigError, LogError):
        return False
    return True


def _stopped(ctx: Context) -> dict[str, Any]:
    """The state the log tells, with no daemon to send it (`running` false)."""
    from sundown.core.status import Status, snapshot
    from sundown.errors import ConfigError, LogError

    now = datetime.now(UTC)
    try:
        loaded = ctx.loaded
        status = snapshot(
            ctx.tonight(now),
            now,
            running=False,
            config=str(loaded.path) if loaded.path else None,
            config_error=ctx.config_problem,
        )
    except (ConfigError, LogError) as exc:
        status = Status(False, None, None, None, None, str(exc), None, night="")
    return status.to_json()


def follow(ctx: Context, fmt: str) -> int:
    """Until SIGTERM, SIGPIPE or the reader going away: a line now and one per change."""
    from sundown.runtime.control import DaemonSilent, running_pid, subscribe
    from sundown.runtime.socket_watch import SocketWatch

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGPIPE, _stop)
    printer = Printer(ctx, fmt)
    try:
        watch: SocketWatch | None = SocketWatch(ctx.paths.socket)
    except OSError:
        watch = None  # no inotify: look again with a backoff of up to 2 s
    backoff = 0
    warned = False
    try:
        while True:
            if watch is not None:
                watch.arm()
            try:
                sock = subscribe(ctx.paths)
            except DaemonSilent as exc:
                if not warned:
                    ctx.note(f"warning: {exc}; waiting")
                    warned = True
                sock = None
            if sock is not None:
                backoff = 0
                with sock:
                    _stream(sock, printer)
                continue  # the daemon stopped: say so, and wait for the next one
            printer.show(_stopped(ctx))
            starting = running_pid(ctx.paths) is not None  # its lock is held: the socket comes soon
            if starting or watch is None:
                _wait(printer, None, STARTING_BACKOFF_MS[min(backoff, len(STARTING_BACKOFF_MS) - 1)])
                backoff += 1
            else:
                backoff = 0
                _wait(printer, watch.fileno(), None)
    finally:
        if watch is not None:
            watch.close()


def _poller(fd: int | None) -> select.poll:
    poller = select.poll()
    if fd is not None:
        poller.register(fd, select.POLLIN)
    try:
        poller.register(sys.stdout.fileno(), 0)  # errors only: the reader went away
    except (OSError, ValueError):
        pass  # not a real file (tests capture it)
    return poller


def _hung_up(events: list[tuple[int, int]]) -> bool:
    try:
        out = sys.stdout.fileno()
    except (OSError, ValueError):
        return False
    return any(fd == out and mask & HANGUP for fd, mask in events)


def _wait(printer: Printer, fd: int | None, at_most_ms: int | None) -> None:
    """Until `fd` is readable or `at_most_ms` passed; the countdown goes on meanwhile."""
    poller = _poller(fd)
    deadline = time.monotonic() + at_most_ms / 1000 if at_most_ms is not None else None
    while True:
        timeout = printer.timeout_ms()
        if deadline is not None:
            left = max(0, int((deadline - time.monotonic()) * 1000))
            timeout = left if timeout is None else min(timeout, left)
        events = poller.poll(timeout)
        if _hung_up(events):
            raise SystemExit(0)
        if events or (deadline is not None and time.monotonic() >= deadline):
            return
        printer.refresh()


def _stream(sock: Any, printer: Printer) -> None:
    """The daemon's lines until it closes the connection (it stopped)."""
    poller = _poller(sock.fileno())
    buffer = b""
    while True:
        events = poller.poll(printer.timeout_ms())
        if _hung_up(events):
            raise SystemExit(0)
        if not events:
            printer.refresh()
            continue
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            return
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        if len(buffer) > MAX_LINE:
            return
        for raw in lines:
            try:
                status = json.loads(raw)
            except ValueError:
                continue
            if isinstance(status, dict) and "tonight" in status:
                printer.show(status)
            elif isinstance(status, dict) and status.get("error"):
                from sundown.errors import SundownError

                raise SundownError(
                    f"the running daemon cannot be followed ({status['error']}); restart it"
                    " (`systemctl --user restart sundown`) to run this version"
                )
