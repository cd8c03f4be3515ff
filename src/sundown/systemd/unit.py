"""Installing sundown under systemd --user: the unit file, the autostart fallback, `systemctl --user`.

`systemctl` is found through PATH and run as a subprocess; nothing here prints (the CLI does).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sundown.errors import SundownError
from sundown.paths import write_atomic

UNIT_NAME = "sundown.service"
GRAPHICAL_TARGET = "graphical-session.target"
DEFAULT_TARGET = "default.target"
# What a notification (and a `run` command) needs from the desktop session, and TZ: a zone set
# for the session must be the service's too, or the daemon plans other nights than `sundown next`.
# HYPRLAND_INSTANCE_SIGNATURE: which Hyprland `hyprctl` talks to (the wind-down's grayscale).
SESSION_VARIABLES: tuple[str, ...] = (
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_CURRENT_DESKTOP",
    "TZ",
    "HYPRLAND_INSTANCE_SIGNATURE",
)
# Where sundown's files are, as the CLI sees them: the service must read and write the same ones
# (a `sundown ack` writes the log the daemon reads), so install pins those that are set.
PINNED_VARIABLES: tuple[str, ...] = ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "SUNDOWN_STATE_DIR")


# --- the unit ------------------------------------------------------------------------------------


def unit_template() -> str:
    """The shipped unit (package data), the one source of systemd/sundown.service."""
    from importlib.resources import files

    return files("sundown").joinpath(UNIT_NAME).read_text(encoding="utf-8")


def systemd_quote(arg: str) -> str:
    """Quote one ExecStart argument: specifiers (%) and variables ($) taken literally."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not re.search(r'[\s"\'\\;]', arg):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def exec_argv(python: str | None = None) -> list[str]:
    """How systemd should start the installed sundown: absolute, independent of PATH.

    A venv or pipx install puts the `sundown` script next to its interpreter; we use
    that when it is there, else `<interpreter> -m sundown`. The interpreter path is
    kept as is (not resolved), so a venv's own python, with its site-packages, is used.
    """
    python = os.path.abspath(python or sys.executable)
    script = Path(python).parent / "sundown"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script), "run"]
    return [python, "-m", "sundown", "run"]


def environment_line(name: str, value: str) -> str:
    """One `Environment=` line; no $ expansion happens there, only % specifiers."""
    assignment = f"{name}={value.replace('%', '%%')}"
    if re.search(r'[\s"\'\\]', assignment):
        assignment = '"' + assignment.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"Environment={assignment}"


def unit_text(
    argv: Sequence[str], wanted_by: str = GRAPHICAL_TARGET, environment: Mapping[str, str] | None = None
) -> str:
    """The unit file to install: the template with our ExecStart, install target and pinned paths."""
    if not argv or not os.path.isabs(argv[0]):
        raise ValueError(f"ExecStart needs an absolute path, got {argv!r}")
    text = unit_template()
    exec_line = "ExecStart=" + " ".join(systemd_quote(a) for a in argv)
    text, n = re.subn(r"^ExecStart=.*$", lambda _m: exec_line, text, count=1, flags=re.M)
    text, m = re.subn(r"^WantedBy=.*$", lambda _m: f"WantedBy={wanted_by}", text, count=1, flags=re.M)
    env_lines = "".join("\n" + environment_line(k, v) for k, v in (environment or {}).items())
    text, e = re.subn(
        r"^Environment=PYTHONUNBUFFERED=1$", lambda m_: m_.group(0) + env_lines, text, count=1, flags=re.M
    )
    if n != 1 or m != 1 or e != 1:
        raise RuntimeError("the shipped sundown.service lacks its ExecStart=, WantedBy= or Environment= line")
    return text


