"""What the effects need from the desktop: its tools (a subprocess with a timeout) and its
session bus (one call at a time, each with a timeout). Never assumes a display.

Every tool is started as `run` commands are (runtime/commands.py): an empty signal mask
and default dispositions (the daemon blocks SIGTERM for its sigwait; a child inheriting
that could not be stopped), stdin from /dev/null, its own session. A tool that is
missing, does not answer within `timeout` (it is killed with what it started) or exits
with an error raises EffectError with one line saying which and why.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sundown.notify.bus import unvariant
from sundown.runtime.commands import spawn
from sundown.runtime.effects import EffectError, Hung
from sundown.systemd.notify import child_environment

# How the person's commands (`run`, `undo`) start: (label for the log, argv).
Starter = Callable[[str, tuple[str, ...]], object]
TOOL_TIMEOUT_S = 2.0
BUS_TIMEOUT_S = 2.0
PROPS = "org.freedesktop.DBus.Properties"
NOTIFY = ("org.freedesktop.Notifications", "/org/freedesktop/Notifications", "org.freedesktop.Notifications")


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


class Session:
    """The desktop as the effects see it during one apply or restore; `close()` after."""

    def __init__(
        self, env: Mapping[str, str], timeout: float = TOOL_TIMEOUT_S, commands: Starter | None = None
    ) -> None:
        self.env = child_environment(env)
        self.timeout = timeout
        self._commands = commands
        self.deadline: float | None = None  # a clean stop bounds everything by this (monotonic)
        self._bus: Any = None
        self._bus_error: str | None = None
        self._server: tuple[str, str, str] | None = None

    # -- tools ----------------------------------------------------------------------------------

    def which(self, tool: str) -> str | None:
        return shutil.which(tool, path=self.env.get("PATH", os.defpath))

    def _budget(self) -> float:
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise EffectError("no time left while stopping")
        return min(self.timeout, left)

    def run(self, *argv: str, check: bool = True) -> Ran:
        """`argv` to its end; EffectError when missing, hung, or (with `check`) failing."""
        path = self.which(argv[0])
        if path is None:
            raise EffectError(f"{argv[0]} is not installed")
        timeout = self._budget()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            pid = spawn([path, *argv[1:]], self.env, out_w, err_w)
        except OSError as exc:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            raise EffectError(f"{argv[0]}: {exc.strerror or exc}") from None
        os.close(out_w)
        os.close(err_w)
        try:
            status, out, err = _collect(pid, out_r, err_r, timeout)
        finally:
            os.close(out_r)
            os.close(err_r)
        if status is None:
            raise Hung(f"{argv[0]} did not answer within {timeout:g} s")
        if check and status != 0:
            last = (err.strip() or out.strip()).splitlines()[-1:] or ["no message"]
            raise EffectError(f"{' '.join(argv[:3])} exited with {status}: {last[0][:200]}")
        return Ran(status, out, err)

    def start_command(self, label: str, argv: tuple[str, ...]) -> None:
        """A `run`/`undo` command: through the daemon's `Commands` (in the background), else here
        to its end (`sundown winddown off` without a daemon)."""
        if self._commands is not None:
            self._commands(label, argv)
            return
        from sundown.runtime.commands import RUN_TIMEOUT_S, run_and_log

        run_and_log(label, argv, self.env, RUN_TIMEOUT_S)

    # -- the session bus ------------------------------------------------------------------------

    def _connection(self) -> Any:
        if self._bus is None:
            if self._bus_error is not None:
                raise EffectError(self._bus_error)
            from jeepney.io.blocking import open_dbus_connection

            from sundown.notify import NotifyError
            from sundown.notify.bus import bus_address

            try:
                address = bus_address(self.env)
                self._bus = open_dbus_connection(address, enable_fds=False)
            except NotifyError as exc:
                self._bus_error = str(exc)
                raise EffectError(self._bus_error) from None
            except (OSError, RuntimeError, ValueError) as exc:
                self._bus_error = f"cannot reach the session bus: {exc}"
                raise EffectError(self._bus_error) from None
        return self._bus

    def call(
        self, dest: str, path: str, iface: str, member: str, sig: str = "", *args: Any
    ) -> tuple[Any, ...]:
        """A method call on the session bus; its reply's arguments. EffectError on an error reply."""
        from jeepney import DBusAddress, MessageType, new_method_call

        conn = self._connection()
        msg = new_method_call(DBusAddress(path, dest, iface), member, sig or None, args if sig else None)
        try:
            reply = conn.send_and_get_reply(msg, timeout=self._budget())
        except TimeoutError:
            raise Hung(f"{dest} did not answer {member} within {self.timeout:g} s") from None
        except (OSError, ValueError) as exc:
            self._bus = None
            raise EffectError(f"lost the session bus: {exc}") from None
        if reply.header.message_type is MessageType.error:
            detail = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            from jeepney import HeaderFields

            name = reply.header.fields.get(HeaderFields.error_name, "error")
            raise EffectError(f"{dest} {member}: {name}{f': {detail}' if detail else ''}")
        return tuple(reply.body)

    def signal(self, path: str, iface: str, member: str, sig: str, *args: Any) -> None:
        """Send a signal on the session bus (a change notice others watch for)."""
        from jeepney import DBusAddress, new_signal

        conn = self._connection()
        try:
            conn.send(new_signal(DBusAddress(path, interface=iface), member, sig, args))
        except (OSError, ValueError) as exc:
            self._bus = None
            raise EffectError(f"lost the session bus: {exc}") from None

    def get(self, dest: str, path: str, iface: str, prop: str) -> Any:
        value = self.call(dest, path, PROPS, "Get", "ss", iface, prop)[0]
        return unvariant(value)

    def has_owner(self, name: str) -> bool:
        """Does a program own `name` on the session bus now? False without a bus."""
        try:
            return bool(self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                  "NameHasOwner", "s", name)[0])  # fmt: skip
        except EffectError:
            return False

    def names(self) -> list[str]:
        reply = self.call(
            "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames"
        )
        return [n for n in reply[0] if isinstance(n, str)]

    def server(self) -> tuple[str, str, str]:
        """The notification server's (name, vendor, version); ("", "", "") when none answers."""
        if self._server is None:
            try:
                name, vendor, version, _spec = self.call(*NOTIFY, "GetServerInformation")
                self._server = (str(name), str(vendor), str(version))
            except (EffectError, ValueError):
                self._server = ("", "", "")
        return self._server

    def close(self) -> None:
        if self._bus is not None:
            with contextlib.suppress(OSError):
                self._bus.close()
            self._bus = None


def _collect(pid: int, out_fd: int, err_fd: int, timeout: float) -> tuple[int | None, str, str]:
    """Read both pipes until the child exits (or `timeout`: then its group is killed)."""
    bufs = {out_fd: bytearray(), err_fd: bytearray()}
    open_fds = [out_fd, err_fd]
    deadline = time.monotonic() + timeout
    status: int | None = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        ready = select.select(open_fds, [], [], min(left, 0.05))[0] if open_fds else []
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                bufs[fd] += chunk[: max(0, 65536 - len(bufs[fd]))]
            else:
                open_fds.remove(fd)
        if not open_fds or not ready:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
                break
            if not open_fds:
                time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
    for fd in (out_fd, err_fd):  # what is already in the pipes
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            bufs[fd] += chunk[: max(0, 65536 - len(bufs[fd]))]
    return status, bufs[out_fd].decode("utf-8", "replace"), bufs[err_fd].decode("utf-8", "replace")
