"""Earned hashtag use on Bluesky: searchPosts through the adapter and the sandbox."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings
from campaign_scheduler.channels.bluesky import BlueskyChannel, clear_sessions
from campaign_scheduler.sandbox.bluesky import BlueskySandbox


@pytest.fixture
def sandbox() -> Iterator[BlueskySandbox]:
    clear_sessions()
    with BlueskySandbox() as server:
        yield server
    clear_sessions()


def channel(sandbox: BlueskySandbox) -> BlueskyChannel:
    password = sandbox.add_account("soest.test")
    account = AccountSettings(
        "soest-bluesky", sandbox.url, {"identifier": "soest.test"}, secret=lambda key: password
    )
    return BlueskyChannel(account, make_session(), timeout=5)


def test_search_finds_posts_with_the_hashtag_since_a_moment(sandbox: BlueskySandbox) -> None:
    adapter = channel(sandbox)
    old = time.time() - 3 * 86400
    sandbox.post_as("alt.test", "Schon lange her #5malklug", created_at=old)
    sandbox.post_as("buergerin.test", "Ich bin am 18. dabei! #5malklug")
    sandbox.post_as("verein.test", "Tolle Ideen #5MalKlug #smartcity")
    sandbox.post_as("andere.test", "Nichts damit zu tun #5malklugheit")
    found = adapter.search_hashtag("5malklug", since=datetime.now(UTC) - timedelta(days=1))
    assert sorted(use.author for use in found) == ["buergerin.test", "verein.test"]
    assert all(use.url and "/post/" in use.url for use in found)
    assert found[0].posted_at >= found[-1].posted_at  # newest first


def test_search_pages_through_many_results(sandbox: BlueskySandbox) -> None:
    adapter = channel(sandbox)
    for n in range(130):
        sandbox.post_as(f"person{n}.test", f"Beitrag {n} #5malklug")
    found = adapter.search_hashtag("5malklug", since=datetime.now(UTC) - timedelta(hours=1))
    assert len(found) == 130
    assert len({use.remote_id for use in found}) == 130
