"""The person's context, from every source the session offers: the aggregate the daemon asks.

Each source is optional and found at start: the session bus's services (looked at
again when they start, forgotten when they quit: one NameOwnerChanged match rule per
name), logind and timedated on the system bus (`SUNDOWN_SYSTEM_BUS`), the X server.
A signal is believed only from the current owner of the name its source is about (the
bus sets a message's sender; a unicast signal from anyone else changes nothing and is
counted). On the session bus that owner must also be this user's: a bus loosened to let
other users in would let one of them take a name no service holds, and a service another
user runs is not this session's (a new owner is believed once the worker has looked at it).
Sources that can only be asked are asked from the worker when it takes a `snapshot`, which
it does only when a reminder is due or waits on the answer; a D-Bus call is never made from
a bus thread, which would have to answer it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from sundown.core.context import UNKNOWN, Context, Waiting
from sundown.notify.bus import DBUS, BusLink, bus_address, header, sender_of, system_bus_may_exist
from sundown.runtime.sources import gnome, logind, notification, screensaver
from sundown.runtime.sources.logind import IdleHint
from sundown.runtime.sources.mutter import MutterIdle
from sundown.runtime.sources.source import CALL_TIMEOUT_S, Capability, Clock, Source, attempt
from sundown.runtime.sources.timedated import Timedated
from sundown.runtime.sources.x11 import Fullscreen, ScreenSaverInfo
from sundown.runtime.sources.xfce import XfceDoNotDisturb
from sundown.runtime.sources.xlib import X11

log = logging.getLogger("sundown.runtime.sources")

UTC = timezone.utc
CAPABILITIES: tuple[Capability, ...] = ("dnd", "presenting", "fullscreen", "idle", "locked", "zone")
# Idle time is asked of these first, in this order (they measure input directly), logind's hint after.
IDLE_ORDER = (
    MutterIdle.name,
    screensaver.GET_SESSION_IDLE_TIME,
    ScreenSaverInfo.name,
    IdleHint.name,
)


def session_sources(env: Mapping[str, str], idle_after: timedelta | None = None) -> list[Source]:
    """Every source a session-bus service may offer, in the order they are looked at
    (`idle_after`: `context.idle`, for Mutter's idle watch)."""
    return [
        notification.Inhibited(),
        notification.DunstPaused(),
        XfceDoNotDisturb(),
        gnome.ShowBanners(env),
        gnome.SessionManagerInhibitors(),
        screensaver.ScreenSaverLock(screensaver.FREEDESKTOP),
        screensaver.SessionIdleTime(),
        screensaver.ScreenSaverLock(screensaver.GNOME),
        MutterIdle(idle_after),
    ]


class ContextWatch:
    """What the session offers about the person, kept current by signals; `snapshot()` asks the rest."""

    def __init__(
        self,
        env: Mapping[str, str],
        on_change: Callable[[str], None],
        on_zone: Callable[[str | None], None] | None = None,
        clock: Clock | None = None,
        idle_after: timedelta | None = None,
    ) -> None:
        self.env = dict(env)
        self.on_change = on_change
        self.on_zone = on_zone
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self.found: tuple[Source, ...] = ()  # in the order found; replaced whole, never changed in place
        self.problems: dict[str, str] = {}  # why a whole kind of source is missing ("session bus": ...)
        self.strangers = 0  # signals from someone who does not own the name they are about
        self.locked_at: datetime | None = None  # when a source last said "locked" (None: unlocked)
        self.last_locked: datetime | None = None
        self.session: BusLink | None = None
        self.system: BusLink | None = None
        self._candidates = session_sources(self.env, idle_after)
        self._owners: dict[str, str | None] = {}  # well-known name -> its unique owner, per bus
        self._system_owners: dict[str, str | None] = {}
        self._matched: set[tuple[str, tuple[tuple[str, str], ...]]] = set()  # match rules already added
        self._foreign: set[str] = set()  # session services found run by another user (said once each)
        # service -> (it quit, it runs now): what the worker has yet to act on; a restart flood is one entry
        self._owners_changed: dict[str, tuple[bool, bool]] = {}
        self._start_session_bus()
        self._start_system_bus()
        self._start_x11()

    # -- what it can tell -----------------------------------------------------------------------

    def sources(self, capability: Capability) -> list[str]:
        """The sources in use for `capability`, the one that counts first."""
        names = [s.name for s in self.found if s.tells == capability]
        if capability == "idle":
            names.sort(key=lambda n: IDLE_ORDER.index(n) if n in IDLE_ORDER else len(IDLE_ORDER))
        return names

    def polled(self, what: Waiting) -> bool:
        """True when `what` is known only by asking (so waiting on it means asking again)."""
        if what == "busy":
            # logind does not promise PropertiesChanged for BlockInhibited: asked again too.
            return any(s.polled and s.tells in ("fullscreen", "presenting") for s in self.found)
        return any(s.polled and s.tells == what for s in self.found)

    def idle_signalled(self) -> bool:
        """Idle comes by signals here, not only by asking: the idle source that counts is Mutter
        with its watches (the evening's recorder then has no need to poll it)."""
        names = self.sources("idle")
        mutter = next((s for s in self.found if isinstance(s, MutterIdle)), None)
        return (
            bool(names)
            and names[0] == MutterIdle.name
            and mutter is not None
            and mutter.idle_watch is not None
        )

    def watch_idle(self, after: timedelta) -> None:
        """`context.idle` changed (a reload, on the worker): Mutter's idle watch follows it."""
        for source in self._candidates:
            if isinstance(source, MutterIdle):
                if source in self.found:
                    source.watch(after)
                else:
                    source.idle_after = after

    def can_verify_lock(self) -> bool:
        """Some source tells whether the session is locked (LockedHint, a screensaver)."""
        return bool(self.sources("locked"))

    def locked_since(self, since: datetime) -> bool:
        """The session is locked, or some source said "locked" after `since`."""
        return bool(self._any("locked")) or (self.last_locked or since) > since

    def _any(self, capability: Capability, but: str | None = None) -> bool | None:
        """Any source of `capability` (but the one named `but`) says so; None when there is no such source."""
        sources = [s for s in self.found if s.tells == capability]
        return any(s.value for s in sources if s.name != but) if sources else None

    # -- start-up: find what the session offers -------------------------------------------------

    def _start_session_bus(self) -> None:
        try:
            self.session = BusLink(
                bus_address(self.env), CALL_TIMEOUT_S, self._on_session_signal, "sundown-context"
            )
        except Exception as exc:
            self.problems["session bus"] = str(exc)
            return
        for service in dict.fromkeys(s.service for s in self._candidates if s.service):
            # Told when it starts, restarts or quits (one rule per name: no other bus traffic wakes us).
            self._match(
                self.session, sender=DBUS[0], interface=DBUS[2], member="NameOwnerChanged", arg0=service
            )
            self._look_at(service)

    def _look_at(self, service: str) -> None:
        """Ask `service` on the session bus what it offers (at start, and again when it starts);
        what it offers is taken, and its owner's signals believed, only if it is this user's."""
        bus = self.session
        if bus is None:
            return
        owner: str | None = None
        for source in self._candidates:
            if source.service == service and source not in self.found and source.look(bus):
                if owner is None:
                    owner = self._ours(bus, service)
                    if owner is None:
                        return
                    with self._lock:
                        self._owners[service] = owner
                self._add(bus, source, self._owners)

    def _ours(self, bus: BusLink, service: str) -> str | None:
        """The unique name that owns `service`, if this user runs it; else None."""
        owner = attempt(f"the owner of {service}", lambda: bus.owner(service))
        if owner is None:
            return None
        uid = attempt(
            f"the user of {service}", lambda: bus.ask(*DBUS, "GetConnectionUnixUser", "s", owner)[0]
        )
        if uid == os.getuid():
            return owner
        if service not in self._foreign:
            self._foreign.add(service)
            log.warning("context: %s is run by uid %s, not this session's user; not believed", service, uid)
        return None

    def _add(self, bus: BusLink, source: Source, owners: dict[str, str | None]) -> None:
        """A source found: its signals listened to, the owner of the name it believes known."""
        name = source.believes
        if name is not None and name not in owners:
            if name != source.service:  # its service's rule is added at start already
                self._match(bus, sender=DBUS[0], interface=DBUS[2], member="NameOwnerChanged", arg0=name)
            owner = attempt(f"the owner of {name}", lambda: bus.owner(name))
            with self._lock:
                owners[name] = owner
        for rule in source.rules():
            self._match(bus, **rule)
        self.found = (*self.found, source)

    def _match(self, bus: BusLink, **rule: str) -> None:
        """Add a match rule once (a service looked at again must not add its rules again)."""
        key = (bus.label, tuple(sorted(rule.items())))
        if key in self._matched:
            return
        try:
            bus.match(**rule)
        except Exception as exc:  # as attempt: a bus that refuses the rule leaves the source unwatched
            log.debug("context: no match %s (%s)", rule, exc)
            return
        self._matched.add(key)

    def _start_system_bus(self) -> None:
        address = self.env.get("SUNDOWN_SYSTEM_BUS") or "SYSTEM"
        if not system_bus_may_exist(address, self.env):
            self.problems["system bus"] = "no system bus on this machine"
            return
        try:
            self.system = BusLink(
                address, CALL_TIMEOUT_S, self._on_system_signal, "sundown-context", "system bus"
            )
        except Exception as exc:
            self.problems["system bus"] = str(exc)
            return
        bus = self.system
        for name in (logind.LOGIN1, Timedated.sender):
            self._match(bus, sender=DBUS[0], interface=DBUS[2], member="NameOwnerChanged", arg0=name)
        candidates: list[Source] = []
        session = attempt("logind session", lambda: logind.find_session(bus, self.env))
        if session:
            candidates += [logind.LockedHint(session), IdleHint(session, self.clock)]
        candidates += [logind.IdleInhibitors(), Timedated(self.on_zone)]
        for source in candidates:
            if source.look(bus):
                self._add(bus, source, self._system_owners)

    def _start_x11(self) -> None:
        if not self.env.get("DISPLAY"):
            return
        try:
            x11 = X11(self.env["DISPLAY"], self.env)
        except OSError as exc:
            self.problems["X11"] = str(exc)
            return
        self.found = (*self.found, *((ScreenSaverInfo(x11),) if x11.has_idle else ()), Fullscreen(x11))

    # -- signals (receiver threads) -------------------------------------------------------------

    def _on_session_signal(self, msg: Any) -> None:
        member, _, _ = header(msg)
        body = msg.body
        if sender_of(msg) == DBUS[0]:  # the bus itself: only it can send as org.freedesktop.DBus
            if member == "NameOwnerChanged" and len(body) == 3 and body[0] in self._tracked(self._owners):
                name, old, new = body
                service = any(s.service == name for s in self._candidates)
                with self._lock:  # D-Bus calls never from this thread, which would have to answer them
                    # A service's new owner is believed once the worker has looked at it (`_ours`).
                    self._owners[name] = None if service else (new or None)
                    if service:
                        quit = self._owners_changed.get(name, (False, False))[0] or bool(old)
                        self._owners_changed[name] = (quit, bool(new))
                if service:
                    self.on_change(next(s.tells for s in self._candidates if s.service == name))
            return
        self._dispatch(msg, self._owners)

    def _on_system_signal(self, msg: Any) -> None:
        member, _, _ = header(msg)
        body = msg.body
        if sender_of(msg) == DBUS[0]:
            if (
                member == "NameOwnerChanged"
                and len(body) == 3
                and body[0] in (logind.LOGIN1, Timedated.sender)
            ):
                with self._lock:
                    self._system_owners[body[0]] = body[2] or None
            return
        self._dispatch(msg, self._system_owners)

    def _tracked(self, owners: Mapping[str, str | None]) -> set[str]:
        return {s.service for s in self._candidates if s.service} | set(owners)

    def _dispatch(self, msg: Any, owners: Mapping[str, str | None]) -> None:
        """A signal to the found sources that believe its sender; from anyone else it is counted."""
        sender = sender_of(msg)
        with self._lock:
            believed = {name for name, owner in owners.items() if owner is not None and owner == sender}
        if not believed:
            self.strangers += 1
            log.debug("context: ignored a signal from %s, which owns none of the names watched", sender)
            return
        member, path, iface = header(msg)
        for source in self.found:
            if source.believes in believed and source.on_signal(member, path, iface, tuple(msg.body)):
                self._changed(source)

    def _changed(self, source: Source) -> None:
        if source.tells == "locked":
            self.locked_at = self.clock() if source.value else None
            if source.value:
                self.last_locked = self.locked_at
        self.on_change(source.tells)

    # -- the worker -----------------------------------------------------------------------------

    def _owner_changed(self) -> None:
        """Forget what services that quit said; look at those that started."""
        with self._lock:
            changes, self._owners_changed = self._owners_changed, {}
        for service, (quit, started) in changes.items():
            if quit:
                self._forget(service)
            if started:
                log.info("context: %s started; looking at what it offers", service)
                self._look_at(service)

    def _forget(self, service: str) -> None:
        gone = [s for s in self.found if s.service == service]
        self._drop(gone)

    def _drop(self, gone: Iterable[Source]) -> None:
        gone = list(gone)
        for source in gone:
            source.forget()
        self.found = tuple(s for s in self.found if s not in gone)
        if any(s.tells == "locked" for s in gone) and not self._any("locked"):
            self.locked_at = None

    def snapshot(self, now: datetime, ask: bool = True, own_dnd: str | None = None) -> Context:
        """The context at `now`; with `ask`, the sources that cannot signal are asked too.

        `own_dnd`: the source (its name) through which sundown's own wind-down Do Not Disturb is
        seen; that is not the person being busy, so it does not count."""
        if self._owners_changed:
            self._owner_changed()
        idle_since: datetime | None = None
        idle_known = False
        fullscreen: bool | None = None
        if ask:
            askers = [s for s in self.found if s.polled and s.tells == "idle"]
            for source in sorted(askers, key=lambda s: IDLE_ORDER.index(s.name)):
                idle = self._ask_idle(source)
                if idle is not None:
                    idle_since, idle_known = now - idle, True
                    break
            fullscreen = self._ask_fullscreen()
            for source in [s for s in self.found if s.polled and s.tells == "presenting"]:
                blocked = attempt(source.name, source.ask)
                if isinstance(blocked, bool):
                    source.value = blocked
        for source in self.found:
            source.refresh()
        hint = next((s for s in self.found if isinstance(s, IdleHint)), None)
        if not idle_known and hint is not None and hint.value is not None:
            idle_known, idle_since = True, hint.idle_since()
        locked = self._any("locked")
        return Context(
            dnd=self._any("dnd", but=own_dnd),
            presenting=self._any("presenting"),
            fullscreen=fullscreen,
            idle_since=idle_since,
            idle_known=idle_known,
            locked=locked,
            locked_since=self.locked_at if locked else None,
        )

    def _ask_idle(self, source: Source) -> Any:
        try:
            return source.ask()
        except Exception as exc:
            log.info("context: %s stopped answering (%s); not asking it again", source.name, exc)
            self._drop([source])
            return None

    def _ask_fullscreen(self) -> bool | None:
        source = next((s for s in self.found if isinstance(s, Fullscreen)), None)
        if source is None:
            return None
        fullscreen = source.ask()
        if fullscreen is None and source.x11.dead:
            self._drop([source])
        return fullscreen

    def close(self) -> None:
        for bus in (self.session, self.system):
            if bus is not None:
                bus.close()
        for source in self.found:
            source.release()


def context_at(watch: ContextWatch | None, now: datetime, own_dnd: str | None = None) -> Context:
    """What the desktop says at `now`; unknown without a watch, or when a source went wrong (a
    source must never stop a reminder: the daemon then goes by the clock). `own_dnd`: the
    source that sees sundown's own wind-down Do Not Disturb (see `ContextWatch.snapshot`)."""
    if watch is None:
        return UNKNOWN
    try:
        return watch.snapshot(now, own_dnd=own_dnd) if own_dnd else watch.snapshot(now)
    except Exception as exc:
        log.warning("could not read the desktop's state (%s); going by the clock", exc)
        return UNKNOWN


def context_status(
    watch: ContextWatch | None,
    now: datetime,
    zone: str | None,
    zone_configured: bool,
    zone_remark: str | None = None,
    ignored: int = 0,
) -> dict[str, Any]:
    """`status --json`'s `context` (null where unknown) and the `sources` in use per capability,
    with `ignored_signals`: the signals from someone who did not own the name they were about
    (`ignored` more of them, counted elsewhere: logind's PrepareForSleep)."""
    ctx = context_at(watch, now)
    idle_s = int(ctx.idle_for(now).total_seconds()) if ctx.idle_known else None
    sources: dict[str, Any] = {}
    for cap in CAPABILITIES[:-1]:
        found = watch.sources(cap) if watch is not None else []
        sources["idle_s" if cap == "idle" else cap] = found[0] if found else None
    if zone_configured:
        sources["zone"] = "config timezone"
    elif watch is not None and watch.sources("zone"):
        sources["zone"] = "system zone (timedated Timezone, /etc/localtime)"
    else:
        sources["zone"] = "system zone"
    if zone_remark:  # a broken /etc/localtime, a copy named by its contents (config.zone)
        sources["zone"] = f"{sources['zone']}: {zone_remark}"
    sources["ignored_signals"] = ignored + (watch.strangers if watch is not None else 0)
    context = {
        "dnd": ctx.dnd,
        "presenting": ctx.presenting,
        "fullscreen": ctx.fullscreen,
        "idle_s": idle_s,
        "locked": ctx.locked,
        "zone": zone,
    }
    return {"context": context, "sources": sources}
