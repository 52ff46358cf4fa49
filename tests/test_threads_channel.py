"""ThreadsChannel against the loopback ThreadsSandbox: text, image and carousel posts, reply
chains, the 500-character rule, quotas, recovery, metrics."""

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
from campaign_scheduler.channels.threads import ThreadsChannel
from campaign_scheduler.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
)
from campaign_scheduler.sandbox.threads import ThreadsSandbox
from conftest import make_video

FIXED_NOW = 1_900_000_000.0


class Clock:
    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    sandbox: ThreadsSandbox
    account: AccountSettings
    media: Path

    def channel(self, **kwargs: Any) -> ThreadsChannel:
        kwargs.setdefault("poll_interval", 0)
        return ThreadsChannel(self.account, self.sandbox.mount(make_session()), timeout=5, **kwargs)

    def image(self, name: str = "morgen.png") -> MediaFile:
        path = self.media / name
        Image.new("RGB", (50, 50), (10, 80, 160)).save(path)
        return MediaFile(path, f"Grafik: {path.stem}", "image/png")


def setup_on(sandbox: ThreadsSandbox, tmp_path: Path, **settings: Any) -> Setup:
    media = tmp_path / "posts" / "menden" / "media"
    media.mkdir(parents=True)
    user_id, token = sandbox.add_account("stadtmenden", followers=settings.pop("followers", 0))
    account = AccountSettings(
        "menden-threads",
        sandbox.url,
        {"user_id": user_id, "media_base_url": sandbox.serve_media(media), **settings},
        secret={"token": token}.__getitem__,
    )
    return Setup(sandbox, account, media)


@pytest.fixture
def sandbox() -> Iterator[ThreadsSandbox]:
    with ThreadsSandbox().start_in_process() as server:
        yield server


@pytest.fixture
def th(sandbox: ThreadsSandbox, tmp_path: Path) -> Setup:
    return setup_on(sandbox, tmp_path)


