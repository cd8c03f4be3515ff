"""The person's own commands: `run` at the start, `undo` at the end, with the rules of a
reminder's `run` (runtime/commands.py: an argv, never a shell; a timeout; output to the log;
refused from a config others can write). `undo` is kept in the journal, so it still runs in
the morning after a crash, or after the config lost it."""

from __future__ import annotations

from sundown.runtime.effects import USABLE, Interface, Offer
from sundown.runtime.effects.journal import Entry, Journal


class RunUndo(Interface):
    effect = "run"
    name = "run"
    label = "your commands (run, undo)"

    def probe(self) -> Offer:
        return USABLE

    def start(self, argv: tuple[str, ...]) -> None:
        self.session.start_command("winddown", argv)

    def apply(self, journal: Journal) -> bool:
        assert self.wd is not None
        journal.record(
            Entry(self.effect, self.name, "run", previous=None, value={"undo": list(self.wd.undo)})
        )
        if self.wd.run:
            self.start(self.wd.run)
        return True

    def restore(self, entry: Entry) -> bool:
        undo = entry.value.get("undo") if isinstance(entry.value, dict) else None
        if undo:
            self.start(tuple(str(a) for a in undo))
        return True
