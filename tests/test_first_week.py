"""The first week of a new user: what "tonight" means, nothing missed before the log
existed, re-planned occurrences, one daemon per log, skip/unskip, acknowledgements once,
and `status`, `stats`, `log` and the screen telling one story."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sundown.notify import Backend
from support.in_process import cli, in_process_daemon
from support.sandbox import FakeClock, Sandbox

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)

ROUTINE = """\
timezone = "Europe/Berlin"

[bedtime]
default = "22:30"

[reminders.magnesium]
before = "45m"

[reminders.stretch]
before = "30m"

[reminders.bedtime]
before = "0m"
"""


def local(day: date, hh: int, mm: int) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=BERLIN)


def status(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, now: datetime) -> dict:
    code, out, err = cli(capsys, monkeypatch, now, "status", "--json")
    assert code == 0, err
    return json.loads(out)


def daemon_at(now: datetime):
    return in_process_daemon(FakeClock(now))


def logged(event: str | None = None) -> list[tuple[str, str | None, str]]:
    from sundown.paths import resolve_paths
    from sundown.store.log import EventLog

    with EventLog(resolve_paths().database) as log:
        return [(e.night.isoformat(), e.reminder, e.event) for e in log.events() if event in (None, e.event)]


# -- item 4: one daemon per log -------------------------------------------------------------


@pytest.mark.e2e
def test_a_second_daemon_on_the_same_log_from_another_runtime_dir_is_refused(sandbox: Sandbox):
    sandbox.write_config(ROUTINE)
    first = sandbox.start_daemon("--backend", "console")
    try:
        other = sandbox.root / "other-run"
        other.mkdir(mode=0o700)
        second = sandbox.run("run", "--backend", "console", env={"XDG_RUNTIME_DIR": str(other)}, timeout=20)
        assert second.returncode == 1
        assert f"already running (pid {first.pid})" in second.stderr
        # And a shell without the daemon's runtime dir still sees it running.
        status = json.loads(sandbox.run("status", "--json", env={"XDG_RUNTIME_DIR": str(other)}).stdout)
        assert status["running"] is True and status["pid"] == first.pid
    finally:
        first.terminate()
        first.wait(timeout=10)


# -- item 1: what "tonight" means ---------------------------------------------------------------


def test_in_the_morning_tonight_is_this_evening_not_last_night(sandbox: Sandbox, capsys, monkeypatch):
    sandbox.write_config(ROUTINE)
    morning = local(SATURDAY, 11, 18)
    code, out, _ = cli(capsys, monkeypatch, morning, "check")
    assert code == 0 and "tonight (Sat 2026-11-28): bedtime 22:30" in out
    code, out, _ = cli(capsys, monkeypatch, morning, "tonight", "--bedtime", "23:45")
    assert code == 0 and "tonight (Sat 2026-11-28): bedtime 23:45" in out
    code, out, _ = cli(capsys, monkeypatch, morning, "skip", "stretch")
    assert code == 0 and "skipped Stretch tonight (Sat 2026-11-28)" in out
    assert logged() == [("2026-11-28", None, "bedtime_changed"), ("2026-11-28", "stretch", "skipped")]
    code, out, _ = cli(capsys, monkeypatch, morning, "status", "--json")
    status = json.loads(out)
    assert status["night"] == "2026-11-28"
    assert {r["reminder"]: (r["at"], r["state"]) for r in status["tonight"]} == {
        "magnesium": ("2026-11-28T23:00:00+01:00", "pending"),
        "stretch": ("2026-11-28T23:15:00+01:00", "skipped"),
        "bedtime": ("2026-11-28T23:45:00+01:00", "pending"),
    }
    code, out, _ = cli(capsys, monkeypatch, morning, "status")
    assert "tonight (Sat 2026-11-28):" in out


def test_last_night_stays_tonight_while_its_bedtime_is_ahead_or_a_reminder_is_open(
    sandbox: Sandbox, capsys, monkeypatch
):
    from sundown.paths import resolve_paths
    from sundown.store.log import EventLog

    sandbox.write_config(ROUTINE)

    def night_at(now: datetime) -> str:
        return json.loads(cli(capsys, monkeypatch, now, "status", "--json")[1])["night"]

    assert night_at(local(FRIDAY, 22, 0)) == "2026-11-27"  # before bedtime
    assert night_at(local(FRIDAY, 22, 40)) == "2026-11-28"  # bedtime passed, nothing open
    with EventLog(resolve_paths().database) as log:
        log.record("notified", FRIDAY, "bedtime", "daemon", {"at": local(FRIDAY, 22, 30).isoformat()},
                   ts=local(FRIDAY, 22, 30))  # fmt: skip
        log.record("snoozed", FRIDAY, "bedtime", "cli", {"until": local(FRIDAY, 22, 50).isoformat()},
                   ts=local(FRIDAY, 22, 35))  # fmt: skip
    assert night_at(local(FRIDAY, 22, 40)) == "2026-11-27"  # its snooze is still running
    code, out, _ = cli(capsys, monkeypatch, local(FRIDAY, 22, 40), "ack")
    assert code == 0 and "acknowledged Bedtime (2026-11-27)" in out
    assert night_at(local(FRIDAY, 22, 41)) == "2026-11-28"


# -- item 2: nothing missed before the log existed -----------------------------------------------


def test_the_first_run_logs_nothing_missed_from_before_the_log_existed(sandbox: Sandbox):
    sandbox.write_config(ROUTINE)
    daemon = daemon_at(local(SATURDAY, 11, 18))  # Friday's reminders passed before sundown ran
    daemon.tick()
    daemon.stop()
    assert logged("missed") == []
    # From then on the log exists: a Saturday evening the daemon was not running is missed.
    daemon = daemon_at(local(SATURDAY + timedelta(days=1), 9, 0))
    daemon.tick()
    daemon.stop()
    assert logged("missed") == [
        ("2026-11-28", "magnesium", "missed"),
        ("2026-11-28", "stretch", "missed"),
        ("2026-11-28", "bedtime", "missed"),
    ]


# -- item 3: rows belong to an occurrence -------------------------------------------------------


def test_a_reminder_moved_later_after_its_old_time_was_missed_is_pending_and_sent(
    sandbox: Sandbox, capsys, monkeypatch
):
    sandbox.write_config(ROUTINE)
    daemon = daemon_at(local(FRIDAY, 20, 0))
    daemon.tick()
    daemon.clock.now = local(FRIDAY, 22, 35)  # asleep through bedtime: all three missed
    daemon.tick()
    assert [r for _, r, _ in logged("missed")] == ["magnesium", "stretch", "bedtime"]
    # A later night owl: the same night's reminders move an hour later.
    sandbox.write_config(ROUTINE.replace('default = "22:30"', 'default = "23:30"'))
    assert daemon.reload() == []
    code, out, _ = cli(capsys, monkeypatch, local(FRIDAY, 22, 36), "status", "--json")
    states = {r["reminder"]: r["state"] for r in json.loads(out)["tonight"]}
    assert states == {"magnesium": "pending", "stretch": "pending", "bedtime": "pending"}
    daemon.clock.now = local(FRIDAY, 22, 45)
    daemon.tick()
    daemon.stop()
    assert logged("notified") == [("2026-11-27", "magnesium", "notified")]


# -- item 5: unskip restores what it skipped ---------------------------------------------------


def test_a_whole_night_unskip_keeps_the_single_skip_before_it(sandbox: Sandbox, capsys, monkeypatch):
    sandbox.write_config(ROUTINE)
    evening = local(FRIDAY, 20, 0)
    for args in (("skip", "stretch"), ("skip",)):
        assert cli(capsys, monkeypatch, evening, *args)[0] == 0
    code, out, _ = cli(capsys, monkeypatch, evening, "unskip")
    # It says what it did, not "every reminder": the one skipped on its own stays, and how to undo that.
    assert code == 0 and out.splitlines() == [
        "unskipped every reminder tonight (Fri 2026-11-27) but Stretch",
        "(skipped one by one: `sundown unskip stretch` brings it back)",
    ]
    states = {r["reminder"]: r["state"] for r in status(capsys, monkeypatch, evening)["tonight"]}
    assert states == {"magnesium": "pending", "stretch": "skipped", "bedtime": "pending"}
    # The command it names does what it says.
    assert (
        cli(capsys, monkeypatch, evening, "unskip", "stretch")[1]
        == "unskipped Stretch tonight (Fri 2026-11-27)\n"
    )
    states = {r["reminder"]: r["state"] for r in status(capsys, monkeypatch, evening)["tonight"]}
    assert states == {"magnesium": "pending", "stretch": "pending", "bedtime": "pending"}
    assert (
        cli(capsys, monkeypatch, evening, "unskip")[1]
        == "unskipped every reminder tonight (Fri 2026-11-27)\n"
    )
    # `unskip ID` during a whole-night skip brings back that one.
    for args in (("skip",), ("unskip", "bedtime")):
        assert cli(capsys, monkeypatch, evening, *args)[0] == 0
    states = {r["reminder"]: r["state"] for r in status(capsys, monkeypatch, evening)["tonight"]}
    assert states == {"magnesium": "skipped", "stretch": "skipped", "bedtime": "pending"}


# -- items 11 and 12: acknowledgements once, and one story on the screen and in the log -------


class Screen(Backend):
    """A backend that remembers what is on screen."""

    name = "console"

    def __init__(self) -> None:
        self.shown: dict[str, tuple[str, str]] = {}
        self.withdrawn: list[str] = []

    def send(self, message) -> None:
        self.shown[message.key] = (message.title, message.body)

    def withdraw(self, key: str) -> None:
        self.withdrawn.append(key)
        self.shown.pop(key, None)

    def close(self) -> None:
        pass


def screen_daemon(now: datetime):
    daemon = daemon_at(now)
    daemon.screen.backend = Screen()
    return daemon, daemon.screen.backend


def test_acknowledging_part_of_a_combined_notification_updates_it_and_never_acks_twice(
    sandbox: Sandbox, capsys, monkeypatch
):
    sandbox.write_config(ROUTINE)
    daemon, screen = screen_daemon(local(FRIDAY, 20, 0))
    daemon.tick()
    daemon.clock.now = local(FRIDAY, 22, 10)  # back from a suspend: two came due meanwhile
    daemon.tick()
    late = "2026-11-27/late"
    assert screen.shown[late][0] == "2 reminders came due while away"
    assert cli(capsys, monkeypatch, local(FRIDAY, 22, 11), "ack", "magnesium")[0] == 0
    daemon.tick()  # the CLI's nudge
    assert screen.shown[late] == ("Stretch came due while away", "22:00  Stretch")
    daemon.handle_action(late, "done")  # its Done now acknowledges what it names
    daemon.handle_action(late, "done")  # a second click (or an old notification) changes nothing
    daemon.stop()
    assert late not in daemon.screen.shown  # the server closed it on the click
    assert sorted(logged("acknowledged")) == [("2026-11-27", "magnesium", "acknowledged"),
                                      ("2026-11-27", "stretch", "acknowledged")]  # fmt: skip


def test_a_combined_notification_a_previous_process_showed_is_updated_too(
    sandbox: Sandbox, capsys, monkeypatch
):
    def on_dbus(screen: Screen) -> None:
        screen.name = "dbus"
        screen.shown_as = lambda key: {"key": key, "id": 7}  # type: ignore[attr-defined]

    sandbox.write_config(ROUTINE)
    daemon, screen = screen_daemon(local(FRIDAY, 20, 0))
    on_dbus(screen)
    daemon.tick()
    daemon.clock.now = local(FRIDAY, 22, 10)
    daemon.tick()
    daemon.stop()  # a restart: the notification stays on screen
    again, screen = screen_daemon(local(FRIDAY, 22, 11))
    on_dbus(screen)
    again._take_over_shown()
    assert cli(capsys, monkeypatch, local(FRIDAY, 22, 11), "ack", "stretch")[0] == 0
    again.tick()
    again.stop()
    assert screen.shown["2026-11-27/late"] == ("Magnesium came due while away", "21:45  Magnesium")


def test_status_stats_log_and_the_screen_tell_one_story(sandbox: Sandbox, capsys, monkeypatch):
    sandbox.write_config(ROUTINE)
    daemon, screen = screen_daemon(local(FRIDAY, 21, 45))
    daemon.tick()
    key = "2026-11-27/magnesium"
    assert key in screen.shown
    # A snooze from the command line takes the notification off the screen until it ends.
    assert cli(capsys, monkeypatch, local(FRIDAY, 21, 46), "snooze", "magnesium", "10m")[0] == 0
    daemon.tick()
    assert key not in screen.shown
    daemon.clock.now = local(FRIDAY, 21, 56)
    daemon.tick()
    assert key in screen.shown
    # Closing it without acknowledging shows as dismissed, not as still notified.
    daemon.handle_action(key, "dismissed")
    assert status(capsys, monkeypatch, local(FRIDAY, 21, 57))["tonight"][0]["state"] == "dismissed"
    # A config with errors is shown once; fixing it takes the notice away.
    sandbox.write_config(ROUTINE.replace('"45m"', '"45"'))
    assert daemon.reload()
    notice = "notice/sundown: config has errors"
    assert notice in screen.shown
    sandbox.write_config(ROUTINE)
    assert daemon.reload() == []
    assert notice not in screen.shown
    # Acknowledged, then the whole night skipped: acknowledged everywhere.
    daemon.clock.now = local(FRIDAY, 22, 0)
    daemon.tick()
    assert cli(capsys, monkeypatch, local(FRIDAY, 22, 1), "ack", "stretch")[0] == 0
    assert cli(capsys, monkeypatch, local(FRIDAY, 22, 2), "skip")[0] == 0
    daemon.tick()
    daemon.stop()
    states = {r["reminder"]: r["state"] for r in status(capsys, monkeypatch, local(FRIDAY, 22, 3))["tonight"]}
    assert states == {"magnesium": "skipped", "stretch": "acknowledged", "bedtime": "skipped"}
    code, out, _ = cli(capsys, monkeypatch, local(SATURDAY, 12, 30), "stats", "--json", "--until",
                       "2026-11-27", "--days", "1")  # fmt: skip
    stats = json.loads(out)["reminders"]
    assert (stats["stretch"]["acknowledged"], stats["stretch"]["skipped"]) == (1, 0)
    assert stats["magnesium"]["repeats"] == 0  # the snooze's re-notification is not a repeat
    assert screen.withdrawn.count(key) >= 1


# -- item 8: absurd nights ----------------------------------------------------------------------


def test_nights_before_the_log_or_after_tomorrow_need_force(sandbox: Sandbox, capsys, monkeypatch):
    sandbox.write_config(ROUTINE)
    evening = local(FRIDAY, 20, 0)
    assert cli(capsys, monkeypatch, evening, "skip", "stretch")[0] == 0  # the log's first night: Friday
    for args in (
        ("skip", "--night", "1999-01-01"),
        ("ack", "magnesium", "--night", "9999-12-31"),
        ("unskip", "--night", "2026-11-30"),
        ("ack", "magnesium", "--at", "2026-11-20T21:50"),
    ):
        code, _, err = cli(capsys, monkeypatch, evening, *args)
        assert code == 2, args
        assert "--force" in err
    assert cli(capsys, monkeypatch, evening, "skip", "--night", "2026-11-28")[0] == 0  # tomorrow: fine
    # Stats never reach before the first night the log knows.
    code, out, _ = cli(capsys, monkeypatch, evening, "stats", "--json", "--days", "100000")
    assert json.loads(out)["from"] == "2026-11-27"
    assert cli(capsys, monkeypatch, evening, "skip", "--night", "1999-01-01", "--force")[0] == 0
    assert ("1999-01-01", None, "skipped") in logged()


# -- backfilling with a time of day ------------------------------------------------------------


def test_ack_at_a_time_of_day_is_that_nights_time(sandbox: Sandbox, capsys, monkeypatch):
    """`--night` names the date, so `--at 22:40` needs none; a time before noon is the morning after."""
    from sundown.paths import resolve_paths
    from sundown.store.log import EventLog

    sandbox.write_config(ROUTINE)
    assert cli(capsys, monkeypatch, local(FRIDAY, 20, 0), "skip", "stretch")[0] == 0  # the log begins Friday
    morning = local(SATURDAY, 10, 0)
    code, out, err = cli(
        capsys, monkeypatch, morning, "ack", "magnesium", "--night", "2026-11-27", "--at", "22:40"
    )
    assert (code, out) == (0, "acknowledged Magnesium (2026-11-27) at 22:40\n"), err
    assert (
        cli(capsys, monkeypatch, morning, "ack", "bedtime", "--night", "2026-11-27", "--at", "00:15")[0] == 0
    )
    # Tonight's when --night is left out (here in the evening, 22:10).
    assert cli(capsys, monkeypatch, local(SATURDAY, 22, 10), "ack", "stretch", "--at", "22:05")[0] == 0
    with EventLog(resolve_paths().database) as log:
        acks = {(e.reminder, e.night.isoformat()): e.ts for e in log.events() if e.event == "acknowledged"}
    assert acks == {
        ("magnesium", "2026-11-27"): local(FRIDAY, 22, 40).astimezone(UTC),
        ("bedtime", "2026-11-27"): local(SATURDAY, 0, 15).astimezone(UTC),  # after midnight
        ("stretch", "2026-11-28"): local(SATURDAY, 22, 5).astimezone(UTC),
    }
    # Times it cannot mean say what to write instead; nothing is recorded.
    code, _, err = cli(capsys, monkeypatch, local(SATURDAY, 22, 10), "ack", "magnesium", "--at", "23:50")
    assert code == 2
    assert "--at 23:50 is in the future (tonight's, 2026-11-28); for another night add --night" in err
    code, _, err = cli(
        capsys, monkeypatch, morning, "ack", "magnesium", "--night", "2026-11-27", "--at", "10:40pm"
    )
    assert code == 2 and 'write it on a 24-hour clock: "22:40"' in err
    assert len(logged("acknowledged")) == 3


def test_status_shows_a_hold_with_its_reason_and_end_and_a_snooze_with_its_end(
    sandbox: Sandbox, capsys, monkeypatch
):
    """The log has `deferred reason=dnd until=22:05`: status said `due`; a snooze said no "until"."""
    from sundown.paths import resolve_paths
    from sundown.store.log import EventLog

    sandbox.write_config(ROUTINE)
    with EventLog(resolve_paths().database) as log:
        until = local(FRIDAY, 22, 5).isoformat()
        log.record("deferred", FRIDAY, "magnesium", "daemon", {"reason": "dnd", "until": until},
                   ts=local(FRIDAY, 21, 45))  # fmt: skip
        log.record("notified", FRIDAY, "stretch", "daemon", {"at": local(FRIDAY, 22, 0).isoformat()},
                   ts=local(FRIDAY, 22, 0))  # fmt: skip
        log.record("snoozed", FRIDAY, "stretch", "action", {"until": local(FRIDAY, 22, 10).isoformat()},
                   ts=local(FRIDAY, 22, 1))  # fmt: skip
    now = local(FRIDAY, 22, 2)
    rows = {r["reminder"]: r for r in status(capsys, monkeypatch, now)["tonight"]}
    assert {k: (r["state"], r["until"], r["reason"]) for k, r in rows.items()} == {
        "magnesium": ("deferred", "2026-11-27T22:05:00+01:00", "dnd"),
        "stretch": ("snoozed", "2026-11-27T22:10:00+01:00", None),
        "bedtime": ("pending", None, None),
    }
    code, out, _ = cli(capsys, monkeypatch, now, "status")
    assert code == 0
    assert "  21:45  Magnesium                    deferred (Do Not Disturb) until 22:05" in out.splitlines()
    assert "  22:00  Stretch                      snoozed until 22:10" in out.splitlines()
    # Once its hold is over and it went out, it is notified; acknowledged, it is done.
    with EventLog(resolve_paths().database) as log:
        log.record("notified", FRIDAY, "magnesium", "daemon", {"at": local(FRIDAY, 21, 45).isoformat()},
                   ts=local(FRIDAY, 22, 3))  # fmt: skip
    rows = {r["reminder"]: r for r in status(capsys, monkeypatch, local(FRIDAY, 22, 4))["tonight"]}
    assert (rows["magnesium"]["state"], rows["magnesium"]["until"]) == ("notified", None)


def test_next_leaves_out_what_status_shows_acknowledged_in_advance(sandbox: Sandbox, capsys, monkeypatch):
    sandbox.write_config(ROUTINE)
    evening = local(FRIDAY, 20, 0)
    assert cli(capsys, monkeypatch, evening, "ack", "magnesium")[0] == 0  # before its 21:45
    states = {r["reminder"]: r["state"] for r in status(capsys, monkeypatch, evening)["tonight"]}
    assert states["magnesium"] == "acknowledged"
    code, out, _ = cli(capsys, monkeypatch, evening, "next", "--json", "--count", "3")
    # Before: magnesium at 21:45 first, as if it were still to come.
    assert code == 0 and [(i["night"], i["reminder"]) for i in json.loads(out)] == [
        ("2026-11-27", "stretch"),
        ("2026-11-27", "bedtime"),
        ("2026-11-28", "magnesium"),  # tomorrow's is still ahead
    ]
    assert "magnesium" not in cli(capsys, monkeypatch, evening, "next", "--count", "2")[1]


def test_a_mistyped_reminder_gets_the_config_checkers_did_you_mean(sandbox: Sandbox, capsys, monkeypatch):
    from sundown.config.values import closest

    sandbox.write_config(ROUTINE)
    for args in (("ack", "magnesum"), ("snooze", "magnesum", "5m"), ("skip", "strech")):
        code, _, err = cli(capsys, monkeypatch, local(FRIDAY, 21, 50), *args)
        word = args[1]
        meant = closest(word, ["magnesium", "stretch", "bedtime"])  # the config checker's words
        assert code == 2 and meant and f'no reminder "{word}"{meant} (the routine has: ' in err, err
    assert logged() == []


# -- item 9: a broken config hides nothing ------------------------------------------------------


def test_read_only_commands_show_the_last_good_routine_while_the_config_has_errors(
    sandbox: Sandbox, capsys, monkeypatch
):
    sandbox.write_config(ROUTINE)
    daemon = daemon_at(local(FRIDAY, 20, 0))  # it keeps a copy of the routine it runs
    sandbox.write_config(ROUTINE.replace('"45m"', '"45"'))  # one typo
    assert daemon.reload()
    daemon.stop()
    evening = local(FRIDAY, 20, 5)
    code, out, err = cli(capsys, monkeypatch, evening, "status")
    assert code == 0 and "showing the routine the daemon last loaded" in err
    assert "Magnesium" in out and "21:45" in out
    info = status(capsys, monkeypatch, evening)
    assert info["config_error"] and len(info["tonight"]) == 3
    report = str(sandbox.root / "r.html")
    for args in (("next", "--count", "2"), ("stats", "--json"), ("log",), ("report", "--html", report)):
        code, out, err = cli(capsys, monkeypatch, evening, *args)
        assert code == 0, (args, err)
        assert "has 1 error" in err
    code, _, err = cli(capsys, monkeypatch, evening, "check")
    assert code == 78 and '"45" is not a duration' in err


def test_status_indents_every_line_of_the_problem_block(sandbox: Sandbox, capsys, monkeypatch, tmp_path):
    sandbox.write_config(ROUTINE)
    daemon_at(local(FRIDAY, 20, 0)).stop()  # a last good routine
    sandbox.write_config(ROUTINE.replace('"45m"', '"45"').replace('"30m"', '"thirty minutes"'))  # two typos
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(sandbox.config_path.parent)  # a short path in the messages
    code, out, _ = cli(capsys, monkeypatch, local(FRIDAY, 20, 5), "--config", "config.toml", "status")
    lines = out.splitlines()
    block = lines[1 : next(k for k, line in enumerate(lines) if line.startswith("tonight ("))]
    assert code == 0 and len(block) >= 2 and block[0].startswith("  problem: config.toml:7: ")
    problems = [line for line in block if line.startswith(" " * 11 + "config.toml:")]
    assert len(problems) == 1 and "reminders.stretch.before" in problems[0]  # the second, under the first
    assert all(line.startswith("  ") and len(line) <= 80 for line in block), block
    assert max(map(len, lines)) <= 80, out


def test_with_the_config_deleted_under_a_running_daemon_status_shows_its_routine(
    sandbox: Sandbox, capsys, monkeypatch
):
    from sundown.paths import resolve_paths
    from sundown.runtime.control_server import InstanceLock

    sandbox.write_config(ROUTINE.replace('default = "22:30"', 'default = "23:00"'))
    daemon = daemon_at(local(FRIDAY, 20, 0))
    lock = InstanceLock(resolve_paths())  # as `sundown run` holds it
    try:
        sandbox.config_path.unlink()
        code, out, err = cli(capsys, monkeypatch, local(FRIDAY, 20, 5), "next", "--count", "1")
        assert code == 0 and "was removed" in err
        assert "22:15" in out  # the daemon's routine, not the built-in default's 21:45
    finally:
        lock.release()
        daemon.stop()


# -- item 10: a log that cannot be opened, and a bare ack ---------------------------------------


def test_a_log_that_cannot_be_opened_gets_the_doctors_fix(sandbox: Sandbox, capsys, monkeypatch):
    sandbox.write_config(ROUTINE)
    sandbox.db_path.parent.mkdir(parents=True, mode=0o700)
    sandbox.db_path.write_bytes(b"this is not a database, but it is long enough to look like one" * 20)
    code, _, err = cli(capsys, monkeypatch, local(FRIDAY, 20, 0), "status")
    assert code == 1
    assert f"fix: mv {sandbox.db_path} {sandbox.db_path}.broken" in err


def test_a_bare_ack_sees_what_status_sees_after_the_log_was_fixed(sandbox: Sandbox, capsys, monkeypatch):
    from sundown.cli import daemon_cmds

    sandbox.write_config(ROUTINE)
    state_dir = sandbox.db_path.parent
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    state_dir.write_text("a file where the state directory should be")
    daemon = daemon_at(local(FRIDAY, 21, 45))
    daemon.tick()  # sent, but the log could not record it
    assert daemon.ledger.problem
    state_dir.unlink()  # fixed
    monkeypatch.setattr(daemon_cmds, "_status", lambda ctx: daemon.snapshot())  # the daemon answers
    try:
        code, out, err = cli(capsys, monkeypatch, local(FRIDAY, 21, 50), "ack")
    finally:
        daemon.stop()
    assert code == 0, err
    assert "acknowledged Magnesium (2026-11-27)" in out
    assert logged("acknowledged") == [("2026-11-27", "magnesium", "acknowledged")]


def test_status_json_has_the_same_keys_with_and_without_a_daemon(sandbox: Sandbox, capsys, monkeypatch):
    sandbox.write_config(ROUTINE)
    without = status(capsys, monkeypatch, local(FRIDAY, 20, 0))
    daemon = daemon_at(local(FRIDAY, 20, 0))
    try:
        with_daemon = daemon.snapshot().to_json()
    finally:
        daemon.stop()
    assert without.keys() == with_daemon.keys()
    assert without["backend"] is None and with_daemon["backend"] == "console"
    assert without["tonight"] == with_daemon["tonight"]
