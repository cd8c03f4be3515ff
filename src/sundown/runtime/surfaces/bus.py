"""Serving objects on the session bus with jeepney: the connection the D-Bus API and the tray use.

jeepney has no object framework, so this is the little one they need: one connection whose
receiver thread blocks on the socket (no wakeups while idle) and hands method calls to the
surface, signals to it, and replies to whoever waits. A surface answers reads on that thread
and never makes a blocking call there (the reply it would wait for is read by that thread):
`call_async` continues in the receiver thread once the reply arrives.

Who is calling: the session bus admits only its own user (dbus-daemon's default policy: no
`<allow user=...>`, so a connection from another uid fails authentication), and every call
is checked once more here, the caller's uid asked of the bus (`GetConnectionUnixUser`), before
anything is read or done (`Caller`).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jeepney import HeaderFields, Message, MessageType, new_error, new_method_return
from jeepney.bus import get_bus
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import prep_socket
from jeepney.io.threading import DBusConnection, ReceiveStopped

from sundown.errors import SundownError
from sundown.notify.bus import close_connection

if TYPE_CHECKING:
    from sundown.runtime.surfaces import Act

log = logging.getLogger(__name__)

TIMEOUT_S = 2.5
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
UNKNOWN_OBJECT = "org.freedesktop.DBus.Error.UnknownObject"
UNKNOWN_INTERFACE = "org.freedesktop.DBus.Error.UnknownInterface"
UNKNOWN_PROPERTY = "org.freedesktop.DBus.Error.UnknownProperty"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
READ_ONLY = "org.freedesktop.DBus.Error.PropertyReadOnly"
FAILED = "org.freedesktop.DBus.Error.Failed"
PRIMARY_OWNER = 1
ALREADY_OWNER = 4
DO_NOT_QUEUE = 4
MAX_KNOWN_CALLERS = 256
PEER = "org.freedesktop.DBus.Peer"
DESCRIBE = "org.freedesktop.DBus.Introspectable"  # Introspect: what an object has
PROPERTIES = "org.freedesktop.DBus.Properties"
UTC = timezone.utc


class BusError(Exception):
    """A call on the bus failed (no bus, no answer, an error reply)."""


def member(msg: Message) -> tuple[str | None, str | None, str | None]:
    """(path, interface, member) of a message."""
    fields = msg.header.fields
    return fields.get(HeaderFields.path), fields.get(HeaderFields.interface), fields.get(HeaderFields.member)


def sender(msg: Message) -> str | None:
    found = msg.header.fields.get(HeaderFields.sender)
    return found if isinstance(found, str) else None


class ServiceLink:
    """One connection to the session bus, serving: calls to `on_call`, signals to `on_signal`."""

    def __init__(
        self,
        address: str,
        on_call: Callable[[Message], None],
        on_signal: Callable[[Message], None] | None = None,
        thread_name: str = "sundown-bus",
        timeout: float = TIMEOUT_S,
    ) -> None:
        try:
            sock = prep_socket(get_bus(address), timeout=timeout)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BusError(f"cannot reach the session bus at {address}: {exc}") from exc
        self.conn = DBusConnection(sock)
        self.timeout = timeout
        self.alive = True
        self._on_call = on_call
        self._on_signal = on_signal
        self._lock = threading.Lock()
        self._pending: dict[int, Callable[[Message | None], None]] = {}
        self._stopping = False
        self.thread = threading.Thread(target=self._receive, name=thread_name, daemon=True)
        self.thread.start()
        try:
            self.unique_name = str(self.call(message_bus.Hello()).body[0])
        except BusError:
            self.close()
            raise

    # -- calls ---------------------------------------------------------------------------

    def call_async(self, msg: Message, on_reply: Callable[[Message | None], None]) -> None:
        """Send a method call; `on_reply(reply)` runs in the receiver thread (None: the bus is gone)."""
        serial = next(self.conn.outgoing_serial)
        with self._lock:
            if not self.alive:
                on_reply(None)
                return
            self._pending[serial] = on_reply
        try:
            self.conn.send(msg, serial=serial)
        except OSError:
            with self._lock:
                self._pending.pop(serial, None)
            on_reply(None)

    def call(self, msg: Message) -> Message:
        """A method call and its reply; never from the receiver thread (it reads the reply)."""
        if threading.current_thread() is self.thread:
            raise RuntimeError("a blocking call from the bus's own thread would never get its reply")
        future: Future[Message | None] = Future()
        self.call_async(msg, future.set_result)
        try:
            reply = future.result(self.timeout)
        except TimeoutError as exc:
            raise BusError(f"no answer on the session bus within {self.timeout:g} s") from exc
        if reply is None:
            raise BusError("lost the connection to the session bus")
        if reply.header.message_type is MessageType.error:
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise BusError(f"{reply.header.fields.get(HeaderFields.error_name)}: {text}")
        return reply

    def send(self, msg: Message) -> None:
        """A signal or a reply; quietly nothing once the bus is gone."""
        if not self.alive:
            return
        try:
            self.conn.send(msg)
        except OSError as exc:
            log.info("could not send on the session bus: %s", exc)

    def reply(self, call: Message, signature: str | None = None, body: tuple[Any, ...] = ()) -> None:
        self.send(new_method_return(call, signature, body))

    def error(self, call: Message, name: str, text: str) -> None:
        self.send(new_error(call, name, "s", (text,)))

    def own(self, name: str) -> bool:
        """Take the well-known `name`; False when another connection has it (never queued for it)."""
        code = self.call(message_bus.RequestName(name, DO_NOT_QUEUE)).body[0]
        return code in (PRIMARY_OWNER, ALREADY_OWNER)

    # -- the receiver thread ---------------------------------------------------------------

    def _receive(self) -> None:
        reason: BaseException | None = None
        try:
            while True:
                msg = self.conn.receive()
                try:
                    self._dispatch(msg)
                except Exception:  # a malformed message must not end the connection's only reader
                    log.exception("could not handle a message from %s", sender(msg))
        except ReceiveStopped:
            pass
        except (OSError, ValueError) as exc:
            reason = exc
        finally:
            with self._lock:
                self.alive = False
                pending = list(self._pending.values())
                self._pending.clear()
            for on_reply in pending:
                on_reply(None)
            if reason is not None and not self._stopping:
                log.info("session bus connection lost: %s", reason)

    def _dispatch(self, msg: Message) -> None:
        kind = msg.header.message_type
        if kind in (MessageType.method_return, MessageType.error):
            serial = msg.header.fields.get(HeaderFields.reply_serial)
            with self._lock:
                on_reply = self._pending.pop(serial, None) if isinstance(serial, int) else None
            if on_reply is not None:
                on_reply(msg)
        elif kind is MessageType.method_call:
            self._on_call(msg)
        elif kind is MessageType.signal and self._on_signal is not None:
            self._on_signal(msg)

    def close(self) -> None:
        self._stopping = True
        try:
            self.conn.interrupt()
        except OSError:
            pass
        if self.thread is not threading.current_thread():
            self.thread.join(timeout=0.5)
        close_connection(self.conn)
        self.alive = False


class Caller:
    """Whether a call comes from this user: the caller's uid asked of the bus once per connection.

    Unique names are never reused on a bus, so what was learnt of one holds for its life.
    """

    def __init__(self, link: ServiceLink, uid: int | None = None) -> None:
        self._link = link
        self._uid = os.getuid() if uid is None else uid
        self._known: dict[str, bool] = {}
        self._refused_said = False

    def check(self, call: Message, then: Callable[[], None]) -> None:
        """Run `then()` (in the receiver thread) if the call is this user's; else answer AccessDenied."""
        name = sender(call)
        if name is None:
            self._link.error(call, ACCESS_DENIED, "who is calling is unknown")
            return
        known = self._known.get(name)
        if known is not None:
            self._decided(call, name, known, then)
            return

        def on_uid(reply: Message | None) -> None:
            ok = (
                reply is not None
                and reply.header.message_type is MessageType.method_return
                and reply.body[0] == self._uid
            )
            if len(self._known) >= MAX_KNOWN_CALLERS:
                self._known.clear()
            self._known[name] = ok
            self._decided(call, name, ok, then)

        self._link.call_async(message_bus.GetConnectionUnixUser(name), on_uid)

    def _decided(self, call: Message, name: str, ok: bool, then: Callable[[], None]) -> None:
        if ok:
            then()
            return
        if not self._refused_said:
            log.warning("refused a D-Bus call from %s: not this user's", name)
            self._refused_said = True
        self._link.error(call, ACCESS_DENIED, "only the session's own user may call sundown")


