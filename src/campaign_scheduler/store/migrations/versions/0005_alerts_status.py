"""alerts and status: notices sent once, status acknowledgements, a daemon's clean stop

Create Date: 2026-12-07
"""

import sqlalchemy as sa

from campaign_scheduler.store.migration_steps import Alter, Index, Table, Unique, reversible

revision = "0005"
down_revision = "0004"

upgrade, downgrade = reversible(
    lambda: [
        Table(
            "notice",
            sa.Column("key", sa.String(400), nullable=False),
            sa.Column("kind", sa.String(50), nullable=False),
            sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("sent_by", sa.String(200), nullable=False),
            sa.Column("detail", sa.JSON(), nullable=False),
            Unique("key"),
        ),
        Table(
            "status_ack",
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("os_user", sa.String(200), nullable=False),
            sa.Column("problems", sa.Integer(), nullable=False),
            Index("ix_status_ack_at", "at"),
        ),
        Alter("worker", sa.Column("stopped_at", sa.DateTime(timezone=True))),
    ]
)
