"""`sundown run`: the daemon as a process. Logging, the signals (blocked before any thread
starts, so only `sigwait` here receives them: SIGHUP reloads, SIGTERM/SIGINT stop), the
instance lock, and one readable line when it cannot start."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping

from sundown.config import load_for
from sundown.errors import SundownError
from sundown.paths import Paths
from sundown.runtime.control_server import InstanceLock
from sundown.runtime.daemon import Daemon

log = logging.getLogger("sundown")


def run(paths: Paths, backend: str | None = None, env: Mapping[str, str] | None = None) -> int:
    """The foreground daemon until SIGTERM/SIGINT. Config errors at start raise ConfigError (78)."""
    env = dict(os.environ if env is None else env)
    from sundown.systemd.journal import configure_logging

    configure_logging(env)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its INFO lines drown ours
    # Block the signals before any thread starts, so only sigwait below receives them.
    signals = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        lock = InstanceLock(paths)
        try:
            daemon = Daemon(paths, load_for(paths), env, backend)
            try:
                daemon.start()
                _serve_signals(daemon, signals)
            finally:
                daemon.stop()
        finally:
            lock.release()
    except OSError as exc:
        # Whatever failed while starting (a socket path too long, a full disk): one readable line.
        where = f" ({exc.filename})" if exc.filename else ""
        detail = exc.strerror or str(exc) or type(exc).__name__  # TimeoutError() says nothing
        raise SundownError(f"cannot start: {detail}{where}") from exc
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    return 0


def _serve_signals(daemon: Daemon, signals: set[signal.Signals]) -> None:
    while True:
        sig = signal.sigwait(signals)
        if sig == signal.SIGHUP:
            daemon.submit(daemon.reload)
            continue
        log.info("stopping (%s)", signal.Signals(sig).name)
        return
