"""Column types and states of the record that need no ORM: the ORM models
(``models.py``) and the Core-only reads of quick commands (``status_reads.py``) share them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, TypeDecorator

# (The states need no SQLAlchemy: they live in ``states``, and are given on from here.)
from campaign_scheduler.store.states import OUT_OR_MAYBE_OUT, WAITING, DeliveryState

__all__ = ["OUT_OR_MAYBE_OUT", "WAITING", "DeliveryState", "UTCDateTime"]


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
