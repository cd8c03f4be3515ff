"""The daemon as a process with a calendar: an edit of the .ics moves tonight's reminders within 2 s
(none sent twice, none lost), and a calendar server that hangs never delays a reminder.

The routine's zone is chosen so that it is about 21:00 there now (a fixed-offset Etc/GMT zone),
so "tomorrow morning" is a few hours away whatever the hour the tests run at.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from support.calendar_server import CalendarServer
from support.daemon import start, stop, wait_events
from support.desktop import wait_until
from support.in_process import CHILD_DAEMON
from support.sandbox import Sandbox

pytestmark = pytest.mark.e2e
pytest.importorskip("icalendar")

UTC = timezone.utc


def evening_zone(now: datetime) -> tuple[str, timedelta]:
    """An Etc/GMT zone in which `now` is between 20:30 and 21:30 (its name, its offset)."""
    hours = ((21 - now.hour + 12) % 24) - 12  # -12..+11
    name = "Etc/GMT" if hours == 0 else f"Etc/GMT{-hours:+d}"  # POSIX: Etc/GMT-3 is UTC+3
    return name, timedelta(hours=hours)


def ics(*events: tuple[str, datetime]) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:{i}@test\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\nSUMMARY:{title}\r\nEND:VEVENT\r\n"
        for i, (title, start) in enumerate(events)
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n"


def config(zone: str, ics_path_or_url: str) -> str:
    # Bedtime 23:30 by the routine; `prepare` 0 and 8h of sleep: an event at T + 8h is a bedtime at T.
    return (
        f'timezone = "{zone}"\n\n[bedtime]\ndefault = "23:30"\n\n'
        f'[calendar]\nics = "{ics_path_or_url}"\nprepare = "0m"\n\n'
        '[reminders.tea]\nbefore = "4s"\n\n[reminders.bedtime]\nbefore = "0m"\n'
    )


def test_a_calendar_edit_moves_tonights_reminders(sandbox: Sandbox) -> None:
    now = datetime.now(UTC)
    zone, _ = evening_zone(now)
    cal = sandbox.root / "work.ics"
    cal.write_text(ics(("Late start", now + timedelta(hours=12))))  # after the routine's wake: no effect
    sandbox.write_config(config(zone, str(cal)))
    proc = start(sandbox, "--backend", "console")
    try:
        wait_until(lambda: ((sandbox.ask("status") or {}).get("calendar") or {}).get("read_at"), 10, "a read")
        assert sandbox.ask("status")["bedtime_source"] == "routine"  # type: ignore[index]

        # The edit: a flight 8h and 9 s from now, so bedtime in 9 s and the tea in 5 s.
        edited = datetime.now(UTC)
        flight = (edited + timedelta(hours=8, seconds=9)).replace(microsecond=0)
        tmp = cal.with_name(".work.ics.tmp")
        tmp.write_text(ics(("Late start", now + timedelta(hours=12)), ("Flight", flight)))
        tmp.replace(cal)  # as editors and sync tools save
        # Within 2 s of the save (2.5 s: the poll's own slack on a loaded machine).
        wait_until(
            lambda: (sandbox.ask("status") or {}).get("bedtime_source") == "calendar", 2.5, "the replan"
        )

        rows = wait_events(sandbox, "notified", 2, timeout=20, what="tea and bedtime")
        assert sorted(r["reminder"] for r in rows) == ["bedtime", "tea"]  # each once
        by_id = {r["reminder"]: r for r in rows}
        bedtime = flight - timedelta(hours=8)
        assert datetime.fromisoformat(by_id["bedtime"]["details"]["at"]) == bedtime
        assert datetime.fromisoformat(by_id["tea"]["details"]["at"]) == bedtime - timedelta(seconds=4)
        assert by_id["tea"]["details"]["why"].startswith("Tomorrow starts ")
        assert "(Flight): bedtime" in by_id["tea"]["details"]["why"]
        [replanned] = wait_events(sandbox, "replanned")
        assert replanned["details"]["event"] == "Flight" and replanned["details"]["source"] == "calendar"
        sandbox.refresh()
        assert sandbox.logged("notified") == 2 and sandbox.logged("missed") == 0
    finally:
        out, err = stop(proc)
    assert "Traceback" not in err
    assert out.count("Tomorrow starts") == 1  # said at the night's first reminder only


def test_a_hanging_calendar_server_never_delays_a_reminder(sandbox: Sandbox) -> None:
    server = CalendarServer(b"")
    server.release.clear()  # every GET hangs
    try:
        now = datetime.now(UTC)
        zone, offset = evening_zone(now)
        # No calendar read: the routine's 23:30, and the tea set `before` it to come 4 s from now.
        local_now = (now + offset).replace(tzinfo=None)
        bedtime = local_now.replace(hour=23, minute=30, second=0, microsecond=0)
        before = int((bedtime - (local_now + timedelta(seconds=4))).total_seconds())
        due = now + timedelta(seconds=4)  # to within the second `before` was rounded down by
        text = config(zone, server.url).replace('before = "4s"', f'before = "{before}s"')
        sandbox.write_config(text)
        proc = start(sandbox, "--backend", "console")
        try:
            wait_until(lambda: server.gets() >= 1, 10, "the calendar fetch")
            [row] = wait_events(sandbox, "notified", 1, timeout=15, what="the tea")
            sent = datetime.fromisoformat(row["ts"])
            assert sent - due < timedelta(seconds=3)
            status = sandbox.ask("status") or {}
            assert status.get("calendar", {}).get("read_at") is None  # still waiting on the server
        finally:
            _, err = stop(proc)
        assert "Traceback" not in err
    finally:
        server.close()


def test_neither_the_cli_nor_the_daemon_imports_the_calendar_libraries(sandbox: Sandbox) -> None:
    """Only the parser child loads icalendar: `next`, `check` and the daemon's own process never do."""
    import json

    cal = sandbox.root / "work.ics"
    cal.write_text(ics(("Flight", datetime.now(UTC) + timedelta(hours=10))))
    sandbox.write_config(config("Europe/Berlin", str(cal)))
    code = (
        "import sys, json, time\n"
        "from sundown.cli import main\n"
        "main(['next', '--count', '2']); main(['check'])\n"
        f"{CHILD_DAEMON}"
        "d.morning.start()\n"
        "deadline = time.monotonic() + 15\n"
        "while d.morning.calendar.view().read_at is None and time.monotonic() < deadline: time.sleep(0.05)\n"
        "read = d.morning.calendar.view().read_at is not None\n"
        "d.tick(); d.stop()\n"
        "libs = ('icalendar', 'recurring_ical_events', 'x_wr_timezone', 'dateutil')\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in libs)\n"
        "print(json.dumps([read, found]), file=sys.stderr)\n"
    )
    proc = sandbox.python(code, timeout=60)
    read, loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    assert read, proc.stderr
    assert loaded == [], f"imported {loaded}"


