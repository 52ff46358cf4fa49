"""SQL for "the campaign's local calendar day of this UTC instant", DST-correct on SQLite and
PostgreSQL.

PostgreSQL converts with ``timezone()``. SQLite has no time zones: the UTC offsets in force
over the data's time span are taken from the zone database and applied with one ``CASE``
branch per offset period (two per year for zones with daylight saving time).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal
from sqlalchemy.sql.elements import ColumnElement

from campaign_scheduler.store.models import UTCDateTime


class LocalDay:
    """Builds ``YYYY-MM-DD`` (the local date) for a UTC datetime column."""

    def __init__(self, dialect: str, zone: ZoneInfo, span: tuple[datetime, datetime]) -> None:
        self.dialect = dialect
        self.zone = zone
        self.periods = utc_offset_periods(zone, span[0], span[1])

    def of(self, column: Any) -> ColumnElement[str]:
        if self.dialect == "postgresql":
            return func.to_char(func.timezone(self.zone.key, column), "YYYY-MM-DD")
        *bounded, (_, last_offset) = self.periods
        shifted = [
            (column < literal(until, UTCDateTime()), func.date(column, _modifier(offset)))
            for until, offset in bounded
        ]
        if not shifted:
            return func.date(column, _modifier(last_offset))
        return case(*shifted, else_=func.date(column, _modifier(last_offset)))


def _modifier(offset_seconds: int) -> ColumnElement[str]:
    return literal(f"{offset_seconds:+d} seconds")


def utc_offset_periods(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets over ``[start, end]``: ``[(until, seconds), ..., (None, seconds)]``,
    each offset in force before ``until`` (UTC), the last one open-ended."""
    start, end = start - timedelta(days=2), end + timedelta(days=2)

    def offset(instant: datetime) -> int:
        value = instant.astimezone(zone).utcoffset()
        return int(value.total_seconds()) if value is not None else 0

    periods: list[tuple[datetime | None, int]] = []
    current = start
    current_offset = offset(current)
    while current < end:
        step = min(current + timedelta(days=1), end)
        if offset(step) != current_offset:
            low, high = current, step  # the change lies in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == current_offset:
                    low = middle
                else:
                    high = middle
            periods.append((high.replace(microsecond=0), current_offset))
            current_offset = offset(high)
        current = step
    periods.append((None, current_offset))
    return periods
