"""The nights `stats` keeps between runs (reports/night_cache.py): the same output byte for byte,
cold, warm and without the cache; only changed nights reckoned again; any other file ignored."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import zlib
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sundown.core.routine import Routine
from sundown.paths import resolve_paths
from sundown.reports import night_cache, report, stats
from sundown.reports.terminal import render_stats
from sundown.store.log import EventLog
from support.routines import STATS
from support.scripts import load_script

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
FIRST = date(2024, 1, 1)
NIGHTS = 400  # a year and more: both DST changes, a new year
UNTIL = FIRST + timedelta(days=NIGHTS - 1)
LATER = datetime(2026, 12, 1, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Routine]:
    """A year and more of every event kind and the evening's spans (the benchmark's generator)."""
    bench = load_script("bench/bench_stats.py")
    db = tmp_path_factory.mktemp("log") / "sundown.db"
    bench.generate(db, FIRST, NIGHTS)
    return db, bench.routine()


@pytest.fixture
def db(generated: tuple[Path, Routine], tmp_path: Path) -> Path:
    """A copy of the generated log for one test to change."""
    copy = tmp_path / "sundown.db"
    with sqlite3.connect(generated[0]) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    src.close()
    dst.close()
    return copy


def outputs(result: stats.Stats) -> tuple[str, list[str], str]:
    """What a person gets: `stats --json`, `stats`, `report --html`."""
    return (
        json.dumps(result.to_json()),
        render_stats(result, BERLIN, 100, False),
        report.render(result, BERLIN, generated=LATER),
    )


def run(db: Path, routine: Routine, cache: Path | None, now: datetime = LATER, until: date = UNTIL,
        days: int = NIGHTS) -> tuple[stats.Stats, frozenset[date]]:  # fmt: skip
    with EventLog(db) as log:
        return night_cache.cached_stats(log, routine, BERLIN, until, days, now, cache)


def test_cold_warm_and_uncached_give_the_same_output_byte_for_byte(
    generated: tuple[Path, Routine], tmp_path: Path
) -> None:
    db, routine = generated
    cache = tmp_path / "cache" / "stats-nights.json"
    with EventLog(db) as log:
        plain = outputs(stats.from_log(log, routine, BERLIN, UNTIL, NIGHTS, LATER))
    cold, reckoned = run(db, routine, cache)
    assert len(reckoned) == NIGHTS
    assert outputs(cold) == plain
    warm, reckoned = run(db, routine, cache)
    assert reckoned == frozenset()  # every night settled and kept
    assert outputs(warm) == plain
    # Another window of the same log: the nights it shares are kept, the others added.
    month, reckoned = run(db, routine, cache, until=date(2024, 6, 30), days=30)
    assert reckoned == frozenset()
    with EventLog(db) as log:
        assert outputs(month) == outputs(stats.from_log(log, routine, BERLIN, date(2024, 6, 30), 30, LATER))


def test_the_file_is_private_in_a_private_directory(generated: tuple[Path, Routine], tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "sundown" / "stats-nights.json"
    umask = os.umask(0o022)  # a permissive umask: the modes are sundown's own
    try:
        run(generated[0], generated[1], cache)
    finally:
        os.umask(umask)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.parent.stat().st_mode) == 0o700


def test_the_cache_lives_in_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert resolve_paths().stats_cache == tmp_path / "c" / "sundown" / "stats-nights.json"


def test_a_new_row_in_an_old_night_reckons_that_night_alone_again(db: Path, generated, tmp_path) -> None:
    routine = generated[1]
    cache = tmp_path / "stats-nights.json"
    run(db, routine, cache)
    old = FIRST + timedelta(days=100)
    at = datetime(2024, 4, 10, 21, tzinfo=UTC)
    with EventLog(db) as log:
        log.record("acknowledged", old, "gone", "cli", {"backfilled": True}, ts=at)
        plain = stats.from_log(log, routine, BERLIN, UNTIL, NIGHTS, LATER)
    got, reckoned = run(db, routine, cache)
    assert reckoned == {old}
    assert outputs(got) == outputs(plain)
    assert "gone" in got.reminders  # the new row counts
    assert run(db, routine, cache)[1] == frozenset()  # and is kept


def test_tonight_is_reckoned_each_time_until_it_is_over(db: Path, generated, tmp_path) -> None:
    routine = generated[1]
    cache = tmp_path / "stats-nights.json"
    evening = datetime.combine(UNTIL, time(20, 0), BERLIN).astimezone(UTC)  # reminders still ahead
    run(db, routine, cache, now=evening)
    got, reckoned = run(db, routine, cache, now=evening)
    assert reckoned == {UNTIL}
    with EventLog(db) as log:
        assert outputs(got) == outputs(stats.from_log(log, routine, BERLIN, UNTIL, NIGHTS, evening))
    assert run(db, routine, cache)[1] == {UNTIL}  # over now: reckoned once more, then kept
    assert run(db, routine, cache)[1] == frozenset()


def test_a_clock_set_back_uses_nothing_kept(db: Path, generated, tmp_path) -> None:
    routine = generated[1]
    cache = tmp_path / "stats-nights.json"
    run(db, routine, cache)  # every night settled at LATER
    evening = datetime.combine(UNTIL, time(20, 0), BERLIN).astimezone(UTC)
    got, reckoned = run(db, routine, cache, now=evening)
    assert len(reckoned) == NIGHTS
    with EventLog(db) as log:
        assert outputs(got) == outputs(stats.from_log(log, routine, BERLIN, UNTIL, NIGHTS, evening))


@pytest.mark.parametrize(
    "change",
    [
        lambda r: replace(r, reminders=(replace(r.reminders[0], before=70 * MINUTE), *r.reminders[1:])),
        lambda r: replace(r, bedtime=replace(r.bedtime, by_weekday=(time(23, 0),) * 7)),
        lambda r: replace(r, skip_dates=frozenset({FIRST + timedelta(days=3)})),
        lambda r: replace(r, reminders=r.reminders[:-1]),
    ],
    ids=["a reminder's time", "the bedtime", "skip.dates", "a reminder removed"],
)
def test_a_config_change_reckons_every_night_again(db: Path, generated, tmp_path, change) -> None:
    routine = generated[1]
    cache = tmp_path / "stats-nights.json"
    run(db, routine, cache)
    changed = change(routine)
    got, reckoned = run(db, changed, cache)
    assert len(reckoned) == NIGHTS
    with EventLog(db) as log:
        assert outputs(got) == outputs(stats.from_log(log, changed, BERLIN, UNTIL, NIGHTS, LATER))


def test_another_zone_reckons_every_night_again(db: Path, generated, tmp_path) -> None:
    routine = generated[1]
    cache = tmp_path / "stats-nights.json"
    run(db, routine, cache)
    tokyo = ZoneInfo("Asia/Tokyo")
    with EventLog(db) as log:
        got, reckoned = night_cache.cached_stats(log, routine, tokyo, UNTIL, NIGHTS, LATER, cache)
        plain = stats.from_log(log, routine, tokyo, UNTIL, NIGHTS, LATER)
    assert len(reckoned) == NIGHTS
    assert got.to_json() == plain.to_json()


def test_another_log_or_rows_changed_by_hand_reckon_every_night_again(db: Path, generated, tmp_path) -> None:
    routine = generated[1]
    cache = tmp_path / "stats-nights.json"
    run(db, routine, cache)
    # The last row deleted and another written in its place: same id, another night.
    conn = sqlite3.connect(db)
    with conn:
        (last,) = conn.execute("SELECT MAX(id) FROM events").fetchone()
        conn.execute("DELETE FROM events WHERE id = ?", (last,))
    conn.close()
    with EventLog(db) as log:
        log.record("skipped", FIRST + timedelta(days=5), None, "cli", ts=datetime(2024, 1, 6, 12, tzinfo=UTC))
        plain = stats.from_log(log, routine, BERLIN, UNTIL, NIGHTS, LATER)
    got, reckoned = run(db, routine, cache)
    assert len(reckoned) == NIGHTS
    assert outputs(got) == outputs(plain)
    # Another log at the same path (its creation differs): nothing kept is used.
    other = tmp_path / "other.db"
    load_script("bench/bench_stats.py").generate(other, FIRST, NIGHTS, seed=2)
    os.replace(other, db)
    got, reckoned = run(db, routine, cache)
    assert len(reckoned) == NIGHTS
    with EventLog(db) as log:
        assert outputs(got) == outputs(stats.from_log(log, routine, BERLIN, UNTIL, NIGHTS, LATER))


def _rewritten(cache: Path, change) -> bytes:  # type: ignore[no-untyped-def]
    """The cache file with its JSON changed by `change`, the checksum made right again."""
    head, _, body = cache.read_bytes().partition(b"\n")
    content = json.loads(body)
    change(content)
    body = json.dumps(content).encode()
    return b"%s %s %d\n%s" % (*head.split(b" ")[:2], zlib.crc32(body), body)


def _night(content: dict, k: int = 10) -> list:  # type: ignore[type-arg]
    return content["nights"][(FIRST + timedelta(days=k)).isoformat()]


HOSTILE = {
    "garbage": lambda cache: os.urandom(4096),
    "empty": lambda cache: b"",
    "truncated": lambda cache: cache.read_bytes()[: cache.stat().st_size // 2],
    "another format": lambda cache: cache.read_bytes().replace(b" 1 ", b" 99 ", 1),
    "a byte changed": lambda cache: cache.read_bytes().replace(b'"missed"', b'"mixed"', 1),
    "not an object": lambda cache: _rewritten(cache, lambda c: c.clear() or c.update(nights=[1, 2])),
    "deep nesting": lambda cache: b"sundown-stats-nights 1 %d\n%s" % (
        zlib.crc32(b"[" * 100_000), b"[" * 100_000),
    "a huge number": lambda cache: b"sundown-stats-nights 1 %d\n%s" % (
        zlib.crc32(b"1" * 10_000), b"1" * 10_000),
    "an instant a string": lambda cache: _rewritten(cache, lambda c: _night(c)[2].__setitem__(0, "22:30")),
    "an instant out of range": lambda cache: _rewritten(cache, lambda c: _night(c)[2].__setitem__(0, 10**30)),
    "an infinite delay": lambda cache: _rewritten(
        cache, lambda c: _night(c)[3].__setitem__("journal", 1e400)),
    "a count a bool": lambda cache: _rewritten(cache, lambda c: _night(c)[4].__setitem__("journal", True)),
    "an unknown status": lambda cache: _rewritten(cache, lambda c: _night(c)[3].__setitem__("teeth", "x")),
    "a night a number": lambda cache: _rewritten(cache, lambda c: c["nights"].update({FIRST.isoformat(): 7})),
    "the last row a string": lambda cache: _rewritten(cache, lambda c: c.__setitem__("top", "x")),
    "the last row huge": lambda cache: _rewritten(cache, lambda c: c["top"].__setitem__(0, 10**30)),
}  # fmt: skip


@pytest.mark.parametrize("hostile", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_corrupt_or_hostile_file_is_ignored_and_written_again(generated, tmp_path, hostile) -> None:  # type: ignore[no-untyped-def]
    db, routine = generated
    cache = tmp_path / "stats-nights.json"
    plain, _ = run(db, routine, None)
    run(db, routine, cache)
    cache.write_bytes(hostile(cache))
    got, reckoned = run(db, routine, cache)
    assert reckoned  # at least the night it spoiled
    assert outputs(got) == outputs(plain)
    assert run(db, routine, cache)[1] == frozenset()  # written again, whole


def test_a_symlink_or_a_fifo_is_not_read(generated, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, routine = generated
    elsewhere = tmp_path / "elsewhere.json"
    run(db, routine, elsewhere)
    cache = tmp_path / "stats-nights.json"
    cache.symlink_to(elsewhere)
    before = elsewhere.read_bytes()
    got, reckoned = run(db, routine, cache)
    assert len(reckoned) == NIGHTS  # not read through the link
    assert not cache.is_symlink() and elsewhere.read_bytes() == before  # replaced, not written through
    cache.unlink()
    os.mkfifo(cache)
    got, reckoned = run(db, routine, cache)  # neither blocks nor fails
    assert len(reckoned) == NIGHTS


def test_a_cache_that_cannot_be_written_costs_only_time(generated, tmp_path) -> None:  # type: ignore[no-untyped-def]
    db, routine = generated
    (tmp_path / "file").write_text("")
    plain, _ = run(db, routine, None)
    got, reckoned = run(db, routine, tmp_path / "file" / "sundown" / "stats-nights.json")
    assert outputs(got) == outputs(plain)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    got, _ = run(db, routine, locked / "sundown" / "stats-nights.json")
    assert outputs(got) == outputs(plain)


def test_the_cli_keeps_the_nights_in_the_cache_directory(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`stats --json` in this process, as a person runs it: $XDG_CACHE_HOME/sundown holds the nights."""
    import gc

    from sundown.cli import main

    state = Path(os.environ["XDG_STATE_HOME"]) / "sundown"
    state.mkdir(mode=0o700)
    os.replace(db, state / "sundown.db")
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "sundown" / "config.toml"
    config.parent.mkdir(mode=0o700)
    config.write_text(load_script("bench/bench_stats.py").CONFIG)
    config.chmod(0o600)
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "sundown" / "stats-nights.json"
    argv = ["stats", "--json", "--days", str(NIGHTS), "--until", UNTIL.isoformat()]
    printed = []
    try:
        for _ in range(2):  # cold, then warm
            assert main(argv) == 0
            printed.append(capsys.readouterr().out)
            assert stat.S_IMODE(cache.stat().st_mode) == 0o600
        cache.unlink()  # deleted: made again
        assert main(argv) == 0
        printed.append(capsys.readouterr().out)
        assert cache.exists()
    finally:
        gc.enable()  # `stats` turns the cycle collector off for the rest of its (short) process
    assert printed[0] == printed[1] == printed[2]
    assert json.loads(printed[0])["from"] == FIRST.isoformat()


