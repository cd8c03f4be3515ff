"""Config validation (docs/config.md): every broken config in tests/configs/bad is reported as
`FILE:LINE: KEY.PATH: message` with exit 78 and no traceback; good configs pass."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sundown import config
from sundown.config import spec
from sundown.config.lines import KeyLines
from sundown.core.routine import DEFAULT_REPEAT_LIMIT
from sundown.errors import ConfigError
from sundown.paths import Paths

REPO = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).resolve().parent / "configs"
BAD = sorted((CONFIGS / "bad").glob("*.toml"))
GOOD = sorted((CONFIGS / "good").glob("*.toml"))
EXPECT = re.compile(rb"^# expect: (\d+)(?::(\d+))? (.+?)\s*$", re.M)

MINIMAL = '[bedtime]\ndefault = "22:30"\n'


def expectations(path: Path) -> list[str]:
    """The `# expect:` lines of a bad config as the stderr prefixes they promise."""
    found = []
    for line, col, what in EXPECT.findall(path.read_bytes()):
        where = f"{path}:{int(line)}"
        if what == b"syntax":
            found.append(f"{where}:{int(col)}: TOML syntax error: ")
        elif what == b"utf8":
            found.append(f"{where}:{int(col)}: not UTF-8 text")
        else:
            found.append(f"{where}: {what.decode()}: ")
    return found


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        config.parse(text, "c.toml")
    return info.value.problems


def test_the_corpus_is_large_and_every_file_states_its_expectation() -> None:
    assert len(BAD) >= 30
    for path in BAD:
        assert expectations(path), f"{path.name} has no `# expect:` line"


def run_in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`sundown ARGV` through the CLI's own main(), in this process: the corpus needs no subprocesses."""
    from sundown.cli import main

    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_is_reported_with_line_and_key(sandbox, capsys, path: Path) -> None:
    code, out, err = run_in_process(capsys, "check", str(path))
    assert code == 78, err
    assert "Traceback" not in err
    assert out == ""
    lines = err.splitlines()
    expected = expectations(path)
    for prefix in expected:
        assert any(line.startswith(prefix) for line in lines), f"missing {prefix!r} in:\n{err}"
    # Exactly the promised problems: nothing left out, nothing extra.
    assert len(lines) == len(expected), err


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_config_through_the_config_option_too(sandbox, capsys, path: Path) -> None:
    code, _, err = run_in_process(capsys, "--config", str(path), "next", "--count", "1")
    assert code == 78, err
    assert "Traceback" not in err


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_good_config_passes(sandbox, capsys, path: Path) -> None:
    code, out, err = run_in_process(capsys, "check", str(path))
    assert code == 0, err
    assert f"{path}: OK" in out


@pytest.mark.e2e
@pytest.mark.parametrize("path", [BAD[0], GOOD[0]], ids=["bad", "good"])
def test_check_as_a_real_command_matches_the_in_process_result(sandbox, capsys, path: Path) -> None:
    """The smoke test that the corpus's in-process verdicts are what a user's shell sees."""
    code, out, err = run_in_process(capsys, "check", str(path))
    proc = sandbox.run("check", str(path))
    assert (proc.returncode, proc.stdout, proc.stderr) == (code, out, err)
    assert "Traceback" not in proc.stderr


def test_messages_quote_the_bad_value_and_say_how_to_fix_it() -> None:
    text = MINIMAL + '[reminders.magnesium]\nbefore = "45"\n'
    assert problems(text) == [
        'c.toml:4: reminders.magnesium.before: "45" is not a duration; write e.g. "45m" or "1h30m"'
    ]
    (msg,) = problems(MINIMAL + '[reminders.tea]\nbefore = "1h"\ndays = ["mon", "monday"]\n')
    assert '"monday" is not a weekday' in msg and "mon, tue, wed, thu, fri, sat, sun" in msg
    (msg,) = problems('[bedtime]\ndefault = "7:5"\n')
    assert '"7:5"' in msg and '"07:05"' in msg
    (msg,) = problems(MINIMAL + '[reminders.Big]\nbefore = "1h"\n')
    assert "lowercase letters, digits" in msg and '"big"' in msg
    (msg,) = problems(MINIMAL + '[reminders.tea]\nbefor = "1h"\nat = "21:00"\n')
    assert 'did you mean "before"' in msg


