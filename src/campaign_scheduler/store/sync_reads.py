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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Connection, Integer, String, TableClause, column, select, table

from campaign_scheduler.store.coretypes import UTCDateTime
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.load_decision import (
    REASON_CHANNEL_REMOVED,
    REASON_DRAFT_REMOVED,
    RESTORABLE_REASONS,
    ChangeKind,
    LoadReport,
    PostChange,
    StoredPost,
    campaign_values,
    record_is_current,
    report_if_unchanged,
    senders_are_current,
)

if TYPE_CHECKING:
    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.planning import PlannedPost

__all__ = [
    "REASON_CHANNEL_REMOVED",
    "REASON_DRAFT_REMOVED",
    "RESTORABLE_REASONS",
    "TABLES",
    "ChangeKind",
    "LoadReport",
    "PostChange",
    "StoredPost",
    "campaign_values",
    "stored_posts",
    "unchanged_load",
]


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


def stored_posts(connection: Connection, campaign_id: int) -> dict[str, StoredPost]:
    """The campaign's draft posts and their deliveries as plain rows (no ORM objects)."""
    p, d = post_t.c, delivery_t.c
    ours = (p.campaign_id == campaign_id, p.source == "draft")
    posts = {
        key: StoredPost(post_id, key, content_hash, removed_at is not None)
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
        by_id[post_id].add_delivery(account, content_hash, state, reason)
    return posts


def unchanged_load(
    store: Store,
    campaign: Campaign,
    planned: Iterable[PlannedPost],
    *,
    dry_run: bool = False,
) -> LoadReport | None:
    """The report of a load of the drafts ``planned`` that would write nothing at all, or
    None when the load would write something (then ``sync.load_campaign_into`` does it).

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
        if record is None or not record_is_current(campaign, record._mapping):
            return None
        senders = dict(
            connection.execute(
                select(sender_t.c.slug, sender_t.c.name).where(sender_t.c.campaign_id == record.id)
            ).all()
        )
        if not senders_are_current(campaign, senders):
            return None
        stored = stored_posts(connection, record.id)
    return report_if_unchanged(planned, stored, dry_run=dry_run)
