"""Read-only queries behind the listings (plan, history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    SenderRecord,
)
from campaign_scheduler.store.status_reads import StatusSummary as StatusSummary  # noqa: PLC0414 (re-exported; defined there)
from campaign_scheduler.store.status_reads import status_summary as status_summary  # noqa: PLC0414 (re-exported; defined there)


@dataclass(frozen=True)
class PlanRow:
    post: str
    sender: str
    sender_name: str
    account: str
    channel: str
    state: str
    state_reason: str | None
    due_at: datetime
    not_after: datetime | None
    text: str
    version: int
    needs_approval: bool
    remote_url: str | None


def find_campaign(store: Store, slug: str) -> CampaignRecord | None:
    with store.session() as session:
        return session.scalar(select(CampaignRecord).where(CampaignRecord.slug == slug))


def _listing(campaign_slug: str, *more: Any) -> Select[Any]:
    """A campaign's deliveries as listings show them: post key, sender, account, channel,
    state, ``due_at`` and ``not_after``, then the ``more`` columns."""
    return (
        select(
            PostRecord.key,
            SenderRecord.slug,
            AccountRecord.name,
            AccountRecord.channel,
            DeliveryRecord.state,
            DeliveryRecord.due_at,
            DeliveryRecord.not_after,
            *more,
        )
        .join(PostRecord, DeliveryRecord.post_id == PostRecord.id)
        .join(CampaignRecord, PostRecord.campaign_id == CampaignRecord.id)
        .join(SenderRecord, PostRecord.sender_id == SenderRecord.id)
        .join(AccountRecord, DeliveryRecord.account_id == AccountRecord.id)
        .where(CampaignRecord.slug == campaign_slug)
    )


def plan_rows(
    store: Store, campaign_slug: str, *, include_cancelled: bool = False
) -> list[PlanRow]:
    query = _listing(
        campaign_slug,
        SenderRecord.name,
        DeliveryRecord.state_reason,
        DeliveryRecord.text,
        PostRecord.version,
        PostRecord.approver,
        CampaignRecord.require_approval,
        DeliveryRecord.remote_url,
    ).order_by(DeliveryRecord.due_at, SenderRecord.slug, PostRecord.key, AccountRecord.name)
    if not include_cancelled:
        query = query.where(DeliveryRecord.state != DeliveryState.CANCELLED.value)
    with store.session() as session:
        return [
            PlanRow(
                post=key,
                sender=sender,
                sender_name=sender_name,
                account=account,
                channel=channel,
                state=state,
                state_reason=reason,
                due_at=due_at,
                not_after=not_after,
                text=text,
                version=version,
                needs_approval=bool(require_approval) and approver is None,
                remote_url=remote_url,
            )
            for (
                key,
                sender,
                account,
                channel,
                state,
                due_at,
                not_after,
                sender_name,
                reason,
                text,
                version,
                approver,
                require_approval,
                remote_url,
            ) in session.execute(query)
        ]


@dataclass(frozen=True)
class HistoryRow:
    post: str
    sender: str
    account: str
    channel: str
    state: str
    due_at: datetime
    not_after: datetime | None
    remote_id: str | None
    url: str | None
    published_at: datetime | None
    attempts: int
    error: str | None
    first_comment: str | None = None
    parts: list[Any] | None = None
    comment_error: str | None = None
    state_reason: str | None = None
    #: The key and values of the scheduler's own reason (reasons.py), to word it for readers.
    state_reason_data: dict[str, Any] | None = None
    #: ``comment_error`` as a key with its values (reasons.py); None for older records.
    comment_error_data: dict[str, Any] | None = None

    def comment_error_for_readers(self, lang: str) -> str | None:
        """Why the first comment is missing, worded for readers in ``lang`` (the network's
        refusal as it was sent); the record's English where no key was kept."""
        from campaign_scheduler.reasons import Reason

        reason = Reason.from_json(self.comment_error_data)
        return reason.for_readers(lang) if reason is not None else self.comment_error

    def error_for_readers(self, lang: str) -> str | None:
        """``error`` worded for readers in ``lang`` when it is the scheduler's own reason (the
        protocol's words, no configuration keys); a network's message as it was sent."""
        from campaign_scheduler.reasons import Reason

        reason = Reason.from_json(self.state_reason_data)
        if reason is not None and self.error == self.state_reason:
            return reason.for_readers(lang)
        return self.error

    @property
    def comment(self) -> dict[str, Any] | None:
        """The first comment and whether it is out: ``state`` is ``out`` (with its id and URL),
        ``failed`` (the post is out without it, with the ``error``), ``waiting``, or
        ``unknown`` for a published post whose comment the record does not know about (its
        receipt came from the local journal while the database was away)."""
        if self.first_comment is None:
            return None
        out = next(
            (p for p in self.parts or [] if isinstance(p, dict) and p.get("kind") == "comment"),
            None,
        )
        if out is not None:
            state = "out"
        elif self.comment_error is not None:
            state = "failed"
        elif self.state == DeliveryState.PUBLISHED.value:
            state = "unknown"
        else:
            state = "waiting"
        return {
            "text": self.first_comment,
            "state": state,
            "id": out.get("id") if out else None,
            "url": out.get("url") if out else None,
            "error": self.comment_error,
            # Why it is missing as a key with its values (the network's refusal as ``error``,
            # as sent); null while it is not missing, or for records older than the key.
            "reason": self.comment_error_data if state == "failed" else None,
        }


def history_rows(
    store: Store, campaign_slug: str, *, post: str | None = None, limit: int | None = None
) -> list[HistoryRow]:
    """Deliveries that have left the queue or been tried, most recent first."""
    query = (
        _listing(
            campaign_slug,
            DeliveryRecord.remote_id,
            DeliveryRecord.remote_url,
            DeliveryRecord.published_at,
            DeliveryRecord.attempts,
            DeliveryRecord.last_error,
            DeliveryRecord.first_comment,
            DeliveryRecord.parts,
            DeliveryRecord.comment_error,
            DeliveryRecord.state_reason,
            DeliveryRecord.state_reason_data,
            DeliveryRecord.comment_error_data,
        )
        .where(
            (DeliveryRecord.attempts > 0)
            | DeliveryRecord.state.in_(
                (
                    DeliveryState.PUBLISHED.value,
                    DeliveryState.FAILED.value,
                    DeliveryState.EXPIRED.value,
                    DeliveryState.UNKNOWN.value,
                    DeliveryState.CANCELLED.value,
                )
            ),
        )
        .order_by(DeliveryRecord.due_at.desc(), PostRecord.key, AccountRecord.name)
    )
    if post is not None:
        query = query.where(PostRecord.key == post)
    if limit is not None:
        query = query.limit(limit)
    with store.session() as session:
        return [HistoryRow(*tuple(row)) for row in session.execute(query)]
