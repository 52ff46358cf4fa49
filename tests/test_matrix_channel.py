"""MatrixChannel against the loopback MatrixSandbox, and the sandbox's own answers (checked
with plain HTTP), so that the adapter tests run against something that answers like Synapse.
tests/test_matrix_synapse.py runs the adapter against a real Synapse."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels import matrix as matrix_module
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.matrix import (
    DELIVERY_KEY,
    MEDIA_KEY,
    MatrixChannel,
    clear_room_cache,
    image_size,
    message_content,
    text_to_html,
)
from campaign_scheduler.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox.matrix import MatrixSandbox, SandboxEvent

ALIAS = "#5malklug:localhost"


@pytest.fixture(autouse=True)
def _fresh_room_cache() -> Iterator[None]:
    clear_room_cache()
    yield
    clear_room_cache()


@pytest.fixture
def sandbox() -> Iterator[MatrixSandbox]:
    with MatrixSandbox().start_in_process() as server:
        server.add_room("5malklug")
        yield server


@pytest.fixture
def session(sandbox: MatrixSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


Connect = Callable[..., MatrixChannel]


@pytest.fixture
def connect(sandbox: MatrixSandbox, session: requests.Session) -> Connect:
    """An adapter for a new device of ``@localpart`` (joined to the room unless told not)."""

    def make(
        localpart: str = "soest",
        *,
        room: str = ALIAS,
        join: bool = True,
        token: str | None = None,
        timeout: float = 5.0,
    ) -> MatrixChannel:
        if token is None:
            token = sandbox.add_account(localpart, rooms=(ALIAS,) if join else ())
        secrets = {"token": token}
        account = AccountSettings(
            f"{localpart}-matrix", sandbox.url, {"room": room}, secret=secrets.__getitem__
        )
        return MatrixChannel(account, session, timeout=timeout)

    return make


@pytest.fixture
def channel(connect: Connect) -> MatrixChannel:
    return connect()


def post(text: str = "Noch 7 Tage bis zur Konferenz! #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "countdown.png"
    Image.new("RGB", (40, 30), (20, 90, 60)).save(path)
    return MediaFile(path, "Grafik: „Noch 7 Tage“ in Weiß auf grünem Grund", "image/png")


def room_id(sandbox: MatrixSandbox) -> str:
    response = sandbox.session().get(
        f"{sandbox.url}/_matrix/client/v3/directory/room/%235malklug:localhost"
    )
    return str(response.json()["room_id"])


def messages(sandbox: MatrixSandbox, localpart: str = "soest") -> list[SandboxEvent]:
    return [
        e
        for e in sandbox.events()
        if e.type == "m.room.message" and e.sender == sandbox.user_id(localpart)
    ]


# --- publish ----------------------------------------------------------------------------------


def test_publish_sends_plain_and_html_text_marked_with_the_delivery_key(
    channel: MatrixChannel, sandbox: MatrixSandbox
) -> None:
    outbound = post(
        "Heute <b>live</b> & vor Ort: https://smartcities-suedwestfalen.com/konferenz/."
    )

    receipt = channel.publish(outbound)

    [event] = messages(sandbox)
    assert receipt.remote_id == event.event_id
    assert receipt.published_at == event.sent_at
    assert (
        receipt.url
        == f"https://matrix.to/#/%235malklug%3Alocalhost/{event.event_id.replace('$', '%24')}"
    )
    assert event.txn_id == outbound.idempotency_key
    assert event.content == {
        "msgtype": "m.text",
        "body": outbound.text,
        "format": "org.matrix.custom.html",
        "formatted_body": "Heute &lt;b&gt;live&lt;/b&gt; &amp; vor Ort: "
        '<a href="https://smartcities-suedwestfalen.com/konferenz/">'
        "https://smartcities-suedwestfalen.com/konferenz/</a>.",
        "m.mentions": {},
        DELIVERY_KEY: outbound.idempotency_key,
    }


def test_the_alias_is_resolved_once_and_a_room_id_needs_no_lookup(
    connect: Connect, sandbox: MatrixSandbox
) -> None:
    by_id = connect("olpe", room=room_id(sandbox))
    sandbox.requests_seen.clear()
    by_alias = connect()
    by_alias.publish(post())
    by_alias.publish(post())
    by_id.publish(post())

    lookups = [r for r in sandbox.requests_seen if "/directory/room/" in r.path]
    assert len(lookups) == 1
    assert len(messages(sandbox, "soest")) == 2 and len(messages(sandbox, "olpe")) == 1


def test_an_unknown_alias_or_no_room_is_an_account_problem(connect: Connect) -> None:
    with pytest.raises(AuthError, match="#nirgendwo:localhost does not exist") as unknown:
        connect(room="#nirgendwo:localhost").publish(post())
    assert unknown.value.hint is not None and "room" in unknown.value.hint
    with pytest.raises(AuthError, match="names no room"):
        connect(room="5malklug").publish(post())


def test_image_is_uploaded_and_sent_before_the_text_with_alt_text_and_info(
    channel: MatrixChannel, sandbox: MatrixSandbox, image: MediaFile
) -> None:
    outbound = post(media=(image,))

    receipt = channel.publish(outbound)

    picture, text = messages(sandbox)
    [upload] = sandbox.uploads()
    assert upload.content == image.path.read_bytes()
    assert upload.content_type == "image/png" and upload.filename == "countdown.png"
    assert picture.content == {
        "msgtype": "m.image",
        "body": image.alt,
        "url": upload.content_uri,
        "info": {"mimetype": "image/png", "size": len(upload.content), "w": 40, "h": 30},
        "m.mentions": {},
        DELIVERY_KEY: outbound.idempotency_key,
    }
    assert picture.txn_id == f"{outbound.idempotency_key}-media-1"
    assert text.event_id == receipt.remote_id
    assert text.content[MEDIA_KEY] == [picture.event_id]


def test_an_image_without_alt_text_is_described_by_its_file_name(
    channel: MatrixChannel, sandbox: MatrixSandbox, image: MediaFile
) -> None:
    channel.publish(post(media=(MediaFile(image.path, None, "image/png"),)))

    assert messages(sandbox)[0].content["body"] == "countdown.png"


def test_a_reply_relates_to_its_parent(channel: MatrixChannel, sandbox: MatrixSandbox) -> None:
    first = channel.publish(post("Teil 1"))

    second = channel.publish(post("Teil 2", reply_to=first.remote_id))

    event = next(e for e in messages(sandbox) if e.event_id == second.remote_id)
    assert event.content["m.relates_to"] == {"m.in_reply_to": {"event_id": first.remote_id}}


def test_missing_media_file_is_rejected_before_anything_is_sent(
    channel: MatrixChannel, sandbox: MatrixSandbox, tmp_path: Path
) -> None:
    with pytest.raises(RejectedError, match=r"gone\.png"):
        channel.publish(post(media=(MediaFile(tmp_path / "gone.png", "alt", "image/png"),)))
    assert messages(sandbox) == []


def test_too_large_an_upload_is_rejected_and_nothing_is_posted(
    channel: MatrixChannel, sandbox: MatrixSandbox, image: MediaFile
) -> None:
    sandbox.max_upload_size = 10

    with pytest.raises(RejectedError, match="M_TOO_LARGE"):
        channel.publish(post(media=(image,)))
    assert messages(sandbox) == []


def test_a_text_too_long_for_html_is_sent_as_plain_text_only() -> None:
    content = message_content(post("https://example.org/ " * 2000), [])

    assert "formatted_body" not in content and "format" not in content


# --- idempotency and recovery -----------------------------------------------------------------


def test_publishing_again_with_the_same_key_returns_the_same_events(
    channel: MatrixChannel, sandbox: MatrixSandbox, image: MediaFile
) -> None:
    outbound = post(media=(image,))

    first = channel.publish(outbound)
    again = channel.publish(outbound)

    assert again.remote_id == first.remote_id
    assert len(messages(sandbox)) == 2  # one image, one text
    assert len(sandbox.uploads()) == 2  # uploads are repeated (harmless, unreferenced)


def test_a_lost_answer_is_settled_by_replaying_the_transaction_id(
    channel: MatrixChannel, sandbox: MatrixSandbox
) -> None:
    outbound = post()
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    receipt = channel.publish(outbound)

    [event] = messages(sandbox)
    assert receipt.remote_id == event.event_id
    assert MatrixChannel.idempotency_window == timedelta(minutes=25)


def test_a_retry_while_the_first_request_is_held_gets_the_same_event(
    channel: MatrixChannel, sandbox: MatrixSandbox
) -> None:
    outbound = post()
    held = sandbox.hold_after_create()
    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(channel.publish(outbound).remote_id))
    first.start()
    assert held.wait(5)

    second = channel.publish(outbound)
    sandbox.release()
    first.join(5)

    assert results == [second.remote_id]
    assert len(messages(sandbox)) == 1


def test_look_up_finds_the_post_by_transaction_id_and_by_its_marker(
    connect: Connect, sandbox: MatrixSandbox
) -> None:
    channel = connect()
    outbound = post()
    published = channel.publish(outbound)
    channel.publish(post("Ein anderer Beitrag"))
    since = datetime.now(UTC) - timedelta(minutes=1)

    same_device = channel.look_up(outbound, since=since)
    other_device = connect().look_up(outbound, since=since)  # no transaction_id echoed

    assert same_device == published
    assert other_device == published


def test_look_up_ignores_images_other_senders_and_older_events(
    connect: Connect, sandbox: MatrixSandbox
) -> None:
    outbound = post()
    token = sandbox.add_account("soest", rooms=(ALIAS,))
    channel = connect(token=token)
    # A crash between the image and the text: only the image event carries the key.
    sandbox.session().put(
        f"{sandbox.url}/_matrix/client/v3/rooms/{room_id(sandbox)}/send/m.room.message/"
        f"{outbound.idempotency_key}-media-1",
        json={"msgtype": "m.image", "body": "Bild", DELIVERY_KEY: outbound.idempotency_key},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    ).raise_for_status()
    connect("olpe").publish(outbound)  # the same key from another account
    since = datetime.now(UTC) - timedelta(minutes=1)

    assert channel.look_up(outbound, since=since) is None
    assert channel.look_up(outbound, since=datetime.now(UTC) + timedelta(hours=1)) is None
    channel.publish(outbound)
    assert channel.look_up(outbound, since=since) is not None


def test_look_up_gives_up_when_it_cannot_search_back_far_enough(
    channel: MatrixChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matrix_module, "PAGE_SIZE", 2)
    monkeypatch.setattr(matrix_module, "LOOK_UP_MAX_PAGES", 2)
    wanted = post()
    channel.publish(wanted)
    for number in range(5):
        channel.publish(post(f"Beitrag {number}"))

    with pytest.raises(OutcomeUnknownError, match="could not search back"):
        channel.look_up(wanted, since=datetime.now(UTC) - timedelta(minutes=5))


def test_look_up_pages_back_to_an_older_post(
    channel: MatrixChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matrix_module, "PAGE_SIZE", 2)
    wanted = post()
    published = channel.publish(wanted)
    for number in range(5):
        channel.publish(post(f"Beitrag {number}"))

    assert channel.look_up(wanted, since=datetime.now(UTC) - timedelta(minutes=5)) == published


# --- errors -----------------------------------------------------------------------------------


def test_a_wrong_token_is_an_auth_error_and_never_shows_up_in_messages(
    connect: Connect, sandbox: MatrixSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = connect(token="syt_geheim_und_falsch")

    with pytest.raises(AuthError, match="M_UNKNOWN_TOKEN") as caught:
        channel.publish(post())

    assert "syt_geheim_und_falsch" not in str(caught.value) + caplog.text
    assert messages(sandbox) == []


def test_not_being_in_the_room_is_an_auth_error_with_a_hint(connect: Connect) -> None:
    with pytest.raises(AuthError, match="forbidden") as caught:
        connect("olpe", join=False).publish(post())
    assert caught.value.hint is not None and "joined the room" in caught.value.hint


def test_too_low_a_power_level_is_an_auth_error(connect: Connect, sandbox: MatrixSandbox) -> None:
    announcements = sandbox.add_room("amtsblatt", message_level=50)
    channel = connect(room="#amtsblatt:localhost", join=False)
    sandbox.join("soest", announcements)

    with pytest.raises(AuthError, match="permission to post"):
        channel.publish(post())
    with pytest.raises(AuthError, match="power level 0, messages need 50"):
        channel.verify()
    sandbox.set_power_level(announcements, "soest", 50)
    assert channel.verify() == "@soest:localhost in #amtsblatt:localhost"


def test_rate_limit_says_when_to_retry(channel: MatrixChannel, sandbox: MatrixSandbox) -> None:
    sandbox.rate_limit_next(reset_in=90.5)
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())

    assert caught.value.retry_at is not None
    wait = caught.value.retry_at - before
    assert timedelta(seconds=90) <= wait <= timedelta(seconds=95)
    assert caught.value.network_message == "Too Many Requests"


@pytest.mark.parametrize(
    ("headers", "body", "seconds"),
    [
        ({"Retry-After": "20"}, {"errcode": "M_LIMIT_EXCEEDED", "error": "slow down"}, 20),
        ({"Retry-After": "20"}, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1500}, 1.5),
        ({}, {"errcode": "M_LIMIT_EXCEEDED"}, 60),
    ],
)
def test_retry_time_from_body_header_or_default(
    headers: dict[str, str], body: dict[str, Any], seconds: float
) -> None:
    response = requests.Response()
    response.status_code = 429
    response.headers.update(headers)
    response._content = json.dumps(body).encode()
    now = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

    api = matrix_module.MatrixApi(
        "matrix",
        AccountSettings("a", "https://matrix.example"),
        requests.Session(),
        clock=lambda: now,
    )
    assert api.retry_at(response) == now + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (413, RejectedError),
        (400, RejectedError),
        (403, AuthError),
        (500, UnavailableError),
        (503, UnavailableError),
        (502, OutcomeUnknownError),
        (504, OutcomeUnknownError),
    ],
)
def test_http_errors_map_to_outcomes(
    channel: MatrixChannel, sandbox: MatrixSandbox, status: int, error: type[Exception]
) -> None:
    sandbox.fail_next(1, status=status)

    with pytest.raises(error):
        channel.publish(post())
    assert messages(sandbox) == []


def test_a_timeout_is_an_unknown_outcome(connect: Connect, sandbox: MatrixSandbox) -> None:
    channel = connect(timeout=0.3)
    channel.verify()  # resolve and cache first, so that the send is what times out
    sandbox.delay = 0.6

    with pytest.raises(OutcomeUnknownError):
        channel.publish(post())
    sandbox.delay = 0


# --- metrics, delete, verify ------------------------------------------------------------------


def test_metrics_count_reactions_thread_replies_and_members(
    channel: MatrixChannel, sandbox: MatrixSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(matrix_module, "PAGE_SIZE", 2)  # reactions come in pages
    receipt = channel.publish(post())
    for key in ("👍", "👍", "🎉"):
        sandbox.react(receipt.remote_id, key)
    sandbox.reply_in_thread(receipt.remote_id, "Wir kommen!")
    sandbox.reply_in_thread(receipt.remote_id, "Ich auch", localpart="olpe")
    sandbox.join("menden", ALIAS)

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.replies, metrics.followers) == (3, 2, 3)
    assert (metrics.reposts, metrics.quotes, metrics.views, metrics.clicks) == (None,) * 4


def test_metrics_of_a_quiet_post(channel: MatrixChannel) -> None:
    receipt = channel.publish(post())

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.replies, metrics.followers) == (0, 0, 0)


def test_delete_redacts_the_post_and_its_images(
    channel: MatrixChannel, sandbox: MatrixSandbox, image: MediaFile
) -> None:
    receipt = channel.publish(post(media=(image,)))

    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)  # again: nothing left to do, no error
    channel.delete("$unbekannt")

    picture, text = messages(sandbox)
    assert picture.redacted and text.redacted
    assert text.content == {} and picture.content == {}
    redactions = [e for e in sandbox.events() if e.type == "m.room.redaction"]
    assert len(redactions) == 2  # the repeated delete replays the same transaction ids


def test_verify_names_the_user_and_the_room(connect: Connect) -> None:
    assert connect().verify() == "@soest:localhost in #5malklug:localhost"
    with pytest.raises(AuthError, match="has not joined"):
        connect("olpe", join=False).verify()


# --- formatting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("a < b & c > d", "a &lt; b &amp; c &gt; d"),
        ("Zeile 1\nZeile 2\r\n\r\nAbsatz", "Zeile 1<br>Zeile 2<br><br>Absatz"),
        (
            "Siehe https://example.org/a?b=1&c=2, oder (https://de.wikipedia.org/wiki/A_(B)).",
            (
                'Siehe <a href="https://example.org/a?b=1&amp;c=2">'
                "https://example.org/a?b=1&amp;c=2</a>, "
                'oder (<a href="https://de.wikipedia.org/wiki/A_(B)">'
                "https://de.wikipedia.org/wiki/A_(B)</a>)."
            ),
        ),
        (
            "„https://example.org/x“ \"https://e.org/?q='1'\"",
            (
                '„<a href="https://example.org/x">https://example.org/x</a>“ '
                '"<a href="https://e.org/?q=&#x27;1">https://e.org/?q=\'1</a>\'"'
            ),
        ),
    ],
)
def test_text_to_html(text: str, html: str) -> None:
    assert text_to_html(text) == html


@pytest.mark.parametrize("kind", ["PNG", "GIF", "JPEG", "WEBP"])
def test_image_size_reads_common_formats(kind: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (321, 123), (200, 10, 10)).save(buffer, kind)

    assert image_size(buffer.getvalue()) == (321, 123)


def test_image_size_of_something_else_is_unknown() -> None:
    assert image_size(b"GIF8") is None
    assert image_size(b"not an image at all") is None


# --- the sandbox, over plain HTTP -------------------------------------------------------------


class Client:
    """One device's view of the sandbox."""

    def __init__(self, sandbox: MatrixSandbox, localpart: str, *, join: bool = True) -> None:
        self.base = sandbox.url
        self.http = sandbox.session()
        self.token = sandbox.add_account(localpart, rooms=(ALIAS,) if join else ())
        self.room = room_id(sandbox)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, self.base + path, headers=headers, timeout=5, **kwargs)

    def send(self, txn: str, body: str = "Hallo", **content: Any) -> requests.Response:
        path = f"/_matrix/client/v3/rooms/{self.room}/send/m.room.message/{txn}"
        return self.call("PUT", path, json={"msgtype": "m.text", "body": body, **content})

    def messages(self, **params: Any) -> dict[str, Any]:
        path = f"/_matrix/client/v3/rooms/{self.room}/messages"
        answer: dict[str, Any] = self.call("GET", path, params=params).json()
        return answer


