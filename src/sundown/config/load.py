"""Reading a config file: TOML text -> Routine, and the routine a command or the daemon runs.

Every problem is collected and reported at once as ``PATH:LINE: KEY.PATH: message``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sundown.config.check import Problems, syntax_problem
from sundown.config.lines import KeyLines
from sundown.config.routine import build
from sundown.config.zone import ZoneSource, zone_source
from sundown.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sundown.core.routine import Routine
    from sundown.paths import Paths

EXAMPLE_FILE = "config.example.toml"
DEFAULT_NAME = "<built-in default routine>"


def parse(text: str, name: str) -> Routine:
    """The routine in `text`; raises ConfigError listing every problem, `name` being the file."""
    text = text.removeprefix("\ufeff")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([syntax_problem(name, text, exc)]) from None
    problems = Problems(name, KeyLines(text))
    routine = build(raw, problems)
    if problems or routine is None:
        raise ConfigError(problems.messages() or [f"{name}:1: (top level): not a routine"])
    return routine


def load(path: Path) -> Routine:
    """Read and parse a config file; an unreadable or non-UTF-8 file is a ConfigError too."""
    name = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{name}: no such config file (`sundown init` writes one)"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{name}: is a directory, not a config file"]) from None
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ConfigError(
            [f"{name}:{line}:{col}: not UTF-8 text (byte 0x{bad}); save the file as UTF-8"]
        ) from None
    return parse(text, name)


def warnings(loaded: LoadedConfig) -> list[str]:
    """What the config allows but rarely means, as `PATH:LINE: KEY: warning: ...` lines (`check`):
    a reminder `at` a time after that evening's bedtime."""
    from sundown.config.check import dotted
    from sundown.core.plan import after_bedtime
    from sundown.core.routine import WEEKDAYS

    late = after_bedtime(loaded.routine)
    if not late:
        return []
    name = str(loaded.path) if loaded.path else DEFAULT_NAME
    try:
        lines = KeyLines(loaded.path.read_text(encoding="utf-8") if loaded.path else example_text())
    except (OSError, UnicodeDecodeError):
        lines = KeyLines("")
    out = []
    for rid, days in late.items():
        reminder = loaded.routine.reminder(rid)
        assert reminder is not None and reminder.at is not None
        by: dict[tuple[time, timedelta], list[str]] = {}
        for weekday, (bed, past) in days.items():
            by.setdefault((bed, past), []).append(WEEKDAYS[weekday])
        when = "; ".join(
            f"{_minutes(past)} after {bed:%H:%M} ({_evenings(names)})" for (bed, past), names in by.items()
        )
        path = ("reminders", rid, "at")
        out.append(
            f'{name}:{lines.line_of(path)}: {dotted(path)}: warning: "{reminder.at:%H:%M}" is after bedtime:'
            f" {when}; an earlier time sends it before"
        )
    return out


def _evenings(names: list[str]) -> str:
    return "every evening" if len(names) == 7 else f"{', '.join(names)} evening{'s' * (len(names) > 1)}"


def _minutes(d: timedelta) -> str:
    h, m = divmod(int(d.total_seconds()) // 60, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m"


def example_text() -> str:
    """The shipped config.example.toml: the built-in default routine, commented."""
    return Path(__file__).parent.parent.joinpath(EXAMPLE_FILE).read_text(encoding="utf-8")


def default_routine() -> Routine:
    return parse(example_text(), DEFAULT_NAME)


@dataclass(frozen=True)
class LoadedConfig:
    """A routine with the zone it plans in and the file it came from (what every command reads)."""

    routine: Routine
    zone: ZoneInfo
    path: Path | None  # None: the built-in default routine
    zone_source: ZoneSource | None = None  # where `zone` came from (None: not said)

    @classmethod
    def of(cls, routine: Routine, path: Path | None) -> LoadedConfig:
        """`routine` with the zone it plans in: its `timezone`, or the system's."""
        found = zone_source(routine)
        return cls(routine, found.zone, path, found)


def load_for(paths: Paths) -> LoadedConfig:
    """The configured routine, or the built-in default when no config file exists (and none was named)."""
    if not paths.config_explicit and not paths.config.exists() and not paths.config.is_symlink():
        return LoadedConfig.of(default_routine(), None)
    return LoadedConfig.of(load(paths.config), paths.config)
