"""LinkedInChannel against the loopback LinkedInSandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels import linkedin as linkedin_module
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.linkedin import (
    DEFAULT_API_VERSION,
    LinkedInChannel,
    from_little,
    to_little,
)
from campaign_scheduler.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox.linkedin import LinkedInAccount, LinkedInSandbox, parse_little
from conftest import make_video
from sandbox_clock import Clock

TEXT = "Die Südwestfalen Agentur lädt ein: Smart Cities (Konferenz) am 18.11. – #5malklug"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[LinkedInSandbox]:
    with LinkedInSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def account(sandbox: LinkedInSandbox) -> LinkedInAccount:
    return sandbox.add_account("Südwestfalen Agentur", followers=4321)


@pytest.fixture
def session(sandbox: LinkedInSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def channel_for(
    sandbox: LinkedInSandbox,
    account: LinkedInAccount,
    session: requests.Session,
    **settings: Any,
) -> LinkedInChannel:
    settings.setdefault("organization", account.organization)
    token = settings.pop("token", account.token)
    config = AccountSettings(
        "suedwestfalen-linkedin", sandbox.url, settings, secret=lambda key: token
    )
    return LinkedInChannel(config, session, timeout=5.0, poll_interval=0, sleep=lambda s: None)


@pytest.fixture
def channel(
    sandbox: LinkedInSandbox, account: LinkedInAccount, session: requests.Session
) -> LinkedInChannel:
    return channel_for(sandbox, account, session)


def post(text: str = TEXT, **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "ideen-2026.png"
    Image.new("RGB", (120, 80), (0, 90, 100)).save(path)
    return MediaFile(path, "Grafik: „Ideen bis 2026“ mit drei Punkten", "image/png")


# --- the little text format -------------------------------------------------------------------


def test_to_little_escapes_reserved_characters_but_keeps_hashtags() -> None:
    assert to_little("Soest (NRW) #5malklug") == "Soest \\(NRW\\) #5malklug"
    assert to_little("a_b *c* ~d~ <e> [f] {g} h|i @j \\k") == (
        "a\\_b \\*c\\* \\~d\\~ \\<e\\> \\[f\\] \\{g\\} h\\|i \\@j \\\\k"
    )
    assert to_little("#Südwestfalen und #Smart_City") == "#Südwestfalen und #Smart\\_City"
    assert to_little("C# und Nr.#1 und # allein") == "C\\# und Nr.#1 und \\# allein"
    assert to_little("Mehr: https://example.org/a_b?x=(1)") == (
        "Mehr: https://example.org/a\\_b?x=\\(1\\)"
    )


@pytest.mark.parametrize(
    "text",
    [TEXT, "a_b *c* ~d~ <e> [f] {g} h|i @j \\k #tag", "C# (x) #5malklug_2", "Ende\\"],
)
def test_escaped_text_reads_back_unchanged(text: str) -> None:
    commentary = to_little(text)
    assert from_little(commentary) == text
    assert parse_little(commentary) == (text, None)  # the sandbox's reading: nothing cut off


# --- publishing -------------------------------------------------------------------------------


def test_publish_creates_a_post_with_escaped_commentary(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, account: LinkedInAccount
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=2)
    receipt = channel.publish(post())

    [created] = sandbox.statuses()
    assert created.author == account.organization
    assert created.commentary == to_little(TEXT)
    assert created.text == TEXT  # nothing was cut off
    assert receipt.remote_id == created.urn and created.urn.startswith("urn:li:share:")
    assert receipt.url == f"https://www.linkedin.com/feed/update/{created.urn}/"
    assert before <= receipt.published_at <= datetime.now(UTC) + timedelta(seconds=2)
    [request] = [r for r in sandbox.requests_seen if r.method == "POST"]
    assert request.version == DEFAULT_API_VERSION


def test_unescaped_text_would_be_cut_off(
    sandbox: LinkedInSandbox, account: LinkedInAccount
) -> None:
    # Why to_little matters: the sandbox, like LinkedIn, stops at an unescaped "(".
    headers = {
        "Authorization": f"Bearer {account.token}",
        "LinkedIn-Version": DEFAULT_API_VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    body = {
        "author": account.organization,
        "commentary": TEXT,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
    }
    assert (
        sandbox.session()
        .post(f"{sandbox.url}/rest/posts", json=body, headers=headers, timeout=5)
        .ok
    )
    assert sandbox.statuses()[0].text == "Die Südwestfalen Agentur lädt ein: Smart Cities "


def test_api_version_from_the_account(
    sandbox: LinkedInSandbox, account: LinkedInAccount, session: requests.Session
) -> None:
    channel_for(sandbox, account, session, api_version="202611").publish(post())
    assert {r.version for r in sandbox.requests_seen} == {"202611"}


def test_retired_or_malformed_version_is_an_account_problem(
    sandbox: LinkedInSandbox, account: LinkedInAccount, session: requests.Session
) -> None:
    with pytest.raises(AuthError, match="does not serve API version 202312") as caught:
        channel_for(sandbox, account, session, api_version="202312").publish(post())
    assert caught.value.hint is not None and "api_version" in caught.value.hint
    with pytest.raises(AuthError, match="not YYYYMM"):
        channel_for(sandbox, account, session, api_version="2026-05").publish(post())
    assert sandbox.statuses() == []


def test_organization_may_be_a_number(
    sandbox: LinkedInSandbox, account: LinkedInAccount, session: requests.Session
) -> None:
    number = account.organization.rsplit(":", 1)[1]
    channel_for(sandbox, account, session, organization=number).publish(post())
    with pytest.raises(AuthError, match="must be the page's URN"):
        channel_for(sandbox, account, session, organization="suedwestfalen").publish(post())


def test_image_with_alt_text(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, image: MediaFile
) -> None:
    sandbox.image_processing_polls = 2
    channel.publish(post(media=(image,)))

    [created] = sandbox.statuses()
    [attached] = created.images
    assert attached.alt == image.alt
    assert attached.size == image.path.stat().st_size
    polls = [r for r in sandbox.requests_seen if r.path.startswith("/rest/images/")]
    assert len(polls) == 3  # PROCESSING, PROCESSING, AVAILABLE


def test_two_images_become_a_multi_image_post(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, image: MediaFile
) -> None:
    second = MediaFile(image.path, None, "image/png")
    channel.publish(post(media=(image, second)))
    assert [i.alt for i in sandbox.statuses()[0].images] == [image.alt, None]


def test_a_video_goes_up_in_parts_is_finalized_and_polled_until_available(
    sandbox: LinkedInSandbox,
    account: LinkedInAccount,
    session: requests.Session,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from campaign_scheduler.sandbox import linkedin as sandbox_module

    monkeypatch.setattr(sandbox_module, "VIDEO_PART", 4096)  # several parts of a tiny video
    path = make_video(tmp_path / "gruss.mp4")
    parts = -(-path.stat().st_size // 4096)
    assert parts >= 2
    video = MediaFile(path, "Video: Grußwort", "video/mp4")
    sandbox.image_processing_polls = 2
    channel = channel_for(sandbox, account, session)
    pauses: list[float] = []
    channel._sleep = pauses.append
    channel.poll_interval = 3.0
    fences = 0

    def fence() -> None:
        nonlocal fences
        fences += 1

    receipt = channel.publish(post(media=(video,), checkpoint=fence))

    [created] = sandbox.statuses()
    [attached] = created.images
    assert attached.urn.startswith("urn:li:video:")
    assert attached.size == path.stat().st_size
    assert created.urn == receipt.remote_id
    calls = [f"{r.method} {r.path}" for r in sandbox.requests_seen]
    assert calls[0] == "POST /rest/videos"
    assert sum(1 for c in calls if c.startswith("PUT /dms-uploads/")) == parts
    assert calls[1 + parts] == "POST /rest/videos"  # finalizeUpload
    assert sum(1 for c in calls if c.startswith("GET /rest/videos/")) == 3
    assert calls[-1] == "POST /rest/posts"
    assert pauses == [3.0, 3.0]  # PROCESSING twice, through the injected sleep
    assert fences == 1 + parts + 1 + 1  # before the upload, each part, finalize, the post


def test_a_video_whose_parts_do_not_add_up_is_not_finalized(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, account: LinkedInAccount
) -> None:
    answer = channel.api.json_object(
        channel.api.rest(
            "POST",
            "/rest/videos?action=initializeUpload",
            "ACTION",
            json={"initializeUploadRequest": {"owner": account.organization, "fileSizeBytes": 10}},
        )
    )["value"]
    with pytest.raises(RejectedError, match="do not match the uploaded parts"):
        channel.api.rest(
            "POST",
            "/rest/videos?action=finalizeUpload",
            "ACTION",
            json={
                "finalizeUploadRequest": {
                    "video": answer["video"],
                    "uploadToken": "",
                    "uploadedPartIds": [],
                }
            },
        )


def test_failed_video_processing_is_a_rejection(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, tmp_path: Path
) -> None:
    video = MediaFile(make_video(tmp_path / "gruss.mp4"), "Video", "video/mp4")
    sandbox.fail_image_processing(1)
    with pytest.raises(RejectedError, match="could not process"):
        channel.publish(post(media=(video,)))
    assert sandbox.statuses() == []


def test_failed_image_processing_is_a_rejection(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, image: MediaFile
) -> None:
    sandbox.fail_image_processing(1)
    with pytest.raises(RejectedError, match="could not process"):
        channel.publish(post(media=(image,)))
    assert sandbox.statuses() == []


def test_upload_token_goes_to_linkedin_only(clock: Clock, session: requests.Session) -> None:
    # On loopback: one server under two host names (127.0.0.1 and localhost).
    with LinkedInSandbox(clock=clock) as sandbox:
        channel = channel_for(sandbox, sandbox.add_account("Südwestfalen Agentur"), session)
        same_host = f"{sandbox.url}/dms-uploads/unknown"
        other_host = same_host.replace("127.0.0.1", "localhost")
        with pytest.raises(RejectedError, match="not found"):  # token sent, upload unknown
            channel._put_bytes(same_host, b"x", "image/png")
        with pytest.raises(AuthError, match="Empty oauth2 access token"):  # no token sent
            channel._put_bytes(other_host, b"x", "image/png")


def test_validate(channel: LinkedInChannel, image: MediaFile) -> None:
    assert channel.validate(post()) == []
    assert "3001 of 3000" in channel.validate(post("x" * 3001))[0]
    escaped = channel.validate(post("(" * 1600))
    assert escaped == [
        "text too long for linkedin: 3200 of 3000 UTF-16 code units (200 over) once reserved "
        + "characters are escaped"
    ]
    assert any("cannot reply" in p for p in channel.validate(post(reply_to="urn:li:share:1")))
    document = MediaFile(image.path, None, "application/pdf")
    problems = channel.validate(post(media=(document,)))
    assert "LinkedIn takes only images and videos, not application/pdf (ideen-2026.png)" in problems
    video = MediaFile(image.path, None, "video/mp4")
    assert channel.validate(post(media=(video, image))) == [
        "LinkedIn takes a video only without images"
    ]


def test_replies_are_refused(channel: LinkedInChannel) -> None:
    with pytest.raises(RejectedError, match="cannot reply"):
        channel.publish(post(reply_to="urn:li:share:1"))


# --- errors -----------------------------------------------------------------------------------


def test_expired_token(
    sandbox: LinkedInSandbox, account: LinkedInAccount, session: requests.Session
) -> None:
    sandbox.revoke(account.token)
    with pytest.raises(AuthError) as caught:
        channel_for(sandbox, account, session).publish(post())
    assert caught.value.network_message == "Invalid access token"


def test_member_without_a_page_role(
    sandbox: LinkedInSandbox, account: LinkedInAccount, session: requests.Session
) -> None:
    outsider = sandbox.add_account("Südwestfalen Agentur", role=None)
    with pytest.raises(AuthError) as caught:
        channel_for(sandbox, account, session, token=outsider.token).publish(post())
    assert caught.value.hint is not None and "w_organization_social" in caught.value.hint


def test_throttle_without_a_time_waits_two_minutes(
    channel: LinkedInChannel, sandbox: LinkedInSandbox
) -> None:
    sandbox.rate_limit_next(1)
    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())
    assert caught.value.retry_at is not None
    assert 110 <= (caught.value.retry_at - datetime.now(UTC)).total_seconds() <= 125


def test_daily_quota_waits_for_midnight_utc(
    channel: LinkedInChannel, sandbox: LinkedInSandbox
) -> None:
    sandbox.rate_limit_next(1, daily=True)
    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    assert caught.value.retry_at == datetime(
        tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=UTC
    )


def test_retry_after_header_wins() -> None:
    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = "30"
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    response._content = b'{"message": "APPLICATION DAY limit"}'
    api = linkedin_module.LinkedInApi(
        "linkedin",
        AccountSettings("a", "https://api.linkedin.com"),
        requests.Session(),
        clock=lambda: now,
    )
    assert api.retry_at(response) == now + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, UnavailableError),
        (503, UnavailableError),
        (502, OutcomeUnknownError),
        (504, OutcomeUnknownError),
        (422, RejectedError),
        (400, RejectedError),
    ],
)
def test_statuses_on_create(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, status: int, error: type[Exception]
) -> None:
    sandbox.fail_next(1, status=status)
    with pytest.raises(error) as caught:
        channel.publish(post())
    assert type(caught.value) is error or status in (400, 422)
    assert sandbox.statuses() == []


# --- recovery ---------------------------------------------------------------------------------


def test_look_up_after_a_lost_answer(channel: LinkedInChannel, sandbox: LinkedInSandbox) -> None:
    sent = post()
    sandbox.drop_after_create(1)
    with pytest.raises(OutcomeUnknownError):
        channel.publish(sent)

    found = channel.look_up(sent, since=datetime.now(UTC) - timedelta(minutes=2))

    [created] = sandbox.statuses()
    assert found is not None and found.remote_id == created.urn
    assert found.published_at == created.created_at


def test_look_up_checks_text_images_and_time(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, clock: Clock, image: MediaFile
) -> None:
    clock.now -= 3600
    channel.publish(post("Alt"))
    clock.now += 3600
    with_image = channel.publish(post("Mit Bild", media=(image,)))
    since = datetime.now(UTC) - timedelta(minutes=5)

    assert channel.look_up(post("Alt"), since=since) is None
    assert channel.look_up(post("Mit Bild"), since=since) is None
    found = channel.look_up(post("Mit Bild", media=(image,)), since=since)
    assert found is not None and found.remote_id == with_image.remote_id


def test_look_up_pages(
    channel: LinkedInChannel,
    sandbox: LinkedInSandbox,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for number in range(7):
        clock.now += 1
        channel.publish(post(f"Beitrag {number}"))
    since = datetime.now(UTC) - timedelta(minutes=5)
    monkeypatch.setattr(linkedin_module, "PAGE_SIZE", 3)
    assert channel.look_up(post("Beitrag 0"), since=since) is not None  # third page
    monkeypatch.setattr(linkedin_module, "LOOK_UP_MAX_PAGES", 2)
    with pytest.raises(OutcomeUnknownError, match="search back"):
        channel.look_up(post("Beitrag 0"), since=since)


def test_replay_after_a_lost_answer_adopts_the_first_post(
    channel: LinkedInChannel, sandbox: LinkedInSandbox
) -> None:
    sent = post()
    sandbox.drop_after_create(1)
    with pytest.raises(OutcomeUnknownError):
        channel.publish(sent)

    receipt = channel.publish(sent)  # LinkedIn: 422 DUPLICATE_POST naming the first post

    [created] = sandbox.statuses()
    assert receipt.remote_id == created.urn


def test_duplicate_of_an_old_post_is_rejected(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, clock: Clock
) -> None:
    clock.now -= 3 * 86400
    first = channel.publish(post())
    clock.now += 3 * 86400
    with pytest.raises(RejectedError, match=f"duplicate of {first.remote_id} from"):
        channel.publish(post())


def test_duplicate_of_a_post_with_other_media_is_rejected(
    channel: LinkedInChannel, image: MediaFile
) -> None:
    channel.publish(post(media=(image,)))
    with pytest.raises(RejectedError, match="duplicate of"):
        channel.publish(post())


def test_ghost_duplicate_of_a_deleted_post(
    channel: LinkedInChannel, sandbox: LinkedInSandbox
) -> None:
    sandbox.ghost_duplicates = 36 * 3600
    first = channel.publish(post())
    channel.delete(first.remote_id)
    with pytest.raises(RejectedError, match="no longer exists"):
        channel.publish(post())


def test_encoded_restli_id(channel: LinkedInChannel, sandbox: LinkedInSandbox) -> None:
    sandbox.encode_restli_id = True
    receipt = channel.publish(post())
    assert receipt.remote_id == sandbox.statuses()[0].urn


# --- metrics, delete, verify ------------------------------------------------------------------


def test_metrics(channel: LinkedInChannel, sandbox: LinkedInSandbox) -> None:
    receipt = channel.publish(post())
    sandbox.set_statistics(
        receipt.remote_id,
        impressionCount=1200,
        uniqueImpressionsCount=800,
        clickCount=40,
        likeCount=25,
        commentCount=3,
        shareCount=2,
    )
    metrics = channel.fetch_metrics(receipt)
    assert (metrics.views, metrics.reach, metrics.clicks) == (1200, 800, 40)
    assert (metrics.likes, metrics.replies, metrics.reposts) == (25, 3, 2)
    assert metrics.followers == 4321
    assert metrics.quotes is None


def test_metrics_of_a_ugc_post(
    channel: LinkedInChannel, sandbox: LinkedInSandbox, image: MediaFile
) -> None:
    sandbox.ugc_for_media = True
    receipt = channel.publish(post(media=(image,)))
    assert receipt.remote_id.startswith("urn:li:ugcPost:")
    sandbox.set_statistics(receipt.remote_id, likeCount=7)
    assert channel.fetch_metrics(receipt).likes == 7


def test_metrics_need_the_admin_role(
    sandbox: LinkedInSandbox, account: LinkedInAccount, session: requests.Session
) -> None:
    editor = sandbox.add_account("Südwestfalen Agentur", role="CONTENT_ADMIN")
    channel = channel_for(sandbox, account, session, token=editor.token)
    receipt = channel.publish(post())
    with pytest.raises(AuthError):
        channel.fetch_metrics(receipt)


@pytest.mark.parametrize("missing", [204, 404])
def test_delete_twice(channel: LinkedInChannel, sandbox: LinkedInSandbox, missing: int) -> None:
    sandbox.delete_missing_status = missing
    receipt = channel.publish(post())
    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)
    assert [p.deleted for p in sandbox.statuses()] == [True]


def test_verify_names_the_page(channel: LinkedInChannel, account: LinkedInAccount) -> None:
    assert channel.verify() == f"Südwestfalen Agentur ({account.organization})"
