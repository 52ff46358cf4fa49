"""The record: SQLAlchemy 2 models for campaigns, posts, deliveries and what happened to them.

Times are stored in UTC. :class:`UTCDateTime` keeps them timezone-aware on every backend
(SQLite has no time zones; values are written as naive UTC and read back as aware UTC).
The schema is created and changed only by Alembic migrations (``store/migrations``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from campaign_scheduler.figures import FIGURE_NAMES
from campaign_scheduler.store.coretypes import OUT_OR_MAYBE_OUT as OUT_OR_MAYBE_OUT  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.coretypes import WAITING as WAITING  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.coretypes import DeliveryState as DeliveryState  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.coretypes import UTCDateTime as UTCDateTime  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.timeutil import utcnow as utcnow  # noqa: PLC0414 (re-exported; defined once there)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: The integer key of every table but ``worker``.
IntKey = Annotated[int, mapped_column(primary_key=True)]
#: A moment that defaults to when the row is written (UTC).
Stamp = Annotated[datetime, mapped_column(default=utcnow)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class CampaignRecord(Base):
    __tablename__ = "campaign"

    id: Mapped[IntKey]
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    hashtag: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))
    event_name: Mapped[str] = mapped_column(String(300))
    event_start: Mapped[datetime]
    event_end: Mapped[datetime | None]
    event_url: Mapped[str | None] = mapped_column(String(2000))
    grace_seconds: Mapped[int]
    min_gap_seconds: Mapped[int]
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[Stamp]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    senders: Mapped[list[SenderRecord]] = relationship(back_populates="campaign")


class SenderRecord(Base):
    __tablename__ = "sender"
    __table_args__ = (UniqueConstraint("campaign_id", "slug"),)

    id: Mapped[IntKey]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))

    campaign: Mapped[CampaignRecord] = relationship(back_populates="senders")


class AccountRecord(Base):
    """An account as configured; its secrets stay in the environment, never here."""

    __tablename__ = "account"

    id: Mapped[IntKey]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(50))
    sender_id: Mapped[int] = mapped_column(ForeignKey("sender.id", ondelete="CASCADE"))
    base_url: Mapped[str | None] = mapped_column(String(2000))
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    attention_reason: Mapped[str | None] = mapped_column(Text)
    rate_limited_until: Mapped[datetime | None]
    #: The metrics read budget: a 429 on a read never holds publishing.
    read_limited_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    sender: Mapped[SenderRecord] = relationship()


class PostRecord(Base):
    __tablename__ = "post"
    __table_args__ = (
        UniqueConstraint("campaign_id", "key"),
        # A campaign's posts with their senders, read from the index alone: the report joins
        # every delivery to it (migration 0010).
        Index("ix_post_campaign_sender", "campaign_id", "id", "sender_id"),
    )

    id: Mapped[IntKey]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(20))  # "draft" or "adhoc"
    source_path: Mapped[str | None] = mapped_column(String(2000))
    sender_id: Mapped[int] = mapped_column(ForeignKey("sender.id"))
    body: Mapped[str] = mapped_column(Text)
    variants: Mapped[dict[str, Any]] = mapped_column(default=dict)
    media: Mapped[list[Any]] = mapped_column(default=list)
    language: Mapped[str] = mapped_column(String(35))
    split: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    at_text: Mapped[str] = mapped_column(String(100))
    not_after_text: Mapped[str | None] = mapped_column(String(100))
    due_at: Mapped[datetime]
    not_after: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    author: Mapped[str] = mapped_column(String(200))
    approver: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    created_at: Mapped[Stamp]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    sender: Mapped[SenderRecord] = relationship()
    deliveries: Mapped[list[DeliveryRecord]] = relationship(back_populates="post")


class DeliveryRecord(Base):
    """One post on one account: the unit the daemon claims and publishes."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("post_id", "account_id"),
        Index("ix_delivery_state_due", "state", "due_at"),
    )

    id: Mapped[IntKey]
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"))
    state: Mapped[str] = mapped_column(String(20), default=DeliveryState.PENDING.value)
    state_reason: Mapped[str | None] = mapped_column(Text)
    #: The scheduler's own reason as key and values (campaign_scheduler.reasons.Reason), so
    #: that readers get it worded in their language; None for a network's message or none.
    state_reason_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    not_after: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    remote_id: Mapped[str | None] = mapped_column(String(500))
    remote_url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime | None]
    #: Seconds from ``due_at`` to ``published_at``, rounded to milliseconds, computed by the
    #: database when the publication is recorded (``store/lag.py``; the report reads it).
    lag_seconds: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: For a post split into a thread: the remote ids of the parts already out, in order.
    parts: Mapped[list[Any] | None] = mapped_column(JSON)
    #: The post (or a part of it) may exist on the network: set before every network write,
    #: cleared only by a receipt or a conclusive lookup. Such a delivery is never sent fresh,
    #: rewritten, cancelled, expired or failed; it is replayed, looked up or goes to a person.
    maybe_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The texts of a thread as split at its first attempt; resumption continues this plan.
    plan: Mapped[list[Any] | None] = mapped_column(JSON)
    #: The comment that follows the post (Instagram, Facebook, LinkedIn), rendered: one more
    #: part of the delivery; once out it is in ``parts`` with ``"kind": "comment"``.
    first_comment: Mapped[str | None] = mapped_column(Text)
    #: Why a published post has no first comment (refused, or given up): a person is told.
    comment_error: Mapped[str | None] = mapped_column(Text)
    #: ``comment_error`` as a key with its values (reasons.py; the network's refusal among them,
    #: as sent), so that readers get it in their language (migration 0011).
    comment_error_data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[Stamp]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    post: Mapped[PostRecord] = relationship(back_populates="deliveries")
    account: Mapped[AccountRecord] = relationship()

    # Every ORM change to a delivery is a compare-and-set on the version it was read at
    # (UPDATE ... WHERE version = :read); the code sets the new version itself.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012

    @property
    def may_be_out(self) -> bool:
        """Whether anything of this delivery may exist on the network."""
        return bool(self.maybe_out or self.parts) or self.state in (
            DeliveryState.PUBLISHED.value,
            DeliveryState.PUBLISHING.value,
            DeliveryState.UNKNOWN.value,
        )


