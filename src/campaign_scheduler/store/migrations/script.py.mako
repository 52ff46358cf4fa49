"""${message}

Create Date: ${create_date}
"""
## `alembic revision --autogenerate` fills upgrade() and downgrade() with op.* calls. Write them
## as reversible steps (campaign_scheduler.store.migration_steps), as the other scripts do:
##     upgrade, downgrade = reversible(lambda: [Alter("table", sa.Column(...)), Table(...)])

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
