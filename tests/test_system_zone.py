"""The system's zone when /etc/localtime is not a plain link: a copy is matched to its zone by
its bytes, a broken file means UTC and `status` and `doctor` say so (docs/time.md, "The
system's zone"). Fake /etc/localtime files through SUNDOWN_LOCALTIME; no process started."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sundown import doctor
from sundown.cli import main
from sundown.config import read_system_zone
from sundown.config.zone import zone_named_by_contents
from sundown.paths import resolve_paths
from support.in_process import in_process_daemon
from support.sandbox import FakeClock, Sandbox

ZONEINFO = Path("/usr/share/zoneinfo")
UTC = timezone.utc


@pytest.fixture(autouse=True)
def _fresh_matches() -> None:
    zone_named_by_contents.cache_clear()


def copy_of(tmp_path: Path, name: str, as_name: str = "localtime") -> Path:
    path = tmp_path / as_name
    path.write_bytes((ZONEINFO / name).read_bytes())
    return path


def test_a_link_names_its_zone_with_nothing_to_say(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to(ZONEINFO / "Asia/Kolkata")
    found = read_system_zone({}, link)
    assert (found.zone.key, found.source, found.problem, found.remark) == (
        "Asia/Kolkata",
        str(link),
        None,
        None,
    )


@pytest.mark.parametrize("name", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_a_copy_is_matched_to_its_zone_by_its_bytes(tmp_path: Path, name: str) -> None:
    found = read_system_zone({}, copy_of(tmp_path, name))
    assert found.zone.key == name and found.problem is None and found.matched
    assert found.remark == f"{tmp_path / 'localtime'}, a copy of {name} (matched by its contents)"


def test_a_copy_of_an_alias_gets_the_zones_own_name(tmp_path: Path) -> None:
    # US/Eastern is a link to America/New_York: the copy is named by the zone, not the alias.
    assert read_system_zone({}, copy_of(tmp_path, "US/Eastern")).zone.key == "America/New_York"


def test_of_names_sharing_one_file_the_listed_zone_wins_never_posix_or_right(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tree where the aliases are hard links (as some distributions ship it), with posix/ and
    right/ copies: the name zone1970.tab lists wins over a shorter alias."""
    root = tmp_path / "zoneinfo"
    data = (ZONEINFO / "America/New_York").read_bytes()
    for name in ("America/New_York", "posix/America/New_York", "right/America/New_York"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    for alias in ("US/Eastern", "EST5EDT"):
        (root / alias).parent.mkdir(parents=True, exist_ok=True)
        os.link(root / "America/New_York", root / alias)
    monkeypatch.setattr("zoneinfo.TZPATH", (str(root),))
    assert zone_named_by_contents(data) == "US/Eastern"  # no table to tell: the shortest Area/City name
    zone_named_by_contents.cache_clear()
    (root / "zone1970.tab").write_text(
        "#codes\tcoordinates\tTZ\nUS\t+404251-0740023\tAmerica/New_York\tEastern\n"
    )
    assert zone_named_by_contents(data) == "America/New_York"
    zone_named_by_contents.cache_clear()
    (root / "zone1970.tab").unlink()
    (root / "tzdata.zi").write_text(
        "Z America/New_York -4:56:2 - LMT 1883 N 18 17u\nL America/New_York US/Eastern\n"
    )
    assert zone_named_by_contents(data) == "America/New_York"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (
            lambda p: p.symlink_to(ZONEINFO / "Mars/Olympus_Mons"),
            "is a dangling link to /usr/share/zoneinfo/Mars",
        ),
        (lambda p: p.symlink_to(p.parent / "gone"), "is a dangling link to"),
        (lambda p: p.write_bytes(b"Europe/Berlin\n"), "a copy, is not a time zone file"),
        (lambda p: p.write_bytes(b""), "a copy, is not a time zone file"),
        (
            lambda p: p.write_bytes((ZONEINFO / "Europe/Berlin").read_bytes()[:200]),
            "is not a readable time zone file",
        ),
        (lambda p: None, "there is no"),
    ],
    ids=["dangling-zone", "dangling", "text", "empty", "truncated", "missing"],
)
def test_a_broken_localtime_means_utc_and_says_why(tmp_path: Path, make, says: str) -> None:
    path = tmp_path / "localtime"
    make(path)
    found = read_system_zone({}, path)
    assert found.zone.key == "UTC"
    assert found.problem is not None and says in found.problem and "sundown plans in UTC" in found.problem
    assert found.fix is not None and "timedatectl set-timezone" in found.fix


