"""The wind-down on a real desktop (docs/winddown.md): dunst 1.9 on Xvfb, dconf-service with the
installed GSettings schemas, PulseAudio with a null sink, mpv playing through mpv-mpris, a
stand-in gammastep; one desktop for the module. Daemons run in process with a clock moved to a
chosen night (their scheduler still waits in real time), or as real processes where a kill -9
matters."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from support.desktop import _kill_group, running_desktop, wait_until
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox
from support.winddown import OffsetClock, Parts, wait_row, winddown_rows

pytestmark = pytest.mark.e2e

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
FULL = """
[winddown]
before = "{before}"
until = "{until}"
dnd = true
night_light = 3400
grayscale = true
dark = true
volume = "30%"
pause_media = true
run = ["sh", "-c", "echo run >> {record}"]
undo = ["sh", "-c", "echo undo >> {record}"]
"""
HALF = 32768  # 50% on PulseAudio's scale
CAPPED = round(0.30 * 65536)


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parts]:
    with running_desktop(tmp_path_factory.mktemp("winddown"), with_x=True, with_server=True) as desk:
        found = Parts(desk)
        found.start_dconf()
        found.start_pulseaudio()
        found.start_mpv()
        yield found


@pytest.fixture
def desk(parts: Parts) -> Parts:
    """The module's desktop as a person left it: light scheme, 50% volume, music playing."""
    parts.gsettings("reset", "org.gnome.desktop.interface", "color-scheme")
    parts.pactl("set-sink-volume", "night", str(HALF))
    if parts.mpris_status() != "Playing":
        parts.mpris("Play")
    for pid, _ in parts.gamma_children():
        os.kill(pid, signal.SIGKILL)
    parts.record.unlink(missing_ok=True)
    return parts


def config(sandbox: Sandbox, body: str, bedtime: str = "07:00", reminders: str = "") -> Path:
    record = sandbox.root / "commands.txt"
    text = f'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "{bedtime}"\n{reminders}\n'
    sandbox.write_config(text + body.format(record=record, before="5s", until="07:00"))
    return record


def in_process(
    sandbox: Sandbox, desk: Parts, clock: Callable[[], datetime], backend: str = "dbus", **env_extra: str
):
    """A daemon in this process on the sandbox's config (its instance locks taken, as `run` does)."""
    env = desk.daemon_env(sandbox.root, sandbox.env, **env_extra)
    return in_process_daemon(clock, env=env, backend=backend, locked=True)


def new_notifications(desk: Parts, seen: int, count: int) -> list[Any]:
    """The Notify calls after the first `seen` (the module's bus has other tests' too)."""
    return desk.desk.monitor.wait_notify(seen + count, timeout=10)[seen:]


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_a_night_on_dunst_1_9_applies_all_but_dnd_in_time_and_puts_all_back_at_until(
    sandbox: Sandbox, desk: Parts
) -> None:
    record = config(sandbox, FULL, reminders='[reminders.tea]\nbefore = "3s"\n')
    start = datetime(2026, 11, 26, 6, 59, 55, tzinfo=BERLIN)  # 5 s before 07:00
    seen = len(desk.desk.monitor.notify_calls())  # the module's desktop: earlier tests' too
    until = datetime(2026, 11, 26, 7, 0, tzinfo=BERLIN)
    daemon = in_process(sandbox, desk, OffsetClock(start - timedelta(seconds=2)))
    daemon.start()
    try:
        row = wait_row(sandbox.db_path, "start", timeout=10)
        applied = (row["ts"] - start).total_seconds()
        effects = row["effects"]
        assert effects == {
            "dnd": "unavailable",
            "night_light": "on",
            "grayscale": "unavailable",
            "dark": "on",
            "volume": "on",
            "pause_media": "on",
            "run": "on",
        }
        # dunst 1.9 has no pause levels: the reason and the exact rule, nothing paused.
        assert (
            "dunst 1.9" in row["unavailable"]["dnd"]
            and "override_pause_level = 100" in row["unavailable"]["dnd"]
        )
        assert desk.desk.dunstctl("is-paused").strip() == "false"
        assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'prefer-dark'"
        assert desk.volume() == [CAPPED, CAPPED]
        assert desk.mpris_status() == "Paused"
        [(pid, argv)] = desk.gamma_children(1)
        assert argv == "-m wayland -r -O 3400"
        wait_until(lambda: lines(record) == ["run"], 5, "the run command")
        state = daemon.call(daemon.status)["winddown"]
        assert state["active"] and state["until"] == until.isoformat() and state["effects"] == effects
        # sundown's own reminder, due inside the window, reaches the screen.
        [call] = new_notifications(desk, seen, 1)
        assert call.summary == "Tea"
        wait_until(lambda: desk.desk.displayed() >= 1, 5, "dunst showing the reminder")

        end = wait_row(sandbox.db_path, "end", timeout=15)
        restored = (end["ts"] - until).total_seconds()
        assert end["reason"] == "until"
        assert end["effects"] == {e: "restored" for e in ("night_light", "dark", "volume", "run")}
        assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'default'"
        assert desk.volume() == [HALF, HALF]
        wait_until(
            lambda: (
                not Path(f"/proc/{pid}").exists() or b"sleep" not in Path(f"/proc/{pid}/cmdline").read_bytes()
            ),
            5,
        )
        wait_until(lambda: lines(record) == ["run", "undo"], 5, "the undo command")
        assert desk.mpris_status() == "Paused"  # a pause is never undone
        assert (
            not sandbox.db_path.with_name("winddown.journal").exists()
            or not json.loads(sandbox.db_path.with_name("winddown.journal").read_text())["entries"]
        )
        print(f"\nwind-down applied {applied:.2f} s after its start, put back {restored:.2f} s after until")
        assert applied < 2.0 and restored < 2.0
    finally:
        daemon.stop()


