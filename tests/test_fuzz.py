"""Bad input: random and mutated configs, random command lines, broken logs, unsafe config modes.

The promise (docs/config.md, docs/commands.md):
a config is either a Routine or a ConfigError listing its problems --
never another exception, never a traceback; any command line ends with exit 0, 1, 2 or 78 and,
when it fails, changes neither the config nor the log; a log sundown cannot read is named and
left untouched while the daemon keeps reminding; a config others can write runs no commands.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sundown.config import example_text, parse, zone_for
from sundown.core.dispatch import decide
from sundown.core.plan import NightChanges, night_plan, upcoming
from sundown.core.routine import Routine
from sundown.errors import ConfigError
from sundown.paths import resolve_paths
from support.daemon import Evening
from support.in_process import tick_daemon_once
from support.sandbox import Sandbox

UTC = timezone.utc
EXAMPLE = example_text()
EXIT_CODES = {0, 1, 2, 78}

# Lines a person (or an editor accident) might put into a config.
ODD_LINES = [
    'before = "-5m"',
    'before = "99999999999999999999h"',
    'before = "12h1s"',
    'repeat = "0s"',
    'repeat = "1s"',
    'repeat = "99999999h"',
    "repeat_limit = 100000000000",
    "repeat_limit = 0",
    "repeat_limit = -1",
    "repeat_limit = 99999999999999999999999",
    'at = "25:00"',
    'at = "7:5"',
    "at = 22:00:00",
    "at = 1979-05-27T07:32:00Z",
    'default = "24:00"',
    "default = 00:30:00.999999",
    'timezone = "Mars/Olympus_Mons"',
    'timezone = "../../etc/passwd"',
    'timezone = ""',
    "days = []",
    'days = ["mon", "mon"]',
    'days = ["funday"]',
    "run = []",
    "run = [1, 2]",
    'run = [""]',
    'dates = ["2026-02-30"]',
    "dates = [2026-12-24]",
    'backend = "carrier-pigeon"',
    'snooze = "0m"',
    "x = 1e999",
    "x = nan",
    "[reminders]",
    "[reminders.a.b]",
    '[reminders."with space"]',
    "[reminders.UPPER]",
    "[[reminders.x]]",
    "[bedtime.mon]",
    "[skip]",
    "[notify]",
    'title = "\\u0000"',
    'body = """',
    "= 1",
    "[",
    "\ufeff[bedtime]",
    "\r",
]
ODD_CHARS = list("\"'[]={}.,#\\\n\r\t 0123456789:-hmsz") + ["\u00e9", "\u202e", "\ufeff", "\x7f", "\x00"]


@st.composite
def mutated_config(draw: st.DrawFn) -> str:
    """The example config with a few lines deleted, duplicated, swapped, replaced or characters flipped."""
    lines = EXAMPLE.splitlines()
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "odd", "flip", "value"]))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "odd":
            lines.insert(i, draw(st.sampled_from(ODD_LINES)))
        elif op == "flip" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            char = draw(st.sampled_from(ODD_CHARS) | st.characters())
            lines[i] = lines[i][:k] + char + lines[i][k + 1 :]
        elif op == "value" and "=" in lines[i]:
            key = lines[i].split("=", 1)[0]
            value = draw(
                st.one_of(
                    st.text(max_size=12).map(json.dumps),
                    st.integers().map(str),
                    st.floats().map(lambda f: repr(f).replace("inf", "inf").lower()),
                    st.sampled_from(["true", "[]", "{}", '["a", 1]', "1979-05-27", "07:32:00"]),
                    st.from_regex(r'"-?[0-9]{0,25}[hms]{0,2}([0-9]{1,3}[hms])?"', fullmatch=True),
                    st.from_regex(r'"[0-9]{1,3}:[0-9]{1,3}"', fullmatch=True),
                )
            )
            lines[i] = f"{key}= {value}"
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (not hang) when the block runs longer than `seconds`: a config must not stall the daemon."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def use(routine: Routine) -> None:
    """What the daemon and `next` do with a routine: plans, repeats, decisions, across DST nights."""
    try:
        zone = zone_for(routine)
    except ConfigError as exc:
        assert all(p.startswith("timezone:") for p in exc.problems), exc.problems
        return
    for night in (date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 24), date(2026, 11, 25)):
        night_plan(routine, night, zone, NightChanges())
        noon = datetime(night.year, night.month, night.day, 12, tzinfo=zone)
        for hours in (0, 9, 10.5, 12, 23):
            now = noon + timedelta(hours=hours)
            decision = decide(routine, zone, now, {}, {})
            for occ in (o for send in decision.sends for o in send.occurrences):
                occ.repeat_times()
        upcoming(routine, zone, noon, 5)


