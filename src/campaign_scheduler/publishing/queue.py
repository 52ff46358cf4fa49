"""The database as the queue: claim a due delivery, recover abandoned ones, record outcomes.

Every claim is one atomic UPDATE that moves a delivery to ``publishing`` under a lease, and
commits an attempt row, before any network call. On PostgreSQL the candidate is selected
``FOR UPDATE SKIP LOCKED`` so that several daemons claim side by side; on SQLite the claim
runs in a ``BEGIN IMMEDIATE`` transaction. Outcomes are written with a guard on the lease
owner, so a worker that lost its lease can never overwrite what another worker recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, case, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session

from campaign_scheduler.publishing.policy import deadline
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import (
    WAITING,
    AccountRecord,
    AttemptRecord,
    AuditEventRecord,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    UTCDateTime,
)

log = logging.getLogger("campaign_scheduler.publishing")

WAITING_STATES = tuple(s.value for s in WAITING)
SYSTEM_ACTOR = "daemon"


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds under a lease, with what it needs to publish it."""

    delivery_id: int
    attempt_id: int
    attempt_number: int
    worker: str
    campaign_slug: str
    post_key: str
    post_source: str
    account_name: str
    channel: str
    text: str
    language: str
    media: list[dict[str, Any]]
    idempotency_key: str
    due_at: datetime
    not_after: datetime | None
    grace: timedelta
    key_first_used: datetime
    recovering: bool = False  # claimed after another worker's lease ran out mid-call

    @property
    def deadline(self) -> datetime:
        return deadline(self.due_at, self.not_after, self.grace)


def _claimable(now: datetime) -> Any:
    return and_(
        DeliveryRecord.state == DeliveryState.PENDING.value,
        DeliveryRecord.due_at <= now,
        or_(DeliveryRecord.next_attempt_at.is_(None), DeliveryRecord.next_attempt_at <= now),
        AccountRecord.needs_attention.is_(False),
        or_(AccountRecord.rate_limited_until.is_(None), AccountRecord.rate_limited_until <= now),
        or_(CampaignRecord.require_approval.is_(False), PostRecord.approver.is_not(None)),
    )


def _candidates() -> Any:
    return (
        select(DeliveryRecord.id)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
    )


