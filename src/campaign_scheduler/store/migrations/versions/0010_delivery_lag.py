"""delivery lag: a published delivery's lag, stored when its publication is recorded; an index
of a campaign's posts with their senders

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08

``delivery.lag_seconds`` holds the seconds from a published delivery's due time to its
publication, rounded to milliseconds: the publishing path computes it in the statement that
records the publication (``store/lag.py``), so that the report reads one number instead of
parsing two timestamps per delivery. Filled here for the deliveries already published, by the
expression the report used (SQLite: ``julianday``; PostgreSQL: the epoch of the interval).

``ix_post_campaign_sender`` on ``post (campaign_id, id, sender_id)``: the report joins every
delivery to its post for the campaign and the sender; this index answers that join without
reading the posts' rows (their texts).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LAG = {
    "sqlite": "round((julianday(published_at) - julianday(due_at)) * 86400.0, 3)",
    "postgresql": "round(CAST(EXTRACT(epoch FROM published_at - due_at) AS NUMERIC), 3)",
}


def upgrade() -> None:
    op.create_index("ix_post_campaign_sender", "post", ["campaign_id", "id", "sender_id"])
    with op.batch_alter_table("delivery", schema=None) as batch:
        batch.add_column(sa.Column("lag_seconds", sa.Float(), nullable=True))
    lag = LAG[op.get_bind().dialect.name]
    op.execute(f"UPDATE delivery SET lag_seconds = {lag} WHERE state = 'published'")


def downgrade() -> None:
    op.drop_index("ix_post_campaign_sender", table_name="post")
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and (bind.dialect.server_version_info or ()) >= (3, 35):
        # In place: the table keeps the definition it had (a batch would copy it anew).
        op.execute("ALTER TABLE delivery DROP COLUMN lag_seconds")
        return
    with op.batch_alter_table("delivery", schema=None) as batch:
        batch.drop_column("lag_seconds")
