"""Whether a load would change anything, decided from plain values: the campaign's record,
its senders and the stored posts' hashes, as either reader got them (``sync_reads``: Core
statements; ``sqlite_reads``: SQLite's own driver, without SQLAlchemy). No SQLAlchemy here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from campaign_scheduler.reasons import Reason
from campaign_scheduler.store.states import DeliveryState

if TYPE_CHECKING:
    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.planning import IntendedDelivery, PlannedPost

REASON_DRAFT_REMOVED = Reason("draft_removed")
REASON_CHANNEL_REMOVED = Reason("channel_removed")
#: Why a delivery was cancelled when its draft, or the draft's channel, comes back restores it.
RESTORABLE_REASONS = (REASON_DRAFT_REMOVED.record(), REASON_CHANNEL_REMOVED.record())


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


@dataclass
class StoredPost:
    """A post as the database holds it, for the bulk comparison with its draft."""

    id: int
    key: str
    content_hash: str
    removed: bool
    #: account name -> content hash of its delivery (None: cancelled, to be restored)
    deliveries: dict[str, str | None] = field(default_factory=dict)

    def add_delivery(self, account: str, content_hash: str, state: str, reason: str | None) -> None:
        # A delivery cancelled because its draft or channel went away comes back with the
        # draft: its post is not unchanged (the ORM path restores it).
        restorable = state == DeliveryState.CANCELLED.value and reason in RESTORABLE_REASONS
        self.deliveries[account] = None if restorable else content_hash

    def matches(self, content_hash: str, intended: list[IntendedDelivery]) -> bool:
        """Whether loading the draft would change nothing (``sync._Sync._update_post`` would
        report it unchanged): same post hash, the same accounts, each with the same hash."""
        return (
            not self.removed
            and self.content_hash == content_hash
            and len(intended) == len(self.deliveries)
            and all(self.deliveries.get(i.account.name) == i.content_hash for i in intended)
        )

    def matches_planned(self, planned: PlannedPost) -> bool:
        """:meth:`matches`, from what the draft cache keeps of a draft."""
        return (
            not self.removed
            and self.content_hash == planned.content_hash
            and len(planned.deliveries) == len(self.deliveries)
            and all(self.deliveries.get(account) == hash_ for account, hash_ in planned.deliveries)
        )


#: The campaign's columns that the record keeps from the campaign file (all but its slug).
CAMPAIGN_COLUMNS = (
    "name",
    "hashtag",
    "timezone",
    "language",
    "event_name",
    "event_start",
    "event_end",
    "event_url",
    "grace_seconds",
    "min_gap_seconds",
    "require_approval",
)


def campaign_values(campaign: Campaign) -> dict[str, Any]:
    """The campaign's columns (:data:`CAMPAIGN_COLUMNS`) as the record keeps them."""
    values = (
        campaign.name,
        campaign.hashtag,
        campaign.timezone,
        campaign.language,
        campaign.event.name,
        campaign.event.start,
        campaign.event.end,
        campaign.event.url,
        int(campaign.rules.grace.total_seconds()),
        int(campaign.rules.min_gap.total_seconds()),
        campaign.rules.require_approval,
    )
    return dict(zip(CAMPAIGN_COLUMNS, values, strict=True))


def record_is_current(campaign: Campaign, stored: Mapping[Any, Any]) -> bool:
    """Whether the campaign's record (``stored``: its columns by name) has the campaign's
    values."""
    return all(stored[k] == v for k, v in campaign_values(campaign).items())


def senders_are_current(campaign: Campaign, senders: Mapping[str, str]) -> bool:
    """Whether every sender of the campaign is stored (``senders``: slug -> name) by its name."""
    return all(senders.get(s.slug) == s.name for s in campaign.senders)


def report_if_unchanged(
    planned: Iterable[PlannedPost], stored: dict[str, StoredPost], *, dry_run: bool = False
) -> LoadReport | None:
    """Every post unchanged when every draft's post has the draft's hash and the same
    accounts with the same delivery hashes (none cancelled to be restored), and no post of a
    draft is left without its draft; else None. Takes the matched posts out of ``stored``."""
    keys: list[str] = []
    for draft in sorted(planned, key=lambda d: d.key):
        if draft.due_at is None:
            continue
        post = stored.pop(draft.key, None)
        if post is None or not post.matches_planned(draft):
            return None
        keys.append(draft.key)
    if any(not post.removed for post in stored.values()):
        return None
    return LoadReport([PostChange(ChangeKind.UNCHANGED, key) for key in keys], dry_run=dry_run)
