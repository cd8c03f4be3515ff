"""The X server, spoken to over its socket: the idle time (MIT-SCREEN-SAVER) and the active
window's fullscreen state.

Five requests of the X11 protocol are all the daemon asks (InternAtom, GetProperty,
QueryExtension, and the screen saver extension's QueryInfo), so it speaks them itself instead
of loading libX11 through ctypes: libX11 and the libraries it brings (xcb, Xext, Xau, Xdmcp,
libbsd) kept about 1 MB resident in an idle daemon that asks nothing most of the day. And the
X server can never end the process (libX11's default I/O error handler exits), nor hang it:
every answer is waited for at most TIMEOUT_S, and a server that went away or did not answer
marks the connection dead. A closed connection answers like a dead one: the daemon's stop
closes its sources while a tick already queued on the worker may still ask (given a closed
display, libX11 crashed the daemon), and a request and the close take one lock.

The connection is the one libX11 would make for `DISPLAY`: `[unix]:N[.S]` is the local socket
(Linux's abstract `@/tmp/.X11-unix/XN` first, then the file), `HOST:N[.S]` TCP port 6000 + N;
authorised with the MIT-MAGIC-COOKIE-1 for that display from `XAUTHORITY` (else
~/.Xauthority), or with none where the server asks for none (Xvfb).
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Mapping
from datetime import timedelta

TIMEOUT_S = 2.0
COOKIE = b"MIT-MAGIC-COOKIE-1"
FAMILY_LOCAL, FAMILY_WILD = 256, 65535  # Xauthority entries for this machine, for any address
# Core requests (their opcodes) and the screen saver extension's one.
INTERN_ATOM, GET_PROPERTY, QUERY_EXTENSION = 16, 20, 98
SCREEN_SAVER = b"MIT-SCREEN-SAVER"
SCREEN_SAVER_QUERY_INFO = 1
ANY_PROPERTY_TYPE = 0
GENERIC_EVENT = 35  # the one event that carries more than 32 bytes
ATOMS = ("_NET_ACTIVE_WINDOW", "_NET_WM_STATE", "_NET_WM_STATE_FULLSCREEN")


class XError(OSError):
    """The server refused a request (a window that went away between two calls)."""


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def parse_display(name: str) -> tuple[str, int, int]:
    """`DISPLAY` as (host, display number, screen number); host "" for the local socket."""
    host, colon, rest = name.rpartition(":")
    if not colon or not rest:
        raise OSError(f"cannot read the X display name {name!r}")
    number, _, screen = rest.partition(".")
    try:
        return ("" if host in ("", "unix") else host), int(number), int(screen or 0)
    except ValueError:
        raise OSError(f"cannot read the X display name {name!r}") from None


def cookie(env: Mapping[str, str], number: int, hostname: str | None = None) -> bytes:
    """The MIT-MAGIC-COOKIE-1 for display `number` of this machine, b"" when there is none."""
    path = env.get("XAUTHORITY") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".Xauthority")
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return b""
    here = (hostname or socket.gethostname()).encode()
    found: list[tuple[int, bytes]] = []
    at = 0
    try:
        while at < len(data):
            (family,) = struct.unpack_from(">H", data, at)
            at += 2
            fields = []
            for _ in range(4):  # address, display number, auth name, auth data
                (size,) = struct.unpack_from(">H", data, at)
                fields.append(data[at + 2 : at + 2 + size])
                at += 2 + size
            address, display, auth, secret = fields
            if auth != COOKIE or display not in (b"", str(number).encode()):
                continue
            if family == FAMILY_WILD or (family == FAMILY_LOCAL and address == here):
                found.append((0, secret))
            else:  # another host's entry for this display number: only if nothing better
                found.append((1, secret))
    except struct.error:
        pass  # a cut file: what was read before it
    return min(found, key=lambda f: f[0])[1] if found else b""


def _connect(host: str, number: int) -> socket.socket:
    if host:
        return socket.create_connection((host, 6000 + number), timeout=TIMEOUT_S)
    path = f"/tmp/.X11-unix/X{number}"
    last: OSError | None = None
    for address in ("\0" + path, path):  # Linux's abstract socket first, as libxcb does
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT_S)
        try:
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise OSError(f"cannot reach the X server at {path}: {last}")


class X11:
    """A connection to the X server, asked from the daemon's worker thread."""

    def __init__(self, display_name: str, env: Mapping[str, str] | None = None) -> None:
        host, number, screen = parse_display(display_name)
        self.dead = False
        self._lock = threading.Lock()
        self._sequence = 0
        self.sock: socket.socket | None = _connect(host, number)
        try:
            self.root = self._setup(cookie(os.environ if env is None else env, number), screen)
            self.atoms = {name: self._atom(name) for name in ATOMS}
            self.screen_saver = self._extension(SCREEN_SAVER)
        except (OSError, struct.error) as exc:
            self.close()
            raise OSError(f"cannot open X display {display_name}: {exc}") from None

    # -- the protocol ---------------------------------------------------------------------------

    def _recv(self, size: int) -> bytes:
        assert self.sock is not None
        data = b""
        while len(data) < size:
            try:
                part = self.sock.recv(size - len(data))
            except TimeoutError:
                self.dead = True
                raise OSError(f"the X server did not answer within {TIMEOUT_S:g} s") from None
            if not part:
                self.dead = True
                raise OSError("the X server went away")
            data += part
        return data

    def _setup(self, secret: bytes, screen: int) -> int:
        """The connection's handshake; the root window of `screen`."""
        assert self.sock is not None
        name = COOKIE if secret else b""
        self.sock.sendall(
            struct.pack("<BxHHHHxx", ord("l"), 11, 0, len(name), len(secret)) + _pad(name) + _pad(secret)
        )
        status, reason_size, _major, _minor, extra = struct.unpack("<BBHHH", self._recv(8))
        data = self._recv(extra * 4)
        if status != 1:
            reason = (data if status == 2 else data[:reason_size]).rstrip(b"\0").decode(errors="replace")
            raise OSError(f"the X server refused the connection: {reason.strip() or 'no reason given'}")
        vendor, screens, formats = struct.unpack_from("<16xH2xBB", data)
        at = 32 + len(_pad(b"\0" * vendor)) + 8 * formats
        for index in range(screens):
            (root,) = struct.unpack_from("<I", data, at)
            if index == screen:
                return int(root)
            (depths,) = struct.unpack_from("<B", data, at + 39)
            at += 40
            for _ in range(depths):
                (visuals,) = struct.unpack_from("<2xH", data, at)
                at += 8 + 24 * visuals
        raise OSError(f"the X server has no screen {screen}")

    def _gone(self) -> str | None:
        """Why nothing can be asked any more (the connection closed, the server gone), or None."""
        if self.sock is None:
            return "the X connection is closed"
        return "the X server went away" if self.dead else None

    def _request(self, opcode: int, data: int, body: bytes) -> bytes:
        """Send one request; its reply (32 bytes and what follows). XError when refused."""
        body = _pad(body)
        with self._lock:
            gone = self._gone()
            if gone is not None or self.sock is None:
                raise OSError(gone)
            try:
                self.sock.sendall(struct.pack("<BBH", opcode, data, 1 + len(body) // 4) + body)
            except OSError:
                self.dead = True
                raise
            self._sequence = (self._sequence + 1) & 0xFFFF
            while True:
                packet = self._recv(32)
                kind, code, sequence, more = struct.unpack_from("<BBHI", packet)
                if kind == 1:  # a reply
                    packet += self._recv(more * 4)
                elif kind & 0x7F == GENERIC_EVENT:  # (the top bit: an event another client sent)
                    self._recv(more * 4)
                if sequence != self._sequence:
                    continue  # an event, or the answer to an earlier request that timed out
                if kind == 0:
                    raise XError(f"X error {code} for request {opcode}")
                if kind == 1:
                    return packet

    def _atom(self, name: str) -> int:
        reply = self._request(INTERN_ATOM, 0, struct.pack("<H2x", len(name)) + name.encode())
        return int(struct.unpack_from("<I", reply, 8)[0])

    def _extension(self, name: bytes) -> int | None:
        """The major opcode of the extension `name`; None when the server lacks it."""
        reply = self._request(QUERY_EXTENSION, 0, struct.pack("<H2x", len(name)) + name)
        present, major = struct.unpack_from("<BB", reply, 8)
        return int(major) if present else None

    def _property(self, window: int, atom: str) -> list[int]:
        """A window's property of 32-bit values (a window, atoms); [] when it has none or is gone."""
        body = struct.pack("<IIIII", window, self.atoms[atom], ANY_PROPERTY_TYPE, 0, 64)
        try:
            reply = self._request(GET_PROPERTY, 0, body)
        except XError:
            return []  # the window went away between two calls
        fmt = reply[1]
        (count,) = struct.unpack_from("<I", reply, 16)
        if fmt != 32:
            return []
        return list(struct.unpack_from(f"<{count}I", reply, 32))

    # -- what the sources ask -------------------------------------------------------------------

    @property
    def has_idle(self) -> bool:
        return self.screen_saver is not None

    def idle(self) -> timedelta | None:
        """The time since the last input; OSError once the server is gone or the connection closed."""
        gone = self._gone()
        if gone is not None or self.screen_saver is None:
            raise OSError(gone or "the X server has no MIT-SCREEN-SAVER")
        try:
            reply = self._request(self.screen_saver, SCREEN_SAVER_QUERY_INFO, struct.pack("<I", self.root))
        except XError:
            return None
        (idle_ms,) = struct.unpack_from("<I", reply, 16)
        return timedelta(milliseconds=idle_ms)

    def fullscreen(self) -> bool | None:
        """Is the active window fullscreen? None when the X server is gone (or the connection closed)."""
        try:
            active = self._property(self.root, "_NET_ACTIVE_WINDOW")
            if not active or not active[0]:
                return False
            return self.atoms["_NET_WM_STATE_FULLSCREEN"] in self._property(active[0], "_NET_WM_STATE")
        except OSError:
            return None

    def close(self) -> None:
        with self._lock:  # never in the middle of a request
            sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()
