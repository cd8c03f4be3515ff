"""Raw TOML checked against the declarative key spec: every problem found, each with its line.

tomllib gives no line numbers for keys, so `KeyLines` finds them by scanning the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sundown.config.lines import BARE_KEY_CHARS, KeyLines
from sundown.config.spec import Key, KeyPath, Table, TableOf
from sundown.config.values import ID_RE, Invalid, closest, show


def dotted(path: KeyPath) -> str:
    """`reminders.screens-off.before`; keys that are not bare TOML keys are quoted."""
    parts = []
    for p in path:
        if isinstance(p, int):
            continue
        parts.append(p if p and set(p) <= BARE_KEY_CHARS else show(p))
    return ".".join(parts)


@dataclass
class Problems:
    """Every problem found in one config file, each with its line: all are shown at once."""

    name: str
    lines: KeyLines
    found: list[tuple[int, int, str]] = field(default_factory=list)

    def add(self, path: KeyPath, message: str, index: int | None = None) -> None:
        where = path + (index,) if index is not None else path
        line = self.lines.line_of(where)
        label = dotted(path) or "(top level)"
        self.found.append((line, len(self.found), f"{self.name}:{line}: {label}: {message}"))

    def __bool__(self) -> bool:
        return bool(self.found)

    def messages(self) -> list[str]:
        """In file order; problems on one line in the order they were found."""
        return [text for _, _, text in sorted(self.found)]


def walk_table(spec: Table, raw: object, path: KeyPath, problems: Problems) -> dict[str, Any]:
    """The valid, converted values of `raw`; every problem found is added to `problems`."""
    if not isinstance(raw, dict):
        header = f"[{dotted(path)}]" if path else "a table"
        problems.add(path, f"{show(raw)} is not a table; write a {header} section")
        return {}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        sub = path + (key,)
        child = spec.keys.get(key)
        if child is None:
            known = list(spec.keys)
            names = ", ".join(known)
            problems.add(sub, f"unknown key{closest(key, known)} (known here: {names})")
        elif isinstance(child, Key):
            try:
                values[key] = child.read(value)
            except Invalid as exc:
                for message, index in exc.issues:
                    problems.add(sub, message, index)
        elif isinstance(child, Table):
            values[key] = walk_table(child, value, sub, problems)
        else:
            values[key] = walk_table_of(child, value, sub, problems)
    return values


def walk_table_of(spec: TableOf, raw: object, path: KeyPath, problems: Problems) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict):
        problems.add(path, f"{show(raw)} is not a table; write one [{dotted(path)}.ID] section per step")
        return {}
    items: dict[str, dict[str, Any]] = {}
    for key, value in raw.items():
        sub = path + (key,)
        if not ID_RE.fullmatch(key):
            suggestion = suggest_id(key)
            problems.add(
                sub,
                f"{show(key)} is not a valid reminder id: ids use lowercase letters, digits, '-' and '_',"
                f' and start with a letter or digit (e.g. "{suggestion}")',
            )
        items[key] = walk_table(spec.item, value, sub, problems)
    return items


def suggest_id(key: str) -> str:
    """A valid id close to `key`: "Café Time" -> "cafe-time" (accents dropped, not the letters)."""
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFKD", key) if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9_-]+", "-", plain.lower()).strip("-_") or "wind-down"


# --- TOML syntax errors -----------------------------------------------------------------------

HEADER_RE = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")


def _first_declared(lines: list[str], line: int, message: str) -> str:
    """For a table declared twice, or a key given twice, where the first one is (or nothing)."""
    twice = re.match(r"[Cc]annot declare \[([^\]]+)\] twice", message)
    if twice:
        path: KeyPath = tuple(twice.group(1).split("."))
        said = f"; the first [{twice.group(1)}] is on line {{}}: keep one of the two sections"
    elif message.lower().startswith("cannot overwrite a value") and 0 < line <= len(lines):
        key = lines[line - 1].partition("=")[0].strip()
        table = next((m.group(1) for t in reversed(lines[: line - 1]) if (m := HEADER_RE.match(t))), "")
        path = tuple(_parts(table) + _parts(key))
        said = f"; {key} is already set on line {{}}: keep one of the two"
    else:
        return ""
    first = KeyLines("\n".join(lines[: line - 1])).lines.get(path)
    return said.format(first) if first is not None and first < line else ""


def _parts(dotted_key: str) -> list[str]:
    """`reminders."wind down"` -> ["reminders", "wind down"] (quotes dropped; a dot in quotes kept)."""
    return [a or b for a, b in re.findall(r'"([^"]*)"|([^."\s]+)', dotted_key)]


AT_RE = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


def syntax_problem(name: str, text: str, exc: Exception) -> str:
    """`PATH:LINE:COL: message` from a TOMLDecodeError (whose position is in its message)."""
    message = str(exc)
    lines = text.replace("\r\n", "\n").split("\n")
    m = AT_RE.search(message)
    if m and m.group(1):
        line, col = int(m.group(1)), int(m.group(2))
    else:
        # "end of document": point at the last line that has something on it.
        line = max((n for n, t in enumerate(lines, 1) if t.strip()), default=1)
        col = len(lines[line - 1]) + 1 if lines else 1
    if m:
        message = message[: m.start()]
    message = re.sub(
        r"\(((?:'[^']*'(?:, )?)+),?\)",
        lambda t: "[" + ".".join(re.findall(r"'([^']*)'", t.group(1))) + "]",
        message,
    )
    message += _first_declared(lines, line, message)
    if message.startswith("Illegal character '\\n'") or message.startswith("Unterminated string"):
        message = "a string is not closed (its closing quote is missing)"
    message = message[:1].lower() + message[1:]
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    value = source.partition("=")[2].split("#")[0].strip()
    if "=" in source and re.fullmatch(r"\d{1,2}:\d{2}", value):
        message += f'; times are strings: write "{value}"'
    elif "=" in source and re.fullmatch(r"-?(\d+[hms])+", value):
        message += f'; durations are strings: write "{value}"'
    return f"{name}:{line}:{col}: TOML syntax error: {message}"
