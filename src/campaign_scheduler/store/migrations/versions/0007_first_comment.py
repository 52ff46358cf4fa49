"""first comment: a delivery's first comment (Instagram, Facebook, LinkedIn) and its failure

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

``delivery.first_comment`` is the rendered text of the comment that follows the post (one more
part of the delivery: its id and URL join ``parts`` once it is out, marked ``"kind":
"comment"``). ``delivery.comment_error`` says why a published post has no comment (the network
refused it, or gave up): the post stays published, a person is told.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_comment", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("comment_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_column("comment_error")
        batch_op.drop_column("first_comment")
