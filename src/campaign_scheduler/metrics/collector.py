"""Fetch figures for published deliveries and store each fetch as a timestamped snapshot.

Unknown figures stay NULL (never 0). A rate-limited account is left alone until its reset;
the other accounts go on. Earned hashtag use (posts by others with the campaign's hashtag)
is stored per post, once, for networks that can search hashtags, from the campaign's first
published post on until its metrics end (:func:`metrics_end`).

What there is to read is decided from the database first: a sweep with nothing to read builds
no adapter and so imports no network library (an idle daemon stays light).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update

from campaign_scheduler.channels.base import ChannelProvider, Receipt, TagUse
from campaign_scheduler.errors import (
    AuthError,
    CampaignSchedulerError,
    ChannelError,
    RateLimitedError,
)
from campaign_scheduler.metrics.cadence import AFTER_PUBLISHING, snapshot_due
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import (
    SNAPSHOT_FIGURES,
    AccountRecord,
    CampaignRecord,
    DeliveryMetricsRecord,
    DeliveryRecord,
    DeliveryState,
    HashtagUseRecord,
    PostRecord,
)
from campaign_scheduler.uilang import msg, tr, trn

log = logging.getLogger("campaign_scheduler.metrics")

#: After the event, how long a campaign's posts are still worth a final snapshot.
CAMPAIGN_TAIL = timedelta(days=7)


@dataclass(frozen=True)
class Target:
    """A published delivery whose figures are due."""

    delivery_id: int
    campaign_id: int
    account_id: int
    account: str
    remote_id: str
    url: str | None
    published_at: datetime


@dataclass
class SweepReport:
    snapshots: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # account -> why
    failures: int = 0
    hashtag_posts: int = 0

    def summary(self, lang: str = "en") -> str:
        """``3 snapshots, 1 failed``; in ``lang`` where a person reads it."""
        parts = [trn("{n} snapshot", "{n} snapshots", self.snapshots, lang)]
        if self.hashtag_posts:
            parts.append(
                trn(
                    "{n} new post by others with the hashtag",
                    "{n} new posts by others with the hashtag",
                    self.hashtag_posts,
                    lang,
                )
            )
        if self.failures:
            parts.append(tr("{n} failed", lang, n=self.failures))
        for account, why in sorted(self.skipped.items()):
            parts.append(tr("{account} skipped ({why})", lang, account=account, why=tr(why, lang)))
        return ", ".join(parts)


def campaign_end(campaign: CampaignRecord) -> datetime:
    return (campaign.event_end or campaign.event_start) + CAMPAIGN_TAIL


def metrics_end(campaign: CampaignRecord, last_published: datetime) -> datetime:
    """When the campaign's metrics are over: its last snapshot point, the later of
    :func:`campaign_end` and a week after its last published post (see ``cadence``). The
    hashtag search stops then too; a post published later opens it again."""
    return max(campaign_end(campaign), last_published + AFTER_PUBLISHING[-1])


def due_targets(store: Store, now: datetime, *, everything: bool = False) -> list[Target]:
    """Published deliveries whose next snapshot is due (all of them with ``everything``)."""
    last = DeliveryMetricsRecord.__table__.c
    query = (
        select(DeliveryRecord, AccountRecord, CampaignRecord, last.latest_fetched_at)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
        .outerjoin(DeliveryMetricsRecord, last.delivery_id == DeliveryRecord.id)
        .where(
            DeliveryRecord.state == DeliveryState.PUBLISHED.value,
            DeliveryRecord.remote_id.is_not(None),
        )
        .order_by(DeliveryRecord.published_at)
    )
    targets = []
    with store.session() as session:
        for delivery, account, campaign, last_at in session.execute(query):
            published_at = delivery.published_at or delivery.due_at
            if everything or snapshot_due(now, published_at, last_at, campaign_end(campaign)):
                targets.append(
                    Target(
                        delivery_id=delivery.id,
                        campaign_id=campaign.id,
                        account_id=account.id,
                        account=account.name,
                        remote_id=delivery.remote_id or "",
                        url=delivery.remote_url,
                        published_at=published_at,
                    )
                )
    return targets


def collect(
    store: Store,
    channels: ChannelProvider,
    now: datetime,
    *,
    everything: bool = False,
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], datetime] | None = None,
    stop: Callable[[], bool] | None = None,
) -> SweepReport:
    """Take every due snapshot. ``progress(done, total)`` is called after each target;
    ``stop()`` is asked before each read (the daemon's SIGTERM ends a sweep between reads)."""
    report = SweepReport()
    targets = due_targets(store, now, everything=everything)
    limited = _rate_limited_accounts(store, now)
    for number, target in enumerate(targets, start=1):
        if stop is not None and stop():
            break
        if target.account in limited:
            report.skipped.setdefault(target.account, limited[target.account])
        elif target.account not in report.skipped:
            _snapshot(store, channels, target, report, clock() if clock else now)
        if progress is not None:
            progress(number, len(targets))
    return report


def _rate_limited_accounts(store: Store, now: datetime) -> dict[str, str]:
    """Accounts whose read budget is spent (a metrics 429), or whose write budget is: reads
    give way to publishing. A 429 on a read never holds publishing (``read_limited_until``)."""
    limited: dict[str, str] = {}
    with store.session() as session:
        for name, writes, reads in session.execute(
            select(
                AccountRecord.name,
                AccountRecord.rate_limited_until,
                AccountRecord.read_limited_until,
            ).where(
                or_(AccountRecord.rate_limited_until > now, AccountRecord.read_limited_until > now)
            )
        ):
            until = max(t for t in (writes, reads) if t is not None and t > now)
            limited[name] = msg("rate-limited until {until} UTC", until=format(until, "%H:%M"))
    return limited


def _snapshot(
    store: Store,
    channels: ChannelProvider,
    target: Target,
    report: SweepReport,
    now: datetime,
) -> None:
    try:
        channel = channels.channel_for(target.account)
        metrics = channel.fetch_metrics(Receipt(target.remote_id, target.url, target.published_at))
    except NotImplementedError:
        report.skipped[target.account] = msg("the network gives no figures")
        return
    except RateLimitedError as exc:
        report.skipped[target.account] = msg("rate-limited")
        if exc.retry_at is not None:
            with store.session(write=True) as session:
                session.execute(
                    update(AccountRecord)
                    .where(AccountRecord.id == target.account_id)
                    .values(read_limited_until=exc.retry_at)
                )
        return
    except AuthError as exc:
        from campaign_scheduler.store.attention import hold_account

        report.skipped[target.account] = msg("credentials refused: {error}", error=exc.message)
        # Held as a refused publish holds it: the alert comes before the next post fails.
        hold_account(
            store, target.account, f"credentials refused while fetching metrics: {exc.message}", now
        )
        return
    except (ChannelError, CampaignSchedulerError) as exc:
        log.warning("metrics for %s on %s failed: %s", target.remote_id, target.account, exc)
        report.failures += 1
        return
    from campaign_scheduler.store.snapshots import add_snapshot  # its dialects: at first use

    with store.transaction(write=True) as connection:
        add_snapshot(
            connection,
            delivery_id=target.delivery_id,
            campaign_id=target.campaign_id,
            account_id=target.account_id,
            fetched_at=now,
            followers=metrics.followers,
            **{name: getattr(metrics, name) for name in SNAPSHOT_FIGURES},
        )
    report.snapshots += 1


def collect_hashtag_use(
    store: Store,
    channels: ChannelProvider,
    now: datetime,
    *,
    accounts: Iterable[str],
    report: SweepReport | None = None,
) -> SweepReport:
    """Store posts by others that used each campaign's hashtag, one account per network.

    Only campaigns with a hashtag, at least one published post and their metrics not yet
    over (:func:`metrics_end`) are searched: the search reaches back to 60 days before the
    event anyway, so the first one after the campaign's first post misses nothing a search
    before it would have found (up to the adapter's page limit). Without such a campaign no
    adapter is built."""
    report = report or SweepReport()
    with store.session() as session:
        went_out = (
            select(
                PostRecord.campaign_id,
                func.max(func.coalesce(DeliveryRecord.published_at, DeliveryRecord.due_at)),
            )
            .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
            .where(DeliveryRecord.remote_id.is_not(None))  # went out (maybe since deleted)
            .group_by(PostRecord.campaign_id)
        )
        last_published = dict(session.execute(went_out).all())
        campaigns = [
            campaign
            for campaign in session.scalars(
                select(CampaignRecord).where(
                    CampaignRecord.hashtag.is_not(None),
                    CampaignRecord.hashtag != "",
                    CampaignRecord.id.in_(last_published),
                )
            )
            if now <= metrics_end(campaign, last_published[campaign.id])
        ]
        if not campaigns:
            return report
        ours = {
            (channel, remote_id)
            for channel, remote_id in session.execute(
                select(AccountRecord.channel, DeliveryRecord.remote_id)
                .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
                .where(DeliveryRecord.remote_id.is_not(None))
            )
        }
        names = select(AccountRecord.name, AccountRecord.channel)
        account_channels: dict[str, str] = {row[0]: row[1] for row in session.execute(names)}
    searched: set[str] = set()
    for name in sorted(accounts):
        network = account_channels.get(name)
        if network is None or network in searched:
            continue
        try:
            channel = channels.channel_for(name)
        except CampaignSchedulerError:
            continue
        if not channel.can_search_hashtag:
            continue
        searched.add(network)
        for campaign in campaigns:
            if not campaign.hashtag:
                continue
            since = campaign.event_start - timedelta(days=60)
            try:
                found = channel.search_hashtag(campaign.hashtag.lstrip("#"), since=since)
            except (ChannelError, CampaignSchedulerError) as exc:
                log.warning("hashtag search on %s failed: %s", network, exc)
                report.failures += 1
                continue
            report.hashtag_posts += _store_tag_uses(store, campaign.id, network, found, ours, now)
    return report


def _store_tag_uses(
    store: Store,
    campaign_id: int,
    network: str,
    found: Iterable[TagUse],
    ours: set[tuple[str, str | None]],
    now: datetime,
) -> int:
    added = 0
    with store.session(write=True) as session:
        known = set(
            session.scalars(
                select(HashtagUseRecord.remote_id).where(
                    HashtagUseRecord.campaign_id == campaign_id,
                    HashtagUseRecord.channel == network,
                )
            )
        )
        for use in found:
            if use.remote_id in known or (network, use.remote_id) in ours:
                continue
            session.add(
                HashtagUseRecord(
                    campaign_id=campaign_id,
                    channel=network,
                    remote_id=use.remote_id,
                    author=use.author,
                    posted_at=use.posted_at,
                    url=use.url,
                    fetched_at=now,
                )
            )
            known.add(use.remote_id)
            added += 1
    return added
