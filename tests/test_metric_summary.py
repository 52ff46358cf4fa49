"""The per-delivery summary of the snapshots (``delivery_metrics``): written with every snapshot
in one transaction, equal to what the snapshots imply, and the report built from it is the
report the old queries (seeks through all snapshots) built, byte for byte."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, case, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from campaign_scheduler.reports import Format, Lang, queries, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.model import FIGURES, GroupBy
from campaign_scheduler.store import snapshots
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import (
    SNAPSHOT_FIGURES,
    AccountRecord,
    DeliveryRecord,
    MetricSnapshotRecord,
)
from campaign_scheduler.store.snapshots import add_snapshot, rebuild_delivery_metrics
from report_data import GENERATED_AT
from snapshot_data import (
    SLUG,
    campaign_rows,
    channel_lookup,
    expected_summary,
    random_snapshots,
    summary_rows,
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def filled(store: Store, posts: int = 24, seed: int = 3) -> None:
    """A random campaign whose snapshots are written one by one through add_snapshot()."""
    with store.transaction(write=True) as connection:
        published = campaign_rows(connection, posts, seed)
        rows = random_snapshots(published, seed, channel_lookup(connection))
    for row in rows:
        with store.transaction(write=True) as connection:
            add_snapshot(connection, **row)


def test_the_summary_is_what_the_snapshots_imply(store: Store) -> None:
    filled(store)
    with store.transaction() as connection:
        expected = expected_summary(connection)
        assert len(expected) > 20  # the data has measured deliveries to compare
        assert summary_rows(connection) == expected


def test_a_rebuild_gives_the_rows_the_snapshots_were_folded_into(store: Store) -> None:
    filled(store)
    with store.transaction() as connection:
        folded = summary_rows(connection)
    with store.transaction(write=True) as connection:
        rebuild_delivery_metrics(connection)
        assert summary_rows(connection) == folded
        some = sorted(folded)[::3]
        rebuild_delivery_metrics(connection, some)
        assert summary_rows(connection) == folded


def test_a_failed_fold_keeps_the_snapshot_out_too(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash after the snapshot's INSERT and before its summary: one transaction, so
    neither is written."""
    with store.transaction(write=True) as connection:
        [(delivery_id, campaign_id, account_id), *_] = campaign_rows(connection, 4, 1)
    row: dict[str, Any] = {
        "delivery_id": delivery_id,
        "campaign_id": campaign_id,
        "account_id": account_id,
        "fetched_at": GENERATED_AT,
        "followers": 10,
        "likes": 4,
    }

    def crash(dialect: str) -> Any:
        raise RuntimeError("crash between the two writes")

    monkeypatch.setattr(snapshots, "_fold", crash)
    with pytest.raises(RuntimeError, match="crash"), store.transaction(write=True) as connection:
        add_snapshot(connection, **row)
    assert_nothing_written(store)
    monkeypatch.undo()
    with store.transaction(write=True) as connection:
        add_snapshot(connection, **row)
    with store.transaction() as connection:
        assert connection.execute(select(func.count()).select_from(MetricSnapshotRecord)).one()[0]
        assert summary_rows(connection) == expected_summary(connection)


def test_a_refused_snapshot_leaves_no_summary(store: Store) -> None:
    with store.transaction(write=True) as connection:
        campaign_rows(connection, 2, 1)
    with pytest.raises(IntegrityError), store.transaction(write=True) as connection:
        add_snapshot(
            connection,
            delivery_id=9999,  # no such delivery: the foreign key refuses the snapshot
            campaign_id=1,
            account_id=1,
            fetched_at=GENERATED_AT,
            followers=None,
            likes=1,
        )
    assert_nothing_written(store)


def assert_nothing_written(store: Store) -> None:
    with store.transaction() as connection:
        assert connection.execute(select(MetricSnapshotRecord.id)).all() == []
        assert summary_rows(connection) == {}


# ---------------------------------------------------------------------------------------------
# The report from the summary is the report from the snapshots


def old_metrics() -> Any:
    """What ``delivery_metrics`` stands for, read from the snapshots as the report did before
    it had the summary: the latest and first snapshot of each delivery by an index seek
    (``ORDER BY fetched_at, id``), and whether any snapshot has each figure."""
    s, latest, first = (
        MetricSnapshotRecord,
        aliased(MetricSnapshotRecord),
        aliased(MetricSnapshotRecord),
    )
    d = DeliveryRecord

    def seek(*order: Any) -> Any:
        return select(s.id).where(s.delivery_id == d.id).order_by(*order).limit(1).scalar_subquery()

    return (
        select(
            d.id.label("delivery_id"),
            *(getattr(latest, name).label(name) for name in SNAPSHOT_FIGURES),
            first.followers.label("first_followers"),
            *(
                exists()
                .where(s.delivery_id == d.id, getattr(s, name).is_not(None))
                .label(f"has_{name}")
                for name in SNAPSHOT_FIGURES
            ),
        )
        .select_from(d)
        .join(latest, latest.id == seek(s.fetched_at.desc(), s.id.desc()))
        .join(first, first.id == seek(s.fetched_at.asc(), s.id.asc()))
        .subquery("old_metrics")
    )


def old_providers(connection: Connection) -> dict[str, list[str]]:
    """Which networks provide a figure, from one pass over all snapshots (the old query)."""
    s, a = MetricSnapshotRecord, AccountRecord
    patterns = (
        select(s.account_id, *(getattr(s, name).is_not(None).label(name) for name in FIGURES))
        .distinct()
        .subquery("patterns")
    )
    query = (
        select(
            a.channel,
            *(
                func.max(case((getattr(patterns.c, name), 1), else_=0)).label(name)
                for name in FIGURES
            ),
        )
        .join(a, a.id == patterns.c.account_id)
        .group_by(a.channel)
        .order_by(a.channel)
    )
    result: dict[str, list[str]] = {name: [] for name in FIGURES}
    for row in connection.execute(query):
        for name in FIGURES:
            if row._mapping[name]:
                result[name].append(str(row.channel))
    return result


def every_rendering(store: Store) -> dict[str, str]:
    return {
        f"{by.value}.{fmt.value}.{lang.value}": render(
            build_report(store, SLUG, by=by, now=GENERATED_AT), fmt, lang
        )
        for by in GroupBy
        for fmt in Format
        for lang in Lang
    }


def test_the_report_from_the_summary_is_the_report_from_the_snapshots(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled(store, posts=40, seed=7)
    new = every_rendering(store)
    monkeypatch.setattr(queries, "M", old_metrics())
    monkeypatch.setattr(queries, "providers", old_providers)
    old = every_rendering(store)
    assert len(new) == len(GroupBy) * len(Format) * len(Lang)
    for name, text in new.items():
        assert text == old[name], name
    assert '"measured": 0' not in new["sender.json.en"]  # the data has figures to compare
