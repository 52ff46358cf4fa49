"""Media limits: one wording for every network ("too many images", a file that is not an
image, an image too large), the limit from the network's one place (its ``spec``), in the
user's language."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from campaign_scheduler.channels.base import AccountSettings, Channel, MediaFile, OutboundPost
from campaign_scheduler.channels.registry import channel_class, make_channel
from campaign_scheduler.uilang import tr

#: The networks whose spec limits the images of one post, and the limit channels.md gives.
LIMITS = {"bluesky": 4, "x": 4, "instagram": 10, "threads": 20, "linkedin": 20, "telegram": 1}
SETTINGS = {
    "bluesky": {"identifier": "soest.bsky.social"},
    "instagram": {"user_id": "1", "media_base_url": "https://media.soest.example/"},
    "threads": {"user_id": "1", "media_base_url": "https://media.soest.example/"},
    "linkedin": {"organization": "5515715"},
    "telegram": {"chat": "@stadtsoest"},
    "facebook": {"page_id": "1"},
    "x": {},
}


def adapter(network: str) -> Channel:
    account = AccountSettings(f"soest-{network}", "https://api.example", SETTINGS[network])
    return make_channel(network, account, requests.Session())


def images(tmp_path: Path, count: int, mime: str = "image/png") -> tuple[MediaFile, ...]:
    path = tmp_path / "bild.png"
    path.write_bytes(b"\x89PNG")
    return tuple(MediaFile(path, "Bild", mime) for _ in range(count))


def post(media: tuple[MediaFile, ...]) -> OutboundPost:
    return OutboundPost(
        text="Lastenräder #5malklug", language="de", idempotency_key="k", media=media
    )


@pytest.mark.parametrize(("network", "limit"), sorted(LIMITS.items()))
def test_too_many_images_is_one_message_with_the_networks_own_limit(
    network: str, limit: int, tmp_path: Path
) -> None:
    cls = channel_class(network)
    assert cls.spec.max_images == limit  # the one place
    channel = adapter(network)
    assert not any("image(s)" in p for p in channel.validate(post(images(tmp_path, limit))))
    problems = channel.validate(post(images(tmp_path, limit + 1)))
    [too_many] = [p for p in problems if "image(s)" in p]
    title = cls.title()
    assert too_many == (
        f"{title} takes at most {limit} image(s) in one post; this one has {limit + 1}"
    )
    assert tr(too_many, "de") == (
        f"{title} nimmt höchstens {limit} Bild(er) in einem Beitrag; dieser hat {limit + 1}"
    )


@pytest.mark.parametrize("network", ["bluesky", "x", "facebook", "linkedin", "telegram"])
def test_a_file_that_is_no_image_or_video_is_one_message_for_every_network(
    network: str, tmp_path: Path
) -> None:
    problems = adapter(network).validate(post(images(tmp_path, 1, "application/pdf")))
    title = channel_class(network).title()
    wording = f"{title} takes only images and videos, not application/pdf (bild.png)"
    assert wording in problems
    [said] = [p for p in problems if p == wording]
    assert tr(said, "de") == (
        f"{title} nimmt nur Bilder und Videos, nicht application/pdf (bild.png)"
    )


@pytest.mark.parametrize(("network", "limit"), [("bluesky", 2_000_000), ("x", 5 * 1024 * 1024)])
def test_an_image_too_large_names_the_networks_limit_in_the_users_language(
    network: str, limit: int, tmp_path: Path
) -> None:
    assert channel_class(network).spec.max_image_bytes == limit
    path = tmp_path / "gross.png"
    path.write_bytes(b"\0" * (limit + 1))
    problems = adapter(network).validate(post((MediaFile(path, "Bild", "image/png"),)))
    title = channel_class(network).title()
    [large] = [p for p in problems if "too large" in p]
    assert large == f"gross.png is too large for {title}: {limit + 1} bytes, at most {limit}"
    assert tr(large, "de") == (
        f"gross.png ist zu groß für {title}: {limit + 1} Bytes, höchstens {limit}"
    )
