"""TOML -> Routine, checked against one declarative spec of keys (docs/config.md).

Every problem is collected and reported at once as ``PATH:LINE: KEY.PATH: message``.
tomllib gives no line numbers for keys, so `KeyLines` finds them by scanning the text.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sundown.config.lines import BARE_KEY_CHARS, KeyLines
from sundown.config.spec import BEDTIME_KEYS, FILE, PUSH, REMINDER, Key, KeyPath, Table, TableOf
from sundown.config.values import ID_RE, Invalid, closest, load_zone, show
from sundown.core.routine import (
    DEFAULT_REPEAT_LIMIT,
    DEFAULT_SNOOZE,
    WEEKDAYS,
    Bedtimes,
    ContextRules,
    Push,
    Reminder,
    Routine,
)
from sundown.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sundown.paths import Paths

EXAMPLE_FILE = "config.example.toml"
DEFAULT_NAME = "<built-in default routine>"


# --- problems and the walk over the spec ------------------------------------------------------


def dotted(path: KeyPath) -> str:
    """`reminders.screens-off.before`; keys that are not bare TOML keys are quoted."""
    parts = []
    for p in path:
        if isinstance(p, int):
            continue
        parts.append(p if p and set(p) <= BARE_KEY_CHARS else show(p))
    return ".".join(parts)


@dataclass
class Problems:
    name: str
    lines: KeyLines
    found: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, path: KeyPath, message: str, index: int | None = None) -> None:
        where = path + (index,) if index is not None else path
        line = self.lines.line_of(where)
        label = dotted(path) or "(top level)"
        self.found.append((line, len(self.found), f"{self.name}:{line}: {label}: {message}"))

    def __bool__(self) -> bool:
        return bool(self.found)

    def messages(self) -> list[str]:
        """In file order; problems on one line in the order they were found."""
        return [text for _, _, text in sorted(self.found)]


def _walk_table(spec: Table, raw: object, path: KeyPath, problems: Problems) -> dict[str, Any]:
    """The valid, converted values of `raw`; every problem found is added to `problems`."""
    if not isinstance(raw, dict):
        header = f"[{dotted(path)}]" if path else "a table"
        problems.add(path, f"{show(raw)} is not a table; write a {header} section")
        return {}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        sub = path + (key,)
        child = spec.keys.get(key)
        if child is None:
            known = list(spec.keys)
            names = ", ".join(known)
            problems.add(sub, f"unknown key{closest(key, known)} (known here: {names})")
        elif isinstance(child, Key):
            try:
                values[key] = child.read(value)
            except Invalid as exc:
                for message, index in exc.issues:
                    problems.add(sub, message, index)
        elif isinstance(child, Table):
            values[key] = _walk_table(child, value, sub, problems)
        else:
            values[key] = _walk_table_of(child, value, sub, problems)
    return values


def _walk_table_of(
    spec: TableOf, raw: object, path: KeyPath, problems: Problems
) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        problems.add(path, f"{show(raw)} is not a table; write one [{dotted(path)}.ID] section per step")
        return {}
    items: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        sub = path + (key,)
        if not ID_RE.fullmatch(key):
            suggestion = suggest_id(key)
            problems.add(
                sub,
                f"{show(key)} is not a valid reminder id: ids use lowercase letters, digits, '-' and '_',"
                f' and start with a letter or digit (e.g. "{suggestion}")',
            )
        items[key] = _walk_table(spec.item, value, sub, problems)
    return items


def suggest_id(key: str) -> str:
    """A valid id close to `key`: "Café Time" -> "cafe-time" (accents dropped, not the letters)."""
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFKD", key) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9_-]+", "-", plain.lower()).strip("-_") or "wind-down"


# --- from checked values to the Routine -------------------------------------------------------


def readable(reminder_id: str) -> str:
    """The default title: "screens-off" -> "Screens off"."""
    words = re.sub(r"[-_]+", " ", reminder_id).strip()
    return words[:1].upper() + words[1:] if words else reminder_id


def _bedtimes(raw: dict[str, Any], values: dict[str, Any], problems: Problems) -> Bedtimes | None:
    if "bedtime" not in raw:
        problems.add(("bedtime",), 'missing; add a [bedtime] section with e.g. default = "22:30"')
        return None
    given = values.get("bedtime", {})
    if not isinstance(raw["bedtime"], dict):
        return None
    missing = [d for d in WEEKDAYS if d not in raw["bedtime"]]
    if "default" not in raw["bedtime"] and missing:
        problems.add(
            ("bedtime",),
            f'needs default = "HH:MM" for the evenings not given ({", ".join(missing)}), '
            "unless all seven weekdays are given",
        )
        return None
    if any(k not in given for k in raw["bedtime"] if k in BEDTIME_KEYS):
        return None  # a bad value was reported already
    default = given.get("default")
    by_day = tuple(given.get(d, default) for d in WEEKDAYS)
    return Bedtimes(by_day)  # type: ignore[arg-type]


def _reminder(rid: str, raw: object, values: dict[str, Any], problems: Problems) -> Reminder | None:
    if not isinstance(raw, dict):
        return None
    path: KeyPath = ("reminders", rid)
    ok = all(k in values for k in raw if k in REMINDER.keys) and ID_RE.fullmatch(rid) is not None
    if "before" in raw and "at" in raw:
        problems.add(path + ("at",), 'is given together with "before"; keep exactly one of the two')
        ok = False
    elif "before" not in raw and "at" not in raw:
        problems.add(path, 'needs "before" (e.g. before = "30m") or "at" (e.g. at = "22:00")')
        ok = False
    if "repeat_limit" in raw and "repeat" not in raw:
        problems.add(
            path + ("repeat_limit",),
            'means nothing without "repeat"; add e.g. repeat = "10m" or remove repeat_limit',
        )
        ok = False
    if not ok:
        return None
    repeat = values.get("repeat")
    return Reminder(
        id=rid,
        title=values.get("title", readable(rid)),
        body=values.get("body", ""),
        before=values.get("before"),
        at=values.get("at"),
        repeat=repeat,
        repeat_limit=values.get("repeat_limit", DEFAULT_REPEAT_LIMIT) if repeat else 0,
        run=values.get("run", ()),
        days=values.get("days"),
        done_when=values.get("done_when"),
        urgent=values.get("urgent", False),
        snooze_limit=values.get("snooze_limit"),
        escalate=values.get("escalate", ()),
    )


def _escalation_fits(r: Reminder, bedtimes: Bedtimes, problems: Problems) -> None:
    """An `after` that would land past the night's end (12:00 the next day) can never happen."""
    for i, step in enumerate(r.escalate):
        for weekday in range(7):
            if not r.runs_on(weekday):
                continue
            bed = bedtimes.for_weekday(weekday)
            bed_min = (bed.hour * 60 + bed.minute - 12 * 60) % (24 * 60)  # minutes after 12:00
            if r.at is not None:
                at_min = (r.at.hour * 60 + r.at.minute - 12 * 60) % (24 * 60)
            else:
                at_min = bed_min - int((r.before or timedelta(0)).total_seconds() // 60)
            if timedelta(minutes=at_min) + step.after > timedelta(hours=24):
                problems.add(
                    ("reminders", r.id, "escalate"),
                    f"step {i + 1}: after = {show(_duration_text(step.after))} lands past the night's end "
                    f"(12:00 the next day) on {WEEKDAYS[weekday]} evenings; write a shorter duration",
                    i,
                )
                break


def _duration_text(d: timedelta) -> str:
    total = int(d.total_seconds())
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (s, "s")) if v) or "0m"


