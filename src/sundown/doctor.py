"""`sundown doctor`: can a reminder actually reach the person from where the daemon runs?

Each check is data (status, one-line explanation, the command that fixes it); the
CLI prints them. Checks never raise for what they find: a broken bus or config is
a result, not an error.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sundown.paths import Paths

if TYPE_CHECKING:
    from sundown.notify import Backend
    from sundown.runtime.sources.source import Capability
    from sundown.systemd.unit import Systemctl

CheckStatus = Literal["ok", "warn", "fail"]
OK: CheckStatus = "ok"
WARN: CheckStatus = "warn"
FAIL: CheckStatus = "fail"
RESTART = "systemctl --user restart sundown"


@dataclass(frozen=True)
class Check:
    name: str
    status: CheckStatus
    detail: str
    fix: str | None = None


class TestNotification:
    """doctor's test notification on a server that ignores its timeout (GNOME Shell keeps it in its
    list for good): closed by doctor itself once its 10 s are up, after the report is shown."""

    def __init__(self, backend: Backend, key: str, due: float) -> None:
        self.backend, self.key, self.due = backend, key, due  # due: time.monotonic()

    def close_when_due(self) -> None:
        """Wait for its time, then close it; interrupted (Ctrl-C), close it at once."""
        try:
            time.sleep(max(0.0, self.due - time.monotonic()))
        finally:
            try:
                self.backend.withdraw(self.key)
            finally:
                self.backend.close()


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    test_notification: TestNotification | None = None  # still to be closed: `close_when_due()`

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings allowed), 1 otherwise."""
        return 1 if self.failed else 0

    def count(self, status: CheckStatus) -> int:
        return sum(1 for c in self.checks if c.status == status)


def run(paths: Paths, env: Mapping[str, str], send_test: bool = False, backend: str | None = None) -> Report:
    """All checks, in the order a person would fix them."""
    checks: list[Check] = []
    config = check_config(paths)
    checks.append(config)
    checks.append(check_log(paths))
    bus = check_bus(env)
    checks.append(bus)
    checks.append(check_server(env, bus_ok=bus.status != FAIL))
    checks.append(check_service(env))
    checks.append(check_daemon(paths, env, user_manager=has_user_manager(env), cli_zone=_cli_zone(paths)))
    context, dnd = _context_checks(paths, env)
    checks.extend(context)
    checks.extend(check_winddown(paths, env))
    checks.extend(check_push(paths))
    checks.extend(check_calendar(paths))
    if not send_test:
        return Report(tuple(checks))
    test, shown = send_test_notification(env, backend or _configured_backend(paths), dnd=dnd)
    return Report((*checks, test), shown)


# --- config and log ------------------------------------------------------------------------------


def check_config(paths: Paths) -> Check:
    from sundown.config import commands_refused, load_for, with_commands
    from sundown.errors import ConfigError

    try:
        loaded = load_for(paths)
    except ConfigError as exc:
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return Check("config", FAIL, f"{exc.problems[0]}{more}", f"sundown check {paths.config}")
    n = len(loaded.routine.reminders)
    where = str(loaded.path) if loaded.path else f"no config at {paths.config}, the built-in default routine"
    ids = with_commands(loaded.routine)
    refused = commands_refused(loaded.path) if ids else None
    if refused:
        return Check(
            "config",
            WARN,
            f"the daemon will not run the commands of {', '.join(ids)}: {refused.partition(';')[0]}",
            f"chmod go-w {loaded.path}" if "writable" in refused else f"chown $USER {loaded.path}",
        )
    fix = None if loaded.path else "sundown init  # writes the default routine there to edit"
    zone = loaded.zone.key or "unnamed"
    return Check("config", OK, f"{where}: {n} reminder{'s' * (n != 1)}, zone {zone}", fix)


def _configured_backend(paths: Paths) -> str:
    from sundown.config import load_for
    from sundown.errors import ConfigError

    try:
        return load_for(paths).routine.backend
    except ConfigError:
        return "auto"


def check_log(paths: Paths) -> Check:
    from sundown.errors import LogError
    from sundown.store.log import EventLog

    try:
        EventLog(paths.database).close()
    except LogError as exc:
        return Check("event log", FAIL, str(exc), log_fix(paths.database, str(exc)))
    if not os.access(paths.state_dir, os.W_OK) or not os.access(paths.database, os.W_OK):
        problem = f"{paths.database} is not writable"
        return Check("event log", FAIL, problem, log_fix(paths.database, problem))
    return Check("event log", OK, f"{paths.database} is writable")


