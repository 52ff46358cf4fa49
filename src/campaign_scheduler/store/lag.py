"""A published delivery's lag: the seconds from its due time to its publication, rounded to
milliseconds, as the database computes it.

The lag is stored with the delivery (``delivery.lag_seconds``, migration 0010) when its
publication is recorded, so that the report reads it instead of parsing two timestamps per
delivery. The database computes it from the stored values in the statement that records the
publication, exactly as the report computed it before (SQLite: ``julianday``, which counts
whole milliseconds; PostgreSQL: the epoch of the interval as ``numeric``); the report falls back
to the same expression for a published delivery without one.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Float, Table, literal, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from campaign_scheduler.store.coretypes import DeliveryState, UTCDateTime
from campaign_scheduler.store.models import DeliveryRecord


class lag_seconds(FunctionElement[float]):
    """``lag_seconds(published_at, due_at)``: NULL when ``published_at`` is NULL."""

    type = Float()
    inherit_cache = True
    name = "lag_seconds"


@compiles(lag_seconds)
def _lag_sqlite(element: lag_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    published, due = (compiler.process(c, **kw) for c in element.clauses)
    return f"round((julianday({published}) - julianday({due})) * 86400.0, 3)"


@compiles(lag_seconds, "postgresql")
def _lag_postgresql(element: lag_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    published, due = (compiler.process(c, **kw) for c in element.clauses)
    return f"round(CAST(EXTRACT(epoch FROM {published} - {due}) AS NUMERIC), 3)"


def set_lag(delivery: DeliveryRecord) -> None:
    """Have the database compute ``delivery``'s lag from its (new) ``published_at`` and
    ``due_at`` when the ORM writes it: for a person's confirmation, a shifted rehearsal."""
    if delivery.published_at is None:
        delivery.lag_seconds = None
        return
    published = literal(delivery.published_at, UTCDateTime())
    due = literal(delivery.due_at, UTCDateTime())
    delivery.lag_seconds = lag_seconds(published, due)  # type: ignore[assignment]


def fill_lags(connection: Connection) -> int:
    """Set the lag of every published delivery without one from its stored times (as migration
    0010 does; for records written without the publishing path: tests, benchmarks)."""
    table = cast(Table, DeliveryRecord.__table__)
    statement = (
        update(table)
        .where(table.c.state == DeliveryState.PUBLISHED.value, table.c.lag_seconds.is_(None))
        .values(lag_seconds=lag_seconds(table.c.published_at, table.c.due_at))
    )
    return int(connection.execute(statement).rowcount)
