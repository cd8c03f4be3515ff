"""Where the D-Bus buses are, and one live connection to one (`BusLink`).

Where a bus is is found without loading a D-Bus library, and `BusLink` loads jeepney
only when a link is made: an idle daemon on a machine without a bus (a container, a
headless box) never loads jeepney at all.
"""

from __future__ import annotations

import logging
import os
import string
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from sundown.notify import NotifyError

log = logging.getLogger("sundown.notify.bus")

# jeepney's (and libdbus's) default when DBUS_SYSTEM_BUS_ADDRESS is unset.
SYSTEM_BUS_SOCKET = Path("/var/run/dbus/system_bus_socket")


def bus_address(env: Mapping[str, str]) -> str:
    """The session bus address: DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket."""
    address = env.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if address:
        return address
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime and (Path(runtime) / "bus").is_socket():
        return "unix:path=" + _escape_address(str(Path(runtime) / "bus"))
    raise NotifyError(
        "no session bus: DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist"
    )


def system_bus_may_exist(address: str, env: Mapping[str, str]) -> bool:
    """False only when `address` is the default system bus and nothing can be listening there."""
    if address != "SYSTEM" or env.get("DBUS_SYSTEM_BUS_ADDRESS"):
        return True
    return SYSTEM_BUS_SOCKET.is_socket()


def _escape_address(value: str) -> str:
    safe = set(string.ascii_letters + string.digits + "-_/.\\*")
    return "".join(c if c in safe else "".join(f"%{b:02x}" for b in c.encode()) for c in value)


# --- one live connection ------------------------------------------------------------------------

DBUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
PROPERTIES = "org.freedesktop.DBus.Properties"
# The types sundown reads inside a variant (sources, surfaces and effects alike).
VARIANT_SIGNATURES = frozenset(
    {"b", "y", "n", "q", "i", "u", "x", "t", "d", "s", "o", "v", "as", "ao", "a{sv}", "(so)"}
)


