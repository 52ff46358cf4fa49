"""BlueskyChannel.fetch_metrics against the real Bluesky AppView, reached through a real PDS.

The network (PLC, PDS, AppView and what it needs, from ``@atproto/dev-env``) runs outside the
test process: ``scripts/bluesky/appview/install-appview.sh``, then
``eval "$(scripts/bluesky/appview/start-appview.sh)"``, which sets
``CAMPAIGN_TEST_APPVIEW_PDS_URL``. CI does both (scripts/ci.d/20-bluesky-pds.sh). Without the
variable these tests are skipped, unless ``CAMPAIGN_TEST_REQUIRE_APPVIEW`` is set.

The AppView indexes from the PDS's event stream, a fraction of a second behind it, so the
checks poll.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels._atproto import AtUri
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, Metrics, OutboundPost
from campaign_scheduler.channels.bluesky import BlueskyChannel, clear_sessions
from campaign_scheduler.errors import RejectedError
from conftest import real_server_missing

NOT_RUNNING = (
    "no AppView network running (not installed or not started): run "
    "scripts/bluesky/appview/install-appview.sh, then "
    'eval "$(scripts/bluesky/appview/start-appview.sh)" to set CAMPAIGN_TEST_APPVIEW_PDS_URL'
)
POLL_FOR = 20.0  # seconds; indexing took well under a second here
T = TypeVar("T")


@pytest.fixture(scope="module")
def pds() -> str:
    url = os.environ.get("CAMPAIGN_TEST_APPVIEW_PDS_URL", "").rstrip("/")
    if not url:
        real_server_missing(NOT_RUNNING, "CAMPAIGN_TEST_REQUIRE_APPVIEW")
    try:
        requests.get(f"{url}/xrpc/_health", timeout=5).raise_for_status()
    except requests.RequestException as exc:
        pytest.fail(f"CAMPAIGN_TEST_APPVIEW_PDS_URL={url} is set but does not answer: {exc}")
    return url


@dataclass(frozen=True)
class Person:
    url: str
    handle: str
    did: str
    password: str
    token: str

    def create(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(
            f"{self.url}/xrpc/com.atproto.repo.createRecord",
            headers={"Authorization": f"Bearer {self.token}"},
            json={
                "repo": self.did,
                "collection": collection,
                "record": {"$type": collection, "createdAt": _now(), **record},
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def get(self, nsid: str, **params: Any) -> dict[str, Any]:
        response = requests.get(
            f"{self.url}/xrpc/{nsid}",
            headers={"Authorization": f"Bearer {self.token}"},
            params=params,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _person(url: str, prefix: str) -> Person:
    handle = f"{prefix}{secrets.token_hex(3)}.test"
    password = secrets.token_urlsafe(16)
    response = requests.post(
        f"{url}/xrpc/com.atproto.server.createAccount",
        json={"handle": handle, "email": f"{handle}@example.org", "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    return Person(url, handle, answer["did"], password, answer["accessJwt"])


@pytest.fixture(scope="module")
def soest(pds: str) -> Person:
    return _person(pds, "soest")


@pytest.fixture(scope="module")
def fan(pds: str) -> Person:
    return _person(pds, "fan")


@pytest.fixture(autouse=True)
def _fresh_sessions() -> Iterator[None]:
    clear_sessions()
    yield
    clear_sessions()


@pytest.fixture
def channel(soest: Person) -> BlueskyChannel:
    account = AccountSettings(
        "soest-bluesky", soest.url, {"identifier": soest.handle}, secret=lambda k: soest.password
    )
    return BlueskyChannel(account, make_session(), timeout=15)


def post(text: str, **kwargs: Any) -> OutboundPost:
    return OutboundPost(text=text, language="de", idempotency_key=uuid.uuid4().hex, **kwargs)


def poll(check: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + POLL_FOR
    while True:
        try:
            result = check()
        except RejectedError:
            result = None
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"the AppView did not show {what} within {POLL_FOR} s")
        time.sleep(0.1)


def test_metrics_come_from_the_appview(
    channel: BlueskyChannel, soest: Person, fan: Person, tmp_path: Path
) -> None:
    path = tmp_path / "countdown.png"
    Image.new("RGB", (120, 90), (20, 90, 60)).save(path)
    receipt = channel.publish(
        post(
            "Noch 7 Tage bis zur Smart Cities: Konferenz in Südwestfalen! #5malklug",
            media=(MediaFile(path, "Grafik: „Noch 7 Tage“", "image/png"),),
        )
    )
    assert AtUri.parse(receipt.remote_id).rkey.startswith("2")  # our hash-made record key

    indexed = poll(lambda: channel.fetch_metrics(receipt), "the new post")
    assert indexed == Metrics(likes=0, reposts=0, replies=0, quotes=0, followers=0)

    cid = soest.get("com.atproto.repo.getRecord", **_parts(receipt.remote_id))["cid"]
    subject = {"uri": receipt.remote_id, "cid": cid}
    fan.create("app.bsky.feed.like", {"subject": subject})
    fan.create("app.bsky.feed.repost", {"subject": subject})
    fan.create(
        "app.bsky.feed.post", {"text": "Wir kommen!", "reply": {"root": subject, "parent": subject}}
    )
    fan.create(
        "app.bsky.feed.post",
        {"text": "Hingehen!", "embed": {"$type": "app.bsky.embed.record", "record": subject}},
    )
    fan.create("app.bsky.graph.follow", {"subject": soest.did})

    expected = Metrics(likes=1, reposts=1, replies=1, quotes=1, followers=1)
    assert poll(
        lambda: expected if channel.fetch_metrics(receipt) == expected else None,
        f"the counts {expected}",
    )


def test_author_feed_orders_by_time_not_by_record_key(
    channel: BlueskyChannel, soest: Person
) -> None:
    published = [channel.publish(post(f"Beitrag {n} #5malklug")) for n in range(3)]

    def feed() -> list[str] | None:
        items = soest.get("app.bsky.feed.getAuthorFeed", actor=soest.did, limit=50)["feed"]
        uris = [item["post"]["uri"] for item in items]
        return uris if all(p.remote_id in uris for p in published) else None

    uris = poll(feed, "the three posts in the author feed")
    ours = [uri for uri in uris if uri in {p.remote_id for p in published}]
    assert ours == [p.remote_id for p in reversed(published)]  # newest first, by createdAt


def test_a_deleted_post_has_no_metrics(channel: BlueskyChannel) -> None:
    receipt = channel.publish(post("Wird gleich gelöscht."))
    poll(lambda: channel.fetch_metrics(receipt), "the new post")

    channel.delete(receipt.remote_id)

    def gone() -> bool | None:
        try:
            channel.fetch_metrics(receipt)
        except RejectedError:
            return True
        return None

    assert poll(gone, "the deletion")


def _parts(uri: str) -> dict[str, str]:
    at = AtUri.parse(uri)
    return {"repo": at.repo, "collection": at.collection, "rkey": at.rkey}
