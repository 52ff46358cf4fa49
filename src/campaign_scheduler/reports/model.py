"""The campaign report as plain data: what every renderer (table, CSV, JSON, Markdown, HTML)
shows. ``None`` always means "not known" (the network does not tell, or nothing was
published yet) and is never turned into 0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from campaign_scheduler.figures import FIGURE_NAMES, PostFigures

#: Report figures in display order: the columns of ``metric_snapshot`` summed per group.
FIGURES = FIGURE_NAMES
#: The figures that count as interactions (engagement): what people did with a post.
INTERACTION_FIGURES: tuple[str, ...] = ("likes", "reposts", "replies", "quotes")
#: Version of the JSON shape (docs/report.md); raised only with a migration path.
REPORT_VERSION = 1
#: Lags up to this many seconds count as punctual.
PUNCTUAL_SECONDS = 60
#: How many posts the "top posts" list shows.
TOP_POSTS = 10


class GroupBy(enum.StrEnum):
    SENDER = "sender"
    CHANNEL = "channel"
    DAY = "day"
    POST = "post"


@dataclass(frozen=True)
class CampaignInfo:
    slug: str
    name: str
    hashtag: str | None
    timezone: str
    language: str
    event_name: str
    event_start: datetime
    event_end: datetime | None
    event_url: str | None


@dataclass(frozen=True)
class Outcomes:
    """Deliveries (post x account) by outcome. ``planned`` is all of them; ``open`` is still
    waiting or in flight (pending, retry_wait, publishing)."""

    planned: int = 0
    published: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    unknown: int = 0
    open: int = 0


#: Outcome columns in display order.
OUTCOMES: tuple[str, ...] = (
    "planned",
    "published",
    "failed",
    "expired",
    "cancelled",
    "unknown",
    "open",
)


@dataclass(frozen=True)
class Reason:
    state: str
    reason: str
    count: int
    #: The scheduler's own reason as key and values (campaign_scheduler.reasons); None for a
    #: network's message, which is shown as sent.
    data: dict[str, Any] | None = None


@dataclass(frozen=True)
class Punctuality:
    """Lag from due time to publication, in seconds, over published deliveries."""

    published: int = 0
    median_seconds: float | None = None
    p95_seconds: float | None = None
    max_seconds: float | None = None
    within_1_minute: int = 0


@dataclass(frozen=True)
class Figures(PostFigures):
    """Sums over the latest snapshot of each delivery. ``None``: no snapshot had the figure."""

    interactions: int | None = None
    #: Deliveries that have at least one snapshot (and so contribute figures).
    measured: int = 0

    def get(self, figure: str) -> int | None:
        value: int | None = getattr(self, figure)
        return value


@dataclass(frozen=True)
class Group:
    """One row of the breakdown (``--by``): a sender, channel, day or post."""

    key: str
    label: str
    outcomes: Outcomes
    reasons: tuple[Reason, ...]
    punctuality: Punctuality
    figures: Figures
    countdown: str | None = None  # for days


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    outcomes: Outcomes
    figures: Figures


@dataclass(frozen=True)
class FollowerRow:
    """Followers of an account when it published: context, not reach."""

    account: str
    channel: str
    sender: str
    at_first_post: int | None
    at_last_post: int | None
    sender_name: str = ""  # as the campaign file names it ("Stadt Soest"); empty: the slug


@dataclass(frozen=True)
class TopPost:
    rank: int
    post: str
    sender: str
    account: str
    channel: str
    published_at: datetime | None
    url: str | None
    figures: Figures
    sender_name: str = ""  # as the campaign file names it ("Stadt Soest"); empty: the slug
    text: str = ""  # what was published on this channel


@dataclass(frozen=True)
class ReportBranding:
    """What the campaign file's ``[report]`` adds to the printed report; all optional."""

    logo_data_uri: str | None = None  # the logo, embedded (the report fetches nothing)
    notice: str | None = None  # sender or funding notice under the title
    footer: str | None = None  # a line at the end of every report


@dataclass(frozen=True)
class TimelineDay:
    day: date
    countdown: str
    planned: int
    published: int


@dataclass(frozen=True)
class HashtagDay:
    day: date
    countdown: str
    posts: int
    authors: int


@dataclass(frozen=True)
class HashtagChannel:
    channel: str
    posts: int
    authors: int


@dataclass(frozen=True)
class HashtagUse:
    """Posts by others with the campaign's hashtag (earned reach)."""

    tag: str | None
    posts: int = 0
    authors: int = 0  # distinct (network, author) over the whole campaign
    channels: tuple[HashtagChannel, ...] = ()
    days: tuple[HashtagDay, ...] = ()


@dataclass(frozen=True)
class Report:
    campaign: CampaignInfo
    generated_at: datetime
    by: GroupBy
    totals_outcomes: Outcomes
    totals_punctuality: Punctuality
    totals_figures: Figures
    groups: tuple[Group, ...]
    channels: tuple[ChannelRow, ...]
    #: figure -> networks with at least one snapshot giving it (sorted).
    providers: dict[str, tuple[str, ...]]
    followers: tuple[FollowerRow, ...]
    top_posts: tuple[TopPost, ...]
    timeline: tuple[TimelineDay, ...]
    hashtag: HashtagUse
    #: Networks of this campaign that lack impressions (views), by the networks' own APIs.
    without_impressions: tuple[str, ...] = field(default=())
    #: Logo, notice and footer from the campaign file's ``[report]`` (not stored in the database).
    branding: ReportBranding = field(default_factory=ReportBranding)
