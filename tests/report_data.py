"""A known campaign record for report tests: deliveries, snapshots and hashtag use inserted
directly into a real database through the models, with the figures each format must show.

Campaign "testlauf" (the conftest workspace's slug), Europe/Berlin, event 18 Nov 2021 10:00.

    post               account          state       due (local)       published  lag
    soest/01-auftakt   soest-mastodon   published   04.11. 09:30      +20 s
                       soest-bluesky    published                     +45 s
                       soest-linkedin   published                     +120 s
    soest/02-klima     soest-mastodon   published   11.11. 09:30      +5 s
                       soest-bluesky    failed      "rejected: text too long"
                       soest-linkedin   expired     "not published before its deadline"
    soest/03-heute     soest-mastodon   pending     18.11. 08:30
                       soest-bluesky    failed      "rejected: text too long"
    olpe/01-hallo      olpe-mastodon    published   04.11. 12:00      +30 s
                       olpe-telegram    published                     +600 s
    olpe/02-programm   olpe-mastodon    cancelled   17.11. 18:00      "cancelled by anna"
                       olpe-telegram    unknown                       "connection lost …"
    olpe/03-morgen     olpe-mastodon    published   18.11. 08:00      +10 s
                       olpe-telegram    expired     "not published before its deadline"

Snapshots (latest counts): Mastodon likes/reposts/replies only (quotes, views, reach, clicks
NULL), Bluesky also quotes, LinkedIn everything but quotes, Telegram none at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.lag import fill_lags
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryRecord,
    HashtagUseRecord,
    PostRecord,
    SenderRecord,
)
from campaign_scheduler.store.snapshots import add_snapshot

BERLIN = ZoneInfo("Europe/Berlin")
EVENT_START = datetime(2021, 11, 18, 10, 0, tzinfo=BERLIN)
GENERATED_AT = datetime(2021, 11, 26, 9, 0, tzinfo=UTC)

REASON_TOO_LONG = "rejected: text too long"
# The scheduler's own reasons carry their key (the report words them for readers); a network's
# message is plain text.
REASON_DEADLINE = Reason("deadline", {"why": Reason("no_daemon")})
REASON_CANCELLED = Reason("cancelled_by", {"actor": "anna"})
REASON_UNKNOWN = "outcome unknown: connection lost after sending"


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2021, 11, day, hour, minute, second, tzinfo=BERLIN)


@dataclass(frozen=True)
class Snap:
    after: timedelta
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    views: int | None = None
    reach: int | None = None
    clicks: int | None = None
    followers: int | None = None


def _mastodon(after: timedelta, likes: int, reposts: int, replies: int, followers: int) -> Snap:
    return Snap(after, likes, reposts, replies, None, None, None, None, followers)


HOUR, DAY = timedelta(hours=1), timedelta(days=1)
ZERO = timedelta(0)

# (post key, sender, due, [(account, state, lag seconds or reason, [snapshots])])
POSTS: list[
    tuple[str, str, datetime, list[tuple[str, str, float | str | Reason | None, list[Snap]]]]
] = [
    (
        "soest/01-auftakt",
        "soest",
        local(4, 9, 30),
        [
            (
                "soest-mastodon",
                "published",
                20,
                [
                    _mastodon(ZERO, 0, 0, 0, 1200),
                    _mastodon(DAY, 10, 4, 2, 1210),
                    _mastodon(7 * DAY, 12, 5, 3, 1250),
                ],
            ),
            (
                "soest-bluesky",
                "published",
                45,
                [
                    Snap(ZERO, 0, 0, 0, 0, followers=300),
                    Snap(7 * DAY, 7, 2, 1, 1, followers=310),
                ],
            ),
            (
                "soest-linkedin",
                "published",
                120,
                [
                    Snap(ZERO, 0, 0, 0, None, 0, 0, 0, 800),
                    Snap(7 * DAY, 20, 3, 4, None, 2400, 1500, 85, 805),
                ],
            ),
        ],
    ),
    (
        "soest/02-klima",
        "soest",
        local(11, 9, 30),
        [
            (
                "soest-mastodon",
                "published",
                5,
                [_mastodon(ZERO, 0, 0, 0, 1240), _mastodon(HOUR, 3, 1, 0, 1241)],
            ),
            ("soest-bluesky", "failed", REASON_TOO_LONG, []),
            ("soest-linkedin", "expired", REASON_DEADLINE, []),
        ],
    ),
    (
        "soest/03-heute",
        "soest",
        local(18, 8, 30),
        [
            ("soest-mastodon", "pending", None, []),
            ("soest-bluesky", "failed", REASON_TOO_LONG, []),
        ],
    ),
    (
        "olpe/01-hallo",
        "olpe",
        local(4, 12, 0),
        [
            (
                "olpe-mastodon",
                "published",
                30,
                [_mastodon(ZERO, 0, 0, 0, 450), _mastodon(DAY, 5, 2, 1, 455)],
            ),
            ("olpe-telegram", "published", 600, []),
        ],
    ),
    (
        "olpe/02-programm",
        "olpe",
        local(17, 18, 0),
        [
            ("olpe-mastodon", "cancelled", REASON_CANCELLED, []),
            ("olpe-telegram", "unknown", REASON_UNKNOWN, []),
        ],
    ),
    (
        "olpe/03-morgen",
        "olpe",
        local(18, 8, 0),
        [
            ("olpe-mastodon", "published", 10, [_mastodon(ZERO, 0, 0, 0, 470)]),
            ("olpe-telegram", "expired", REASON_DEADLINE, []),
        ],
    ),
]

ACCOUNTS = {
    "soest-mastodon": ("mastodon", "soest"),
    "soest-bluesky": ("bluesky", "soest"),
    "soest-linkedin": ("linkedin", "soest"),
    "olpe-mastodon": ("mastodon", "olpe"),
    "olpe-telegram": ("telegram", "olpe"),
}

# (channel, author, posted_at UTC): 22:30 UTC on 30 Oct is already 31 Oct in Berlin (CEST,
# +2) and 23:30 UTC on 3 Nov is 4 Nov (CET, +1): local days must be DST-correct.
HASHTAG_USES = [
    ("mastodon", "buergerin", datetime(2021, 10, 30, 22, 30, tzinfo=UTC)),
    ("mastodon", "buergerin", datetime(2021, 11, 3, 23, 30, tzinfo=UTC)),
    ("mastodon", "verein", datetime(2021, 11, 4, 10, 0, tzinfo=UTC)),
    ("bluesky", "buergerin.bsky.social", datetime(2021, 11, 4, 15, 0, tzinfo=UTC)),
    ("mastodon", "verein", datetime(2021, 11, 18, 9, 0, tzinfo=UTC)),
]


def url_of(account: str, number: int) -> str:
    channel, sender = ACCOUNTS[account]
    return f"https://{channel}.example/@{sender}/{number}"


def populate(store: Store, *, slug: str = "testlauf", language: str = "de") -> None:
    """Insert the known campaign into an empty, migrated database."""
    with store.session(write=True) as session:
        campaign = CampaignRecord(
            slug=slug,
            name="Testlauf #5malklug",
            hashtag="#5malklug",
            timezone="Europe/Berlin",
            language=language,
            event_name="Smart Cities: Konferenz",
            event_start=EVENT_START,
            event_end=local(18, 16),
            event_url="https://smartcities-suedwestfalen.com/konferenz/",
            grace_seconds=7200,
            min_gap_seconds=1800,
        )
        session.add(campaign)
        senders = {
            "soest": SenderRecord(campaign=campaign, slug="soest", name="Stadt Soest"),
            "olpe": SenderRecord(campaign=campaign, slug="olpe", name="Kreisstadt Olpe"),
        }
        session.add_all(senders.values())
        accounts = {
            name: AccountRecord(name=name, channel=channel, sender=senders[sender])
            for name, (channel, sender) in ACCOUNTS.items()
        }
        session.add_all(accounts.values())
        session.flush()
        number = 1000
        for key, sender, due, deliveries in POSTS:
            post = PostRecord(
                campaign_id=campaign.id,
                key=key,
                source="draft",
                sender_id=senders[sender].id,
                body=f"Text von {key} #5malklug",
                language="de",
                at_text=due.isoformat(),
                due_at=due,
                content_hash=key,
                author="anna",
            )
            session.add(post)
            session.flush()
            for account, state, detail, snaps in deliveries:
                number += 1
                published = state == "published"
                published_at = (
                    due + timedelta(seconds=float(detail or 0))
                    if published and not isinstance(detail, Reason)
                    else None
                )
                delivery = DeliveryRecord(
                    post_id=post.id,
                    account_id=accounts[account].id,
                    state=state,
                    state_reason=(
                        detail.record()
                        if isinstance(detail, Reason)
                        else detail
                        if isinstance(detail, str)
                        else None
                    ),
                    state_reason_data=detail.as_json() if isinstance(detail, Reason) else None,
                    text=post.body,
                    content_hash=key,
                    due_at=due,
                    idempotency_key=f"{key}-{account}",
                    remote_id=str(number) if published else None,
                    remote_url=url_of(account, number) if published else None,
                    published_at=published_at,
                )
                session.add(delivery)
                session.flush()
                for snap in snaps:
                    assert published_at is not None
                    add_snapshot(
                        session,
                        delivery_id=delivery.id,
                        campaign_id=campaign.id,
                        account_id=accounts[account].id,
                        fetched_at=published_at + snap.after + timedelta(seconds=1),
                        likes=snap.likes,
                        reposts=snap.reposts,
                        replies=snap.replies,
                        quotes=snap.quotes,
                        views=snap.views,
                        reach=snap.reach,
                        clicks=snap.clicks,
                        followers=snap.followers,
                    )
        for n, (channel, author, posted_at) in enumerate(HASHTAG_USES):
            session.add(
                HashtagUseRecord(
                    campaign_id=campaign.id,
                    channel=channel,
                    remote_id=f"tag-{n}",
                    author=author,
                    posted_at=posted_at,
                    url=f"https://{channel}.example/tag/{n}",
                )
            )
        # The lags, as the publishing path stores them with each publication.
        session.flush()
        fill_lags(session.connection())


def known_store(database_url: str, *, language: str = "de") -> Store:
    store = open_store(database_url)
    populate(store, language=language)
    return store
