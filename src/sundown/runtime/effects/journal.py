"""The wind-down's undo journal: every setting sundown changed, with its value before and the
value sundown set, on disk before the change is made.

One small JSON file in the state directory (`Paths.winddown_journal`, mode 0600), replaced
atomically (`paths.write_atomic`: a temporary file, fsynced, renamed; then the directory
fsynced) each time
it changes: a crash at any moment leaves the old or the new journal, never half of one. An
entry is written before its change and removed once it has been put back; a restore that
failed stays, with why, and is tried again at the next start (`status` and `doctor` show it).

Restoring an entry (the interface that wrote it does it): the current value is the value
sundown set -> the previous value is put back; it is the previous value already -> nothing to
do; it is anything else -> the person changed it meanwhile, and it is left as they set it
(`kept`). Re-applying a setting keeps the first previous value: sundown never records its
own value as "what it was before".
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sundown.paths import write_atomic

VERSION = 1


class JournalError(Exception):
    """The journal cannot be read or written (the message says which file and why)."""


@dataclass(frozen=True)
class Entry:
    """One setting sundown changed: what it was, what sundown made it."""

    effect: str
    interface: str  # the `Interface.name` that wrote it and puts it back
    setting: str  # what was changed; one effect per setting, never two
    previous: Any = None
    value: Any = None
    error: str | None = None  # why the last restore failed

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            effect=str(data["effect"]),
            interface=str(data["interface"]),
            setting=str(data["setting"]),
            previous=data.get("previous"),
            value=data.get("value"),
            error=data.get("error"),
        )


@dataclass
class Journal:
    """The file's contents in memory; every change is written through at once."""

    path: Path
    entries: list[Entry] = field(default_factory=list)
    # The stretch the entries belong to: {"since": ISO, "until": ISO} and what happened once in
    # it ("paused": players were paused; not again after a restart in the same stretch).
    window: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Journal:
        """The journal at `path` (empty when there is none). A file that is not a journal is
        moved aside (`.broken`) and reported: its settings cannot be known, so none is touched."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise JournalError(f"cannot read {path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
            entries = [Entry.from_json(e) for e in data["entries"]]
            window = dict(data.get("window") or {})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            broken = path.with_name(path.name + ".broken")
            with contextlib.suppress(OSError):
                os.replace(path, broken)
            raise JournalError(f"{path} is not a wind-down journal ({exc}); moved to {broken}") from None
        return cls(path, entries, window)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def find(self, setting: str) -> Entry | None:
        return next((e for e in self.entries if e.setting == setting), None)

    def of(self, effect: str) -> list[Entry]:
        return [e for e in self.entries if e.effect == effect]

    def record(self, entry: Entry) -> Entry:
        """Write `entry` durably before its change is made; a setting already in the journal
        keeps its first previous value. Raises JournalError: then the change must not be made."""
        old = self.find(entry.setting)
        if old is not None:
            if old.effect != entry.effect:  # two effects never share a setting
                raise JournalError(f"{entry.setting} belongs to {old.effect}, not {entry.effect}")
            entry = replace(entry, previous=old.previous, error=None)
            self.entries = [entry if e.setting == entry.setting else e for e in self.entries]
        else:
            self.entries.append(entry)
        self.save()
        return entry

    def update(self, entry: Entry) -> None:
        """Replace the entry for the same setting (a value read back, an error to retry)."""
        self.entries = [entry if e.setting == entry.setting else e for e in self.entries]
        self.save()

    def remove(self, setting: str) -> None:
        self.entries = [e for e in self.entries if e.setting != setting]
        self.save()

    def set_window(self, **window: Any) -> None:
        self.window = dict(window)
        self.save()

    def save(self) -> None:
        """Replace the file atomically and durably; an empty journal with no window is no file."""
        if not self.entries and not self.window:
            try:
                self.path.unlink(missing_ok=True)
                _sync_dir(self.path.parent)
            except OSError as exc:
                raise JournalError(f"cannot remove {self.path}: {exc.strerror or exc}") from None
            return
        data = {"version": VERSION, "window": self.window, "entries": [asdict(e) for e in self.entries]}
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n")
            _sync_dir(self.path.parent)  # the rename itself on disk, before the change is made
        except OSError as exc:
            raise JournalError(f"cannot write {self.path}: {exc.strerror or exc}") from None


def _sync_dir(directory: Path) -> None:
    """The rename itself is durable once the directory is synced."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
