"""Link cards: the OpenGraph title, description and image of the first link in a post.

Fetched when ``campaign check``, ``campaign load`` or ``campaign preview`` reads the drafts,
once per address, and cached in the campaign's folder (``.cache/linkcards.json``): the daemon
never fetches anything, and what a card says is settled before the post is approved.

Fetching is careful, because the addresses come from drafts:

* ``https`` only; plain ``http`` only to the machine itself (127.0.0.1, ::1, localhost: local
  test pages and sandboxes);
* no user name or password in the address, no credentials from ``~/.netrc``, no cookies;
* redirects only within the same origin (scheme, host and port), at most three;
* a timeout per connection and read and a deadline for the whole fetch; at most
  :data:`PAGE_LIMIT` bytes of the page and :data:`IMAGE_LIMIT` bytes of the image (Bluesky's
  limit for a card's thumbnail); only HTML pages and PNG, JPEG, GIF or WebP images.

A failure is cached too (so that a dead link does not slow every ``check``) and retried after
:data:`RETRY_FAILED_AFTER`; a card that was fetched is kept until its entry (or the file) is
deleted. ``CAMPAIGN_LINK_CARDS=off`` turns fetching off (the cache is still read).

The page is parsed with the standard library's :mod:`html.parser`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin, urlsplit

from campaign_scheduler.errors import CampaignSchedulerError
from campaign_scheduler.imagetypes import sniff_image
from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.channels.base import LinkPreview
    from campaign_scheduler.drafts import Draft

CACHE_FILE = Path(".cache") / "linkcards.json"
SWITCH_ENV = "CAMPAIGN_LINK_CARDS"
TIMEOUT = 5.0  # seconds, for connecting and for each read
DEADLINE = 15.0  # seconds for a whole fetch (page or image)
PAGE_LIMIT = 1_000_000  # bytes of HTML
IMAGE_LIMIT = 1_000_000  # bytes: Bluesky's maxSize for app.bsky.embed.external#external.thumb
MAX_REDIRECTS = 3
RETRY_FAILED_AFTER = timedelta(hours=1)
TITLE_LIMIT = 300
DESCRIPTION_LIMIT = 1000

_LINK = re.compile(r"https?://[^\s<>\"'“”„]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"»«“”"
_LOOPBACK_NAMES = ("localhost",)
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w-]+)""", re.IGNORECASE)


class LinkCardError(Exception):
    """Why a card could not be fetched; the message names the host, never a query string."""


@dataclass(frozen=True)
class LinkCard:
    url: str
    fetched_at: datetime
    title: str = ""
    description: str = ""
    image_url: str | None = None
    image_type: str | None = None
    image: bytes | None = field(default=None, repr=False)
    image_problem: str | None = None  # why the page's image is missing from the card
    error: str | None = None  # the card could not be fetched at all

    @property
    def ok(self) -> bool:
        return self.error is None

    def image_data_uri(self) -> str | None:
        if self.image is None or self.image_type is None:
            return None
        return f"data:{self.image_type};base64,{base64.b64encode(self.image).decode('ascii')}"

    def as_json(self) -> dict[str, Any]:
        return {
            "fetched_at": self.fetched_at.isoformat(),
            "title": self.title,
            "description": self.description,
            "image_url": self.image_url,
            "image_type": self.image_type,
            "image": base64.b64encode(self.image).decode("ascii") if self.image else None,
            "image_problem": _encoded(self.image_problem),
            "error": _encoded(self.error),
        }

    @classmethod
    def from_json(cls, url: str, data: dict[str, Any]) -> LinkCard:
        image = data.get("image")
        return cls(
            url=url,
            fetched_at=datetime.fromisoformat(str(data["fetched_at"])),
            title=str(data.get("title") or ""),
            description=str(data.get("description") or ""),
            image_url=data.get("image_url"),
            image_type=data.get("image_type"),
            image=base64.b64decode(image, validate=True) if image else None,
            image_problem=_decoded(data.get("image_problem")),
            error=_decoded(data.get("error")),
        )


def _encoded(message: str | None) -> Any:
    """A card's problem in the cache: its msgid and values, so that a cached card's problem
    is still said in the user's language (as the draft cache keeps a draft's problems)."""
    from campaign_scheduler.draftcache import _encode_message

    return None if message is None else _encode_message(message)


