"""comment error data: the key and values of why a published post has no first comment

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08

``delivery.comment_error_data`` is to ``comment_error`` what ``state_reason_data`` is to
``state_reason``: the scheduler's own reason (``comment_refused``, ``comment_gave_up``) as a key
with its values, the network's refusal among them as it was sent (``error``). ``history
--json`` shows it as ``first_comment.reason``; readers get it worded in their language.
Deliveries recorded before this revision keep their English ``comment_error`` only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch:
        batch.add_column(sa.Column("comment_error_data", sa.JSON(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and (bind.dialect.server_version_info or ()) >= (3, 35):
        # In place: the table keeps the definition it had (a batch would copy it anew).
        op.execute("ALTER TABLE delivery DROP COLUMN comment_error_data")
        return
    with op.batch_alter_table("delivery", schema=None) as batch:
        batch.drop_column("comment_error_data")
