"""The session D-Bus API: io.github.sundown.Sundown1, owned by the running daemon.

For GNOME Shell extensions, Plasma widgets and scripts (docs/dbus.md): read-only properties
(tonight's reminders, the next one, the context, the wind-down) with PropertiesChanged on each
change, and the methods Ack, Snooze, Skip, Unskip and Reload, which the daemon applies with the
command line's rules (a `Request` to its worker; the reply is sent once it is done). The
interface is described by io.github.sundown.Sundown1.xml beside this module, shipped in the
package: Introspect answers with it.

Only this user may call: the session bus admits no one else, and each caller's uid is checked
again (bus.Caller). Reads are answered from the last published snapshot in the bus thread; no
call blocks that thread. With no session bus there is no API, and no error.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from jeepney import DBusAddress, Message, new_signal

from sundown import __version__
from sundown.core.glance import glance
from sundown.core.status import Status
from sundown.errors import ConfigError, SundownError, UsageError
from sundown.runtime.surfaces import Request
from sundown.runtime.surfaces.bus import (
    DESCRIBE,
    FAILED,
    INVALID_ARGS,
    PEER,
    PROPERTIES,
    READ_ONLY,
    UNKNOWN_INTERFACE,
    UNKNOWN_METHOD,
    UNKNOWN_OBJECT,
    UNKNOWN_PROPERTY,
    BusError,
    BusSurface,
    ServiceLink,
    member,
)

log = logging.getLogger(__name__)

UTC = timezone.utc
NAME = INTERFACE = "io.github.sundown.Sundown1"
OBJECT_PATH = "/io/github/sundown/Sundown1"
XML = f"{INTERFACE}.xml"
ERROR_USAGE = f"{INTERFACE}.Error.Usage"  # the command would exit 2
ERROR_FAILED = f"{INTERFACE}.Error.Failed"  # ... 1
ERROR_CONFIG = f"{INTERFACE}.Error.Config"  # ... 78
# Each method: its input signature and how its arguments become a request.
METHODS: dict[str, tuple[str, Callable[..., Request]]] = {
    "Ack": ("s", lambda rid: Request("ack", (rid,) if rid else ())),
    "Snooze": ("ss", lambda rid, d: Request("snooze", (rid,) if rid else (), d or None)),
    "Skip": ("as", lambda ids: Request("skip", tuple(ids))),
    "Unskip": ("as", lambda ids: Request("unskip", tuple(ids))),
    "Reload": ("", lambda: Request("reload")),
}
Variant = tuple[str, Any]

DESCRIBE_XML = """  <interface name="org.freedesktop.DBus.Introspectable">
    <method name="Introspect"><arg name="xml_data" type="s" direction="out"/></method>
  </interface>
"""
STANDARD_INTERFACES = (
    DESCRIBE_XML
    + """  <interface name="org.freedesktop.DBus.Peer">
    <method name="Ping"/>
    <method name="GetMachineId"><arg name="machine_uuid" type="s" direction="out"/></method>
  </interface>
  <interface name="org.freedesktop.DBus.Properties">
    <method name="Get">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="out"/>
    </method>
    <method name="GetAll">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="props" type="a{sv}" direction="out"/>
    </method>
    <method name="Set">
      <arg name="interface_name" type="s" direction="in"/>
      <arg name="property_name" type="s" direction="in"/>
      <arg name="value" type="v" direction="in"/>
    </method>
    <signal name="PropertiesChanged">
      <arg name="interface_name" type="s"/>
      <arg name="changed_properties" type="a{sv}"/>
      <arg name="invalidated_properties" type="as"/>
    </signal>
  </interface>
