"""The wind-down's interfaces that Debian 12 has no usable part for, against stand-ins on a
private bus: mako (a notification server named mako, and a `makoctl` that keeps its modes),
dunst 1.10's pause level (a notification server with dunst's version and properties; Debian's
dunst is 1.9), a `wlsunset` child kept alive; and a tool that is gone between the wind-down's
choice of it and its use (tests/support/winddown.py). Daemons in this process on a clock the
test moves, given only the stand-ins' directory as PATH; one bus for the module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sundown.runtime.effects.notifications import DUNST_RULE, MAKO_RULE
from support.desktop import Desktop, FakeServer, running_desktop, wait_until
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox
from support.winddown import Dunst110, StandIns, winddown_rows

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")
EVENING = datetime(2026, 11, 25, 22, 0, tzinfo=BERLIN)
MORNING = datetime(2026, 11, 26, 7, 0, tzinfo=BERLIN)
MAKO = ("mako", "emersion", "1.8.0", "1.2")


@pytest.fixture(scope="module")
def module_parts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Desktop, StandIns]]:
    root = tmp_path_factory.mktemp("stand-ins")
    with running_desktop(root, with_x=False, with_server=False) as bus:
        yield bus, StandIns(root / "stand-ins")


@pytest.fixture
def parts(module_parts: tuple[Desktop, StandIns]) -> Iterator[tuple[Desktop, StandIns]]:
    yield module_parts
    module_parts[1].reset()


class Night:
    """A daemon in this process at 22:00 on a night whose wind-down (22:00 to 07:00) has
    `effects`, on the module's bus with only the stand-ins on PATH; `tick(at)` moves its clock."""

    def __init__(
        self, sandbox: Sandbox, parts: tuple[Desktop, StandIns], effects: str, reminders: str = ""
    ) -> None:
        bus, stand = parts
        sandbox.write_config(
            f'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "22:30"\n{reminders}\n'
            f'[winddown]\nat = "22:00"\nuntil = "07:00"\n{effects}'
        )
        self.db = sandbox.db_path
        self.clock = FakeClock(EVENING)
        env = {**sandbox.env, "DBUS_SESSION_BUS_ADDRESS": bus.address, **stand.env()}
        self.daemon = in_process_daemon(self.clock, env=env, backend="dbus")

    def tick(self, at: datetime) -> dict[str, Any]:
        """One tick at `at`, the wind-down's change it started done; the last winddown row."""
        self.clock.now = at
        self.daemon.tick()
        if self.daemon.winddown.control is not None:
            assert self.daemon.winddown.control.wait()
        return winddown_rows(self.db)[-1]


def config_file(sandbox: Sandbox, name: str, text: str) -> None:
    path = sandbox.config_home / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_mako_gets_its_do_not_disturb_mode_with_the_rule_and_wlsunset_runs_all_night(
    sandbox: Sandbox, parts: tuple[Desktop, StandIns]
) -> None:
    bus, stand = parts
    server = FakeServer(bus.address, info=MAKO)
    try:
        night = Night(sandbox, parts, "dnd = true\nnight_light = 3400\n")
        try:
            # Without the rule that keeps sundown's reminders visible, mako's mode would hide them too.
            start = night.tick(EVENING)
            assert start["effects"] == {"dnd": "unavailable", "night_light": "on"}
            assert MAKO_RULE in start["unavailable"]["dnd"] and stand.lines("makoctl.calls") == []
            [(child, argv)] = stand.children(1)
            assert argv == "-t 3400 -T 3401"
            night.tick(MORNING)
            assert stand.children() == []
            # With the rule: the mode is added at the start and removed at `until`.
            config_file(sandbox, "mako/config", f"font=monospace 10\n\n{MAKO_RULE}\n")
            start = night.tick(EVENING.replace(day=26))
            assert start["effects"] == {"dnd": "on", "night_light": "on"}
            assert stand.lines("mako.modes") == ["default", "do-not-disturb"]
            [(second, _)] = stand.children(1)
            assert second != child
            end = night.tick(MORNING.replace(day=27))
            assert end["effects"] == {"dnd": "restored", "night_light": "restored"}
            assert stand.lines("mako.modes") == ["default"] and stand.children() == []
            assert stand.lines("makoctl.calls") == [
                "mode",
                "mode -a do-not-disturb",
                "mode",
                "mode -r do-not-disturb",
            ]
        finally:
            night.daemon.stop()
    finally:
        server.stop()


def test_dunst_1_10_is_paused_at_level_100_with_the_rule_its_reminders_still_sent_and_unpaused(
    sandbox: Sandbox, parts: tuple[Desktop, StandIns]
) -> None:
    from sundown.runtime.sources.watch import context_at

    bus, _ = parts
    server = Dunst110(bus.address)
    try:
        config_file(sandbox, "dunst/dunstrc", f"[global]\n    font = Monospace 8\n\n{DUNST_RULE}\n")
        night = Night(sandbox, parts, "dnd = true\n", reminders='[reminders.tea]\nbefore = "10m"\n')
        night.daemon._start_context()
        try:
            assert night.tick(EVENING)["effects"] == {"dnd": "on"}
            assert server.level == 100 and server.sets[0] == ("org.dunstproject.cmd0", "pauseLevel", 100)
            # dunst says it is paused; that is sundown's own Do Not Disturb, not the person busy.
            wait_until(
                lambda: context_at(night.daemon.context, night.clock()).dnd,
                5,
                "the watch to see dunst paused",
            )
            night.tick(datetime(2026, 11, 25, 22, 20, tzinfo=BERLIN))
            [(_, args)] = wait_until(lambda: server.notified, 5, "the reminder sent")
            assert (args[0], args[3]) == ("sundown", "Tea")  # the rule's appname: shown through the pause
            assert sandbox.logged("deferred") == 0
            assert night.tick(MORNING)["effects"] == {"dnd": "restored"}
            assert server.level == 0
        finally:
            night.daemon.stop()
    finally:
        server.stop()


def test_a_tool_gone_between_its_choice_and_its_use_fails_alone(
    sandbox: Sandbox, parts: tuple[Desktop, StandIns]
) -> None:
    """pactl answers the probe that chooses it, then is uninstalled: the volume is `failed` with
    why, and Do Not Disturb (mako) and the night light (wlsunset) apply all the same."""
    bus, stand = parts
    stand.pactl_gone()
    config_file(sandbox, "mako/config", MAKO_RULE)
    server = FakeServer(bus.address, info=MAKO)
    try:
        night = Night(sandbox, parts, 'dnd = true\nnight_light = 3400\nvolume = "30%"\n')
        try:
            start = night.tick(EVENING)
            assert start["effects"] == {
                "dnd": "on",
                "night_light": "on",
                "volume": "failed: pactl is not installed",
            }
            assert stand.lines("pactl.calls") == ["get-default-sink"]  # the probe's, then gone
            assert stand.lines("mako.modes") == ["default", "do-not-disturb"]
            stand.children(1)  # its wlsunset runs (waited for: just spawned)
            end = night.tick(MORNING)
            assert end["effects"] == {"dnd": "restored", "night_light": "restored"}
        finally:
            night.daemon.stop()
    finally:
        server.stop()