def parse_or_config_error(text: str) -> Routine | ConfigError:
    with within(10):
        try:
            routine = parse(text, "config.toml")
        except ConfigError as exc:
            assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
            assert all(p.startswith(("config.toml:", "timezone:")) for p in exc.problems), exc.problems
            return exc
        use(routine)
        return routine


FOUND = [  # what fuzzing found (fixed): an OverflowError, an endless repeat loop, a datetime overflow
    EXAMPLE.replace('before = "45m"', 'before = "99999999999999999999h"'),
    EXAMPLE.replace("repeat_limit = 3 ", "repeat_limit = 100000000000").replace('"10m"  ', '"1s"'),
    EXAMPLE.replace('repeat = "10m"', 'repeat = "99999999h"'),
]

# derandomize: the same examples on every run (deterministic CI); longer, coverage-guided
# exploration is bench/fuzz_config.py (atheris).
FUZZ = settings(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@settings(FUZZ, max_examples=400)
@given(mutated_config())
@example(FOUND[0])
@example(FOUND[1])
@example(FOUND[2])
def test_mutated_example_config_is_a_routine_or_a_config_error(text: str):
    parse_or_config_error(text)


@settings(FUZZ, max_examples=300)
@given(st.text(max_size=400))
def test_random_text_is_a_routine_or_a_config_error(text: str):
    parse_or_config_error(text)


TOML_VALUES = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=10),
        st.sampled_from(["22:30", "1h", "45m", "0m", "mon", "auto", "12h", "13h", "00:30"]),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
KEYS = ["timezone", "bedtime", "notify", "reminders", "skip", "default", "before", "at", "repeat", "x"]


