"""The rehearsal's compressed clock keeps order and relative spacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from campaign_scheduler.rehearsal.clock import CompressedClock

FIRST = datetime(2021, 10, 26, 8, 0, tzinfo=UTC)
LAST = datetime(2021, 11, 18, 9, 0, tzinfo=UTC)
START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def clock() -> CompressedClock:
    return CompressedClock(FIRST, LAST, START, timedelta(seconds=60))


def test_the_campaign_maps_onto_one_minute() -> None:
    c = clock()
    assert c.map(FIRST) == START
    assert c.map(LAST) == START + timedelta(seconds=60)
    assert "23 days of campaign in 60 seconds" in c.describe()


def test_deadlines_shrink_but_never_below_the_floor() -> None:
    c = clock()
    due = FIRST + timedelta(days=7)
    assert c.deadline(due, due + timedelta(days=7)) == c.map(due) + timedelta(days=7) * c.factor
    assert c.deadline(due, due + timedelta(hours=2)) == c.map(due) + timedelta(seconds=10)
    assert c.deadline(due, None) is None


@given(
    st.lists(
        st.integers(min_value=0, max_value=int((LAST - FIRST).total_seconds())),
        min_size=2,
        max_size=30,
    )
)
def test_order_and_relative_spacing_are_kept(offsets: list[int]) -> None:
    c = clock()
    real = sorted(FIRST + timedelta(seconds=o) for o in offsets)
    mapped = [c.map(t) for t in real]
    assert mapped == sorted(mapped)
    for (a, b), (x, y) in zip(pairwise(real), pairwise(mapped), strict=True):
        assert abs((y - x).total_seconds() - (b - a).total_seconds() * c.factor) < 1e-3


def test_unmap_is_the_inverse_of_map() -> None:
    c = clock()
    for moment in (FIRST, LAST, FIRST + timedelta(days=3, hours=5), LAST + timedelta(hours=2)):
        assert abs(c.unmap(c.map(moment)) - moment) < timedelta(
            seconds=1
        )  # a microsecond of rehearsal is ~33 ms
    assert c.unmap(START + timedelta(seconds=60)) == LAST


def test_after_the_schedule_seconds_are_seconds_again() -> None:
    c = clock()
    end = START + timedelta(seconds=60)
    assert c.unmap_settled(end + timedelta(seconds=30)) == LAST + timedelta(seconds=30)
    assert c.unmap_settled(START) == FIRST