def _decoded(data: Any) -> str | None:
    from campaign_scheduler.draftcache import _decode_message

    return None if data is None else _decode_message(data)


# --- addresses -------------------------------------------------------------------------------


def first_link(text: str) -> str | None:
    """The first ``http(s)://`` address in ``text``, without trailing punctuation."""
    match = _LINK.search(text)
    return match.group(0).rstrip(_TRAILING) if match else None


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _where(url: str) -> str:
    """The address for messages: scheme, host and path, no query or user info."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _too_large(url: str, limit: int) -> str:
    return msg("{url} is larger than {limit} bytes", url=_where(url), limit=limit)


def check_address(url: str) -> None:
    """Raise :class:`LinkCardError` for an address this module does not fetch."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a malformed port
    except ValueError:
        raise LinkCardError(msg("not a valid address")) from None
    host = parts.hostname or ""
    if not host:
        raise LinkCardError(msg("the address has no host"))
    if parts.username is not None or parts.password is not None:
        raise LinkCardError(msg("the address contains a user name or password; not fetched"))
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _is_loopback(host):
        return
    address = f"{parts.scheme}://{host}"
    raise LinkCardError(msg("only https addresses are fetched, not {address}", address=address))


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


# --- fetching --------------------------------------------------------------------------------


def _session() -> requests.Session:
    import http.cookiejar

    import requests
    from requests.auth import AuthBase

    from campaign_scheduler import __version__

    class _NoCredentials(AuthBase):
        """Set on the session so that requests never adds ~/.netrc credentials."""

        def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
            r.headers.pop("Authorization", None)
            return r

    session = requests.Session()
    session.auth = _NoCredentials()
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.headers["User-Agent"] = f"campaign-scheduler/{__version__} (link cards)"
    return session


@dataclass(frozen=True)
class _Body:
    url: str
    content_type: str
    charset: str | None
    data: bytes


def _get(session: requests.Session, url: str, *, limit: int, accept: str) -> _Body:
    import requests

    started = time.monotonic()
    for _ in range(MAX_REDIRECTS + 1):
        check_address(url)
        try:
            with session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=TIMEOUT,
                headers={"Accept": accept},
            ) as response:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("Location", ""))
                    if _origin(target) != _origin(url):
                        raise LinkCardError(
                            msg(
                                "{url} redirects to another site ({target})",
                                url=_where(url),
                                target=_where(target),
                            )
                        )
                    url = target
                    continue
                if response.status_code != 200:
                    raise LinkCardError(
                        msg(
                            "{url} answered HTTP {status}",
                            url=_where(url),
                            status=response.status_code,
                        )
                    )
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise LinkCardError(_too_large(url, limit))
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise LinkCardError(_too_large(url, limit))
                    if time.monotonic() - started > DEADLINE:
                        raise LinkCardError(
                            msg(
                                "{url} took longer than {seconds} s",
                                url=_where(url),
                                seconds=format(DEADLINE, "g"),
                            )
                        )
                content_type = response.headers.get("Content-Type", "")
                return _Body(
                    url,
                    content_type.split(";", 1)[0].strip().lower(),
                    requests.utils.get_encoding_from_headers(response.headers)
                    if "charset" in content_type.lower()
                    else None,
                    bytes(data),
                )
        except requests.Timeout:
            raise LinkCardError(
                msg(
                    "{url} did not answer within {seconds} s",
                    url=_where(url),
                    seconds=format(TIMEOUT, "g"),
                )
            ) from None
        except requests.RequestException as exc:
            raise LinkCardError(
                msg("cannot reach {url} ({error})", url=_where(url), error=type(exc).__name__)
            ) from None
    raise LinkCardError(msg("{url}: more than {n} redirects", url=_where(url), n=MAX_REDIRECTS))


class _OpenGraphParser(Protocol):
    title_parts: list[str]

    def feed(self, data: str) -> None: ...
    def close(self) -> None: ...
    def first(self, *names: str) -> str: ...


