"""BlueskyChannel against the real reference PDS (@atproto/pds), not our sandbox.

The PDS runs outside the test process: ``scripts/bluesky/install-pds.sh`` installs it (outside
the repository) and ``eval "$(scripts/bluesky/start-pds.sh)"`` starts it on a free port and sets
``CAMPAIGN_TEST_PDS_URL`` (and ``CAMPAIGN_TEST_PDS_JWT_SECRET``, which lets a test mint an
expired access token to force a session refresh). CI does both (scripts/ci.d/20-bluesky-pds.sh).
Without the variable these tests are skipped, unless ``CAMPAIGN_TEST_REQUIRE_PDS`` is set.

Each test module run creates its own accounts, so a long-running PDS can be reused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels import bluesky as bluesky_module
from campaign_scheduler.channels._atproto import AtUri, record_key
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, LinkPreview, MediaFile, OutboundPost
from campaign_scheduler.channels.bluesky import BlueskyChannel, clear_sessions
from campaign_scheduler.errors import AuthError, RateLimitedError, RejectedError
from campaign_scheduler.sandbox.bluesky import BlueskySandbox
from conftest import make_video, real_server_missing

POST = "app.bsky.feed.post"
NOT_RUNNING = (
    "no PDS running (not installed or not started): run scripts/bluesky/install-pds.sh, then "
    'eval "$(scripts/bluesky/start-pds.sh)" to set CAMPAIGN_TEST_PDS_URL'
)


def _pds_url() -> str:
    url = os.environ.get("CAMPAIGN_TEST_PDS_URL", "").rstrip("/")
    if not url:
        real_server_missing(NOT_RUNNING, "CAMPAIGN_TEST_REQUIRE_PDS")
    try:
        requests.get(f"{url}/xrpc/_health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(f"CAMPAIGN_TEST_PDS_URL={url} is set but the PDS does not answer: {exc}")
    return url


@dataclass(frozen=True)
class PdsAccount:
    url: str
    handle: str
    did: str
    password: str  # the account password (for managing app passwords)
    app_password: str  # what the adapter logs in with, as in production

    def xrpc(self, method: str, nsid: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return requests.request(
            method, f"{self.url}/xrpc/{nsid}", headers=headers, timeout=10, **kwargs
        )

    def login(self, password: str | None = None) -> dict[str, Any]:
        response = self.xrpc(
            "POST",
            "com.atproto.server.createSession",
            json={"identifier": self.handle, "password": password or self.password},
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    def new_app_password(self, name: str) -> str:
        response = self.xrpc(
            "POST",
            "com.atproto.server.createAppPassword",
            self.login()["accessJwt"],
            json={"name": name},
        )
        response.raise_for_status()
        return str(response.json()["password"])

    def record(self, uri: str) -> dict[str, Any]:
        at = AtUri.parse(uri)
        response = self.xrpc(
            "GET",
            "com.atproto.repo.getRecord",
            params={"repo": at.repo, "collection": at.collection, "rkey": at.rkey},
        )
        answer: dict[str, Any] = response.json()
        return answer


def _new_account(url: str, prefix: str) -> PdsAccount:
    handle = f"{prefix}{secrets.token_hex(3)}.test"
    password = secrets.token_urlsafe(16)
    response = requests.post(
        f"{url}/xrpc/com.atproto.server.createAccount",
        json={"handle": handle, "email": f"{handle}@example.org", "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    account = PdsAccount(url, handle, response.json()["did"], password, "")
    return PdsAccount(
        url, handle, account.did, password, account.new_app_password("campaign-scheduler")
    )


@pytest.fixture(scope="module")
def pds() -> str:
    return _pds_url()


@pytest.fixture(scope="module")
def account(pds: str) -> PdsAccount:
    return _new_account(pds, "soest")


@pytest.fixture(autouse=True)
def _fresh_sessions() -> Iterator[None]:
    clear_sessions()
    yield
    clear_sessions()


def channel_for(account: PdsAccount, password: str | None = None) -> BlueskyChannel:
    settings = AccountSettings(
        "soest-bluesky",
        account.url,
        {"identifier": account.handle},
        secret=lambda key: account.app_password if password is None else password,
    )
    return BlueskyChannel(settings, make_session(), timeout=15)


@pytest.fixture
def channel(account: PdsAccount) -> BlueskyChannel:
    return channel_for(account)


def post(text: str = "Noch 7 Tage bis zur Konferenz #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


def covered(text: str, facet: dict[str, Any]) -> str:
    index = facet["index"]
    return text.encode("utf-8")[index["byteStart"] : index["byteEnd"]].decode("utf-8")


def expired_copy(token: str, secret: str) -> str:
    """``token`` re-signed (HS256, the PDS's own secret) with an expiry in the past."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")

    payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    payload["iat"] = int(time.time()) - 7300
    payload["exp"] = int(time.time()) - 100
    header = b64(json.dumps({"typ": "at+jwt", "alg": "HS256"}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def jwt_secret() -> str:
    secret = os.environ.get("CAMPAIGN_TEST_PDS_JWT_SECRET")
    if not secret:
        real_server_missing(
            "CAMPAIGN_TEST_PDS_JWT_SECRET is not set (needed to mint an expired token)",
            "CAMPAIGN_TEST_REQUIRE_PDS",
        )
    return secret


def expire_cached_access_token(channel: BlueskyChannel) -> str:
    """Replace the cached session's access token with an expired one the PDS recognises."""
    key = (channel.base_url, channel.identifier.lower())
    cached = bluesky_module._sessions[key]
    expired = expired_copy(cached.access_jwt, jwt_secret())
    bluesky_module._sessions[key] = bluesky_module._Session(
        cached.did, cached.handle, expired, cached.refresh_jwt
    )
    return expired


# --- publishing ---------------------------------------------------------------------------------


def test_facets_byte_offsets_round_trip_through_the_server(
    channel: BlueskyChannel, account: PdsAccount
) -> None:
    text = (
        f"Bürgerhäuser öffnen am Samstag: https://example.org/öffnungszeiten #Bürgerservice "
        f"– Grüße an @{account.handle} und @niemand-{secrets.token_hex(3)}.test #5malklug“."
    )
    outbound = post(text)

    receipt = channel.publish(outbound)

    stored = account.record(receipt.remote_id)
    value = stored["value"]
    assert value["text"] == text
    assert value["langs"] == ["de"]
    link, tag, mention, campaign = value["facets"]
    assert covered(text, link) == "https://example.org/öffnungszeiten"
    assert link["index"]["byteStart"] == len("Bürgerhäuser öffnen am Samstag: ".encode())
    assert link["features"][0]["uri"] == "https://example.org/%C3%B6ffnungszeiten"
    assert (covered(text, tag), tag["features"][0]["tag"]) == ("#Bürgerservice", "Bürgerservice")
    assert covered(text, mention) == f"@{account.handle}"
    assert mention["features"][0] == {
        "$type": "app.bsky.richtext.facet#mention",
        "did": account.did,
    }
    assert covered(text, campaign) == "#5malklug"
    rkey = record_key(outbound.idempotency_key)
    assert receipt.remote_id == f"at://{account.did}/{POST}/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/{account.handle}/post/{rkey}"
    assert abs(receipt.published_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_image_with_alt_text_and_aspect_ratio(
    channel: BlueskyChannel, account: PdsAccount, tmp_path: Path
) -> None:
    path = tmp_path / "lastenrad.png"
    Image.new("RGB", (64, 48), (20, 90, 60)).save(path)
    alt = "Ein Lastenrad vor dem Rathaus – Grüße aus Südwestfalen"

    receipt = channel.publish(post(media=(MediaFile(path, alt, "image/png"),)))

    [image] = account.record(receipt.remote_id)["value"]["embed"]["images"]
    assert image["alt"] == alt
    assert image["aspectRatio"] == {"width": 64, "height": 48}
    assert image["image"]["mimeType"] == "image/png"
    cid = image["image"]["ref"]["$link"]
    blob = account.xrpc("GET", "com.atproto.sync.getBlob", params={"did": account.did, "cid": cid})
    assert blob.content == path.read_bytes()
    # The sandbox names the same bytes with the same CID.
    with BlueskySandbox() as sandbox:
        password = sandbox.add_account("vergleich.test")
        token = requests.post(
            f"{sandbox.url}/xrpc/com.atproto.server.createSession",
            json={"identifier": "vergleich.test", "password": password},
            timeout=5,
        ).json()["accessJwt"]
        mirrored = requests.post(
            f"{sandbox.url}/xrpc/com.atproto.repo.uploadBlob",
            data=path.read_bytes(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
            timeout=5,
        ).json()["blob"]
    assert mirrored == image["image"]


def test_video_embed_with_alt_text_uploaded_to_the_pds(
    channel: BlueskyChannel, account: PdsAccount, tmp_path: Path
) -> None:
    """The real PDS takes the MP4 as a blob (``uploadBlob``) and checks the
    ``app.bsky.embed.video`` record against the lexicon (mimeType video/mp4, its size)."""
    path = make_video(tmp_path / "grusswort.mp4")
    alt = "Video: Die Bürgermeisterin lädt zur Konferenz ein"

    receipt = channel.publish(post(media=(MediaFile(path, alt, "video/mp4"),)))

    embed = account.record(receipt.remote_id)["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.video"
    assert embed["alt"] == alt
    assert embed["video"]["mimeType"] == "video/mp4"
    cid = embed["video"]["ref"]["$link"]
    blob = account.xrpc("GET", "com.atproto.sync.getBlob", params={"did": account.did, "cid": cid})
    assert blob.content == path.read_bytes()


def test_link_card_as_external_embed_with_thumbnail(
    channel: BlueskyChannel, account: PdsAccount, tmp_path: Path
) -> None:
    import io

    thumb = io.BytesIO()
    Image.new("RGB", (191, 100), (51, 102, 153)).save(thumb, format="PNG")
    url = "https://smartcities-suedwestfalen.com/konferenz/"
    card = LinkPreview(
        url, "Smart Cities: Konferenz", "Fünf Städte, ein Tag.", thumb.getvalue(), "image/png"
    )

    receipt = channel.publish(post(f"Programm: {url} #5malklug", link_card=card))

    embed = account.record(receipt.remote_id)["value"]["embed"]
    assert embed["$type"] == "app.bsky.embed.external"
    external = embed["external"]
    assert (external["uri"], external["title"], external["description"]) == (
        url,
        "Smart Cities: Konferenz",
        "Fünf Städte, ein Tag.",
    )
    cid = external["thumb"]["ref"]["$link"]
    blob = account.xrpc("GET", "com.atproto.sync.getBlob", params={"did": account.did, "cid": cid})
    assert blob.content == thumb.getvalue()


def test_reply_chain(channel: BlueskyChannel, account: PdsAccount) -> None:
    first = channel.publish(post("Teil 1: Wir sind dabei. #5malklug"))
    second = channel.publish(post("Teil 2: Gemeinsam.", reply_to=first.remote_id))
    third = channel.publish(post("Teil 3: Für die Region.", reply_to=second.remote_id))

    first_cid = account.record(first.remote_id)["cid"]
    second_cid = account.record(second.remote_id)["cid"]
    assert account.record(second.remote_id)["value"]["reply"] == {
        "root": {"uri": first.remote_id, "cid": first_cid},
        "parent": {"uri": first.remote_id, "cid": first_cid},
    }
    assert account.record(third.remote_id)["value"]["reply"] == {
        "root": {"uri": first.remote_id, "cid": first_cid},
        "parent": {"uri": second.remote_id, "cid": second_cid},
    }


def test_a_replay_never_creates_a_second_post(channel: BlueskyChannel, account: PdsAccount) -> None:
    outbound = post()
    first = channel.publish(outbound)

    again = channel_for(account).publish(outbound)

    assert again == first
    rkey = record_key(outbound.idempotency_key)
    listed = account.xrpc(
        "GET",
        "com.atproto.repo.listRecords",
        params={"repo": account.did, "collection": POST, "limit": 100},
    ).json()["records"]
    assert [r["uri"] for r in listed].count(first.remote_id) == 1
    # What the server answers to a second create under the same key (the sandbox does the same):
    token = account.login(account.app_password)["accessJwt"]
    raw = account.xrpc(
        "POST",
        "com.atproto.repo.createRecord",
        token,
        json={
            "repo": account.did,
            "collection": POST,
            "rkey": rkey,
            "record": {"$type": POST, "text": "x", "createdAt": "2026-01-01T00:00:00Z"},
        },
    )
    assert (raw.status_code, raw.json()["error"]) == (500, "InternalServerError")


def test_look_up_finds_the_post_by_its_key_and_delete_removes_it(
    channel: BlueskyChannel, account: PdsAccount
) -> None:
    outbound = post()
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert channel.look_up(outbound, since=since) is None

    published = channel.publish(outbound)
    assert channel.look_up(outbound, since=since) == published

    channel.delete(published.remote_id)
    channel.delete(published.remote_id)  # gone already: still fine

    assert channel.look_up(outbound, since=since) is None
    assert account.record(published.remote_id)["error"] == "RecordNotFound"


def test_the_servers_validation_refusal_is_rejected(channel: BlueskyChannel) -> None:
    with pytest.raises(RejectedError) as caught:
        channel.publish(post("ä" * 301))

    assert caught.value.network_message is not None
    assert caught.value.network_message.startswith("Invalid app.bsky.feed.post record:")


def test_verify_returns_the_handle(channel: BlueskyChannel, account: PdsAccount) -> None:
    assert channel.verify() == f"@{account.handle}"


def test_metrics_need_an_appview_this_pds_does_not_have(
    channel: BlueskyChannel,
) -> None:
    receipt = channel.publish(post())

    with pytest.raises(RejectedError) as caught:
        channel.fetch_metrics(receipt)

    assert caught.value.network_message == "No service configured for app.bsky.feed.getPosts"


# --- sessions -----------------------------------------------------------------------------------


def test_expired_access_token_is_refreshed(channel: BlueskyChannel, account: PdsAccount) -> None:
    channel.publish(post())
    expired = expire_cached_access_token(channel)
    refused = account.xrpc("GET", "com.atproto.server.getSession", expired)
    assert (refused.status_code, refused.json()["error"]) == (400, "ExpiredToken")

    receipt = channel.publish(post())

    assert account.record(receipt.remote_id)["uri"] == receipt.remote_id
    [renewed] = bluesky_module._sessions.values()
    assert renewed.access_jwt != expired


def test_revoked_app_password_is_an_auth_error(account: PdsAccount) -> None:
    app_password = account.new_app_password("wird-widerrufen")
    channel = channel_for(account, app_password)
    channel.publish(post())
    revoked = account.xrpc(
        "POST",
        "com.atproto.server.revokeAppPassword",
        account.login()["accessJwt"],
        json={"name": "wird-widerrufen"},
    )
    assert revoked.status_code == 200
    expire_cached_access_token(channel)

    with pytest.raises(AuthError) as caught:
        channel.publish(post())

    assert caught.value.network_message == "Invalid identifier or password"


def test_wrong_app_password_is_an_auth_error(account: PdsAccount) -> None:
    with pytest.raises(AuthError) as caught:
        channel_for(account, "aaaa-bbbb-cccc-dddd").publish(post())

    assert caught.value.network_message == "Invalid identifier or password"


def test_login_rate_limit_is_a_rate_limited_error_with_its_reset(pds: str) -> None:
    # createSession allows 30 attempts per 5 minutes per identifier (and client address).
    # The server answers each failed login after 350 ms (against timing attacks), and the
    # adapter logs in one at a time per account, so the first 30 go out side by side by hand.
    nobody = PdsAccount(pds, f"niemand{secrets.token_hex(4)}.test", "", "", "")

    def fail_once(_: int) -> int:
        response = nobody.xrpc(
            "POST",
            "com.atproto.server.createSession",
            json={"identifier": nobody.handle, "password": "falsch"},
        )
        return int(response.status_code)

    with ThreadPoolExecutor(max_workers=15) as pool:
        assert set(pool.map(fail_once, range(30))) == {401}
    channel = channel_for(nobody, "falsch")
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        channel.verify()

    assert caught.value.retry_at is not None
    assert before - timedelta(seconds=2) <= caught.value.retry_at <= before + timedelta(minutes=5)


def test_connect_flow_takes_an_app_password_and_refuses_the_account_password(
    account: PdsAccount,
) -> None:
    """`campaign accounts connect` for Bluesky against the real PDS: an app password made with
    createAppPassword is accepted (session scope com.atproto.appPass); the account's own
    password is refused by the scope of its session."""
    from campaign_scheduler.auth.base import ConnectContext, flow_for

    def ctx(password: str) -> ConnectContext:
        return ConnectContext(
            account_name="soest-bluesky",
            channel="bluesky",
            base_url=account.url,
            settings={"identifier": account.handle},
            session=make_session(),
            ask=lambda prompt, secret=False: password,
            say=lambda line: None,
        )

    fresh = account.new_app_password(f"connect-{secrets.token_hex(3)}")
    record = flow_for("bluesky").connect(ctx(fresh))
    assert record.access_token == fresh
    assert record.scope == "com.atproto.appPass"
    assert record.extra == {"identifier": account.handle, "did": account.did}
    with pytest.raises(AuthError, match="account's own password"):
        flow_for("bluesky").connect(ctx(account.password))
