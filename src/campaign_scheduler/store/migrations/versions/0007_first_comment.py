"""first comment: a delivery's first comment (Instagram, Facebook, LinkedIn) and its failure

Create Date: 2026-12-07

``delivery.first_comment`` is the rendered text of the comment that follows the post (one more
part of the delivery: its id and URL join ``parts`` once it is out, marked ``"kind":
"comment"``). ``delivery.comment_error`` says why a published post has no comment (the network
refused it, or gave up): the post stays published, a person is told.
"""

import sqlalchemy as sa

from campaign_scheduler.store.migration_steps import Alter, reversible

revision = "0007"
down_revision = "0006"

upgrade, downgrade = reversible(
    lambda: [
        Alter(
            "delivery",
            sa.Column("first_comment", sa.Text()),
            sa.Column("comment_error", sa.Text()),
        )
    ]
)
