"""Splitting over-long texts into threads."""

from __future__ import annotations

import pytest

from campaign_scheduler.channels.split import split_into_thread
from campaign_scheduler.channels.text import text_length_issues
from campaign_scheduler.errors import RejectedError


def fits_bluesky(text: str) -> bool:
    return not text_length_issues("bluesky", text)


def test_a_text_that_fits_stays_one_part() -> None:
    assert split_into_thread("Kurz #5malklug", fits_bluesky) == ["Kurz #5malklug"]


def test_parts_break_after_sentences_and_are_numbered() -> None:
    sentence = (
        "Soest will bis 2030 eine klimaneutrale Smart City sein und plant dafür viele Projekte."
    )
    text = " ".join([sentence] * 6) + " #5malklug"
    parts = split_into_thread(text, fits_bluesky)
    assert len(parts) > 1
    assert all(fits_bluesky(p) for p in parts)
    assert parts[0].endswith(f"(1/{len(parts)})")
    assert parts[-1].endswith(f"#5malklug ({len(parts)}/{len(parts)})")
    assert all(p.split(" (")[0].endswith((".", "#5malklug")) for p in parts)
    # Nothing is lost or reordered.
    joined = " ".join(p.rsplit(" (", 1)[0] for p in parts)
    assert joined == text


def test_a_sentence_longer_than_a_part_breaks_between_words() -> None:
    text = " ".join(["Bürgerhäuser"] * 60) + " #5malklug"
    parts = split_into_thread(text, fits_bluesky)
    assert all(fits_bluesky(p) for p in parts)
    assert " ".join(p.rsplit(" (", 1)[0] for p in parts) == text


def test_a_single_word_too_long_cannot_be_split() -> None:
    with pytest.raises(RejectedError):
        split_into_thread("x" * 400, fits_bluesky)
