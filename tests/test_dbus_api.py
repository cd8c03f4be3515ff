"""The session D-Bus API (runtime/surfaces/dbus_api.py) on a real dbus-daemon: the live object is
the shipped introspection XML, properties change with PropertiesChanged, methods become the
daemon's requests with their refusals mapped to D-Bus errors, and only the session's own user
gets through (refused by the bus's policy; and by the API itself on a bus that lets others in)."""

from __future__ import annotations

import concurrent.futures
import pwd
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from sundown.core.status import Status
from sundown.errors import ConfigError, SundownError, UsageError
from sundown.notify import NotifyError
from sundown.runtime.surfaces import Request
from sundown.runtime.surfaces.dbus_api import DBusApi, interface_xml, properties
from support.dbus_client import NAME, Client, session_bus
from support.desktop import Desktop, require, wait_until
from support.other_user import other_user, shared_dir
from support.surfaces import Acts, tonight

UTC = timezone.utc
NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)


def status(state: str = "pending", **extra: object) -> Status:
    context = {"dnd": False, "presenting": None, "fullscreen": None, "idle_s": 3, "locked": False,
               "zone": "Europe/Berlin"}  # fmt: skip
    return Status(
        True, 42, "dbus", "dbus", None, None, None, "2026-11-28", tonight(state), context=context, **extra
    )  # type: ignore[arg-type]


@pytest.fixture
def api(bare_bus: Desktop) -> Iterator[tuple[DBusApi, Acts, Client]]:
    acts = Acts()
    surface = DBusApi(lambda: bare_bus.address, acts, clock=lambda: NOW)
    surface.start()
    surface.publish(status())
    client = Client(bare_bus.address)
    try:
        yield surface, acts, client
    finally:
        client.close()
        surface.close()


def _members(interface: ET.Element) -> dict[str, object]:
    found: dict[str, object] = {}
    for child in interface:
        args = tuple((a.get("name"), a.get("type"), a.get("direction")) for a in child.findall("arg"))
        found[f"{child.tag} {child.get('name')}"] = (args, child.get("type"), child.get("access"))
    return found


@pytest.mark.e2e
def test_the_live_object_is_the_shipped_introspection(api: tuple[DBusApi, Acts, Client]) -> None:
    _, _, client = api
    live = ET.fromstring(client.introspect().split("\n", 2)[2])
    shipped = ET.fromstring(interface_xml().split("-->", 1)[1])
    [ours] = [i for i in live.findall("interface") if i.get("name") == NAME]
    [described] = shipped.findall("interface")
    assert _members(ours) == _members(described)
    assert {i.get("name") for i in live.findall("interface")} >= {
        "org.freedesktop.DBus.Properties",
        "org.freedesktop.DBus.Introspectable",
        "org.freedesktop.DBus.Peer",
    }
    # Every property's value has the type the XML declares.
    types = {p.get("name"): p.get("type") for p in described.findall("property")}
    values = client.get_all()
    assert {name: sig for name, (sig, _) in values.items()} == types
    # The way down to it, for `busctl tree` and d-spy.
    assert '<node name="io"/>' in client.introspect("/")
    assert '<node name="Sundown1"/>' in client.introspect("/io/github/sundown")


@pytest.mark.e2e
def test_properties_tell_tonight_and_each_change_comes_as_a_signal(api: tuple[DBusApi, Acts, Client]) -> None:
    surface, _, client = api
    props = client.get_all()
    assert props["Night"] == ("s", "2026-11-28") and props["State"] == ("s", "idle")
    assert props["Summary"] == ("s", "Magnesium at 21:45")  # the daemon's zone
    reminders = props["Reminders"][1]
    assert [r["id"][1] for r in reminders] == ["tea", "magnesium"]
    assert reminders[1]["at"] == ("x", int(datetime(2026, 11, 28, 20, 45, tzinfo=UTC).timestamp()))
    assert props["NextReminder"][1]["id"] == ("s", "magnesium")
    assert props["Context"][1] == {
        "dnd": ("b", False),
        "locked": ("b", False),
        "zone": ("s", "Europe/Berlin"),
    }
    assert props["WindDown"][1] == {"active": ("b", False)}
    with client.properties_changed() as queue:
        sent = time.monotonic()
        surface.publish(status("notified"))
        arrived, changed = client.next_change(queue)
        print(f"PropertiesChanged {1000 * (arrived - sent):.1f} ms after publish")
        assert set(changed) == {"State", "Summary", "Reminders", "NextReminder"}
        assert changed["State"] == ("s", "pending") and changed["Summary"] == ("s", "Magnesium: now")
        surface.publish(status("notified"))  # nothing changed: no signal
        surface.publish(status("acknowledged"))
        _, changed = client.next_change(queue)
        assert changed["State"] == ("s", "idle") and changed["NextReminder"] == ("a{sv}", {})


