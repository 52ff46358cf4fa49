"""The states of a delivery, without SQLAlchemy (``coretypes`` gives them to the models and
the Core reads; the SQLite driver's reads of an unchanged load use them from here)."""

from __future__ import annotations

import enum


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
