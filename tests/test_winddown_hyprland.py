"""Grayscale through Hyprland's screen shader (runtime/effects/shader.py), against a stand-in
`hyprctl` that keeps the shader between calls as Hyprland does (tests/support/winddown.py); and,
with that shader as the setting to watch, the daemon's paths around a window: `sundown service
uninstall` after a killed daemon, a change of the system zone, a suspend inside and past the
window. Daemons run in this process on a clock the test moves; no desktop."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sundown.runtime.effects.shader import shader_path
from support.desktop import require
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox
from support.systemd import FakeSystemctl
from support.winddown import Hyprctl, winddown_rows

pytestmark = pytest.mark.e2e

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
THEIRS = "/home/someone/.config/hypr/shaders/blue-light.frag"
WINDOW = '[winddown]\nat = "22:00"\nuntil = "07:00"\ngrayscale = true\n'


@pytest.fixture
def hypr(sandbox: Sandbox) -> Hyprctl:
    return Hyprctl(sandbox.root)


def daemon_at(sandbox: Sandbox, hypr: Hyprctl, now: datetime, **extra: str) -> tuple[Any, FakeClock]:
    """A console daemon in this process on the sandbox's config, in a Hyprland session."""
    clock = FakeClock(now)
    env = {**sandbox.env, **hypr.env(sandbox.env["PATH"]), **extra}
    return in_process_daemon(clock, env=env), clock


def tick(daemon: Any) -> None:
    """One tick, and the wind-down's change it started done."""
    daemon.tick()
    if daemon.winddown.control is not None:
        assert daemon.winddown.control.wait()


def ends(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [r for r in winddown_rows(sandbox.db_path) if r.get("phase") == "end"]


def journal(sandbox: Sandbox) -> dict[str, Any]:
    path = sandbox.db_path.with_name("winddown.journal")
    return json.loads(path.read_text()) if path.exists() else {}


def test_hyprland_greys_the_screen_with_sundowns_shader_and_puts_the_persons_back_at_until(
    sandbox: Sandbox, hypr: Hyprctl
) -> None:
    sandbox.write_config(f'[bedtime]\ndefault = "22:30"\n{WINDOW}')
    hypr.shader = THEIRS  # the person's own screen shader (Hyprland has one at a time)
    daemon, clock = daemon_at(sandbox, hypr, datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN))
    try:
        tick(daemon)
        assert hypr.shader == str(shader_path()) and Path(hypr.shader).is_file()
        [start] = [r for r in winddown_rows(sandbox.db_path) if r.get("phase") == "start"]
        assert start["effects"] == {"grayscale": "on"}
        [entry] = journal(sandbox)["entries"]
        assert (entry["previous"], entry["value"]) == (THEIRS, hypr.shader)  # on disk before the change
        clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=BERLIN)
        tick(daemon)
        assert hypr.shader == THEIRS
        [end] = ends(sandbox)
        assert (end["reason"], end["effects"]) == ("until", {"grayscale": "restored"})
        assert journal(sandbox) == {}
    finally:
        daemon.stop()
    # Read back with -j (the JSON answer), set with keyword; nothing else asked of Hyprland.
    assert {c.split()[0] for c in hypr.calls} == {"-j", "keyword"}


def test_a_shader_set_meanwhile_is_kept_and_no_shader_before_is_none_after(
    sandbox: Sandbox, hypr: Hyprctl
) -> None:
    sandbox.write_config(f'[bedtime]\ndefault = "22:30"\n{WINDOW}')
    daemon, clock = daemon_at(sandbox, hypr, datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN))
    try:
        tick(daemon)  # no shader before: Hyprland shows [[EMPTY]]
        assert hypr.shader == str(shader_path())
        clock.now = datetime(2026, 11, 26, 7, 0, tzinfo=BERLIN)
        tick(daemon)
        assert hypr.shader == "[[EMPTY]]" and "keyword decoration:screen_shader [[EMPTY]]" in hypr.calls
        clock.now = datetime(2026, 11, 26, 22, 0, tzinfo=BERLIN)
        tick(daemon)
        hypr.shader = "/home/someone/vibrance.frag"  # the person picks another one in the night
        clock.now = datetime(2026, 11, 27, 7, 0, tzinfo=BERLIN)
        tick(daemon)
        assert hypr.shader == "/home/someone/vibrance.frag"
        assert [e["effects"] for e in ends(sandbox)] == [{"grayscale": "restored"}, {"grayscale": "kept"}]
    finally:
        daemon.stop()


