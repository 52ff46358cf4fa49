"""The #5malKlug images: one design source, readable contrast, honest alt texts, no dates."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from campaign_scheduler.campaign import load_campaign
from campaign_scheduler.drafts import load_drafts
from conftest import real_server_missing

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "render_campaign_images.py"
MAX_BYTES = 300 * 1024


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_campaign_images", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


images = _script()
DESIGN: dict[str, Any] = images.load_design()


def _drafts_by_image() -> dict[str, list[tuple[str, str]]]:
    """Image path (relative to the repository) -> [(draft key, alt text)] of the shipped drafts."""
    campaign, problems = load_campaign(ROOT / "campaign" / "5malklug.toml")
    assert campaign is not None, problems
    drafts, problems = load_drafts(ROOT / "posts", campaign)
    assert drafts, problems
    used: dict[str, list[tuple[str, str]]] = {}
    for draft in drafts:
        for media in draft.media:
            path = (draft.path.parent / media.path).resolve().relative_to(ROOT)
            used.setdefault(path.as_posix(), []).append((draft.key, media.alt or ""))
    return used


def test_the_contrast_ratio_matches_the_wcag_definition() -> None:
    assert images.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert images.contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)
    # The first edition's Olpe images: yellow #FFD640 on orange #A4460B, 4.3:1 (fails AA).
    assert images.contrast_ratio("#FFD640", "#A4460B") == pytest.approx(4.3, abs=0.05)


def test_every_text_colour_pair_of_the_design_meets_wcag_aa() -> None:
    pairs = images.text_pairs(DESIGN)
    senders = {label.split("/")[0] for label, _, _ in pairs}
    assert senders == set(DESIGN["senders"])  # every town's accent is measured
    measured = {label: images.contrast_ratio(fg, bg) for label, fg, bg in pairs}
    assert {k: round(v, 2) for k, v in measured.items() if v < 4.5} == {}
    assert images.failing_pairs(DESIGN) == []


def test_a_failing_pair_makes_the_script_refuse(tmp_path: Path) -> None:
    design = tmp_path / "design.toml"
    text = (ROOT / "campaign" / "design" / "5malklug.toml").read_text(encoding="utf-8")
    design.write_text(text.replace('colour = "#A33F00"', 'colour = "#E67E22"'), encoding="utf-8")
    assert images.main(["--design", str(design), "--check"]) == 1
    assert images.main(["--design", str(design), "--out", str(tmp_path)]) == 1
    assert not (tmp_path / "posts").exists()  # nothing drawn


def test_the_design_renders_exactly_the_images_the_drafts_use() -> None:
    designed = {image["file"] for image in DESIGN["images"]}
    used = set(_drafts_by_image())
    on_disk = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("posts/*/media/*")}
    assert used == designed
    assert on_disk == designed  # no stray image from an older edition


def test_shipped_images_are_small_square_pngs() -> None:
    size = DESIGN["canvas"]["size"]
    total = 0
    for image in DESIGN["images"]:
        path = ROOT / image["file"]
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (size, size), path
        assert len(data) < MAX_BYTES, path
        total += len(data)
    assert total < 1024 * 1024  # the whole set stays under a megabyte


def test_alt_texts_say_every_word_of_the_image_before_its_colours() -> None:
    used = _drafts_by_image()
    for image in DESIGN["images"]:
        colour_name = DESIGN["senders"][image["sender"]]["colour_name"]
        for key, alt in used[image["file"]]:
            missing = [text for text in images.image_texts(DESIGN, image) if text not in alt]
            assert missing == [], (key, image["file"])
            # Content first: the image's own words come before any word about colour.
            assert alt.index(image["title"]) < alt.index(colour_name), key
            assert not alt.startswith("Grafik auf"), key


DATE_WORDS = re.compile(
    r"\d{1,2}\.\s?(\d{1,2}\.|Januar|Februar|März|April|Mai|Juni|Juli|August|September|Oktober"
    r"|November|Dezember)|Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag"
    r"|\bnoch \d+ Tage|\d{1,2}(:\d{2})?\s?(–|-|bis)\s?\d{1,2}(:\d{2})? Uhr",
    re.IGNORECASE,
)


def test_no_date_weekday_countdown_or_time_is_drawn_into_an_image() -> None:
    for image in DESIGN["images"]:
        for text in images.image_texts(DESIGN, image):
            assert DATE_WORDS.search(text) is None, (image["file"], text)


def test_the_launch_image_shows_the_five_towns() -> None:
    launch = next(i for i in DESIGN["images"] if i["file"].endswith("auftakt.png"))
    assert launch["layout"] == "map"
    names = {town["name"] for town in launch["towns"]}
    assert names == {"Arnsberg", "Bad Berleburg", "Menden", "Olpe", "Soest"}


def test_the_script_draws_each_layout(tmp_path: Path) -> None:
    try:
        images.font_path(images.BOLD)
    except SystemExit:
        real_server_missing(
            "DejaVu fonts (apt-get install fonts-dejavu-core)", "CAMPAIGN_TEST_REQUIRE_FONTS"
        )
    layouts = {image["layout"]: image for image in DESIGN["images"]}
    assert set(layouts) == set(images.LAYOUTS)
    for image in layouts.values():
        picture = images.render(DESIGN, image)
        size = DESIGN["canvas"]["size"]
        assert picture.size == (size, size)
        # The frame is the sender's colour; the page inside it is paper.
        accent = images.rgb(DESIGN["senders"][image["sender"]]["colour"])
        assert picture.getpixel((2, size // 2)) == accent
        assert picture.getpixel((size - 60, size - 60)) == images.rgb(DESIGN["palette"]["paper"])


def test_shipped_images_keep_the_design_colours_exactly() -> None:
    from PIL import Image

    size = DESIGN["canvas"]["size"]
    paper = images.rgb(DESIGN["palette"]["paper"])
    for image in DESIGN["images"]:
        with Image.open(ROOT / image["file"]) as shipped:
            pixels = shipped.convert("RGB")
            accent = images.rgb(DESIGN["senders"][image["sender"]]["colour"])
            assert pixels.getpixel((2, size // 2)) == accent, image["file"]
            assert pixels.getpixel((size - 60, size - 60)) == paper, image["file"]
