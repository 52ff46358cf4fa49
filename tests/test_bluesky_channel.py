"""BlueskyChannel against the loopback BlueskySandbox, and the AT Protocol helpers it uses
(record keys, facets, image sizes)."""

from __future__ import annotations

import io
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from campaign_scheduler.channels import _atproto
from campaign_scheduler.channels import bluesky as bluesky_module
from campaign_scheduler.channels._atproto import (
    AtUri,
    decode_tid,
    detect_facets,
    encode_tid,
    image_size,
    is_tid,
    record_key,
)
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost, Receipt
from campaign_scheduler.channels.bluesky import BlueskyChannel, clear_sessions
from campaign_scheduler.channels.registry import channel_class
from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox._server import HttpResponse, json_response
from campaign_scheduler.sandbox.bluesky import BlueskySandbox

FIXED_NOW = 1_900_000_000.0  # 2030-03-17
PASSWORD = "abcd-efgh-ijkl-mnop"


@pytest.fixture(autouse=True)
def _fresh_sessions() -> Iterator[None]:
    clear_sessions()
    yield
    clear_sessions()


@pytest.fixture
def sandbox() -> Iterator[BlueskySandbox]:
    with BlueskySandbox().start_in_process() as server:
        server.add_account("soest.test", PASSWORD, followers=12)
        yield server


