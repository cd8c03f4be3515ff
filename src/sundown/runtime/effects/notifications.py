"""Do Not Disturb through the notification server itself, for everything but sundown's own
reminders: the server's `Inhibit` (KDE Plasma, servers of spec 1.3), dunst's pause level
(1.10+, with a rule), mako's `do-not-disturb` mode (with a rule), xfce4-notifyd's
`do-not-disturb` (xfconf).

Where the server cannot let sundown's own reminders through while it holds the rest (dunst
before 1.10; dunst or mako without the rule), Do Not Disturb is `unavailable`, with the
reason and the exact fix: sundown never silences its own reminders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sundown.notify.bus import unvariant
from sundown.runtime.effects import USABLE, EffectError, Interface, Offer, absent
from sundown.runtime.effects.journal import Entry, Journal
from sundown.runtime.effects.session import NOTIFY, PROPS

DUNST = "org.dunstproject.cmd0"
PAUSED = 100  # dunst's `set-paused true`; a rule's override_pause_level of 100 still shows
DUNST_RULE = "[sundown]\n    appname = sundown\n    override_pause_level = 100"
MAKO_RULE = "[mode=do-not-disturb]\ninvisible=1\n\n[app-name=sundown mode=do-not-disturb]\ninvisible=0"
XFCONF = ("org.xfce.Xfconf", "/org/xfce/Xfconf", "org.xfce.Xfconf")


class Inhibit(Interface):
    """`org.freedesktop.Notifications.Inhibit`: held while the connection that asked lives, so
    sundown keeps one connection open all night and closes it at the end (or dies with it).
    Plasma still shows critical notifications while inhibited (its default setting), so
    sundown's own reminders go out critical while it holds."""

    effect = "dnd"
    name = "inhibit"
    label = "notification server Inhibit"
    own_urgency = "critical"
    context_key = "notification server Inhibited"
    bound = True

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.conn: Any = None
        self.cookie: int | None = None

    def probe(self) -> Offer:
        try:
            inhibited = self.session.get(*NOTIFY, "Inhibited")
        except EffectError as exc:
            return absent(f"the notification server has no Inhibited property ({exc})")
        return USABLE if isinstance(inhibited, bool) else absent("Inhibited is not a boolean")

    def apply(self, journal: Journal) -> bool:
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.io.blocking import open_dbus_connection

        from sundown.notify.bus import bus_address

        before = bool(self.session.get(*NOTIFY, "Inhibited"))
        entry = journal.record(
            Entry(self.effect, self.name, "notifications Inhibit", previous=before, value=True)
        )
        try:
            conn = open_dbus_connection(bus_address(self.session.env))
        except Exception as exc:  # any failure to connect: the effect failed
            raise EffectError(f"cannot reach the session bus: {exc}") from None
        msg = new_method_call(
            DBusAddress(NOTIFY[1], NOTIFY[0], NOTIFY[2]),
            "Inhibit",
            "ssa{sv}",
            ("sundown", "wind-down", {}),
        )
        try:
            reply = conn.send_and_get_reply(msg, timeout=self.session.timeout)
        except Exception as exc:
            conn.close()
            raise EffectError(f"Inhibit: {exc or 'no answer'}") from None
        if reply.header.message_type is MessageType.error or not reply.body:
            conn.close()
            raise EffectError(f"Inhibit was refused: {reply.body[:1]}")
        self.conn, self.cookie = conn, int(reply.body[0])
        journal.update(
            Entry(self.effect, self.name, entry.setting, previous=entry.previous, value=self.cookie)
        )
        return True

    def changed(self, entry: Entry) -> bool:
        return entry.previous is False

    def holds(self, entry: Entry) -> bool:
        if self.conn is None:
            return False
        try:
            return bool(self.session.get(*NOTIFY, "Inhibited"))
        except EffectError:
            return False  # the server went away: inhibit the next one

    def restore(self, entry: Entry) -> bool:
        # Without our connection (another process, or one that died) there is nothing left to
        # put back: the server dropped the inhibition with the connection.
        self.release(uninhibit=True)
        return True

    def release(self, uninhibit: bool = False) -> None:
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if uninhibit and self.cookie is not None:
            from jeepney import DBusAddress, new_method_call

            msg = new_method_call(
                DBusAddress(NOTIFY[1], NOTIFY[0], NOTIFY[2]), "UnInhibit", "u", (self.cookie,)
            )
            try:
                conn.send_and_get_reply(msg, timeout=self.session.timeout)
            except Exception:  # closing the connection below drops it anyway
                pass
        try:
            conn.close()
        except OSError:
            pass