"""
)
DOCTYPE = (
    '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"\n'
    ' "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">\n'
)


def interface_xml() -> str:
    """The shipped description of the interface (the file a test holds the live object to). Read
    when asked: importlib.resources (tempfile, random, shutil with it) stays out of an idle daemon."""
    from importlib.resources import files

    return files("sundown.runtime.surfaces").joinpath(XML).read_text(encoding="utf-8")


def introspection(path: str) -> str:
    """What Introspect answers at `path`: the object, or the way down to it."""
    if path == OBJECT_PATH:
        shipped = interface_xml()
        ours = shipped[shipped.index("  <interface") : shipped.index("</node>")]
        return f"{DOCTYPE}<node>\n{STANDARD_INTERFACES}{ours}</node>\n"
    prefix = path.rstrip("/") + "/"
    if OBJECT_PATH.startswith(prefix):
        child = OBJECT_PATH[len(prefix) :].split("/")[0]
        return f'{DOCTYPE}<node>\n{DESCRIBE_XML}  <node name="{child}"/>\n</node>\n'
    return f"{DOCTYPE}<node/>\n"


def _row(row: Mapping[str, Any]) -> dict[str, Variant]:
    return {
        "id": ("s", str(row["reminder"])),
        "title": ("s", str(row["title"])),
        "night": ("s", str(row["night"])),
        "at": ("x", int(datetime.fromisoformat(str(row["at"])).timestamp())),
        "state": ("s", str(row["state"])),
    }


def _instant(text: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(text)).timestamp())
    except ValueError:
        return None


def properties(status: Status, now: datetime) -> dict[str, Variant]:
    """Every property's (signature, value) for this snapshot."""
    from sundown.config.values import load_zone

    data = status.to_json()
    context = data.get("context") or {}
    zone = load_zone(str(context.get("zone") or "")) or UTC
    seen = glance(data, now, zone)
    rows = sorted(data.get("tonight") or [], key=lambda r: datetime.fromisoformat(str(r["at"])).timestamp())
    ctx: dict[str, Variant] = {
        key: ("b", bool(context[key]))
        for key in ("dnd", "presenting", "fullscreen", "locked")
        if context.get(key) is not None
    }
    if context.get("zone"):
        ctx["zone"] = ("s", str(context["zone"]))
    winddown: dict[str, Variant] = {"active": ("b", False)}
    found = data.get("winddown")
    if isinstance(found, Mapping) and found.get("active"):
        winddown["active"] = ("b", True)
        for key in ("since", "until"):
            at = _instant(found.get(key)) if found.get(key) else None
            if at is not None:
                winddown[key] = ("x", at)
        effects = found.get("effects")
        if isinstance(effects, Mapping):
            winddown["effects"] = ("a{ss}", {str(k): str(v) for k, v in effects.items()})
    return {
        "Version": ("s", __version__),
        "Night": ("s", str(data.get("night") or "")),
        "State": ("s", seen.state),
        "Summary": ("s", seen.label),
        "Reminders": ("aa{sv}", [_row(r) for r in rows]),
        "NextReminder": ("a{sv}", _row(seen.next_reminder) if seen.next_reminder else {}),
        "Context": ("a{sv}", ctx),
        "WindDown": ("a{sv}", winddown),
    }


def error_of(exc: BaseException) -> tuple[str, str]:
    """A refusal as the D-Bus error a caller sees: the same message the command line prints."""
    if isinstance(exc, ConfigError):
        return ERROR_CONFIG, "\n".join(exc.problems)
    if isinstance(exc, UsageError):
        return ERROR_USAGE, str(exc)
    if isinstance(exc, SundownError):
        return ERROR_FAILED, str(exc)
    if isinstance(exc, concurrent.futures.TimeoutError):
        return FAILED, "the daemon is busy; try again"
    return FAILED, f"{type(exc).__name__}: {exc}"


