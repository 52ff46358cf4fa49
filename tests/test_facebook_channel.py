"""FacebookChannel against the loopback FacebookSandbox, and the Graph error mapping of
channels/_graph.py that all three Meta adapters share."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels import _graph
from campaign_scheduler.channels._graph import media_url, read_usage
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.facebook import FacebookChannel
from campaign_scheduler.errors import (
    AuthError,
    ChannelError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from conftest import make_video

FIXED_NOW = 1_900_000_000.0  # 2030-03-17 17:46:40 UTC


class Clock:
    def __init__(self, now: float = FIXED_NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sandbox() -> Iterator[FacebookSandbox]:
    with FacebookSandbox().start_in_process() as server:
        yield server


@pytest.fixture
def session(sandbox: FacebookSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def account_on(
    sandbox: FacebookSandbox, name: str = "Stadt Soest", **settings: Any
) -> AccountSettings:
    page_id, token = sandbox.add_page(name, followers=settings.pop("followers", 0))
    return AccountSettings(
        "soest-facebook",
        sandbox.url,
        {"page_id": page_id, **settings},
        secret={"token": token}.__getitem__,
    )


@pytest.fixture
def channel(sandbox: FacebookSandbox, session: requests.Session) -> FacebookChannel:
    return FacebookChannel(account_on(sandbox), session, timeout=5)


def post(text: str = "Soest wird klimaneutral. #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


def png(folder: Path, name: str = "altstadt.png", size: tuple[int, int] = (40, 40)) -> MediaFile:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    Image.new("RGB", size, (30, 120, 60)).save(path)
    return MediaFile(path, f"Luftbild: {name}", "image/png")


def seen(sandbox: FacebookSandbox) -> list[str]:
    return [f"{r.method} {r.path}" for r in sandbox.requests_seen]


# --- publish ----------------------------------------------------------------------------------


def test_text_post_goes_to_the_feed_with_its_first_link(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    receipt = channel.publish(
        post("Mehr zur Konferenz: https://smartcities-suedwestfalen.com/konferenz/. #5malklug")
    )

    [created] = sandbox.statuses()
    page_id = channel.page_id
    assert receipt.remote_id == created.id
    assert created.id.startswith(f"{page_id}_")
    assert created.kind == "link"
    assert created.link == "https://smartcities-suedwestfalen.com/konferenz/"
    assert (
        receipt.url
        == created.permalink
        == f"{sandbox.url}/{page_id}/posts/{created.id[len(page_id) + 1 :]}"
    )
    assert receipt.published_at >= before.replace(microsecond=0)
    assert seen(sandbox) == [
        f"POST /v25.0/{page_id}/feed",
        f"GET /v25.0/{created.id}",
    ]


def test_api_version_comes_from_the_account(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    channel = FacebookChannel(account_on(sandbox, api_version="23"), session)

    channel.publish(post())

    assert {r.version for r in sandbox.requests_seen} == {"v23.0"}


def test_an_unusable_api_version_is_a_configuration_error(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    with pytest.raises(ChannelError, match="api_version") as caught:
        FacebookChannel(account_on(sandbox, api_version="latest"), session)

    assert type(caught.value) is ChannelError


def test_one_image_is_a_photo_post_with_caption_and_alt_text(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    image = png(tmp_path / "media")

    receipt = channel.publish(post("Die Altstadt von oben", media=(image,)))

    [created] = sandbox.statuses()
    assert receipt.remote_id == created.id
    assert (created.kind, created.text) == ("photo", "Die Altstadt von oben")
    assert [(m.alt, m.content_type) for m in created.media] == [(image.alt, "image/png")]


def test_photo_post_id_is_read_from_the_photo_when_the_answer_lacks_it(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    sandbox.configure(photo_post_id=False)

    receipt = channel.publish(post("Foto", media=(png(tmp_path),)))

    [created] = sandbox.statuses()
    assert receipt.remote_id == created.id
    assert any("page_story_id" in r.query for r in sandbox.requests_seen)


def test_several_images_are_uploaded_unpublished_then_attached_to_one_post(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    images = (png(tmp_path, "a.png"), png(tmp_path, "b.png"))

    receipt = channel.publish(post("Zwei Bilder", media=images))

    [created] = sandbox.statuses()
    assert receipt.remote_id == created.id
    assert created.kind == "album"
    assert [m.alt for m in created.media] == [images[0].alt, images[1].alt]
    page_id = channel.page_id
    assert seen(sandbox)[:3] == [f"POST /v25.0/{page_id}/photos"] * 2 + [
        f"POST /v25.0/{page_id}/feed"
    ]


def test_a_reply_is_a_comment_of_the_page_under_the_parent(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    first = channel.publish(post("Teil 1"))

    second = channel.publish(post("Teil 2", reply_to=first.remote_id))
    third = channel.publish(post("Teil 3", reply_to=first.remote_id, media=(png(tmp_path),)))

    by_id = {p.id: p for p in sandbox.statuses()}
    assert by_id[second.remote_id].kind == "comment"
    assert by_id[second.remote_id].reply_to == first.remote_id
    assert second.url is not None and "comment_id=" in second.url
    assert [m.alt for m in by_id[third.remote_id].media] == ["Luftbild: altstadt.png"]


def test_missing_media_file_is_rejected_before_anything_is_sent(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    gone = MediaFile(tmp_path / "gone.png", "alt", "image/png")

    with pytest.raises(RejectedError, match=r"gone\.png"):
        channel.publish(post(media=(gone,)))

    assert sandbox.requests_seen == []


def test_validate_refuses_documents_video_replies_and_empty_posts(
    channel: FacebookChannel, tmp_path: Path
) -> None:
    video = MediaFile(tmp_path / "clip.mp4", None, "video/mp4")
    document = MediaFile(tmp_path / "flyer.pdf", None, "application/pdf")

    assert channel.validate(post(media=(video,))) == []
    assert channel.validate(post(media=(video, png(tmp_path)))) == [
        "Facebook takes a video only without images"
    ]
    assert channel.validate(post(media=(video,), reply_to="1_2")) == [
        "facebook: a reply (a comment) cannot carry a video"
    ]
    assert channel.validate(post(media=(document,))) == [
        "Facebook takes only images and videos, not application/pdf (flyer.pdf)"
    ]
    assert channel.validate(post("  ")) == ["facebook: the post has neither text nor an image"]


def test_a_video_is_posted_to_videos_and_polled_until_it_names_its_post(
    sandbox: FacebookSandbox, session: requests.Session, tmp_path: Path
) -> None:
    video = MediaFile(make_video(tmp_path / "gruss.mp4"), "Video: Grußwort", "video/mp4")
    pauses: list[float] = []
    channel = FacebookChannel(
        account_on(sandbox), session, timeout=5, poll_interval=4.0, sleep=pauses.append
    )

    receipt = channel.publish(post("Unser Grußwort #5malklug", media=(video,)))

    [created] = sandbox.statuses()
    assert receipt.remote_id == created.id
    assert (created.kind, created.text) == ("video", "Unser Grußwort #5malklug")
    [media] = created.media
    assert (media.content_type, media.size) == ("video/mp4", video.path.stat().st_size)
    page = channel.page_id
    video_id = created.id.split("_", 1)[1]
    version = channel.api.version
    assert seen(sandbox) == [
        f"POST /{version}/{page}/videos",
        *[f"GET /{version}/{video_id}"] * 3,  # processing, processing, ready with its post_id
        f"GET /{version}/{created.id}",
    ]
    assert pauses == [4.0, 4.0]  # the injected sleep


def test_a_video_facebook_cannot_process_is_a_rejection(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    video = MediaFile(make_video(tmp_path / "gruss.mp4"), None, "video/mp4")
    sandbox.fail_video_processing()
    with pytest.raises(RejectedError, match="could not process the video"):
        channel.publish(post(media=(video,)))


def test_a_video_still_processing_after_the_last_check_is_an_unknown_outcome(
    sandbox: FacebookSandbox, session: requests.Session, tmp_path: Path
) -> None:
    """The post exists but has no name yet: the lookup after an unknown outcome finds it."""
    video = MediaFile(make_video(tmp_path / "gruss.mp4"), None, "video/mp4")
    sandbox.video_polls = 10
    channel = FacebookChannel(account_on(sandbox), session, timeout=5, poll_interval=0, max_polls=2)
    sent = post(media=(video,))
    with pytest.raises(OutcomeUnknownError, match="still being processed"):
        channel.publish(sent)
    [created] = sandbox.statuses()
    found = channel.look_up(sent, since=datetime.now(UTC) - timedelta(minutes=5))
    assert found is not None and found.remote_id == created.id


def test_a_file_that_is_no_video_is_refused_by_facebook(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    fake = tmp_path / "kaputt.mp4"
    fake.write_bytes(b"kein Video")
    with pytest.raises(RejectedError, match="format that we don't support"):
        channel.publish(post(media=(MediaFile(fake, None, "video/mp4"),)))
    assert sandbox.statuses() == []


# --- errors -----------------------------------------------------------------------------------


def test_expired_token_is_an_auth_error_naming_the_reason(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    account = account_on(sandbox)
    sandbox.revoke(account.secret("token"), subcode=463)

    with pytest.raises(AuthError, match="the token has expired") as caught:
        FacebookChannel(account, session).publish(post())

    assert caught.value.network_message == "Error validating access token: Session has expired."
    assert not caught.value.retryable


def test_missing_token_is_an_auth_error_without_a_call(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    account = AccountSettings("x", sandbox.url, {"page_id": "1"}, secret=lambda key: "")

    with pytest.raises(AuthError, match="no access token"):
        FacebookChannel(account, session).publish(post())

    assert sandbox.requests_seen == []


def test_posting_to_another_page_is_a_permission_error(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    other_page, _ = sandbox.add_page("Kreisstadt Olpe")
    mine = account_on(sandbox)
    wrong = AccountSettings("x", sandbox.url, {"page_id": other_page}, secret=mine.secret)

    with pytest.raises(AuthError, match="#200"):
        FacebookChannel(wrong, session).publish(post())


def test_page_throttling_gives_retry_at_from_the_business_use_case_header(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    sandbox.rate_limit_next(reset_in=150)  # rounded up to 3 minutes
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())

    assert caught.value.retry_at is not None
    wait = caught.value.retry_at - before
    assert timedelta(minutes=3) <= wait < timedelta(minutes=3, seconds=5)
    assert caught.value.network_message is not None and "#80001" in caught.value.network_message
    assert sandbox.statuses() == []


def test_throttling_without_an_estimate_waits_fifteen_minutes(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    sandbox.configure(usage_headers=["x-app-usage"])
    sandbox.fail_next(status=400, code=613, message="(#613) Calls to this api have exceeded")
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())

    assert caught.value.retry_at is not None
    assert (
        timedelta(minutes=15) <= caught.value.retry_at - before < timedelta(minutes=15, seconds=5)
    )


def test_page_usage_header_estimate_is_used_when_it_is_the_only_one(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    sandbox.configure(usage_headers=["x-page-usage"])
    sandbox.rate_limit_next(reset_in=60)
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())

    assert caught.value.retry_at is not None
    assert timedelta(minutes=1) <= caught.value.retry_at - before < timedelta(minutes=1, seconds=5)


def test_a_used_up_call_budget_answers_80001_and_is_rate_limited(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    sandbox.configure(buc_budget=2)
    channel = FacebookChannel(account_on(sandbox), session)
    channel.publish(post("Eins"))  # feed + permalink read: two calls

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post("Zwei"))

    assert caught.value.retry_at is not None
    assert caught.value.retry_at - datetime.now(UTC) > timedelta(hours=23)


def test_identical_text_twice_in_a_row_is_refused_as_a_duplicate(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    channel.publish(post("Gleicher Text"))

    with pytest.raises(RejectedError) as caught:
        channel.publish(post("Gleicher Text"))

    assert caught.value.network_message == "(#506) Duplicate status message"
    assert len(sandbox.statuses()) == 1


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 368, RejectedError),  # blocked for policy reasons
        (400, 100, RejectedError),
        (500, 2, UnavailableError),  # service temporarily unavailable
        (500, 1, OutcomeUnknownError),  # unknown error on the creating call
        (400, 190, AuthError),
        (403, 10, AuthError),
        (400, 17, RateLimitedError),
        (400, 4, RateLimitedError),
        (400, 32, RateLimitedError),
    ],
)
def test_graph_codes_on_the_creating_call_map_to_error_classes(
    channel: FacebookChannel,
    sandbox: FacebookSandbox,
    status: int,
    code: int,
    expected: type[ChannelError],
) -> None:
    sandbox.fail_next(status=status, code=code)

    with pytest.raises(expected):
        channel.publish(post())

    assert sandbox.statuses() == []


def response(
    status: int, body: object | None = None, headers: dict[str, str] | None = None
) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = b"" if body is None else json.dumps(body).encode()
    answer.headers.update(headers or {})
    return answer


NOW = datetime(2030, 1, 1, tzinfo=UTC)


def graph_error(answer: requests.Response, *, creates: bool) -> ChannelError:
    """What a Graph client makes of ``answer`` to a call, at :data:`NOW`."""
    account = AccountSettings("t", "https://graph.facebook.com", secret=lambda key: "token")
    api = _graph.GraphApi("facebook", account, requests.Session(), clock=lambda: NOW)
    return api.error(answer, "POST /x", creates=creates)


@pytest.mark.parametrize(
    ("answer", "creates", "expected"),
    [
        (response(502), True, OutcomeUnknownError),
        (response(502), False, UnavailableError),
        (response(503), True, UnavailableError),
        (response(401), False, AuthError),
        (response(404), False, _graph.GraphNotFoundError),
        (response(418), False, RejectedError),
        (
            response(400, {"error": {"message": "x", "code": 100, "is_transient": True}}),
            True,
            UnavailableError,
        ),
        (
            response(400, {"error": {"message": "x", "code": 9007, "error_subcode": 2207027}}),
            True,
            UnavailableError,
        ),
        (
            response(400, {"error": {"message": "x", "code": 100, "error_subcode": 33}}),
            False,
            _graph.GraphNotFoundError,
        ),
        (response(400, {"error": {"message": "x", "code": "190"}}), False, AuthError),
    ],
)
def test_error_for_without_a_sandbox(
    answer: requests.Response, creates: bool, expected: type[ChannelError]
) -> None:
    error = graph_error(answer, creates=creates)

    assert type(error) is expected


def test_a_used_up_publishing_quota_waits_an_hour() -> None:
    answer = response(400, {"error": {"message": "limit", "code": 9, "error_subcode": 2207042}})

    error = graph_error(answer, creates=True)

    assert isinstance(error, RateLimitedError)
    assert error.retry_at == NOW + timedelta(hours=1)


def test_429_without_envelope_reads_retry_after() -> None:
    error = graph_error(response(429, headers={"Retry-After": "90"}), creates=True)

    assert isinstance(error, RateLimitedError)
    assert error.retry_at == NOW + timedelta(seconds=90)


def test_usage_headers_are_read_and_broken_ones_ignored() -> None:
    usage = read_usage(
        {
            "X-App-Usage": '{"call_count": 12, "total_time": 40, "total_cputime": 3}',
            "X-Business-Use-Case-Usage": '{"1": [{"type": "pages", "call_count": 95, '
            '"estimated_time_to_regain_access": 7}, {"estimated_time_to_regain_access": 2}]}',
            "X-Page-Usage": "{not json",
        }
    )

    assert usage == _graph.Usage(highest_percent=95, regain_minutes=7)
    assert read_usage({}) is None


# --- recovery ---------------------------------------------------------------------------------


def test_lost_answer_is_unknown_and_look_up_finds_the_post(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    since = datetime.now(UTC)
    channel.publish(post("Ein älterer Beitrag"))
    outbound = post("Der Beitrag, um den es geht")
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    found = channel.look_up(outbound, since=since)

    created = [p for p in sandbox.statuses() if p.text == outbound.text]
    assert len(created) == 1
    assert found is not None
    assert (found.remote_id, found.url) == (created[0].id, created[0].permalink)


def test_lost_answer_of_a_photo_post_is_found_by_its_caption(
    channel: FacebookChannel, sandbox: FacebookSandbox, tmp_path: Path
) -> None:
    since = datetime.now(UTC)
    outbound = post("Bildunterschrift", media=(png(tmp_path),))
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    found = channel.look_up(outbound, since=since)

    [created] = sandbox.statuses()
    assert found is not None and found.remote_id == created.id


def test_look_up_ignores_whitespace_and_visitor_posts_with_the_same_text(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    since = datetime.now(UTC)
    sandbox.add_visitor_post(channel.page_id, "Zeile eins Zeile zwei")
    published = channel.publish(post("Zeile eins\nZeile zwei  "))

    found = channel.look_up(post("Zeile eins Zeile\tzwei"), since=since)

    assert found is not None and found.remote_id == published.remote_id


def test_look_up_matches_only_posts_created_since_since(session: requests.Session) -> None:
    clock = Clock()
    with FacebookSandbox(clock=clock) as sandbox:
        sandbox.configure(refuse_duplicates=False)
        channel = FacebookChannel(account_on(sandbox), session)
        channel.publish(post("Gleicher Text"))  # published on purpose an hour earlier
        clock.now += 3600
        since = datetime.fromtimestamp(clock.now, UTC)

        assert channel.look_up(post("Gleicher Text"), since=since) is None

        again = channel.publish(post("Gleicher Text"))
        clock.now += 5
        assert channel.look_up(post("Gleicher Text"), since=since) == again


def test_look_up_pages_back_and_gives_up_when_the_pages_run_out(
    channel: FacebookChannel, sandbox: FacebookSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    since = datetime.now(UTC)
    target = channel.publish(post("Der erste von vielen"))
    for number in range(60):
        channel.publish(post(f"Füllbeitrag {number}"))

    assert channel.look_up(post("Der erste von vielen"), since=since) == target

    monkeypatch.setattr(_graph, "LOOK_UP_MAX_PAGES", 1)
    with pytest.raises(OutcomeUnknownError, match="more than 1 pages"):
        channel.look_up(post("Der erste von vielen"), since=since)


def test_look_up_of_a_reply_searches_the_parents_comments(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    since = datetime.now(UTC)
    parent = channel.publish(post("Teil 1"))
    reply = post("Teil 2", reply_to=parent.remote_id)
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(reply)
    found = channel.look_up(reply, since=since)

    assert found is not None
    assert found.remote_id == next(p.id for p in sandbox.statuses() if p.text == "Teil 2")


# --- metrics, delete, verify ------------------------------------------------------------------


def test_fetch_metrics_reads_reactions_comments_shares_insights_and_followers(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    channel = FacebookChannel(account_on(sandbox, followers=321), session)
    receipt = channel.publish(post())
    channel.publish(post("Kommentar", reply_to=receipt.remote_id))
    sandbox.set_engagement(
        receipt.remote_id, reactions=7, shares=2, comments=3, views=400, reach=250, clicks=9
    )

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.replies, metrics.reposts) == (7, 4, 2)
    assert (metrics.views, metrics.reach, metrics.clicks) == (400, 250, 9)
    assert metrics.followers == 321
    assert metrics.quotes is None


def test_fetch_metrics_without_shares_counts_zero_and_skips_a_refused_metric(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    sandbox.configure(insight_metrics=["post_total_media_view_unique", "post_clicks"])
    receipt = channel.publish(post())
    sandbox.set_engagement(receipt.remote_id, reach=10, clicks=1)

    metrics = channel.fetch_metrics(receipt)

    assert metrics.reposts == 0
    assert (metrics.views, metrics.reach, metrics.clicks) == (None, 10, 1)


def test_fetch_metrics_of_a_comment_reads_its_likes_and_replies(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    parent = channel.publish(post("Teil 1"))
    reply = channel.publish(post("Teil 2", reply_to=parent.remote_id))
    sandbox.set_engagement(reply.remote_id, reactions=4)

    metrics = channel.fetch_metrics(reply)

    assert (metrics.likes, metrics.replies, metrics.views) == (4, 0, None)


def test_delete_removes_the_post_and_tolerates_a_second_delete(
    channel: FacebookChannel, sandbox: FacebookSandbox
) -> None:
    receipt = channel.publish(post())

    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)

    assert [p.deleted for p in sandbox.statuses()] == [True]
    with pytest.raises(_graph.GraphNotFoundError):
        channel.fetch_metrics(receipt)


def test_verify_returns_the_page_name(channel: FacebookChannel) -> None:
    assert channel.verify() == "Stadt Soest"


def test_verify_refuses_a_token_of_another_page(
    sandbox: FacebookSandbox, session: requests.Session
) -> None:
    mine = account_on(sandbox)
    other_page, _ = sandbox.add_page("Kreisstadt Olpe")
    wrong = AccountSettings("x", sandbox.url, {"page_id": other_page}, secret=mine.secret)

    with pytest.raises(AuthError, match="belongs to Stadt Soest"):
        FacebookChannel(wrong, session).verify()


def test_token_never_appears_in_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    # On loopback, so that urllib3 logs the requests as it would against Meta.
    with FacebookSandbox() as sandbox, make_session() as session:
        account = account_on(sandbox)
        token = account.secret("token")
        channel = FacebookChannel(account, session)
        caplog.set_level(logging.DEBUG)

        receipt = channel.publish(post())
        channel.fetch_metrics(receipt)
        sandbox.drop_after_create()
        with pytest.raises(OutcomeUnknownError) as caught:
            channel.publish(post("Noch einer"))

    assert any(r.name == "urllib3.connectionpool" for r in caplog.records)
    assert token not in caplog.text
    assert token not in str(caught.value)
    assert all(token not in r.query for r in sandbox.requests_seen)


def test_media_url_is_the_path_below_the_media_folder(tmp_path: Path) -> None:
    account = AccountSettings("a", "", {"media_base_url": "https://www.soest.example/m/"})
    nested = MediaFile(
        tmp_path / "posts" / "soest" / "media" / "2026" / "Rathaus 1.png", None, "image/png"
    )
    loose = MediaFile(tmp_path / "elsewhere" / "x.png", None, "image/png")

    assert media_url(account, nested) == "https://www.soest.example/m/2026/Rathaus%201.png"
    assert media_url(account, loose) == "https://www.soest.example/m/x.png"
    with pytest.raises(RejectedError, match="media_base_url"):
        media_url(AccountSettings("a", ""), loose)
