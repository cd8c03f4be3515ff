"""Coverage-guided fuzzing of `config.parse` with atheris (libFuzzer): only ConfigError may escape.

    python3 bench/fuzz_config.py -max_total_time=60 -timeout=10   # a minute, seeded with the example
    python3 bench/fuzz_config.py -runs=2000 -artifact_prefix=/tmp/

A routine that parses is also planned and decided for a night (what the daemon's tick does),
so a config that hangs the daemon shows up as a libFuzzer timeout. tests/test_fuzz.py does the
same with hypothesis on every test run; this finds deeper cases over longer runs. A crash (any
other exception) or a timeout is written as `crash-*` / `timeout-*` for replay.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import tomllib  # noqa: F401 - instrumented too: its errors must become ConfigError

    from sundown.config import example_text, parse, zone_for
    from sundown.core.dispatch import decide
    from sundown.core.plan import NightChanges, night_plan
    from sundown.errors import ConfigError

NIGHT = date(2026, 10, 24)  # the night before the October DST change in most of the northern zones


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        routine = parse(text, "fuzz.toml")
        zone = zone_for(routine)
    except ConfigError as exc:
        if not exc.problems or not all(isinstance(p, str) and p for p in exc.problems):
            raise AssertionError(f"a ConfigError without its problems: {exc.problems!r}") from None
        return
    plan = night_plan(routine, NIGHT, zone, NightChanges())
    for occ in plan.occurrences if plan else ():
        occ.repeat_times()
    noon = datetime(NIGHT.year, NIGHT.month, NIGHT.day, 12, tzinfo=zone)
    for hours in (10, 11.5):
        decide(routine, zone, noon + timedelta(hours=hours), {}, {})


def main() -> None:
    corpus = Path(tempfile.mkdtemp(prefix="sundown-fuzz-"))
    (corpus / "example.toml").write_text(example_text())
    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