def _build(raw: dict[str, Any], problems: Problems) -> Routine | None:
    values = _walk_table(FILE, raw, (), problems)
    bedtimes = _bedtimes(raw, values, problems)
    reminders = []
    raw_reminders = raw.get("reminders")
    if isinstance(raw_reminders, dict):
        checked = values.get("reminders", {})
        for rid, item in raw_reminders.items():
            r = _reminder(rid, item, checked.get(rid, {}), problems)
            if r is not None:
                reminders.append(r)
    if bedtimes is not None:
        for r in reminders:
            _escalation_fits(r, bedtimes, problems)
    push = _push(raw, values.get("push", {}), {r.id for r in reminders}, problems)
    if problems or bedtimes is None:
        return None
    notify = values.get("notify", {})
    ctx = values.get("context", {})
    return Routine(
        bedtime=bedtimes,
        reminders=tuple(reminders),
        timezone=values.get("timezone"),
        backend=notify.get("backend", "auto"),
        snooze=notify.get("snooze", DEFAULT_SNOOZE),
        skip_dates=values.get("skip", {}).get("dates", frozenset()),
        context=ContextRules(
            quiet=ctx.get("quiet", "defer"),
            max_defer=ctx.get("max_defer", ContextRules.max_defer),
            idle=ctx.get("idle", ContextRules.idle),
            measure=ctx.get("measure", ContextRules.measure),
        ),
        push=push,
    )


