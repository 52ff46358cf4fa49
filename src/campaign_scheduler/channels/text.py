"""Measure a post's text the way each network counts it, and report what does not fit.

Every network has its own idea of a "character" (see channels.md, "Text limits and counting" of
each network). This module holds the counting functions and :class:`TextRule`; each channel
class declares its own rule (``text_rule``: unit, counter, limits) from them. The rules of the
built-in channels:

``mastodon``
    Extended grapheme clusters, after two rewrites done by Mastodon's ``StatusLengthValidator``:
    every URL that starts with a scheme becomes a 23-character placeholder, and a mention
    ``@user@domain`` becomes ``@user``. Default limit 500; instances set their own (pass
    ``limit``). The URL and mention patterns follow Mastodon's own (see :func:`_mastodon_urls`).
    A content warning (``spoiler_text``) also counts on Mastodon; this module measures the text
    it is given, so callers that use one pass it prepended.
``bluesky``
    At most 300 grapheme clusters **and** at most 3000 UTF-8 bytes; URLs count at full length.
``x``
    twitter-text v3 weighted length (``twitter-text-parser``): URLs 23, emoji sequences 2, CJK
    and other code points outside the Latin ranges 2, text NFC-normalised first. Limit 280.
    Its URL pattern (stdlib ``re``) backtracks quadratically on long chains like "a.a.a.…"
    (213 s for 5,000 characters); see "Hostile text" below for the guard.
``threads``
    500, where a grapheme cluster that is an emoji counts as many as its UTF-8 bytes (👍 = 4) and
    any other grapheme cluster counts 1. Threads documents the emoji rule only; counting other
    text per grapheme is channels.md's suggestion and may undercount rare scripts.
``telegram``
    UTF-16 code units (the unit of Telegram's entity offsets): 4096 for a message, 1024 for the
    caption of a media message. Telegram counts after removing markup, so counting text that
    still has Markdown/HTML markup errs on the long side.
``instagram``, ``linkedin``, ``facebook``
    Documented in "characters" without saying which kind: 2200 (Instagram caption), 3000,
    63206. These count UTF-16 code units, the largest of the usual meanings of "character"
    (UTF-16 units >= code points >= grapheme clusters), so a text that fits here fits whichever
    one the service really uses. An emoji such as 👍 therefore counts 2. Instagram additionally
    allows at most 30 hashtags.
``matrix``
    No practical text limit, but an event may not exceed 65536 bytes of JSON; bodies over 60000
    UTF-8 bytes are flagged to leave room for the rest of the event.
``webhook``
    No limit; :func:`measure` reports grapheme clusters.

Hostile text: the URL patterns of twitter-text (X, and Mastodon's, built from its parts) try
every start inside a run of domain characters and backtrack over every label of it, so a text
that is one long "a.a.a.…" takes minutes. A *long run* -- a stretch without a space or other
punctuation than ``.``, ``-`` and ``_`` that holds more than 6 dots, or is longer than 253
characters (the longest domain name DNS allows) with one of ``.``, ``-``, ``_`` in it -- is
therefore never a link: it is counted character by character, as the text
it is, and the URL patterns only see the text around it (:func:`_link_free_runs`). No ordinary
domain looks like that, so counts of ordinary text are exactly those of the patterns alone; for
a long run the count errs on the long side. Every count is then linear in the text's length.

Only the standard library, ``regex`` and ``twitter_text`` are used here. ``twitter_text`` takes
about 0.2 s to import (it builds its emoji pattern), so it is imported on first use.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from campaign_scheduler.uilang import N_, Msg, msg

if TYPE_CHECKING:
    import regex


#: Counting units, as a reader sees them (German in the gettext catalog).
class LazyPattern:
    """A ``regex`` pattern compiled on first use: a channel module is imported wherever its
    account settings are read (``status``, ``load``, the daemon), and that needs no ``regex``
    until a text is counted or searched. Used like the compiled pattern (``.search``,
    ``.finditer`` ...)."""

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: str) -> None:
        self._source = source
        self._compiled: regex.Pattern[str] | None = None

    def compiled(self) -> regex.Pattern[str]:
        if self._compiled is None:
            import regex

            self._compiled = regex.compile(self._source)
        return self._compiled

    def __getattr__(self, name: str) -> Any:
        return getattr(self.compiled(), name)


UNIT_MASTODON = N_("characters (URLs count 23)")
UNIT_GRAPHEMES = N_("graphemes")
UNIT_UTF8 = N_("UTF-8 bytes")
UNIT_WEIGHTED = N_("weighted characters")
UNIT_UTF16 = N_("UTF-16 code units")
UNIT_THREADS = N_("characters (emoji count their UTF-8 bytes)")
UNIT_HASHTAGS = N_("hashtags")

MASTODON_URL_LENGTH = 23


@dataclass(frozen=True)
class LengthIssue:
    """One limit a text breaks on one channel."""

    channel: str
    measured: int  # in `unit`
    limit: int
    unit: str
    subject: str = "text"  # what was measured: "text" or "caption"

    @property
    def over(self) -> int:
        return self.measured - self.limit

    def message(self) -> str:
        """English (a :class:`~campaign_scheduler.uilang.Msg`), said in the user's language
        where it is shown."""
        counts = {"channel": self.channel, "measured": self.measured, "limit": self.limit}
        if self.unit == UNIT_HASHTAGS:
            return msg(
                "too many hashtags for {channel}: {measured} of {limit} ({over} over)",
                over=self.over,
                **counts,
            )
        return msg(
            _TOO_LONG.get(self.subject, _TOO_LONG["text"]),
            unit=Msg(self.unit),
            over=self.over,
            **counts,
        )


#: What was measured, as the message that it is too long.
_TOO_LONG = {
    "text": N_("text too long for {channel}: {measured} of {limit} {unit} ({over} over)"),
    "caption": N_("caption too long for {channel}: {measured} of {limit} {unit} ({over} over)"),
    "comment": N_("comment too long for {channel}: {measured} of {limit} {unit} ({over} over)"),
}


# --- basic counts -------------------------------------------------------------------------------

_GRAPHEME = LazyPattern(r"\X")
#: Text made only of these (Latin letters with their accents precomposed, general punctuation
#: such as "–" and "…", currency signs) has no character that joins a cluster (no combining
#: mark, joiner, variation selector, emoji modifier or regional indicator): every character is
#: a grapheme cluster of its own, but CR LF is one. A test checks every pair against ``\X``.
_SIMPLE_CLUSTERS = LazyPattern(r"[\x00-\u02FF\u2010-\u2027\u2030-\u205E\u20A0-\u20BF]*")


def _graphemes(text: str) -> int:
    if text.isascii() or _SIMPLE_CLUSTERS.fullmatch(text):
        return len(text) - text.count("\r\n")
    return len(_GRAPHEME.findall(text))


def _utf8_bytes(text: str) -> int:
    # surrogatepass: a lone surrogate (invalid, but possible in a Python str) must not crash a
    # length check; it is counted as the three bytes it would take.
    return len(text.encode("utf-8", "surrogatepass"))


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# --- Threads ------------------------------------------------------------------------------------

# A grapheme cluster is taken to be an emoji when it holds a pictographic code point, a regional
# indicator (flags) or the combining keycap (1️⃣). Text-style pictographs such as © are included:
# counting them as their 2-3 bytes errs on the long side.
_EMOJI_PART = LazyPattern(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20E3]")


def _threads_length(text: str) -> int:
    total = 0
    for match in _GRAPHEME.finditer(text):
        cluster = match.group()
        total += _utf8_bytes(cluster) if _EMOJI_PART.search(cluster) else 1
    return total


# --- X ------------------------------------------------------------------------------------------


def _x_weighted_length(text: str) -> int:
    from twitter_text import parse_tweet

    runs = _link_free_runs(text)
    if not runs:
        result: Any = parse_tweet(text)
        return int(result.weightedLength)
    # twitter-text normalises to NFC before it counts; doing it first keeps the pieces apart.
    text = unicodedata.normalize("NFC", text)
    total = 0
    for start, end, is_run in _pieces(text, _link_free_runs(text)):
        piece = text[start:end]
        if is_run:  # no dot, no URL: twitter-text skips its URL pattern (same weight: 1)
            piece = piece.replace(".", ",")
        total += int(parse_tweet(piece).weightedLength)
    return total


# --- long runs that are never links -------------------------------------------------------------

#: A run of domain characters longer than this is no domain name (DNS allows 253) ...
MAX_LINK_RUN = 253
#: ... nor is one with more dots than this (no ordinary address has that many labels).
MAX_LINK_RUN_DOTS = 6


@functools.cache
def _domain_run_pattern() -> regex.Pattern[str]:
    import regex
    from twitter_text.regexp.invalid_domain_chars import invalid_domain_chars

    return regex.compile(rf"[^{invalid_domain_chars.pattern}]+|[._\-]+")


def _link_free_runs(text: str) -> list[tuple[int, int]]:
    """The spans of ``text`` that are too long to be (part of) a link: maximal runs of domain
    characters, dots, hyphens and underscores with more than :data:`MAX_LINK_RUN` characters
    or :data:`MAX_LINK_RUN_DOTS` dots. Linear: one scan, no backtracking."""
    if len(text) <= MAX_LINK_RUN and text.count(".") <= MAX_LINK_RUN_DOTS:
        return []
    runs: list[tuple[int, int]] = []
    start = end = -1
    for match in _domain_run_pattern().finditer(text):
        if match.start() == end:  # glued to the previous piece: the same run
            end = match.end()
            continue
        if start >= 0 and _too_long(text, start, end):
            runs.append((start, end))
        start, end = match.span()
    if start >= 0 and _too_long(text, start, end):
        runs.append((start, end))
    return runs


def _too_long(text: str, start: int, end: int) -> bool:
    if text.count(".", start, end) > MAX_LINK_RUN_DOTS:
        return True
    # A long run of letters alone is cheap for the patterns and may be a long URL path
    # ("https://example.org/aaaa…"); with separators in it, it is what makes them backtrack.
    return end - start > MAX_LINK_RUN and any(
        text.find(separator, start, end) >= 0 for separator in ".-_"
    )


def _pieces(text: str, runs: list[tuple[int, int]]) -> Iterator[tuple[int, int, bool]]:
    """``text`` cut into (start, end, is_long_run) pieces around ``runs``."""
    position = 0
    for start, end in runs:
        if start > position:
            yield position, start, False
        yield start, end, True
        position = end
    if position < len(text):
        yield position, len(text), False


# --- Mastodon -----------------------------------------------------------------------------------


class _Entity(NamedTuple):
    start: int  # code point index, inclusive
    end: int  # code point index, exclusive
    replacement: str


# Mastodon's extractor is twitter-text (Ruby gem) with Mastodon's overrides
# (config/initializers/twitter_regex.rb): more schemes, and URL paths and queries that may hold
# any non-space character instead of twitter-text's ASCII/Latin/Cyrillic set. The domain part
# (with its lists of valid top-level domains) and the "what may precede a URL" rule are
# twitter-text's own and are taken from twitter-text-parser; the rest is rebuilt here.
_MASTODON_SCHEMES = "https?|dat|dweb|ipfs|ipns|ssb|gopher|gemini"
_UCHARS = (
    r"\xA0-\uD7FF\uF900-\uFDCF\uFDF0-\uFFEF\U00010000-\U0001FFFD\U00020000-\U0002FFFD"
    r"\U00030000-\U0003FFFD\U00040000-\U0004FFFD\U00050000-\U0005FFFD\U00060000-\U0006FFFD"
    r"\U00070000-\U0007FFFD\U00080000-\U0008FFFD\U00090000-\U0009FFFD\U000A0000-\U000AFFFD"
    r"\U000B0000-\U000BFFFD\U000C0000-\U000CFFFD\U000D0000-\U000DFFFD\U000E1000-\U000EFFFD"
    r"\uE000-\uF8FF\U000F0000-\U000FFFFD\U00100000-\U0010FFFD"
)
_MAX_URL_LENGTH = 4096
_MAX_TCO_SLUG_LENGTH = 40

# Mastodon's Account::MENTION_RE: a username of ASCII letters, digits, "_", "." and "-" (not at
# either end), optionally followed by "@domain"; not preceded by "=", "/" or a word character
# (so e-mail addresses and URL paths are not mentions).
_MASTODON_MENTION = LazyPattern(
    r"(?i)(?<![=/\w])@(?P<name>(?P<user>[a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)"
    r"(?:@(?P<domain>[\w.-]+\w+))?)"
)
_MAX_MENTION_DOMAIN_LENGTH = 253


@functools.cache
def _twitter_patterns() -> dict[str, Any]:
    """Compile the patterns that need twitter-text-parser's building blocks (once, lazily)."""
    import regex
    from twitter_text.regexp.latin_accent_chars import latin_accent_chars
    from twitter_text.regexp.valid_domain import valid_domain
    from twitter_text.regexp.valid_tco_url import valid_tco_url
    from twitter_text.regexp.valid_url_balanced_parens import valid_url_balanced_parens
    from twitter_text.regexp.valid_url_preceding_chars import valid_url_preceding_chars

    path_char = r"[^\p{White_Space}<>()?]"
    parens = rf"\((?:{path_char}+|(?:{path_char}*\({path_char}+\){path_char}*))\)"
    # Mastodon defines the ending characters before it redefines the parentheses rule, so the
    # ending alternative still uses twitter-text's original parentheses (as here).
    path_end = (
        r"(?:[^\p{White_Space}()?!*\"'「」<>;:=,.$%\[\]~&|@]"
        rf"|(?:{valid_url_balanced_parens.pattern}))"
    )
    path = rf"(?:(?:{path_char}*(?:{parens}{path_char}*)*{path_end})|(?:{path_char}+/))"
    query = rf"[a-z0-9!?*'();:&=+$/%#\[\]\-_.,~|@\^{_UCHARS}]"
    query_end = rf"[a-z0-9_&=#/\-{_UCHARS}]"
    url = (
        rf"(?P<before>{valid_url_preceding_chars.pattern})"
        rf"(?P<url>(?P<protocol>(?:{_MASTODON_SCHEMES})://)?"
        rf"(?P<domain>{valid_domain.pattern})"
        r"(?::[0-9]+)?"
        rf"(?:/{path}*)?"
        rf"(?:\?{query}*{query_end})?)"
    )
    return {
        "url": regex.compile(url, regex.IGNORECASE),
        "tco": valid_tco_url,
        # twitter-text's end_mention_match: a mention directly followed by another at sign, a
        # Latin accented letter or "://" is not a mention.
        "mention_end": regex.compile(rf"[@＠{latin_accent_chars.pattern}]|://"),
    }


