#!/usr/bin/env python3
"""Render the #5malKlug campaign images from campaign/design/5malklug.toml.

    .venv/bin/python scripts/render_campaign_images.py            # every image
    .venv/bin/python scripts/render_campaign_images.py --check    # only measure the contrast

One layout for all senders: a light page in a frame of the sender's colour, a band with the
wordmark on top, the sender's name at the bottom, and the content in between (a headline, a
list, two circles, a pictogram or the map of the five towns). Re-running the script rewrites the
PNG files in posts/<sender>/media/; the same design always gives the same pictures on the same
font version.

Font: DejaVu Sans and DejaVu Sans Bold from Debian's package ``fonts-dejavu-core``
(``apt-get install fonts-dejavu-core``), free under the Bitstream Vera licence with public-domain
changes (see /usr/share/doc/fonts-dejavu-core/copyright). The font is not copied into the
repository; only the rendered PNGs and this source are. Needs Pillow (a test dependency).

Every text colour pair is measured before anything is drawn: below WCAG AA (4.5:1) the script
refuses. tests/test_campaign_images.py measures the same pairs through :func:`text_pairs`.
"""

# ruff: noqa: T201  (a command-line script: it reports on stdout)

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "campaign" / "design" / "5malklug.toml"
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
AA_NORMAL = 4.5  # WCAG 2.x success criterion 1.4.3, normal-size text

RGB = tuple[int, int, int]


# --- colour ------------------------------------------------------------------------------------


def rgb(hex_colour: str) -> RGB:
    value = hex_colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"colour {hex_colour!r} is not #RRGGBB")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of an sRGB colour."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)


# --- the design --------------------------------------------------------------------------------


def load_design(path: Path = DESIGN) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def roles(design: dict[str, Any], sender: str) -> dict[str, tuple[str, str]]:
    """Every way text is coloured on a sender's image: role -> (text colour, background)."""
    palette = design["palette"]
    accent = design["senders"][sender]["colour"]
    return {
        "text": (palette["ink"], palette["paper"]),  # headlines, lines, labels, footer
        "accent-text": (accent, palette["paper"]),  # emphasis, list headings, venn labels
        "band-text": (palette["on_accent"], accent),  # the wordmark in the band
    }


