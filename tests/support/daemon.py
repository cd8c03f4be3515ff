"""A real daemon process for end-to-end tests: an evening of reminders a few seconds ahead."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import datetime, timedelta, timezone

from support.desktop import wait_until
from support.sandbox import Sandbox

UTC = timezone.utc


class Evening:
    """A config whose reminders fall a few seconds from now (bedtime a few minutes ahead)."""

    def __init__(self, **offsets: float) -> None:
        now = datetime.now(UTC)
        ahead = max(offsets.values(), default=0) + 240
        self.bedtime = (now + timedelta(seconds=ahead)).replace(second=0, microsecond=0)
        self.at: dict[str, datetime] = {}
        self.tables: list[str] = []
        for rid, seconds in offsets.items():
            at = (now + timedelta(seconds=seconds)).replace(microsecond=0)
            before = int((self.bedtime - at).total_seconds())
            self.at[rid] = self.bedtime - timedelta(seconds=before)
            self.tables.append(f'[reminders.{rid}]\nbefore = "{before // 60}m{before % 60}s"\n')

    def add(self, **offsets: float) -> str:
        """Reminders due `offsets` seconds from now, before the same bedtime; the config's new text.

        For a reminder that must come after something the test did first: written into the config
        then (the daemon re-reads it), it waits a few seconds, not a margin for the slowest machine."""
        now = datetime.now(UTC)
        for rid, seconds in offsets.items():
            at = (now + timedelta(seconds=seconds)).replace(microsecond=0)
            before = int((self.bedtime - at).total_seconds())
            assert before > 0, "past bedtime"
            self.at[rid] = self.bedtime - timedelta(seconds=before)
            self.tables.append(f'[reminders.{rid}]\nbefore = "{before // 60}m{before % 60}s"\n')
        return self.text()

    def text(self, **extra: str) -> str:
        parts = [f'timezone = "UTC"\n\n[bedtime]\ndefault = "{self.bedtime:%H:%M}"\n']
        for table in self.tables:
            rid = table.split("]")[0].split(".")[1]
            parts.append(table + extra.get(rid, ""))
        return "\n".join(parts)


def events(box: Sandbox, event: str | None = None) -> list[dict]:
    """The `event` rows as `sundown log` shows them; without `event`, every row but the evening's
    `activity` spans (a daemon with a desktop writes them beside whatever a test is about)."""
    rows = [json.loads(line) for line in box.run("log", "--format", "jsonl", check=True).stdout.splitlines()]
    return [r for r in rows if (r["event"] != "activity" if event is None else r["event"] == event)]


def wait_events(
    box: Sandbox, event: str, count: int = 1, timeout: float = 10, what: str | None = None
) -> list[dict]:
    """The `event` rows as `sundown log` shows them, once the log holds at least `count`.

    Polls the log in process (cheap) and runs the CLI once at the end."""
    wait_until(lambda: box.logged(event) >= count, timeout, what or f"{count} {event} row(s)")
    return events(box, event)


def start(box: Sandbox, *args: str, env: dict | None = None) -> subprocess.Popen[str]:
    return box.start_daemon(*args, env=env)


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=5)
    return out, err
