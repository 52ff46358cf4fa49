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
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Connection,
    Table,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    type_coerce,
    update,
)
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
    split: bool = False  # the draft asked for a thread when the text is too long
    parts: list[dict[str, str | None]] = field(default_factory=list)  # thread parts already out

    @property
    def deadline(self) -> datetime:
        return deadline(self.due_at, self.not_after, self.grace)


# The hot path (claim, start an attempt, record an outcome) runs prebuilt Core statements with
# bound parameters: building SQLAlchemy expressions per call costs more than running them.
_D = cast(Table, DeliveryRecord.__table__)
_A = cast(Table, AccountRecord.__table__)
_P = cast(Table, PostRecord.__table__)
_C = cast(Table, CampaignRecord.__table__)
_T = cast(Table, AttemptRecord.__table__)
_JOINED = (
    _D.join(_A, _A.c.id == _D.c.account_id)
    .join(_P, _P.c.id == _D.c.post_id)
    .join(_C, _C.c.id == _P.c.campaign_id)
)
_PENDING = DeliveryState.PENDING.value
_PUBLISHING = DeliveryState.PUBLISHING.value


def _build_claim_due() -> Any:
    now = bindparam("now", type_=UTCDateTime())
    candidate = (
        select(_D.c.id)
        .select_from(_JOINED)
        .where(
            _D.c.state == _PENDING,
            _D.c.due_at <= now,
            or_(_D.c.next_attempt_at.is_(None), _D.c.next_attempt_at <= now),
            _A.c.needs_attention.is_(False),
            or_(_A.c.rate_limited_until.is_(None), _A.c.rate_limited_until <= now),
            or_(_C.c.require_approval.is_(False), _P.c.approver.is_not(None)),
        )
        .order_by(_D.c.due_at, _D.c.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=_D)
        .scalar_subquery()
    )
    return (
        update(_D)
        .where(_D.c.id == candidate, _D.c.state == _PENDING)
        .values(
            state=_PUBLISHING,
            lease_owner=bindparam("worker"),
            lease_until=bindparam("until", type_=UTCDateTime()),
            attempts=_D.c.attempts + 1,
            next_attempt_at=None,
            version=_D.c.version + 1,
            updated_at=now,
        )
        .returning(_D.c.id, _D.c.attempts)
    )