def _valid_url_length(url: str, domain: str) -> bool:
    """twitter-text's is_valid_domain: the domain converts to IDNA and the URL is not huge."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return len(url) + max(0, len(ascii_domain) - len(domain)) <= _MAX_URL_LENGTH


#: Characters no part of a URL match may hold (domain, port, path and query all exclude them;
#: the query admits other Unicode spaces, so only these split a text). A match is therefore
#: confined to one stretch between them, plus the one character before it (``before``).
_URL_SEPARATOR = r"[\t\n\x0b\x0c\r \x85]"
_NEXT_SEPARATOR = LazyPattern(_URL_SEPARATOR)
_LAST_SEPARATOR = LazyPattern(rf"(?r){_URL_SEPARATOR}")


def _scheme_stretches(text: str, pos: int, endpos: int) -> Iterator[tuple[int, int]]:
    """The (start, end) spans between separators in ``text[pos:endpos]`` that hold ``://``,
    each widened by the separator before it (the URL pattern's ``before`` character).

    Only there can a match with a scheme be: matches never cross a separator, and a match in
    one stretch never consumes a character of another, so searching these spans alone finds
    exactly the matches with a scheme that one search over the whole text finds. That search
    tries the pattern at every position, which is what made counting slow."""
    start = pos
    while (found := text.find("://", start, endpos)) >= 0:
        before = _LAST_SEPARATOR.search(text, start, found)
        after = _NEXT_SEPARATOR.search(text, found, endpos)
        end = after.start() if after else endpos
        yield (before.start() if before else start), end
        start = end


def _mastodon_urls(text: str) -> list[_Entity]:
    """URLs with a scheme, as Mastodon extracts them (``extract_url_without_protocol: false``)."""
    if "://" not in text:
        return []
    patterns = _twitter_patterns()
    entities = []
    for start, end, is_run in _pieces(text, _link_free_runs(text)):
        if not is_run:
            for pos, endpos in _scheme_stretches(text, start, end):
                entities.extend(_mastodon_urls_in(text, pos, endpos, patterns))
    return entities


def _mastodon_urls_in(text: str, pos: int, endpos: int, patterns: dict[str, Any]) -> list[_Entity]:
    entities = []
    for match in patterns["url"].finditer(text, pos, endpos):
        if match.group("protocol") is None:
            continue
        url: str = match.group("url")
        start, end = match.span("url")
        tco = patterns["tco"].search(url)
        if tco:  # a t.co link ends after its slug (and query)
            slug = tco.group(1)
            if slug and len(slug) > _MAX_TCO_SLUG_LENGTH:
                continue
            url = tco.group(0)
            end = start + len(url)
        if not _valid_url_length(url, match.group("domain")):
            continue
        entities.append(_Entity(start, end, "x" * MASTODON_URL_LENGTH))
    return entities


def _mastodon_mentions(text: str) -> list[_Entity]:
    if "@" not in text:
        return []
    mention_end = _twitter_patterns()["mention_end"]
    entities = []
    for match in _MASTODON_MENTION.finditer(text):
        if mention_end.match(text, match.end()):
            continue
        domain = match.group("domain")
        if domain is not None and len(domain) > _MAX_MENTION_DOMAIN_LENGTH:
            continue
        start = match.start("name") - 1  # include the "@"
        entities.append(_Entity(start, match.end("name"), "@" + match.group("user")))
    return entities


def mastodon_countable_text(text: str) -> str:
    """The text Mastodon measures: URLs replaced by 23 characters, mention domains dropped."""
    if not text.strip():  # Ruby's blank?: Mastodon counts a whitespace-only text as empty
        return ""
    entities = sorted(_mastodon_urls(text) + _mastodon_mentions(text), key=lambda e: e.start)
    pieces: list[str] = []
    position = 0
    for entity in entities:
        if entity.start < position:  # overlaps the previous entity kept: drop it
            continue
        pieces.append(text[position : entity.start])
        pieces.append(entity.replacement)
        position = entity.end
    pieces.append(text[position:])
    return "".join(pieces)


def _mastodon_length(text: str) -> int:
    return _graphemes(mastodon_countable_text(text))


# --- Instagram hashtags -------------------------------------------------------------------------

# A "#" (or full-width "＃") followed by letters, digits or "_", not glued to a word, "&" (HTML
# entities) or "/" (URL fragments). Instagram's exact rule is undocumented; this counts every
# occurrence, duplicates and all-digit tags included, which errs on the side of too many.
_HASHTAG = LazyPattern(r"(?<![\w&/])[#＃]\w+")


def _hashtags(text: str) -> int:
    return sum(1 for _ in _HASHTAG.finditer(text))


# --- text rules ---------------------------------------------------------------------------------
#
# A channel class declares its ``text_rule`` from these pieces (channels/<network>.py); the
# counters below are the public names of the measuring functions above.

count_graphemes = _graphemes
count_utf8_bytes = _utf8_bytes
count_utf16_units = _utf16_units
count_threads = _threads_length
count_x_weighted = _x_weighted_length
count_mastodon = _mastodon_length
count_hashtags = _hashtags


@dataclass(frozen=True)
class Limit:
    """A limit that applies besides the main one (Bluesky's bytes, Instagram's hashtags)."""

    unit: str
    count: Callable[[str], int]
    limit: int


@dataclass(frozen=True)
class TextRule:
    """How one network counts a post's text and how much it takes.

    ``limit`` is the main limit in ``unit`` (``None``: no limit). ``caption_limit`` replaces it
    when the post has media (Telegram's 1024). ``subject`` names what is measured in messages
    ("caption" where the text always is one). ``also`` are limits that always apply.
    """

    unit: str
    count: Callable[[str], int]
    limit: int | None
    caption_limit: int | None = None
    subject: str = "text"
    also: tuple[Limit, ...] = ()

    def issues(
        self, channel: str, text: str, *, with_media: bool = False, limit: int | None = None
    ) -> list[LengthIssue]:
        """Every limit ``text`` breaks on ``channel``; an empty list when it fits.

        ``limit`` replaces the main limit (a Mastodon instance's ``max_characters``, a longer
        X subscription), counted in ``unit``; it also replaces the caption limit when
        ``with_media`` is set. The ``also`` limits always apply.
        """
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive number, not {limit}")
        subject = self.subject
        main_limit = self.limit
        if with_media and self.caption_limit is not None:
            main_limit = self.caption_limit
            subject = "caption"
        if limit is not None:
            main_limit = limit
        issues: list[LengthIssue] = []
        if main_limit is not None:
            measured = self.count(text)
            if measured > main_limit:
                issues.append(LengthIssue(channel, measured, main_limit, self.unit, subject))
        for extra in self.also:
            measured = extra.count(text)
            if measured > extra.limit:
                issues.append(LengthIssue(channel, measured, extra.limit, extra.unit, subject))
        return issues


#: The rule of a channel that declares none: graphemes, no limit.
NO_LIMIT = TextRule(UNIT_GRAPHEMES, count_graphemes, None)


def rule_of(channel: str) -> TextRule:
    """The text rule of the installed channel ``channel`` (read from its class).

    Raises :class:`~campaign_scheduler.errors.NotFoundError` when no such channel is installed.
    """
    from campaign_scheduler.channels.registry import channel_class

    return channel_class(channel).text_rule


def measure(channel: str, text: str) -> int:
    """The length of ``text`` in ``channel``'s main unit (see :func:`unit_of`)."""
    return rule_of(channel).count(text)


def limit_of(channel: str) -> int | None:
    """The channel's default main limit; ``None`` when it has none (webhook)."""
    return rule_of(channel).limit


def unit_of(channel: str) -> str:
    """The unit :func:`measure` and :func:`limit_of` use for ``channel``."""
    return rule_of(channel).unit


def text_length_issues(
    channel: str, text: str, *, with_media: bool = False, limit: int | None = None
) -> list[LengthIssue]:
    """Every length limit ``text`` breaks on ``channel`` (see :meth:`TextRule.issues`)."""
    return rule_of(channel).issues(channel, text, with_media=with_media, limit=limit)
