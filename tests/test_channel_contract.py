"""One contract every channel passes, each against its own sandbox.

The cases: publish, auth failure in the network's own shape, rate limit in its dialect, 5xx,
timeout, rejection, media with alt text, language, reply chains where the network has them,
and recovery after a lost answer without posting twice. Harnesses live in tests/harnesses/.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from campaign_scheduler.channels.base import Channel, MediaFile, OutboundPost
from campaign_scheduler.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from channel_harness import Harness
from conftest import make_video

HARNESS_DIR = Path(__file__).with_name("harnesses")


def _load_harnesses() -> dict[str, Callable[[Path], Harness]]:
    found = {}
    kinds = {}
    for path in sorted(HARNESS_DIR.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"harness_{path.stem}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        found[path.stem] = module.HARNESS
        [kinds[path.stem]] = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Harness)
            and value.__module__ == module.__name__
        ]
    HARNESS_KINDS.update(kinds)
    return found


#: Each network's harness class (what it can do, before a sandbox is started).
HARNESS_KINDS: dict[str, type[Harness]] = {}
HARNESSES = _load_harnesses()


def having(capability: Callable[[type[Harness]], bool]) -> pytest.MarkDecorator:
    """Run a contract case only on the networks where it exists (a network without the
    feature has no case to skip: what it does instead is checked by its own cases)."""
    names = sorted(name for name, kind in HARNESS_KINDS.items() if capability(kind))
    return pytest.mark.parametrize("harness", names, indirect=True)


def _takes_video(harness: type[Harness]) -> bool:
    from campaign_scheduler.channels.registry import channel_class

    return channel_class(harness.name).spec.video is not None


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    with HARNESSES[request.param](tmp_path) as running:
        yield running


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "countdown.png"
    Image.new("RGB", (1080, 1080), (20, 90, 60)).save(path)
    return MediaFile(path, "Grafik: Schriftzug „Noch 7 Tage“ auf grünem Grund", "image/png")


@pytest.fixture
def video(tmp_path: Path) -> MediaFile:
    path = make_video(tmp_path / "grusswort.mp4")
    return MediaFile(path, "Video: Die Bürgermeisterin lädt zur Konferenz ein", "video/mp4")


def post(
    harness: Harness,
    image: MediaFile,
    text: str = "Noch 7 Tage bis zur Smart Cities: Konferenz #5malklug",
    *,
    with_image: bool = False,
    reply_to: str | None = None,
) -> OutboundPost:
    media = (image,) if harness.requires_media or with_image else ()
    return OutboundPost(
        text=text,
        language="de",
        idempotency_key=uuid.uuid4().hex,
        media=media,
        reply_to=reply_to,
    )


def test_publish_returns_a_receipt_for_the_created_post(harness: Harness, image: MediaFile) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    receipt = harness.channel().publish(post(harness, image))
    [created] = harness.created()
    assert created.remote_id == receipt.remote_id
    assert created.text.strip() == "Noch 7 Tage bis zur Smart Cities: Konferenz #5malklug"
    assert receipt.published_at >= before


@having(lambda h: h.keeps_language)
def test_language_is_sent(harness: Harness, image: MediaFile) -> None:
    harness.channel().publish(post(harness, image))
    assert harness.created()[0].language == "de"


@having(lambda h: h.supports_alt_text)
def test_media_carries_its_alt_text(harness: Harness, image: MediaFile) -> None:
    harness.channel().publish(post(harness, image, with_image=True))
    assert harness.created()[0].media_alts == (image.alt,)


@having(lambda h: h.supports_replies)
def test_reply_chains(harness: Harness, image: MediaFile) -> None:
    channel = harness.channel()
    first = channel.publish(post(harness, image, text="Teil 1 #5malklug"))
    second = channel.publish(
        post(harness, image, text="Teil 2 #5malklug", reply_to=first.remote_id)
    )
    by_id = {c.remote_id: c for c in harness.created()}
    assert by_id[second.remote_id].reply_to == first.remote_id


def test_bad_credentials_are_an_auth_error(harness: Harness, image: MediaFile) -> None:
    with pytest.raises(AuthError):
        harness.channel_with_bad_credentials().publish(post(harness, image))
    assert harness.created() == []


def test_rate_limit_says_when_to_retry(harness: Harness, image: MediaFile) -> None:
    harness.rate_limit_next(reset_in=120)
    with pytest.raises(RateLimitedError) as caught:
        harness.channel().publish(post(harness, image))
    assert caught.value.retry_at is not None
    wait = (caught.value.retry_at - datetime.now(UTC)).total_seconds()
    assert 60 <= wait <= 180
    assert harness.created() == []


def test_server_error_is_retryable_and_creates_nothing(harness: Harness, image: MediaFile) -> None:
    harness.fail_next(503)
    with pytest.raises((UnavailableError, OutcomeUnknownError)):
        harness.channel().publish(post(harness, image))
    assert harness.created() == []


def test_rejection_is_permanent(harness: Harness, image: MediaFile) -> None:
    harness.reject_next()
    with pytest.raises(RejectedError) as caught:
        harness.channel().publish(post(harness, image))
    assert not caught.value.retryable
    assert harness.created() == []


def test_timeout_is_an_unknown_outcome_only_where_the_call_could_create(
    harness: Harness, image: MediaFile
) -> None:
    """A slow server: a lost answer to the call that creates the post is an unknown outcome;
    one to a call before it (an upload, a room lookup) is only unavailability, and then
    nothing was created."""
    harness.set_delay(1.5)
    with pytest.raises((OutcomeUnknownError, UnavailableError)) as caught:
        harness.channel(timeout=0.5).publish(post(harness, image))
    harness.set_delay(0)
    if not isinstance(caught.value, OutcomeUnknownError):
        assert "cannot have published anything" in caught.value.message
        assert harness.created() == []


def _recover(channel: Channel, sent: OutboundPost) -> str | None:
    """What the engine does after a lost answer: replay the key where the network
    deduplicates it, else look the post up. Returns the remote id it settles on."""
    if channel.idempotency_window is not None:
        return channel.publish(sent).remote_id
    if channel.can_look_up:
        found = channel.look_up(sent, since=datetime.now(UTC) - timedelta(minutes=5))
        return found.remote_id if found else None
    return None


def test_recovery_after_a_lost_answer_never_posts_twice(harness: Harness, image: MediaFile) -> None:
    channel = harness.channel()
    sent = post(harness, image)
    harness.drop_after_create()
    with pytest.raises(OutcomeUnknownError):
        channel.publish(sent)
    [created] = harness.created()
    settled = _recover(harness.channel(), sent)
    if settled is None:
        # Neither deduplication nor lookup: the engine marks the delivery unknown for a person.
        assert channel.idempotency_window is None and not channel.can_look_up
    else:
        assert settled == created.remote_id
    assert len(harness.created()) == 1


def test_verify_names_the_account(harness: Harness) -> None:
    assert harness.channel().verify()


class _LeaseGone(Exception):
    """What a worker's checkpoint raises once its lease is gone."""


