"""What a person has been told and has seen: alerts sent once, acknowledgements, daemon liveness.

Tables of their own (``notice``, ``status_ack``) next to the core record in ``models.py``:

* a ``notice`` row is written for each alert condition *before* the alert is sent (its unique
  ``key`` is the claim, so two processes never send the same alert twice) and removed again when
  sending failed, so that the next round tries again;
* a ``status_ack`` row is written by ``campaign status --ack``: problems older than the newest
  acknowledgement are no longer named by ``status``;
* the daemon's liveness is read from ``worker`` (heartbeat, and ``stopped_at`` on a clean stop).

What ``campaign status`` reads (acknowledgements, liveness, problem deliveries) is written as
Core statements in ``status_reads.py``, re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import Base, IntKey, Stamp, WorkerRecord
from campaign_scheduler.store.status_reads import COMMENT_FAILED as COMMENT_FAILED  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import Ack as Ack  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import DaemonState as DaemonState  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import Liveness as Liveness  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import ProblemDelivery as ProblemDelivery  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import daemon_liveness as daemon_liveness  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import due_within as due_within  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import last_ack as last_ack  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import problems_since as problems_since  # noqa: PLC0414 (re-exported; defined there)


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


# --- daemon liveness ----------------------------------------------------------------------------


def mark_stopped(store: Store, worker_id: str, now: datetime) -> None:
    """A daemon stopped cleanly: say so, so that ``status`` does not wait for staleness."""
    with store.session(write=True) as session:
        record = session.get(WorkerRecord, worker_id)
        if record is not None:
            record.stopped_at = now
            record.heartbeat_at = max(record.heartbeat_at, now)


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
