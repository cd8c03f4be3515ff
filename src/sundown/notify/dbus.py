"""freedesktop notifications over the session bus, with Done / Snooze buttons (jeepney).

One bus connection is kept open between sends so that the server's signals
(ActionInvoked, NotificationClosed) reach us. Its receiver thread blocks on the
socket and never wakes up by itself; when the bus goes away the thread ends and
the next `send()` connects again. Every call has a timeout: a hung server makes
`send()` raise NotifyError, it never blocks the daemon.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass

from jeepney import DBusAddress, HeaderFields, MatchRule, Message, new_method_call
from jeepney.bus_messages import message_bus
from jeepney.wrappers import DBusErrorResponse

from sundown.core.vocabulary import Action
from sundown.notify import Backend, NotifyError, OnAction, ServerInfo
from sundown.notify import Message as Notification
from sundown.notify.bus import BusLink, bus_address, sender_of

log = logging.getLogger(__name__)

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
NOTIFICATIONS = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=BUS_NAME)
DEFAULT_TIMEOUT = 2.5

URGENCY_BYTE = {"low": 0, "normal": 1, "critical": 2}
# Spec: NotificationClosed reason 1 expired, 2 dismissed by the user, 3 CloseNotification, 4 undefined.
EXPIRED = 1
CLOSED_BY_USER = 2
ACTION_MEANING: dict[str, Action] = {"default": "done", "done": "done", "snooze": "snooze"}
# Every label differs: mako's menu invokes an action by its label, and a label shared by two
# actions invokes neither. `default` (a click on the notification) is hidden by most servers.
DEFAULT_LABEL = "Acknowledge"
LABELS = {"done": "Done", "snooze": "Snooze"}


# KDE Plasma refuses a notification with the same app name, summary and body as one created less
# than 1 s before (replacing it or not): sundown tries once more after this pause.
RATE_LIMITED = "org.freedesktop.Notifications.Error.ExcessNotificationGeneration"
RATE_LIMIT_PAUSE_S = 1.2


@dataclass(frozen=True)
class Quirks:
    """What a notification server does differently from the spec's common reading (docs/notify.md)."""

    draws_default: bool = False  # shows the `default` action as a button (with its label)
    one_at_a_time: bool = False  # shows one notification and queues the rest until it closes
    # Replacing a notification empties its actions (a banner on screen loses its buttons) and adds
    # one more `default` handler each time (a click on the body reports `default` once per
    # replacement): a reminder is replaced by closing it and sending a new one.
    replacing_drops_actions: bool = False
    keeps_expired: bool = False  # ignores expire_timeout: a notification stays in its list until closed

    @classmethod
    def of(cls, name: str, vendor: str) -> Quirks:
        """The quirks of the server named in GetServerInformation (measured on Debian's packages)."""
        gnome_shell = (name, vendor) == ("gnome-shell", "GNOME")
        return cls(
            draws_default=name in ("Xfce Notify Daemon", "lxqt-notificationd"),
            one_at_a_time=(name, vendor) == ("Notification Daemon", "GNOME"),  # notification-daemon
            replacing_drops_actions=gnome_shell,
            keeps_expired=gnome_shell,
        )


NO_SERVER_ERRORS = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Spawn.ServiceNotFound",
)


def _explain(error: DBusErrorResponse) -> NotifyError:
    if error.name in NO_SERVER_ERRORS:
        return NotifyError("no notification server is running on the session bus")
    detail = f": {error.data[0]}" if error.data and isinstance(error.data[0], str) else ""
    return NotifyError(f"the notification server answered with an error: {error.name}{detail}")


def server_info(env: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT) -> ServerInfo:
    """Who answers org.freedesktop.Notifications, and what it can do (for `sundown doctor`)."""
    link = BusLink(bus_address(env), timeout, None)
    try:
        name, vendor, version, spec = link.call(new_method_call(NOTIFICATIONS, "GetServerInformation")).body
        caps = link.call(new_method_call(NOTIFICATIONS, "GetCapabilities")).body[0]
    except DBusErrorResponse as e:
        raise _explain(e) from e
    finally:
        link.close()
    return ServerInfo(name, vendor, version, spec, tuple(caps))


