"""Migrations on databases that already hold a record: 0008 fills the per-delivery summary
(``delivery_metrics``) from the snapshots stored before it (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import Engine, insert, inspect

from campaign_scheduler.store.engine import create_db_engine
from campaign_scheduler.store.migrate import alembic_config, current_revision, head_revision
from campaign_scheduler.store.models import MetricSnapshotRecord
from snapshot_data import (
    campaign_rows,
    channel_lookup,
    expected_summary,
    random_snapshots,
    summary_rows,
)


def migrate(engine: Engine, command_name: str, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, command_name)(config, revision)


def test_0008_fills_the_summary_from_the_snapshots_already_stored(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine, "upgrade", "0007")
        assert "delivery_metrics" not in inspect(engine).get_table_names()
        with engine.begin() as connection:
            published = campaign_rows(connection, 30, seed=11)
            # Written as 0007's collector wrote them: snapshots only.
            rows = random_snapshots(published, 11, channel_lookup(connection))
            connection.execute(insert(MetricSnapshotRecord), rows)
        migrate(engine, "upgrade", "0008")
        with engine.connect() as connection:
            expected = expected_summary(connection)
            assert len(expected) > 20
            assert summary_rows(connection) == expected
        migrate(engine, "downgrade", "0007")
        assert "delivery_metrics" not in inspect(engine).get_table_names()
        migrate(engine, "upgrade", "head")
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            assert summary_rows(connection) == expected
    finally:
        engine.dispose()


def test_0008_on_a_database_without_snapshots_leaves_the_summary_empty(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine, "upgrade", "0007")
        with engine.begin() as connection:
            campaign_rows(connection, 3, seed=1)
        migrate(engine, "upgrade", "0008")
        with engine.connect() as connection:
            assert summary_rows(connection) == {}
    finally:
        engine.dispose()
