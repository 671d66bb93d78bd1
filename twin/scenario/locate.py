"""Line numbers of the keys in a TOML text, so that problems can point into the file.

``tomllib`` parses values but keeps no positions, so this module scans the text once more and
records, for every key, table header and array element, the 1-based line it starts on. The
scanner assumes a document ``tomllib`` has already accepted; on anything it does not understand
it stops and keeps what it found so far, since line numbers are a help, not a requirement.

Paths are tuples of keys (str) and array indexes (int), e.g. ``("sites", 0, "chargers", 2,
"protocol")``, printed by :func:`format_path` as ``sites[0].chargers[2].protocol``.
"""

from __future__ import annotations

import json
import re
import tomllib
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

TomlPath = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = frozenset(",]}#\r\n")


def format_path(path: Sequence[str | int]) -> str:
    """``("sites", 0, "chargers", 2, "id")`` -> ``sites[0].chargers[2].id``; odd keys quoted."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            text += f".{key}" if text else key
    return text


@dataclass(frozen=True)
class KeyLines:
    """Where each key, table and array element of one TOML text starts (1-based lines)."""

    lines: Mapping[TomlPath, int]

    @classmethod
    def of(cls, text: str) -> KeyLines:
        return cls(_Scanner(text).scan())

    def exact(self, path: Sequence[str | int]) -> int | None:
        """The line of exactly this key, element or table; None if it is not in the file."""
        return self.lines.get(tuple(path))

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of ``path`` or else of its nearest ancestor in the file.

        A key missing from a table thus points at the table's header (or at the line where an
        inline table starts); None only when not even the first key is in the file.
        """
        path = tuple(path)
        for length in range(len(path), 0, -1):
            line = self.lines.get(path[:length])
            if line is not None:
                return line
        return None


class _ScanError(Exception):
    """The text is not the TOML the scanner expects; stop and keep what was found."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.lines: dict[TomlPath, int] = {}
        self.headers: set[TomlPath] = set()  # tables opened by their own [header]
        self.array_lengths: dict[TomlPath, int] = {}  # arrays of tables ([[x]]) so far

    def scan(self) -> dict[TomlPath, int]:
        try:
            table: TomlPath = ()
            while True:
                self.skip_blank(newlines=True)
                if self.pos >= len(self.text):
                    break
                if self.peek() == "[":
                    table = self.header()
                else:
                    self.key_value(table)
        except (_ScanError, IndexError):
            pass
        return self.lines

    # -- reading -------------------------------------------------------------------------------

    @property
    def line(self) -> int:
        return bisect_right(self.newlines, self.pos - 1) + 1

    def peek(self, length: int = 1) -> str:
        return self.text[self.pos : self.pos + length]

    def expect(self, token: str) -> None:
        if not self.text.startswith(token, self.pos):
            raise _ScanError(f"expected {token!r} at offset {self.pos}")
        self.pos += len(token)

    def skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces, tabs and comments, and line breaks too when ``newlines``."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t" or (newlines and char in "\r\n"):
                self.pos += 1
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return

    # -- recording -----------------------------------------------------------------------------

    def mark(self, path: TomlPath, line: int, *, exact: bool) -> None:
        """Record ``path`` at ``line``; its ancestors keep the line where they first appeared."""
        for length in range(1, len(path)):
            self.lines.setdefault(path[:length], line)
        if exact:
            self.lines[path] = line
        else:
            self.lines.setdefault(path, line)

    def resolve(self, keys: Sequence[str]) -> TomlPath:
        """A header's dotted keys as a path: arrays of tables mean their latest element."""
        path: TomlPath = ()
        for key in keys:
            path += (key,)
            if path in self.array_lengths:
                path += (self.array_lengths[path] - 1,)
        return path

    # -- grammar -------------------------------------------------------------------------------

    def header(self) -> TomlPath:
        line = self.line
        is_array = self.peek(2) == "[["
        self.expect("[[" if is_array else "[")
        keys = self.dotted_key()
        self.skip_blank(newlines=False)
        self.expect("]]" if is_array else "]")
        if not is_array:
            table = self.resolve(keys)
            # [a.b] after [a.b.c]: the header, not the first implicit use, is where a.b lives
            self.mark(table, line, exact=table not in self.headers)
            self.headers.add(table)
            return table
        array = (*self.resolve(keys[:-1]), keys[-1])
        index = self.array_lengths.get(array, 0)
        self.array_lengths[array] = index + 1
        self.mark(array, line, exact=False)
        self.mark((*array, index), line, exact=True)
        return (*array, index)

    def key_value(self, table: TomlPath) -> None:
        line = self.line
        path = table + tuple(self.dotted_key())
        self.skip_blank(newlines=False)
        self.expect("=")
        self.skip_blank(newlines=False)
        self.mark(path, line, exact=True)
        self.value(path)

    def dotted_key(self) -> list[str]:
        keys = []
        while True:
            self.skip_blank(newlines=False)
            keys.append(self.simple_key())
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return keys
            self.pos += 1

    def simple_key(self) -> str:
        char = self.peek()
        if char in ("'", '"'):
            start = self.pos
            self.skip_string()
            return tomllib.loads(f"k = {self.text[start : self.pos]}")["k"]
        match = _BARE_KEY.match(self.text, self.pos)
        if match is None:
            raise _ScanError(f"no key at offset {self.pos}")
        self.pos = match.end()
        return match.group()

    def value(self, path: TomlPath) -> None:
        char = self.peek()
        if char == "{":
            self.inline_table(path)
        elif char == "[":
            self.array(path)
        elif char in ("'", '"'):
            self.skip_string()
        else:  # number, boolean, date or time: runs up to a separator
            start = self.pos
            while self.pos < len(self.text) and self.text[self.pos] not in _SCALAR_END:
                self.pos += 1
            if self.pos == start:
                raise _ScanError(f"no value at offset {start}")

    def inline_table(self, path: TomlPath) -> None:
        self.expect("{")
        while True:
            self.skip_blank(newlines=True)
            char = self.peek()
            if char == "}":
                self.pos += 1
                return
            if char == ",":
                self.pos += 1
            else:
                self.key_value(path)

    def array(self, path: TomlPath) -> None:
        self.expect("[")
        index = 0
        while True:
            self.skip_blank(newlines=True)
            char = self.peek()
            if char == "]":
                self.pos += 1
                return
            if char == ",":
                self.pos += 1
                index += 1
            else:
                self.mark((*path, index), self.line, exact=True)
                self.value((*path, index))

    def skip_string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:  # multi-line; may end with up to two extra quotes
            end = self.find_closing(quote * 3, self.pos + 3, escapes=quote == '"')
            self.pos = end + 3
            for _ in range(2):
                if self.peek() == quote:
                    self.pos += 1
        else:
            self.pos = self.find_closing(quote, self.pos + 1, escapes=quote == '"') + 1

    def find_closing(self, closing: str, start: int, *, escapes: bool) -> int:
        pos = start
        while pos < len(self.text):
            if escapes and self.text[pos] == "\\":
                pos += 2
            elif self.text.startswith(closing, pos):
                return pos
            else:
                pos += 1
        raise _ScanError("unterminated string")
