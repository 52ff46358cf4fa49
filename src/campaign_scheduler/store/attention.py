"""What a person has been told and has seen: alerts sent once, acknowledgements, daemon liveness.

Tables of their own (``notice``, ``status_ack``) next to the core record in ``models.py``:

* a ``notice`` row is written for each alert condition *before* the alert is sent (its unique
  ``key`` is the claim, so two processes never send the same alert twice) and removed again when
  sending failed, so that the next round tries again;
* a ``status_ack`` row is written by ``campaign status --ack``: problems older than the newest
  acknowledgement are no longer named by ``status``;
* the daemon's liveness is read from ``worker`` (heartbeat, and ``stopped_at`` on a clean stop).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Index, String, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import Base, IntKey, Stamp, WorkerRecord


class NoticeRecord(Base):
    """One alert condition a person has been told about (once)."""

    __tablename__ = "notice"

    id: Mapped[IntKey]
    key: Mapped[str] = mapped_column(String(400), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    sent_at: Mapped[Stamp]
    sent_by: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StatusAckRecord(Base):
    """``campaign status --ack``: a person has seen the problems up to ``at``."""

    __tablename__ = "status_ack"
    __table_args__ = (Index("ix_status_ack_at", "at"),)

    id: Mapped[IntKey]
    at: Mapped[Stamp]
    os_user: Mapped[str] = mapped_column(String(200))
    problems: Mapped[int] = mapped_column(default=0)


# --- notices: claim before sending, release when sending failed --------------------------------


def claim_notices(
    store: Store, keys: Iterable[tuple[str, str, dict[str, Any]]], *, by: str, now: datetime
) -> list[str]:
    """Claim each (key, kind, detail) not yet claimed; returns the keys this call claimed.

    Each key is inserted in its own transaction: a key another process claimed first (the
    unique constraint) is simply not ours.
    """
    claimed = []
    for key, kind, detail in keys:
        try:
            with store.session(write=True) as session:
                if session.scalar(select(NoticeRecord.id).where(NoticeRecord.key == key)):
                    continue
                session.add(
                    NoticeRecord(key=key, kind=kind, sent_at=now, sent_by=by, detail=detail)
                )
        except IntegrityError:
            continue
        claimed.append(key)
    return claimed


def release_notices(store: Store, keys: Iterable[str]) -> None:
    """Forget claims whose alert could not be sent, so the next round sends it."""
    keys = list(keys)
    if not keys:
        return
    with store.session(write=True) as session:
        session.execute(delete(NoticeRecord).where(NoticeRecord.key.in_(keys)))


def rearm(store: Store, kind: str, active: Iterable[str]) -> None:
    """Forget the notices of ``kind`` whose condition has cleared: it may alert again."""
    still = set(active)
    with store.session(write=True) as session:
        gone = [
            key
            for key in session.scalars(select(NoticeRecord.key).where(NoticeRecord.kind == kind))
            if key not in still
        ]
        if gone:
            session.execute(delete(NoticeRecord).where(NoticeRecord.key.in_(gone)))


def notice_keys(store: Store) -> set[str]:
    with store.session() as session:
        return set(session.scalars(select(NoticeRecord.key)))


# --- acknowledgements ---------------------------------------------------------------------------


def record_ack(store: Store, *, os_user: str, problems: int, now: datetime) -> None:
    with store.session(write=True) as session:
        session.add(StatusAckRecord(at=now, os_user=os_user, problems=problems))


@dataclass(frozen=True)
class Ack:
    at: datetime
    os_user: str


def last_ack(store: Store) -> Ack | None:
    with store.session() as session:
        row = session.execute(
            select(StatusAckRecord.at, StatusAckRecord.os_user)
            .order_by(StatusAckRecord.at.desc(), StatusAckRecord.id.desc())
            .limit(1)
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
    with store.session() as session:
        if not session.scalar(select(func.count()).select_from(WorkerRecord)):
            return Liveness(DaemonState.NEVER_STARTED, None, None, None)
        live = session.scalar(
            select(WorkerRecord)
            .where(WorkerRecord.stopped_at.is_(None))
            .order_by(WorkerRecord.heartbeat_at.desc())
            .limit(1)
        )
        if live is not None and now - live.heartbeat_at <= stale_after:
            return Liveness(DaemonState.RUNNING, live.heartbeat_at, None, live.id)
        newest = session.scalar(
            select(WorkerRecord).order_by(WorkerRecord.heartbeat_at.desc()).limit(1)
        )
        assert newest is not None
        if newest.stopped_at is not None:
            return Liveness(DaemonState.STOPPED, newest.heartbeat_at, newest.stopped_at, newest.id)
        return Liveness(DaemonState.STALE, newest.heartbeat_at, None, newest.id)


def mark_stopped(store: Store, worker_id: str, now: datetime) -> None:
    """A daemon stopped cleanly: say so, so that ``status`` does not wait for staleness."""
    with store.session(write=True) as session:
        record = session.get(WorkerRecord, worker_id)
        if record is not None:
            record.stopped_at = now
            record.heartbeat_at = max(record.heartbeat_at, now)


# --- what status names --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProblemDelivery:
    post: str
    account: str
    state: str
    reason: str | None
    at: datetime  # when it entered that state (last change of the delivery)


#: The state a published delivery without its first comment is named by (not a record state).
COMMENT_FAILED = "comment_failed"


def problems_since(store: Store, since: datetime | None) -> list[ProblemDelivery]:
    """Deliveries that failed, expired or ended unknown after ``since`` (all when None), and
    published ones whose first comment is missing (state :data:`COMMENT_FAILED`)."""
    from campaign_scheduler.store.models import (
        AccountRecord,
        DeliveryRecord,
        DeliveryState,
        PostRecord,
    )

    query = (
        select(
            PostRecord.key,
            AccountRecord.name,
            DeliveryRecord.state,
            DeliveryRecord.state_reason,
            DeliveryRecord.last_error,
            DeliveryRecord.updated_at,
            DeliveryRecord.comment_error,
        )
        .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
        .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
        .where(
            DeliveryRecord.state.in_(
                (
                    DeliveryState.FAILED.value,
                    DeliveryState.EXPIRED.value,
                    DeliveryState.UNKNOWN.value,
                )
            )
            | (
                (DeliveryRecord.state == DeliveryState.PUBLISHED.value)
                & DeliveryRecord.comment_error.is_not(None)
            )
        )
        .order_by(DeliveryRecord.updated_at, PostRecord.key, AccountRecord.name)
    )
    if since is not None:
        query = query.where(DeliveryRecord.updated_at > since)
    with store.session() as session:
        return [
            ProblemDelivery(key, account, COMMENT_FAILED, comment, at)
            if state == DeliveryState.PUBLISHED.value
            else ProblemDelivery(key, account, state, reason or error, at)
            for key, account, state, reason, error, at, comment in session.execute(query)
        ]


def due_within(store: Store, until: datetime) -> int:
    """How many deliveries wait to go out by ``until`` (overdue ones included)."""
    from campaign_scheduler.store.models import DeliveryRecord, DeliveryState

    with store.session() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(DeliveryRecord)
                .where(
                    DeliveryRecord.state.in_(
                        (DeliveryState.PENDING.value, DeliveryState.RETRY_WAIT.value)
                    ),
                    DeliveryRecord.due_at <= until,
                )
            )
            or 0
        )


def hold_account(store: Store, account: str, reason: str, now: datetime) -> None:
    """Flag an account whose credentials a network refused: nothing is published on it until
    a person fixes them (``campaign channels verify`` releases it), and an alert goes out.

    The same flag a refused publish sets (``needs_attention`` with its reason)."""
    from sqlalchemy import update

    from campaign_scheduler.store.models import AccountRecord

    with store.session(write=True) as session:
        session.execute(
            update(AccountRecord)
            .where(AccountRecord.name == account)
            .values(needs_attention=True, attention_reason=reason, updated_at=now)
        )
