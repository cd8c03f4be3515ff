"""A private desktop for notification tests: dbus-daemon, Xvfb, dunst, a bus monitor, fake servers.

The fixtures built on these live in conftest.py:
- `desktop`: a private session bus + Xvfb + dunst. `desktop.env` has DBUS_SESSION_BUS_ADDRESS,
  DISPLAY and XDG_RUNTIME_DIR; `desktop.monitor` records every org.freedesktop.Notifications
  call and signal on the bus with its exact arguments and arrival time.
- `bare_bus`: the same bus and monitor with no notification server at all.
- `fake_server`: a factory for a jeepney notification server on `bare_bus`, for what dunst
  cannot do (no "actions" capability, error replies, slow replies, arbitrary signals).
- `real_server`: the same desktop with another real notification server from Debian
  (xfce4-notifyd, lxqt-notificationd, notification-daemon, mate-notification-daemon; the
  test parametrizes it indirectly), and `desktop.click(target)` to press one of its buttons,
  its × or its body with xdotool.

Nothing here touches the real session: the bus has no service directories, so nothing is
activated behind the test's back. Every process runs in its own process group and is killed
with it. With SUNDOWN_REQUIRE_E2E=1 (CI) a missing binary fails the test instead of skipping it.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_call, new_method_return
from jeepney import Message as DBusMessage
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection as open_blocking
from jeepney.io.threading import DBusConnection, ReceiveStopped, open_dbus_connection
from jeepney.wrappers import new_signal

from sundown.notify.bus import close_connection

NOTIFICATIONS = "org.freedesktop.Notifications"
SCREEN = (800, 600)
NOTIFICATIONS_PATH = "/org/freedesktop/Notifications"

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{kind}</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>{services}
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""

# dmenu stand-in for dunst's context menu: picks the entry that mentions Snooze.
PICK_SNOOZE = """#!/bin/sh
grep -i -m1 snooze
"""

DUNSTRC = """[global]
    font = Monospace 8
    markup = full
    format = "%s\\n%b"
    idle_threshold = 0
    show_indicators = no
    history_length = 50
    dmenu = {dmenu}
    browser = /bin/true
[urgency_low]
    timeout = 0
[urgency_normal]
    timeout = 0
[urgency_critical]
    timeout = 0
