"""The Bluesky sandbox spoken to with plain HTTP: does it answer as the reference PDS does
(docs/bluesky.md lists what the real server said), and do its controls work?"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels._atproto import is_tid, record_key
from campaign_scheduler.sandbox._server import HttpRequest
from campaign_scheduler.sandbox.bluesky import BlueskySandbox

PASSWORD = "abcd-efgh-ijkl-mnop"
FIXED_NOW = 1_900_000_000.0
POST = "app.bsky.feed.post"


class Client:
    """Just enough of an XRPC client to drive the sandbox by hand."""

    def __init__(self, sandbox: BlueskySandbox) -> None:
        self.sandbox = sandbox
        self.http = sandbox.session()
        self.token: str | None = None
        self.refresh: str | None = None
        self.did = ""

    def call(
        self, method: str, nsid: str, *, token: str | None = "session", **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        bearer = self.token if token == "session" else token
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return self.http.request(
            method, f"{self.sandbox.url}/xrpc/{nsid}", headers=headers, timeout=5, **kwargs
        )

    def login(self, identifier: str = "soest.test", password: str = PASSWORD) -> dict[str, Any]:
        response = self.call(
            "POST",
            "com.atproto.server.createSession",
            token=None,
            json={"identifier": identifier, "password": password},
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        self.token, self.refresh, self.did = (
            answer["accessJwt"],
            answer["refreshJwt"],
            answer["did"],
        )
        return answer

    def create(self, record: dict[str, Any] | None = None, **body: Any) -> requests.Response:
        full = {
            "$type": POST,
            "text": "Hallo aus Soest",
            "createdAt": "2030-03-17T17:46:40.000Z",
            **(record or {}),
        }
        return self.call(
            "POST",
            "com.atproto.repo.createRecord",
            json={"repo": self.did, "collection": POST, "record": full, **body},
        )

    def upload(self, data: bytes, mime: str = "image/png") -> dict[str, Any]:
        response = self.call(
            "POST", "com.atproto.repo.uploadBlob", data=data, headers={"Content-Type": mime}
        )
        assert response.status_code == 200, response.text
        blob: dict[str, Any] = response.json()["blob"]
        return blob


@pytest.fixture
def sandbox() -> Iterator[BlueskySandbox]:
    with BlueskySandbox().start_in_process() as server:
        server.add_account("soest.test", PASSWORD, followers=5)
        yield server


@pytest.fixture
def client(sandbox: BlueskySandbox) -> Iterator[Client]:
    c = Client(sandbox)
    c.login()
    yield c
    c.http.close()


def png(width: int = 4, height: int = 3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def envelope(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error", "message"}
    return response.status_code, body["error"], body["message"]


# --- sessions -----------------------------------------------------------------------------------


def test_create_session_answers_like_the_pds(client: Client, sandbox: BlueskySandbox) -> None:
    answer = client.login()

    assert set(answer) >= {"did", "handle", "accessJwt", "refreshJwt", "active", "email"}
    assert answer["handle"] == "soest.test"
    assert answer["did"] == sandbox.did_of("soest") and answer["did"].startswith("did:plc:")
    assert answer["accessJwt"].count(".") == 2  # shaped like the real JWTs


@pytest.mark.parametrize("identifier", ["SOEST.test", "soest.test@example.org", "did"])
def test_login_by_handle_email_or_did(
    client: Client, sandbox: BlueskySandbox, identifier: str
) -> None:
    client.login(sandbox.did_of("soest") if identifier == "did" else identifier)


def test_wrong_password_is_401_authentication_required(client: Client) -> None:
    response = client.call(
        "POST",
        "com.atproto.server.createSession",
        token=None,
        json={"identifier": "soest.test", "password": "falsch"},
    )
    assert envelope(response) == (401, "AuthenticationRequired", "Invalid identifier or password")


def test_login_is_rate_limited_per_identifier() -> None:
    with BlueskySandbox(session_limit=2, clock=lambda: FIXED_NOW) as limited:
        limited.add_account("soest.test", PASSWORD)
        limited.add_account("olpe.test", PASSWORD)
        client = Client(limited)
        client.login()
        client.login()
        response = client.call(
            "POST",
            "com.atproto.server.createSession",
            token=None,
            json={"identifier": "soest.test", "password": PASSWORD},
        )
        assert envelope(response) == (429, "RateLimitExceeded", "Rate Limit Exceeded")
        assert response.headers["RateLimit-Limit"] == "2"
        assert response.headers["RateLimit-Remaining"] == "0"
        assert response.headers["RateLimit-Reset"] == str(int(FIXED_NOW + 300))
        assert response.headers["RateLimit-Policy"] == "2;w=300"
        assert response.headers["Retry-After"] == "300"
        client.login("olpe.test")  # other identifiers have their own window


def test_refresh_rotates_the_refresh_token(client: Client) -> None:
    old_refresh, old_access = client.refresh, client.token

    response = client.call("POST", "com.atproto.server.refreshSession", token=old_refresh)
    assert response.status_code == 200
    fresh = response.json()
    assert fresh["accessJwt"] != old_access and fresh["refreshJwt"] != old_refresh

    again = client.call("POST", "com.atproto.server.refreshSession", token=old_refresh)
    assert envelope(again) == (400, "ExpiredToken", "Token has been revoked")
    with_access = client.call("POST", "com.atproto.server.refreshSession", token=fresh["accessJwt"])
    assert envelope(with_access) == (400, "InvalidToken", "Token could not be verified")


def test_access_tokens_expire_as_400_expired_token() -> None:
    now = [FIXED_NOW]
    with BlueskySandbox(access_token_ttl=60, clock=lambda: now[0]) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        client = Client(sandbox)
        client.login()
        assert client.call("GET", "com.atproto.server.getSession").status_code == 200
        now[0] += 60

        response = client.call("GET", "com.atproto.server.getSession")

        assert envelope(response) == (400, "ExpiredToken", "Token has expired")
        refreshed = client.call("POST", "com.atproto.server.refreshSession", token=client.refresh)
        assert refreshed.status_code == 200


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (None, (401, "AuthMissing", "Authentication Required")),
        ("garbage", (400, "InvalidToken", "Token could not be verified")),
        ("refresh", (400, "InvalidToken", "Bad token scope")),
    ],
)
def test_bad_tokens(client: Client, token: str | None, expected: tuple[int, str, str]) -> None:
    bearer = client.refresh if token == "refresh" else token
    assert envelope(client.call("GET", "com.atproto.server.getSession", token=bearer)) == expected


def test_revoked_password_keeps_access_tokens_until_they_expire(
    client: Client, sandbox: BlueskySandbox
) -> None:
    sandbox.revoke(PASSWORD)

    assert client.create().status_code == 200
    refresh = client.call("POST", "com.atproto.server.refreshSession", token=client.refresh)
    assert envelope(refresh) == (400, "ExpiredToken", "Token has been revoked")
    sandbox.expire_access_tokens()
    assert envelope(client.create())[1] == "ExpiredToken"
    with pytest.raises(AssertionError):
        client.login()


# --- createRecord ---------------------------------------------------------------------------------


def test_create_record_answers_uri_cid_commit(client: Client, sandbox: BlueskySandbox) -> None:
    response = client.create()

    assert response.status_code == 200
    answer = response.json()
    rkey = answer["uri"].rsplit("/", 1)[1]
    assert answer["uri"] == f"at://{client.did}/{POST}/{rkey}"
    assert is_tid(rkey) and is_tid(answer["commit"]["rev"])
    assert answer["cid"].startswith("bafyrei") and len(answer["cid"]) == 59
    assert answer["validationStatus"] == "valid"
    assert response.headers["RateLimit-Remaining"] == "4997"
    [record] = sandbox.records()
    assert record.text == "Hallo aus Soest" and record.cid == answer["cid"]


def test_client_chosen_rkey_is_used_and_a_taken_one_is_500(
    client: Client, sandbox: BlueskySandbox
) -> None:
    rkey = record_key("delivery-1")
    assert client.create(rkey=rkey).json()["uri"].endswith(f"/{rkey}")

    response = client.create({"text": "zweiter Versuch"}, rkey=rkey)

    assert envelope(response) == (500, "InternalServerError", "Internal Server Error")
    assert [r.text for r in sandbox.records()] == ["Hallo aus Soest"]


def test_a_deleted_rkey_can_be_used_again(client: Client, sandbox: BlueskySandbox) -> None:
    rkey = record_key("delivery-2")
    client.create(rkey=rkey)
    client.call(
        "POST",
        "com.atproto.repo.deleteRecord",
        json={"repo": client.did, "collection": POST, "rkey": rkey},
    )

    assert client.create(rkey=rkey).status_code == 200
    assert [r.deleted for r in sandbox.records()] == [False]


def test_concurrent_creates_under_one_rkey_make_one_record(
    client: Client, sandbox: BlueskySandbox
) -> None:
    rkey = record_key("delivery-3")
    statuses: list[int] = []

    def create() -> None:
        with sandbox.session() as http:
            response = http.post(
                f"{sandbox.url}/xrpc/com.atproto.repo.createRecord",
                headers={"Authorization": f"Bearer {client.token}"},
                json={
                    "repo": client.did,
                    "collection": POST,
                    "rkey": rkey,
                    "record": {"text": "x", "createdAt": "2030-03-17T17:46:40Z"},
                },
                timeout=5,
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert sorted(statuses) == [200] + [500] * 7
    assert len(sandbox.records()) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"text": "a" * 301}, "grapheme too big (maximum 300, got 301) at $.record.text"),
        ({"text": "👨‍👩‍👧‍👦" * 121}, "string too big (maximum 3000, got 3025) at $.record.text"),
        ({"createdAt": None}, 'Missing required key "createdAt" at $.record'),
        ({"createdAt": "gestern"}, 'Invalid datetime (got "gestern") at $.record.createdAt'),
        ({"langs": ["de", "en", "fr", "it"]}, "array too big (maximum 3, got 4) at $.record.langs"),
        (
            {"langs": ["not a language!"]},
            'Invalid language (got "not a language!") at $.record.langs[0]',
        ),
        ({"facets": [{"features": []}]}, 'Missing required key "index" at $.record.facets[0]'),
        (
            {"facets": [{"index": {"byteStart": -1, "byteEnd": 2}, "features": []}]},
            "integer too small (minimum 0, got -1) at $.record.facets[0].index.byteStart",
        ),
        (
            {
                "facets": [
                    {
                        "index": {"byteStart": 0, "byteEnd": 2},
                        "features": [
                            {"$type": "app.bsky.richtext.facet#link", "uri": "example.org"}
                        ],
                    }
                ]
            },
            'Invalid uri (got "example.org") at $.record.facets[0].features[0].uri',
        ),
        (
            {
                "facets": [
                    {
                        "index": {"byteStart": 0, "byteEnd": 2},
                        "features": [
                            {"$type": "app.bsky.richtext.facet#mention", "did": "not-a-did"}
                        ],
                    }
                ]
            },
            'Invalid DID (got "not-a-did") at $.record.facets[0].features[0].did',
        ),
        (
            {
                "facets": [
                    {
                        "index": {"byteStart": 0, "byteEnd": 2},
                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "a" * 65}],
                    }
                ]
            },
            "grapheme too big (maximum 64, got 65) at $.record.facets[0].features[0].tag",
        ),
        (
            {
                "reply": {
                    "root": {
                        "uri": "at://did:plc:x/app.bsky.feed.post/3k2abcdefgh22",
                        "cid": "bafyreihqgezsodrczoxu5tuhj7vde3r6zywc45ylzpqryj2njgqqu562v4",
                    }
                }
            },
            'Missing required key "parent" at $.record.reply',
        ),
        (
            {
                "reply": {
                    name: {
                        "uri": "at://did:plc:x/app.bsky.feed.post/3k2abcdefgh22",
                        "cid": "bafyreibogus",
                    }
                    for name in ("root", "parent")
                }
            },
            'Invalid CID string (got "bafyreibogus") at $.record.reply.root.cid',
        ),
        ({"$type": "app.bsky.feed.like"}, 'Invalid $type: expected "app.bsky.feed.post"'),
    ],
)
def test_invalid_posts_are_400_invalid_request(
    client: Client, sandbox: BlueskySandbox, change: dict[str, Any], message: str
) -> None:
    record = {"$type": POST, "text": "Hallo", "createdAt": "2030-03-17T17:46:40Z", **change}
    record = {key: value for key, value in record.items() if value is not None}

    response = client.call(
        "POST",
        "com.atproto.repo.createRecord",
        json={"repo": client.did, "collection": POST, "record": record},
    )

    status, error, said = envelope(response)
    assert (status, error) == (400, "InvalidRequest")
    assert said.startswith("Invalid app.bsky.feed.post record: ")
    assert message in said
    assert sandbox.records() == []


def test_what_the_real_pds_accepts_is_accepted(client: Client) -> None:
    for record in (
        {"text": ""},
        {"text": "ä" * 300},
        {"langs": ["de-DE"]},
        {"facets": [{"index": {"byteStart": 8, "byteEnd": 500}, "features": []}]},
        {
            "reply": {
                r: {
                    "uri": f"at://{client.did}/{POST}/2222222222222",
                    "cid": "bafyreihqgezsodrczoxu5tuhj7vde3r6zywc45ylzpqryj2njgqqu562v4",
                }
                for r in ("root", "parent")
            }
        },
    ):
        assert client.create(record).status_code == 200, record
    assert client.create({"text": "a" * 301}, validate=False).status_code == 200


def test_invalid_rkey_and_foreign_repo(client: Client, sandbox: BlueskySandbox) -> None:
    bad = client.create(rkey="self")
    assert envelope(bad) == (
        400,
        "InvalidRequest",
        'Invalid record key for app.bsky.feed.post: Invalid TID string (got "self") at $',
    )
    sandbox.add_account("olpe.test")
    foreign = client.call(
        "POST",
        "com.atproto.repo.createRecord",
        json={"repo": sandbox.did_of("olpe"), "collection": POST, "record": {}},
    )
    assert envelope(foreign)[0] == 401
    unknown = client.call(
        "POST",
        "com.atproto.repo.createRecord",
        json={"repo": "did:plc:niemand", "collection": POST, "record": {}},
    )
    assert envelope(unknown) == (403, "AccountNotFound", "Account not found")
    by_handle = client.call(
        "POST",
        "com.atproto.repo.createRecord",
        json={
            "repo": "soest.test",
            "collection": POST,
            "record": {"text": "x", "createdAt": "2030-03-17T17:46:40Z"},
        },
    )
    assert by_handle.status_code == 200


def test_write_points_run_out() -> None:
    with BlueskySandbox(write_points_per_hour=7, clock=lambda: FIXED_NOW) as limited:
        limited.add_account("soest.test", PASSWORD)
        client = Client(limited)
        client.login()
        assert client.create().headers["RateLimit-Remaining"] == "4"
        second = client.create()
        assert second.headers["RateLimit-Remaining"] == "1"
        assert second.headers["RateLimit-Policy"] == "7;w=3600"

        third = client.create()

        assert envelope(third) == (429, "RateLimitExceeded", "Rate Limit Exceeded")
        assert third.headers["RateLimit-Reset"] == str(int(FIXED_NOW + 3600))
        deleted = client.call(
            "POST",
            "com.atproto.repo.deleteRecord",
            json={"repo": client.did, "collection": POST, "rkey": "2222222222222"},
        )
        assert deleted.status_code == 200 and deleted.headers["RateLimit-Remaining"] == "0"


# --- blobs and images -----------------------------------------------------------------------------


def test_upload_blob_sniffs_the_type_and_names_it_by_content(client: Client) -> None:
    data = png()
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 3)).save(jpeg, "JPEG")

    blob = client.upload(data, "application/octet-stream")
    as_jpeg = client.upload(jpeg.getvalue(), "image/png")

    assert blob["mimeType"] == "image/png" and blob["size"] == len(data)
    assert blob["$type"] == "blob" and blob["ref"]["$link"].startswith("bafkrei")
    assert client.upload(data)["ref"] == blob["ref"]  # same bytes, same CID
    assert as_jpeg["mimeType"] == "image/jpeg"


def test_upload_over_the_limit_is_413() -> None:
    with BlueskySandbox(blob_upload_limit=100) as small:
        small.add_account("soest.test", PASSWORD)
        client = Client(small)
        client.login()
        response = client.call(
            "POST",
            "com.atproto.repo.uploadBlob",
            data=b"x" * 101,
            headers={"Content-Type": "image/png"},
        )
        assert envelope(response) == (413, "PayloadTooLarge", "request entity too large")


def test_images_must_exist_be_images_and_fit(client: Client, sandbox: BlueskySandbox) -> None:
    def embed(blob: dict[str, Any], **extra: Any) -> dict[str, Any]:
        image = {"image": blob, "alt": "Alt", **extra}
        return {"embed": {"$type": "app.bsky.embed.images", "images": [image]}}

    good = client.upload(png())
    text = client.upload(b"hallo", "text/plain")
    big = client.upload(b"\0" * 2_000_001, "image/png")
    unknown = {
        **good,
        "ref": {"$link": "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"},
    }

    assert envelope(client.create(embed(unknown))) == (
        400,
        "BlobNotFound",
        "Could not find blob: bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq",
    )
    assert 'Expected "image/*" (got "text/plain")' in envelope(client.create(embed(text)))[2]
    assert "blob too big (maximum 2000000, got 2000001)" in envelope(client.create(embed(big)))[2]
    no_alt = {"embed": {"$type": "app.bsky.embed.images", "images": [{"image": good}]}}
    assert 'Missing required key "alt"' in envelope(client.create(no_alt))[2]
    five = {"embed": {"$type": "app.bsky.embed.images", "images": [{"image": good, "alt": ""}] * 5}}
    assert "array too big (maximum 4, got 5)" in envelope(client.create(five))[2]
    assert sandbox.records() == []

    assert client.create(embed(good, aspectRatio={"width": 4, "height": 3})).status_code == 200
    [record] = sandbox.records()
    assert record.images[0].aspect_ratio == (4, 3) and record.images[0].alt == "Alt"


# --- reading, deleting, views -------------------------------------------------------------------


def test_get_record_and_record_not_found(client: Client, sandbox: BlueskySandbox) -> None:
    created = client.create(rkey=record_key("k")).json()
    params = {"repo": client.did, "collection": POST, "rkey": record_key("k")}

    found = client.call("GET", "com.atproto.repo.getRecord", token=None, params=params)
    missing = client.call(
        "GET", "com.atproto.repo.getRecord", token=None, params={**params, "rkey": record_key("x")}
    )

    assert found.json()["uri"] == created["uri"] and found.json()["cid"] == created["cid"]
    assert found.json()["value"]["text"] == "Hallo aus Soest"
    assert envelope(missing) == (
        400,
        "RecordNotFound",
        f"Could not locate record: at://{client.did}/{POST}/{record_key('x')}",
    )
    by_handle = client.call(
        "GET", "com.atproto.repo.getRecord", params={**params, "repo": "soest.test"}
    )
    assert by_handle.status_code == 200


def test_delete_record_of_nothing_is_200(client: Client, sandbox: BlueskySandbox) -> None:
    created = client.create().json()
    rkey = created["uri"].rsplit("/", 1)[1]
    body = {"repo": client.did, "collection": POST, "rkey": rkey}

    first = client.call("POST", "com.atproto.repo.deleteRecord", json=body)
    second = client.call("POST", "com.atproto.repo.deleteRecord", json=body)

    assert set(first.json()["commit"]) == {"cid", "rev"}
    assert second.status_code == 200 and second.json() == {}
    gone = client.call("GET", "com.atproto.repo.getRecord", params=body)
    assert envelope(gone)[1] == "RecordNotFound"


def test_list_records_newest_first_with_cursor(client: Client) -> None:
    keys = [record_key(str(n)) for n in range(5)]
    for key in keys:
        client.create(rkey=key)
    params = {"repo": client.did, "collection": POST, "limit": 3}

    page = client.call("GET", "com.atproto.repo.listRecords", params=params).json()
    rest = client.call(
        "GET", "com.atproto.repo.listRecords", params={**params, "cursor": page["cursor"]}
    ).json()

    listed = [r["uri"].rsplit("/", 1)[1] for r in page["records"] + rest["records"]]
    assert listed == sorted(keys, reverse=True)
    assert "cursor" not in rest


def test_resolve_handle(client: Client, sandbox: BlueskySandbox) -> None:
    found = client.call(
        "GET", "com.atproto.identity.resolveHandle", params={"handle": "Soest.test"}
    )
    missing = client.call(
        "GET", "com.atproto.identity.resolveHandle", params={"handle": "niemand.test"}
    )

    assert found.json() == {"did": sandbox.did_of("soest")}
    assert envelope(missing) == (400, "HandleNotFound", "Unable to resolve handle")


def test_get_posts_reports_counters_and_needs_auth(client: Client, sandbox: BlueskySandbox) -> None:
    first = client.create().json()
    reply_ref = {"uri": first["uri"], "cid": first["cid"]}
    client.create({"text": "Antwort", "reply": {"root": reply_ref, "parent": reply_ref}})
    sandbox.set_engagement(first["uri"], likes=4, reposts=2, replies=1, quotes=1)
    missing = first["uri"][:-13] + "2222222222222"

    views = client.call(
        "GET", "app.bsky.feed.getPosts", params={"uris": [first["uri"], missing]}
    ).json()["posts"]

    [view] = views
    assert view["uri"] == first["uri"] and view["cid"] == first["cid"]
    assert (view["likeCount"], view["repostCount"], view["replyCount"], view["quoteCount"]) == (
        4,
        2,
        1,
        1,
    )
    assert view["author"]["handle"] == "soest.test"
    no_auth = client.call(
        "GET", "app.bsky.feed.getPosts", token=None, params={"uris": first["uri"]}
    )
    assert envelope(no_auth) == (401, "AuthMissing", "Authentication Required")
    too_many = client.call("GET", "app.bsky.feed.getPosts", params={"uris": [first["uri"]] * 26})
    assert envelope(too_many)[:2] == (400, "InvalidRequest")


def test_replies_count_on_their_parent(client: Client) -> None:
    first = client.create().json()
    ref = {"uri": first["uri"], "cid": first["cid"]}
    reply = client.create({"text": "Antwort", "reply": {"root": ref, "parent": ref}}).json()

    def replies() -> int:
        posts = client.call("GET", "app.bsky.feed.getPosts", params={"uris": first["uri"]})
        count: int = posts.json()["posts"][0]["replyCount"]
        return count

    assert replies() == 1
    client.call(
        "POST",
        "com.atproto.repo.deleteRecord",
        json={"repo": client.did, "collection": POST, "rkey": reply["uri"].rsplit("/", 1)[1]},
    )
    assert replies() == 0


def test_get_posts_leaves_out_posts_not_indexed_yet() -> None:
    now = [FIXED_NOW]
    with BlueskySandbox(index_delay=2, clock=lambda: now[0]) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        client = Client(sandbox)
        client.login()
        uri = client.create().json()["uri"]

        def count() -> int:
            answer = client.call("GET", "app.bsky.feed.getPosts", params={"uris": uri}).json()
            return len(answer["posts"])

        assert count() == 0
        now[0] += 2
        assert count() == 1


def test_get_profile(client: Client, sandbox: BlueskySandbox) -> None:
    client.create()

    profile = client.call("GET", "app.bsky.actor.getProfile", params={"actor": "soest.test"})
    missing = client.call("GET", "app.bsky.actor.getProfile", params={"actor": "niemand.test"})

    body = profile.json()
    assert (body["did"], body["followersCount"], body["postsCount"]) == (
        sandbox.did_of("soest"),
        5,
        1,
    )
    assert envelope(missing) == (400, "InvalidRequest", "Profile not found")


def test_unknown_method_and_wrong_http_method(client: Client) -> None:
    assert envelope(client.call("GET", "app.bsky.feed.getTimeline")) == (
        501,
        "MethodNotImplemented",
        "Method Not Implemented",
    )
    assert envelope(client.call("GET", "com.atproto.repo.createRecord"))[:2] == (
        400,
        "InvalidRequest",
    )
    assert client.call("GET", "_health").json() == {"version": "sandbox"}


def test_malformed_json_is_400(client: Client) -> None:
    response = client.call(
        "POST",
        "com.atproto.repo.createRecord",
        data=b"{kein json",
        headers={"Content-Type": "application/json"},
    )
    assert envelope(response)[:2] == (400, "InvalidRequest")


# --- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name"),
    [
        (400, "InvalidRequest"),
        (500, "InternalServerError"),
        (502, "UpstreamFailure"),
        (503, "NotEnoughResources"),
        (504, "UpstreamTimeout"),
    ],
)
def test_fail_next_answers_in_the_xrpc_envelope(
    client: Client, sandbox: BlueskySandbox, status: int, name: str
) -> None:
    sandbox.fail_next(status=status)

    assert envelope(client.create())[:2] == (status, name)
    assert client.create().status_code == 200
    assert len(sandbox.records()) == 1


def test_rate_limit_next_sends_the_reset_in_unix_seconds() -> None:
    with BlueskySandbox(clock=lambda: FIXED_NOW) as sandbox:
        sandbox.add_account("soest.test", PASSWORD)
        client = Client(sandbox)
        client.login()
        sandbox.rate_limit_next(reset_in=42)

        response = client.create()

    assert envelope(response) == (429, "RateLimitExceeded", "Rate Limit Exceeded")
    assert response.headers["RateLimit-Reset"] == str(int(FIXED_NOW + 42))
    assert response.headers["RateLimit-Remaining"] == "0"
    assert sandbox.records() == []


def test_drop_after_create_creates_then_closes(client: Client, sandbox: BlueskySandbox) -> None:
    sandbox.drop_after_create()

    with pytest.raises(requests.ConnectionError):
        client.create()

    assert len(sandbox.records()) == 1


def test_hold_after_create_answers_on_release(client: Client, sandbox: BlueskySandbox) -> None:
    held = sandbox.hold_after_create()
    answers: list[int] = []
    thread = threading.Thread(target=lambda: answers.append(client.create().status_code))
    thread.start()

    assert held.wait(5)
    assert len(sandbox.records()) == 1 and answers == []
    sandbox.release()
    thread.join(5)
    assert answers == [200]


def test_delay_answers_late(client: Client, sandbox: BlueskySandbox) -> None:
    sandbox.delay = 0.2
    started = time.monotonic()

    client.call("GET", "com.atproto.server.getSession")

    assert time.monotonic() - started >= 0.2


def test_stop_lets_held_requests_go(sandbox: BlueskySandbox) -> None:
    client = Client(sandbox)
    client.login()
    held = sandbox.hold_after_create()
    errors: list[BaseException] = []

    def create() -> None:
        try:
            client.create()
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=create)
    thread.start()
    assert held.wait(5)
    sandbox.stop()
    thread.join(5)
    assert not thread.is_alive()


# --- control over HTTP --------------------------------------------------------------------------


def control(sandbox: BlueskySandbox, path: str, body: Any = None) -> requests.Response:
    if body is None:
        return sandbox.session().get(f"{sandbox.url}/_sandbox/{path}", timeout=5)
    return sandbox.session().post(f"{sandbox.url}/_sandbox/{path}", json=body, timeout=5)


def test_http_controls(client: Client, sandbox: BlueskySandbox) -> None:
    account = control(sandbox, "accounts", {"handle": "olpe", "followers": 3}).json()
    assert account["handle"] == "olpe.test" and account["did"] == sandbox.did_of("olpe")
    Client(sandbox).login("olpe.test", account["password"])

    assert control(sandbox, "faults", {"fail_next": {"count": 1, "status": 502}}).ok
    assert client.create().status_code == 502
    assert control(sandbox, "faults", {"rate_limit_next": {"reset_in": 5}}).ok
    assert client.create().status_code == 429
    assert control(sandbox, "faults", {"drop_after_create": {}}).ok
    with pytest.raises(requests.ConnectionError):
        client.create()
    uri = sandbox.records()[0].uri
    assert control(sandbox, "engagement", {"uri": uri, "likes": 9}).ok
    posts = client.call("GET", "app.bsky.feed.getPosts", params={"uris": uri}).json()["posts"]
    assert posts[0]["likeCount"] == 9
    assert control(sandbox, "faults", {"expire_access_tokens": True}).ok
    assert envelope(client.create())[1] == "ExpiredToken"
    assert control(sandbox, "faults", {"revoke": {"password": account["password"]}}).ok
    with pytest.raises(AssertionError):
        Client(sandbox).login("olpe.test", account["password"])
    assert control(sandbox, "faults", {"delay": 0}).ok

    records = control(sandbox, "records").json()
    assert records == control(sandbox, "statuses").json()
    assert [r["uri"] for r in records] == [uri]
    seen = control(sandbox, "requests").json()
    assert "com.atproto.repo.createRecord" in [r["nsid"] for r in seen]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("faults", {"explode": True}, 400),
        ("faults", {"delay": -1}, 400),
        ("faults", [1], 400),
        ("accounts", {}, 400),
        ("engagement", {"uri": "at://did:plc:x/app.bsky.feed.post/2222222222222"}, 400),
        ("nothing", {}, 404),
    ],
)
def test_http_controls_refuse_nonsense(
    sandbox: BlueskySandbox, path: str, body: Any, status: int
) -> None:
    assert control(sandbox, path, body).status_code == status


def test_http_controls_answer_loopback_only(sandbox: BlueskySandbox) -> None:
    request = HttpRequest("GET", "/_sandbox/records", {}, Message(), b"", "192.0.2.7")

    assert sandbox.handle(request).status == 403


def test_connections_use_tcp_nodelay() -> None:
    with BlueskySandbox() as sandbox:  # on loopback: only a socket has TCP options
        answer = requests.get(f"{sandbox.url}/_sandbox/connection", timeout=5).json()
    assert answer == {"tcp_nodelay": True}


def test_records_snapshot_is_independent(client: Client, sandbox: BlueskySandbox) -> None:
    client.create()
    [record] = sandbox.records()
    record.value["text"] = "verändert"

    assert sandbox.records()[0].text == "Hallo aus Soest"
    assert sandbox.records()[0].indexed_at <= datetime.now(UTC)