def dunst_version(version: str) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else None


class DunstPause(Interface):
    """dunst's pause level (1.10+): at 100 every notification waits, except those a rule gives
    `override_pause_level = 100` (sundown's own, with the rule in DUNST_RULE)."""

    effect = "dnd"
    name = "dunst"
    label = "dunst pause level"
    context_key = "dunst paused"

    def probe(self) -> Offer:
        name, _vendor, version = self.session.server()
        if name.lower() != "dunst":
            return absent("the notification server is not dunst")
        found = dunst_version(version)
        fix = f"dunst 1.10 or later, with this rule in its dunstrc:\n{DUNST_RULE}"
        if found is None or found < (1, 10):
            return Offer(
                False,
                f"dunst {version.split()[0] if version else '(unknown version)'} has no pause levels:"
                " pausing it would hold sundown's own reminders too",
                fix,
                final=True,
            )
        if not self._has_rule():
            return Offer(
                False,
                "no dunst rule lets sundown's reminders through a pause",
                f"add this rule to your dunstrc, then `dunstctl reload`:\n{DUNST_RULE}",
                final=True,
            )
        return USABLE

    def _has_rule(self) -> bool:
        text = "\n".join(_read(p) for p in dunstrc_paths(self.session.env, self._config_arg()))
        for section in re.split(r"^\s*\[", text, flags=re.M)[1:]:
            body = section.lower()
            names_us = re.search(r"^\s*(appname|desktop_entry)\s*=\s*\"?sundown\"?\s*$", body, re.M)
            level = re.search(r"^\s*override_pause_level\s*=\s*(\d+)", body, re.M)
            if names_us and level and int(level.group(1)) >= PAUSED:
                return True
        return False

    def _config_arg(self) -> str | None:
        """`dunst -config FILE` of the running dunst, read from its command line."""
        try:
            pid = self.session.call(
                "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                "GetConnectionUnixProcessID", "s", NOTIFY[0],
            )[0]  # fmt: skip
            argv = Path(f"/proc/{int(pid)}/cmdline").read_bytes().split(b"\0")
        except (EffectError, OSError, ValueError):
            return None
        for flag, value in zip(argv, argv[1:], strict=False):
            if flag in (b"-config", b"--config", b"-conf"):
                return value.decode(errors="replace")
        return None

    def level(self) -> int:
        value = self.session.get(NOTIFY[0], NOTIFY[1], DUNST, "pauseLevel")
        if not isinstance(value, int):
            raise EffectError(f"dunst's pauseLevel is {value!r}, not a number")
        return value

    def set_level(self, level: int) -> None:
        self.session.call(NOTIFY[0], NOTIFY[1], PROPS, "Set", "ssv", DUNST, "pauseLevel", ("u", level))

    def apply(self, journal: Journal) -> bool:
        setting = "dunst pauseLevel"
        current = self.level()
        if current >= PAUSED and journal.find(setting) is None:
            return False
        journal.record(Entry(self.effect, self.name, setting, previous=current, value=PAUSED))
        self.set_level(PAUSED)
        return True

    def restore(self, entry: Entry) -> bool:
        current = self.level()
        if current == entry.value:
            self.set_level(int(entry.previous))
            return True
        return bool(current == entry.previous)


def dunstrc_paths(env: dict[str, str], explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit)]
    home = Path(env.get("XDG_CONFIG_HOME") or Path(env.get("HOME", "/")) / ".config")
    dirs = [home] + [Path(d) for d in (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":") if d]
    for base in dirs:
        main = base / "dunst" / "dunstrc"
        if main.exists():
            return [main, *sorted((base / "dunst" / "dunstrc.d").glob("*.conf"))]
    return []


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


