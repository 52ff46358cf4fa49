"""Receipts kept on local disk while the database cannot be written.

A network's receipt is the only proof that a post is out. When recording it fails even after
retries (SQLite busy past its timeout, a dropped PostgreSQL connection), the worker appends it
to a small JSON-lines file next to the database (mode 0600) and applies it as soon as the
database answers again, before claiming anything new.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

__all__ = ["Journal", "JournaledReceipt", "journal_path_for"]


@dataclass(frozen=True)
class JournaledReceipt:
    delivery_id: int
    post_key: str
    account: str
    remote_id: str
    remote_url: str | None
    published_at: str  # ISO 8601
    parts: list[dict[str, str | None]] | None = None
    #: Published without its first comment: why (as the outcome said; see Outcome).
    comment_error: str | None = None
    #: ``comment_error`` as a key with its values (reasons.py).
    comment_error_data: dict[str, Any] | None = None

    @property
    def published(self) -> datetime:
        return datetime.fromisoformat(self.published_at)


def journal_path_for(database_url: str, fallback_dir: Path) -> Path:
    """Next to a SQLite file; for a server database, in ``fallback_dir`` (the config's folder)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        return fallback_dir / "campaign-receipts.journal"
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database)
        return database.with_name(database.name + ".receipts")
    return fallback_dir / "campaign-receipts.journal"


class Journal:
    """An append-only file of receipts; rewritten only to drop those applied."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, receipt: JournaledReceipt) -> None:
        line = json.dumps(asdict(receipt), ensure_ascii=False) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self) -> list[JournaledReceipt]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        found = []
        for line in text.splitlines():
            try:
                found.append(JournaledReceipt(**json.loads(line)))
            except (ValueError, TypeError):
                continue  # a line cut short by a crash: its receipt was never complete
        return found

    def apply(self, record: Callable[[JournaledReceipt], None]) -> int:
        """Hand every receipt to ``record``; keep those whose recording raised."""
        with self._lock:
            entries = self.entries()
            if not entries:
                return 0
            kept: list[JournaledReceipt] = []
            for entry in entries:
                try:
                    record(entry)
                except SQLAlchemyError:  # the database is still away: keep it for next time
                    kept.append(entry)
            if kept:
                temporary = self.path.with_name(self.path.name + ".tmp")
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    for entry in kept:
                        handle.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
                os.replace(temporary, self.path)
            else:
                self.path.unlink(missing_ok=True)
            return len(entries) - len(kept)
