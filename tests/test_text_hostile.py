"""Hostile text cannot hang the length count: the URL patterns never see a long run of domain
characters, and ordinary text is counted exactly as before (property test against the
previous implementation, kept here as the reference)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import campaign_scheduler.channels.text as text_module
from campaign_scheduler.channels.catalog import installed_names
from campaign_scheduler.channels.text import (
    MASTODON_URL_LENGTH,
    _Entity,
    _link_free_runs,
    _mastodon_mentions,
    _twitter_patterns,
    _valid_url_length,
    mastodon_countable_text,
    measure,
)

HOSTILE = {
    "dots": "a." * 2500,
    "scheme and dots": "https://" + "a." * 2496,
    "hyphens": "a-" * 2500 + " soest.de",
    "many short chains": ("a." * 9 + "a ") * 250,
    "path of dots": "https://soest.de/" + "a." * 2490,
    "letters, then a chain": "a" * 300 + "-a" * 2300 + " soest.de",
}


# --- the previous implementation, as the reference for ordinary text -----------------------


def reference_x(text: str) -> int:
    from twitter_text import parse_tweet

    return int(parse_tweet(text).weightedLength)


def reference_mastodon_urls(text: str) -> list[_Entity]:
    if ":" not in text:
        return []
    patterns = _twitter_patterns()
    entities = []
    for match in patterns["url"].finditer(text):
        if match.group("protocol") is None:
            continue
        url: str = match.group("url")
        start, end = match.span("url")
        tco = patterns["tco"].search(url)
        if tco:
            slug = tco.group(1)
            if slug and len(slug) > 40:
                continue
            url = tco.group(0)
            end = start + len(url)
        if not _valid_url_length(url, match.group("domain")):
            continue
        entities.append(_Entity(start, end, "x" * MASTODON_URL_LENGTH))
    return entities


def reference_mastodon_countable(text: str) -> str:
    if not text.strip():
        return ""
    entities = sorted(
        reference_mastodon_urls(text) + _mastodon_mentions(text), key=lambda e: e.start
    )
    pieces: list[str] = []
    position = 0
    for entity in entities:
        if entity.start < position:
            continue
        pieces.append(text[position : entity.start])
        pieces.append(entity.replacement)
        position = entity.end
    pieces.append(text[position:])
    return "".join(pieces)


TOKENS = [
    "Soest",
    "klimaneutral",
    "Südwestfalen",
    "#5malklug",
    "@stadt@social.soest.example",
    "@olpe",
    "https://smartcities-suedwestfalen.com/konferenz/",
    "http://t.co/abc123",
    "www.soest.de",
    "soest.de/rathaus?x=1",
    "https://de.wikipedia.org/wiki/Soest_(Stadt)",
    "gemini://kreis.example/a.b",
    "z.B.",
    "u.a.",
    "1.2.3",
    "Smart-City-Konferenz",
    "a_b",
    "👍",
    "🇩🇪",
    "日本語",
    "é",
    "e\u0301",
    "(",
    ")",
    ":",
    "/",
]
SEPARATORS = [" ", "", "\n", ". ", ", ", ".", "-", "\r\n"]


@st.composite
def ordinary_text(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(TOKENS),
                st.text(alphabet="ab.-_/:@#?=() éü😀", max_size=12),
            ),
            max_size=25,
        )
    )
    pieces = []
    for part in parts:
        pieces.append(part)
        pieces.append(draw(st.sampled_from(SEPARATORS)))
    return "".join(pieces)


@hsettings(max_examples=150)
@given(ordinary_text())
def test_ordinary_text_counts_as_before(text: str) -> None:
    assume(not _link_free_runs(text))
    assert measure("x", text) == reference_x(text)
    assert mastodon_countable_text(text) == reference_mastodon_countable(text)


def test_the_property_test_sees_links() -> None:
    """The reference and the new count agree on texts that do hold links and mentions."""
    text = " ".join(TOKENS)
    assert not _link_free_runs(text)
    assert measure("x", text) == reference_x(text)
    assert mastodon_countable_text(text) == reference_mastodon_countable(text)
    assert "x" * MASTODON_URL_LENGTH in mastodon_countable_text(text)


# --- hostile text ---------------------------------------------------------------------------


class GuardedPattern:
    """Wraps a compiled pattern; fails the test at once when it is asked to scan a long chain
    (before the scan, which would take minutes)."""

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None) -> Any:
        end = len(text) if endpos is None else endpos
        assert_short_chains(text[pos:end])
        return self.pattern.finditer(text, pos, end)

    def search(self, text: str) -> Any:
        return self.pattern.search(text)


def assert_short_chains(text: str) -> None:
    """No stretch without a space holds more than 6 dots, or more than 253 characters with a
    separator (the chains that make the URL patterns backtrack)."""
    for word in text.split():
        chained = len(word) > 253 and any(c in word for c in ".-_")
        assert word.count(".") <= 6 and not chained, f"URL pattern ran on {word[:40]}…"


@pytest.mark.parametrize("name", HOSTILE)
def test_the_url_patterns_never_see_a_long_chain(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import twitter_text

    text = HOSTILE[name]
    real_parse = twitter_text.parse_tweet

    def guarded_parse(piece: str) -> Any:
        if "." in piece:  # twitter-text runs its URL pattern only on text with a dot
            assert_short_chains(piece)
        return real_parse(piece)

    monkeypatch.setattr(twitter_text, "parse_tweet", guarded_parse)
    patterns = dict(_twitter_patterns())
    patterns["url"] = GuardedPattern(patterns["url"])
    monkeypatch.setattr(text_module, "_twitter_patterns", lambda: patterns)

    assert measure("x", text) > 280
    assert measure("mastodon", text) > 500


@pytest.mark.parametrize("channel", installed_names())
def test_a_long_chain_is_counted_as_the_text_it_is(channel: str) -> None:
    text = "a." * 2500
    expected = {"matrix": 5000, "threads": 5000}
    assert measure(channel, text) == expected.get(channel, 5000)


def test_a_link_with_a_long_path_of_letters_still_counts_23() -> None:
    text = "Link: https://example.org/" + "a" * 300
    assert measure("mastodon", text) == 6 + 23
    assert measure("x", text) == 6 + 23


def test_a_link_next_to_a_long_chain_still_counts_23() -> None:
    text = "Mehr: https://smartcities-suedwestfalen.com/konferenz/ " + "a." * 300
    assert measure("x", text) == len("Mehr: ") + 23 + 1 + 600
    assert measure("mastodon", text) == len("Mehr: ") + 23 + 1 + 600
