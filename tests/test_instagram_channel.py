"""InstagramChannel against the loopback InstagramSandbox: the container flow, the publishing
quota, images from media_base_url, recovery, metrics; and the config keys it needs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.instagram import InstagramChannel
from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import (
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox._graph import graph_error
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from conftest import make_video

FIXED_NOW = 1_900_000_000.0


class Clock:
    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    sandbox: InstagramSandbox
    account: AccountSettings
    media: Path  # the folder served as media_base_url
    pauses: list[float]

    def channel(self, **kwargs: Any) -> InstagramChannel:
        kwargs.setdefault("poll_interval", 0.5)
        kwargs.setdefault("sleep", self.pauses.append)
        return InstagramChannel(
            self.account, self.sandbox.mount(make_session()), timeout=5, **kwargs
        )

    def image(self, name: str = "lastenrad.png", size: tuple[int, int] = (60, 60)) -> MediaFile:
        path = self.media / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (200, 160, 20)).save(path)
        return MediaFile(path, f"Foto: {path.stem}", "image/png")


def setup_on(sandbox: InstagramSandbox, tmp_path: Path, **settings: Any) -> Setup:
    media = tmp_path / "posts" / "soest" / "media"
    media.mkdir(parents=True)
    user_id, token = sandbox.add_account("stadt.soest", followers=settings.pop("followers", 0))
    base = sandbox.serve_media(media, "soest")
    account = AccountSettings(
        "soest-instagram",
        sandbox.url,
        {"user_id": user_id, "media_base_url": base, **settings},
        secret={"token": token}.__getitem__,
    )
    return Setup(sandbox, account, media, [])


@pytest.fixture
def sandbox() -> Iterator[InstagramSandbox]:
    with InstagramSandbox().start_in_process() as server:
        yield server


@pytest.fixture
def ig(sandbox: InstagramSandbox, tmp_path: Path) -> Setup:
    return setup_on(sandbox, tmp_path)


def post(text: str = "Lastenräder für die Innenstadt. #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


def calls(sandbox: InstagramSandbox) -> list[str]:
    return [f"{r.method} {r.path.split('/', 2)[-1]}" for r in sandbox.requests_seen]


# --- publish ----------------------------------------------------------------------------------


def test_publish_checks_the_quota_creates_polls_and_publishes(ig: Setup) -> None:
    ig.sandbox.configure(container_polls=2)
    image = ig.image()
    channel = ig.channel()

    receipt = channel.publish(post(media=(image,)))

    [created] = ig.sandbox.statuses()
    [container] = ig.sandbox.containers()
    user = channel.user_id
    assert receipt.remote_id == created.id
    assert receipt.url == created.permalink
    assert receipt.published_at == created.created_at
    assert created.text == "Lastenräder für die Innenstadt. #5malklug"
    assert [(m.source, m.alt, m.content_type) for m in created.media] == [
        (f"{ig.account.settings['media_base_url']}/lastenrad.png", image.alt, "image/png")
    ]
    assert calls(ig.sandbox) == [
        f"GET {user}/content_publishing_limit",
        f"POST {user}/media",
        *[f"GET {container.id}"] * 3,  # IN_PROGRESS, IN_PROGRESS, FINISHED
        f"POST {user}/media_publish",
        f"GET {created.id}",
    ]
    assert ig.pauses == [0.5, 0.5]


def test_several_images_become_a_carousel_with_alt_text_per_item(ig: Setup) -> None:
    images = (ig.image("a.png"), ig.image("b/c.png"))

    ig.channel().publish(post(media=images))

    [created] = ig.sandbox.statuses()
    assert created.kind == "CAROUSEL_ALBUM"
    assert [m.alt for m in created.media] == [images[0].alt, images[1].alt]
    assert created.media[1].source.endswith("/_media/soest/b/c.png")
    assert [c.is_carousel_item for c in ig.sandbox.containers()] == [True, True, False]


def test_a_video_becomes_a_reel_polled_while_meta_transcodes_it(ig: Setup) -> None:
    video = MediaFile(make_video(ig.media / "grusswort.mp4"), "Video: Grußwort", "video/mp4")
    channel = ig.channel()

    channel.publish(post(media=(video,)))

    [created] = ig.sandbox.statuses()
    [container] = ig.sandbox.containers()
    assert container.media_type == "REELS"
    assert container.params["share_to_feed"] is True
    assert created.kind == "VIDEO"
    [media] = created.media
    assert media.source == f"{ig.account.settings['media_base_url']}/grusswort.mp4"
    assert (media.content_type, media.size) == ("video/mp4", video.path.stat().st_size)
    user = channel.user_id
    assert calls(ig.sandbox) == [
        f"GET {user}/content_publishing_limit",
        f"POST {user}/media",
        *[f"GET {container.id}"] * 3,  # IN_PROGRESS twice while transcoding, FINISHED
        f"POST {user}/media_publish",
        f"GET {created.id}",
    ]
    assert ig.pauses == [0.5, 0.5]  # the injected sleep


def test_a_reel_whose_file_is_no_video_is_rejected_and_nothing_is_published(ig: Setup) -> None:
    fake = ig.media / "kaputt.mp4"
    fake.write_bytes(b"kein Video")
    with pytest.raises(RejectedError):
        ig.channel().publish(post(media=(MediaFile(fake, "Video", "video/mp4"),)))
    assert ig.sandbox.statuses() == []


def test_validate_refuses_a_video_beside_images(ig: Setup) -> None:
    video = MediaFile(ig.media / "grusswort.mp4", "Video", "video/mp4")
    assert ig.channel().validate(post(media=(video, ig.image()))) == [
        "Instagram takes a video only without images"
    ]


def test_validate_names_what_instagram_cannot_take(ig: Setup, tmp_path: Path) -> None:
    channel = ig.channel()
    no_base = InstagramChannel(
        AccountSettings("x", ig.sandbox.url, {"user_id": "1"}), ig.sandbox.mount(make_session())
    )
    image = ig.image()

    assert channel.validate(post()) == [
        "instagram: a post needs an image (Instagram has no text posts)"
    ]
    assert channel.validate(post(media=(image,), reply_to="1")) == [
        "instagram: feed posts cannot continue another post"
    ]
    assert no_base.validate(post(media=(image,))) == [
        "instagram downloads images from a public URL: set media_base_url of account x"
    ]
    tags = " ".join(f"#tag{n}" for n in range(31))
    assert channel.validate(post(tags, media=(image,))) == [
        "too many hashtags for instagram: 31 of 30 (1 over)"
    ]
    with pytest.raises(RejectedError, match="needs an image"):
        channel.publish(post())
    assert ig.sandbox.requests_seen == []


def test_a_used_up_quota_stops_before_any_container_is_made(ig: Setup) -> None:
    ig.sandbox.configure(quota_total=1)
    channel = ig.channel()
    channel.publish(post("Erster", media=(ig.image(),)))
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError, match="1 of 1") as caught:
        channel.publish(post("Zweiter", media=(ig.image(),)))

    assert caught.value.retry_at is not None
    assert timedelta(hours=1) <= caught.value.retry_at - before < timedelta(hours=1, seconds=5)
    assert len(ig.sandbox.containers()) == 1


def test_the_publish_calls_own_quota_refusal_waits_an_hour(ig: Setup) -> None:
    ig.sandbox.fail_next(status=400, code=9, subcode=2207042, message="limit")
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError, match="publishing quota used up") as caught:
        ig.channel().publish(post(media=(ig.image(),)))

    assert caught.value.retry_at is not None
    assert caught.value.retry_at - before >= timedelta(hours=1)


def test_an_unreadable_quota_does_not_stop_publishing(
    ig: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusal = graph_error(400, 100, "(#100) Unsupported fields")
    monkeypatch.setattr(ig.sandbox, "_publishing_limit", lambda call: refusal)

    ig.channel().publish(post(media=(ig.image(),)))

    assert len(ig.sandbox.statuses()) == 1


def test_a_container_in_error_is_rejected_and_nothing_is_published(ig: Setup) -> None:
    ig.sandbox.container_error_next(message="Image could not be processed")

    with pytest.raises(RejectedError, match="ERROR: Error: Image could not be processed"):
        ig.channel().publish(post(media=(ig.image(),)))

    assert ig.sandbox.statuses() == []


def test_an_expired_container_is_rejected(tmp_path: Path) -> None:
    clock = Clock()
    with InstagramSandbox(clock=clock) as sandbox:
        setup = setup_on(sandbox, tmp_path)

        def sleep(seconds: float) -> None:
            clock.now += 86400  # the poll comes a day later

        sandbox.configure(container_polls=1)
        with pytest.raises(RejectedError, match="EXPIRED"):
            setup.channel(sleep=sleep).publish(post(media=(setup.image(),)))


def test_a_container_still_processing_after_the_last_poll_is_unavailable(ig: Setup) -> None:
    ig.sandbox.configure(container_polls=10)

    with pytest.raises(UnavailableError, match="still being processed after 3 checks"):
        ig.channel(max_polls=3).publish(post(media=(ig.image(),)))

    assert ig.sandbox.statuses() == []


def test_an_image_the_network_cannot_download_is_rejected(ig: Setup) -> None:
    missing = MediaFile(ig.media / "nicht-da.png", "alt", "image/png")

    with pytest.raises(RejectedError) as caught:
        ig.channel().publish(post(media=(missing,)))

    assert caught.value.network_message is not None
    assert "Media download has failed" in caught.value.network_message
    assert "HTTP 404" in caught.value.network_message


def test_an_image_outside_the_aspect_ratios_is_rejected(ig: Setup) -> None:
    with pytest.raises(RejectedError, match="aspect ratio"):
        ig.channel().publish(post(media=(ig.image("banner.png", (400, 100)),)))


def test_a_timeout_before_the_publish_call_is_a_plain_temporary_failure(ig: Setup) -> None:
    ig.sandbox.delay = 0.3
    channel = InstagramChannel(
        ig.account, ig.sandbox.mount(make_session()), timeout=0.1, poll_interval=0
    )

    with pytest.raises(UnavailableError, match="read timeout"):
        channel.publish(post(media=(ig.image(),)))

    ig.sandbox.delay = 0
    assert ig.sandbox.statuses() == []


def test_a_timeout_of_the_publish_call_is_an_unknown_outcome(ig: Setup) -> None:
    ig.sandbox.delay_creates = 0.3
    channel = InstagramChannel(
        ig.account, ig.sandbox.mount(make_session()), timeout=0.1, poll_interval=0
    )

    with pytest.raises(OutcomeUnknownError):
        channel.publish(post(media=(ig.image(),)))

    assert len(ig.sandbox.statuses()) == 1


# --- recovery ---------------------------------------------------------------------------------


def test_lost_publish_answer_is_unknown_and_look_up_finds_the_post(ig: Setup) -> None:
    since = datetime.now(UTC)
    channel = ig.channel()
    channel.publish(post("Ein älterer Beitrag", media=(ig.image(),)))
    outbound = post("Der Beitrag, um den es geht", media=(ig.image(),))
    ig.sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    found = channel.look_up(outbound, since=since)

    [created] = [p for p in ig.sandbox.statuses() if p.text == outbound.text]
    assert found is not None
    assert (found.remote_id, found.url) == (created.id, created.permalink)


def test_a_post_without_caption_is_found_too(ig: Setup) -> None:
    since = datetime.now(UTC)
    channel = ig.channel()
    outbound = post("", media=(ig.image(),))
    ig.sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)

    [created] = ig.sandbox.statuses()
    found = channel.look_up(outbound, since=since)
    assert found is not None and found.remote_id == created.id


def test_look_up_ignores_the_same_caption_published_before_since(tmp_path: Path) -> None:
    clock = Clock()
    with InstagramSandbox(clock=clock) as sandbox:
        setup = setup_on(sandbox, tmp_path)
        channel = setup.channel()
        channel.publish(post("Gleiche Bildunterschrift", media=(setup.image(),)))
        clock.now += 7200
        since = datetime.fromtimestamp(clock.now, UTC)

        assert channel.look_up(post("Gleiche Bildunterschrift"), since=since) is None

        again = channel.publish(post("Gleiche Bildunterschrift", media=(setup.image(),)))
        assert channel.look_up(post("Gleiche Bildunterschrift"), since=since) == again


# --- metrics, delete, verify ------------------------------------------------------------------


def test_fetch_metrics_reads_the_media_insights_and_followers(
    sandbox: InstagramSandbox, tmp_path: Path
) -> None:
    setup = setup_on(sandbox, tmp_path, followers=1200)
    channel = setup.channel()
    receipt = channel.publish(post(media=(setup.image(),)))
    sandbox.set_engagement(
        receipt.remote_id, views=900, reach=700, likes=40, comments=5, saved=3, shares=2
    )

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.views, metrics.reach, metrics.likes) == (900, 700, 40)
    assert (metrics.replies, metrics.reposts, metrics.followers) == (5, 2, 1200)
    assert (metrics.quotes, metrics.clicks) == (None, None)


@pytest.mark.parametrize("switch", ["insights_available", "insights_delayed"])
def test_without_insights_likes_and_comments_come_from_the_media(ig: Setup, switch: str) -> None:
    channel = ig.channel()
    receipt = channel.publish(post(media=(ig.image(),)))
    ig.sandbox.set_engagement(receipt.remote_id, likes=4, comments=1, views=50)
    ig.sandbox.configure(**{switch: switch == "insights_delayed"})

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.replies) == (4, 1)
    assert (metrics.views, metrics.reach, metrics.reposts) == (None, None, None)


def test_delete_where_instagram_refuses_it_says_so(ig: Setup) -> None:
    channel = ig.channel()
    receipt = channel.publish(post(media=(ig.image(),)))

    with pytest.raises(RejectedError) as caught:
        channel.delete(receipt.remote_id)

    assert caught.value.hint is not None and "in the app" in caught.value.hint
    ig.sandbox.configure(allow_delete=True)
    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)  # already gone
    assert [p.deleted for p in ig.sandbox.statuses()] == [True]


def test_verify_returns_the_username(ig: Setup) -> None:
    assert ig.channel().verify() == "@stadt.soest"


# --- config -----------------------------------------------------------------------------------


CONFIG = """\
[accounts.soest-instagram]
channel = "instagram"
sender = "soest"
user_id = "17841400000000001"
token = "env:SOEST_INSTAGRAM_TOKEN"
{extra}
"""


def test_config_requires_media_base_url_and_passes_optional_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(extra=""), encoding="utf-8")
    missing = load_settings(path, environ={})
    path.write_text(
        CONFIG.format(
            extra='media_base_url = "https://www.soest.example/media"\napi_version = "v24.0"'
        ),
        encoding="utf-8",
    )
    complete = load_settings(path, environ={})

    errors = [p.message for p in missing.problems if p.severity == "error"]
    assert any("media_base_url" in message for message in errors)
    assert complete.accounts["soest-instagram"].settings == {
        "user_id": "17841400000000001",
        "media_base_url": "https://www.soest.example/media",
        "api_version": "v24.0",
    }
