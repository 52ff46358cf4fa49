"""A brand-new database is created at head in one step; it must be the migrations' schema.

``open_store`` on a database without any table runs the models' ``create_all`` and stamps the
newest revision instead of walking every migration. These tests compare that schema with the
one the migrations build, on SQLite and PostgreSQL: tables, columns (types, nullability,
server defaults), primary, unique and foreign keys, indexes, check constraints and the
alembic version. Column order is the one thing allowed to differ (later migrations append
their columns, the models list them where they belong; every statement names its columns).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, Engine, inspect, select, text

from campaign_scheduler.store.engine import create_db_engine, open_store
from campaign_scheduler.store.migrate import alembic_config, head_revision
from campaign_scheduler.store.models import CampaignRecord
from test_migrations import dump_schema


def _structure(connection: Connection) -> dict[str, Any]:
    """The schema as SQLAlchemy's inspector reports it, in a stable order."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        columns = sorted(
            (
                column["name"],
                str(column["type"]),
                column["nullable"],
                None if column.get("default") is None else str(column["default"]),
            )
            for column in inspector.get_columns(table)
        )
        foreign = sorted(
            (
                key["name"] or "",
                key["constrained_columns"],
                key["referred_table"],
                key["referred_columns"],
                sorted(key.get("options", {}).items()),
            )
            for key in inspector.get_foreign_keys(table)
        )
        tables[table] = {
            "columns": columns,
            "primary": inspector.get_pk_constraint(table),
            "foreign": foreign,
            "unique": sorted(
                (u["name"] or "", u["column_names"])
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"] or "", i["column_names"], bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "checks": sorted(
                (c["name"] or "", c["sqltext"]) for c in inspector.get_check_constraints(table)
            ),
        }
    version = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    schema: dict[str, Any] = {"tables": tables, "alembic_version": version}
    if connection.dialect.name == "postgresql":
        raw = dump_schema(connection)
        # Everything PostgreSQL itself reports, except a column's ordinal position.
        raw["columns"] = sorted([row[0], *row[2:]] for row in raw["columns"])
        schema["catalog"] = raw
    restored: dict[str, Any] = json.loads(json.dumps(schema, default=str))
    return restored


def _migrated(engine: Engine) -> dict[str, Any]:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with engine.connect() as connection:
        return _structure(connection)


def _created_by_open_store(url: str) -> dict[str, Any]:
    store = open_store(url)
    try:
        with store.engine.connect() as connection:
            return _structure(connection)
    finally:
        store.engine.dispose()


def _reset_postgres(url: str) -> None:
    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def test_new_sqlite_database_gets_the_migrations_schema(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'migrated.db'}")
    try:
        migrated = _migrated(engine)
    finally:
        engine.dispose()
    direct = _created_by_open_store(f"sqlite:///{tmp_path / 'direct.db'}")
    assert direct == migrated
    assert direct["alembic_version"] == [head_revision()]


def test_new_postgresql_database_gets_the_migrations_schema(postgres_url: str) -> None:
    direct = _created_by_open_store(postgres_url)
    _reset_postgres(postgres_url)
    engine = create_db_engine(postgres_url)
    try:
        migrated = _migrated(engine)
    finally:
        engine.dispose()
    assert direct == migrated
    assert direct["alembic_version"] == [head_revision()]


def test_new_database_is_not_walked_through_the_migrations(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_walk(*args: object, **kwargs: object) -> None:
        raise AssertionError("an empty database must not be migrated step by step")

    monkeypatch.setattr(command, "upgrade", no_walk)
    store = open_store(database_url)
    try:
        with store.engine.connect() as connection:
            assert connection.execute(select(CampaignRecord.id)).all() == []
    finally:
        store.engine.dispose()


def test_database_with_tables_still_migrates_step_by_step(database_url: str) -> None:
    engine = create_db_engine(database_url)
    config = alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0007")
    finally:
        engine.dispose()
    walked: list[str] = []
    upgrade = command.upgrade

    def recording_upgrade(config: Any, revision: str, **kwargs: Any) -> None:
        walked.append(revision)
        upgrade(config, revision, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(command, "upgrade", recording_upgrade)
        store = open_store(database_url)
    try:
        assert walked == ["head"]
        with store.engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalars().all() == [head_revision()]
    finally:
        store.engine.dispose()


def test_new_database_is_created_without_importing_alembic(database_url: str) -> None:
    script = (
        "import sys\n"
        "from campaign_scheduler.store.engine import open_store\n"
        "open_store(sys.argv[1]).engine.dispose()\n"
        "print(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, database_url], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalars().all() == [head_revision()]
    finally:
        engine.dispose()
