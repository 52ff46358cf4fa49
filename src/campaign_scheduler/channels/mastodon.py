"""Mastodon: publish statuses through the client API of one instance.

Behaviour follows channels.md §2. The points that matter to the publisher:

* Every status is created with ``Idempotency-Key: <post.idempotency_key>``. Mastodon keeps the
  key for an hour per account and answers a repeat with the status it already created, so a
  retry with the same key inside :attr:`MastodonChannel.idempotency_window` (55 minutes, a
  margin under the server's 3600 s) can never post twice.
* Media are uploaded first (``POST /api/v2/media``); an upload answered 202 is polled until
  ready. Nothing in that phase can create the post, so a transport failure there is reported
  as :class:`UnavailableError` (at worst an unattached upload is left behind, which Mastodon
  cleans up itself), never as an unknown outcome.
* HTTP errors map to the error classes like this:

  ===========================  ===========================================================
  401, 403                     :class:`AuthError` (``network_message`` = the server's text)
  404, 410, 422, other 4xx     :class:`RejectedError` (e.g. reply target gone, too long)
  429                          :class:`RateLimitedError`; ``retry_at`` from
                               ``X-RateLimit-Reset`` (ISO 8601), else ``Retry-After``,
                               else now + 60 s
  502, 504 on the create call  :class:`OutcomeUnknownError`: a gateway gave up waiting,
                               the instance behind it may still have created the status
  other 5xx                    :class:`UnavailableError`
  ===========================  ===========================================================

* After a crash, :meth:`MastodonChannel.look_up` pages through the account's own statuses and
  compares each one's source text with the post's (whitespace-normalised).
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from campaign_scheduler import errors
from campaign_scheduler.channels._http import ApiClient, GoneError, count
from campaign_scheduler.channels.base import AccountApi, AccountSettings, Channel, Receipt, TagUse
from campaign_scheduler.channels.catalog import (
    MP4_OR_MOV,
    ChannelSpec,
    Key,
    VideoLimits,
    account_keys,
)
from campaign_scheduler.channels.published import (
    PublishedPart,
    not_of_account,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_MASTODON, TextRule, count_mastodon

if TYPE_CHECKING:
    from campaign_scheduler.channels.base import MediaFile, Metrics, OutboundPost

#: How long Mastodon keeps an ``Idempotency-Key`` (3600 s, per account).
KEY_MEMORY = timedelta(hours=1)
DEFAULT_MAX_CHARACTERS = 500
#: How long an instance's ``max_characters`` is trusted before it is read again.
INSTANCE_CACHE_TTL = 3600.0
#: How long a failed instance lookup is remembered, so that validating many posts against an
#: unreachable instance does not wait for a timeout per post.
INSTANCE_FAILURE_TTL = 60.0
#: ``look_up`` searches statuses created down to ``since`` minus this (clock skew).
LOOK_UP_MARGIN = timedelta(minutes=1)
#: ``look_up`` reads at most this many pages of 40 statuses.
LOOK_UP_MAX_PAGES = 25
PAGE_SIZE = 40


# base_url -> (max_characters or None after a failure, monotonic time it was read)
_instance_limits: dict[str, tuple[int | None, float]] = {}
_instance_limits_lock = threading.Lock()


def clear_instance_cache() -> None:
    """Forget every cached instance limit (tests; after an instance changed its limit)."""
    with _instance_limits_lock:
        _instance_limits.clear()


class MastodonApi(ApiClient):
    """Mastodon's client API: errors say ``{"error": …}``; a 429 names its reset in
    ``X-RateLimit-Reset`` (ISO 8601; some look-alikes send Unix seconds), else ``Retry-After``."""

    #: Metrics fields and the status attributes that hold them (``quotes_count``: Mastodon 4.4+).
    figures: ClassVar[Mapping[str, str]] = {
        "likes": "favourites_count",
        "reposts": "reblogs_count",
        "replies": "replies_count",
        "quotes": "quotes_count",
    }

    reset_headers = ("X-RateLimit-Reset", "Retry-After")
    message_keys = ("error",)
    thing = "status"
    server = "instance"


class MastodonChannel(Channel):
    """Statuses on one Mastodon account. Secret: ``token`` (an OAuth access token with the
    ``write:statuses``, ``write:media`` and ``read`` scopes). Optional setting:
    ``max_characters``, used when the instance does not publish its limit."""

    name = "mastodon"
    spec = ChannelSpec(
        "Mastodon",
        **account_keys(token=Key.SECRET, max_characters=Key.OPTIONAL_INTEGER),
        supports_threads=True,
        reports_impressions=False,
        # The instance defaults (channels.md §2): video_size_limit, video_matrix_limit,
        # video_frame_rate_limit; one video per post and never next to images.
        video=VideoLimits(
            formats=(*MP4_OR_MOV, "video/webm"),
            max_bytes=103_809_024,
            max_pixels=8_294_400,
            max_frame_rate=120.0,
        ),
    )
    text_rule = TextRule(UNIT_MASTODON, count_mastodon, 500)
    api = AccountApi(MastodonApi)
    #: A margin under the hour the server keeps the key.
    idempotency_window = KEY_MEMORY - timedelta(minutes=5)
    can_look_up = True
    can_search_hashtag = True
    connect_flow = "campaign_scheduler.auth.mastodon:MastodonFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:MastodonNetwork"

    # --- the Channel interface ------------------------------------------------------------

    def text_limit(self) -> int | None:
        """``configuration.statuses.max_characters`` of the instance (cached for an hour);
        else the account's ``max_characters`` setting; else 500."""
        now = time.monotonic()
        with _instance_limits_lock:
            cached = _instance_limits.get(self.base_url)
        if cached is not None:
            value, read_at = cached
            ttl = INSTANCE_CACHE_TTL if value is not None else INSTANCE_FAILURE_TTL
            if now - read_at < ttl:
                return value if value is not None else self._configured_limit()
        value = self._read_instance_limit()
        with _instance_limits_lock:
            _instance_limits[self.base_url] = (value, now)
        return value if value is not None else self._configured_limit()

    def publish(self, post: OutboundPost) -> Receipt:
        media_ids = []
        for media in post.media:
            post.checkpoint()  # each upload is a write: only while this worker holds the post
            media_ids.append(self._upload(media))
        if media_ids:
            post.checkpoint()  # polling an upload may have taken long
        body: dict[str, Any] = {"status": post.text, "visibility": "public"}
        if post.language:
            body["language"] = post.language
        if media_ids:
            body["media_ids"] = media_ids
        if post.reply_to is not None:
            body["in_reply_to_id"] = post.reply_to
        response = self.api.call(
            "POST",
            "/api/v1/statuses",
            json=body,
            headers={"Idempotency-Key": post.idempotency_key},
            creates=True,
        )
        with self.api.reading_created(hint="replaying the same idempotency key returns it"):
            receipt = self._receipt(self.api.json_object(response, creates=True))
        self.api.log.debug("published %s on %s", receipt.remote_id, self.account.name)
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """The oldest status of this account created since ``since`` (less a minute) whose
        source text equals ``post.text`` up to whitespace; ``None`` when there is none.

        Raises :class:`OutcomeUnknownError` when the account has too many newer statuses to
        search back that far.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        oldest = since - LOOK_UP_MARGIN
        wanted = _normalise(post.text)
        account_id = str(self._credentials()["id"])
        found: Receipt | None = None
        for status in self._own_statuses(account_id, oldest):
            if not _may_be(status, post):
                continue
            source = self._source_text(str(status["id"]))
            if source is not None and _normalise(source) == wanted:
                found = self._receipt(status)  # keep going: the oldest match wins
        return found

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        status = self.api.json_object(self.api.call("GET", f"/api/v1/statuses/{receipt.remote_id}"))
        account = self._credentials()
        return self.api.metrics(status, followers=count(account.get("followers_count")))

    def search_hashtag(self, hashtag: str, *, since: datetime) -> list[TagUse]:
        """Public statuses with ``#hashtag`` from the instance's tag timeline, newest first."""
        found: list[TagUse] = []
        max_id: str | None = None
        for _ in range(LOOK_UP_MAX_PAGES):
            query = {"limit": str(PAGE_SIZE), **({"max_id": max_id} if max_id else {})}
            page = self.api.json_list(
                self.api.call("GET", f"/api/v1/timelines/tag/{quote(hashtag)}", params=query)
            )
            if not page:
                break
            for status in page:
                posted_at = _created_at(status)
                if posted_at < since:
                    return found
                account = status.get("account") or {}
                found.append(
                    TagUse(
                        remote_id=str(status.get("id")),
                        author=str(account.get("acct") or account.get("username") or "?"),
                        posted_at=posted_at,
                        url=status.get("url"),
                    )
                )
            max_id = str(page[-1].get("id"))
        return found

    def delete(self, remote_id: str) -> None:
        """Delete the status. A status that is already gone (404) counts as deleted."""
        try:
            self.api.call("DELETE", f"/api/v1/statuses/{remote_id}")
        except GoneError:
            self.api.log.info("status %s on %s was already gone", remote_id, self.account.name)

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """A status on the account's own instance: ``https://INSTANCE/@NAME/ID`` (its ``url``)
        or ``https://INSTANCE/users/NAME/statuses/ID`` (its ``uri``); the id is the status's."""
        instance = urlsplit(account.base_url)
        shape = f"{instance.scheme or 'https'}://{instance.netloc or 'INSTANCE'}/@NAME/ID"
        parts = split_address(
            url, network=cls.title(), account=account.name, shape=shape, hosts={instance.netloc}
        )
        match segments(parts):
            case [name, status] if _LOCAL_NAME.fullmatch(name) and _STATUS_ID.fullmatch(status):
                return PublishedPart(status)
            case ["users", name, "statuses", status] if _STATUS_ID.fullmatch(status):
                return PublishedPart(status)
        raise refusal(cls.title(), account.name, url, shape)

    def find_published(self, url: str) -> PublishedPart:
        """:meth:`published_part`, and the status asked for: another account's on the same
        instance is refused."""
        part = self.published_part(url, self.account)
        try:
            status = self.api.json_object(
                self.api.call("GET", f"/api/v1/statuses/{part.remote_id}")
            )
        except errors.RejectedError as exc:  # 404: no such status (or not visible)
            raise not_of_account(self.title(), self.account.name, url) from exc
        owner = status.get("account")
        owner_id = owner.get("id") if isinstance(owner, dict) else None
        if owner_id is None or str(owner_id) != str(self._credentials().get("id")):
            raise not_of_account(self.title(), self.account.name, url)
        return part

    def verify(self) -> str:
        username = self._credentials().get("username")
        if not isinstance(username, str) or not username:
            raise errors.UnavailableError(
                f"mastodon: {self.account.name}: verify_credentials returned no username"
            )
        url = urlsplit(self.base_url)
        host = url.hostname or self.base_url
        return f"@{username}@{host}" + (f":{url.port}" if url.port else "")

    # --- steps ------------------------------------------------------------------------------

    def _upload(self, media: MediaFile) -> str:
        content = media.read(self.name)
        data = {"description": media.alt} if media.alt else {}
        # No status exists yet: whatever happens to the upload, it cannot create the post.
        try:
            response = self.api.call(
                "POST",
                "/api/v2/media",
                files={"file": (media.path.name, content, media.mime_type)},
                data=data,
            )
            attachment = self.api.json_object(response)
            media_id = str(attachment["id"])
            if response.status_code == 202:
                self._wait_for_processing(media_id, media)
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.UnavailableError(
                f"mastodon: {self.account.name}: unreadable answer to the upload of "
                f"{media.path.name}"
            ) from exc
        return media_id

    def _wait_for_processing(self, media_id: str, media: MediaFile) -> None:
        for _ in range(self.max_polls):
            self._sleep(self.poll_interval)
            response = self.api.call("GET", f"/api/v1/media/{media_id}")
            if response.status_code != 206:
                return
        raise errors.UnavailableError(
            f"mastodon: {self.account.name}: {media.path.name} was still being processed "
            f"after {self.max_polls} checks",
            hint="the post will be retried; large videos take a while",
        )

    def _credentials(self) -> dict[str, Any]:
        return self.api.json_object(self.api.call("GET", "/api/v1/accounts/verify_credentials"))

    def _own_statuses(self, account_id: str, oldest: datetime) -> Iterator[dict[str, Any]]:
        """This account's statuses, newest first, down to ``oldest``."""
        params: dict[str, str | int] = {"limit": PAGE_SIZE, "exclude_reblogs": "true"}
        for _ in range(LOOK_UP_MAX_PAGES):
            page = self.api.json_list(
                self.api.call("GET", f"/api/v1/accounts/{account_id}/statuses", params=params)
            )
            if not page:
                return
            for status in page:
                if _created_at(status) < oldest:
                    return
                yield status
            params["max_id"] = str(page[-1]["id"])
        raise self.search_exhausted(
            f"more than {LOOK_UP_MAX_PAGES * PAGE_SIZE} statuses since {oldest.isoformat()}"
        )

    def _source_text(self, status_id: str) -> str | None:
        try:
            source = self.api.json_object(
                self.api.call("GET", f"/api/v1/statuses/{status_id}/source")
            )
        except GoneError:
            return None  # deleted while we were looking
        text = source.get("text")
        return text if isinstance(text, str) else None

    def _read_instance_limit(self) -> int | None:
        try:
            response = self.api.call(
                "GET", "/api/v2/instance", timeout=min(self.timeout, 10.0), authenticate=False
            )
            limit = self.api.json_object(response)["configuration"]["statuses"]["max_characters"]
        except (errors.ChannelError, KeyError, TypeError, ValueError) as exc:
            self.api.log.warning(
                "could not read max_characters of %s (%s); using the configured limit",
                self.base_url,
                exc,
            )
            return None
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            self.api.log.warning(
                "%s publishes an unusable max_characters: %r", self.base_url, limit
            )
            return None
        return limit

    def _configured_limit(self) -> int:
        value = self.account.settings.get("max_characters")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return DEFAULT_MAX_CHARACTERS

    def _receipt(self, status: dict[str, Any]) -> Receipt:
        url = status.get("url")
        return Receipt(
            remote_id=str(status["id"]),
            url=url if isinstance(url, str) else None,
            published_at=_created_at(status),
        )


# --- helpers ----------------------------------------------------------------------------------


def _created_at(status: dict[str, Any]) -> datetime:
    from dateutil.parser import isoparse  # with the first status (config reads the class)

    value = isoparse(str(status["created_at"]))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _may_be(status: dict[str, Any], post: OutboundPost) -> bool:
    """Cheap checks that rule a status out before its source is fetched."""
    if status.get("reblog"):
        return False
    media = status.get("media_attachments")
    if isinstance(media, list) and len(media) != len(post.media):
        return False
    reply_to = status.get("in_reply_to_id")
    return post.reply_to is None or reply_to is None or str(reply_to) == post.reply_to


#: A status's web address names the local account as ``@name``.
_LOCAL_NAME = re.compile(r"@[A-Za-z0-9_.-]{1,64}")
#: A status id (digits on Mastodon; other servers of the same API use letters too).
_STATUS_ID = re.compile(r"[0-9A-Za-z]{1,40}")
