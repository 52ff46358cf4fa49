"""delivery.state_reason_data: the key and values of the scheduler's own reasons

Create Date: 2026-12-07
"""

import sqlalchemy as sa

from campaign_scheduler.store.migration_steps import Alter, reversible

revision = "0006"
down_revision = "0005"

upgrade, downgrade = reversible(
    lambda: [Alter("delivery", sa.Column("state_reason_data", sa.JSON()))]
)