def post(text: str = "Noch 14 Tage bis zur Konferenz. #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


# --- publish ----------------------------------------------------------------------------------


def test_text_post_is_a_text_container_published_on_the_v1_api(th: Setup) -> None:
    channel = th.channel()

    receipt = channel.publish(post())

    [created] = th.sandbox.statuses()
    assert (receipt.remote_id, receipt.url) == (created.id, created.permalink)
    assert (created.kind, created.text) == (
        "TEXT_POST",
        "Noch 14 Tage bis zur Konferenz. #5malklug",
    )
    assert {r.version for r in th.sandbox.requests_seen} == {"v1.0"}
    user = channel.user_id
    assert [f"{r.method} {r.path}" for r in th.sandbox.requests_seen][:2] == [
        f"GET /v1.0/{user}/threads_publishing_limit",
        f"POST /v1.0/{user}/threads",
    ]


def test_image_post_carries_url_and_alt_text(th: Setup) -> None:
    image = th.image()

    th.channel().publish(post("Morgen geht es los", media=(image,)))

    [created] = th.sandbox.statuses()
    assert created.kind == "IMAGE"
    assert [(m.source.rsplit("/", 1)[-1], m.alt) for m in created.media] == [
        ("morgen.png", image.alt)
    ]


def test_a_video_post_is_a_video_container_polled_until_processed(th: Setup) -> None:
    video = MediaFile(make_video(th.media / "gruss.mp4"), "Video: Grußwort", "video/mp4")
    pauses: list[float] = []
    channel = th.channel(poll_interval=5.0, sleep=pauses.append)

    channel.publish(post("Unser Grußwort", media=(video,)))

    [created] = th.sandbox.statuses()
    [container] = th.sandbox.containers()
    assert created.kind == "VIDEO"
    [media] = created.media
    assert (media.source.rsplit("/", 1)[-1], media.alt, media.content_type) == (
        "gruss.mp4",
        video.alt,
        "video/mp4",
    )
    status_reads = [r for r in th.sandbox.requests_seen if r.path.endswith(f"/{container.id}")]
    assert len(status_reads) == 3  # IN_PROGRESS twice while processing, then FINISHED
    assert pauses == [5.0, 5.0]  # the injected sleep, never a real one


def test_a_video_that_cannot_be_downloaded_ends_the_container_in_error(th: Setup) -> None:
    missing = MediaFile(th.media / "nicht-da.mp4", "alt", "video/mp4")

    with pytest.raises(RejectedError, match="ERROR: FAILED_DOWNLOADING_VIDEO"):
        th.channel().publish(post(media=(missing,)))

    assert th.sandbox.statuses() == []


def test_several_images_are_a_carousel(th: Setup) -> None:
    images = (th.image("a.png"), th.image("b.png"), th.image("c.png"))

    th.channel().publish(post("Drei Bilder", media=images))

    [created] = th.sandbox.statuses()
    assert created.kind == "CAROUSEL_ALBUM"
    assert [m.alt for m in created.media] == [i.alt for i in images]


def test_a_chain_links_each_reply_to_the_previous_post(th: Setup) -> None:
    channel = th.channel()

    first = channel.publish(post("Teil 1"))
    second = channel.publish(post("Teil 2", reply_to=first.remote_id))
    third = channel.publish(post("Teil 3", reply_to=second.remote_id))

    by_id = {p.id: p for p in th.sandbox.statuses()}
    assert by_id[second.remote_id].reply_to == first.remote_id
    assert by_id[third.remote_id].reply_to == second.remote_id
    limit_reads = [r.query for r in th.sandbox.requests_seen if r.path.endswith("publishing_limit")]
    assert "reply_quota_usage" in limit_reads[1]


def test_a_reply_to_a_missing_post_is_rejected(th: Setup) -> None:
    with pytest.raises(RejectedError, match="reply_to_id"):
        th.channel().publish(post("Antwort", reply_to="18000000000000000"))


def test_500_characters_count_emoji_by_their_utf8_bytes(th: Setup) -> None:
    channel = th.channel()
    fits = "a" * 496 + "👍"  # 496 + 4
    too_long = "a" * 497 + "👍"

    assert channel.validate(post(fits)) == []
    [problem] = channel.validate(post(too_long))
    assert problem.startswith("text too long for threads: 501 of 500 characters")
    channel.publish(post(fits))
    with pytest.raises(RejectedError):
        channel.publish(post(too_long))
    assert len(th.sandbox.statuses()) == 1


def test_the_sandbox_itself_refuses_more_than_500(th: Setup) -> None:
    channel = th.channel()
    channel.validate = lambda post: []  # type: ignore[method-assign]

    with pytest.raises(RejectedError) as caught:
        channel.publish(post("ö" * 501))

    assert (
        caught.value.network_message == "(#100) The parameter text must be at most 500 characters"
    )


def test_images_need_media_base_url(sandbox: ThreadsSandbox, tmp_path: Path) -> None:
    user_id, token = sandbox.add_account("ohne.bilder")
    account = AccountSettings("x", sandbox.url, {"user_id": user_id}, secret=lambda key: token)
    image = MediaFile(tmp_path / "x.png", None, "image/png")

    problems = ThreadsChannel(account, sandbox.mount(make_session())).validate(post(media=(image,)))

    assert problems == [
        "threads downloads images from a public URL: set media_base_url of account x"
    ]


def test_a_used_up_quota_is_rate_limited_before_anything_is_created(th: Setup) -> None:
    th.sandbox.configure(quota_total=1)
    channel = th.channel()
    first = channel.publish(post("Erster"))

    with pytest.raises(RateLimitedError, match="publishing quota used up"):
        channel.publish(post("Zweiter"))
    reply = channel.publish(post("Antworten zählen extra", reply_to=first.remote_id))

    assert len(th.sandbox.containers()) == 2
    assert reply.remote_id in {p.id for p in th.sandbox.statuses()}


def test_an_image_that_cannot_be_downloaded_ends_the_container_in_error(th: Setup) -> None:
    missing = MediaFile(th.media / "nicht-da.png", "alt", "image/png")

    with pytest.raises(RejectedError, match="ERROR: UNKNOWN"):
        th.channel().publish(post(media=(missing,)))

    assert th.sandbox.statuses() == []


def test_bad_token_is_an_auth_error(th: Setup) -> None:
    account = AccountSettings(
        "x", th.sandbox.url, dict(th.account.settings), secret=lambda key: "THwrong"
    )

    with pytest.raises(AuthError, match="Invalid OAuth access token"):
        ThreadsChannel(account, th.sandbox.mount(make_session())).publish(post())


# --- recovery ---------------------------------------------------------------------------------


def test_lost_publish_answer_is_unknown_and_look_up_finds_the_post(th: Setup) -> None:
    since = datetime.now(UTC)
    channel = th.channel()
    outbound = post("Der Beitrag, um den es geht")
    th.sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    found = channel.look_up(outbound, since=since)

    [created] = th.sandbox.statuses()
    assert found is not None and found.remote_id == created.id


def test_look_up_of_a_reply_reads_the_profiles_replies(th: Setup) -> None:
    since = datetime.now(UTC)
    channel = th.channel()
    parent = channel.publish(post("Teil 1"))
    other = channel.publish(post("Woanders"))
    channel.publish(post("Teil 2", reply_to=other.remote_id))  # same text, other parent
    reply = post("Teil 2", reply_to=parent.remote_id)
    th.sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(reply)
    found = channel.look_up(reply, since=since)

    expected = next(
        p.id for p in th.sandbox.statuses() if p.text == "Teil 2" and p.reply_to == parent.remote_id
    )
    assert found is not None and found.remote_id == expected
    assert any(r.path.endswith("/replies") for r in th.sandbox.requests_seen)


def test_look_up_only_searches_since_since(tmp_path: Path) -> None:
    clock = Clock()
    with ThreadsSandbox(clock=clock) as sandbox:
        setup = setup_on(sandbox, tmp_path)
        channel = setup.channel()
        channel.publish(post("Gleicher Text"))
        clock.now += timedelta(hours=3).total_seconds()
        since = datetime.fromtimestamp(clock.now, UTC)

        assert channel.look_up(post("Gleicher Text"), since=since) is None


# --- metrics, delete, verify ------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["values", "total_value"])
def test_fetch_metrics_reads_either_insights_shape(
    sandbox: ThreadsSandbox, tmp_path: Path, shape: str
) -> None:
    setup = setup_on(sandbox, tmp_path, followers=77)
    sandbox.configure(insights_shape=shape)
    channel = setup.channel()
    receipt = channel.publish(post())
    channel.publish(post("Antwort", reply_to=receipt.remote_id))
    sandbox.set_engagement(receipt.remote_id, views=300, likes=12, reposts=3, quotes=1, shares=2)

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.views, metrics.likes, metrics.replies) == (300, 12, 1)
    assert (metrics.reposts, metrics.quotes, metrics.followers) == (3, 1, 77)
    assert (metrics.reach, metrics.clicks) == (None, None)


def test_delete_and_a_second_delete(th: Setup) -> None:
    channel = th.channel()
    receipt = channel.publish(post())

    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)

    assert [p.deleted for p in th.sandbox.statuses()] == [True]


def test_verify_returns_the_handle_and_checks_the_user_id(th: Setup) -> None:
    assert th.channel().verify() == "@stadtmenden"
    wrong = AccountSettings("x", th.sandbox.url, {"user_id": "123"}, secret=th.account.secret)
    with pytest.raises(AuthError, match="belongs to @stadtmenden"):
        ThreadsChannel(wrong, th.sandbox.mount(make_session())).verify()
