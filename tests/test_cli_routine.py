"""`sundown init`, `check`, `next` as real subprocesses in a sandboxed home (docs/commands.md)."""

from __future__ import annotations

import argparse
import json
import stat
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sundown import config
from sundown.cli import build_parser
from sundown.core.plan import night_of

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")  # the sandbox's TZ

UNIFORM = """\
[bedtime]
default = "22:30"

[reminders.wind-down]
before = "1h"
title = "Start winding down"

[reminders.screens-off]
at = "22:00"

[reminders.bedtime]
before = "0m"
title = "Lights out"
"""


# --- init --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_init_writes_the_example_private(sandbox) -> None:
    proc = sandbox.run("init", check=True)
    path = sandbox.config_path
    assert str(path) in proc.stdout
    assert path.read_text() == config.example_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert sandbox.run("check", check=True).stdout.startswith(f"{path}: OK")


@pytest.mark.e2e
def test_init_refuses_to_overwrite_without_force(sandbox) -> None:
    sandbox.write_config(UNIFORM)
    proc = sandbox.run("init")
    assert proc.returncode == 1
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert sandbox.config_path.read_text() == UNIFORM


@pytest.mark.e2e
def test_init_force_overwrites_and_keeps_it_private(sandbox) -> None:
    sandbox.write_config(UNIFORM)
    sandbox.config_path.chmod(0o644)
    sandbox.run("init", "--force", check=True)
    assert sandbox.config_path.read_text() == config.example_text()
    assert stat.S_IMODE(sandbox.config_path.stat().st_mode) == 0o600


@pytest.mark.e2e
def test_init_honours_config_option(sandbox) -> None:
    target = sandbox.root / "elsewhere" / "mine.toml"
    proc = sandbox.run("init", "--config", str(target), check=True)
    assert target.read_text() == config.example_text() and str(target) in proc.stdout
    assert not sandbox.config_path.exists()


# --- check -------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_check_prints_zone_and_tonights_timeline(sandbox) -> None:
    sandbox.write_config(UNIFORM)
    proc = sandbox.run("check", check=True)
    out = proc.stdout
    assert f"{sandbox.config_path}: OK" in out
    assert "zone: Europe/Berlin" in out
    assert "bedtime 22:30" in out
    rows = [line.split(None, 3) for line in out.splitlines() if line.startswith("  ")]
    assert rows == [
        ["21:30", "-1h", "wind-down", "Start winding down"],
        ["22:00", "-30m", "screens-off", "Screens off"],
        ["22:30", "0m", "bedtime", "Lights out"],
    ]
    assert proc.stderr == ""


@pytest.mark.e2e
def test_check_uses_the_configured_zone(sandbox) -> None:
    sandbox.write_config('timezone = "Asia/Tokyo"\n' + UNIFORM)
    out = sandbox.run("check", check=True).stdout
    assert "zone: Asia/Tokyo" in out and "21:30" in out


@pytest.mark.e2e
def test_check_marks_a_skipped_night(sandbox) -> None:
    tonight = night_of(datetime.now(UTC), BERLIN)
    # Around tonight, so that a noon passing during the test cannot matter.
    dates = ", ".join(f'"{tonight + timedelta(days=k)}"' for k in (-1, 0, 1))
    sandbox.write_config(UNIFORM + f"[skip]\ndates = [{dates}]\n")
    out = sandbox.run("check", check=True).stdout
    assert "(skipped)" in out
    assert all("(skipped)" in line for line in out.splitlines() if line.startswith("  "))


@pytest.mark.e2e
def test_check_path_argument_overrides_config(sandbox) -> None:
    sandbox.write_config("this is not toml")
    other = sandbox.root / "other.toml"
    other.write_text(UNIFORM)
    proc = sandbox.run("check", str(other), check=True)
    assert f"{other}: OK" in proc.stdout


@pytest.mark.e2e
def test_check_missing_path_is_a_config_error(sandbox) -> None:
    proc = sandbox.run("check", str(sandbox.root / "nope.toml"))
    assert proc.returncode == 78 and "no such config file" in proc.stderr and "Traceback" not in proc.stderr


