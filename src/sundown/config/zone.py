"""Which time zone a routine plans in: its `timezone`, or the system's.

The system's zone is read here and nowhere else (`read_system_zone`): from $TZ when it
names a zone, else from /etc/localtime. That file is normally a link whose target names
the zone; when it is a copy (no name), its bytes are matched against the zone files
(docs/time.md, "The system's zone"), and a copy that matches none is read for its rules;
when it is broken (a dangling link, no zone file at all), UTC is used, as the C library does.
Either way the reason is kept for `status` and `doctor`: never silently.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from sundown.config.values import load_zone, show
from sundown.errors import ConfigError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sundown.core.routine import Routine

TZIF_MAGIC = b"TZif"
# A zone file is a few KB (the largest in tzdata, America/Sao_Paulo in `right/`, 5 KB): more is no copy.
MAX_ZONE_FILE = 256 * 1024
LOCALTIME_FIX = '`sudo timedatectl set-timezone Area/City`, or `timezone = "Area/City"` in the config'
# Directories of a zoneinfo tree that hold other flavours of the same zones, never their names.
NOT_NAMES = frozenset({"posix", "right", "Etc/posix", "Etc/right"})


@dataclass(frozen=True)
class ZoneSource:
    """A zone and where it came from, for `status` and `doctor`; `problem` says what is wrong
    (the zone is then UTC or a guess) in words a person can act on."""

    zone: ZoneInfo
    source: str  # "config timezone", "$TZ", "/etc/localtime", "/etc/localtime, a copy of Europe/Berlin", ...
    problem: str | None = None
    fix: str | None = None  # how to mend the problem
    matched: bool = False  # named by matching the contents of a copy

    @property
    def remark(self) -> str | None:
        """Worth saying beside the zone (`status`, `doctor`): what is wrong, or how a copy got its name."""
        return self.problem or (self.source if self.matched else None)


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


def read_system_zone(env: Mapping[str, str] | None = None, localtime: Path | None = None) -> ZoneSource:
    """The system's zone: $TZ when it names a zone, else /etc/localtime (its link's target, or
    its contents matched to a zone), else UTC with the reason."""
    env = os.environ if env is None else env
    if localtime is None:
        localtime = localtime_path(env)
    tz = env.get("TZ", "").removeprefix(":")
    if tz:
        zone = load_zone(tz) or load_zone(_zone_name_from_path(tz) or "")
        if zone is not None:
            return ZoneSource(zone, "$TZ")
    found = _from_localtime(localtime)
    if tz:
        ignored = f"TZ={show(tz)} names no time zone and is ignored"
        problem = f"{ignored}; {found.problem}" if found.problem else ignored
        return replace(
            found, problem=problem, fix=found.fix or 'set TZ to a zone name ("Europe/Berlin") or unset it'
        )
    return found


def system_zone(env: Mapping[str, str] | None = None, localtime: Path | None = None) -> ZoneInfo:
    """The system's zone alone (`read_system_zone` says where it came from)."""
    return read_system_zone(env, localtime).zone


def _utc() -> ZoneInfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo("UTC")


def _from_localtime(path: Path) -> ZoneSource:
    def broken(problem: str) -> ZoneSource:
        return ZoneSource(_utc(), "UTC", f"{problem}, so sundown plans in UTC", LOCALTIME_FIX)

    try:
        target = os.readlink(path)
    except FileNotFoundError:
        return broken(f"there is no {path}")
    except OSError:
        target = None  # not a link: a copy
    if target is not None:
        name = _zone_name_from_path(target)
        zone = load_zone(name) if name else None
        if zone is not None:
            if path.exists():
                return ZoneSource(zone, str(path))
            problem = (
                f"{path} links to {target}, which does not exist: sundown plans in {name} from Python's"
                " own zone data, other programs may show UTC"
            )
            return ZoneSource(zone, str(path), problem, "install the system's zone data (the tzdata package)")
        if not path.exists():
            return broken(f"{path} is a dangling link to {target}")
    try:
        with path.open("rb") as f:
            data = f.read(MAX_ZONE_FILE + 1)
    except OSError as exc:
        return broken(f"cannot read {path} ({exc.strerror or exc})")
    what = f"{path}, a copy" if target is None else f"{path}, a link to {target}"
    if not data.startswith(TZIF_MAGIC) or len(data) > MAX_ZONE_FILE:
        return broken(f"{what}, is not a time zone file")
    return _from_contents(data, what, broken)


