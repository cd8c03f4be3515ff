"""Resume and clock-set detection, config watching, and the daemon's catch-up after a suspend."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from jeepney import DBusAddress
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection as open_blocking
from jeepney.wrappers import new_signal

from sundown.paths import resolve_paths
from sundown.runtime.wake import ClockTimer, SleepWatch
from sundown.runtime.watch import ConfigWatch
from sundown.store.log import EventLog
from support.desktop import Desktop, emit_prepare_for_sleep, wait_until
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox

UTC = timezone.utc


class Calls:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.event = threading.Event()

    def __call__(self, what: str = "change") -> None:
        self.items.append(what)
        self.event.set()


def test_clock_timer_fires_at_its_wall_time():
    calls = Calls()
    timer = ClockTimer(calls)
    try:
        t0 = time.monotonic()
        timer.arm(datetime.now(UTC) + timedelta(seconds=0.3))
        assert calls.event.wait(2)
        assert 0.25 < time.monotonic() - t0 < 0.8
        assert calls.items == ["timer"]
    finally:
        timer.close()


def test_clock_timer_rearmed_later_does_not_fire_early():
    calls = Calls()
    timer = ClockTimer(calls)
    try:
        timer.arm(datetime.now(UTC) + timedelta(seconds=0.2))
        timer.arm(datetime.now(UTC) + timedelta(seconds=5))
        assert not calls.event.wait(0.6)
    finally:
        timer.close()


@pytest.mark.e2e
def test_logind_resume_signal_wakes_us_and_only_from_logind(bare_bus: Desktop):
    calls = Calls()
    watch = SleepWatch(calls, bare_bus.address)
    try:
        emit_prepare_for_sleep(bare_bus, True)
        emit_prepare_for_sleep(bare_bus, False, own_name=False)  # an impostor without the name
        assert not calls.event.wait(0.5)
        emit_prepare_for_sleep(bare_bus, False)
        assert calls.event.wait(2)
        assert calls.items == ["resume"]
    finally:
        watch.close()


@pytest.fixture
def watched(bare_bus: Desktop) -> Iterator[tuple[SleepWatch, Calls]]:
    """A SleepWatch on the bare bus whose wakes and hand-overs are recorded ("resume", "sleep")."""
    calls = Calls()
    watch = SleepWatch(calls, bare_bus.address, on_sleep=lambda: calls("sleep"))
    yield watch, calls
    watch.close()


@pytest.mark.e2e
def test_a_flood_of_prepare_for_sleep_from_a_stranger_is_counted_and_wakes_nothing(
    bare_bus: Desktop, watched: tuple[SleepWatch, Calls]
):
    watch, calls = watched
    emit_prepare_for_sleep(bare_bus, True)  # logind's own: sundown hands over and lets go
    wait_until(lambda: calls.items == ["sleep"], 2, "the real PrepareForSleep(true)")
    cpu = time.process_time()
    path, iface = "/org/freedesktop/login1", "org.freedesktop.login1.Manager"
    sent = bare_bus.stranger_signal(path, iface, "PrepareForSleep", "b", (False,), count=3000)
    bare_bus.stranger_signal(path, iface, "PrepareForSleep", "b", (True,))
    wait_until(lambda: watch.strangers >= 3001, 10, f"3001 strangers counted, got {watch.strangers}")
    assert sent >= 1 and calls.items == ["sleep"]  # no resume, no hand-over
    used = time.process_time() - cpu
    print(f"3000 forged PrepareForSleep(false): {used:.2f} s of CPU in this process")
    assert used < 2.0, used


@pytest.mark.e2e
def test_logind_itself_flooding_resume_is_acted_on_once_per_gap(
    bare_bus: Desktop, watched: tuple[SleepWatch, Calls]
):
    watch, calls = watched
    with open_blocking(bare_bus.address) as logind:
        logind.send_and_get_reply(message_bus.RequestName("org.freedesktop.login1"), timeout=2)
        emitter = DBusAddress("/org/freedesktop/login1", interface="org.freedesktop.login1.Manager")
        for _ in range(500):
            logind.send(new_signal(emitter, "PrepareForSleep", "b", (False,)))
        logind.send_and_get_reply(message_bus.GetId(), timeout=5)
        wait_until(lambda: watch.flooded >= 499, 10, f"the flood taken, {watch.flooded}")
    assert calls.items == ["resume"]  # one tick finds everything late; the rest are counted


def test_config_watch_sees_saves_by_rename_and_a_dir_created_later(tmp_path: Path):
    path = tmp_path / "later" / "config.toml"
    calls = Calls()
    watch = ConfigWatch(path, calls)
    try:
        path.parent.mkdir()
        wait_until(lambda: calls.items, 3, "the new directory to be noticed")
        calls.items.clear()
        tmp = path.with_suffix(".swp")
        tmp.write_text("x")
        tmp.rename(path)
        wait_until(lambda: calls.items, 3, "the rename")
        calls.items.clear()
        (path.parent / "unrelated.txt").write_text("y")
        time.sleep(0.5)
        assert calls.items == []
    finally:
        watch.close()


def test_daemon_after_a_suspend_sends_late_reminders_once_and_marks_older_missed(sandbox: Sandbox):
    sandbox.write_config(
        'timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n'
        '[reminders.wind]\nbefore = "60m"\n[reminders.tea]\nbefore = "45m"\n'
        '[reminders.lights]\nbefore = "0m"\n'
    )
    clock = FakeClock(datetime(2026, 11, 25, 21, 0, tzinfo=UTC))
    daemon = in_process_daemon(clock)
    try:
        daemon.tick()
        # "Suspended" from 21:00 to 22:10: wind (21:30) and tea (21:45) came due meanwhile.
        clock.now = datetime(2026, 11, 25, 22, 10, tzinfo=UTC)
        daemon.tick()  # what the resume wakeup runs
        daemon.tick()  # a second wakeup changes nothing
        daemon.handle_action("2026-11-25/late", "done")  # Done on the combined notification
        # Then asleep past bedtime: lights (22:30) is missed, without a notification.
        clock.now = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
        daemon.tick()
    finally:
        daemon.stop()
    rows = EventLog(sandbox.db_path).events()
    acked = [(e.reminder, e.source) for e in rows if e.event == "acknowledged"]
    assert acked == [("wind", "action"), ("tea", "action")]
    notified = [(e.reminder, e.details.get("together")) for e in rows if e.event == "notified"]
    assert notified == [("wind", ["wind", "tea"]), ("tea", ["wind", "tea"])]
    assert [(e.reminder, e.event) for e in rows if e.event == "missed"] == [("lights", "missed")]


def test_daemon_keeps_reminding_when_the_log_cannot_be_written(sandbox: Sandbox, capfd):
    sandbox.write_config('timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n')
    paths = resolve_paths()
    paths.state_dir.mkdir(parents=True)
    paths.database.mkdir()  # a directory where the log should be: blocks root too, who ignores modes
    paths.state_dir.chmod(0o500)  # read-only state dir, for everyone else (after the mkdir above)
    clock = FakeClock(datetime(2026, 11, 25, 21, 45, tzinfo=UTC))
    daemon = in_process_daemon(clock)
    try:
        daemon.tick()
        daemon.tick()
    finally:
        daemon.stop()
        paths.state_dir.chmod(0o700)
    out = capfd.readouterr().out
    assert out.count("Tea") == 1, out  # sent once, even though nothing could be logged
    assert "cannot write its log" in out


@pytest.mark.e2e
def test_running_daemon_reevaluates_on_logind_resume(sandbox: Sandbox, bare_bus: Desktop):

    sandbox.write_config('[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n')
    proc = sandbox.start_daemon("--backend", "console", env={"SUNDOWN_SYSTEM_BUS": bare_bus.address})
    try:
        emit_prepare_for_sleep(bare_bus, False)
        time.sleep(1)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert "woke up (resume)" in err


def test_config_watch_follows_a_symlinked_config_to_its_target(tmp_path: Path):
    """`config.toml -> ../dotfiles/sundown.toml`: edits to the target, in place or by rename, are seen,
    and so is a link pointed somewhere else (and then edits there)."""
    dotfiles, other = tmp_path / "dotfiles", tmp_path / "elsewhere"
    dotfiles.mkdir()
    other.mkdir()
    (dotfiles / "sundown.toml").write_text("a")
    (other / "sundown.toml").write_text("b")
    path = tmp_path / "config" / "config.toml"
    path.parent.mkdir()
    path.symlink_to(Path("..") / "dotfiles" / "sundown.toml")
    calls = Calls()
    watch = ConfigWatch(path, calls)
    try:
        with open(dotfiles / "sundown.toml", "a") as f:  # in place
            f.write("more")
        wait_until(lambda: calls.items, 3, "an in-place edit of the target")
        calls.items.clear()
        (dotfiles / "sundown.toml.new").write_text("c")
        (dotfiles / "sundown.toml.new").rename(dotfiles / "sundown.toml")  # by rename
        wait_until(lambda: calls.items, 3, "a save by rename of the target")
        calls.items.clear()
        relinked = path.with_name("config.toml.tmp")
        relinked.symlink_to(other / "sundown.toml")
        relinked.rename(path)  # the link now points elsewhere
        wait_until(lambda: calls.items, 3, "the link to change")
        calls.items.clear()
        (other / "sundown.toml").write_text("d")
        wait_until(lambda: calls.items, 3, "an edit of the new target")
        calls.items.clear()
        (dotfiles / "sundown.toml").write_text("e")  # the old target: no longer the config
        (other / "unrelated.txt").write_text("f")
        time.sleep(0.5)
        assert calls.items == []
    finally:
        watch.close()
