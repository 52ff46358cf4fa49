"""Column types and states of the record that need no ORM: the ORM models
(``models.py``) and the Core-only reads of quick commands (``status_reads.py``) share them."""

from __future__ import annotations

import enum
from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    PUBLISHING = "publishing"
    RETRY_WAIT = "retry_wait"
    PUBLISHED = "published"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


#: States in which the network may already have the post: its content must not change.
OUT_OR_MAYBE_OUT = frozenset(
    {DeliveryState.PUBLISHED, DeliveryState.PUBLISHING, DeliveryState.UNKNOWN}
)
#: States that are still waiting to go out.
WAITING = frozenset({DeliveryState.PENDING, DeliveryState.RETRY_WAIT})