def test_syntax_error_carries_line_and_column_and_a_hint() -> None:
    (msg,) = problems("[bedtime]\ndefault = 22:30\n")
    assert msg.startswith("c.toml:2:13: TOML syntax error: ")
    assert 'times are strings: write "22:30"' in msg
    (msg,) = problems(MINIMAL + "[reminders.tea]\nbefore = 45m\n")
    assert msg.startswith("c.toml:4:") and 'durations are strings: write "45m"' in msg


def test_a_table_or_key_given_twice_names_where_the_first_one_is() -> None:
    text = MINIMAL + '[reminders.tea]\nbefore = "1h"\n[reminders.mg]\nbefore = "45m"\n[reminders.tea]\n'
    (msg,) = problems(text)
    assert msg == (
        "c.toml:7:15: TOML syntax error: cannot declare [reminders.tea] twice;"
        " the first [reminders.tea] is on line 3: keep one of the two sections"
    )
    (msg,) = problems(MINIMAL + '[reminders.tea]\nbefore = "1h"\ntitle = "Tea"\nbefore = "2h"\n')
    assert msg.endswith("cannot overwrite a value; before is already set on line 4: keep one of the two")


def test_one_typo_of_before_is_one_problem() -> None:
    """Before: the unknown key, and 'needs "before" or "at"' for the same typo."""
    assert problems(MINIMAL + '[reminders.tea]\nbefor = "1h"\n') == [
        'c.toml:4: reminders.tea.befor: unknown key; did you mean "before"? (known here: before, at, title,'
        " body, repeat, repeat_limit, run, days, done_when, urgent, snooze_limit, escalate)"
    ]
    assert len(problems(MINIMAL + '[reminders.tea]\ntitle = "Tea"\n')) == 1  # neither: still said


def test_check_warns_of_a_reminder_after_bedtime(sandbox, capsys) -> None:
    path = sandbox.write_config(
        '[bedtime]\ndefault = "22:30"\nfri = "23:30"\n[reminders.phone-away]\nat = "23:00"\n'
        '[reminders.tea]\nat = "22:00"\n'
    )
    code, out, err = run_in_process(capsys, "check")
    assert code == 0 and out.startswith(f"{path}: OK")
    assert err.splitlines() == [  # before: nothing said, only "+30m" in the timeline
        f'{path}:5: reminders.phone-away.at: warning: "23:00" is after bedtime: 30m after 22:30'
        " (mon, tue, wed, thu, sat, sun evenings); an earlier time sends it before"
    ]


def test_errors_come_in_file_order() -> None:
    text = '[bedtime]\ndefault = "22:61"\n[notify]\nsnooze = "0m"\nbackend = "x"\ncolour = 1\n'
    got = problems(text)
    assert [int(p.split(":")[1]) for p in got] == [2, 4, 5, 6]


# --- values and defaults ----------------------------------------------------------------------


def test_defaults_title_body_repeat_limit() -> None:
    r = config.parse(
        MINIMAL
        + '[reminders.screens-off]\nat = "22:00"\n[reminders.tea_time]\nbefore = "1h"\nrepeat = "5m"\n',
        "c",
    )
    screens, tea = r.reminders
    assert screens.title == "Screens off" and screens.body == "" and screens.repeat is None
    assert tea.title == "Tea time" and tea.repeat_limit == DEFAULT_REPEAT_LIMIT == 3
    assert r.backend == "auto" and r.snooze == timedelta(minutes=10) and r.timezone is None


