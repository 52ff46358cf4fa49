"""X: publish posts through API v2 with OAuth 1.0a or OAuth 2.0 user context (channels.md §4).

The points that matter to the publisher:

* Every call is signed with OAuth 1.0a (``requests_oauthlib.OAuth1``) from the account's four
  secrets ``api_key``, ``api_secret``, ``access_token`` and ``access_secret``, read at the moment
  of use — or, for an account connected with ``campaign accounts connect`` (OAuth 2.0 with
  PKCE), carries its secret ``token`` as ``Authorization: Bearer`` (the token lives two hours;
  the daemon refreshes it). A post is ``POST /2/tweets`` with ``text``, ``reply.in_reply_to_tweet_id`` and
  ``media.media_ids``; images go up first through ``POST /2/media/upload`` (polled while
  ``processing_info`` says so) and get their alt text through ``POST /2/media/metadata``.
* X has no idempotency key, so :attr:`XChannel.idempotency_window` is ``None``. After a lost
  answer the publisher calls :meth:`XChannel.look_up`, which reads the account's own timeline
  (``GET /2/users/:id/tweets``) and compares texts the way X shows them back (links on t.co,
  ``&``/``<``/``>`` escaped, a link to the media appended). The time comes from the post id, a
  snowflake that holds its creation time in milliseconds.
* X refuses identical text with 403 "duplicate content". That is a hint, not proof, that the
  post exists (it does not name the post, and edited text does not trigger it), but it is the
  signal that matters after a lost answer whose lookup came too early for X's timeline. So on
  that 403 the adapter searches the account's posts of the last :data:`DUPLICATE_LOOKBACK` for
  the same text: found, that post is the receipt (it is on the account, with this text);
  not found, the post is :class:`RejectedError` with a message saying the duplicate is X's
  claim only.
* HTTP errors map to the error classes like this (X's problem ``detail`` is kept):

  ============================  ============================================================
  401                           :class:`AuthError` (keys, tokens or signature refused)
  403 duplicate content         see above
  403 auth-shaped (unsupported  :class:`AuthError` (e.g. an app with read-only permission)
  authentication, client
  forbidden, oauth1 permissions)
  other 403, 400, 404, 4xx      :class:`RejectedError` (reply target gone, too long, …)
  429                           :class:`RateLimitedError`; ``retry_at`` = the latest reset of
                                the exhausted limits (``x-rate-limit-*``,
                                ``x-user-limit-24hour-*``, ``x-app-limit-24hour-*``, epoch s)
  502, 503, 504 on the create   :class:`OutcomeUnknownError`: X's edge gave up, the post may
                                exist (answers like these have been seen for created posts)
  other 5xx                     :class:`UnavailableError`
  ============================  ============================================================
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from campaign_scheduler import errors
from campaign_scheduler.channels._http import ApiClient, GoneError, count, reset_time, retry_at
from campaign_scheduler.channels.base import AccountApi, AccountSettings, Channel, Metrics, Receipt
from campaign_scheduler.channels.catalog import MIB, MP4_OR_MOV, ChannelSpec, VideoLimits
from campaign_scheduler.channels.published import (
    PublishedPart,
    digits,
    not_of_account,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_WEIGHTED, TextRule, count_x_weighted

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels.base import MediaFile, OutboundPost

SECRETS = ("api_key", "api_secret", "access_token", "access_secret")
TWITTER_EPOCH_MS = 1288834974657
MAX_ALT_TEXT = 1000
#: One APPEND of a chunked upload (X takes segments up to 5 MB).
SEGMENT_BYTES = 4 * 1024 * 1024
#: ``look_up`` searches down to ``since`` minus this (clock skew).
LOOK_UP_MARGIN = timedelta(minutes=1)
#: After a 403 "duplicate content", posts this recent with the same text count as this one.
DUPLICATE_LOOKBACK = timedelta(hours=24)
LOOK_UP_MAX_PAGES = 10
PAGE_SIZE = 100
_TIMELINE_FIELDS = "created_at,entities,attachments,referenced_tweets"
_AUTH_PROBLEMS = ("unsupported-authentication", "client-forbidden", "oauth1-permissions")
_MEDIA_CATEGORY = {"image/gif": "tweet_gif"}


class XApi(ApiClient):
    """X API v2 with OAuth 1.0a user context: errors are problem details (``detail``,
    ``errors``); 403 may mean duplicate content or missing permissions; a 429 names resets
    of several limits."""

    #: X answers 503 when it is over capacity while the post may still go through.
    doubtful_statuses = frozenset({502, 503, 504})

    def oauth2_token(self) -> str | None:
        """The account's OAuth 2.0 user token (secret ``token``, from ``campaign accounts
        connect``), or ``None`` when the account has the four OAuth 1.0a keys instead."""
        try:
            value = self.account.secret("token")
        except (errors.ConfigError, KeyError):  # no `token` in the account's table
            return None
        return value or None

    def auth_headers(self) -> dict[str, str]:
        token = self.oauth2_token()
        if token is not None:
            return {"Authorization": f"Bearer {token}"}
        return {}  # OAuth 1.0a signs each request (auth_options)

    def auth_options(self) -> dict[str, Any]:
        if self.oauth2_token() is not None:
            return {}
        from requests_oauthlib import OAuth1  # type: ignore[import-untyped]

        values = {key: self.account.secret(key) for key in SECRETS}
        missing = [key for key, value in values.items() if not value]
        if missing:
            raise errors.AuthError(
                f"x: account {self.account.name} lacks {', '.join(missing)}",
                hint="set all four keys of the account in config.toml",
            )
        return {
            "auth": OAuth1(
                values["api_key"],
                client_secret=values["api_secret"],
                resource_owner_key=values["access_token"],
                resource_owner_secret=values["access_secret"],
            )
        }

    def error_text(self, response: requests.Response) -> str:
        return _problem_text(_problem(response), response)

    def retry_at(self, response: requests.Response) -> datetime:
        return retry_at_from(response.headers, self.clock())

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError | None:
        status = response.status_code
        if status == 401:
            return errors.AuthError(
                f"{where}: X refused the credentials ({said})",
                network_message=said,
                hint="run `campaign accounts refresh` or `campaign accounts connect` for the "
                "account"
                if self.oauth2_token() is not None
                else "check the four keys of the account; regenerated keys replace the old ones",
            )
        if status != 403:
            return None
        kind = str(_problem(response).get("type", ""))
        if "duplicate content" in said.lower():
            return _DuplicateContentError(f"{where}: duplicate content", network_message=said)
        if any(kind.endswith(name) for name in _AUTH_PROBLEMS) or "permission" in said.lower():
            return errors.AuthError(
                f"{where}: X does not let this app do that ({said})",
                network_message=said,
                hint='give the app "Read and write" permission, then regenerate the '
                "access token and secret",
            )
        return errors.RejectedError(f"{where}: forbidden ({said})", network_message=said)


class XChannel(Channel):
    """Posts on one X account. Secrets: ``api_key`` and ``api_secret`` (the app's consumer
    keys), ``access_token`` and ``access_secret`` (the account's user token; the app needs
    "Read and write" permission)."""

    name = "x"
    spec = ChannelSpec(
        "X",
        secret_choices=(SECRETS, ("token",)),
        default_base_url="https://api.x.com",
        supports_threads=True,
        # The media best practices (channels.md §4): MP4 or MOV, 512 MB, 0.5–140 s for
        # accounts without a subscription, up to 1920×1200 and 60 fps; 1 video, no images.
        video=VideoLimits(
            MP4_OR_MOV,
            max_bytes=512 * MIB,
            max_seconds=140.0,
            min_seconds=0.5,
            max_pixels=1920 * 1200,
            max_frame_rate=60.0,
        ),
        # Four images of 5 MB (channels.md §4).
        max_images=4,
        max_image_bytes=5 * MIB,
        other_files=False,
    )
    text_rule = TextRule(UNIT_WEIGHTED, count_x_weighted, 280)
    api = AccountApi(XApi)
    can_look_up = True
    connect_flow = "campaign_scheduler.auth.x:XFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:XNetwork"

    # --- the Channel interface ------------------------------------------------------------

    def post_problems(self, post: OutboundPost) -> list[str]:
        problems: list[str] = []
        for media in post.media:  # (how many, their kind and size: the spec's limits)
            if media.alt and len(media.alt) > MAX_ALT_TEXT:
                problems.append(
                    f"x: the alt text of {media.path.name} has {len(media.alt)} characters; "
                    f"X allows {MAX_ALT_TEXT}"
                )
        return problems

    def publish(self, post: OutboundPost) -> Receipt:
        media_ids = []
        for media in post.media:  # uploads and processing may take long: fence before each
            post.checkpoint()
            media_ids.append(
                self._upload_video(media, post.checkpoint)
                if media.is_video
                else self._upload(media)
            )
        post.checkpoint()
        body: dict[str, Any] = {"text": post.text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if post.reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": post.reply_to}
        try:
            response = self.api.call("POST", "/2/tweets", json=body, creates=True)
        except _DuplicateContentError as exc:
            return self._adopt_duplicate(post, exc)
        with self.api.reading_created(hint="the publisher will look it up on the account"):
            tweet_id = str(self.api.json_object(response, creates=True)["data"]["id"])
        receipt = self._receipt(tweet_id, self._username())
        self.api.log.debug("published %s on %s", tweet_id, self.account.name)
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """The oldest post of this account created since ``since`` (less a minute) whose text
        is ``post.text`` as X shows it back, with as many media and the same reply target."""
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        return self._find(post, since - LOOK_UP_MARGIN)

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """``public_metrics``, plus ``non_public_metrics`` (impressions, link clicks) where X
        allows them (the author's posts younger than 30 days); missing figures stay ``None``."""
        try:
            data = self._tweet(receipt.remote_id, "public_metrics,non_public_metrics")
        except errors.RejectedError as exc:
            if isinstance(exc, GoneError):
                raise
            data = self._tweet(receipt.remote_id, "public_metrics")
        public = data.get("public_metrics") or {}
        private = data.get("non_public_metrics") or {}
        views = private.get("impression_count", public.get("impression_count"))
        user = self.api.json_object(
            self.api.call("GET", "/2/users/me", params={"user.fields": "public_metrics"})
        )
        followers = ((user.get("data") or {}).get("public_metrics") or {}).get("followers_count")
        return Metrics(
            likes=count(public.get("like_count")),
            reposts=count(public.get("retweet_count")),
            replies=count(public.get("reply_count")),
            quotes=count(public.get("quote_count")),
            views=count(views),
            clicks=count(private.get("url_link_clicks")),
            followers=count(followers),
        )

    def delete(self, remote_id: str) -> None:
        """Delete the post. One that is already gone counts as deleted."""
        try:
            response = self.api.call("DELETE", f"/2/tweets/{remote_id}")
        except GoneError:
            response = None
        deleted = (
            self.api.json_object(response).get("data", {}).get("deleted")
            if response is not None
            else None
        )
        if deleted is not True:
            self.api.log.info("post %s on %s was already gone", remote_id, self.account.name)

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """``https://x.com/NAME/status/ID`` (also twitter.com, and ``/i/web/status/ID``): the
        post's id. The account's user name is not in its settings, so it is not compared."""
        shape = "https://x.com/NAME/status/ID"
        parts = split_address(
            url, network=cls.title(), account=account.name, shape=shape, hosts=_WEB_HOSTS
        )
        match segments(parts):
            case [_name, "status", post_id, *_] if digits(post_id):
                return PublishedPart(post_id)
            case ["i", "web", "status", post_id, *_] if digits(post_id):
                return PublishedPart(post_id)
        raise refusal(cls.title(), account.name, url, shape)

    def find_published(self, url: str) -> PublishedPart:
        """:meth:`published_part`, and the post asked for: its author must be this account."""
        part = self.published_part(url, self.account)
        answer = self.api.json_object(
            self.api.call(
                "GET", f"/2/tweets/{part.remote_id}", params={"tweet.fields": "author_id"}
            )
        )
        data = answer.get("data")
        author = data.get("author_id") if isinstance(data, dict) else None
        if author is None or str(author) != str(self._me().get("id")):
            raise not_of_account(self.title(), self.account.name, url)
        return part

    def verify(self) -> str:
        vars(self).pop("_user", None)  # ask X now, not what an earlier call was told
        username = self._me().get("username")
        return f"@{username}"

    # --- steps ------------------------------------------------------------------------------

    def _me(self) -> dict[str, Any]:
        return self._user

    @cached_property
    def _user(self) -> dict[str, Any]:
        """``GET /2/users/me``, once per adapter."""
        data = self.api.json_object(self.api.call("GET", "/2/users/me")).get("data")
        if not isinstance(data, dict) or not data.get("id") or not data.get("username"):
            raise errors.UnavailableError(f"x: {self.account.name}: /2/users/me named no user")
        return data

    def _username(self) -> str | None:
        """The account's username for receipt URLs; ``None`` when X cannot tell right now (the
        post exists by then, so this must not fail the publish)."""
        try:
            return str(self._me()["username"])
        except errors.ChannelError as exc:
            self.api.log.warning(
                "no username for %s (%s); using X's id-only URL", self.account.name, exc
            )
            return None

    def _receipt(self, tweet_id: str, username: str | None) -> Receipt:
        where = username if username else "i/web"
        return Receipt(
            remote_id=tweet_id,
            url=f"https://x.com/{where}/status/{tweet_id}",
            published_at=created_at(tweet_id) or self.clock(),
        )

    def _upload(self, media: MediaFile) -> str:
        """Upload one image, wait for processing, set its alt text; return the media id.

        Nothing here can create the post, so a lost answer is reported as unavailability."""
        content = media.read(self.name)
        try:
            response = self.api.call(
                "POST",
                "/2/media/upload",
                files={"media": (media.path.name, content, media.mime_type)},
                data={
                    "media_category": _MEDIA_CATEGORY.get(media.mime_type, "tweet_image"),
                    "media_type": media.mime_type,
                },
            )
            data = self.api.json_object(response)["data"]
            media_id = str(data["id"])
            if data.get("processing_info"):
                self._wait_for_processing(media_id, data["processing_info"], media)
            if media.alt:
                self.api.call(
                    "POST",
                    "/2/media/metadata",
                    json={"id": media_id, "metadata": {"alt_text": {"text": media.alt}}},
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.UnavailableError(
                f"x: {self.account.name}: unreadable answer to the upload of {media.path.name}"
            ) from exc
        return media_id

    def _upload_video(self, media: MediaFile, checkpoint: Callable[[], None]) -> str:
        """The chunked upload of a video: ``initialize`` (``tweet_video``), one ``append`` per
        4 MB segment, ``finalize``, then STATUS polls until X has processed it, then its alt
        text. Each write is fenced; nothing here can create the post (a lost answer is only
        unavailability). Returns the media id."""
        content = media.read(self.name)
        try:
            response = self.api.call(
                "POST",
                "/2/media/upload/initialize",
                json={
                    "media_type": media.mime_type,
                    "total_bytes": len(content),
                    "media_category": "tweet_video",
                },
            )
            media_id = str(self.api.json_object(response)["data"]["id"])
            for index, start in enumerate(range(0, len(content), SEGMENT_BYTES)):
                checkpoint()
                self.api.call(
                    "POST",
                    f"/2/media/upload/{media_id}/append",
                    data={"segment_index": str(index)},
                    files={
                        "media": (
                            "blob",
                            content[start : start + SEGMENT_BYTES],
                            "application/octet-stream",
                        )
                    },
                )
            checkpoint()
            response = self.api.call("POST", f"/2/media/upload/{media_id}/finalize")
            info = self.api.json_object(response)["data"].get("processing_info")
            if info:
                self._wait_for_processing(media_id, info, media)
            if media.alt:
                checkpoint()
                self.api.call(
                    "POST",
                    "/2/media/metadata",
                    json={"id": media_id, "metadata": {"alt_text": {"text": media.alt}}},
                )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise errors.UnavailableError(
                f"x: {self.account.name}: unreadable answer to the upload of {media.path.name}"
            ) from exc
        return media_id

    def _wait_for_processing(self, media_id: str, info: Any, media: MediaFile) -> None:
        for _ in range(self.max_polls):
            state = info.get("state") if isinstance(info, dict) else None
            if state == "succeeded":
                return
            if state == "failed":
                error = info.get("error") or {}
                raise errors.RejectedError(
                    f"x: {self.account.name}: X could not process {media.path.name}: "
                    f"{error.get('message', 'failed')}"
                )
            wait = info.get("check_after_secs") if isinstance(info, dict) else None
            self._sleep(
                min(float(wait), 30.0) if isinstance(wait, int | float) else self.poll_interval
            )
            response = self.api.call(
                "GET", "/2/media/upload", params={"command": "STATUS", "media_id": media_id}
            )
            info = self.api.json_object(response).get("data", {}).get("processing_info")
            if not info:
                return  # no processing info: ready
        raise errors.UnavailableError(
            f"x: {self.account.name}: {media.path.name} was still being processed after "
            f"{self.max_polls} checks"
        )

    def _adopt_duplicate(self, post: OutboundPost, refusal: _DuplicateContentError) -> Receipt:
        oldest = self.clock() - DUPLICATE_LOOKBACK
        found = self._find(post, oldest)  # reading: a lost answer is only unavailability
        if found is not None:
            self.api.log.warning(
                "x refused a duplicate on %s; post %s of %s has this text and counts as this one",
                self.account.name,
                found.remote_id,
                found.published_at.isoformat(timespec="seconds"),
            )
            return found
        raise errors.RejectedError(
            f"x: {self.account.name}: X refused the text as duplicate content, but none of the "
            f"account's posts of the last {DUPLICATE_LOOKBACK.total_seconds() / 3600:g} hours "
            "has it; X's claim is only a hint",
            network_message=refusal.network_message,
            hint="check the account; change the text if it must go out again",
        )

    def _find(self, post: OutboundPost, oldest: datetime) -> Receipt | None:
        user = self._me()
        found: Receipt | None = None
        for tweet in self._timeline(str(user["id"]), oldest):
            if matches(tweet, post):  # keep going: the oldest match wins
                found = self._receipt(str(tweet["id"]), str(user["username"]))
        return found

    def _timeline(self, user_id: str, oldest: datetime) -> Iterator[dict[str, Any]]:
        """The account's posts since ``oldest``, newest first."""
        params: dict[str, str | int] = {
            "max_results": PAGE_SIZE,
            "start_time": oldest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tweet.fields": _TIMELINE_FIELDS,
            "exclude": "retweets",
        }
        for _ in range(LOOK_UP_MAX_PAGES):
            page = self.api.json_object(
                self.api.call("GET", f"/2/users/{user_id}/tweets", params=params)
            )
            yield from (t for t in page.get("data") or [] if isinstance(t, dict))
            token = (page.get("meta") or {}).get("next_token")
            if not token:
                return
            params["pagination_token"] = str(token)
        raise self.search_exhausted(
            f"more than {LOOK_UP_MAX_PAGES * PAGE_SIZE} posts since "
            f"{oldest.isoformat(timespec='seconds')}"
        )

    def _tweet(self, tweet_id: str, fields: str) -> dict[str, Any]:
        body = self.api.json_object(
            self.api.call("GET", f"/2/tweets/{tweet_id}", params={"tweet.fields": fields})
        )
        data = body.get("data")
        if not isinstance(data, dict):
            raise GoneError(f"x: {self.account.name}: post {tweet_id} not found")
        return data


class _DuplicateContentError(errors.RejectedError):
    """403 "You are not allowed to create a Tweet with duplicate content"."""


# --- matching posts -----------------------------------------------------------------------------


def created_at(tweet_id: str) -> datetime | None:
    """The creation time a snowflake id holds (milliseconds since X's epoch, shifted by 22
    bits); ``None`` for an id that is not a snowflake."""
    try:
        milliseconds = (int(tweet_id) >> 22) + TWITTER_EPOCH_MS
    except ValueError:
        return None
    return datetime.fromtimestamp(milliseconds / 1000, UTC)


def matches(tweet: dict[str, Any], post: OutboundPost) -> bool:
    """Whether ``tweet`` (as X returns it, with ``entities``, ``attachments`` and
    ``referenced_tweets``) is ``post``."""
    media = (tweet.get("attachments") or {}).get("media_keys") or []
    if len(media) != len(post.media):
        return False
    if post.reply_to is not None:
        replied = [
            str(r.get("id"))
            for r in tweet.get("referenced_tweets") or []
            if r.get("type") == "replied_to"
        ]
        if replied != [post.reply_to]:
            return False
    return comparable(sent_text(tweet)) == comparable(post.text)


def sent_text(tweet: dict[str, Any]) -> str:
    """The text of ``tweet`` without the link X appends for its media, unescaped."""
    text = str(tweet.get("text", ""))
    for entity in (tweet.get("entities") or {}).get("urls") or []:
        if entity.get("media_key") and isinstance(entity.get("url"), str):
            text = text.replace(entity["url"], "")
    return html.unescape(text)


def comparable(text: str) -> str:
    """``text`` with every link replaced by one placeholder (X shows links as t.co links) and
    whitespace normalised."""
    from twitter_text import extract_urls_with_indices

    text = unicodedata.normalize("NFC", text)
    for found in reversed(extract_urls_with_indices(text)):
        start, end = found["indices"]
        text = f"{text[:start]}\u2060link\u2060{text[end:]}"
    return " ".join(text.split())


# --- helpers ----------------------------------------------------------------------------------


def retry_at_from(headers: Any, now: datetime) -> datetime:
    """When to try again after a 429: the latest reset among the limits X reports as spent
    (``remaining`` 0), else ``x-rate-limit-reset``, else ``Retry-After``, else a minute."""
    spent: list[datetime] = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        reset = reset_time(headers.get(f"{prefix}-reset"), now, epoch=True)
        if reset is not None and str(headers.get(f"{prefix}-remaining", "")).strip() == "0":
            spent.append(reset)
    if spent:
        return max(spent)
    return reset_time(headers.get("x-rate-limit-reset"), now, epoch=True) or retry_at(headers, now)


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _problem_text(problem: dict[str, Any], response: requests.Response) -> str:
    """``detail`` of an X problem (with the messages of its ``errors``), else the body."""
    parts = [str(problem["detail"])] if isinstance(problem.get("detail"), str) else []
    for error in problem.get("errors") or []:
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            parts.append(str(error["message"]))
    if parts:
        return ": ".join(dict.fromkeys(parts))
    text = " ".join(response.text.split())[:200]
    return text or response.reason or f"HTTP {response.status_code}"


#: Where X shows posts.
_WEB_HOSTS = ("x.com", "twitter.com", "mobile.x.com", "mobile.twitter.com")