def test_doctor_says_what_each_effect_uses_and_the_dunst_rule(sandbox: Sandbox, desk: Parts) -> None:
    config(sandbox, FULL)
    env = desk.daemon_env(sandbox.root, sandbox.env)
    out = sandbox.run("doctor", env=env).stdout
    found = {line.split()[2]: line for line in out.splitlines() if line[6:].startswith("winddown ")}
    assert set(found) == {"dnd", "night_light", "grayscale", "dark", "volume", "pause_media", "run"}
    assert found["dnd"].startswith("warn") and "dnd unavailable: dunst pause level: dunst 1.9" in " ".join(
        out.split()
    )
    assert "override_pause_level = 100" in out  # the fix, printed under it
    assert "gammastep" in found["night_light"] and found["night_light"].startswith("ok")
    assert "color-scheme" in found["dark"] and "pactl" in found["volume"] and "MPRIS" in found["pause_media"]
    assert found["grayscale"].startswith("warn") and "org.gnome.Shell is not on" in " ".join(out.split())


def test_on_and_off_by_hand_and_a_setting_changed_meanwhile_stays(sandbox: Sandbox, desk: Parts) -> None:
    config(sandbox, FULL)
    daemon = in_process(sandbox, desk, OffsetClock(datetime(2026, 11, 26, 15, 0, tzinfo=BERLIN)))
    daemon.start()
    try:
        off = sandbox.run("winddown", "off", check=True)
        assert "no wind-down is on" in off.stdout
        on = sandbox.run("winddown", "on", check=True)
        assert "wind-down on until" in on.stdout and "dark" in on.stdout
        assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'prefer-dark'"
        status = json.loads(sandbox.run("winddown", "status", "--json", check=True).stdout)
        assert status["active"] and status["effects"]["dark"] == "on"
        # The person picks the light scheme meanwhile: it stays theirs.
        desk.gsettings("set", "org.gnome.desktop.interface", "color-scheme", "'prefer-light'")
        off = sandbox.run("winddown", "off", check=True)
        assert "dark" in off.stdout and "kept" in off.stdout
        end = wait_row(sandbox.db_path, "end")
        assert end["effects"]["dark"] == "kept" and end["effects"]["volume"] == "restored"
        assert end["reason"] == "off"
        assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'prefer-light'"
        assert desk.volume() == [HALF, HALF]
        sources = [r["source"] for r in winddown_rows(sandbox.db_path)]
        assert sources == ["cli", "daemon", "cli", "daemon"]  # each request, then what happened
    finally:
        daemon.stop()


