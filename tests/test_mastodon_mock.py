"""MastodonChannel against mastodon-mock, a third-party mock of the Mastodon client API.

mastodon-mock is not Mastodon (see docs/mastodon-mock.md for where it differs), but it was not
written by us, so it catches assumptions our own sandbox shares with the adapter. It runs from
its own venv outside the repository (``scripts/install-mastodon-mock.sh``); its executable is
``$CAMPAIGN_TEST_MASTODON_MOCK`` or the default cache path. Without it these tests are skipped,
unless ``CAMPAIGN_TEST_REQUIRE_MASTODON_MOCK`` is set (CI), where a missing mock fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.mastodon import MastodonChannel, clear_instance_cache
from campaign_scheduler.errors import AuthError, RateLimitedError, RejectedError
from conftest import real_server_missing

TOKEN = "mock_token"  # the token of the account mastodon-mock seeds ("testuser")
DEFAULT_BINARY = Path.home() / ".cache/campaign-scheduler/mastodon-mock/venv/bin/mastodon_mock"
START_TIMEOUT = 30.0


def _binary() -> Path:
    configured = os.environ.get("CAMPAIGN_TEST_MASTODON_MOCK")
    path = Path(configured) if configured else DEFAULT_BINARY
    if path.is_file() and os.access(path, os.X_OK):
        return path
    reason = (
        f"mastodon-mock not installed at {path}; run scripts/install-mastodon-mock.sh "
        "(or set CAMPAIGN_TEST_MASTODON_MOCK to its mastodon_mock executable)"
    )
    real_server_missing(reason, "CAMPAIGN_TEST_REQUIRE_MASTODON_MOCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Mock:
    url: str
    host: str


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mock]:
    binary = _binary()
    port = _free_port()
    host = f"127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("mastodon-mock")
    log_path = workdir / "mastodon-mock.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--in-memory",
                "--domain",
                host,
                "--log-level",
                "warning",
            ],
            cwd=workdir,  # it writes uploaded media below its working folder
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(f"http://{host}", process, log_path)
        yield Mock(f"http://{host}", host)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with requests.Session() as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"mastodon-mock exited at start:\n{log_path.read_text()}")
            try:
                if http.get(url + "/api/v2/instance", timeout=1).status_code == 200:
                    return
            except requests.exceptions.ConnectionError:
                pass
            time.sleep(0.05)
    pytest.fail(f"mastodon-mock did not answer within {START_TIMEOUT} s:\n{log_path.read_text()}")


@pytest.fixture(autouse=True)
def _fresh_instance_cache() -> Iterator[None]:
    clear_instance_cache()
    yield
    clear_instance_cache()


@pytest.fixture
def channel(mock: Mock) -> Iterator[MastodonChannel]:
    account = AccountSettings("mock-mastodon", mock.url, secret=lambda key: TOKEN)
    with make_session() as session:
        yield MastodonChannel(account, session, timeout=10, poll_interval=0.05)


def post(text: str, **kwargs: Any) -> OutboundPost:
    """A post with a unique text: the mock's state is shared by every test in this module."""
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", str(uuid.uuid4()))
    return OutboundPost(text=f"{text} [{uuid.uuid4().hex[:8]}]", **kwargs)


def own_statuses(mock: Mock) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with requests.Session() as http:
        me = http.get(f"{mock.url}/api/v1/accounts/verify_credentials", headers=auth, timeout=5)
        response = http.get(
            f"{mock.url}/api/v1/accounts/{me.json()['id']}/statuses",
            params={"limit": 40},
            headers=auth,
            timeout=5,
        )
    statuses: list[dict[str, Any]] = response.json()
    return statuses


def test_publish_with_language_and_alt_text(
    channel: MastodonChannel, mock: Mock, tmp_path: Path
) -> None:
    path = tmp_path / "pixel.png"
    Image.new("RGB", (4, 3), (30, 200, 30)).save(path)
    outbound = post(
        "Grüße aus Soest #5malklug",
        media=(MediaFile(path, "Ein grünes Pixel", "image/png"),),
    )

    receipt = channel.publish(outbound)

    assert receipt.url == f"{mock.url}/@testuser/{receipt.remote_id}"
    assert abs(receipt.published_at - datetime.now(UTC)) < timedelta(minutes=1)
    with requests.get(
        f"{mock.url}/api/v1/statuses/{receipt.remote_id}",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ) as response:
        status = response.json()
    assert status["language"] == "de"
    assert [m["description"] for m in status["media_attachments"]] == ["Ein grünes Pixel"]


def test_replay_with_the_same_key_returns_the_same_status(
    channel: MastodonChannel, mock: Mock
) -> None:
    outbound = post("Nur einmal, bitte")

    first = channel.publish(outbound)
    again = channel.publish(outbound)

    assert again.remote_id == first.remote_id
    assert [s["id"] for s in own_statuses(mock) if s["id"] == first.remote_id] == [first.remote_id]


def test_verify_names_the_seeded_account(channel: MastodonChannel, mock: Mock) -> None:
    assert channel.verify() == f"@testuser@{mock.host}"


def test_text_limit_comes_from_the_mocks_instance(channel: MastodonChannel) -> None:
    assert channel.text_limit() == 500


def test_fetch_metrics(channel: MastodonChannel) -> None:
    receipt = channel.publish(post("Zum Zählen"))

    metrics = channel.fetch_metrics(receipt)

    assert (metrics.likes, metrics.reposts, metrics.replies) == (0, 0, 0)
    assert metrics.quotes is None
    assert metrics.followers == 0


def test_delete_then_the_status_is_gone(channel: MastodonChannel) -> None:
    receipt = channel.publish(post("Wird gelöscht"))

    channel.delete(receipt.remote_id)

    with pytest.raises(RejectedError):
        channel.fetch_metrics(receipt)
    channel.delete(receipt.remote_id)  # already gone: still fine


def test_look_up_finds_a_published_post_and_not_an_unpublished_one(
    channel: MastodonChannel,
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    published = post("Wiederfinden nach einem Absturz")
    receipt = channel.publish(published)

    assert channel.look_up(published, since=since) == receipt
    assert channel.look_up(post("Nie gesendet"), since=since) is None


def test_bad_token_is_an_auth_error(mock: Mock) -> None:
    account = AccountSettings("mock-mastodon", mock.url, secret=lambda key: "wrong")
    with make_session() as session, pytest.raises(AuthError) as caught:
        MastodonChannel(account, session).verify()

    # the mock's wording differs from Mastodon's "The access token is invalid"
    assert caught.value.network_message == "This method requires an authenticated user"


def test_rate_limit_from_the_mocks_fault_injection_is_understood(
    channel: MastodonChannel, mock: Mock
) -> None:
    fault = {
        "match": {"methods": ["POST"], "path": "/api/v1/statuses"},
        "effect": {"type": "ratelimit"},
        "count": 1,
    }
    with requests.post(f"{mock.url}/api/v1/_mock/faults", json=fault, timeout=5) as answer:
        assert answer.status_code == 200
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post("Gebremst"))

    # the mock sends X-RateLimit-Reset as Unix seconds (Mastodon: ISO 8601), 300 s ahead
    assert caught.value.retry_at is not None
    assert timedelta(seconds=295) < caught.value.retry_at - before < timedelta(seconds=305)
