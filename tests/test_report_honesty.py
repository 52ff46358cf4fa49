"""What the report says about figures it does not know: unknown is "—"/empty/null, never 0;
a network provides a figure if any of its snapshots had it; empty campaigns still report."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_scheduler.reports import Format, Lang, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.model import GroupBy
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryRecord,
    PostRecord,
    SenderRecord,
)
from campaign_scheduler.store.snapshots import add_snapshot
from report_data import GENERATED_AT, known_store
from report_parse import html_tables, md_tables, text_tables

DUE = datetime(2021, 11, 11, 8, 30, tzinfo=UTC)


class Campaign:
    """A one-sender campaign built row by row."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.session(write=True) as session:
            campaign = CampaignRecord(
                slug="klein",
                name="Klein",
                hashtag=None,
                timezone="Europe/Berlin",
                language="de",
                event_name="Konferenz",
                event_start=datetime(2021, 11, 18, 9, 0, tzinfo=UTC),
                grace_seconds=7200,
                min_gap_seconds=0,
            )
            sender = SenderRecord(campaign=campaign, slug="olpe", name="Kreisstadt Olpe")
            session.add_all([campaign, sender])
            session.flush()
            self.campaign_id, self.sender_id = campaign.id, sender.id
        self.accounts: dict[str, int] = {}

    def delivery(self, channel: str, key: str, *snapshots: dict[str, int | None]) -> None:
        with self.store.session(write=True) as session:
            if channel not in self.accounts:
                account = AccountRecord(
                    name=f"olpe-{channel}", channel=channel, sender_id=self.sender_id
                )
                session.add(account)
                session.flush()
                self.accounts[channel] = account.id
            post = PostRecord(
                campaign_id=self.campaign_id,
                key=key,
                source="draft",
                sender_id=self.sender_id,
                body=key,
                language="de",
                at_text="x",
                due_at=DUE,
                content_hash=key,
                author="anna",
            )
            session.add(post)
            session.flush()
            delivery = DeliveryRecord(
                post_id=post.id,
                account_id=self.accounts[channel],
                state="published",
                text=key,
                content_hash=key,
                due_at=DUE,
                idempotency_key=f"{key}-{channel}",
                remote_id=key,
                remote_url=f"https://{channel}.example/{key}",
                published_at=DUE + timedelta(seconds=3),
            )
            session.add(delivery)
            session.flush()
            for hours, figures in enumerate(snapshots):
                add_snapshot(
                    session,
                    delivery_id=delivery.id,
                    campaign_id=self.campaign_id,
                    account_id=self.accounts[channel],
                    fetched_at=DUE + timedelta(hours=hours + 1),
                    followers=None,
                    **figures,
                )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'honesty.db'}")
    yield opened
    opened.dispose()


def test_a_figure_given_once_is_provided_but_the_latest_snapshot_decides_the_sum(
    store: Store,
) -> None:
    campaign = Campaign(store)
    # X gave impressions a week, then stopped (non-public metrics end after 30 days).
    campaign.delivery("x", "a", {"likes": 3, "views": 500}, {"likes": 4, "views": None})
    report = build_report(store, "klein", now=GENERATED_AT)
    assert report.providers["views"] == ("x",)
    assert report.totals_figures.views is None
    assert report.totals_figures.likes == 4
    data = json.loads(render(report, Format.JSON, Lang.EN))
    assert data["providers"]["views"] == ["x"]
    assert data["channels"][0]["engagement"]["views"] is None
    providers = html_tables(render(report, Format.HTML, Lang.EN))["t-providers"]
    assert ["Impressions", "X"] in providers
    assert ["Reach", "no network"] in providers


