"""A workspace whose post goes to seven networks, for the preview tests."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from conftest import Workspace, draft_text

#: The test image's one colour; used nowhere else on the preview page.
IMAGE_COLOUR = "#C0FFEE"
IMAGE_SIZE = (300, 200)  # 3:2, a ratio no network crops to

MORE_ACCOUNTS = """
[accounts.soest-facebook]
channel = "facebook"
sender = "soest"
page_id = "1234"
token = "env:SOEST_FACEBOOK_TOKEN"

[accounts.soest-instagram]
channel = "instagram"
sender = "soest"
user_id = "5678"
media_base_url = "https://media.soest.example/"
token = "env:SOEST_INSTAGRAM_TOKEN"

[accounts.soest-linkedin]
channel = "linkedin"
sender = "soest"
organization = "urn:li:organization:42"
token = "env:SOEST_LINKEDIN_TOKEN"

[accounts.soest-x]
channel = "x"
sender = "soest"
api_key = "env:SOEST_X_KEY"
api_secret = "env:SOEST_X_SECRET"
access_token = "env:SOEST_X_TOKEN"
access_secret = "env:SOEST_X_TOKEN_SECRET"
"""

CHANNELS = ("mastodon", "bluesky", "facebook", "instagram", "linkedin", "x")

#: Long enough to be folded by Instagram (125), LinkedIn (210) and Facebook (480), and to be
#: split into a thread on Bluesky (300) and X (280), not on Mastodon (500).
LONG_TEXT = (
    "Am {event.weekday}, {event.day} ist es so weit: {sender.name} lädt zur Konferenz "
    "{event.name} ein. Wir zeigen, wie Soest bis 2030 klimaneutral werden will, mit "
    "Wärmeplanung, Radwegen und einem Solardach auf jeder Schule. Dazu sprechen Fachleute aus "
    "fünf Städten über offene Daten, Sensoren im Stadtpark und digitale Bürgerdienste, die "
    "wirklich funktionieren. Anmeldung und Programm: https://smartcities-suedwestfalen.com/ "
    "#5malklug"
)


def png(colour: str = IMAGE_COLOUR, size: tuple[int, int] = IMAGE_SIZE) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def preview_workspace(workspace: Workspace, *, language: str = "de") -> Path:
    """The workspace with accounts on six networks and the draft soest/01-lang."""
    with workspace.config_file.open("a", encoding="utf-8") as file:
        file.write(MORE_ACCOUNTS)
    if language != "de":
        text = workspace.campaign_file.read_text(encoding="utf-8")
        workspace.campaign_file.write_text(
            text.replace('language = "de"', f'language = "{language}"'), encoding="utf-8"
        )
    (workspace.root / "posts" / "soest" / "plakat.png").write_bytes(png())
    return workspace.draft(
        "soest/01-lang",
        draft_text(
            LONG_TEXT,
            channels=CHANNELS,
            extra=(
                "split = true\n"
                '[[media]]\npath = "plakat.png"\n'
                'alt = "Plakat: {event.name} am {event.day}"\n'
            ),
        ),
    )
