"""Alembic, driven from code: the schema is brought up to date on first use.

Importing Alembic costs about as much as a whole short command (~0.2 s), so every command
first asks the cheap question: does the database already stand at the newest revision of the
migration scripts? Only when it does not (an upgrade) is Alembic loaded.

A brand-new database (not one table yet) gets the newest schema in one step: the models'
``create_all`` and Alembic's version table set to the head revision (what ``alembic stamp head``
writes), without importing Alembic, instead of walking every migration (0.4-0.6 s of a first
``load``). ``tests/test_schema_shortcut.py`` proves both ways give the same schema on
SQLite and PostgreSQL. A database with any table at all still migrates step by step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from campaign_scheduler.store.revisions import MIGRATIONS, script_head

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "current_revision",
    "head_revision",
    "script_head",
    "upgrade_to_head",
]

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _stands_at(engine: Engine, revision: str) -> bool:
    """Whether the database's ``alembic_version`` holds exactly ``revision``."""
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except SQLAlchemyError:
        return False  # no version table yet: a new database
    return [row[0] for row in rows] == [revision]


def upgrade_to_head(engine: Engine) -> None:
    """Apply the missing migrations, if any, in one transaction per backend's rules; a
    database without any table is created at head in one step."""
    head = script_head()
    if head is not None:
        if _stands_at(engine, head):
            return
        with engine.begin() as connection:
            if _is_empty(connection):
                _create_at_head(connection, head)
                return
    if current_revision(engine) == head_revision():
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        if _is_empty(connection):
            _create_at_head(connection, None)
            command.stamp(config, "head")
        else:
            command.upgrade(config, "head")


def _is_empty(connection: Connection) -> bool:
    """Whether the database (its default schema) has no table at all."""
    return not inspect(connection).get_table_names()


def _create_at_head(connection: Connection, head: str | None) -> None:
    """The newest schema straight from the models, and Alembic's version table holding
    ``head`` as ``alembic stamp`` writes it (None: the caller stamps it with Alembic)."""
    from campaign_scheduler.store.models import Base

    Base.metadata.create_all(connection, checkfirst=False)
    if head is None:
        return
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), nullable=False),
        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=head))