# --- next --------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_next_json_across_the_spring_dst_change(sandbox) -> None:
    sandbox.write_config(UNIFORM)
    proc = sandbox.run("next", "--json", "--count", "7", "--from", "2026-03-27T21:45", check=True)
    items = json.loads(proc.stdout)
    assert all(set(item) == {"night", "reminder", "at", "title", "bedtime_source"} for item in items)
    assert {item["bedtime_source"] for item in items} == {"routine"}
    assert [(i["night"], i["reminder"], i["at"]) for i in items] == [
        ("2026-03-27", "screens-off", "2026-03-27T22:00:00+01:00"),
        ("2026-03-27", "bedtime", "2026-03-27T22:30:00+01:00"),
        ("2026-03-28", "wind-down", "2026-03-28T21:30:00+01:00"),
        ("2026-03-28", "screens-off", "2026-03-28T22:00:00+01:00"),
        ("2026-03-28", "bedtime", "2026-03-28T22:30:00+01:00"),
        ("2026-03-29", "wind-down", "2026-03-29T21:30:00+02:00"),
        ("2026-03-29", "screens-off", "2026-03-29T22:00:00+02:00"),
    ]
    assert items[0]["title"] == "Screens off" and items[1]["title"] == "Lights out"
    instants = [datetime.fromisoformat(i["at"]) for i in items]
    assert instants == sorted(instants)


@pytest.mark.e2e
def test_next_from_with_offset_or_z_is_that_instant(sandbox) -> None:
    sandbox.write_config(UNIFORM)
    for start in ("2026-11-25T20:30:00+00:00", "2026-11-25T20:30:00Z", "2026-11-25T21:30+01:00"):
        items = json.loads(sandbox.run("next", "--json", "-n", "1", "--from", start, check=True).stdout)
        assert items == [
            {
                "night": "2026-11-25",
                "reminder": "wind-down",
                "at": "2026-11-25T21:30:00+01:00",
                "title": "Start winding down",
                "bedtime_source": "routine",
            }
        ], start


@pytest.mark.e2e
def test_next_from_local_time_is_in_the_routines_zone(sandbox) -> None:
    sandbox.write_config('timezone = "America/New_York"\n' + UNIFORM)
    items = json.loads(
        sandbox.run("next", "--json", "-n", "1", "--from", "2026-11-25T22:10", check=True).stdout
    )
    assert items[0]["reminder"] == "bedtime" and items[0]["at"] == "2026-11-25T22:30:00-05:00"


@pytest.mark.e2e
def test_next_table_shows_local_times(sandbox) -> None:
    sandbox.write_config('timezone = "Asia/Tokyo"\n' + UNIFORM)
    out = sandbox.run("next", "-n", "2", "--from", "2026-11-25T12:00", check=True).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["Wed", "2026-11-25", "21:30", "wind-down", "Start", "winding", "down"]
    assert lines[1].split()[:4] == ["Wed", "2026-11-25", "22:00", "screens-off"]


@pytest.mark.e2e
def test_next_after_midnight_bedtime_and_count_zero(sandbox) -> None:
    sandbox.write_config(UNIFORM.replace('default = "22:30"', 'default = "22:30"\nsat = "00:30"'))
    items = json.loads(
        sandbox.run("next", "--json", "-n", "3", "--from", "2026-11-28T23:45", check=True).stdout
    )
    assert [(i["night"], i["reminder"], i["at"]) for i in items] == [
        ("2026-11-28", "bedtime", "2026-11-29T00:30:00+01:00"),
        ("2026-11-29", "wind-down", "2026-11-29T21:30:00+01:00"),
        ("2026-11-29", "screens-off", "2026-11-29T22:00:00+01:00"),
    ]
    assert json.loads(sandbox.run("next", "--json", "-n", "0", check=True).stdout) == []


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--from", "yesterday"), "--from"),
        (("--from", "2026-02-30T10:00"), "--from"),
        (("--count", "-1"), "--count"),
        (("--count", "many"), "--count"),
    ],
)
def test_next_usage_errors_exit_2(sandbox, args: tuple[str, ...], needle: str) -> None:
    sandbox.write_config(UNIFORM)
    proc = sandbox.run("next", *args)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr


# --- config location and the built-in default ------------------------------------------------


@pytest.mark.e2e
def test_builtin_default_routine_is_announced_once(sandbox) -> None:
    for args in (("next", "--json", "-n", "4", "--from", "2026-11-25T12:00"), ("check",)):
        proc = sandbox.run(*args, check=True)
        assert proc.stderr.count("built-in default routine") == 1, proc.stderr
        assert str(sandbox.config_path) in proc.stderr
        # The path on a line of its own; the rest within 80 columns (before: 130 in one line).
        assert proc.stderr.splitlines()[:2] == [
            f"sundown: no config at {sandbox.config_path};",
            "  using the built-in default routine (`sundown init` writes it there to edit)",
        ]
    items = json.loads(sandbox.run("next", "--json", "-n", "4", "--from", "2026-11-25T12:00").stdout)
    assert [i["reminder"] for i in items] == ["wind-down", "magnesium", "screens-off", "bedtime"]