def log_fix(db: Path, problem: str) -> str:
    """The command that fixes this log problem: a corrupt file is moved away, not chmod-ed."""
    import re

    if "not a readable sundown log" in problem or "did not write" in problem:
        return f"mv {db} {db}.broken  # sundown then starts a new log; the old file stays for recovery"
    if "newer sundown" in problem:
        return "upgrade sundown to the version that wrote the log (python3 -m pip install -U sundown)"
    if "disk is full" in problem:
        return f"free some space on the disk that holds {db.parent} (df -h {db.parent})"
    not_a_dir = re.search(r": (\S+) is a file, not a directory", problem)
    if not_a_dir:
        where = not_a_dir.group(1)
        return f"mv {where} {where}.bak  # or point SUNDOWN_STATE_DIR at a directory"
    owner = _owner_uid(db) if db.exists() else _owner_uid(db.parent)
    if owner is not None and owner != os.getuid():
        return f"sudo chown -R $USER {db.parent}  # it belongs to another user (uid {owner})"
    return f"chmod u+rwX {db.parent} {db}  # or point SUNDOWN_STATE_DIR at a writable directory"


def _owner_uid(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except OSError:
        return None


# --- the session bus and the notification server -------------------------------------------------


def check_bus(env: Mapping[str, str]) -> Check:
    from jeepney.io.blocking import open_dbus_connection

    from sundown.notify import NotifyError
    from sundown.notify.bus import bus_address

    try:
        address = bus_address(env)
    except NotifyError as exc:
        return Check(
            "session bus",
            FAIL,
            str(exc),
            "run sundown inside your desktop session (or `dbus-run-session -- sundown run` to test)",
        )
    fallback = not env.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    try:
        conn = open_dbus_connection(address)
    except (OSError, RuntimeError, ValueError) as exc:
        return Check(
            "session bus",
            FAIL,
            f"cannot connect to {address}: {exc}",
            "log out and in again, or export the DBUS_SESSION_BUS_ADDRESS of your desktop session",
        )
    conn.close()
    if fallback:
        return Check(
            "session bus",
            WARN,
            f"DBUS_SESSION_BUS_ADDRESS is not set; using {address}",
            f"export DBUS_SESSION_BUS_ADDRESS={address}",
        )
    return Check("session bus", OK, address)


def install_hint(env: Mapping[str, str]) -> str:
    """How to get a notification server on this system (its package manager, else in words)."""
    path = env.get("PATH", os.defpath)
    for tool, command in (
        ("apt-get", "sudo apt install dunst"),
        ("dnf", "sudo dnf install dunst"),
        ("pacman", "sudo pacman -S dunst"),
        ("zypper", "sudo zypper install dunst"),
        ("apk", "sudo apk add dunst"),
    ):
        if shutil.which(tool, path=path):
            return f"start your desktop's notification daemon, or: `{command} && dunst &`"
    return "start your desktop's notification daemon (or install dunst or mako)"


def check_server(env: Mapping[str, str], bus_ok: bool = True) -> Check:
    from sundown.notify import NotifyError, server_info

    if not bus_ok:
        return Check("notifications", FAIL, "cannot ask for a notification server without a session bus")
    try:
        info = server_info(env)
    except NotifyError as exc:
        return Check("notifications", FAIL, str(exc), install_hint(env))
    caps = set(info.capabilities)
    who = f"{info.name} {info.version}".strip() + f" (spec {info.spec_version})"
    markup = "body-markup" if "body-markup" in caps else "plain text bodies"
    if "actions" not in caps:
        return Check(
            "notifications",
            WARN,
            f"{who} shows no action buttons: acknowledge with `sundown ack`; {markup}",
            "use a server with actions for Done/Snooze buttons (dunst, mako, GNOME Shell, KDE Plasma)",
        )
    from sundown.notify.dbus import Quirks

    if Quirks.of(info.name, info.vendor).one_at_a_time:
        return Check(
            "notifications",
            WARN,
            f"{who} shows one notification at a time and queues the rest: a reminder that comes "
            "while another is unanswered joins it in one notification naming both",
            "a server that shows several at once (dunst, mako, xfce4-notifyd, mate-notification-daemon) "
            "shows each reminder on its own",
        )
    return Check("notifications", OK, f"{who}: actions, {markup}")


# --- the systemd user service --------------------------------------------------------------------


def check_service(env: Mapping[str, str], systemctl: Systemctl | None = None) -> Check:
    """Installed and running as a user unit, with a session environment that can notify?"""
    import subprocess

    from sundown.errors import SundownError
    from sundown.systemd import unit

    ctl = systemctl or unit.Systemctl(env)
    installed = unit.unit_path(env).exists()
    try:
        ctl.ensure_available()
        props = ctl.show(
            unit.UNIT_NAME, ("LoadState", "ActiveState", "Result", "MainPID", "WantedBy", "UnitFileState")
        )
    except unit.NoUserManager as exc:
        if installed:
            return Check("service", WARN, f"a unit is installed but {exc}", "systemctl --user status sundown")
        return Check("service", OK, f"not installed as a user service ({exc})")
    except (SundownError, OSError, subprocess.SubprocessError) as exc:
        # A misbehaving systemctl is a finding, not a crash.
        return Check(
            "service", WARN, f"cannot read the unit's state: {exc}", "systemctl --user status sundown"
        )
    if props.get("LoadState") != "loaded":
        return Check("service", OK, "not installed as a user service", "sundown service install")
    active = props.get("ActiveState", "")
    if active == "failed":
        return Check(
            "service",
            FAIL,
            f"sundown.service failed ({props.get('Result', '?')})",
            f"journalctl --user -u sundown -e; then {RESTART}",
        )
    if active not in ("active", "activating", "reloading"):
        return Check(
            "service", WARN, f"sundown.service is {active or 'not running'}", "systemctl --user start sundown"
        )
    wanted_by = props.get("WantedBy", "").split()
    if wanted_by == [unit.GRAPHICAL_TARGET] and not ctl.is_active(unit.GRAPHICAL_TARGET):
        return Check(
            "service",
            WARN,
            "enabled for graphical-session.target, which this desktop does not activate: "
            "it will not start at the next login",
            "sundown service install --wanted-by default.target",
        )
    return _check_service_env(env, ctl, int(props.get("MainPID") or 0))


def has_user_manager(env: Mapping[str, str], systemctl: Systemctl | None = None) -> bool:
    """Can `sundown service install` work here: does a systemd --user manager answer?"""
    import subprocess

    from sundown.errors import SundownError
    from sundown.systemd import unit

    try:
        (systemctl or unit.Systemctl(env)).ensure_available()
    except unit.NoUserManager:
        return False
    except (SundownError, OSError, subprocess.SubprocessError):
        return True  # it is there but misbehaves: check_service reports that
    return True


def _process_env(pid: int) -> dict[str, str] | None:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            out[key.decode(errors="replace")] = value.decode(errors="replace")
    return out


def _check_service_env(env: Mapping[str, str], ctl: Systemctl, pid: int) -> Check:
    import subprocess

    from sundown.errors import SundownError

    # The running process's own environment is the truth; the manager's is what a restart gets.
    seen = _process_env(pid) if pid > 0 else None
    whose = f"the running service (pid {pid})"
    if seen is None:
        try:
            seen = ctl.show_environment()
        except (SundownError, OSError, subprocess.SubprocessError) as exc:
            return Check("service", WARN, f"cannot read systemd --user's environment: {exc}")
        whose = "systemd --user"

    def fix(names: Sequence[str]) -> str:
        present = [n for n in names if env.get(n)] or list(names)
        return f"systemctl --user import-environment {' '.join(present)} && {RESTART}"

    bus = seen.get("DBUS_SESSION_BUS_ADDRESS", "")
    runtime = seen.get("XDG_RUNTIME_DIR", "")
    if not bus and not (runtime and Path(runtime, "bus").is_socket()):
        return Check(
            "service", FAIL, f"{whose} has no DBUS_SESSION_BUS_ADDRESS", fix(["DBUS_SESSION_BUS_ADDRESS"])
        )
    ours = env.get("DBUS_SESSION_BUS_ADDRESS", "")
    if bus and ours and bus != ours:
        return Check(
            "service",
            WARN,
            f"{whose} talks to another session bus ({bus}) than this shell ({ours})",
            fix(["DBUS_SESSION_BUS_ADDRESS"]),
        )
    if not seen.get("DISPLAY") and not seen.get("WAYLAND_DISPLAY"):
        return Check(
            "service",
            WARN,
            f"{whose} has neither DISPLAY nor WAYLAND_DISPLAY: `run` commands and a notification "
            "server started on demand cannot reach the screen",
            fix(["DISPLAY", "WAYLAND_DISPLAY"]),
        )
    return Check("service", OK, f"sundown.service is active (pid {pid}) with the session's environment")


def _cli_zone(paths: Paths) -> str | None:
    """The zone this command plans in (None: the config does not load, a check of its own says so)."""
    from sundown.config import load_for
    from sundown.errors import SundownError

    try:
        return load_for(paths).zone.key
    except (SundownError, OSError):
        return None


def check_daemon(
    paths: Paths, env: Mapping[str, str] | None = None, user_manager: bool = True, cli_zone: str | None = None
) -> Check:
    """Is a daemon running, and what does it say about itself (backend, config and log problems)?"""
    from sundown.config import ZONE_FIX, daemon_zone, zone_difference
    from sundown.runtime.control import DaemonSilent, daemon_status, running_pid
    from sundown.systemd.unit import autostart_path, exec_argv

    pid = running_pid(paths)
    if pid is None:
        if user_manager:
            fix = "sundown service install  # runs it now and at every login"
        else:
            command = " ".join(exec_argv())
            fix = (
                f"no systemd --user here: start `{command}` with your desktop session (an autostart"
                f" entry in {autostart_path(env)}, or `{command} &` in ~/.xinitrc)"
            )
        return Check("daemon", WARN, "no sundown daemon is running: no reminder will be sent", fix)
    try:
        info = daemon_status(paths, timeout=2.0)
    except (OSError, DaemonSilent):
        info = None
    who = f"pid {pid}" if pid > 0 else "pid unknown"
    if info is None:
        return Check("daemon", OK, f"running ({who}; it did not answer a status request)")
    differs = zone_difference(daemon_zone(info.context), cli_zone) if cli_zone else None
    if differs:
        return Check("daemon", WARN, f"running ({who}), but {differs}", ZONE_FIX)
    who = f"pid {info.pid or pid}, backend {info.backend}"
    if info.last_backend and info.last_backend != info.backend:
        who += f", last delivered by {info.last_backend}"
    if info.config_error:
        first = info.config_error.splitlines()[0]
        return Check(
            "daemon",
            WARN,
            f"running ({who}) on the previous routine: {first}",
            f"sundown check {paths.config}",
        )
    if info.log_error:
        return Check(
            "daemon",
            WARN,
            f"running ({who}) without its log: {info.log_error}",
            log_fix(paths.database, info.log_error),
        )
    return Check("daemon", OK, f"running ({who})")


# --- push (ntfy) ----------------------------------------------------------------------------------


# --- the person's context (docs/context.md) ------------------------------------------------------

CONTEXT_CAPABILITIES: tuple[tuple[str, Capability, str], ...] = (
    ("dnd", "dnd", "reminders are not deferred during Do Not Disturb"),
    ("presenting", "presenting", "reminders are not deferred during presentations"),
    ("fullscreen", "fullscreen", "reminders are not deferred for fullscreen windows (X11 only)"),
    ("idle", "idle", 'done_when = "idle" never fires; escalation does not know you left'),
    ("locked", "locked", 'done_when = "locked" never fires; a lock step cannot be verified'),
)


def check_context(paths: Paths, env: Mapping[str, str]) -> list[Check]:
    """One line per capability: the source sundown uses for it here, or why there is none."""
    return _context_checks(paths, env)[0]


def _context_checks(paths: Paths, env: Mapping[str, str]) -> tuple[list[Check], str | None]:
    """`check_context`, and the source saying Do Not Disturb is on now (None: off or unknown)."""
    from datetime import datetime, timezone

    from sundown.runtime.sources import ContextWatch
    from sundown.runtime.sources.watch import CAPABILITIES

    try:
        watch = ContextWatch(env, lambda what: None)
    except Exception as exc:  # doctor reports, never raises
        return [
            Check("context", WARN, f"cannot look at the desktop's state: {exc}"),
            _check_zone(paths, []),
        ], None
    try:
        ctx = watch.snapshot(datetime.now(timezone.utc))
        found = {cap: watch.sources(cap) for cap in CAPABILITIES}
        problems = dict(watch.problems)
    finally:
        watch.close()
    missing = [f"no {what}" for what in problems]
    if not env.get("DISPLAY"):
        missing.append("no X display")
    why = ", ".join(missing)
    checks = []
    lock_steps = _lock_steps(paths) if not found["locked"] else []
    for name, cap, without in CONTEXT_CAPABILITIES:
        if found[cap]:
            if cap == "idle":
                value = f"idle {int(ctx.idle_for(datetime.now(timezone.utc)).total_seconds())} s"
            else:
                value = f"now {'on' if getattr(ctx, cap) else 'off'}"
            checks.append(Check(name, OK, f"{found[cap][0]} ({value})"))
        elif cap == "locked" and lock_steps:
            detail = (
                f"no source found{f' ({why})' if why else ''}: the lock step of "
                f"{', '.join(lock_steps)} cannot be verified (a lock that fails is noticed "
                "only when its command fails)"
            )
            checks.append(Check(name, WARN, detail, "a screen locker that sets logind's LockedHint"))
        else:
            detail = f"no source found{f' ({why})' if why else ''}: {without}"
            checks.append(Check(name, OK, detail))
    checks.append(_check_zone(paths, found["zone"]))
    dnd = found["dnd"][0] if found["dnd"] and ctx.dnd else None
    return checks, dnd


def _lock_steps(paths: Paths) -> list[str]:
    """The reminders whose escalation has a step that locks the screen (docs/context.md)."""
    from sundown.config import load_for
    from sundown.core.context import locks_screen
    from sundown.errors import ConfigError

    try:
        routine = load_for(paths).routine
    except ConfigError:
        return []
    return [r.id for r in routine.reminders if any(s.run and locks_screen(s.run) for s in r.escalate)]


def _check_zone(paths: Paths, timedated: list[str]) -> Check:
    from sundown.config import load_for
    from sundown.errors import ConfigError

    try:
        loaded = load_for(paths)
    except ConfigError:
        return Check("zone", OK, "unknown until the config is fixed")
    if loaded.routine.timezone:
        return Check("zone", OK, f"{loaded.zone.key}, from the config (travel does not move it)")
    how = "timedated and /etc/localtime" if timedated else "/etc/localtime (no timedated on the system bus)"
    found = loaded.zone_source
    if found is not None and found.problem:
        return Check("zone", WARN, f"{found.zone.key or 'unnamed'}, the system's: {found.problem}", found.fix)
    said = f" ({found.remark})" if found is not None and found.remark else ""
    return Check("zone", OK, f"{loaded.zone.key}, the system's{said}; a change is followed through {how}")


# --- the wind-down (docs/winddown.md) ------------------------------------------------------------


def check_winddown(paths: Paths, env: Mapping[str, str]) -> list[Check]:
    """One line per effect of [winddown]: the interface it uses here, or why there is none (and
    the fix); and settings of an earlier wind-down that are not put back yet."""
    from sundown.config import load_for
    from sundown.errors import ConfigError
    from sundown.runtime.effects.journal import Journal, JournalError

    checks = []
    try:
        wd = load_for(paths).routine.winddown
    except ConfigError:
        wd = None  # the config check says why
    if wd is not None:
        from sundown.runtime.winddown import survey

        try:
            choices = survey(env, wd)
        except Exception as exc:  # doctor reports, never raises
            return [Check("winddown", WARN, f"cannot look at what this desktop offers: {exc}")]
        for choice in choices:
            name = f"winddown {choice.effect}"
            if choice.interface is not None:
                checks.append(Check(name, OK, choice.label))
            elif choice.broken:
                checks.append(Check(name, WARN, f"failed: {choice.why}"))
            else:
                checks.append(Check(name, WARN, f"unavailable: {choice.why}", choice.fix))
    try:
        journal = Journal.load(paths.winddown_journal)
    except JournalError as exc:
        return [*checks, Check("winddown undo", WARN, str(exc))]
    if journal.entries:
        from sundown.runtime.control import running_pid

        stuck = [e for e in journal.entries if e.error]
        if stuck or running_pid(paths) is None:
            what = "; ".join(
                f"{e.setting}: {e.error or 'not put back yet'}" for e in (stuck or journal.entries)[:3]
            )
            checks.append(
                Check(
                    "winddown undo",
                    WARN,
                    f"{len(stuck or journal.entries)} setting(s) of a wind-down are not put back: {what}",
                    "sundown winddown off  # puts them back now (also tried at every start)",
                )
            )
    return checks


def check_push(paths: Paths, timeout: float = 5.0) -> list[Check]:
    """With [push]: the server answers, the reply topic can be read with the token, the daemon's stream."""
    from sundown.config import load_for
    from sundown.errors import ConfigError

    try:
        push = load_for(paths).routine.push
    except ConfigError:
        return []  # the config check says why
    if push is None:
        return []
    from sundown.config import token_file_problem
    from sundown.push.ntfy import Connection, read_token

    checks = []
    token = None
    if push.token_file is not None:
        problem = token_file_problem(push.token_file)
        if problem:
            checks.append(Check("push token", FAIL, problem, f"chmod 600 {push.token_file}"))
        else:
            token = read_token(push.token_file)
            checks.append(Check("push token", OK, f"{push.token_file} (yours, mode 600)"))
    elif "ntfy.sh" in push.server:
        checks.append(
            Check(
                "push token",
                WARN,
                "no token on a public server: the topic name is the only password",
                "use a long random topic, or a self-hosted ntfy with a token (sundown help push)",
            )
        )
    from sundown.config import topic_warning

    guessable = topic_warning(push)
    if guessable:
        checks.append(Check("push topic name", WARN, guessable, "sundown push init"))
    conn = Connection(push.server, token)
    fix_url = f'check [push] ntfy = "{push.server}/..." and that the server runs'
    try:
        status, data = conn.request("GET", "/v1/health", timeout=timeout)
    except Exception as exc:  # any network failure is a finding, not a crash
        checks.append(Check("push server", FAIL, conn.scrub(f"cannot reach {push.server}: {exc}"), fix_url))
        return checks
    if status == 200 and b"healthy" in data:
        checks.append(Check("push server", OK, f"{push.server} answers and is healthy"))
    elif status in (401, 403, 404):
        checks.append(Check("push server", OK, f"{push.server} answers (no health endpoint: HTTP {status})"))
    else:
        checks.append(Check("push server", WARN, f"{push.server} answers HTTP {status} to a health check"))
    from urllib.parse import quote

    try:
        path = f"/{quote(push.reply_topic)}/json?poll=1&since=latest"
        status, _ = conn.request("GET", path, timeout=timeout)
    except Exception as exc:
        checks.append(Check("push topic", FAIL, conn.scrub(f"cannot read the reply topic: {exc}"), fix_url))
        return checks
    if status == 200:
        how = " with the token" if token else ""
        checks.append(Check("push topic", OK, f"the reply topic can be read{how}"))
    elif status in (401, 403):
        refused = "the token was refused" if token else "the server wants a token"
        checks.append(
            Check(
                "push topic",
                FAIL,
                f"{refused} for the reply topic (HTTP {status})",
                "give token_file a token that may read and write the topic and TOPIC-replies"
                " (sundown help push)",
            )
        )
    else:
        checks.append(Check("push topic", WARN, f"reading the reply topic answers HTTP {status}"))
    checks.append(_daemon_push(paths))
    return checks


def _daemon_push(paths: Paths) -> Check:
    from sundown.runtime.control import DaemonSilent, daemon_status, running_pid

    if running_pid(paths) is None:
        return Check("push daemon", WARN, "no daemon running: nothing is pushed", "sundown service install")
    try:
        info = daemon_status(paths, timeout=2.0)
    except (OSError, DaemonSilent):
        info = None
    push = info.push if info is not None else None
    if not push:
        return Check("push daemon", WARN, "the running daemon does not push (yet)", RESTART)
    if push.get("namesakes"):
        return Check(
            "push daemon",
            WARN,
            f"another machine also calls itself {push['device']!r} (a cloned image keeps the hostname):"
            " their answers are told apart, the log's sources are not",
            'give each machine its own name: [push] device = "..."',
        )
    if not push.get("signed", True):
        return Check(
            "push daemon",
            FAIL,
            "the daemon cannot read the push secret: the phone has no buttons and no answer is believed",
            "sundown push init (or copy push-secret from a machine that has it), then " + RESTART,
        )
    if push.get("error"):
        return Check("push daemon", WARN, f"the daemon's push: {push['error']}")
    if not push.get("connected"):
        return Check("push daemon", WARN, "the daemon's reply stream is not connected (yet)")
    return Check("push daemon", OK, f"pushing as {push['device']}, reply stream connected")


# --- the calendar ([calendar], docs/morning.md) ---------------------------------------------------


CALENDAR_EXTRA = ("icalendar", "recurring_ical_events", "x_wr_timezone")


def check_calendar(paths: Paths) -> list[Check]:
    """With [calendar]: the extra is installed, and the calendar reads (as the daemon read it)."""
    import importlib.util

    from sundown.config import load_for
    from sundown.errors import ConfigError

    try:
        calendar = load_for(paths).routine.calendar
    except ConfigError:
        return []
    if calendar is None:
        return []
    missing = [m for m in CALENDAR_EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        fix = "pip install 'sundown[calendar]' (into the Python that runs sundown)"
        return [Check("calendar", FAIL, f"{', '.join(missing)} not installed: the calendar is not read", fix)]
    from sundown.calendar.source import read_once, shown
    from sundown.runtime.control import request, running_pid

    view: dict[str, object] | None = None
    if running_pid(paths) is not None:
        try:
            view = (request(paths, {"cmd": "status"}, timeout=2.0) or {}).get("calendar")
        except OSError:
            view = None
    who = "the daemon"
    if not view:
        from datetime import datetime, timezone

        view = read_once(
            calendar, paths.calendar_copy, paths.calendar_meta, datetime.now(timezone.utc)
        ).to_json()
        who = "read now"
    where = shown(calendar.ics)
    if view.get("problem"):
        return [
            Check(
                "calendar", WARN, f"{where}: {view['problem']} ({who})", "sundown check shows tonight's plan"
            )
        ]
    if not view.get("read_at"):
        return [Check("calendar", WARN, f"{where}: not read yet ({who})")]
    skipped = f", {view['skipped']} series left out (broken or too slow)" if view.get("skipped") else ""
    return [
        Check("calendar", OK, f"{where}: {view['events']} events read for the coming 3 days ({who}){skipped}")
    ]


# --- a real notification -------------------------------------------------------------------------


TEST_NOTIFICATION_MS = 10_000


def send_test_notification(
    env: Mapping[str, str],
    backend: str,
    on_action: Callable[[str, str], None] | None = None,
    dnd: str | None = None,
) -> tuple[Check, TestNotification | None]:
    """Send one test notification through the backend the daemon would use.

    A notification the server would keep (GNOME Shell ignores its timeout) is returned to be
    closed when its time is up (`TestNotification.close_when_due`), after the report is shown.
    `dnd`: the source saying Do Not Disturb is on, which holds the notification back."""
    from sundown.notify import Message, NotifyError, choose

    chosen = choose(backend, on_action or (lambda _key, _action: None), env)
    message = Message(
        key="doctor/test",
        title="sundown doctor",
        body="Test notification: your evening reminders will look like this.",
        actions=False,  # no buttons: doctor has exited by the time one is pressed
        expire_ms=TEST_NOTIFICATION_MS,  # goes by itself (reminders stay until answered)
    )
    shown: TestNotification | None = None
    try:
        chosen.send(message)
        if chosen.keeps_expired:
            shown = TestNotification(chosen, message.key, time.monotonic() + TEST_NOTIFICATION_MS / 1000)
    except NotifyError as exc:
        return Check("test notification", FAIL, f"{backend}: {exc}", install_hint(env)), None
    finally:
        if shown is None:
            chosen.close()
    used = chosen.delivered_by()
    if backend == "auto" and used != "dbus":
        errors = "; ".join(chosen.last_errors)
        return Check(
            "test notification",
            WARN,
            f"sent through {used}, not as a desktop notification ({errors or 'dbus unavailable'})",
            install_hint(env),
        ), None
    closed = f"; closed after {TEST_NOTIFICATION_MS // 1000} s (the server would keep it)" if shown else ""
    if dnd is not None and used == "dbus":
        return Check(
            "test notification",
            WARN,
            f"sent through {used}, but Do Not Disturb is on ({dnd}): the server holds it back, "
            f"it is not on your screen{closed}",
            "turn Do Not Disturb off and run `sundown doctor --notify` again",
        ), shown
    return Check("test notification", OK, f"sent through {used}: look for it on your screen{closed}"), shown
