"""Coverage-guided fuzzing of `config.parse` with atheris (libFuzzer): only ConfigError may escape.

    python3 bench/fuzz_config.py -max_total_time=60          # a minute, seeded with the example
    python3 bench/fuzz_config.py -runs=2000 -artifact_prefix=/tmp/

tests/test_fuzz.py does the same with hypothesis on every test run; this finds deeper cases
over longer runs. A crash (any other exception) is written as `crash-*` for replay.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import tomllib  # noqa: F401 - instrumented too: its errors must become ConfigError

    from sundown.config import example_text, parse
    from sundown.errors import ConfigError


def one_input(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        parse(text, "fuzz.toml")
    except ConfigError as exc:
        if not exc.problems or not all(isinstance(p, str) and p for p in exc.problems):
            raise AssertionError(f"a ConfigError without its problems: {exc.problems!r}") from None


def main() -> None:
    corpus = Path(tempfile.mkdtemp(prefix="sundown-fuzz-"))
    (corpus / "example.toml").write_text(example_text())
    atheris.Setup([*sys.argv, str(corpus)], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
