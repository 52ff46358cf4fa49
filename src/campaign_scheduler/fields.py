"""Typed reading of TOML tables that collects problems instead of stopping at the first one.

``campaign check`` must report every problem in one run, each with its line. A
:class:`FieldReader` reads values of the expected type from a :class:`TomlDocument`, records a
problem (with the key's line) when a value is missing or of the wrong type, and flags unknown
keys with a did-you-mean suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.tomlsource import KeyPath, TomlDocument
from campaign_scheduler.uilang import msg


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return msg(" (did you mean '{key}'?)", key=matches[0]) if matches else ""


def _dotted(path: KeyPath) -> str:
    parts: list[str] = []
    for part in path:
        if isinstance(part, int):
            parts[-1] = f"{parts[-1]}[{part}]" if parts else f"[{part}]"
        else:
            parts.append(part)
    return ".".join(parts)


class FieldReader:
    """Reads typed values from one TOML document into plain Python values."""

    def __init__(self, doc: TomlDocument, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems

    def error(self, message: str, *path: str | int) -> None:
        self.problems.append(Problem(self.doc.path, self.doc.line_of(*path), message))

    def warning(self, message: str, *path: str | int) -> None:
        self.problems.append(
            Problem(self.doc.path, self.doc.line_of(*path), message, Severity.WARNING)
        )

    def known_keys(self, table: Mapping[str, Any], path: KeyPath, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        where = msg(" in [{table}]", table=_dotted(path)) if path else ""
        for key in table:
            if key not in allowed:
                self.error(
                    msg(
                        "unknown key '{key}'{where}{suggestion}",
                        key=key,
                        where=where,
                        suggestion=did_you_mean(key, allowed),
                    ),
                    *path,
                    key,
                )

    def tables(
        self,
        parent: Mapping[str, Any],
        key: str,
        allowed: Iterable[str],
        *,
        required: str | None = None,
    ) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
        """The entries of the array of tables ``[[key]]`` in ``parent``, each with its path and
        checked for unknown keys; entries that are not tables are reported and left out.
        ``required``: the problem to report when there is no entry."""
        value = parent.get(key, [])
        if required is not None and (not isinstance(value, list) or not value):
            self.error(required, key)
            return
        if not isinstance(value, list):
            self.error(msg("'{key}' must be written as [[{key}]] tables", key=key), key)
            return
        for index, entry in enumerate(value):
            path: KeyPath = (key, index)
            if not isinstance(entry, dict):
                self.error(msg("each [[{key}]] entry must be a table", key=key), *path)
                continue
            self.known_keys(entry, path, allowed)
            yield path, entry

    def table(
        self, parent: Mapping[str, Any], path: KeyPath, *, required: bool = False
    ) -> dict[str, Any]:
        key = path[-1]
        assert isinstance(key, str)
        value = parent.get(key)
        if value is None:
            if required:
                self.error(msg("missing table [{table}]", table=_dotted(path)), *path[:-1])
            return {}
        if not isinstance(value, dict):
            self.error(msg("'{table}' must be a table", table=_dotted(path)), *path)
            return {}
        return value

    def string(
        self,
        table: Mapping[str, Any],
        path: KeyPath,
        key: str,
        *,
        required: bool = False,
        default: str | None = None,
    ) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.error(
                    msg("missing key '{key}' in [{table}]", key=key, table=_dotted(path)), *path
                )
            return default
        if not isinstance(value, str):
            self.error(
                msg("'{key}' must be a string, not {kind}", key=key, kind=type(value).__name__),
                *path,
                key,
            )
            return default
        if "\x00" in value:  # no file name, URL or post may hold one
            self.error(msg("'{key}' contains a NUL character (\\u0000)", key=key), *path, key)
            return default
        return value

    def boolean(self, table: Mapping[str, Any], path: KeyPath, key: str, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.error(msg("'{key}' must be true or false", key=key), *path, key)
            return default
        return value

    def integer(
        self, table: Mapping[str, Any], path: KeyPath, key: str, default: int | None
    ) -> int | None:
        value = table.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self.error(msg("'{key}' must be a positive whole number", key=key), *path, key)
            return default
        return value

    def string_list(
        self, table: Mapping[str, Any], path: KeyPath, key: str, *, required: bool = False
    ) -> list[str]:
        value = table.get(key)
        if value is None:
            if required:
                self.error(msg("missing key '{key}'", key=key), *path)
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(msg("'{key}' must be a list of strings", key=key), *path, key)
            return []
        if any("\x00" in v for v in value):
            self.error(msg("'{key}' contains a NUL character (\\u0000)", key=key), *path, key)
            return []
        return list(value)
