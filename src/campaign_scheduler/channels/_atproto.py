"""AT Protocol building blocks for the Bluesky adapter and sandbox: record keys, AT URIs, rich
text facets and image dimensions. Pure functions; no HTTP.

Record keys (TIDs)
    A TID is a 64-bit integer written as 13 characters of the "base32-sortable" alphabet: the
    top bit is 0, then 53 bits of microseconds since 1970, then a 10-bit clock id. Our posts get a
    TID computed from the delivery's idempotency key (:func:`record_key`), so the key stored
    before the call names the record, and a replay can never create a second one.

    The key is random (a UUID4), so no real time can be read from it; the TID's bits therefore
    come from a hash. Taking all 63 bits from the hash would spread the keys over 1970-2255, and
    half of them would sort after every TID the account will ever make with a clock (newest-first
    listings would be topped by them forever; TIDs "from the future" are also what the spec
    warns about). :func:`record_key` keeps the first 60 bits of SHA-256 instead: the timestamp
    falls between 1970 and 2005, before Bluesky existed. So every key starts with "2", sorts
    before every clock-made TID (which start with "3" since 2022), never claims a plausible
    creation time, and still has 60 bits of entropy: with n posts on one account, the chance of
    any two sharing a key is about n² / 2⁶¹ (10⁻¹¹ for 10,000 posts).

Facets
    Links, hashtags and mentions are marked with UTF-8 *byte* offsets (start inclusive, end
    exclusive). :func:`detect_facets` follows the rules of Bluesky's own detector
    (``@atproto/api`` rich-text detection) with two deliberate differences: only URLs with
    ``http(s)://`` or starting with ``www.`` become links (no top-level-domain list for bare
    domains), and a trailing run of punctuation and quote marks (``.“``) is not part of a link.
    Mentions carry the handle; the adapter resolves it to a DID or drops the facet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

from campaign_scheduler.channels.text import LazyPattern
from campaign_scheduler.imagetypes import image_info

# --- TIDs ---------------------------------------------------------------------------------------

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_LENGTH = 13
_TID = LazyPattern(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
#: Mixed into the hash so that our keys differ from any other use of the same idempotency key.
_RKEY_NAMESPACE = b"campaign-scheduler/bluesky-rkey/v1\x00"
_RKEY_BITS = 60


def encode_tid(timestamp_us: int, clock_id: int) -> str:
    """The TID for ``timestamp_us`` (microseconds since 1970, < 2**53) and ``clock_id`` (< 1024)."""
    if not 0 <= timestamp_us < 2**53 or not 0 <= clock_id < 1024:
        raise ValueError("timestamp or clock id out of range for a TID")
    value = (timestamp_us << 10) | clock_id
    return "".join(TID_ALPHABET[(value >> (5 * (12 - i))) & 31] for i in range(TID_LENGTH))


def decode_tid(tid: str) -> tuple[int, int]:
    """``(timestamp_us, clock_id)`` of a valid TID; ValueError otherwise."""
    if not is_tid(tid):
        raise ValueError(f"not a TID: {tid!r}")
    value = 0
    for char in tid:
        value = (value << 5) | TID_ALPHABET.index(char)
    return value >> 10, value & 1023


def is_tid(value: str) -> bool:
    return bool(_TID.match(value))


def record_key(idempotency_key: str) -> str:
    """The record key (a TID) of the post whose delivery has ``idempotency_key``.

    Deterministic: the first 60 bits of SHA-256 over a namespace and the key (see the module
    doc for why 60 and not 63).
    """
    digest = hashlib.sha256(_RKEY_NAMESPACE + idempotency_key.encode("utf-8")).digest()
    value = int.from_bytes(digest[:8], "big") >> (64 - _RKEY_BITS)
    return encode_tid(value >> 10, value & 1023)


# --- AT URIs ------------------------------------------------------------------------------------


class AtUri(NamedTuple):
    """``at://<repo>/<collection>/<rkey>`` of one record (its parts, like ``urlsplit``'s)."""

    repo: str
    collection: str
    rkey: str

    def __str__(self) -> str:
        return f"at://{self.repo}/{self.collection}/{self.rkey}"

    @classmethod
    def parse(cls, value: str) -> AtUri:
        """Parse a record URI; ValueError when ``value`` is not one."""
        if not value.startswith("at://"):
            raise ValueError(f"not an at:// URI: {value!r}")
        parts = value[len("at://") :].split("/")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"not a record URI (at://repo/collection/rkey): {value!r}")
        return cls(*parts)


# --- facets -------------------------------------------------------------------------------------

FacetKind = Literal["link", "tag", "mention"]


@dataclass(frozen=True)
class Facet:
    """One marked span of a post's text.

    ``start``/``end`` are UTF-8 byte offsets. ``value`` is the link's URI, the tag without
    ``#`` or the mentioned handle without ``@``.
    """

    kind: FacetKind
    start: int
    end: int
    value: str


