"""Run a `campaign` command and count its database round trips (benchmark helper).

    python benchmarks/count_statements.py OUT.json --config config.toml run --once

Counts, over the whole process: statements sent (cursor executes, ``executemany`` counted once,
and the statements of PostgreSQL's pipelines, ``Store.pipelined``, which bypass SQLAlchemy's
events), transactions committed (a pipeline is one, through SQLAlchemy's), and pool check-outs
(each one a ``SELECT 1`` when the engine pings connections before use). Writes them as JSON to OUT.json when the command ends.
"""

from __future__ import annotations

import atexit
import json
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

counts: Counter[str] = Counter()
lock = threading.Lock()


def _count(name: str) -> None:
    with lock:
        counts[name] += 1


@event.listens_for(Engine, "before_cursor_execute")
def _statement(*_args: Any) -> None:
    _count("statements")


@event.listens_for(Engine, "commit")
def _commit(*_args: Any) -> None:
    _count("commits")


@event.listens_for(Pool, "checkout")
def _checkout(*_args: Any) -> None:
    _count("checkouts")


def _count_pipelines() -> None:
    from campaign_scheduler.store.engine import Store

    pipelined = Store.pipelined

    def counted(self: Store, statements: Any) -> Any:
        with lock:
            counts["statements"] += len(statements)
        return pipelined(self, statements)

    Store.pipelined = counted  # type: ignore[method-assign]


def _write() -> None:
    Path(out).write_text(json.dumps(dict(counts)), encoding="utf-8")


if __name__ == "__main__":
    out = sys.argv[1]
    sys.argv = ["campaign", *sys.argv[2:]]
    atexit.register(_write)
    _count_pipelines()
    from campaign_scheduler.cli import main

    main()
