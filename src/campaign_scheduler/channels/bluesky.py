"""Bluesky: posts as ``app.bsky.feed.post`` records in the account's AT Protocol repository.

Behaviour follows channels.md §3, checked against the reference PDS (docs/bluesky.md). The
points that matter to the publisher:

* **Sessions.** The account logs in with an app password (``createSession``); the session is
  kept per (server, identifier) in a module-level cache shared by every adapter instance and
  thread, because ``createSession`` is rate-limited (30 per 5 minutes). An expired access token
  is answered HTTP 400 ``ExpiredToken`` (not 401): the call is repeated once after
  ``refreshSession``. A refresh token that is refused, or an access token that is
  ``InvalidToken``, leads to one new ``createSession``.
* **One record key per delivery.** The record key is a TID computed from the delivery's
  idempotency key (:func:`~campaign_scheduler.channels._atproto.record_key`), so the key stored
  before the call names the post. Creating a record under a key that exists never makes a second
  one: the reference PDS answers 500 ``InternalServerError``. After any refusal of
  ``createRecord`` other than auth and rate limits, the adapter reads the record under its key;
  if it is there, the post was published earlier and its receipt is returned. That makes a replay
  safe for as long as the post exists, hence the long :attr:`BlueskyChannel.idempotency_window`;
  :meth:`BlueskyChannel.look_up` reads the same record.
* **Remote id** is the post's ``at://`` URI: replies need the parent's URI and CID and the
  thread's root, which ``getRecord`` on that URI gives.
* HTTP errors (XRPC envelope ``{"error", "message"}``; the adapter branches on ``error`` and the
  status, never on the message) map to the error classes like this:

  ==================================  ===================================================
  400 ExpiredToken / InvalidToken     refresh or log in again, repeat once; then errors.AuthError
  401, 403; failed login              :class:`AuthError`
  400 other, 404, 409, 413, other 4xx :class:`RejectedError` (invalid record, blob too big)
  429                                 :class:`RateLimitedError`; ``retry_at`` from
                                      ``RateLimit-Reset`` (Unix seconds), else
                                      ``Retry-After``, else now + 60 s
  502, 504 on createRecord            :class:`OutcomeUnknownError` (a gateway gave up)
  other 5xx                           :class:`UnavailableError`
  ==================================  ===================================================

  Only ``createRecord`` can create a post; a transport failure of any other call (login, blob
  upload, handle resolution) is reported as :class:`UnavailableError`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from campaign_scheduler import errors
from campaign_scheduler.channels._atproto import AtUri, detect_facets, image_size, record_key
from campaign_scheduler.channels._http import (
    ApiClient,
    count,
    parse_time,
    reset_time,
    retry_at,
)
from campaign_scheduler.channels.base import (
    AccountApi,
    AccountSettings,
    Channel,
    Receipt,
    TagUse,
    media_limit_problems,
    video_mix_problems,
)
from campaign_scheduler.channels.catalog import (
    MB,
    MINUTE,
    ChannelSpec,
    Key,
    VideoLimits,
    account_keys,
)
from campaign_scheduler.channels.published import (
    PublishedPart,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import (
    UNIT_GRAPHEMES,
    UNIT_UTF8,
    Limit,
    TextRule,
    count_graphemes,
    count_utf8_bytes,
)

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels.base import LinkPreview, MediaFile, Metrics, OutboundPost


POST_COLLECTION = "app.bsky.feed.post"
DEFAULT_APP_URL = "https://bsky.app"
#: Pages of 100 read by a hashtag search (the AppView pages by cursor).
SEARCH_PAGES = 10
#: ``app.bsky.embed.external#external.thumb``: an image blob of at most 1,000,000 bytes.
MAX_THUMB_BYTES = 1_000_000


@dataclass(frozen=True)
class _Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str


# (base_url, identifier) -> session; one lock per key so that one thread logs in while the
# others wait for its session instead of logging in too.
_sessions: dict[tuple[str, str], _Session] = {}
_session_locks: dict[tuple[str, str], threading.Lock] = {}
_sessions_lock = threading.Lock()


def clear_sessions() -> None:
    """Forget every cached session (tests; after an app password was replaced)."""
    with _sessions_lock:
        _sessions.clear()
        _session_locks.clear()


@dataclass(frozen=True)
class _XrpcError:
    status: int
    name: str  # the envelope's "error", or "" when the body is not an XRPC error
    message: str  # the envelope's "message" (or the start of the body), for network_message


class _TokenRefusedError(errors.ChannelError):
    """The server refused the session's token (400 ExpiredToken / InvalidToken)."""

    def __init__(self, error: _XrpcError) -> None:
        super().__init__(f"bluesky: token refused ({error.name})", network_message=error.message)
        self.error = error


