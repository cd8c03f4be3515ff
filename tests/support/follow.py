"""A `sundown status --follow` process whose lines are kept with the time each arrived."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.desktop import wait_until
from support.sandbox import Sandbox


class Follower:
    """`sundown status --follow --format FMT` in the sandbox; `lines` are (time.time(), line)."""

    def __init__(self, box: Sandbox, fmt: str = "waybar", env: dict[str, str] | None = None) -> None:
        self.proc = box.popen(
            "status", "--follow", "--format", fmt, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.lines: list[tuple[float, str]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.lines.append((time.time(), text.rstrip("\n")))

    def wait_line(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10, after: int = 0
    ) -> int:
        """The index of the first line from `after` on whose JSON satisfies `predicate`."""

        def found() -> list[int]:
            return [i for i, (_, text) in enumerate(self.lines[after:], after) if predicate(json.loads(text))]

        return int(wait_until(found, timeout, f"a follower line, after line {after}: {self.lines}")[0])

    def json(self, index: int) -> dict[str, Any]:
        return dict(json.loads(self.lines[index][1]))

    def cpu_ticks(self) -> tuple[int, int]:
        """(user+system clock ticks, voluntary context switches) of the follower so far."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        switches = 0
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                switches = int(line.split()[1])
        return int(stat[11]) + int(stat[12]), switches

    def stop(self, sig: int | None = None, timeout: float = 5) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()