def test_durations() -> None:
    def before(text: str) -> timedelta | None:
        return config.parse(MINIMAL + f'[reminders.x]\nbefore = "{text}"\n', "c").reminders[0].before

    assert before("0m") == timedelta(0)
    assert before("1h30m") == timedelta(hours=1, minutes=30)
    assert before("50m6s") == timedelta(minutes=50, seconds=6)
    assert before("90m") == timedelta(minutes=90)
    assert before("12h") == timedelta(hours=12)
    for bad in ("10", "-10m", "1h 30m", "1.5h", "", "30M", "12h1s", "m"):
        assert problems(MINIMAL + f'[reminders.x]\nbefore = "{bad}"\n'), bad


def test_times_accept_toml_local_time_and_exact_hh_mm_only() -> None:
    r = config.parse('[bedtime]\ndefault = 22:30:00\nsat = "00:30"\n', "c")
    assert r.bedtime.for_weekday(0) == time(22, 30) and r.bedtime.for_weekday(5) == time(0, 30)
    for bad in ("25:00", "7:5", "07:5", "24:00", "22:60", "2230", "10pm", "22:30:00"):
        assert problems(f'[bedtime]\ndefault = "{bad}"\n'), bad


def test_all_seven_weekdays_need_no_default() -> None:
    days = "".join(
        f'{d} = "2{i % 4}:00"\n' for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
    )
    r = config.parse("[bedtime]\n" + days, "c")
    assert r.bedtime.for_weekday(6) == time(22, 0)


def test_skip_dates_as_strings_or_toml_dates() -> None:
    r = config.parse(MINIMAL + '[skip]\ndates = ["2026-12-24", 2026-12-31]\n', "c")
    assert r.skip_dates == {date(2026, 12, 24), date(2026, 12, 31)}


def test_crlf_line_endings_are_fine_and_lines_still_count() -> None:
    good = (MINIMAL + '[reminders.tea]\nbefore = "1h"\nbody = """two\nlines"""\n').replace("\n", "\r\n")
    assert config.parse(good, "c").reminders[0].body in ("two\nlines", "two\r\nlines")
    bad = (MINIMAL + '\n[reminders.tea]\nbefore = "1h"\nat = "21:00"\n').replace("\n", "\r\n")
    assert problems(bad) == [
        'c.toml:6: reminders.tea.at: is given together with "before"; keep exactly one of the two'
    ]


@pytest.mark.e2e
def test_crlf_config_through_the_cli(sandbox, tmp_path: Path) -> None:
    path = tmp_path / "crlf.toml"
    path.write_bytes(
        (MINIMAL + '[reminders.tea]\nbefore = "1h"\ndays = ["mon", "xyz"]\n').replace("\n", "\r\n").encode()
    )
    proc = sandbox.run("check", str(path))
    assert proc.returncode == 78 and f"{path}:5: reminders.tea.days: " in proc.stderr
    path.write_bytes((MINIMAL + '[reminders.tea]\nbefore = "1h"\n').replace("\n", "\r\n").encode())
    assert sandbox.run("check", str(path)).returncode == 0


def test_utf8_text_and_bom() -> None:
    r = config.parse(
        '\ufeff[bedtime]\ndefault = "22:30"\n[reminders.tee]\nat = "21:00"\ntitle = "Tee ☕"\n', "c"
    )
    assert r.reminders[0].title == "Tee ☕"


def test_unreadable_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        config.load(tmp_path)


# --- the example config and the built-in default ------------------------------------------------


def test_example_config_is_the_default_routine_and_loads() -> None:
    r = config.default_routine()
    ids = [x.id for x in r.reminders]
    assert ids == ["wind-down", "magnesium", "screens-off", "bedtime"]
    assert r.reminder("bedtime").before == timedelta(0)  # type: ignore[union-attr]
    magnesium = r.reminder("magnesium")
    assert magnesium is not None and magnesium.repeat and magnesium.repeat_limit == 3
    screens = r.reminder("screens-off")
    assert screens is not None and screens.at == time(22, 0) and screens.days and len(screens.days) == 5
    assert r.bedtime.for_weekday(0) != r.bedtime.for_weekday(5)  # a weekend override
    assert config.parse((REPO / "config.example.toml").read_text(), "example") == r