def text_pairs(design: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, text colour, background) for every sender and role the images use."""
    senders = {image["sender"] for image in design["images"]}
    for image in design["images"]:
        senders.update(town["sender"] for town in image.get("towns", []))
    return [
        (f"{sender}/{role}", fg, bg)
        for sender in sorted(senders)
        for role, (fg, bg) in roles(design, sender).items()
    ]


def image_texts(design: dict[str, Any], image: dict[str, Any]) -> list[str]:
    """Every string drawn on one image (what its alt text must say)."""
    texts = [design["canvas"]["wordmark"], image["title"]]
    texts += image.get("lines", []) + image.get("items", [])
    texts += [image[key] for key in ("emphasis", "left", "right") if key in image]
    texts += [town["name"] for town in image.get("towns", [])]
    texts.append(footer_of(design, image))
    return texts


def footer_of(design: dict[str, Any], image: dict[str, Any]) -> str:
    return str(image.get("footer") or design["senders"][image["sender"]]["name"])


# --- drawing -----------------------------------------------------------------------------------


def font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        if (folder / name).is_file():
            return folder / name
    raise SystemExit(
        f"font {name} not found in {', '.join(map(str, FONT_DIRS))}: "
        "apt-get install fonts-dejavu-core"
    )


@dataclass
class Page:
    """One image being drawn: the canvas, its colours and the fonts."""

    design: dict[str, Any]
    sender: str
    image: Any  # PIL.Image.Image
    draw: Any  # PIL.ImageDraw.ImageDraw

    @property
    def size(self) -> int:
        return int(self.design["canvas"]["size"])

    def colour(self, role: str) -> RGB:
        return rgb(roles(self.design, self.sender)[role][0])

    @property
    def accent(self) -> RGB:
        return rgb(self.design["senders"][self.sender]["colour"])

    @property
    def ink(self) -> RGB:
        return rgb(self.design["palette"]["ink"])

    def font(self, size: int, bold: bool = False) -> Any:
        from PIL import ImageFont

        return ImageFont.truetype(str(font_path(BOLD if bold else REGULAR)), size)

    def wrap(self, text: str, font: Any, width: int) -> list[str]:
        lines: list[str] = []
        for word in text.split():
            if lines and self.draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
                lines[-1] = f"{lines[-1]} {word}"
            else:
                lines.append(word)
        return lines

    def text_block(
        self, text: str, top: int, size: int, role: str, bold: bool = False, indent: int = 0
    ) -> int:
        """Draw wrapped text from ``top``; return the y below it."""
        margin = 96
        font = self.font(size, bold)
        for line in self.wrap(text, font, self.size - 2 * margin - indent):
            x = margin + indent
            self.draw.text((x, top), line, font=font, fill=self.colour(role))
            top += int(size * 1.22)
        return top


def frame(page: Page, footer: str) -> None:
    canvas = page.design["canvas"]
    size, width, band = page.size, int(canvas["frame"]), int(canvas["band"])
    page.draw.rectangle((0, 0, size - 1, size - 1), outline=page.accent, width=width)
    page.draw.rectangle((0, 0, size - 1, band), fill=page.accent)
    mark = page.font(76, bold=True)
    page.draw.text(
        (96, band // 2), canvas["wordmark"], font=mark, fill=page.colour("band-text"), anchor="lm"
    )
    # The footer: a short rule in the accent colour, then the sender's name.
    y = size - width - 110
    page.draw.rectangle((96, y, 96 + 120, y + 8), fill=page.accent)
    page.draw.text((96, y + 30), footer, font=page.font(40), fill=page.colour("text"))


def headline(page: Page, image: dict[str, Any]) -> None:
    title = image["title"]
    size = 200 if len(title) <= 6 else 120
    y = page.text_block(title, 250, size, "text", bold=True)
    y += 30
    for line in image.get("lines", []):
        y = page.text_block(line, y, 58, "text")
    if image.get("emphasis"):
        bottom = page.text_block(image["emphasis"], y + 30, 54, "accent-text", bold=True, indent=36)
        page.draw.rectangle((96, y + 36, 96 + 12, bottom - 12), fill=page.accent)


def bullet_list(page: Page, image: dict[str, Any]) -> None:
    y = page.text_block(image["title"], 250, 68, "accent-text", bold=True) + 50
    font = page.font(58)
    for item in image["items"]:
        page.draw.rectangle((96, y + 18, 96 + 30, y + 48), fill=page.accent)
        for line in page.wrap(item, font, page.size - 2 * 96 - 60):
            page.draw.text((156, y), line, font=font, fill=page.colour("text"))
            y += 72
        y += 40


def venn(page: Page, image: dict[str, Any]) -> None:
    page.text_block(image["title"], 220, 68, "text", bold=True)
    radius, cy = 200, 580
    centres = (page.size // 2 - 130, page.size // 2 + 130)
    for cx, colour in zip(centres, (page.accent, page.ink), strict=True):
        page.draw.ellipse(
            (cx - radius, cy - radius, cx + radius, cy + radius), outline=colour, width=10
        )
    # Each circle's name below it, in the colour of the text roles (the circles only decorate).
    font = page.font(46, bold=True)
    labels = (
        (centres[0] - 60, image["left"], "accent-text"),
        (centres[1] + 60, image["right"], "text"),
    )
    for cx, label, role in labels:
        page.draw.text(
            (cx, cy + radius + 30), label, font=font, fill=page.colour(role), anchor="ma"
        )


def house(page: Page, left: int, top: int, width: int) -> None:
    ink, line = page.accent, 12
    height = int(width * 0.75)
    roof = top + int(height * 0.4)
    page.draw.line(
        (left, roof, left + width // 2, top, left + width, roof),
        fill=ink,
        width=line,
        joint="curve",
    )
    page.draw.rectangle((left + 30, roof, left + width - 30, top + height), outline=ink, width=line)
    door_w = width // 6
    page.draw.rectangle(
        (
            left + width // 2 - door_w // 2,
            top + height - int(height * 0.35),
            left + width // 2 + door_w // 2,
            top + height,
        ),
        outline=ink,
        width=line,
    )
    for wx in (left + 70, left + width - 70 - width // 6):
        page.draw.rectangle(
            (wx, roof + 40, wx + width // 6, roof + 40 + width // 6), outline=ink, width=line
        )


def cargo_bike(page: Page, left: int, top: int, width: int) -> None:
    ink, line = page.accent, 12
    r = width // 7
    rear, front = (left + r, top + 260), (left + width - r, top + 260)
    for cx, cy in (rear, front):
        page.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=ink, width=line)
    crank = (left + int(width * 0.42), top + 260)
    seat = (left + int(width * 0.32), top + 110)
    bar = (left + int(width * 0.58), top + 90)
    page.draw.line((*rear, *crank, *seat, *rear), fill=ink, width=line, joint="curve")
    page.draw.line((*crank, left + int(width * 0.62), top + 230, *front), fill=ink, width=line)
    page.draw.line((seat[0] - 30, seat[1], seat[0] + 30, seat[1]), fill=ink, width=line)
    page.draw.line((left + int(width * 0.56), top + 230, *bar), fill=ink, width=line)
    box = (left + int(width * 0.62), top + 130, left + width - 10, top + 225)
    page.draw.rectangle(box, outline=ink, width=line)


def pictogram(page: Page, image: dict[str, Any]) -> None:
    drawers = {"house": house, "cargo-bike": cargo_bike}
    drawers[image["icon"]](page, 300, 210, 480)
    y = page.text_block(image["title"], 620, 50, "text")
    page.text_block(image["emphasis"], y + 10, 64, "accent-text", bold=True)


def town_map(page: Page, image: dict[str, Any]) -> None:
    page.text_block(image["title"], 200, 50, "text", bold=True)
    towns = image["towns"]
    lons = [t["at"][0] for t in towns]
    lats = [t["at"][1] for t in towns]
    squeeze = math.cos(math.radians(sum(lats) / len(lats)))  # degrees of longitude are shorter
    box_top, box_h = 340, 480  # the map's height; it is centred across the page
    width, height = (max(lons) - min(lons)) * squeeze, max(lats) - min(lats)
    scale = box_h / max(width, height)
    box_left = (page.size - width * scale) / 2

    def point(lon: float, lat: float) -> tuple[int, int]:
        x = box_left + (lon - min(lons)) * squeeze * scale
        y = box_top + (max(lats) - lat) * scale
        return int(x), int(y)

    points = [point(*t["at"]) for t in towns]
    hub = points[[t["name"] for t in towns].index(image["hub"])] if "hub" in image else None
    for i, a in enumerate(points):  # the ring of towns in the listed order, and spokes to the hub
        page.draw.line((*a, *points[(i + 1) % len(points)]), fill=page.ink, width=5)
        if hub is not None and a != hub:
            page.draw.line((*a, *hub), fill=page.ink, width=3)
    font = page.font(40, bold=True)
    paper = rgb(page.design["palette"]["paper"])
    for town, (x, y) in zip(towns, points, strict=True):
        colour = rgb(page.design["senders"][town["sender"]]["colour"])
        page.draw.ellipse((x - 30, y - 30, x + 30, y + 30), fill=colour, outline=paper, width=6)
        side = town["label"]
        if side == "right":
            page.draw.text(
                (x + 46, y), town["name"], font=font, fill=page.colour("text"), anchor="lm"
            )
        elif side == "left":
            page.draw.text(
                (x - 46, y), town["name"], font=font, fill=page.colour("text"), anchor="rm"
            )
        else:  # below, right-aligned to the dot
            page.draw.text(
                (x + 30, y + 46), town["name"], font=font, fill=page.colour("text"), anchor="ra"
            )


LAYOUTS = {
    "headline": headline,
    "list": bullet_list,
    "venn": venn,
    "pictogram": pictogram,
    "map": town_map,
}


def render(design: dict[str, Any], image: dict[str, Any]) -> Any:
    """Draw one image of the design; returns a PIL image."""
    from PIL import Image, ImageDraw

    size = int(design["canvas"]["size"])
    canvas = Image.new("RGB", (size, size), rgb(design["palette"]["paper"]))
    page = Page(design, image["sender"], canvas, ImageDraw.Draw(canvas))
    frame(page, footer_of(design, image))
    LAYOUTS[image["layout"]](page, image)
    return canvas


def palette_image(design: dict[str, Any], sender: str) -> Any:
    """A fixed palette for one sender's image: the design's colours exactly, and the blends
    between them that anti-aliased edges need. Saving with it keeps the files small (an eighth
    of full colour) and every flat area in its exact design colour."""
    from PIL import Image

    colours = design["palette"]
    accents = {design["senders"][sender]["colour"]}
    accents.update(s["colour"] for s in design["senders"].values())  # the map's dots
    pairs = [
        (colours["ink"], colours["paper"]),
        (colours["on_accent"], design["senders"][sender]["colour"]),
    ]
    pairs += [(accent, colours["paper"]) for accent in sorted(accents)]
    pairs += [(accent, colours["on_accent"]) for accent in sorted(accents)]
    entries: list[RGB] = []
    for a, b in pairs:
        (ar, ag, ab), (br, bg, bb) = rgb(a), rgb(b)
        for step in range(16):
            t = step / 15
            blend = (
                round(ar + (br - ar) * t),
                round(ag + (bg - ag) * t),
                round(ab + (bb - ab) * t),
            )
            if blend not in entries:
                entries.append(blend)
    if len(entries) > 256:
        raise ValueError(f"the palette needs {len(entries)} colours; PNG allows 256")
    flat = [channel for entry in entries for channel in entry]
    holder = Image.new("P", (1, 1))
    holder.putpalette(flat + flat[:3] * (256 - len(entries)))
    return holder


def save(design: dict[str, Any], image: dict[str, Any], target: Path) -> None:
    from PIL import Image

    picture = render(design, image)
    indexed = picture.quantize(
        palette=palette_image(design, image["sender"]), dither=Image.Dither.NONE
    )
    indexed.save(target, optimize=True)


def failing_pairs(design: dict[str, Any]) -> list[str]:
    return [
        f"{label}: {fg} on {bg} is {contrast_ratio(fg, bg):.2f}:1 (needs {AA_NORMAL}:1)"
        for label, fg, bg in text_pairs(design)
        if contrast_ratio(fg, bg) < AA_NORMAL
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", type=Path, default=DESIGN)
    parser.add_argument("--out", type=Path, default=ROOT, help="root the image paths are under")
    parser.add_argument("--check", action="store_true", help="only measure the text contrast")
    args = parser.parse_args(argv)
    design = load_design(args.design)
    failures = failing_pairs(design)
    for label, fg, bg in text_pairs(design):
        print(f"{label:28} {fg} on {bg}: {contrast_ratio(fg, bg):5.2f}:1")
    if failures:
        print("\n".join(["contrast below WCAG AA:", *failures]), file=sys.stderr)
        return 1
    if args.check:
        return 0
    for image in design["images"]:
        target = args.out / image["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        save(design, image, target)
        print(f"wrote {image['file']} ({target.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
