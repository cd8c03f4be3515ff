"""Media players paused once, at the start: `Pause` on every `org.mpris.MediaPlayer2.*` on the
session bus that is playing. Nothing is resumed in the morning, and a player started later in
the night is not paused again (the journal's window remembers that the pause happened)."""

from __future__ import annotations

from sundown.runtime.effects import USABLE, EffectError, Interface, Offer, absent
from sundown.runtime.effects.journal import Entry, Journal

PREFIX = "org.mpris.MediaPlayer2."
PATH = "/org/mpris/MediaPlayer2"
PLAYER = "org.mpris.MediaPlayer2.Player"


class Mpris(Interface):
    effect = "pause_media"
    name = "mpris"
    label = "MPRIS (every media player on the session bus)"

    def probe(self) -> Offer:
        try:
            self.session.names()
        except EffectError as exc:
            return absent(str(exc))
        return USABLE

    def apply(self, journal: Journal) -> bool:
        paused, problems = [], []
        for name in sorted(n for n in self.session.names() if n.startswith(PREFIX)):
            try:
                if self.session.get(name, PATH, PLAYER, "PlaybackStatus") != "Playing":
                    continue
                self.session.call(name, PATH, PLAYER, "Pause")
                paused.append(name[len(PREFIX) :])
            except EffectError as exc:  # one player that does not answer: the others are paused
                problems.append(f"{name[len(PREFIX) :]}: {exc}")
        if problems and not paused:
            raise EffectError("; ".join(problems))
        return bool(paused)

    def restore(self, entry: Entry) -> bool:
        return True  # a pause is never undone