def test_example_config_comments_every_key() -> None:
    text = config.example_text()
    for key in (
        "timezone",
        "default",
        "backend",
        "snooze",
        "before",
        "at",
        "title",
        "body",
        "repeat",
        "repeat_limit",
        "run",
        "days",
        "dates",
    ):
        assert re.search(rf"^#? ?{key} = ", text, re.M), key
    # The optional keys that would change behaviour are commented out.
    for key in ("timezone", "run", "dates"):
        assert re.search(rf"^# {key} = ", text, re.M), key


def test_root_example_is_the_packaged_one() -> None:
    root = REPO / "config.example.toml"
    packaged = REPO / "src" / "sundown" / "config.example.toml"
    assert root.read_bytes() == packaged.read_bytes()


def test_declarative_spec_documents_every_key() -> None:
    def walk(table: spec.Table) -> int:
        n = 0
        for child in table.keys.values():
            assert child.doc
            if isinstance(child, spec.Table):
                n += walk(child)
            elif isinstance(child, spec.TableOf):
                n += walk(child.item)
            else:
                n += 1
        return n

    assert walk(spec.FILE) >= 20


# --- zones ---------------------------------------------------------------------------------------


def test_zone_from_config(tmp_path: Path) -> None:
    r = config.parse('timezone = "America/New_York"\n' + MINIMAL, "c")
    assert config.zone_for(r) == ZoneInfo("America/New_York")


def test_system_zone_from_tz_then_localtime_link_then_utc(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Asia/Tokyo")
    assert config.system_zone({"TZ": "Europe/Berlin"}, link).key == "Europe/Berlin"
    assert config.system_zone({"TZ": ":Europe/Berlin"}, link).key == "Europe/Berlin"
    assert config.system_zone({"TZ": "/usr/share/zoneinfo/Europe/Paris"}, link).key == "Europe/Paris"
    assert config.system_zone({"TZ": "CET-1CEST"}, link).key == "Asia/Tokyo"
    assert config.system_zone({}, link).key == "Asia/Tokyo"
    assert config.system_zone({}, tmp_path / "missing").key == "UTC"


def test_load_for_default_and_explicit(tmp_path: Path) -> None:
    missing = tmp_path / "config.toml"
    loaded = config.load_for(Paths(missing, False, tmp_path, tmp_path))
    assert loaded.path is None and loaded.routine == config.default_routine()
    with pytest.raises(ConfigError, match="no such config file"):
        config.load_for(Paths(missing, True, tmp_path, tmp_path))
    missing.write_text('timezone = "Asia/Tokyo"\n' + MINIMAL)
    loaded = config.load_for(Paths(missing, False, tmp_path, tmp_path))
    assert loaded.path == missing and loaded.zone.key == "Asia/Tokyo"


# --- the line finder ------------------------------------------------------------------------------


def test_key_lines_handles_headers_dotted_inline_and_arrays() -> None:
    text = (
        "a = 1\n"
        "[t.u]\n"
        "v = { w = 1, 'x y' = [1,\n"
        "  2] }\n"
        'z."q.r" = """\n'
        "s\n"
        '"""\n'
        "k = [\n"
        "  'a', # c\n"
        '  "b",\n'
        "]\n"
        "[[arr]]\n"
        "e = 1\n"
    )
    lines = KeyLines(text)
    assert lines.line_of(("a",)) == 1
    assert lines.line_of(("t",)) == 2 and lines.line_of(("t", "u")) == 2
    assert lines.line_of(("t", "u", "v", "w")) == 3
    assert lines.line_of(("t", "u", "v", "x y", 1)) == 4
    assert lines.line_of(("t", "u", "z", "q.r")) == 5
    assert lines.line_of(("t", "u", "k")) == 8
    assert lines.line_of(("t", "u", "k", 1)) == 10
    assert lines.line_of(("t", "u", "nothing")) == 2
    assert lines.line_of(("arr", "e")) == 13
    assert lines.line_of(("nowhere",)) == 1


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]{}=.,'\"#\n\r\t abc1-:\\")), max_size=80))
def test_key_lines_never_fails_or_hangs_on_any_text(text: str) -> None:
    lines = KeyLines(text)
    assert lines.line_of(("a", "b")) >= 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_parse_raises_only_config_errors(text: str) -> None:
    try:
        config.parse(text, "fuzz.toml")
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("fuzz.toml:") for p in exc.problems)


