"""Run a `campaign` command and count its database work (benchmark helper).

    python benchmarks/count_statements.py OUT.json --config config.toml run --once

Counts, over the whole process, and writes them as JSON to OUT.json when the command ends:

- ``statements``: SQL statements sent through SQLAlchemy (cursor executes, ``executemany``
  counted once), and the statements of PostgreSQL's pipelines (``Store.pipelined``), which the
  driver sends without SQLAlchemy's cursor events. On SQLite this includes each transaction's ``BEGIN`` (the store sends it
  itself, ``store/engine.py``); on PostgreSQL it does not (psycopg sends it).
- ``commits``: transactions committed with a ``COMMIT``.
- ``autocommits``: one-statement transactions run in autocommit mode (``Store.transaction(
  single=True)`` on PostgreSQL): no ``BEGIN`` and no ``COMMIT`` is sent for them.
- ``checkouts``: connections taken from the pool. Not a round trip: nothing is pinged (the
  store checks a PostgreSQL connection by polling its socket, ``store/engine.py``).
- ``round_trips`` (PostgreSQL only): messages the server must answer before the client goes
  on, read from libpq's protocol trace of every connection: each simple ``Query`` (a ``BEGIN``,
  a ``COMMIT``) and each ``Sync`` (the end of an extended-protocol statement or a pipeline),
  as ``tests/test_pg_round_trips.py`` counts them.
"""

from __future__ import annotations

import atexit
import json
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool


class Counts:
    """What every engine and pool of this process does while :meth:`counting`."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._traces: list[TextIO] = []
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def _add(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _statement(self, *_args: Any) -> None:
        self._add("statements")

    def _commit(self, connection: Connection) -> None:
        autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        self._add("autocommits" if autocommit else "commits")

    def _checkout(self, *_args: Any) -> None:
        self._add("checkouts")

    def _connect(self, dbapi_connection: Any, _record: Any) -> None:
        pgconn = getattr(dbapi_connection, "pgconn", None)
        if pgconn is None or self._folder is None:  # not PostgreSQL: no round trips to count
            return
        from psycopg import pq

        with self._lock:
            path = Path(self._folder.name) / f"{len(self._traces)}.trace"
            stream = path.open("w", encoding="utf-8")
            self._traces.append(stream)
        pgconn.trace(stream.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def _listeners(self) -> list[tuple[type, str, Callable[..., None]]]:
        return [
            (Engine, "before_cursor_execute", self._statement),
            (Engine, "commit", self._commit),
            (Pool, "checkout", self._checkout),
            (Pool, "connect", self._connect),
        ]

    @contextmanager
    def counting(self) -> Iterator[Counts]:
        """Count from now on until the block ends (connections opened before it are not
        traced: their round trips are missing from ``round_trips``)."""
        from campaign_scheduler.store.engine import Store

        self._folder = tempfile.TemporaryDirectory()
        for target, name, listener in self._listeners():
            event.listen(target, name, listener)
        pipelined = Store.pipelined

        def counted(store: Store, statements: Any) -> Any:
            with self._lock:
                self._counts["statements"] += len(statements)
            return pipelined(store, statements)

        Store.pipelined = counted  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            Store.pipelined = pipelined  # type: ignore[method-assign]
            for target, name, listener in self._listeners():
                event.remove(target, name, listener)

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            counts = dict(self._counts)
            if self._traces:
                counts["round_trips"] = sum(_answered(stream) for stream in self._traces)
        return counts

    def close(self) -> None:
        """Close the traces; the connections traced must be closed first (libpq writes to
        them for as long as a connection lives)."""
        for stream in self._traces:
            stream.close()
        self._traces.clear()
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


def _answered(stream: TextIO) -> int:
    """The messages in one libpq trace that the server had to answer."""
    stream.flush()
    total = 0
    for line in Path(stream.name).read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        sent = fields[0] == "F" and len(fields) >= 3
        if sent and fields[2].split(" ")[0] in ("Query", "Sync"):
            total += 1
    return total


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["campaign", *sys.argv[2:]]
    counts = Counts()
    context = counts.counting()
    context.__enter__()
    # At exit, not after main(): the command ends with sys.exit, and its threads may still
    # be closing connections.
    atexit.register(lambda: out.write_text(json.dumps(counts.as_dict()), encoding="utf-8"))
    from campaign_scheduler.cli import main as campaign

    campaign()


if __name__ == "__main__":
    main()