# --- any log, changed step by step ----------------------------------------------------------------

STEP = st.tuples(
    st.integers(0, 5),  # night
    st.sampled_from(
        [
            "notified",
            "acknowledged",
            "snoozed",
            "missed",
            "skipped",
            "unskipped",
            "bedtime_changed",
            "activity",
        ]
    ),  # fmt: skip
    st.sampled_from(["magnesium", "bedtime", "screens-off", "gone", None]),
    st.integers(-120, 26 * 60),  # minutes after the night's 12:00 UTC
    st.integers(0, 36 * 60),  # minutes `now` moves on after the row
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(STEP, min_size=1, max_size=12))
def test_any_log_changed_row_by_row_reads_the_same_with_the_cache(tmp_path_factory, steps) -> None:  # type: ignore[no-untyped-def]
    """After each new row (and `now` moving on), the kept nights give what no cache gives."""
    routine = STATS
    root = tmp_path_factory.mktemp("steps")
    cache = root / "stats-nights.json"
    first = date(2026, 11, 16)
    now = datetime(2026, 11, 16, 12, tzinfo=UTC)
    with EventLog(root / "sundown.db") as log:
        for offset, kind, rid, minutes, later in steps:
            night = first + timedelta(days=offset)
            ts = datetime.combine(night, time(12), UTC) + minutes * MINUTE
            details: dict = {}  # type: ignore[type-arg]
            if kind == "notified":
                details = {"repeat": 0, "at": (ts - MINUTE).isoformat()}
            elif kind == "bedtime_changed":
                rid, details = None, {"bedtime": "23:15"}
            elif kind == "activity":
                rid = None
                details = {"state": "locked", "from": (ts - 90 * MINUTE).isoformat(), "to": ts.isoformat()}
            log.record(kind, night, rid, "cli", details, ts=ts)  # type: ignore[arg-type]
            now = max(now, ts) + later * MINUTE
            for days in (6, 3):
                until = first + timedelta(days=5)
                plain = stats.from_log(log, routine, BERLIN, until, days, now)
                kept, _ = night_cache.cached_stats(log, routine, BERLIN, until, days, now, cache)
                assert kept.to_json() == plain.to_json()
                assert [r.cells for r in kept.reminders.values()] == [
                    r.cells for r in plain.reminders.values()
                ]
