"""A problem found in a user's files: where it is, how bad it is, what it says."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
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
        """The file, relative to ``relative_to`` where it lies below it."""
        if relative_to is not None:
            try:
                return self.path.resolve().relative_to(relative_to.resolve())
            except ValueError:
                pass
        return self.path

    def location(self, relative_to: Path | None = None) -> str:
        path = self.shown_path(relative_to)
        return f"{path}:{self.line}" if self.line else str(path)

    def format(self, relative_to: Path | None = None) -> str:
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.location(relative_to)}: {prefix}{self.message}"

    def as_json(self, relative_to: Path | None = None) -> dict[str, object]:
        return {
            "path": str(self.shown_path(relative_to)),
            "line": self.line,
            "severity": str(self.severity),
            "message": self.message,
        }


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)
