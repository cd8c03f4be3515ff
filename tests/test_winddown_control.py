"""The wind-down's undo journal and controller (runtime/effects/journal.py, runtime/winddown.py)
with stand-in interfaces: no desktop, no processes. What the real interfaces do on real desktops
is tests/test_winddown_desktop.py's and tests/test_winddown_kde.py's."""

from __future__ import annotations

import json
import os
import stat
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest

from sundown.core.routine import Bedtimes, Routine, WindDown
from sundown.paths import resolve_paths
from sundown.runtime import effects
from sundown.runtime import winddown as control_module
from sundown.runtime.effects import USABLE, EffectError, Hung, Interface, Offer, absent, choose
from sundown.runtime.effects.journal import Entry, Journal, JournalError
from sundown.runtime.effects.session import Session
from sundown.runtime.winddown import WindDownControl

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NIGHT = date(2026, 11, 25)
ROUTINE = Routine(Bedtimes.uniform(time(22, 30)), ())


# --- the journal ----------------------------------------------------------------------------------


def test_an_entry_is_on_disk_private_before_record_returns_and_keeps_the_first_previous(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path / "winddown.journal")
    journal.record(
        Entry("dark", "gsettings", "gsettings x color-scheme", previous="'default'", value="'prefer-dark'")
    )
    on_disk = json.loads(journal.path.read_text())
    assert on_disk["entries"][0]["previous"] == "'default'"
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    # Applied again (after a restart): the value sundown set is never taken for "what it was".
    journal.record(
        Entry(
            "dark", "gsettings", "gsettings x color-scheme", previous="'prefer-dark'", value="'prefer-dark'"
        )
    )
    assert Journal.load(journal.path).entries[0].previous == "'default'"


