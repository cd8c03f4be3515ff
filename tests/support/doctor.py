"""Reading `sundown doctor`'s report as a person does: a check's detail and its fix go on under
themselves when the terminal is narrow, so each is read whole, not line by line."""

from __future__ import annotations

import re

CHECK = re.compile(r"^(ok  |warn|FAIL)  (\S.*?)  +(\S.*)$")


def doctor_lines(stdout: str) -> dict[str, str]:
    """Each check by name: its first line with the lines it goes on in joined to it ("ok    service
    sundown.service is ..."), and its fix as NAME.fix ("fix: ..."), joined the same way."""
    out: dict[str, str] = {}
    key = ""
    for line in stdout.splitlines():
        found = CHECK.match(line)
        if found:
            key = found.group(2)
            out[key] = line
        elif key and line.startswith(" ") and line.strip().startswith("fix: "):
            key = key.split(".fix")[0] + ".fix"
            out[key] = line.strip()
        elif key and line.startswith(" "):
            out[key] += " " + line.strip()
        else:
            key = ""  # the summary line
    return out
