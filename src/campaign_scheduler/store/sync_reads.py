"""The reads behind ``campaign load``, as Core statements: whether a load would change anything.

Most loads change nothing, or little: the drafts are loaded again after a check, by habit or
by a timer. Deciding that takes a few reads (the campaign, its senders, the posts' and
deliveries' hashes); importing SQLAlchemy's ORM and mapping the record's classes costs more
than the reads. So :func:`unchanged_load` answers with Core statements on lightweight table
clauses (as ``status_reads.py`` does), and only a load that would write anything goes on to
``sync.py``, through the ORM and every guard there. The columns named here exist in the
models with the same types (a test checks it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Connection, Integer, String, TableClause, column, select, table

from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.coretypes import DeliveryState, UTCDateTime
from campaign_scheduler.store.engine import Store

if TYPE_CHECKING:
    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.drafts import Draft
    from campaign_scheduler.planning import IntendedDelivery

REASON_DRAFT_REMOVED = Reason("draft_removed")
REASON_CHANNEL_REMOVED = Reason("channel_removed")
#: Why a delivery was cancelled when its draft, or the draft's channel, comes back restores it.
RESTORABLE_REASONS = (REASON_DRAFT_REMOVED.record(), REASON_CHANNEL_REMOVED.record())


def _clause(name: str, /, **columns: Any) -> TableClause:
    """A lightweight clause of table ``name`` with the given columns and their types."""
    return table(name, *(column(key, type_) for key, type_ in columns.items()))


_TEXTS = ("slug", "name", "hashtag", "timezone", "language", "event_name", "event_url")
campaign_t = _clause(
    "campaign",
    id=Integer,
    event_start=UTCDateTime(),
    event_end=UTCDateTime(),
    grace_seconds=Integer,
    min_gap_seconds=Integer,
    require_approval=Boolean,
    **dict.fromkeys(_TEXTS, String),
)
sender_t = _clause("sender", campaign_id=Integer, slug=String, name=String)
post_t = _clause(
    "post",
    id=Integer,
    campaign_id=Integer,
    key=String,
    source=String,
    content_hash=String,
    removed_at=UTCDateTime(),
)
account_t = _clause("account", id=Integer, name=String)
delivery_t = _clause(
    "delivery",
    post_id=Integer,
    account_id=Integer,
    content_hash=String,
    state=String,
    state_reason=String,
)
TABLES = (campaign_t, sender_t, post_t, account_t, delivery_t)


class ChangeKind(StrEnum):
    NEW = "+"
    CHANGED = "~"
    REMOVED = "−"
    UNCHANGED = "="


@dataclass
class PostChange:
    kind: ChangeKind
    key: str
    details: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    changes: list[PostChange] = field(default_factory=list)
    dry_run: bool = False

    def count(self, kind: ChangeKind) -> int:
        return sum(1 for c in self.changes if c.kind is kind)

    @property
    def changed_anything(self) -> bool:
        return any(c.kind is not ChangeKind.UNCHANGED for c in self.changes)


@dataclass
class StoredPost:
    """A post as the database holds it, for the bulk comparison with its draft."""

    id: int
    key: str
    content_hash: str
    removed_at: datetime | None
    #: account name -> content hash of its delivery (None: cancelled, to be restored)
    deliveries: dict[str, str | None] = field(default_factory=dict)

    def matches(self, content_hash: str, intended: list[IntendedDelivery]) -> bool:
        """Whether loading the draft would change nothing (``sync._Sync._update_post`` would
        report it unchanged): same post hash, the same accounts, each with the same hash."""
        return (
            self.removed_at is None
            and self.content_hash == content_hash
            and len(intended) == len(self.deliveries)
            and all(self.deliveries.get(i.account.name) == i.content_hash for i in intended)
        )


def campaign_values(campaign: Campaign) -> dict[str, Any]:
    """The campaign's columns as the record keeps them (all but its slug)."""
    return {
        "name": campaign.name,
        "hashtag": campaign.hashtag,
        "timezone": campaign.timezone,
        "language": campaign.language,
        "event_name": campaign.event.name,
        "event_start": campaign.event.start,
        "event_end": campaign.event.end,
        "event_url": campaign.event.url,
        "grace_seconds": int(campaign.rules.grace.total_seconds()),
        "min_gap_seconds": int(campaign.rules.min_gap.total_seconds()),
        "require_approval": campaign.rules.require_approval,
    }


def stored_posts(connection: Connection, campaign_id: int) -> dict[str, StoredPost]:
    """The campaign's draft posts and their deliveries as plain rows (no ORM objects)."""
    p, d = post_t.c, delivery_t.c
    ours = (p.campaign_id == campaign_id, p.source == "draft")
    posts = {
        key: StoredPost(post_id, key, content_hash, removed_at)
        for post_id, key, content_hash, removed_at in connection.execute(
            select(p.id, p.key, p.content_hash, p.removed_at).where(*ours)
        ).all()  # (one fetch for all rows, not one per row)
    }
    by_id = {post.id: post for post in posts.values()}
    for post_id, account, content_hash, state, reason in connection.execute(
        select(d.post_id, account_t.c.name, d.content_hash, d.state, d.state_reason)
        .join(account_t, account_t.c.id == d.account_id)
        .join(post_t, p.id == d.post_id)
        .where(*ours)
    ).all():
        # A delivery cancelled because its draft or channel went away comes back with
        # the draft: its post is not unchanged (the ORM path restores it).
        restorable = state == DeliveryState.CANCELLED.value and reason in RESTORABLE_REASONS
        by_id[post_id].deliveries[account] = None if restorable else content_hash
    return posts


def unchanged_load(
    store: Store,
    campaign: Campaign,
    drafts: Iterable[Draft],
    deliveries: Iterable[IntendedDelivery],
    *,
    dry_run: bool = False,
) -> LoadReport | None:
    """The report of a load of ``drafts`` that would write nothing at all, or None when the
    load would write something (then ``sync.load_campaign_into`` does it).

    Nothing is written when the campaign's record has the campaign's values, every sender
    is there by its name, every draft's post has the draft's hash and the same accounts with
    the same delivery hashes (none cancelled to be restored), and no post of a draft is left
    without its draft: exactly when ``sync`` would report every post unchanged."""
    c = campaign_t.c
    with store.transaction() as connection:
        record = connection.execute(
            select(c.id, *(c[name] for name in campaign_values(campaign))).where(
                c.slug == campaign.slug
            )
        ).one_or_none()
        if record is None:
            return None
        stored_values = record._mapping
        if any(stored_values[k] != v for k, v in campaign_values(campaign).items()):
            return None
        senders = dict(
            connection.execute(
                select(sender_t.c.slug, sender_t.c.name).where(sender_t.c.campaign_id == record.id)
            ).all()
        )
        if any(senders.get(s.slug) != s.name for s in campaign.senders):
            return None
        stored = stored_posts(connection, record.id)
    by_draft: dict[str, list[IntendedDelivery]] = {}
    for delivery in deliveries:
        by_draft.setdefault(delivery.draft.key, []).append(delivery)
    keys: list[str] = []
    for draft in sorted(drafts, key=lambda d: d.key):
        if draft.due_at is None:
            continue
        post = stored.pop(draft.key, None)
        if post is None or not post.matches(draft.content_hash, by_draft.get(draft.key, [])):
            return None
        keys.append(draft.key)
    if any(post.removed_at is None for post in stored.values()):
        return None
    return LoadReport([PostChange(ChangeKind.UNCHANGED, key) for key in keys], dry_run=dry_run)
