"""The HTML report: escaping, structure, and rendering in a real headless Chromium with no network."""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import zlib
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sundown.core.routine import Bedtimes, Reminder, Routine
from sundown.reports import report, stats
from sundown.store.log import Event
from support.oracles import stats_from_events
from support.scripts import load_script

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EVIL = '<script>alert("x")</script>&amp;'
GENERATED = datetime(2026, 11, 25, 12, tzinfo=UTC)


def evil_stats() -> stats.Stats:
    """A routine and log whose every text tries to break out of the page."""
    routine = Routine(
        Bedtimes.uniform(datetime(2000, 1, 1, 22, 30).time()),
        (
            Reminder("bedtime", EVIL, before=timedelta(0)),
            Reminder("m", 'Quote " and <b>', before=timedelta(hours=1)),
        ),
        "Europe/Berlin",
    )
    events = []
    for k in range(10):
        night = date(2026, 11, 10) + timedelta(days=k)
        at = datetime(2026, 11, 10 + k, 21, 30, tzinfo=UTC)
        events.append(Event(len(events) + 1, at, night, "bedtime", "notified", "daemon", {}))
        if k % 3:
            events.append(
                Event(len(events) + 1, at + timedelta(minutes=k), night, "bedtime", "acknowledged", "cli", {})
            )
        events.append(
            Event(len(events) + 1, at, night, "<img src=x onerror=alert(1)>", "notified", "daemon", {})
        )
    return stats_from_events(events, routine, BERLIN, date(2026, 11, 19), 10, GENERATED)


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)


def test_every_text_from_config_and_log_is_escaped() -> None:
    html = report.render(evil_stats(), BERLIN, GENERATED)
    parser = Collector()
    parser.feed(html)
    assert "script" not in parser.tags and "img" not in parser.tags and "b" not in parser.tags
    assert not any(name.startswith("on") for name, _ in parser.attrs)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;" in html
    assert "Quote &quot; and &lt;b&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_page_is_self_contained() -> None:
    html = report.render(evil_stats(), BERLIN, GENERATED)
    lowered = html.lower()
    for needle in ("http:", "https:", "<script", "url(", "@import", "<link", "<img", "<iframe", "xlink"):
        assert needle not in lowered, needle
    parser = Collector()
    parser.feed(html)
    assert not {"src", "href", "action", "srcset", "background"} & {name for name, _ in parser.attrs}
    assert not any(value and "//" in value for _, value in parser.attrs)
    assert "content-security-policy" in lowered and "default-src 'none'" in html
    assert html.count("<svg") == 1 + 1 + 2 + 1  # calendar, strips, a delay chart per reminder x2, bedtime


def test_empty_range_still_renders() -> None:
    routine = Routine(Bedtimes.uniform(datetime(2000, 1, 1, 22, 30).time()), (), None)
    s = stats_from_events([], routine, BERLIN, date(2026, 11, 19), 3, GENERATED)
    html = report.render(s, BERLIN, GENERATED)
    assert "No reminders configured" in html and html.rstrip().endswith("</html>")


def _two_nights_stats(days: int) -> stats.Stats:
    routine = Routine(
        Bedtimes.uniform(datetime(2000, 1, 1, 22, 30).time()),
        (Reminder("bedtime", "Lights out", before=timedelta(0)),),
        "Europe/Berlin",
    )
    events = []
    for k, minutes in ((0, -46), (1, 20)):
        night = date(2026, 11, 23) + timedelta(days=k)
        at = datetime(2026, 11, 23 + k, 21, 30, tzinfo=UTC)
        events.append(Event(len(events) + 1, at, night, "bedtime", "notified", "daemon", {}))
        ack = at + timedelta(minutes=minutes)
        events.append(Event(len(events) + 1, ack, night, "bedtime", "acknowledged", "cli", {}))
    return stats_from_events(events, routine, BERLIN, date(2026, 11, 24), days, GENERATED)


def _rects(svg: str) -> list[str]:
    return re.findall(r"<rect [^>]*>", svg)


def test_calendar_shows_the_reports_range_not_a_whole_year() -> None:
    week = _two_nights_stats(7)
    calendar = report._calendar(week)
    days = [r for r in _rects(calendar) if 'width="12"' in r]
    assert len(days) == 7  # one square per night of the report, none for the rest of 2026
    assert "Nov 2026" in calendar and "Jan" not in calendar
    year_end = stats_from_events([], week_routine(), BERLIN, date(2027, 1, 3), 10, GENERATED)
    two = report._calendar(year_end)
    assert two.count("<svg") == 2 and "Dec 2026" in two and "Jan 2027" in two
    assert len([r for r in _rects(two) if 'width="12"' in r]) == 10