def test_nothing_measured_is_a_dash_everywhere_never_zero(store: Store) -> None:
    campaign = Campaign(store)
    campaign.delivery("telegram", "a")  # Telegram: published, no figures at all
    report = build_report(store, "klein", now=GENERATED_AT)
    data = json.loads(render(report, Format.JSON, Lang.DE))
    engagement = data["totals"]["engagement"]
    assert engagement == {
        "likes": None,
        "reposts": None,
        "replies": None,
        "quotes": None,
        "views": None,
        "reach": None,
        "clicks": None,
        "interactions": None,
        "measured": 0,
    }
    assert all(networks == [] for networks in data["providers"].values())
    assert data["top_posts"] == []

    rows = list(csv.reader(io.StringIO(render(report, Format.CSV, Lang.DE)), delimiter=";"))
    assert rows[1][13:21] == [""] * 8  # the seven figures and interactions
    assert rows[1][21] == "0"  # measured deliveries: a real count

    summary = html_tables(render(report, Format.HTML, Lang.DE))["t-summary"]
    values = {row[0]: row[1] for row in summary[1:]}
    assert values["Interaktionen"] == "—"
    assert values["Impressionen"] == "—"
    assert values["Veröffentlicht"] == "1"
    channels = md_tables(render(report, Format.MD, Lang.DE))
    assert ["Telegram", "1", "0", "—", "—", "—", "—", "—", "—", "—", "—"] in next(
        t for t in channels if t[0][0] == "Kanal" and len(t[0]) == 11
    )
    text = render(report, Format.TABLE, Lang.DE)
    assert "Noch keine Messwerte." in text  # top posts
    assert all(
        "0" not in row[3:]
        for table in text_tables(text)
        for row in table
        if row[0] == "Telegram" and len(row) == 11
    )


def test_a_measured_zero_is_zero(store: Store) -> None:
    campaign = Campaign(store)
    campaign.delivery("mastodon", "a", {"likes": 0, "reposts": 0, "replies": 0})
    report = build_report(store, "klein", now=GENERATED_AT)
    assert (report.totals_figures.likes, report.totals_figures.quotes) == (0, None)
    assert report.totals_figures.interactions == 0
    [row] = [r for r in text_tables(render(report, Format.TABLE, Lang.EN)) if r[0][0] == "Channel"]
    assert row[1] == ["Mastodon", "1", "1", "0", "0", "0", "—", "—", "—", "—", "0"]


def test_only_views_is_no_engagement_and_ranks_after_engagement(store: Store) -> None:
    campaign = Campaign(store)
    campaign.delivery("linkedin", "nur-views", {"views": 900})
    campaign.delivery("mastodon", "mit-likes", {"likes": 1})
    report = build_report(store, "klein", now=GENERATED_AT)
    assert [(t.post, t.figures.interactions) for t in report.top_posts] == [
        ("mit-likes", 1),
        ("nur-views", None),
    ]
    assert report.totals_figures.interactions == 1
    assert report.totals_figures.views == 900


def test_a_campaign_without_deliveries_still_reports(store: Store) -> None:
    Campaign(store)
    for by in GroupBy:
        report = build_report(store, "klein", by=by, now=GENERATED_AT)
        assert report.groups == ()
        assert report.timeline == ()
        for fmt in Format:
            for lang in Lang:
                assert render(report, fmt, lang)
    data = json.loads(render(report, Format.JSON, Lang.EN))
    assert data["totals"]["deliveries"]["planned"] == 0
    assert data["totals"]["punctuality"]["median_seconds"] is None
    html = render(report, Format.HTML, Lang.DE)
    assert "keine Daten" in html
    assert "Keine Beiträge anderer mit dem Hashtag gefunden." in html


def test_postgresql_reports_exactly_what_sqlite_reports(postgres_url: str, tmp_path: Path) -> None:
    sqlite = known_store(f"sqlite:///{tmp_path / 'known.db'}")
    postgres = known_store(postgres_url)
    try:
        for by in GroupBy:
            expected = render(build_report(sqlite, "testlauf", by=by, now=GENERATED_AT),
                              Format.JSON, Lang.EN)  # fmt: skip
            actual = render(build_report(postgres, "testlauf", by=by, now=GENERATED_AT),
                            Format.JSON, Lang.EN)  # fmt: skip
            assert json.loads(actual) == json.loads(expected)
    finally:
        sqlite.dispose()
        postgres.dispose()