@functools.cache
def _open_graph() -> Callable[[], _OpenGraphParser]:
    """The page reader's class, made at the first card fetched: html.parser (and what it
    brings) stays out of a process that fetches no card, such as an idle daemon."""
    from html.parser import HTMLParser

    class OpenGraph(HTMLParser):
        """OpenGraph properties (``og:title`` …), the description meta tag and ``<title>``."""

        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.properties: dict[str, str] = {}
            self.title_parts: list[str] = []
            self._in_title = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "title":
                self._in_title = True
            elif tag == "meta":
                values = {k: v or "" for k, v in attrs}
                name = (values.get("property") or values.get("name") or "").strip().lower()
                if name and "content" in values:
                    self.properties.setdefault(name, values["content"])

        def handle_endtag(self, tag: str) -> None:
            if tag == "title":
                self._in_title = False

        def handle_data(self, data: str) -> None:
            if self._in_title:
                self.title_parts.append(data)

        def first(self, *names: str) -> str:
            for name in names:
                value = " ".join(self.properties.get(name, "").split())
                if value:
                    return value
            return ""

    return OpenGraph


def _decode(body: _Body) -> str:
    charset = body.charset
    if charset is None:
        found = _CHARSET.search(body.data[:4096])
        charset = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return body.data.decode(charset, errors="replace")
    except LookupError:
        return body.data.decode("utf-8", errors="replace")


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fetch_card(url: str, *, now: datetime, session: requests.Session | None = None) -> LinkCard:
    """The card for ``url``; a failure is a card with ``error`` set (never raised)."""
    own = session is None
    session = session or _session()
    try:
        try:
            page = _get(session, url, limit=PAGE_LIMIT, accept="text/html,application/xhtml+xml")
        except LinkCardError as exc:
            return LinkCard(url, now, error=str(exc))
        if page.content_type not in _HTML_TYPES:
            return LinkCard(url, now, error=msg("{url} is not an HTML page", url=_where(page.url)))
        parser = _open_graph()()
        parser.feed(_decode(page))
        parser.close()
        title = parser.first("og:title", "twitter:title") or " ".join(
            "".join(parser.title_parts).split()
        )
        description = parser.first("og:description", "twitter:description", "description")
        image_ref = parser.first("og:image:secure_url", "og:image", "og:image:url")
        image_url = urljoin(page.url, image_ref) if image_ref else None
        image = image_type = image_problem = None
        if image_url is not None:
            try:
                found = _get(session, image_url, limit=IMAGE_LIMIT, accept="image/*")
                image_type = sniff_image(found.data)
                if image_type is None:
                    image_problem = msg(
                        "{url} is not a PNG, JPEG, GIF or WebP image", url=_where(image_url)
                    )
                else:
                    image = found.data
            except LinkCardError as exc:
                image_problem = str(exc)
        if not title:
            return LinkCard(
                url, now, error=msg("{url} has no title (og:title)", url=_where(page.url))
            )
        return LinkCard(
            url,
            now,
            title=_shorten(title, TITLE_LIMIT),
            description=_shorten(description, DESCRIPTION_LIMIT),
            image_url=image_url,
            image_type=image_type,
            image=image,
            image_problem=image_problem,
        )
    finally:
        if own:
            session.close()


# --- the cache -------------------------------------------------------------------------------


def cache_path(campaign: Campaign) -> Path:
    return campaign.path.parent / CACHE_FILE


def read_cache(path: Path) -> dict[str, LinkCard]:
    """The cached cards; an unreadable or damaged file counts as empty (it is only a cache)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {url: LinkCard.from_json(url, entry) for url, entry in data["cards"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return {}


def write_cache(path: Path, cards: dict[str, LinkCard]) -> None:
    from campaign_scheduler.files import write_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": 1, "cards": {url: cards[url].as_json() for url in sorted(cards)}}
    write_atomically(path, json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def fetching_enabled(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get(SWITCH_ENV, "")
    return value.strip().lower() not in ("off", "0", "no", "false")


class CachedCards:
    """The card for a post's text as the daemon publishes it: from the cache that check and
    load filled (read again when the file changes); never fetched here."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._cards: dict[str, LinkCard] = {}

    def __call__(self, text: str) -> LinkPreview | None:
        from campaign_scheduler.channels.base import LinkPreview

        link = first_link(text)
        if link is None:
            return None
        try:
            status = self.path.stat()
            stamp = (status.st_mtime_ns, status.st_size)
        except OSError:
            return None
        if stamp != self._stamp:
            self._cards, self._stamp = read_cache(self.path), stamp
        card = self._cards.get(link)
        if card is None or not card.ok or not card.title:
            return None
        return LinkPreview(link, card.title, card.description, card.image, card.image_type)