class BusSurface:
    """What a surface served on the session bus holds, the D-Bus API as the tray: the bus's
    address, how a request reaches the daemon, a clock; once started, its link and the check
    of who calls. A subclass answers each call in `_handle`, on the bus thread, once `Caller`
    has found it is this user's."""

    def __init__(
        self,
        address: Callable[[], str],
        act: Act,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._address = address
        self._act = act
        self._clock = clock
        self._lock = threading.Lock()
        self.link: ServiceLink | None = None
        self._caller: Caller | None = None

    def _connect(self, thread_name: str, on_signal: Callable[[Message], None] | None = None) -> str | None:
        """Open the link (`self.link`); None, or why there is none (no session bus, say)."""
        try:
            address = self._address()
        except SundownError as exc:
            return str(exc)
        try:
            link = ServiceLink(address, self._on_call, on_signal, thread_name=thread_name)
        except BusError as exc:
            return str(exc)
        self._caller = Caller(link)
        self.link = link
        return None

    def close(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            link.close()

    def _on_call(self, call: Message) -> None:
        caller = self._caller
        if caller is not None:
            caller.check(call, lambda: self._handle(call))

    def _handle(self, call: Message) -> None:
        """A call of this user's, on the bus thread: answered while the link is open."""
        link = self.link
        if link is not None:
            self._respond(link, call, call.header.fields.get(HeaderFields.signature, ""))

    def _respond(self, link: ServiceLink, call: Message, signature: str) -> None:  # pragma: no cover
        """Answer `call` on `link`; every surface overrides it."""
        raise NotImplementedError
