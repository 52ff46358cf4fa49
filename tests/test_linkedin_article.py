"""LinkedIn link cards: a post without images and with a card becomes an article share
(``content.article``: source, title, description, thumbnail through the Images API),
checked by the LinkedIn sandbox."""

from __future__ import annotations

import pytest

from campaign_scheduler.channels.base import LinkPreview
from campaign_scheduler.channels.linkedin import LinkedInChannel
from campaign_scheduler.errors import RejectedError
from campaign_scheduler.sandbox.linkedin import LinkedInSandbox
from preview_data import png
from test_linkedin_channel import account, channel, clock, image, post, sandbox, session

__all__ = ["account", "channel", "clock", "image", "sandbox", "session"]  # shared fixtures

URL = "https://smartcities-suedwestfalen.com/konferenz/"


def card(**changes: object) -> LinkPreview:
    values: dict[str, object] = {
        "url": URL,
        "title": "Smart Cities: Konferenz",
        "description": "Fünf Städte, ein Tag.",
        "thumb": png("#336699", (382, 200)),
        "thumb_type": "image/png",
    }
    values.update(changes)
    return LinkPreview(**values)  # type: ignore[arg-type]


def test_a_card_becomes_an_article_share_with_its_thumbnail(
    channel: LinkedInChannel, sandbox: LinkedInSandbox
) -> None:
    channel.publish(post(f"Programm: {URL} #5malklug", link_card=card()))

    [shared] = sandbox.statuses()
    assert shared.article is not None
    assert shared.article["source"] == URL
    assert shared.article["title"] == "Smart Cities: Konferenz"
    assert shared.article["description"] == "Fünf Städte, ein Tag."
    assert shared.article["thumbnail"].startswith("urn:li:image:")
    assert shared.images == ()


def test_a_card_without_image_or_description(
    channel: LinkedInChannel, sandbox: LinkedInSandbox
) -> None:
    channel.publish(post(f"Programm: {URL}", link_card=card(thumb=None, description="")))

    [shared] = sandbox.statuses()
    assert shared.article == {"source": URL, "title": "Smart Cities: Konferenz"}


def test_images_win_over_the_card(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, image: object
) -> None:
    channel.publish(post(f"Programm: {URL}", media=(image,), link_card=card()))

    [shared] = sandbox.statuses()
    assert shared.article is None and len(shared.images) == 1


def test_the_sandbox_refuses_an_article_without_title(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def untitled(self: LinkedInChannel, card: LinkPreview, organization: str) -> dict[str, str]:
        return {"source": card.url}  # the adapter never builds one

    monkeypatch.setattr(LinkedInChannel, "_article", untitled)
    with pytest.raises(RejectedError) as refused:
        channel.publish(post(f"Programm: {URL}", link_card=card()))
    assert "/content/article/title" in str(refused.value)
    assert sandbox.statuses() == []