def week_routine() -> Routine:
    return Routine(Bedtimes.uniform(datetime(2000, 1, 1, 22, 30).time()), (), None)


def test_strip_starts_under_its_first_date() -> None:
    strip = report._strips(_two_nights_stats(30))  # 28 nights before the log began, then 2
    first = re.search(r'<text x="([\d.]+)" y="12">2026-10-26</text>', strip)
    cells = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', strip)]
    assert first and cells and min(cells) == float(first.group(1))
    assert "not scheduled" in strip


def test_bedtime_legend_matches_the_dots_colours() -> None:
    chart = report._bedtime_chart(_two_nights_stats(2), BERLIN)
    # 46 minutes early is not "within 15 min"; 20 minutes late is "later".
    dots = {d: c for c, d in re.findall(r'fill="(#[0-9a-f]{6})"><title>(2026-11-2\d)', chart)}
    legend = {w: c for c, w in re.findall(r'background:(#[0-9a-f]{6})"></i>([^<]+)<', chart)}
    assert dots["2026-11-23"] == legend["more than 15 min earlier"]
    assert dots["2026-11-24"] == legend["more than 15 min later"]
    on_time = legend["lights out within 15 min of it"]
    assert report._lights_out_color(15) == report._lights_out_color(-15) == on_time


def _evenings_stats() -> stats.Stats:
    """Four reminders for 8 nights: 4, 3, 2, 1 and 0 of them done, two skipped, one nothing due;
    then tonight at 21:00, one done early and three still ahead."""
    names = ("bedtime", "a", "b", "c")  # lights out: dots on the bedtime chart too
    routine = Routine(
        Bedtimes.uniform(datetime(2000, 1, 1, 22, 30).time()),
        tuple(Reminder(rid, rid.upper(), before=timedelta(minutes=10 * k)) for k, rid in enumerate(names)),
        "Europe/Berlin",
    )
    events: list[Event] = []

    def add(night: date, rid: str | None, event: str, minute: int = 0) -> None:
        at = datetime(night.year, night.month, night.day, 20, minute, tzinfo=UTC)
        events.append(Event(len(events) + 1, at, night, rid, event, "cli" if rid is None else "daemon", {}))

    first = date(2026, 11, 16)
    for k, done in enumerate((4, 3, 2, 1, 0)):
        night = first + timedelta(days=k)
        for rid in names:
            add(night, rid, "notified")
            add(night, rid, "acknowledged" if names.index(rid) < done else "missed", 5)
    add(first + timedelta(days=5), None, "skipped")  # 21st: skipped; 22nd: nothing logged at all
    tonight = first + timedelta(days=7)
    add(tonight, "c", "acknowledged")  # 21:00 Berlin, before its time
    now = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
    return stats_from_events(events, routine, BERLIN, tonight, 8, now)


def test_every_colour_of_the_calendar_has_its_legend_and_tonight_is_not_all_done() -> None:
    result = _evenings_stats()
    html = report.render(result, BERLIN, GENERATED)
    calendar = report._calendar(result)
    painted = re.findall(r'fill="(#[0-9a-f]{6})"><title>([^<]+)</title>', calendar)
    below = html.split("Adherence calendar")[1].split("Each reminder")[0]
    legend = dict(re.findall(r'background:(#[0-9a-f]{6})"></i>([^<]+)<', below))
    assert {color for color, _ in painted} <= set(legend)  # before: the orange of 3 in 4 had none
    words = {title.split(":")[0][4:]: legend[color] for color, title in painted}
    assert words == {
        "2026-11-16": "all done",
        "2026-11-17": "most (3 in 4 or more)",
        "2026-11-18": "half or more",
        "2026-11-19": "under half",
        "2026-11-20": "none done",
        "2026-11-21": "skipped",
        "2026-11-22": "none done",  # nothing logged, the computer off: the routine counts, all missed
        "2026-11-23": "tonight, still going",  # before: "all done" (1 of 1 due)
    }
    tonight = next(title for _, title in painted if title.startswith("Mon 2026-11-23"))
    assert tonight == "Mon 2026-11-23: 1 of 1 done, 3 later tonight"


