"""`sundown log`, `stats` and `report` as real subprocesses against a real log."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sundown.store.log import EventLog
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e  # every test here starts real processes

UTC = timezone.utc
CONFIG = """\
timezone = "Europe/Berlin"

[bedtime]
default = "22:30"

[reminders.magnesium]
before = "45m"
title = "Magnesium <b>& co</b>"
repeat = "10m"

[reminders.bedtime]
before = "0m"
title = "Lights out"
"""
# Mon 17 .. Sun 23 November 2025: magnesium due 21:45 Berlin (20:45 UTC), bedtime 22:30 (21:30 UTC).
NIGHTS = [date(2025, 11, 17) + timedelta(days=k) for k in range(7)]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def utc(day: int, hh: int, mm: int) -> datetime:
    return datetime(2025, 11, day, hh, mm, tzinfo=UTC)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A week of history, built through the public commands where they exist, once for the module:
    the state directory every `box` starts from (five CLI processes per test took most of its time)."""
    sandbox = Sandbox(tmp_path_factory.mktemp("history"))
    sandbox.write_config(CONFIG)
    run = lambda *a: sandbox.run(*a, check=True)  # noqa: E731
    run("ack", "magnesium", "--night", "2025-11-17", "--at", "2025-11-17T21:47", "--force")
    run("ack", "bedtime", "--night", "2025-11-17", "--at", "2025-11-18T00:05", "--force")  # after midnight
    run("skip", "--night", "2025-11-19", "--force")
    run("skip", "magnesium", "--night", "2025-11-20", "--force")
    run("ack", "magnesium", "--night", "2025-11-21", "--at", "2025-11-21T21:50", "--force")
    # The daemon's own events (no public command writes them): recorded directly.
    with EventLog(sandbox.db_path) as log:
        log.record("notified", NIGHTS[1], "magnesium", "daemon", {"late": 0, "repeat": 0, "backend": "dbus",
                   "at": "2025-11-18T21:45:00+01:00", "bedtime": "2025-11-18T22:30:00+01:00"},
                   ts=utc(18, 20, 45))  # fmt: skip
        log.record("notified", NIGHTS[1], "magnesium", "daemon", {"late": 0, "repeat": 1, "backend": "dbus"},
                   ts=utc(18, 20, 55))  # fmt: skip
        log.record("snoozed", NIGHTS[1], "magnesium", "action", {"until": "2025-11-18T21:10:00+00:00"},
                   ts=utc(18, 20, 56))  # fmt: skip
        log.record("dismissed", NIGHTS[1], "bedtime", "action", ts=utc(18, 21, 31))
        log.record(
            "missed", NIGHTS[5], "bedtime", "daemon", {"at": "2025-11-22T22:30:00+01:00"}, ts=utc(22, 21, 31)
        )
        log.record("config_error", NIGHTS[6], None, "daemon", {"errors": ['x.toml:1: a, "b": ünïcode']},
                   ts=utc(23, 12, 0))  # fmt: skip
        log.record("bedtime_changed", NIGHTS[6], None, "cli", {"bedtime": "23:00"}, ts=utc(23, 13, 0))
        log.record("acknowledged", NIGHTS[6], "magnesium", "action", ts=utc(23, 21, 15))
    return sandbox.db_path.parent


@pytest.fixture
def box(sandbox: Sandbox, history: Path) -> Sandbox:
    """A sandbox with the config and its own copy of the week of history."""
    sandbox.write_config(CONFIG)
    shutil.copytree(history, sandbox.db_path.parent)
    return sandbox


def db_rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT id, ts, night, reminder, event, source, details FROM events ORDER BY ts, id"
    ).fetchall()
    conn.close()
    return rows


def same_as_db(parsed: list[dict], rows: list[tuple]) -> None:
    assert len(parsed) == len(rows)
    for got, (id_, ts, night, reminder, event, source, details) in zip(parsed, rows, strict=True):
        assert got["id"] == id_
        assert datetime.fromisoformat(got["ts"]) == datetime.fromisoformat(ts)
        assert got["night"] == night
        assert got["reminder"] == reminder
        assert (got["event"], got["source"]) == (event, source)
        assert got["details"] == json.loads(details)


def test_jsonl_round_trips_every_row_with_stable_keys(box) -> None:
    out = box.run("log", "--format", "jsonl", check=True).stdout
    lines = out.splitlines()
    parsed = [json.loads(line) for line in lines]
    assert all(list(p) == ["id", "ts", "night", "reminder", "event", "source", "details"] for p in parsed)
    for p in parsed:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00", p["ts"]), p["ts"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", p["night"])
    same_as_db(parsed, db_rows(box.db_path))
    # The public commands wrote what they said: a backfilled ack at 21:47 Berlin = 20:47 UTC.
    first = parsed[0]
    assert (first["ts"], first["night"], first["reminder"], first["event"], first["source"]) == (
        "2025-11-17T20:47:00+00:00", "2025-11-17", "magnesium", "acknowledged", "cli",
    )  # fmt: skip
    whole_night = [p for p in parsed if p["event"] == "skipped" and p["reminder"] is None]
    assert [p["night"] for p in whole_night] == ["2025-11-19"]


