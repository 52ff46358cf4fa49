"""`campaign channels list|verify` against the Mastodon sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import AccountRecord
from live import LiveCampaign


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


def test_channels_list_shows_the_built_in_mastodon(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox)
    rows = json.loads(live.run("channels", "list", "--json").stdout)
    mastodon = next(r for r in rows if r["channel"] == "mastodon")
    assert mastodon["implementation"] == "campaign_scheduler.channels.mastodon:MastodonChannel"
    assert mastodon["limit"] == 500


def test_verify_reports_each_account_and_fails_on_a_revoked_token(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox, accounts=2)
    result = live.run("channels", "verify", "--json")
    assert result.returncode == 0, result.stderr
    assert [r["ok"] for r in json.loads(result.stdout)] == [True, True]
    sandbox.revoke(live.env["LIVE_TOKEN_1"])
    result = live.run("channels", "verify")
    assert result.returncode == 1
    assert "ok   soest-mastodon-0: @soest0@" in result.stdout
    assert "FAIL soest-mastodon-1:" in result.stdout


def test_a_successful_verify_clears_needs_attention(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox)
    live.draft("01-jetzt", live.now - timedelta(minutes=1))
    live.load()
    sandbox.fail_next(1, status=401)
    live.run("run", "--once")
    status = live.run("status", "--json")
    assert status.returncode == 1
    assert json.loads(status.stdout)["attention"][0]["account"] == "soest-mastodon"
    assert live.run("channels", "verify").returncode == 0
    store = open_store(live.database_url)
    with store.session() as session:
        assert not session.scalars(select(AccountRecord.needs_attention)).one()
    store.dispose()
    assert live.run("run", "--once").returncode == 0
    assert len(sandbox.statuses()) == 1  # the held post went out once the token worked
