"""An isolated home for sundown (XDG dirs in a temp path) and an in-process daemon tick."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from support.desktop import wait_until

REPO = Path(__file__).resolve().parent.parent.parent
# What a tester may export that changes the CLI's output: a test that needs one sets it itself.
TESTER_PREFERENCES = frozenset(
    {"NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM", "COLUMNS", "LINES"}
)


class Sandbox:
    """An isolated home for sundown: env with XDG_* in a temp dir, and a CLI runner."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_home = root / "config"
        self.state_home = root / "state"
        self.runtime_dir = root / "run"
        for d in (self.config_home, self.state_home, self.runtime_dir):
            d.mkdir(mode=0o700)
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("XDG_", "SUNDOWN_", "DBUS_", "NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_"))
            and k not in TESTER_PREFERENCES
        }
        self.env.update(
            HOME=str(root),
            XDG_CONFIG_HOME=str(self.config_home),
            XDG_STATE_HOME=str(self.state_home),
            XDG_RUNTIME_DIR=str(self.runtime_dir),
            PYTHONPATH=str(REPO / "src"),
            TZ="Europe/Berlin",
            TERM="xterm",  # a plain colour terminal, whatever the tester's is; a test wanting another says so
        )
        self.env.pop("DISPLAY", None)
        self.env.pop("WAYLAND_DISPLAY", None)

    @property
    def config_path(self) -> Path:
        return self.config_home / "sundown" / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.state_home / "sundown" / "sundown.db"

    def write_config(self, text: str) -> Path:
        self.config_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.config_path.write_text(text)
        self.config_path.chmod(0o600)
        return self.config_path

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 30, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """`sundown ARGS` as a real subprocess."""
        proc = subprocess.run(
            [sys.executable, "-m", "sundown", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.root,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"sundown {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def python(self, code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """`python -c CODE` in the sandbox's environment: a fresh interpreter, so what it has
        imported at the end is what CODE needed."""
        return subprocess.run(
            [sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def ask(self, cmd: str, timeout: float = 5) -> dict[str, Any] | None:
        """The daemon's answer to `{"cmd": cmd}` on its control socket in $XDG_RUNTIME_DIR (its
        one-line JSON protocol), asked from this process; None when nothing answers.

        Cheap enough to poll: a `sundown` process per poll would keep a core busy while a test waits.
        """
        runtime = self.env.get("XDG_RUNTIME_DIR")
        if not runtime:
            raise AssertionError("no XDG_RUNTIME_DIR: the socket is in a fallback directory; ask the CLI")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(Path(runtime) / "sundown" / "control.sock"))
                sock.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        return None
                    data += chunk
            reply = json.loads(data)
        except (OSError, ValueError):
            return None
        return reply if isinstance(reply, dict) else None

    def daemon_answers(self) -> bool:
        """The daemon answered a `status` request itself (its lock alone says running, with backend null).

        Without XDG_RUNTIME_DIR (the socket in a fallback directory) the CLI is asked.
        """
        if not self.env.get("XDG_RUNTIME_DIR"):
            try:
                reply = json.loads(self.run("status", "--json").stdout)
            except ValueError:
                return False
            return bool(reply.get("running")) and reply.get("backend") is not None
        reply = self.ask("status")
        return reply is not None and bool(reply.get("ok")) and reply.get("backend") is not None

    def refresh(self) -> None:
        """A round trip through the daemon's worker that makes it tick: by its answer, whatever was
        due by now has been done (a negative check after it needs no sleep for good measure)."""
        reply = self.ask("refresh")
        assert reply is not None and reply.get("ok"), f"the daemon did not refresh: {reply}"

    def logged(self, event: str, reminder: str | None = None) -> int:
        """How many `event` rows (of `reminder`, if given) the log holds now, read in this process.

        For polling only: a `sundown log` process per poll would keep a core busy for as long as
        a test waits. Never creates the log (mode=rw opens an existing file only) and writes nothing.
        """
        sql = "SELECT count(*) FROM events WHERE event = ?" + (" AND reminder = ?" if reminder else "")
        try:
            conn = sqlite3.connect(f"file:{self.db_path}?mode=rw", uri=True, timeout=10)
        except sqlite3.Error:
            return 0
        try:
            return int(conn.execute(sql, (event, reminder) if reminder else (event,)).fetchone()[0])
        except sqlite3.Error:
            return 0  # not created yet, or not a log (a test that breaks it on purpose)
        finally:
            conn.close()

    def start_daemon(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 15, **kw
    ) -> subprocess.Popen[str]:
        """`sundown run ARGS` with its output piped, returned once it answers `status`."""
        proc = self.popen("run", *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        try:
            wait_until(self.daemon_answers, timeout, "the daemon to answer")
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        return proc

    def popen(self, *args: str, env: Mapping[str, str] | None = None, **kw) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "sundown", *args],
            env={**self.env, **(env or {})},
            text=True,
            cwd=self.root,
            **kw,
        )


class FakeClock:
    """The daemon's injected clock: a test moves `now` by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
