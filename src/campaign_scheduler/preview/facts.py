"""How each network's feed displays a post: the facts a preview needs, in one table.

These are display conventions of the networks' official apps, not API facts, and the networks
change them without notice. The values are the commonly documented ones (platform help pages
and image-size guides, 2024-2026) and are approximate: Facebook and LinkedIn fold by lines as
well as by characters, and most apps show a single image at its own ratio within limits. A
preview that cuts at these points shows the author what a reader sees first, which is what
matters for the first sentence of a post.

The table is keyed by channel name so that it can move onto the channel classes with the rest
of each network's facts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DisplayFacts:
    #: Grapheme clusters the feed shows before it folds the text behind "… more"; None: the
    #: feed shows the whole text.
    fold_after: int | None = None
    #: The frame (width, height) the feed crops a single image to; None: shown uncropped.
    image_ratio: tuple[int, int] | None = None
    #: Whether the network shows a preview card for the first link of a post without images.
    link_card: bool = False
    #: The frame of a link card's image.
    card_ratio: tuple[int, int] = (191, 100)


#: Fallback for a channel the table does not know (a webhook shows what its receiver shows).
PLAIN = DisplayFacts()

DISPLAY: dict[str, DisplayFacts] = {
    # Mastodon's web interface crops a single attachment in the timeline to 16:9 and builds a
    # preview card for the first link itself (the server fetches the OpenGraph tags).
    "mastodon": DisplayFacts(image_ratio=(16, 9), link_card=True),
    # Bluesky shows images at the aspectRatio the post gives; cards come from the client
    # (app.bsky.embed.external), 1.91:1.
    "bluesky": DisplayFacts(link_card=True),
    # X crops single timeline images to 16:9; a post of at most 280 is shown whole.
    "x": DisplayFacts(image_ratio=(16, 9), link_card=True),
    # Facebook folds after about 480 characters ("Mehr ansehen") and shows feed photos square
    # at most; the `link` field gives a 1.91:1 card.
    "facebook": DisplayFacts(fold_after=480, image_ratio=(1, 1), link_card=True),
    # Instagram folds captions after about 125 characters ("… mehr"); the feed frame for a
    # portrait image is 4:5. Captions have no link previews.
    "instagram": DisplayFacts(fold_after=125, image_ratio=(4, 5)),
    # LinkedIn folds after about 210 characters ("…mehr"); shared images 1.91:1; article
    # shares show a card.
    "linkedin": DisplayFacts(fold_after=210, image_ratio=(191, 100), link_card=True),
    # Telegram shows the whole message, images uncropped, and a link preview.
    "telegram": DisplayFacts(link_card=True),
    # Threads shows up to 500 characters whole and builds a link preview.
    "threads": DisplayFacts(link_card=True),
    "matrix": PLAIN,
    "webhook": PLAIN,
}


def display_facts(channel: str) -> DisplayFacts:
    return DISPLAY.get(channel, PLAIN)