@pytest.mark.e2e
def test_methods_are_the_daemons_requests_and_refusals_are_d_bus_errors(
    api: tuple[DBusApi, Acts, Client],
) -> None:
    _, acts, client = api
    assert client.call("Ack", "s", "magnesium").body == ("did ack",)
    assert client.call("Ack", "s", "").error is None
    assert client.call("Snooze", "ss", "", "20m").error is None
    assert client.call("Skip", "as", []).error is None
    assert client.call("Unskip", "as", ["tea"]).error is None
    assert client.call("Reload").error is None
    assert acts.requests == [
        Request("ack", ("magnesium",)),
        Request("ack"),
        Request("snooze", (), "20m"),
        Request("skip"),
        Request("unskip", ("tea",)),
        Request("reload"),
    ]
    for exc, name in (
        (UsageError("no reminder 'x'; the routine has: tea"), f"{NAME}.Error.Usage"),
        (SundownError("nothing to acknowledge: no reminder is waiting"), f"{NAME}.Error.Failed"),
        (ConfigError(["config.toml:3: bedtime.default: bad"]), f"{NAME}.Error.Config"),
    ):

        def refuse(request: Request, exc: Exception = exc) -> str:
            raise exc

        acts.answer = refuse
        reply = client.call("Ack", "s", "x")
        assert reply.error == name and reply.body[0] == (
            "\n".join(exc.problems) if isinstance(exc, ConfigError) else str(exc)
        )
    before = len(acts.requests)
    assert client.call("Ack", "i", 3).error == "org.freedesktop.DBus.Error.InvalidArgs"
    assert client.call("Launch").error == "org.freedesktop.DBus.Error.UnknownMethod"
    props = "org.freedesktop.DBus.Properties"
    from support.dbus_client import PROPS

    set_reply = client.call("Set", "ssv", NAME, "State", ("s", "idle"), on=PROPS)
    assert set_reply.error == "org.freedesktop.DBus.Error.PropertyReadOnly", props
    assert (
        client.call("Get", "ss", NAME, "Nope", on=PROPS).error == "org.freedesktop.DBus.Error.UnknownProperty"
    )
    assert client.call("Get", "ss", NAME, "State", on=PROPS).body == (("s", "idle"),)
    assert len(acts.requests) == before  # none of these reached the daemon


@pytest.mark.e2e
def test_the_name_is_one_daemons_and_no_bus_is_no_api(
    bare_bus: Desktop, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    first = DBusApi(lambda: bare_bus.address, Acts(), clock=lambda: NOW)
    second = DBusApi(lambda: bare_bus.address, Acts(), clock=lambda: NOW)
    client = Client(bare_bus.address)
    try:
        first.start()
        second.start()
        # Connected, but the name is not taken before there is something to read: whoever sees it
        # owned reads every property at once (GetAll is never empty).
        assert first.link is not None and client.owner() is None
        first.publish(status())
        assert client.owner() == first.link.unique_name
        assert set(client.get_all()) == set(properties(status(), NOW))
        second.publish(status())
        assert second.link is None and "is taken by another program" in caplog.text
        assert client.owner() == first.link.unique_name
    finally:
        client.close()
        first.close()
        second.close()

    def no_bus() -> str:
        raise NotifyError("no session bus: DBUS_SESSION_BUS_ADDRESS is not set")

    alone = DBusApi(no_bus, Acts())
    alone.start()
    alone.publish(status())
    alone.close()
    assert "no D-Bus API: no session bus" in caplog.text


def test_properties_leave_out_what_is_not_known_and_carry_the_wind_down() -> None:
    on = {"active": True, "since": "2026-11-28T20:00:00+00:00", "until": "2026-11-29T06:00:00+00:00",
          "effects": {"dnd": "on", "volume": "unavailable"}}  # fmt: skip
    props = properties(status(winddown=on) if "winddown" in Status.__dataclass_fields__ else status(), NOW)
    assert "presenting" not in props["Context"][1] and "idle_s" not in props["Context"][1]
    if "winddown" in Status.__dataclass_fields__:
        assert props["WindDown"][1]["active"] == ("b", True)
        assert props["WindDown"][1]["effects"] == ("a{ss}", {"dnd": "on", "volume": "unavailable"})


# --- who may call ------------------------------------------------------------------------------


def _as(user: pwd.struct_passwd, address: str) -> subprocess.CompletedProcess[str]:
    """`dbus-send` as `user`: sundown's Ack, as another local user would try it."""
    return subprocess.run(
        [require("dbus-send", "dbus"), f"--bus={address}", "--print-reply", f"--dest={NAME}",
         "/io/github/sundown/Sundown1", f"{NAME}.Ack", "string:magnesium"],
        user=user.pw_uid, group=user.pw_gid, cwd="/", capture_output=True, text=True, timeout=30,
    )  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize("bus_lets_others_in", [False, True])
def test_another_user_gets_nothing(bus_lets_others_in: bool, caplog: pytest.LogCaptureFixture) -> None:
    """A session bus admits only its user (the default policy): another user cannot even connect.
    On a bus loosened to let every uid in, the API itself refuses them (GetConnectionUnixUser)."""
    user = other_user()
    with shared_dir("sdb-") as root, session_bus(root, allow_others=bus_lets_others_in) as address:
        acts = Acts()
        surface = DBusApi(lambda: address, acts)
        surface.start()
        surface.publish(status())
        try:
            stranger = _as(user, address)
            mine = Client(address)
            assert mine.call("Ack", "s", "magnesium").body == ("did ack",)  # the user still gets through
            mine.close()
        finally:
            surface.close()
    assert stranger.returncode != 0
    if bus_lets_others_in:
        assert "org.freedesktop.DBus.Error.AccessDenied" in stranger.stderr, stranger.stderr
        assert "only the session's own user" in stranger.stderr
        wait_until(lambda: "refused a D-Bus call" in caplog.text, 5, "the refusal logged")
    else:
        # dbus-daemon drops the connection of a uid its policy does not allow: it never gets registered.
        assert "only the session's own user" not in stranger.stderr
        assert "Failed to register" in stranger.stderr or "Failed to connect" in stranger.stderr, (
            stranger.stderr
        )
    assert acts.requests == [Request("ack", ("magnesium",))]  # only ours


def test_a_timeout_is_a_busy_daemon() -> None:
    from sundown.runtime.surfaces.dbus_api import error_of

    assert error_of(concurrent.futures.TimeoutError()) == (
        "org.freedesktop.DBus.Error.Failed",
        "the daemon is busy; try again",
    )
    assert error_of(UsageError("x"))[0].endswith("Error.Usage")
