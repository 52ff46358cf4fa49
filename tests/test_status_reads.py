"""The Core-only reads (``campaign status``, a ``load`` that changes nothing) and the
statements of SQLite's own driver (``sqlite_reads``) name the record's columns as the models
(and the migrations) do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import TableClause

from campaign_scheduler.store import sqlite_reads, status_reads, sync_reads
from campaign_scheduler.store.coretypes import UTCDateTime
from campaign_scheduler.store.engine import create_db_engine, open_store
from campaign_scheduler.store.migrate import alembic_config
from campaign_scheduler.store.models import Base


@pytest.mark.parametrize("tables", [status_reads.TABLES, sync_reads.TABLES], ids=["status", "load"])
def test_every_column_the_core_reads_name_exists_in_the_models_with_the_same_time_type(
    tables: tuple[TableClause, ...],
) -> None:
    for clause in tables:
        model = Base.metadata.tables[clause.name]
        for column in clause.c:
            assert column.name in model.c, f"{clause.name}.{column.name}"
            is_time = isinstance(model.c[column.name].type, UTCDateTime)
            assert isinstance(column.type, UTCDateTime) == is_time, f"{clause.name}.{column.name}"


def _created_from_the_models(path: Path) -> None:
    open_store(f"sqlite:///{path}").dispose()  # (a new database: the models' create_all)


def _migrated_step_by_step(path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


@pytest.mark.parametrize("make", [_created_from_the_models, _migrated_step_by_step])
@pytest.mark.parametrize(
    "statement", sqlite_reads.STATEMENTS, ids=lambda s: s.split(" FROM ")[1].split()[0]
)
def test_every_statement_sqlite_reads_sends_names_tables_and_columns_the_schema_has(
    tmp_path: Path, make: object, statement: str
) -> None:
    path = tmp_path / "record.db"
    make(path)  # type: ignore[operator]
    assert '"' not in statement  # (SQLite reads an unknown "name" as a string)
    connection = sqlite3.connect(path)
    try:
        # Preparing a statement resolves every name in it: an unknown table or column fails.
        connection.execute(f"EXPLAIN {statement}", (None,) * statement.count("?"))
    finally:
        connection.close()
