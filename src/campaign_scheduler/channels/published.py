"""From a post's public address to the id the network's API takes (``campaign resolve
--published URL``).

A person who checked the account gives the address the network shows for the post (or its
first comment). The id the API wants is often not the address's last segment: a Bluesky record
is ``at://DID/app.bsky.feed.post/RKEY``, a Facebook page post ``PAGEID_POSTID``, an Instagram
or Threads address carries a shortcode instead of the media id. Each network's channel class
knows its own shapes (``Channel.published_part``); this module has what they share: the checks
every address passes first (its length, no control characters, https, no user name or
password, one of the network's hosts) and the one refusal, in German and English, naming the
option and the shape the network expects (exit 2, nothing written).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from campaign_scheduler.channels.addresses import stays_here
from campaign_scheduler.errors import UsageError
from campaign_scheduler.uilang import msg

#: The longest address taken (browsers' practical limit; no post address comes near it).
MAX_ADDRESS = 2000
#: How much of a refused address the message repeats.
SHOWN = 120


@dataclass(frozen=True)
class PublishedPart:
    """What an address names: the API's id of a post, or of a comment (a draft's first
    comment, which networks address below the post)."""

    remote_id: str
    comment: bool = False


class PublishedAddressError(UsageError):
    """``--published`` was given an address that is not one of the account's posts."""


def shown(url: str) -> str:
    """``url`` as a message may repeat it: control characters escaped, cut to a length."""
    text = url.encode("unicode_escape").decode("ascii") if not url.isprintable() else url
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def refusal(network: str, account: str, url: str, shape: str) -> PublishedAddressError:
    """The one message for an address a network's module cannot take."""
    return PublishedAddressError(
        msg(
            "--published: {url} is not the address of a post of {account} on {network}; "
            "expected {shape}",
            url=shown(url),
            account=account,
            network=network,
            shape=shape,
        ),
        hint=msg(
            "copy the address from the post on the network (its time stamp or 'copy link') "
            "and give it to --published; nothing was changed"
        ),
    )


def split_address(
    url: str,
    *,
    network: str,
    account: str,
    shape: str,
    hosts: Collection[str],
) -> SplitResult:
    """``url`` split, once it passed the checks every address passes: not too long, no control
    or invisible formatting characters and no spaces, https (http only for this machine: a
    sandbox), no user name or password, and its host one of ``hosts`` (lower case; a leading
    ``www.`` or ``m.`` is allowed where ``hosts`` has the bare name)."""
    if (
        not url
        or len(url) > MAX_ADDRESS
        or any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url)
    ):
        raise refusal(network, account, url, shape)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refusal(network, account, url, shape) from exc
    host = (parts.hostname or "").rstrip(".")
    scheme = parts.scheme.lower()
    if (
        not (scheme == "https" or (scheme == "http" and stays_here(host)))
        or parts.username is not None
        or parts.password is not None
        or not _host_in(host, hosts, port)
    ):
        raise refusal(network, account, url, shape)
    return parts


def _host_in(host: str, hosts: Collection[str], port: int | None) -> bool:
    forms = {host, host.removeprefix("www."), host.removeprefix("m.")}
    if port is not None:
        forms = {f"{form}:{port}" for form in forms} | (forms if port == 443 else set())
    return not forms.isdisjoint(h.lower() for h in hosts)


def segments(parts: SplitResult) -> list[str]:
    """The path's segments, percent-decoded, without empty ones (a trailing slash)."""
    return [unquote(s) for s in parts.path.split("/") if s]


def query_value(parts: SplitResult, name: str) -> str | None:
    """The one value of ``name`` in the query; ``None`` when absent or given more than once."""
    values = parse_qs(parts.query, keep_blank_values=True).get(name)
    return values[0] if values and len(values) == 1 else None


#: A number the networks use as an id (X, Telegram, Facebook, Instagram comments).
DIGITS = re.compile(r"[0-9]{1,25}")


def digits(value: str | None) -> bool:
    return value is not None and DIGITS.fullmatch(value) is not None


def not_among_latest(network: str, account: str, url: str) -> PublishedAddressError:
    """An address of the right shape whose post is not among the account's latest posts (of
    another account, or older than a lookup reads)."""
    return PublishedAddressError(
        msg(
            "--published: {url} is not among the latest posts of {account} on {network}",
            url=shown(url),
            account=account,
            network=network,
        ),
        hint=msg("check that the address is of this account's post; nothing was changed"),
    )


def not_of_account(network: str, account: str, url: str) -> PublishedAddressError:
    """An address of the right shape whose post the network says is not the account's (or
    does not know)."""
    return PublishedAddressError(
        msg(
            "--published: {url} is not a post of {account} on {network}",
            url=shown(url),
            account=account,
            network=network,
        ),
        hint=msg("check that the address is of this account's post; nothing was changed"),
    )
