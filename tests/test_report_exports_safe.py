"""Exports that are safe to open: no formula in a CSV cell, links only to http(s) URLs."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import update

from campaign_scheduler.reports import Format, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.i18n import Lang
from campaign_scheduler.reports.layout import Cell, is_web_link
from campaign_scheduler.reports.model import GroupBy
from campaign_scheduler.reports.render_csv import neutralise
from campaign_scheduler.store.models import DeliveryRecord, SenderRecord
from report_data import GENERATED_AT, known_store

FORMULAS = ['=HYPERLINK("http://evil.example")', "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rCR"]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_formula_like_cell_gets_a_quote(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Stadt Soest", "5malklug", "", "'zitiert", "a=b"])
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert neutralise(text) == text


@pytest.mark.parametrize("name", FORMULAS)
def test_a_sender_named_like_a_formula_is_neutralised_in_the_csv(name: str, tmp_path: Path) -> None:
    store = known_store(f"sqlite:///{tmp_path / 'r.db'}")
    with store.session(write=True) as session:
        session.execute(update(SenderRecord).where(SenderRecord.slug == "soest").values(name=name))
    report = build_report(store, "testlauf", by=GroupBy.SENDER, now=GENERATED_AT)
    store.dispose()
    rows = list(csv.reader(io.StringIO(render(report, Format.CSV, Lang.EN))))
    labels = [row[1] for row in rows[1:]]
    assert "'" + name in labels
    # No text cell starts a formula; figures (which may be negative numbers) are ours.
    assert not any(row[0].startswith(("=", "+", "-", "@")) for row in rows)
    assert not any(row[1].startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.cookie)",
        "JavaScript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "//evil.example/x",
        "https://",
        "https://evil.example/\x00x",
    ],
)
def test_only_http_urls_become_links(url: str, tmp_path: Path) -> None:
    assert not is_web_link(url)
    assert Cell(url, link=url).link is None
    store = known_store(f"sqlite:///{tmp_path / 'r.db'}")
    with store.session(write=True) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.remote_url.is_not(None))
            .values(remote_url=url)
        )
    report = build_report(store, "testlauf", now=GENERATED_AT)
    store.dispose()
    html = render(report, Format.HTML, Lang.DE)
    markdown = render(report, Format.MD, Lang.DE)
    assert not any(f'href="{scheme}' in html.lower() for scheme in ("javascript", "data", "vb"))
    assert "](javascript" not in markdown.lower() and "](data:" not in markdown.lower()
    assert "](//" not in markdown


def test_https_links_stay_links(tmp_path: Path) -> None:
    assert is_web_link("https://mastodon.example/tags/5malklug")
    assert is_web_link("HTTP://mastodon.example")
    store = known_store(f"sqlite:///{tmp_path / 'r.db'}")
    report = build_report(store, "testlauf", now=GENERATED_AT)
    store.dispose()
    assert 'href="https://mastodon.example/@soest/1001"' in render(report, Format.HTML, Lang.DE)
    assert "](https://mastodon.example/@soest/1001)" in render(report, Format.MD, Lang.DE)
