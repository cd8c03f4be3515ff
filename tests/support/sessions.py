"""Real desktops for end-to-end tests: GNOME Shell 43 and KDE Plasma 5.27 under Xvfb.

Each runs as it would at a login, but on private buses: a session bus that may start only the
services the desktop needs (dconf, GNOME's notification helper, kded5, ...), an empty system bus
(GNOME Shell aborts in its logind code without one) and Xvfb at 1280x800, where the positions
below were measured. They are slow to start (GNOME Shell ~2 s, Plasma ~4 s on 2 cores), so
conftest.py starts each once per test module (`gnome_shell`, `plasma`); between tests every
notification is closed and what the monitor saw is forgotten.

What was measured on them, and what sundown does about it, is in docs/notify.md.
With SUNDOWN_REQUIRE_E2E=1 (CI) a missing binary fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar, cast

from jeepney import DBusAddress, MessageType, new_method_call
from jeepney.io.blocking import DBusConnection
from jeepney.io.blocking import open_dbus_connection as open_blocking

from support.desktop import NOTIFICATIONS, NOTIFICATIONS_PATH, Desktop, Monitor, require, wait_until

SESSION_SCREEN = (1280, 800)
NOTIFY = DBusAddress(NOTIFICATIONS_PATH, bus_name=NOTIFICATIONS, interface=NOTIFICATIONS)
ACTIVATABLE = Path("/usr/share/dbus-1/services")
S = TypeVar("S", bound="Session")


@dataclass
class Session(Desktop):
    """A real desktop shell on its own buses and X display; `start()`, then `close()`."""

    name: ClassVar[str]
    packages: ClassVar[str]  # what `apt-get install --no-install-recommends` needs for it
    programs: ClassVar[tuple[str, ...]]
    services: ClassVar[tuple[str, ...]]  # the D-Bus services it may start on demand
    variables: ClassVar[dict[str, str]]  # what its login would set (XDG_CURRENT_DESKTOP, ...)
    started_in: float = 0.0  # seconds from nothing to its notification server answering
    system_address: str = field(default="", init=False)

    @property
    def session_vars(self) -> dict[str, str]:
        """What a sundown process needs to reach this desktop (the system bus is the empty one)."""
        return {
            "DBUS_SESSION_BUS_ADDRESS": self.address,
            "DISPLAY": self.env["DISPLAY"],
            "SUNDOWN_SYSTEM_BUS": self.system_address,
        }

    def start(self) -> None:
        for program in self.programs:
            require(program, self.packages)
        began = time.monotonic()
        home = self.root / "home"
        services = self.root / "services"
        for directory in (home, services):
            directory.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            (services / f"{service}.service").symlink_to(ACTIVATABLE / f"{service}.service")
        self.env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local/share"),
            XDG_STATE_HOME=str(home / ".local/state"),
            XDG_CACHE_HOME=str(home / ".cache"),
            NO_AT_BRIDGE="1",
            XDG_SESSION_TYPE="x11",
            **self.variables,
        )
        self.start_x()
        self.system_address = self._bus("system-bus", self.root / "run" / "system.bus", kind="system")
        self.env["DBUS_SYSTEM_BUS_ADDRESS"] = self.system_address
        address = self._bus("dbus-daemon", self.bus_socket, services=services)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address
        self._start_shell()
        wait_until(lambda: self.name_owner(NOTIFICATIONS), 60, f"{self.name} to own {NOTIFICATIONS}")
        self.started_in = time.monotonic() - began
        self.monitor = Monitor(address)
        self.monitor.only_to = NOTIFICATIONS
        self._settle()

    def _start_shell(self) -> None:
        raise NotImplementedError

    def _settle(self) -> None:
        """Bring the fresh desktop to the state the tests expect (no overview, no dialog)."""

    # -- between tests ------------------------------------------------------------------------

    def fresh(self) -> None:
        """Close every notification shown so far and forget what the monitor saw."""
        with self.connection() as conn:
            for nid in self.shown_ids():
                conn.send_and_get_reply(new_method_call(NOTIFY, "CloseNotification", "u", (nid,)), timeout=5)
        self.monitor.forget()
        self._cleared()

    def _cleared(self) -> None:
        """Wait until no notification is drawn any more."""

    def shown_ids(self) -> list[int]:
        """The ids the server gave to every Notify the monitor saw."""
        calls = {o.serial: o.sender for o in self.monitor.calls("Notify")}
        return sorted(
            {
                int(o.args[0])
                for o in self.monitor.snapshot()
                if o.kind == "return" and o.reply_serial in calls and o.destination == calls[o.reply_serial]
            }
        )

    # -- the person ---------------------------------------------------------------------------

    def xdotool(self, *args: str, gone: bool = False) -> str:
        """xdotool's output; an empty one where `search` found nothing (its exit status 1), or
        where `gone` allows that the window asked about is gone (BadWindow)."""
        require("xdotool", "xdotool")
        for _ in range(5):  # a search that met a window closing under it (BadWindow) is asked again
            done = subprocess.run(
                ["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=10
            )
            if args[0] != "search" or "BadWindow" not in done.stderr:
                break
        nothing = args[0] == "search" and done.returncode == 1 and not done.stderr
        if done.returncode and not nothing and not (gone and "BadWindow" in done.stderr):
            raise AssertionError(f"xdotool {' '.join(args)} -> {done.returncode}: {done.stderr}")
        return done.stdout

    def point(self, x: int, y: int, click: bool = False) -> None:
        self.xdotool("mousemove", str(x), str(y), *(["click", "1"] if click else []))

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """The colour Xvfb shows at (x, y) now (its -fbdir framebuffer, 32-bit TrueColor)."""
        xwd = (self.root / "Xvfb_screen0").read_bytes()
        fields = struct.unpack(">25I", xwd[:100])
        header, bytes_per_line, ncolors = fields[0], fields[12], fields[19]
        order = "<" if fields[7] == 0 else ">"
        (value,) = struct.unpack_from(f"{order}I", xwd, header + 12 * ncolors + y * bytes_per_line + 4 * x)
        return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF

    @contextmanager
    def connection(self) -> Iterator[DBusConnection]:
        """A connection of the test's own to the session bus (closed on the way out)."""
        conn = open_blocking(self.address)
        try:
            yield conn
        finally:
            conn.close()