def test_csv_round_trips_every_row(box) -> None:
    out = box.run("log", "--format", "csv", check=True).stdout
    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames == ["id", "ts", "night", "reminder", "event", "source", "details"]
    parsed = [
        {**r, "id": int(r["id"]), "reminder": r["reminder"] or None, "details": json.loads(r["details"])}
        for r in reader
    ]
    same_as_db(parsed, db_rows(box.db_path))
    assert any("ünïcode" in str(p["details"]) for p in parsed)


def test_since_and_until_are_inclusive_nights(box) -> None:
    def nights(*args: str) -> list[str]:
        out = box.run("log", "--format", "jsonl", *args, check=True).stdout
        return sorted({json.loads(line)["night"] for line in out.splitlines()})

    every = nights()
    assert every == [str(n) for n in NIGHTS]
    assert nights("--since", "2025-11-19", "--until", "2025-11-21") == [
        "2025-11-19",
        "2025-11-20",
        "2025-11-21",
    ]
    assert nights("--since", "2025-11-23") == ["2025-11-23"]
    assert nights("--until", "2025-11-17") == ["2025-11-17"]
    assert nights("--since", "2030-01-01") == []


@pytest.mark.parametrize(
    "args",
    [
        ("log", "--since", "2025-13-01"),
        ("log", "--since", "yesterday"),
        ("log", "--since", "2025-11-20", "--until", "2025-11-19"),
        ("log", "--format", "xml"),
        ("stats", "--days", "0"),
        ("stats", "--until", "25.11.2025"),
        ("report", "--days", "3"),
    ],
)
def test_bad_arguments_are_usage_errors(box, args) -> None:
    proc = box.run(*args)
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr


def test_table_shows_local_times(box) -> None:
    out = box.run("log", "--since", "2025-11-17", "--until", "2025-11-17", check=True).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "(Europe/Berlin)", "NIGHT", "REMINDER", "EVENT", "SOURCE", "DETAILS"]
    assert lines[1].split()[:6] == [
        "2025-11-17",
        "21:47:00",
        "2025-11-17",
        "magnesium",
        "acknowledged",
        "cli",
    ]
    assert lines[2].split()[:4] == ["2025-11-18", "00:05:00", "2025-11-17", "bedtime"]


def test_activity_rows_read_as_spans_in_the_table_and_round_trip_in_csv(box) -> None:
    """Issue 21: `activity` rows (spans of the evening as it was) as a person reads them: the state
    first, then the span's start and end in the routine's zone (not the shell's), a span over
    midnight with both dates; in the CSV export the same rows with their UTC instants."""
    night = date(2025, 11, 20)  # Thursday, CET (UTC+1)
    spans = [  # (source, state, from, to) in UTC, as the daemon writes them
        ("device:laptop", "active", "2025-11-20T21:00:00+00:00", "2025-11-20T21:45:10+00:00"),
        ("daemon", "active", "2025-11-20T20:45:00+00:00", "2025-11-20T22:58:30+00:00"),
        ("daemon", "locked", "2025-11-20T22:58:30+00:00", "2025-11-20T23:20:05+00:00"),
        ("daemon", "asleep", "2025-11-20T23:20:05+00:00", "2025-11-21T06:00:00+00:00"),
    ]
    with EventLog(box.db_path) as log:
        for source, state, start, end in spans:
            details = {"state": state, "from": start, "to": end}
            log.record("activity", night, None, source, details, ts=datetime.fromisoformat(end))
    args = ("log", "--since", "2025-11-20", "--until", "2025-11-20")
    out = box.run(*args, env={"TZ": "America/New_York"}, check=True).stdout
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["TIME", "(Europe/Berlin)"]
    assert [line.split() for line in lines if " activity " in line] == [
        ["2025-11-20", "22:45:10", "2025-11-20", "-", "activity", "device:laptop",
         "state=active", "from=2025-11-20", "22:00:00", "to=2025-11-20", "22:45:10"],
        ["2025-11-20", "23:58:30", "2025-11-20", "-", "activity", "daemon",
         "state=active", "from=2025-11-20", "21:45:00", "to=2025-11-20", "23:58:30"],
        ["2025-11-21", "00:20:05", "2025-11-20", "-", "activity", "daemon",
         "state=locked", "from=2025-11-20", "23:58:30", "to=2025-11-21", "00:20:05"],
        ["2025-11-21", "07:00:00", "2025-11-20", "-", "activity", "daemon",
         "state=asleep", "from=2025-11-21", "00:20:05", "to=2025-11-21", "07:00:00"],
    ]  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(box.run(*args, "--format", "csv", check=True).stdout)))
    got = [
        (r["ts"], r["night"], r["reminder"], r["source"], json.loads(r["details"]))
        for r in rows
        if r["event"] == "activity"
    ]
    assert got == [
        (end, "2025-11-20", "", source, {"state": state, "from": start, "to": end})
        for source, state, start, end in sorted(spans, key=lambda s: s[3])
    ]


