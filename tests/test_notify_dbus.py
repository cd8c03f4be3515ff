"""The D-Bus backend against a real bus: dunst where it can show it, a jeepney fake where it cannot."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from sundown.notify import Backend, Message, NotifyError, choose, server_info
from sundown.notify.bus import bus_address
from sundown.notify.dbus import DBusBackend
from support.desktop import Actions, Desktop, FakeServer, wait_until

KEY = "2026-11-25/magnesium"
B = TypeVar("B", bound=Backend)


@pytest.fixture
def actions() -> Actions:
    return Actions()


class Backends:
    """The D-Bus backends a test makes, each closed when the test ends."""

    def __init__(self, actions: Actions) -> None:
        self.actions = actions
        self.made: list[Backend] = []

    def __call__(self, env: dict[str, str], **kw: Any) -> DBusBackend:
        return self.add(DBusBackend(self.actions, env, **kw))

    def add(self, backend: B) -> B:
        self.made.append(backend)
        return backend


@pytest.fixture
def backends(actions: Actions) -> Iterator[Backends]:
    made = Backends(actions)
    yield made
    for backend in made.made:
        backend.close()


def magnesium(**kw: object) -> Message:
    return Message(KEY, "Magnesium", "Time for your evening magnesium.", **kw)  # type: ignore[arg-type]


@pytest.fixture
def sent(
    fake_server: Callable[..., FakeServer], bare_bus: Desktop, backends: Backends
) -> tuple[FakeServer, int]:
    """Magnesium sent by a D-Bus backend to a FakeServer: the server, and the id it gave."""
    server = fake_server()
    backends(bare_bus.env).send(magnesium())
    return server, server.notified[0][0]


@pytest.mark.e2e
def test_notify_reaches_the_bus_with_title_body_actions_urgency_and_no_expiry(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends.add(choose("dbus", actions, desktop.env))
    before = time.monotonic()
    backend.send(magnesium(urgency="critical"))
    [call] = desktop.monitor.wait_notify(1)
    assert backend.name == "dbus"
    assert call.app_name == "sundown"
    assert call.summary == "Magnesium"
    assert call.body == "Time for your evening magnesium."
    assert call.replaces_id == 0
    assert call.actions == ["default", "Acknowledge", "done", "Done", "snooze", "Snooze"]
    labels = call.actions[1::2]
    assert len(set(labels)) == len(labels)  # mako's menu invokes by label: a shared one does nothing
    assert call.hints == {"urgency": 2, "desktop-entry": "sundown"}
    assert call.expire_timeout == 0  # reminders stay until acted on
    assert before <= call.at < before + 2
    assert desktop.displayed() == 1


@pytest.mark.e2e
def test_notification_is_drawn_and_goes_when_withdrawn(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends(desktop.env)
    assert desktop.screen_is_blank()
    backend.send(magnesium())
    wait_until(lambda: not desktop.screen_is_blank(), 5, "dunst to draw the notification")
    backend.withdraw(KEY)
    wait_until(desktop.screen_is_blank, 5, "the notification to leave the screen")


@pytest.mark.e2e
@pytest.mark.parametrize(("urgency", "byte"), [("low", 0), ("normal", 1), ("critical", 2)])
def test_urgency_hint_is_the_spec_byte(
    desktop: Desktop, actions: Actions, backends: Backends, urgency: str, byte: int
) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium(urgency=urgency))
    [call] = desktop.monitor.wait_notify(1)
    assert call.urgency == byte


@pytest.mark.e2e
def test_clicking_the_notification_acknowledges_it_and_closes_it(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    desktop.dunstctl("action", "0")  # dunst invokes the "default" action
    assert actions.wait(1) == [(KEY, "done")]
    wait_until(lambda: desktop.displayed() == 0, 5, "the acted-on notification to close")
    time.sleep(0.2)
    assert actions.got == [(KEY, "done")]  # its NotificationClosed is not a dismissal


@pytest.mark.e2e
def test_snooze_button_snoozes(desktop: Desktop, actions: Actions, backends: Backends) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    desktop.dunstctl("context")  # dunst's menu; the test's dmenu stand-in picks "Snooze"
    assert actions.wait(1) == [(KEY, "snooze")]


@pytest.mark.e2e
def test_done_button_from_the_server_acknowledges(sent: tuple[FakeServer, int], actions: Actions) -> None:
    server, nid = sent
    server.emit("ActionInvoked", "us", (nid, "done"))
    assert actions.wait(1) == [(KEY, "done")]
    # GNOME follows an action with "closed by the user": that is not a dismissal.
    server.emit("NotificationClosed", "uu", (nid, 2))
    wait_until(lambda: nid in server.closed, 5, "CloseNotification after the action")
    time.sleep(0.2)
    assert actions.got == [(KEY, "done")]


@pytest.mark.e2e
def test_repeat_of_the_same_key_replaces_the_previous_notification(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    backend.send(Message("2026-11-25/screens-off", "Screens off"))
    backend.send(Message(KEY, "Magnesium", "Still waiting (repeat 1)"))
    first, other, repeat = desktop.monitor.wait_notify(3)
    first_id = desktop.monitor.reply_to_notify(first)
    assert repeat.replaces_id == first_id != 0
    assert other.replaces_id == 0
    assert desktop.displayed() == 2


@pytest.mark.e2e
def test_body_is_escaped_when_the_server_renders_markup_and_title_never(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends(desktop.env)
    backend.send(Message(KEY, "Tea & <b>biscuits</b>", "1 < 2 & <i>sleep</i> > work"))
    [call] = desktop.monitor.wait_notify(1)
    assert call.body == "1 &lt; 2 &amp; &lt;i&gt;sleep&lt;/i&gt; &gt; work"
    assert call.summary == "Tea & <b>biscuits</b>"  # the summary is plain text by the spec


@pytest.mark.e2e
def test_body_is_sent_as_is_to_a_server_without_markup(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    fake_server(capabilities=("actions", "body"))
    backend = backends(bare_bus.env)
    backend.send(Message(KEY, "T", "1 < 2 & 3"))
    [call] = bare_bus.monitor.wait_notify(1)
    assert call.body == "1 < 2 & 3"


@pytest.mark.e2e
def test_no_buttons_for_a_server_without_actions(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    fake_server(capabilities=("body",))
    backend = backends(bare_bus.env)
    backend.send(magnesium())
    backend.send(Message("config", "Config error", "line 3", actions=False))
    with_buttons, without = bare_bus.monitor.wait_notify(2)
    assert with_buttons.actions == ["default", "Acknowledge"]  # a click on it still counts
    assert without.actions == []


@pytest.mark.e2e
def test_a_notice_has_no_actions_at_all_and_the_timeout_it_asks_for(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends(desktop.env)
    backend.send(Message("config", "Config error", "line 3", actions=False, expire_ms=-1))
    [call] = desktop.monitor.wait_notify(1)
    assert call.actions == []  # not even `default`: nothing would answer a click on it
    assert call.expire_timeout == -1


@pytest.mark.e2e
def test_signals_from_another_connection_are_ignored(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    [call] = desktop.monitor.wait_notify(1)
    nid = desktop.monitor.reply_to_notify(call)
    # Aimed straight at us (the bus delivers it whatever our match rules say) and broadcast.
    desktop.send_signal("ActionInvoked", "us", (nid, "done"), destination=call.sender)
    desktop.send_signal("ActionInvoked", "us", (nid, "snooze"))
    desktop.send_signal("NotificationClosed", "uu", (nid, 2), destination=call.sender)
    time.sleep(0.3)
    assert actions.got == []
    desktop.dunstctl("action", "0")
    assert actions.wait(1) == [(KEY, "done")]


@pytest.mark.e2e
def test_signals_about_other_apps_notifications_are_ignored(
    sent: tuple[FakeServer, int], actions: Actions
) -> None:
    server, ours = sent
    server.emit("ActionInvoked", "us", (ours + 100, "done"))
    server.emit("NotificationClosed", "uu", (ours + 100, 2))
    server.emit("ActionInvoked", "us", (ours, "open-browser"))  # not one of ours: no meaning
    time.sleep(0.3)
    assert actions.got == []


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("expire_ms", "reason", "expected"),
    [
        (0, 1, [(KEY, "dismissed")]),  # "expired" although sent never to expire: mate's ×
        (0, 2, [(KEY, "dismissed")]),
        (0, 3, []),
        (0, 4, []),
        (-1, 1, []),  # one that may expire did expire
        (-1, 2, [(KEY, "dismissed")]),
    ],
)
def test_only_closing_by_the_user_is_a_dismissal(
    fake_server,
    bare_bus: Desktop,
    actions: Actions,
    backends: Backends,
    expire_ms: int,
    reason: int,
    expected: list[tuple[str, str]],
) -> None:
    server: FakeServer = fake_server()
    backend = backends(bare_bus.env)
    backend.send(magnesium(expire_ms=expire_ms))
    server.emit("NotificationClosed", "uu", (server.notified[0][0], reason))
    if expected:
        actions.wait(1)
    else:
        time.sleep(0.3)
    assert actions.got == expected


@pytest.mark.e2e
def test_closing_in_dunst_is_a_dismissal(desktop: Desktop, actions: Actions, backends: Backends) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    desktop.dunstctl("close")
    assert actions.wait(1) == [(KEY, "dismissed")]


@pytest.mark.e2e
def test_withdraw_closes_the_notification_without_a_dismissal(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    assert desktop.displayed() == 1
    backend.withdraw(KEY)
    wait_until(lambda: desktop.displayed() == 0, 5, "the withdrawn notification to close")
    backend.withdraw(KEY)  # already gone: a no-op
    backend.withdraw("never/sent")
    time.sleep(0.2)
    assert actions.got == []


@pytest.mark.e2e
def test_server_restart_is_followed(desktop: Desktop, actions: Actions, backends: Backends) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    desktop.kill_server()
    with pytest.raises(NotifyError, match="no notification server"):
        backend.send(magnesium())
    desktop.start_server()
    backend.send(magnesium())
    calls = desktop.monitor.wait_notify(2)  # the refused send never reached a server
    assert calls[-1].replaces_id == 0  # the old server's ids mean nothing to the new one
    desktop.dunstctl("action", "0")
    assert actions.wait(1) == [(KEY, "done")]  # the new server's signals are believed


@pytest.mark.e2e
def test_bus_restart_reconnects(desktop: Desktop, actions: Actions, backends: Backends) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    desktop.kill_server()  # dunst would exit with its bus anyway
    desktop.kill_bus()
    with pytest.raises(NotifyError):
        backend.send(magnesium())
    desktop.start_bus()  # same socket path: the backend's address still points at it
    desktop.start_server()
    backend.send(magnesium())
    [call] = desktop.monitor.wait_notify(1)  # the new bus's monitor
    assert call.replaces_id == 0
    desktop.dunstctl("action", "0")
    assert actions.wait(1) == [(KEY, "done")]


@pytest.mark.e2e
def test_slow_server_makes_send_fail_within_the_timeout(
    fake_server, bare_bus: Desktop, actions: Actions
) -> None:
    fake_server(delay=5.0)
    backend = DBusBackend(actions, bare_bus.env)  # the default timeout, 2.5 s
    try:
        started = time.monotonic()
        with pytest.raises(NotifyError, match="no answer"):
            backend.send(magnesium())
        assert time.monotonic() - started < 3.5
    finally:
        backend.close()


@pytest.mark.e2e
def test_server_error_is_a_notify_error(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    fake_server(error="org.example.Error.Full")
    backend = backends(bare_bus.env)
    with pytest.raises(NotifyError, match="org.example.Error.Full"):
        backend.send(magnesium())


@pytest.mark.e2e
def test_no_server_on_the_bus(bare_bus: Desktop, actions: Actions, backends: Backends) -> None:
    backend = backends(bare_bus.env)
    with pytest.raises(NotifyError, match="no notification server is running"):
        backend.send(magnesium())


def test_no_bus_at_all(tmp_path: Path, actions: Actions) -> None:
    backend = DBusBackend(actions, {"XDG_RUNTIME_DIR": str(tmp_path)})
    with pytest.raises(NotifyError, match="no session bus"):
        backend.send(magnesium())
    backend = DBusBackend(actions, {"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/nothing"})
    with pytest.raises(NotifyError, match="cannot reach the session bus"):
        backend.send(magnesium())
    backend = DBusBackend(actions, {"DBUS_SESSION_BUS_ADDRESS": "tcp:host=localhost,port=1"})
    with pytest.raises(NotifyError, match="cannot use the session bus address"):
        backend.send(magnesium())


@pytest.mark.e2e
def test_bus_address_falls_back_to_the_runtime_dir_socket(
    desktop: Desktop, actions: Actions, backends: Backends
) -> None:
    env = {k: v for k, v in desktop.env.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    assert bus_address(env) == f"unix:path={desktop.bus_socket}"
    backend = backends(env)
    backend.send(magnesium())
    desktop.monitor.wait_notify(1)


@pytest.mark.e2e
def test_close_is_quick_and_stops_the_receiver(desktop: Desktop, actions: Actions) -> None:
    backend = DBusBackend(actions, desktop.env)
    backend.send(magnesium())
    [thread] = [t for t in threading.enumerate() if t.name == "sundown-dbus"]
    started = time.monotonic()
    backend.close()
    assert time.monotonic() - started < 0.5
    assert not thread.is_alive()
    with pytest.raises(NotifyError, match="closed"):
        backend.send(magnesium())


@pytest.mark.e2e
def test_idle_receiver_never_wakes_up(desktop: Desktop, actions: Actions, backends: Backends) -> None:
    backend = backends(desktop.env)
    backend.send(magnesium())
    [thread] = [t for t in threading.enumerate() if t.name == "sundown-dbus"]
    status = Path(f"/proc/self/task/{thread.native_id}/status")

    def switches() -> int:
        lines = status.read_text().splitlines()
        return sum(int(line.split()[1]) for line in lines if line.split(":")[0].endswith("ctxt_switches"))

    time.sleep(0.2)
    before = switches()
    time.sleep(2.0)
    assert switches() == before  # blocked on the socket: no timer, no polling


@pytest.mark.e2e
def test_a_failing_on_action_does_not_stop_the_receiver(desktop: Desktop) -> None:
    got: list[tuple[str, str]] = []

    def on_action(key: str, action: str) -> None:
        got.append((key, action))
        raise RuntimeError("the daemon had a bad moment")

    backend = DBusBackend(on_action, desktop.env)
    try:
        backend.send(magnesium())
        desktop.dunstctl("action", "0")
        wait_until(lambda: got, 5, "the first action")
        backend.send(Message("2026-11-25/screens-off", "Screens off"))
        desktop.dunstctl("action", "0")
        wait_until(lambda: len(got) == 2, 5, "the second action")
        assert got == [(KEY, "done"), ("2026-11-25/screens-off", "done")]
    finally:
        backend.close()


@pytest.mark.e2e
def test_server_info_names_the_server_and_its_capabilities(desktop: Desktop) -> None:
    info = server_info(desktop.env)
    assert info.name == "dunst"
    assert info.spec_version == "1.2"
    assert {"actions", "body", "body-markup"} <= set(info.capabilities)


@pytest.mark.e2e
def test_server_info_says_what_is_missing(bare_bus: Desktop, tmp_path: Path) -> None:
    with pytest.raises(NotifyError, match="no notification server is running"):
        server_info(bare_bus.env)
    with pytest.raises(NotifyError, match="no session bus"):
        server_info({})


@pytest.mark.e2e
def test_malformed_signal_from_the_server_does_not_stop_the_receiver(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    server: FakeServer = fake_server()
    backend = backends(bare_bus.env)
    backend.send(magnesium())
    nid = server.notified[0][0]
    server.emit("ActionInvoked", "uas", (nid, ["done"]))  # an unhashable "action"
    server.emit("NotificationClosed", "s", ("2",))
    server.emit("ActionInvoked", "us", (nid, "done"))
    assert actions.wait(1) == [(KEY, "done")]


@pytest.mark.e2e
def test_a_server_answering_id_0_gets_no_buttons_and_its_clicks_are_never_mapped(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    server: FakeServer = fake_server(zero_ids=True)
    backend = backends(bare_bus.env)
    backend.send(magnesium())
    backend.send(Message("2026-11-25/screens-off", "Screens off"))
    first, second = bare_bus.monitor.wait_notify(2)
    server.emit("ActionInvoked", "us", (0, "done"))  # a Done on one of the two: which?
    server.emit("NotificationClosed", "uu", (0, 2))
    time.sleep(0.3)
    assert actions.got == []
    assert second.actions == []  # after the first 0: a server without buttons
    assert second.replaces_id == 0
    assert backend.shown_as(KEY) is None


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (("Xfce Notify Daemon", "Xfce", "0.7.3", "1.2"), ["default", "Done", "snooze", "Snooze"]),
        (("lxqt-notificationd", "lxqt.org", "1.2.0", "1.2"), ["default", "Done", "snooze", "Snooze"]),
        (
            ("mako", "emersion", "1.7", "1.2"),
            ["default", "Acknowledge", "done", "Done", "snooze", "Snooze"],
        ),
    ],
)
def test_one_done_button_on_servers_that_draw_the_default_action_and_unique_labels_everywhere(
    fake_server,
    bare_bus: Desktop,
    actions: Actions,
    backends: Backends,
    info: tuple[str, str, str, str],
    expected: list[str],
) -> None:
    server: FakeServer = fake_server(info=info)
    backend = backends(bare_bus.env)
    backend.send(magnesium())
    [call] = bare_bus.monitor.wait_notify(1)
    assert call.actions == expected
    labels = call.actions[1::2]
    assert len(set(labels)) == len(labels)
    # mako's menu: the person picks a label, mako invokes the one action that has it.
    for action in call.actions[::2]:
        server.emit("ActionInvoked", "us", (server.notified[0][0], action))
    assert [a for _, a in actions.wait(1)] == ["done"]  # the first one settles it


@pytest.mark.e2e
def test_the_one_at_a_time_server_is_recognised(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    fake_server(info=("Notification Daemon", "GNOME", "3.20.0", "1.2"))
    backend = backends(bare_bus.env)
    assert not backend.one_at_a_time  # not known before it was asked
    backend.send(magnesium())
    assert backend.one_at_a_time


def shown_by_a_process_that_ended(actions: Actions, bus: Desktop) -> dict[str, object] | None:
    """Magnesium shown by a backend that is closed since: what a restarted daemon finds in the log."""
    first = DBusBackend(actions, bus.env)
    try:
        first.send(magnesium())
        return first.shown_as(KEY)
    finally:
        first.close()


@pytest.mark.e2e
def test_a_notification_shown_by_a_previous_process_is_replaced_closed_and_heard(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    server: FakeServer = fake_server()
    shown = shown_by_a_process_that_ended(actions, bare_bus)
    assert shown is not None and shown["id"] == server.notified[0][0]
    later = backends(bare_bus.env)
    later.adopt(KEY, shown)
    later.listen()
    server.emit("ActionInvoked", "us", (server.notified[0][0], "snooze"))
    assert actions.wait(1) == [(KEY, "snooze")]
    wait_until(lambda: server.closed, what="the acted-on notification closed")  # as after any action
    later.adopt(KEY, shown)
    later.send(magnesium(urgency="critical"))  # the repeat
    assert server.notified[1][1][1] == server.notified[0][0]  # replaces_id: the same one
    later.withdraw(KEY)
    assert server.closed == [server.notified[0][0]] * 2


@pytest.mark.e2e
def test_an_id_from_another_server_or_bus_is_never_adopted(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    server: FakeServer = fake_server()
    backend = backends(bare_bus.env)
    backend.adopt(KEY, {"id": 1, "server": ":1.999@another-bus"})  # a restarted server reuses ids
    backend.listen()
    server.emit("ActionInvoked", "us", (1, "done"))
    backend.send(magnesium())
    time.sleep(0.3)
    assert actions.got == []
    assert server.notified[0][1][1] == 0  # a new notification, not someone else's id 1


@pytest.mark.e2e
def test_withdrawing_an_adopted_notification_first_thing_closes_it(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    server: FakeServer = fake_server()
    shown = shown_by_a_process_that_ended(actions, bare_bus)
    assert shown is not None
    later = backends(bare_bus.env)
    later.adopt(KEY, shown)
    later.withdraw(KEY)  # no send, no listen before: it connects to close it
    assert server.closed == [server.notified[0][0]]


GNOME_SHELL = ("gnome-shell", "GNOME", "43.9", "1.2")


@pytest.mark.e2e
def test_on_gnome_shell_a_repeat_closes_the_shown_notification_and_sends_a_new_one(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    """GNOME Shell's replace empties the actions of a banner on screen (Done and Snooze vanish) and
    adds one more `default` handler each time: a repeat is a new notification, never a replacement."""
    server: FakeServer = fake_server(info=GNOME_SHELL)
    backend = backends(bare_bus.env)
    backend.send(magnesium())
    backend.send(Message(KEY, "Magnesium", "Time for your evening magnesium."))
    wait_until(lambda: len(server.notified) == 2, 5, "the repeat")
    (first, _), (second, args) = server.notified
    assert server.closed == [first] and args[1] == 0 and second != first  # replaces_id 0
    assert args[5] == ["default", "Acknowledge", "done", "Done", "snooze", "Snooze"]
    server.emit("ActionInvoked", "us", (first, "done"))  # the closed one: nothing of ours now
    server.emit("ActionInvoked", "us", (second, "default"))
    server.emit("ActionInvoked", "us", (second, "default"))  # twice, as GNOME did after a replace
    assert actions.wait(1) == [(KEY, "done")]
    time.sleep(0.2)
    assert actions.got == [(KEY, "done")]
    assert backend.keeps_expired  # GNOME Shell ignores expire_timeout


@pytest.mark.e2e
def test_a_rate_limited_notification_is_sent_again_once_after_a_pause(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends, caplog: pytest.LogCaptureFixture
) -> None:
    """KDE Plasma refuses a notification like one it created less than 1 s before
    (ExcessNotificationGeneration): not a failure of the server, so not a fallback to the console."""
    server: FakeServer = fake_server(rate_limit=1.0)
    backend = backends(bare_bus.env)
    backend.send(magnesium())
    started = time.monotonic()
    backend.send(magnesium(urgency="critical"))  # the same reminder, due again at once
    took = time.monotonic() - started
    assert len(server.refused) == 1 and len(server.notified) == 2
    assert server.notified[1][1][1] == server.notified[0][0]  # it still replaces the first
    assert 1.0 <= took < 2.0
    assert "too many similar notifications" in caplog.text
    server.emit("ActionInvoked", "us", (server.notified[1][0], "done"))
    assert actions.wait(1) == [(KEY, "done")]


@pytest.mark.e2e
def test_a_server_that_refuses_again_after_the_pause_is_a_notify_error(
    fake_server, bare_bus: Desktop, actions: Actions, backends: Backends
) -> None:
    server: FakeServer = fake_server(rate_limit=60.0)
    backend = backends(bare_bus.env)
    backend.send(magnesium())
    with pytest.raises(NotifyError, match="ExcessNotificationGeneration"):
        backend.send(magnesium())
    assert len(server.refused) == 2  # one retry, no more
