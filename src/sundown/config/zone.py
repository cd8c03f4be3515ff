"""Which time zone a routine plans in: its `timezone`, or the system's."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from sundown.config.values import load_zone, show
from sundown.errors import ConfigError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sundown.core.routine import Routine


def localtime_path(env: Mapping[str, str]) -> Path:
    """/etc/localtime, or SUNDOWN_LOCALTIME (tests point it at a link of their own)."""
    return Path(env.get("SUNDOWN_LOCALTIME") or "/etc/localtime")


def _zone_name_from_path(target: str) -> str | None:
    """ "/usr/share/zoneinfo/Europe/Berlin" -> "Europe/Berlin"."""
    head, sep, tail = target.partition("zoneinfo/")
    if not sep:
        return None
    for prefix in ("posix/", "right/"):
        tail = tail.removeprefix(prefix)
    return tail


def system_zone(env: Mapping[str, str] | None = None, localtime: Path | None = None) -> ZoneInfo:
    """$TZ when it names a zone, else the /etc/localtime link target, else UTC."""
    from zoneinfo import ZoneInfo

    env = os.environ if env is None else env
    if localtime is None:
        localtime = localtime_path(env)
    tz = env.get("TZ", "").removeprefix(":")
    candidates = [tz, _zone_name_from_path(tz) or ""] if tz.startswith("/") else [tz]
    try:
        candidates.append(_zone_name_from_path(os.readlink(localtime)) or "")
    except OSError:
        pass
    for name in candidates:
        zone = load_zone(name) if name else None
        if zone is not None:
            return zone
    return ZoneInfo("UTC")


def zone_for(routine: Routine, env: Mapping[str, str] | None = None) -> ZoneInfo:
    """The routine's `timezone`, or the system's zone when unset."""
    if routine.timezone is None:
        return system_zone(env)
    zone = load_zone(routine.timezone)
    if zone is None:
        raise ConfigError(
            [f'timezone: {show(routine.timezone)} is not a known time zone; write e.g. "Europe/Berlin"']
        )
    return zone


ZONE_FIX = 'set `timezone = "..."` in the config, or run `sundown service install` again from this shell'


def daemon_zone(context: object) -> str | None:
    """The zone a daemon plans in, from the `context` of its status answer (None: no daemon answered)."""
    zone = context.get("zone") if isinstance(context, dict) else None
    return str(zone) if zone else None


def zone_difference(daemon: str | None, cli: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """Said when the daemon plans nights in another zone than this command (TZ in one, not the other)."""
    if not daemon or not cli or daemon == cli:
        return None
    tz = (os.environ if env is None else env).get("TZ")
    here = f"this shell's is {cli}" + (f" (TZ={tz})" if tz else "")
    return f"the daemon plans in {daemon} and {here}: they disagree on tonight's times"