def test_the_phones_alarm_through_the_webhook_topic_moves_tonight_earlier(sandbox: Sandbox) -> None:
    """Sleep as Android's `alarm_rescheduled`, posted to the webhook topic of a local ntfy server,
    makes tonight's bedtime the alarm less 8h; a later alarm puts the routine's bedtime back."""
    import json

    from support.answers import secret_line
    from support.ntfy_server import NtfyServer

    server = NtfyServer()
    try:
        now = datetime.now(UTC)
        zone, offset = evening_zone(now)
        local_now = (now + offset).replace(tzinfo=None)
        tomorrow = local_now.date() + timedelta(days=1)
        sandbox.write_config(
            f'timezone = "{zone}"\n\n[bedtime]\ndefault = "23:30"\n\n'
            '[reminders.bedtime]\nbefore = "0m"\n\n'
            f'[push]\nntfy = "{server.url}/evening-e2e-morning"\nwebhook_topic = "evening-e2e-wake"\n'
            + secret_line()
        )
        proc = start(sandbox, "--backend", "console")
        try:
            wait_until(
                lambda: ((sandbox.ask("status") or {}).get("push") or {}).get("connected"), 10, "the stream"
            )
            # 06:00 tomorrow, local: bedtime 22:00 tonight (8h before), earlier than the routine's 23:30.
            alarm = datetime.combine(tomorrow, datetime.min.time()).replace(hour=6) - offset
            ms = int(alarm.replace(tzinfo=UTC).timestamp() * 1000)
            payload = {"event": "alarm_rescheduled", "value1": str(ms), "value2": "Work"}
            server.publish("evening-e2e-wake", json.dumps(payload))
            wait_until(
                lambda: (sandbox.ask("status") or {}).get("bedtime_source") == "alarm", 5, "the replan"
            )
            status = sandbox.ask("status") or {}
            assert status["why"] == "Alarm at 06:00 tomorrow: bedtime 22:00"
            [changed] = wait_events(sandbox, "bedtime_changed")
            assert changed["source"] == "phone" and changed["details"]["alarm"]
            # The alarm moved to 09:00: later than the routine, so 23:30 again.
            later = int((alarm + timedelta(hours=3)).replace(tzinfo=UTC).timestamp() * 1000)
            server.publish(
                "evening-e2e-wake", json.dumps({"event": "alarm_rescheduled", "value1": str(later)})
            )
            wait_until(lambda: (sandbox.ask("status") or {}).get("bedtime_source") == "routine", 5, "back")
            assert sandbox.logged("acknowledged") == 0  # a webhook never acknowledges anything
        finally:
            _, err = stop(proc)
        assert "Traceback" not in err
    finally:
        server.close()
