"""The preview page in a real browser (headless Chromium, as for the report): it renders,
the fold is on screen, and each network frames the image at its own ratio.

In CI a missing browser fails the test; locally it skips (see test_report_html_chromium).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from campaign_scheduler.preview.html import FOLD_BACKGROUND
from conftest import Workspace
from preview_data import IMAGE_COLOUR, preview_workspace
from test_report_html_chromium import browser, mask, rows_with

__all__ = ["browser"]  # the fixture, shared with the report's browser tests

WIDTH, HEIGHT = 800, 6000


@pytest.fixture
def screenshot(
    browser: Callable[..., None], workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> Image.Image:
    preview_workspace(workspace)
    page = tmp_path / "vorschau.html"
    result = runner.invoke(
        app,
        ["--config", str(workspace.config_file), "preview", "soest/01-lang", "-o", str(page)],
    )
    assert result.exit_code == 0, result.output
    png = tmp_path / "vorschau.png"
    browser(page, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}")
    return Image.open(png).convert("RGB")


def test_the_preview_is_drawn(screenshot: Image.Image) -> None:
    assert screenshot.size == (WIDTH, HEIGHT)
    assert len(screenshot.getcolors(maxcolors=1 << 20) or []) > 50  # text, cards, images


def test_the_fold_is_on_screen_where_the_network_folds(screenshot: Image.Image) -> None:
    folds = rows_with(mask(screenshot, FOLD_BACKGROUND))
    assert len(folds) == 2, folds  # Instagram and LinkedIn; Facebook's 480 are not reached
    images = rows_with(mask(screenshot, IMAGE_COLOUR))
    # Document order: bluesky, facebook, instagram (fold, image), linkedin (fold, image), …
    assert images[1][1] < folds[0][0] < images[2][0] < folds[1][0] < images[3][0]


def test_each_network_crops_the_image_at_its_own_ratio(screenshot: Image.Image) -> None:
    colour = mask(screenshot, IMAGE_COLOUR)
    frames = []
    for top, bottom in rows_with(colour):
        box = colour.crop((0, top, WIDTH, bottom + 1)).getbbox()
        assert box is not None
        frames.append((box[2] - box[0]) / (bottom - top + 1))
    # bluesky (the image's own 3:2), facebook 1:1, instagram 4:5, linkedin 1.91:1,
    # mastodon 16:9, x 16:9: accounts in name order.
    expected = [3 / 2, 1.0, 4 / 5, 1.91, 16 / 9, 16 / 9]
    assert len(frames) == len(expected), frames
    for measured, ratio in zip(frames, expected, strict=True):
        assert abs(measured - ratio) < 0.03 * ratio, (frames, expected)


CARD_COLOUR = "#7A3E9D"  # the card image's one colour


def test_the_link_card_is_drawn_with_its_image_at_1_91_to_1(
    browser: Callable[..., None], workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from campaign_scheduler.linkcards import CACHE_FILE, LinkCard, write_cache
    from conftest import draft_text
    from preview_data import png

    url = "https://smartcities-suedwestfalen.com/konferenz/"
    workspace.draft("soest/05-link", draft_text(f"Programm: {url} #5malklug"))
    card = LinkCard(
        url,
        datetime(2021, 11, 1, tzinfo=UTC),
        title="Smart Cities: Konferenz",
        description="Fünf Städte, ein Tag.",
        image_type="image/png",
        image=png(CARD_COLOUR, (400, 400)),  # square: the frame crops it
    )
    write_cache(workspace.root / "campaign" / CACHE_FILE, {url: card})
    page = tmp_path / "karte.html"
    result = runner.invoke(
        app,
        ["--config", str(workspace.config_file), "preview", "soest/05-link", "-o", str(page)],
    )
    assert result.exit_code == 0, result.output
    png_path = tmp_path / "karte.png"
    browser(page, f"--screenshot={png_path}", "--window-size=800,1600")
    colour = mask(Image.open(png_path).convert("RGB"), CARD_COLOUR)
    frames = rows_with(colour)
    assert len(frames) == 2  # Bluesky and Mastodon both show the card
    for top, bottom in frames:
        box = colour.crop((0, top, 800, bottom + 1)).getbbox()
        assert box is not None
        assert abs((box[2] - box[0]) / (bottom - top + 1) - 1.91) < 0.06
