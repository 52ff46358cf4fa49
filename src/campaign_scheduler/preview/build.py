"""What a post looks like on each of its accounts: counted, cut, split and framed per network.

Pure: reads the draft's media files but nothing else; no database, no network. The texts are
the rendered ones (placeholders filled in when the draft was read).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import regex

from campaign_scheduler.channels.catalog import spec_of, title_of
from campaign_scheduler.channels.split import split_into_thread
from campaign_scheduler.channels.text import rule_of
from campaign_scheduler.config import Account
from campaign_scheduler.drafts import Draft, Media
from campaign_scheduler.errors import RejectedError
from campaign_scheduler.imagetypes import sniff_image
from campaign_scheduler.linkcards import LinkCard, first_link
from campaign_scheduler.preview.facts import display_facts

_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class TextPart:
    """One post of a thread (or the only one), as the feed shows it before any fold."""

    visible: str
    folded: bool  # the feed cuts the text here and shows "… more"
    shown: int  # grapheme clusters visible
    total: int  # grapheme clusters in the whole part
    number: int  # 1-based
    of: int


@dataclass(frozen=True)
class ImageView:
    name: str
    alt: str | None
    data_uri: str | None  # None: missing or not a format the page can show
    missing: bool


@dataclass(frozen=True)
class CardView:
    """The link card a network shows under a post without images."""

    url: str
    host: str
    title: str
    description: str
    image_data_uri: str | None
    ratio: tuple[int, int]


@dataclass(frozen=True)
class NetworkView:
    account: str
    channel: str
    title: str
    text: str  # the whole text this account gets
    count: int
    limit: int | None
    unit: str
    too_long: tuple[str, ...]  # length issues (when the text is not split into a thread)
    split_error: str | None
    parts: tuple[TextPart, ...]
    images: tuple[ImageView, ...]
    image_ratio: tuple[int, int] | None
    links_clickable: bool
    card: CardView | None = None
    card_link: str | None = None  # the link a card is shown (or missing) for
    card_error: str | None = None  # why there is no card for card_link


@dataclass(frozen=True)
class Preview:
    key: str
    sender: str
    due: str | None  # local time as text; None when the draft has no valid time
    language: str
    networks: tuple[NetworkView, ...]


def image_view(media: Media) -> ImageView:
    try:
        data = media.path.read_bytes()
    except OSError:
        return ImageView(media.relative, media.alt, None, missing=True)
    mime = sniff_image(data)
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}" if mime else None
    return ImageView(media.relative, media.alt, uri, missing=False)


def fold(text: str, after: int | None) -> tuple[str, bool, int, int]:
    """(visible text, folded?, graphemes shown, graphemes in all) for a feed that shows
    ``after`` grapheme clusters before "… more"; the cut falls between words."""
    clusters = _GRAPHEME.findall(text)
    total = len(clusters)
    if after is None or total <= after:
        return text, False, total, total
    head = clusters[:after]
    cut = after
    for index in range(after - 1, 0, -1):
        if head[index].isspace():
            cut = index
            break
    visible = "".join(clusters[:cut]).rstrip()
    return visible, True, len(_GRAPHEME.findall(visible)), total


def network_view(
    draft: Draft,
    account: Account,
    images: tuple[ImageView, ...],
    cards: Mapping[str, LinkCard],
) -> NetworkView:
    channel = account.channel
    spec = spec_of(channel)
    rule = rule_of(channel)
    facts = display_facts(channel)
    text = draft.text_for(channel)
    with_media = bool(draft.media)
    limit = account.max_characters

    def fits(candidate: str) -> bool:
        return not rule.issues(channel, candidate, with_media=with_media, limit=limit)

    issues = tuple(
        i.message() for i in rule.issues(channel, text, with_media=with_media, limit=limit)
    )
    texts = [text]
    split_error = None
    if issues and draft.split and spec is not None and spec.supports_threads:
        try:
            texts = split_into_thread(text, fits)
            issues = ()
        except RejectedError as exc:
            split_error = exc.message
    parts = []
    for number, part in enumerate(texts, start=1):
        visible, folded, shown, total = fold(part, facts.fold_after)
        parts.append(TextPart(visible, folded, shown, total, number, len(texts)))
    shown_limit = limit
    if shown_limit is None:
        shown_limit = rule.caption_limit if with_media and rule.caption_limit else rule.limit
    card = card_link = card_error = None
    if facts.link_card and not draft.media and len(texts) == 1:  # threads go without a card
        card_link = first_link(text)
        stored = cards.get(card_link) if card_link else None
        if stored is not None and stored.ok and card_link is not None:
            card = CardView(
                url=card_link,
                host=urlsplit(card_link).hostname or "",
                title=stored.title,
                description=stored.description,
                image_data_uri=stored.image_data_uri(),
                ratio=facts.card_ratio,
            )
        elif stored is not None:
            card_error = stored.error
    return NetworkView(
        account=account.name,
        channel=channel,
        title=title_of(channel),
        text=text,
        count=rule.count(text),
        limit=shown_limit,
        unit=rule.unit,
        too_long=issues,
        split_error=split_error,
        parts=tuple(parts),
        images=images,
        image_ratio=facts.image_ratio,
        links_clickable=spec.links_clickable if spec else True,
        card=card,
        card_link=card_link,
        card_error=card_error,
    )


def build_preview(
    draft: Draft,
    accounts: list[Account],
    *,
    sender_name: str,
    due: str | None,
    cards: Mapping[str, LinkCard] | None = None,
) -> Preview:
    images = tuple(image_view(m) for m in draft.media)
    return Preview(
        key=draft.key,
        sender=sender_name,
        due=due,
        language=draft.language,
        networks=tuple(network_view(draft, a, images, cards or {}) for a in accounts),
    )


def default_file_name(key: str) -> Path:
    """``preview-soest-03-klimaneutral.html`` for the key ``soest/03-klimaneutral``."""
    safe = regex.sub(r"[^\w.-]+", "-", key).strip("-.") or "post"
    return Path(f"preview-{safe}.html")
