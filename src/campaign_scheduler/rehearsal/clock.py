"""Map a campaign's real schedule onto a compressed one that keeps order and relative spacing.

A countdown over three weeks plays out in about a minute: every due time t becomes
``start + (t - first) * factor`` with ``factor = span / (last - first)``. Deadlines and the
grace period shrink by the same factor (with a floor, so a post is not expired by the time
it takes to make one HTTP call).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class CompressedClock:
    first: datetime  # the earliest real due time
    last: datetime  # the latest real due time
    start: datetime  # when the first post is due in the rehearsal
    span: timedelta  # how long the rehearsal's schedule lasts
    floor: timedelta = timedelta(seconds=10)

    @property
    def factor(self) -> float:
        real = (self.last - self.first).total_seconds()
        return self.span.total_seconds() / real if real > 0 else 0.0

    def map(self, moment: datetime) -> datetime:
        """The rehearsal time of a real moment (also before ``first`` or after ``last``)."""
        return self.start + (moment - self.first) * self.factor

    def unmap(self, moment: datetime) -> datetime:
        """The real (campaign) time of a rehearsal moment: the inverse of :meth:`map`."""
        if not self.factor:
            return self.first + (moment - self.start)
        return self.first + (moment - self.start) / self.factor

    def unmap_settled(self, moment: datetime) -> datetime:
        """Like :meth:`unmap` during the rehearsal's schedule; after its end, real seconds
        count as seconds again (what happens after the last post is not compressed)."""
        end = self.start + self.span
        if moment <= end:
            return self.unmap(moment)
        return self.last + (moment - end)

    def shrink(self, duration: timedelta) -> timedelta:
        """A duration on the rehearsal clock, never below ``floor``."""
        return max(self.floor, duration * self.factor)

    def deadline(self, due: datetime, not_after: datetime | None) -> datetime | None:
        """The rehearsal deadline: the same distance from the due time, shrunk, with the floor."""
        if not_after is None:
            return None
        return self.map(due) + self.shrink(not_after - due)

    def describe(self) -> str:
        real_days = (self.last - self.first).total_seconds() / 86400
        return (
            f"{real_days:.0f} days of campaign in {self.span.total_seconds():.0f} seconds "
            f"(1 second = {1 / self.factor / 3600:.1f} hours; order and spacing kept)"
            if self.factor
            else "every post at once"
        )
