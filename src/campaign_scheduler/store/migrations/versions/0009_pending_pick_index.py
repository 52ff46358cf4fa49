"""pending pick index: PostgreSQL's pick walks the pending deliveries in due order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

A partial index on ``delivery (due_at, id)`` over the pending deliveries. The daemon's pick on
PostgreSQL (the most overdue pending delivery on a free account, ``FOR UPDATE SKIP LOCKED``)
walks it in order and stops at the first row it can lock, instead of joining and sorting every
due delivery of a backlog. PostgreSQL only: SQLite's claims keep their own plans.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        op.create_index(
            "ix_delivery_pending_due",
            "delivery",
            ["due_at", "id"],
            postgresql_where=sa.text("state = 'pending'"),
        )


def downgrade() -> None:
    if _postgresql():
        op.drop_index("ix_delivery_pending_due", table_name="delivery")
