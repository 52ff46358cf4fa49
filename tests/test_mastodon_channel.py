"""MastodonChannel against the loopback MastodonSandbox, plus the transport-error translation
of channels/_http.py and the channel registry."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image
from requests.adapters import BaseAdapter
from urllib3.exceptions import (
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
)

from campaign_scheduler.channels import mastodon as mastodon_module
from campaign_scheduler.channels import registry
from campaign_scheduler.channels._http import USER_AGENT, make_session, send
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost, Receipt
from campaign_scheduler.channels.mastodon import MastodonChannel, clear_instance_cache
from campaign_scheduler.errors import (
    AuthError,
    ChannelError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox import MastodonSandbox
from conftest import make_video

FIXED_NOW = 1_900_000_000.0  # 2030-03-17, later than any real clock these tests run on


@pytest.fixture(autouse=True)
def _fresh_instance_cache() -> Iterator[None]:
    clear_instance_cache()
    yield
    clear_instance_cache()


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox().start_in_process() as server:
        yield server


@pytest.fixture
def session(sandbox: MastodonSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def account_on(
    sandbox: MastodonSandbox, username: str = "soest", **settings: Any
) -> AccountSettings:
    token = sandbox.add_account(username, followers=settings.pop("followers", 0))
    secrets = {"token": token}
    return AccountSettings(
        f"{username}-mastodon", sandbox.url, settings=settings, secret=secrets.__getitem__
    )


@pytest.fixture
def channel(sandbox: MastodonSandbox, session: requests.Session) -> MastodonChannel:
    return MastodonChannel(account_on(sandbox), session, timeout=5, poll_interval=0)


def post(text: str = "Soest wird klimaneutral. #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", str(uuid.uuid4()))
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "altstadt.png"
    Image.new("RGB", (4, 3), (30, 200, 30)).save(path)
    return MediaFile(path, "Luftbild der Soester Altstadt mit Solardächern", "image/png")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- publish ----------------------------------------------------------------------------------


def test_publish_creates_status_with_language_and_alt_text(
    channel: MastodonChannel, sandbox: MastodonSandbox, image: MediaFile
) -> None:
    outbound = post(media=(image,))

    receipt = channel.publish(outbound)

    [status] = sandbox.statuses()
    assert receipt.remote_id == status.id
    assert receipt.url == f"{sandbox.url}/@soest/{status.id}"
    assert receipt.published_at == status.created_at
    assert receipt.published_at.tzinfo is not None
    assert status.text == outbound.text
    assert status.language == "de"
    assert status.visibility == "public"
    assert status.idempotency_key == outbound.idempotency_key
    assert [(m.alt, m.mime_type) for m in status.media] == [(image.alt, "image/png")]


def test_publish_polls_media_still_processing_before_attaching(
    sandbox: MastodonSandbox, session: requests.Session, image: MediaFile
) -> None:
    sandbox.media_processing_polls = 3
    pauses: list[float] = []
    channel = MastodonChannel(account_on(sandbox), session, poll_interval=0.25, sleep=pauses.append)

    channel.publish(post(media=(image,)))

    calls = [f"{r.method} {r.path}" for r in sandbox.requests_seen]
    media_id = calls[1].rsplit("/", 1)[1]
    assert calls == [
        "POST /api/v2/media",
        *[f"GET /api/v1/media/{media_id}"] * 4,  # 206, 206, 206, 200
        "POST /api/v1/statuses",
    ]
    assert pauses == [0.25] * 4
    assert len(sandbox.statuses()[0].media) == 1


def test_a_video_is_processed_asynchronously_and_polled_with_the_injected_sleep(
    sandbox: MastodonSandbox, session: requests.Session, tmp_path: Path
) -> None:
    video = MediaFile(make_video(tmp_path / "gruss.mp4"), "Video: Grußwort", "video/mp4")
    pauses: list[float] = []
    channel = MastodonChannel(account_on(sandbox), session, poll_interval=2.0, sleep=pauses.append)

    channel.publish(post(media=(video,)))

    calls = [f"{r.method} {r.path}" for r in sandbox.requests_seen]
    media_id = calls[1].rsplit("/", 1)[1]
    assert calls == [
        "POST /api/v2/media",  # 202: a video is never ready at once
        f"GET /api/v1/media/{media_id}",  # 206
        f"GET /api/v1/media/{media_id}",  # 200 with its url
        "POST /api/v1/statuses",
    ]
    assert pauses == [2.0, 2.0]
    [status] = sandbox.statuses()
    assert [(m.alt, m.mime_type) for m in status.media] == [("Video: Grußwort", "video/mp4")]


def test_a_video_beside_an_image_is_refused_before_anything_is_uploaded(
    channel: MastodonChannel, sandbox: MastodonSandbox, image: MediaFile, tmp_path: Path
) -> None:
    video = MediaFile(tmp_path / "gruss.mp4", "Video: Grußwort", "video/mp4")
    assert channel.validate(post(media=(video, image))) == [
        "Mastodon takes a video only without images"
    ]
    assert channel.validate(post(media=(video, video))) == ["at most 1 video per post on Mastodon"]
    assert [r.path for r in sandbox.requests_seen] == ["/api/v2/instance"]  # the text limit


def test_media_that_fails_processing_is_rejected_and_nothing_is_posted(
    channel: MastodonChannel, sandbox: MastodonSandbox, image: MediaFile
) -> None:
    sandbox.fail_media_processing()

    with pytest.raises(RejectedError):
        channel.publish(post(media=(image,)))

    assert sandbox.statuses() == []


def test_media_still_processing_after_the_last_poll_is_unavailable(
    sandbox: MastodonSandbox, session: requests.Session, image: MediaFile
) -> None:
    sandbox.media_processing_polls = 10
    channel = MastodonChannel(account_on(sandbox), session, poll_interval=0, max_polls=2)

    with pytest.raises(UnavailableError, match="still being processed"):
        channel.publish(post(media=(image,)))

    assert sandbox.statuses() == []


def test_missing_media_file_is_rejected(channel: MastodonChannel, tmp_path: Path) -> None:
    missing = MediaFile(tmp_path / "gone.png", "alt", "image/png")

    with pytest.raises(RejectedError, match=r"gone\.png"):
        channel.publish(post(media=(missing,)))


def test_reply_is_posted_under_its_parent(
    channel: MastodonChannel, sandbox: MastodonSandbox
) -> None:
    first = channel.publish(post("Teil 1"))

    second = channel.publish(post("Teil 2", reply_to=first.remote_id))

    assert [s.in_reply_to_id for s in sandbox.statuses()] == [None, first.remote_id]
    assert second.remote_id != first.remote_id


# --- idempotency ------------------------------------------------------------------------------


def test_publishing_again_with_the_same_key_returns_the_first_status(
    channel: MastodonChannel, sandbox: MastodonSandbox
) -> None:
    outbound = post()

    first = channel.publish(outbound)
    again = channel.publish(outbound)

    assert again == first
    assert len(sandbox.statuses()) == 1


def test_retry_while_the_first_request_is_still_open_gets_the_same_status(
    channel: MastodonChannel, sandbox: MastodonSandbox
) -> None:
    outbound = post()
    held = sandbox.hold_after_create()
    results: list[Receipt] = []
    first = threading.Thread(target=lambda: results.append(channel.publish(outbound)))
    first.start()
    assert held.wait(5)

    retry = channel.publish(outbound)
    sandbox.release()
    first.join(5)

    assert results == [retry]
    assert len(sandbox.statuses()) == 1


# --- HTTP errors ------------------------------------------------------------------------------


def test_revoked_token_raises_auth_error_with_the_servers_words(
    sandbox: MastodonSandbox, session: requests.Session
) -> None:
    account = account_on(sandbox)
    sandbox.revoke(account.secret("token"))
    channel = MastodonChannel(account, session)

    with pytest.raises(AuthError) as caught:
        channel.publish(post())

    assert caught.value.network_message == "The access token is invalid"
    assert not caught.value.retryable


def test_forbidden_raises_auth_error(channel: MastodonChannel, sandbox: MastodonSandbox) -> None:
    sandbox.fail_next(status=403)

    with pytest.raises(AuthError) as caught:
        channel.publish(post())

    assert caught.value.network_message == "This action is not allowed"


def test_missing_token_raises_auth_error_without_calling(
    sandbox: MastodonSandbox, session: requests.Session
) -> None:
    account = AccountSettings("soest-mastodon", sandbox.url, secret=lambda key: "")

    with pytest.raises(AuthError, match="no access token"):
        MastodonChannel(account, session).publish(post())

    assert sandbox.requests_seen == []


def test_too_long_text_is_rejected_with_the_servers_message(channel: MastodonChannel) -> None:
    with pytest.raises(RejectedError) as caught:
        channel.publish(post("x" * 501))

    assert caught.value.network_message == "Validation failed: Text character limit of 500 exceeded"
    assert not caught.value.retryable


def test_reply_to_a_missing_status_is_rejected(channel: MastodonChannel) -> None:
    with pytest.raises(RejectedError) as caught:
        channel.publish(post(reply_to="123456789"))

    assert caught.value.network_message == (
        "The post you are trying to reply to does not appear to exist."
    )


def test_rate_limit_gives_retry_at_from_the_reset_header(session: requests.Session) -> None:
    with MastodonSandbox(clock=lambda: FIXED_NOW) as sandbox:
        channel = MastodonChannel(account_on(sandbox), session)
        sandbox.rate_limit_next(reset_in=90)

        with pytest.raises(RateLimitedError) as caught:
            channel.publish(post())

    assert caught.value.retry_at == datetime.fromtimestamp(FIXED_NOW + 90, UTC)
    assert caught.value.network_message == "Too many requests"
    assert sandbox.statuses() == []


def test_rate_limit_without_reset_header_waits_a_minute(
    sandbox: MastodonSandbox, session: requests.Session
) -> None:
    now = datetime.fromtimestamp(FIXED_NOW, UTC)
    channel = MastodonChannel(account_on(sandbox), session, timeout=5, clock=lambda: now)
    sandbox.fail_next(status=429)  # a bare 429, no X-RateLimit-* headers

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())

    assert caught.value.retry_at == now + timedelta(seconds=60)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RateLimit-Reset": "2030-03-17T17:46:40.123456Z"}, "2030-03-17T17:46:40.123456+00:00"),
        ({"X-RateLimit-Reset": "2030-03-17T19:46:40.000000+02:00"}, "2030-03-17T17:46:40+00:00"),
        ({"X-RateLimit-Reset": "1900000000"}, "2030-03-17T17:46:40+00:00"),
        ({"Retry-After": "30"}, "2030-01-01T00:00:30+00:00"),
        ({"X-RateLimit-Reset": "soon"}, "2030-01-01T00:01:00+00:00"),
    ],
)
def test_retry_at_reads_the_reset_formats_seen_in_the_wild(
    headers: dict[str, str], expected: str
) -> None:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    now = datetime(2030, 1, 1, tzinfo=UTC)

    api = mastodon_module.MastodonApi(
        "mastodon",
        AccountSettings("a", "https://social.example"),
        requests.Session(),
        clock=lambda: now,
    )
    assert api.retry_at(response) == datetime.fromisoformat(expected)


def test_server_error_is_unavailable(channel: MastodonChannel, sandbox: MastodonSandbox) -> None:
    sandbox.fail_next(status=503)

    with pytest.raises(UnavailableError) as caught:
        channel.publish(post())

    assert caught.value.retryable
    assert sandbox.statuses() == []


def test_gateway_timeout_on_create_is_an_unknown_outcome(
    channel: MastodonChannel, sandbox: MastodonSandbox
) -> None:
    sandbox.fail_next(status=504)

    with pytest.raises(OutcomeUnknownError):
        channel.publish(post())


# --- transport failures and recovery ----------------------------------------------------------


def test_dropped_connection_after_create_is_unknown_and_look_up_finds_the_status(
    channel: MastodonChannel, sandbox: MastodonSandbox
) -> None:
    since = datetime.now(UTC)
    channel.publish(post("Ein älterer Beitrag"))
    outbound = post("Der Beitrag, um den es geht")
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    found = channel.look_up(outbound, since=since)

    created = [s for s in sandbox.statuses() if s.idempotency_key == outbound.idempotency_key]
    assert len(created) == 1
    assert found is not None
    assert found.remote_id == created[0].id
    assert found.url == f"{sandbox.url}/@soest/{created[0].id}"


def test_answer_slower_than_the_timeout_is_an_unknown_outcome(
    sandbox: MastodonSandbox, session: requests.Session
) -> None:
    channel = MastodonChannel(account_on(sandbox), session, timeout=0.1)
    sandbox.delay = 0.4

    with pytest.raises(OutcomeUnknownError, match="read timeout"):
        channel.publish(post())

    assert len(sandbox.statuses()) == 1


def test_refused_connection_is_unavailable(session: requests.Session) -> None:
    account = AccountSettings("x", f"http://127.0.0.1:{free_port()}", secret=lambda key: "t")

    with pytest.raises(UnavailableError, match="connection refused"):
        MastodonChannel(account, session, timeout=2).publish(post())


def test_look_up_returns_none_when_the_post_is_not_there(channel: MastodonChannel) -> None:
    since = datetime.now(UTC)
    channel.publish(post("Etwas anderes"))

    assert channel.look_up(post("Nie veröffentlicht"), since=since) is None


def test_look_up_ignores_whitespace_differences(channel: MastodonChannel) -> None:
    since = datetime.now(UTC)
    published = channel.publish(post("Zeile eins\nZeile zwei  "))

    found = channel.look_up(post("Zeile eins Zeile\tzwei"), since=since)

    assert found == published


def test_look_up_pages_back_through_older_statuses(channel: MastodonChannel) -> None:
    since = datetime.now(UTC)
    target = channel.publish(post("Der erste von vielen"))
    for number in range(45):
        channel.publish(post(f"Füllbeitrag {number}"))

    assert channel.look_up(post("Der erste von vielen"), since=since) == target


def test_look_up_does_not_search_before_since(session: requests.Session) -> None:
    now = [FIXED_NOW]
    with MastodonSandbox(clock=lambda: now[0]) as server:
        channel = MastodonChannel(account_on(server), session)
        channel.publish(post("Gleicher Text"))
        now[0] += 3600

        since = datetime.fromtimestamp(now[0], UTC)
        assert channel.look_up(post("Gleicher Text"), since=since) is None


# --- instance limit and validation ------------------------------------------------------------


def test_text_limit_is_read_from_the_instance_once(session: requests.Session) -> None:
    with MastodonSandbox(max_characters=1000) as sandbox:
        channel = MastodonChannel(account_on(sandbox), session)

        limits = [channel.text_limit(), channel.text_limit()]

        reads = [r for r in sandbox.requests_seen if r.path == "/api/v2/instance"]
    assert limits == [1000, 1000]
    assert len(reads) == 1


def test_text_limit_falls_back_to_the_account_setting_then_500(
    session: requests.Session,
) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"
    with_setting = AccountSettings("a", unreachable, {"max_characters": 700}, lambda key: "t")
    without = AccountSettings("b", unreachable + "/", {}, lambda key: "t")

    assert MastodonChannel(with_setting, session, timeout=2).text_limit() == 700
    assert MastodonChannel(without, session, timeout=2).text_limit() == 500


def test_validate_uses_the_instance_limit(session: requests.Session) -> None:
    with MastodonSandbox(max_characters=60) as sandbox:
        channel = MastodonChannel(account_on(sandbox), session)

        fits = channel.validate(post("Kurz, mit Link: https://example.org/" + "a" * 200))
        too_long = channel.validate(post("y" * 61))

    assert fits == []
    assert too_long == ["text too long for mastodon: 61 of 60 characters (URLs count 23) (1 over)"]


# --- metrics, delete, verify ------------------------------------------------------------------


def test_fetch_metrics_reads_counts_and_followers(
    sandbox: MastodonSandbox, session: requests.Session
) -> None:
    channel = MastodonChannel(account_on(sandbox, followers=42), session)
    receipt = channel.publish(post())
    sandbox.set_engagement(receipt.remote_id, favourites=5, reblogs=2, replies=1)

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.reposts, metrics.replies) == (5, 2, 1)
    assert metrics.followers == 42
    assert metrics.quotes is None  # no quotes_count before Mastodon 4.5
    assert (metrics.views, metrics.reach, metrics.clicks) == (None, None, None)


def test_fetch_metrics_reads_quotes_when_the_instance_counts_them(
    channel: MastodonChannel, sandbox: MastodonSandbox
) -> None:
    receipt = channel.publish(post())
    sandbox.set_engagement(receipt.remote_id, quotes=3)

    assert channel.fetch_metrics(receipt).quotes == 3


def test_delete_removes_the_status_and_tolerates_a_second_delete(
    channel: MastodonChannel, sandbox: MastodonSandbox
) -> None:
    receipt = channel.publish(post())

    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)

    assert [s.deleted for s in sandbox.statuses()] == [True]
    with pytest.raises(RejectedError):
        channel.fetch_metrics(receipt)


def test_verify_returns_the_handle(channel: MastodonChannel, sandbox: MastodonSandbox) -> None:
    host = sandbox.url.removeprefix("http://")

    assert channel.verify() == f"@soest@{host}"


def test_token_never_appears_in_logs(
    sandbox: MastodonSandbox, session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    account = account_on(sandbox)
    channel = MastodonChannel(account, session)
    caplog.set_level(logging.DEBUG)

    channel.publish(post())
    sandbox.drop_after_create()
    with pytest.raises(OutcomeUnknownError) as caught:
        channel.publish(post())

    assert caplog.records
    assert account.secret("token") not in caplog.text
    assert account.secret("token") not in str(caught.value)


# --- transport error translation (channels/_http.py) ------------------------------------------


class _Raising(BaseAdapter):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        raise self.error

    def close(self) -> None:
        pass


def _refused() -> Exception:
    cause = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/x", cause))  # type: ignore[arg-type]


def _no_such_host() -> Exception:
    cause = NameResolutionError("social.invalid", None, OSError("Name or service not known"))  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/x", cause))  # type: ignore[arg-type]


def _remote_disconnected() -> Exception:
    from http.client import RemoteDisconnected

    cause = RemoteDisconnected("Remote end closed connection without response")
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", cause))


@pytest.mark.parametrize(
    ("error", "expected", "reason"),
    [
        (_refused(), UnavailableError, "connection refused"),
        (_no_such_host(), UnavailableError, "host name not found"),
        (requests.exceptions.ConnectTimeout("slow"), UnavailableError, "connect timeout"),
        (requests.exceptions.SSLError("bad cert"), UnavailableError, "TLS"),
        (requests.exceptions.ReadTimeout("slow"), OutcomeUnknownError, "read timeout"),
        (_remote_disconnected(), OutcomeUnknownError, "closed without a response"),
        (requests.exceptions.ChunkedEncodingError("cut"), OutcomeUnknownError, "cut off"),
        (requests.exceptions.ConnectionError("reset by peer"), OutcomeUnknownError, "reset"),
    ],
)
def test_send_translates_transport_failures(
    error: Exception, expected: type[ChannelError], reason: str
) -> None:
    with requests.Session() as http:
        http.mount("https://", _Raising(error))

        with pytest.raises(expected, match=reason) as caught:
            send(http, "POST", "https://social.example/api/v1/statuses?token=SECRET", timeout=1)

    assert type(caught.value) is expected
    assert "SECRET" not in caught.value.message
    assert caught.value.__cause__ is error


def test_send_reports_a_malformed_url_as_configuration() -> None:
    with requests.Session() as http, pytest.raises(ChannelError) as caught:
        send(http, "GET", "social.example/api", timeout=1)

    assert type(caught.value) is ChannelError
    assert not caught.value.retryable
    assert caught.value.hint is not None and "base_url" in caught.value.hint


def test_session_identifies_itself() -> None:
    with make_session() as http:
        assert http.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("campaign-scheduler/")


# --- registry ---------------------------------------------------------------------------------


def test_registry_finds_the_built_in_mastodon_through_its_entry_point() -> None:
    assert registry.available_channels()["mastodon"] == (
        "campaign_scheduler.channels.mastodon:MastodonChannel"
    )
    assert registry.channel_class("mastodon") is MastodonChannel


def test_make_channel_builds_an_adapter_with_its_own_session() -> None:
    with MastodonSandbox() as sandbox:  # on loopback: the adapter's own session has no mount
        channel = registry.make_channel("mastodon", account_on(sandbox), poll_interval=0)

        assert isinstance(channel, MastodonChannel)
        assert channel.session.headers["User-Agent"] == USER_AGENT
        assert channel.verify().startswith("@soest@")
        channel.session.close()


def test_unknown_channel_is_not_found() -> None:
    with pytest.raises(NotFoundError, match=r"no channel named 'myspace'.*mastodon"):
        registry.channel_class("myspace")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("campaign_scheduler.does_not_exist:Channel", "cannot be loaded: ModuleNotFoundError"),
        ("campaign_scheduler.errors:NotFoundError", "is not a subclass"),
    ],
)
def test_broken_plugins_are_reported_clearly(
    monkeypatch: pytest.MonkeyPatch, target: str, message: str
) -> None:
    from importlib.metadata import EntryPoint

    broken = EntryPoint(name="broken", value=target, group=registry.GROUP)
    monkeypatch.setattr(registry, "_entry_points", lambda: {"broken": broken})

    with pytest.raises(registry.ChannelPluginError, match=message):
        registry.channel_class("broken")
