"""What the CLI says when something is wrong: each message names the real problem, and its
fix hint would fix it. Real subprocesses in a sandboxed home."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from sundown import config
from sundown.cli import not_on_path
from sundown.config.values import Invalid, read_clock, read_zone_name
from sundown.errors import ConfigError
from support.sandbox import Sandbox

EVENING = """\
timezone = "UTC"

[bedtime]
default = "22:30"

[reminders.magnesium]
before = "45m"

[reminders.wind-down]
before = "1h"
"""


def _events(box: Sandbox) -> list[dict]:
    out = box.run("log", "--format", "jsonl", check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


# --- reload ----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_reload_after_the_config_was_deleted_says_so_and_exits_1(sandbox: Sandbox) -> None:
    sandbox.write_config(EVENING)
    proc = sandbox.start_daemon("--backend", "console")
    try:
        sandbox.config_path.unlink()
        r = sandbox.run("reload")
        assert r.returncode == 1, (r.stdout, r.stderr)
        assert "reloaded" not in r.stdout
        assert str(sandbox.config_path) in r.stderr and "does not exist" in r.stderr
        assert "keeps the routine it last read" in r.stderr
        # ... and it does: the daemon still plans the configured reminders, not the defaults.
        status = json.loads(sandbox.run("status", "--json", check=True).stdout)
        assert {row["reminder"] for row in status["tonight"]} == {"magnesium", "wind-down"}
        sandbox.write_config(EVENING)
        r = sandbox.run("reload")
        assert r.returncode == 0 and r.stdout.strip() == "reloaded", r.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


# --- snooze's words ----------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("word", "says"),
    [
        ("13h", '"13h" is over 12h'),
        ("10", '"10" is not a duration'),
        ("0m", '"0m" is zero'),
        ("forever", "'forever' is not a duration"),
    ],
)
def test_snooze_with_a_lone_bad_duration_gets_the_duration_message(sandbox: Sandbox, word, says) -> None:
    sandbox.write_config(EVENING)
    r = sandbox.run("snooze", word)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and "no reminder" not in r.stderr
    assert not sandbox.db_path.exists() or not _events(sandbox)


@pytest.mark.e2e
def test_snooze_lone_duration_is_the_duration_for_the_latest_reminder(sandbox: Sandbox) -> None:
    sandbox.write_config(EVENING)
    # Nothing waits: the lone "10m" is read as the duration, not as an unknown reminder id.
    r = sandbox.run("snooze", "10m")
    assert r.returncode == 1 and "nothing to snooze" in r.stderr, r.stderr


def test_snooze_id_and_bad_duration_in_either_order() -> None:
    from sundown.cli.daemon_cmds import _snooze_words
    from sundown.errors import UsageError

    known = ["magnesium", "wind-down"]
    assert _snooze_words(["magnesium"], known) == ("magnesium", None)
    assert _snooze_words(["15m", "magnesium"], known)[0] == "magnesium"
    assert _snooze_words(["magnesium", "15m"], known)[1] is not None
    with pytest.raises(UsageError, match='"13h" is over 12h'):
        _snooze_words(["magnesium", "13h"], known)
    with pytest.raises(UsageError, match="at most an ID and a DURATION"):
        _snooze_words(["a", "b", "c"], known)
    # An unknown id with a good duration: the id is checked against the routine later.
    assert _snooze_words(["tea", "5m"], known)[0] == "tea"


# --- errors that show the right thing ----------------------------------------------------------


def test_bedtime_without_default_message_is_a_whole_sentence() -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse('[bedtime]\nfri = "23:00"\n', "c.toml")
    assert exc.value.problems[0].endswith("unless all seven weekdays are given")


@pytest.mark.e2e
def test_report_into_a_missing_directory_names_the_path_given(sandbox: Sandbox) -> None:
    sandbox.write_config(EVENING)
    target = sandbox.root / "missing" / "r.html"
    r = sandbox.run("report", "--html", str(target))
    assert r.returncode == 1
    assert str(target) in r.stderr and ".tmp" not in r.stderr and "no directory" in r.stderr


@pytest.mark.e2e
def test_init_into_a_directory_suggests_the_file_not_force(sandbox: Sandbox) -> None:
    target = sandbox.root / "confdir"
    target.mkdir()
    for args in (("init",), ("init", "--force")):
        r = sandbox.run("--config", str(target), *args)
        assert r.returncode == 1
        assert "is a directory" in r.stderr and str(target / "config.toml") in r.stderr
        assert "--force" not in r.stderr
    assert list(target.iterdir()) == []


@pytest.mark.e2e
def test_a_state_dir_that_is_a_file_is_named_as_such(sandbox: Sandbox) -> None:
    sandbox.write_config(EVENING)
    state = sandbox.root / "state-file"
    state.write_text("not a directory")
    r = sandbox.run("log", env={"SUNDOWN_STATE_DIR": str(state)})
    assert r.returncode == 1
    assert "File exists" not in r.stderr
    assert f"{state} is a file, not a directory" in r.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(
    "args",
    [("next", "--count", "5000"), ("log",), ("log", "--format", "jsonl"), ("stats", "--days", "400")],
)
def test_output_into_a_closed_pipe_exits_quietly(sandbox: Sandbox, args: tuple[str, ...]) -> None:
    from datetime import date, datetime, timedelta, timezone

    from sundown.store.log import EventLog

    sandbox.write_config(EVENING)
    with EventLog(sandbox.db_path) as log:  # enough rows to fill the pipe
        first = date.today() - timedelta(days=400)
        for k in range(400):
            night = first + timedelta(days=k)
            at = datetime(night.year, night.month, night.day, 21, 45, tzinfo=timezone.utc)
            for rid in ("magnesium", "wind-down"):
                log.record("notified", night, rid, "daemon", {"late": 0, "repeat": 0}, ts=at)
                log.record("acknowledged", night, rid, "action", ts=at + timedelta(minutes=5))
    # `sundown ARGS | head -1`: the reader leaves after one line.
    proc = subprocess.Popen(
        [sys.executable, "-m", "sundown", *args],
        env=sandbox.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=sandbox.root,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Broken pipe" not in err and "Traceback" not in err and "Exception ignored" not in err, err


# --- fix hints that fix --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hint"),
    [("9pm", '"21:00"'), ("9:30 PM", '"21:30"'), ("12am", '"00:00"'), ("12 p.m.", '"12:00"')],
)
def test_twelve_hour_times_get_their_24_hour_spelling(text: str, hint: str) -> None:
    with pytest.raises(Invalid) as exc:
        read_clock(text)
    assert f"24-hour clock: {hint}" in str(exc.value)


def test_a_utc_offset_is_not_answered_with_utc() -> None:
    for text in ("UTC+1", "GMT-5", "+01:00"):
        with pytest.raises(Invalid) as exc:
            read_zone_name(text)
        message = str(exc.value)
        assert 'did you mean "UTC"' not in message and "fixed UTC offset" in message
    with pytest.raises(Invalid, match='"Etc/GMT-1"'):
        read_zone_name("UTC+1")  # the Etc names invert the sign
    assert read_zone_name("Etc/GMT-1") == "Etc/GMT-1"
    with pytest.raises(Invalid, match='did you mean "Europe/Berlin"'):
        read_zone_name("Europe/Berlinn")


def test_an_accented_id_keeps_its_letters_in_the_suggestion() -> None:
    with pytest.raises(ConfigError) as exc:
        config.parse('[bedtime]\ndefault = "22:30"\n[reminders."café"]\nbefore = "1h"\n', "c.toml")
    assert '(e.g. "cafe")' in exc.value.problems[0]


@pytest.mark.e2e
def test_tonight_with_a_12_hour_bedtime_suggests_the_24_hour_time(sandbox: Sandbox) -> None:
    sandbox.write_config(EVENING)
    r = sandbox.run("tonight", "--bedtime", "9pm")
    assert r.returncode == 2 and '"21:00"' in r.stderr


# --- the command line itself ---------------------------------------------------------------------


@pytest.mark.e2e
def test_bare_sundown_shows_the_help(sandbox: Sandbox) -> None:
    r = sandbox.run()
    assert r.returncode == 0
    assert r.stdout.startswith("usage: sundown") and "COMMAND" in r.stdout and "status" in r.stdout


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("typed", "meant"), [("stauts", "status"), ("nxt", "next"), ("rport", "report"), ("doctr", "doctor")]
)
def test_a_mistyped_command_gets_did_you_mean(sandbox: Sandbox, typed: str, meant: str) -> None:
    r = sandbox.run("--config", "x.toml", typed)
    assert r.returncode == 2
    assert f"did you mean `sundown {meant}`?" in r.stderr


@pytest.mark.e2e
def test_an_unknown_command_lists_the_commands(sandbox: Sandbox) -> None:
    r = sandbox.run("xyzzy")
    assert r.returncode == 2 and "unknown command 'xyzzy'" in r.stderr and "status" in r.stderr


# --- not on PATH -------------------------------------------------------------------------------


def test_a_sundown_not_on_path_says_what_to_type(tmp_path, monkeypatch) -> None:
    """The README links `sundown` into ~/.local/bin, which Debian puts on PATH only at the next login."""
    monkeypatch.setenv("HOME", str(tmp_path))
    script = str(tmp_path / ".local" / "bin" / "sundown")
    empty = str(tmp_path / "empty")
    note = not_on_path(script, {"PATH": empty})
    assert note is not None and "plain `sundown` is\n  not found here" in note and "next login" in note
    assert note.splitlines()[-1].strip() == 'export PATH="$HOME/.local/bin:$PATH"'
    assert max(len(line) for line in f"sundown: {note}".splitlines()) <= 80
    assert not_on_path(script, {"PATH": f"{empty}:{tmp_path}/.local/bin/"}) is None  # on PATH: quiet
    assert not_on_path("/opt/sd/bin/sundown", {"PATH": empty}) == (
        "/opt/sd/bin is not on PATH in this shell, so plain `sundown` is not found here"
    )
    assert not_on_path("/usr/lib/python3/sundown/__main__.py", {"PATH": empty}) is None  # python -m


@pytest.mark.e2e
def test_the_note_shows_in_a_terminal_only(sandbox: Sandbox) -> None:
    bin_dir = sandbox.root / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "sundown"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom sundown.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    env = {**sandbox.env, "HOME": str(sandbox.root), "PATH": "/usr/bin:/bin"}
    primary, secondary = os.openpty()
    try:
        proc = subprocess.run(
            [str(script), "--version"],
            env=env,
            stderr=secondary,
            capture_output=False,
            stdout=subprocess.PIPE,
            text=True,
            timeout=30,
        )
        os.close(secondary)
        said = os.read(primary, 4096).decode()
    finally:
        os.close(primary)
    assert proc.returncode == 0 and proc.stdout.startswith("sundown ")
    assert "~/.local/bin is not on PATH in this shell" in said
    piped = subprocess.run([str(script), "--version"], env=env, capture_output=True, text=True, timeout=30)
    assert piped.returncode == 0 and piped.stderr == ""  # a script or the journal: not told