def toml_text(value: object) -> str:
    """A value as TOML (tables inline) -- enough to feed arbitrary structures to the parser."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if not isinstance(value, float) or value == value else "nan"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_text(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_text(v)}" for k, v in value.items()) + "}"


@settings(FUZZ, max_examples=300)
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), TOML_VALUES, max_size=5))
def test_random_toml_structures_are_a_routine_or_a_config_error(doc: dict):
    text = "\n".join(f"{json.dumps(k)} = {toml_text(v)}" for k, v in doc.items())
    parse_or_config_error(text)


# --- the same through `sundown check` ---------------------------------------------------------


@pytest.mark.e2e
@settings(FUZZ, max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated_config())
def test_check_on_mutated_configs_exits_0_or_78_without_traceback(sandbox: Sandbox, text: str):
    path = sandbox.root / "fuzzed.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    proc = sandbox.run("check", str(path))
    assert proc.returncode in (0, 78), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    if proc.returncode == 78:
        assert proc.stderr.strip(), "a config error says what is wrong"


# --- random command lines --------------------------------------------------------------------

COMMANDS = [
    "ack", "snooze", "skip", "unskip", "tonight", "log", "stats", "report", "check", "next",
    "status", "init", "reload", "frobnicate", "",
]  # fmt: skip
WORDS = [
    "magnesium", "bedtime", "nope", "--night", "--at", "--json", "--count", "--from", "--since",
    "--until", "--days", "--format", "--bedtime", "--clear", "--force", "--html", "--config",
    "--backend", "-h", "--", "-", "2026-11-25", "2026-13-45", "2026-11-25T22:40", "yesterday",
    "22:30", "25:00", "7:5", "10m", "0m", "-5m", "99999999999999999999", "-1", "0", "3", "jsonl",
    "csv", "xml", "table", "report.html", "/nonexistent/dir/x.html", "\u00e9\u202e", "'", "\"",
    "1h30m", "wind-down", "screens-off", "x" * 300, "99999999h", "99999999999999999999h",
]  # fmt: skip


@pytest.fixture
def known_files(sandbox: Sandbox):
    sandbox.write_config(EXAMPLE)
    sandbox.run("skip", "magnesium", "--night", "2026-11-20", "--force", check=True)
    sandbox.run("ack", "bedtime", "--night", "2026-11-21", "--at", "2026-11-21T22:31", "--force", check=True)
    return sandbox


@pytest.mark.e2e
@settings(FUZZ, max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(COMMANDS),
    st.lists(
        st.sampled_from(WORDS) | st.text(st.characters(blacklist_characters="\x00"), max_size=8), max_size=4
    ),
)
def test_random_command_lines_exit_cleanly_and_failures_change_nothing(known_files: Sandbox, cmd, words):
    box = known_files
    files = [box.config_path, box.db_path]
    before = {p: p.read_bytes() if p.exists() else None for p in files}
    argv = ([cmd] if cmd else []) + words
    proc = box.run(*argv, timeout=30)
    assert proc.returncode in EXIT_CODES, (argv, proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, (argv, proc.stderr)
    if proc.returncode != 0:
        after = {p: p.read_bytes() if p.exists() else None for p in files}
        assert after == before, f"sundown {argv} failed ({proc.returncode}) but changed a file"
        assert not box.db_path.with_name("sundown.db-wal").exists()
    else:
        box.write_config(EXAMPLE)  # `init --force` may have replaced it; start the next one clean


@pytest.mark.e2e
def test_a_snooze_past_the_year_9999_is_a_usage_error(known_files: Sandbox):
    """Found by hand from the fuzz vocabulary: `snooze ID 99999999h` was an OverflowError traceback."""
    from sundown.core.plan import night_of
    from sundown.store.log import EventLog

    box = known_files
    with EventLog(box.db_path) as log:
        log.record("notified", night_of(datetime.now(UTC), ZoneInfo("Europe/Berlin")), "magnesium", "daemon")
    before = box.db_path.read_bytes()
    proc = box.run("snooze", "magnesium", "99999999h")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "99999999h" in proc.stderr and "over 12h" in proc.stderr
    assert box.db_path.read_bytes() == before


# --- a log sundown cannot read ------------------------------------------------------------------


def foreign_db(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO photos (name) VALUES ('cat.jpg')")
    conn.close()


def garbage_db(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(4096 * 3))


@pytest.mark.e2e
@pytest.mark.parametrize("make", [garbage_db, foreign_db], ids=["corrupt", "foreign"])
def test_unreadable_log_is_named_by_cli_commands_and_left_untouched(sandbox: Sandbox, make):
    sandbox.write_config(EXAMPLE)
    sandbox.db_path.parent.mkdir(parents=True, mode=0o700)
    make(sandbox.db_path)
    original = sandbox.db_path.read_bytes()
    for argv in (
        ("ack", "magnesium", "--night", "2026-11-20", "--force"),
        ("skip",),
        ("log",),
        ("stats", "--json"),
        ("status",),
    ):
        proc = sandbox.run(*argv)
        assert proc.returncode == 1, (argv, proc.returncode, proc.stdout, proc.stderr)
        assert str(sandbox.db_path) in proc.stderr, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert sandbox.db_path.read_bytes() == original
    assert sorted(p.name for p in sandbox.db_path.parent.iterdir()) == ["sundown.db"]


@pytest.mark.e2e
@pytest.mark.parametrize("make", [garbage_db, foreign_db], ids=["corrupt", "foreign"])
def test_daemon_with_an_unreadable_log_keeps_reminding_and_does_not_overwrite_it(sandbox: Sandbox, make):
    evening = Evening(tea=2, lights=4)
    sandbox.write_config(evening.text())
    sandbox.db_path.parent.mkdir(parents=True, mode=0o700)
    make(sandbox.db_path)
    original = sandbox.db_path.read_bytes()
    proc = sandbox.start_daemon("--backend", "console")
    try:
        status = json.loads(sandbox.run("status", "--json", check=True).stdout)
        assert str(sandbox.db_path) in (status.get("log_error") or "")
        time.sleep(max(0.0, (evening.at["lights"] - datetime.now(UTC)).total_seconds()) + 0.1)
        sandbox.refresh()  # by its answer, lights (due now) has been shown
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    reminders = [line for line in out.splitlines() if "Tea" in line or "Lights" in line]
    assert len(reminders) == 2, out
    assert "cannot write its log" in out and str(sandbox.db_path) in out + err
    assert sandbox.db_path.read_bytes() == original


# --- a config others can write runs no commands ---------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("mode", [0o600, 0o620, 0o602, 0o666])
def test_run_command_only_from_a_config_nobody_else_can_write(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture, mode: int
):
    marker = sandbox.root / "ran"
    path = sandbox.write_config(
        'timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n'
        f'[reminders.lock]\nbefore = "30m"\nrun = ["touch", "{marker}"]\n'
    )
    path.chmod(mode)
    caplog.set_level(logging.INFO, logger="sundown")
    tick_daemon_once(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if mode == 0o600:
        assert marker.exists()
        assert not warnings
    else:
        assert not marker.exists(), f"ran a command from a mode {mode:o} config"
        assert any("not running touch" in w and f"chmod go-w {path}" in w for w in warnings), warnings
    assert EventLogRows(sandbox).notified() == ["lock"], "the reminder itself is sent either way"


@pytest.mark.e2e
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the config to another user")
def test_run_command_not_from_a_config_owned_by_another_user(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
):
    marker = sandbox.root / "ran"
    path = sandbox.write_config(
        'timezone = "UTC"\n[bedtime]\ndefault = "22:30"\n'
        f'[reminders.lock]\nbefore = "30m"\nrun = ["touch", "{marker}"]\n'
    )
    os.chown(path, 65534, 65534)  # nobody
    caplog.set_level(logging.INFO, logger="sundown")
    tick_daemon_once(datetime(2026, 11, 25, 22, 0, tzinfo=UTC))
    assert not marker.exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("belongs to another user" in w for w in warnings), warnings


class EventLogRows:
    def __init__(self, box: Sandbox) -> None:
        self.box = box

    def notified(self) -> list[str]:
        with closing(sqlite3.connect(self.box.db_path)) as conn, conn:
            rows = conn.execute("SELECT reminder FROM events WHERE event = 'notified'").fetchall()
        conn.close()
        return [r for (r,) in rows]


# --- the control socket -----------------------------------------------------------------------


def exchange(path: Path, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes to the daemon's socket and read until it closes (or answers a line)."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return b""
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
        return reply


CONTROL_INPUTS = [
    b"",
    b"\n",
    b"garbage\n",
    b"[1, 2]\n",
    b"null\n",
    b'{"cmd": null}\n',
    b'{"cmd": ["refresh"]}\n',
    b'{"cmd": "shutdown"}\n',
    b'{"cmd": "refresh"',  # no newline, then EOF
    b"\xff\xfe\x00\n",
    b'{"cmd": "status", "cmd": "reload"}\n',
    b'{"cmd": "refresh"}\n{"cmd": "reload"}\n',
    b"{" * 70000 + b"\n",
    b'"' + b"a" * 100000 + b'"\n',
    b'{"cmd": "' + "\u202e\u00e9".encode() + b'"}\n',
]


@pytest.mark.e2e
def test_garbage_on_the_control_socket_gets_an_error_and_the_daemon_carries_on(sandbox: Sandbox):
    evening = Evening(tea=600)
    sandbox.write_config(evening.text())
    proc = sandbox.start_daemon("--backend", "console")
    try:
        path = resolve_paths(sandbox.env).socket
        for data in CONTROL_INPUTS:
            reply = exchange(path, data)
            if reply:
                answer = json.loads(reply.splitlines()[0])
                assert isinstance(answer, dict) and "ok" in answer, (data[:40], reply[:200])
                if not data.startswith((b'{"cmd": "refresh"}', b'{"cmd": "status", "cmd": "reload"}')):
                    assert answer["ok"] is False, (data[:40], answer)  # refused, with a reason
                    assert answer.get("error"), answer
        status = json.loads(sandbox.run("status", "--json", check=True).stdout)
        assert status["running"] and status["pid"] == proc.pid
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


@pytest.mark.e2e
def test_a_client_that_connects_and_says_nothing_does_not_lock_out_the_cli(sandbox: Sandbox):
    import socket

    evening = Evening(tea=600)
    sandbox.write_config(evening.text())
    proc = sandbox.start_daemon("--backend", "console")
    try:
        path = resolve_paths(sandbox.env).socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
            silent.connect(str(path))
            silent.sendall(b'{"cmd": ')  # and then nothing, connection held open
            t0 = time.monotonic()
            ack = sandbox.run("ack", "tea", "--night", "2026-11-20", "--force")
            took = time.monotonic() - t0
        assert ack.returncode == 0, ack.stderr
        assert "no daemon is running" not in ack.stderr, "the daemon got the nudge"
        assert took < 5, took
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "Traceback" not in err, err