class BusLink:
    """One live bus connection and the thread that reads it: replies to futures, signals to a
    callback (in that thread). jeepney is loaded only when a link is made.

    Every call has a deadline (`timeout`). A call to a peer that let one call go unanswered fails
    at once while that call is overdue (a hung server must not cost the full timeout on every
    reminder), and only calls to that peer: one hung service never blocks another.
    """

    def __init__(
        self,
        address: str,
        timeout: float,
        on_signal: Callable[[Any], None] | None,
        thread_name: str = "sundown-dbus",
        label: str = "session bus",  # which bus, for messages
    ) -> None:
        from jeepney.bus import get_bus
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import prep_socket
        from jeepney.io.threading import DBusConnection

        try:
            sock = prep_socket(get_bus(address), timeout=timeout)
        except RuntimeError as e:  # jeepney: unsupported transport, e.g. tcp:
            raise NotifyError(f"cannot use the {label} address {address!r}: {e}") from e
        except (OSError, ValueError) as e:  # TimeoutError is an OSError
            raise NotifyError(f"cannot reach the {label} at {address}: {e}") from e
        self.label = label
        self.conn = DBusConnection(sock)
        self.timeout = timeout
        self.alive = True
        self._on_signal = on_signal
        self._pending: dict[int, tuple[Future[Any], Callable[[Any], None] | None, str | None]] = {}
        # Calls that timed out and are still unanswered, by serial: the peer they went to.
        self._overdue: dict[int, str | None] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.thread = threading.Thread(target=self._receive, name=thread_name, daemon=True)
        self.thread.start()
        try:
            self.unique_name = self.call(message_bus.Hello()).body[0]
        except NotifyError:
            self.close()
            raise

    def call(self, msg: Any, on_reply: Callable[[Any], None] | None = None) -> Any:
        """Send a method call and wait for its reply; `on_reply` runs in the receiver thread first.
        An error reply raises jeepney's DBusErrorResponse; no reply in time raises NotifyError."""
        from jeepney import HeaderFields, MessageType
        from jeepney.wrappers import DBusErrorResponse

        if not self.alive:
            raise NotifyError(f"lost the connection to the {self.label}")
        peer = msg.header.fields.get(HeaderFields.destination)
        serial = next(self.conn.outgoing_serial)
        future: Future[Any] = Future()
        with self._lock:
            if peer in self._overdue.values():
                raise NotifyError(f"no answer yet to an earlier call on the {self.label} (server hung)")
            self._pending[serial] = (future, on_reply, peer)
        try:
            self.conn.send(msg, serial=serial)
            reply = future.result(timeout=self.timeout)
        except FutureTimeout as e:
            with self._lock:
                if self._pending.pop(serial, None) is not None:  # still unanswered, not just answered
                    self._overdue[serial] = peer
            raise NotifyError(f"no answer on the {self.label} within {self.timeout:g} s") from e
        except (OSError, ConnectionError) as e:
            self.alive = False
            raise NotifyError(f"lost the connection to the {self.label}: {e}") from e
        finally:
            with self._lock:
                self._pending.pop(serial, None)
        if reply.header.message_type is MessageType.error:
            raise DBusErrorResponse(reply)
        return reply

    def send(self, msg: Any) -> None:
        """Send without waiting for a reply (from the receiver thread, which would read it)."""
        self.conn.send(msg)

    # -- what the context sources ask ---------------------------------------------------------

    def ask(
        self, dest: str, path: str, iface: str, member: str, sig: str = "", *args: Any
    ) -> tuple[Any, ...]:
        """A method call's reply body."""
        from jeepney import DBusAddress, new_method_call

        msg = new_method_call(DBusAddress(path, dest, iface), member, sig or None, args if sig else None)
        return tuple(self.call(msg).body)

    def get(self, dest: str, path: str, iface: str, prop: str) -> Any:
        """A property's value, unwrapped from its variant."""
        return unvariant(self.ask(dest, path, PROPERTIES, "Get", "ss", iface, prop)[0])

    def owner(self, name: str) -> str | None:
        """The unique name owning `name` now, or None."""
        from jeepney.wrappers import DBusErrorResponse

        try:
            found = self.ask(*DBUS, "GetNameOwner", "s", name)[0]
        except DBusErrorResponse:
            return None  # NameHasNoOwner
        return found if isinstance(found, str) else None

    def match(self, arg0: str | None = None, **rule: str) -> None:
        """Receive the signals `rule` describes (type signal; `arg0`: its first argument)."""
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus

        match = MatchRule(type="signal", **rule)
        if arg0 is not None:
            match.add_arg_condition(0, arg0)
        self.call(message_bus.AddMatch(match))

    # -- the receiver thread ------------------------------------------------------------------

    def _receive(self) -> None:
        from jeepney.io.threading import ReceiveStopped

        reason: BaseException | None = None
        try:
            while True:
                msg = self.conn.receive()  # blocks on the socket and the interrupt pipe, no timeout
                try:
                    self._dispatch(msg)
                except Exception:  # a malformed message must not end the connection's only reader
                    log.exception("could not handle a message from %s", sender_of(msg))
        except ReceiveStopped:
            reason = None
        except (OSError, ValueError) as e:  # bus gone, or garbage on the socket
            reason = e
        finally:
            self.alive = False
            with self._lock:
                pending = list(self._pending.values())
                self._pending.clear()
            for future, _, _ in pending:
                if not future.done():
                    future.set_exception(ConnectionError(f"bus connection closed: {reason}"))
            if reason is not None and not self._stopping:
                log.info("%s connection lost: %s", self.label, reason)

    def _dispatch(self, msg: Any) -> None:
        from jeepney import HeaderFields, MessageType

        kind = msg.header.message_type
        if kind in (MessageType.method_return, MessageType.error):
            serial = msg.header.fields.get(HeaderFields.reply_serial)
            with self._lock:
                entry = self._pending.pop(serial, None) if isinstance(serial, int) else None
                if entry is None:
                    self._overdue.pop(serial, None)  # the reply to a call that timed out: not hung
            if entry is None:
                return
            future, on_reply, _ = entry
            if on_reply is not None and kind is MessageType.method_return:
                on_reply(msg)
            if not future.done():
                future.set_result(msg)
        elif kind is MessageType.signal and self._on_signal is not None:
            self._on_signal(msg)

    def close(self) -> None:
        self._stopping = True
        try:
            self.conn.interrupt()
        except OSError:
            pass  # closed before
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=0.4)
        close_connection(self.conn)
        self.alive = False


def close_connection(conn: Any) -> None:
    """Close a jeepney threading connection and its interrupt pipe, which jeepney (0.9) leaves
    open: a reconnecting daemon would leak two fds each time. A second call closes nothing (the
    numbers may belong to another file by then); a late `interrupt()` fails with EBADF."""
    if getattr(conn, "_stop_w", None) == -1:
        return  # closed here before (jeepney's own close would interrupt through the closed pipe)
    conn.close()
    for name in ("_stop_r", "_stop_w"):
        fd = getattr(conn, name, None)
        if isinstance(fd, int) and fd >= 0:
            setattr(conn, name, -1)
            try:
                os.close(fd)
            except OSError as e:
                log.debug("closing interrupt pipe: %s", e)


def sender_of(msg: Any) -> str | None:
    """The unique name that sent `msg` (the bus sets it: it cannot be forged)."""
    from jeepney import HeaderFields

    sender = msg.header.fields.get(HeaderFields.sender)
    return sender if isinstance(sender, str) else None


def header(msg: Any) -> tuple[str | None, str | None, str | None]:
    """`msg`'s member, object path and interface."""
    from jeepney import HeaderFields

    fields = msg.header.fields
    return fields.get(HeaderFields.member), fields.get(HeaderFields.path), fields.get(HeaderFields.interface)


def unvariant(value: object) -> object:
    """jeepney gives variants as (signature, value); a variant may hold a variant."""
    for _ in range(4):
        if isinstance(value, tuple) and len(value) == 2 and value[0] in VARIANT_SIGNATURES:
            value = value[1]
        else:
            break
    return value