def claim_due(store: Store, worker: str, now: datetime, lease: timedelta) -> Claim | None:
    """Claim the most overdue delivery that may go out now, or return None."""
    candidate = (
        _candidates()
        .where(_claimable(now))
        .order_by(DeliveryRecord.due_at, DeliveryRecord.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=DeliveryRecord)
        .scalar_subquery()
    )
    with store.session(write=True) as session:
        row = session.execute(
            update(DeliveryRecord)
            .where(
                DeliveryRecord.id == candidate, DeliveryRecord.state == DeliveryState.PENDING.value
            )
            .values(
                state=DeliveryState.PUBLISHING.value,
                lease_owner=worker,
                lease_until=now + lease,
                attempts=DeliveryRecord.attempts + 1,
                next_attempt_at=None,
                version=DeliveryRecord.version + 1,
                updated_at=now,
            )
            .returning(DeliveryRecord.id, DeliveryRecord.attempts)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return None
        return _start_attempt(session, row[0], row[1], worker, now, recovering=False)


def release_retries(store: Store, now: datetime) -> int:
    """``retry_wait`` -> ``pending`` for deliveries whose wait is over."""
    with store.session(write=True) as session:
        return _rowcount(
            session,
            update(DeliveryRecord)
            .where(
                DeliveryRecord.state == DeliveryState.RETRY_WAIT.value,
                DeliveryRecord.next_attempt_at <= now,
            )
            .values(state=DeliveryState.PENDING.value, version=DeliveryRecord.version + 1)
            .execution_options(synchronize_session=False),
        )


def claim_abandoned(store: Store, worker: str, now: datetime, lease: timedelta) -> Claim | None:
    """Take over a delivery whose worker died mid-call (its lease ran out while publishing)."""
    candidate = (
        select(DeliveryRecord.id)
        .where(
            DeliveryRecord.state == DeliveryState.PUBLISHING.value,
            DeliveryRecord.lease_until < now,
        )
        .order_by(DeliveryRecord.lease_until, DeliveryRecord.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    with store.session(write=True) as session:
        row = session.execute(
            update(DeliveryRecord)
            .where(
                DeliveryRecord.id == candidate,
                DeliveryRecord.state == DeliveryState.PUBLISHING.value,
                DeliveryRecord.lease_until < now,
            )
            .values(
                lease_owner=worker,
                lease_until=now + lease,
                attempts=DeliveryRecord.attempts + 1,
                version=DeliveryRecord.version + 1,
                updated_at=now,
            )
            .returning(DeliveryRecord.id, DeliveryRecord.attempts)
            .execution_options(synchronize_session=False)
        ).first()
        if row is None:
            return None
        session.execute(
            update(AttemptRecord)
            .where(AttemptRecord.delivery_id == row[0], AttemptRecord.finished_at.is_(None))
            .values(finished_at=now, outcome="abandoned", error="the worker's lease ran out")
            .execution_options(synchronize_session=False)
        )
        return _start_attempt(session, row[0], row[1], worker, now, recovering=True)


def _start_attempt(
    session: Session, delivery_id: int, number: int, worker: str, now: datetime, *, recovering: bool
) -> Claim:
    attempt = AttemptRecord(delivery_id=delivery_id, number=number, worker=worker, started_at=now)
    session.add(attempt)
    session.flush()
    first_used = session.scalar(
        select(func.min(AttemptRecord.started_at)).where(AttemptRecord.delivery_id == delivery_id)
    )
    previous = session.scalar(
        select(AttemptRecord.outcome)
        .where(AttemptRecord.delivery_id == delivery_id, AttemptRecord.id != attempt.id)
        .order_by(AttemptRecord.number.desc())
        .limit(1)
    )
    recovering = recovering or previous in NEEDS_RECOVERY
    delivery, post, account, campaign = session.execute(
        select(DeliveryRecord, PostRecord, AccountRecord, CampaignRecord)
        .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
        .where(DeliveryRecord.id == delivery_id)
    ).one()
    return Claim(
        delivery_id=delivery_id,
        attempt_id=attempt.id,
        attempt_number=number,
        worker=worker,
        campaign_slug=campaign.slug,
        post_key=post.key,
        post_source=post.source,
        account_name=account.name,
        channel=account.channel,
        text=delivery.text,
        language=post.language,
        media=list(post.media or []),
        idempotency_key=delivery.idempotency_key,
        due_at=delivery.due_at,
        not_after=delivery.not_after,
        grace=timedelta(seconds=campaign.grace_seconds),
        key_first_used=first_used or now,
        recovering=recovering,
    )


class OutcomeKind(StrEnum):
    PUBLISHED = "published"
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"
    AUTH_BROKEN = "auth_broken"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    NOT_PUBLISHED = "not_published"  # a lookup after a crash found nothing: back to the queue


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    error: str | None = None
    next_attempt_at: datetime | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    published_at: datetime | None = None
    http_status: int | None = None
    attempt_label: str | None = None  # what the attempt row says, when it differs from kind
    detail: dict[str, Any] = field(default_factory=dict)


#: Attempt outcomes after which the next claim must first find out whether the post exists.
NEEDS_RECOVERY = ("abandoned", "outcome unknown")


def _rowcount(session: Session, statement: Any) -> int:
    result = session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


_NEXT_STATE = {
    OutcomeKind.PUBLISHED: DeliveryState.PUBLISHED,
    OutcomeKind.RETRY: DeliveryState.RETRY_WAIT,
    OutcomeKind.RATE_LIMITED: DeliveryState.RETRY_WAIT,
    OutcomeKind.FAILED: DeliveryState.FAILED,
    OutcomeKind.AUTH_BROKEN: DeliveryState.PENDING,
    OutcomeKind.EXPIRED: DeliveryState.EXPIRED,
    OutcomeKind.UNKNOWN: DeliveryState.UNKNOWN,
    OutcomeKind.NOT_PUBLISHED: DeliveryState.PENDING,
}


def record_outcome(store: Store, claim: Claim, outcome: Outcome, now: datetime) -> bool:
    """Commit the result of a call. Returns False when the lease was lost meanwhile (another
    worker took the delivery over); then the delivery is left to that worker."""
    state = _NEXT_STATE[outcome.kind]
    label = outcome.attempt_label or outcome.kind.value
    values: dict[str, Any] = {
        "state": state.value,
        "lease_owner": None,
        "lease_until": None,
        "next_attempt_at": outcome.next_attempt_at,
        "version": DeliveryRecord.version + 1,
        "updated_at": now,
    }
    if outcome.kind is OutcomeKind.PUBLISHED:
        values.update(
            remote_id=outcome.remote_id,
            remote_url=outcome.remote_url,
            published_at=outcome.published_at or now,
            last_error=None,
            state_reason=None,
        )
    elif outcome.kind is OutcomeKind.AUTH_BROKEN:
        values.update(last_error=outcome.error, state_reason="held: the account needs attention")
    else:
        values.update(last_error=outcome.error, state_reason=outcome.error)
    with store.session(write=True) as session:
        updated = _rowcount(
            session,
            update(DeliveryRecord)
            .where(
                DeliveryRecord.id == claim.delivery_id,
                DeliveryRecord.state == DeliveryState.PUBLISHING.value,
                DeliveryRecord.lease_owner == claim.worker,
            )
            .values(**values)
            .execution_options(synchronize_session=False),
        )
        session.execute(
            update(AttemptRecord)
            .where(AttemptRecord.id == claim.attempt_id)
            .values(
                finished_at=now,
                outcome=label if updated else f"{label} (lease lost)",
                error=outcome.error,
                http_status=outcome.http_status,
            )
            .execution_options(synchronize_session=False)
        )
        if not updated:
            log.warning(
                "lease on %s/%s lost before its outcome (%s) was recorded",
                claim.post_key,
                claim.account_name,
                outcome.kind.value,
            )
            return False
        if outcome.kind is OutcomeKind.AUTH_BROKEN:
            session.execute(
                update(AccountRecord)
                .where(AccountRecord.name == claim.account_name)
                .values(needs_attention=True, attention_reason=outcome.error, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        if outcome.kind is OutcomeKind.RATE_LIMITED and outcome.next_attempt_at is not None:
            session.execute(
                update(AccountRecord)
                .where(AccountRecord.name == claim.account_name)
                .values(rate_limited_until=outcome.next_attempt_at)
                .execution_options(synchronize_session=False)
            )
        if outcome.kind not in (OutcomeKind.RETRY, OutcomeKind.RATE_LIMITED):
            session.add(
                AuditEventRecord(
                    at=now,
                    actor=SYSTEM_ACTOR,
                    action=f"delivery.{state.value}",
                    campaign_id=None,
                    post_key=claim.post_key,
                    delivery_id=claim.delivery_id,
                    detail={
                        "account": claim.account_name,
                        "worker": claim.worker,
                        "attempt": claim.attempt_number,
                        "url": outcome.remote_url,
                        "error": outcome.error,
                        **outcome.detail,
                    },
                )
            )
    return True


def expire_overdue(store: Store, now: datetime) -> list[tuple[str, str, str]]:
    """Move waiting deliveries past their deadline to ``expired``, with the reason.

    Returns (post key, account, reason) for each. Deliveries held for approval or for an
    account that needs attention expire the same way when their moment has passed.
    """
    expired: list[tuple[str, str, str]] = []
    with store.session(write=True) as session:
        rows = session.execute(
            select(DeliveryRecord, PostRecord, AccountRecord, CampaignRecord)
            .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
            .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
            .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
            .where(DeliveryRecord.state.in_(WAITING_STATES), DeliveryRecord.due_at <= now)
        ).all()
        for delivery, post, account, campaign in rows:
            grace = timedelta(seconds=campaign.grace_seconds)
            last = deadline(delivery.due_at, delivery.not_after, grace)
            if now <= last or _needs_recovery(session, delivery.id):
                continue  # (a post whose last call has no known outcome is settled first)
            reason = _expiry_reason(delivery, post, account, campaign, grace)
            delivery.state = DeliveryState.EXPIRED.value
            delivery.state_reason = reason
            delivery.next_attempt_at = None
            delivery.version += 1
            session.add(
                AuditEventRecord(
                    at=now,
                    actor=SYSTEM_ACTOR,
                    action="delivery.expired",
                    campaign_id=campaign.id,
                    post_key=post.key,
                    delivery_id=delivery.id,
                    detail={"account": account.name, "reason": reason},
                )
            )
            expired.append((post.key, account.name, reason))
    return expired


def _needs_recovery(session: Session, delivery_id: int) -> bool:
    last = session.scalar(
        select(AttemptRecord.outcome)
        .where(AttemptRecord.delivery_id == delivery_id)
        .order_by(AttemptRecord.number.desc())
        .limit(1)
    )
    return last in NEEDS_RECOVERY


def _expiry_reason(
    delivery: DeliveryRecord,
    post: PostRecord,
    account: AccountRecord,
    campaign: CampaignRecord,
    grace: timedelta,
) -> str:
    from campaign_scheduler.timeutil import format_duration

    if campaign.require_approval and post.approver is None:
        why = "it was never approved"
    elif account.needs_attention:
        why = f"account {account.name} needed attention ({account.attention_reason})"
    elif delivery.attempts:
        why = f"{delivery.attempts} attempt(s) failed ({delivery.last_error})"
    else:
        why = "no daemon published it in time"
    if delivery.not_after is not None and delivery.not_after < delivery.due_at + grace:
        return f"not published before its deadline (not_after): {why}"
    return f"more than {format_duration(grace)} (rules.grace) late: {why}"


def next_wake(store: Store, now: datetime) -> datetime | None:
    """The earliest moment something may need doing: a due delivery, a retry, the end of a
    rate limit, or a lease that runs out."""
    retry_or_due = case(
        (DeliveryRecord.next_attempt_at > DeliveryRecord.due_at, DeliveryRecord.next_attempt_at),
        else_=DeliveryRecord.due_at,
    )
    effective = case(
        (AccountRecord.rate_limited_until > retry_or_due, AccountRecord.rate_limited_until),
        else_=retry_or_due,
    )
    with store.session() as session:
        waiting = session.scalar(
            select(type_coerce(func.min(effective), UTCDateTime()))
            .select_from(DeliveryRecord)
            .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
            .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
            .join(CampaignRecord, CampaignRecord.id == PostRecord.campaign_id)
            .where(
                DeliveryRecord.state.in_(WAITING_STATES),
                AccountRecord.needs_attention.is_(False),
                or_(CampaignRecord.require_approval.is_(False), PostRecord.approver.is_not(None)),
            )
        )
        lease = session.scalar(
            select(func.min(DeliveryRecord.lease_until)).where(
                DeliveryRecord.state == DeliveryState.PUBLISHING.value
            )
        )
    moments = [m for m in (waiting, lease) if m is not None]
    if not moments:
        return None
    earliest = min(moments)
    return max(earliest, now)
