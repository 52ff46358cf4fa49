"""The HTML report rendered by a real browser: headless Chromium (Debian's ``chromium``) takes a
screenshot and prints it to PDF.

The screenshot must not be blank and must show each chart where the document puts it, with
bars and columns as long as the figures say; the PDF must have A4 pages. In CI
(``scripts/ci.d/40-chromium.sh``) a missing browser fails the test; locally it skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from campaign_scheduler.reports import Format, Lang, charts, render
from campaign_scheduler.reports.build import build_report
from conftest import real_server_missing
from report_data import GENERATED_AT, known_store

WIDTH, HEIGHT = 1000, 5200
A4_POINTS = (595.28, 841.89)


def chromium_binary() -> str:
    path = os.environ.get("CAMPAIGN_TEST_CHROMIUM") or shutil.which("chromium")
    if path and os.access(path, os.X_OK):
        return path
    real_server_missing(
        "chromium (Debian's package; scripts/ci.d/40-chromium.sh installs it)",
        "CAMPAIGN_TEST_REQUIRE_CHROMIUM",
    )


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., None]:
    binary = chromium_binary()
    profile = tmp_path_factory.mktemp("chromium-profile")

    def run(page: Path, *options: str) -> None:
        command = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            *options,
            page.as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
        assert result.returncode == 0, result.stderr[-2000:]

    return run


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("html")
    store = known_store(f"sqlite:///{folder / 'known.db'}")
    try:
        html = render(build_report(store, "testlauf", now=GENERATED_AT), Format.HTML, Lang.DE)
    finally:
        store.dispose()
    path = folder / "report-testlauf.html"
    path.write_text(html, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def screenshot(browser: Callable[..., None], page: Path) -> Image.Image:
    png = page.with_suffix(".png")
    browser(page, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}")
    return Image.open(png).convert("RGB")


# ---------------------------------------------------------------------------------------------
# Reading the picture: where exactly one colour is


def mask(image: Image.Image, colour: str) -> Image.Image:
    """255 where the pixel has exactly ``colour``, else 0."""
    wanted = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    channels = [
        band.point(lambda v, w=w: 255 if v == w else 0)
        for band, w in zip(image.split(), wanted, strict=True)
    ]
    return ImageChops.multiply(ImageChops.multiply(channels[0], channels[1]), channels[2])


def runs(flags: list[bool], offset: int = 0) -> list[tuple[int, int]]:
    """Contiguous stretches of True as (first, last) indices."""
    found: list[tuple[int, int]] = []
    start = None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            found.append((start + offset, index - 1 + offset))
            start = None
    return found


def rows_with(m: Image.Image, top: int = 0, bottom: int | None = None) -> list[tuple[int, int]]:
    bottom = m.height if bottom is None else bottom
    flags = [m.crop((0, y, m.width, y + 1)).getbbox() is not None for y in range(top, bottom)]
    return runs(flags, top)


def columns_with(m: Image.Image, top: int, bottom: int) -> list[tuple[int, int]]:
    region = m.crop((0, top, m.width, bottom + 1))
    flags = [
        region.crop((x, 0, x + 1, region.height)).getbbox() is not None for x in range(m.width)
    ]
    return runs(flags)


def bands(m: Image.Image, gap: int = 150) -> list[tuple[int, int]]:
    """Vertical regions where the colour occurs, separated by at least ``gap`` rows."""
    merged: list[tuple[int, int]] = []
    for first, last in rows_with(m):
        if merged and first - merged[-1][1] < gap:
            merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return merged


def bar_lengths(m: Image.Image, band: tuple[int, int]) -> list[int]:
    """Widths of horizontal bars (runs of rows) in a band, legend swatches left out."""
    lengths = []
    for first, last in rows_with(m, band[0], band[1] + 1):
        box = m.crop((0, first, m.width, last + 1)).getbbox()
        assert box is not None
        if box[2] - box[0] > 20:
            lengths.append(box[2] - box[0])
    return lengths


def column_heights(m: Image.Image, band: tuple[int, int]) -> list[int]:
    """Heights of vertical columns in a band, left to right, legend swatches left out."""
    heights = []
    for first, last in columns_with(m, band[0], band[1]):
        column = m.crop((first, band[0], last + 1, band[1] + 1))
        top, bottom = rows_with(column)[-1]  # the mark standing on the axis, not the legend
        if bottom - top + 1 > 20:
            heights.append(bottom - top + 1)
    return heights


def assert_ratios(measured: list[int], figures: list[int], tolerance: float = 0.02) -> None:
    assert len(measured) == len(figures), (measured, figures)
    scale = measured[figures.index(max(figures))] / max(figures)
    for length, figure in zip(measured, figures, strict=True):
        assert abs(length - figure * scale) <= tolerance * max(measured) + 2, (measured, figures)


# ---------------------------------------------------------------------------------------------


def test_the_screenshot_is_not_blank(screenshot: Image.Image) -> None:
    assert screenshot.size == (WIDTH, HEIGHT)
    white = mask(screenshot, "#FFFFFF")
    histogram = white.histogram()
    inked = histogram[0] / (WIDTH * HEIGHT)
    assert inked > 0.03, f"only {inked:.1%} of the page is not white"
    assert len(screenshot.getcolors(maxcolors=1 << 20) or []) > 50  # text, tables, charts


def test_every_chart_colour_is_on_screen_in_document_order(screenshot: Image.Image) -> None:
    tops = {}
    for name, colour in [
        ("planned", charts.PLANNED),
        ("published", charts.PUBLISHED),
        *charts.FIGURE_COLOURS.items(),
        ("hashtag posts", charts.HASHTAG_POSTS),
        ("hashtag authors", charts.HASHTAG_AUTHORS),
        ("event day", charts.EVENT_DAY),
    ]:
        m = mask(screenshot, colour)
        count = m.histogram()[255]
        assert count > 40, f"{name} ({colour}) is not on screen"
        tops[name] = rows_with(m)[0][0]
    published = bands(mask(screenshot, charts.PUBLISHED))
    assert len(published) == 2  # the outcome bars and the countdown columns
    outcomes_chart, timeline_chart = published
    assert outcomes_chart[1] < tops["likes"] < timeline_chart[0] < tops["hashtag posts"]
    assert timeline_chart[0] <= tops["event day"] <= timeline_chart[1] + 10


def test_outcome_bars_are_as_long_as_the_figures(screenshot: Image.Image) -> None:
    band = bands(mask(screenshot, charts.PUBLISHED))[0]
    planned = bar_lengths(mask(screenshot, charts.PLANNED), band)
    published = bar_lengths(mask(screenshot, charts.PUBLISHED), band)
    # Kreisstadt Olpe 6 planned / 3 published, Stadt Soest 8 / 4.
    assert_ratios(planned + published, [6, 8, 3, 4])


def test_engagement_bars_stack_the_figures_per_channel(screenshot: Image.Image) -> None:
    likes = mask(screenshot, charts.FIGURE_COLOURS["likes"])
    band = bands(likes)[0]
    # Bluesky 7, LinkedIn 20, Mastodon 20; Telegram has no figures and no bar.
    assert_ratios(bar_lengths(likes, band), [7, 20, 20])
    reposts = mask(screenshot, charts.FIGURE_COLOURS["reposts"])
    assert_ratios(bar_lengths(reposts, band), [2, 3, 8])
    quotes = mask(screenshot, charts.FIGURE_COLOURS["quotes"])
    assert len(bar_lengths(quotes, band)) <= 1  # only Bluesky has quotes (1: a sliver)


def test_countdown_columns_are_as_high_as_the_figures(screenshot: Image.Image) -> None:
    band = bands(mask(screenshot, charts.PUBLISHED))[1]
    # T-14, T-7, T-1, T-0: planned 5, 3, 2, 4; published 5, 1, 0, 1.
    assert_ratios(column_heights(mask(screenshot, charts.PLANNED), band), [5, 3, 2, 4])
    assert_ratios(column_heights(mask(screenshot, charts.PUBLISHED), band), [5, 1, 1])


def test_hashtag_columns_per_day(screenshot: Image.Image) -> None:
    posts = mask(screenshot, charts.HASHTAG_POSTS)
    band = bands(posts)[0]
    # 31 Oct: 1, 4 Nov: 3, 18 Nov: 1; the line of distinct authors runs over them.
    assert_ratios(column_heights(posts, band), [1, 3, 1])
    line = mask(screenshot, charts.HASHTAG_AUTHORS)
    assert bands(line)[0][0] >= band[0] - 10


def test_printing_gives_a4_pages(browser: Callable[..., None], page: Path) -> None:
    pdf = page.with_suffix(".pdf")
    browser(page, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= 3, "the whole report on fewer than 3 pages: something was cut off"
    assert len(boxes) >= pages
    for width, height in boxes:
        assert abs(float(width) - A4_POINTS[0]) < 2 and abs(float(height) - A4_POINTS[1]) < 2


def test_the_english_report_renders_too(browser: Callable[..., None], tmp_path: Path) -> None:
    store = known_store(f"sqlite:///{tmp_path / 'known.db'}")
    try:
        html = render(build_report(store, "testlauf", now=GENERATED_AT), Format.HTML, Lang.EN)
    finally:
        store.dispose()
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    png = tmp_path / "report.png"
    browser(path, f"--screenshot={png}", "--window-size=1000,1400")
    shot = Image.open(png).convert("RGB")
    assert mask(shot, charts.PUBLISHED).histogram()[255] > 40  # the first chart is in view


LOGO_COLOUR = "#C0FFEE"  # used nowhere else in the report
NOTICE_BACKGROUND = "#F3F6F9"


@pytest.fixture(scope="module")
def branded_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The German report with the campaign's [report] logo, funding notice and footer."""
    import base64
    import io
    from dataclasses import replace

    from campaign_scheduler.reports.model import ReportBranding

    folder = tmp_path_factory.mktemp("branded")
    logo = io.BytesIO()
    Image.new("RGB", (240, 80), LOGO_COLOUR).save(logo, format="PNG")
    branding = ReportBranding(
        logo_data_uri="data:image/png;base64," + base64.b64encode(logo.getvalue()).decode(),
        notice="Gefördert vom Bundesministerium für Wohnen, Stadtentwicklung und Bauwesen",
        footer="Südwestfalen Agentur GmbH · Olpe",
    )
    store = known_store(f"sqlite:///{folder / 'known.db'}")
    try:
        report = replace(build_report(store, "testlauf", now=GENERATED_AT), branding=branding)
        html = render(report, Format.HTML, Lang.DE)
    finally:
        store.dispose()
    path = folder / "bericht.html"
    path.write_text(html, encoding="utf-8")
    return path


def test_the_logo_and_the_notice_are_at_the_top(
    browser: Callable[..., None], branded_page: Path
) -> None:
    png = branded_page.with_suffix(".png")
    browser(branded_page, f"--screenshot={png}", "--window-size=1000,1400")
    shot = Image.open(png).convert("RGB")
    logo = mask(shot, LOGO_COLOUR)
    box = logo.getbbox()
    assert box is not None, "the logo is not on screen"
    assert box[1] < 200 and box[0] > 500  # at the top, on the right of the title
    notice = mask(shot, NOTICE_BACKGROUND).getbbox()
    assert notice is not None and box[3] < notice[3] < 600  # under the title and facts
    first_chart = rows_with(mask(shot, charts.PUBLISHED))
    assert first_chart and notice[3] < first_chart[0][0]


def test_the_german_print_carries_the_logo_on_a4(
    browser: Callable[..., None], branded_page: Path
) -> None:
    pdf = branded_page.with_suffix(".pdf")
    browser(branded_page, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    assert re.search(rb"/Subtype\s*/Image", data), "the logo is missing from the PDF"
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert boxes and all(
        abs(float(w) - A4_POINTS[0]) < 2 and abs(float(h) - A4_POINTS[1]) < 2 for w, h in boxes
    )
