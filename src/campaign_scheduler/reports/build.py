"""Assemble the :class:`Report` of one campaign from the database, in one read transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from campaign_scheduler.channels.catalog import without_impressions
from campaign_scheduler.errors import NotFoundError
from campaign_scheduler.reports import queries
from campaign_scheduler.reports.localday import LocalDay
from campaign_scheduler.reports.model import (
    FIGURES,
    TOP_POSTS,
    CampaignInfo,
    ChannelRow,
    FollowerRow,
    Group,
    GroupBy,
    HashtagChannel,
    HashtagDay,
    HashtagUse,
    Punctuality,
    Report,
    TimelineDay,
    TopPost,
)
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import CampaignRecord
from campaign_scheduler.uilang import msg

#: A timeline longer than this shows only the days that have something on them.
MAX_CONTINUOUS_DAYS = 400


def build_report(
    store: Store,
    campaign_slug: str,
    *,
    by: GroupBy = GroupBy.SENDER,
    now: datetime | None = None,
    top: int = TOP_POSTS,
) -> Report:
    with store.transaction() as connection:
        return _build(connection, campaign_slug, by, now or datetime.now(UTC), top)


def _build(connection: Connection, slug: str, by: GroupBy, now: datetime, top: int) -> Report:
    campaign_id, campaign = _campaign(connection, slug)
    zone = ZoneInfo(campaign.timezone)
    span = queries.time_span(connection, campaign_id) or (campaign.event_start,) * 2
    days = LocalDay(connection.dialect.name, zone, span)
    event_day = campaign.event_start.astimezone(zone).date()
    with queries.working_set(connection, campaign_id, days, queries.DIMENSIONS[by]):
        return _assemble(connection, campaign_id, campaign, by, now, top, days, event_day)


def _assemble(
    connection: Connection,
    campaign_id: int,
    campaign: CampaignInfo,
    by: GroupBy,
    now: datetime,
    top: int,
    days: LocalDay,
    event_day: date,
) -> Report:
    group = queries.DIMENSIONS[by]
    unpublished = Punctuality()  # (one for every group without a publication)
    reasons = queries.reasons_by(connection, group)
    if group.few:  # (the working set is not sorted: percentiles from a histogram)
        punctuality, campaign_punctuality = queries.punctuality_few(connection, group)
    else:
        punctuality = queries.punctuality_by(connection, group)
    totals = queries.totals(connection, group)
    groups = tuple(
        Group(
            key=key,
            label=label,
            outcomes=counts,
            reasons=tuple(reasons.get(key, ())),
            punctuality=punctuality.get(key, unpublished),
            figures=figures,
            countdown=_countdown(date.fromisoformat(key), event_day) if by is GroupBy.DAY else None,
        )
        for key, label, (counts, figures) in totals.groups
    )
    total_outcomes, total_figures = totals.campaign
    channels = tuple(
        ChannelRow(channel, counts, figures)
        for channel, (counts, figures) in sorted(totals.channels.items())
    )
    provided = queries.providers(connection)

    planned, published = queries.deliveries_per_day(connection)
    timeline = tuple(
        TimelineDay(day, _countdown(day, event_day), planned.get(day, 0), published.get(day, 0))
        for day in _day_range({*planned, *published, event_day} if planned else set())
    )

    tag_days = queries.hashtag_per_day(connection, campaign_id, days)
    (tag_posts, tag_authors), tag_channels = queries.hashtag_totals(connection, campaign_id)
    hashtag = HashtagUse(
        tag=campaign.hashtag,
        posts=tag_posts,
        authors=tag_authors,
        channels=tuple(HashtagChannel(c, p, a) for c, p, a in tag_channels),
        days=tuple(
            HashtagDay(day, _countdown(day, event_day), *tag_days.get(day, (0, 0)))
            for day in _day_range(set(tag_days))
        ),
    )

    return Report(
        campaign=campaign,
        generated_at=now,
        by=by,
        totals_outcomes=total_outcomes,
        totals_punctuality=campaign_punctuality if group.few else queries.punctuality(connection),
        totals_figures=total_figures,
        groups=groups,
        channels=channels,
        providers={name: tuple(provided[name]) for name in FIGURES},
        followers=tuple(
            FollowerRow(r.account, r.channel, r.sender, r.first, r.last, r.sender_name)
            for r in queries.followers(connection)
        ),
        top_posts=tuple(
            TopPost(
                rank=rank,
                post=row.post,
                sender=row.sender,
                account=row.account,
                channel=row.channel,
                published_at=row.published_at,
                url=row.url,
                figures=row.figures,
                sender_name=row.sender_name,
                text=row.text,
            )
            for rank, row in enumerate(queries.top_posts(connection, top), start=1)
        ),
        timeline=timeline,
        hashtag=hashtag,
        without_impressions=without_impressions(),
    )


def _campaign(connection: Connection, slug: str) -> tuple[int, CampaignInfo]:
    table = CampaignRecord.__table__
    row = connection.execute(select(table).where(table.c.slug == slug)).mappings().first()
    if row is None:
        raise NotFoundError(
            msg("campaign '{slug}' is not in the database yet", slug=slug),
            hint=msg("run 'campaign load' first"),
        )
    return int(row["id"]), CampaignInfo(
        slug=row["slug"],
        name=row["name"],
        hashtag=row["hashtag"],
        timezone=row["timezone"],
        language=row["language"],
        event_name=row["event_name"],
        event_start=row["event_start"],
        event_end=row["event_end"],
        event_url=row["event_url"],
    )


def _countdown(day: date, event_day: date) -> str:
    """``T-14`` for 14 days before the event's day, ``T-0`` on it, ``T+1`` after."""
    days = (event_day - day).days
    return f"T-{days}" if days >= 0 else f"T+{-days}"


def _day_range(days: set[date]) -> list[date]:
    """Every day from the first to the last (so charts show quiet days as quiet)."""
    if not days:
        return []
    first, last = min(days), max(days)
    if (last - first).days > MAX_CONTINUOUS_DAYS:
        return sorted(days)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