def test_sandbox_transaction_ids_are_per_device_and_expire(sandbox: MatrixSandbox) -> None:
    now = [1_900_000_000.0]
    sandbox.clock = lambda: now[0]
    phone, laptop = Client(sandbox, "soest"), Client(sandbox, "soest")

    first = phone.send("t1").json()["event_id"]
    assert phone.send("t1", "anders").json()["event_id"] == first
    assert laptop.send("t1").json()["event_id"] != first
    now[0] += 24 * 3600
    assert phone.send("t1").json()["event_id"] != first


def test_sandbox_echoes_the_transaction_id_only_to_the_sending_device(
    sandbox: MatrixSandbox,
) -> None:
    phone, laptop = Client(sandbox, "soest"), Client(sandbox, "soest")
    event_id = phone.send("t1").json()["event_id"]
    path = f"/_matrix/client/v3/rooms/{phone.room}/event/{event_id}"

    assert phone.call("GET", path).json()["unsigned"]["transaction_id"] == "t1"
    assert "transaction_id" not in laptop.call("GET", path).json()["unsigned"]


def test_sandbox_messages_filter_and_paginate_backwards(sandbox: MatrixSandbox) -> None:
    soest, olpe = Client(sandbox, "soest"), Client(sandbox, "olpe")
    for number in range(3):
        soest.send(f"s{number}", f"Soest {number}")
        olpe.send(f"o{number}", f"Olpe {number}")
    only_soest = json.dumps({"types": ["m.room.message"], "senders": ["@soest:localhost"]})

    first = soest.messages(dir="b", limit=2, filter=only_soest)
    second = soest.messages(dir="b", limit=2, filter=only_soest, **{"from": first["end"]})

    bodies = [e["content"]["body"] for e in first["chunk"] + second["chunk"]]
    assert bodies == ["Soest 2", "Soest 1", "Soest 0"]
    assert "end" not in second
    everything = soest.messages(dir="f", limit=100)["chunk"]
    assert [e["type"] for e in everything[:2]] == ["m.room.member", "m.room.member"]


