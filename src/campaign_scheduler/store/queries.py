"""Read-only queries behind the listings (plan, history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    SenderRecord,
)


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


def plan_rows(
    store: Store, campaign_slug: str, *, include_cancelled: bool = False
) -> list[PlanRow]:
    query = (
        select(
            PostRecord.key,
            SenderRecord.slug,
            SenderRecord.name,
            AccountRecord.name,
            AccountRecord.channel,
            DeliveryRecord.state,
            DeliveryRecord.state_reason,
            DeliveryRecord.due_at,
            DeliveryRecord.not_after,
            DeliveryRecord.text,
            PostRecord.version,
            PostRecord.approver,
            CampaignRecord.require_approval,
            DeliveryRecord.remote_url,
        )
        .join(PostRecord, DeliveryRecord.post_id == PostRecord.id)
        .join(CampaignRecord, PostRecord.campaign_id == CampaignRecord.id)
        .join(SenderRecord, PostRecord.sender_id == SenderRecord.id)
        .join(AccountRecord, DeliveryRecord.account_id == AccountRecord.id)
        .where(CampaignRecord.slug == campaign_slug)
        .order_by(DeliveryRecord.due_at, SenderRecord.slug, PostRecord.key, AccountRecord.name)
    )
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
                sender_name,
                account,
                channel,
                state,
                reason,
                due_at,
                not_after,
                text,
                version,
                approver,
                require_approval,
                remote_url,
            ) in session.execute(query)
        ]