@pytest.mark.e2e
def test_config_option_and_environment_variable(sandbox) -> None:
    mine = sandbox.root / "mine.toml"
    mine.write_text('[bedtime]\ndefault = "23:00"\n[reminders.only-mine]\nbefore = "5m"\n')
    sandbox.write_config(UNIFORM)
    args = ("next", "--json", "-n", "1", "--from", "2026-11-25T12:00")
    for proc in (
        sandbox.run("--config", str(mine), *args),
        sandbox.run(*args, "--config", str(mine)),
        sandbox.run(*args, env={"SUNDOWN_CONFIG": str(mine)}),
    ):
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)[0]["reminder"] == "only-mine"
        assert "built-in default" not in proc.stderr
    assert json.loads(sandbox.run(*args, check=True).stdout)[0]["reminder"] == "wind-down"


@pytest.mark.e2e
def test_missing_explicit_config_is_an_error_not_the_default(sandbox) -> None:
    missing = str(sandbox.root / "missing.toml")
    for proc in (
        sandbox.run("--config", missing, "next"),
        sandbox.run("next", env={"SUNDOWN_CONFIG": missing}),
    ):
        assert proc.returncode == 78 and missing in proc.stderr and "built-in default" not in proc.stderr


# --- help and startup cost ---------------------------------------------------------------------


def _subcommands(
    parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], str]]:
    """(command path, help text) of every subcommand, nested ones included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                found.append(((*prefix, name), helps.get(name, "")))
                found.extend(_subcommands(sub, (*prefix, name)))
    return found


def test_every_command_has_help_text() -> None:
    commands = _subcommands(build_parser())
    assert {("init",), ("check",), ("next",)} <= {c for c, _ in commands}
    missing = [" ".join(c) for c, text in commands if not text.strip()]
    assert not missing, f"commands without help text: {missing}"


@pytest.mark.e2e
def test_every_command_help_runs(sandbox) -> None:
    for command, _ in _subcommands(build_parser()):
        proc = sandbox.run(*command, "--help")
        assert proc.returncode == 0, (command, proc.stderr)
        assert "--config" in proc.stdout, f"`sundown {' '.join(command)}` lacks the common options"


HEAVY = ("apscheduler", "plyer", "jeepney", "sqlite3", "_sqlite3")


@pytest.mark.e2e
@pytest.mark.parametrize(
    "argv",
    [
        ["init"],
        ["check"],
        ["next", "--count", "5", "--json"],
        ["next", "--count", "5"],
        ["check", "{bad}"],
    ],
)
def test_quick_commands_import_nothing_heavy(sandbox, argv: list[str]) -> None:
    bad = sandbox.root / "bad.toml"
    bad.write_text('[bedtime]\ndefault = "25:00"\n')
    argv = [a.replace("{bad}", str(bad)) for a in argv]
    code = (
        "import sys, json\n"
        "from sundown.cli import main\n"
        f"rc = main({argv!r})\n"
        f"print(json.dumps([rc, sorted(m for m in {HEAVY!r} if m in sys.modules)]), file=sys.stderr)\n"
    )
    proc = sandbox.python(code)
    rc, heavy = json.loads(proc.stderr.strip().splitlines()[-1])
    assert rc in (0, 78), proc.stderr
    assert heavy == [], f"sundown {' '.join(argv)} imported {heavy}"


def test_command_table_names_every_command_and_its_group() -> None:
    from sundown.cli import GROUP_OF

    assert sorted(path[0] for path, _ in _subcommands(build_parser()) if len(path) == 1) == sorted(GROUP_OF)
    for command in GROUP_OF:
        alone = {path[0] for path, _ in _subcommands(build_parser(command))}
        assert command in alone
        assert alone <= set(GROUP_OF)


@pytest.mark.parametrize(
    "argv, command",
    [
        (["next", "--count", "5"], "next"),
        (["--config", "next", "check"], "check"),
        (["--config=x.toml", "ack", "magnesium"], "ack"),
        (["--", "status"], "status"),
        (["--version"], None),
        ([], None),
    ],
)
def test_only_the_invoked_command_is_built(argv: list[str], command: str | None) -> None:
    from sundown.cli import invoked_command

    assert invoked_command(argv) == command


@pytest.mark.e2e
def test_quick_commands_import_only_their_own_group(sandbox) -> None:
    code = (
        "import sys\n"
        "from sundown.cli import main\n"
        "main(['next', '--count', '1'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('sundown.cli.')), file=sys.stderr)\n"
    )
    proc = sandbox.python(code)
    loaded = proc.stderr.strip().splitlines()[-1]
    assert "routine_cmds" in loaded
    assert "daemon_cmds" not in loaded and "log_cmds" not in loaded and "service_cmds" not in loaded