def _push(raw: dict[str, Any], values: dict[str, Any], ids: set[str], problems: Problems) -> Push | None:
    """`[push]`, its reminder ids checked against the routine and its token file against the disk."""
    table = raw.get("push")
    if not isinstance(table, dict):
        return None
    if "ntfy" not in table:
        problems.add(("push",), 'needs ntfy = "https://SERVER/TOPIC", the topic URL to push to')
        return None
    listed = table.get("reminders", []) if "reminders" in values else []
    for i, rid in enumerate(listed):
        if rid not in ids:
            problems.add(
                ("push", "reminders"),
                f"{show(rid)} is not a reminder of this routine{closest(rid, sorted(ids))}",
                i,
            )
    token_file = None
    if "token_file" in values:
        token_file = Path(os.path.expanduser(values["token_file"]))
        if not token_file.is_absolute():
            token_file = Path(problems.name).resolve().parent / token_file
        problem = token_file_problem(token_file)
        if problem:
            problems.add(("push", "token_file"), problem)
    if any(k not in values for k in table if k in PUSH.keys):
        return None  # a bad value was reported already
    server, topic = values["ntfy"]
    return Push(
        server=server,
        topic=topic,
        device=values.get("device") or _hostname(),
        token_file=token_file,
        reminders=values.get("reminders"),
        when=values.get("when", "always"),
    )


def token_file_problem(path: Path) -> str | None:
    """Like ssh with its keys: a token others can read is refused. Never quotes the token."""
    import stat

    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{show(str(path))} does not exist; write the access token into it (mode 600)"
    except OSError as exc:
        return f"cannot read {show(str(path))}: {exc.strerror or exc}"
    if not stat.S_ISREG(st.st_mode):
        return f"{show(str(path))} is not a file"
    if st.st_uid != os.getuid():
        return f"{show(str(path))} belongs to another user (uid {st.st_uid}); run `chown $USER {path}`"
    if st.st_mode & 0o077:
        return (
            f"{show(str(path))} is readable by others (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        empty = not path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {show(str(path))}: {getattr(exc, 'strerror', None) or exc}"
    if empty:
        return f"{show(str(path))} is empty; write the access token into it"
    return None


def _hostname() -> str:
    import socket

    name = re.sub(r"[^-_.A-Za-z0-9]+", "-", socket.gethostname().split(".")[0]).strip("-_.")
    return name[:63] or "this-machine"


# --- TOML syntax errors -----------------------------------------------------------------------


AT_RE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def _syntax_problem(name: str, text: str, exc: Exception) -> str:
    """`PATH:LINE:COL: message` from a TOMLDecodeError (whose position is in its message)."""
    message = str(exc)
    lines = text.replace("\r\n", "\n").split("\n")
    m = AT_RE.search(message)
    if m and m.group(1):
        line, col = int(m.group(1)), int(m.group(2))
    else:
        # "end of document": point at the last line that has something on it.
        line = max((n for n, t in enumerate(lines, 1) if t.strip()), default=1)
        col = len(lines[line - 1]) + 1 if lines else 1
    if m:
        message = message[: m.start()]
    message = re.sub(
        r"\(((?:'[^']*'(?:, )?)+),?\)",
        lambda t: "[" + ".".join(re.findall(r"'([^']*)'", t.group(1))) + "]",
        message,
    )
    if message.startswith("Illegal character '\\n'") or message.startswith("Unterminated string"):
        message = "a string is not closed (its closing quote is missing)"
    message = message[:1].lower() + message[1:]
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    value = source.partition("=")[2].split("#")[0].strip()
    if "=" in source and re.fullmatch(r"\d{1,2}:\d{2}", value):
        message += f'; times are strings: write "{value}"'
    elif "=" in source and re.fullmatch(r"-?(\d+[hms])+", value):
        message += f'; durations are strings: write "{value}"'
    return f"{name}:{line}:{col}: TOML syntax error: {message}"


# --- public API -------------------------------------------------------------------------------


def parse(text: str, name: str) -> Routine:
    """The routine in `text`; raises ConfigError listing every problem, `name` being the file."""
    text = text.removeprefix("\ufeff")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(name, text, exc)]) from None
    problems = Problems(name, KeyLines(text))
    routine = _build(raw, problems)
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