def test_each_date_label_is_centred_under_its_dot() -> None:
    result = _evenings_stats()
    for chart in (report._delay_chart(result, result.reminders["a"]), report._bedtime_chart(result, BERLIN)):
        found = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="middle">(2026-11-\d\d)<', chart)
        labels = {night: float(x) for x, night in found}
        dots = {
            night: float(x)
            for x, night in re.findall(r'<circle cx="([\d.]+)"[^>]*><title>(2026-11-\d\d)', chart)
        }
        assert "2026-11-16" in labels and dots.keys() & labels.keys()  # the first label, centred too
        for night, x in labels.items():
            if night in dots:
                assert x == dots[night], (night, x, dots[night])  # before: the first one 30 px right
        assert min(labels.values()) - 30 >= 0 and max(labels.values()) + 30 <= 1000  # all on the page


def _measured_stats() -> stats.Stats:
    """Two nights of the evening's activity, no acknowledgement: the 23rd's screens went off at
    23:40 Berlin, on the 24th the phone said in bed at 22:35 (the screens went off at 23:10)."""
    from sundown.core.activity import Span, epoch

    routine = Routine(
        Bedtimes.uniform(datetime(2000, 1, 1, 22, 30).time()),
        (Reminder("bedtime", "Lights out", before=timedelta(0)),),
        "Europe/Berlin",
    )
    events = [
        Event(k + 1, datetime(2026, 11, 23 + k, 21, 30, tzinfo=UTC), date(2026, 11, 23 + k), "bedtime",
              "notified", "daemon", {})
        for k in range(2)
    ]  # fmt: skip
    for night, off in ((date(2026, 11, 23), datetime(2026, 11, 23, 22, 40, tzinfo=UTC)),
                       (date(2026, 11, 24), datetime(2026, 11, 24, 22, 10, tzinfo=UTC))):  # fmt: skip
        start = datetime.combine(night, datetime.min.time(), UTC) + timedelta(hours=20, minutes=30)
        morning = datetime.combine(night + timedelta(days=1), datetime.min.time(), UTC) + timedelta(hours=6)
        for state, a, b in (("active", start, off), ("asleep", off, morning)):
            span = Span(state, epoch(a), epoch(b))
            events.append(Event(len(events) + 1, b, night, None, "activity", "daemon", span.details()))
    in_bed = datetime(2026, 11, 24, 21, 35, tzinfo=UTC)
    events.append(Event(9, in_bed, date(2026, 11, 24), None, "in_bed", "phone", {}))
    return stats_from_events(events, routine, BERLIN, date(2026, 11, 24), 2, GENERATED)


def test_measured_lights_out_is_drawn_beside_the_clicked_with_a_legend_that_says_which() -> None:
    s = _measured_stats()
    chart = report._bedtime_chart(s, BERLIN)
    marks = re.findall(r'<path d="M[^"]+" fill="(#[0-9a-f]{6})"><title>([^<]+)</title>', chart)
    assert [(c, t.split(",")[1].strip()) for c, t in marks] == [
        (report.SCREENS_OFF, "screens off (measured) 23:40 (+70 min)"),
        (report.IN_BED, "in bed (the phone) 22:35 (+5 min)"),
    ]
    assert "at the screen 1h 10m after bedtime" in marks[0][1]
    assert "lights out, measured: the screens went off" in chart and "as the phone's sleep app said" in chart
    assert "Dots are clicked" in chart and "diamonds are measured" in chart
    assert "acknowledged within 15 min of it" in chart  # the dots' own legend says they were clicked
    page = report.render(s, BERLIN, GENERATED)
    assert "Lights out was measured on 2 of 2 nights: median 37m after the planned bedtime" in page
    assert "1 within 15 minutes of it or earlier; streak 1 (best 1)." in page


@pytest.mark.e2e
def test_report_window_defaults_to_the_history(sandbox) -> None:
    from sundown.store.log import EventLog

    sandbox.write_config(
        'timezone = "Europe/Berlin"\n[bedtime]\ndefault = "22:30"\n[reminders.bedtime]\nbefore = "0m"\n'
    )
    target = sandbox.root / "r.html"
    empty = sandbox.run("report", "--html", str(target), check=True)
    html = target.read_text()
    assert "Nothing in the log yet" in html and "<svg" not in html and "no events yet" in empty.stderr
    today = date.today()
    with EventLog(sandbox.db_path) as log:
        for k in (2, 1):
            night = today - timedelta(days=k)
            log.record("acknowledged", night, "bedtime", "cli", {"backfilled": True},
                       ts=datetime(night.year, night.month, night.day, 22, 30, tzinfo=BERLIN))  # fmt: skip
    r = sandbox.run("report", "--html", str(target), check=True)
    # The two logged nights and tonight (before noon: last night is still the current one), not 90.
    shown = re.search(r"(\d+) nights\)", r.stderr)
    assert shown and shown.group(1) in ("2", "3"), r.stderr
    assert f"{shown.group(1)} nights" in target.read_text()
    r = sandbox.run("report", "--html", str(target), "--days", "10", check=True)
    assert "10 nights" in r.stderr