def _from_contents(data: bytes, what: str, broken: Callable[[str], ZoneSource]) -> ZoneSource:
    """A zone file with no name: matched to a zone by its bytes, else its own rules."""
    from zoneinfo import ZoneInfo

    name = zone_named_by_contents(data)
    zone = load_zone(name) if name else None
    if zone is not None:
        return ZoneSource(zone, f"{what} of {name} (matched by its contents)", matched=True)
    try:
        own = ZoneInfo.from_file(io.BytesIO(data))
        own.utcoffset(None)
    except Exception:  # any bytes at all: zoneinfo raises ValueError, struct.error, IndexError...
        return broken(f"{what}, is not a readable time zone file")
    problem = (
        f"{what}, matches no zone of this system (an old copy?): sundown plans by its own rules, unnamed"
    )
    return ZoneSource(own, f"{what} matching no zone", problem, LOCALTIME_FIX)


@functools.lru_cache(maxsize=4)
def zone_named_by_contents(data: bytes) -> str | None:
    """The name of the zone whose file holds exactly `data`, or None.

    Cached: done once at start and once per change of /etc/localtime (a few hundred stat calls,
    and a read of each file of the same size). Of several names for one file (aliases that are
    hard links or copies: US/Eastern, America/New_York), the one `zone1970.tab` lists wins,
    then a zone's own name in `tzdata.zi` (not a link's), then the Area/City form, then the
    shortest; `posix/` and `right/` are never names.
    """
    import zoneinfo

    for root in map(Path, zoneinfo.TZPATH):
        names = [name for name, path in _zone_files(root, len(data)) if _holds(path, data)]
        if names:
            listed, zones = _listed(root), _zones(root)
            return min(names, key=lambda n: (n not in listed, n not in zones, "/" not in n, len(n), n))
    return None


def _zone_files(root: Path, size: int) -> Iterator[tuple[str, Path]]:
    """(name, path) of each regular file of `size` bytes under `root`; links are aliases and
    the file they point to is found under its own name."""
    for directory, dirs, files in os.walk(root):
        here = Path(directory)
        rel = here.relative_to(root).as_posix()
        dirs[:] = [d for d in dirs if (f"{rel}/{d}" if rel != "." else d) not in NOT_NAMES]
        for file in files:
            path = here / file
            try:
                st = path.lstat()
            except OSError:
                continue
            if st.st_size == size and not path.is_symlink():
                yield (path.relative_to(root).as_posix(), path)


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _zones(root: Path) -> set[str]:
    """The zones `tzdata.zi` defines ("Z NAME ..." lines), as opposed to its links ("L ...")."""
    try:
        text = (root / "tzdata.zi").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line.split()[1] for line in text.splitlines() if line.startswith("Z ") and len(line.split()) > 1}


def _listed(root: Path) -> set[str]:
    """The zones `zone1970.tab` (or the older `zone.tab`) lists: the names people use."""
    for table in ("zone1970.tab", "zone.tab"):
        try:
            lines = (root / table).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        return {cols[2] for line in lines if not line.startswith("#") and len(cols := line.split("\t")) > 2}
    return set()


def zone_source(routine: Routine, env: Mapping[str, str] | None = None) -> ZoneSource:
    """The routine's `timezone`, or the system's zone when unset, and where it came from."""
    if routine.timezone is None:
        return read_system_zone(env)
    zone = load_zone(routine.timezone)
    if zone is None:
        raise ConfigError(
            [f'timezone: {show(routine.timezone)} is not a known time zone; write e.g. "Europe/Berlin"']
        )
    return ZoneSource(zone, "config timezone")


def zone_for(routine: Routine, env: Mapping[str, str] | None = None) -> ZoneInfo:
    """The routine's `timezone`, or the system's zone when unset."""
    return zone_source(routine, env).zone


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
