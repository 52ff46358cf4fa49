"""Metric snapshots and their per-delivery summary, written together.

Every snapshot is written with :func:`add_snapshot`, which folds it into the delivery's row of
``delivery_metrics`` within the caller's transaction: both are written or neither is. The fold
is one ``INSERT … ON CONFLICT DO UPDATE`` that compares the new snapshot with the row as it
stands when the statement runs (PostgreSQL locks and re-reads a conflicting row), so
concurrent writers (two daemons) cannot lose each other's snapshot. :func:`rebuild_delivery_metrics` computes the
rows from the snapshots in one set-based statement (for bulk writers; migration 0008 does the
same with its own frozen SQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from campaign_scheduler.store.models import (
    SNAPSHOT_FIGURES,
    DeliveryMetricsRecord,
    MetricSnapshotRecord,
)

S = MetricSnapshotRecord
M = DeliveryMetricsRecord.__table__


def add_snapshot(
    executor: Connection | Session,
    *,
    delivery_id: int,
    campaign_id: int | None,
    account_id: int | None,
    fetched_at: datetime,
    followers: int | None,
    **figures: int | None,
) -> int:
    """Insert one snapshot (``figures``: likes, reposts, … as :data:`SNAPSHOT_FIGURES`; missing
    ones are NULL) and fold it into its delivery's summary, in the caller's transaction.
    Returns the snapshot's id."""
    unknown = set(figures) - set(SNAPSHOT_FIGURES)
    if unknown:
        raise TypeError(f"not a snapshot figure: {', '.join(sorted(unknown))}")
    values = {name: figures.get(name) for name in SNAPSHOT_FIGURES}
    snapshot_id = executor.execute(
        insert(S).returning(S.id),
        {
            "delivery_id": delivery_id,
            "campaign_id": campaign_id,
            "account_id": account_id,
            "fetched_at": fetched_at,
            "followers": followers,
            **values,
        },
    ).scalar_one()
    dialect = (
        executor.dialect.name
        if isinstance(executor, Connection)
        else executor.get_bind().dialect.name
    )
    executor.execute(
        _fold(dialect),
        {
            "delivery_id": delivery_id,
            "latest_snapshot_id": snapshot_id,
            "latest_fetched_at": fetched_at,
            **values,
            "first_snapshot_id": snapshot_id,
            "first_fetched_at": fetched_at,
            "first_followers": followers,
            **{f"has_{name}": values[name] is not None for name in SNAPSHOT_FIGURES},
        },
    )
    return int(snapshot_id)


def _fold(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (delivery_id) DO UPDATE``: the new snapshot replaces the latest
    figures if it is later, the first followers if it is earlier, and adds the figures it has."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
        DeliveryMetricsRecord
    )
    new, old = statement.excluded, M.c
    later = tuple_(new.latest_fetched_at, new.latest_snapshot_id) > tuple_(
        old.latest_fetched_at, old.latest_snapshot_id
    )
    earlier = tuple_(new.first_fetched_at, new.first_snapshot_id) < tuple_(
        old.first_fetched_at, old.first_snapshot_id
    )
    latest = ("latest_snapshot_id", "latest_fetched_at", *SNAPSHOT_FIGURES)
    first = ("first_snapshot_id", "first_fetched_at", "first_followers")
    return statement.on_conflict_do_update(
        index_elements=[M.c.delivery_id],
        set_={
            **{name: case((later, new[name]), else_=old[name]) for name in latest},
            **{name: case((earlier, new[name]), else_=old[name]) for name in first},
            **{
                f"has_{name}": or_(old[f"has_{name}"], new[f"has_{name}"])
                for name in SNAPSHOT_FIGURES
            },
        },
    )


def rebuild_delivery_metrics(connection: Connection, delivery_ids: Any = None) -> None:
    """Compute the summary rows from the snapshots: of every delivery, or of the deliveries
    ``delivery_ids`` selects (a list or a ``SELECT`` of ids). Replaces what was there."""
    latest, first = aliased(S, name="latest"), aliased(S, name="first")
    s = aliased(S, name="s")
    scope = [] if delivery_ids is None else [S.delivery_id.in_(delivery_ids)]
    per_delivery = (
        select(
            S.delivery_id,
            *(
                func.max(case((getattr(S, name).is_not(None), 1), else_=0)).label(name)
                for name in SNAPSHOT_FIGURES
            ),
        )
        .where(*scope)
        .group_by(S.delivery_id)
        .subquery("per_delivery")
    )

    def one(ascending: bool) -> Any:
        order = (
            (s.fetched_at.asc(), s.id.asc()) if ascending else (s.fetched_at.desc(), s.id.desc())
        )
        return (
            select(s.id)
            .where(s.delivery_id == per_delivery.c.delivery_id)
            .order_by(*order)
            .limit(1)
            .scalar_subquery()
        )

    rows = (
        select(
            per_delivery.c.delivery_id,
            latest.id,
            latest.fetched_at,
            *(getattr(latest, name) for name in SNAPSHOT_FIGURES),
            first.id,
            first.fetched_at,
            first.followers,
            *(per_delivery.c[name] == 1 for name in SNAPSHOT_FIGURES),
        )
        .select_from(per_delivery)
        .join(latest, latest.id == one(ascending=False))
        .join(first, first.id == one(ascending=True))
    )
    columns = [
        "delivery_id",
        "latest_snapshot_id",
        "latest_fetched_at",
        *SNAPSHOT_FIGURES,
        "first_snapshot_id",
        "first_fetched_at",
        "first_followers",
        *(f"has_{name}" for name in SNAPSHOT_FIGURES),
    ]
    clear = delete(DeliveryMetricsRecord)
    if delivery_ids is not None:
        clear = clear.where(M.c.delivery_id.in_(delivery_ids))
    connection.execute(clear)
    connection.execute(insert(DeliveryMetricsRecord).from_select(columns, rows))