@pytest.fixture
def session(sandbox: BlueskySandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def account_on(
    sandbox: BlueskySandbox,
    identifier: str = "soest.test",
    password: str = PASSWORD,
    **settings: Any,
) -> AccountSettings:
    secrets = {"password": password}
    return AccountSettings(
        "soest-bluesky",
        sandbox.url,
        settings={"identifier": identifier, **settings},
        secret=secrets.__getitem__,
    )


@pytest.fixture
def channel(sandbox: BlueskySandbox, session: requests.Session) -> BlueskyChannel:
    return BlueskyChannel(account_on(sandbox), session, timeout=5)


def post(text: str = "Soest wird klimaneutral. #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "altstadt.png"
    Image.new("RGB", (40, 30), (30, 200, 30)).save(path)
    return MediaFile(path, "Luftbild der Soester Altstadt mit Solardächern", "image/png")


def calls(sandbox: BlueskySandbox) -> list[str]:
    return [r.nsid for r in sandbox.requests_seen]


def by_slice(text: str, facet: dict[str, Any]) -> str:
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"] : index["byteEnd"]].decode("utf-8")


# --- publish ----------------------------------------------------------------------------------


def test_is_registered_under_its_entry_point() -> None:
    assert channel_class("bluesky") is BlueskyChannel


def test_publish_creates_a_post_record_under_the_keys_tid(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    outbound = post()

    receipt = channel.publish(outbound)

    [record] = sandbox.records()
    rkey = record_key(outbound.idempotency_key)
    assert record.rkey == rkey
    assert receipt.remote_id == record.uri == f"at://{sandbox.did_of('soest.test')}/{_POST}/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/soest.test/post/{rkey}"
    assert record.text == outbound.text
    assert record.langs == ("de",)
    assert record.value["$type"] == "app.bsky.feed.post"
    assert receipt.published_at == datetime.fromisoformat(record.created_at)
    assert record.created_at.endswith("Z")
    assert abs(receipt.published_at - datetime.now(UTC)) < timedelta(seconds=5)


_POST = "app.bsky.feed.post"


def test_app_url_setting_names_the_post_link(
    sandbox: BlueskySandbox, session: requests.Session
) -> None:
    account = account_on(sandbox, app_url="https://app.example/")

    receipt = BlueskyChannel(account, session).publish(post())

    assert receipt.url is not None
    assert receipt.url.startswith("https://app.example/profile/soest.test/post/")


def test_empty_language_sends_no_langs(channel: BlueskyChannel, sandbox: BlueskySandbox) -> None:
    channel.publish(post(language=""))

    [record] = sandbox.records()
    assert "langs" not in record.value


def test_link_and_hashtag_facets_count_utf8_bytes(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    text = "Bürgerhäuser öffnen: https://example.org/öffnungszeiten #Bürgerservice #5malklug“."

    channel.publish(post(text))

    [record] = sandbox.records()
    link, tag, campaign = record.facets
    assert by_slice(text, link) == "https://example.org/öffnungszeiten"
    assert link["index"]["byteStart"] == len("Bürgerhäuser öffnen: ".encode())
    assert link["index"]["byteStart"] != len("Bürgerhäuser öffnen: ")  # umlauts: 3 bytes more
    assert link["features"] == [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/%C3%B6ffnungszeiten"}
    ]
    assert by_slice(text, tag) == "#Bürgerservice"
    assert tag["features"] == [{"$type": "app.bsky.richtext.facet#tag", "tag": "Bürgerservice"}]
    assert by_slice(text, campaign) == "#5malklug"


def test_mentions_carry_the_resolved_did_and_unknown_handles_stay_text(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    sandbox.add_account("stadt-olpe.test")
    text = "Grüße an @stadt-olpe.test und @niemand.example."

    channel.publish(post(text))

    [record] = sandbox.records()
    [mention] = record.facets
    assert by_slice(text, mention) == "@stadt-olpe.test"
    assert mention["features"] == [
        {"$type": "app.bsky.richtext.facet#mention", "did": sandbox.did_of("stadt-olpe.test")}
    ]


def test_text_without_links_tags_or_mentions_has_no_facets(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    channel.publish(post("Heute um 10 Uhr geht es los."))

    assert "facets" not in sandbox.records()[0].value
    assert "com.atproto.identity.resolveHandle" not in calls(sandbox)


def test_image_is_uploaded_with_alt_text_and_aspect_ratio(
    channel: BlueskyChannel, sandbox: BlueskySandbox, image: MediaFile
) -> None:
    channel.publish(post(media=(image,)))

    [record] = sandbox.records()
    [attached] = record.images
    assert attached.alt == image.alt
    assert attached.mime_type == "image/png"
    assert attached.aspect_ratio == (40, 30)
    assert attached.size == image.path.stat().st_size
    assert record.value["embed"]["$type"] == "app.bsky.embed.images"
    assert calls(sandbox)[-2:] == ["com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord"]


def test_image_without_alt_text_sends_an_empty_alt(
    channel: BlueskyChannel, sandbox: BlueskySandbox, image: MediaFile
) -> None:
    channel.publish(post(media=(MediaFile(image.path, None, "image/png"),)))

    assert sandbox.records()[0].images[0].alt == ""


def test_unreadable_image_is_rejected_before_anything_is_sent(
    channel: BlueskyChannel, sandbox: BlueskySandbox, tmp_path: Path
) -> None:
    with pytest.raises(RejectedError, match=r"gone\.png"):
        channel.publish(post(media=(MediaFile(tmp_path / "gone.png", "alt", "image/png"),)))

    assert sandbox.records() == []


@pytest.mark.parametrize(
    ("count", "size", "mime", "problem"),
    [
        (5, 10, "image/png", r"Bluesky takes at most 4 image\(s\) in one post; this one has 5"),
        (
            1,
            2_000_001,
            "image/png",
            "datei is too large for Bluesky: 2000001 bytes, at most 2000000",
        ),
        (1, 10, "application/pdf", r"Bluesky takes only images and videos, not application/pdf"),
        (2, 10, "video/mp4", "at most 1 video per post on Bluesky"),
    ],
)
def test_media_bluesky_cannot_take_is_reported_by_validate_and_refused_by_publish(
    channel: BlueskyChannel,
    sandbox: BlueskySandbox,
    tmp_path: Path,
    count: int,
    size: int,
    mime: str,
    problem: str,
) -> None:
    path = tmp_path / "datei"
    path.write_bytes(b"\0" * size)
    outbound = post(media=tuple(MediaFile(path, "alt", mime) for _ in range(count)))

    assert any(re.search(problem, issue) for issue in channel.validate(outbound))
    with pytest.raises(RejectedError, match=problem):
        channel.publish(outbound)
    assert sandbox.requests_seen == []


def test_validate_counts_graphemes_and_bytes(channel: BlueskyChannel) -> None:
    assert channel.validate(post("ä" * 300)) == []
    assert channel.validate(post("ä" * 301)) == [
        "text too long for bluesky: 301 of 300 graphemes (1 over)"
    ]
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    assert channel.validate(post(family * 121)) == [
        "text too long for bluesky: 3025 of 3000 UTF-8 bytes (25 over)"
    ]


# --- replies ------------------------------------------------------------------------------------


def test_reply_chain_names_the_thread_root_and_the_parent(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    first = channel.publish(post("Teil 1 #5malklug"))
    second = channel.publish(post("Teil 2", reply_to=first.remote_id))
    third = channel.publish(post("Teil 3", reply_to=second.remote_id))

    records = {r.uri: r for r in sandbox.records()}
    assert records[second.remote_id].reply_root == first.remote_id
    assert records[second.remote_id].reply_parent == first.remote_id
    assert records[third.remote_id].reply_root == first.remote_id
    assert records[third.remote_id].reply_parent == second.remote_id
    reply = records[third.remote_id].value["reply"]
    assert reply["root"]["cid"] == records[first.remote_id].cid
    assert reply["parent"]["cid"] == records[second.remote_id].cid


def test_a_thread_continues_a_part_a_person_confirmed_by_its_web_address(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    """``resolve --published https://bsky.app/profile/HANDLE/post/RKEY`` records the post under
    the handle; the next part replies to it under the account's DID, and its figures are read."""
    first = channel.publish(post("Teil 1 #5malklug"))
    rkey = first.remote_id.rsplit("/", 1)[-1]
    address = f"https://bsky.app/profile/soest.test/post/{rkey}"
    confirmed = BlueskyChannel.published_part(address, channel.account).remote_id
    assert confirmed == f"at://soest.test/app.bsky.feed.post/{rkey}"

    second = channel.publish(post("Teil 2", reply_to=confirmed))

    records = {r.uri: r for r in sandbox.records()}
    assert records[second.remote_id].reply_parent == first.remote_id  # the DID's URI
    assert records[second.remote_id].value["reply"]["parent"]["uri"].startswith("at://did:")
    seen = channel.fetch_metrics(Receipt(confirmed, address, first.published_at))
    assert seen.replies == 1


@pytest.mark.parametrize("target", ["3k2abcdefgh22", "at://did:plc:x/app.bsky.feed.post/{rkey}"])
def test_reply_to_a_missing_or_malformed_post_is_rejected(
    channel: BlueskyChannel, sandbox: BlueskySandbox, target: str
) -> None:
    missing = target.format(rkey=record_key("never published"))

    with pytest.raises(RejectedError):
        channel.publish(post(reply_to=missing))

    assert sandbox.records() == []


# --- idempotency and recovery -------------------------------------------------------------------


def test_publishing_again_with_the_same_key_returns_the_first_post(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    outbound = post()

    first = channel.publish(outbound)
    again = channel.publish(outbound)

    assert again == first
    assert len(sandbox.records()) == 1
    assert calls(sandbox).count("com.atproto.repo.getRecord") == 1  # after the refusal


@pytest.mark.parametrize("status", [400, 409, 500])
def test_a_replay_is_recognised_whatever_the_server_answers_for_a_taken_key(
    session: requests.Session, status: int
) -> None:
    with BlueskySandbox(existing_rkey_status=status) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        channel = BlueskyChannel(account_on(sandbox), session)
        outbound = post()
        first = channel.publish(outbound)

        assert channel.publish(outbound) == first
        assert len(sandbox.records()) == 1


def test_lost_answer_is_an_unknown_outcome_and_the_replay_finds_the_post(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    outbound = post()
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    [created] = sandbox.records()

    receipt = channel.publish(outbound)

    assert receipt.remote_id == created.uri
    assert receipt.published_at == datetime.fromisoformat(created.created_at)
    assert len(sandbox.records()) == 1


def test_retry_while_the_first_request_is_still_open_gets_the_same_post(
    channel: BlueskyChannel, sandbox: BlueskySandbox
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
    assert len(sandbox.records()) == 1


def test_look_up_reads_the_record_under_the_keys_tid(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    outbound = post()
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert channel.look_up(outbound, since=since) is None

    published = channel.publish(outbound)

    assert channel.look_up(outbound, since=since) == published
    assert channel.look_up(post(), since=since) is None


def test_recovery_claims_are_honest() -> None:
    assert BlueskyChannel.can_look_up
    assert BlueskyChannel.idempotency_window is not None
    assert BlueskyChannel.idempotency_window >= timedelta(days=30)


# --- sessions -----------------------------------------------------------------------------------


def test_one_session_serves_every_adapter_and_thread(
    sandbox: BlueskySandbox, session: requests.Session
) -> None:
    account = account_on(sandbox)
    errors: list[BaseException] = []

    def publish_some() -> None:
        try:
            with sandbox.mount(make_session()) as http:
                for _ in range(3):
                    BlueskyChannel(account, http).publish(post())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=publish_some) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert errors == []
    assert len(sandbox.records()) == 18
    assert calls(sandbox).count("com.atproto.server.createSession") == 1


def test_expired_access_token_is_refreshed_once_and_the_call_repeated(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    channel.verify()
    sandbox.expire_access_tokens()

    channel.publish(post())

    assert calls(sandbox) == [
        "com.atproto.server.createSession",
        "com.atproto.server.getSession",
        "com.atproto.repo.createRecord",  # 400 ExpiredToken
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]
    assert len(sandbox.records()) == 1


def test_short_lived_tokens_are_refreshed_as_they_expire(session: requests.Session) -> None:
    now = [FIXED_NOW]
    with BlueskySandbox(access_token_ttl=60, clock=lambda: now[0]) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        channel = BlueskyChannel(account_on(sandbox), session)
        for _ in range(3):
            channel.publish(post())
            now[0] += 61

    assert calls(sandbox).count("com.atproto.server.createSession") == 1
    assert calls(sandbox).count("com.atproto.server.refreshSession") == 2
    assert len(sandbox.records()) == 3


def test_refused_refresh_falls_back_to_logging_in(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    channel.verify()
    second_password = sandbox.add_account("soest.test", "zweites-passwort")
    sandbox.revoke(PASSWORD)
    sandbox.expire_access_tokens()
    replacement = BlueskyChannel(
        account_on(sandbox, password=second_password), sandbox.mount(make_session()), timeout=5
    )

    replacement.publish(post())

    assert calls(sandbox)[-4:] == [
        "com.atproto.repo.createRecord",  # 400 ExpiredToken
        "com.atproto.server.refreshSession",  # 400 ExpiredToken (revoked)
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
    ]
    assert len(sandbox.records()) == 1


def test_revoked_app_password_is_an_auth_error_once_the_token_expires(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    channel.verify()
    sandbox.revoke(PASSWORD)
    channel.publish(post())  # the access token still works, as on the real server
    sandbox.expire_access_tokens()

    with pytest.raises(AuthError) as caught:
        channel.publish(post())

    assert caught.value.network_message == "Invalid identifier or password"
    assert not caught.value.retryable
    assert len(sandbox.records()) == 1


def test_invalid_token_leads_to_a_new_login(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    channel.verify()
    key = (sandbox.url, "soest.test")
    stale = bluesky_module._sessions[key]
    bluesky_module._sessions[key] = bluesky_module._Session(
        stale.did, stale.handle, "not-a-token", stale.refresh_jwt
    )

    channel.publish(post())

    assert calls(sandbox)[-3:] == [
        "com.atproto.repo.createRecord",  # 400 InvalidToken
        "com.atproto.server.createSession",
        "com.atproto.repo.createRecord",
    ]


def test_wrong_password_is_an_auth_error_with_the_servers_words(
    sandbox: BlueskySandbox, session: requests.Session
) -> None:
    channel = BlueskyChannel(account_on(sandbox, password="falsch"), session)

    with pytest.raises(AuthError) as caught:
        channel.publish(post())

    assert caught.value.network_message == "Invalid identifier or password"
    assert "falsch" not in caught.value.message
    assert sandbox.records() == []


@pytest.mark.parametrize(("identifier", "password"), [("", PASSWORD), ("soest.test", "")])
def test_missing_identifier_or_password_is_an_auth_error_without_calling(
    sandbox: BlueskySandbox, session: requests.Session, identifier: str, password: str
) -> None:
    channel = BlueskyChannel(account_on(sandbox, identifier, password), session)

    with pytest.raises(AuthError):
        channel.publish(post())

    assert sandbox.requests_seen == []


def test_rate_limited_login_says_when_to_retry(session: requests.Session) -> None:
    with BlueskySandbox(session_limit=1, clock=lambda: FIXED_NOW) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        BlueskyChannel(account_on(sandbox), session).verify()
        clear_sessions()

        with pytest.raises(RateLimitedError) as caught:
            BlueskyChannel(account_on(sandbox), session).verify()

    assert caught.value.retry_at == datetime.fromtimestamp(FIXED_NOW + 300, UTC)


def test_login_by_did_works(sandbox: BlueskySandbox, session: requests.Session) -> None:
    channel = BlueskyChannel(account_on(sandbox, sandbox.did_of("soest.test")), session)

    assert channel.verify() == "@soest.test"


def test_secrets_never_reach_the_log(
    channel: BlueskyChannel, sandbox: BlueskySandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel.publish(post())
    sandbox.expire_access_tokens()
    channel.publish(post())
    sandbox.fail_next(status=500)
    with pytest.raises(UnavailableError):
        channel.publish(post())

    stored = next(iter(bluesky_module._sessions.values()))
    for secret in (PASSWORD, stored.access_jwt, stored.refresh_jwt):
        assert secret not in caplog.text


# --- HTTP errors ------------------------------------------------------------------------------


def test_validation_refusal_is_rejected_with_the_servers_message(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    with pytest.raises(RejectedError) as caught:
        channel.publish(post("a" * 301))

    assert caught.value.network_message == (
        "Invalid app.bsky.feed.post record: grapheme too big (maximum 300, got 301) "
        "at $.record.text"
    )
    assert not caught.value.retryable
    assert sandbox.records() == []


def test_rate_limit_gives_retry_at_from_the_reset_header(session: requests.Session) -> None:
    with BlueskySandbox(clock=lambda: FIXED_NOW) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        channel = BlueskyChannel(account_on(sandbox), session)
        sandbox.rate_limit_next(reset_in=90)

        with pytest.raises(RateLimitedError) as caught:
            channel.publish(post())

    assert caught.value.retry_at == datetime.fromtimestamp(FIXED_NOW + 90, UTC)
    assert caught.value.network_message == "Rate Limit Exceeded"
    assert sandbox.records() == []


def test_exhausted_write_points_are_a_rate_limit(session: requests.Session) -> None:
    with BlueskySandbox(write_points_per_hour=6, clock=lambda: FIXED_NOW) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        channel = BlueskyChannel(account_on(sandbox), session)
        channel.publish(post())
        channel.publish(post())

        with pytest.raises(RateLimitedError) as caught:
            channel.publish(post())

    assert caught.value.retry_at == datetime.fromtimestamp(FIXED_NOW + 3600, UTC)
    assert len(sandbox.records()) == 2


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"RateLimit-Reset": "1900000000"}, "2030-03-17T17:46:40+00:00"),
        ({"RateLimit-Reset": "1900000000", "Retry-After": "5"}, "2030-03-17T17:46:40+00:00"),
        ({"Retry-After": "30"}, "2030-01-01T00:00:30+00:00"),
        ({"Retry-After": "Tue, 01 Jan 2030 00:02:00 GMT"}, "2030-01-01T00:02:00+00:00"),
        ({"RateLimit-Reset": "bald"}, "2030-01-01T00:01:00+00:00"),
        ({}, "2030-01-01T00:01:00+00:00"),
        ({"RateLimit-Reset": "1000"}, "2030-01-01T00:00:00+00:00"),  # in the past: now
    ],
)
def test_retry_at_reads_the_reset_headers(headers: dict[str, str], expected: str) -> None:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    now = datetime(2030, 1, 1, tzinfo=UTC)

    api = bluesky_module.BlueskyApi(
        "bluesky",
        AccountSettings("a", "https://bsky.social"),
        requests.Session(),
        clock=lambda: now,
    )
    assert api.retry_at(response) == datetime.fromisoformat(expected)


@pytest.mark.parametrize(("status", "error"), [(500, UnavailableError), (503, UnavailableError)])
def test_server_error_is_unavailable_after_checking_for_an_earlier_copy(
    channel: BlueskyChannel, sandbox: BlueskySandbox, status: int, error: type[Exception]
) -> None:
    sandbox.fail_next(status=status)

    with pytest.raises(error) as caught:
        channel.publish(post())

    assert isinstance(caught.value, UnavailableError)
    assert calls(sandbox)[-2:] == ["com.atproto.repo.createRecord", "com.atproto.repo.getRecord"]
    assert sandbox.records() == []


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_error_on_create_is_an_unknown_outcome(
    channel: BlueskyChannel, sandbox: BlueskySandbox, status: int
) -> None:
    sandbox.fail_next(status=status)

    with pytest.raises(OutcomeUnknownError):
        channel.publish(post())


def test_server_error_with_a_failed_check_is_an_unknown_outcome(
    channel: BlueskyChannel, sandbox: BlueskySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.fail_next(status=500)

    def unreachable(self: BlueskyChannel, uri: AtUri) -> None:
        raise UnavailableError("connection refused")

    monkeypatch.setattr(BlueskyChannel, "_get_record", unreachable)

    with pytest.raises(OutcomeUnknownError, match="check for an earlier copy failed"):
        channel.publish(post())


def test_forbidden_is_an_auth_error(channel: BlueskyChannel, sandbox: BlueskySandbox) -> None:
    sandbox.fail_next(status=403)

    with pytest.raises(AuthError):
        channel.publish(post())


def test_timeout_on_create_is_an_unknown_outcome(
    sandbox: BlueskySandbox, session: requests.Session
) -> None:
    channel = BlueskyChannel(account_on(sandbox), session, timeout=0.3)
    channel.verify()
    sandbox.delay = 0.6

    with pytest.raises(OutcomeUnknownError):
        channel.publish(post())

    sandbox.delay = 0
    assert len(sandbox.records()) == 1  # the server did it; the answer was late


def test_timeout_before_the_create_call_is_unavailable(
    sandbox: BlueskySandbox, session: requests.Session, image: MediaFile
) -> None:
    channel = BlueskyChannel(account_on(sandbox), session, timeout=0.3)
    channel.verify()
    sandbox.delay = 0.6

    with pytest.raises(UnavailableError):
        channel.publish(post(media=(image,)))  # the blob upload times out

    sandbox.delay = 0
    assert sandbox.records() == []


def test_unreachable_server_is_unavailable(session: requests.Session) -> None:
    with BlueskySandbox() as stopped:
        url = stopped.url
    account = AccountSettings("soest-bluesky", url, {"identifier": "soest.test"}, lambda k: "x")

    with pytest.raises(UnavailableError):
        BlueskyChannel(account, session, timeout=2).publish(post())


# --- metrics, delete, verify --------------------------------------------------------------------


def test_fetch_metrics_reads_post_counters_and_followers(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    receipt = channel.publish(post())
    sandbox.set_engagement(receipt.remote_id, likes=7, reposts=2, replies=1, quotes=3)

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.reposts, metrics.replies, metrics.quotes) == (7, 2, 1, 3)
    assert metrics.followers == 12
    assert metrics.views is None and metrics.reach is None and metrics.clicks is None


def test_fetch_metrics_of_a_post_the_appview_does_not_know_is_rejected(
    session: requests.Session,
) -> None:
    with BlueskySandbox(index_delay=60) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        channel = BlueskyChannel(account_on(sandbox), session)
        receipt = channel.publish(post())

        with pytest.raises(RejectedError, match="not indexed yet"):
            channel.fetch_metrics(receipt)


def test_delete_removes_the_record_and_a_second_delete_is_fine(
    channel: BlueskyChannel, sandbox: BlueskySandbox
) -> None:
    receipt = channel.publish(post())

    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)

    [record] = sandbox.records()
    assert record.deleted


@pytest.mark.parametrize(
    "remote_id", ["3k2abcdefgh22", "at://did:plc:someoneelse/app.bsky.feed.post/3k2abcdefgh22"]
)
def test_delete_refuses_what_is_not_our_post(channel: BlueskyChannel, remote_id: str) -> None:
    with pytest.raises(RejectedError):
        channel.delete(remote_id)


def test_verify_returns_the_handle(channel: BlueskyChannel) -> None:
    assert channel.verify() == "@soest.test"


# --- record keys ------------------------------------------------------------------------------


def test_record_key_is_a_deterministic_tid_from_before_bluesky() -> None:
    key = "4b1f0f6f9c0e4a7b8f6f3d1c2b0a9e8d"

    rkey = record_key(key)

    assert rkey == record_key(key)
    assert is_tid(rkey)
    assert rkey.startswith("2")
    timestamp, _ = decode_tid(rkey)
    assert datetime.fromtimestamp(timestamp / 1e6, UTC).year < 2006
    assert rkey < encode_tid(int(datetime(2022, 1, 1, tzinfo=UTC).timestamp() * 1e6), 0)


@given(st.text(min_size=1, max_size=80))
def test_record_key_is_always_a_valid_tid(key: str) -> None:
    rkey = record_key(key)
    assert is_tid(rkey)
    assert encode_tid(*decode_tid(rkey)) == rkey


def test_record_keys_of_many_keys_are_distinct() -> None:
    keys = {record_key(uuid.uuid4().hex) for _ in range(20_000)}
    assert len(keys) == 20_000


@given(st.integers(0, 2**53 - 1), st.integers(0, 1023), st.integers(0, 2**53 - 1))
def test_tids_sort_like_their_numbers(timestamp: int, clock: int, other: int) -> None:
    assert (encode_tid(timestamp, clock) < encode_tid(other, clock)) == (timestamp < other)


def test_tid_examples_match_the_spec() -> None:
    assert encode_tid(0, 0) == "2222222222222"
    # the examples of the @atcute/tid documentation
    assert encode_tid(1724171495793000, 512) == "3l25zusnsfck2"
    assert decode_tid("3l25zusnsfctk") == (1724171495793000, 816)
    with pytest.raises(ValueError):
        decode_tid("3jzfcijpj2z2")
    with pytest.raises(ValueError):
        encode_tid(2**53, 0)


def test_at_uri_round_trip() -> None:
    uri = AtUri.parse("at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a")
    assert (uri.repo, uri.collection, uri.rkey) == ("did:plc:abc", _POST, "3jzfcijpj2z2a")
    assert str(uri) == "at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a"
    for bad in ("https://bsky.app/x", "at://did:plc:abc/app.bsky.feed.post", "at://a//b"):
        with pytest.raises(ValueError):
            AtUri.parse(bad)


# --- facets -----------------------------------------------------------------------------------


def spans(text: str) -> list[tuple[str, str, str]]:
    """(kind, the text the facet covers, its value) for every facet of ``text``."""
    data = text.encode("utf-8")
    return [(f.kind, data[f.start : f.end].decode("utf-8"), f.value) for f in detect_facets(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mehr unter https://smartcities-suedwestfalen.com/konferenz/.",
            [("link", *["https://smartcities-suedwestfalen.com/konferenz/"] * 2)],
        ),
        (
            "(siehe https://example.org/a_(b)) und „https://example.org/x“!",
            [
                ("link", "https://example.org/a_(b)", "https://example.org/a_(b)"),
            ],
        ),
        (
            "Infos: www.soest.de/rathaus, sonst nichts",
            [("link", "www.soest.de/rathaus", "https://www.soest.de/rathaus")],
        ),
        ("http://localhost:8080 ist kein Link", []),
        (
            "https://bürgerhäuser.de/öffnung?tag=mo#top",
            [
                (
                    "link",
                    "https://bürgerhäuser.de/öffnung?tag=mo#top",
                    "https://xn--brgerhuser-v5a6z.de/%C3%B6ffnung?tag=mo#top",
                )
            ],
        ),
    ],
)
def test_links(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#5malklug", [("tag", "#5malklug", "5malklug")]),
        ("Wir sind „#5malklug“.", []),  # a quote mark before # is no tag start
        ("Wir sind #5malklug“.", [("tag", "#5malklug", "5malklug")]),
        ("Wir sind #5malklug!", [("tag", "#5malklug", "5malklug")]),
        ("Platz #1 und #2025", []),  # digits only
        ("Zeile\n#Südwestfalen", [("tag", "#Südwestfalen", "Südwestfalen")]),
        ("＃Vollbreite", [("tag", "＃Vollbreite", "Vollbreite")]),
        ("#" + "a" * 64, [("tag", "#" + "a" * 64, "a" * 64)]),
        ("#" + "a" * 65, []),
        ("Mail an info#soest", []),
        ("https://example.org/#anker", [("link", *["https://example.org/#anker"] * 2)]),
    ],
)
def test_hashtags(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert spans(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hallo @Soest.bsky.social!", [("mention", "@Soest.bsky.social", "soest.bsky.social")]),
        ("(@olpe.de)", [("mention", "@olpe.de", "olpe.de")]),
        ("Danke @olpe.de.", [("mention", "@olpe.de", "olpe.de")]),
        ("Mail an info@soest.de", []),
        ("@niemand ohne Punkt", []),
        ("@1.2", []),
    ],
)
def test_mentions(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert spans(text) == expected


def test_facets_are_ordered_and_byte_exact_after_umlauts() -> None:
    text = "Bürgerhäuser in Südwestfalen: https://example.org #Bürgerhäuser @soest.test"

    found = detect_facets(text)

    assert [f.kind for f in found] == ["link", "tag", "mention"]
    data = text.encode("utf-8")
    assert found[0].start == len("Bürgerhäuser in Südwestfalen: ".encode())
    assert [data[f.start : f.end].decode() for f in found] == [
        "https://example.org",
        "#Bürgerhäuser",
        "@soest.test",
    ]


@given(st.text(alphabet="aäöü€👍 #@.:/hpst", max_size=60))
def test_facets_never_overlap_and_always_cut_at_character_boundaries(text: str) -> None:
    data = text.encode("utf-8")
    end = 0
    for facet in detect_facets(text):
        assert end <= facet.start < facet.end <= len(data)
        data[facet.start : facet.end].decode("utf-8")  # raises if cut inside a character
        end = facet.end


# --- image sizes ------------------------------------------------------------------------------


def encoded(image: Image.Image, kind: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "WEBP"])
def test_image_size_reads_common_formats(kind: str) -> None:
    assert image_size(encoded(Image.new("RGB", (321, 123), (9, 9, 9)), kind)) == (321, 123)


def test_image_size_reads_lossless_webp() -> None:
    picture = Image.new("RGBA", (77, 55), (9, 9, 9, 128))
    assert image_size(encoded(picture, "WEBP", lossless=True)) == (77, 55)


def test_image_size_of_a_rotated_jpeg_is_as_displayed() -> None:
    picture = Image.new("RGB", (400, 300), (9, 9, 9))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise when displayed
    assert image_size(encoded(picture, "JPEG", exif=exif.tobytes())) == (300, 400)
    exif[0x0112] = 3  # upside down: same sides
    assert image_size(encoded(picture, "JPEG", exif=exif.tobytes())) == (400, 300)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"])
def test_image_size_of_something_else_is_none(data: bytes) -> None:
    assert image_size(data) is None


def test_helpers_module_has_no_http() -> None:
    assert "requests" not in vars(_atproto)


def test_config_passes_app_url_to_the_adapter(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[accounts.soest-bluesky]\n"
        'channel = "bluesky"\n'
        'sender = "soest"\n'
        'identifier = "soest.bsky.social"\n'
        'password = "env:SOEST_BLUESKY_APP_PASSWORD"\n'
        'app_url = "https://app.example"\n',
        encoding="utf-8",
    )

    settings = load_settings(config, environ={"SOEST_BLUESKY_APP_PASSWORD": "x"})

    account = settings.accounts["soest-bluesky"]
    assert account.settings == {"identifier": "soest.bsky.social", "app_url": "https://app.example"}
    assert account.base_url == "https://bsky.social"
    assert not [p for p in settings.problems if "app_url" in str(p)]


def test_a_failed_refresh_is_unavailable_and_nothing_is_probed(
    channel: BlueskyChannel, sandbox: BlueskySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel.verify()
    sandbox.expire_access_tokens()
    monkeypatch.setattr(
        sandbox, "_refresh_session", lambda request: sandbox_error(503, "NotEnoughResources")
    )

    with pytest.raises(UnavailableError) as caught:
        channel.publish(post())

    assert not isinstance(caught.value, OutcomeUnknownError)
    assert calls(sandbox)[-2:] == [
        "com.atproto.repo.createRecord",  # 400 ExpiredToken: nothing was created
        "com.atproto.server.refreshSession",  # 503
    ]


def sandbox_error(status: int, name: str) -> HttpResponse:
    return json_response(status, {"error": name, "message": name})