def test_sandbox_refuses_what_synapse_refuses(sandbox: MatrixSandbox) -> None:
    member, stranger = Client(sandbox, "soest"), Client(sandbox, "olpe", join=False)
    base = sandbox.url

    too_large = member.send("big", "x" * 70_000)
    not_joined = stranger.send("t1")
    no_token = sandbox.session().get(f"{base}/_matrix/client/v3/account/whoami", timeout=5)
    not_json = member.call(
        "PUT", f"/_matrix/client/v3/rooms/{member.room}/send/m.room.message/j", data=b"{"
    )
    unknown = member.call("GET", "/_matrix/client/v3/nothing/here")

    assert (too_large.status_code, too_large.json()["errcode"]) == (413, "M_TOO_LARGE")
    assert (not_joined.status_code, not_joined.json()["errcode"]) == (403, "M_FORBIDDEN")
    assert (no_token.status_code, no_token.json()["errcode"]) == (401, "M_MISSING_TOKEN")
    assert (not_json.status_code, not_json.json()["errcode"]) == (400, "M_NOT_JSON")
    assert (unknown.status_code, unknown.json()["errcode"]) == (404, "M_UNRECOGNIZED")


def test_sandbox_serves_uploads_only_through_authenticated_media(sandbox: MatrixSandbox) -> None:
    member = Client(sandbox, "soest")
    uri = member.call(
        "POST",
        "/_matrix/media/v3/upload",
        params={"filename": "bild.png"},
        data=b"\x89PNG...",
        headers={"Content-Type": "image/png"},
    ).json()["content_uri"]
    server, media_id = uri.removeprefix("mxc://").split("/")

    authenticated = member.call("GET", f"/_matrix/client/v1/media/download/{server}/{media_id}")
    legacy = sandbox.session().get(
        f"{sandbox.url}/_matrix/media/v3/download/{server}/{media_id}", timeout=5
    )

    assert (authenticated.status_code, authenticated.content) == (200, b"\x89PNG...")
    assert legacy.status_code == 404


