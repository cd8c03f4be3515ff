"""GNOME's settings (GSettings, stored by dconf), written with `gsettings`: Do Not Disturb
(`show-banners`), night light, grayscale (the magnifier's colour saturation) and the dark
colour scheme (`color-scheme`, which the settings portal hands to GTK, Qt and browsers).

Values are GVariant text, exactly as `gsettings get` prints them (`true`, `'prefer-dark'`,
`uint32 3400`, `0.0`), so the journal compares what it wrote with what it reads back.
Each setting is recorded before it is changed; one that already has the wanted value is
left alone and not recorded (a Do Not Disturb the person had on stays theirs).
"""

from __future__ import annotations

from typing import ClassVar

from sundown.runtime.effects import USABLE, EffectError, Interface, Offer, absent
from sundown.runtime.effects.journal import Entry, Journal

SHELL = "org.gnome.Shell"
COLOR_PLUGIN = "org.gnome.SettingsDaemon.Color"
NOTIFICATIONS = "org.gnome.desktop.notifications"
COLOR = "org.gnome.settings-daemon.plugins.color"
A11Y_APPS = "org.gnome.desktop.a11y.applications"
MAGNIFIER = "org.gnome.desktop.a11y.magnifier"
INTERFACE = "org.gnome.desktop.interface"


class GSettings(Interface):
    """The part every GSettings effect shares: read, record, write, put back."""

    name: ClassVar[str] = "gsettings"
    needs: ClassVar[tuple[tuple[str, str], ...]] = ()  # (schema, key) that must exist here
    needs_owner: ClassVar[str | None] = None  # a bus name that says this desktop uses them

    def get(self, schema: str, key: str) -> str:
        return self.session.run("gsettings", "get", schema, key).out.strip()

    def set(self, schema: str, key: str, value: str, was: str) -> str:
        """Write `value`; what `gsettings get` shows afterwards. A write that did not take (no
        dconf to take it: gsettings only warns) raises EffectError."""
        ran = self.session.run("gsettings", "set", schema, key, value)
        if "memory" in ran.err and "backend" in ran.err:
            raise EffectError("gsettings keeps nothing here (its memory backend: dconf is missing)")
        shown = self.get(schema, key)
        if shown == was and value != was:
            warning = ran.err.strip().splitlines()[-1:] or ["the setting did not change"]
            raise EffectError(f"gsettings set {schema} {key} did not take: {warning[0][:200]}")
        return shown

    def probe(self) -> Offer:
        if self.needs_owner is not None and not self.session.has_owner(self.needs_owner):
            return absent(f"{self.needs_owner} is not on the session bus")
        if self.session.which("gsettings") is None:
            # With GNOME on the bus, its settings tool missing is a failure, not a missing desktop.
            return Offer(False, "gsettings is not installed", broken=self.needs_owner is not None)
        for schema, key in self.needs:
            ran = self.session.run("gsettings", "range", schema, key, check=False)
            if ran.status != 0:
                return absent(f"no {schema} {key} here ({ran.err.strip().splitlines()[-1:] or 'unknown'})")
            if "memory" in ran.err and "backend" in ran.err:
                return absent("gsettings keeps nothing here (its memory backend: dconf is missing)")
        return USABLE

    def change(self, journal: Journal, schema: str, key: str, value: str) -> bool:
        """Record, then set `schema key` to `value`; False when it already was (and not ours)."""
        setting = f"gsettings {schema} {key}"
        current = self.get(schema, key)
        mine = journal.find(setting)
        if current == value and mine is None:
            return False
        entry = journal.record(Entry(self.effect, self.name, setting, previous=current, value=value))
        if current != value:
            shown = self.set(schema, key, value, current)
            if shown != value:  # a double comes back as GSettings prints it (23.99...)
                journal.update(Entry(self.effect, self.name, setting, previous=entry.previous, value=shown))
        return True

    def restore(self, entry: Entry) -> bool:
        _tool, schema, key = entry.setting.split(" ", 2)
        current = self.get(schema, key)
        if current == entry.value:
            self.set(schema, key, str(entry.previous), current)
            return True
        return current == entry.previous


class Banners(GSettings):
    """GNOME Shell's Do Not Disturb. It still shows critical notifications as banners (seen on a
    real GNOME Shell 43), so sundown's own reminders go out critical while it holds."""

    effect = "dnd"
    label = "GNOME show-banners"
    own_urgency = "critical"
    context_key = "GNOME show-banners"
    needs = ((NOTIFICATIONS, "show-banners"),)
    needs_owner = SHELL

    def apply(self, journal: Journal) -> bool:
        return self.change(journal, NOTIFICATIONS, "show-banners", "false")


class GnomeNightLight(GSettings):
    """gnome-settings-daemon's night light. With a temperature it is on all night (a schedule from
    12:00 to 11:59:31 the next day, which holds every window), with `true` on the person's own."""

    effect = "night_light"
    label = "GNOME night light (gnome-settings-daemon)"
    needs = ((COLOR, "night-light-enabled"), (COLOR, "night-light-temperature"))
    needs_owner = COLOR_PLUGIN

    def apply(self, journal: Journal) -> bool:
        assert self.wd is not None
        changed = False
        if self.wd.night_light is not True:
            temperature = int(self.wd.night_light)
            changed |= self.change(journal, COLOR, "night-light-temperature", f"uint32 {temperature}")
            changed |= self.change(journal, COLOR, "night-light-schedule-automatic", "false")
            changed |= self.change(journal, COLOR, "night-light-schedule-from", "12.0")
            changed |= self.change(journal, COLOR, "night-light-schedule-to", "11.9921875")
        changed |= self.change(journal, COLOR, "night-light-enabled", "true")
        return changed


class GnomeGrayscale(GSettings):
    """GNOME Shell applies colour effects only through its magnifier: colour saturation 0.0 with
    the full-screen magnifier at 1x greys the whole screen. A magnifier the person already uses
    keeps its zoom; only its saturation changes."""

    effect = "grayscale"
    label = "GNOME colour saturation (magnifier at 1x)"
    needs = ((MAGNIFIER, "color-saturation"), (A11Y_APPS, "screen-magnifier-enabled"))
    needs_owner = SHELL

    def apply(self, journal: Journal) -> bool:
        changed = self.change(journal, MAGNIFIER, "color-saturation", "0.0")
        enabled = journal.find(f"gsettings {A11Y_APPS} screen-magnifier-enabled")
        if enabled is not None or self.get(A11Y_APPS, "screen-magnifier-enabled") != "true":
            changed |= self.change(journal, MAGNIFIER, "mag-factor", "1.0")
            changed |= self.change(journal, MAGNIFIER, "lens-mode", "false")
            changed |= self.change(journal, MAGNIFIER, "screen-position", "'full-screen'")
            changed |= self.change(journal, A11Y_APPS, "screen-magnifier-enabled", "true")
        return changed


class ColorScheme(GSettings):
    """The dark colour scheme: GNOME reads it, and the settings portal passes it on to GTK 4,
    libadwaita, Qt and browsers (also under KDE, where the portal reads it through GSettings)."""

    effect = "dark"
    label = "color-scheme (GSettings, the settings portal)"
    needs = ((INTERFACE, "color-scheme"),)

    def apply(self, journal: Journal) -> bool:
        return self.change(journal, INTERFACE, "color-scheme", "'prefer-dark'")
