"""The report's sections against the deliveries they summarise, for every grouping, on SQLite
and PostgreSQL: percentiles found by position in the working set (sorted by group and lag),
and the networks' and the campaign's totals added up from the groups' sums."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from statistics import median

import pytest
from sqlalchemy import select, update

from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.model import (
    FIGURES,
    OUTCOMES,
    Figures,
    GroupBy,
    Outcomes,
    Punctuality,
)
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.lag import fill_lags
from campaign_scheduler.store.models import (
    AccountRecord,
    DeliveryRecord,
    PostRecord,
    SenderRecord,
)
from report_data import BERLIN, GENERATED_AT, known_store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    known = known_store(database_url)
    yield known
    known.dispose()


def lags_by(store: Store, by: GroupBy) -> dict[str, list[float]]:
    """Each group's lags of published deliveries, computed here from the deliveries."""
    query = (
        select(
            SenderRecord.slug,
            AccountRecord.channel,
            PostRecord.key,
            DeliveryRecord.due_at,
            DeliveryRecord.published_at,
        )
        .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(SenderRecord, SenderRecord.id == PostRecord.sender_id)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .where(DeliveryRecord.state == "published")
    )
    lags: dict[str, list[float]] = defaultdict(list)
    with store.transaction() as connection:
        for sender, channel, post, due_at, published_at in connection.execute(query):
            assert published_at is not None
            key = {
                GroupBy.SENDER: sender,
                GroupBy.CHANNEL: channel,
                GroupBy.DAY: due_at.astimezone(BERLIN).date().isoformat(),
                GroupBy.POST: post,
            }[by]
            lags[key].append(round((published_at - due_at).total_seconds(), 3))
    return lags


def expected(lags: list[float]) -> Punctuality:
    ordered = sorted(lags)
    return Punctuality(
        published=len(ordered),
        median_seconds=round(median(ordered), 3),
        p95_seconds=ordered[math.ceil(0.95 * len(ordered)) - 1],
        max_seconds=ordered[-1],
        within_1_minute=sum(lag <= 60 for lag in ordered),
    )


@pytest.mark.parametrize("by", list(GroupBy))
def test_every_groups_punctuality_is_that_of_its_lags(store: Store, by: GroupBy) -> None:
    report = build_report(store, "testlauf", by=by, now=GENERATED_AT)
    lags = lags_by(store, by)
    assert {g.key: g.punctuality for g in report.groups} == {
        g.key: expected(lags[g.key]) if g.key in lags else Punctuality() for g in report.groups
    }
    assert set(lags) <= {g.key for g in report.groups}
    assert report.totals_punctuality == expected([lag for run in lags.values() for lag in run])
    # Even and odd numbers of lags, and a group without any, are among the cases checked.
    counts = {len(lags.get(g.key, [])) % 2 for g in report.groups}
    assert counts == {0, 1}


#: Lags (seconds) spread over many whole seconds, with ties, fractions on either side of a
#: second and of the punctual minute, one negative and one of hours: the report finds a
#: percentile in the histogram of whole seconds, then among the lags of that second.
SPREAD = (3600.123, -0.6, 0.25, 1.5, 1.5, 59.999, 60.5, 0.75, 60.0, 61.0, 7.0, 7.001, 2.5)


@pytest.mark.parametrize("by", list(GroupBy))
def test_percentiles_of_lags_spread_over_many_seconds(store: Store, by: GroupBy) -> None:
    with store.transaction(write=True) as connection:
        published = connection.execute(
            select(DeliveryRecord.id, DeliveryRecord.due_at)
            .where(DeliveryRecord.state == "published")
            .order_by(DeliveryRecord.id)
        ).all()
        for n, (delivery_id, due_at) in enumerate(published):
            connection.execute(
                update(DeliveryRecord)
                .where(DeliveryRecord.id == delivery_id)
                .values(
                    published_at=due_at + timedelta(seconds=SPREAD[n % len(SPREAD)]),
                    lag_seconds=None,
                )
            )
        fill_lags(connection)
    report = build_report(store, "testlauf", by=by, now=GENERATED_AT)
    lags = lags_by(store, by)
    assert len({lag for run in lags.values() for lag in run}) >= 6
    assert {g.key: g.punctuality for g in report.groups} == {
        g.key: expected(lags[g.key]) if g.key in lags else Punctuality() for g in report.groups
    }
    assert report.totals_punctuality == expected([lag for run in lags.values() for lag in run])


def sums(rows: list[tuple[Outcomes, Figures]]) -> tuple[dict[str, int], list[int | None]]:
    outcomes = {name: sum(getattr(o, name) for o, _ in rows) for name in OUTCOMES}
    figures: list[int | None] = []
    for name in FIGURES:
        given = [getattr(f, name) for _, f in rows if getattr(f, name) is not None]
        figures.append(sum(given) if given else None)
    return outcomes, figures


@pytest.mark.parametrize("by", list(GroupBy))
def test_groups_networks_and_campaign_add_up(store: Store, by: GroupBy) -> None:
    report = build_report(store, "testlauf", by=by, now=GENERATED_AT)
    by_channel = build_report(store, "testlauf", by=GroupBy.CHANNEL, now=GENERATED_AT)
    campaign = sums([(report.totals_outcomes, report.totals_figures)])
    assert sums([(g.outcomes, g.figures) for g in report.groups]) == campaign
    assert sums([(c.outcomes, c.figures) for c in report.channels]) == campaign
    assert [(c.channel, c.outcomes, c.figures) for c in report.channels] == [
        (g.key, g.outcomes, g.figures) for g in by_channel.groups
    ]
    assert report.totals_outcomes.planned == 14
    assert report.totals_figures.quotes is not None and report.totals_figures.clicks is not None