#: Indexes only PostgreSQL has (migration 0009): ``ix_delivery_pending_due`` on the pending
#: deliveries' ``(due_at, id)``, which PostgreSQL's pick walks in due order, stopping at the first
#: free account; SQLite's claims have their own plans (PERF-NOTES). Written as DDL rather than an
#: ``Index`` with ``postgresql_where``, which would import SQLAlchemy's PostgreSQL dialects
#: wherever the models are imported (an idle SQLite daemon too).
POSTGRESQL_ONLY_INDEXES = {
    "ix_delivery_pending_due": (
        "CREATE INDEX ix_delivery_pending_due ON delivery (due_at, id) WHERE state = 'pending'"
    ),
}
for _statement in POSTGRESQL_ONLY_INDEXES.values():
    event.listen(
        DeliveryRecord.__table__,
        "after_create",
        DDL(_statement).execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
    )


class AttemptRecord(Base):
    """One call to a network for one delivery, written before the call and completed after."""

    __tablename__ = "attempt"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[IntKey]
    delivery_id: Mapped[int] = mapped_column(ForeignKey("delivery.id", ondelete="CASCADE"))
    number: Mapped[int]
    worker: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[Stamp]
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(30))
    http_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)


class MetricSnapshotRecord(Base):
    """Figures of one published delivery at one moment; NULL where the network has none."""

    __tablename__ = "metric_snapshot"
    __table_args__ = (
        Index("ix_metric_snapshot_delivery_fetched", "delivery_id", "fetched_at"),
        Index("ix_metric_snapshot_campaign_delivery", "campaign_id", "delivery_id", "fetched_at"),
    )

    id: Mapped[IntKey]
    delivery_id: Mapped[int] = mapped_column(ForeignKey("delivery.id", ondelete="CASCADE"))
    # Denormalised from the delivery so that reports group without joins over all snapshots.
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    fetched_at: Mapped[Stamp]
    likes: Mapped[int | None]
    reposts: Mapped[int | None]
    replies: Mapped[int | None]
    quotes: Mapped[int | None]
    views: Mapped[int | None]
    reach: Mapped[int | None]
    clicks: Mapped[int | None]
    followers: Mapped[int | None]


