"""Detectors of the person's context: what the desktop says about busy, away and the zone.

Each source is optional. Signal sources (D-Bus properties and signals) keep a value
up to date in a receiver thread and call `on_change` when it changes, so nothing
polls. Sources that can only be asked (X11 idle time and the active window, the
ScreenSaver idle time, logind's inhibitors) are asked from the daemon's worker
when it takes a `snapshot`, which it does only when a reminder is due or waits on
the answer. A source that is missing, answers with the wrong type or floods us
with signals is dropped or ignored; the daemon then carries on by the clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sundown.core.context import Context

log = logging.getLogger(__name__)

UTC = timezone.utc
PROPS = "org.freedesktop.DBus.Properties"
NOTIFY_NAME, NOTIFY_PATH = "org.freedesktop.Notifications", "/org/freedesktop/Notifications"
DUNST_IFACE = "org.dunstproject.cmd0"
XFCONF = ("org.xfce.Xfconf", "/org/xfce/Xfconf", "org.xfce.Xfconf")
GNOME_SM = ("org.gnome.SessionManager", "/org/gnome/SessionManager", "org.gnome.SessionManager")
GSM_INHIBIT_IDLE = 8
SCREENSAVERS = (
    ("org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver"),
    ("org.gnome.ScreenSaver", "/org/gnome/ScreenSaver", "org.gnome.ScreenSaver"),
)
MUTTER_IDLE = (
    "org.gnome.Mutter.IdleMonitor",
    "/org/gnome/Mutter/IdleMonitor/Core",
    "org.gnome.Mutter.IdleMonitor",
)
LOGIN1 = "org.freedesktop.login1"
DCONF = ("ca.desrt.dconf", "/ca/desrt/dconf/Writer/user", "ca.desrt.dconf.Writer")
BANNERS = ("org.gnome.desktop.notifications", "show-banners")
TIMEDATE = ("org.freedesktop.timedate1", "/org/freedesktop/timedate1", "org.freedesktop.timedate1")
CALL_TIMEOUT_S = 1.0
BUS = ("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus")
GNOME_SHELL = "org.gnome.Shell"
GET_SESSION_IDLE_TIME = "org.freedesktop.ScreenSaver.GetSessionIdleTime"
# Idle time is asked of these first, in this order (they measure input directly), logind's hint after.
IDLE_ASKERS = ("Mutter IdleMonitor", GET_SESSION_IDLE_TIME, "X11 MIT-SCREEN-SAVER")
# What each session-bus service tells, as (capability, key in that capability's table, source).
# A service that quits is forgotten, and one that starts later (or again) is looked at then.
SESSION_SERVICES: dict[str, tuple[tuple[str, str, str], ...]] = {
    NOTIFY_NAME: (
        ("dnd", "inhibited", "notification server Inhibited"),
        ("dnd", "dunst", "dunst paused"),
    ),
    XFCONF[0]: (("dnd", "xfce", "xfce4-notifyd do-not-disturb"),),
    GNOME_SHELL: (("dnd", "gnome", "GNOME show-banners"),),
    GNOME_SM[0]: (("presenting", "gnome", "GNOME SessionManager InhibitedActions"),),
    SCREENSAVERS[0][0]: (
        ("locked", SCREENSAVERS[0][0], f"{SCREENSAVERS[0][0]} ActiveChanged"),
        ("idle", "", GET_SESSION_IDLE_TIME),
    ),
    SCREENSAVERS[1][0]: (("locked", SCREENSAVERS[1][0], f"{SCREENSAVERS[1][0]} ActiveChanged"),),
    MUTTER_IDLE[0]: (("idle", "", "Mutter IdleMonitor"),),
}
VARIANT_SIGNATURES = frozenset({"b", "s", "u", "i", "x", "t", "v", "o", "as", "(so)"})


class _Bus:
    """One bus connection with a receiver thread; signals go to `on_signal` (in that thread)."""

    def __init__(self, address: str, on_signal: Callable[[Any], None]) -> None:
        from sundown.notify.dbus import _Link

        self.link = _Link(address, CALL_TIMEOUT_S, on_signal)

    def call(self, dest: str, path: str, iface: str, member: str, sig: str = "", *args: Any) -> tuple:
        from jeepney import DBusAddress, new_method_call

        msg = new_method_call(DBusAddress(path, dest, iface), member, sig or None, args if sig else None)
        return tuple(self.link.call(msg).body)

    def get(self, dest: str, path: str, iface: str, prop: str) -> Any:
        value = self.call(dest, path, PROPS, "Get", "ss", iface, prop)[0]
        return value[1] if isinstance(value, tuple) and len(value) == 2 else value

    def match(self, arg0: str | None = None, **rule: str) -> None:
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus

        match = MatchRule(type="signal", **rule)
        if arg0 is not None:
            match.add_arg_condition(0, arg0)
        self.link.call(message_bus.AddMatch(match))

    def close(self) -> None:
        self.link.close()


def _try(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception as exc:  # any missing service, error reply or wrong answer: no such source
        log.debug("context: no %s (%s)", what, exc)
        return None


def _member(msg: Any) -> str | None:
    from jeepney import HeaderFields

    return msg.header.fields.get(HeaderFields.member)


def _path(msg: Any) -> str | None:
    from jeepney import HeaderFields

    return msg.header.fields.get(HeaderFields.path)


class ContextWatch:
    """What the session offers about the person, kept current by signals; `snapshot()` asks the rest."""

    def __init__(
        self,
        env: Mapping[str, str],
        on_change: Callable[[str], None],
        on_zone: Callable[[str | None], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        idle_after: timedelta | None = None,
    ) -> None:
        self.env = dict(env)
        self.on_change = on_change
        self.on_zone = on_zone
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self.dnd: dict[str, bool] = {}  # source name -> inhibited
        self.presenting: dict[str, bool] = {}
        self.locked: dict[str, bool] = {}
        self.locked_at: datetime | None = None
        self.last_locked: datetime | None = None  # the last time a source said "locked"
        self._banners_dirty = False  # GNOME's show-banners changed: read it again
        self._idle_dirty = False  # logind's IdleHint changed: read IdleSinceHint again
        self.logind_idle_since: datetime | None = None
        self.logind_idle: bool | None = None
        self.sources: dict[str, list[str]] = {
            c: [] for c in ("dnd", "presenting", "fullscreen", "idle", "locked", "zone")
        }
        self.problems: dict[str, str] = {}
        self.session: _Bus | None = None
        self.system: _Bus | None = None
        self.session_path: str | None = None
        self.x11: X11 | None = None
        self._idle_askers: list[tuple[str, Callable[[], timedelta | None]]] = []
        self._matched: set[tuple[tuple[str, str], ...]] = set()  # match rules already added
        # service -> (it quit, it runs now): what the worker has yet to act on; a restart flood is one entry
        self._owners_changed: dict[str, tuple[bool, bool]] = {}
        # Mutter's IdleMonitor watches (GNOME): idle after `idle_after`, and back, as signals.
        self._idle_after = idle_after
        self._mutter_idle_watch: int | None = None
        self._mutter_active_watch: int | None = None
        self._arm_active = False  # the idle watch fired: the worker arms the one-shot active watch
        self._start_session_bus()
        self._start_system_bus()
        self._start_x11()
        self._order_idle_sources()

    # -- start-up: find what the session offers ---------------------------------------------------

    def _start_session_bus(self) -> None:
        from sundown.notify.bus import bus_address

        try:
            self.session = _Bus(bus_address(self.env), self._on_session_signal)
        except Exception as exc:
            self.problems["session bus"] = str(exc)
            return
        bus = self.session
        for service in SESSION_SERVICES:
            self._look_at(service)
            # Told when it starts, restarts or quits (one rule per name: no other bus traffic wakes us).
            self._match(bus, sender=BUS[0], interface=BUS[2], member="NameOwnerChanged", arg0=service)

    def _look_at(self, service: str) -> None:
        """Ask `service` on the session bus what it offers (at start, and again when it starts)."""
        bus = self.session
        if bus is None:
            return
        if service == NOTIFY_NAME:
            inhibited = _try("Inhibited", lambda: bus.get(NOTIFY_NAME, NOTIFY_PATH, NOTIFY_NAME, "Inhibited"))
            if isinstance(inhibited, bool):
                self._found("dnd", "notification server Inhibited")
                self.dnd["inhibited"] = inhibited
            paused = _try("dunst paused", lambda: bus.get(NOTIFY_NAME, NOTIFY_PATH, DUNST_IFACE, "paused"))
            if isinstance(paused, bool):
                self._found("dnd", "dunst paused")
                self.dnd["dunst"] = paused
            if "inhibited" in self.dnd or "dunst" in self.dnd:
                self._match(bus, sender=NOTIFY_NAME, path=NOTIFY_PATH, interface=PROPS)
        elif service == XFCONF[0]:
            xfce = _try(
                "xfce4-notifyd",
                lambda: bus.call(*XFCONF, "GetProperty", "ss", "xfce4-notifyd", "/do-not-disturb"),
            )
            value = (xfce[0][1] if isinstance(xfce[0], tuple) else xfce[0]) if xfce else None
            if isinstance(value, bool):
                self._found("dnd", "xfce4-notifyd do-not-disturb")
                self.dnd["xfce"] = value
                self._match(bus, sender=XFCONF[0], interface=XFCONF[2], member="PropertyChanged")
        elif service == GNOME_SHELL:
            self._start_gnome_banners(bus)
        elif service == GNOME_SM[0]:
            actions = _try("GNOME SessionManager", lambda: bus.get(*GNOME_SM, "InhibitedActions"))
            if isinstance(actions, int) and not isinstance(actions, bool):
                self._found("presenting", "GNOME SessionManager InhibitedActions")
                self.presenting["gnome"] = bool(actions & GSM_INHIBIT_IDLE)
                self._match(bus, sender=GNOME_SM[0], path=GNOME_SM[1])
        elif service == MUTTER_IDLE[0]:
            mutter = _try("Mutter IdleMonitor", lambda: bus.call(*MUTTER_IDLE, "GetIdletime")[0])
            if isinstance(mutter, int) and not isinstance(mutter, bool):
                self._add_idle_asker("Mutter IdleMonitor", lambda: self._ask_ms(*MUTTER_IDLE, "GetIdletime"))
                self._mutter_idle_watch = self._mutter_active_watch = None  # a new Mutter: none of ours
                if self._idle_after is not None:
                    self.watch_idle(self._idle_after, idle_now=timedelta(milliseconds=mutter))
        for name, path, iface in SCREENSAVERS:
            if service == name:
                self._screensaver(bus, name, path, iface)
        if service == SCREENSAVERS[0][0]:
            name, path, iface = SCREENSAVERS[0]
            idle_s = _try("GetSessionIdleTime", lambda: bus.call(name, path, iface, "GetSessionIdleTime")[0])
            if isinstance(idle_s, int) and not isinstance(idle_s, bool):
                self._add_idle_asker(GET_SESSION_IDLE_TIME, lambda: self._ask_s(name, path, iface))

    def _match(self, bus: _Bus, **rule: str) -> None:
        """Add a match rule once (a service looked at again must not add its rules again)."""
        key = tuple(sorted(rule.items()))
        if key in self._matched:
            return
        try:
            bus.match(**rule)
        except Exception as exc:  # as _try: a bus that refuses the rule leaves the source unwatched
            log.debug("context: no match %s (%s)", rule, exc)
            return
        self._matched.add(key)

    def watch_idle(self, after: timedelta, idle_now: timedelta | None = None) -> None:
        """Ask Mutter to say when the session has been idle for `after`, and when it is back
        (from the worker: at start, when Mutter starts, when `context.idle` changes). Where it
        does, idle is known by signals (`idle_signalled`); the one-shot "back" watch is armed
        only while idle, so input at the screen never wakes the daemon."""
        self._idle_after = after
        bus = self.session
        if bus is None or not any(name == "Mutter IdleMonitor" for name, _ in self._idle_askers):
            return
        old = self._mutter_idle_watch
        if old is not None:
            _try("RemoveWatch", lambda: bus.call(*MUTTER_IDLE, "RemoveWatch", "u", old))
        ms = max(int(after.total_seconds() * 1000), 1)
        watch = _try("AddIdleWatch", lambda: bus.call(*MUTTER_IDLE, "AddIdleWatch", "t", ms)[0])
        if not isinstance(watch, int) or isinstance(watch, bool):
            self._mutter_idle_watch = None
            return
        self._match(
            bus, sender=MUTTER_IDLE[0], path=MUTTER_IDLE[1], interface=MUTTER_IDLE[2], member="WatchFired"
        )
        self._mutter_idle_watch = watch
        if idle_now is not None and idle_now >= after:
            self._arm_active = True

    def idle_signalled(self) -> bool:
        """Idle comes by signals here (Mutter's watches), not only by asking: no need to poll it."""
        return (
            self._mutter_idle_watch is not None
            and bool(self._idle_askers)
            and (self._idle_askers[0][0] == "Mutter IdleMonitor")
        )

    def _arm_active_watch(self) -> None:
        """In the worker: after the idle watch fired, be told of the next input (once)."""
        self._arm_active = False
        bus = self.session
        if bus is None or self._mutter_idle_watch is None or self._mutter_active_watch is not None:
            return
        watch = _try("AddUserActiveWatch", lambda: bus.call(*MUTTER_IDLE, "AddUserActiveWatch")[0])
        self._mutter_active_watch = watch if isinstance(watch, int) and not isinstance(watch, bool) else None

    def _add_idle_asker(self, name: str, ask: Callable[[], timedelta | None]) -> None:
        askers = [a for a in self._idle_askers if a[0] != name] + [(name, ask)]
        self._idle_askers = sorted(askers, key=lambda a: IDLE_ASKERS.index(a[0]))
        self._order_idle_sources()

    def _order_idle_sources(self) -> None:
        asked = [name for name, _ in self._idle_askers]
        self.sources["idle"] = asked + [n for n in self.sources["idle"] if n not in asked]

    def _owner_changed(self) -> None:
        """In the worker: forget what services that quit said; look at those that started."""
        with self._lock:
            changes, self._owners_changed = self._owners_changed, {}
        for service, (quit, started) in changes.items():
            if quit:
                self._forget(service)
            if started:
                log.info("context: %s started; looking at what it offers", service)
                self._look_at(service)

    def _forget(self, service: str) -> None:
        tables = {"dnd": self.dnd, "presenting": self.presenting, "locked": self.locked}
        for capability, key, source in SESSION_SERVICES[service]:
            with self._lock:
                if capability in tables:
                    tables[capability].pop(key, None)
                if capability == "locked" and not any(self.locked.values()):
                    self.locked_at = None
            if source in self.sources[capability]:
                self.sources[capability].remove(source)
            self._idle_askers = [a for a in self._idle_askers if a[0] != source]
        if service == MUTTER_IDLE[0]:
            self._mutter_idle_watch = self._mutter_active_watch = None

    def _start_gnome_banners(self, bus: _Bus) -> None:
        """GNOME's Do Not Disturb is the `show-banners` setting (GNOME Shell on the bus only)."""
        from jeepney.bus_messages import message_bus

        shell = _try("GNOME Shell", lambda: bus.link.call(message_bus.NameHasOwner(GNOME_SHELL)).body[0])
        if shell is not True:
            return
        banners = self._read_banners()
        if banners is None:
            return
        self._found("dnd", "GNOME show-banners")
        self.dnd["gnome"] = not banners
        self._match(bus, sender=DCONF[0], path=DCONF[1], interface=DCONF[2], member="Notify")

    def _read_banners(self) -> bool | None:
        """`gsettings get org.gnome.desktop.notifications show-banners`, or None when it cannot say."""
        import shutil
        import subprocess

        gsettings = shutil.which("gsettings", path=self.env.get("PATH"))
        if gsettings is None:
            return None
        try:
            out = subprocess.run(
                [gsettings, "get", *BANNERS],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=CALL_TIMEOUT_S * 2,
                stdin=subprocess.DEVNULL,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("context: gsettings: %s", exc)
            return None
        return {"true": True, "false": False}.get(out)

    def _screensaver(self, bus: _Bus, name: str, path: str, iface: str) -> None:
        active = _try(name, lambda: bus.call(name, path, iface, "GetActive")[0])
        if isinstance(active, bool):
            self._found("locked", f"{name} ActiveChanged")
            self.locked[name] = active
            self._match(bus, sender=name, interface=iface, member="ActiveChanged")

    def _start_system_bus(self) -> None:
        from sundown.notify.bus import system_bus_may_exist

        address = self.env.get("SUNDOWN_SYSTEM_BUS") or "SYSTEM"
        if not system_bus_may_exist(address, self.env):
            self.problems["system bus"] = "no system bus on this machine"
            return
        try:
            self.system = _Bus(address, self._on_system_signal)
        except Exception as exc:
            self.problems["system bus"] = str(exc)
            return
        bus = self.system
        self.session_path = _try("logind session", self._find_session)
        if self.session_path:
            path = self.session_path
            locked = _try(
                "LockedHint", lambda: bus.get(LOGIN1, path, "org.freedesktop.login1.Session", "LockedHint")
            )
            if isinstance(locked, bool):
                self._found("locked", "logind LockedHint")
                self.locked["logind"] = locked
            idle = _try(
                "IdleHint", lambda: bus.get(LOGIN1, path, "org.freedesktop.login1.Session", "IdleHint")
            )
            if isinstance(idle, bool):
                self.logind_idle = idle
                self._read_idle_since()
            _try("match", lambda: bus.match(sender=LOGIN1, path=path, interface=PROPS))
        blocked = _try("BlockInhibited", self._block_inhibited)
        if isinstance(blocked, bool):
            self._found("presenting", "logind idle inhibitors")
            self.presenting["logind"] = blocked
            _try("match", lambda: bus.match(sender=LOGIN1, path="/org/freedesktop/login1", interface=PROPS))
        zone = _try("timedated", lambda: bus.get(*TIMEDATE, "Timezone"))
        if isinstance(zone, str):
            self._found("zone", "timedated Timezone")
            _try("match", lambda: bus.match(sender=TIMEDATE[0], path=TIMEDATE[1], interface=PROPS))

    def _find_session(self) -> str | None:
        bus = self.system
        assert bus is not None
        manager = ("/org/freedesktop/login1", "org.freedesktop.login1.Manager")
        session_id = self.env.get("XDG_SESSION_ID")
        if session_id:
            path = _try(
                "GetSession",
                lambda: bus.call(LOGIN1, manager[0], manager[1], "GetSession", "s", session_id)[0],
            )
            if isinstance(path, str):
                return path
        display = _try(
            "user Display",
            lambda: bus.get(
                LOGIN1, "/org/freedesktop/login1/user/self", "org.freedesktop.login1.User", "Display"
            ),
        )
        if (
            isinstance(display, tuple)
            and len(display) == 2
            and isinstance(display[1], str)
            and display[1] != "/"
        ):
            return display[1]
        path = _try(
            "GetSessionByPID",
            lambda: bus.call(LOGIN1, manager[0], manager[1], "GetSessionByPID", "u", os.getpid())[0],
        )
        return path if isinstance(path, str) else None

    def _block_inhibited(self) -> bool | None:
        assert self.system is not None
        value = self.system.get(
            LOGIN1, "/org/freedesktop/login1", "org.freedesktop.login1.Manager", "BlockInhibited"
        )
        return "idle" in value.split(":") if isinstance(value, str) else None

    def _read_idle_since(self) -> None:
        bus, path = self.system, self.session_path
        if bus is None or path is None:
            return
        usec = _try(
            "IdleSinceHint", lambda: bus.get(LOGIN1, path, "org.freedesktop.login1.Session", "IdleSinceHint")
        )
        if self.logind_idle and isinstance(usec, int) and usec > 0:
            self.logind_idle_since = datetime.fromtimestamp(usec / 1e6, UTC)
        elif self.logind_idle:
            self.logind_idle_since = self.clock()
        else:
            self.logind_idle_since = None
        if "logind IdleHint" not in self.sources["idle"]:
            self._found("idle", "logind IdleHint")

    def _start_x11(self) -> None:
        if not self.env.get("DISPLAY"):
            return
        try:
            self.x11 = X11(self.env["DISPLAY"])
        except OSError as exc:
            self.problems["X11"] = str(exc)
            return
        if self.x11.has_idle:
            self._add_idle_asker("X11 MIT-SCREEN-SAVER", self.x11.idle)
        self._found("fullscreen", "X11 _NET_WM_STATE_FULLSCREEN")

    def _found(self, capability: str, source: str) -> None:
        if source not in self.sources[capability]:
            self.sources[capability].append(source)

    # -- signals (receiver threads) ---------------------------------------------------------------

    def _changed(self, what: str, table: dict[str, bool], key: str, value: object) -> None:
        if not isinstance(value, bool):
            log.debug("context: ignoring %s = %r (not a boolean)", key, value)
            return
        with self._lock:
            old = table.get(key)
            table[key] = value
        if old != value:
            if what == "locked":
                self.locked_at = self.clock() if value else None
                if value:
                    self.last_locked = self.locked_at
            self.on_change(what)

    def _on_session_signal(self, msg: Any) -> None:
        member, path = _member(msg), _path(msg)
        body = msg.body
        if member == "NameOwnerChanged" and path == BUS[1] and len(body) == 3 and body[0] in SESSION_SERVICES:
            service, old, new = body
            with self._lock:  # D-Bus calls never from this thread, which would have to answer them
                quit = self._owners_changed.get(service, (False, False))[0] or bool(old)
                self._owners_changed[service] = (quit, bool(new))
            self.on_change(SESSION_SERVICES[service][0][0])
        elif member == "PropertiesChanged" and len(body) >= 2 and isinstance(body[1], dict):
            iface, props = body[0], body[1]
            if path == NOTIFY_PATH and iface == NOTIFY_NAME and "Inhibited" in props:
                self._changed("dnd", self.dnd, "inhibited", _unvariant(props["Inhibited"]))
            elif path == NOTIFY_PATH and iface == DUNST_IFACE and "paused" in props:
                self._changed("dnd", self.dnd, "dunst", _unvariant(props["paused"]))
            elif path == GNOME_SM[1] and "InhibitedActions" in props:
                actions = _unvariant(props["InhibitedActions"])
                if isinstance(actions, int) and not isinstance(actions, bool):
                    self._changed("presenting", self.presenting, "gnome", bool(actions & GSM_INHIBIT_IDLE))
        elif (
            member == "PropertyChanged"
            and len(body) == 3
            and body[:2] == ("xfce4-notifyd", "/do-not-disturb")
        ):
            self._changed("dnd", self.dnd, "xfce", _unvariant(body[2]))
        elif member == "Notify" and path == DCONF[1] and "gnome" in self.dnd and body:
            prefix = body[0] if isinstance(body[0], str) else ""
            if "/org/gnome/desktop/notifications/".startswith(prefix) or prefix.startswith(
                "/org/gnome/desktop/notifications/"
            ):
                self._banners_dirty = True  # read again by the worker's next snapshot (a subprocess)
                self.on_change("dnd")
        elif member == "WatchFired" and path == MUTTER_IDLE[1] and len(body) == 1:
            watch = body[0]
            if watch == self._mutter_idle_watch:
                self._arm_active = True  # armed by the worker's next snapshot (a D-Bus call)
                self.on_change("idle")
            elif watch == self._mutter_active_watch:
                self._mutter_active_watch = None  # one-shot: Mutter removed it
                self.on_change("idle")
        elif member == "ActiveChanged" and len(body) == 1:
            for name, spath, _ in SCREENSAVERS:
                if path == spath:
                    self._changed("locked", self.locked, name, body[0])

    def _on_system_signal(self, msg: Any) -> None:
        member, path = _member(msg), _path(msg)
        body = msg.body
        if member != "PropertiesChanged" or len(body) < 2 or not isinstance(body[1], dict):
            return
        props = body[1]
        if path == self.session_path:
            if "LockedHint" in props:
                self._changed("locked", self.locked, "logind", _unvariant(props["LockedHint"]))
            if "IdleHint" in props:
                idle = _unvariant(props["IdleHint"])
                if isinstance(idle, bool) and idle != self.logind_idle:
                    self.logind_idle = idle
                    self._idle_dirty = True  # IdleSinceHint is read by the worker's next snapshot
                    self.on_change("idle")
        elif path == "/org/freedesktop/login1" and "BlockInhibited" in props:
            value = _unvariant(props["BlockInhibited"])
            if isinstance(value, str):
                self._changed("presenting", self.presenting, "logind", "idle" in value.split(":"))
        elif path == TIMEDATE[1] and "Timezone" in props:
            zone = _unvariant(props["Timezone"])
            if isinstance(zone, str) and self.on_zone is not None:
                self.on_zone(zone)

    def _ask_ms(self, dest: str, path: str, iface: str, member: str) -> timedelta | None:
        assert self.session is not None
        ms = self.session.call(dest, path, iface, member)[0]
        return timedelta(milliseconds=ms) if isinstance(ms, int) and not isinstance(ms, bool) else None

    def _ask_s(self, dest: str, path: str, iface: str) -> timedelta | None:
        assert self.session is not None
        s = self.session.call(dest, path, iface, "GetSessionIdleTime")[0]
        return timedelta(seconds=s) if isinstance(s, int) and not isinstance(s, bool) else None

    def polled(self, capability: str) -> bool:
        """True when `capability` is known only by asking (so waiting on it means asking again)."""
        if capability == "busy":
            # logind does not promise PropertiesChanged for BlockInhibited: asked again too.
            return bool(self.sources["fullscreen"]) or "logind" in self.presenting
        if capability == "idle":
            return bool(self._idle_askers)
        return False

    def can_verify_lock(self) -> bool:
        """Some source tells whether the session is locked (LockedHint, a screensaver)."""
        return bool(self.sources["locked"])

    def locked_since(self, since: datetime) -> bool:
        """The session is locked, or some source said "locked" after `since`."""
        with self._lock:
            locked = any(self.locked.values())
        return locked or (self.last_locked or since) > since

    def snapshot(self, now: datetime, ask: bool = True) -> Context:
        """The context at `now`; with `ask`, the sources that cannot signal are asked too."""
        if self._owners_changed:
            self._owner_changed()
        if self._arm_active:
            self._arm_active_watch()
        idle_since: datetime | None = None
        idle_known = False
        fullscreen: bool | None = None
        if ask:
            for name, asker in list(self._idle_askers):
                try:
                    idle = asker()
                except Exception as exc:
                    log.info("context: %s stopped answering (%s); not asking it again", name, exc)
                    self._idle_askers.remove((name, asker))
                    if name in self.sources["idle"]:
                        self.sources["idle"].remove(name)
                    continue
                if idle is not None:
                    idle_since, idle_known = now - idle, True
                    self._found("idle", name)
                    break
            if self.x11 is not None:
                fullscreen = self.x11.fullscreen()
                if fullscreen is None and self.x11.dead:
                    self.x11 = None
                    self.sources["fullscreen"] = []
            if self.system is not None and "logind" in self.presenting:
                blocked = _try("BlockInhibited", self._block_inhibited)
                if isinstance(blocked, bool):
                    self.presenting["logind"] = blocked
        if self._idle_dirty:
            self._idle_dirty = False
            self._read_idle_since()  # a D-Bus call: never from the receiver thread that answers it
        if self._banners_dirty:
            self._banners_dirty = False
            banners = self._read_banners()
            if banners is not None:
                with self._lock:
                    self.dnd["gnome"] = not banners
        if not idle_known and self.logind_idle is not None:
            idle_known = True
            idle_since = self.logind_idle_since if self.logind_idle else None
        with self._lock:
            dnd = any(self.dnd.values()) if self.dnd else None
            presenting = any(self.presenting.values()) if self.presenting else None
            locked = any(self.locked.values()) if self.locked else None
        return Context(
            dnd=dnd,
            presenting=presenting,
            fullscreen=fullscreen,
            idle_since=idle_since,
            idle_known=idle_known,
            locked=locked,
            locked_since=self.locked_at if locked else None,
        )

    def close(self) -> None:
        for bus in (self.session, self.system):
            if bus is not None:
                bus.close()
        if self.x11 is not None:
            self.x11.close()


def _unvariant(value: object) -> object:
    """jeepney gives variants as (signature, value); a variant may hold a variant."""
    for _ in range(4):
        if isinstance(value, tuple) and len(value) == 2 and value[0] in VARIANT_SIGNATURES:
            value = value[1]
        else:
            break
    return value


# --- X11: idle time (MIT-SCREEN-SAVER) and the active window's fullscreen state ------------------


class _XssInfo(ctypes.Structure):
    _fields_ = [
        ("window", ctypes.c_ulong),
        ("state", ctypes.c_int),
        ("kind", ctypes.c_int),
        ("til_or_since", ctypes.c_ulong),
        ("idle", ctypes.c_ulong),
        ("event_mask", ctypes.c_ulong),
    ]


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_IO_EXIT_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_ERROR_HANDLER_IO = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


@_ERROR_HANDLER
def _ignore_x_error(display: int, event: int) -> int:
    return 0  # a window that went away between two calls: not worth dying for


@_ERROR_HANDLER_IO
def _quiet_io_error(display: int) -> int:
    return 0  # the exit handler (X11._lost) marks the connection dead


class X11:
    """A connection to the X server, asked only from the daemon's worker thread."""

    def __init__(self, display_name: str) -> None:
        name = ctypes.util.find_library("X11")
        if not name:
            raise OSError("libX11 is not installed")
        x = ctypes.CDLL(name)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XInternAtom.restype = ctypes.c_ulong
        x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XGetWindowProperty.argtypes = [
            ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long, ctypes.c_int,
            ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_int),
            ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_ulong), ctypes.POINTER(ctypes.c_void_p),
        ]  # fmt: skip
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XCloseDisplay.argtypes = [ctypes.c_void_p]
        x.XSetErrorHandler(_ignore_x_error)
        self.x = x
        self.dead = False
        self.display = x.XOpenDisplay(display_name.encode())
        if not self.display:
            raise OSError(f"cannot open X display {display_name}")
        # Xlib exits the process when the server goes away, unless told otherwise (libX11 >= 1.8).
        self._exit_handler = _IO_EXIT_HANDLER(self._lost)
        if not hasattr(x, "XSetIOErrorExitHandler"):
            x.XCloseDisplay(self.display)
            raise OSError("libX11 older than 1.8 would end the daemon if the X server went away")
        x.XSetIOErrorExitHandler.argtypes = [ctypes.c_void_p, _IO_EXIT_HANDLER, ctypes.c_void_p]
        x.XSetIOErrorExitHandler(self.display, self._exit_handler, None)
        x.XSetIOErrorHandler(_quiet_io_error)  # the default one prints and exits
        self.root = x.XDefaultRootWindow(self.display)
        self.atoms = {
            n: x.XInternAtom(self.display, n.encode(), 0)
            for n in ("_NET_ACTIVE_WINDOW", "_NET_WM_STATE", "_NET_WM_STATE_FULLSCREEN")
        }
        self.xss: Any = None
        self.info: Any = None
        xss_name = ctypes.util.find_library("Xss")
        if xss_name:
            xss = ctypes.CDLL(xss_name)
            xss.XScreenSaverQueryExtension.argtypes = [
                ctypes.c_void_p,
                ctypes.POINTER(ctypes.c_int),
                ctypes.POINTER(ctypes.c_int),
            ]
            xss.XScreenSaverAllocInfo.restype = ctypes.POINTER(_XssInfo)
            xss.XScreenSaverQueryInfo.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.POINTER(_XssInfo)]
            ev, err = ctypes.c_int(), ctypes.c_int()
            if xss.XScreenSaverQueryExtension(self.display, ctypes.byref(ev), ctypes.byref(err)):
                self.xss = xss
                self.info = xss.XScreenSaverAllocInfo()

    def _lost(self, display: int, data: int) -> None:
        self.dead = True

    @property
    def has_idle(self) -> bool:
        return self.xss is not None

    def idle(self) -> timedelta | None:
        if self.dead or self.xss is None:
            raise OSError("the X server went away")
        if not self.xss.XScreenSaverQueryInfo(self.display, self.root, self.info):
            return None
        return timedelta(milliseconds=self.info.contents.idle)

    def _property(self, window: int, atom: str) -> list[int]:
        kind, fmt, n, after = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_ulong(), ctypes.c_ulong()
        data = ctypes.c_void_p()
        status = self.x.XGetWindowProperty(
            self.display, window, self.atoms[atom], 0, 64, 0, 0,
            ctypes.byref(kind), ctypes.byref(fmt), ctypes.byref(n), ctypes.byref(after), ctypes.byref(data),
        )  # fmt: skip
        if status != 0 or not data.value:
            return []
        try:
            if fmt.value != 32:
                return []
            return list(ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[: n.value])
        finally:
            self.x.XFree(data)

    def fullscreen(self) -> bool | None:
        """Is the active window fullscreen? None when the X server is gone."""
        if self.dead:
            return None
        active = self._property(self.root, "_NET_ACTIVE_WINDOW")
        if self.dead:
            return None
        if not active or not active[0]:
            return False
        return self.atoms["_NET_WM_STATE_FULLSCREEN"] in self._property(active[0], "_NET_WM_STATE")

    def close(self) -> None:
        if not self.dead and self.display:
            self.x.XCloseDisplay(self.display)
        self.display = None