def test_kill_9_inside_the_window_then_starts_inside_and_after_until(sandbox: Sandbox, desk: Parts) -> None:
    record = config(sandbox, FULL)
    env = desk.daemon_env(sandbox.root, sandbox.env)
    proc = sandbox.start_daemon("--backend", "console", env=env)
    try:
        sandbox.run("winddown", "on", check=True)
        [(first, _)] = desk.gamma_children(1)
    finally:
        proc.kill()  # kill -9 inside the window
        proc.wait(timeout=5)
    # Everything it changed holds; its gammastep outlived it.
    assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'prefer-dark'"
    assert desk.volume() == [CAPPED, CAPPED] and desk.gamma_children() == [(first, "-m wayland -r -O 3400")]

    # A start inside the window: what went with the old process is applied again (a new child
    # instead of the orphan), the rest holds, and the player the person restarted is not paused again.
    desk.mpris("Play")
    wait_until(lambda: desk.mpris_status() == "Playing", 5)
    now = datetime.now(UTC)
    daemon = in_process(sandbox, desk, FakeClock(now))
    daemon.tick()
    daemon.winddown.control.wait()
    try:
        [(second, _)] = desk.gamma_children(1)
        assert second != first and desk.mpris_status() == "Playing"
        assert daemon.winddown.control.snapshot(BERLIN)["active"]
    finally:
        # Crash again: nothing put back, left to the next start.
        control, daemon.winddown.control = daemon.winddown.control, None
        control.close(restore=False, now=now)
        daemon.stop()
    # A start after `until` (the journal's window is over): everything back, the undo runs.
    until = datetime.fromisoformat(control.journal.window["until"])
    later = in_process(sandbox, desk, FakeClock(until + timedelta(minutes=5)))
    later.tick()
    later.winddown.control.wait()
    later.stop()
    end = [r for r in winddown_rows(sandbox.db_path) if r.get("phase") == "end"][-1]
    assert (
        end["reason"] == "until"
        and end["effects"]["dark"] == "restored"
        and end["effects"]["volume"] == "restored"
    )
    assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'default'"
    assert desk.volume() == [HALF, HALF] and desk.gamma_children() == []
    assert lines(record) == ["run", "undo"]


def test_a_dst_night_and_a_clock_jump_over_until(sandbox: Sandbox, desk: Parts) -> None:
    # Berlin springs forward on 2027-03-28 at 02:00: bedtime 02:30 is 03:30 CEST (01:30 UTC), the
    # wind-down starts 1 h before in elapsed time (00:30 UTC, 01:30 CET), until 02:45 is 03:45 CEST.
    sandbox.write_config(
        'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "02:30"\n'
        '[winddown]\nbefore = "1h"\nuntil = "02:45"\ndark = true\n'
    )
    start, until = datetime(2027, 3, 28, 0, 30, tzinfo=UTC), datetime(2027, 3, 28, 1, 45, tzinfo=UTC)
    clock = FakeClock(start - timedelta(seconds=1))
    daemon = in_process(sandbox, desk, clock, backend="console")
    try:
        assert daemon.winddown.tick(clock()) == start
        clock.now = start
        daemon.tick()
        daemon.winddown.control.wait()
        assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'prefer-dark'"
        assert daemon.winddown.tick(clock()) == until
        clock.now = until + timedelta(hours=3)  # the clock is stepped (or the machine woke) past until
        daemon.tick()
        daemon.winddown.control.wait()
        assert desk.gsettings("get", "org.gnome.desktop.interface", "color-scheme") == "'default'"
        end = wait_row(sandbox.db_path, "end")
        assert end["reason"] == "until" and end["effects"] == {"dark": "restored"}
    finally:
        daemon.stop()


GNOME = ("org.gnome.Shell", "org.gnome.SettingsDaemon.Color")
SCHEMAS = (
    ("org.gnome.desktop.notifications", "show-banners"),
    ("org.gnome.settings-daemon.plugins.color", "night-light-enabled"),
    ("org.gnome.settings-daemon.plugins.color", "night-light-temperature"),
    ("org.gnome.settings-daemon.plugins.color", "night-light-schedule-automatic"),
    ("org.gnome.desktop.a11y.magnifier", "color-saturation"),
    ("org.gnome.desktop.a11y.magnifier", "mag-factor"),
    ("org.gnome.desktop.a11y.applications", "screen-magnifier-enabled"),
)


def gnome_settings(desk: Parts) -> list[str]:
    return [desk.gsettings("get", schema, key) for schema, key in SCHEMAS]


