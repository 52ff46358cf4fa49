"""The Mastodon sandbox's own contract, checked with plain HTTP (channels.md §2, "Fake server
must"), so that the adapter tests run against something that answers like Mastodon."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.client import HTTPConnection
from typing import Any

import pytest
import requests

from campaign_scheduler.sandbox import MastodonSandbox, SeenRequest

NOW = 1_900_000_800.0  # a fixed clock: 2030-03-17 18:00:00 UTC, on a 3-hour boundary
PNG = ("pixel.png", b"\x89PNG\r\n\x1a\n fake but typed", "image/png")


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[MastodonSandbox]:
    with MastodonSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def http(sandbox: MastodonSandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield sandbox.mount(session)


@pytest.fixture
def loopback(clock: Clock) -> Iterator[MastodonSandbox]:
    """For what only a socket shows (the in-process transport has none)."""
    with MastodonSandbox(clock=clock) as server:
        yield server


class Client:
    """One account's view of the sandbox."""

    def __init__(self, sandbox: MastodonSandbox, http: requests.Session, username: str) -> None:
        self.base = sandbox.url
        self.http = sandbox.mount(http)
        self.token = sandbox.add_account(username)
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.base + path, headers=self.auth, timeout=5, **kwargs)

    def post(self, path: str, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = dict(self.auth)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.http.post(self.base + path, headers=headers, timeout=5, **kwargs)

    def status(self, text: str, key: str | None = None, **fields: Any) -> requests.Response:
        return self.post("/api/v1/statuses", key, json={"status": text, **fields})

    def upload(self, **data: str) -> requests.Response:
        return self.post("/api/v2/media", files={"file": PNG}, data=data)


@pytest.fixture
def alice(sandbox: MastodonSandbox, http: requests.Session) -> Client:
    return Client(sandbox, http, "alice")


# --- creating statuses ------------------------------------------------------------------------


def test_status_entity_has_the_fields_adapters_read(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    parent = alice.status("Erster").json()

    response = alice.status(
        "Hallo <Welt> & mehr\n\nZweiter Absatz", language="de", in_reply_to_id=parent["id"]
    )

    assert response.status_code == 200
    status = response.json()
    assert isinstance(status["id"], str) and int(status["id"]) > int(parent["id"])
    assert status["created_at"] == "2030-03-17T18:00:00.000Z"
    assert status["url"] == f"{sandbox.url}/@alice/{status['id']}"
    assert status["uri"] == f"{sandbox.url}/users/alice/statuses/{status['id']}"
    assert status["content"] == "<p>Hallo &lt;Welt&gt; &amp; mehr</p><p>Zweiter Absatz</p>"
    assert status["language"] == "de"
    assert status["visibility"] == "public"
    assert status["in_reply_to_id"] == parent["id"]
    assert (status["replies_count"], status["reblogs_count"], status["favourites_count"]) == (
        0,
        0,
        0,
    )
    assert status["media_attachments"] == []
    assert status["account"]["username"] == "alice"
    assert alice.get(f"/api/v1/statuses/{parent['id']}").json()["replies_count"] == 1


def test_form_encoded_status_with_media_ids_is_accepted(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    media = alice.upload(description="Ein grünes Pixel").json()

    response = alice.post(
        "/api/v1/statuses",
        data={"status": "Mit Bild", "language": "de", "media_ids[]": [media["id"]]},
    )

    assert response.status_code == 200
    [attachment] = response.json()["media_attachments"]
    assert attachment["id"] == media["id"]
    assert attachment["description"] == "Ein grünes Pixel"
    assert [m.alt for m in sandbox.statuses()[0].media] == ["Ein grünes Pixel"]


def test_status_ids_increase_even_when_the_clock_stands_still(alice: Client) -> None:
    ids = [int(alice.status(f"Nummer {n}").json()["id"]) for n in range(5)]

    assert ids == sorted(set(ids))


def test_blank_status_is_rejected(alice: Client) -> None:
    for text in ("", "   \n "):
        response = alice.status(text)

        assert response.status_code == 422
        assert response.json() == {"error": "Validation failed: Text can't be blank"}


def test_media_only_status_needs_no_text(alice: Client) -> None:
    media = alice.upload().json()

    assert alice.status("", media_ids=[media["id"]]).status_code == 200


def test_reply_to_a_missing_status_is_404_with_mastodons_words(alice: Client) -> None:
    response = alice.status("Antwort", in_reply_to_id="42")

    assert response.status_code == 404
    assert response.json() == {
        "error": "The post you are trying to reply to does not appear to exist."
    }


# --- idempotency ------------------------------------------------------------------------------


def test_same_idempotency_key_returns_the_first_status_and_creates_nothing(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    first = alice.status("Einmal", key="k-1")
    again = alice.status("Einmal, aber anders formuliert", key="k-1")

    assert again.status_code == 200
    assert again.json() == first.json()
    assert [s.text for s in sandbox.statuses()] == ["Einmal"]


def test_idempotency_keys_belong_to_one_account(
    alice: Client, sandbox: MastodonSandbox, http: requests.Session
) -> None:
    bob = Client(sandbox, http, "bob")

    a = alice.status("Gleicher Schlüssel", key="shared").json()
    b = bob.status("Gleicher Schlüssel", key="shared").json()

    assert a["id"] != b["id"]
    assert len(sandbox.statuses()) == 2


def test_idempotency_key_is_forgotten_after_its_ttl(http: requests.Session, clock: Clock) -> None:
    with MastodonSandbox(idempotency_ttl=600, clock=clock) as sandbox:
        alice = Client(sandbox, http, "alice")
        first = alice.status("Hallo", key="k").json()
        clock.now += 599
        within = alice.status("Hallo", key="k").json()
        clock.now += 1
        after = alice.status("Hallo", key="k").json()

    assert within["id"] == first["id"]
    assert after["id"] != first["id"]
    assert len(sandbox.statuses()) == 2


def test_concurrent_requests_with_one_key_create_one_status(
    sandbox: MastodonSandbox, alice: Client
) -> None:
    start = threading.Barrier(8)

    def create(_: int) -> str:
        with sandbox.session() as own:
            start.wait()
            response = own.post(
                sandbox.url + "/api/v1/statuses",
                headers={**alice.auth, "Idempotency-Key": "race"},
                json={"status": "Nur einmal"},
                timeout=5,
            )
            return str(response.json()["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(create, range(8)))

    assert len(ids) == 1
    assert len(sandbox.statuses()) == 1


def test_failed_create_does_not_claim_the_key(alice: Client) -> None:
    assert alice.status("", key="k").status_code == 422

    assert alice.status("Jetzt mit Text", key="k").status_code == 200


# --- text length ------------------------------------------------------------------------------


def test_instance_publishes_its_max_characters(http: requests.Session) -> None:
    with MastodonSandbox(max_characters=1000) as sandbox:
        instance = http.get(sandbox.url + "/api/v2/instance", timeout=5).json()

    statuses = instance["configuration"]["statuses"]
    assert statuses["max_characters"] == 1000
    assert statuses["characters_reserved_per_url"] == 23


def test_text_over_the_instance_limit_is_422_naming_the_limit(http: requests.Session) -> None:
    with MastodonSandbox(max_characters=50) as sandbox:
        alice = Client(sandbox, http, "alice")

        fits = alice.status("x" * 50)
        too_long = alice.status("x" * 51)

    assert fits.status_code == 200
    assert too_long.status_code == 422
    assert too_long.json() == {"error": "Validation failed: Text character limit of 50 exceeded"}


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Link: https://example.org/" + "a" * 300, 6 + 23),  # every URL counts 23
        ("www.example.org/" + "a" * 20, 36),  # without a scheme it is plain text
        ("Hallo @alice@a-very-long-instance-name.example", 12),  # the domain is free
        ("👨‍👩‍👧‍👦" * 10, 10),  # one grapheme cluster each
        ("Straße café", 11),
    ],
)
def test_length_follows_mastodons_counting(http: requests.Session, text: str, counted: int) -> None:
    with (
        MastodonSandbox(max_characters=counted) as exact,
        MastodonSandbox(max_characters=counted - 1) as tight,
    ):
        assert Client(exact, http, "a").status(text).status_code == 200
        assert Client(tight, http, "a").status(text).status_code == 422


def test_spoiler_text_counts_towards_the_limit(http: requests.Session) -> None:
    with MastodonSandbox(max_characters=10) as sandbox:
        response = Client(sandbox, http, "a").status("12345", spoiler_text="123456")

    assert response.status_code == 422


# --- media ------------------------------------------------------------------------------------


def test_small_image_upload_is_ready_at_once(alice: Client) -> None:
    response = alice.upload(description="Alt")

    assert response.status_code == 200
    assert response.json()["url"]
    assert response.json()["description"] == "Alt"


def test_media_processing_answers_202_then_206_until_ready(http: requests.Session) -> None:
    with MastodonSandbox(media_processing_polls=2) as sandbox:
        alice = Client(sandbox, http, "alice")
        upload = alice.upload()
        media_id = upload.json()["id"]

        polls = [alice.get(f"/api/v1/media/{media_id}") for _ in range(3)]

    assert upload.status_code == 202
    assert upload.json()["url"] is None
    assert [p.status_code for p in polls] == [206, 206, 200]
    assert polls[-1].json()["url"]


def test_attaching_unprocessed_media_is_422_without_prefix(http: requests.Session) -> None:
    with MastodonSandbox(media_processing_polls=1) as sandbox:
        alice = Client(sandbox, http, "alice")
        media_id = alice.upload().json()["id"]

        response = alice.status("Zu früh", media_ids=[media_id])

    assert response.status_code == 422
    assert response.json() == {
        "error": "Cannot attach files that have not finished processing. Try again in a moment!"
    }


def test_failed_media_processing_is_422_when_polled(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    sandbox.fail_media_processing()
    upload = alice.upload()

    poll = alice.get(f"/api/v1/media/{upload.json()['id']}")

    assert (upload.status_code, poll.status_code) == (202, 422)


def test_more_than_four_attachments_are_refused(alice: Client) -> None:
    ids = [alice.upload().json()["id"] for _ in range(5)]

    response = alice.status("Zu viele", media_ids=ids)

    assert response.status_code == 422
    assert response.json() == {"error": "Cannot attach more than 4 files"}


def test_unsupported_file_type_is_refused(alice: Client) -> None:
    response = alice.post("/api/v2/media", files={"file": ("notes.txt", b"hi", "text/plain")})

    assert response.status_code == 422
    assert response.json()["error"].startswith("Validation failed: File content type is invalid")


# --- rate limits ------------------------------------------------------------------------------


def test_creation_reports_the_statuses_rate_limit_with_an_iso_reset(alice: Client) -> None:
    response = alice.status("Hallo")

    assert response.headers["X-RateLimit-Limit"] == "300"
    assert response.headers["X-RateLimit-Remaining"] == "299"
    # the next 3-hour bucket boundary, ISO 8601 with 6 fractional digits, UTC
    assert response.headers["X-RateLimit-Reset"] == "2030-03-17T21:00:00.000000Z"


def test_the_301st_status_in_three_hours_is_429(
    alice: Client, sandbox: MastodonSandbox, clock: Clock
) -> None:
    for number in range(300):
        assert alice.status(f"Beitrag {number}").status_code == 200

    refused = alice.status("Einer zu viel")
    clock.now += 3 * 3600
    next_bucket = alice.status("Wieder erlaubt")

    assert refused.status_code == 429
    assert refused.json() == {"error": "Too many requests"}
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert next_bucket.status_code == 200
    assert len(sandbox.statuses()) == 301


def test_rate_limit_next_answers_429_and_creates_nothing(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    sandbox.rate_limit_next(reset_in=90.5)

    response = alice.status("Gebremst")

    assert response.status_code == 429
    assert response.json() == {"error": "Too many requests"}
    reset = response.headers["X-RateLimit-Reset"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", reset)
    assert reset == "2030-03-17T18:01:30.500000Z"
    assert sandbox.statuses() == []
    assert alice.status("Danach").status_code == 200


# --- auth and lookups -------------------------------------------------------------------------


def test_bad_missing_and_revoked_tokens_get_401(
    alice: Client, sandbox: MastodonSandbox, http: requests.Session
) -> None:
    url = sandbox.url + "/api/v1/accounts/verify_credentials"
    bad = http.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    missing = http.get(url, timeout=5)
    sandbox.revoke(alice.token)
    revoked = alice.get("/api/v1/accounts/verify_credentials")

    for response in (bad, missing, revoked):
        assert response.status_code == 401
        assert response.json() == {"error": "The access token is invalid"}


def test_verify_credentials_shows_the_account_and_followers(
    sandbox: MastodonSandbox, http: requests.Session
) -> None:
    token = sandbox.add_account("soest", followers=1234)

    me = http.get(
        sandbox.url + "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).json()

    assert me["username"] == "soest"
    assert me["acct"] == "soest"
    assert me["followers_count"] == 1234
    assert me["statuses_count"] == 0
    assert isinstance(me["id"], str)


def test_unknown_status_is_404_record_not_found(alice: Client) -> None:
    response = alice.get("/api/v1/statuses/999")

    assert response.status_code == 404
    assert response.json() == {"error": "Record not found"}


def test_source_returns_the_raw_text_to_its_author_only(
    alice: Client, sandbox: MastodonSandbox, http: requests.Session
) -> None:
    status = alice.status("Roh <b>text</b> https://example.org").json()
    bob = Client(sandbox, http, "bob")

    mine = alice.get(f"/api/v1/statuses/{status['id']}/source")
    theirs = bob.get(f"/api/v1/statuses/{status['id']}/source")

    assert mine.json() == {
        "id": status["id"],
        "text": "Roh <b>text</b> https://example.org",
        "spoiler_text": "",
    }
    assert theirs.status_code == 404


def test_delete_returns_the_status_with_its_text_then_it_is_gone(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    status = alice.status("Weg damit").json()

    deleted = alice.http.delete(
        f"{alice.base}/api/v1/statuses/{status['id']}", headers=alice.auth, timeout=5
    )
    again = alice.http.delete(
        f"{alice.base}/api/v1/statuses/{status['id']}", headers=alice.auth, timeout=5
    )

    assert deleted.status_code == 200
    assert deleted.json()["text"] == "Weg damit"
    assert again.status_code == 404
    assert alice.get(f"/api/v1/statuses/{status['id']}").status_code == 404
    assert sandbox.statuses()[0].deleted
    assert alice.get("/api/v1/accounts/verify_credentials").json()["statuses_count"] == 0


def test_account_statuses_page_backwards_with_max_id(alice: Client) -> None:
    created = [alice.status(f"Nummer {n}").json()["id"] for n in range(45)]
    me = alice.get("/api/v1/accounts/verify_credentials").json()["id"]
    path = f"/api/v1/accounts/{me}/statuses"

    first = alice.get(path, params={"limit": 40, "exclude_reblogs": "true"})
    second = alice.get(path, params={"limit": 40, "max_id": first.json()[-1]["id"]})

    newest_first = created[::-1]
    assert [s["id"] for s in first.json()] == newest_first[:40]
    assert [s["id"] for s in second.json()] == newest_first[40:]
    assert f"max_id={newest_first[39]}" in first.headers["Link"]


def test_engagement_counters_show_in_the_status(alice: Client, sandbox: MastodonSandbox) -> None:
    status = alice.status("Beliebt").json()
    sandbox.set_engagement(status["id"], favourites=7, reblogs=3, replies=2)

    counts = alice.get(f"/api/v1/statuses/{status['id']}").json()

    assert (counts["favourites_count"], counts["reblogs_count"], counts["replies_count"]) == (
        7,
        3,
        2,
    )
    assert "quotes_count" not in counts


# --- faults -----------------------------------------------------------------------------------


def test_fail_next_answers_the_error_and_creates_nothing(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    sandbox.fail_next(count=2, status=503)

    answers = [alice.status("Versuch").status_code for _ in range(3)]

    assert answers == [503, 503, 200]
    assert len(sandbox.statuses()) == 1


def test_drop_after_create_closes_the_connection_without_an_answer(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    sandbox.drop_after_create()

    with pytest.raises(requests.exceptions.ConnectionError):
        alice.status("Verschluckt", key="k")

    assert [s.text for s in sandbox.statuses()] == ["Verschluckt"]
    assert alice.status("Verschluckt", key="k").json()["id"] == sandbox.statuses()[0].id


def test_hold_after_create_answers_only_on_release(alice: Client, sandbox: MastodonSandbox) -> None:
    held = sandbox.hold_after_create()
    answers: list[int] = []
    request = threading.Thread(target=lambda: answers.append(alice.status("Warte").status_code))
    request.start()

    assert held.wait(5)
    assert len(sandbox.statuses()) == 1
    assert answers == []
    sandbox.release()
    request.join(5)
    assert answers == [200]


def test_delay_slows_every_answer(alice: Client, sandbox: MastodonSandbox) -> None:
    sandbox.delay = 0.15
    started = time.monotonic()

    alice.get("/api/v2/instance")

    assert time.monotonic() - started >= 0.15


def test_requests_seen_record_arrival_but_never_the_token(
    alice: Client, sandbox: MastodonSandbox
) -> None:
    before = time.monotonic()
    alice.status("Hallo", key="key-1")

    [seen] = sandbox.requests_seen
    assert (seen.method, seen.path, seen.idempotency_key) == ("POST", "/api/v1/statuses", "key-1")
    assert before <= seen.monotonic <= time.monotonic()
    assert abs(seen.wall - time.time()) < 5
    assert alice.token not in repr(seen)
    assert "authorization" not in {name.lower() for name in SeenRequest.__dataclass_fields__}


# --- control over HTTP ------------------------------------------------------------------------


def test_faults_can_be_set_over_http(
    alice: Client, sandbox: MastodonSandbox, http: requests.Session
) -> None:
    set_fault = http.post(
        sandbox.url + "/_sandbox/faults", json={"fail_next": {"count": 1, "status": 502}}, timeout=5
    )

    assert set_fault.status_code == 200
    assert alice.status("Erst Fehler").status_code == 502
    assert alice.status("Dann gut").status_code == 200


def test_unknown_fault_over_http_is_400(sandbox: MastodonSandbox, http: requests.Session) -> None:
    response = http.post(sandbox.url + "/_sandbox/faults", json={"explode": {}}, timeout=5)

    assert response.status_code == 400
    assert "explode" in response.json()["error"]


def test_accounts_and_statuses_over_http(sandbox: MastodonSandbox, http: requests.Session) -> None:
    token = http.post(
        sandbox.url + "/_sandbox/accounts", json={"username": "olpe", "token": "t-olpe"}, timeout=5
    ).json()["token"]
    http.post(
        sandbox.url + "/api/v1/statuses",
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
        json={"status": "Grüße aus Olpe", "language": "de"},
        timeout=5,
    )

    listed = http.get(sandbox.url + "/_sandbox/statuses", timeout=5).json()

    assert token == "t-olpe"
    assert [(s["username"], s["text"], s["idempotency_key"]) for s in listed] == [
        ("olpe", "Grüße aus Olpe", "k")
    ]
    assert datetime.fromisoformat(listed[0]["created_at"]).tzinfo == UTC


# --- the HTTP server itself -------------------------------------------------------------------


def test_accepted_connections_have_tcp_nodelay(
    loopback: MastodonSandbox, http: requests.Session
) -> None:
    answer = http.get(loopback.url + "/_sandbox/connection", timeout=5)
    assert answer.json() == {"tcp_nodelay": True}


def test_keep_alive_serves_many_requests_on_one_connection(loopback: MastodonSandbox) -> None:
    # Speed (no Nagle stalls) is TCP_NODELAY's business, checked above; no stopwatch here.
    host, port = loopback.url.removeprefix("http://").split(":")
    connection = HTTPConnection(host, int(port), timeout=5)
    try:
        connection.connect()
        first_socket = connection.sock
        for _ in range(50):
            connection.request("GET", "/api/v2/instance")
            response = connection.getresponse()
            response.read()
            assert (response.status, response.version) == (200, 11)
            assert connection.sock is first_socket  # never reconnected
    finally:
        connection.close()


def test_stop_closes_idle_keep_alive_connections_and_frees_the_port(
    http: requests.Session,
) -> None:
    before = set(threading.enumerate())
    sandbox = MastodonSandbox().start()
    url = sandbox.url
    http.get(url + "/api/v2/instance", timeout=5)  # leaves a pooled, idle connection
    serving = [t for t in set(threading.enumerate()) - before if t.name == "sandbox-http"]

    sandbox.stop()

    # stop() waits for the serving thread (up to 5 s); one blocked on the idle client would
    # still be alive after that wait
    assert serving and not any(t.is_alive() for t in serving)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "/api/v2/instance", timeout=2)
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind((host, int(port)))
