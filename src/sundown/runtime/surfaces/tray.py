"""The tray icon: a StatusNotifierItem with a com.canonical.dbusmenu menu, where a tray runs.

Desktops with a tray (KDE Plasma, XFCE's status tray, waybar's tray, GNOME with the
AppIndicator extension, ...) run a StatusNotifierWatcher on the session bus; sundown registers
its item there. The icon shows the state (idle, a reminder waiting, the wind-down), the tooltip
the next reminder, and the menu has Done, Snooze, Skip tonight and Open today's report, which
go to the daemon as the command line's requests (source `tray`). Without a watcher nothing
is shown and nothing is said; when a tray starts later (or restarts), the item registers with
it then. `[notify] tray = false` turns it off. Nothing wakes up while nothing changes: the bus
thread blocks on its socket.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from jeepney import DBusAddress, MatchRule, Message, MessageType, new_method_call, new_signal
from jeepney.bus_messages import message_bus

from sundown.core.glance import PENDING, glance
from sundown.core.status import Status
from sundown.runtime.surfaces import Request
from sundown.runtime.surfaces.bus import (
    DESCRIBE,
    INVALID_ARGS,
    PROPERTIES,
    READ_ONLY,
    UNKNOWN_METHOD,
    UNKNOWN_OBJECT,
    BusError,
    BusSurface,
    ServiceLink,
    member,
    sender,
)

log = logging.getLogger(__name__)

UTC = timezone.utc
WATCHER = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
ITEM = "org.kde.StatusNotifierItem"
ITEM_PATH = "/StatusNotifierItem"
MENU = "com.canonical.dbusmenu"
MENU_PATH = "/MenuBar"
# Freedesktop icon names every common theme has (Adwaita, Breeze, Papirus).
ICONS = {"idle": "weather-clear-night", "pending": "appointment-soon", "winddown": "night-light-symbolic"}
# The menu: id -> (label, what a click asks of the daemon). 4 is a separator.
DONE, SNOOZE, SKIP, SEPARATOR, REPORT = 1, 2, 3, 4, 5
CLICKS: dict[int, Request] = {
    DONE: Request("ack"),
    SNOOZE: Request("snooze"),
    SKIP: Request("skip"),
    REPORT: Request("report"),
}
Variant = tuple[str, Any]


def look(status: Status, now: datetime) -> dict[str, Any]:
    """What the tray shows for a snapshot: icon, status, tooltip and the menu's items."""
    from sundown.config.values import load_zone

    data = status.to_json()
    context = data.get("context") or {}
    zone = load_zone(str(context.get("zone") or "")) or UTC
    seen = glance(data, now, zone)
    waiting = seen.state == PENDING
    icon = ICONS["pending"] if waiting else ICONS["winddown"] if "winddown" in seen.classes else ICONS["idle"]
    title = seen.next_reminder["title"] if waiting and seen.next_reminder else None
    rows = data.get("tonight") or []
    all_skipped = bool(rows) and all(r["state"] in ("skipped", "acknowledged", "missed") for r in rows)
    return {
        "icon": icon,
        "status": "NeedsAttention" if waiting else "Active",
        "tooltip": (seen.label, "\n".join(seen.tooltip.splitlines()[1:])),
        "items": {
            DONE: {"label": f"Done: {title}" if title else "Done", "enabled": waiting},
            SNOOZE: {"label": f"Snooze: {title}" if title else "Snooze", "enabled": waiting},
            SKIP: {"label": "Skip tonight", "enabled": not all_skipped},
            SEPARATOR: {"type": "separator"},
            REPORT: {"label": "Open today's report", "enabled": True},
        },
    }


def _variants(props: Mapping[str, Any]) -> dict[str, Variant]:
    out: dict[str, Variant] = {}
    for key, value in props.items():
        out[key] = ("b", value) if isinstance(value, bool) else ("s", str(value))
    return out


