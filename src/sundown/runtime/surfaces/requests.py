"""What a request from a surface does (a D-Bus method, a tray menu item): the command line's rules.

`sundown ack`, `snooze`, `skip`, `unskip` and `reload` on tonight, run by the daemon on its
worker: the same targets (a bare ack is the latest waiting reminder, as `status` shows it), the
same answers (`runtime.answers.apply` on the daemon's ledger, as every answer from a button, the
phone or the command line), the same refusals with the same messages and the same rows, with
the surface's source. The result is the line the command prints; a refusal is the SundownError
(UsageError, ConfigError) the command exits with. tests/test_surfaces_daemon.py asks both.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from sundown.config import LoadedConfig
from sundown.config.values import unknown_reminder
from sundown.core.answers import Answer
from sundown.core.state import fold_changes
from sundown.core.status import Status, night_label, unskipped_words
from sundown.core.vocabulary import EventName, Source
from sundown.errors import ConfigError, SundownError, UsageError
from sundown.paths import Paths
from sundown.runtime import answers
from sundown.runtime.commands import Commands
from sundown.runtime.ledger import Ledger
from sundown.runtime.surfaces import Request


class Answering(Protocol):
    """What applying a request needs of the daemon."""

    ledger: Ledger

    @property
    def loaded(self) -> LoadedConfig: ...

    def clock(self) -> datetime: ...

    def snapshot(self) -> Status: ...

    @property
    def paths(self) -> Paths: ...

    @property
    def commands(self) -> Commands: ...

    def reload(self) -> list[str]: ...

    def config_removed(self) -> bool: ...


def apply(daemon: Answering, request: Request, source: Source) -> str:
    """Do what `request` asks, as the command would; returns what the command would print."""
    if request.verb == "reload":
        return _reload(daemon)
    if request.verb == "report":
        return _report(daemon)
    snapshot = daemon.snapshot()
    tonight = date.fromisoformat(snapshot.night)
    if request.verb == "ack":
        return _ack(daemon, snapshot, tonight, request, source)
    if request.verb == "snooze":
        return _snooze(daemon, snapshot, tonight, request, source)
    return _skip(daemon, tonight, request, source)


def _title(daemon: Answering, rid: str) -> str:
    reminder = daemon.loaded.routine.reminder(rid)
    return reminder.title if reminder else rid


def _hm(daemon: Answering, at: datetime) -> str:
    return at.astimezone(daemon.loaded.zone).strftime("%H:%M")


def _check_ids(daemon: Answering, ids: tuple[str, ...], night: date) -> None:
    known = [r.id for r in daemon.loaded.routine.reminders]
    logged = daemon.ledger.night_events(night)
    known += sorted({e.reminder for e in logged if e.reminder and e.reminder not in known})
    for rid in ids:
        if rid not in known:
            raise UsageError(unknown_reminder(rid, known))  # as the command line says it


def _waiting(snapshot: Status) -> tuple[date, str] | None:
    """The latest waiting reminder, as `status` shows it: what a bare ack or snooze acts on."""
    for row in reversed(snapshot.tonight):
        if row.waiting:
            return date.fromisoformat(row.night), row.reminder
    return None


def _target(
    daemon: Answering, snapshot: Status, tonight: date, request: Request, nothing: str
) -> tuple[date, str]:
    if request.ids:
        _check_ids(daemon, request.ids[:1], tonight)
        return tonight, request.ids[0]
    target = _waiting(snapshot)
    if target is None:
        raise SundownError(nothing)
    return target


def _ack(daemon: Answering, snapshot: Status, tonight: date, request: Request, source: Source) -> str:
    nothing = "nothing to acknowledge: no reminder is waiting; name one: sundown ack ID"
    night, rid = _target(daemon, snapshot, tonight, request, nothing)
    now = daemon.clock()
    [ruling] = answers.apply(daemon.ledger, Answer(night, (rid,), "done", source), now)
    if ruling.outcome != "applied":
        done = daemon.ledger.night(night).states[rid].acknowledged or now
        return f"{_title(daemon, rid)} ({night}) was already acknowledged at {_hm(daemon, done)}"
    return f"acknowledged {_title(daemon, rid)} ({night}) at {_hm(daemon, now)}"


def _snooze(daemon: Answering, snapshot: Status, tonight: date, request: Request, source: Source) -> str:
    from sundown.config.values import Invalid, read_interval

    duration: timedelta = daemon.loaded.routine.snooze
    if request.duration:
        try:
            duration = read_interval(request.duration)
        except Invalid as exc:
            raise UsageError(f"snooze: {exc}") from None
    night, rid = _target(daemon, snapshot, tonight, request, "nothing to snooze: no reminder is waiting")
    now = daemon.clock()
    until = now + duration  # at most 12h: read_interval caps it
    [ruling] = answers.apply(daemon.ledger, Answer(night, (rid,), "snooze", source, until=until), now)
    if ruling.outcome == "refused":
        hint = f"; acknowledge it with `sundown ack {rid}`" if ruling.refusal == "snooze_limit" else ""
        raise SundownError(ruling.why + hint)
    return f"snoozed {_title(daemon, rid)} until {_hm(daemon, until)}"


def _skip(daemon: Answering, tonight: date, request: Request, source: Source) -> str:
    ids = tuple(dict.fromkeys(request.ids))
    _check_ids(daemon, ids, tonight)
    event: EventName = "unskipped" if request.verb == "unskip" else "skipped"
    for rid in ids or (None,):
        daemon.ledger.apply(event, tonight, rid, source)
    if event == "unskipped" and not ids:  # those skipped one by one stay so: said, as the CLI does
        skip = fold_changes(daemon.ledger.night_events(tonight)).skip
        known = [r.id for r in daemon.loaded.routine.reminders]
        kept = [(rid, _title(daemon, rid)) for rid in [*known, *sorted(skip - set(known))] if rid in skip]
        return unskipped_words(night_label(tonight, tonight), kept)
    what = ", ".join(_title(daemon, rid) for rid in ids) if ids else "every reminder"
    return f"{event} {what} {night_label(tonight, tonight)}"


def _reload(daemon: Answering) -> str:
    problems = daemon.reload()
    if problems:
        raise ConfigError(problems)
    if daemon.config_removed():
        raise SundownError(
            f"{daemon.paths.config} does not exist any more; the daemon keeps the routine it last read"
            " (`sundown init` writes a new config, `sundown check` validates one)"
        )
    return "reloaded"


def _report(daemon: Answering) -> str:
    """The HTML report written beside the log, then opened in the browser (the tray's menu)."""
    import sys

    paths = daemon.paths
    path = paths.state_dir / "report.html"
    config = ("--config", str(paths.config)) if paths.config_explicit else ()
    argv = (sys.executable, "-m", "sundown", *config, "report", "--html", str(path))
    daemon.commands.open_report(argv, path)
    return f"writing {path} and opening it"
