"""reach: snapshots carry campaign and account for fast reports; earned hashtag use

Create Date: 2026-11-30
"""

import sqlalchemy as sa

from campaign_scheduler.store.migration_steps import (
    Alter,
    ForeignKey,
    Index,
    Table,
    Unique,
    reversible,
)

revision = "0003"
down_revision = "0002"


upgrade, downgrade = reversible(
    lambda: [
        Alter(
            "metric_snapshot",
            sa.Column("campaign_id", sa.Integer()),
            sa.Column("account_id", sa.Integer()),
            ForeignKey("campaign_id", "campaign", ondelete="CASCADE"),
            ForeignKey("account_id", "account", ondelete="CASCADE"),
            Index(
                "ix_metric_snapshot_campaign_delivery", "campaign_id", "delivery_id", "fetched_at"
            ),
        ),
        Table(
            "hashtag_use",
            sa.Column("campaign_id", sa.Integer(), nullable=False),
            sa.Column("channel", sa.String(50), nullable=False),
            sa.Column("remote_id", sa.String(500), nullable=False),
            sa.Column("author", sa.String(300), nullable=False),
            sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("url", sa.String(2000)),
            sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
            ForeignKey("campaign_id", "campaign", ondelete="CASCADE"),
            Unique("campaign_id", "channel", "remote_id"),
            Index("ix_hashtag_use_campaign_posted", "campaign_id", "posted_at"),
        ),
    ]
)
