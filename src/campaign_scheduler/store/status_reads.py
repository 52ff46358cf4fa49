"""The reads behind ``campaign status``, as Core statements: no ORM is imported.

``status`` is the command a person (or a timer) runs most, and importing SQLAlchemy's ORM and
mapping the record's classes costs more than the reads themselves. The few columns these
queries touch are named here as lightweight table clauses (``sqlalchemy.table``); the schema
itself stays defined once, by the ORM models and the migrations (``models.py``, the tests
check that every column named here exists there).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Integer,
    String,
    column,
    exists,
    func,
    select,
    table,
)

from campaign_scheduler.store.coretypes import DeliveryState, UTCDateTime
from campaign_scheduler.store.engine import Store

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

_WAITING = (DeliveryState.PENDING.value, DeliveryState.RETRY_WAIT.value)

campaign_t = table(
    "campaign", column("id", Integer), column("slug", String), column("require_approval", Boolean)
)
post_t = table(
    "post",
    column("id", Integer),
    column("campaign_id", Integer),
    column("key", String),
    column("approver", String),
)
account_t = table(
    "account",
    column("id", Integer),
    column("name", String),
    column("needs_attention", Boolean),
    column("attention_reason", String),
    column("rate_limited_until", UTCDateTime()),
)
delivery_t = table(
    "delivery",
    column("post_id", Integer),
    column("account_id", Integer),
    column("state", String),
    column("state_reason", String),
    column("state_reason_data", JSON),
    column("last_error", String),
    column("comment_error", String),
    column("comment_error_data", JSON),
    column("due_at", UTCDateTime()),
    column("updated_at", UTCDateTime()),
)
worker_t = table(
    "worker",
    column("id", String),
    column("heartbeat_at", UTCDateTime()),
    column("stopped_at", UTCDateTime()),
)
status_ack_t = table(
    "status_ack", column("id", Integer), column("at", UTCDateTime()), column("os_user", String)
)

#: Every lightweight table clause above, for the test that compares them with the models.
TABLES = (campaign_t, post_t, account_t, delivery_t, worker_t, status_ack_t)


# --- the summary --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusSummary:
    counts: dict[str, int]
    oldest_overdue: datetime | None  # due_at of the oldest delivery that should be out by now
    awaiting_approval: int
    last_heartbeat: datetime | None
    attention: list[tuple[str, str | None]]  # (account, reason)
    rate_limited: list[tuple[str, datetime]]


def status_summary(store: Store, now: datetime) -> StatusSummary:
    d, a = delivery_t.c, account_t.c
    with store.transaction() as connection:
        grouped = select(d.state, func.count()).group_by(d.state)
        counts: dict[str, int] = {state: count for state, count in connection.execute(grouped)}  # noqa: C416
        oldest = connection.scalar(
            select(func.min(d.due_at)).where(d.state.in_(_WAITING), d.due_at <= now)
        )
        requires_approval = campaign_t.c.require_approval.is_(True)
        awaiting = connection.scalar(
            select(func.count())
            .select_from(delivery_t)
            .join(post_t, post_t.c.id == d.post_id)
            .join(campaign_t, campaign_t.c.id == post_t.c.campaign_id)
            .where(
                d.state == DeliveryState.PENDING.value,
                requires_approval,
                post_t.c.approver.is_(None),
                # SQLite joins every pending delivery to its post and campaign (18 ms for
                # 20,000); a campaign without approvals, the usual one, ends it here
                exists(select(campaign_t.c.id).where(requires_approval)),
            )
        )
        heartbeat = connection.scalar(select(func.max(worker_t.c.heartbeat_at)))
        attention = [
            (name, reason)
            for name, reason in connection.execute(
                select(a.name, a.attention_reason)
                .where(a.needs_attention.is_(True))
                .order_by(a.name)
            )
        ]
        limited = [
            (name, until)
            for name, until in connection.execute(
                select(a.name, a.rate_limited_until)
                .where(a.rate_limited_until > now)
                .order_by(a.name)
            )
            if until is not None
        ]
    return StatusSummary(
        counts=counts,
        oldest_overdue=oldest,
        awaiting_approval=int(awaiting or 0),
        last_heartbeat=heartbeat,
        attention=attention,
        rate_limited=limited,
    )


def due_within(store: Store, until: datetime) -> int:
    """How many deliveries wait to go out by ``until`` (overdue ones included)."""
    d = delivery_t.c
    with store.transaction() as connection:
        return int(
            connection.scalar(
                select(func.count())
                .select_from(delivery_t)
                .where(d.state.in_(_WAITING), d.due_at <= until)
            )
            or 0
        )


def last_scheduled(connection: Connection | Session) -> dict[str, datetime]:
    """Account name -> the due time of its last delivery still waiting to go out."""
    d = delivery_t.c
    # per account (a few), not grouped over every waiting delivery: a tenth of the time
    last = (
        select(func.max(d.due_at))
        .where(d.account_id == account_t.c.id, d.state.in_(_WAITING))
        .scalar_subquery()
    )
    rows = connection.execute(select(account_t.c.name, last))
    return {str(name): due for name, due in rows if due is not None}


# --- acknowledgements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    at: datetime
    os_user: str


def last_ack(store: Store) -> Ack | None:
    ack = status_ack_t.c
    with store.transaction() as connection:
        row = connection.execute(
            select(ack.at, ack.os_user).order_by(ack.at.desc(), ack.id.desc()).limit(1)
        ).first()
    return Ack(row[0], row[1]) if row else None


# --- daemon liveness ----------------------------------------------------------------------------


class DaemonState(enum.StrEnum):
    NEVER_STARTED = "never started"
    STOPPED = "stopped"
    STALE = "stale"  # no clean stop, but no heartbeat either: crashed, killed or hanging
    RUNNING = "running"


@dataclass(frozen=True)
class Liveness:
    state: DaemonState
    last_heartbeat: datetime | None
    stopped_at: datetime | None
    worker: str | None

    @property
    def running(self) -> bool:
        return self.state is DaemonState.RUNNING


def daemon_liveness(store: Store, now: datetime, *, stale_after: timedelta) -> Liveness:
    """Is a daemon running? From the newest heartbeat of any worker and its clean stop."""
    w = worker_t.c
    newest_first = select(w.id, w.heartbeat_at, w.stopped_at).order_by(w.heartbeat_at.desc())
    with store.transaction() as connection:
        live = connection.execute(newest_first.where(w.stopped_at.is_(None)).limit(1)).first()
        if live is not None and now - live.heartbeat_at <= stale_after:
            return Liveness(DaemonState.RUNNING, live.heartbeat_at, None, live.id)
        newest = connection.execute(newest_first.limit(1)).first()
    if newest is None:
        return Liveness(DaemonState.NEVER_STARTED, None, None, None)
    if newest.stopped_at is not None:
        return Liveness(DaemonState.STOPPED, newest.heartbeat_at, newest.stopped_at, newest.id)
    return Liveness(DaemonState.STALE, newest.heartbeat_at, None, newest.id)


# --- what status names --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemDelivery:
    post: str
    account: str
    state: str
    reason: str | None  # as the record words it (English): what --json shows
    at: datetime  # when it entered that state (last change of the delivery)
    #: The key and values of a reason the scheduler worded (``state_reason_data``), to word it
    #: for readers (reasons.py); None for a network's message.
    reason_data: dict[str, Any] | None = None


#: The state a published delivery without its first comment is named by (not a record state).
COMMENT_FAILED = "comment_failed"


def problems_since(store: Store, since: datetime | None) -> list[ProblemDelivery]:
    """Deliveries that failed, expired or ended unknown after ``since`` (all when None), and
    published ones whose first comment is missing (state :data:`COMMENT_FAILED`)."""
    d = delivery_t.c
    query = (
        select(
            post_t.c.key,
            account_t.c.name,
            d.state,
            d.state_reason,
            d.state_reason_data,
            d.last_error,
            d.updated_at,
            d.comment_error,
            d.comment_error_data,
        )
        .join(post_t, post_t.c.id == d.post_id)
        .join(account_t, account_t.c.id == d.account_id)
        .where(
            d.state.in_(
                (
                    DeliveryState.FAILED.value,
                    DeliveryState.EXPIRED.value,
                    DeliveryState.UNKNOWN.value,
                )
            )
            | ((d.state == DeliveryState.PUBLISHED.value) & d.comment_error.is_not(None))
        )
        .order_by(d.updated_at, post_t.c.key, account_t.c.name)
    )
    if since is not None:
        query = query.where(d.updated_at > since)
    with store.transaction() as connection:
        return [
            ProblemDelivery(key, account, COMMENT_FAILED, comment, at, comment_data)
            if state == DeliveryState.PUBLISHED.value
            else ProblemDelivery(
                key, account, state, reason or error, at, data if reason is not None else None
            )
            for (
                key,
                account,
                state,
                reason,
                data,
                error,
                at,
                comment,
                comment_data,
            ) in connection.execute(query)
        ]
