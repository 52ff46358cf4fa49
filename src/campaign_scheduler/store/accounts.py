"""What the database records about accounts apart from posts: whether one needs a person."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import update

from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import AccountRecord


def clear_attention(store: Store, names: Collection[str], *, now: datetime) -> None:
    """Accounts ``names`` were verified: clear their "needs attention" flag and its reason
    (accounts not yet in the database are left alone)."""
    if not names:
        return
    with store.session(write=True) as session:
        session.execute(
            update(AccountRecord)
            .where(AccountRecord.name.in_(list(names)))
            .values(needs_attention=False, attention_reason=None, updated_at=now)
        )
