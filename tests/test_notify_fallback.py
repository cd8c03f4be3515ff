"""auto, plyer and console: a reminder always reaches the person by some way, and dbus comes back."""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest

from sundown.notify import Message, NotifyError, choose
from sundown.notify.auto import AutoBackend
from sundown.notify.console import ConsoleBackend, format_line
from sundown.notify.dbus import DBusBackend
from sundown.notify.plyer_backend import PlyerBackend
from support.desktop import Desktop, FakeServer, wait_until

KEY = "2026-11-25/magnesium"
MAGNESIUM = Message(KEY, "Magnesium", "Time for your evening magnesium.")


def ignore(key: str, action: str) -> None:
    """on_action for tests that click nothing."""


@contextmanager
def auto(env: dict[str, str], timeout: float = 2.5) -> Iterator[tuple[AutoBackend, io.StringIO]]:
    """The auto chain as `choose` builds it on Linux, and what its console printed; closed at the end."""
    out = io.StringIO()
    backend = AutoBackend([DBusBackend(ignore, env, timeout=timeout), ConsoleBackend(out)])
    try:
        yield backend, out
    finally:
        backend.close()


def test_auto_chain_leaves_plyer_out_on_linux_only() -> None:
    assert AutoBackend.default(ignore, {}, platform="linux").chain == ("dbus", "console")
    assert AutoBackend.default(ignore, {}, platform="darwin").chain == ("dbus", "plyer", "console")
    assert AutoBackend.default(ignore, {}, platform="win32").chain == ("dbus", "plyer", "console")


def test_console_line_format() -> None:
    when = datetime(2026, 11, 25, 21, 45, tzinfo=timezone.utc)
    assert (
        format_line(MAGNESIUM, when)
        == "sundown: [2026-11-25 21:45] Magnesium — Time for your evening magnesium."
    )
    assert format_line(Message("k", "Screens off"), when) == "sundown: [2026-11-25 21:45] Screens off"
    assert format_line(Message("k", "Late", "a\nb\n\nc"), when) == "sundown: [2026-11-25 21:45] Late — a b c"


def test_console_backend_prints_one_flushed_line_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    backend = choose("console", ignore, {})
    backend.send(MAGNESIUM)
    backend.withdraw(KEY)
    backend.close()
    assert backend.delivered_by() == "console"
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("sundown: [") and out.endswith("] Magnesium — Time for your evening magnesium.\n")


def test_choose_knows_the_four_backends_and_refuses_others() -> None:
    assert [choose(name, ignore, {}).name for name in ("auto", "dbus", "plyer", "console")] == [
        "auto",
        "dbus",
        "plyer",
        "console",
    ]
    with pytest.raises(ValueError, match="unknown notification backend 'growl'"):
        choose("growl", ignore, {})


def test_message_refuses_an_unknown_urgency() -> None:
    with pytest.raises(ValueError, match="urgency"):
        Message(KEY, "t", urgency="urgent")


@pytest.mark.e2e
def test_auto_uses_dbus_when_a_server_answers(desktop: Desktop) -> None:
    with auto(desktop.env) as (backend, out):
        backend.send(MAGNESIUM)
        [call] = desktop.monitor.wait_notify(1)
    assert backend.last_backend == backend.delivered_by() == "dbus"
    assert call.summary == "Magnesium"
    assert out.getvalue() == ""


@pytest.mark.e2e
def test_auto_falls_back_to_console_without_a_server(bare_bus: Desktop) -> None:
    with auto(bare_bus.env) as (backend, out):
        backend.send(MAGNESIUM)
    assert backend.last_backend == "console"
    assert "Magnesium — Time for your evening magnesium." in out.getvalue()
    assert backend.last_errors == ("dbus: no notification server is running on the session bus",)


def test_auto_falls_back_to_console_without_a_bus(tmp_path) -> None:
    with auto({"XDG_RUNTIME_DIR": str(tmp_path)}) as (backend, _):
        backend.send(MAGNESIUM)
    assert backend.last_backend == "console"
    assert "no session bus" in backend.last_errors[0]


