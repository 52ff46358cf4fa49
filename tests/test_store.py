"""The store: migrations from empty, a linear chain, and the SQLite settings we rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from campaign_scheduler.errors import StoreError
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    script_head,
)

TABLES = {
    "campaign",
    "sender",
    "account",
    "post",
    "delivery",
    "attempt",
    "metric_snapshot",
    "delivery_metrics",
    "audit_event",
    "worker",
}


def test_first_use_creates_every_table_at_head(database_url: str) -> None:
    store = open_store(database_url)
    try:
        assert TABLES <= set(inspect(store.engine).get_table_names())
        assert current_revision(store.engine) == head_revision()
    finally:
        store.dispose()


def test_opening_twice_is_a_no_op(database_url: str) -> None:
    open_store(database_url).dispose()
    store = open_store(database_url)
    try:
        assert current_revision(store.engine) == head_revision()
    finally:
        store.dispose()


def test_the_quick_head_check_agrees_with_alembic() -> None:
    # Commands skip importing Alembic when the database stands at this revision.
    assert script_head() == head_revision()


def test_the_migration_chain_is_linear() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1
    revisions = list(script.walk_revisions())
    bases = [r for r in revisions if r.down_revision is None]
    assert len(bases) == 1
    for revision in revisions:
        assert not isinstance(revision.down_revision, tuple), f"merge revision {revision.revision}"


def test_the_models_match_the_migrations(database_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from campaign_scheduler.store.models import POSTGRESQL_ONLY_INDEXES, Base

    store = open_store(database_url)

    def created_here(_item: Any, name: Any, kind: str, _reflected: bool, _other: Any) -> bool:
        """PostgreSQL's own indexes are DDL beside the models (``POSTGRESQL_ONLY_INDEXES``);
        test_migrations and test_schema_shortcut compare them."""
        return not (kind == "index" and name in POSTGRESQL_ONLY_INDEXES)

    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"include_object": created_here})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
    finally:
        store.dispose()


def test_sqlite_runs_with_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert (connection.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 5000
    finally:
        store.dispose()


def test_times_come_back_aware_in_utc(database_url: str) -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from campaign_scheduler.store.models import WorkerRecord

    store = open_store(database_url)
    berlin_winter = timezone(timedelta(hours=1))
    try:
        with store.session(write=True) as session:
            session.add(
                WorkerRecord(
                    id="w1",
                    hostname="h",
                    pid=1,
                    version="0",
                    started_at=datetime(2021, 11, 4, 9, 30, tzinfo=berlin_winter),
                    heartbeat_at=datetime(2021, 11, 4, 9, 30, tzinfo=berlin_winter),
                )
            )
        with store.session() as session:
            worker = session.get(WorkerRecord, "w1")
            assert worker is not None
            assert worker.started_at == datetime(2021, 11, 4, 8, 30, tzinfo=UTC)
            assert worker.started_at.utcoffset() == timedelta(0)
    finally:
        store.dispose()


def test_a_missing_database_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'nope' / 'x.db'}")


def test_an_unreachable_server_is_a_clear_error_without_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql+psycopg://user:s3cret@127.0.0.1:1/db")
    assert "cannot open the database" in caught.value.message
    assert "s3cret" not in caught.value.message


def test_an_unsupported_database_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        open_store("mysql://localhost/db")


@pytest.mark.parametrize(
    "failure", [RuntimeError("a bug in a migration step"), KeyboardInterrupt()]
)
def test_a_failed_migration_closes_every_connection_it_opened(
    database_url: str, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    # Not only database errors: any exception while the schema is set up (a bug in a step,
    # Ctrl-C) must leave no connection open in the pool of an engine nobody holds any more.
    from sqlalchemy import Engine, event

    from campaign_scheduler.store import engine as engine_module
    from campaign_scheduler.store import migrate

    opened: list[object] = []
    closed: list[object] = []
    create = engine_module.create_db_engine

    def watched_engine(url: str, **kwargs: Any) -> Engine:
        engine = create(url, **kwargs)
        event.listen(engine, "connect", lambda dbapi, _record: opened.append(dbapi))
        event.listen(engine, "close", lambda dbapi, _record: closed.append(dbapi))
        return engine

    def failing_step(*_args: object) -> None:
        raise failure

    monkeypatch.setattr(engine_module, "create_db_engine", watched_engine)
    monkeypatch.setattr(migrate, "_create_at_head", failing_step)
    with pytest.raises(type(failure)):
        open_store(database_url)
    assert opened
    assert closed == opened
