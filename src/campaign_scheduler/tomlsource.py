"""Read TOML and remember on which line each key stands.

``tomllib`` parses correctly but forgets positions; users need ``path:line`` in every message.
:class:`TomlDocument` parses with ``tomllib`` and, separately, scans the text line by line to
map key paths (``("accounts", "soest-mastodon", "token")``, ``("senders", 2, "slug")``) to the
line that defines them. The scan only has to find lines, not values, so it tracks table
headers, array-of-tables counters, dotted keys and multi-line strings and arrays.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from campaign_scheduler.errors import InputError
from campaign_scheduler.problems import Problem
from campaign_scheduler.textfile import read_text, split_lines
from campaign_scheduler.uilang import msg

KeyPath = tuple[str | int, ...]

_BARE_KEY = r"[A-Za-z0-9_-]+"
_QUOTED_KEY = r"\"(?:[^\"\\]|\\.)*\"|'[^']*'"
_KEY_PART = rf"(?:{_BARE_KEY}|{_QUOTED_KEY})"
_DOTTED_KEY = rf"{_KEY_PART}(?:\s*\.\s*{_KEY_PART})*"
_TABLE_RE = re.compile(rf"^\s*\[\s*({_DOTTED_KEY})\s*\]\s*(?:#.*)?$")
_ARRAY_TABLE_RE = re.compile(rf"^\s*\[\[\s*({_DOTTED_KEY})\s*\]\]\s*(?:#.*)?$")
_ASSIGN_RE = re.compile(rf"^\s*({_DOTTED_KEY})\s*=\s*(.*)$")
_KEY_PART_RE = re.compile(_KEY_PART)
_LINE_IN_ERROR = re.compile(r"\(at line (\d+), column (\d+)\)")


def _split_key(dotted: str) -> list[str]:
    parts = []
    for match in _KEY_PART_RE.finditer(dotted):
        token = match.group(0)
        if token[0] in "\"'":
            token = token[1:-1]
        parts.append(token)
    return parts


def _open_delimiters(value: str) -> tuple[str | None, int]:
    """What a value leaves open at the end of its line: a multi-line string, or brackets."""
    depth = 0
    i = 0
    while i < len(value):
        if value.startswith('"""', i) or value.startswith("'''", i):
            quote = value[i : i + 3]
            end = value.find(quote, i + 3)
            if end < 0:
                return quote, depth
            i = end + 3
            continue
        char = value[i]
        if char == "#":
            break
        if char in "\"'":
            end = i + 1
            while end < len(value) and value[end] != char:
                end += 2 if char == '"' and value[end] == "\\" else 1
            i = end + 1
            continue
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        i += 1
    return None, depth


def scan_key_lines(text: str, first_line: int = 1) -> dict[KeyPath, int]:
    """Map every key path defined in ``text`` to its (1-based) line number."""
    lines: dict[KeyPath, int] = {}
    array_counts: dict[KeyPath, int] = {}
    table: KeyPath = ()
    open_string: str | None = None
    depth = 0
    for offset, raw in enumerate(split_lines(text)):
        number = first_line + offset
        if open_string is not None:
            if open_string in raw:
                open_string, depth = _open_delimiters(raw.split(open_string, 1)[1])
            continue
        if depth > 0:
            more_string, delta = _open_delimiters(raw)
            depth += delta
            open_string = more_string
            continue
        if match := _ARRAY_TABLE_RE.match(raw):
            base = tuple(_split_key(match.group(1)))
            index = array_counts.get(base, 0)
            array_counts[base] = index + 1
            table = (*base, index)
            lines.setdefault(base, number)
            lines[table] = number
            continue
        if match := _TABLE_RE.match(raw):
            table = tuple(_split_key(match.group(1)))
            lines.setdefault(table, number)
            continue
        if match := _ASSIGN_RE.match(raw):
            path = (*table, *_split_key(match.group(1)))
            lines.setdefault(path, number)
            open_string, depth = _open_delimiters(match.group(2))
    return lines


@dataclass
class TomlDocument:
    """A parsed TOML text with the lines of its keys."""

    path: Path
    data: dict[str, Any]
    key_lines: dict[KeyPath, int] = field(default_factory=dict)
    first_line: int = 1

    def line_of(self, *key_path: str | int) -> int:
        """The line defining ``key_path``, or of its nearest defined ancestor."""
        path: KeyPath = tuple(key_path)
        while path:
            if path in self.key_lines:
                return self.key_lines[path]
            path = path[:-1]
        return self.first_line

    def problem(self, message: str, *key_path: str | int) -> Problem:
        return Problem(self.path, self.line_of(*key_path), message)


def parse_toml(text: str, path: Path, first_line: int = 1) -> TomlDocument:
    """Parse ``text`` (read from ``path``; it starts at ``first_line`` of that file).

    Raises :class:`InputError` with the line of a syntax error.
    """
    try:
        data = tomllib.loads(text)
    except RecursionError:  # arrays or tables nested thousands deep
        problem = Problem(
            path, first_line, msg("malformed TOML: arrays or tables are nested too deeply")
        )
        raise InputError.of(problem) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = first_line
        if match := _LINE_IN_ERROR.search(message):
            line = first_line + int(match.group(1)) - 1
            message = _LINE_IN_ERROR.sub("", message).strip()
        elif "end of document" in message:
            line = first_line + max(len(split_lines(text)) - 1, 0)
            message = message.replace("(at end of document)", "before the end").strip()
        problem = Problem(path, line, msg("malformed TOML: {error}", error=message))
        raise InputError.of(problem) from None
    return TomlDocument(path, data, scan_key_lines(text, first_line), first_line)


def read_toml(path: Path) -> TomlDocument:
    try:
        text = read_text(path)
    except FileNotFoundError:
        problem = Problem(path, None, msg("file not found"))
        raise InputError(
            msg("{path}: file not found", path=str(path)), problems=[problem]
        ) from None
    return parse_toml(text, path)
