"""``campaign load``: bring the database in line with the drafts, in one transaction.

New drafts become posts with one delivery per (post, account); changed drafts update their
deliveries that have not gone out (compared by content hash); removed drafts cancel theirs.
A change that would alter a delivery which is published, in flight or of unknown outcome is
refused, and then nothing at all is written. Every change leaves an audit event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from campaign_scheduler.campaign import Campaign
from campaign_scheduler.config import Account, Settings
from campaign_scheduler.drafts import Draft
from campaign_scheduler.errors import ConflictError
from campaign_scheduler.planning import IntendedDelivery, media_fingerprint, post_hash
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import (
    OUT_OR_MAYBE_OUT,
    AccountRecord,
    AuditEventRecord,
    CampaignRecord,
    DeliveryRecord,
    DeliveryState,
    PostRecord,
    SenderRecord,
    utcnow,
)

REASON_DRAFT_REMOVED = "draft removed"
#: How many refused deliveries a refused load names (the rest are counted).
CONFLICTS_SHOWN = 20
REASON_CHANNEL_REMOVED = "account no longer targeted by the draft"
#: States a changed or returning draft may put back to pending.
RESTARTABLE = frozenset(
    {DeliveryState.PENDING, DeliveryState.RETRY_WAIT, DeliveryState.FAILED, DeliveryState.EXPIRED}
)


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


class _Rollback(Exception):
    """Raised inside the transaction to undo a dry run."""


def load_campaign_into(
    store: Store,
    campaign: Campaign,
    drafts: Iterable[Draft],
    deliveries: Iterable[IntendedDelivery],
    settings: Settings,
    *,
    actor: str,
    dry_run: bool = False,
) -> LoadReport:
    report = LoadReport(dry_run=dry_run)
    try:
        with store.session(write=True) as session:
            _Sync(session, campaign, settings, actor, report).run(list(drafts), list(deliveries))
            if dry_run:
                raise _Rollback
    except _Rollback:
        pass
    return report


class _Sync:
    def __init__(
        self,
        session: Session,
        campaign: Campaign,
        settings: Settings,
        actor: str,
        report: LoadReport,
    ) -> None:
        self.session = session
        self.campaign = campaign
        self.settings = settings
        self.actor = actor
        self.report = report
        self.now = utcnow()
        self.conflicts: list[str] = []
        self.record = self._campaign_record()
        self.senders = self._sender_records()
        self.accounts: dict[str, AccountRecord] = {}

    # -- reference data -------------------------------------------------------------------

    def _campaign_record(self) -> CampaignRecord:
        c = self.campaign
        record = self.session.scalar(select(CampaignRecord).where(CampaignRecord.slug == c.slug))
        values = {
            "name": c.name,
            "hashtag": c.hashtag,
            "timezone": c.timezone,
            "language": c.language,
            "event_name": c.event.name,
            "event_start": c.event.start,
            "event_end": c.event.end,
            "event_url": c.event.url,
            "grace_seconds": int(c.rules.grace.total_seconds()),
            "min_gap_seconds": int(c.rules.min_gap.total_seconds()),
            "require_approval": c.rules.require_approval,
        }
        if record is None:
            record = CampaignRecord(slug=c.slug, **values)
            self.session.add(record)
            self.session.flush()
            self._audit("campaign.created", campaign_id=record.id, detail={"slug": c.slug})
            return record
        changed = {k: v for k, v in values.items() if getattr(record, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(record, key, value)
            self._audit(
                "campaign.updated",
                campaign_id=record.id,
                detail={"fields": sorted(changed)},
            )
        return record

    def _sender_records(self) -> dict[str, SenderRecord]:
        existing = {
            s.slug: s
            for s in self.session.scalars(
                select(SenderRecord).where(SenderRecord.campaign_id == self.record.id)
            )
        }
        for sender in self.campaign.senders:
            record = existing.get(sender.slug)
            if record is None:
                record = SenderRecord(
                    campaign_id=self.record.id, slug=sender.slug, name=sender.name
                )
                self.session.add(record)
                existing[sender.slug] = record
            elif record.name != sender.name:
                record.name = sender.name
        self.session.flush()
        return existing

    def _account_record(self, account: Account) -> AccountRecord:
        if account.name in self.accounts:
            return self.accounts[account.name]
        record = self.session.scalar(
            select(AccountRecord).where(AccountRecord.name == account.name)
        )
        sender = self.senders[account.sender]
        if record is None:
            record = AccountRecord(
                name=account.name,
                channel=account.channel,
                sender_id=sender.id,
                base_url=account.base_url,
                needs_attention=False,
            )
            self.session.add(record)
            self.session.flush()
        else:
            record.channel = account.channel
            record.sender_id = sender.id
            record.base_url = account.base_url
        self.accounts[account.name] = record
        return record

    # -- posts and deliveries ----------------------------------------------------------------

    def run(self, drafts: list[Draft], deliveries: list[IntendedDelivery]) -> None:
        by_draft: dict[str, list[IntendedDelivery]] = {}
        for delivery in deliveries:
            by_draft.setdefault(delivery.draft.key, []).append(delivery)
        existing = {
            p.key: p
            for p in self.session.scalars(
                select(PostRecord)
                .where(PostRecord.campaign_id == self.record.id, PostRecord.source == "draft")
                .options(selectinload(PostRecord.deliveries).selectinload(DeliveryRecord.account))
            )
        }
        for draft in sorted(drafts, key=lambda d: d.key):
            if draft.due_at is None:
                continue
            intended = by_draft.get(draft.key, [])
            post = existing.pop(draft.key, None)
            if post is None:
                self._create_post(draft, intended)
            else:
                self._update_post(post, draft, intended)
        for post in sorted(existing.values(), key=lambda p: p.key):
            if post.removed_at is None:
                self._remove_post(post)
        if self.conflicts:
            shown = self.conflicts[:CONFLICTS_SHOWN]
            more = len(self.conflicts) - len(shown)
            raise ConflictError(
                "load refused: it would change deliveries that are already out:\n  "
                + "\n  ".join(shown)
                + (f"\n  … and {more} more" if more else ""),
                hint="restore those drafts as they were published, or give the changed post "
                "a new file name so it becomes a new post",
            )

    def _post_values(self, draft: Draft) -> dict[str, object]:
        media = media_fingerprint(draft.media)
        assert draft.due_at is not None
        return {
            "source_path": draft.path.as_posix(),
            "sender_id": self.senders[draft.sender].id,
            "body": draft.body,
            "variants": dict(draft.variants),
            "media": [
                {"path": m.relative, "alt": m.alt, "sha256": digest}
                for m, (_, _, digest) in zip(draft.media, media, strict=True)
            ],
            "language": draft.language,
            "split": draft.split,
            "at_text": draft.at_text,
            "not_after_text": draft.not_after_text,
            "due_at": draft.due_at,
            "not_after": draft.not_after,
            "content_hash": post_hash(draft, media),
        }

    def _new_delivery(self, post: PostRecord, intended: IntendedDelivery) -> DeliveryRecord:
        assert intended.due_at is not None
        delivery = DeliveryRecord(
            post_id=post.id,
            account_id=self._account_record(intended.account).id,
            state=DeliveryState.PENDING.value,
            text=intended.text,
            first_comment=intended.first_comment,
            content_hash=intended.content_hash,
            due_at=intended.due_at,
            not_after=intended.draft.not_after,
            attempts=0,
            idempotency_key=uuid.uuid4().hex,
            version=1,
        )
        self.session.add(delivery)
        return delivery

    def _create_post(self, draft: Draft, intended: list[IntendedDelivery]) -> None:
        post = PostRecord(
            campaign_id=self.record.id,
            key=draft.key,
            source="draft",
            author=self.actor,
            version=1,
            **self._post_values(draft),
        )
        self.session.add(post)
        self.session.flush()
        for item in intended:
            self._new_delivery(post, item)
        names = [i.account.name for i in intended]
        self._audit("post.created", post_key=draft.key, detail={"accounts": names})
        count = len(names)
        self.report.changes.append(
            PostChange(
                ChangeKind.NEW,
                draft.key,
                [f"{count} deliver{'y' if count == 1 else 'ies'}: {', '.join(names)}"],
            )
        )

    def _update_post(
        self, post: PostRecord, draft: Draft, intended: list[IntendedDelivery]
    ) -> None:
        details: list[str] = []
        returning = post.removed_at is not None
        current = {d.account.name: d for d in post.deliveries}
        for item in intended:
            delivery = current.pop(item.account.name, None)
            if delivery is None:
                self._new_delivery(post, item)
                details.append(f"+ {item.account.name}")
                continue
            state = DeliveryState(delivery.state)
            if delivery.content_hash != item.content_hash:
                if state in OUT_OR_MAYBE_OUT or delivery.may_be_out:
                    why = (
                        state.value
                        if state in OUT_OR_MAYBE_OUT
                        else (
                            f"{state.value} with {len(delivery.parts)} thread part(s) out"
                            if delivery.parts
                            else f"{state.value} and may already be out (a call had no answer)"
                        )
                    )
                    self.conflicts.append(
                        f"{draft.key} on {item.account.name} is {why}"
                        + (f" ({delivery.remote_url})" if delivery.remote_url else "")
                    )
                    continue
                self._rewrite_delivery(delivery, item)
                details.append(f"~ {item.account.name}")
            elif state is DeliveryState.CANCELLED and delivery.state_reason in (
                REASON_DRAFT_REMOVED,
                REASON_CHANNEL_REMOVED,
            ):
                self._set_state(delivery, DeliveryState.PENDING, None)
                details.append(f"+ {item.account.name} (restored)")
        for name, delivery in sorted(current.items()):
            if DeliveryState(delivery.state) in RESTARTABLE and not delivery.may_be_out:
                self._set_state(delivery, DeliveryState.CANCELLED, REASON_CHANNEL_REMOVED)
                details.append(f"− {name}")

        new_values = self._post_values(draft)
        content_changed = post.content_hash != new_values["content_hash"]
        if not content_changed and not details and not returning:
            self.report.changes.append(PostChange(ChangeKind.UNCHANGED, draft.key))
            return
        if content_changed:
            for key, value in new_values.items():
                setattr(post, key, value)
            post.version += 1
            if post.approver is not None:
                # Approval is of one version: a changed text needs a fresh pair of eyes.
                post.approver = None
                post.approved_at = None
                details.append("approval withdrawn (text changed)")
        if returning:
            post.removed_at = None
            details.insert(0, "draft is back")
        if not details:
            details.append("metadata only")
        self._audit(
            "post.changed", post_key=draft.key, detail={"version": post.version, "changes": details}
        )
        self.report.changes.append(PostChange(ChangeKind.CHANGED, draft.key, details))

    def _rewrite_delivery(self, delivery: DeliveryRecord, item: IntendedDelivery) -> None:
        assert item.due_at is not None
        delivery.text = item.text
        delivery.first_comment = item.first_comment
        delivery.content_hash = item.content_hash
        delivery.due_at = item.due_at
        delivery.not_after = item.draft.not_after
        delivery.version += 1
        delivery.attempts = 0  # a new text starts afresh: new plan, new count
        delivery.plan = None
        state = DeliveryState(delivery.state)
        if state in RESTARTABLE and state is not DeliveryState.PENDING:
            self._set_state(delivery, DeliveryState.PENDING, None)
        delivery.next_attempt_at = None

    def _set_state(
        self, delivery: DeliveryRecord, state: DeliveryState, reason: str | None
    ) -> None:
        old = delivery.state
        delivery.state = state.value
        delivery.state_reason = reason
        delivery.version += 1
        self._audit(
            "delivery.state",
            post_key=delivery.post.key if delivery.post else None,
            delivery_id=delivery.id,
            detail={"from": old, "to": state.value, "reason": reason},
        )

    def _remove_post(self, post: PostRecord) -> None:
        cancelled = []
        kept = []
        for delivery in post.deliveries:
            state = DeliveryState(delivery.state)
            if state in RESTARTABLE and not delivery.may_be_out:
                self._set_state(delivery, DeliveryState.CANCELLED, REASON_DRAFT_REMOVED)
                cancelled.append(delivery.account.name)
            elif state is not DeliveryState.CANCELLED:
                kept.append(f"{delivery.account.name} stays {state.value}")
        post.removed_at = self.now
        self._audit("post.removed", post_key=post.key, detail={"cancelled": cancelled})
        details = [f"{len(cancelled)} cancelled", *kept]
        self.report.changes.append(PostChange(ChangeKind.REMOVED, post.key, details))

    def _audit(
        self,
        action: str,
        *,
        campaign_id: int | None = None,
        post_key: str | None = None,
        delivery_id: int | None = None,
        detail: dict[str, object] | None = None,
    ) -> None:
        record = getattr(self, "record", None)
        self.session.add(
            AuditEventRecord(
                at=self.now,
                actor=self.actor,
                action=action,
                campaign_id=campaign_id or (record.id if record is not None else None),
                post_key=post_key,
                delivery_id=delivery_id,
                detail=detail or {},
            )
        )