class BlueskyApi(ApiClient):
    """XRPC on a PDS: the bearer token is the session's (renewed by the adapter); a rate
    limit names ``RateLimit-Reset`` (Unix seconds), else ``Retry-After``."""

    #: Metrics fields and the post view's counters that hold them.
    figures: ClassVar[Mapping[str, str]] = {
        "likes": "likeCount",
        "reposts": "repostCount",
        "replies": "replyCount",
        "quotes": "quoteCount",
    }

    def retry_at(self, response: requests.Response) -> datetime:
        now = self.clock()
        reset = reset_time(response.headers.get("RateLimit-Reset"), now, epoch=True)
        return reset or retry_at(response.headers, now)


class _NotFoundError(errors.RejectedError):
    """The record (or handle) does not exist."""


class _SessionUnavailableError(errors.UnavailableError):
    """Logging in or refreshing failed on the server's side (5xx, no answer): no call that
    needed the session was made."""


class BlueskyChannel(Channel):
    """Posts on one Bluesky account. Settings: ``identifier`` (handle or DID), optional
    ``app_url`` (default https://bsky.app, for post links). Secret: ``password`` (an app
    password). ``base_url`` is the account's PDS or the bsky.social entryway."""

    name = "bluesky"
    spec = ChannelSpec(
        "Bluesky",
        **account_keys(identifier=Key.SETTING, password=Key.SECRET, app_url=Key.OPTIONAL),
        default_base_url="https://bsky.social",
        supports_threads=True,
        reports_impressions=False,
        # app.bsky.embed.video: one MP4 per post, up to 3 minutes and 100 MB (Bluesky's limits
        # since March 2025; the lexicon's blob cap is higher), never next to images.
        video=VideoLimits(max_bytes=100 * MB, max_seconds=3 * MINUTE),
        # The lexicon's limits for ``app.bsky.embed.images``: four images of 2,000,000 bytes.
        max_images=4,
        max_image_bytes=2_000_000,
        other_files=False,
    )
    text_rule = TextRule(
        UNIT_GRAPHEMES, count_graphemes, 300, also=(Limit(UNIT_UTF8, count_utf8_bytes, 3000),)
    )
    api = AccountApi(BlueskyApi)
    #: The record key never expires: a replay finds the post for as long as it exists.
    idempotency_window = timedelta(days=365)
    can_look_up = True
    can_search_hashtag = True
    connect_flow = "campaign_scheduler.auth.bluesky:BlueskyFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:BlueskyNetwork"

    @property
    def identifier(self) -> str:
        """The account's handle or DID (empty when it has none)."""
        return str(self.account.settings.get("identifier") or "").strip()

    @property
    def app_url(self) -> str:
        """Where post links point (the ``app_url`` setting, else Bluesky's app)."""
        return str(self.account.settings.get("app_url") or DEFAULT_APP_URL).rstrip("/")

    @property
    def _cache_key(self) -> tuple[str, str]:
        return (self.base_url, self.identifier.lower())

    # --- the Channel interface ------------------------------------------------------------

    def publish(self, post: OutboundPost) -> Receipt:
        for problem in (
            *media_limit_problems(self.title(), self.spec, post.media),
            *video_mix_problems(self.title(), self.spec.video, post.media),
        ):
            raise errors.RejectedError(f"bluesky: {self.account.name}: {problem}")
        session = self._session()
        rkey = record_key(post.idempotency_key)
        record = self._record(post)
        if post.media:
            post.checkpoint()  # the uploads may have taken long
        body = {"repo": session.did, "collection": POST_COLLECTION, "rkey": rkey, "record": record}
        try:
            answer = self._call("POST", "com.atproto.repo.createRecord", json=body, creates=True)
        except (
            errors.AuthError,
            errors.RateLimitedError,
            errors.OutcomeUnknownError,
            _SessionUnavailableError,
        ):
            raise
        except errors.ChannelError as refused:
            existing = self._already_published(session, rkey, refused)
            if existing is None:
                raise
            self.api.log.info(
                "%s on %s was published before", existing.remote_id, self.account.name
            )
            return existing
        try:
            uri = AtUri.parse(str(answer["uri"]))
        except (KeyError, ValueError) as exc:
            raise errors.OutcomeUnknownError(
                f"bluesky: {self.account.name}: the post was created but the answer could not "
                "be read",
                hint="a replay finds it under its record key",
            ) from exc
        receipt = self._receipt(session, uri, record["createdAt"])
        self.api.log.debug("published %s on %s", receipt.remote_id, self.account.name)
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """The post under the delivery's record key, or ``None`` when there is none."""
        session = self._session()
        uri = AtUri(session.did, POST_COLLECTION, record_key(post.idempotency_key))
        found = self._get_record(uri)
        return None if found is None else self._receipt(session, uri, _created_at(found))

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Likes, reposts, replies and quotes from the AppView (``getPosts``, through the
        server), followers from ``getProfile``. Bluesky publishes no views or reach."""
        uri = str(self._own_uri(receipt.remote_id))  # (the handle a person's address named)
        answer = self._call("GET", "app.bsky.feed.getPosts", params={"uris": uri})
        posts = answer.get("posts")
        views = [p for p in posts if isinstance(p, dict)] if isinstance(posts, list) else []
        view = next((p for p in views if p.get("uri") == uri), None)
        if view is None:
            raise _NotFoundError(
                f"bluesky: {self.account.name}: the AppView does not know {receipt.remote_id} "
                "(deleted, or not indexed yet)"
            )
        session = self._session()
        profile = self._call("GET", "app.bsky.actor.getProfile", params={"actor": session.did})
        return self.api.metrics(view, followers=count(profile.get("followersCount")))

    def search_hashtag(self, hashtag: str, *, since: datetime) -> list[TagUse]:
        """Posts with ``#hashtag`` from the AppView's search (``searchPosts``), newest first."""
        found: list[TagUse] = []
        cursor: str | None = None
        for _ in range(SEARCH_PAGES):
            params = {
                "q": f"#{hashtag}",
                "sort": "latest",
                "since": _timestamp(since),
                "limit": "100",
                **({"cursor": cursor} if cursor else {}),
            }
            answer = self._call("GET", "app.bsky.feed.searchPosts", params=params)
            posts = answer.get("posts")
            for view in posts if isinstance(posts, list) else []:
                if not isinstance(view, dict):
                    continue
                record = _mapping(view.get("record"))
                author = _mapping(view.get("author"))
                posted = parse_time(record.get("createdAt")) or parse_time(view.get("indexedAt"))
                if posted is None or posted < since:
                    continue
                handle = str(author.get("handle") or author.get("did") or "?")
                try:
                    rkey = AtUri.parse(str(view.get("uri"))).rkey
                except ValueError:
                    continue
                found.append(
                    TagUse(
                        remote_id=str(view.get("uri")),
                        author=handle,
                        posted_at=posted,
                        url=f"{self.app_url}/profile/{handle}/post/{rkey}",
                    )
                )
            cursor = answer.get("cursor") if isinstance(answer.get("cursor"), str) else None
            if not cursor:
                break
        return found

    def delete(self, remote_id: str) -> None:
        """Delete the post; a post that is already gone counts as deleted (the server answers
        200 either way)."""
        uri = self._own_uri(remote_id)
        self._call(
            "POST",
            "com.atproto.repo.deleteRecord",
            json={"repo": uri.repo, "collection": uri.collection, "rkey": uri.rkey},
        )

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """``https://bsky.app/profile/HANDLE/post/RKEY`` (or the ``app_url`` host; the
        account's DID in place of its handle): the record's ``at://`` URI, under the account's
        handle or DID as the address names it (the adapter asks its server for the DID)."""
        identifier = str(account.settings.get("identifier") or "").strip()
        app = str(account.settings.get("app_url") or DEFAULT_APP_URL).rstrip("/")
        shape = f"{app}/profile/{identifier or 'HANDLE'}/post/RKEY"
        parts = split_address(
            url,
            network=cls.title(),
            account=account.name,
            shape=shape,
            hosts={urlsplit(app).netloc, urlsplit(DEFAULT_APP_URL).netloc},
        )
        match segments(parts):
            case ["profile", actor, "post", rkey] if (
                identifier
                and actor.lower() == identifier.lower()
                and _RECORD_KEY.fullmatch(rkey)
                and rkey not in (".", "..")
            ):
                return PublishedPart(str(AtUri(actor.lower(), POST_COLLECTION, rkey)))
        raise refusal(cls.title(), account.name, url, shape)

    def verify(self) -> str:
        answer = self._call("GET", "com.atproto.server.getSession")
        handle = answer.get("handle")
        if not isinstance(handle, str) or not handle:
            raise errors.UnavailableError(
                f"bluesky: {self.account.name}: getSession returned no handle"
            )
        return f"@{handle}"

    # --- the record ---------------------------------------------------------------------------

    def _record(self, post: OutboundPost) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": post.text,
            "createdAt": _timestamp(self.clock()),
        }
        facets = self._facets(post.text)
        if facets:
            record["facets"] = facets
        if post.language:
            record["langs"] = [post.language]
        videos = [media for media in post.media if media.is_video]
        if videos:
            record["embed"] = self._video(videos[0], post.checkpoint)
        elif post.media:
            record["embed"] = {
                "$type": "app.bsky.embed.images",
                "images": [self._image(media, post.checkpoint) for media in post.media],
            }
        elif post.link_card is not None:
            record["embed"] = self._external(post.link_card)
        if post.reply_to is not None:
            record["reply"] = self._reply_refs(post.reply_to)
        return record

    def _facets(self, text: str) -> list[dict[str, Any]]:
        facets = []
        for facet in detect_facets(text):
            feature: dict[str, str]
            if facet.kind == "link":
                feature = {"$type": "app.bsky.richtext.facet#link", "uri": facet.value}
            elif facet.kind == "tag":
                feature = {"$type": "app.bsky.richtext.facet#tag", "tag": facet.value}
            else:
                did = self._resolve_handle(facet.value)
                if did is None:
                    continue  # an unknown handle stays plain text
                feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
            facets.append(
                {"index": {"byteStart": facet.start, "byteEnd": facet.end}, "features": [feature]}
            )
        return facets

    def _resolve_handle(self, handle: str) -> str | None:
        try:
            answer = self._call(
                "GET", "com.atproto.identity.resolveHandle", params={"handle": handle}
            )
        except errors.RejectedError:
            self.api.log.info("@%s does not resolve; it stays plain text", handle)
            return None
        did = answer.get("did")
        return did if isinstance(did, str) and did.startswith("did:") else None

    def _image(self, media: MediaFile, checkpoint: Callable[[], None]) -> dict[str, Any]:
        content, blob = self._upload_media(media, media.mime_type, checkpoint)
        image: dict[str, Any] = {"image": blob, "alt": media.alt or ""}
        size = image_size(content)
        if size is not None:
            image["aspectRatio"] = {"width": size[0], "height": size[1]}
        return image

    def _video(self, media: MediaFile, checkpoint: Callable[[], None]) -> dict[str, Any]:
        """``app.bsky.embed.video``: the MP4 uploaded as a blob to the account's PDS
        (``uploadBlob``, the lexicon's simple path; the AppView processes it after the post is
        created). The video service (``video.bsky.app``) exists on Bluesky's own hosting only,
        not on a self-hosted PDS, so it is not used."""
        _, blob = self._upload_media(media, "video/mp4", checkpoint)
        return {"$type": "app.bsky.embed.video", "video": blob, "alt": media.alt or ""}

    def _upload_media(
        self, media: MediaFile, mime_type: str, checkpoint: Callable[[], None]
    ) -> tuple[bytes, dict[str, Any]]:
        """The file's bytes and its blob, uploaded with ``uploadBlob`` after the fence."""
        content = media.read(self.name)
        checkpoint()  # an upload is a write: only while this worker holds the post
        answer = self._call(
            "POST",
            "com.atproto.repo.uploadBlob",
            data=content,
            headers={"Content-Type": mime_type},
        )
        blob = answer.get("blob")
        if not isinstance(blob, dict):
            raise errors.UnavailableError(
                f"bluesky: {self.account.name}: unreadable answer to the upload of "
                f"{media.path.name}"
            )
        return content, blob

    def _external(self, card: LinkPreview) -> dict[str, Any]:
        """``app.bsky.embed.external``: the link card, its thumbnail uploaded as a blob."""
        external: dict[str, Any] = {
            "uri": card.url,
            "title": card.title,
            "description": card.description,
        }
        if card.thumb is not None and card.thumb_type and len(card.thumb) <= MAX_THUMB_BYTES:
            answer = self._call(
                "POST",
                "com.atproto.repo.uploadBlob",
                data=card.thumb,
                headers={"Content-Type": card.thumb_type},
            )
            blob = answer.get("blob")
            if not isinstance(blob, dict):
                raise errors.UnavailableError(
                    f"bluesky: {self.account.name}: unreadable answer to the upload of the "
                    "link card's image"
                )
            external["thumb"] = blob
        return {"$type": "app.bsky.embed.external", "external": external}

    def _reply_refs(self, reply_to: str) -> dict[str, Any]:
        """``reply.root`` and ``reply.parent`` for a reply to the post ``reply_to`` (its URI)."""
        try:
            parent_uri = AtUri.parse(reply_to)
        except ValueError as exc:
            raise errors.RejectedError(
                f"bluesky: {self.account.name}: cannot reply to {reply_to!r}: not an at:// URI"
            ) from exc
        if not parent_uri.repo.startswith("did:"):  # a person's confirmation names the handle
            parent_uri = self._own_uri(reply_to)
        parent = self._get_record(parent_uri)
        if parent is None:
            raise errors.RejectedError(
                f"bluesky: {self.account.name}: the post to reply to ({reply_to}) does not exist"
            )
        cid = parent.get("cid")
        if not isinstance(cid, str) or not cid:
            raise errors.UnavailableError(
                f"bluesky: {self.account.name}: getRecord gave no cid for {reply_to}"
            )
        parent_ref = {"uri": str(parent_uri), "cid": cid}
        value = parent.get("value")
        reply = value.get("reply") if isinstance(value, dict) else None
        root = reply.get("root") if isinstance(reply, dict) else None
        if isinstance(root, dict) and isinstance(root.get("uri"), str) and root.get("cid"):
            root_ref = {"uri": str(root["uri"]), "cid": str(root["cid"])}
        else:
            root_ref = parent_ref  # the parent starts the thread
        return {"root": root_ref, "parent": parent_ref}

    # --- records --------------------------------------------------------------------------------

    def _get_record(self, uri: AtUri) -> dict[str, Any] | None:
        """``getRecord`` of ``uri``: the answer (``uri``, ``cid``, ``value``) or ``None``."""
        try:
            return self._call(
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": uri.repo, "collection": uri.collection, "rkey": uri.rkey},
            )
        except _NotFoundError:
            return None

    def _already_published(
        self, session: _Session, rkey: str, refused: errors.ChannelError
    ) -> Receipt | None:
        """After ``createRecord`` was refused: the receipt of the record already under
        ``rkey``, or ``None`` when there is none (then ``refused`` stands).

        Raises :class:`OutcomeUnknownError` when a server error was followed by a failed
        check: the post may exist (a replay) and nobody can tell now.
        """
        uri = AtUri(session.did, POST_COLLECTION, rkey)
        try:
            found = self._get_record(uri)
        except errors.ChannelError as exc:
            if isinstance(refused, errors.RejectedError):
                return None
            raise errors.OutcomeUnknownError(
                f"bluesky: {self.account.name}: createRecord failed ({refused.message}) and "
                f"the check for an earlier copy failed too ({exc.message})",
                network_message=refused.network_message,
            ) from exc
        if found is None:
            return None
        return self._receipt(session, uri, _created_at(found))

    def _receipt(self, session: _Session, uri: AtUri, created_at: str | None) -> Receipt:
        published = parse_time(created_at) or self.clock()
        who = session.handle if session.handle and session.handle != "handle.invalid" else None
        return Receipt(
            remote_id=str(uri),
            url=f"{self.app_url}/profile/{who or uri.repo}/post/{uri.rkey}",
            published_at=published,
        )

    def _own_uri(self, remote_id: str) -> AtUri:
        try:
            uri = AtUri.parse(remote_id)
        except ValueError as exc:
            raise errors.RejectedError(f"bluesky: {remote_id!r} is not a post URI") from exc
        session = self._session()
        if uri.repo.lower() not in (session.did, session.handle.lower()):
            raise errors.RejectedError(
                f"bluesky: {self.account.name}: {remote_id} belongs to another account"
            )
        return AtUri(session.did, uri.collection, uri.rkey)

    # --- sessions -------------------------------------------------------------------------------

    def _lock(self) -> threading.Lock:
        with _sessions_lock:
            return _session_locks.setdefault(self._cache_key, threading.Lock())

    def _session(self) -> _Session:
        with _sessions_lock:
            cached = _sessions.get(self._cache_key)
        if cached is not None:
            return cached
        with self._lock():
            with _sessions_lock:
                cached = _sessions.get(self._cache_key)
            if cached is not None:
                return cached
            session = self._login()
            with _sessions_lock:
                _sessions[self._cache_key] = session
            return session

    def _renew(self, stale: _Session, refused: _TokenRefusedError) -> None:
        """Replace ``stale`` after its access token was refused: refresh it when it expired,
        log in again when that fails or the token is invalid. Another thread may have done so
        already; then its session is kept."""
        with self._lock():
            with _sessions_lock:
                current = _sessions.get(self._cache_key)
            if current is not None and current != stale:
                return
            session: _Session | None = None
            if refused.error.name == "ExpiredToken":
                session = self._refresh(stale)
            if session is None:
                with _sessions_lock:
                    _sessions.pop(self._cache_key, None)  # a failed login leaves no session
                session = self._login()
            with _sessions_lock:
                _sessions[self._cache_key] = session

    def _login(self) -> _Session:
        if not self.identifier:
            raise errors.AuthError(
                f"bluesky: account {self.account.name} has no identifier",
                hint="set `identifier` (handle or DID) of the account in config.toml",
            )
        password = self.account.secret("password")
        if not password:
            raise errors.AuthError(
                f"bluesky: account {self.account.name} has no password",
                hint="set `password` (an app password) of the account in config.toml",
            )
        answer = self._session_call(
            "com.atproto.server.createSession",
            json={"identifier": self.identifier, "password": password},
        )
        self.api.log.info("logged in as %s on %s", self.identifier, self.base_url)
        return self._session_from(answer)

    def _refresh(self, stale: _Session) -> _Session | None:
        """A refreshed session, or ``None`` when the refresh token was refused."""
        try:
            answer = self._session_call(
                "com.atproto.server.refreshSession", bearer=stale.refresh_jwt
            )
        except errors.AuthError as exc:
            self.api.log.info(
                "refreshing the session of %s failed (%s)", self.identifier, exc.message
            )
            return None
        self.api.log.debug("refreshed the session of %s", self.identifier)
        return self._session_from(answer)

    def _session_call(
        self, nsid: str, *, json: Any = None, bearer: str | None = None
    ) -> dict[str, Any]:
        """createSession / refreshSession. Any refusal is an errors.AuthError, except rate limits
        and server errors."""
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        try:
            response = self._send("POST", nsid, json=json, headers=headers)
            if response.status_code < 400:
                return _json(response, nsid)
        except errors.UnavailableError as exc:
            raise _SessionUnavailableError(
                exc.message, network_message=exc.network_message
            ) from exc
        error = _xrpc_error(response)
        if error.status == 429:
            raise self._error(error, response, nsid, creates=False)
        if error.status >= 500:
            raise _SessionUnavailableError(
                f"bluesky: {self.account.name}: {nsid}: server error "
                f"({error.status} {error.name}: {error.message})",
                network_message=error.message,
            )
        raise errors.AuthError(
            f"bluesky: {self.account.name}: the server refused the login "
            f"({error.status} {error.name or 'error'}: {error.message})",
            network_message=error.message,
            hint="check `identifier` and the app password of the account "
            "(`campaign channels verify`)",
        )

    def _session_from(self, answer: dict[str, Any]) -> _Session:
        try:
            return _Session(
                did=str(answer["did"]),
                handle=str(answer.get("handle") or ""),
                access_jwt=str(answer["accessJwt"]),
                refresh_jwt=str(answer["refreshJwt"]),
            )
        except KeyError as exc:
            raise _SessionUnavailableError(
                f"bluesky: {self.account.name}: the session answer lacks {exc.args[0]}"
            ) from exc

    # --- HTTP -------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        nsid: str,
        *,
        creates: bool = False,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One authenticated XRPC call; renews the session and repeats once when the token is
        refused. An HTTP error status raises (see the module doc)."""
        for attempt in (1, 2):
            session = self._session()
            all_headers = {**(headers or {}), "Authorization": f"Bearer {session.access_jwt}"}
            response = self._send(method, nsid, creates=creates, headers=all_headers, **kwargs)
            if response.status_code < 400:
                return _json(response, nsid)
            error = _xrpc_error(response)
            if error.status == 400 and error.name in ("ExpiredToken", "InvalidToken"):
                refused = _TokenRefusedError(error)
                if attempt == 1:
                    self._renew(session, refused)
                    continue
                raise errors.AuthError(
                    f"bluesky: {self.account.name}: the server refuses even a new session "
                    f"({error.name}: {error.message})",
                    network_message=error.message,
                ) from refused
            raise self._error(error, response, nsid, creates=creates)
        raise AssertionError("unreachable")

    def _send(
        self, method: str, nsid: str, *, creates: bool = False, **kwargs: Any
    ) -> requests.Response:
        # The session's bearer token comes with each call (_call, _session_call).
        return self.api.send(method, f"/xrpc/{nsid}", creates=creates, authenticate=False, **kwargs)

    def _error(
        self, error: _XrpcError, response: requests.Response, nsid: str, *, creates: bool
    ) -> errors.ChannelError:
        who = f"bluesky: {self.account.name}"
        said = f"{error.status} {error.name}: {error.message}" if error.name else error.message
        if error.status in (401, 403):
            return errors.AuthError(
                f"{who}: {nsid} refused the credentials ({said})",
                network_message=error.message,
                hint="check the account's app password (`campaign channels verify`)",
            )
        if error.status == 429:
            return self.api.rate_limited(response, error.message)
        if error.name in ("RecordNotFound", "HandleNotFound") or error.status == 404:
            return _NotFoundError(f"{who}: {nsid}: not found ({said})", network_message=said)
        if error.status < 500:
            return errors.RejectedError(
                f"{who}: {nsid} refused ({said})", network_message=error.message
            )
        return self.api.server_error(error.status, error.message, f"{who}: {nsid}", creates=creates)


# --- helpers ------------------------------------------------------------------------------------


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(response: requests.Response, nsid: str) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise errors.UnavailableError(
            f"bluesky: {nsid} answered {response.status_code} without a JSON object"
        )
    return value


def _xrpc_error(response: requests.Response) -> _XrpcError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body.get("message")
        return _XrpcError(
            response.status_code,
            str(body["error"]),
            str(message) if isinstance(message, str) else str(body["error"]),
        )
    text = " ".join(response.text.split())[:200]
    return _XrpcError(
        response.status_code, "", text or response.reason or f"HTTP {response.status_code}"
    )


def _timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and ``Z``, the form Bluesky's own clients write."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _created_at(found: dict[str, Any]) -> str | None:
    value = found.get("value")
    created = value.get("createdAt") if isinstance(value, dict) else None
    return created if isinstance(created, str) else None


#: A record key (the AT Protocol's record-key syntax).
_RECORD_KEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")