#: The figures a snapshot may carry, in the order the report shows them.
SNAPSHOT_FIGURES = FIGURE_NAMES


class DeliveryMetricsRecord(Base):
    """What the report needs of a delivery's snapshots, one row per delivery with at least one
    snapshot: the figures of its latest snapshot, the followers of its first, and which figures
    any of its snapshots had. Written in the same transaction as each snapshot
    (``store.snapshots.add_snapshot``); the snapshots stay the history.

    "Latest" and "first" order snapshots by ``(fetched_at, id)``.
    """

    __tablename__ = "delivery_metrics"

    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("delivery.id", ondelete="CASCADE"), primary_key=True
    )
    latest_snapshot_id: Mapped[int] = mapped_column(Integer)
    latest_fetched_at: Mapped[datetime]
    likes: Mapped[int | None] = mapped_column(Integer)
    reposts: Mapped[int | None] = mapped_column(Integer)
    replies: Mapped[int | None] = mapped_column(Integer)
    quotes: Mapped[int | None] = mapped_column(Integer)
    views: Mapped[int | None] = mapped_column(Integer)
    reach: Mapped[int | None] = mapped_column(Integer)
    clicks: Mapped[int | None] = mapped_column(Integer)
    first_snapshot_id: Mapped[int] = mapped_column(Integer)
    first_fetched_at: Mapped[datetime]
    first_followers: Mapped[int | None] = mapped_column(Integer)
    #: Whether any snapshot of the delivery has the figure (a network "provides" it).
    has_likes: Mapped[bool] = mapped_column(Boolean)
    has_reposts: Mapped[bool] = mapped_column(Boolean)
    has_replies: Mapped[bool] = mapped_column(Boolean)
    has_quotes: Mapped[bool] = mapped_column(Boolean)
    has_views: Mapped[bool] = mapped_column(Boolean)
    has_reach: Mapped[bool] = mapped_column(Boolean)
    has_clicks: Mapped[bool] = mapped_column(Boolean)


class HashtagUseRecord(Base):
    """A post by someone else that used the campaign's hashtag (earned reach)."""

    __tablename__ = "hashtag_use"
    __table_args__ = (
        UniqueConstraint("campaign_id", "channel", "remote_id"),
        Index("ix_hashtag_use_campaign_posted", "campaign_id", "posted_at"),
    )

    id: Mapped[IntKey]
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(50))
    remote_id: Mapped[str] = mapped_column(String(500))
    author: Mapped[str] = mapped_column(String(300))
    posted_at: Mapped[datetime]
    url: Mapped[str | None] = mapped_column(String(2000))
    fetched_at: Mapped[Stamp]


class AuditEventRecord(Base):
    """Who did what, when: every change to the record."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_at", "at"),)

    id: Mapped[IntKey]
    at: Mapped[Stamp]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    post_key: Mapped[str | None] = mapped_column(String(300))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("delivery.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class WorkerRecord(Base):
    """A daemon's heartbeat."""

    __tablename__ = "worker"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(300))
    pid: Mapped[int]
    started_at: Mapped[Stamp]
    heartbeat_at: Mapped[Stamp]
    version: Mapped[str] = mapped_column(String(50))
    #: Set when the daemon stopped cleanly (SIGTERM/SIGINT); NULL while running or after a crash.
    stopped_at: Mapped[datetime | None]


# The tables of store.attention belong to the same metadata (migrations compare against it), and
# audit events written through the ORM record the OS user (store.audit): both come with the models.
from campaign_scheduler.store import attention as _attention  # noqa: F401
from campaign_scheduler.store import audit as _audit  # noqa: F401
