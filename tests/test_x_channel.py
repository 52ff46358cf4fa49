"""XChannel against the loopback XSandbox (which verifies every OAuth 1.0a signature)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels import x as x_module
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.x import XChannel, comparable, created_at, matches, retry_at_from
from campaign_scheduler.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox.x import XCredentials, XSandbox
from conftest import make_video
from sandbox_clock import Clock

TEXT = "Noch 7 Tage bis zur Smart Cities: Konferenz in Südwestfalen #5malklug"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[XSandbox]:
    with XSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def credentials(sandbox: XSandbox) -> XCredentials:
    return sandbox.add_account("suedwestfalen", followers=1234)


@pytest.fixture
def session(sandbox: XSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def channel_for(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session, **kw: Any
) -> XChannel:
    keys = vars(credentials)
    account = AccountSettings("suedwestfalen-x", sandbox.url, {}, secret=keys.__getitem__)
    kw.setdefault("timeout", 5.0)
    return XChannel(account, session, poll_interval=0, sleep=lambda s: None, **kw)


@pytest.fixture
def channel(sandbox: XSandbox, credentials: XCredentials, session: requests.Session) -> XChannel:
    return channel_for(sandbox, credentials, session)


def post(text: str = TEXT, **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "noch-7-tage.png"
    Image.new("RGB", (120, 80), (200, 90, 20)).save(path)
    return MediaFile(path, "Grafik: „Noch 7 Tage“ auf dunkelorangem Grund", "image/png")


# --- publishing -------------------------------------------------------------------------------


def test_publish_returns_id_url_and_the_snowflake_time(
    channel: XChannel, sandbox: XSandbox
) -> None:
    receipt = channel.publish(post())

    [tweet] = sandbox.statuses()
    assert tweet.text == TEXT
    assert receipt.remote_id == tweet.id
    assert receipt.url == f"https://x.com/suedwestfalen/status/{tweet.id}"
    assert receipt.published_at == tweet.created_at
    assert created_at(tweet.id) == tweet.created_at


def test_receipt_survives_a_failed_username_read(
    channel: XChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> dict[str, Any]:
        raise UnavailableError("x: users/me is down")

    monkeypatch.setattr(channel, "_me", unavailable)
    receipt = channel.publish(post())
    assert receipt.url == f"https://x.com/i/web/status/{receipt.remote_id}"


def test_image_is_uploaded_with_alt_text(
    channel: XChannel, sandbox: XSandbox, image: MediaFile
) -> None:
    channel.publish(post(media=(image,)))

    [tweet] = sandbox.statuses()
    [media] = tweet.media
    assert media.alt == image.alt
    assert media.mime_type == "image/png"
    assert media.size == image.path.stat().st_size


def test_upload_waits_for_processing(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session, image: MediaFile
) -> None:
    sandbox.media_processing_polls = 2
    naps: list[float] = []
    channel = channel_for(sandbox, credentials, session)
    channel._sleep = naps.append

    channel.publish(post(media=(image,)))

    statuses = [r for r in sandbox.requests_seen if r.method == "GET" and "STATUS" in r.query]
    assert len(statuses) == 3  # in_progress, in_progress, succeeded
    assert naps == [1.0, 1.0, 1.0]  # check_after_secs


def test_failed_processing_is_a_rejection(
    channel: XChannel, sandbox: XSandbox, image: MediaFile
) -> None:
    sandbox.fail_media_processing(1)
    with pytest.raises(RejectedError, match="could not process"):
        channel.publish(post(media=(image,)))
    assert sandbox.statuses() == []


def test_a_video_goes_up_in_chunks_and_is_polled_until_processed(
    sandbox: XSandbox,
    credentials: XCredentials,
    session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(x_module, "SEGMENT_BYTES", 4096)
    path = make_video(tmp_path / "gruss.mp4")
    video = MediaFile(path, "Video: Grußwort der Bürgermeisterin", "video/mp4")
    segments = -(-path.stat().st_size // 4096)
    assert segments >= 2
    sandbox.media_processing_polls = 2
    naps: list[float] = []
    fences: list[str] = []
    channel = channel_for(sandbox, credentials, session)
    channel._sleep = naps.append

    def fence() -> None:
        fences.append(sandbox.requests_seen[-1].path if sandbox.requests_seen else "-")

    channel.publish(replace(post(media=(video,)), checkpoint=fence))

    calls = [f"{r.method} {r.path}" for r in sandbox.requests_seen]
    media_id = calls[1].split("/")[4]
    assert calls == [
        "POST /2/media/upload/initialize",
        *[f"POST /2/media/upload/{media_id}/append"] * segments,
        f"POST /2/media/upload/{media_id}/finalize",
        *["GET /2/media/upload"] * 3,  # in_progress, in_progress, succeeded
        "POST /2/media/metadata",
        "POST /2/tweets",
        "GET /2/users/me",
    ]
    assert naps == [1.0, 1.0, 1.0]  # check_after_secs, through the injected sleep
    # A fence before the upload, before each segment, finalize, the alt text and the post.
    assert len(fences) == 1 + segments + 1 + 1 + 1
    [tweet] = sandbox.statuses()
    [media] = tweet.media
    assert (media.mime_type, media.size, media.alt) == ("video/mp4", path.stat().st_size, video.alt)


def test_a_video_that_fails_processing_is_rejected_and_nothing_is_posted(
    channel: XChannel, sandbox: XSandbox, tmp_path: Path
) -> None:
    video = MediaFile(make_video(tmp_path / "gruss.mp4"), "Video", "video/mp4")
    sandbox.fail_media_processing(1)
    with pytest.raises(RejectedError, match="could not process"):
        channel.publish(post(media=(video,)))
    assert sandbox.statuses() == []


def test_the_sandbox_refuses_an_incomplete_chunked_upload(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session
) -> None:
    channel = channel_for(sandbox, credentials, session)
    answer = channel.api.call(
        "POST",
        "/2/media/upload/initialize",
        json={"media_type": "video/mp4", "total_bytes": 10, "media_category": "tweet_video"},
    )
    media_id = answer.json()["data"]["id"]
    channel.api.call(
        "POST",
        f"/2/media/upload/{media_id}/append",
        data={"segment_index": "0"},
        files={"media": ("blob", b"12345", "application/octet-stream")},
    )
    with pytest.raises(RejectedError, match="received 5 of 10 bytes"):
        channel.api.call("POST", f"/2/media/upload/{media_id}/finalize")
    with pytest.raises(RejectedError, match="media IDs are invalid"):
        channel.api.call(
            "POST",
            "/2/tweets",
            json={"text": "x", "media": {"media_ids": [media_id]}},
            creates=True,
        )


def test_reply_chain(channel: XChannel, sandbox: XSandbox) -> None:
    first = channel.publish(post("Teil 1 #5malklug"))
    second = channel.publish(post("Teil 2 #5malklug", reply_to=first.remote_id))
    by_id = {t.id: t for t in sandbox.statuses()}
    assert by_id[second.remote_id].in_reply_to == first.remote_id


def test_reply_to_a_deleted_post_is_rejected(channel: XChannel) -> None:
    first = channel.publish(post("Teil 1"))
    channel.delete(first.remote_id)
    with pytest.raises(RejectedError, match="deleted or not visible"):
        channel.publish(post("Teil 2", reply_to=first.remote_id))


def test_validate_counts_weighted_length(channel: XChannel, image: MediaFile) -> None:
    assert channel.validate(post("a" * 280)) == []
    assert channel.validate(post("会" * 140)) == []  # CJK counts 2
    assert "282 of 280" in channel.validate(post("会" * 141))[0]
    link = "https://smartcities-suedwestfalen.com/konferenz/programm/" + "x" * 100
    assert channel.validate(post("a" * 256 + " " + link)) == []  # every link counts 23
    too_many = channel.validate(post(media=(image,) * 5))
    assert "X takes at most 4 image(s) in one post; this one has 5" in too_many
    long_alt = channel.validate(post(media=(replace(image, alt="a" * 1001),)))
    assert any("alt text" in problem for problem in long_alt)


@pytest.mark.parametrize("status", [400, 403])
def test_over_long_text_is_rejected_either_way(
    channel: XChannel, sandbox: XSandbox, status: int
) -> None:
    sandbox.too_long_status = status
    with pytest.raises(RejectedError, match="too long"):
        channel.publish(post("a" * 281))


# --- authentication ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["api_secret", "access_secret", "access_token", "api_key"])
def test_wrong_key_or_secret_is_an_auth_error(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session, key: str
) -> None:
    wrong = replace(credentials, **{key: "wrong"})
    with pytest.raises(AuthError) as caught:
        channel_for(sandbox, wrong, session).publish(post())
    assert caught.value.network_message == "Unauthorized"
    assert sandbox.statuses() == []


def test_revoked_token_is_an_auth_error(
    channel: XChannel, sandbox: XSandbox, credentials: XCredentials
) -> None:
    sandbox.revoke(credentials.access_token)
    with pytest.raises(AuthError):
        channel.verify()


def test_missing_key_is_refused_before_any_call(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session
) -> None:
    with pytest.raises(AuthError, match="lacks access_secret"):
        channel_for(sandbox, replace(credentials, access_secret=""), session).publish(post())
    assert sandbox.requests_seen == []


def test_read_only_app_gets_a_permission_hint(sandbox: XSandbox, session: requests.Session) -> None:
    reader = sandbox.add_account("nur_lesen", write=False)
    with pytest.raises(AuthError) as caught:
        channel_for(sandbox, reader, session).publish(post())
    assert caught.value.hint is not None and "Read and write" in caught.value.hint


# --- rate limits and server errors ------------------------------------------------------------


def test_window_limit_retries_at_its_reset(channel: XChannel, sandbox: XSandbox) -> None:
    sandbox.rate_limit_next(1, reset_in=300)
    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())
    assert caught.value.retry_at is not None
    assert 290 <= (caught.value.retry_at - datetime.now(UTC)).total_seconds() <= 310


def test_daily_cap_retries_at_the_later_reset(channel: XChannel, sandbox: XSandbox) -> None:
    sandbox.rate_limit_next(1, reset_in=20_000, daily=True)
    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())
    assert caught.value.retry_at is not None
    assert 19_990 <= (caught.value.retry_at - datetime.now(UTC)).total_seconds() <= 20_010


def test_daily_cap_from_real_counting(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session, clock: Clock
) -> None:
    sandbox.daily_post_limit = 1
    channel = channel_for(sandbox, credentials, session)
    channel.publish(post("eins"))
    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post("zwei"))
    midnight = (clock.now // 86400 + 1) * 86400
    assert caught.value.retry_at == datetime.fromtimestamp(midnight, UTC)


def test_retry_at_takes_the_latest_exhausted_reset() -> None:
    now = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    soon, later = now + timedelta(minutes=5), now + timedelta(hours=9)
    both = {
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": str(int(soon.timestamp())),
        "x-user-limit-24hour-remaining": "0",
        "x-user-limit-24hour-reset": str(int(later.timestamp())),
    }
    assert retry_at_from(both, now) == later
    window_only = {**both, "x-user-limit-24hour-remaining": "12"}
    assert retry_at_from(window_only, now) == soon
    app = {
        "x-app-limit-24hour-remaining": "0",
        "x-app-limit-24hour-reset": str(int(later.timestamp())),
    }
    assert retry_at_from(app, now) == later
    assert retry_at_from({}, now) == now + timedelta(seconds=60)
    past = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1000"}
    assert retry_at_from(past, now) == now


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, UnavailableError),
        (502, OutcomeUnknownError),
        (503, OutcomeUnknownError),
        (504, OutcomeUnknownError),
    ],
)
def test_server_errors_on_create(
    channel: XChannel, sandbox: XSandbox, status: int, error: type[Exception]
) -> None:
    sandbox.fail_next(1, status=status)
    with pytest.raises(error) as caught:
        channel.publish(post())
    assert type(caught.value) is error


def test_lost_answer_during_upload_is_only_unavailability(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session, image: MediaFile
) -> None:
    sandbox.delay = 1.0
    channel = channel_for(sandbox, credentials, session, timeout=0.3)
    with pytest.raises(UnavailableError) as caught:
        channel.publish(post(media=(image,)))
    assert not isinstance(caught.value, OutcomeUnknownError)
    sandbox.delay = 0


# --- recovery ---------------------------------------------------------------------------------


def test_look_up_finds_a_post_after_a_lost_answer(channel: XChannel, sandbox: XSandbox) -> None:
    text = "Programm & Anmeldung <jetzt>: https://smartcities-suedwestfalen.com/konferenz/ und example.org #5malklug"
    sent = post(text)
    sandbox.drop_after_create(1)
    with pytest.raises(OutcomeUnknownError):
        channel.publish(sent)

    found = channel.look_up(sent, since=datetime.now(UTC) - timedelta(minutes=2))

    [tweet] = sandbox.statuses()
    assert found is not None and found.remote_id == tweet.id
    assert found.published_at == tweet.created_at


def test_look_up_compares_media_and_reply_target(
    channel: XChannel, sandbox: XSandbox, image: MediaFile
) -> None:
    first = channel.publish(post("Teil 1"))
    with_image = channel.publish(post("Mit Bild", media=(image,)))
    reply = channel.publish(post("Antwort", reply_to=first.remote_id))
    since = datetime.now(UTC) - timedelta(minutes=2)

    assert channel.look_up(post("Mit Bild", media=(image,)), since=since) == with_image
    assert channel.look_up(post("Mit Bild"), since=since) is None
    assert channel.look_up(post("Antwort", reply_to=first.remote_id), since=since) == reply
    assert channel.look_up(post("Antwort", reply_to=with_image.remote_id), since=since) is None
    assert channel.look_up(post("Gibt es nicht"), since=since) is None


def test_look_up_ignores_posts_before_since(
    channel: XChannel, sandbox: XSandbox, clock: Clock
) -> None:
    clock.now -= 3600
    channel.publish(post("Alt"))
    clock.now += 3600
    assert channel.look_up(post("Alt"), since=datetime.now(UTC) - timedelta(minutes=5)) is None


def test_look_up_pages_and_gives_up_when_too_far(
    channel: XChannel, sandbox: XSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(12):
        channel.publish(post(f"Beitrag {number}"))
    since = datetime.now(UTC) - timedelta(minutes=5)
    monkeypatch.setattr(x_module, "PAGE_SIZE", 5)
    assert channel.look_up(post("Beitrag 0"), since=since) is not None  # third page
    monkeypatch.setattr(x_module, "LOOK_UP_MAX_PAGES", 2)
    with pytest.raises(OutcomeUnknownError, match="search back"):
        channel.look_up(post("Beitrag 0"), since=since)


def test_duplicate_after_a_too_early_look_up_adopts_the_first_post(
    sandbox: XSandbox, channel: XChannel, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.timeline_lag = 30  # new posts show in the timeline 30 s late
    sent = post()
    sandbox.drop_after_create(1)
    with pytest.raises(OutcomeUnknownError):
        channel.publish(sent)
    assert channel.look_up(sent, since=datetime.now(UTC) - timedelta(minutes=2)) is None

    clock.now += 60
    with caplog.at_level(logging.WARNING, logger="campaign_scheduler.channels.x"):
        receipt = channel.publish(sent)  # X: 403 duplicate content

    [tweet] = sandbox.statuses()
    assert receipt.remote_id == tweet.id
    assert "refused a duplicate" in caplog.text


def test_duplicate_without_a_matching_post_is_a_hinted_rejection(
    sandbox: XSandbox, channel: XChannel, clock: Clock
) -> None:
    sandbox.duplicate_window = 3 * 86400
    clock.now -= 25 * 3600
    channel.publish(post())
    clock.now += 25 * 3600

    with pytest.raises(RejectedError) as caught:
        channel.publish(post())
    assert "only a hint" in caught.value.message
    assert caught.value.network_message == (
        "You are not allowed to create a Tweet with duplicate content."
    )
    assert len(sandbox.statuses()) == 1


def test_matching_reads_text_as_x_shows_it() -> None:
    tweet = {
        "text": "A &amp; B &lt;3 https://t.co/abc ende https://t.co/pic",
        "entities": {
            "urls": [
                {"url": "https://t.co/abc", "expanded_url": "https://example.org/x"},
                {"url": "https://t.co/pic", "media_key": "3_1"},
            ]
        },
        "attachments": {"media_keys": ["3_1"]},
    }
    image = MediaFile(Path("bild.png"), None, "image/png")
    assert matches(tweet, post("A & B <3 https://example.org/x ende", media=(image,)))
    assert not matches(tweet, post("A & B <3 https://example.org/x ende"))
    assert not matches(tweet, post("A & B <3 https://example.org/x Ende", media=(image,)))
    assert comparable("Mehr  auf\nexample.org!") == comparable("Mehr auf https://t.co/xyz!")


# --- metrics, delete, verify ------------------------------------------------------------------


def test_metrics_with_non_public_figures(channel: XChannel, sandbox: XSandbox) -> None:
    receipt = channel.publish(post())
    sandbox.set_engagement(
        receipt.remote_id, likes=5, retweets=2, quotes=1, impressions=900, url_link_clicks=17
    )
    metrics = channel.fetch_metrics(receipt)
    assert (metrics.likes, metrics.reposts, metrics.replies, metrics.quotes) == (5, 2, 0, 1)
    assert (metrics.views, metrics.clicks, metrics.followers) == (900, 17, 1234)
    assert metrics.reach is None


def test_metrics_without_non_public_figures(
    channel: XChannel, sandbox: XSandbox, clock: Clock
) -> None:
    receipt = channel.publish(post())
    sandbox.set_engagement(receipt.remote_id, likes=3, impressions=400, url_link_clicks=9)
    clock.now += 31 * 86400  # older than 30 days: X keeps non_public_metrics to itself
    metrics = channel.fetch_metrics(receipt)
    assert (metrics.likes, metrics.views, metrics.clicks) == (3, 400, None)


def test_metrics_of_a_deleted_post(channel: XChannel) -> None:
    receipt = channel.publish(post())
    channel.delete(receipt.remote_id)
    with pytest.raises(RejectedError, match="not found"):
        channel.fetch_metrics(receipt)


def test_delete_twice(channel: XChannel, sandbox: XSandbox) -> None:
    receipt = channel.publish(post())
    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)
    assert [t.deleted for t in sandbox.statuses()] == [True]


def test_verify_names_the_account(channel: XChannel) -> None:
    assert channel.verify() == "@suedwestfalen"


def test_a_lost_answer_to_a_read_is_unavailability(
    sandbox: XSandbox, credentials: XCredentials, session: requests.Session
) -> None:
    channel = channel_for(sandbox, credentials, session, timeout=0.3)
    sandbox.delay = 1.0
    with pytest.raises(UnavailableError) as caught:
        channel.verify()
    assert not isinstance(caught.value, OutcomeUnknownError)
    sandbox.delay = 0


class _AnswersEverything(requests.adapters.BaseAdapter):
    """A transport that answers every request with one fixed answer."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__()
        self.status, self.body = status, body

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def test_a_created_post_whose_answer_is_not_json_is_an_unknown_outcome() -> None:
    # X made the post (201), so retrying blindly would post it twice: the publisher must
    # look it up instead.
    session = requests.Session()
    session.mount("https://", _AnswersEverything(201, b"<html>upstream hiccup</html>"))
    account = AccountSettings("suedwestfalen-x", "https://api.x.test", {}, secret=lambda k: "tok")
    channel = XChannel(account, session, poll_interval=0, sleep=lambda s: None)

    with pytest.raises(OutcomeUnknownError):
        channel.publish(post())