class DBusApi(BusSurface):
    """io.github.sundown.Sundown1 on the session bus; a surface (see runtime.surfaces)."""

    name = "dbus"
    _props: Mapping[str, Variant] = MappingProxyType({})  # as last published: replaced, never changed

    def start(self) -> None:
        """Own the name on the session bus; without a bus (or with the name taken) there is no API."""
        problem = self._connect("sundown-dbus-api")
        if problem is not None:
            log.info("no D-Bus API: %s", problem)
        # The name is taken at the first `publish`: whoever sees it owned can read every property.

    def _own(self, link: ServiceLink) -> None:
        try:
            owned = link.own(NAME)
        except BusError as exc:
            log.warning("no D-Bus API: could not take the name %s: %s", NAME, exc)
            owned = False
        if not owned:
            log.warning("no D-Bus API: %s is taken by another program on the session bus", NAME)
            self.close()
            return
        log.info("D-Bus API on the session bus as %s", NAME)

    def publish(self, status: Status) -> None:
        props = properties(status, self._clock())
        with self._lock:
            changed = {k: v for k, v in props.items() if self._props.get(k) != v}
            first = not self._props
            self._props = props
        link = self.link
        if link is not None and first:
            self._own(link)
            return
        if link is None or not changed:
            return
        emitter = DBusAddress(OBJECT_PATH, interface=PROPERTIES)
        link.send(new_signal(emitter, "PropertiesChanged", "sa{sv}as", (INTERFACE, changed, [])))

    # -- the bus thread ---------------------------------------------------------------------

    def _respond(self, link: ServiceLink, call: Message, signature: str) -> None:
        path, interface, name = member(call)
        if interface == DESCRIBE and name == "Introspect":
            link.reply(call, "s", (introspection(str(path)),))
        elif path != OBJECT_PATH:
            link.error(call, UNKNOWN_OBJECT, f"no object at {path}")
        elif interface == PEER and name == "Ping":
            link.reply(call)
        elif interface == PEER and name == "GetMachineId":
            link.reply(call, "s", (_machine_id(),))
        elif interface == PROPERTIES:
            self._properties(call, str(name), signature)
        elif interface in (INTERFACE, None) and name in METHODS:
            want, request = METHODS[str(name)]
            if signature != want:
                link.error(call, INVALID_ARGS, f"{name} takes ({want}), not ({signature})")
                return
            self._request(call, request(*call.body))
        elif interface not in (INTERFACE, None):
            link.error(call, UNKNOWN_INTERFACE, f"no interface {interface}")
        else:
            link.error(call, UNKNOWN_METHOD, f"no method {name}")

    def _properties(self, call: Message, name: str, signature: str) -> None:
        link = self.link
        assert link is not None
        with self._lock:
            props = dict(self._props)
        if name == "Set":
            link.error(call, READ_ONLY, "the properties of sundown are read-only; call its methods")
        elif name == "GetAll" and signature == "s":
            if call.body[0] not in (INTERFACE, ""):
                link.reply(call, "a{sv}", ({},))
            else:
                link.reply(call, "a{sv}", (props,))
        elif name == "Get" and signature == "ss":
            interface, prop = call.body
            if interface not in (INTERFACE, ""):
                link.error(call, UNKNOWN_INTERFACE, f"no interface {interface}")
            elif prop not in props:
                link.error(call, UNKNOWN_PROPERTY, f"no property {prop}")
            else:
                link.reply(call, "v", (props[prop],))
        else:
            link.error(call, INVALID_ARGS, f"{name}({signature}) is not a call of {PROPERTIES}")

    def _request(self, call: Message, request: Request) -> None:
        try:
            future = self._act(request)
        except Exception as exc:  # the daemon is stopping
            self._answer(call, None, exc)
            return

        def done(f: concurrent.futures.Future[str]) -> None:
            if f.cancelled():
                self._answer(call, None, SundownError("the daemon is stopping"))
                return
            exc = f.exception()
            self._answer(call, None if exc is not None else f.result(), exc)

        future.add_done_callback(done)

    def _answer(self, call: Message, message: str | None, exc: BaseException | None) -> None:
        link = self.link
        if link is None:
            return
        if exc is None:
            link.reply(call, "s", (message or "",))
            return
        if not isinstance(exc, SundownError):
            log.error("a D-Bus call failed", exc_info=exc)
        name, text = error_of(exc)
        link.error(call, name, text)


def _machine_id() -> str:
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii") as f:
                return f.read().strip()
        except OSError:
            continue
    return ""
