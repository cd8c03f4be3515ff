"""An https calendar: conditional requests, the copy in the state directory, a failure keeping the
last good copy, a slow or hanging server, TLS with a self-signed certificate (tests/support/
calendar_server.py serves one .ics on 127.0.0.1). Every case runs over https (the `server`
fixture); the conditional request also over plain http to this machine, the one other scheme
allowed. The fetch tests start no process; the `CalendarSource` ones run the parser child and
are end-to-end."""

from __future__ import annotations

import logging
import stat
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sundown.calendar import fetch
from sundown.calendar.fetch import Cache, refresh
from support.calendar_server import CERT, CalendarServer
from support.desktop import wait_until

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
HERE = Path(__file__).parent / "calendars"
GOOGLE = (HERE / "google.ics").read_bytes()
T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


@pytest.fixture
def server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[CalendarServer]:
    """The calendar over https, as calendar hosts serve it, its self-signed certificate trusted
    the way a system CA store would be (SSL_CERT_FILE, inherited by the parser child too).
    `@pytest.mark.parametrize("server", ["http"], indirect=True)`: plain http to this machine."""
    tls = getattr(request, "param", "https") == "https"
    if tls:
        monkeypatch.setenv("SSL_CERT_FILE", str(CERT))
    s = CalendarServer(GOOGLE, tls=tls)
    assert s.url.startswith("https://" if tls else "http://127.0.0.1:")
    yield s
    s.close()


def cache(tmp_path: Path, url: str) -> Cache:
    return Cache(tmp_path / "calendar.ics", tmp_path / "calendar.json", url)


