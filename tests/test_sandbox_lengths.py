"""The sandboxes' own length tables agree with the channels' counting on ordinary and boundary
texts. The sandboxes judge lengths from the networks' documentation, not by asking
channels/text.py, so that a mistake in one shows up as a disagreement here."""

from __future__ import annotations

import pytest

from campaign_scheduler.channels.text import measure
from campaign_scheduler.sandbox.mastodon import status_length
from campaign_scheduler.sandbox.threads import text_length
from campaign_scheduler.sandbox.x import MAX_WEIGHTED_LENGTH, weighted_length

ORDINARY = [
    "",
    "Smart Cities: Konferenz am 18. November 2021 in Olpe. #5malklug",
    "Fünf Städte, ein Ziel: Südwestfalen wird digital. Straße, Größe, Maß.",
    "Mehr unter https://www.suedwestfalen.com/5malklug – Anmeldung bis Freitag!",
    "Programm (https://example.org/programm?tag=1&x=2). Danach: Kaffee.",
    "Zwei Links: https://arnsberg.de/eins und http://olpe.de/zwei/.",
    "Gruß an @soest@social.example und @olpe!",
    "Wir freuen uns 👍🎉 auf euch 👨‍👩‍👧 – 🇩🇪",
    "Keycap 1️⃣ und Herz ❤️ und © und ™",
    "日本語のテキストと한국어",
    "„Anführungszeichen“ — Gedankenstrich … und ′Striche′",
    "e\u0301 (kombiniert) und \u00e9 (fertig)",
    "Zeile eins\nZeile zwei\n\nAbsatz",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_mastodon_sandbox_counts_like_the_channel(text: str) -> None:
    assert status_length("", text) == measure("mastodon", text)


@pytest.mark.parametrize("text", ORDINARY)
def test_x_sandbox_counts_like_the_channel(text: str) -> None:
    assert weighted_length(text) == measure("x", text)


@pytest.mark.parametrize("text", ORDINARY)
def test_threads_sandbox_counts_like_the_channel(text: str) -> None:
    assert text_length(text) == measure("threads", text)


@pytest.mark.parametrize(
    "text",
    [
        *("a" * n for n in (499, 500, 501)),
        *("ä" * n for n in (499, 500, 501)),
        *("https://www.suedwestfalen.com/ " + "x" * n for n in (475, 476, 477)),
        *("@soest@social.example " + "x" * n for n in (493, 494, 495)),
        *("👨‍👩‍👧" * n for n in (499, 500, 501)),
    ],
)
def test_mastodon_boundaries_agree(text: str) -> None:
    assert status_length("", text) == measure("mastodon", text)


@pytest.mark.parametrize(
    "text",
    [
        *("a" * n for n in (279, 280, 281)),
        *("日" * n for n in (139, 140, 141)),
        *("👍" * n for n in (139, 140, 141)),
        *("Mehr: https://www.suedwestfalen.com/5malklug " + "x" * n for n in (250, 251, 252)),
        *("suedwestfalen.com " + "x" * n for n in (255, 256, 257)),
    ],
)
def test_x_boundaries_agree(text: str) -> None:
    assert weighted_length(text) == measure("x", text)
    assert (weighted_length(text) <= MAX_WEIGHTED_LENGTH) == (measure("x", text) <= 280)


@pytest.mark.parametrize(
    "text",
    [
        *("a" * n for n in (499, 500, 501)),
        *("👍" * n for n in (124, 125, 126)),
        *("Text " + "🎉" * n for n in (123, 124)),
    ],
)
def test_threads_boundaries_agree(text: str) -> None:
    assert text_length(text) == measure("threads", text)


def test_a_content_warning_counts_on_mastodon() -> None:
    assert status_length("Achtung", "a" * 493) == 500