def test_on_gnome_its_own_dnd_is_not_busy_its_reminders_go_critical_and_all_is_put_back(
    sandbox: Sandbox, desk: Parts
) -> None:
    for schema, key in SCHEMAS:
        desk.gsettings("reset", schema, key)
    before = gnome_settings(desk)
    config(
        sandbox,
        '[winddown]\nbefore = "5s"\nuntil = "07:00"\ndnd = true\nnight_light = 3400\ngrayscale = true\n',
        reminders='[reminders.tea]\nbefore = "2s"\n',  # 3 s into the window
    )
    start = datetime(2026, 11, 26, 6, 59, 55, tzinfo=BERLIN)
    seen = len(desk.desk.monitor.notify_calls())  # the module's desktop: earlier tests' too
    with desk.owning(*GNOME):
        daemon = in_process(sandbox, desk, OffsetClock(start - timedelta(seconds=2)))
        daemon.start()
        try:
            row = wait_row(sandbox.db_path, "start")
            assert row["effects"] == {"dnd": "on", "night_light": "on", "grayscale": "on"}
            assert gnome_settings(desk) == ["false", "true", "uint32 3400", "false", "0.0", "1.0", "true"]
            # sundown's own Do Not Disturb is not the person being busy: the reminder due inside it
            # is sent at its time, not deferred, and critical (GNOME shows those as banners).
            [call] = new_notifications(desk, seen, 1)
            assert (call.summary, call.urgency) == ("Tea", 2)
            assert sandbox.logged("deferred") == 0
            end = wait_row(sandbox.db_path, "end", timeout=15)
            assert end["effects"] == {"dnd": "restored", "night_light": "restored", "grayscale": "restored"}
            assert gnome_settings(desk) == before
        finally:
            daemon.stop()


def test_a_dnd_the_person_had_on_stays_theirs_and_still_defers(sandbox: Sandbox, desk: Parts) -> None:
    desk.gsettings("set", "org.gnome.desktop.notifications", "show-banners", "false")
    tea = '[reminders.tea]\nbefore = "4s"\n'
    config(sandbox, '[winddown]\nbefore = "8s"\nuntil = "07:00"\ndnd = true\n', reminders=tea)
    start = datetime(2026, 11, 26, 6, 59, 52, tzinfo=BERLIN)
    clock = FakeClock(start)
    with desk.owning(*GNOME):
        daemon = in_process(sandbox, desk, clock, backend="console")
        daemon._start_context()
        try:
            daemon.tick()
            daemon.winddown.control.wait()
            assert daemon.winddown.own_dnd() == (None, None)  # nothing of it is sundown's
            clock.now = start + timedelta(seconds=4)
            daemon.tick()
            assert sandbox.logged("deferred", "tea") == 1  # the person is busy: deferred
            clock.now = start + timedelta(seconds=8)
            daemon.tick()
            daemon.winddown.control.wait()
            assert desk.gsettings("get", "org.gnome.desktop.notifications", "show-banners") == "false"
            assert not [r for r in winddown_rows(sandbox.db_path) if r.get("phase") == "end"]
        finally:
            daemon.stop()
            desk.gsettings("reset", "org.gnome.desktop.notifications", "show-banners")


def test_a_tool_that_hangs_fails_alone_and_a_dead_child_is_started_again(
    sandbox: Sandbox, desk: Parts
) -> None:
    # pactl answers everything but the volume change, which hangs.
    wrapper = sandbox.root / "bin" / "pactl"
    wrapper.parent.mkdir()
    wrapper.write_text('#!/bin/sh\n[ "$1" = set-sink-volume ] && exec sleep 30\nexec /usr/bin/pactl "$@"\n')
    wrapper.chmod(0o755)
    sandbox.write_config(
        'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "07:00"\n'
        '[winddown]\nbefore = "8s"\nuntil = "07:00"\nvolume = "30%"\ndark = true\nnight_light = 3400\n'
    )
    start = datetime(2026, 11, 26, 6, 59, 52, tzinfo=BERLIN)
    clock = FakeClock(start)
    path = f"{wrapper.parent}:{desk.daemon_env(sandbox.root, sandbox.env)['PATH']}"
    daemon = in_process(sandbox, desk, clock, backend="console", PATH=path)
    try:
        daemon.tick()
        daemon.winddown.control.wait()
        row = wait_row(sandbox.db_path, "start")
        assert row["effects"] == {
            "night_light": "on",
            "dark": "on",
            "volume": "failed: pactl did not answer within 2 s",
        }
        assert desk.volume() == [HALF, HALF]
        [(first, _)] = desk.gamma_children(1)
        os.kill(first, signal.SIGKILL)  # the child dies: noticed through its pidfd, no polling
        wait_until(lambda: daemon.winddown.control.restart_at is not None, 5, "the death to be noticed")
        assert daemon.winddown.control.restart_at == start + timedelta(seconds=2)
        assert desk.gamma_children() == []  # not started again at once
        clock.now = start + timedelta(seconds=2)
        daemon.tick()
        daemon.winddown.control.wait()
        [(second, argv)] = desk.gamma_children(1)
        assert second != first and argv == "-m wayland -r -O 3400"
    finally:
        daemon.stop()
    assert desk.gamma_children() == []  # a clean stop puts it all back


