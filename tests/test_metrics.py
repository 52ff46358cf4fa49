"""Reach: snapshots on a cadence, NULL for what a network does not tell, earned hashtag use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_scheduler.metrics.cadence import snapshot_due, snapshot_points
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import HashtagUseRecord, MetricSnapshotRecord
from live import LiveCampaign

T0 = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)
END = datetime(2021, 11, 25, 15, 0, tzinfo=UTC)


def test_snapshot_points_follow_the_cadence() -> None:
    assert snapshot_points(T0, END) == [
        T0,
        T0 + timedelta(hours=1),
        T0 + timedelta(days=1),
        T0 + timedelta(days=7),
        END,
    ]


@pytest.mark.parametrize(
    ("now", "last", "due"),
    [
        (T0 - timedelta(minutes=1), None, False),  # not yet published
        (T0, None, True),  # right after publishing
        (T0 + timedelta(minutes=30), T0, False),  # the first point is taken
        (T0 + timedelta(hours=1), T0, True),  # an hour later
        (T0 + timedelta(hours=5), T0 + timedelta(hours=1, minutes=2), False),
        (T0 + timedelta(days=3), T0 + timedelta(hours=1), True),  # the day point passed
        (END + timedelta(hours=1), T0 + timedelta(days=7), True),  # the campaign's end
        (END + timedelta(days=30), END + timedelta(hours=1), False),  # nothing after that
    ],
)
def test_a_snapshot_is_due_once_per_passed_point(
    now: datetime, last: datetime | None, due: bool
) -> None:
    assert snapshot_due(now, T0, last, END) is due


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


@pytest.fixture
def published(tmp_path: Path, sandbox: MastodonSandbox) -> LiveCampaign:
    live = LiveCampaign(tmp_path, sandbox)
    live.draft("01-jetzt", live.now - timedelta(minutes=1), "Noch 7 Tage #5malklug")
    live.load()
    assert live.run("run", "--once").returncode == 0
    return live


def snapshots(live: LiveCampaign) -> list[MetricSnapshotRecord]:
    store = open_store(live.database_url)
    try:
        with store.session() as session:
            return list(
                session.scalars(select(MetricSnapshotRecord).order_by(MetricSnapshotRecord.id))
            )
    finally:
        store.dispose()


def test_metrics_stores_a_snapshot_with_null_for_unknown_figures(
    published: LiveCampaign, sandbox: MastodonSandbox
) -> None:
    [status] = sandbox.statuses()
    sandbox.set_engagement(status.id, favourites=12, reblogs=3, replies=2)
    result = published.run("metrics", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["snapshots"] == 1
    [snap] = snapshots(published)
    assert (snap.likes, snap.reposts, snap.replies) == (12, 3, 2)
    assert (snap.views, snap.reach, snap.clicks) == (
        None,
        None,
        None,
    )  # Mastodon has no such figures
    assert snap.quotes is None  # not given by this instance
    assert snap.followers == 0
    assert snap.campaign_id is not None and snap.account_id is not None


def test_metrics_takes_only_due_snapshots_unless_asked_for_all(published: LiveCampaign) -> None:
    assert json.loads(published.run("metrics", "--json").stdout)["snapshots"] == 1
    assert json.loads(published.run("metrics", "--json").stdout)["snapshots"] == 0
    assert json.loads(published.run("metrics", "--all", "--json").stdout)["snapshots"] == 1
    assert len(snapshots(published)) == 2


def test_a_rate_limited_account_is_skipped_until_its_reset(
    published: LiveCampaign, sandbox: MastodonSandbox
) -> None:
    store = open_store(published.database_url)
    from sqlalchemy import update

    from campaign_scheduler.store.models import AccountRecord

    with store.session(write=True) as session:
        session.execute(
            update(AccountRecord).values(
                rate_limited_until=datetime.now(UTC) + timedelta(minutes=5)
            )
        )
    store.dispose()
    report = json.loads(published.run("metrics", "--json").stdout)
    assert report["snapshots"] == 0
    assert report["skipped"]["soest-mastodon"].startswith("rate-limited until")


def test_earned_hashtag_use_is_stored_once_without_our_own_posts(
    published: LiveCampaign, sandbox: MastodonSandbox
) -> None:
    sandbox.post_as("buergerin", "Ich bin am 18. dabei! #5malklug")
    sandbox.post_as("verein", "Tolle Ideen aus Menden #5MalKlug #smartcity")
    sandbox.post_as("andere", "Kein Bezug #5malklugheit")
    first = json.loads(published.run("metrics", "--json").stdout)
    assert first["hashtag_posts"] == 2
    again = json.loads(published.run("metrics", "--json").stdout)
    assert again["hashtag_posts"] == 0
    store = open_store(published.database_url)
    with store.session() as session:
        authors = sorted(session.scalars(select(HashtagUseRecord.author)))
    store.dispose()
    assert authors == ["buergerin", "verein"]


def test_refused_credentials_while_fetching_figures_hold_the_account(
    published: LiveCampaign, sandbox: MastodonSandbox
) -> None:
    """The metrics job flags the account as a publish does, so the alert comes before the
    next post fails."""
    from campaign_scheduler.store.models import AccountRecord

    sandbox.revoke(published.env["LIVE_TOKEN_0"])
    report = json.loads(published.run("metrics", "--json").stdout)
    assert report["skipped"]["soest-mastodon"].startswith("credentials refused")
    store = open_store(published.database_url)
    try:
        with store.session() as session:
            account = session.scalars(
                select(AccountRecord).where(AccountRecord.name == "soest-mastodon")
            ).one()
            assert account.needs_attention
            assert account.attention_reason and "metrics" in account.attention_reason
    finally:
        store.dispose()
    status = published.run("status")
    assert "needs a person: account soest-mastodon needs attention" in status.stdout


def test_each_snapshot_updates_its_delivery_summary_in_the_same_transaction(
    published: LiveCampaign, sandbox: MastodonSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The collector writes a snapshot and its delivery's row of delivery_metrics together:
    a crash between the two writes leaves neither; the next sweep writes both."""
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.metrics.collector import collect
    from campaign_scheduler.publishing.accounts import ConfiguredChannels
    from campaign_scheduler.store import snapshots as snapshot_store
    from snapshot_data import expected_summary, summary_rows

    [status] = sandbox.statuses()
    sandbox.set_engagement(status.id, favourites=5, reblogs=1, replies=0)
    for name, value in published.env.items():
        monkeypatch.setenv(name, value)
    channels = ConfiguredChannels(load_settings(published.config), timeout=15)
    store = open_store(published.database_url)
    fold = snapshot_store._fold

    def crash(dialect: str) -> object:
        raise RuntimeError("crash between the snapshot and its summary")

    try:
        monkeypatch.setattr(snapshot_store, "_fold", crash)
        with pytest.raises(RuntimeError, match="crash between"):
            collect(store, channels, datetime.now(UTC), everything=True)
        with store.transaction() as connection:
            assert summary_rows(connection) == {}
        assert snapshots(published) == []

        monkeypatch.setattr(snapshot_store, "_fold", fold)
        assert collect(store, channels, datetime.now(UTC), everything=True).snapshots == 1
        assert collect(store, channels, datetime.now(UTC), everything=True).snapshots == 1
        with store.transaction() as connection:
            [row] = summary_rows(connection).values()
            assert row == expected_summary(connection)[row[0]]
        first, latest = snapshots(published)
        assert row[1:3] == (latest.id, latest.fetched_at)
        assert (first.likes, latest.likes) == (5, 5)
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("event_in", "window_ends_in"),
    [
        # The event's end plus the week after it (the campaign's end, the last snapshot).
        (timedelta(days=7), timedelta(days=14)),
        # A post after the event: its figures are fetched for a week, so is the hashtag.
        (timedelta(days=-10), timedelta(days=7)),
    ],
)
def test_hashtag_use_is_searched_until_the_campaigns_metrics_end(
    tmp_path: Path,
    sandbox: MastodonSandbox,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    event_in: timedelta,
    window_ends_in: timedelta,
) -> None:
    """A week after the event's end or after the campaign's last post, whichever is later
    (the last point the figures of its posts are fetched), the search stops."""
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.metrics.collector import collect_hashtag_use
    from campaign_scheduler.publishing.accounts import ConfiguredChannels

    live = LiveCampaign(
        tmp_path, sandbox, database_url=database_url, event_start=datetime.now(UTC) + event_in
    )
    live.draft("01-jetzt", live.now - timedelta(minutes=1), "Dabei #5malklug")
    live.load()
    assert live.run("run", "--once").returncode == 0
    sandbox.post_as("buergerin", "Ich war dabei! #5malklug")
    for name, value in live.env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(live.config)
    store = open_store(live.database_url)

    def searched_at(now: datetime) -> bool:
        """Whether a sweep at ``now`` asked the network's tag timeline."""
        before = len(sandbox.requests_seen)
        collect_hashtag_use(store, ConfiguredChannels(settings), now, accounts=settings.accounts)
        return any("/timelines/tag/" in seen.path for seen in sandbox.requests_seen[before:])

    try:
        end = live.now + window_ends_in
        assert searched_at(end - timedelta(hours=1))
        assert not searched_at(end + timedelta(hours=1))  # the campaign is over
    finally:
        store.dispose()