def test_sandbox_control_api_over_http(sandbox: MatrixSandbox) -> None:
    base = f"{sandbox.url}/_sandbox"
    room = sandbox.session().post(f"{base}/rooms", json={"alias": "olpe"}, timeout=5).json()
    account = (
        sandbox.session()
        .post(f"{base}/accounts", json={"user": "olpe", "rooms": [room["alias"]]}, timeout=5)
        .json()
    )
    headers = {"Authorization": f"Bearer {account['token']}"}
    send = f"{sandbox.url}/_matrix/client/v3/rooms/{room['room_id']}/send/m.room.message"
    sandbox.session().post(f"{base}/faults", json={"rate_limit_next": {"reset_in": 2}}, timeout=5)

    limited = sandbox.session().put(f"{send}/a", json={"body": "x"}, headers=headers, timeout=5)
    sent = sandbox.session().put(f"{send}/b", json={"body": "x"}, headers=headers, timeout=5).json()
    sandbox.session().post(
        f"{base}/engagement",
        json={"event_id": sent["event_id"], "reactions": 2, "thread_replies": 1},
        timeout=5,
    )
    events = sandbox.session().get(f"{base}/events", timeout=5).json()
    bad = sandbox.session().post(f"{base}/faults", json={"explode": True}, timeout=5)

    assert account["user_id"] == "@olpe:localhost" and room["alias"] == "#olpe:localhost"
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()["retry_after_ms"] == 2000
    assert [e["type"] for e in events].count("m.reaction") == 2
    assert bad.status_code == 400
