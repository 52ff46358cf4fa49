"""exactly once: deliveries remember what may be out, and their frozen thread plan

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

``delivery.maybe_out`` is the persistent "possibly out" flag of the publish protocol: set
before every network write, cleared only by a receipt or a conclusive lookup. ``delivery.plan``
keeps the split of a thread as it was made at the first attempt. ``account.read_limited_until``
is the metrics read budget, kept apart from the publishing ``rate_limited_until``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("maybe_out", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("plan", sa.JSON(), nullable=True))
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("read_limited_until", sa.DateTime(timezone=True), nullable=True)
        )
    # What the old protocol knew only from the last attempt becomes a property of the delivery:
    # a call in flight, a lost answer or an abandoned worker may have put the post out.
    op.execute(
        """
        UPDATE delivery SET maybe_out = TRUE
        WHERE state = 'publishing'
           OR (state IN ('pending', 'retry_wait') AND (
                SELECT attempt.outcome FROM attempt
                WHERE attempt.delivery_id = delivery.id
                ORDER BY attempt.number DESC LIMIT 1
              ) IN ('abandoned', 'outcome unknown'))
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("read_limited_until")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("plan")
        batch_op.drop_column("maybe_out")