def test_a_copy_matching_no_zone_is_read_for_its_rules_and_said(tmp_path: Path) -> None:
    # An old copy: Berlin's rules, bytes no file of today's zone data has.
    data = bytearray((ZONEINFO / "Europe/Berlin").read_bytes())
    data[60] ^= 1  # a transition of 1893
    path = tmp_path / "localtime"
    path.write_bytes(bytes(data))
    found = read_system_zone({}, path)
    assert found.zone.key is None
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert found.zone.utcoffset(summer.astimezone(found.zone).replace(tzinfo=None)) == timedelta(hours=2)
    assert found.problem is not None and "matches no zone" in found.problem


def test_a_tz_that_names_no_zone_is_said_too(tmp_path: Path) -> None:
    found = read_system_zone({"TZ": "CET-1CEST"}, copy_of(tmp_path, "Asia/Tokyo"))
    assert found.zone.key == "Asia/Tokyo"
    assert found.problem is not None and 'TZ="CET-1CEST" names no time zone' in found.problem


def test_matching_a_copy_is_done_once_and_cheap(tmp_path: Path) -> None:
    path = copy_of(tmp_path, "Europe/Berlin")
    started = time.perf_counter()
    read_system_zone({}, path)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        read_system_zone({}, path)
    again = (time.perf_counter() - started) / 100
    assert zone_named_by_contents.cache_info().misses == 1
    assert first < 0.5 and again < 0.005, (first, again)


# --- what status and doctor say ------------------------------------------------------------------


@pytest.fixture
def broken(sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A dangling /etc/localtime for this process (SUNDOWN_LOCALTIME, TZ unset) and a routine."""
    sandbox.write_config('[bedtime]\ndefault = "22:30"\n[reminders.tea]\nbefore = "45m"\n')
    link = tmp_path / "etc-localtime"
    link.symlink_to(ZONEINFO / "Europe/Nowhere")
    monkeypatch.setenv("SUNDOWN_LOCALTIME", str(link))
    monkeypatch.delenv("TZ")
    return link


def test_status_says_a_broken_localtime_means_utc(broken: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the problem block is wrapped at 80 columns
    assert f"problem: the system's time zone: {broken} is a dangling link to" in out
    assert "sundown plans in UTC; fix: `sudo timedatectl set-timezone Area/City`" in out
    assert main(["status", "--json"]) == 0
    assert "warning: the system's time zone:" in capsys.readouterr().err


def test_the_daemons_status_names_the_zones_source_and_its_problem(broken: Path) -> None:
    daemon = in_process_daemon(FakeClock(datetime.now(UTC)), env=dict(os.environ))
    try:
        status = daemon.status()
    finally:
        daemon.stop()
    assert status["context"]["zone"] == "UTC"
    assert status["sources"]["zone"].startswith("system zone")
    assert f"{broken} is a dangling link to" in status["sources"]["zone"]


def test_doctor_warns_about_a_broken_localtime(broken: Path) -> None:
    check = doctor._check_zone(resolve_paths(), [])
    assert check.status == doctor.WARN
    assert check.detail.startswith("UTC, the system's:") and "dangling link" in check.detail
    assert check.fix is not None and "timedatectl" in check.fix


def test_doctor_says_a_copy_was_named_by_its_contents(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.write_config('[bedtime]\ndefault = "22:30"\n')
    monkeypatch.setenv("SUNDOWN_LOCALTIME", str(copy_of(tmp_path, "Europe/Berlin")))
    monkeypatch.delenv("TZ")
    check = doctor._check_zone(resolve_paths(), [])
    assert check.status == doctor.OK
    assert (
        check.detail.startswith("Europe/Berlin, the system's (") and "a copy of Europe/Berlin" in check.detail
    )


def test_a_replaced_copy_is_followed_and_a_broken_one_said(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon reads the file again when it changes: a new copy is a trip, a broken one UTC."""
    sandbox.write_config('[bedtime]\ndefault = "22:30"\n')
    path = copy_of(tmp_path, "Europe/Berlin")
    monkeypatch.setenv("SUNDOWN_LOCALTIME", str(path))
    monkeypatch.delenv("TZ")
    daemon = in_process_daemon(FakeClock(datetime.now(UTC)), env=dict(os.environ))
    try:
        assert daemon.loaded.zone.key == "Europe/Berlin"
        copy_of(tmp_path, "America/New_York", "new").rename(path)
        daemon.travel.follow(None)  # what the watch on the file does
        assert daemon.status()["context"]["zone"] == "America/New_York"
        assert "a copy of America/New_York" in daemon.status()["sources"]["zone"]
        path.write_bytes(b"not a zone")
        daemon.travel.follow(None)
        assert daemon.status()["context"]["zone"] == "UTC"
        assert "is not a time zone file" in daemon.status()["sources"]["zone"]
    finally:
        daemon.stop()