def test_a_broken_config_does_not_hide_the_history(box) -> None:
    box.write_config("[bedtime]\ndefault = 25\n")
    assert box.run("stats").returncode == 78
    proc = box.run("log", check=True)
    assert "config has errors" in proc.stderr and "2025-11-17 21:47:00" in proc.stdout  # TZ=Europe/Berlin
    assert len(box.run("log", "--format", "jsonl", check=True).stdout.splitlines()) == len(
        db_rows(box.db_path)
    )


def test_empty_log_prints_nothing_and_says_so(sandbox) -> None:
    sandbox.write_config(CONFIG)
    proc = sandbox.run("log", check=True)
    assert proc.stdout == "" and "no events" in proc.stderr
    assert sandbox.run("log", "--format", "jsonl", check=True).stdout == ""
    assert sandbox.run("log", "--format", "csv", check=True).stdout.splitlines() == [
        "id,ts,night,reminder,event,source,details"
    ]


def test_stats_json_matches_spec_and_hand_numbers(box) -> None:
    out = box.run("stats", "--days", "7", "--until", "2025-11-23", "--json", check=True).stdout
    j = json.loads(out)
    assert list(j)[:4] == ["from", "until", "reminders", "nights"]
    assert (j["from"], j["until"]) == ("2025-11-17", "2025-11-23")
    spec_keys = ["scheduled", "acknowledged", "skipped", "missed", "adherence", "current_streak",
                 "longest_streak", "median_delay_s", "p90_delay_s", "repeats"]  # fmt: skip
    for r in j["reminders"].values():
        assert list(r)[: len(spec_keys)] == spec_keys
    mg = j["reminders"]["magnesium"]
    # 17 ack (2 min), 18 notified + repeat, never acked: missed; 19 night skipped; 20 skipped;
    # 21 ack (5 min); 22 nothing logged: missed; 23 bedtime moved to 23:00 -> due 22:15 Berlin,
    # acked 22:15 Berlin: 0 s.
    assert {k: mg[k] for k in spec_keys} == {
        "scheduled": 7, "acknowledged": 3, "skipped": 2, "missed": 2, "adherence": 0.6,
        "current_streak": 1, "longest_streak": 1, "median_delay_s": 120.0, "p90_delay_s": 300.0,
        "repeats": 1,
    }  # fmt: skip
    bed = j["reminders"]["bedtime"]
    # 17 acked at 00:05 (95 min after 22:30); 18 dismissed: missed; 19 skipped; 20..23 missed.
    assert (bed["scheduled"], bed["acknowledged"], bed["skipped"], bed["missed"]) == (7, 1, 1, 5)
    assert bed["median_delay_s"] == 95 * 60.0
    assert j["nights"][0] == {
        "night": "2025-11-17",
        "bedtime_planned": "2025-11-17T22:30:00+01:00",
        "bedtime_acknowledged": "2025-11-18T00:05:00+01:00",
        "lights_out": None,  # nothing measured that night
        "active_after_bedtime_s": None,
    }
    assert j["nights"][6]["bedtime_planned"] == "2025-11-23T23:00:00+01:00"
    assert [n["night"] for n in j["nights"]] == [str(n) for n in NIGHTS]


def test_stats_table_and_chart_without_colour(box) -> None:
    proc = box.run("stats", "--days", "7", "--until", "2025-11-23", env={"COLUMNS": "100"}, check=True)
    out = proc.stdout
    assert not ANSI.search(out)
    assert "7 nights, 2025-11-17 .. 2025-11-23 (Europe/Berlin)" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("magnesium", "bedtime"))}
    assert re.search(r"magnesium\s+3/5\s+60%\s+1\s+1\s+2m\s+5m\s+2\s+2\s+1$", out, re.M), out
    # The chart: one character per night, oldest left (spaced under their dates: a short range).
    chart = [line for line in out.splitlines() if re.fullmatch(r"(magnesium|bedtime)(\s+[#+x\-?.]){7}", line)]
    assert ["".join(line.split()[1:]) for line in chart] == ["#x--#x#", "+x-xxxx"]
    assert "# within 15m" in out and "x missed" in out and "- skipped" in out
    assert "Bedtime: | planned, * lights out" in out
    assert rows


