"""Domain errors. cli.main() is the one funnel that turns them into exit codes."""

from __future__ import annotations

EX_OK = 0
EX_FAILURE = 1
EX_USAGE = 2
EX_CONFIG = 78


class SundownError(Exception):
    """An error the person can act on; the message is shown as is, no traceback."""

    exit_code = EX_FAILURE


class UsageError(SundownError):
    exit_code = EX_USAGE


class ConfigError(SundownError):
    """Every problem found in a config file, each as `PATH:LINE: KEY.PATH: message`."""

    exit_code = EX_CONFIG

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class LogError(SundownError):
    """The SQLite log cannot be opened, read or written (corrupt, foreign, read-only)."""
