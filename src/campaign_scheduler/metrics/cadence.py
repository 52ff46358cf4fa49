"""When to take a snapshot of a published post's figures.

Right after publishing (the followers at that moment are the context), an hour later, a day
later, a week later, and once after the campaign's end. Each point is taken once: a snapshot
is due when the latest point that has passed has no snapshot taken at or after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

AFTER_PUBLISHING: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=7),
)


def snapshot_points(
    published_at: datetime,
    campaign_end: datetime | None,
    offsets: Sequence[timedelta] = AFTER_PUBLISHING,
) -> list[datetime]:
    points = [published_at + offset for offset in offsets]
    if campaign_end is not None and campaign_end > published_at:
        points.append(campaign_end)
    return sorted(set(points))


def snapshot_due(
    now: datetime,
    published_at: datetime,
    last_snapshot: datetime | None,
    campaign_end: datetime | None,
    offsets: Sequence[timedelta] = AFTER_PUBLISHING,
) -> bool:
    """Whether a point has passed since the last snapshot (or none was taken yet)."""
    passed = [p for p in snapshot_points(published_at, campaign_end, offsets) if p <= now]
    if not passed:
        return False
    return last_snapshot is None or last_snapshot < passed[-1]
