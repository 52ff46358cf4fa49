"""The head revision of the migration scripts, read from the scripts without Alembic or
SQLAlchemy (``migrate`` asks it before it loads Alembic; a load that changes nothing asks it
before it reads a SQLite database with the driver alone)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")
_REVISION = re.compile(
    r"^(down_revision|revision)\b[^=\n]*=\s*(None|\"[^\"]*\"|'[^']*')", re.MULTILINE
)


@cache
def script_head() -> str | None:
    """The head revision read straight from the migration scripts (``revision = "…"`` and
    ``down_revision = …`` lines), without importing Alembic; None when that is not one clear
    answer (a branch, a merge, a script written another way) — then Alembic decides."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        found = {m[1]: m[2] for m in _REVISION.finditer(script.read_text("utf-8"))}
        if "revision" not in found or "down_revision" not in found:
            return None
        revisions.add(found["revision"].strip("\"'"))
        if found["down_revision"] != "None":
            parents.add(found["down_revision"].strip("\"'"))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None
