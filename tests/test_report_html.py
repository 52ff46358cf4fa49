"""The HTML report as a file: self-contained, accessible, printable (checked on the markup;
tests/test_report_html_chromium.py checks what a browser makes of it)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from campaign_scheduler.reports import Format, Lang, charts, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.render_html import CSS
from campaign_scheduler.store.engine import Store
from report_data import GENERATED_AT, known_store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    known = known_store(f"sqlite:///{tmp_path_factory.mktemp('html') / 'known.db'}")
    yield known
    known.dispose()


@pytest.fixture(scope="module", params=["de", "en"])
def html(request: pytest.FixtureRequest, store: Store) -> str:
    report = build_report(store, "testlauf", now=GENERATED_AT)
    return render(report, Format.HTML, Lang(request.param))


def luminance(colour: str) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)


def contrast(colour: str, background: str = "#FFFFFF") -> float:
    high, low = sorted((luminance(colour), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_language_is_declared(html: str) -> None:
    lang = "de" if "Reichweitenbericht" in html else "en"
    assert html.startswith(f'<!DOCTYPE html>\n<html lang="{lang}">')
    assert '<meta charset="utf-8">' in html


def test_nothing_is_fetched_and_nothing_runs(html: str) -> None:
    for forbidden in ("<script", "<link", " src=", "url(", "@import", "<iframe", "<img"):
        assert forbidden not in html.lower()
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://") for h in hrefs)  # only the top posts' links


def test_every_chart_is_an_accessible_image(html: str) -> None:
    svgs = re.findall(r"<svg\b[^>]*>.*?</svg>", html, flags=re.DOTALL)
    assert len(svgs) == 4
    for svg in svgs:
        opening = svg[: svg.index(">") + 1]
        assert 'role="img"' in opening
        chart = re.search(r'id="([^"]+)"', opening)
        assert chart is not None
        name = chart.group(1)
        assert f'aria-labelledby="{name}-title {name}-desc"' in opening
        assert re.search(rf'<title id="{name}-title">[^<]+</title>', svg)
        assert re.search(rf'<desc id="{name}-desc">[^<]+</desc>', svg)


def test_tables_have_captions_and_scoped_headers(html: str) -> None:
    tables = re.findall(r"<table\b.*?</table>", html, flags=re.DOTALL)
    assert len(tables) >= 10
    for table in tables:
        assert "<caption" in table
        assert '<th scope="col"' in table
        assert '<th scope="row"' in table


def test_printable_on_a4_without_cutting_tables() -> None:
    assert "@page { size: A4;" in CSS
    assert "thead { display: table-header-group; }" in CSS  # headers repeat on each page
    assert "tr { break-inside: avoid;" in CSS
    assert "figure { margin: 1mm 0 3mm; break-inside: avoid;" in CSS


def test_colours_have_enough_contrast() -> None:
    graphics = [
        charts.PLANNED,
        charts.PUBLISHED,
        *charts.FIGURE_COLOURS.values(),
        charts.HASHTAG_POSTS,
        charts.HASHTAG_AUTHORS,
        charts.EVENT_DAY,
        charts.AXIS,
    ]
    for colour in graphics:
        assert contrast(colour) >= 3.0, colour  # WCAG 1.4.11, non-text contrast
    for colour in [charts.TEXT, *re.findall(r"(?<!-)color: (#[0-9a-fA-F]{6})", CSS)]:
        assert contrast(colour) >= 4.5, colour  # WCAG 1.4.3, text
    assert contrast("#1a1a1a", "#e8eef5") >= 4.5  # header cells on their background
