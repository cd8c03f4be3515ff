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
    from sundown.core.vocabulary import EventName
    from sundown.store.log import EventLog


# They validate the config file or run it: never a fallback routine for them.
STRICT_COMMANDS = frozenset({"check", "reload", "run", "init"})


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
        self.config_problem: str | None = None  # the config has errors: a last good routine is shown

    @property
    def paths(self) -> Paths:
        if self._paths is None:
            self._paths = resolve_paths(config=getattr(self.args, "config", None))
        return self._paths

    @property
    def loaded(self) -> LoadedConfig:
        """The routine from the config file, or the built-in default (said once, on stderr).

        While the file has errors (or was deleted under a running daemon), commands other than
        those that validate or run it show the routine the daemon last loaded, and say so.
        """
        if self._loaded is None:
            from sundown.config import load_for
            from sundown.errors import ConfigError

            try:
                self._loaded = load_for(self.paths)
            except ConfigError as exc:
                fallback = self._last_good()
                if fallback is None:
                    raise
                n = len(exc.problems)
                self.config_problem = "\n".join(exc.problems)
                self.note(
                    f"{self.paths.config} has {n} error{'s' if n != 1 else ''} (`sundown check` lists"
                    f" {'them' if n != 1 else 'it'}); showing the routine the daemon last loaded"
                )
                self._loaded = fallback
                return fallback
            if self._loaded.path is None:
                fallback = self._last_good() if self._daemon_running() else None
                if fallback is not None:
                    self.config_problem = f"{self.paths.config} was removed; the daemon keeps its routine"
                    self.note(f"{self.config_problem} (shown here)")
                    self._loaded = fallback
                    return fallback
                self.note(  # in two lines: the path alone is half a terminal's width
                    f"no config at {self.paths.config};\n  using the built-in default routine"
                    " (`sundown init` writes it there to edit)"
                )
        return self._loaded

    def _last_good(self) -> LoadedConfig | None:
        if getattr(self.args, "command", None) in STRICT_COMMANDS:
            return None
        from sundown.config import last_good

        return last_good(self.paths)

    def _daemon_running(self) -> bool:
        from sundown.runtime.control import running_pid

        return running_pid(self.paths) is not None

    @property
    def log(self) -> EventLog:
        if self._log is None:
            from sundown.errors import LogError
            from sundown.store.log import EventLog

            try:
                self._log = EventLog(self.paths.database)
            except LogError as exc:
                from sundown.doctor import log_fix

                # The same fix line as `sundown doctor` gives for it.
                raise LogError(f"{exc}\n  fix: {log_fix(self.paths.database, str(exc))}") from None
        return self._log

    def night(self, night: date, loaded: LoadedConfig | None = None) -> Night:
        """One night as the log tells it (with no log yet: its plan alone)."""
        from sundown.core.state import fold_night

        loaded = loaded or self.loaded
        events = self.log.night_events(night) if self.paths.database.exists() else []
        return fold_night(loaded.routine, loaded.zone, night, events)

    def tonight(self, now: datetime, loaded: LoadedConfig | None = None) -> Night:
        """ "Tonight" at `now`: last night until its bedtime passed and nothing of it is open."""
        from sundown.core.plan import night_of
        from sundown.core.state import tonight

        loaded = loaded or self.loaded
        current = self.night(night_of(now, loaded.zone), loaded)
        night = tonight(now, loaded.zone, current)
        return current if night == current.night else self.night(night, loaded)

    # -- the night's state as `answers.apply` reads and changes it: the log itself ---------------

    def snoozes(self, night: date, reminder: str) -> int:
        from sundown.core.answers import snoozes

        return snoozes(self.log.night_events(night), reminder)

    def answered(self, night: date) -> set[str]:
        from sundown.core.answers import answered

        return answered(self.log.night_events(night))

    def apply(
        self,
        event: EventName,
        night: date,
        reminder: str | None,
        source: str,
        ts: datetime | None = None,
        **details: Any,
    ) -> datetime:
        """Write the row; the command's exit 0 then means it is durable."""
        return self.log.record(event, night, reminder, source, details or None, ts=ts).ts

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
