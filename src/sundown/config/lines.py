"""Where each key stands in the TOML text: tomllib gives no line numbers for keys."""

from __future__ import annotations

import re

from sundown.config.spec import KeyPath

BARE_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


class KeyLines:
    """The line on which each key path (and list element) first appears.

    The text is already known to be valid TOML, so this scanner is lenient: at worst
    a path is not found and the caller falls back to its table's line.
    """

    def __init__(self, text: str) -> None:
        self.s = text.replace("\r\n", "\n")
        self.i = 0
        self.line = 1
        self.lines: dict[KeyPath, int] = {}
        try:
            self._document()
        except IndexError:  # ran off the end of a construct we did not understand
            pass

    def line_of(self, path: KeyPath) -> int:
        """The path's own line, else its closest recorded parent's, else 1."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return 1

    def _record(self, path: KeyPath, start: int = 0) -> None:
        for n in range(max(start, 1), len(path) + 1):
            self.lines.setdefault(path[:n], self.line)

    def _peek(self, k: int = 1) -> str:
        return self.s[self.i : self.i + k]

    def _spaces(self) -> None:
        while self._peek() in (" ", "\t") and self._peek():
            self.i += 1

    def _blank(self) -> None:
        """Skip spaces, newlines and comments."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r":
                self.i += 1
            elif c == "\n":
                self.i += 1
                self.line += 1
            elif c == "#":
                self._to_eol()
            else:
                return

    def _to_eol(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = len(self.s) if end < 0 else end

    def _document(self) -> None:
        table: KeyPath = ()
        while True:
            self._blank()
            if self.i >= len(self.s):
                return
            start = self.i
            if self._peek() == "[":
                self.i += 2 if self._peek(2) == "[[" else 1
                self._spaces()
                table = self._key()
                self._record(table)
                self._to_eol()
            else:
                self._pair(table)
                if self.i == start:  # not understood: never loop forever
                    self._to_eol()

    def _pair(self, table: KeyPath) -> None:
        """`key = value` at the cursor, in `table` (the document's current table, an inline one)."""
        path = table + self._key()
        self._spaces()
        if self._peek() == "=":
            self.i += 1
            self._spaces()
            self._record(path, len(table) + 1)
            self._value(path)

    def _key(self) -> KeyPath:
        parts: list[str] = []
        while True:
            self._spaces()
            c = self._peek()
            if c in ('"', "'"):
                parts.append(self._string())
            else:
                begin = self.i
                while self._peek() and self._peek() in BARE_KEY_CHARS:
                    self.i += 1
                if self.i == begin:
                    return tuple(parts)
                parts.append(self.s[begin : self.i])
            self._spaces()
            if self._peek() != ".":
                return tuple(parts)
            self.i += 1

    def _string(self) -> str:
        quote = self.s[self.i]
        if self._peek(3) == quote * 3:
            self.i += 3
            end = self.s.find(quote * 3, self.i) if quote == "'" else self._find_basic_end(self.i, multi=True)
            end = len(self.s) if end < 0 else end
            while self.s[end + 3 : end + 4] == quote and end + 3 < len(self.s):
                end += 1  # up to two quotes may close the string's content: """a"""""
            content = self.s[self.i : end]
            self.line += content.count("\n")
            self.i = end + 3
            return content
        self.i += 1
        if quote == "'":
            end = self.s.find("'", self.i)
            end = len(self.s) if end < 0 else end
            content = self.s[self.i : end]
        else:
            end = self._find_basic_end(self.i, multi=False)
            content = re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), self.s[self.i : end])
        self.i = end + 1
        return content

    def _find_basic_end(self, i: int, multi: bool) -> int:
        closing = '"""' if multi else '"'
        while i < len(self.s):
            if self.s[i] == "\\":
                i += 2
            elif self.s.startswith(closing, i):
                return i
            else:
                i += 1
        return len(self.s)

    def _value(self, path: KeyPath) -> None:
        c = self._peek()
        if c in ('"', "'"):
            self._string()
        elif c == "{":
            self.i += 1
            while True:
                self._blank()
                if self._peek() in ("}", ""):
                    self.i += 1
                    return
                begin = self.i
                self._pair(path)
                self._blank()
                if self._peek() == ",":
                    self.i += 1
                elif self.i == begin:
                    self.i += 1
        elif c == "[":
            self.i += 1
            index = 0
            while True:
                self._blank()
                if self._peek() in ("]", ""):
                    self.i += 1
                    return
                begin = self.i
                self._record(path + (index,), len(path) + 1)
                self._value(path + (index,))
                self._blank()
                if self._peek() == ",":
                    self.i += 1
                elif self.i == begin:
                    self.i += 1
                index += 1
        else:
            while self._peek() and self._peek() not in ",]}\n#":
                self.i += 1