class DBusBackend(Backend):
    """Notify over org.freedesktop.Notifications; believes only the server's own signals."""

    name = "dbus"
    adopts = True

    def __init__(self, on_action: OnAction, env: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT) -> None:
        self._on_action = on_action
        self._env = dict(env)
        self._timeout = timeout
        self._call_lock = threading.Lock()  # one send/withdraw at a time
        self._lock = threading.Lock()  # guards everything below; shared with the receiver thread
        self._link: BusLink | None = None
        self._owner: str | None = None  # unique bus name of the notification server
        self._ids: dict[str, int] = {}  # key -> notification id (for replaces_id and withdraw)
        self._keys: dict[int, str] = {}  # notification id -> key (for signals)
        self._lasting: set[int] = set()  # ids of notifications sent never to expire
        self._quirks: Quirks | None = None  # of the current owner, asked once per owner
        self._no_ids = False  # the current owner answered Notify with id 0: no buttons for it
        self._bus_id = ""  # the bus's own id: a unique name is unique only within one bus
        self._adopted: dict[str, dict[str, object]] = {}  # key -> shown_as() of a previous process
        self._closed = False
        self._closing = threading.Event()  # cuts short the pause before a rate-limited retry

    # -- the caller's side -------------------------------------------------

    def send(self, message: Notification) -> None:
        self._refuse_from_receiver()
        with self._call_lock:
            link = self._connect()
            try:
                caps = self._server(link)
                with self._lock:
                    replaces = self._ids.get(message.key, 0)
                    quirks, no_ids = self._quirks or Quirks(), self._no_ids
                if replaces and quirks.replacing_drops_actions:
                    self._close_to_replace(link, message.key, replaces)
                    replaces = 0
                call = self._notify_call(message, caps, replaces, quirks, no_ids)
                try:
                    link.call(call, lambda r: self._remember(message, r))
                except DBusErrorResponse as e:
                    if e.name != RATE_LIMITED:
                        raise
                    # Not a failure of the server: it only wants a moment (KDE Plasma, 1 s).
                    log.warning(
                        "the notification server refused %s as too many similar notifications in quick"
                        " succession; trying again in %g s",
                        message.key,
                        RATE_LIMIT_PAUSE_S,
                    )
                    if self._closing.wait(RATE_LIMIT_PAUSE_S):
                        raise NotifyError("the D-Bus backend is closed") from e
                    call = self._notify_call(message, caps, replaces, quirks, no_ids)
                    link.call(call, lambda r: self._remember(message, r))
                    log.info("%s shown on the second try", message.key)
            except DBusErrorResponse as e:
                raise _explain(e) from e

    def _close_to_replace(self, link: BusLink, key: str, nid: int) -> None:
        """Close the notification shown for `key` so a new one takes its place (GNOME Shell)."""
        with self._lock:  # forgotten first: the NotificationClosed that follows means nothing
            if self._ids.get(key) == nid:
                del self._ids[key]
            self._keys.pop(nid, None)
            self._lasting.discard(nid)
        try:
            link.call(new_method_call(NOTIFICATIONS, "CloseNotification", "u", (nid,)))
        except DBusErrorResponse as e:
            log.info("could not close notification %s (%s) to replace it: %s", nid, key, e)

    @property
    def keeps_expired(self) -> bool:
        """The server ignores expire_timeout (known from the last send): close what should expire."""
        with self._lock:
            return self._quirks is not None and self._quirks.keeps_expired

    @property
    def one_at_a_time(self) -> bool:
        """The server shows one notification at a time (known from the last send)."""
        with self._lock:
            return self._quirks is not None and self._quirks.one_at_a_time

    def shown_as(self, key: str) -> dict[str, object] | None:
        """How the notification for `key` is known to the server, for `adopt` in a later process."""
        with self._lock:
            nid = self._ids.get(key)
            if nid is None or self._owner is None:
                return None
            return {"id": nid, "server": f"{self._owner}@{self._bus_id}"}

    def adopt(self, key: str, shown_as: Mapping[str, object]) -> None:
        """Take over a notification a previous process showed, so a repeat replaces it and
        withdraw closes it. Believed only while the same server runs on the same bus."""
        with self._lock:
            self._adopted[key] = dict(shown_as)

    def listen(self) -> None:
        """Connect now (not at the next send), so clicks on adopted notifications are heard."""
        self._refuse_from_receiver()
        with self._call_lock:
            with self._lock:
                if not self._adopted:
                    return
            try:
                self._server(self._connect())
            except (NotifyError, DBusErrorResponse) as e:
                log.info("cannot take over the notifications shown before the restart: %s", e)

    def withdraw(self, key: str) -> None:
        self._refuse_from_receiver()
        with self._call_lock:
            with self._lock:
                adopted = key in self._adopted
            if adopted:  # shown by a previous process: is it this server's? (connects if need be)
                try:
                    self._server(self._connect())
                except (NotifyError, DBusErrorResponse) as e:
                    log.info("cannot close the notification shown before the restart: %s", e)
            with self._lock:
                self._adopted.pop(key, None)
                nid = self._ids.get(key)
                link = self._link
        if nid is None or link is None or not link.alive:
            return  # never shown, already closed, or gone with the server
        try:
            link.call(new_method_call(NOTIFICATIONS, "CloseNotification", "u", (nid,)))
        except (NotifyError, DBusErrorResponse) as e:
            # Nothing left to do: the server is gone or busy, and so, most likely, is the notification.
            log.info("could not withdraw notification %s (%s): %s", nid, key, e)

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            self._closed = True
            link, self._link = self._link, None
        if link is not None:
            link.close()

    def _refuse_from_receiver(self) -> None:
        if threading.current_thread().name == "sundown-dbus":
            raise RuntimeError("on_action must not call the D-Bus backend; hand the event to another thread")

    def _connect(self) -> BusLink:
        with self._lock:
            if self._closed:
                raise NotifyError("the D-Bus backend is closed")
            if self._link is not None and self._link.alive:
                return self._link
            dead, self._link = self._link, None
            self._forget_all()
        if dead is not None:
            dead.close()  # its socket and jeepney's interrupt pipe: 3 fds leaked per reconnect otherwise
        link = BusLink(bus_address(self._env), self._timeout, self._on_signal)
        try:
            for rule in (
                MatchRule(type="signal", sender=BUS_NAME, interface=BUS_NAME, path=OBJECT_PATH),
                _owner_rule(),
            ):
                link.call(message_bus.AddMatch(rule))
            bus_id = str(link.call(message_bus.GetId()).body[0])
        except (NotifyError, DBusErrorResponse) as e:
            link.close()
            raise NotifyError(f"cannot subscribe to notification signals: {e}") from e
        with self._lock:
            if self._closed:
                link.close()
                raise NotifyError("the D-Bus backend is closed")
            self._link = link
            self._bus_id = bus_id
        return link

    def _server(self, link: BusLink) -> set[str]:
        """The server's capabilities; learns who it is (and its quirks) when it changed."""
        caps = set(link.call(new_method_call(NOTIFICATIONS, "GetCapabilities"), self._note_owner).body[0])
        with self._lock:
            known = self._quirks is not None
        if not known:
            info = link.call(new_method_call(NOTIFICATIONS, "GetServerInformation")).body
            with self._lock:
                self._quirks = Quirks.of(str(info[0]), str(info[1]))
        self._take_over_adopted()
        return caps

    def _take_over_adopted(self) -> None:
        with self._lock:
            server = f"{self._owner}@{self._bus_id}"
            for key, shown in self._adopted.items():
                nid = shown.get("id")
                # Same server process on the same bus, or the id may be another app's notification.
                same = shown.get("server") == server
                if same and isinstance(nid, int) and nid > 0 and key not in self._ids:
                    self._ids[key] = nid
                    self._keys[nid] = key
                    self._lasting.add(nid)
            self._adopted.clear()

    def _notify_call(
        self, message: Notification, caps: set[str], replaces: int, quirks: Quirks, no_ids: bool
    ) -> Message:
        body = escape_markup(message.body) if "body-markup" in caps else message.body
        actions: list[str] = []
        if message.actions and not no_ids:  # notices have none; nor has a server whose ids are all 0
            if "actions" not in caps:
                actions = ["default", DEFAULT_LABEL]
            elif quirks.draws_default:  # its `default` button is the Done button
                actions = ["default", LABELS["done"], "snooze", LABELS["snooze"]]
            else:
                actions = ["default", DEFAULT_LABEL, "done", LABELS["done"], "snooze", LABELS["snooze"]]
            if not message.snooze:  # the reminder's snooze_limit is used up
                actions = actions[:-2] if actions[-2:-1] == ["snooze"] else actions
        hints = {
            "urgency": ("y", URGENCY_BYTE[message.urgency]),
            "desktop-entry": ("s", "sundown"),
        }
        # The summary is plain text by the spec: escaping it would show "&amp;" on GNOME and dunst.
        args = ("sundown", replaces, "", message.title, body, actions, hints, message.expire_ms)
        return new_method_call(NOTIFICATIONS, "Notify", "susssasa{sv}i", args)

    # -- the receiver thread's side -----------------------------------------

    def _note_owner(self, reply: Message) -> None:
        sender = sender_of(reply)
        with self._lock:
            if sender != self._owner:
                self._forget_all()
                self._owner = sender

    def _remember(self, message: Notification, reply: Message) -> None:
        """Runs in the receiver thread before send() returns, so a quick click is never missed."""
        self._note_owner(reply)
        nid = reply.body[0]
        key = message.key
        with self._lock:
            old = self._ids.pop(key, None)
            if old is not None:
                self._keys.pop(old, None)
                self._lasting.discard(old)
            if nid == 0:
                # Against the spec, yet it exists: 0 cannot tell one notification from another,
                # so a click on it must not be mapped to any reminder. No buttons from now on.
                if not self._no_ids:
                    log.warning("the notification server gives every notification id 0: no buttons")
                self._no_ids = True
                return
            self._ids[key] = nid
            self._keys[nid] = key
            if message.expire_ms == 0:
                self._lasting.add(nid)

    def _forget_all(self) -> None:
        self._ids.clear()
        self._keys.clear()
        self._lasting.clear()
        self._quirks = None
        self._no_ids = False

    def _on_signal(self, msg: Message) -> None:
        fields = msg.header.fields
        member = fields.get(HeaderFields.member)
        sender = sender_of(msg)
        if fields.get(HeaderFields.interface) == "org.freedesktop.DBus":
            if member == "NameOwnerChanged" and sender == "org.freedesktop.DBus" and msg.body[0] == BUS_NAME:
                with self._lock:  # a new (or no) server: the old one's notifications are gone
                    self._forget_all()
                    self._owner = msg.body[2] or None
            return
        if fields.get(HeaderFields.interface) != BUS_NAME or fields.get(HeaderFields.path) != OBJECT_PATH:
            return
        meaning: Action | None = None
        with self._lock:
            if sender is None or sender != self._owner:
                log.warning(
                    "ignored %s from %s: not the notification server (%s)", member, sender, self._owner
                )
                return
            if member == "ActionInvoked" and len(msg.body) == 2:
                nid, action = msg.body
                meaning = ACTION_MEANING.get(action)
            elif member == "NotificationClosed" and len(msg.body) == 2:
                nid, reason = msg.body
                # mate-notification-daemon reports its × as "expired": a notification sent never
                # to expire that closes as expired was closed by the person.
                by_user = reason == CLOSED_BY_USER or (reason == EXPIRED and nid in self._lasting)
                meaning = "dismissed" if by_user else None
            else:
                return
            # Forget the id on any action too: dunst sends no NotificationClosed after one, and
            # GNOME follows an action with "closed by user", which must not count as dismissed.
            key = self._keys.pop(nid, None)
            self._lasting.discard(nid)
            if key is not None and self._ids.get(key) == nid:
                del self._ids[key]
            link = self._link
        if key is None or meaning is None:
            return
        if member == "ActionInvoked" and link is not None:
            # Acted on, so it should go; dunst leaves it on screen. Not waited for: this is the
            # thread that would read the reply. The NotificationClosed that follows is ignored.
            try:
                link.send(new_method_call(NOTIFICATIONS, "CloseNotification", "u", (nid,)))
            except OSError as e:
                log.info("could not close notification %s after its action: %s", nid, e)
        try:
            self._on_action(key, meaning)
        except Exception:
            log.exception("on_action(%r, %r) failed", key, meaning)


def _owner_rule() -> MatchRule:
    rule = MatchRule(
        type="signal",
        sender="org.freedesktop.DBus",
        interface="org.freedesktop.DBus",
        member="NameOwnerChanged",
    )
    rule.add_arg_condition(0, BUS_NAME)
    return rule


def escape_markup(text: str) -> str:
    """The body as plain text under the spec's markup (html.escape would load html5 entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
