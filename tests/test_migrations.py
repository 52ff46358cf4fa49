"""The migrations are frozen history: every revision leaves the schema it always left.

``migration_schemas.json`` holds, for SQLite and PostgreSQL, the schema after each step of
upgrading an empty database revision by revision to head and then downgrading it step by step
to base, as dumped from the migration scripts of commit 319c91e. However the scripts are
written, the databases they produce must stay the same to the byte. A newer migration than the
file knows is walked too (its own steps are not compared until the file is regenerated; the
old ones, also on the way down through it, still are). Regenerate the file only for a new
migration (it adds entries; the old ones must not change):

    .venv/bin/python tests/test_migrations.py > tests/migration_schemas.json
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from campaign_scheduler.store.engine import create_db_engine
from campaign_scheduler.store.migrate import alembic_config

EXPECTED = Path(__file__).with_name("migration_schemas.json")

Schema = list[list[Any]]


def _rows(connection: Connection, sql: str) -> Schema:
    return [list(row) for row in connection.execute(text(sql))]


_CONSTRAINT = re.compile(r"(CONSTRAINT \S+ )?(PRIMARY KEY|UNIQUE|FOREIGN KEY|CHECK)\b")


def _sorted_constraints(sql: str | None) -> str | None:
    """A SQLite ``CREATE TABLE`` with its table constraints in sorted order: Alembic's batch
    mode copies a table's constraints in set order, which changes from one run to the next
    (hash seeds), so only their order is normalised; columns and their order stay as they are.
    """
    if sql is None or not sql.startswith("CREATE TABLE"):
        return sql
    head, _, body = sql.partition(" (\n\t")
    parts = body.removesuffix("\n)").split(", \n\t")
    columns = [part for part in parts if not _CONSTRAINT.match(part)]
    constraints = sorted(part for part in parts if _CONSTRAINT.match(part))
    return f"{head} (\n\t" + ", \n\t".join(columns + constraints) + "\n)"


def dump_schema(connection: Connection) -> dict[str, Schema]:
    """Everything the migrations decide, as the database itself reports it."""
    if connection.dialect.name == "sqlite":
        objects = _rows(
            connection, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        )
        return {"objects": [[*row[:3], _sorted_constraints(row[3])] for row in objects]}
    return {
        "columns": _rows(
            connection,
            "SELECT table_name, ordinal_position, column_name, data_type, udt_name,"
            " character_maximum_length, datetime_precision, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
            " ORDER BY table_name, ordinal_position",
        ),
        "constraints": _rows(
            connection,
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE connamespace = current_schema()::regnamespace"
            " ORDER BY 1, 2",
        ),
        "indexes": _rows(
            connection,
            "SELECT tablename, indexname, indexdef FROM pg_indexes"
            " WHERE schemaname = current_schema() ORDER BY 1, 2",
        ),
        "sequences": _rows(
            connection,
            "SELECT sequencename, data_type::text, start_value, increment_by FROM pg_sequences"
            " WHERE schemaname = current_schema() ORDER BY 1",
        ),
    }


def walk_migrations(url: str) -> dict[str, dict[str, Schema]]:
    """Upgrade an empty database one revision at a time, then downgrade it one at a time,
    dumping the schema after every step."""
    config = alembic_config()
    revisions = [
        script.revision
        for script in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))
    ]
    steps = [("up", revision) for revision in revisions]
    steps += [("down", revision) for revision in [*reversed(revisions[:-1]), "base"]]
    engine = create_db_engine(url)
    dumps: dict[str, dict[str, Schema]] = {}
    try:
        for direction, revision in steps:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                if direction == "up":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)
            with engine.connect() as connection:
                dumps[f"{direction} {revision}"] = dump_schema(connection)
    finally:
        engine.dispose()
    return dumps


def _expected(dialect: str) -> dict[str, dict[str, Schema]]:
    return dict(json.loads(EXPECTED.read_text("utf-8"))[dialect])


def _compare(expected: dict[str, dict[str, Schema]], actual: dict[str, dict[str, Schema]]) -> None:
    assert set(expected) <= set(actual), "a revision of the file is no longer walked"
    for step, schema in expected.items():
        assert actual[step] == schema, step


def test_every_revision_leaves_the_same_sqlite_schema(tmp_path: Path) -> None:
    walked = walk_migrations(f"sqlite:///{tmp_path / 'walk.db'}")
    _compare(_expected("sqlite"), json.loads(json.dumps(walked)))


def test_every_revision_leaves_the_same_postgresql_schema(postgres_url: str) -> None:
    walked = walk_migrations(postgres_url)
    _compare(_expected("postgresql"), json.loads(json.dumps(walked)))


def _postgres_walk() -> dict[str, dict[str, Schema]]:
    """The PostgreSQL walk on a database of its own (for regenerating the expected file)."""
    import uuid

    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from conftest import POSTGRES_URL

    name = f"cs_migrations_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
        walked: dict[str, dict[str, Schema]] = json.loads(json.dumps(walk_migrations(url)))
        return walked
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        sqlite = walk_migrations(f"sqlite:///{Path(folder) / 'walk.db'}")
    walks = {"sqlite": sqlite, "postgresql": _postgres_walk()}
    # One row a line: a changed schema shows as a readable diff.
    lines = ["{"]
    for d, (dialect, steps) in enumerate(walks.items()):
        lines.append(f" {json.dumps(dialect)}: {{")
        for s, (step, schema) in enumerate(steps.items()):
            lines.append(f"  {json.dumps(step)}: {{")
            for k, (kind, rows) in enumerate(schema.items()):
                lines.append(f"   {json.dumps(kind)}: [")
                lines += [f"    {json.dumps(row)}," for row in rows[:-1]]
                lines += [f"    {json.dumps(row)}" for row in rows[-1:]]
                lines.append("   ]" + ("," if k < len(schema) - 1 else ""))
            lines.append("  }" + ("," if s < len(steps) - 1 else ""))
        lines.append(" }" + ("," if d < len(walks) - 1 else ""))
    lines.append("}")
    sys.stdout.write("\n".join(lines) + "\n")
