"""A settable clock for sandboxes and adapters under test: starts at the wall time."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    """``clock()`` is ``clock.now`` (seconds since the epoch); tests move it by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now
