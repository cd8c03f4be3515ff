"""The pages of docs/ for a terminal: paragraphs, list items and tables fitted to its width.

`sundown help TOPIC` prints the Markdown the repository shows, but a terminal neither wraps a
paragraph at a word nor lays out a table: a table row of 150 columns breaks anywhere. Here
paragraphs and list items are re-wrapped, a table that fits is aligned and one that does not
becomes one entry per row (its first cell, then each other cell under its column's name).
Code blocks stay as written, so that what is shown can be copied.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable

MIN_WIDTH = 40
_FENCE = re.compile(r"^\s*(```|~~~)")
_ITEM = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+(.*)$")
_DIVIDER = re.compile(r"^\s*:?-+:?\s*$")


def render(text: str, width: int) -> str:
    """`text` (Markdown) as lines of at most `width` columns, where a single word allows it."""
    width = max(width, MIN_WIDTH)
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _FENCE.match(line):
            end = _fence_end(lines, i)
            for code in lines[i:end]:
                out += _code(code, width)
            i = end
        elif not line.strip():
            out.append("")
            i += 1
        elif line.startswith("#"):
            marks = line.split(" ", 1)[0]
            out += _fill(line[len(marks) :].strip(), width, f"{marks} ", " " * (len(marks) + 1))
            i += 1
        elif line.lstrip().startswith("|"):
            end = _until(lines, i, lambda s: s.lstrip().startswith("|"))
            out += _table([_cells(row) for row in lines[i:end]], width)
            i = end
        elif _ITEM.match(line):
            end = _until(lines, i + 1, _continues)
            out += _item(lines[i:end], width)
            i = end
        else:
            end = _until(lines, i + 1, _continues)
            indent = line[: len(line) - len(line.lstrip())]
            out += _fill(" ".join(s.strip() for s in lines[i:end]), width, indent, indent)
            i = end
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def _code(line: str, width: int) -> list[str]:
    """A line of a code block, as written where it fits; else broken at spaces, going on under
    itself, and a trailing `# comment` going on as a comment (TOML and shell stay valid)."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    comment = line.find(" # ") + 1 if " # " in line else (0 if line.lstrip().startswith("#") else -1)
    if 0 <= comment <= width - 20:
        head = line[:comment].rstrip()
        prefix = " " * comment + "# "
        text = line[comment:].lstrip("#").strip()
        lines = _fill(text, width, prefix, prefix)
        return [head + lines[0][len(head) :], *lines[1:]] if head else lines
    return _fill(line.strip(), width, indent, indent + "    ")


def _fence_end(lines: list[str], start: int) -> int:
    """The index after the closing fence of the code block opened at `start`."""
    for j in range(start + 1, len(lines)):
        if _FENCE.match(lines[j]):
            return j + 1
    return len(lines)


def _until(lines: list[str], start: int, keep: Callable[[str], bool]) -> int:
    """The index of the first line from `start` on that `keep` refuses."""
    j = start
    while j < len(lines) and keep(lines[j]):
        j += 1
    return j


def _continues(line: str) -> bool:
    """Whether `line` goes on the paragraph or list item above it."""
    if not line.strip() or line.startswith("#") or _FENCE.match(line) or _ITEM.match(line):
        return False
    return not line.lstrip().startswith("|")


class _Wrapper(textwrap.TextWrapper):
    """Breaks at spaces only (never in a word or at a hyphen), except where a word cannot fit on a
    line at all: a test's name (`tests/test_x.py::test_...`) is then broken after `::`, `/`, `_` or `.`."""

    def _split(self, text: str) -> list[str]:
        room = self.width - max(len(self.initial_indent), len(self.subsequent_indent))
        chunks: list[str] = []
        for chunk in super()._split(text):
            chunks += _pieces(chunk, room) if len(chunk) > room else [chunk]
        return chunks


def _pieces(word: str, room: int) -> list[str]:
    """`word` in pieces of at most `room` characters (where it allows), each ending at a break."""
    for breaks in (r"(?<=::)", r"(?<=[/:])", r"(?<=_)", r"(?<=\.)"):
        parts = [p for p in re.split(breaks, word) if p]
        pieces: list[str] = []
        for part in parts:
            if pieces and len(pieces[-1]) + len(part) <= room:
                pieces[-1] += part
            else:
                pieces.append(part)
        if all(len(p) <= room for p in pieces):
            return pieces
    return pieces


def _fill(text: str, width: int, first: str, rest: str) -> list[str]:
    wrapper = _Wrapper(
        width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return wrapper.wrap(text) or [first.rstrip()]


def _item(lines: list[str], width: int) -> list[str]:
    m = _ITEM.match(lines[0])
    assert m is not None
    indent, marker, first = m.groups()
    text = " ".join([first, *(s.strip() for s in lines[1:])])
    return _fill(text, width, f"{indent}{marker} ", " " * (len(indent) + len(marker) + 1))


def _cells(row: str) -> list[str]:
    """A table row's cells; `\\|` and a | inside `code` are part of a cell."""
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    cells, cell, code = [], "", False
    k = 0
    while k < len(row):
        c = row[k]
        if c == "\\" and row[k + 1 : k + 2] == "|":
            cell += "|"
            k += 2
            continue
        if c == "`":
            code = not code
        if c == "|" and not code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += c
        k += 1
    cells.append(cell.strip())
    return cells


def _table(rows: list[list[str]], width: int) -> list[str]:
    rows = [r for r in rows if not all(_DIVIDER.match(c) for c in r)]
    if not rows:
        return []
    columns = max(len(r) for r in rows)
    rows = [r + [""] * (columns - len(r)) for r in rows]
    widths = [max(len(r[k]) for r in rows) for k in range(columns)]
    aligned = [rows[0], ["-" * w for w in widths], *rows[1:]]
    if sum(widths) + 2 * (columns - 1) <= width:
        return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in aligned]
    lead = sum(widths[:-1]) + 2 * (columns - 1)
    if width - lead >= 30:  # the last column wrapped beside the others
        out = []
        for r in aligned:
            first = "  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=False)) + "  "
            out += _fill(r[-1][: width - lead] if r is aligned[1] else r[-1], width, first, " " * lead)
        return out
    # Too wide: one entry per row, its first cell and then each other cell under its column's name.
    header, out = rows[0], []
    for row in rows[1:]:
        out += _fill(row[0], width, "", "  ")
        for name, cell in zip(header[1:], row[1:], strict=True):
            if cell:
                label = f"{name}: " if name else ""
                out += _fill(f"{label}{cell}", width, "    ", "      ")
    return out