VALUES = [
    '"22:30"',
    '"25:00"',
    '"7:5"',
    "22:30:00",
    '"45m"',
    '"45"',
    '"-5m"',
    '"0m"',
    '"13h"',
    "10",
    "0",
    "true",
    '""',
    '"x"',
    "[]",
    '["mon", "x"]',
    '["sun"]',
    '["a", ""]',
    "2026-12-24",
    '["2026-12-24"]',
    '["2026-02-30"]',
    '"Europe/Berlin"',
    '"Nowhere/Zone"',
    '"auto"',
    '"dbus-x"',
    "{ a = 1 }",
    '"""multi\nline"""',
]
REMINDER_KEYS = ["before", "at", "title", "body", "repeat", "repeat_limit", "run", "days", "bogus"]


@st.composite
def documents(draw: st.DrawFn) -> str:
    """TOML text shaped like a config, with random (often wrong) values, in random styles."""
    value = st.sampled_from(VALUES)
    out = []
    if draw(st.booleans()):
        out.append(f"timezone = {draw(value)}")
    sections = {
        "bedtime": draw(
            st.lists(st.sampled_from(["default", "mon", "sat", "funday"]), unique=True, max_size=3)
        ),
        "notify": draw(st.lists(st.sampled_from(["backend", "snooze", "colour"]), unique=True, max_size=2)),
        "skip": draw(st.lists(st.just("dates"), max_size=1)),
    }
    ids = draw(st.lists(st.sampled_from(["tea", "wind-down", "Bad Id", "x_1"]), unique=True, max_size=3))
    for rid in ids:
        name = rid if " " not in rid else f'"{rid}"'
        sections[f"reminders.{name}"] = draw(
            st.lists(st.sampled_from(REMINDER_KEYS), unique=True, max_size=4)
        )
    for table, keys in sections.items():
        if draw(st.booleans()):
            out.append(f"\n[{table}]")
            out.extend(f"{k} = {draw(value)}" for k in keys)
        elif keys:
            out.extend(f"{table}.{k} = {draw(value)}" for k in keys)
    return "\n".join(out) + "\n"


PROBLEM = re.compile(r"^c\.toml:(\d+): (.+?): ")


@settings(max_examples=300, deadline=None)
@given(documents())
def test_every_reported_line_mentions_the_key(text: str) -> None:
    """The line finder's promise: the line of a problem names its key (or its table)."""
    try:
        config.parse(text, "c.toml")
        return
    except ConfigError as exc:
        found = exc.problems
    lines = text.split("\n")
    for problem in found:
        m = PROBLEM.match(problem)
        if m is None:
            assert ": TOML syntax error: " in problem, problem
            continue
        line, path = int(m.group(1)), m.group(2)
        last = re.findall(r'"[^"]*"|[^.]+', path)[-1].strip('"')
        if path == "bedtime" and "missing" in problem:
            continue  # no [bedtime] at all: line 1 by definition
        assert last in lines[line - 1], (problem, text)


def test_notify_tray_turns_the_tray_icon_off_and_a_wrong_value_is_an_error_with_its_line() -> None:
    assert config.parse(MINIMAL, "c").tray is True
    assert config.parse(MINIMAL + "[notify]\ntray = false\n", "c").tray is False
    [problem] = problems(MINIMAL + '[notify]\nbackend = "auto"\ntray = "no"\n')
    expected = r"c\.toml:\d+: notify\.tray: \"no\" is not true or false; write true or false"
    assert re.match(expected, problem), problem
    line = int(problem.split(":")[1])
    assert (MINIMAL + '[notify]\nbackend = "auto"\ntray = "no"\n').splitlines()[line - 1] == 'tray = "no"'
