"""sd_notify, spoken by the running daemon: readiness, status, reload, stop and watchdog pings.

The protocol is spoken directly over the NOTIFY_SOCKET datagram socket (no libsystemd,
no python-systemd), so it works in any venv.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)

# Variables meant for sundown itself that its `run` commands must not inherit.
_SYSTEMD_PRIVATE = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class SdNotify:
    """The sd_notify protocol to the service manager; a no-op when NOTIFY_SOCKET is unset.

    Sending never raises: a manager that went away must not take the daemon down,
    so failures are logged (once as a warning, then at debug level until a send works).
    """

    def __init__(self, address: str | None, watchdog_usec: int | None = None) -> None:
        self.address = address
        self._watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failing = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SdNotify:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET") or None
        watchdog: int | None = None
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        # WATCHDOG_PID names the process meant to ping; a child that inherited it is not.
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            watchdog = int(usec)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status is not None else []))

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def reloading(self) -> bool:
        # systemd >= 253 needs MONOTONIC_USEC to tell this reload from an older one.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog_interval(self) -> float | None:
        """Seconds within which the manager expects a ping, or None when no watchdog is set."""
        return None if self._watchdog_usec is None else self._watchdog_usec / 1_000_000

    def ping_interval(self) -> float | None:
        """How often to ping: half the watchdog interval, as sd_watchdog_enabled(3) advises."""
        interval = self.watchdog_interval()
        return None if interval is None else interval / 2

    def ping(self) -> bool:
        return self.send("WATCHDOG=1")

    def send(self, *assignments: str) -> bool:
        """Send one datagram of KEY=VALUE lines; True when it was delivered."""
        if self.address is None:
            return False
        # A newline would start a new assignment: a status text must stay on one line.
        payload = "\n".join(a.replace("\n", " ") for a in assignments).encode()
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with self._lock:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.sendto(payload, target)
        except OSError as exc:
            level = logging.DEBUG if self._failing else logging.WARNING
            log.log(level, "cannot notify the service manager at %s: %s", self.address, exc)
            self._failing = True
            return False
        self._failing = False
        return True

    def close(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None

    def __enter__(self) -> SdNotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment for `run` commands: the daemon's, minus what systemd meant for it alone."""
    return {k: v for k, v in env.items() if k not in _SYSTEMD_PRIVATE}
