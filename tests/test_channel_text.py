"""How each network counts a post's text (campaign_scheduler.channels.text)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from campaign_scheduler.channels.registry import available_channels
from campaign_scheduler.channels.text import (
    LengthIssue,
    limit_of,
    mastodon_countable_text,
    measure,
    text_length_issues,
    unit_of,
)
from campaign_scheduler.errors import NotFoundError

THUMBS = "👍"  # U+1F44D: 1 grapheme, 1 code point, 2 UTF-16 units, 4 UTF-8 bytes
FAMILY = "👨‍👩‍👧"  # man ZWJ woman ZWJ girl: 1 grapheme, 5 code points, 8 UTF-16 units, 18 bytes
FLAG_DE = "🇩🇪"  # two regional indicators: 1 grapheme, 4 UTF-16 units, 8 bytes
E_ACUTE_COMBINING = "e\u0301"  # "e" + COMBINING ACUTE ACCENT: 1 grapheme, 2 code points
UMLAUTS = "äöüÄÖÜß"  # 7 graphemes, 7 UTF-16 units, 14 UTF-8 bytes
LONG_URL = "https://example.com/campaigns/2026/spring/a-rather-long-path-to-a-landing-page?ref=cs"
REMOTE_MENTION = "@user@social.example"


BUILT_IN = (
    "mastodon",
    "bluesky",
    "x",
    "facebook",
    "instagram",
    "linkedin",
    "telegram",
    "threads",
    "matrix",
    "webhook",
)


def test_the_ten_built_in_channels_are_installed() -> None:
    assert set(BUILT_IN) <= set(available_channels())


@pytest.mark.parametrize(
    ("channel", "limit"),
    [
        ("mastodon", 500),
        ("bluesky", 300),
        ("x", 280),
        ("facebook", 63206),
        ("instagram", 2200),
        ("linkedin", 3000),
        ("telegram", 4096),
        ("threads", 500),
        ("matrix", 60000),
        ("webhook", None),
    ],
)
def test_limit_of_returns_the_default_main_limit(channel: str, limit: int | None) -> None:
    assert limit_of(channel) == limit


@pytest.mark.parametrize("channel", BUILT_IN)
def test_every_channel_has_a_unit(channel: str) -> None:
    assert unit_of(channel)


@pytest.mark.parametrize("function", [measure, text_length_issues, limit_of])
def test_a_channel_that_is_not_installed_is_not_found(function: Callable[..., object]) -> None:
    with pytest.raises(NotFoundError, match="no channel named 'myspace' is installed"):
        function("myspace", "hello") if function is not limit_of else function("myspace")


def test_limit_below_one_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="positive"):
        text_length_issues("mastodon", "hello", limit=0)


@pytest.mark.parametrize("channel", BUILT_IN)
def test_empty_text_has_no_issues(channel: str) -> None:
    assert text_length_issues(channel, "") == []


@pytest.mark.parametrize("channel", BUILT_IN)
def test_short_plain_text_has_no_issues(channel: str) -> None:
    assert text_length_issues(channel, "Frühlingsaktion startet morgen!") == []


# "Grüße 👍 日本": 10 graphemes, 11 UTF-16 units, 19 UTF-8 bytes.
@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("mastodon", 10),
        ("bluesky", 10),
        ("x", 13),  # Grüße 5 + spaces 2 + emoji 2 + two CJK 4
        ("facebook", 11),
        ("instagram", 11),
        ("linkedin", 11),
        ("telegram", 11),
        ("threads", 13),  # 9 graphemes + 4 bytes for the emoji
        ("matrix", 19),
        ("webhook", 10),
    ],
)
def test_measure_counts_in_each_channels_unit(channel: str, expected: int) -> None:
    assert measure(channel, "Grüße 👍 日本") == expected


def test_message_names_channel_counts_unit_and_excess() -> None:
    issue = LengthIssue("bluesky", 312, 300, "graphemes")
    assert issue.message() == "text too long for bluesky: 312 of 300 graphemes (12 over)"


def test_message_for_a_caption_says_caption() -> None:
    issue = LengthIssue("telegram", 1030, 1024, "UTF-16 code units", subject="caption")
    assert issue.message() == (
        "caption too long for telegram: 1030 of 1024 UTF-16 code units (6 over)"
    )


def test_message_for_hashtags_says_too_many() -> None:
    issue = LengthIssue("instagram", 31, 30, "hashtags")
    assert issue.message() == "too many hashtags for instagram: 31 of 30 (1 over)"


# --- Mastodon -----------------------------------------------------------------------------------


def test_mastodon_text_at_the_limit_passes() -> None:
    assert text_length_issues("mastodon", "a" * 500) == []


def test_mastodon_text_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("mastodon", "a" * 501)
    assert issue == LengthIssue("mastodon", 501, 500, "characters (URLs count 23)")
    assert issue.message() == (
        "text too long for mastodon: 501 of 500 characters (URLs count 23) (1 over)"
    )


def test_mastodon_instance_limit_overrides_the_default() -> None:
    assert text_length_issues("mastodon", "a" * 1000, limit=1000) == []
    (issue,) = text_length_issues("mastodon", "a" * 1001, limit=1000)
    assert (issue.measured, issue.limit) == (1001, 1000)


def test_mastodon_counts_umlauts_and_sharp_s_once_each() -> None:
    assert measure("mastodon", UMLAUTS) == 7


def test_mastodon_counts_each_emoji_as_one_character() -> None:
    assert measure("mastodon", THUMBS + FAMILY + FLAG_DE) == 3


def test_mastodon_counts_a_combining_accent_with_its_letter() -> None:
    assert measure("mastodon", E_ACUTE_COMBINING) == 1


def test_mastodon_counts_a_long_url_as_23() -> None:
    assert len(LONG_URL) > 23
    assert measure("mastodon", f"Mehr: {LONG_URL}") == 6 + 23


def test_mastodon_text_with_url_at_the_limit_passes() -> None:
    text = "a" * 476 + " " + LONG_URL  # 476 + 1 + 23 = 500
    assert text_length_issues("mastodon", text) == []
    (issue,) = text_length_issues("mastodon", "a" + text)
    assert issue.measured == 501


def test_mastodon_counts_a_url_without_scheme_in_full() -> None:
    assert measure("mastodon", "example.com/landing") == len("example.com/landing")


def test_mastodon_counts_a_url_with_non_ascii_path_as_23() -> None:
    # Mastodon's URL pattern allows any non-space character in the path.
    assert measure("mastodon", "https://example.com/straße/日本語") == 23


def test_mastodon_leaves_trailing_punctuation_outside_the_url() -> None:
    assert measure("mastodon", "https://example.com/page.") == 24


def test_mastodon_counts_a_remote_mention_as_the_local_part() -> None:
    assert mastodon_countable_text(f"Hallo {REMOTE_MENTION}!") == "Hallo @user!"
    assert measure("mastodon", REMOTE_MENTION) == len("@user")


def test_mastodon_counts_a_local_mention_in_full() -> None:
    assert measure("mastodon", "@user") == 5


def test_mastodon_counts_an_email_address_in_full() -> None:
    assert measure("mastodon", "info@social.example") == len("info@social.example")


def test_mastodon_remote_mention_helps_a_text_fit() -> None:
    text = "a" * 494 + " " + REMOTE_MENTION  # 494 + 1 + 5 = 500
    assert len(text) > 500
    assert text_length_issues("mastodon", text) == []


def test_mastodon_counts_a_whitespace_only_text_as_empty() -> None:
    assert measure("mastodon", "   \n ") == 0


# --- Bluesky ------------------------------------------------------------------------------------


def test_bluesky_text_at_the_grapheme_limit_passes() -> None:
    assert text_length_issues("bluesky", "a" * 300) == []


def test_bluesky_text_over_the_grapheme_limit_is_reported() -> None:
    (issue,) = text_length_issues("bluesky", "a" * 301)
    assert issue.message() == "text too long for bluesky: 301 of 300 graphemes (1 over)"


def test_bluesky_counts_umlauts_as_one_grapheme_each() -> None:
    assert text_length_issues("bluesky", "ß" * 300) == []  # 600 bytes
    assert measure("bluesky", UMLAUTS) == 7


def test_bluesky_counts_each_emoji_as_one_grapheme() -> None:
    assert measure("bluesky", THUMBS + FAMILY + FLAG_DE) == 3


def test_bluesky_counts_a_combining_accent_with_its_letter() -> None:
    assert measure("bluesky", E_ACUTE_COMBINING) == 1


def test_bluesky_counts_a_url_at_full_length() -> None:
    assert measure("bluesky", LONG_URL) == len(LONG_URL)


def test_bluesky_counts_a_remote_mention_at_full_length() -> None:
    assert measure("bluesky", REMOTE_MENTION) == len(REMOTE_MENTION)


def test_bluesky_text_at_the_byte_limit_passes() -> None:
    text = FAMILY * 166 + "a" * 12  # 166 * 18 + 12 = 3000 bytes, 178 graphemes
    assert text_length_issues("bluesky", text) == []


def test_bluesky_byte_limit_is_hit_before_the_grapheme_limit() -> None:
    text = FAMILY * 167  # only 167 graphemes, but 167 * 18 = 3006 bytes
    (issue,) = text_length_issues("bluesky", text)
    assert issue == LengthIssue("bluesky", 3006, 3000, "UTF-8 bytes")
    assert issue.message() == "text too long for bluesky: 3006 of 3000 UTF-8 bytes (6 over)"


def test_bluesky_reports_both_limits_when_both_are_broken() -> None:
    issues = text_length_issues("bluesky", FAMILY * 301)
    assert [(i.measured, i.limit, i.unit) for i in issues] == [
        (301, 300, "graphemes"),
        (301 * 18, 3000, "UTF-8 bytes"),
    ]


def test_bluesky_limit_override_leaves_the_byte_limit_alone() -> None:
    issues = text_length_issues("bluesky", FAMILY * 167, limit=1000)
    assert [i.unit for i in issues] == ["UTF-8 bytes"]


# --- X ------------------------------------------------------------------------------------------


def test_x_text_at_the_limit_passes() -> None:
    assert text_length_issues("x", "a" * 280) == []


def test_x_text_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("x", "a" * 281)
    assert issue.message() == "text too long for x: 281 of 280 weighted characters (1 over)"


def test_x_counts_cjk_characters_twice() -> None:
    assert measure("x", "日本語") == 6
    assert text_length_issues("x", "日" * 140) == []
    (issue,) = text_length_issues("x", "日" * 141)
    assert issue.measured == 282


def test_x_counts_umlauts_and_sharp_s_once_each() -> None:
    assert measure("x", UMLAUTS) == 7


@pytest.mark.parametrize("emoji", [THUMBS, FAMILY, FLAG_DE])
def test_x_counts_any_emoji_sequence_as_two(emoji: str) -> None:
    assert measure("x", emoji) == 2


def test_x_counts_a_combining_accent_with_its_letter() -> None:
    assert measure("x", E_ACUTE_COMBINING) == 1  # NFC turns it into one "é"


def test_x_counts_a_long_url_as_23() -> None:
    assert measure("x", f"Mehr: {LONG_URL}") == 6 + 23


def test_x_counts_a_url_without_scheme_as_23_too() -> None:
    assert measure("x", "example.com/landing") == 23


def test_x_counts_a_remote_mention_in_full() -> None:
    assert measure("x", REMOTE_MENTION) == len(REMOTE_MENTION)


def test_x_limit_override_allows_longer_posts() -> None:
    assert text_length_issues("x", "a" * 1000, limit=25000) == []


# --- Threads ------------------------------------------------------------------------------------


def test_threads_text_at_the_limit_passes() -> None:
    assert text_length_issues("threads", "a" * 500) == []


def test_threads_text_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("threads", "a" * 501)
    assert issue.message() == (
        "text too long for threads: 501 of 500 characters (emoji count their UTF-8 bytes) (1 over)"
    )


@pytest.mark.parametrize(("emoji", "weight"), [(THUMBS, 4), (FAMILY, 18), (FLAG_DE, 8)])
def test_threads_counts_an_emoji_as_its_utf8_bytes(emoji: str, weight: int) -> None:
    assert measure("threads", emoji) == weight


def test_threads_text_with_emoji_at_the_limit_passes() -> None:
    assert text_length_issues("threads", "a" * 496 + THUMBS) == []
    (issue,) = text_length_issues("threads", "a" * 497 + THUMBS)
    assert issue.measured == 501


def test_threads_counts_umlauts_and_cjk_once_each() -> None:
    assert measure("threads", UMLAUTS + "日本語") == 10


def test_threads_counts_a_combining_accent_with_its_letter() -> None:
    assert measure("threads", E_ACUTE_COMBINING) == 1


# --- Telegram -----------------------------------------------------------------------------------


def test_telegram_message_at_the_limit_passes() -> None:
    assert text_length_issues("telegram", "a" * 4096) == []


def test_telegram_message_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("telegram", "a" * 4097)
    assert issue.message() == (
        "text too long for telegram: 4097 of 4096 UTF-16 code units (1 over)"
    )


def test_telegram_counts_an_emoji_as_a_surrogate_pair() -> None:
    assert measure("telegram", THUMBS) == 2
    assert text_length_issues("telegram", THUMBS * 2048) == []  # 4096 units
    (issue,) = text_length_issues("telegram", THUMBS * 2048 + "a")
    assert issue.measured == 4097


def test_telegram_counts_umlauts_once_each() -> None:
    assert measure("telegram", UMLAUTS) == 7


def test_telegram_counts_a_combining_accent_as_two_code_units() -> None:
    assert measure("telegram", E_ACUTE_COMBINING) == 2


def test_telegram_caption_at_the_limit_passes() -> None:
    assert text_length_issues("telegram", "a" * 1024, with_media=True) == []


def test_telegram_caption_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("telegram", "a" * 1025, with_media=True)
    assert issue.message() == (
        "caption too long for telegram: 1025 of 1024 UTF-16 code units (1 over)"
    )


def test_telegram_caption_limit_does_not_apply_without_media() -> None:
    assert text_length_issues("telegram", "a" * 1025) == []


# --- Instagram ----------------------------------------------------------------------------------


def test_instagram_caption_at_the_limit_passes() -> None:
    assert text_length_issues("instagram", "a" * 2200, with_media=True) == []


def test_instagram_caption_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("instagram", "a" * 2201, with_media=True)
    assert issue.message() == (
        "caption too long for instagram: 2201 of 2200 UTF-16 code units (1 over)"
    )


def test_instagram_counts_an_emoji_as_two_code_units() -> None:
    assert text_length_issues("instagram", THUMBS * 1100) == []
    (issue,) = text_length_issues("instagram", THUMBS * 1100 + "a")
    assert issue.measured == 2201


def test_instagram_thirty_hashtags_pass() -> None:
    text = " ".join(f"#tag{n}" for n in range(30))
    assert text_length_issues("instagram", text) == []


def test_instagram_thirty_one_hashtags_are_reported() -> None:
    text = " ".join(f"#tag{n}" for n in range(31))
    (issue,) = text_length_issues("instagram", text)
    assert issue == LengthIssue("instagram", 31, 30, "hashtags", subject="caption")
    assert issue.message() == "too many hashtags for instagram: 31 of 30 (1 over)"


def test_instagram_counts_umlaut_hashtags_but_not_url_fragments() -> None:
    text = " ".join(f"#grüße{n}" for n in range(30)) + " https://example.com/#anchor page#2"
    assert text_length_issues("instagram", text) == []


# --- LinkedIn, Facebook -------------------------------------------------------------------------


def test_linkedin_text_at_the_limit_passes() -> None:
    assert text_length_issues("linkedin", "a" * 3000) == []


def test_linkedin_text_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("linkedin", "a" * 3001)
    assert issue.message() == (
        "text too long for linkedin: 3001 of 3000 UTF-16 code units (1 over)"
    )


def test_facebook_text_at_the_limit_passes() -> None:
    assert text_length_issues("facebook", "a" * 63206) == []


def test_facebook_text_over_the_limit_is_reported() -> None:
    (issue,) = text_length_issues("facebook", "a" * 63207)
    assert issue.message() == (
        "text too long for facebook: 63207 of 63206 UTF-16 code units (1 over)"
    )


# --- Matrix, webhook ----------------------------------------------------------------------------


def test_matrix_body_at_the_byte_limit_passes() -> None:
    assert text_length_issues("matrix", "ä" * 30000) == []  # 60000 bytes


def test_matrix_body_over_the_byte_limit_is_reported() -> None:
    (issue,) = text_length_issues("matrix", "ä" * 30000 + "a")
    assert issue.message() == "text too long for matrix: 60001 of 60000 UTF-8 bytes (1 over)"


def test_webhook_has_no_limit() -> None:
    assert text_length_issues("webhook", "a" * 1_000_000) == []


def test_webhook_measures_graphemes() -> None:
    assert measure("webhook", FAMILY + E_ACUTE_COMBINING) == 2


def test_webhook_honours_an_explicit_limit() -> None:
    (issue,) = text_length_issues("webhook", "a" * 11, limit=10)
    assert issue.unit == "graphemes"


# --- the shortcuts of the counting functions ---------------------------------------------------


def test_simple_text_counts_one_grapheme_per_character_as_the_full_rule_does() -> None:
    """Text of Latin letters, punctuation and currency signs is counted without the grapheme
    pattern; every pair of such characters makes two clusters under ``\\X`` (CR LF one)."""
    import itertools

    import regex

    from campaign_scheduler.channels.text import _SIMPLE_CLUSTERS, count_graphemes

    cluster = regex.compile(r"\X")
    simple = [
        chr(c)
        for c in itertools.chain(
            range(0x300), range(0x2010, 0x2028), range(0x2030, 0x205F), range(0x20A0, 0x20C0)
        )
    ]
    assert all(_SIMPLE_CLUSTERS.fullmatch(c) for c in simple)
    for a, b in itertools.product(simple, repeat=2):
        assert len(cluster.findall(a + b)) == (1 if a + b == "\r\n" else 2), (a, b)
    for text in ("Bürgerhäuser – 5 €…", "a\r\nb\r\r\n", "", "ÄÖÜ\u00adß"):
        assert count_graphemes(text) == len(cluster.findall(text))
    # a combining accent or an emoji takes the full rule
    assert count_graphemes("Cafe\u0301 " + FAMILY) == 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mehr: https://example.com/a und https://example.org/b.", "Mehr: {u} und {u}."),
        ("(https://example.com/a)\nhttps://example.org", "({u})\n{u}"),
        ("\u00a0https://example.com\thttps://example.org/x?y=1", "\u00a0{u}\t{u}"),
        ("ahttps://example.com", "ahttps://example.com"),  # glued to a word: no link
        ("example.com/https://example.org ok", "example.com/https://example.org ok"),
        ("ftp://example.com ipfs://example.org", "ftp://example.com {u}"),
        ("https://", "https://"),
    ],
)
def test_mastodon_finds_urls_with_a_scheme_wherever_they_stand(text: str, expected: str) -> None:
    """URLs are looked for only in the stretches between spaces that hold "://" (the pattern
    is not tried at every position of the text): the same URLs as a search of the whole text."""
    assert mastodon_countable_text(text) == expected.format(u="x" * 23)