# --- which links, and refreshing them --------------------------------------------------------


def card_links(draft: Draft) -> Iterator[tuple[str, str]]:
    """(channel, address) for each channel of ``draft`` that shows a card for its first link:
    a post without images on a network that shows link cards."""
    for channel, link, _ in card_uses(draft):
        yield channel, link


#: Where a draft shows a card for a link: (channel, address, line of the channel's text).
CardLink = tuple[str, str, int]


def card_uses(draft: Draft) -> tuple[CardLink, ...]:
    """:func:`card_links` with the line of each channel's text (where a warning points)."""
    from campaign_scheduler.preview.facts import display_facts

    if draft.media:
        return ()
    found: list[CardLink] = []
    links: dict[str, str | None] = {}  # (the channels of a draft mostly share one text)
    for channel in draft.channels:
        if display_facts(channel).link_card:
            text = draft.text_for(channel)
            if text not in links:
                links[text] = first_link(text) if "://" in text else None
            link = links[text]
            if link is not None:
                found.append((channel, link, draft.text_line(channel)))
    return tuple(found)


def refresh_cards(
    drafts: Iterable[Draft],
    campaign: Campaign,
    *,
    now: datetime,
    fetch: Callable[[str], LinkCard] | None = None,
) -> tuple[dict[str, LinkCard], list[Problem]]:
    """Fetch the cards the drafts need that are not cached (or whose fetch failed more than
    :data:`RETRY_FAILED_AFTER` ago); return all of the drafts' cards and a warning per draft
    whose card could not be fetched."""
    uses = ((draft.path, card_uses(draft)) for draft in drafts)  # (looked for only if needed)
    return refresh_card_links(uses, campaign, now=now, fetch=fetch)


def refresh_card_links(
    uses: Iterable[tuple[Path, tuple[CardLink, ...]]],
    campaign: Campaign,
    *,
    now: datetime,
    fetch: Callable[[str], LinkCard] | None = None,
) -> tuple[dict[str, LinkCard], list[Problem]]:
    """:func:`refresh_cards` for the card links of drafts, each given as (the draft's file,
    its :func:`card_uses`): the draft cache keeps them, so unchanged drafts need not be made
    whole to be asked."""
    path = cache_path(campaign)
    cached = read_cache(path)
    if not cached and not fetching_enabled():
        # Nothing to fetch and nothing known: no card and no warning for any draft, so the
        # links of 10,000 drafts need not be looked for.
        return {}, []
    wanted: dict[str, list[tuple[Path, int]]] = {}
    for draft_path, links in uses:
        for _, link, line in links:
            wanted.setdefault(link, []).append((draft_path, line))
    problems: list[Problem] = []
    due = [
        link
        for link in wanted
        if (card := cached.get(link)) is None
        or (not card.ok and now - card.fetched_at >= RETRY_FAILED_AFTER)
    ]
    if due and fetching_enabled():
        # requests is imported only when something is fetched.
        session = _session() if fetch is None else None
        fetcher = fetch or (lambda url: fetch_card(url, now=now, session=session))
        try:
            for link in due:
                cached[link] = fetcher(link)
        finally:
            if session is not None:
                session.close()
        try:
            write_cache(path, cached)
        except (OSError, CampaignSchedulerError) as exc:
            reason = exc.message if isinstance(exc, CampaignSchedulerError) else exc.strerror
            problems.append(
                Problem(
                    path,
                    None,
                    msg(
                        "cannot keep the link cards ({reason}); they are fetched again next time",
                        reason=reason or exc,
                    ),
                    Severity.WARNING,
                )
            )
    for link, where in wanted.items():
        card = cached.get(link)
        if card is None or card.ok:
            continue
        seen: set[Path] = set()
        for draft_path, line in where:
            if draft_path in seen:
                continue
            seen.add(draft_path)
            problems.append(
                Problem(
                    draft_path,
                    line,
                    msg("no link card for {url}: {error}", url=_where(link), error=card.error),
                    Severity.WARNING,
                )
            )
    return {link: cached[link] for link in wanted if link in cached}, problems
