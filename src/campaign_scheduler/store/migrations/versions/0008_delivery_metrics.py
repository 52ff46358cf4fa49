"""delivery metrics: a per-delivery summary of its snapshots, for reports

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

``delivery_metrics`` holds one row per delivery with at least one snapshot: the figures of its
latest snapshot, the followers of its first (both ordered by ``fetched_at``, then ``id``), and
whether any of its snapshots has each figure. Every snapshot is written together with its
delivery's row (``store.snapshots.add_snapshot``), so the report reads one row per delivery
instead of seeking through the snapshots. The snapshots stay the history. The rows are filled
here from the snapshots already stored.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FIGURES = ("likes", "reposts", "replies", "quotes", "views", "reach", "clicks")


def upgrade() -> None:
    op.create_table(
        "delivery_metrics",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("latest_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("latest_fetched_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=True) for name in FIGURES),
        sa.Column("first_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("first_fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_followers", sa.Integer(), nullable=True),
        *(sa.Column(f"has_{name}", sa.Boolean(), nullable=False) for name in FIGURES),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["delivery.id"],
            name=op.f("fk_delivery_metrics_delivery_id_delivery"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", name=op.f("pk_delivery_metrics")),
    )
    # Every delivery's latest and first snapshot by an index seek on
    # metric_snapshot (delivery_id, fetched_at), and which figures any of them has.
    op.execute(
        f"""
        INSERT INTO delivery_metrics (
            delivery_id,
            latest_snapshot_id, latest_fetched_at, {", ".join(FIGURES)},
            first_snapshot_id, first_fetched_at, first_followers,
            {", ".join(f"has_{name}" for name in FIGURES)}
        )
        SELECT
            per_delivery.delivery_id,
            latest.id, latest.fetched_at, {", ".join(f"latest.{name}" for name in FIGURES)},
            first.id, first.fetched_at, first.followers,
            {", ".join(f"per_delivery.{name} = 1" for name in FIGURES)}
        FROM (
            SELECT delivery_id,
                {", ".join(f"MAX(CASE WHEN {n} IS NOT NULL THEN 1 ELSE 0 END) AS {n}" for n in FIGURES)}
            FROM metric_snapshot
            GROUP BY delivery_id
        ) AS per_delivery
        JOIN metric_snapshot AS latest ON latest.id = (
            SELECT s.id FROM metric_snapshot AS s
            WHERE s.delivery_id = per_delivery.delivery_id
            ORDER BY s.fetched_at DESC, s.id DESC LIMIT 1
        )
        JOIN metric_snapshot AS first ON first.id = (
            SELECT s.id FROM metric_snapshot AS s
            WHERE s.delivery_id = per_delivery.delivery_id
            ORDER BY s.fetched_at ASC, s.id ASC LIMIT 1
        )
        """
    )


def downgrade() -> None:
    op.drop_table("delivery_metrics")