class Tray(BusSurface):
    """The tray icon; a surface (see runtime.surfaces)."""

    name = "tray"
    # Replaced, never changed in place: what it shows as last published, and the menu's revision.
    _look: dict[str, Any] | None = None
    _revision = 1
    registered_with: str | None = None  # the watcher's unique name once registered

    @property
    def bus_name(self) -> str:
        return f"{ITEM}-{os.getpid()}-1"

    # -- the surface -------------------------------------------------------------------------

    def start(self) -> None:
        problem = self._connect("sundown-tray", self._on_signal)
        link = self.link
        if link is None:
            log.debug("no tray: %s", problem)
            return
        try:
            rule = MatchRule(
                type="signal", sender="org.freedesktop.DBus", interface="org.freedesktop.DBus",
                member="NameOwnerChanged",
            )  # fmt: skip
            rule.add_arg_condition(0, WATCHER)
            link.call(message_bus.AddMatch(rule))
            if not link.own(self.bus_name):
                raise BusError(f"{self.bus_name} is taken")
            watcher = link.call(message_bus.NameHasOwner(WATCHER)).body[0]
        except BusError as exc:
            log.info("no tray icon: %s", exc)
            self.close()
            return
        if watcher:
            self._register()

    def publish(self, status: Status) -> None:
        new = look(status, self._clock())
        with self._lock:
            old, self._look = self._look, new
            if old is not None and old != new:
                self._revision += 1
            revision = self._revision
        link = self.link
        if link is None or old is None or old == new:
            return
        item = DBusAddress(ITEM_PATH, interface=ITEM)
        if new["icon"] != old["icon"]:
            link.send(new_signal(item, "NewIcon"))
            link.send(new_signal(item, "NewAttentionIcon"))
        if new["status"] != old["status"]:
            link.send(new_signal(item, "NewStatus", "s", (new["status"],)))
        if new["tooltip"] != old["tooltip"]:
            link.send(new_signal(item, "NewToolTip"))
        if new["items"] != old["items"]:
            menu = DBusAddress(MENU_PATH, interface=MENU)
            updated = [(i, _variants(p)) for i, p in new["items"].items() if p != old["items"].get(i)]
            link.send(new_signal(menu, "ItemsPropertiesUpdated", "a(ia{sv})a(ias)", (updated, [])))
            link.send(new_signal(menu, "LayoutUpdated", "ui", (revision, 0)))

    def close(self) -> None:
        super().close()
        self.registered_with = None

    # -- registering with the tray ------------------------------------------------------------

    def _register(self) -> None:
        """Tell the watcher about the item (from any thread: the reply is not waited for)."""
        link = self.link
        if link is None:
            return
        call = new_method_call(
            DBusAddress(WATCHER_PATH, bus_name=WATCHER, interface=WATCHER), "RegisterStatusNotifierItem", "s",
            (self.bus_name,),
        )  # fmt: skip

        def registered(reply: Message | None) -> None:
            if reply is not None and reply.header.message_type is MessageType.method_return:
                self.registered_with = sender(reply)
                log.info("tray icon shown (StatusNotifierWatcher %s)", self.registered_with)
            else:
                log.info(
                    "the tray did not take the icon: %s", reply.body if reply is not None else "bus gone"
                )

        link.call_async(call, registered)

    def _on_signal(self, msg: Message) -> None:
        path, interface, name = member(msg)
        if (interface, name) != ("org.freedesktop.DBus", "NameOwnerChanged") or sender(
            msg
        ) != "org.freedesktop.DBus":
            return
        watched, _old, new = msg.body
        if watched != WATCHER:
            return
        self.registered_with = None
        if new:  # a tray started (or restarted): show the icon there
            self._register()

    # -- answering the tray -------------------------------------------------------------------

    def _respond(self, link: ServiceLink, call: Message, signature: str) -> None:
        path, interface, name = member(call)
        with self._lock:
            shown = self._look
            revision = self._revision
        if shown is None:
            shown = look(Status(True, None, None, None, None, None, None, ""), self._clock())
        if interface == DESCRIBE and name == "Introspect":
            link.reply(call, "s", (_introspection(str(path)),))
        elif path == ITEM_PATH and interface == PROPERTIES:
            self._properties(call, str(name), signature, _item_properties(shown), ITEM)
        elif path == ITEM_PATH and name in ("Activate", "SecondaryActivate", "ContextMenu", "Scroll"):
            link.reply(call)  # the menu is the item (ItemIsMenu): a click opens it, nothing else
        elif path == MENU_PATH and interface == PROPERTIES:
            self._properties(call, str(name), signature, MENU_PROPERTIES, MENU)
        elif path == MENU_PATH:
            self._menu(call, str(name), signature, shown, revision)
        elif path not in (ITEM_PATH, MENU_PATH):
            link.error(call, UNKNOWN_OBJECT, f"no object at {path}")
        else:
            link.error(call, UNKNOWN_METHOD, f"no method {name}")

    def _properties(
        self, call: Message, name: str, signature: str, props: Mapping[str, Variant], interface: str
    ) -> None:
        link = self.link
        assert link is not None
        if name == "GetAll" and signature == "s":
            link.reply(call, "a{sv}", (dict(props) if call.body[0] in (interface, "") else {},))
        elif name == "Get" and signature == "ss" and call.body[1] in props:
            link.reply(call, "v", (props[call.body[1]],))
        elif name == "Set":
            link.error(call, READ_ONLY, "read-only")
        else:
            link.error(call, INVALID_ARGS, f"{name}({signature})")

    def _menu(
        self, call: Message, name: str, signature: str, shown: Mapping[str, Any], revision: int
    ) -> None:
        link = self.link
        assert link is not None
        items: dict[int, dict[str, Any]] = shown["items"]
        if name == "GetLayout" and signature == "iias":
            parent = call.body[0]
            if parent not in (0, *items):
                link.error(call, INVALID_ARGS, f"no menu item {parent}")
                return
            children: list[Variant] = (
                [("(ia{sv}av)", (i, _variants(p), [])) for i, p in items.items()] if parent == 0 else []
            )
            root_props = {"children-display": ("s", "submenu")} if parent == 0 else _variants(items[parent])
            link.reply(call, "u(ia{sv}av)", (revision, (parent, root_props, children)))
        elif name == "GetGroupProperties" and signature == "aias":
            wanted = call.body[0] or list(items)
            link.reply(call, "a(ia{sv})", ([(i, _variants(items[i])) for i in wanted if i in items],))
        elif name == "GetProperty" and signature == "is" and call.body[0] in items:
            props = _variants(items[call.body[0]])
            if call.body[1] in props:
                link.reply(call, "v", (props[call.body[1]],))
            else:
                link.error(call, INVALID_ARGS, f"no property {call.body[1]}")
        elif name == "Event" and signature == "isvu":
            link.reply(call)
            self._event(call.body[0], call.body[1], items)
        elif name == "EventGroup" and signature == "a(isvu)":
            errors = [e[0] for e in call.body[0] if e[0] not in items]
            link.reply(call, "ai", (errors,))
            for item_id, event, _data, _ts in call.body[0]:
                self._event(item_id, event, items)
        elif name == "AboutToShow" and signature == "i":
            link.reply(call, "b", (False,))
        elif name == "AboutToShowGroup" and signature == "ai":
            link.reply(call, "aiai", ([], [i for i in call.body[0] if i not in (0, *items)]))
        else:
            link.error(call, UNKNOWN_METHOD, f"no method {name}({signature})")

    def _event(self, item_id: int, event: str, items: Mapping[int, Mapping[str, Any]]) -> None:
        request = CLICKS.get(item_id)
        if event != "clicked" or request is None or not items.get(item_id, {}).get("enabled"):
            return
        try:
            future = self._act(request)
        except Exception as exc:  # the daemon is stopping
            log.info("tray: %s not done: %s", request.verb, exc)
            return

        def done(f: Any) -> None:
            exc = None if f.cancelled() else f.exception()
            if exc is not None:
                log.info("tray: %s: %s", request.verb, exc)

        future.add_done_callback(done)


