"""GNOME: Do Not Disturb is the `show-banners` setting (read with gsettings, changes told by
dconf), presenting is an idle inhibitor registered with the session manager."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sundown.notify.bus import DBUS, BusLink
from sundown.runtime.sources.source import CALL_TIMEOUT_S, Source, attempt, changed_prop, is_int, log

SHELL = "org.gnome.Shell"
DCONF = ("ca.desrt.dconf", "/ca/desrt/dconf/Writer/user", "ca.desrt.dconf.Writer")
BANNERS = ("org.gnome.desktop.notifications", "show-banners")
BANNERS_DIR = "/org/gnome/desktop/notifications/"
SESSION_MANAGER = ("org.gnome.SessionManager", "/org/gnome/SessionManager", "org.gnome.SessionManager")
INHIBIT_IDLE = 8  # GsmInhibitorFlag: the session may not be marked idle (a presentation, a video)


class ShowBanners(Source):
    """GNOME's Do Not Disturb, while GNOME Shell is on the bus."""

    name = "GNOME show-banners"
    tells = "dnd"
    service = SHELL
    sender = DCONF[0]  # the setting's changes come from dconf's writer

    def __init__(self, env: Mapping[str, str]) -> None:
        super().__init__()
        self.env = env
        self._dirty = False

    def look(self, bus: BusLink) -> bool:
        shell = attempt("GNOME Shell", lambda: bus.ask(*DBUS, "NameHasOwner", "s", SHELL)[0])
        banners = self._read() if shell is True else None
        if banners is None:
            return False
        self.value = not banners
        return True

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": DCONF[0], "path": DCONF[1], "interface": DCONF[2], "member": "Notify"}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        if member != "Notify" or path != DCONF[1] or not body:
            return False
        prefix = body[0] if isinstance(body[0], str) else ""
        if BANNERS_DIR.startswith(prefix) or prefix.startswith(BANNERS_DIR):
            self._dirty = True  # read again by the worker's next snapshot (a subprocess)
            return True
        return False

    def refresh(self) -> None:
        if self._dirty:
            self._dirty = False
            banners = self._read()
            if banners is not None:
                self.value = not banners

    def _read(self) -> bool | None:
        """`gsettings get org.gnome.desktop.notifications show-banners`, or None when it cannot say."""
        import shutil
        import subprocess  # only on GNOME, and only once it is asked: an idle daemon loads neither

        gsettings = shutil.which("gsettings", path=self.env.get("PATH"))
        if gsettings is None:
            return None
        try:
            out = subprocess.run(
                [gsettings, "get", *BANNERS],
                env=dict(self.env),
                capture_output=True,
                text=True,
                timeout=CALL_TIMEOUT_S * 2,
                stdin=subprocess.DEVNULL,
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("context: gsettings: %s", exc)
            return None
        return {"true": True, "false": False}.get(out)


class SessionManagerInhibitors(Source):
    """Presenting: an application asked GNOME's session manager not to go idle."""

    name = "GNOME SessionManager InhibitedActions"
    tells = "presenting"
    service = SESSION_MANAGER[0]

    def look(self, bus: BusLink) -> bool:
        actions = attempt(self.name, lambda: bus.get(*SESSION_MANAGER, "InhibitedActions"))
        if not is_int(actions):
            return False
        self.value = bool(actions & INHIBIT_IDLE)  # type: ignore[operator]
        return True

    def rules(self) -> list[dict[str, str]]:
        return [{"sender": SESSION_MANAGER[0], "path": SESSION_MANAGER[1]}]

    def on_signal(
        self, member: str | None, path: str | None, iface: str | None, body: tuple[Any, ...]
    ) -> bool:
        actions = changed_prop(member, path, body, SESSION_MANAGER[1], "InhibitedActions")
        return is_int(actions) and self.say(bool(actions & INHIBIT_IDLE))  # type: ignore[operator]
