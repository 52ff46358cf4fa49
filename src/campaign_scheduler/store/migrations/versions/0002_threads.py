"""threads: drafts may ask to be split, deliveries remember the parts already out

Create Date: 2026-11-30
"""

import sqlalchemy as sa

from campaign_scheduler.store.migration_steps import Alter, reversible

revision = "0002"
down_revision = "0001"

upgrade, downgrade = reversible(
    lambda: [
        Alter("post", sa.Column("split", sa.Boolean(), nullable=False, server_default=sa.false())),
        Alter("delivery", sa.Column("parts", sa.JSON())),
    ]
)
