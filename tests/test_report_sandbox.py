"""End to end against the Mastodon sandbox: publish with the daemon, fetch figures with
``campaign metrics``, then ``campaign report`` shows what the network told, and no more."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from live import LiveCampaign
from report_parse import html_tables


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


def test_report_after_publishing_and_measuring_on_the_sandbox(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox, min_gap="0m")
    live.draft("01-noch-7-tage", live.now - timedelta(minutes=1), "Noch 7 Tage #5malklug")
    live.draft("02-programm", live.now - timedelta(minutes=1), "Das Programm steht #5malklug")
    live.load()
    assert live.run("run", "--once").returncode == 0
    first, second = sandbox.statuses()
    sandbox.set_engagement(first.id, favourites=12, reblogs=3, replies=2)
    sandbox.set_engagement(second.id, favourites=0, reblogs=0, replies=0)
    sandbox.post_as("buergerin", "Bin dabei! #5malklug")
    sandbox.post_as("verein", "Tolle Ideen #5malklug")
    sandbox.post_as("buergerin", "Noch einmal #5malklug")
    measured = live.run("metrics", "--json")
    assert measured.returncode == 0, measured.stderr
    assert json.loads(measured.stdout)["snapshots"] == 2

    result = live.run("report", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["language"] == "de"  # the campaign's language
    assert report["totals"]["deliveries"]["planned"] == 2
    assert report["totals"]["deliveries"]["published"] == 2
    lag = report["totals"]["punctuality"]
    assert lag["published"] == 2
    assert 55 <= lag["median_seconds"] <= lag["max_seconds"] < 600  # due a minute ago
    assert report["totals"]["engagement"] == {
        "likes": 12,
        "reposts": 3,
        "replies": 2,
        "quotes": None,  # this sandbox instance does not send quotes_count
        "views": None,  # Mastodon has no impressions
        "reach": None,
        "clicks": None,
        "interactions": 17,
        "measured": 2,
    }
    assert report["providers"]["likes"] == ["mastodon"]
    assert report["providers"]["views"] == []
    assert [p["url"].rsplit("/", 1)[-1] for p in report["top_posts"]] == [first.id, second.id]
    assert all(p["url"].startswith(sandbox.url) for p in report["top_posts"])
    assert [p["engagement"]["interactions"] for p in report["top_posts"]] == [17, 0]
    assert report["followers"][0]["at_first_post"] == 0
    assert (report["hashtag"]["posts"], report["hashtag"]["authors"]) == (3, 2)
    assert report["timeline"][0]["published"] == 2

    html = live.run("report", "--format", "html", "--lang", "en", "--output", "r.html")
    assert html.returncode == 0, html.stderr
    tables = html_tables((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert tables["t-channels"][1] == [
        "Mastodon", "2", "2", "12", "3", "2", "—", "—", "—", "—", "17",
    ]  # fmt: skip
