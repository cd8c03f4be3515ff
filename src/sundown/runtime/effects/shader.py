"""Grayscale through a compositor's screen shader, where one can be changed while the compositor
runs and put back: Hyprland's `decoration:screen_shader`, set with `hyprctl keyword` and read
back with `hyprctl -j getoption`.

The shader is sundown's own (`grayscale.frag`, package data, on disk where sundown is installed).
Hyprland has one screen shader at a time: one the person uses is replaced for the night and put
back in the morning. A config reload (`hyprctl reload`, or Hyprland's own on saving its config)
puts the person's configured shader back meanwhile; the morning then finds their value and
changes nothing.

picom is not among them: its D-Bus `opts_set` changes only fading and redirection options, and a
shader (`window-shader-fg`) is read from its config file at start or at a reset, so greying the
screen would mean rewriting the person's config and resetting their compositor (docs/winddown.md).
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from sundown.runtime.effects import USABLE, EffectError, Hung, Interface, Offer, absent
from sundown.runtime.effects.journal import Entry, Journal

OPTION = "decoration:screen_shader"
EMPTY = "[[EMPTY]]"  # how Hyprland shows, and is given, an unset string option
SHADER = "grayscale.frag"


def shader_path() -> Path:
    """sundown's grayscale shader as a file Hyprland can read."""
    return Path(str(files("sundown.runtime.effects") / SHADER))


class NoOption(EffectError):
    """This Hyprland has no `decoration:screen_shader` (a version before it, or after a rename)."""


def _unset(value: object) -> bool:
    return value in (None, "", EMPTY)


class HyprlandShader(Interface):
    """Hyprland's screen shader, set to sundown's grayscale one for the night."""

    effect = "grayscale"
    name = "hyprland-shader"
    label = "Hyprland screen shader (hyprctl)"

    def probe(self) -> Offer:
        if not self.session.env.get("HYPRLAND_INSTANCE_SIGNATURE"):
            return absent("not a Hyprland session (HYPRLAND_INSTANCE_SIGNATURE is not set)")
        if self.session.which("hyprctl") is None:
            return Offer(False, "hyprctl is not installed", broken=True)
        if not shader_path().is_file():
            return Offer(False, f"sundown's shader is not on disk ({shader_path()})", broken=True)
        try:
            self.current()
        except Hung:
            raise
        except NoOption as exc:
            return absent(str(exc))
        except EffectError as exc:  # a Hyprland session whose compositor does not answer: failed
            return Offer(False, str(exc), broken=True)
        return USABLE

    def current(self) -> str:
        """The screen shader Hyprland uses now, as it shows it (`[[EMPTY]]`: none)."""
        out = self.session.run("hyprctl", "-j", "getoption", OPTION).out.strip()
        if out == "no such option":
            raise NoOption(f"this Hyprland has no {OPTION}")
        try:
            found = json.loads(out)
        except ValueError:
            raise EffectError(
                f"hyprctl getoption {OPTION}: {out.splitlines()[0][:200] if out else 'no answer'}"
            ) from None
        value = found.get("str") if isinstance(found, dict) else None
        if not isinstance(value, str):
            raise EffectError(f"hyprctl getoption {OPTION} shows no string: {out[:200]}")
        return value

    def set(self, value: str) -> None:
        out = self.session.run("hyprctl", "keyword", OPTION, EMPTY if _unset(value) else value).out.strip()
        if out != "ok":  # hyprctl exits 0 with Hyprland's error as its output
            raise EffectError(
                f"hyprctl keyword {OPTION}: {out.splitlines()[0][:200] if out else 'no answer'}"
            )

    def apply(self, journal: Journal) -> bool:
        setting = f"hyprland {OPTION}"
        mine = str(shader_path())
        current = self.current()
        if current == mine and journal.find(setting) is None:
            return False
        journal.record(Entry(self.effect, self.name, setting, previous=current, value=mine))
        if current != mine:
            self.set(mine)
            if self.current() != mine:
                raise EffectError(f"hyprctl keyword {OPTION} did not take")
        return True

    def restore(self, entry: Entry) -> bool:
        current = self.current()
        if current == entry.value:
            self.set(str(entry.previous or EMPTY))
            return True
        return current == entry.previous or (_unset(current) and _unset(entry.previous))