@dataclass
class GnomeShell(Session):
    """GNOME Shell 43 (`gnome-shell --x11`); its notifications are served by a gjs helper.

    Banners are drawn by the compositor, not as X windows: they are found by colour at the top of
    the screen. Measured at 1280x800 for a one-line body: hovering at (640, 70) for ~1.2 s expands
    a banner, then Done is at (510, 133), Snooze at (760, 133), its × at (866, 59) and the body at
    (600, 85). A normal banner stays until there is input, and later ones wait behind it; a
    critical one expands by itself and never hides.
    """

    name: ClassVar[str] = "GNOME Shell"
    packages: ClassVar[str] = (
        "gnome-shell gjs gnome-settings-daemon mutter gsettings-desktop-schemas xvfb xdotool"
    )
    programs: ClassVar[tuple[str, ...]] = ("gnome-shell", "gjs", "gsettings", "Xvfb", "xdotool")
    # gnome-shell starts the helper that owns org.freedesktop.Notifications on demand, and dconf.
    services: ClassVar[tuple[str, ...]] = (
        "ca.desrt.dconf",
        "org.gnome.Shell.Notifications",
        "org.gnome.Shell.CalendarServer",
        "org.gnome.ScreenSaver",
    )
    variables: ClassVar[dict[str, str]] = {"XDG_CURRENT_DESKTOP": "GNOME"}
    POSITIONS: ClassVar[dict[str, tuple[int, int]]] = {
        "hover": (640, 70),
        "Done": (510, 133),
        "Snooze": (760, 133),
        "close": (866, 59),
        "body": (600, 85),
    }
    BANNER: ClassVar[tuple[int, int]] = (640, 45)  # inside any banner, outside the top bar
    REST: ClassVar[tuple[int, int]] = (640, 400)  # where the pointer waits: outside every banner
    SHELL: ClassVar[DBusAddress] = DBusAddress(
        "/org/gnome/Shell", bus_name="org.gnome.Shell", interface="org.gnome.Shell"
    )

    def __post_init__(self) -> None:
        self.screen = SESSION_SCREEN

    def _start_shell(self) -> None:
        # Its own first-login banner ("Screen Lock disabled": no GDM here) is shown once per user,
        # and to a user other than root its welcome tour, a dialog over everything.
        shown = Path(self.env["XDG_DATA_HOME"]) / "gnome-shell" / "lock-warning-shown"
        shown.parent.mkdir(parents=True, exist_ok=True)
        shown.touch()
        self.gsettings("set", "org.gnome.shell", "welcome-dialog-last-shown-version", "99")
        display = self.env["DISPLAY"]
        self._spawn("gnome-shell", ["gnome-shell", "--x11", "--replace", "--sm-disable", "-d", display])

    def _settle(self) -> None:
        # GNOME 43 ends its start-up animation in the overview: leave it for the desktop, where
        # the positions were measured.
        wait_until(self.overview, 20, "GNOME Shell to show its overview")
        deadline = time.monotonic() + 20
        while self.overview() and time.monotonic() < deadline:
            self.xdotool("key", "Escape")  # ignored while the animation still runs: again then
            time.sleep(0.5)
        assert not self.overview(), "GNOME Shell stayed in its overview"
        if os.getuid() == 0:
            # As root (CI) it warns "Logged in as a privileged user" in a banner of its own: close it.
            wait_until(self.banner, 10, "GNOME Shell's banner for root")
            self.point(*self.POSITIONS["close"], click=True)
            wait_until(lambda: not self.banner(), 10, "GNOME Shell's banner for root to go")
        self.point(*self.REST)

    def overview(self) -> bool | None:
        with self.connection() as conn:
            get = new_method_call(
                DBusAddress("/org/gnome/Shell", "org.gnome.Shell", "org.freedesktop.DBus.Properties"),
                "Get",
                "ss",
                ("org.gnome.Shell", "OverviewActive"),
            )
            reply = conn.send_and_get_reply(get, timeout=5)
        if reply.header.message_type is not MessageType.method_return:
            return None
        return bool(reply.body[0][1])

    def banner(self, at: tuple[int, int] | None = None) -> bool:
        """A banner is drawn at the top of the screen (or covers `at`): grey there, not the blue
        background."""
        red, green, blue = self.pixel(*(at or self.BANNER))
        return abs(red - blue) < 16 and abs(green - blue) < 16 and blue > 24

    def press(self, target: str, timeout: float = 10) -> None:
        """Press "Done", "Snooze", "close" or "body" of the banner on screen, as a person would:
        point at it until it has expanded (its buttons show), then click."""
        wait_until(self.banner, timeout, "a GNOME Shell banner")
        self.point(*self.REST)  # from outside: a banner that appears under the pointer is not entered
        time.sleep(0.1)
        self.point(*self.POSITIONS["hover"])
        # GNOME expands a banner after the pointer rests on it for ~1.2 s: its buttons then
        # cover the row below it.
        wait_until(lambda: self.banner(at=self.POSITIONS["Done"]), timeout, "the banner to expand")
        time.sleep(0.3)  # the expansion is animated
        self.point(*self.POSITIONS[target], click=True)

    def show_banners(self, on: bool) -> None:
        """GNOME's Do Not Disturb is `show-banners` false (what the top bar's switch sets)."""
        value = "true" if on else "false"
        self.gsettings("set", "org.gnome.desktop.notifications", "show-banners", value)
        banners = ("get", "org.gnome.desktop.notifications", "show-banners")
        wait_until(lambda: self.gsettings(*banners) == value, 5, f"show-banners {value}")

    def gsettings(self, *args: str) -> str:
        """`gsettings ARGS` in this desktop (dconf-service writes what `set` asks, on the bus)."""
        done = subprocess.run(
            ["gsettings", *args], env=self.env, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    def share_settings(self, config_home: Path) -> None:
        """Let a sandbox's processes read this desktop's settings (`gsettings get` reads dconf's
        file under $XDG_CONFIG_HOME; the desktop writes it through dconf-service on the bus)."""
        mine = Path(self.env["XDG_CONFIG_HOME"]) / "dconf"
        mine.mkdir(parents=True, exist_ok=True)
        (config_home / "dconf").symlink_to(mine)

    def _cleared(self) -> None:
        self.show_banners(True)
        self.point(*self.REST)  # a banner under the pointer is held on screen
        wait_until(lambda: not self.banner(), 10, "no GNOME Shell banner")


@dataclass
class Plasma(Session):
    """KDE Plasma 5.27: plasmashell (its notifications applet owns the name) under kwin_x11.

    Popups are X windows of plasmashell, stacked up from the bottom-right corner (the newest at
    the bottom). Measured at 1280x800 from a popup window's top left corner, for a one-line body
    (a longer one moves the buttons down): Done at (237, 83), Snooze at (297, 83), its × at
    (320, 14), the body at (92, 56).
    """

    name: ClassVar[str] = "KDE Plasma"
    packages: ClassVar[str] = "plasma-workspace plasma-desktop kwin-x11 xvfb xdotool"
    programs: ClassVar[tuple[str, ...]] = ("plasmashell", "kwin_x11", "Xvfb", "xdotool")
    services: ClassVar[tuple[str, ...]] = ("org.kde.kded5", "org.kde.ActivityManager", "org.kde.kglobalaccel")
    variables: ClassVar[dict[str, str]] = {
        "XDG_CURRENT_DESKTOP": "KDE",
        "XDG_SESSION_DESKTOP": "KDE",
        "KDE_FULL_SESSION": "true",
        "KDE_SESSION_VERSION": "5",
        "QT_QPA_PLATFORM": "xcb",
        "QT_QUICK_BACKEND": "software",  # no GPU under Xvfb
        "KWIN_COMPOSE": "N",
    }
    POSITIONS: ClassVar[dict[str, tuple[int, int]]] = {
        "Done": (237, 83),
        "Snooze": (297, 83),
        "close": (320, 14),
        "body": (92, 56),
    }

    def __post_init__(self) -> None:
        self.screen = SESSION_SCREEN

    def _start_shell(self) -> None:
        self._spawn("kwin_x11", ["kwin_x11", "--replace"], stdout=subprocess.DEVNULL)
        wait_until(lambda: self.name_owner("org.kde.KWin"), 30, "kwin_x11 to own org.kde.KWin")
        self._spawn("plasmashell", ["plasmashell", "--no-respawn"], stdout=subprocess.DEVNULL)

    def popups(self) -> list[tuple[int, int, int, int]]:
        """plasmashell's notification popups on screen as (x, y, width, height), top to bottom
        (not its desktop, nor its panel)."""
        found = []
        for wid in self.xdotool("search", "--onlyvisible", "--class", "plasmashell").split():
            shell = self.xdotool("getwindowgeometry", "--shell", wid, gone=True)
            geometry = dict(line.split("=", 1) for line in shell.split())
            if not geometry:
                continue  # closed since the search
            x, y, w, h = (int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
            if w < self.screen[0] and y + h < self.screen[1] - 40:  # the panel is 44 px at the bottom
                found.append((x, y, w, h))
        return sorted(found, key=lambda g: g[1])

    def press(self, target: str, timeout: float = 10) -> None:
        """Press "Done", "Snooze", "close" or "body" of the lowest (newest) popup."""
        wait_until(self.popups, timeout, "a Plasma notification popup")
        time.sleep(0.3)  # mapped is not drawn: Plasma fades popups in
        x, y, _, _ = wait_until(self.settled, timeout, "the popups to stop moving")[-1]
        dx, dy = self.POSITIONS[target]
        self.point(x + dx, y + dy, click=True)

    def settled(self, still: float = 0.1) -> list[tuple[int, int, int, int]] | None:
        """The popups, once they are where they were `still` seconds before (a new one pushes the rest
        up; a new one is laid out more than once)."""
        before = self.popups()
        time.sleep(still)
        after = self.popups()
        return after if after and after == before else None

    @contextmanager
    def do_not_disturb(self) -> Iterator[None]:
        """Do Not Disturb as an app turns it on: `Inhibit`, which Plasma holds only while the
        caller's connection lives (a `gdbus call` is released at once); closing it ends DND."""
        with self.connection() as conn:
            inhibit = new_method_call(NOTIFY, "Inhibit", "ssa{sv}", ("org.kde.konsole", "sundown test", {}))
            reply = conn.send_and_get_reply(inhibit, timeout=5)
            assert reply.header.message_type is MessageType.method_return, reply.body
            wait_until(lambda: self.inhibited() is True, 5, "Plasma's Inhibited to be true")
            yield
        wait_until(lambda: self.inhibited() is False, 5, "Plasma's Inhibited to be false again")

    def inhibited(self) -> bool | None:
        with self.connection() as conn:
            get = new_method_call(
                DBusAddress(NOTIFICATIONS_PATH, NOTIFICATIONS, "org.freedesktop.DBus.Properties"),
                "Get",
                "ss",
                (NOTIFICATIONS, "Inhibited"),
            )
            reply = conn.send_and_get_reply(get, timeout=5)
        return bool(reply.body[0][1]) if reply.header.message_type is MessageType.method_return else None

    def _cleared(self) -> None:
        wait_until(lambda: not self.popups(), 10, "no Plasma popup")


def _strays(address: str) -> list[int]:
    """Processes of ours still on the session bus at `address` that left its process groups
    (Plasma's kioslave5 starts in a session of its own): found by their environment."""
    needle = f"DBUS_SESSION_BUS_ADDRESS={address}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except OSError:
            continue  # gone, or another user's
    return found


@contextmanager
def running_session(kind: type[S], root: Path) -> Iterator[S]:
    """A started desktop of `kind` in `root`; every process killed on the way out."""
    runtime = root / "run"
    runtime.mkdir(mode=0o700, parents=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "XDG_", "DISPLAY", "WAYLAND_"))}
    session = kind(root, env={**base, "XDG_RUNTIME_DIR": str(runtime)})
    try:
        session.start()
        yield session
    finally:
        address = session.env.get("DBUS_SESSION_BUS_ADDRESS")
        session.close()
        for pid in _strays(address) if address else ():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class ModuleSessions:
    """The real desktops of one test module: each started when a test first asks for it (in a
    directory `mktemp` makes) and kept for the module's other tests, as they are slow to start."""

    def __init__(self, mktemp: Callable[[str], Path]) -> None:
        self._mktemp = mktemp
        self._stack = ExitStack()
        self._started: dict[type[Session], Session] = {}

    def fresh(self, kind: type[S]) -> S:
        """The module's desktop of `kind`, started if need be, with no notification on screen
        and the monitor emptied (`Session.fresh`)."""
        if kind not in self._started:
            root = self._mktemp(kind.__name__.lower())
            self._started[kind] = self._stack.enter_context(running_session(kind, root))
        session = cast(S, self._started[kind])
        session.fresh()
        return session

    def close(self) -> None:
        """Every desktop started, stopped, the last first."""
        self._stack.close()