def unit_path(env: Mapping[str, str] | None = None) -> Path:
    """Where systemd --user looks for units the user wrote: $XDG_CONFIG_HOME/systemd/user/."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base) / "systemd" / "user" / UNIT_NAME


def _desktop_quote(arg: str) -> str:
    """Quote one argument of a .desktop Exec= line (Desktop Entry spec, "The Exec key")."""
    arg = arg.replace("%", "%%")
    if re.fullmatch(r"[\w@%+=:,./-]+", arg):
        return arg
    # Inside quotes \ " ` $ take a backslash; the value itself then escapes each backslash.
    inner = re.sub(r'([\\"`$])', r"\\\1", arg).replace("\\", "\\\\")
    return f'"{inner}"'


def autostart_entry(argv: Sequence[str]) -> str:
    """An XDG autostart .desktop file: the fallback where there is no systemd --user."""
    quoted = " ".join(_desktop_quote(a) for a in argv)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=sundown\n"
        "Comment=Evening wind-down reminders\n"
        f"Exec={quoted}\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def autostart_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(base) / "autostart" / "sundown.desktop"


# --- systemctl --user ----------------------------------------------------------------------------


class NoUserManager(SundownError):
    """systemd --user cannot be reached from here (no systemctl, no user bus, a container)."""


class StartFailed(SundownError):
    """systemd could not start the unit; `daemon_said` is the daemon's own last error, from the journal.

    systemctl alone says only "Job for sundown.service failed ... See journalctl": the reason
    (a held lock, a config error, an unusable directory) is what the daemon wrote to stderr.
    """

    def __init__(self, systemd_said: str, daemon_said: Sequence[str]) -> None:
        super().__init__(f"{UNIT_NAME} did not start: {systemd_said}")
        self.systemd_said = systemd_said
        self.daemon_said = list(daemon_said)


@dataclass
class Systemctl:
    """`systemctl --user`, looked up through PATH in `env` (tests put a recording stand-in first)."""

    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Longer than the unit's TimeoutStartSec=60s: `enable --now` waits for READY=1 or that timeout.
    timeout: float = 90.0

    def executable(self) -> str | None:
        return shutil.which("systemctl", path=self.env.get("PATH", os.defpath))

    def run(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        exe = self.executable()
        if exe is None:
            raise NoUserManager("systemctl is not installed (no systemd here)")
        try:
            proc = subprocess.run(
                [exe, "--user", *args],
                env=dict(self.env),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise SundownError(
                f"systemctl --user {' '.join(args)} did not finish in {self.timeout:g} s"
            ) from exc
        if check and proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip() or f"exit status {proc.returncode}"
            raise SundownError(f"systemctl --user {' '.join(args)}: {message}")
        return proc

    def ensure_available(self) -> None:
        """Raise NoUserManager unless a user manager answers."""
        proc = self.run("show", "--property=Version")
        if proc.returncode != 0:
            reason = (proc.stderr or proc.stdout).strip().splitlines()
            raise NoUserManager(
                "systemd --user is not running or not reachable" + (f" ({reason[-1]})" if reason else "")
            )

    def show(self, unit: str, properties: Sequence[str]) -> dict[str, str]:
        proc = self.run("show", unit, "--property=" + ",".join(properties), check=True)
        return _parse_assignments(proc.stdout)

    def show_environment(self) -> dict[str, str]:
        return _parse_assignments(self.run("show-environment", check=True).stdout)

    def is_active(self, unit: str) -> bool:
        return self.run("is-active", "--quiet", unit).returncode == 0

    def unit_search_path(self) -> list[str]:
        """The directories the running manager loads units from (empty when it does not say)."""
        proc = self.run("show", "--property=UnitPath")
        return _parse_assignments(proc.stdout).get("UnitPath", "").split() if proc.returncode == 0 else []


def installed_unit_path(env: Mapping[str, str], ctl: Systemctl) -> Path:
    """$XDG_CONFIG_HOME/systemd/user/sundown.service, unless the manager does not look there.

    The manager computed its search path from its own environment at login: a shell with
    another XDG_CONFIG_HOME would write a unit that systemd never sees.
    """
    path = unit_path(env)
    search = ctl.unit_search_path()
    if not search or str(path.parent) in search:
        return path
    for candidate in search:
        if candidate.endswith("/.config/systemd/user"):
            return Path(candidate) / UNIT_NAME
    return path


def _parse_assignments(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key] = value
    return out


# --- install / uninstall / status ----------------------------------------------------------------


@dataclass
class InstallResult:
    path: Path
    argv: list[str]
    wanted_by: str
    imported: list[str]
    missing: list[str]  # session variables not set where install ran
    restarted: bool


def install(
    env: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    wanted_by: str | None = None,
    systemctl: Systemctl | None = None,
) -> InstallResult:
    """Write the unit, hand the session's environment to the manager, enable and start it.

    The target defaults to graphical-session.target when the desktop has it active
    and default.target otherwise, so the unit starts at the next login either way.
    """
    env = dict(os.environ if env is None else env)
    ctl = systemctl or Systemctl(env)
    ctl.ensure_available()
    argv = list(argv or exec_argv())
    if wanted_by is None:
        wanted_by = GRAPHICAL_TARGET if ctl.is_active(GRAPHICAL_TARGET) else DEFAULT_TARGET
    was_active = ctl.is_active(UNIT_NAME)
    path = installed_unit_path(env, ctl)
    path.parent.mkdir(parents=True, exist_ok=True)
    pinned = {name: env[name] for name in PINNED_VARIABLES if env.get(name)}
    text = unit_text(argv, wanted_by, pinned)
    existed = path.exists()
    changed = not existed or path.read_text(encoding="utf-8") != text
    if changed:
        write_atomic(path, text, mode=0o644)
    ctl.run("daemon-reload", check=True)
    imported = [name for name in SESSION_VARIABLES if env.get(name)]
    if imported:
        ctl.run("import-environment", *imported, check=True)
    started = time.time()
    try:
        if not existed:
            ctl.run("enable", "--now", UNIT_NAME, check=True)
        else:
            # A reinstall may change WantedBy=: reenable drops the old links and makes the new ones.
            ctl.run("reenable" if changed else "enable", UNIT_NAME, check=True)
            # A running daemon keeps its old ExecStart and environment until restarted.
            ctl.run("restart" if was_active else "start", UNIT_NAME, check=True)
    except NoUserManager:
        raise
    except SundownError as exc:
        said = str(exc).partition(": ")[2].splitlines()  # what systemctl wrote, without our prefix
        raise StartFailed(said[0] if said else str(exc), daemon_errors(env, since=started)) from None
    missing = [n for n in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY") if not env.get(n)]
    return InstallResult(path, argv, wanted_by, imported, missing, was_active)


def service_pid(env: Mapping[str, str] | None = None, systemctl: Systemctl | None = None) -> int | None:
    """The pid of the daemon systemd runs as sundown.service, or None when it runs none."""
    ctl = systemctl or Systemctl(dict(os.environ if env is None else env))
    ctl.ensure_available()
    return int(ctl.show(UNIT_NAME, ["MainPID"]).get("MainPID") or 0) or None


# The daemon's lines in the journal carry the unit's SyslogIdentifier=; the manager's own lines
# about the unit ("Failed to start sundown.service") do not.
SYSLOG_IDENTIFIER = "sundown"


def daemon_errors(env: Mapping[str, str], since: float, wait: float = 2.0, last: int = 3) -> list[str]:
    """The daemon's last error lines (priority err or worse) since `since`, from the user's journal.

    journald may still be reading a dead daemon's stderr when systemctl returns, so this asks
    again for up to `wait` seconds. Empty where there is no journalctl or no journal to read.
    """
    exe = shutil.which("journalctl", path=env.get("PATH", os.defpath))
    if exe is None:
        return []
    argv = [exe, "--user", "--no-pager", "--quiet", "--output=cat", "--priority=err"]
    argv += [f"--identifier={SYSLOG_IDENTIFIER}", f"--since=@{int(since)}"]
    deadline = time.monotonic() + wait
    while True:
        try:
            proc = subprocess.run(
                argv, env=dict(env), capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        lines = [line for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []
        if lines or time.monotonic() >= deadline:
            # The same error from each of several quick restarts is said once.
            return list(dict.fromkeys(lines))[-last:]
        time.sleep(0.2)


@dataclass
class UninstallResult:
    path: Path
    removed: bool


def uninstall(env: Mapping[str, str] | None = None, systemctl: Systemctl | None = None) -> UninstallResult:
    """Stop and disable the unit, remove the file we wrote, and reload the manager."""
    env = dict(os.environ if env is None else env)
    ctl = systemctl or Systemctl(env)
    ctl.ensure_available()
    path = installed_unit_path(env, ctl)
    proc = ctl.run("disable", "--now", UNIT_NAME)
    if proc.returncode != 0 and path.exists():
        message = (proc.stderr or proc.stdout).strip()
        raise SundownError(f"systemctl --user disable --now {UNIT_NAME}: {message}")
    removed = path.exists()
    if removed:
        path.unlink()
    ctl.run("daemon-reload", check=True)
    return UninstallResult(path, removed)


STATUS_PROPERTIES = (
    "LoadState",
    "ActiveState",
    "SubState",
    "UnitFileState",
    "MainPID",
    "StatusText",
    "Result",
    "NRestarts",
    "ExecMainStatus",
    "ActiveEnterTimestamp",
    "FragmentPath",
)


def status(env: Mapping[str, str] | None = None, systemctl: Systemctl | None = None) -> dict[str, str]:
    """The unit's state as systemd sees it (the daemon's own view is the CLI's to add)."""
    env = dict(os.environ if env is None else env)
    ctl = systemctl or Systemctl(env)
    ctl.ensure_available()
    return ctl.show(UNIT_NAME, STATUS_PROPERTIES)
