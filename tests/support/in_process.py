"""A `Daemon` in the test's own process: ticked by hand on a clock the test moves (`FakeClock`);
the CLI in it too, at a time the test says."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any

import pytest

from support.sandbox import FakeClock

if TYPE_CHECKING:  # imported when a daemon is made: collecting a test module stays light
    from sundown.config import LoadedConfig
    from sundown.core.context import Context
    from sundown.runtime.daemon import Daemon

# `d`, a console daemon on the sandbox's config, made in a child interpreter that counts what the
# daemon imports (`python -c`): the child cannot import this module without counting the tests' own.
CHILD_DAEMON = """\
from sundown.config import load_for
from sundown.paths import resolve_paths
from sundown.runtime.daemon import Daemon
p = resolve_paths()
d = Daemon(p, load_for(p), {}, backend='console')
"""


def in_process_daemon(
    clock: Callable[[], datetime] | None = None,
    *,
    text: str | None = None,
    env: Mapping[str, str] | None = None,
    backend: str = "console",
    zone: tzinfo | None = None,
    loaded: LoadedConfig | None = None,
    locked: bool = False,
    **kw: Any,
) -> Daemon:
    """A daemon on the sandbox's config (`text` written there first), its clock `clock` (None:
    the real one). `env`: where its files are (None: the sandbox's environment) and its own
    environment; `zone` replaces the config's zone; `loaded` replaces the config altogether.
    `locked`: its instance locks taken first, as `sundown run` takes them (a CLI command then
    finds it running); its `stop` releases them."""
    from sundown.config import load_for
    from sundown.paths import resolve_paths
    from sundown.runtime.control_server import InstanceLock
    from sundown.runtime.daemon import Daemon
    from sundown.runtime.worker import utc_now

    paths = resolve_paths(env)
    if text is not None:
        paths.config.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        paths.config.write_text(text)
        paths.config.chmod(0o600)
    loaded = loaded or load_for(paths)
    if zone is not None:
        loaded = replace(loaded, zone=zone)  # type: ignore[arg-type]
    if not locked:
        return Daemon(paths, loaded, dict(env or {}), backend=backend, clock=clock or utc_now, **kw)
    lock = InstanceLock(paths)
    try:
        daemon = Daemon(paths, loaded, dict(env or {}), backend=backend, clock=clock or utc_now, **kw)
    except BaseException:
        lock.release()
        raise
    stop = daemon.stop

    def stop_and_unlock() -> None:
        try:
            stop()
        finally:
            lock.release()

    daemon.stop = stop_and_unlock  # type: ignore[method-assign]
    return daemon


def tick_daemon_once(now: datetime) -> None:
    """A console-backend Daemon on the sandbox's config, one tick at `now`, its `run` commands done."""
    daemon = in_process_daemon(FakeClock(now))
    try:
        daemon.tick()
        daemon.commands.wait()  # a command it started has finished
    finally:
        daemon.stop()


def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, now: datetime, *args: str
) -> tuple[int, str, str]:
    """`sundown ARGS` in this process, at `now`: its exit code, stdout and stderr."""
    from sundown.cli import daemon_cmds, main, routine_cmds

    monkeypatch.setattr(daemon_cmds, "_now", lambda: now.astimezone(timezone.utc))
    monkeypatch.setattr(routine_cmds, "now_utc", lambda: now.astimezone(timezone.utc))
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


class FakeWatch:
    """Stands in for the daemon's context watch (`daemon.context`): what the desktop says now is
    `ctx`, set by the test; nothing polled, no source named, no signal."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.strangers = 0

    def sources(self, capability: str) -> list[str]:
        return []

    def snapshot(self, now: datetime, ask: bool = True) -> Context:
        return self.ctx

    def polled(self, capability: str) -> bool:
        return False

    def idle_signalled(self) -> bool:
        return False

    def close(self) -> None:
        pass