def test_doctor_names_hyprland_and_outside_hyprland_grayscale_is_unavailable(
    sandbox: Sandbox, hypr: Hyprctl
) -> None:
    from sundown.core.routine import WindDown
    from sundown.runtime.winddown import survey

    wd = WindDown(
        until=datetime(2026, 1, 1, 7, 0).time(), at=datetime(2026, 1, 1, 22, 0).time(), grayscale=True
    )
    [found] = survey({**sandbox.env, **hypr.env()}, wd)
    assert found.label == "Hyprland screen shader (hyprctl)"
    assert hypr.calls == ["-j getoption decoration:screen_shader"]  # looked, changed nothing
    elsewhere = {k: v for k, v in {**sandbox.env, **hypr.env()}.items() if k != "HYPRLAND_INSTANCE_SIGNATURE"}
    [none] = survey(elsewhere, wd)
    assert none.interface is None and not none.broken
    assert "not a Hyprland session" in none.why and "org.gnome.Shell is not on the session bus" in none.why


def test_the_shipped_shader_compiles_as_the_glsl_es_hyprland_takes() -> None:
    """Hyprland 0.50 and later compile a screen shader as GLSL ES 3.00 with `v_texcoord`, `tex`."""
    import subprocess

    require("glslangValidator", "glslang-tools")
    done = subprocess.run(
        ["glslangValidator", "-S", "frag", str(shader_path())], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = shader_path().read_text()
    assert text.startswith("#version 300 es\n")
    assert "in vec2 v_texcoord;" in text and "uniform sampler2D tex;" in text


def test_service_uninstall_puts_back_what_a_killed_daemon_left(sandbox: Sandbox, hypr: Hyprctl) -> None:
    record = sandbox.root / "commands.txt"
    sandbox.write_config(
        f'[bedtime]\ndefault = "22:30"\n{WINDOW}'
        f'run = ["sh", "-c", "echo run >> {record}"]\nundo = ["sh", "-c", "echo undo >> {record}"]\n'
    )
    hypr.shader = THEIRS
    assert "no daemon" in sandbox.run("winddown", "on", check=True).stderr  # applied when one starts
    daemon, clock = daemon_at(sandbox, hypr, datetime.now(UTC))
    try:
        tick(daemon)
        daemon.commands.wait()
        assert hypr.shader == str(shader_path()) and record.read_text().split() == ["run"]
    finally:
        # kill -9: nothing put back, the journal left for whoever comes next.
        control, daemon.winddown.control = daemon.winddown.control, None
        control.close(restore=False, now=clock())
        daemon.stop()
    systemctl = FakeSystemctl(sandbox.root)
    env = {**hypr.env(), **systemctl.env(hypr.env()["PATH"])}
    assert sandbox.run("service", "install", env=env).returncode == 0
    done = sandbox.run("service", "uninstall", env=env)
    assert done.returncode == 0, done.stderr
    assert "put back the wind-down's settings: grayscale restored, run restored" in done.stdout
    assert hypr.shader == THEIRS and record.read_text().split() == ["run", "undo"]
    assert not sandbox.db_path.with_name("winddown.journal").exists()
    last = winddown_rows(sandbox.db_path)[-1]
    assert (last["source"], last["phase"], last["reason"]) == ("cli", "end", "uninstall")
    assert last["effects"] == {"grayscale": "restored", "run": "restored"}
    again = sandbox.run("service", "uninstall", env=env)
    assert again.returncode == 0 and "put back" not in again.stdout  # nothing left to put back


def test_a_zone_change_plans_the_window_in_the_new_zone_before_during_and_while_it_holds(
    sandbox: Sandbox, hypr: Hyprctl
) -> None:
    # No `timezone`: the nights follow the system's zone (told by timedated: `travel.follow`).
    sandbox.write_config(f'[bedtime]\ndefault = "22:30"\n{WINDOW}')
    env = {k: v for k, v in sandbox.env.items() if k != "TZ"}
    clock = FakeClock(datetime(2026, 11, 25, 20, 0, tzinfo=UTC))  # 21:00 in Berlin
    daemon = in_process_daemon(clock, env={**env, **hypr.env(env["PATH"])}, zone=BERLIN)

    def travel(to: str) -> None:
        daemon.travel.follow(to)  # re-plans and ticks
        assert daemon.loaded.zone.key == to and daemon.winddown.control.wait()

    try:
        tick(daemon)
        assert daemon.winddown.status()["next"] == "2026-11-25T22:00:00+01:00"
        # Planned, not started: to New York, where 22:00 is 03:00 UTC.
        travel("America/New_York")
        assert daemon.winddown.status()["next"] == "2026-11-25T22:00:00-05:00"
        clock.now = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 22:00 in Berlin: nothing
        tick(daemon)
        assert hypr.shader == "[[EMPTY]]" and winddown_rows(sandbox.db_path) == []
        assert daemon.winddown.tick(clock()) == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
        clock.now = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
        tick(daemon)
        assert hypr.shader == str(shader_path())
        [start] = winddown_rows(sandbox.db_path)
        assert (start["since"], start["until"]) == ("2026-11-25T22:00:00-05:00", "2026-11-26T07:00:00-05:00")
        # Wound down, back to Berlin at 05:00 there: Berlin's window holds too, its until is 06:00 UTC.
        clock.now = datetime(2026, 11, 26, 4, 0, tzinfo=UTC)
        travel("Europe/Berlin")
        assert hypr.shader == str(shader_path()) and ends(sandbox) == []
        assert daemon.winddown.status()["until"] == "2026-11-26T07:00:00+01:00"
        clock.now = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
        tick(daemon)
        assert hypr.shader == "[[EMPTY]]" and ends(sandbox)[0]["reason"] == "until"
        # Wound down at 22:30 in Berlin, then to New York, where it is 16:30: the evening is later
        # there. Put back now (`moved`, not `off`: nobody asked), wound down again at 22:00 there.
        clock.now = datetime(2026, 11, 26, 21, 30, tzinfo=UTC)
        tick(daemon)
        assert hypr.shader == str(shader_path())
        travel("America/New_York")
        assert hypr.shader == "[[EMPTY]]"
        assert (ends(sandbox)[1]["reason"], ends(sandbox)[1]["effects"]) == (
            "moved",
            {"grayscale": "restored"},
        )
        assert daemon.winddown.status()["next"] == "2026-11-26T22:00:00-05:00"
    finally:
        daemon.stop()


def test_a_resume_inside_the_window_applies_what_is_missing_and_one_past_until_puts_back_at_once(
    sandbox: Sandbox, hypr: Hyprctl
) -> None:
    sandbox.write_config(f'[bedtime]\ndefault = "22:30"\n{WINDOW}')
    # Hyprland does not answer yet (its socket is not there): hyprctl fails.
    hyprctl, stashed = hypr.bin / "hyprctl", hypr.bin / "hyprctl-answers"
    hyprctl.rename(stashed)
    hyprctl.write_text('#!/bin/sh\necho "Couldn\'t connect to the Hyprland socket (3)" >&2\nexit 3\n')
    hyprctl.chmod(0o755)
    daemon, clock = daemon_at(sandbox, hypr, datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN))
    try:
        tick(daemon)
        [start] = winddown_rows(sandbox.db_path)
        why = "hyprctl -j getoption exited with 3: Couldn't connect to the Hyprland socket (3)"
        assert start["effects"] == {"grayscale": f"failed: Hyprland screen shader (hyprctl): {why}"}
        stashed.rename(hyprctl)  # Hyprland answers now; the machine sleeps from 22:05 to 23:40
        clock.now = datetime(2026, 11, 25, 22, 5, tzinfo=BERLIN)
        tick(daemon)  # an ordinary tick does not look again at what holds
        assert hypr.shader == "[[EMPTY]]"
        clock.now = datetime(2026, 11, 25, 23, 40, tzinfo=BERLIN)
        daemon.wake("resume")
        tick(daemon)
        assert hypr.shader == str(shader_path())
        again = winddown_rows(sandbox.db_path)[-1]
        assert again["phase"] == "start" and again.get("again") and again["effects"] == {"grayscale": "on"}
        # Asleep from 01:00 until 07:40, past `until`: put back at the resume, not later.
        clock.now = datetime(2026, 11, 26, 7, 40, tzinfo=BERLIN)
        daemon.wake("resume")
        tick(daemon)
        assert hypr.shader == "[[EMPTY]]"
        [end] = ends(sandbox)
        assert (end["reason"], end["effects"]) == ("until", {"grayscale": "restored"})
    finally:
        daemon.stop()