MENU_PROPERTIES: dict[str, Variant] = {
    "Version": ("u", 3),
    "TextDirection": ("s", "ltr"),
    "Status": ("s", "normal"),
    "IconThemePath": ("as", []),
}


def _item_properties(shown: Mapping[str, Any]) -> dict[str, Variant]:
    title, body = shown["tooltip"]
    return {
        "Category": ("s", "ApplicationStatus"),
        "Id": ("s", "sundown"),
        "Title": ("s", "sundown"),
        "Status": ("s", shown["status"]),
        "WindowId": ("i", 0),
        "IconName": ("s", shown["icon"]),
        "IconPixmap": ("a(iiay)", []),
        "OverlayIconName": ("s", ""),
        "OverlayIconPixmap": ("a(iiay)", []),
        "AttentionIconName": ("s", ICONS["pending"]),
        "AttentionIconPixmap": ("a(iiay)", []),
        "AttentionMovieName": ("s", ""),
        "ToolTip": ("(sa(iiay)ss)", (shown["icon"], [], title, body)),
        "ItemIsMenu": ("b", True),
        "Menu": ("o", MENU_PATH),
        "IconThemePath": ("s", ""),
    }


ITEM_XML = """  <interface name="org.kde.StatusNotifierItem">
    <property name="Category" type="s" access="read"/>
    <property name="Id" type="s" access="read"/>
    <property name="Title" type="s" access="read"/>
    <property name="Status" type="s" access="read"/>
    <property name="WindowId" type="i" access="read"/>
    <property name="IconName" type="s" access="read"/>
    <property name="IconPixmap" type="a(iiay)" access="read"/>
    <property name="OverlayIconName" type="s" access="read"/>
    <property name="OverlayIconPixmap" type="a(iiay)" access="read"/>
    <property name="AttentionIconName" type="s" access="read"/>
    <property name="AttentionIconPixmap" type="a(iiay)" access="read"/>
    <property name="AttentionMovieName" type="s" access="read"/>
    <property name="ToolTip" type="(sa(iiay)ss)" access="read"/>
    <property name="ItemIsMenu" type="b" access="read"/>
    <property name="Menu" type="o" access="read"/>
    <property name="IconThemePath" type="s" access="read"/>
    <method name="ContextMenu">
      <arg name="x" type="i" direction="in"/><arg name="y" type="i" direction="in"/>
    </method>
    <method name="Activate">
      <arg name="x" type="i" direction="in"/><arg name="y" type="i" direction="in"/>
    </method>
    <method name="SecondaryActivate">
      <arg name="x" type="i" direction="in"/><arg name="y" type="i" direction="in"/>
    </method>
    <method name="Scroll">
      <arg name="delta" type="i" direction="in"/><arg name="orientation" type="s" direction="in"/>
    </method>
    <signal name="NewTitle"/>
    <signal name="NewIcon"/>
    <signal name="NewAttentionIcon"/>
    <signal name="NewOverlayIcon"/>
    <signal name="NewToolTip"/>
    <signal name="NewStatus"><arg name="status" type="s"/></signal>
  </interface>
"""
MENU_XML = """  <interface name="com.canonical.dbusmenu">
    <property name="Version" type="u" access="read"/>
    <property name="TextDirection" type="s" access="read"/>
    <property name="Status" type="s" access="read"/>
    <property name="IconThemePath" type="as" access="read"/>
    <method name="GetLayout">
      <arg type="i" name="parentId" direction="in"/><arg type="i" name="recursionDepth" direction="in"/>
      <arg type="as" name="propertyNames" direction="in"/>
      <arg type="u" name="revision" direction="out"/><arg type="(ia{sv}av)" name="layout" direction="out"/>
    </method>
    <method name="GetGroupProperties">
      <arg type="ai" name="ids" direction="in"/><arg type="as" name="propertyNames" direction="in"/>
      <arg type="a(ia{sv})" name="properties" direction="out"/>
    </method>
    <method name="GetProperty">
      <arg type="i" name="id" direction="in"/><arg type="s" name="name" direction="in"/>
      <arg type="v" name="value" direction="out"/>
    </method>
    <method name="Event">
      <arg type="i" name="id" direction="in"/><arg type="s" name="eventId" direction="in"/>
      <arg type="v" name="data" direction="in"/><arg type="u" name="timestamp" direction="in"/>
    </method>
    <method name="EventGroup">
      <arg type="a(isvu)" name="events" direction="in"/><arg type="ai" name="idErrors" direction="out"/>
    </method>
    <method name="AboutToShow">
      <arg type="i" name="id" direction="in"/><arg type="b" name="needUpdate" direction="out"/>
    </method>
    <method name="AboutToShowGroup">
      <arg type="ai" name="ids" direction="in"/><arg type="ai" name="updatesNeeded" direction="out"/>
      <arg type="ai" name="idErrors" direction="out"/>
    </method>
    <signal name="ItemsPropertiesUpdated">
      <arg type="a(ia{sv})" name="updatedProps"/><arg type="a(ias)" name="removedProps"/>
    </signal>
    <signal name="LayoutUpdated"><arg type="u" name="revision"/><arg type="i" name="parent"/></signal>
    <signal name="ItemActivationRequested"><arg type="i" name="id"/><arg type="u" name="timestamp"/></signal>
  </interface>
"""


def _introspection(path: str) -> str:
    from sundown.runtime.surfaces.dbus_api import DOCTYPE, STANDARD_INTERFACES

    body = {ITEM_PATH: ITEM_XML, MENU_PATH: MENU_XML}.get(path)
    if body is None:
        children = (
            "".join(f'  <node name="{p.strip("/")}"/>\n' for p in (ITEM_PATH, MENU_PATH))
            if path == "/"
            else ""
        )
        return f"{DOCTYPE}<node>\n{children}</node>\n"
    return f"{DOCTYPE}<node>\n{STANDARD_INTERFACES}{body}</node>\n"
