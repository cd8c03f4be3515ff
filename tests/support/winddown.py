"""A private desktop for the wind-down's effects: the notification desktop of desktop.py plus
the real parts the effects talk to — dconf-service (GSettings, with the installed schemas), a
PulseAudio with a null sink, an MPRIS player (mpv with mpv-mpris), a stand-in `gammastep` that
records its argv and stays alive, on demand a PipeWire with WirePlumber and a null sink (in a
runtime directory of its own: only a daemon handed `PIPEWIRE_RUNTIME_DIR` finds it) — and bus
names owned on demand (org.gnome.Shell, ...).

`Parts.daemon_env(sandbox)` is the environment a sundown daemon needs to reach all of it;
`sandbox`'s own config directory shares the desktop's dconf database (a symlink), so
`gsettings` from the daemon, from the test and from dconf-service agree.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from jeepney import DBusAddress, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from support.desktop import Desktop, FakeServer, require, wait_until
from support.in_process import in_process_daemon

if TYPE_CHECKING:
    from sundown.runtime.daemon import Daemon
    from support.sandbox import Sandbox

UTC = timezone.utc
DUNST = "org.dunstproject.cmd0"
MPRIS_SCRIPT = ("/usr/lib/mpv-mpris/mpris.so", "/etc/mpv/scripts/mpris.so")
# PipeWire's null sink (as `pw-cli create-node adapter` makes one), in a drop-in of its config.
PIPEWIRE_SINK = """context.objects = [
    { factory = adapter
      args = { factory.name = support.null-audio-sink node.name = "night" media.class = Audio/Sink
               audio.position = [ FL FR ] monitor.channel-volumes = true } }
]
"""
GAMMASTEP = """#!/bin/sh
echo "$$ $*" >> "$GAMMASTEP_RECORD"
exec sleep 3600
"""


@dataclass
class Parts:
    """The extra processes and helpers beside a running `Desktop`."""

    desk: Desktop
    config_home: Path = field(init=False)
    bin: Path = field(init=False)
    record: Path = field(init=False)
    owners: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        root = self.desk.root
        self.config_home = root / "config"
        self.config_home.mkdir(mode=0o700, exist_ok=True)
        self.bin = root / "bin"
        self.bin.mkdir(exist_ok=True)
        self.record = root / "gammastep.argv"
        stand_in = self.bin / "gammastep"
        stand_in.write_text(GAMMASTEP)
        stand_in.chmod(0o755)
        self.desk.env["XDG_CONFIG_HOME"] = str(self.config_home)

    # -- processes -------------------------------------------------------------------------------

    def start_dconf(self) -> None:
        self.desk._spawn("dconf-service", [require("/usr/libexec/dconf-service", "dconf-service")],
                         stdout=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: self.desk.name_owner("ca.desrt.dconf"), 10, "dconf-service on the bus")

    def start_pulseaudio(self) -> None:
        require("pulseaudio", "pulseaudio pulseaudio-utils")
        self.desk._spawn(
            "pulseaudio",
            ["pulseaudio", "--daemonize=no", "-n", "--exit-idle-time=-1", "--disallow-exit",
             "--load=module-null-sink sink_name=night", "--load=module-native-protocol-unix"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: self.pactl("get-default-sink").strip() == "night", 10, "pulseaudio's null sink")

    def start_pipewire(self) -> dict[str, str]:
        """PipeWire with WirePlumber (Debian 12 GNOME's sound server) and a null sink `night` as the
        default output, in a runtime directory of its own (PulseAudio keeps the desktop's), without
        a session bus; the environment in which `wpctl` finds it."""
        require("pipewire", "pipewire")
        require("wireplumber", "wireplumber")
        require("wpctl", "wireplumber")
        root = self.desk.root / "pipewire"
        (root / "run").mkdir(mode=0o700, parents=True)
        (root / "config" / "pipewire" / "pipewire.conf.d").mkdir(parents=True)
        (root / "config" / "pipewire" / "pipewire.conf.d" / "night.conf").write_text(PIPEWIRE_SINK)
        env = {k: v for k, v in self.env.items() if not k.startswith(("DBUS_", "PULSE_"))}
        env.update(XDG_RUNTIME_DIR=str(root / "run"), XDG_CONFIG_HOME=str(root / "config"),
                   XDG_STATE_HOME=str(root / "state"))  # fmt: skip
        for name in ("pipewire", "wireplumber"):
            log = open(root / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
            with log:
                self.desk.procs[name] = subprocess.Popen(
                    [name], env=env, start_new_session=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log
                )
            if name == "pipewire":
                # WirePlumber gives up at once ("Failed to connect to PipeWire") when it comes
                # first: CI's regular-user pass once started it before PipeWire's socket was there.
                wait_until(lambda: _listening(root / "run" / "pipewire-0"), 10, "PipeWire's socket")
        found = {"PIPEWIRE_RUNTIME_DIR": str(root / "run")}
        wait_until(lambda: self.wpctl(found, "inspect", "@DEFAULT_AUDIO_SINK@").startswith("id "), 10,
                   "WirePlumber's default output")  # fmt: skip
        return found

    def wpctl(self, env: dict[str, str], *args: str) -> str:
        env = {**self.env, **env}
        return subprocess.run(["wpctl", *args], env=env, capture_output=True, text=True, timeout=10).stdout

    def start_mpv(self) -> None:
        script = next((p for p in MPRIS_SCRIPT if Path(p).exists()), None)
        if script is None:
            require("/nonexistent/mpris.so", "mpv mpv-mpris")
        self.desk._spawn(
            "mpv",
            ["mpv", "--no-config", "--ao=null", "--vo=null", "--idle=yes", "--loop=inf", f"--script={script}",
             "av://lavfi:sine=frequency=440:duration=3600"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: self.mpris_status() == "Playing", 10, "mpv playing on MPRIS")

    # -- what the effects change -------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        return self.desk.env

    def gsettings(self, *args: str) -> str:
        proc = subprocess.run(["gsettings", *args], env=self.env, capture_output=True, text=True, timeout=10)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def pactl(self, *args: str) -> str:
        proc = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        return proc.stdout

    def volume(self) -> list[int]:
        import re

        return [
            int(v)
            for v in re.findall(
                r"(\d+)\s*/\s*\d+%", self.pactl("get-sink-volume", "night").split("balance")[0]
            )
        ]

    def mpris(self, member: str, *body: Any, signature: str | None = None) -> Any:
        with open_dbus_connection(self.desk.address) as conn:
            address = DBusAddress(
                "/org/mpris/MediaPlayer2", "org.mpris.MediaPlayer2.mpv", "org.mpris.MediaPlayer2.Player"
            )
            reply = conn.send_and_get_reply(
                new_method_call(address, member, signature, body or None), timeout=5
            )
        return reply.body

    def mpris_status(self) -> str | None:
        try:
            with open_dbus_connection(self.desk.address) as conn:
                props = DBusAddress(
                    "/org/mpris/MediaPlayer2", "org.mpris.MediaPlayer2.mpv", "org.freedesktop.DBus.Properties"
                )
                msg = new_method_call(props, "Get", "ss", ("org.mpris.MediaPlayer2.Player", "PlaybackStatus"))
                body = conn.send_and_get_reply(msg, timeout=5).body
        except Exception:
            return None
        return body[0][1] if body and isinstance(body[0], tuple) else None

    def gamma_children(self, count: int | None = None) -> list[tuple[int, str]]:
        """(pid, argv) of each stand-in gammastep started so far that still runs (see
        `stand_in_children` for `count`)."""
        return stand_in_children(self.record, count)

    @contextmanager
    def owning(self, *names: str) -> Iterator[None]:
        """Bus names owned by a connection of the test while the block runs (GNOME Shell, ...)."""
        conn = open_dbus_connection(self.desk.address)
        try:
            for name in names:
                conn.send_and_get_reply(message_bus.RequestName(name), timeout=5)
            yield
        finally:
            conn.close()
            for name in names:
                wait_until(lambda n=name: not self.desk.name_owner(n), 5, f"{name} released")

    def daemon_env(self, sandbox_root: Path, sandbox_env: dict[str, str], **extra: str) -> dict[str, str]:
        """The environment of a sundown daemon on this desktop. The sandbox's config dir gets the
        desktop's dconf database (a link), so every gsettings reads the same settings."""
        link = Path(sandbox_env["XDG_CONFIG_HOME"]) / "dconf"
        if not link.exists():
            link.symlink_to(self.config_home / "dconf", target_is_directory=True)
        (self.config_home / "dconf").mkdir(exist_ok=True)
        return {
            **sandbox_env,
            "DBUS_SESSION_BUS_ADDRESS": self.desk.address,  # no DISPLAY: the effects never need one
            "PATH": f"{self.bin}:{os.environ.get('PATH', os.defpath)}",
            "PULSE_SERVER": f"unix:{self.env['XDG_RUNTIME_DIR']}/pulse/native",
            "GAMMASTEP_RECORD": str(self.record),
            "WAYLAND_DISPLAY": "wayland-sundown-test",  # a wlroots session: night light is a gammastep child
            **extra,
        }


HYPRCTL = r"""#!/bin/sh
# A stand-in hyprctl: Hyprland's decoration:screen_shader kept in $HYPRCTL_STATE between calls
# (what `keyword` sets, `getoption` shows, as Hyprland prints it); each call's argv appended to
# $HYPRCTL_STATE.calls. Like the real one it needs HYPRLAND_INSTANCE_SIGNATURE, exits 0 with
# Hyprland's answer, takes -j anywhere, and shows an unset string option as [[EMPTY]].
echo "$*" >> "$HYPRCTL_STATE.calls"
if [ -z "$HYPRLAND_INSTANCE_SIGNATURE" ]; then
    echo "HYPRLAND_INSTANCE_SIGNATURE not set! (is hyprland running?)"
    exit 1
fi
json=
for a do
    shift
    if [ "$a" = -j ]; then json=1; else set -- "$@" "$a"; fi
done
case "$1 $2" in
"getoption decoration:screen_shader")
    value=$(cat "$HYPRCTL_STATE" 2>/dev/null || printf '[[EMPTY]]')
    set=true
    [ "$value" = "[[EMPTY]]" ] && set=false
    if [ -n "$json" ]; then
        quoted=$(printf '%s' "$value" | sed 's/\\/\\\\/g; s/"/\\"/g')
        printf '{"option": "decoration:screen_shader", "str": "%s", "set": %s }\n' "$quoted" "$set"
    else
        printf 'str: %s\nset: %s\n' "$value" "$set"
    fi ;;
"keyword decoration:screen_shader")
    printf '%s' "$3" > "$HYPRCTL_STATE.new" && mv "$HYPRCTL_STATE.new" "$HYPRCTL_STATE"
    echo ok ;;
"getoption "*) echo "no such option" ;;
*) echo "unknown request" ;;
esac
"""


class Hyprctl:
    """The stand-in `hyprctl` in `root/hyprbin`: `shader` is Hyprland's screen shader now (set
    it to play the person changing it), `calls` what it was asked, `env()` what a process needs
    to find it (and a Hyprland session's variable)."""

    def __init__(self, root: Path) -> None:
        self.bin = root / "hyprbin"
        self.bin.mkdir(exist_ok=True)
        exe = self.bin / "hyprctl"
        exe.write_text(HYPRCTL)
        exe.chmod(0o755)
        self.state = root / "hyprland-screen-shader"

    @property
    def shader(self) -> str:
        return self.state.read_text() if self.state.exists() else "[[EMPTY]]"

    @shader.setter
    def shader(self, value: str) -> None:
        self.state.write_text(value)

    @property
    def calls(self) -> list[str]:
        path = self.state.with_name(self.state.name + ".calls")
        return path.read_text().splitlines() if path.exists() else []

    def env(self, base_path: str | None = None) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:{base_path or os.environ.get('PATH', os.defpath)}",
            "HYPRCTL_STATE": str(self.state),
            "HYPRLAND_INSTANCE_SIGNATURE": "sundown-test_1700000000_1234567890",
        }


# Stand-ins for what Debian 12 does not package (mako, wlsunset) or packages too old (dunst 1.9):
# each records its calls; each sets its own PATH, so a daemon can be given only their directory.
MAKOCTL = r"""#!/bin/sh
# A stand-in makoctl: mako's set of modes kept in $STAND_INS/mako.modes (one a line, `default`
# at first) between calls, as `makoctl mode [-a|-r MODE]` changes and prints it; each call's
# argv appended to $STAND_INS/makoctl.calls.
PATH=/usr/bin:/bin
echo "$*" >> "$STAND_INS/makoctl.calls"
modes="$STAND_INS/mako.modes"
[ -f "$modes" ] || echo default > "$modes"
case "$1 $2" in
"mode ") ;;
"mode -a") grep -qx "$3" "$modes" || echo "$3" >> "$modes" ;;
"mode -r") grep -vx "$3" "$modes" > "$modes.new"; mv "$modes.new" "$modes" ;;
*) echo "makoctl: unknown command: $*" >&2; exit 1 ;;
esac
cat "$modes"
"""
WLSUNSET = """#!/bin/sh
# A stand-in wlsunset: its pid and argv appended to $STAND_INS/wlsunset.argv; it stays alive
# (the gamma of a wlroots compositor goes back when it exits).
echo "$$ $*" >> "$STAND_INS/wlsunset.argv"
exec /bin/sleep 3600
"""
# pactl that answers the probe's `get-default-sink`, then is gone: uninstalled between the
# wind-down's choice of it and its use.
PACTL_GONE = """#!/bin/sh
echo "$*" >> "$STAND_INS/pactl.calls"
/bin/rm -f "$0"
echo night
"""


class StandIns:
    """A directory of stand-ins (`MAKOCTL`, `WLSUNSET`, and `pactl_gone()`) in `root`; `env()`
    puts only that directory on PATH (no gammastep, no real pactl) in a Wayland session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        for name, text in (("makoctl", MAKOCTL), ("wlsunset", WLSUNSET)):
            (self.bin / name).write_text(text)
            (self.bin / name).chmod(0o755)

    def reset(self) -> None:
        for child in self.children():
            os.kill(child[0], 9)
        for name in ("mako.modes", "makoctl.calls", "wlsunset.argv", "pactl.calls"):
            (self.root / name).unlink(missing_ok=True)
        (self.bin / "pactl").unlink(missing_ok=True)

    def pactl_gone(self) -> None:
        (self.bin / "pactl").write_text(PACTL_GONE)
        (self.bin / "pactl").chmod(0o755)

    def env(self) -> dict[str, str]:
        return {"PATH": str(self.bin), "STAND_INS": str(self.root), "WAYLAND_DISPLAY": "wayland-sundown-test"}

    def lines(self, name: str) -> list[str]:
        path = self.root / name
        return path.read_text().splitlines() if path.exists() else []

    def children(self, count: int | None = None) -> list[tuple[int, str]]:
        """(pid, argv) of each stand-in wlsunset started so far that still runs (see
        `stand_in_children` for `count`)."""
        return stand_in_children(self.root / "wlsunset.argv", count)


def stand_in_children(record: Path, count: int | None = None, timeout: float = 5) -> list[tuple[int, str]]:
    """(pid, argv) of each stand-in child (a `PID ARGV` line in `record`, then `exec sleep`) that
    still runs; with `count` (1 or more), once that many run: a child the daemon has just spawned
    may not have written its line, or become `sleep`, yet (seen under load)."""

    def running() -> list[tuple[int, str]]:
        found = []
        for line in record.read_text().splitlines() if record.exists() else []:
            pid, _, argv = line.partition(" ")
            try:
                alive = b"sleep" in Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                alive = False
            if alive:
                found.append((int(pid), argv))
        return found

    if count is None:
        return running()
    return wait_until(
        lambda: found if len(found := running()) == count else None, timeout, f"{count} child(ren)"
    )


class Dunst110(FakeServer):
    """dunst 1.10 as the wind-down sees it (Debian 12 has 1.9): its version, and on
    org.dunstproject.cmd0 `pauseLevel` (0: nothing held) and `paused`, true while the level is
    above 0."""

    def __init__(self, address: str) -> None:
        super().__init__(
            address,
            info=("dunst", "https://dunst-project.org", "1.10.0 (2024-02-19)", "1.2"),
            properties={(DUNST, "pauseLevel"): ("u", 0), (DUNST, "paused"): ("b", False)},
        )

    def set_property(self, interface: str, name: str, value: tuple[str, Any]) -> None:
        super().set_property(interface, name, value)
        if (interface, name) == (DUNST, "pauseLevel"):
            super().set_property(DUNST, "paused", ("b", int(value[1]) > 0))

    @property
    def level(self) -> int:
        return int(self.properties[(DUNST, "pauseLevel")][1])


class OffsetClock:
    """The daemon's clock: the system clock moved by `offset` (its scheduler still waits in real
    time: the daemon translates), so a window at 07:00 on some night comes in a few seconds."""

    def __init__(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def jump(self, delta: timedelta) -> None:
        self.offset += delta


# A wind-down of 5 s that opens here and ends at 07:00, with tea due inside it (3 s before 07:00).
SHORT_WINDOW = datetime(2026, 11, 26, 6, 59, 55, tzinfo=ZoneInfo("Europe/Berlin"))


def short_window(
    sandbox: Sandbox, env: Mapping[str, str], effects: str, lead: float, tea: int = 3
) -> tuple[Daemon, OffsetClock]:
    """A daemon in this process on the D-Bus backend (its locks taken, not started yet), its
    clock `lead` s before SHORT_WINDOW, whose wind-down applies `effects` (`[winddown]` lines);
    tea is due `tea` s before 07:00."""
    sandbox.write_config(
        f'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "07:00"\n[reminders.tea]\nbefore = "{tea}s"\n'
        f'[winddown]\nbefore = "5s"\nuntil = "07:00"\n{effects}'
    )
    clock = OffsetClock(SHORT_WINDOW - timedelta(seconds=lead))
    return in_process_daemon(clock, env=env, backend="dbus", locked=True), clock


def winddown_rows(db: Path) -> list[dict[str, Any]]:
    """The `winddown` rows of the log (ts, source, details), read in this process."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error:
        return []
    try:
        rows = conn.execute(
            "SELECT ts, source, details FROM events WHERE event = 'winddown' ORDER BY id"
        ).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return [
        {"ts": datetime.fromisoformat(ts.replace("Z", "+00:00")), "source": src, **json.loads(d)}
        for ts, src, d in rows
    ]


def wait_row(db: Path, phase: str, count: int = 1, timeout: float = 10) -> dict[str, Any]:
    """The `count`-th `winddown` row of `phase` written by the daemon, once it is in the log."""

    def found() -> dict[str, Any] | None:
        rows = [r for r in winddown_rows(db) if r.get("phase") == phase and r["source"] == "daemon"]
        return rows[count - 1] if len(rows) >= count else None

    return wait_until(found, timeout, f"winddown {phase} row #{count}")


def _listening(path: Path) -> bool:
    """A Unix socket someone accepts connections on."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