class MakoMode(Interface):
    """mako's `do-not-disturb` mode (`makoctl mode -a`), with a rule that keeps sundown's visible."""

    effect = "dnd"
    name = "mako"
    label = "mako do-not-disturb mode"

    def probe(self) -> Offer:
        name, _vendor, _version = self.session.server()
        if name.lower() != "mako":
            return absent("the notification server is not mako")
        if self.session.which("makoctl") is None:
            return Offer(
                False, "makoctl is not installed", "install makoctl (it comes with mako)", final=True
            )
        home = Path(
            self.session.env.get("XDG_CONFIG_HOME") or Path(self.session.env.get("HOME", "/")) / ".config"
        )
        text = _read(home / "mako" / "config").replace(" ", "")
        if "[mode=do-not-disturb]" not in text or not re.search(
            r"\[app-name=\"?sundown\"?mode=do-not-disturb\][^\[]*invisible=0", text
        ):
            return Offer(
                False,
                "no mako rule keeps sundown's reminders visible in the do-not-disturb mode",
                f"add these sections to ~/.config/mako/config, then `makoctl reload`:\n{MAKO_RULE}",
                final=True,
            )
        return USABLE

    def modes(self) -> list[str]:
        return self.session.run("makoctl", "mode").out.split()

    def apply(self, journal: Journal) -> bool:
        setting = "mako mode do-not-disturb"
        current = self.modes()
        if "do-not-disturb" in current and journal.find(setting) is None:
            return False
        journal.record(Entry(self.effect, self.name, setting, previous=current, value=True))
        self.session.run("makoctl", "mode", "-a", "do-not-disturb")
        return True

    def changed(self, entry: Entry) -> bool:
        return "do-not-disturb" not in (entry.previous or [])

    def restore(self, entry: Entry) -> bool:
        if "do-not-disturb" in self.modes() and "do-not-disturb" not in (entry.previous or []):
            self.session.run("makoctl", "mode", "-r", "do-not-disturb")
        return True


class XfceDnd(Interface):
    """xfce4-notifyd's `do-not-disturb` (xfconf). It still shows critical notifications, so
    sundown's own reminders go out critical while it holds."""

    effect = "dnd"
    name = "xfconf"
    label = "xfce4-notifyd do-not-disturb"
    own_urgency = "critical"
    context_key = "xfce4-notifyd do-not-disturb"

    def probe(self) -> Offer:
        if self.session.server()[0] != "Xfce Notify Daemon":
            return absent("the notification server is not xfce4-notifyd")
        if not self.session.has_owner(XFCONF[0]):
            return absent("xfconfd is not on the session bus")
        return USABLE

    def value(self) -> bool | None:
        """The property, or None when it was never set (xfce4-notifyd's default: off)."""
        try:
            found = self.session.call(*XFCONF, "GetProperty", "ss", "xfce4-notifyd", "/do-not-disturb")[0]
        except EffectError as exc:
            if "PropertyNotFound" in str(exc) or "does not exist" in str(exc):
                return None
            raise
        value = unvariant(found)
        return value if isinstance(value, bool) else None

    def set(self, value: bool | None) -> None:
        if value is None:
            self.session.call(*XFCONF, "ResetProperty", "ssb", "xfce4-notifyd", "/do-not-disturb", False)
        else:
            self.session.call(*XFCONF, "SetProperty", "ssv", "xfce4-notifyd", "/do-not-disturb", ("b", value))

    def apply(self, journal: Journal) -> bool:
        setting = "xfconf xfce4-notifyd /do-not-disturb"
        current = self.value()
        if current is True and journal.find(setting) is None:
            return False
        journal.record(Entry(self.effect, self.name, setting, previous=current, value=True))
        self.set(True)
        return True

    def restore(self, entry: Entry) -> bool:
        current = self.value()
        if current is True:
            self.set(entry.previous)
            return True
        return current == entry.previous or (current is None and entry.previous is False)
