"""The steps the migration scripts are written in, each one reversible.

A script lists its steps once: ``upgrade`` takes them in order, ``downgrade`` undoes them in
reverse, so the two directions cannot drift apart. A step issues the Alembic operations the
scripts once spelled out by hand: ``create_table`` and ``drop_table``, everything else in batch
mode (SQLite changes a table by copying it). Every table has an ``id`` key. Constraint names
follow the models' naming convention (``pk_<table>``, ``fk_<table>_<column>_<target>``,
``uq_<table>_<first column>``) but are made here, so that a change of the convention cannot
rewrite history; ``tests/test_migrations.py`` holds every revision's schema, up and down, to
the byte.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations


class Step(Protocol):
    def up(self) -> None: ...

    def down(self) -> None: ...


def reversible(
    steps: Callable[[], Sequence[Step]],
) -> tuple[Callable[[], None], Callable[[], None]]:
    """A script's ``upgrade`` and ``downgrade``. The steps are made afresh for each run (a
    column object belongs to the one table it was added to)."""

    def upgrade() -> None:
        for step in steps():
            step.up()

    def downgrade() -> None:
        for step in reversed(steps()):
            step.down()

    return upgrade, downgrade


@dataclass(frozen=True)
class ForeignKey:
    """``column`` refers to ``target.id``."""

    column: str
    target: str
    ondelete: str | None = None

    def name(self, table: str) -> str:
        return f"fk_{table}_{self.column}_{self.target}"

    def constraint(self, table: str) -> sa.ForeignKeyConstraint:
        return sa.ForeignKeyConstraint(
            [self.column],
            [f"{self.target}.id"],
            name=op.f(self.name(table)),
            ondelete=self.ondelete,
        )


@dataclass(frozen=True)
class Unique:
    columns: tuple[str, ...]

    def __init__(self, *columns: str) -> None:
        object.__setattr__(self, "columns", columns)

    def constraint(self, table: str) -> sa.UniqueConstraint:
        return sa.UniqueConstraint(*self.columns, name=op.f(f"uq_{table}_{self.columns[0]}"))


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]

    def __init__(self, name: str, *columns: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "columns", columns)


Change = sa.Column[Any] | ForeignKey | Index


def _add(batch: BatchOperations, table: str, change: Change) -> None:
    if isinstance(change, sa.Column):
        batch.add_column(change)
    elif isinstance(change, ForeignKey):
        batch.create_foreign_key(
            batch.f(change.name(table)),
            change.target,
            [change.column],
            ["id"],
            ondelete=change.ondelete,
        )
    else:
        batch.create_index(change.name, list(change.columns), unique=False)


def _remove(batch: BatchOperations, table: str, change: Change) -> None:
    if isinstance(change, sa.Column):
        batch.drop_column(change.name)
    elif isinstance(change, ForeignKey):
        batch.drop_constraint(batch.f(change.name(table)), type_="foreignkey")
    else:
        batch.drop_index(change.name)


class Alter:
    """Columns, foreign keys and indexes added to a table in one batch (removed in reverse)."""

    def __init__(self, table: str, *changes: Change) -> None:
        self.table = table
        self.changes = changes

    def up(self) -> None:
        with op.batch_alter_table(self.table, schema=None) as batch:
            for change in self.changes:
                _add(batch, self.table, change)

    def down(self) -> None:
        with op.batch_alter_table(self.table, schema=None) as batch:
            for change in reversed(self.changes):
                _remove(batch, self.table, change)


class Table:
    """A new table: its ``id`` key (an integer unless ``key`` says otherwise), the columns,
    foreign keys and unique constraints, then its indexes (in a batch of their own)."""

    def __init__(
        self,
        name: str,
        *items: sa.Column[Any] | ForeignKey | Unique | Index,
        key: sa.types.TypeEngine[Any] | None = None,
    ) -> None:
        self.name = name
        self.items = items
        self.key = key

    def up(self) -> None:
        op.create_table(
            self.name,
            sa.Column("id", self.key if self.key is not None else sa.Integer(), nullable=False),
            *[item for item in self.items if isinstance(item, sa.Column)],
            *[item.constraint(self.name) for item in self.items if isinstance(item, ForeignKey)],
            sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{self.name}")),
            *[item.constraint(self.name) for item in self.items if isinstance(item, Unique)],
        )
        indexes = [item for item in self.items if isinstance(item, Index)]
        if indexes:
            Alter(self.name, *indexes).up()

    def down(self) -> None:
        indexes = [item for item in self.items if isinstance(item, Index)]
        if indexes:
            Alter(self.name, *indexes).down()
        op.drop_table(self.name)


class Execute:
    """A statement on the data. Nothing to undo: what it fills goes with its columns."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def up(self) -> None:
        op.execute(self.sql)

    def down(self) -> None:
        pass
