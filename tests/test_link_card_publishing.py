"""Link cards as the networks get them: Bluesky's ``app.bsky.embed.external`` with the
thumbnail uploaded as a blob, checked by the Bluesky sandbox."""

from __future__ import annotations

import pytest

from campaign_scheduler.channels.base import LinkPreview
from campaign_scheduler.channels.bluesky import BlueskyChannel
from campaign_scheduler.sandbox.bluesky import BlueskySandbox
from preview_data import png
from test_bluesky_channel import _fresh_sessions, calls, channel, image, post, sandbox, session

__all__ = ["_fresh_sessions", "channel", "image", "sandbox", "session"]  # shared fixtures

URL = "https://smartcities-suedwestfalen.com/konferenz/"
THUMB = png("#336699", (382, 200))


def card(**changes: object) -> LinkPreview:
    values: dict[str, object] = {
        "url": URL,
        "title": "Smart Cities: Konferenz",
        "description": "Fünf Städte, ein Tag.",
        "thumb": THUMB,
        "thumb_type": "image/png",
    }
    values.update(changes)
    return LinkPreview(**values)  # type: ignore[arg-type]


def test_bluesky_posts_the_card_as_an_external_embed_with_its_thumbnail(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    channel.publish(post(f"Programm: {URL} #5malklug", link_card=card()))

    [record] = sandbox.records()
    embed = record.value["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    external = embed["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        URL,
        "Smart Cities: Konferenz",
        "Fünf Städte, ein Tag.",
    )
    assert external["thumb"]["mimeType"] == "image/png"
    assert external["thumb"]["size"] == len(THUMB)
    assert calls(sandbox)[-2:] == ["com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord"]


def test_a_card_without_image_has_no_thumb(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    channel.publish(post(f"Programm: {URL}", link_card=card(thumb=None, thumb_type=None)))

    external = sandbox.records()[0].value["embed"]["external"]
    assert "thumb" not in external
    assert "com.atproto.repo.uploadBlob" not in calls(sandbox)


def test_images_win_over_the_card(
    channel: BlueskyChannel, sandbox: BlueskySandbox, image: object
) -> None:
    channel.publish(post(f"Programm: {URL}", media=(image,), link_card=card()))

    assert sandbox.records()[0].value["embed"]["$type"] == "app.bsky.embed.images"


@pytest.mark.parametrize(
    ("external", "message"),
    [
        (
            {"title": "t", "description": "d"},
            'Missing required key "uri" at $.record.embed.external',
        ),
        ({"uri": "kein uri", "title": "t", "description": "d"}, "Invalid uri"),
        ({"uri": URL, "description": "d"}, 'Missing required key "title"'),
    ],
)
def test_the_sandbox_refuses_a_malformed_card(
    sandbox: BlueskySandbox, channel: BlueskyChannel, external: dict[str, str], message: str
) -> None:
    from campaign_scheduler.errors import RejectedError

    def malformed(self: BlueskyChannel, _: LinkPreview) -> dict[str, object]:
        return {"$type": "app.bsky.embed.external", "external": external}

    with pytest.MonkeyPatch.context() as patch:  # the adapter never builds one
        patch.setattr(BlueskyChannel, "_external", malformed)
        with pytest.raises(RejectedError) as refused:
            channel.publish(post(f"Programm: {URL}", link_card=card()))
    assert message in str(refused.value)
    assert not sandbox.records()
