"""exactly once: deliveries remember what may be out, and their frozen thread plan

Create Date: 2026-12-07

``delivery.maybe_out`` is the persistent "possibly out" flag of the publish protocol: set
before every network write, cleared only by a receipt or a conclusive lookup. ``delivery.plan``
keeps the split of a thread as it was made at the first attempt. ``account.read_limited_until``
is the metrics read budget, kept apart from the publishing ``rate_limited_until``.
"""

import sqlalchemy as sa

from campaign_scheduler.store.migration_steps import Alter, Execute, reversible

revision = "0004"
down_revision = "0003"

upgrade, downgrade = reversible(
    lambda: [
        Alter(
            "delivery",
            sa.Column("maybe_out", sa.Boolean(), nullable=False, server_default=sa.false()),
            sa.Column("plan", sa.JSON()),
        ),
        Alter("account", sa.Column("read_limited_until", sa.DateTime(timezone=True))),
        # What the old protocol knew only from the last attempt becomes a property of the
        # delivery: a call in flight, a lost answer or an abandoned worker may have put the
        # post out.
        Execute(
            """
        UPDATE delivery SET maybe_out = TRUE
        WHERE state = 'publishing'
           OR (state IN ('pending', 'retry_wait') AND (
                SELECT attempt.outcome FROM attempt
                WHERE attempt.delivery_id = delivery.id
                ORDER BY attempt.number DESC LIMIT 1
              ) IN ('abandoned', 'outcome unknown'))
        """
        ),
    ]
)
