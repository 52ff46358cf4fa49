"""A problem found in a user's files: where it is, how bad it is, what it says."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of ``campaign check``: ``path:line: message``."""

    path: Path
    line: int | None
    message: str
    severity: Severity = Severity.ERROR

    def shown_path(self, relative_to: Path | None = None) -> Path:
        """The file, relative to ``relative_to`` where it lies below it (:func:`_shown`)."""
        return self.path if relative_to is None else _shown(self.path, relative_to)

    def location(self, relative_to: Path | None = None) -> str:
        path = self.shown_path(relative_to)
        return f"{path}:{self.line}" if self.line else str(path)

    def format(self, relative_to: Path | None = None) -> str:
        from campaign_scheduler.uilang import tr

        text = tr(self.message)
        if self.severity is Severity.WARNING:
            text = tr("warning: {text}", text=text)
        return f"{self.location(relative_to)}: {text}"

    def as_json(self, relative_to: Path | None = None) -> dict[str, object]:
        return {
            "path": str(self.shown_path(relative_to)),
            "line": self.line,
            "severity": str(self.severity),
            "message": self.message,
        }


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)


def _shown(path: Path, relative_to: Path) -> Path:
    """``path`` relative to ``relative_to`` when it lies below it (both resolved), else as it
    is. Folders are resolved once (a check of many drafts names the same ones again and
    again); only a file that is a symlink itself is resolved on its own."""
    text = os.fspath(path)
    folder, name = os.path.split(text)
    if name in ("", ".", "..") or os.path.islink(text):
        resolved = os.path.realpath(text)
    else:
        resolved = os.path.join(_resolved(folder or "."), name)
    base = os.path.join(_resolved(os.fspath(relative_to)), "")
    if resolved == base.rstrip(os.sep):
        return Path(".")
    if not resolved.startswith(base):
        return path
    return Path(resolved[len(base) :])


@lru_cache(maxsize=256)
def _resolved(folder: str) -> str:
    return os.path.realpath(folder)
