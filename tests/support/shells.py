"""Real bash, zsh and fish completing a command line with sundown's completion scripts.

Each asks the shell itself for the words Tab would offer: bash calls the completion function
`complete -p sundown` names with COMP_WORDS set as readline would; fish answers `complete -C`;
zsh runs interactively in a pseudo-terminal (zsh/zpty), presses Tab, and a `compadd` wrapper
prints every candidate the completion system adds.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from support.sandbox import REPO


def require_shell(name: str) -> str:
    import os
    import shutil

    found = shutil.which(name)
    if found is None:
        if os.environ.get("SUNDOWN_REQUIRE_E2E") == "1":
            pytest.fail(f"{name} is not installed (apt-get install {name})")
        pytest.skip(f"{name} is not installed")
    return found


def sundown_on_path(bin_dir: Path) -> Path:
    """A `sundown` command in `bin_dir` that runs this checkout's sources, as an install would."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / "sundown"
    wrapper.write_text(
        f'#!/bin/sh\nPYTHONPATH={shlex.quote(str(REPO / "src"))} exec {sys.executable} -m sundown "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper


def _run(argv: list[str], env: Mapping[str, str], stdin: str | None = None) -> str:
    proc = subprocess.run(argv, env=dict(env), input=stdin, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


BASH = """
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
spec=$(complete -p sundown)
function=$(sed -E 's/.* -F ([^ ]+) .*/\\1/' <<<"$spec")
"$function" sundown "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
printf '%s\\n' "${COMPREPLY[@]}"
"""


def bash_complete(script: Path, words: list[str], env: Mapping[str, str]) -> list[str]:
    """What bash offers for the last of `words` (the first is `sundown`; "" completes a new word)."""
    out = _run([require_shell("bash"), "--norc", "--noprofile", "-c", BASH, "bash", str(script), *words], env)
    return sorted(w for w in out.splitlines() if w)


def bash_spec(script: Path, env: Mapping[str, str]) -> str:
    """`complete -p sundown` once the script is sourced."""
    cmd = f"source {shlex.quote(str(script))} && complete -p sundown"
    return _run([require_shell("bash"), "--norc", "--noprofile", "-c", cmd], env).strip()


def fish_complete(script: Path, line: str, env: Mapping[str, str]) -> list[str]:
    """What fish offers for `line` (`complete -C`), without the descriptions."""
    cmd = f"source {shlex.quote(str(script))}; complete -C {shlex.quote(line)}"
    out = _run([require_shell("fish"), "--no-config", "-c", cmd], env)
    return sorted({w.split("\t")[0] for w in out.splitlines() if w})


ZSH = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PROMPT='' RPROMPT=''"
zpty -w z "fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -d $2"
zpty -w z 'compadd () {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  typeset -a __hits
  builtin compadd -A __hits "$@"
  (( $#__hits )) && print -l -- "<hit>"${^__hits[@]}
  builtin compadd "$@"
}'
zpty -w z "bindkey '^I' complete-word; zstyle ':completion:*' menu no"
zpty -w z "print '<rea''dy>'"
zpty -r z line '*<ready>*'
# Tab, then a fresh line that prints a marker: Tab's completion has run once the marker shows.
zpty -w z "$3"$'\t'
zpty -w z $'\x15'"print '<do''ne>'"
zpty -r z out '*<done>*'
print -r -- "$out"
zpty -d z
"""


def zsh_complete(function_dir: Path, line: str, env: Mapping[str, str]) -> list[str]:
    """What zsh's completion system offers for `line` with `_sundown` from `function_dir` on fpath."""
    dump = function_dir.parent / "zcompdump"
    out = _run(
        ["timeout", "50", require_shell("zsh"), "-f", "-c", ZSH, "zsh", str(function_dir), str(dump), line],
        env,
    )
    hits = set()
    for chunk in out.split("<hit>")[1:]:
        word = chunk.split("\r")[0].split("\n")[0].strip()
        if word:
            hits.add(word)
    return sorted(hits)


def zsh_loads(function_dir: Path, env: Mapping[str, str]) -> str:
    """The function compinit binds to `sundown` once `_sundown` is on fpath, after loading it."""
    dump = function_dir.parent / "zcompdump"
    cmd = (
        f"fpath=({shlex.quote(str(function_dir))} $fpath); autoload -Uz compinit; "
        f"compinit -u -d {shlex.quote(str(dump))}; autoload +X _sundown && print -r -- $_comps[sundown]"
    )
    return _run([require_shell("zsh"), "-f", "-c", cmd], env).strip()
