"""What a glance shows (status bars, the tray, the D-Bus summary): one line, a tooltip, a state,
and when the line changes by itself (a countdown, once a minute, only in the last hour)."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sundown.cli.follow import Printer, line
from sundown.core.glance import COUNTDOWN, glance

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # 21:00 in Berlin


def status(*rows: tuple[str, str, timedelta, str], running: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "running": running,
        "night": "2026-11-28",
        "tonight": [
            {
                "night": "2026-11-28",
                "reminder": rid,
                "title": title,
                "at": (NOW + at).isoformat(),
                "state": state,
            }
            for rid, title, at, state in rows
        ],
        "context": {"zone": "Europe/Berlin"},
        **extra,
    }


TEA = ("tea", "Tea", timedelta(minutes=-30), "acknowledged")
MAG = ("magnesium", "Magnesium", timedelta(minutes=12, seconds=30), "pending")
LIGHTS = ("bedtime", "Lights out", timedelta(hours=2), "pending")


def test_a_countdown_within_the_hour_changes_on_each_minute() -> None:
    seen = glance(status(TEA, MAG, LIGHTS), NOW, BERLIN)
    assert seen.text == "Magnesium in 13m"
    assert seen.label == "Magnesium at 21:12"  # for what cannot count down (the tray, D-Bus)
    assert seen.classes == ("idle",)
    assert seen.refresh_at == NOW + timedelta(seconds=30)  # then "in 12m"
    assert glance(status(TEA, MAG, LIGHTS), seen.refresh_at, BERLIN).text == "Magnesium in 12m"
    assert seen.percentage == 33  # one of three settled
    assert seen.next_reminder is not None and seen.next_reminder["reminder"] == "magnesium"


def test_further_than_an_hour_the_line_names_the_time_until_the_countdown_starts() -> None:
    seen = glance(status(TEA, LIGHTS), NOW, BERLIN)
    assert seen.text == "Lights out at 23:00"  # Berlin time
    assert seen.refresh_at == NOW + timedelta(hours=2) - COUNTDOWN


@pytest.mark.parametrize(
    "state, text, cls",
    [
        ("notified", "Magnesium: now", "pending"),
        ("dismissed", "Magnesium: now", "pending"),
        ("due", "Magnesium: held back", "deferred"),
        ("deferred", "Magnesium: held back", "deferred"),  # as status now names a held reminder
        ("snoozed", "Magnesium: snoozed", "snoozed"),
    ],
)
def test_a_reminder_that_waits_is_the_line_and_its_class(state: str, text: str, cls: str) -> None:
    past = ("magnesium", "Magnesium", timedelta(minutes=-2), state)
    seen = glance(status(TEA, past, LIGHTS), NOW, BERLIN)
    assert (seen.text, seen.classes, seen.refresh_at) == (text, (cls,), None)


def test_several_waiting_name_the_latest_and_count_the_rest() -> None:
    a = ("tea", "Tea", timedelta(minutes=-30), "notified")
    b = ("magnesium", "Magnesium", timedelta(minutes=-2), "notified")
    assert glance(status(a, b), NOW, BERLIN).text == "Magnesium: now +1"


def test_no_daemon_no_reminders_skipped_and_done() -> None:
    assert glance(status(MAG, running=False), NOW, BERLIN).classes == ("stopped",)
    assert "not running" in glance(status(MAG, running=False), NOW, BERLIN).tooltip
    skipped = [(r, t, a, "skipped") for r, t, a, _ in (MAG, LIGHTS)]
    assert glance(status(*skipped), NOW, BERLIN).text == "tonight is skipped"
    assert glance(status(TEA), NOW, BERLIN).text == "nothing more tonight"
    assert glance(status(), NOW, BERLIN).tooltip.endswith("no reminders tonight")


def test_the_wind_down_adds_its_class_and_says_so() -> None:
    on = {"active": True, "since": NOW.isoformat(), "until": (NOW + timedelta(hours=10)).isoformat()}
    seen = glance(status(TEA, MAG, winddown=on), NOW, BERLIN)
    assert seen.classes == ("idle", "winddown")
    assert seen.text == "wind-down · Magnesium in 13m"
    assert seen.tooltip.endswith("wind-down on until 07:00")
    assert glance(status(TEA, MAG, winddown={"active": False}), NOW, BERLIN).classes == ("idle",)


def test_the_tooltip_lists_tonight_in_local_time() -> None:
    assert glance(status(TEA, MAG), NOW, BERLIN).tooltip.splitlines() == [
        "sundown · tonight (Sat 2026-11-28)",
        "20:30  Tea        acknowledged",
        "21:12  Magnesium  pending",
    ]


def test_waybar_json_escapes_markup_and_carries_every_field() -> None:
    title = ("x", "Tea & <b>cake</b>", timedelta(minutes=-1), "notified")
    text, _ = line(status(title), "waybar", NOW, BERLIN)
    data = json.loads(text)
    assert set(data) == {"text", "alt", "tooltip", "class", "percentage"}
    assert data["text"] == "Tea &amp; &lt;b&gt;cake&lt;/b&gt;: now"
    assert data["class"] == ["pending"] and data["alt"] == "pending" and data["percentage"] == 0
    plain, _ = line(status(title), "text", NOW, BERLIN)
    assert plain == "Tea & <b>cake</b>: now"
    compact, _ = line(status(title), "json", NOW, BERLIN)
    assert "\n" not in compact and json.loads(compact)["tonight"][0]["state"] == "notified"


class _Args:
    config = None


class _Ctx:
    def __init__(self) -> None:
        self.out = io.StringIO()
        self.args = _Args()

    def print(self, text: str) -> None:
        print(text, file=self.out)


def test_the_printer_prints_a_change_once_and_sleeps_until_the_next_minute() -> None:
    ctx = _Ctx()
    printer = Printer(ctx, "text")  # type: ignore[arg-type]
    soon = dict(status(("m", "M", timedelta(minutes=5), "pending")))
    soon["tonight"][0]["at"] = (datetime.now(UTC) + timedelta(minutes=4, seconds=30)).isoformat()
    printer.show(soon)
    printer.show(soon)  # the same snapshot again: no second line
    assert ctx.out.getvalue() == "M in 5m\n"
    timeout = printer.timeout_ms()
    assert timeout is not None and 29_000 <= timeout <= 30_100  # the next minute, not before
    json_printer = Printer(ctx, "json")  # type: ignore[arg-type]
    json_printer.show(soon)
    assert json_printer.timeout_ms() is None  # no countdown shown: nothing to wake up for