"""


# Real notification servers other than dunst: Debian package, the program (a glob: some live in
# an architecture directory), and where the parts of a notification are drawn in its window
# for the reminder `click` is used with, measured on Debian 12 under Xvfb at 800x600: (dx, dy)
# from the window's top left corner, a negative dx from its right edge, a negative dy from its bottom.
SERVERS: dict[str, tuple[str, str, dict[str, tuple[int, int]]]] = {
    "xfce4-notifyd": (
        "xfce4-notifyd",
        "/usr/lib/*/xfce4/notifyd/xfce4-notifyd",
        {"Done": (56, 72), "Snooze": (-57, 72), "body": (71, 24)},  # no × (a click on the body closes)
    ),
    "lxqt-notificationd": (
        "lxqt-notificationd",
        "/usr/bin/lxqt-notificationd",
        {"Done": (90, -39), "Snooze": (196, -39), "close": (-24, 30), "body": (106, 52)},
    ),
    "notification-daemon": (
        "notification-daemon",
        "/usr/lib/notification-daemon/notification-daemon",
        {"Done": (-148, 87), "Snooze": (-87, 87), "close": (-24, 29), "body": (106, 54)},
    ),
    "mate-notification-daemon": (
        "mate-notification-daemon",
        "/usr/lib/mate-notification-daemon/mate-notification-daemon",
        {"Done": (-132, 90), "Snooze": (-71, 90), "close": (-32, 27), "body": (110, 58)},
    ),
}


# The Debian package of each program a test starts: a skip names the one to install.
PACKAGES = {
    "dbus-daemon": "dbus",
    "Xvfb": "xvfb",
    "dunst": "dunst",
    "dunstctl": "dunst",
    "notify-send": "libnotify-bin",
    "xdotool": "xdotool",
    "wmctrl": "wmctrl",
    "openbox": "openbox",
    "xmessage": "x11-utils",
    "xprop": "x11-utils",
    "xwininfo": "x11-utils",
    "chromium": "chromium",
    "systemd-analyze": "systemd",
}


def require(binary: str, package: str | None = None) -> str:
    """The path of `binary`; skip the test without it (fail under SUNDOWN_REQUIRE_E2E=1), naming
    the package that has it."""
    found = sorted(glob.glob(binary)) if binary.startswith("/") else []
    path = found[0] if found else shutil.which(binary)
    if path is None:
        package = package or PACKAGES.get(os.path.basename(binary))
        how = f"apt-get install {package}" if package else "install the package that has it"
        message = f"{binary} is not installed ({how})"
        if os.environ.get("SUNDOWN_REQUIRE_E2E") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def wait_until(
    predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition", interval: float = 0.02
) -> Any:
    """Poll `predicate` until it returns something truthy (tests only; the daemon never polls).

    `interval`: longer for a predicate that starts processes (xdotool, systemctl) through a wait
    of seconds, which at 50 polls a second would keep a core busy."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class Actions:
    """Collects on_action calls; they come from the backend's receiver thread."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, key: str, action: str) -> None:
        with self._lock:
            self.got.append((key, action))

    def wait(self, count: int, timeout: float = 5.0) -> list[tuple[str, str]]:
        wait_until(lambda: len(self.got) >= count, timeout, f"{count} action(s), got {self.got}")
        return list(self.got)


def _kill_group(proc: subprocess.Popen[Any], grace: float = 2.0) -> None:
    if proc.stdout is not None:
        proc.stdout.close()
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class Observed:
    """One message on the bus seen by the monitor."""

    kind: str  # "call" | "signal" | "return" | "error"
    member: str | None
    args: tuple[Any, ...]
    sender: str | None
    destination: str | None
    at: float  # time.monotonic() when the monitor read it
    serial: int = 0
    reply_serial: int | None = None


@dataclass
class NotifyCall:
    """The arguments of one org.freedesktop.Notifications.Notify call, decoded."""

    app_name: str
    replaces_id: int
    icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]  # variant values unwrapped: {"urgency": 1, "desktop-entry": "sundown"}
    expire_timeout: int
    sender: str | None
    at: float
    serial: int

    @property
    def urgency(self) -> int | None:
        return self.hints.get("urgency")

    @property
    def action_pairs(self) -> dict[str, str]:
        return dict(zip(self.actions[::2], self.actions[1::2], strict=True))


class Monitor:
    """A BecomeMonitor connection that records Notifications traffic (calls, signals, replies)."""

    def __init__(self, address: str) -> None:
        self._conn = open_dbus_connection(address)
        rules = [f"interface='{NOTIFICATIONS}'", "type='method_return'", "type='error'"]
        become = new_method_call(
            DBusAddress("/org/freedesktop/DBus", "org.freedesktop.DBus", "org.freedesktop.DBus.Monitoring"),
            "BecomeMonitor",
            "asu",
            (rules, 0),
        )
        self._conn.send(become)
        self.seen: list[Observed] = []
        self.only_to: str | None = None  # `notify_calls` keeps only calls sent to this name
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="test-monitor", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        kinds = {
            MessageType.method_call: "call",
            MessageType.signal: "signal",
            MessageType.method_return: "return",
            MessageType.error: "error",
        }
        try:
            while True:
                msg = self._conn.receive()
                f = msg.header.fields
                obs = Observed(
                    kinds[msg.header.message_type],
                    f.get(HeaderFields.member),
                    tuple(msg.body),
                    f.get(HeaderFields.sender),
                    f.get(HeaderFields.destination),
                    time.monotonic(),
                    msg.header.serial,
                    f.get(HeaderFields.reply_serial),
                )
                with self._lock:
                    self.seen.append(obs)
        except (ReceiveStopped, OSError, ValueError):
            return

    def snapshot(self) -> list[Observed]:
        with self._lock:
            return list(self.seen)

    def forget(self) -> None:
        """Start afresh: what was seen so far is dropped (one desktop shared by several tests)."""
        with self._lock:
            self.seen.clear()

    def calls(self, member: str) -> list[Observed]:
        return [o for o in self.snapshot() if o.kind == "call" and o.member == member]

    def notify_calls(self) -> list[NotifyCall]:
        out = []
        for o in self.calls("Notify"):
            if self.only_to is not None and o.destination != self.only_to:
                continue  # GNOME's helper passes each call on to the shell: seen twice otherwise
            app, replaces, icon, summary, body, actions, hints, expire = o.args
            plain = {k: v[1] for k, v in hints.items()}
            out.append(
                NotifyCall(
                    app, replaces, icon, summary, body, list(actions), plain, expire, o.sender, o.at, o.serial
                )
            )
        return out

    def wait_notify(self, count: int = 1, timeout: float = 5.0) -> list[NotifyCall]:
        """All Notify calls once at least `count` have been seen."""
        return wait_until(
            lambda: (calls := self.notify_calls()) and len(calls) >= count and calls,
            timeout,
            f"{count} Notify call(s)",
        )

    def reply_to(self, call_serial: int, sender: str | None, timeout: float = 5.0) -> Observed:
        """The reply (return or error) to the call `call_serial` made by `sender`."""

        def find() -> Observed | None:
            for o in self.snapshot():
                if (
                    o.kind in ("return", "error")
                    and o.reply_serial == call_serial
                    and o.destination == sender
                ):
                    return o
            return None

        return wait_until(find, timeout, f"the reply to call {call_serial} of {sender}")

    def reply_to_notify(self, call: NotifyCall) -> int:
        """The notification id the server gave in answer to `call`."""
        reply = self.reply_to(call.serial, call.sender)
        assert reply.kind == "return", reply
        return int(reply.args[0])

    def close(self) -> None:
        try:
            self._conn.interrupt()
        except OSError:
            return  # closed before
        self._thread.join(timeout=2)
        close_connection(self._conn)  # jeepney's own close leaves two fds open


@dataclass
class Desktop:
    """Processes and environment of one private session. Helpers raise on failure."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[Any]] = field(default_factory=dict)
    monitor: Monitor = field(init=False)
    dunstrc: Path | None = None
    server: str = "dunst"  # which notification server start_server() starts (a key of SERVERS)
    screen: tuple[int, int] = SCREEN  # Xvfb's size (the positions in SERVERS are measured at 800x600)

    @property
    def address(self) -> str:
        return self.env["DBUS_SESSION_BUS_ADDRESS"]

    @property
    def session_vars(self) -> dict[str, str]:
        """The variables a program needs to reach this desktop; merge them into a sandbox's env."""
        return {k: v for k, v in self.env.items() if k in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY")}

    @property
    def bus_socket(self) -> Path:
        return Path(self.env["XDG_RUNTIME_DIR"]) / "bus"

    # -- processes -----------------------------------------------------------

    def _spawn(self, name: str, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            proc = subprocess.Popen(
                list(argv), env=self.env, start_new_session=True, stderr=log, stdin=subprocess.DEVNULL, **kw
            )
        finally:
            log.close()
        self.procs[name] = proc
        return proc

    def start_bus(self) -> None:
        address = self._bus("dbus-daemon", self.bus_socket)
        self.env["DBUS_SESSION_BUS_ADDRESS"] = address
        if hasattr(self, "monitor"):  # a restarted bus: watch the new one
            self.monitor.close()
        self.monitor = Monitor(address)

    def _bus(self, name: str, socket: Path, kind: str = "session", services: Path | None = None) -> str:
        """A dbus-daemon listening on `socket`; its address. `services`: a directory of the
        services it may start on demand (none by default: nothing starts behind a test's back)."""
        require("dbus-daemon")
        config = self.root / f"{name}.conf"
        servicedir = f"\n  <servicedir>{services}</servicedir>" if services else ""
        config.write_text(BUS_CONFIG.format(kind=kind, socket=socket, services=servicedir))
        socket.unlink(missing_ok=True)
        argv = ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"]
        proc = self._spawn(name, argv, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        address = proc.stdout.readline().decode().strip()
        if not address:
            raise AssertionError(f"{name} did not start: {self.log(name)}")
        return address

    def kill_bus(self) -> None:
        """The session bus dies (every client connection drops)."""
        _kill_group(self.procs.pop("dbus-daemon"))

    def start_x(self) -> None:
        require("Xvfb")
        read_fd, write_fd = os.pipe()
        try:
            self._spawn(
                "Xvfb",
                [
                    "Xvfb",
                    "-displayfd",
                    str(write_fd),
                    "-screen",
                    "0",
                    f"{self.screen[0]}x{self.screen[1]}x24",
                    "-nolisten",
                    "tcp",
                    "-fbdir",  # the screen as an XWD file, for screenshot()
                    str(self.root),
                ],
                pass_fds=(write_fd,),
                stdout=subprocess.DEVNULL,
            )
            os.close(write_fd)
            write_fd = -1
            with os.fdopen(read_fd, "rb", closefd=True) as pipe:
                read_fd = -1
                number = pipe.readline().decode().strip()
        finally:
            for fd in (read_fd, write_fd):
                if fd >= 0:
                    os.close(fd)
        if not number:
            raise AssertionError(f"Xvfb did not start: {self.log('Xvfb')}")
        self.env["DISPLAY"] = f":{number}"

    def start_server(self) -> None:
        """Start the server (dunst unless `server` says otherwise) on this bus and display;
        returns once it owns org.freedesktop.Notifications."""
        if self.server != "dunst":
            package, binary, _ = SERVERS[self.server]
            self._spawn(self.server, [require(binary, package)], stdout=subprocess.DEVNULL)
            wait_until(lambda: self.name_owner(NOTIFICATIONS), 15, f"{self.server} to own {NOTIFICATIONS}")
            return
        require("dunst")
        if self.dunstrc is None:
            pick = self.root / "pick-snooze"
            pick.write_text(PICK_SNOOZE)
            pick.chmod(0o755)
            self.dunstrc = self.root / "dunstrc"
            self.dunstrc.write_text(DUNSTRC.format(dmenu=pick))
        self._spawn("dunst", ["dunst", "-config", str(self.dunstrc)], stdout=subprocess.DEVNULL)
        wait_until(lambda: self.name_owner(NOTIFICATIONS), 10, "dunst to own org.freedesktop.Notifications")

    def kill_server(self) -> None:
        """The server dies (SIGKILL): its bus name and notifications are gone."""
        proc = self.procs.pop(self.server)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
        wait_until(
            lambda: not self.name_owner(NOTIFICATIONS), 5, "org.freedesktop.Notifications to be released"
        )

    def screenshot(self, path: Path) -> Path:
        """Write what the Xvfb screen shows now as a PNG (to look at with an image viewer)."""
        xwd_to_png((self.root / "Xvfb_screen0").read_bytes(), path)
        return path

    def screen_is_blank(self) -> bool:
        """True while nothing is drawn on the (black) root window: no notification on screen."""
        xwd = (self.root / "Xvfb_screen0").read_bytes()
        header_size, ncolors = struct.unpack_from(">I", xwd)[0], struct.unpack_from(">I", xwd, 76)[0]
        return not xwd[header_size + 12 * ncolors :].strip(b"\0")

    def windows(self) -> list[tuple[int, int, int, int]]:
        """The server's visible notification windows as (x, y, width, height), top to bottom."""
        require("xdotool")
        found = subprocess.run(  # the server is the only client of this X display
            ["xdotool", "search", "--onlyvisible", "--name", ".*"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.split()
        out = []
        for wid in found:
            shell = subprocess.run(
                ["xdotool", "getwindowgeometry", "--shell", wid],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
            geo = dict(line.split("=", 1) for line in shell.split())
            x, y, w, h = (int(geo[k]) for k in ("X", "Y", "WIDTH", "HEIGHT"))
            # Not the root window, nor the 1x1 helper window GTK servers keep beside each notification.
            if w > 1 and h > 1 and (x, y, w, h) != (0, 0, *self.screen):
                out.append((x, y, w, h))
        return sorted(out, key=lambda g: g[1])

    def click(self, target: str, timeout: float = 10.0) -> None:
        """Press `target` ("Done", "Snooze", "close" or "body") of the server's topmost notification."""
        x, y, w, h = wait_until(lambda: self.windows(), timeout, f"a {self.server} notification")[0]
        dx, dy = SERVERS[self.server][2][target]
        time.sleep(0.3)  # drawn, not just mapped: GTK servers fade in
        at_x, at_y = x + dx if dx >= 0 else x + w + dx, y + dy if dy >= 0 else y + h + dy
        subprocess.run(
            ["xdotool", "mousemove", str(at_x), str(at_y), "click", "1"],
            env=self.env,
            check=True,
            timeout=10,
        )

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        if hasattr(self, "monitor"):
            self.monitor.close()
        for proc in reversed(list(self.procs.values())):
            _kill_group(proc)
        self.procs.clear()

    # -- the bus -------------------------------------------------------------

    def name_owner(self, name: str) -> str | None:
        """The unique name owning `name` now, or None."""
        with open_blocking(self.address) as conn:
            reply = conn.send_and_get_reply(message_bus.GetNameOwner(name), timeout=2)
        return reply.body[0] if reply.header.message_type is MessageType.method_return else None

    def stranger_signal(
        self, path: str, interface: str, member: str, signature: str, body: tuple[Any, ...], count: int = 1
    ) -> int:
        """A signal from a connection that owns no name, sent `count` times to every other
        connection on the bus, each by its unique name (a stranger need not know which is
        sundown's; the bus delivers a signal addressed to us whatever our match rules say).
        Returns how many connections it was sent to."""
        emitter = DBusAddress(path, interface=interface)
        with open_blocking(self.address) as conn:
            names = conn.send_and_get_reply(message_bus.ListNames(), timeout=2).body[0]
            others = [n for n in names if n.startswith(":") and n != conn.unique_name]
            for _ in range(count):
                for name in others:
                    msg = new_signal(emitter, member, signature, body)
                    msg.header.fields[HeaderFields.destination] = name
                    conn.send(msg)
            conn.send_and_get_reply(message_bus.GetId(), timeout=10)  # all of it has left
        return len(others)

    def send_signal(
        self, member: str, signature: str, body: tuple[Any, ...], destination: str | None = None
    ) -> str:
        """Emit a Notifications signal from a connection of our own (not the server); returns our name."""
        emitter = DBusAddress(NOTIFICATIONS_PATH, interface=NOTIFICATIONS)
        with open_blocking(self.address) as conn:
            msg = new_signal(emitter, member, signature, body)
            if destination is not None:
                msg.header.fields[HeaderFields.destination] = destination
            conn.send(msg)
            # A round trip to the bus makes sure the signal has left before we close.
            conn.send_and_get_reply(message_bus.GetId(), timeout=2)
            return str(conn.unique_name)

    # -- dunst ---------------------------------------------------------------

    def dunstctl(self, *args: str) -> str:
        require("dunstctl")
        proc = subprocess.run(["dunstctl", *args], env=self.env, capture_output=True, text=True, timeout=10)
        if proc.returncode != 0:
            raise AssertionError(f"dunstctl {' '.join(args)} -> {proc.returncode}: {proc.stderr}")
        return proc.stdout

    def displayed(self) -> int:
        return int(self.dunstctl("count", "displayed").strip())

    def history(self) -> list[dict[str, Any]]:
        """dunst's history (closed notifications), newest first, values unwrapped."""
        data = json.loads(self.dunstctl("history"))["data"][0]
        return [{k: v["data"] for k, v in item.items()} for item in data]


def xwd_to_png(xwd: bytes, path: Path) -> None:
    """Xvfb's -fbdir framebuffer (XWD, 24-bit TrueColor in 32-bit pixels) as an RGB PNG."""
    fields = struct.unpack(">25I", xwd[:100])
    header_size, width, height, byte_order = fields[0], fields[4], fields[5], fields[7]
    bits_per_pixel, bytes_per_line, ncolors = fields[11], fields[12], fields[19]
    masks = fields[14:17]
    if bits_per_pixel != 32:
        raise ValueError(f"unsupported XWD: {bits_per_pixel} bits per pixel")
    pixels = xwd[header_size + 12 * ncolors :]
    order = "<" if byte_order == 0 else ">"
    rows = []
    for y in range(height):
        line = struct.unpack_from(f"{order}{width}I", pixels, y * bytes_per_line)
        row = bytearray(b"\0")  # PNG filter type 0
        for value in line:
            for mask in masks:
                shift = (mask & -mask).bit_length() - 1
                row.append((value & mask) >> shift)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    path.write_bytes(png)


@contextmanager
def running_desktop(
    tmp_path: Path, with_x: bool, with_server: bool, server: str = "dunst"
) -> Iterator[Desktop]:
    """A Desktop in `tmp_path`, closed (every process killed) on the way out."""
    root = tmp_path / "desktop"  # beside a `sandbox` in the same tmp_path, never inside it
    runtime = root / "run"
    runtime.mkdir(mode=0o700, parents=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "XDG_", "DISPLAY", "WAYLAND_"))}
    desk = Desktop(root, env={**base, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(root)}, server=server)
    try:
        desk.start_bus()
        if with_x:
            desk.start_x()
        if with_server:
            desk.start_server()
        yield desk
    finally:
        desk.close()


class FakeServer:
    """A notification server written with jeepney, for the cases dunst cannot produce.

    `capabilities` is what GetCapabilities answers; `delay` holds every reply back;
    `error` (a D-Bus error name) answers Notify with that error; `info` is what
    GetServerInformation answers; `zero_ids` answers every Notify with id 0 (a broken
    server); `rate_limit` refuses, as KDE Plasma does for 1 s, a Notify with the app name,
    summary and body of one accepted less than that many seconds before. Notify calls are kept
    in `notified` as (id, args), refused ones in `refused` as args. `properties` answers
    org.freedesktop.DBus.Properties Get and Set by (interface, name), as (signature, value);
    each Set is kept in `sets` as (interface, name, value).
    """

    def __init__(
        self,
        address: str,
        capabilities: Sequence[str] = ("actions", "body", "body-markup"),
        delay: float = 0.0,
        error: str | None = None,
        info: tuple[str, str, str, str] = ("fake", "sundown tests", "0.1", "1.2"),
        zero_ids: bool = False,
        rate_limit: float = 0.0,
        properties: dict[tuple[str, str], tuple[str, Any]] | None = None,
    ) -> None:
        self.capabilities = list(capabilities)
        self.properties = dict(properties or {})
        self.sets: list[tuple[str, str, Any]] = []
        self.rate_limit = rate_limit
        self.refused: list[tuple[Any, ...]] = []
        self._last: tuple[tuple[Any, ...], float] | None = None  # (app, summary, body), when
        self.info = info
        self.zero_ids = zero_ids
        self.delay = delay
        self.error = error
        self.notified: list[tuple[int, tuple[Any, ...]]] = []
        self.closed: list[int] = []
        self._next_id = 1
        self._stop = threading.Event()
        self.conn: DBusConnection = open_dbus_connection(address)
        # Own the name before the thread starts reading, so the reply is ours to read.
        request = message_bus.RequestName(NOTIFICATIONS, 4)  # DO_NOT_QUEUE
        serial = next(self.conn.outgoing_serial)
        self.conn.send(request, serial=serial)
        while True:  # NameAcquired may come first
            reply = self.conn.receive(timeout=5)
            if reply.header.fields.get(HeaderFields.reply_serial) == serial:
                break
        assert reply.body == (1,), f"could not own {NOTIFICATIONS}: {reply.body}"
        self.unique_name = str(self.conn.unique_name)
        self._thread = threading.Thread(target=self._run, name="fake-notification-server", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                msg = self.conn.receive()
                if msg.header.message_type is MessageType.method_call:
                    self._answer(msg)
        except (ReceiveStopped, OSError, ValueError):
            return

    def _answer(self, msg: DBusMessage) -> None:
        member = msg.header.fields.get(HeaderFields.member)
        if self.delay and self._stop.wait(self.delay):
            return
        if member == "GetCapabilities":
            reply = new_method_return(msg, "as", (self.capabilities,))
        elif member == "GetServerInformation":
            reply = new_method_return(msg, "ssss", self.info)
        elif member == "Notify":
            similar = (msg.body[0], msg.body[3], msg.body[4])
            if self.error:
                reply = new_error(msg, self.error, "s", ("the fake server refuses",))
            elif (
                self._last and self._last[0] == similar and time.monotonic() - self._last[1] < self.rate_limit
            ):
                self.refused.append(tuple(msg.body))
                reply = new_error(
                    msg,
                    "org.freedesktop.Notifications.Error.ExcessNotificationGeneration",
                    "s",
                    ("Created too many similar notifications in quick succession",),
                )
            else:
                self._last = (similar, time.monotonic())
                nid = msg.body[1] or self._next_id
                if nid == self._next_id:
                    self._next_id += 1
                if self.zero_ids:
                    nid = 0
                self.notified.append((nid, tuple(msg.body)))
                reply = new_method_return(msg, "u", (nid,))
        elif member == "Get" and tuple(msg.body) in self.properties:
            reply = new_method_return(msg, "v", (self.properties[tuple(msg.body)],))
        elif member == "Set" and tuple(msg.body[:2]) in self.properties:
            self.conn.send(new_method_return(msg))
            self.set_property(*msg.body)
            return
        elif member == "CloseNotification":
            self.closed.append(msg.body[0])
            reply = new_method_return(msg)
            self.conn.send(reply)
            self.emit("NotificationClosed", "uu", (msg.body[0], 3))
            return
        else:
            reply = new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", (str(member),))
        self.conn.send(reply)

    def set_property(self, interface: str, name: str, value: tuple[str, Any]) -> None:
        """A property changed by a Set (kept in `sets`), told by PropertiesChanged as servers do."""
        self.properties[(interface, name)] = value
        self.sets.append((interface, name, value[1]))
        emitter = DBusAddress(NOTIFICATIONS_PATH, interface="org.freedesktop.DBus.Properties")
        self.conn.send(new_signal(emitter, "PropertiesChanged", "sa{sv}as", (interface, {name: value}, [])))

    def emit(self, member: str, signature: str, body: tuple[Any, ...]) -> None:
        """A signal from the server itself, broadcast as real servers do."""
        emitter = DBusAddress(NOTIFICATIONS_PATH, interface=NOTIFICATIONS)
        self.conn.send(new_signal(emitter, member, signature, body))

    def stop(self) -> None:
        if self._stop.is_set():
            return  # stopped by the test already, now by its fixture
        self._stop.set()
        self.conn.interrupt()
        self._thread.join(timeout=2)
        close_connection(self.conn)


def emit_prepare_for_sleep(bus: Desktop, going_to_sleep: bool, own_name: bool = True) -> None:
    """logind's PrepareForSleep signal on `bus`, from a sender owning login1 unless `own_name` is false."""
    with open_blocking(bus.address) as conn:
        if own_name:
            conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.login1"), timeout=2)
        emitter = DBusAddress("/org/freedesktop/login1", interface="org.freedesktop.login1.Manager")
        conn.send(new_signal(emitter, "PrepareForSleep", "b", (going_to_sleep,)))
        conn.send_and_get_reply(message_bus.GetId(), timeout=2)
