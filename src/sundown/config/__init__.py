"""The config: TOML -> Routine, checked against one declarative spec of keys (docs/config.md).

A face over its parts, so callers import from `sundown.config` alone:
- `load`: reading a file and parsing it (`parse`, `load`, `load_for`, the built-in default);
  `check` walks the raw TOML over `spec` and collects every problem, `routine` builds the Routine;
- `zone`: the zone a routine plans in and where it came from (`read_system_zone`, `zone_source`);
- `permissions`: files others could write (`commands_refused`);
- `push`: the token and the secret [push] names, and a topic a stranger could guess;
- `last_good`: the copy of the routine the daemon runs, shown while the config has errors.
"""

from __future__ import annotations

from sundown.config.last_good import last_good, remember_good
from sundown.config.load import (
    DEFAULT_NAME,
    EXAMPLE_FILE,
    LoadedConfig,
    default_routine,
    example_text,
    load,
    load_for,
    parse,
    warnings,
)
from sundown.config.permissions import commands_refused, with_commands
from sundown.config.push import (
    default_secret_file,
    read_secret_file,
    read_token_file,
    secret_file_problem,
    token_file_problem,
    topic_warning,
)
from sundown.config.routine import readable
from sundown.config.zone import (
    ZONE_FIX,
    ZoneSource,
    daemon_zone,
    localtime_path,
    read_system_zone,
    system_zone,
    zone_difference,
    zone_for,
    zone_source,
)

__all__ = [
    "DEFAULT_NAME",
    "ZONE_FIX",
    "EXAMPLE_FILE",
    "LoadedConfig",
    "ZoneSource",
    "commands_refused",
    "daemon_zone",
    "default_secret_file",
    "default_routine",
    "example_text",
    "last_good",
    "load",
    "load_for",
    "localtime_path",
    "parse",
    "read_secret_file",
    "read_token_file",
    "read_system_zone",
    "readable",
    "remember_good",
    "system_zone",
    "secret_file_problem",
    "token_file_problem",
    "topic_warning",
    "warnings",
    "with_commands",
    "zone_difference",
    "zone_for",
    "zone_source",
]
