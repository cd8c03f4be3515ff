"""Wind-down effects: one class per interface a desktop offers for an effect, behind one base.

An `Interface` says whether this desktop offers it (`probe`), applies its effect after
writing each setting's value before and after into the journal (`apply`), says whether
what it applied still holds (`holds`: a child that died, a bus connection that dropped),
and puts one journal entry back (`restore`), from the entry alone: a daemon started after
a crash, or `sundown winddown off` without a daemon, restores what another process set.

Optional abilities are class attributes with defaults (the daemon never probes with
getattr): `own_urgency` and `context_key` for Do Not Disturb (the urgency sundown's own
reminders need to show through it, and the context source that sees it), `bound` for an
effect that holds only while sundown runs (an inhibition, a child process).

The candidates for each effect are listed in the order of preference (`CANDIDATES`); the
first that answers on this desktop is used (`choose`). A tool that is missing, hangs or
fails raises `EffectError`; the controller logs it `failed: <why>` and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from sundown.core.routine import WindDown
    from sundown.runtime.effects.journal import Entry, Journal
    from sundown.runtime.effects.session import Session


class EffectError(Exception):
    """An effect could not be applied or put back: the message is the `<why>` of `failed: <why>`."""


class Hung(EffectError):
    """A tool or a bus service did not answer in time (it was stopped): the desktop has the
    interface, and it failed, even when this happens while looking for it."""


@dataclass(frozen=True)
class Offer:
    """What `probe` found: `usable`, or why not. `final`: this is the desktop's own interface for
    the effect and it cannot do it here (dunst 1.9 for Do Not Disturb): the effect is `unavailable`
    with `why` and `fix`, and no later candidate is tried. `broken`: the desktop has it, but the
    tool it needs is missing: the effect `failed` (unless a later candidate answers)."""

    usable: bool
    why: str = ""
    fix: str | None = None
    final: bool = False
    broken: bool = False  # the desktop has this interface, but its tool is missing: `failed`


USABLE = Offer(True)


def absent(why: str) -> Offer:
    return Offer(False, why)


class Interface:
    """One way of applying one effect on one kind of desktop (see the module's docstring)."""

    effect: ClassVar[str]
    name: ClassVar[str]  # in the journal: which class puts an entry back
    label: ClassVar[str]  # for people: `doctor`, `status`
    own_urgency: ClassVar[str | None] = None
    context_key: ClassVar[str | None] = None
    bound: ClassVar[bool] = False

    def __init__(self, session: Session, wd: WindDown | None = None) -> None:
        self.session = session
        self.wd = wd

    def probe(self) -> Offer:  # pragma: no cover - every interface overrides it
        raise NotImplementedError

    def apply(self, journal: Journal) -> bool:  # pragma: no cover - every interface overrides it
        """Apply the effect; True when something was changed (False: it already was so)."""
        raise NotImplementedError

    def changed(self, entry: Entry) -> bool:
        """Did `entry` change anything (a Do Not Disturb that was off is now on)?"""
        return bool(entry.previous != entry.value)

    def holds(self, entry: Entry) -> bool:
        """Does what `entry` recorded still hold (only `bound` interfaces can lose it)?"""
        return True

    def restore(self, entry: Entry) -> bool:  # pragma: no cover - every interface overrides it
        """Put `entry` back; True: restored, False: the person changed it meanwhile (kept)."""
        raise NotImplementedError

    def watch(self, on_exit: Callable[[str], None]) -> None:
        """A `bound` interface calls `on_exit(why)` (from another thread) when what it holds
        ends by itself, e.g. its child died; others never do."""

    def release(self) -> None:
        """Let go of what this object holds (connections, children) without restoring."""


def registry() -> dict[str, type[Interface]]:
    """Every interface class by its journal name (imported here, when needed)."""
    return {cls.name: cls for classes in candidates().values() for cls in classes}


def candidates() -> dict[str, tuple[type[Interface], ...]]:
    """The interfaces of each effect, in the order they are tried."""
    from sundown.runtime.effects import commands, gsettings, media, nightlight, notifications, shader, volume

    return {
        "dnd": (
            notifications.Inhibit,
            gsettings.Banners,
            notifications.DunstPause,
            notifications.MakoMode,
            notifications.XfceDnd,
        ),
        "night_light": (
            gsettings.GnomeNightLight,
            nightlight.KWinNightLight,
            nightlight.GammaChild,
            nightlight.RandrGamma,
        ),
        "grayscale": (gsettings.GnomeGrayscale, shader.HyprlandShader),
        "dark": (gsettings.ColorScheme,),
        "volume": (volume.Wpctl, volume.Pactl),
        "pause_media": (media.Mpris,),
        "run": (commands.RunUndo,),
    }


@dataclass(frozen=True)
class Choice:
    """The interface used for an effect on this desktop, or why there is none: `broken` when one
    was there but hung (`failed: <why>`), else the desktop does not offer it (`unavailable`)."""

    effect: str
    interface: Interface | None
    why: str = ""
    fix: str | None = None
    broken: bool = False

    @property
    def label(self) -> str:
        return self.interface.label if self.interface is not None else ""


def choose(effect: str, session: Session, wd: WindDown | None) -> Choice:
    """The first interface of `effect` that answers on this desktop; else why none does."""
    why = []
    hung = None
    for cls in candidates()[effect]:
        found = cls(session, wd)
        try:
            offer = found.probe()
        except Hung as exc:
            hung = hung or f"{found.label}: {exc}"
            continue
        except EffectError as exc:
            offer = absent(str(exc))
        if offer.usable:
            return Choice(effect, found)
        if offer.broken:
            hung = hung or f"{found.label}: {offer.why}"
            continue
        if offer.final:
            return Choice(effect, None, f"{found.label}: {offer.why}", offer.fix)
        why.append(f"{found.label}: {offer.why}")
    if hung is not None:
        return Choice(effect, None, hung, broken=True)
    return Choice(effect, None, "; ".join(why) or "nothing on this desktop offers it")
