"""Pure rules of the publish protocol: deadlines and backoff (decisions: ``decide.py``)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from campaign_scheduler.timeutil import deadline

__all__ = ["RetryPolicy", "deadline"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped; a fixed number of attempts."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=15)
    max_attempts: int = 8
    jitter: float = 0.5  # the delay is drawn from [delay * (1 - jitter), delay]

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1-based)."""
        exponent = max(0, attempt - 1)
        raw = min(self.cap.total_seconds(), self.base.total_seconds() * (2**exponent))
        low = raw * (1 - self.jitter)
        draw = (rng or random).uniform(low, raw)
        return timedelta(seconds=draw)

    def next_attempt(
        self,
        now: datetime,
        attempt: int,
        *,
        not_before: datetime | None = None,
        rng: random.Random | None = None,
    ) -> datetime:
        """When to try again: after the backoff, and not before the network's own reset."""
        at = now + self.delay(attempt, rng)
        if not_before is not None and not_before > at:
            at = not_before
        return at
