"""reach: snapshots carry campaign and account for fast reports; earned hashtag use

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("metric_snapshot", schema=None) as batch_op:
        batch_op.add_column(sa.Column("campaign_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("account_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_metric_snapshot_campaign_id_campaign"),
            "campaign",
            ["campaign_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_metric_snapshot_account_id_account"),
            "account",
            ["account_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_metric_snapshot_campaign_delivery",
            ["campaign_id", "delivery_id", "fetched_at"],
            unique=False,
        )
    op.create_table(
        "hashtag_use",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=50), nullable=False),
        sa.Column("remote_id", sa.String(length=500), nullable=False),
        sa.Column("author", sa.String(length=300), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
            name=op.f("fk_hashtag_use_campaign_id_campaign"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hashtag_use")),
        sa.UniqueConstraint(
            "campaign_id", "channel", "remote_id", name=op.f("uq_hashtag_use_campaign_id")
        ),
    )
    with op.batch_alter_table("hashtag_use", schema=None) as batch_op:
        batch_op.create_index(
            "ix_hashtag_use_campaign_posted", ["campaign_id", "posted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hashtag_use", schema=None) as batch_op:
        batch_op.drop_index("ix_hashtag_use_campaign_posted")
    op.drop_table("hashtag_use")
    with op.batch_alter_table("metric_snapshot", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_snapshot_campaign_delivery")
        batch_op.drop_constraint(
            batch_op.f("fk_metric_snapshot_account_id_account"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_metric_snapshot_campaign_id_campaign"), type_="foreignkey"
        )
        batch_op.drop_column("account_id")
        batch_op.drop_column("campaign_id")
