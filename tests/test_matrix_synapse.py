"""MatrixChannel against a real Synapse homeserver.

scripts/ci.d/30-synapse.sh installs Synapse outside the clone, starts it on a free loopback
port and exports ``CAMPAIGN_TEST_SYNAPSE_*`` (URL, an admin token, a public room, the shared
registration secret). Without them these tests are skipped, unless
``CAMPAIGN_TEST_REQUIRE_SYNAPSE`` is set (CI), where a missing server fails. To run them
locally: ``source scripts/ci.d/30-synapse.sh`` in bash, then pytest from that shell.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.matrix import (
    DELIVERY_KEY,
    MEDIA_KEY,
    MatrixChannel,
    clear_room_cache,
)
from campaign_scheduler.errors import AuthError, RateLimitedError, RejectedError
from conftest import real_server_missing

INSTALLED = Path.home() / ".cache/campaign-scheduler/synapse/venv/bin/python"
HOW = "`source scripts/ci.d/30-synapse.sh` installs and starts one"


@dataclass
class Synapse:
    url: str
    admin_token: str
    room_id: str
    alias: str
    secret: str
    http: requests.Session

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()

    def register(self, prefix: str, *, exempt: bool = True, join: bool = True) -> User:
        """A new user (through the shared-secret admin API, so with a device), joined to the
        room and exempt from the message rate limit unless told otherwise."""
        localpart = f"{prefix}{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        nonce = self.call("GET", "/_synapse/admin/v1/register")["nonce"]
        message = b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), b"notadmin"])
        mac = hmac.new(self.secret.encode(), message, hashlib.sha1).hexdigest()
        body = {"nonce": nonce, "username": localpart, "password": password, "mac": mac}
        account = self.call("POST", "/_synapse/admin/v1/register", json=body)
        user = User(account["user_id"], account["access_token"], password)
        if exempt:
            limits = {"messages_per_second": 0, "burst_count": 0}
            path = f"/_synapse/admin/v1/users/{quote(user.user_id)}/override_ratelimit"
            self.call("POST", path, self.admin_token, json=limits)
        if join:
            self.call("POST", f"/_matrix/client/v3/join/{quote(self.alias)}", user.token, json={})
        return user

    def login(self, user: User) -> str:
        """A second device of ``user``: a fresh access token."""
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user.user_id},
            "password": user.password,
        }
        return str(self.call("POST", "/_matrix/client/v3/login", json=body)["access_token"])

    def event(self, event_id: str, token: str | None = None) -> dict[str, Any]:
        path = f"/_matrix/client/v3/rooms/{quote(self.room_id)}/event/{quote(event_id)}"
        answer: dict[str, Any] = self.call("GET", path, token or self.admin_token)
        return answer

    def channel(self, token: str, *, room: str | None = None) -> MatrixChannel:
        account = AccountSettings(
            "soest-matrix",
            self.url,
            {"room": room or self.alias},
            secret=lambda key: token,
        )
        return MatrixChannel(account, self.http, timeout=30)


@dataclass
class User:
    user_id: str
    token: str
    password: str


def _require(reason: str) -> NoReturn:
    real_server_missing(reason, "CAMPAIGN_TEST_REQUIRE_SYNAPSE")


@pytest.fixture(scope="module")
def synapse() -> Iterator[Synapse]:
    url = os.environ.get("CAMPAIGN_TEST_SYNAPSE_URL")
    if not url:
        where = f"installed at {INSTALLED.parent.parent}" if INSTALLED.exists() else "not installed"
        _require(f"no Synapse running ({where}; {HOW})")
    assert url is not None
    with make_session() as http:
        try:
            http.get(f"{url}/health", timeout=5).raise_for_status()
        except requests.RequestException as exc:
            _require(f"no Synapse running at {url} ({type(exc).__name__}; {HOW})")
        clear_room_cache()
        yield Synapse(
            url=url,
            admin_token=os.environ["CAMPAIGN_TEST_SYNAPSE_TOKEN"],
            room_id=os.environ["CAMPAIGN_TEST_SYNAPSE_ROOM"],
            alias=os.environ["CAMPAIGN_TEST_SYNAPSE_ALIAS"],
            secret=os.environ["CAMPAIGN_TEST_SYNAPSE_REGISTRATION_SECRET"],
            http=http,
        )
        clear_room_cache()


@pytest.fixture(scope="module")
def poster(synapse: Synapse) -> User:
    return synapse.register("soest")


@pytest.fixture
def channel(synapse: Synapse, poster: User) -> MatrixChannel:
    return synapse.channel(poster.token)


def post(
    text: str = "Noch 7 Tage bis zur Smart Cities: Konferenz! #5malklug", **kwargs: Any
) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "noch-7-tage.png"
    Image.new("RGB", (64, 48), (20, 90, 60)).save(path)
    return MediaFile(path, "Grafik: „Noch 7 Tage“ in Weiß auf grünem Grund", "image/png")


def test_text_with_html_and_a_clickable_link(
    synapse: Synapse, channel: MatrixChannel, poster: User
) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    outbound = post("Programm & Anmeldung <hier>: https://smartcities-suedwestfalen.com/konferenz/")

    receipt = channel.publish(outbound)

    event = synapse.event(receipt.remote_id)
    assert event["sender"] == poster.user_id
    assert event["content"]["body"] == outbound.text
    assert event["content"]["format"] == "org.matrix.custom.html"
    assert event["content"]["formatted_body"] == (
        "Programm &amp; Anmeldung &lt;hier&gt;: "
        '<a href="https://smartcities-suedwestfalen.com/konferenz/">'
        "https://smartcities-suedwestfalen.com/konferenz/</a>"
    )
    assert receipt.published_at >= before
    assert receipt.published_at == datetime.fromtimestamp(event["origin_server_ts"] / 1000, UTC)


def test_image_with_alt_text_is_stored_and_downloadable(
    synapse: Synapse, channel: MatrixChannel, image: MediaFile
) -> None:
    receipt = channel.publish(post(media=(image,)))

    text = synapse.event(receipt.remote_id)
    [picture_id] = text["content"][MEDIA_KEY]
    picture = synapse.event(picture_id)["content"]
    assert picture["msgtype"] == "m.image"
    assert picture["body"] == image.alt
    assert picture["info"] == {
        "mimetype": "image/png",
        "size": image.path.stat().st_size,
        "w": 64,
        "h": 48,
    }
    server, media_id = picture["url"].removeprefix("mxc://").split("/")
    download = synapse.http.get(
        f"{synapse.url}/_matrix/client/v1/media/download/{server}/{media_id}",
        headers={"Authorization": f"Bearer {synapse.admin_token}"},
        timeout=30,
    )
    assert download.content == image.path.read_bytes()


def test_reply_relates_to_its_parent(synapse: Synapse, channel: MatrixChannel) -> None:
    first = channel.publish(post("Teil 1 #5malklug"))

    second = channel.publish(post("Teil 2 #5malklug", reply_to=first.remote_id))

    relates = synapse.event(second.remote_id)["content"]["m.relates_to"]
    assert relates == {"m.in_reply_to": {"event_id": first.remote_id}}


def test_replaying_the_transaction_id_does_not_duplicate(
    synapse: Synapse, channel: MatrixChannel, poster: User
) -> None:
    outbound = post("Einmal und nur einmal #5malklug")
    # A send whose answer was lost: the event exists, the adapter never heard of it.
    path = (
        f"/_matrix/client/v3/rooms/{quote(synapse.room_id)}/send/m.room.message/"
        f"{outbound.idempotency_key}"
    )
    lost = synapse.call(
        "PUT", path, poster.token, json={"msgtype": "m.text", "body": outbound.text}
    )

    first = channel.publish(outbound)
    again = channel.publish(outbound)

    assert first.remote_id == again.remote_id == lost["event_id"]


def test_look_up_finds_the_post_from_the_same_and_from_another_device(
    synapse: Synapse, channel: MatrixChannel, poster: User
) -> None:
    outbound = post("Wiederfinden nach einem Absturz #5malklug")
    published = channel.publish(outbound)
    channel.publish(post("Ein späterer Beitrag"))
    since = datetime.now(UTC) - timedelta(minutes=1)
    second_device = synapse.channel(synapse.login(poster))

    assert channel.look_up(outbound, since=since) == published
    assert second_device.look_up(outbound, since=since) == published
    assert channel.look_up(post(), since=since) is None


def test_unsigned_transaction_id_is_echoed_to_the_sending_device_only(
    synapse: Synapse, channel: MatrixChannel, poster: User
) -> None:
    outbound = post("Wer hat das gesendet?")
    receipt = channel.publish(outbound)

    mine = synapse.event(receipt.remote_id, poster.token)
    other = synapse.event(receipt.remote_id, synapse.login(poster))

    assert mine["unsigned"]["transaction_id"] == outbound.idempotency_key
    assert "transaction_id" not in other["unsigned"]
    assert other["content"][DELIVERY_KEY] == outbound.idempotency_key


def test_delete_redacts_the_post_and_its_image(
    synapse: Synapse, channel: MatrixChannel, image: MediaFile
) -> None:
    receipt = channel.publish(post("Wird gleich zurückgezogen", media=(image,)))
    [picture_id] = synapse.event(receipt.remote_id)["content"][MEDIA_KEY]

    channel.delete(receipt.remote_id)
    channel.delete(receipt.remote_id)

    for event_id in (receipt.remote_id, picture_id):
        event = synapse.event(event_id)
        assert event["content"] == {}
        assert "redacted_because" in event["unsigned"]


def test_metrics_count_reactions_thread_replies_and_members(
    synapse: Synapse, channel: MatrixChannel
) -> None:
    receipt = channel.publish(post("Wie gefällt Ihnen das Programm?"))
    reader = synapse.register("leser")
    room = f"/_matrix/client/v3/rooms/{quote(synapse.room_id)}"
    synapse.call(
        "PUT",
        f"{room}/send/m.reaction/r1",
        reader.token,
        json={
            "m.relates_to": {"rel_type": "m.annotation", "event_id": receipt.remote_id, "key": "👍"}
        },
    )
    thread = {"rel_type": "m.thread", "event_id": receipt.remote_id}
    synapse.call(
        "PUT",
        f"{room}/send/m.room.message/t1",
        reader.token,
        json={"msgtype": "m.text", "body": "Sehr gut!", "m.relates_to": thread},
    )
    members = synapse.call("GET", f"{room}/joined_members", synapse.admin_token)["joined"]

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.replies) == (1, 1)
    assert metrics.followers == len(members) - 1


def test_verify_and_its_failures(synapse: Synapse, channel: MatrixChannel, poster: User) -> None:
    outsider = synapse.register("fremd", join=False)

    assert channel.verify() == f"{poster.user_id} in {synapse.alias}"
    with pytest.raises(AuthError, match="has not joined"):
        synapse.channel(outsider.token).verify()
    with pytest.raises(AuthError, match=r"forbidden.*not in room"):
        synapse.channel(outsider.token).publish(post())


def test_a_wrong_token_is_an_auth_error(synapse: Synapse) -> None:
    with pytest.raises(AuthError, match="M_UNKNOWN_TOKEN"):
        synapse.channel("syt_falsch").publish(post())


def test_an_oversized_event_is_rejected(channel: MatrixChannel) -> None:
    with pytest.raises(RejectedError, match="M_TOO_LARGE"):
        channel.publish(post("ä" * 40_000))  # 80,000 bytes: over the 65,536-byte event limit


def test_the_rate_limit_says_when_to_retry(synapse: Synapse) -> None:
    hasty = synapse.register("eilig", exempt=False)  # 3 events at once, then one per 20 s
    channel = synapse.channel(hasty.token)

    with pytest.raises(RateLimitedError) as caught:
        for number in range(5):
            channel.publish(post(f"Nachricht {number}"))

    assert caught.value.retry_at is not None
    wait = (caught.value.retry_at - datetime.now(UTC)).total_seconds()
    assert 0 < wait <= 21


def test_connect_flow_logs_in_with_a_password_and_resolves_the_alias(synapse: Synapse) -> None:
    """`campaign accounts connect` for Matrix against the real Synapse: password login gives a
    token for a new device, the alias becomes the room id, the account is a member."""
    from campaign_scheduler.auth.base import ConnectContext, flow_for

    user = synapse.register("connect", join=False)
    answers = {"[p/t]": "p", "Matrix user": user.user_id, "Password": user.password}

    def ask(prompt: str, secret: bool = False) -> str:
        return next(value for word, value in answers.items() if word in prompt)

    ctx = ConnectContext(
        account_name="soest-matrix",
        channel="matrix",
        base_url=synapse.url,
        settings={"room": synapse.alias},
        session=synapse.http,
        ask=ask,
        say=lambda line: None,
    )
    record = flow_for("matrix").connect(ctx)
    assert record.extra["room"] == synapse.room_id
    assert record.access_token != user.token
    who = synapse.call("GET", "/_matrix/client/v3/account/whoami", record.access_token)
    assert who["user_id"] == user.user_id
    members = synapse.call(
        "GET",
        f"/_matrix/client/v3/rooms/{quote(synapse.room_id)}/joined_members",
        record.access_token,
    )
    assert user.user_id in members["joined"]