def test_a_clean_stop_puts_back_the_next_start_applies_again_and_off_works_without_a_daemon(
    sandbox: Sandbox, desk: Parts
) -> None:
    sandbox.write_config(
        'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "22:30"\n'
        '[winddown]\nat = "21:00"\nuntil = "07:00"\ndark = true\n'
    )
    scheme = ("get", "org.gnome.desktop.interface", "color-scheme")
    evening = OffsetClock(datetime(2026, 11, 26, 21, 30, tzinfo=BERLIN))  # inside the window
    daemon = in_process(sandbox, desk, evening)
    daemon.start()
    wait_row(sandbox.db_path, "start")
    assert desk.gsettings(*scheme) == "'prefer-dark'"
    daemon.stop()  # SIGTERM: everything back
    end = wait_row(sandbox.db_path, "end")
    assert end["reason"] == "stop" and end["effects"] == {"dark": "restored"}, end
    assert desk.gsettings(*scheme) == "'default'"
    daemon = in_process(sandbox, desk, evening)
    daemon.start()  # inside the window again: applied again
    wait_row(sandbox.db_path, "start", count=2)
    assert desk.gsettings(*scheme) == "'prefer-dark'"
    control, daemon.winddown.control = daemon.winddown.control, None
    control.close(restore=False, now=evening())  # it dies without putting anything back
    daemon.stop()
    # From a shell without the session's bus, dconf takes no write: said, and kept for later.
    failed = sandbox.run("winddown", "off", check=True)
    assert "failed: gsettings set org.gnome.desktop.interface color-scheme did not take" in failed.stdout
    assert desk.gsettings(*scheme) == "'prefer-dark'"
    assert "not put back" in sandbox.run("doctor").stdout
    # From a terminal of the session (its bus, for dconf); no daemon runs.
    session = desk.daemon_env(sandbox.root, sandbox.env)
    off = sandbox.run("winddown", "off", env=session, check=True)
    assert "wind-down off" in off.stdout and "dark" in off.stdout and "restored" in off.stdout
    assert desk.gsettings(*scheme) == "'default'"
    assert winddown_rows(sandbox.db_path)[-1]["source"] == "cli"
    assert "no wind-down is on" in sandbox.run("winddown", "off", env=session, check=True).stdout