# --- in a real browser ----------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium is not installed")


class CountingProxy:
    """A TCP listener given to Chromium as its proxy: every fetch the page tries connects here."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.settimeout(2)
            try:
                self.requests.append(conn.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace"))
            except OSError:
                self.requests.append("?")
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def chromium(
    tmp_path: Path, page: Path, *extra: str, proxy: CountingProxy | None = None
) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
        "--disable-default-apps", "--metrics-recording-only", "--no-default-browser-check",
        "--disable-features=NetworkTimeServiceQuerying",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
    ]  # fmt: skip
    if proxy is not None:
        args += [f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>"]
    else:
        args += ["--host-resolver-rules=MAP * ~NOTFOUND"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    return subprocess.run(
        [*args, *extra, page.as_uri()], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and raw scanlines (filter byte stripped, unfiltered) of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = color = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, rows


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report of a generated 2-year log, written by the real command."""
    from support.sandbox import Sandbox  # the class, without the function-scoped fixture

    root = tmp_path_factory.mktemp("report")
    box = Sandbox(root)
    bench = load_script("bench/bench_stats.py")
    box.write_config(bench.CONFIG)
    bench.generate(box.db_path, date(2024, 11, 1), 730)
    until = date(2024, 11, 1) + timedelta(days=729)
    target = root / "report.html"
    box.run("report", "--html", str(target), "--days", "730", "--until", str(until), check=True)
    return target


@pytest.mark.e2e
@needs_chromium
def test_chromium_renders_the_charts(big_report: Path, tmp_path: Path) -> None:
    proc = chromium(tmp_path, big_report, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert (
        len(re.findall(r"<svg\b", dom)) >= 2 + 1 + 6 + 1
    )  # two years of calendar, strips, 6 delays, bedtime
    assert len(re.findall(r"<rect\b", dom)) > 730
    assert "Adherence calendar" in dom and "Acknowledgement delay" in dom and "Bedtime" in dom


@pytest.mark.e2e
@needs_chromium
def test_chromium_screenshot_is_a_drawn_page(big_report: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path, big_report, f"--screenshot={shot}", "--window-size=1200,1600")
    assert shot.exists(), proc.stderr[-2000:]
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1200, 1600)
    # Not blank: many distinct colours, and the calendar's green squares are there.
    sample = {row[i : i + 3] for row in rows[::8] for i in range(0, len(row), 24)}
    assert len(sample) > 20
    assert any(px[1] > px[0] + 60 and px[1] > px[2] + 40 for px in sample)  # green-ish (done nights)
    # Keep it for a person to look at when the test runs under --basetemp.
    shutil.copy(shot, tmp_path / "report-screenshot.png")


# Chromium's own background traffic (network time, component updates), not the page's.
BROWSER_HOSTS = re.compile(
    r"^((GET|POST) http://|CONNECT )[^/ ]*\b(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)\b"
)


def page_requests(proxy: CountingProxy) -> list[str]:
    return [r for r in proxy.requests if not BROWSER_HOSTS.match(r)]


@pytest.mark.e2e
@needs_chromium
def test_chromium_loads_nothing_from_the_network(big_report: Path, tmp_path: Path) -> None:
    # Control: a page that does fetch something is seen by the counting proxy ...
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png"></body></html>')
    proxy = CountingProxy()
    try:
        chromium(tmp_path, control, "--dump-dom", proxy=proxy)
    finally:
        proxy.close()
    assert any("example.invalid" in r for r in page_requests(proxy)), proxy.requests
    # ... and the report asks for nothing at all.
    proxy = CountingProxy()
    try:
        proc = chromium(tmp_path, big_report, "--dump-dom", proxy=proxy)
    finally:
        proxy.close()
    assert proc.returncode == 0
    assert page_requests(proxy) == []
    # Without any network either, nothing is refused or fails to load.
    proc = chromium(tmp_path, big_report, "--dump-dom")
    assert "Refused to" not in proc.stderr and "ERR_NAME_NOT_RESOLVED" not in proc.stderr