def test_two_effects_never_share_a_setting(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.record(Entry("dnd", "gsettings", "s", previous="true", value="false"))
    with pytest.raises(JournalError, match="belongs to dnd"):
        journal.record(Entry("dark", "gsettings", "s", previous="true", value="false"))


def test_an_empty_journal_is_no_file_and_a_broken_one_is_moved_aside(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.record(Entry("dnd", "x", "s", previous=1, value=2))
    journal.remove("s")
    assert not journal.path.exists()
    journal.path.write_text("{not json")
    with pytest.raises(JournalError, match="not a wind-down journal"):
        Journal.load(journal.path)
    assert not journal.path.exists() and journal.path.with_name("j.broken").exists()


def test_a_journal_that_cannot_be_written_is_an_error_not_a_silent_change(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    journal = Journal(tmp_path / "file" / "j")  # its directory is a file
    with pytest.raises(JournalError, match="cannot write"):
        journal.record(Entry("dnd", "x", "s", previous=1, value=2))


# --- the interfaces' declarations ---------------------------------------------------------------


def test_each_interface_is_declared_once_for_its_own_effect() -> None:
    by_name: dict[str, list[type[Interface]]] = {}
    for classes in effects.candidates().values():
        for cls in classes:
            by_name.setdefault(cls.name, []).append(cls)
    for name, classes in by_name.items():
        # A journal entry names the class that puts it back; classes sharing a name share that.
        assert len({cls.restore for cls in classes}) == 1, name
    for effect, classes in effects.candidates().items():
        for cls in classes:
            assert cls.effect == effect and cls.label
            if cls.own_urgency is not None or cls.context_key is not None:
                assert effect == "dnd"


# --- a stand-in desktop -------------------------------------------------------------------------

DESKTOP: dict[str, Any] = {}


class Offered(Interface):
    """A stand-in the desktop always offers."""

    def probe(self) -> Offer:
        return USABLE


class FakeSetting(Offered):
    """An effect on one value of DESKTOP, like a GSettings key."""

    effect = "dark"
    name = "fake-setting"
    label = "a fake setting"
    fail_restore: ClassVar[str | None] = None

    def apply(self, journal: Journal) -> bool:
        journal.record(Entry(self.effect, self.name, "dark", previous=DESKTOP.get("dark"), value="dark"))
        DESKTOP["dark"] = "dark"
        return True

    def restore(self, entry: Entry) -> bool:
        if FakeSetting.fail_restore:
            raise EffectError(FakeSetting.fail_restore)
        if DESKTOP.get("dark") == entry.value:
            DESKTOP["dark"] = entry.previous
            return True
        return DESKTOP.get("dark") == entry.previous


class FakeDnd(Offered):
    effect = "dnd"
    name = "fake-dnd"
    label = "a fake Do Not Disturb"
    own_urgency = "critical"
    context_key = "fake"

    def apply(self, journal: Journal) -> bool:
        journal.record(Entry(self.effect, self.name, "dnd", previous=False, value=True))
        DESKTOP["dnd"] = True
        return True

    def restore(self, entry: Entry) -> bool:
        DESKTOP["dnd"] = entry.previous
        return True


class HangingVolume(Offered):
    effect = "volume"
    name = "fake-volume"
    label = "a volume tool that hangs"

    def apply(self, journal: Journal) -> bool:
        raise Hung("fakectl did not answer within 2 s")

    def restore(self, entry: Entry) -> bool:
        return True


class DyingChild(Offered):
    effect = "night_light"
    name = "fake-child"
    label = "a child that dies"
    bound = True
    started: ClassVar[int] = 0

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.alive = False

    def apply(self, journal: Journal) -> bool:
        journal.record(Entry(self.effect, self.name, "child", previous=None, value=DyingChild.started))
        DyingChild.started += 1
        self.alive = True
        return True

    def holds(self, entry: Entry) -> bool:
        return self.alive

    def restore(self, entry: Entry) -> bool:
        self.alive = False
        return True


@pytest.fixture
def fakes(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    DESKTOP.clear()
    DESKTOP["dark"] = "light"
    FakeSetting.fail_restore = None
    DyingChild.started = 0
    table = {
        "dnd": (FakeDnd,),
        "dark": (FakeSetting,),
        "volume": (HangingVolume,),
        "night_light": (DyingChild,),
        "grayscale": (),
    }
    monkeypatch.setattr(effects, "candidates", lambda: table)
    return DESKTOP


def controller(rows: list[tuple[date, dict[str, Any]]]) -> WindDownControl:
    return WindDownControl(
        resolve_paths(), {}, lambda night, details: rows.append((night, details)), lambda: None
    )


def wd(**effects_on: Any) -> WindDown:
    return WindDown(until=time(7, 0), before=timedelta(minutes=30), **effects_on)


def routine(w: WindDown) -> Routine:
    return Routine(ROUTINE.bedtime, (), winddown=w)


def at(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=BERLIN)


def tick(c: WindDownControl, w: WindDown, now: datetime) -> datetime | None:
    found = c.tick(now, routine(w), BERLIN, [], {})
    c.wait()
    return found


def test_a_failing_effect_is_failed_with_why_and_the_others_apply_and_go_back(fakes: dict[str, Any]) -> None:
    rows: list[tuple[date, dict[str, Any]]] = []
    c = controller(rows)
    w = wd(dnd=True, dark=True, volume=30, grayscale=True)
    assert tick(c, w, at(21, 0)) == at(22, 0)  # nothing yet: the start is the next instant
    tick(c, w, at(22, 0))
    assert fakes == {"dark": "dark", "dnd": True}
    ((night, start),) = rows
    assert night == NIGHT and start["phase"] == "start"
    assert start["effects"] == {
        "dnd": "on",
        "grayscale": "unavailable",
        "dark": "on",
        "volume": "failed: fakectl did not answer within 2 s",
    }
    assert c.own_dnd() == ("fake", "critical")
    assert c.tick(at(23, 0), routine(w), BERLIN, [], {}) == at(7, 0, day=26)
    tick(c, w, at(7, 0, day=26))
    assert fakes == {"dark": "light", "dnd": False}
    end = rows[-1][1]
    assert end == {"phase": "end", "effects": {"dnd": "restored", "dark": "restored"}, "reason": "until"}
    assert c.own_dnd() == (None, None) and not c.journal.entries


def test_a_setting_changed_meanwhile_is_kept(fakes: dict[str, Any]) -> None:
    rows: list[tuple[date, dict[str, Any]]] = []
    c = controller(rows)
    w = wd(dark=True)
    tick(c, w, at(22, 0))
    fakes["dark"] = "sepia"  # the person's choice
    tick(c, w, at(8, 0, day=26))
    assert fakes["dark"] == "sepia" and rows[-1][1]["effects"] == {"dark": "kept"}


def test_a_restore_that_fails_is_said_and_retried_at_the_next_start(fakes: dict[str, Any]) -> None:
    rows: list[tuple[date, dict[str, Any]]] = []
    c = controller(rows)
    w = wd(dark=True)
    tick(c, w, at(22, 0))
    FakeSetting.fail_restore = "dconf is gone"
    tick(c, w, at(8, 0, day=26))
    assert rows[-1][1]["effects"] == {"dark": "failed: dconf is gone"}
    assert "could not be put back" in (c.snapshot(BERLIN).get("problem") or "")
    assert [e.error for e in Journal.load(c.paths.winddown_journal).entries] == ["dconf is gone"]
    # The next start (a new process) tries again, and succeeds.
    FakeSetting.fail_restore = None
    again: list[tuple[date, dict[str, Any]]] = []
    later = controller(again)
    tick(later, w, at(9, 0, day=26))
    assert fakes["dark"] == "light" and again[-1][1]["effects"] == {"dark": "restored"}
    assert "problem" not in later.snapshot(BERLIN) and not later.journal.entries


def test_a_child_that_dies_is_started_again_later_each_time_then_left(fakes: dict[str, Any]) -> None:
    now = [at(22, 0)]
    c = WindDownControl(resolve_paths(), {}, lambda night, details: None, lambda: None, clock=lambda: now[0])
    w = wd(night_light=3400)
    tick(c, w, now[0])
    assert DyingChild.started == 1
    pauses = []
    for death in range(1, control_module.GIVE_UP_AFTER + 1):
        c.live["night_light"].alive = False  # type: ignore[attr-defined]
        c._ended_by_itself(f"fake died #{death}")
        if c.restart_at is None:
            break
        pauses.append(int((c.restart_at - now[0]).total_seconds()))
        assert c.tick(now[0], routine(w), BERLIN, [], {}) == c.restart_at  # the timer is set for it
        assert DyingChild.started == death  # not at once
        now[0] = c.restart_at
        tick(c, w, now[0])
        assert DyingChild.started == death + 1
    assert pauses == [2, 4, 8, 16]  # a growing pause, never a loop
    assert c.restart_at is None and c.outcomes["night_light"].startswith("failed: fake died #5")
    assert DyingChild.started == 5


def test_choose_takes_the_first_that_answers_and_a_final_no_stops_with_its_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Absent(Interface):
        effect, name, label = "dnd", "a", "first"

        def probe(self) -> Offer:
            return absent("not here")

    class Final(Interface):
        effect, name, label = "dnd", "b", "second"

        def probe(self) -> Offer:
            return Offer(False, "too old", "upgrade", final=True)

    class Never(Interface):
        effect, name, label = "dnd", "c", "third"

        def probe(self) -> Offer:
            raise AssertionError("never asked after a final no")

    monkeypatch.setattr(effects, "candidates", lambda: {"dnd": (Absent, Final, Never)})
    choice = choose("dnd", Session({}), None)
    assert choice.interface is None and choice.why == "second: too old" and choice.fix == "upgrade"
    monkeypatch.setattr(effects, "candidates", lambda: {"dnd": (Absent,)})
    assert choose("dnd", Session({}), None).why == "first: not here"


def test_the_journal_lives_in_the_state_dir() -> None:
    paths = resolve_paths()
    assert paths.winddown_journal.parent == paths.state_dir
    assert os.path.basename(paths.winddown_journal) == "winddown.journal"


def test_a_whole_night_skip_ends_it_at_once_and_says_why(fakes: dict[str, Any]) -> None:
    from sundown.core.plan import NightChanges

    rows: list[tuple[date, dict[str, Any]]] = []
    c = controller(rows)
    w = wd(dark=True)
    tick(c, w, at(22, 0))
    c.tick(at(22, 30), routine(w), BERLIN, [], {NIGHT: NightChanges(skip_all=True)})
    c.wait()
    assert fakes["dark"] == "light" and rows[-1][1]["reason"] == "skip"


def test_doctor_shows_settings_not_put_back_until_they_are(fakes: dict[str, Any]) -> None:
    from sundown.doctor import check_winddown

    paths = resolve_paths()
    journal = Journal(paths.winddown_journal)
    journal.record(
        Entry("dark", "fake-setting", "dark", previous="light", value="dark", error="dconf is gone")
    )
    [line] = check_winddown(paths, {})
    assert (
        line.status == "warn"
        and "dconf is gone" in line.detail
        and "sundown winddown off" in (line.fix or "")
    )
    journal.remove("dark")
    assert check_winddown(paths, {}) == []


def test_when_a_change_is_done_the_daemons_next_tick_gets_the_windows_end(fakes: dict[str, Any]) -> None:
    """The tick a finished change causes must not find it still busy: it would not ask for
    `until`, and with no reminder due nothing would wake the daemon to put things back."""
    import threading

    asked: list[datetime | None] = []
    done = threading.Event()
    w = wd(dark=True)

    def woke() -> None:
        asked.append(c.tick(at(22, 0), routine(w), BERLIN, [], {}))
        done.set()

    c = WindDownControl(resolve_paths(), {}, lambda night, details: None, woke)
    c.tick(at(22, 0), routine(w), BERLIN, [], {})
    assert done.wait(5)
    assert asked == [at(7, 0, day=26)]