_INVISIBLE = "\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
# A hashtag: "#" or "＃" at the start or after white space, then a run of non-space characters
# that holds at least one character that is neither a digit nor punctuation (so "#1" is not a
# tag, "#5malklug" is); trailing punctuation is cut off afterwards.
_HASHTAG = LazyPattern(
    rf"(?:^|(?<=\s))[#＃](?!\ufe0f)([^\s{_INVISIBLE}]*[^\d\s\p{{P}}{_INVISIBLE}][^\s{_INVISIBLE}]*)"
)
_TRAILING_PUNCTUATION = LazyPattern(r"\p{P}+$")
_MAX_TAG_GRAPHEMES = 64
_CLUSTER = LazyPattern(r"\X")
_MAX_TAG_BYTES = 640
_LINK = LazyPattern(r"(?i)(?:^|(?<=[\s(]))(?:https?://|www\.)\S+")
# What may end a URL in prose but rarely belongs to it.
_LINK_TAIL = ".,;:!?\"'»«“”‘’"
_MENTION = LazyPattern(r"(?:^|(?<=[\s(]))@([a-zA-Z0-9.-]+)")
_HANDLE = LazyPattern(
    r"^(?=.{3,253}$)(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$"
)


def detect_facets(text: str) -> list[Facet]:
    """Links, hashtags and mentions in ``text``, ordered by position, never overlapping (a
    link wins over a tag or mention inside it)."""
    found = _links(text) + _mentions(text) + _hashtags(text)
    found.sort(key=lambda facet: (facet.start, facet.kind != "link"))
    kept: list[Facet] = []
    for facet in found:
        if kept and facet.start < kept[-1].end:
            continue
        kept.append(facet)
    return kept


def utf8_offset(text: str, index: int) -> int:
    """The UTF-8 byte offset of code point ``index`` in ``text``."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _span(text: str, kind: FacetKind, start: int, end: int, value: str) -> Facet:
    return Facet(kind, utf8_offset(text, start), utf8_offset(text, end), value)


def _links(text: str) -> list[Facet]:
    if "http" not in text.lower() and "www." not in text.lower():
        return []
    facets = []
    for match in _LINK.finditer(text):
        start, end = match.span()
        shown = _trim_link(match.group())
        end = start + len(shown)
        uri = shown if "://" in shown else f"https://{shown}"
        host = urlsplit(uri).hostname or ""
        if "." not in host.strip("."):
            continue
        facets.append(_span(text, "link", start, end, link_uri(uri)))
    return facets


def _trim_link(shown: str) -> str:
    """``shown`` without trailing punctuation, quote marks and unbalanced ``)``."""
    while shown:
        unbalanced = shown.endswith(")") and shown.count("(") < shown.count(")")
        if shown[-1] not in _LINK_TAIL and not unbalanced:
            break
        shown = shown[:-1]
    return shown


def link_uri(shown: str) -> str:
    """A URI for a link as written in the text: the host in IDNA, other non-ASCII characters
    percent-encoded (``https://bürgerhäuser.de/öffnung`` →
    ``https://xn--brgerhuser-v5a6z.de/%C3%B6ffnung``)."""
    parts = urlsplit(shown)
    netloc = parts.netloc
    if parts.hostname and not parts.hostname.isascii():
        try:
            ascii_host = parts.hostname.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_host = quote(parts.hostname, safe="")
        netloc = netloc.replace(parts.hostname, ascii_host)
    keep = "!#$%&'()*+,/:;=?@[]~"

    def encode(part: str) -> str:
        return quote(part, safe=keep)

    return urlunsplit(
        (parts.scheme, netloc, encode(parts.path), encode(parts.query), encode(parts.fragment))
    )


def _mentions(text: str) -> list[Facet]:
    if "@" not in text:
        return []
    facets = []
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".-")
        if not _HANDLE.match(handle):
            continue
        start = match.start()
        facets.append(_span(text, "mention", start, start + 1 + len(handle), handle.lower()))
    return facets


def _hashtags(text: str) -> list[Facet]:
    if "#" not in text and "＃" not in text:
        return []
    facets = []
    for match in _HASHTAG.finditer(text):
        tag = _TRAILING_PUNCTUATION.sub("", match.group(1))
        if not tag or sum(1 for _ in _CLUSTER.finditer(tag)) > _MAX_TAG_GRAPHEMES:
            continue
        if len(tag.encode("utf-8")) > _MAX_TAG_BYTES:
            continue
        start = match.start()
        facets.append(_span(text, "tag", start, start + 1 + len(tag), tag))
    return facets


# --- image dimensions ---------------------------------------------------------------------------


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a PNG, JPEG, GIF or WebP image as it is displayed (a JPEG's
    EXIF orientation 5-8 swaps the sides), or ``None`` when the format is not recognised."""
    info = image_info(data)
    return None if info is None else info.shown_size