@pytest.mark.e2e
def test_killing_the_server_between_two_sends_loses_nothing_and_dbus_comes_back(desktop: Desktop) -> None:
    with auto(desktop.env) as (backend, out):
        backend.send(MAGNESIUM)
        assert backend.last_backend == "dbus"
        desktop.kill_server()
        backend.send(Message("2026-11-25/screens-off", "Screens off", "Time to stop."))
        assert backend.last_backend == "console"
        assert "Screens off — Time to stop." in out.getvalue()
        desktop.start_server()
        backend.send(Message("2026-11-25/bed", "Bed"))
        assert backend.last_backend == "dbus"
        calls = desktop.monitor.wait_notify(2)
    assert [c.summary for c in calls] == ["Magnesium", "Bed"]
    assert desktop.displayed() == 1


@pytest.mark.e2e
def test_erroring_server_falls_back_and_is_retried_on_the_next_reminder(
    fake_server, bare_bus: Desktop
) -> None:
    server: FakeServer = fake_server(error="org.example.Error.Broken")
    with auto(bare_bus.env) as (backend, out):
        backend.send(MAGNESIUM)
        assert backend.last_backend == "console"
        assert "org.example.Error.Broken" in backend.last_errors[0]
        assert "Magnesium" in out.getvalue()
        server.error = None  # the server recovers
        backend.send(Message(KEY, "Magnesium", "Repeat 1"))
        assert backend.last_backend == "dbus"
        assert server.notified[-1][1][3:5] == ("Magnesium", "Repeat 1")


@pytest.mark.e2e
def test_slow_server_falls_back_within_a_bounded_time(fake_server, bare_bus: Desktop) -> None:
    fake_server(delay=5.0)
    with auto(bare_bus.env, timeout=1.0) as (backend, out):
        started = time.monotonic()
        backend.send(MAGNESIUM)
        elapsed = time.monotonic() - started
    assert backend.last_backend == "console"
    assert "Magnesium" in out.getvalue()
    assert elapsed < 2.0  # dbus gives up after its 1 s timeout, long before the 5 s reply


@pytest.mark.e2e
def test_auto_withdraw_asks_the_backend_that_showed_it(desktop: Desktop) -> None:
    with auto(desktop.env) as (backend, _):
        backend.send(MAGNESIUM)
        assert desktop.displayed() == 1
        backend.withdraw(KEY)
        wait_until(lambda: desktop.displayed() == 0, 5, "the notification to be withdrawn")
        backend.withdraw(KEY)


@pytest.mark.e2e
def test_auto_close_is_quick(desktop: Desktop) -> None:
    backend = choose("auto", ignore, desktop.env)
    backend.send(MAGNESIUM)
    started = time.monotonic()
    backend.close()
    assert time.monotonic() - started < 0.5


@pytest.mark.e2e
def test_no_backend_left_is_a_notify_error(bare_bus: Desktop) -> None:
    backend = AutoBackend([DBusBackend(ignore, bare_bus.env), PlyerBackend(bare_bus.env)])
    try:
        with pytest.raises(NotifyError, match="no backend could deliver"):
            backend.send(MAGNESIUM)
    finally:
        backend.close()
    assert backend.last_backend is None


@pytest.mark.e2e
def test_plyer_delivers_through_the_desktop(desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> None:
    # plyer only reads the process environment (it runs notify-send on Linux).
    for key in [k for k in os.environ if k.startswith(("DBUS_", "DISPLAY"))]:
        monkeypatch.delenv(key)
    for key in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY"):
        monkeypatch.setenv(key, desktop.env[key])
    backend = choose("plyer", ignore, os.environ)
    backend.send(MAGNESIUM)
    backend.withdraw(KEY)
    backend.close()
    [call] = desktop.monitor.wait_notify(1)
    assert (call.app_name, call.summary, call.body) == (
        "sundown",
        "Magnesium",
        "Time for your evening magnesium.",
    )
    assert call.actions == []  # plyer has no buttons


@pytest.mark.e2e
def test_plyer_on_linux_refuses_without_a_server(bare_bus: Desktop) -> None:
    with pytest.raises(NotifyError, match="plyer on Linux needs a notification server"):
        PlyerBackend(bare_bus.env, platform="linux").send(MAGNESIUM)


@pytest.mark.e2e
def test_plyer_missing_says_how_to_get_it(desktop: Desktop, monkeypatch: pytest.MonkeyPatch) -> None:
    # On Linux plyer is not a dependency (auto never uses it there): choosing it says what to do.
    monkeypatch.setitem(sys.modules, "plyer", None)
    backend = choose("plyer", ignore, desktop.env)
    with pytest.raises(NotifyError, match=r"plyer is not installed .*backend \"dbus\".*pip install plyer"):
        backend.send(Message("k", "t", "b"))
