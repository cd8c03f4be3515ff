"""The D-Bus backend against real notification servers other than dunst (Debian packages).

Each is started on a private bus and Xvfb; xdotool presses its buttons, its × and its body
where a person would, and the test checks what sundown made of it. What each server does is
in docs/notify.md's table; the drawn buttons can be looked at in the screenshot each test
leaves in its tmp directory.
"""

from __future__ import annotations

import subprocess

import pytest

from sundown.notify import Message
from sundown.notify.dbus import DBusBackend
from support.desktop import Actions, Desktop, wait_until

pytestmark = pytest.mark.e2e  # every test here starts real processes

REMINDER_ACTIONS = ["default", "Acknowledge", "done", "Done", "snooze", "Snooze"]
DEFAULT_IS_DONE = ["default", "Done", "snooze", "Snooze"]  # where `default` is drawn as a button

# server: (the actions sent, {what is clicked: what sundown logs})
EXPECTED = {
    "xfce4-notifyd": (
        DEFAULT_IS_DONE,
        {"Done": "done", "Snooze": "snooze", "body": "dismissed"},  # a click on it closes it, reason 2
    ),
    "lxqt-notificationd": (
        DEFAULT_IS_DONE,
        {"Done": "done", "Snooze": "snooze", "close": "dismissed", "body": "done"},
    ),
    "notification-daemon": (
        REMINDER_ACTIONS,
        {"Done": "done", "Snooze": "snooze", "close": "dismissed", "body": "done"},
    ),
    "mate-notification-daemon": (
        REMINDER_ACTIONS,
        {"Done": "done", "Snooze": "snooze", "close": "dismissed", "body": "done"},  # × is "expired"
    ),
}


@pytest.mark.parametrize("real_server", list(EXPECTED), indirect=True)
def test_every_drawn_button_the_x_and_the_body_do_what_they_say(real_server: Desktop, tmp_path) -> None:
    desktop = real_server
    actions_sent, clicks = EXPECTED[desktop.server]
    got = Actions()
    backend = DBusBackend(got, desktop.env)
    try:
        for n, (target, meaning) in enumerate(clicks.items()):
            key = f"2026-11-25/step-{n}"
            backend.send(Message(key, "Magnesium", "Time for your evening magnesium."))
            call = desktop.monitor.wait_notify(n + 1)[-1]
            assert call.actions == actions_sent
            labels = call.actions[1::2]
            assert len(set(labels)) == len(labels), labels  # never two buttons called Done
            if n == 0:
                wait_until(desktop.windows, 10, "the notification on screen")
                desktop.screenshot(tmp_path / f"{desktop.server}.png")
            desktop.click(target)
            seen = f"{target} -> {meaning}, got {got.got}"
            wait_until(lambda k=key, m=meaning: (k, m) in got.got, 10, seen)
            # Acted on or closed: it goes from the screen, and nothing else was made of the click.
            wait_until(lambda: not desktop.windows(), 10, f"the notification gone after {target}")
            assert [a for k, a in got.got if k == key] == [meaning]
    finally:
        backend.close()


@pytest.mark.parametrize("real_server", list(EXPECTED), indirect=True)
def test_a_notice_has_no_buttons_on_real_servers(real_server: Desktop) -> None:
    backend = DBusBackend(Actions(), real_server.env)
    try:
        backend.send(Message("notice/x", "sundown: config has errors", "line 3", actions=False, expire_ms=-1))
        [call] = real_server.monitor.wait_notify(1)
        assert call.actions == [] and call.expire_timeout == -1
        wait_until(real_server.windows, 10, "the notice on screen")
    finally:
        backend.close()


@pytest.mark.parametrize(("button", "meaning"), [("1", "dismissed"), ("2", "done"), ("3", "dismissed")])
def test_dunst_left_click_closes_and_middle_click_is_done(
    desktop: Desktop, button: str, meaning: str
) -> None:
    """dunst's default mouse bindings: left closes, middle does the default action, right closes all."""
    got = Actions()
    backend = DBusBackend(got, desktop.env)
    try:
        backend.send(Message("2026-11-25/magnesium", "Magnesium", "Time for your evening magnesium."))
        x, y, w, h = wait_until(desktop.windows, 10, "the notification on screen")[0]
        subprocess.run(
            ["xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", button],
            env=desktop.env,
            check=True,
            timeout=10,
        )
        wait_until(lambda: got.got, 10, f"button {button} -> {meaning}")
        assert got.got == [("2026-11-25/magnesium", meaning)]
    finally:
        backend.close()