@pytest.mark.parametrize("server", ["https", "http"], indirect=True)
def test_a_conditional_request_after_the_first_fetch(server: CalendarServer, tmp_path: Path) -> None:
    c = cache(tmp_path, server.url)
    got, problem = refresh(c, T0)
    assert problem is None and got.body == GOOGLE and got.fetched == T0
    assert "if-none-match" not in server.requests[0]
    got, problem = refresh(c, T0 + timedelta(hours=1))
    assert problem is None and got.body == GOOGLE and got.fetched == T0 + timedelta(hours=1)
    assert server.requests[1]["if-none-match"] == server.etag  # answered 304
    assert "if-modified-since" in server.requests[1]
    for path in (tmp_path / "calendar.ics", tmp_path / "calendar.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    server.publish(GOOGLE.replace(b"Flight", b"Train"))
    got, _ = refresh(c, T0 + timedelta(hours=2))
    assert b"Train" in (got.body or b"") and c.load().body == got.body


def test_a_500_keeps_the_last_good_copy(server: CalendarServer, tmp_path: Path) -> None:
    c = cache(tmp_path, server.url)
    refresh(c, T0)
    server.fail_with = 500
    got, problem = refresh(c, T0 + timedelta(hours=1))
    assert problem == "the server answered 500 Internal Server Error"
    assert got.body == GOOGLE and got.fetched == T0  # the copy, and when it was fetched
    assert c.load().body == GOOGLE


def test_a_slow_server_is_given_up_on(
    server: CalendarServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "TIMEOUT_S", 0.3)
    server.delay_s = 2.0
    began = time.monotonic()
    got, problem = refresh(cache(tmp_path, server.url), T0)
    assert problem is not None and problem.startswith("the server did not answer within")
    assert got.body is None and time.monotonic() - began < 1.5


def test_a_copy_of_another_url_is_not_used(server: CalendarServer, tmp_path: Path) -> None:
    refresh(cache(tmp_path, server.url), T0)
    assert cache(tmp_path, server.url + "?other").load().body is None


def test_nothing_but_https_outside_this_machine() -> None:
    assert fetch.allowed("https://example.org/a.ics")
    assert fetch.allowed("http://127.0.0.1:8080/a.ics") and fetch.allowed("http://[::1]/a.ics")
    assert not fetch.allowed("http://example.org/a.ics") and not fetch.allowed("ftp://example.org/a.ics")


def test_a_redirect_to_plain_http_elsewhere_is_refused(tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://example.org/cal.ics")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/cal.ics"
        _, problem = refresh(cache(tmp_path, url), T0)
        assert problem == "refused to follow it to http://example.org/cal.ics (not https)"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_body_over_the_limit_is_refused(
    server: CalendarServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "MAX_BYTES", 1000)
    got, problem = refresh(cache(tmp_path, server.url), T0)
    assert problem is not None and "MB" in problem and got.body is None


def test_https_with_a_certificate_the_system_trusts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = CalendarServer(GOOGLE, tls=True)
    try:
        _, problem = refresh(cache(tmp_path, s.url), T0)
        assert problem is not None and problem.startswith("its certificate is not trusted")
        monkeypatch.setenv("SSL_CERT_FILE", str(CERT))  # as a system CA store that holds it
        got, problem = refresh(cache(tmp_path, s.url), T0)
        assert problem is None and got.body == GOOGLE
    finally:
        s.close()


# --- the source: at most hourly, the copy across restarts, said once --------------------------------


def source_at(tmp_path: Path, url: str, clock: list[datetime]):
    from sundown.calendar.source import CalendarSource
    from sundown.core.routine import Calendar

    changes: list[int] = []
    src = CalendarSource(
        Calendar(url, timedelta(hours=1, minutes=15)),
        tmp_path / "calendar.ics",
        tmp_path / "calendar.json",
        lambda: changes.append(1),
        clock=lambda: clock[0],
    )
    return src, changes


@pytest.mark.e2e
def test_a_url_is_fetched_at_most_hourly_and_not_again_after_a_restart(
    server: CalendarServer, tmp_path: Path
) -> None:
    now = [T0]
    src, changes = source_at(tmp_path, server.url, now)
    src._step(now[0])
    view = src.view()
    assert server.gets() == 1 and view.problem is None and "Flight" in [e.title for e in view.events]
    assert changes
    now[0] = T0 + timedelta(minutes=30)
    src._step(now[0])
    assert server.gets() == 1
    now[0] = T0 + timedelta(minutes=61)
    src._step(now[0])
    assert server.gets() == 2 and server.requests[1]["if-none-match"] == server.etag
    restarted, _ = source_at(tmp_path, server.url, now)
    now[0] = T0 + timedelta(minutes=90)  # within the hour of the last answer (T0 + 61 min)
    restarted._step(now[0])
    assert server.gets() == 2 and [e.title for e in restarted.view().events] == [e.title for e in view.events]


@pytest.mark.e2e
def test_a_failing_server_keeps_the_events_and_is_said_once(
    server: CalendarServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [T0]
    src, _ = source_at(tmp_path, server.url, now)
    src._step(now[0])
    server.fail_with = 500
    caplog.set_level(logging.WARNING, logger="sundown.calendar")
    for minutes in (61, 63, 70, 75, 200):
        now[0] = T0 + timedelta(minutes=minutes)
        src._step(now[0])
    view = src.view()
    assert "Flight" in [e.title for e in view.events]
    assert view.problem is not None and view.problem.startswith("the server answered 500")
    assert view.problem.endswith("using the last good copy") and view.fetched == T0
    assert len([r for r in caplog.records if "500" in r.getMessage()]) == 1
    # Retried 5, then 10 minutes after a failure (doubling up to the hour), not at every look:
    # at 61, 70 and 200 minutes, not at 63 or 75.
    assert server.gets() == 4
    server.fail_with = None
    now[0] = T0 + timedelta(minutes=300)
    src._step(now[0])
    assert src.view().problem is None


@pytest.mark.e2e
def test_a_hanging_server_blocks_only_the_calendar_thread(server: CalendarServer, tmp_path: Path) -> None:
    server.release.clear()  # every GET hangs
    src, _ = source_at(tmp_path, server.url, [datetime.now(UTC)])
    src.start()
    try:
        wait_until(lambda: server.gets() >= 1, 5, "the fetch")
        began = time.monotonic()
        assert src.view().events == ()  # the worker reads at once: nothing yet, no wait
        src.close()  # returns without waiting for the fetch
        assert time.monotonic() - began < 2
    finally:
        server.release.set()


@pytest.mark.e2e
def test_a_local_file_broken_then_fixed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from sundown.calendar.source import CalendarSource
    from sundown.core.routine import Calendar

    path = tmp_path / "work.ics"
    path.write_bytes(GOOGLE)
    src = CalendarSource(
        Calendar(str(path)), tmp_path / "c.ics", tmp_path / "c.json", lambda: None, lambda: T0
    )
    caplog.set_level(logging.WARNING, logger="sundown.calendar")
    src._step(T0)
    assert src.view().problem is None and len(src.view().events) == 6
    path.write_bytes(b"<html>not a calendar</html>")
    src._step(T0)
    src._step(T0)  # the same broken bytes: not parsed again, not said again
    view = src.view()
    assert view.problem is not None and view.problem.startswith("it is not an iCalendar file")
    assert view.problem.endswith("keeping what was read before") and len(view.events) == 6
    path.write_bytes(b"BEGIN:VCALENDAR\r\n" + b"X" * (11 * 1024 * 1024))
    src._step(T0)
    assert src.view().problem is not None and "over 10 MB" in (src.view().problem or "")
    path.unlink()
    src._step(T0)
    assert src.view().problem == "the file does not exist" and len(src.view().events) == 6
    path.write_bytes(GOOGLE.replace(b"Flight", b"Train"))
    src._step(T0)
    assert src.view().problem is None and "Train" in [e.title for e in src.view().events]
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 3, said  # broken, too big, gone: each once
