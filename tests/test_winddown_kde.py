"""The wind-down on KDE Plasma as the effects see it, against python-dbusmock on a private bus:
the notification server's `Inhibit` (held by a connection kept open all night, released at the
end) and KWin's night light (its kwinrc settings, written by the real kwriteconfig5). One bus
for the module."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from support.desktop import Desktop, _kill_group, require, running_desktop, wait_until
from support.sandbox import Sandbox
from support.winddown import short_window, wait_row

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")
MOCKS = Path(__file__).resolve().parent / "mocks"


@pytest.fixture(scope="module")
def plasma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    pytest.importorskip("dbusmock")
    with running_desktop(tmp_path_factory.mktemp("plasma"), with_x=False, with_server=False) as bus:
        procs = []
        for template, name in (("plasma_notifications.py", "org.freedesktop.Notifications"),
                               ("kwin_nightlight.py", "org.kde.KWin")):  # fmt: skip
            argv = [sys.executable, "-m", "dbusmock", "--session", "--template", str(MOCKS / template)]
            log = open(bus.root / f"{template}.log", "wb")  # noqa: SIM115 - closed with the proc
            procs.append(subprocess.Popen(argv, env=bus.env, stdout=log, stderr=log, start_new_session=True))
            wait_until(lambda n=name: bus.name_owner(n), 10, f"{name} on the bus")
        try:
            yield bus
        finally:
            for proc in procs:
                _kill_group(proc)


def kreadconfig(env: dict[str, str], key: str) -> str:
    out = subprocess.run(
        ["kreadconfig5", "--file", "kwinrc", "--group", "NightColor", "--key", key],
        env=env, capture_output=True, text=True, timeout=10,
    )  # fmt: skip
    return out.stdout.strip()


def test_plasma_inhibits_through_one_connection_kwin_warms_and_both_are_put_back(
    sandbox: Sandbox, plasma: Desktop
) -> None:
    require("kwriteconfig5", "libkf5config-bin")
    env = {**sandbox.env, "DBUS_SESSION_BUS_ADDRESS": plasma.address}
    daemon, _ = short_window(sandbox, env, "dnd = true\nnight_light = 3400\n", lead=2)
    daemon.start()
    try:
        row = wait_row(sandbox.db_path, "start")
        assert row["effects"] == {"dnd": "on", "night_light": "on"}
        [inhibit] = plasma.monitor.calls("Inhibit")
        assert inhibit.args[:2] == ("sundown", "wind-down")
        holder = inhibit.sender
        assert plasma.name_owner(holder) == holder  # its connection stays open all night
        assert [kreadconfig(env, k) for k in ("Active", "Mode", "NightTemperature")] == [
            "true",
            "Constant",
            "3400",
        ]
        # Its own inhibition is not the person being busy; the reminder goes out at its time, critical.
        [call] = plasma.monitor.wait_notify(1, timeout=10)
        assert call.summary == "Tea" and call.urgency == 2
        assert sandbox.logged("deferred") == 0

        end = wait_row(sandbox.db_path, "end", timeout=15)
        assert end["effects"] == {"dnd": "restored", "night_light": "restored"}
        [uninhibit] = plasma.monitor.calls("UnInhibit")
        assert uninhibit.sender == holder and uninhibit.args == (41,)
        wait_until(lambda: plasma.name_owner(holder) is None, 5, "the inhibiting connection to close")
        assert [kreadconfig(env, k) for k in ("Active", "Mode", "NightTemperature")] == ["", "", ""]
    finally:
        daemon.stop()