def test_a_worker_whose_lease_ran_out_during_its_uploads_creates_nothing(
    harness: Harness, image: MediaFile
) -> None:
    """The publisher fences before it calls ``publish``; an adapter that writes more than once
    (uploads, containers, then the post) calls ``post.checkpoint()`` before each of those writes,
    so a worker whose lease ran out during a long upload stops before the post exists. Two
    images, so that every network uploads them before it creates the post."""
    calls = 0

    def count() -> None:
        nonlocal calls
        calls += 1

    def with_two_images(text: str) -> OutboundPost:
        return replace(post(harness, image, text), media=(image, image))

    channel = harness.channel()
    channel.publish(replace(with_two_images("Noch 7 Tage #5malklug"), checkpoint=count))
    if harness.media_in_creating_call:
        # One write, fenced by the publisher before the call: nothing left to fence.
        assert calls == 0
        assert len(harness.created()) == 1
        return
    assert calls >= 2, "a checkpoint before each upload and one before the post"
    posts_before = len(harness.created())
    seen = 0

    def lose_at_the_last() -> None:
        nonlocal seen
        seen += 1
        if seen == calls:
            raise _LeaseGone

    with pytest.raises(_LeaseGone):
        channel.publish(
            replace(with_two_images("Noch 6 Tage #5malklug"), checkpoint=lose_at_the_last)
        )
    assert len(harness.created()) == posts_before


def test_a_video_goes_out_with_its_alt_text_where_the_network_takes_video(
    harness: Harness, video: MediaFile
) -> None:
    """A network whose channel declares ``spec.video`` publishes the video (after the upload
    and any processing the network does); one without refuses it before anything is sent."""
    channel = harness.channel()
    sent = replace(post(harness, video), media=(video,))
    if type(channel).spec.video is None:
        assert any("takes no video" in problem for problem in channel.validate(sent))
        return
    assert channel.validate(sent) == []
    channel.publish(sent)
    [created] = harness.created()
    keeps_alt = harness.supports_alt_text and harness.video_alt_text
    assert created.videos == ((video.alt,) if keeps_alt else (None,))


@having(_takes_video)
def test_a_worker_whose_lease_ran_out_during_a_video_upload_creates_nothing(
    harness: Harness, video: MediaFile
) -> None:
    """Every write of a video post (each upload step, the creating call) is fenced."""
    calls = 0

    def count() -> None:
        nonlocal calls
        calls += 1

    def with_video(text: str) -> OutboundPost:
        return replace(post(harness, video, text), media=(video,))

    harness.channel().publish(replace(with_video("Noch 7 Tage #5malklug"), checkpoint=count))
    posts_before = len(harness.created())
    if harness.media_in_creating_call or harness.video_in_creating_call:
        assert calls == 0  # one write, fenced by the publisher before the call
        return
    assert calls >= 2, "a checkpoint before each upload step and one before the post"
    seen = 0

    def lose_at_the_last() -> None:
        nonlocal seen
        seen += 1
        if seen == calls:
            raise _LeaseGone

    with pytest.raises(_LeaseGone):
        harness.channel().publish(
            replace(with_video("Noch 6 Tage #5malklug"), checkpoint=lose_at_the_last)
        )
    assert len(harness.created()) == posts_before