def test_a_closed_x_connection_answers_like_a_gone_server_and_never_crashes(desk: Parts) -> None:
    """A clean stop inside the window on X11 (seen on a real Plasma): the stop closed the context
    sources, then a tick already queued on the worker asked X for the idle time through the closed
    display, and libX11 crashed the daemon (SIGSEGV) before its last rows were written. In a child
    process: a crash is a failed test, not a dead test run."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from sundown.runtime.sources.xlib import X11\n"
        "x = X11(sys.argv[1])\n"
        "assert x.idle() is not None\n"
        "x.close()\n"
        "assert x.fullscreen() is None\n"
        "try:\n    x.idle()\nexcept OSError as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}
    done = subprocess.run(
        [sys.executable, "-c", script, desk.env["DISPLAY"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "the X connection is closed"), done.stderr


def test_the_volume_cap_keeps_the_balance_and_puts_back_the_output_it_capped(
    sandbox: Sandbox, desk: Parts
) -> None:
    """Each channel capped (a louder left stays louder), and in the morning the output capped at the
    start is put back, though another one became the default meanwhile (headphones plugged in)."""
    sandbox.write_config(
        'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "22:30"\n'
        '[winddown]\nat = "22:00"\nuntil = "07:00"\nvolume = "30%"\n'
    )
    left, right = round(0.50 * 65536), round(0.20 * 65536)
    desk.pactl("set-sink-volume", "night", str(left), str(right))
    module = desk.pactl("load-module", "module-null-sink", "sink_name=day").strip()
    clock = FakeClock(datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN))
    daemon = in_process(sandbox, desk, clock, backend="console")
    try:
        daemon.tick()
        daemon.winddown.control.wait()
        assert desk.volume() == [CAPPED, right]  # the quieter channel is under the cap: as it was
        desk.pactl("set-default-sink", "day")
        clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=BERLIN)
        daemon.tick()
        daemon.winddown.control.wait()
        assert desk.volume() == [left, right]
        assert wait_row(sandbox.db_path, "end")["effects"] == {"volume": "restored"}
    finally:
        daemon.stop()
        desk.pactl("set-default-sink", "night")
        desk.pactl("unload-module", module)


def test_on_pipewire_wpctl_caps_the_default_output_never_raises_it_and_puts_it_back(
    sandbox: Sandbox, desk: Parts
) -> None:
    """Debian 12 GNOME's sound server: PipeWire with WirePlumber, whose `wpctl` comes before pactl.
    A real PipeWire and WirePlumber with a null sink, beside the module's PulseAudio (untouched)."""
    found = desk.start_pipewire()

    def volume() -> str:
        return desk.wpctl(found, "get-volume", "@DEFAULT_AUDIO_SINK@").strip()

    try:
        desk.wpctl(found, "set-volume", "@DEFAULT_AUDIO_SINK@", "0.5")
        sandbox.write_config(
            'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "22:30"\n'
            '[winddown]\nat = "22:00"\nuntil = "07:00"\nvolume = "30%"\n'
        )
        doctor = sandbox.run("doctor", env=desk.daemon_env(sandbox.root, sandbox.env, **found)).stdout
        assert "wpctl (PipeWire)" in next(line for line in doctor.splitlines() if " volume" in line)
        clock = FakeClock(datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN))
        daemon = in_process(sandbox, desk, clock, backend="console", **found)
        try:
            daemon.tick()
            daemon.winddown.control.wait()
            assert volume() == "Volume: 0.30" and desk.volume() == [HALF, HALF]  # PulseAudio's is not it
            [entry] = json.loads(sandbox.db_path.with_name("winddown.journal").read_text())["entries"]
            assert entry["setting"].startswith("wpctl volume ") and entry["previous"] == 0.5
            clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=BERLIN)
            daemon.tick()
            daemon.winddown.control.wait()
            assert volume() == "Volume: 0.50"
            assert wait_row(sandbox.db_path, "end")["effects"] == {"volume": "restored"}
            # A quieter output is never raised to the cap, and nothing is put back in the morning.
            desk.wpctl(found, "set-volume", "@DEFAULT_AUDIO_SINK@", "0.2")
            clock.now = datetime(2026, 11, 26, 22, 0, tzinfo=BERLIN)
            daemon.tick()
            daemon.winddown.control.wait()
            assert volume() == "Volume: 0.20"
            assert not json.loads(sandbox.db_path.with_name("winddown.journal").read_text())["entries"]
            clock.now = datetime(2026, 11, 27, 7, 0, tzinfo=BERLIN)
            daemon.tick()
            daemon.winddown.control.wait()
            assert volume() == "Volume: 0.20"
        finally:
            daemon.stop()
    finally:
        for name in ("wireplumber", "pipewire"):
            _kill_group(desk.desk.procs.pop(name))


def test_on_an_x_server_without_gamma_ramps_randr_night_light_is_unavailable_not_on(
    sandbox: Sandbox, desk: Parts
) -> None:
    """Xvfb keeps no gamma ramps: xrandr reads them as 0 (`Brightness: 0.0`), and `gammastep -m
    randr` exits 0 and changes nothing. The night light says so instead of `on`."""
    import subprocess

    def xrandr() -> str:
        return subprocess.run(
            ["xrandr", "--verbose"], env=desk.env, capture_output=True, text=True, timeout=10
        ).stdout

    before = xrandr()
    assert "Brightness: 0.0" in before and "Gamma:      1.0:1.0:1.0" in before
    sandbox.write_config(
        'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "22:30"\n'
        '[winddown]\nat = "22:00"\nuntil = "07:00"\nnight_light = 3400\n'
    )
    # X11 (no WAYLAND_DISPLAY), the real gammastep (not the module's stand-in).
    env = {k: v for k, v in desk.daemon_env(sandbox.root, sandbox.env).items() if k != "WAYLAND_DISPLAY"}
    env.update(DISPLAY=desk.env["DISPLAY"], PATH=os.environ["PATH"])
    daemon = in_process_daemon(FakeClock(datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN)), env=env)
    try:
        daemon.tick()
        daemon.winddown.control.wait()
        [start] = winddown_rows(sandbox.db_path)
        assert start["effects"] == {"night_light": "unavailable"}
        assert "no gamma ramps" in start["unavailable"]["night_light"]
        assert xrandr() == before
    finally:
        daemon.stop()
