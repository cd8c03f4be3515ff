"""The tray icon (runtime/surfaces/tray.py) in a real tray: xfce4-panel's status tray under Xvfb,
whose StatusNotifierWatcher takes the item and whose host reads its icon, tooltip and menu; a
menu click made through dbusmenu `Event`, as the host sends it; a tray that restarts; and no
tray at all, which is no error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from jeepney import HeaderFields, Message, MessageType

from sundown.core.status import Status
from sundown.runtime.surfaces import Request
from sundown.runtime.surfaces.tray import ITEM, ITEM_PATH, MENU, MENU_PATH, Tray, look
from support.desktop import Desktop, running_desktop, wait_until
from support.surfaces import Acts, tonight
from support.tray_host import TrayHost, call

pytestmark = pytest.mark.e2e
PROPS = "org.freedesktop.DBus.Properties"
NOW = datetime(2026, 11, 28, 20, 0, tzinfo=timezone.utc)


def status(state: str) -> Status:
    return Status(
        True, 1, "dbus", None, None, None, None, "2026-11-28", tonight(state), context={"zone": "UTC"}
    )


class SeenTray(Tray):
    """The tray, noting which of its members the host asked for."""

    def __init__(self, *args, **kw) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kw)
        self.asked: list[tuple[str, str]] = []

    def _handle(self, call: Message) -> None:
        fields = call.header.fields
        self.asked.append((str(fields.get(HeaderFields.path)), str(fields.get(HeaderFields.member))))
        super()._handle(call)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Desktop, TrayHost]]:
    with running_desktop(tmp_path_factory.mktemp("tray"), with_x=True, with_server=False) as desk:
        yield desk, TrayHost(desk)


@pytest.fixture
def tray(host: tuple[Desktop, TrayHost]) -> Iterator[tuple[SeenTray, Acts]]:
    desk, _ = host
    acts = Acts()
    item = SeenTray(lambda: desk.address, acts, clock=lambda: NOW)
    item.start()
    item.publish(status("pending"))
    try:
        yield item, acts
    finally:
        item.close()


def _body(reply: Message) -> tuple:
    assert reply.header.message_type is MessageType.method_return, reply.body
    return reply.body


def test_the_tray_shows_the_item_and_reads_its_icon_tooltip_and_menu(
    host: tuple[Desktop, TrayHost], tray: tuple[SeenTray, Acts]
) -> None:
    desk, panel = host
    item, _ = tray
    wait_until(lambda: item.registered_with, 10, "the watcher to take the item")
    wait_until(
        lambda: any(item.bus_name in r for r in panel.registered()), 10, "the item among the registered"
    )
    # The panel's host asks for the item's properties and its menu's layout, as on a desktop.
    wait_until(
        lambda: (ITEM_PATH, "GetAll") in item.asked or (ITEM_PATH, "Get") in item.asked,
        10,
        "the host to read it",
    )
    props = dict(_body(call(desk.address, item.bus_name, ITEM_PATH, PROPS, "GetAll", "s", ITEM))[0])
    assert props["IconName"] == ("s", "weather-clear-night") and props["Status"] == ("s", "Active")
    assert props["Menu"] == ("o", MENU_PATH) and props["ItemIsMenu"] == ("b", True)
    assert props["ToolTip"][1][2] == "Magnesium at 20:45"  # the next reminder
    revision, (root, _, children) = _body(
        call(desk.address, item.bus_name, MENU_PATH, MENU, "GetLayout", "iias", 0, -1, [])
    )
    labels = [dict(c[1][1]).get("label", ("s", "-"))[1] for c in children]
    assert labels == ["Done", "Snooze", "Skip tonight", "-", "Open today's report"]

    item.publish(status("notified"))  # a reminder waits: attention, and Done names it
    props = dict(_body(call(desk.address, item.bus_name, ITEM_PATH, PROPS, "GetAll", "s", ITEM))[0])
    assert props["Status"] == ("s", "NeedsAttention") and props["IconName"] == ("s", "appointment-soon")
    assert props["ToolTip"][1][2] == "Magnesium: now"
    after, (_, _, children) = _body(
        call(desk.address, item.bus_name, MENU_PATH, MENU, "GetLayout", "iias", 0, -1, [])
    )
    assert after > revision
    assert dict(children[0][1][1])["label"] == ("s", "Done: Magnesium")
    assert dict(children[0][1][1])["enabled"] == ("b", True)


def test_a_menu_click_through_dbusmenu_is_a_request_to_the_daemon(
    host: tuple[Desktop, TrayHost], tray: tuple[SeenTray, Acts]
) -> None:
    desk, _ = host
    item, acts = tray

    def event(i: int) -> Message:
        return call(desk.address, item.bus_name, MENU_PATH, MENU, "Event", "isvu", i, "clicked", ("s", ""), 0)

    _body(event(1))  # Done, while nothing waits: disabled, nothing asked
    _body(event(3))  # Skip tonight
    _body(event(5))  # Open today's report
    item.publish(status("notified"))
    _body(event(1))  # Done
    _body(event(2))  # Snooze
    wait_until(lambda: len(acts.requests) == 4, 5, "the requests")
    assert acts.requests == [Request("skip"), Request("report"), Request("ack"), Request("snooze")]
    hover = call(desk.address, item.bus_name, MENU_PATH, MENU, "Event", "isvu", 1, "hovered", ("s", ""), 0)
    _body(hover)
    assert len(acts.requests) == 4  # only clicks act


def test_the_item_comes_back_when_the_tray_restarts(
    host: tuple[Desktop, TrayHost], tray: tuple[SeenTray, Acts]
) -> None:
    _, panel = host
    item, _ = tray
    first = wait_until(lambda: item.registered_with, 10, "the watcher to take the item")
    panel.stop()
    assert item.registered_with is None
    panel.start()
    second = wait_until(lambda: item.registered_with, 15, "the new watcher to take the item")
    assert second != first
    wait_until(lambda: any(item.bus_name in r for r in panel.registered()), 10, "the item registered again")


def test_no_tray_no_icon_and_no_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="sundown")
    with running_desktop(tmp_path, with_x=False, with_server=False) as desk:
        item = Tray(lambda: desk.address, Acts())
        item.start()
        item.publish(status("pending"))
        item.publish(status("notified"))
        assert item.link is not None and item.registered_with is None
        item.close()
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


def test_what_the_tray_shows() -> None:
    now = NOW
    idle, waiting = look(status("pending"), now), look(status("notified"), now)
    assert (idle["icon"], idle["status"]) == ("weather-clear-night", "Active")
    assert (waiting["icon"], waiting["status"]) == ("appointment-soon", "NeedsAttention")
    assert idle["items"][1]["enabled"] is False and waiting["items"][1]["enabled"] is True
    skipped = look(status("skipped"), now)
    assert skipped["items"][3]["enabled"] is False  # the night is all settled: nothing to skip