def _build_claim_abandoned() -> Any:
    now = bindparam("now", type_=UTCDateTime())
    candidate = (
        select(_D.c.id)
        .where(_D.c.state == _PUBLISHING, _D.c.lease_until < now)
        .order_by(_D.c.lease_until, _D.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(_D)
        .where(_D.c.id == candidate, _D.c.state == _PUBLISHING, _D.c.lease_until < now)
        .values(
            lease_owner=bindparam("worker"),
            lease_until=bindparam("until", type_=UTCDateTime()),
            attempts=_D.c.attempts + 1,
            version=_D.c.version + 1,
            updated_at=now,
        )
        .returning(_D.c.id, _D.c.attempts)
    )


_CLAIM_DUE = _build_claim_due()
_CLAIM_ABANDONED = _build_claim_abandoned()
_ABANDON_OPEN_ATTEMPTS = (
    update(_T)
    .where(_T.c.delivery_id == bindparam("delivery"), _T.c.finished_at.is_(None))
    .values(
        finished_at=bindparam("now", type_=UTCDateTime()),
        outcome="abandoned",
        error="the worker's lease ran out",
    )
)
_INSERT_ATTEMPT = (
    insert(_T)
    .values(
        delivery_id=bindparam("delivery"),
        number=bindparam("attempt_number"),
        worker=bindparam("worker_name"),
        started_at=bindparam("now", type_=UTCDateTime()),
    )
    .returning(_T.c.id)
)
_FIRST_USED = select(func.min(_T.c.started_at)).where(_T.c.delivery_id == _D.c.id).scalar_subquery()
_PREVIOUS_OUTCOME = (
    select(_T.c.outcome)
    .where(_T.c.delivery_id == _D.c.id, _T.c.number < bindparam("number"))
    .order_by(_T.c.number.desc())
    .limit(1)
    .scalar_subquery()
)
_CLAIM_DETAILS = (
    select(
        _C.c.slug,
        _P.c.key,
        _P.c.source,
        _A.c.name,
        _A.c.channel,
        _D.c.text,
        _P.c.language,
        _P.c.media,
        _D.c.idempotency_key,
        _D.c.due_at,
        _D.c.not_after,
        _C.c.grace_seconds,
        type_coerce(_FIRST_USED, UTCDateTime()),
        _PREVIOUS_OUTCOME,
        _P.c.split,
        _D.c.parts,
    )
    .select_from(_JOINED)
    .where(_D.c.id == bindparam("id"))
)


def claim_due(store: Store, worker: str, now: datetime, lease: timedelta) -> Claim | None:
    """Claim the most overdue delivery that may go out now, or return None."""
    with store.transaction(write=True) as connection:
        row = connection.execute(
            _CLAIM_DUE, {"now": now, "until": now + lease, "worker": worker}
        ).first()
        if row is None:
            return None
        return _start_attempt(connection, row[0], row[1], worker, now, recovering=False)


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
    with store.transaction(write=True) as connection:
        row = connection.execute(
            _CLAIM_ABANDONED, {"now": now, "until": now + lease, "worker": worker}
        ).first()
        if row is None:
            return None
        connection.execute(_ABANDON_OPEN_ATTEMPTS, {"delivery": row[0], "now": now})
        return _start_attempt(connection, row[0], row[1], worker, now, recovering=True)


def _start_attempt(
    connection: Connection,
    delivery_id: int,
    number: int,
    worker: str,
    now: datetime,
    *,
    recovering: bool,
) -> Claim:
    attempt_id = connection.execute(
        _INSERT_ATTEMPT,
        {"delivery": delivery_id, "attempt_number": number, "worker_name": worker, "now": now},
    ).scalar_one()
    (
        slug,
        key,
        source,
        account,
        channel,
        text,
        language,
        media,
        idempotency_key,
        due_at,
        not_after,
        grace_seconds,
        first_used,
        previous,
        split,
        parts,
    ) = connection.execute(_CLAIM_DETAILS, {"id": delivery_id, "number": number}).one()
    return Claim(
        delivery_id=delivery_id,
        attempt_id=attempt_id,
        attempt_number=number,
        worker=worker,
        campaign_slug=slug,
        post_key=key,
        post_source=source,
        account_name=account,
        channel=channel,
        text=text,
        language=language,
        media=list(media or []),
        idempotency_key=idempotency_key,
        due_at=due_at,
        not_after=not_after,
        grace=timedelta(seconds=grace_seconds),
        key_first_used=first_used or now,
        recovering=recovering or previous in NEEDS_RECOVERY,
        split=bool(split),
        parts=list(parts or []),
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


_RECORD_OUTCOME = (
    update(_D)
    .where(
        _D.c.id == bindparam("delivery"),
        _D.c.state == _PUBLISHING,
        _D.c.lease_owner == bindparam("worker"),
    )
    .values(
        state=bindparam("new_state"),
        lease_owner=None,
        lease_until=None,
        next_attempt_at=bindparam("next_at", type_=UTCDateTime()),
        remote_id=bindparam("remote"),
        remote_url=bindparam("url"),
        published_at=bindparam("out_at", type_=UTCDateTime()),
        last_error=bindparam("error_text"),
        state_reason=bindparam("reason"),
        version=_D.c.version + 1,
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)
_FINISH_ATTEMPT = (
    update(_T)
    .where(_T.c.id == bindparam("attempt_id"))
    .values(
        finished_at=bindparam("now", type_=UTCDateTime()),
        outcome=bindparam("label"),
        error=bindparam("error_text"),
        http_status=bindparam("status_code"),
    )
)
_FLAG_ACCOUNT = (
    update(_A)
    .where(_A.c.name == bindparam("account"))
    .values(
        needs_attention=True,
        attention_reason=bindparam("why"),
        updated_at=bindparam("now", type_=UTCDateTime()),
    )
)
_RATE_LIMIT_ACCOUNT = (
    update(_A)
    .where(_A.c.name == bindparam("account"))
    .values(rate_limited_until=bindparam("until", type_=UTCDateTime()))
)
_RECORD_PARTS = (
    update(_D)
    .where(
        _D.c.id == bindparam("delivery"),
        _D.c.state == _PUBLISHING,
        _D.c.lease_owner == bindparam("worker"),
    )
    .values(parts=bindparam("done", type_=JSON()))
)
_AUDIT = insert(cast(Table, AuditEventRecord.__table__))


def record_parts(store: Store, claim: Claim, parts: list[dict[str, str | None]]) -> None:
    """Remember the thread parts already out, so a crash resumes after the last of them."""
    with store.transaction(write=True) as connection:
        connection.execute(
            _RECORD_PARTS, {"delivery": claim.delivery_id, "worker": claim.worker, "done": parts}
        )


def record_outcome(store: Store, claim: Claim, outcome: Outcome, now: datetime) -> bool:
    """Commit the result of a call. Returns False when the lease was lost meanwhile (another
    worker took the delivery over); then the delivery is left to that worker."""
    state = _NEXT_STATE[outcome.kind]
    label = outcome.attempt_label or outcome.kind.value
    published = outcome.kind is OutcomeKind.PUBLISHED
    if published:
        reason = None
    elif outcome.kind is OutcomeKind.AUTH_BROKEN:
        reason = "held: the account needs attention"
    else:
        reason = outcome.error
    with store.transaction(write=True) as connection:
        updated = connection.execute(
            _RECORD_OUTCOME,
            {
                "delivery": claim.delivery_id,
                "worker": claim.worker,
                "new_state": state.value,
                "next_at": outcome.next_attempt_at,
                "remote": outcome.remote_id if published else None,
                "url": outcome.remote_url if published else None,
                # Some networks give whole seconds: never before the call that published it.
                "out_at": max(outcome.published_at or now, claim.key_first_used)
                if published
                else None,
                "error_text": None if published else outcome.error,
                "reason": reason,
                "now": now,
            },
        ).rowcount
        connection.execute(
            _FINISH_ATTEMPT,
            {
                "attempt_id": claim.attempt_id,
                "now": now,
                "label": label if updated else f"{label} (lease lost)",
                "error_text": outcome.error,
                "status_code": outcome.http_status,
            },
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
            connection.execute(
                _FLAG_ACCOUNT, {"account": claim.account_name, "why": outcome.error, "now": now}
            )
        if outcome.kind is OutcomeKind.RATE_LIMITED and outcome.next_attempt_at is not None:
            connection.execute(
                _RATE_LIMIT_ACCOUNT,
                {"account": claim.account_name, "until": outcome.next_attempt_at},
            )
        if outcome.kind not in (OutcomeKind.RETRY, OutcomeKind.RATE_LIMITED):
            connection.execute(
                _AUDIT,
                {
                    "at": now,
                    "actor": SYSTEM_ACTOR,
                    "action": f"delivery.{state.value}",
                    "campaign_id": None,
                    "post_key": claim.post_key,
                    "delivery_id": claim.delivery_id,
                    "detail": {
                        "account": claim.account_name,
                        "worker": claim.worker,
                        "attempt": claim.attempt_number,
                        "url": outcome.remote_url,
                        "error": outcome.error,
                        **outcome.detail,
                    },
                },
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
