"""From drafts to intended deliveries: one per (draft, account), with the text it will send.

A delivery's content hash covers everything that would change what the network receives or
when: the rendered text, language, media (file contents and alt text) and the times. ``load``
compares these hashes to decide what changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from campaign_scheduler.config import Account, Settings
from campaign_scheduler.drafts import Draft


@dataclass(frozen=True)
class IntendedDelivery:
    """What should go out on one account for one draft."""

    draft: Draft
    account: Account
    text: str
    content_hash: str
    #: The rendered first comment, on channels that take one (else None).
    first_comment: str | None = None

    @property
    def channel(self) -> str:
        return self.account.channel

    @property
    def due_at(self) -> datetime | None:
        return self.draft.due_at


class PlannedPost(NamedTuple):
    """What ``load`` compares of a draft with its post, and what the checks across drafts
    need of it: no text, no front matter. The draft cache keeps one per draft, so that a load
    of drafts that have not changed is decided without building a :class:`Draft`. (A named
    tuple: made 10,000 times per command, in a fifth of a frozen dataclass's time.)"""

    key: str
    #: The draft's file, as text (a :class:`~pathlib.Path` is made only for a problem).
    file: str
    due_at: datetime | None
    #: The line of ``at`` in the draft (where a problem about its time points).
    at_line: int
    content_hash: str
    #: (account name, content hash of its delivery), by account name.
    deliveries: tuple[tuple[str, str], ...]
    #: Where the draft shows a link card: (channel, address, line of the channel's text).
    links: tuple[tuple[str, str, int], ...] = ()


def planned_post(draft: Draft, settings: Settings) -> PlannedPost:
    from campaign_scheduler.linkcards import card_uses

    hashes = draft.channel_hashes
    return PlannedPost(
        draft.key,
        str(draft.path),
        draft.due_at,
        draft.doc.line_of("at"),
        draft.content_hash,
        tuple([(a.name, hashes[a.channel]) for a in accounts_for(draft, settings)]),
        card_uses(draft),
    )


def accounts_for(draft: Draft, settings: Settings) -> list[Account]:
    """The draft's target accounts: those named in ``accounts``, else the sender's account(s)
    on each listed channel. Unresolvable names are skipped (``campaign check`` reports them)."""
    chosen: dict[str, Account] = {}
    named = [settings.accounts[n] for n in draft.accounts if n in settings.accounts]
    for channel in draft.channels:
        explicit = [a for a in named if a.channel == channel and a.sender == draft.sender]
        for account in explicit or settings.accounts_of(draft.sender, channel):
            chosen[account.name] = account
    return sorted(chosen.values(), key=lambda a: a.name)


def _digest(payload: object) -> str:
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def delivery_hash(
    draft: Draft, text: str, media: list[list[str | None]], comment: str | None = None
) -> str:
    return _digest(
        {
            "text": text,
            "language": draft.language,
            "due_at": draft.due_at.isoformat() if draft.due_at else None,
            "not_after": draft.not_after.isoformat() if draft.not_after else None,
            "media": media,
            # Only when set, so that hashes of existing deliveries stay as they were.
            **({"split": True} if draft.split else {}),
            **({"first_comment": comment} if comment else {}),
        }
    )


def post_hash(draft: Draft, media: list[list[str | None]]) -> str:
    return _digest(
        {
            "body": draft.body,
            "variants": draft.variants,
            "channels": list(draft.channels),
            "accounts": list(draft.accounts),
            "language": draft.language,
            "at": draft.at_text,
            "due_at": draft.due_at.isoformat() if draft.due_at else None,
            "not_after": draft.not_after.isoformat() if draft.not_after else None,
            "media": media,
            "split": draft.split,
            **({"first_comment": draft.first_comment} if draft.first_comment else {}),
        }
    )


def intended_deliveries(
    drafts: Iterable[Draft], settings: Settings, planned: Iterable[PlannedPost] = ()
) -> list[IntendedDelivery]:
    """One delivery per draft and target account; the target accounts of a draft are taken
    from its ``planned`` post where there is one (they were worked out for it already)."""
    targets = {p.key: p.deliveries for p in planned}
    result: list[IntendedDelivery] = []
    for draft in drafts:
        hashes = draft.channel_hashes
        known = targets.get(draft.key)
        accounts = None if known is None else _named_accounts(known, settings)
        if accounts is None:
            accounts = accounts_for(draft, settings)
        for account in accounts:
            channel = account.channel
            result.append(
                IntendedDelivery(
                    draft,
                    account,
                    draft.text_for(channel),
                    hashes[channel],
                    draft.comment_for(channel),
                )
            )
    return result


def _named_accounts(
    deliveries: tuple[tuple[str, str], ...], settings: Settings
) -> list[Account] | None:
    """The accounts of planned ``deliveries`` by name; None when one is not configured."""
    found: list[Account] = []
    for name, _ in deliveries:
        account = settings.accounts.get(name)
        if account is None:
            return None
        found.append(account)
    return found
