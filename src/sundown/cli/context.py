"""What every command handler gets: parsed args, paths, the routine, output streams."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TextIO

from sundown.paths import Paths, resolve_paths

if TYPE_CHECKING:
    from sundown.config import LoadedConfig
    from sundown.core.state import Night
    from sundown.store.log import EventLog


class Context:
    """Lazily resolves paths, config and log so a command pays only for what it uses."""

    def __init__(
        self, args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
    ) -> None:
        self.args = args
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._paths: Paths | None = None
        self._loaded: LoadedConfig | None = None
        self._log: EventLog | None = None

    @property
    def paths(self) -> Paths:
        if self._paths is None:
            self._paths = resolve_paths(config=getattr(self.args, "config", None))
        return self._paths

    @property
    def loaded(self) -> LoadedConfig:
        """The routine from the config file, or the built-in default (said once, on stderr)."""
        if self._loaded is None:
            from sundown.config import load_for

            self._loaded = load_for(self.paths)
            if self._loaded.path is None:
                self.note(
                    f"no config at {self.paths.config}; using the built-in default routine"
                    " (`sundown init` writes it there to edit)"
                )
        return self._loaded

    @property
    def log(self) -> EventLog:
        if self._log is None:
            from sundown.store.log import EventLog

            self._log = EventLog(self.paths.database)
        return self._log

    def night(self, night: date, loaded: LoadedConfig | None = None) -> Night:
        """One night as the log tells it (with no log yet: its plan alone)."""
        from sundown.core.state import fold_night

        loaded = loaded or self.loaded
        events = self.log.night_events(night) if self.paths.database.exists() else []
        return fold_night(loaded.routine, loaded.zone, night, events)

    def tonight(self, now: datetime, loaded: LoadedConfig | None = None) -> Night:
        """"Tonight" at `now`: last night until its bedtime passed and nothing of it is open."""
        from sundown.core.plan import night_of
        from sundown.core.status import tonight

        loaded = loaded or self.loaded
        current = self.night(night_of(now, loaded.zone), loaded)
        night = tonight(now, loaded.zone, current)
        return current if night == current.night else self.night(night, loaded)

    def print(self, *parts: Any, **kw: Any) -> None:
        print(*parts, file=self.out, **kw)

    def note(self, message: str) -> None:
        print(f"sundown: {message}", file=self.err)

    def error(self, message: str) -> None:
        self.errors([f"sundown: {message}"])

    def errors(self, lines: Iterable[str]) -> None:
        """Error lines on stderr; under systemd at the journal's error priority (`-p warning` shows them)."""
        from sundown.systemd.journal import error_lines, stream_is_journal

        for line in error_lines(lines, stream_is_journal(self.err)):
            print(line, file=self.err)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
