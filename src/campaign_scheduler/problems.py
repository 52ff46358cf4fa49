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

    def location(self, relative_to: Path | None = None) -> str:
        path = self.path
        if relative_to is not None:
            try:
                path = path.resolve().relative_to(relative_to.resolve())
            except ValueError:
                pass
        return f"{path}:{self.line}" if self.line else str(path)

    def format(self, relative_to: Path | None = None) -> str:
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        return f"{self.location(relative_to)}: {prefix}{self.message}"

    def as_json(self, relative_to: Path | None = None) -> dict[str, object]:
        path = self.path
        if relative_to is not None:
            try:
                path = path.resolve().relative_to(relative_to.resolve())
            except ValueError:
                pass
        return {
            "path": str(path),
            "line": self.line,
            "severity": str(self.severity),
            "message": self.message,
        }


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)
