"""A cap on the default output's volume: `wpctl` (PipeWire), else `pactl` (PulseAudio, and
PipeWire's pulse server). A volume at or under the cap is left alone: never raised.

The output is recorded by name (pactl) or id (wpctl) when it is capped, so the morning puts
back the volume of that output even if another became the default meanwhile; one that is gone
has nothing left to put back.
"""

from __future__ import annotations

import re

from sundown.runtime.effects import USABLE, EffectError, Interface, Offer, absent
from sundown.runtime.effects.journal import Entry, Journal

NORM = 65536  # PulseAudio's 100%
WPCTL_VOLUME = re.compile(r"Volume:\s*([0-9.]+)")
PACTL_CHANNEL = re.compile(r"(\d+)\s*/\s*\d+%")


class _Output(Interface):
    """What both tools do alike: usable when the tool (`name`) is there and names a default output."""

    effect = "volume"

    def probe(self) -> Offer:
        if self.session.which(self.name) is None:
            return absent(f"{self.name} is not installed")
        try:
            self.sink()
        except EffectError as exc:
            return absent(str(exc))
        return USABLE

    def sink(self) -> str:  # pragma: no cover - each tool overrides it
        """The default output, as the tool names it."""
        raise NotImplementedError


class Wpctl(_Output):
    name = "wpctl"
    label = "wpctl (PipeWire)"

    def sink(self) -> str:
        out = self.session.run("wpctl", "inspect", "@DEFAULT_AUDIO_SINK@").out
        m = re.match(r"\s*id (\d+)", out)
        if m is None:
            raise EffectError("wpctl names no default output")
        return m.group(1)

    def volume(self, sink: str) -> float:
        m = WPCTL_VOLUME.search(self.session.run("wpctl", "get-volume", sink).out)
        if m is None:
            raise EffectError(f"wpctl shows no volume for output {sink}")
        return float(m.group(1))

    def apply(self, journal: Journal) -> bool:
        assert self.wd is not None and self.wd.volume is not None
        sink = self.sink()
        setting = f"wpctl volume {sink}"
        cap = self.wd.volume / 100
        current = self.volume(sink)
        old = journal.find(setting)
        if current <= cap + 0.005:
            return old is not None
        journal.record(Entry(self.effect, self.name, setting, previous=current, value=cap))
        self.session.run("wpctl", "set-volume", sink, f"{cap:.2f}")
        return True

    def restore(self, entry: Entry) -> bool:
        sink = entry.setting.rsplit(" ", 1)[1]
        try:
            current = self.volume(sink)
        except EffectError:
            return True  # the output is gone: nothing to put back
        if abs(current - float(entry.value)) < 0.006:
            self.session.run("wpctl", "set-volume", sink, f"{float(entry.previous):.4f}")
            return True
        return abs(current - float(entry.previous)) < 0.006


class Pactl(_Output):
    name = "pactl"
    label = "pactl (PulseAudio)"

    def sink(self) -> str:
        name = self.session.run("pactl", "get-default-sink").out.strip()
        if not name:
            raise EffectError("pactl names no default output")
        return name

    def channels(self, sink: str) -> list[int]:
        """The raw volume of each channel (65536 is 100%)."""
        out = self.session.run("pactl", "get-sink-volume", sink).out
        found = [int(v) for v in PACTL_CHANNEL.findall(out.split("balance")[0])]
        if not found:
            raise EffectError(f"pactl shows no volume for {sink}")
        return found

    def set(self, sink: str, channels: list[int]) -> None:
        self.session.run("pactl", "set-sink-volume", sink, *(str(v) for v in channels))

    def apply(self, journal: Journal) -> bool:
        assert self.wd is not None and self.wd.volume is not None
        sink = self.sink()
        setting = f"pactl volume {sink}"
        cap = round(self.wd.volume / 100 * NORM)
        current = self.channels(sink)
        old = journal.find(setting)
        if max(current) <= cap:
            return old is not None
        capped = [min(v, cap) for v in current]  # each channel, so the balance stays
        journal.record(Entry(self.effect, self.name, setting, previous=current, value=capped))
        self.set(sink, capped)
        return True

    def restore(self, entry: Entry) -> bool:
        sink = entry.setting.split(" ", 2)[2]
        try:
            current = self.channels(sink)
        except EffectError as exc:
            if "No such entity" in str(exc) or "exited with 1" in str(exc):
                return True  # the output is gone: nothing to put back
            raise
        if _near(current, entry.value):
            self.set(sink, list(entry.previous))
            return True
        return _near(current, entry.previous)


def _near(a: list[int], b: object) -> bool:
    """Equal within PulseAudio's rounding (a volume set in % comes back a few units off)."""
    if not isinstance(b, list) or len(a) != len(b):
        return False
    return all(abs(x - int(y)) <= 66 for x, y in zip(a, b, strict=True))