def test_a_clean_stop_puts_back_in_its_budget_and_leaves_a_hung_tool_to_the_next_start(
    sandbox: Sandbox, hypr: Hyprctl
) -> None:
    """SIGTERM inside the window puts everything back in at most 1.5 s; a tool that hangs then is
    stopped at that bound, its setting stays in the journal (with why) and the next start puts it
    back."""
    import time

    from sundown.runtime.winddown import STOP_BUDGET_S

    sandbox.write_config(f'[bedtime]\ndefault = "22:30"\n{WINDOW}')
    hypr.shader = THEIRS
    daemon, clock = daemon_at(sandbox, hypr, datetime(2026, 11, 25, 23, 0, tzinfo=BERLIN))
    hyprctl, answers = hypr.bin / "hyprctl", hypr.bin / "hyprctl-answers"
    try:
        tick(daemon)
        assert hypr.shader == str(shader_path())
        hyprctl.rename(answers)
        hyprctl.write_text("#!/bin/sh\nexec sleep 30\n")  # Hyprland hangs
        hyprctl.chmod(0o755)
        began = time.monotonic()
    finally:
        daemon.stop()
    took = time.monotonic() - began
    assert took < STOP_BUDGET_S + 0.5, took
    [entry] = journal(sandbox)["entries"]
    assert entry["error"] and hypr.shader == str(shader_path())
    answers.rename(hyprctl)  # the next start, the next morning
    later, _ = daemon_at(sandbox, hypr, datetime(2026, 11, 26, 7, 30, tzinfo=BERLIN))
    try:
        tick(later)
    finally:
        later.stop()
    assert hypr.shader == THEIRS and journal(sandbox) == {}
    assert ends(sandbox)[-1]["effects"] == {"grayscale": "restored"}