def example_text() -> str:
    """The shipped config.example.toml: the built-in default routine, commented."""
    return Path(__file__).parent.parent.joinpath(EXAMPLE_FILE).read_text(encoding="utf-8")


def default_routine() -> Routine:
    return parse(example_text(), DEFAULT_NAME)


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
    if localtime is None:  # SUNDOWN_LOCALTIME: tests point it at a link of their own
        localtime = Path(env.get("SUNDOWN_LOCALTIME") or "/etc/localtime")
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


def commands_refused(path: Path | None) -> str | None:
    """Why the daemon will not run this config's commands, or None. Like ssh with its keys:
    a config another user could write must not choose what runs as you."""
    import stat

    if path is None:
        return None
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot check {path}: {exc.strerror}"
    if st.st_uid != os.getuid():
        return f"{path} belongs to another user (uid {st.st_uid}); run `chown $USER {path}`"
    bits = ((stat.S_IWGRP, "your group"), (stat.S_IWOTH, "other users"))
    writers = [who for bit, who in bits if st.st_mode & bit]
    if writers:
        mode = f"{stat.S_IMODE(st.st_mode):o}"
        return f"{path} is writable by {' and '.join(writers)} (mode {mode}); run `chmod go-w {path}`"
    return None


def with_commands(routine: Routine) -> list[str]:
    """Ids of the reminders that run a command (when they fire, or as an escalation step)."""
    return [r.id for r in routine.reminders if r.run or any(step.run for step in r.escalate)]


@dataclass(frozen=True)
class LoadedConfig:
    routine: Routine
    zone: ZoneInfo
    path: Path | None  # None: the built-in default routine


def load_for(paths: Paths) -> LoadedConfig:
    """The configured routine, or the built-in default when no config file exists (and none was named)."""
    if not paths.config_explicit and not paths.config.exists() and not paths.config.is_symlink():
        routine = default_routine()
        return LoadedConfig(routine, zone_for(routine), None)
    routine = load(paths.config)
    return LoadedConfig(routine, zone_for(routine), paths.config)


def _last_good_path(paths: Paths) -> Path:
    return paths.state_dir / "last-good-config.toml"


def remember_good(paths: Paths, loaded: LoadedConfig) -> None:
    """Keep a copy of the routine the daemon runs, beside the log: while the config file has
    errors (or was deleted), read-only commands show that routine, as the daemon keeps it."""
    target = _last_good_path(paths)
    try:
        if loaded.path is None:
            target.unlink(missing_ok=True)
            return
        text = loaded.path.read_text(encoding="utf-8")
        parse(text, str(loaded.path))  # the copy must be the routine that loaded, not a newer edit
        if target.exists() and target.read_text(encoding="utf-8") == text:
            return
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except (OSError, UnicodeDecodeError, ConfigError):
        pass  # only a fallback for read-only commands; the daemon runs on without it


def last_good(paths: Paths) -> LoadedConfig | None:
    """The routine the daemon last loaded (see `remember_good`), or None."""
    try:
        text = _last_good_path(paths).read_text(encoding="utf-8")
        routine = parse(text, str(paths.config))
    except (OSError, UnicodeDecodeError, ConfigError):
        return None
    return LoadedConfig(routine, zone_for(routine), paths.config)