def _run_on_pty(box, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI with its stdout on a pseudo-terminal, as in an interactive shell."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sundown", *args],
        env={**box.env, **(env or {})},
        stdout=slave,
        stderr=subprocess.PIPE,
        cwd=box.root,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(master)
    return b"".join(chunks).decode()


def test_stats_colour_only_on_a_terminal_and_never_with_no_color(box) -> None:
    args = ("stats", "--days", "7", "--until", "2025-11-23")
    coloured = _run_on_pty(box, *args, env={"TERM": "xterm-256color"})  # and no NO_COLOR (the sandbox)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured).replace("\r\n", "\n").count("#     x     -     -     #     x     #") == 1
    plain = _run_on_pty(box, *args, env={"NO_COLOR": "1"})
    assert not ANSI.search(plain)
    assert not ANSI.search(_run_on_pty(box, *args, env={"TERM": "dumb"}))


def test_stats_defaults_to_the_current_night(box) -> None:
    j = json.loads(box.run("stats", "--json", check=True).stdout)
    today = datetime.now(UTC).astimezone().date()
    until = date.fromisoformat(j["until"])
    assert abs((until - today).days) <= 1
    assert (until - date.fromisoformat(j["from"])).days == 29  # 30 nights by default


def test_report_writes_a_private_self_contained_page(box, tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    proc = box.run("report", "--html", str(target), "--days", "7", "--until", "2025-11-23", check=True)
    assert "wrote" in proc.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    html = target.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") >= 4
    assert "Magnesium &lt;b&gt;&amp; co&lt;/b&gt;" in html and "<b>& co" not in html
    for needle in ("http:", "https:", "//", "<script", "src=", "href=", "url(", "@import", "<link", "<img"):
        assert needle not in html.lower(), needle


def test_report_takes_the_file_without_html_and_says_what_to_type_without_one(box, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    proc = box.run("report", str(target), "--days", "7", "--until", "2025-11-23")
    assert proc.returncode == 0 and f"wrote {target}" in proc.stderr, proc.stderr
    assert target.read_text().startswith("<!DOCTYPE html>")
    proc = box.run("report")
    assert proc.returncode == 2
    assert "name the HTML file to write: sundown report --html FILE (or sundown report FILE)" in proc.stderr
    assert "the following arguments are required" not in proc.stderr
    proc = box.run("report", "--html", str(target), str(tmp_path / "other.html"))
    assert proc.returncode == 2 and "report writes one file" in proc.stderr


def test_corrupt_log_is_an_error_and_left_untouched(sandbox) -> None:
    sandbox.write_config(CONFIG)
    sandbox.db_path.parent.mkdir(parents=True)
    sandbox.db_path.write_bytes(b"not a database at all\n" * 100)
    before = sandbox.db_path.read_bytes()
    for args in (("log",), ("stats",), ("log", "--format", "jsonl")):
        proc = sandbox.run(*args)
        assert proc.returncode == 1
        assert "not a readable sundown log" in proc.stderr and "Traceback" not in proc.stderr
    assert sandbox.db_path.read_bytes() == before


def test_log_into_a_closed_pipe_exits_quietly(box) -> None:
    with EventLog(box.db_path) as log:
        for k in range(3000):
            log.record("notified", NIGHTS[0], "magnesium", "daemon", {"k": k}, ts=utc(17, 20, 45))
    proc = box.popen("log", "--format", "jsonl", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=30) == 0
    assert "Traceback" not in err and "Broken pipe" not in err


def test_multi_year_log_through_the_cli(sandbox, tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_stats", Path(__file__).parent.parent / "bench" / "bench_stats.py"
    )
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    sandbox.write_config(bench.CONFIG)
    bench.generate(sandbox.db_path, date(2022, 1, 1), 4 * 365)
    until = date(2022, 1, 1) + timedelta(days=4 * 365 - 1)
    j = json.loads(
        sandbox.run("stats", "--days", str(4 * 365), "--until", str(until), "--json", check=True).stdout
    )
    assert set(j["reminders"]) == {"wind-down", "magnesium", "screens-off", "journal", "teeth", "bedtime"}
    assert len(j["nights"]) == 4 * 365
    target = tmp_path / "r.html"
    sandbox.run("report", "--html", str(target), "--days", str(4 * 365), "--until", str(until), check=True)
    assert target.read_text().count("<svg") >= 8
    lines = sandbox.run("log", "--format", "jsonl", "--since", "2023-06-01", "--until", "2023-06-01").stdout
    assert lines and all(json.loads(x)["night"] == "2023-06-01" for x in lines.splitlines())
