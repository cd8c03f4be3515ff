"""The wind-down on XFCE's notification server: a real xfce4-notifyd with a real xfconfd on Xvfb.
Its Do Not Disturb is xfconf's `xfce4-notifyd /do-not-disturb`, which still shows critical
notifications: sundown's own reminders go out critical while it holds."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from support.desktop import Desktop, require, running_desktop, wait_until
from support.sandbox import Sandbox
from support.tray_host import xfconfd
from support.winddown import short_window, wait_row

pytestmark = pytest.mark.e2e

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def xfce(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    with running_desktop(
        tmp_path_factory.mktemp("xfce"), with_x=True, with_server=False, server="xfce4-notifyd"
    ) as desk:
        desk.env["XDG_CONFIG_HOME"] = str(desk.root / "config")
        desk._spawn("xfconfd", [xfconfd()], stdout=subprocess.DEVNULL)
        wait_until(lambda: desk.name_owner("org.xfce.Xfconf"), 10, "xfconfd on the bus")
        desk.start_server()
        yield desk


def dnd(desk: Desktop) -> str:
    """The property as `xfconf-query` shows it ("" when it was never set)."""
    require("xfconf-query", "xfconf")
    done = subprocess.run(["xfconf-query", "-c", "xfce4-notifyd", "-p", "/do-not-disturb"],
                          env=desk.env, capture_output=True, text=True, timeout=10)  # fmt: skip
    return done.stdout.strip()


def test_xfce4_notifyd_holds_others_shows_sundowns_own_critical_and_is_put_back(
    sandbox: Sandbox, xfce: Desktop
) -> None:
    assert dnd(xfce) == ""  # never set: xfce4-notifyd's default, off
    env = {**sandbox.env, "DBUS_SESSION_BUS_ADDRESS": xfce.address}
    daemon, _ = short_window(sandbox, env, "dnd = true\n", lead=2)
    daemon.start()
    try:
        assert wait_row(sandbox.db_path, "start")["effects"] == {"dnd": "on"}
        assert dnd(xfce) == "true"
        # Another app's notification is held (xfce4-notifyd only logs it): no window in the 2 s
        # until the reminder (each look at the screen before the look for the reminder's call) ...
        subprocess.run(["notify-send", "-a", "mail", "New mail"], env=xfce.env, check=True, timeout=10)
        while True:
            shown = xfce.windows()
            if len(xfce.monitor.notify_calls()) == 2:
                break
            assert shown == [], "another app's notification was shown during Do Not Disturb"
        # ... sundown's own reminder, due inside the window, goes out critical, not deferred, and shows.
        call = xfce.monitor.notify_calls()[1]
        assert (call.summary, call.urgency) == ("Tea", 2)
        assert sandbox.logged("deferred") == 0
        assert len(wait_until(xfce.windows, 5, "the reminder's window")) == 1

        end = wait_row(sandbox.db_path, "end", timeout=15)
        assert end["effects"] == {"dnd": "restored"}
        assert dnd(xfce) == ""  # put back to never set, not to false
    finally:
        daemon.stop()
