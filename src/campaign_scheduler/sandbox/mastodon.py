"""A Mastodon instance on loopback: the client API as channels.md §2 describes it.

Used by rehearsals (``campaign sandbox``, ``campaign demo``) and by tests. What it implements:

* ``POST /api/v1/statuses`` (JSON or form): ``Idempotency-Key`` per (account, key), kept
  ``idempotency_ttl`` seconds, concurrent repeats serialised so one status is created; the
  instance's own length rule (:func:`status_length`: URLs 23, mention domains free, grapheme
  clusters of spoiler text plus text, as channels.md §2 documents it); the 300-statuses-per-3-hours family
  with ``X-RateLimit-*`` headers (reset as ISO 8601 with 6 fractional digits, UTC); reply
  targets; media attachment rules.
* ``GET /api/v1/statuses/:id``, ``/source``, ``DELETE /api/v1/statuses/:id``.
* ``POST /api/v2/media`` (multipart) → 200, or 202 and then ``media_processing_polls`` times
  206 from ``GET /api/v1/media/:id`` before 200. A video (or audio) is always processed
  asynchronously, as on Mastodon since 4.0: 202, then at least one 206; larger than
  ``video_size_limit`` it is refused with 422.
* ``GET /api/v2/instance``, ``GET /api/v1/accounts/verify_credentials``,
  ``GET /api/v1/accounts/:id``, ``GET /api/v1/accounts/:id/statuses`` (``limit``, ``max_id``,
  ``since_id``, ``min_id``, ``exclude_reblogs``, ``exclude_replies``; ``Link`` header).
* Mastodon's error envelope ``{"error": "..."}`` and wording for 401, 404, 422 and 429.

Faults and inspection are available from Python (:class:`MastodonSandbox` methods) and, for
rehearsals driven through a subprocess, over HTTP from loopback without a token:

``POST /_sandbox/faults``
    a JSON object with any of ``{"fail_next": {"count": 1, "status": 503}}``,
    ``{"rate_limit_next": {"count": 1, "reset_in": 60}}``, ``{"drop_after_create": {"count": 1}}``,
    ``{"hold_after_create": {"count": 1}}``, ``{"release": true}``,
    ``{"fail_media_processing": {"count": 1}}``, ``{"revoke": {"token": "…"}}``,
    ``{"delay": 0.5}``.
``POST /_sandbox/accounts``
    ``{"username": "soest", "token": "optional", "followers": 0}`` → ``{"token": "…"}``.
``POST /_sandbox/engagement``
    ``{"status_id": "…", "favourites": 3, "reblogs": 1, "replies": 0, "quotes": null}``.
``GET /_sandbox/statuses``, ``GET /_sandbox/requests``
    what was created / what arrived, as JSON.

* OAuth (:mod:`._oauth`): ``POST /api/v1/apps`` registers an app (``client_name``,
  ``redirect_uris``, ``scopes``); ``GET /oauth/authorize`` consents at once for the account
  :attr:`MastodonSandbox.consent_as` (created on first use) and redirects with a code;
  ``POST /oauth/token`` exchanges it (PKCE checked) for a token that does not expire, as
  Mastodon's do — unless ``oauth.lifetime`` and ``oauth.refreshable`` are set, which makes it
  answer like Pleroma/Akkoma (``expires_in``, ``refresh_token``, the ``refresh_token`` grant;
  expired tokens get 401). Any token given to :meth:`add_account` works too.

Not modelled: scope enforcement on API calls, visibility other than for storing it, polls, scheduled statuses, edits, federation.
"""

from __future__ import annotations

import html
import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import regex

from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.sandbox import _base
from campaign_scheduler.sandbox._base import (
    Answer,
    Option,
    Processing,
    SandboxBase,
    counts,
    handles,
    snapshot,
)
from campaign_scheduler.sandbox._oauth import OAuthServer
from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    UploadedFile,
    json_response,
    text_value,
)
from campaign_scheduler.sandbox._text import clusters

STATUSES_LIMIT = 300
STATUSES_PERIOD = 3 * 3600.0
MAX_MEDIA = 4
MAX_DESCRIPTION = 1500
VIDEO_SIZE_LIMIT = 103_809_024  # configuration.media_attachments.video_size_limit (99 MiB)
SUPPORTED_MIME_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/heic",
        "image/heif",
        "image/webp",
        "image/avif",
        "video/webm",
        "video/mp4",
        "video/quicktime",
        "video/ogg",
        "audio/wave",
        "audio/wav",
        "audio/x-wav",
        "audio/mpeg",
        "audio/mp3",
        "audio/ogg",
        "audio/flac",
        "audio/aac",
        "audio/mp4",
    }
)

# Mastodon's own words (config/locales/en.yml, api/error_handling.rb, statuses_controller.rb).
MSG_TOKEN_INVALID = "The access token is invalid"
MSG_NOT_FOUND = "Record not found"
MSG_UNPARSABLE = "Error occurred while parsing request parameters"
MSG_TOO_MANY = "Too many requests"
MSG_BLANK = "Validation failed: Text can't be blank"
MSG_REPLY_MISSING = "The post you are trying to reply to does not appear to exist."
MSG_UNPROCESSED = "Cannot attach files that have not finished processing. Try again in a moment!"
MSG_TOO_MANY_FILES = "Cannot attach more than 4 files"
MSG_VIDEO_AND_IMAGES = "Cannot attach a video to a post that already contains images"
MSG_BAD_FILE = "Validation failed: File content type is invalid, File is invalid"
_DEFAULT_ERRORS = {
    400: "Bad request",
    401: MSG_TOKEN_INVALID,
    403: "This action is not allowed",
    404: MSG_NOT_FOUND,
    410: "Gone",
    422: "Validation failed",
    429: MSG_TOO_MANY,
    500: "We're sorry, but something went wrong on our end.",
    502: "Bad gateway",
    503: "There was a temporary problem serving your request, please try again",
    504: "Gateway timeout",
}
_VISIBILITIES = ("public", "unlisted", "private", "direct")

# --- the length table (StatusLengthValidator, channels.md §2 "Text limits and counting") -------

#: What every URL counts (``characters_reserved_per_url``).
CHARACTERS_PER_URL = 23
# URLs with a scheme only; trailing punctuation and an unbalanced ")" are not part of a URL.
_URL = regex.compile(r"(?<![\w/])https?://[^\s<>\"]*[^\s<>\".,;:!?'(\)\[\]]", regex.IGNORECASE)
# ``@user@domain`` counts as ``@user``: not after "=", "/" or a word character (e-mail, paths).
_REMOTE_MENTION = regex.compile(
    r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)@[\w.-]*\w", regex.IGNORECASE
)


def status_length(spoiler_text: str, text: str) -> int:
    """A status's length as Mastodon counts it: each URL 23, the domain of a mention free,
    grapheme clusters of the content warning plus the text."""
    text = _URL.sub("x" * CHARACTERS_PER_URL, text)
    text = _REMOTE_MENTION.sub(r"@\1", text)
    return len(clusters(spoiler_text + text))


# --- what tests and rehearsals can inspect ---------------------------------------------------


@dataclass(frozen=True)
class SandboxMedia:
    """An uploaded file as the sandbox stored it."""

    id: str
    alt: str | None
    mime_type: str
    filename: str
    size: int


@dataclass(frozen=True)
class SandboxStatus:
    """A status the sandbox created (snapshot; later changes do not show in it)."""

    id: str
    username: str
    text: str
    language: str | None
    idempotency_key: str | None
    media: tuple[SandboxMedia, ...]
    in_reply_to_id: str | None
    created_at: datetime
    visibility: str
    spoiler_text: str
    deleted: bool


@dataclass(frozen=True)
class SeenRequest(_base.SeenRequest):
    """A request as it arrived (the Authorization header is never kept)."""

    idempotency_key: str | None


# --- internal state ---------------------------------------------------------------------------


@dataclass
class _Account:
    id: str
    username: str
    created_at: float
    followers: int = 0
    statuses: int = 0  # not deleted
    last_status_at: float | None = None


@dataclass
class _Media(Processing):
    id: str
    account_id: str
    description: str | None
    mime_type: str
    filename: str
    size: int
    status_id: str | None = None

    @property
    def kind(self) -> str:
        if self.mime_type == "image/gif":
            return "gifv"
        major = self.mime_type.split("/", 1)[0]
        return major if major in ("image", "video", "audio") else "unknown"

    @property
    def ready(self) -> bool:
        return not self.processing and not self.failed


@dataclass
class _Status:
    id: str
    account: _Account
    text: str
    spoiler_text: str
    language: str | None
    visibility: str
    in_reply_to: _Status | None
    media: list[_Media]
    idempotency_key: str | None
    created_at: float
    deleted: bool = False
    favourites: int = 0
    reblogs: int = 0
    replies: int = 0
    quotes: int | None = None


class MastodonSandbox(SandboxBase[int, float]):
    """A loopback Mastodon instance. Use as a context manager or call start()/stop()."""

    seen_type: ClassVar[type[_base.SeenRequest]] = SeenRequest
    processing_fault = "fail_media_processing"

    #: The instance's post length limit (``configuration.statuses.max_characters``).
    max_characters = Option(500)
    #: Seconds an ``Idempotency-Key`` is remembered.
    idempotency_ttl = Option(3600.0)
    #: Reads of an uploaded image that answer 206 ("still processing") before 200.
    media_processing_polls = Option(0)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._accounts: dict[str, _Account] = {}  # by username
        self._tokens: dict[str, _Account] = {}
        self._statuses: dict[str, _Status] = {}
        self._media: dict[str, _Media] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self._family: dict[str, tuple[int, int]] = {}  # account id -> (bucket, count)
        self._last_id = 0
        self._account_ids = itertools.count(1)
        #: The OAuth authorization server; ``oauth.consent_as`` is who "clicks allow".
        self.oauth = OAuthServer(self.clock, plain_pkce=True, mint=self.add_account)
        self.oauth.consent_as = "sandbox"

    # --- control ------------------------------------------------------------------------------

    def add_account(self, username: str, token: str | None = None, *, followers: int = 0) -> str:
        """Create ``username`` (or reuse it) and give it a token; return the token."""
        token = token or secrets.token_urlsafe(24)
        with self._lock:
            account = self._accounts.get(username)
            if account is None:
                account = _Account(str(next(self._account_ids)), username, self.clock())
                self._accounts[username] = account
            account.followers = followers
            self._tokens[token] = account
        return token

    def post_as(
        self, username: str, text: str, *, created_at: float | None = None, language: str = "de"
    ) -> str:
        """A public status by ``username`` (created if new), as if someone else posted it:
        earned use of a hashtag. Returns the status id."""
        with self._lock:
            account = self._accounts.get(username)
            if account is None:
                account = _Account(str(next(self._account_ids)), username, self.clock())
                self._accounts[username] = account
            when = self.clock() if created_at is None else created_at
            status = _Status(
                id=self._next_id(when),
                account=account,
                text=text,
                spoiler_text="",
                language=language,
                visibility="public",
                in_reply_to=None,
                media=[],
                idempotency_key=None,
                created_at=when,
            )
            self._statuses[status.id] = status
            account.statuses += 1
            return status.id

    def statuses(self, username: str | None = None) -> list[SandboxStatus]:
        """Every status created so far (also deleted ones), oldest first."""
        return self._listing(
            self._statuses.values(), _snapshot, lambda s: username in (None, s.account.username)
        )

    def set_engagement(
        self,
        status_id: str,
        *,
        favourites: int = 0,
        reblogs: int = 0,
        replies: int = 0,
        quotes: int | None = None,
    ) -> None:
        """Set a status's counters. ``quotes=None`` leaves ``quotes_count`` out of the entity
        (instances before 4.5 do not send it)."""
        with self._lock:
            status = self._statuses.get(status_id)
            if status is None:
                raise KeyError(f"no status {status_id}")
            status.favourites, status.reblogs, status.replies = favourites, reblogs, replies
            status.quotes = quotes

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` status creations get ``status`` and create nothing."""
        self._queue_failures(count, status)

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` status creations get 429 with a reset ``reset_in`` s ahead."""
        self._queue_rate_limits(count, reset_in)

    def fail_media_processing(self, count: int = 1) -> None:
        """The next ``count`` uploads fail processing: 202, then 422 when polled."""
        self._fail_processing(count)

    # --- request handling ---------------------------------------------------------------------

    def _seen_fields(self, request: HttpRequest) -> dict[str, Any]:
        return {"idempotency_key": request.header("Idempotency-Key")}

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        return _error(status, message)

    def _authenticate(self, request: HttpRequest, *, required: bool = True) -> _Account | None:
        """The token's account, or ``None`` for an anonymous call where that is allowed.

        A missing (when required), unknown or revoked token ends the request with 401.
        """
        header = request.header("Authorization")
        if header is None:
            if required:
                raise Answer(_error(401, MSG_TOKEN_INVALID))
            return None
        scheme, _, token = header.partition(" ")
        with self._lock:
            account = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if account is None or self.oauth.is_expired(token.strip()):
            raise Answer(_error(401, MSG_TOKEN_INVALID))
        return account

    def _account_of(self, request: HttpRequest) -> _Account:
        account = self._authenticate(request)
        assert account is not None
        return account

    # --- statuses -----------------------------------------------------------------------------

    @handles("POST", r"/api/v1/statuses")
    def _post_status(self, request: HttpRequest) -> tuple[HttpResponse, str | None]:
        account = self._account_of(request)
        return self._create_unless_faulted(
            self._failure, self._rate_limited, lambda: self._create_status(request, account)
        )

    @staticmethod
    def _failure(status: int) -> HttpResponse:
        return _error(status, _DEFAULT_ERRORS.get(status, "Error"))

    def _rate_limited(self, reset_in: float) -> HttpResponse:
        reset = self.clock() + reset_in
        return _error(429, MSG_TOO_MANY, _rate_headers(STATUSES_LIMIT, 0, reset))

    def _create_status(self, request: HttpRequest, account: _Account) -> HttpResponse:
        try:  # not _params(): the answer must go through the drop and hold faults
            params, _files = request.params()
        except (ValueError, UnicodeDecodeError):
            return _error(400, MSG_UNPARSABLE)
        text = text_value(params.get("status"))
        spoiler = text_value(params.get("spoiler_text"))
        language = text_value(params.get("language")) or None
        visibility = text_value(params.get("visibility")) or "public"
        key = request.header("Idempotency-Key")
        media_ids = params.get("media_ids") or []
        if not isinstance(media_ids, list):
            media_ids = [media_ids]
        media_ids = [str(m) for m in media_ids]
        reply_id = params.get("in_reply_to_id")

        with self._lock:  # one creation at a time: concurrent repeats of a key see the first
            # before_action :set_thread runs before the idempotency check
            parent = None
            if reply_id not in (None, ""):
                parent = self._statuses.get(str(reply_id))
                if parent is None or parent.deleted:
                    return _error(404, MSG_REPLY_MISSING)
            now = self.clock()
            if key:
                replay = self._idempotent_replay(account, key, now)
                if replay is not None:
                    return self._status_response(replay, account)
            media, problem = self._attachable_media(account, media_ids)
            if problem is not None:
                return _error(422, problem)
            if visibility not in _VISIBILITIES:
                return _error(422, "Validation failed: Visibility is not included in the list")
            if not text.strip() and not media:
                return _error(422, MSG_BLANK)
            if status_length(spoiler, text) > self.max_characters:
                return _error(
                    422,
                    f"Validation failed: Text character limit of {self.max_characters} exceeded",
                )
            bucket = int(now // STATUSES_PERIOD)
            used = self._family.get(account.id, (bucket, 0))
            count = used[1] if used[0] == bucket else 0
            reset = (bucket + 1) * STATUSES_PERIOD
            if count >= STATUSES_LIMIT:
                return _error(429, MSG_TOO_MANY, _rate_headers(STATUSES_LIMIT, 0, reset))
            self._family[account.id] = (bucket, count + 1)
            status = _Status(
                id=self._next_id(now),
                account=account,
                text=text,
                spoiler_text=spoiler,
                language=language,
                visibility=visibility,
                in_reply_to=parent,
                media=media,
                idempotency_key=key or None,
                created_at=now,
            )
            for item in media:
                item.status_id = status.id
            if parent is not None:
                parent.replies += 1
            self._statuses[status.id] = status
            account.statuses += 1
            account.last_status_at = now
            if key:
                self._idempotency[(account.id, key)] = (status.id, now)
            return self._status_response(status, account)

    def _idempotent_replay(self, account: _Account, key: str, now: float) -> _Status | None:
        stored = self._idempotency.get((account.id, key))
        if stored is None:
            return None
        status_id, stored_at = stored
        if now - stored_at >= self.idempotency_ttl:
            del self._idempotency[(account.id, key)]
            return None
        status = self._statuses.get(status_id)
        return status if status is not None and not status.deleted else None

    def _attachable_media(
        self, account: _Account, media_ids: list[str]
    ) -> tuple[list[_Media], str | None]:
        if not media_ids:
            return [], None
        if len(media_ids) > MAX_MEDIA:
            return [], MSG_TOO_MANY_FILES
        found = [self._media.get(media_id) for media_id in media_ids]
        missing = [
            media_id
            for media_id, item in zip(media_ids, found, strict=True)
            if item is None or item.account_id != account.id or item.status_id is not None
        ]
        if missing:
            return [], f"Media {', '.join(missing)} not found or already attached to another post"
        media = [item for item in found if item is not None]
        if any(not item.ready for item in media):
            return [], MSG_UNPROCESSED
        if len(media) > 1 and any(item.kind in ("video", "gifv", "audio") for item in media):
            return [], MSG_VIDEO_AND_IMAGES
        return media, None

    def _status_response(self, status: _Status, account: _Account) -> HttpResponse:
        bucket, count = self._family.get(account.id, (0, 0))
        now = self.clock()
        current = int(now // STATUSES_PERIOD)
        used = count if bucket == current else 0
        headers = _rate_headers(
            STATUSES_LIMIT, max(0, STATUSES_LIMIT - used), (current + 1) * STATUSES_PERIOD
        )
        return json_response(200, self._status_entity(status), headers)

    def _visible_status(self, status_id: str, owner: _Account | None = None) -> _Status:
        """The status ``status_id`` (of ``owner``, if given); a deleted or unknown one ends
        the request with 404."""
        status = self._statuses.get(status_id)
        if status is None or status.deleted or (owner is not None and status.account is not owner):
            raise Answer(_error(404, MSG_NOT_FOUND))
        return status

    @handles("GET", r"/api/v1/statuses/([^/]+)")
    def _get_status(self, request: HttpRequest, status_id: str) -> HttpResponse:
        return self._public(request, lambda: self._status_entity(self._visible_status(status_id)))

    @handles("GET", r"/api/v1/statuses/([^/]+)/source")
    def _status_source(self, request: HttpRequest, status_id: str) -> HttpResponse:
        account = self._account_of(request)
        with self._lock:
            status = self._visible_status(status_id, account)
            return json_response(
                200, {"id": status.id, "text": status.text, "spoiler_text": status.spoiler_text}
            )

    @handles("DELETE", r"/api/v1/statuses/([^/]+)")
    def _delete_status(self, request: HttpRequest, status_id: str) -> HttpResponse:
        account = self._account_of(request)
        with self._lock:
            status = self._visible_status(status_id, account)
            status.deleted = True
            account.statuses -= 1
            if status.in_reply_to is not None:
                status.in_reply_to.replies = max(0, status.in_reply_to.replies - 1)
            entity = self._status_entity(status)
            entity["text"] = status.text  # for delete-and-redraft, as Mastodon does
            return json_response(200, entity)

    # --- accounts -----------------------------------------------------------------------------

    @handles("GET", r"/api/v1/accounts/verify_credentials")
    def _verify_credentials(self, request: HttpRequest) -> HttpResponse:
        account = self._account_of(request)
        with self._lock:
            entity = self._account_entity(account)
        entity["source"] = {
            "privacy": "public",
            "sensitive": False,
            "language": None,
            "note": "",
            "fields": [],
        }
        return json_response(200, entity)

    def _find_account(self, account_id: str) -> _Account:
        """The account ``account_id``; an unknown one ends the request with 404."""
        account = next((a for a in self._accounts.values() if a.id == account_id), None)
        if account is None:
            raise Answer(_error(404, MSG_NOT_FOUND))
        return account

    @handles("GET", r"/api/v1/accounts/([^/]+)")
    def _get_account(self, request: HttpRequest, account_id: str) -> HttpResponse:
        return self._public(request, lambda: self._account_entity(self._find_account(account_id)))

    def _public(self, request: HttpRequest, entity: Callable[[], dict[str, Any]]) -> HttpResponse:
        """A read that needs no token (a given one must be valid): ``entity()``, made under
        the lock."""
        self._authenticate(request, required=False)
        with self._lock:
            return json_response(200, entity())

    @handles("GET", r"/api/v1/accounts/([^/]+)/statuses")
    def _account_statuses(self, request: HttpRequest, account_id: str) -> HttpResponse:
        self._authenticate(request, required=False)
        query = {key: values[-1] for key, values in request.query.items() if values}
        try:
            limit = min(max(int(query.get("limit") or 20), 1), 40)
            max_id = int(query["max_id"]) if query.get("max_id") else None
            since_id = int(query["since_id"]) if query.get("since_id") else None
            min_id = int(query["min_id"]) if query.get("min_id") else None
        except ValueError:
            return _error(400, "Invalid pagination parameter")
        exclude_replies = query.get("exclude_replies", "").lower() in ("1", "true")
        with self._lock:
            account = self._find_account(account_id)
            candidates = [
                s
                for s in self._statuses.values()
                if s.account is account
                and not s.deleted
                and (max_id is None or int(s.id) < max_id)
                and (since_id is None or int(s.id) > since_id)
                and (min_id is None or int(s.id) > min_id)
                and not (exclude_replies and s.in_reply_to is not None)
            ]
            # min_id pages forward from the oldest; everything else backward from the newest
            candidates.sort(key=lambda s: int(s.id), reverse=min_id is None)
            page = candidates[:limit]
            page.sort(key=lambda s: int(s.id), reverse=True)
            body = [self._status_entity(s) for s in page]
        headers = {}
        if page:
            base = f"{self.url}/api/v1/accounts/{account_id}/statuses"
            headers["Link"] = (
                f'<{base}?limit={limit}&max_id={page[-1].id}>; rel="next", '
                f'<{base}?limit={limit}&min_id={page[0].id}>; rel="prev"'
            )
        return json_response(200, body, headers)

    @handles("GET", r"/api/v1/timelines/tag/([^/]+)")
    def _tag_timeline(self, request: HttpRequest, tag: str) -> HttpResponse:
        """Public statuses that use ``#tag``, newest first (max_id paging, limit up to 40)."""
        query = {key: values[-1] for key, values in request.query.items() if values}
        try:
            limit = min(max(int(query.get("limit") or 20), 1), 40)
            max_id = int(query["max_id"]) if query.get("max_id") else None
        except ValueError:
            return _error(400, "Invalid pagination parameter")
        pattern = re.compile(rf"(?<![\w#])#{re.escape(tag)}(?!\w)", re.IGNORECASE)
        with self._lock:
            matching = [
                s
                for s in self._statuses.values()
                if not s.deleted
                and s.visibility == "public"
                and pattern.search(s.text)
                and (max_id is None or int(s.id) < max_id)
            ]
            matching.sort(key=lambda s: int(s.id), reverse=True)
            body = [self._status_entity(s) for s in matching[:limit]]
        return json_response(200, body)

    # --- media --------------------------------------------------------------------------------

    @handles("POST", r"/api/v2/media")
    def _post_media(self, request: HttpRequest) -> HttpResponse:
        account = self._account_of(request)
        params, files = _params(request)
        upload: UploadedFile | None = files.get("file")
        if upload is None:
            return _error(422, "Validation failed: File can't be blank")
        if upload.content_type not in SUPPORTED_MIME_TYPES:
            return _error(422, MSG_BAD_FILE)
        is_video = upload.content_type.split("/", 1)[0] in ("video", "audio")
        if is_video and len(upload.content) > VIDEO_SIZE_LIMIT:
            return _error(422, "Validation failed: File file size must be less than 99 MB")
        description = text_value(params.get("description")) or None
        if description is not None and len(description) > MAX_DESCRIPTION:
            return _error(
                422,
                "Validation failed: Description is too long "
                f"(maximum is {MAX_DESCRIPTION} characters)",
            )
        with self._lock:
            media = _Media(
                id=self._next_id(self.clock()),
                account_id=account.id,
                description=description,
                mime_type=upload.content_type,
                filename=upload.filename,
                size=len(upload.content),
            )
            # A video is transcoded in the background: never ready at once.
            media.process(
                self._processing_fails(), self.media_processing_polls, at_least=int(is_video)
            )
            self._media[media.id] = media
            entity = self._media_entity(media)
        return json_response(200 if media.ready else 202, entity)

    @handles("GET", r"/api/v1/media/([^/]+)")
    def _get_media(self, request: HttpRequest, media_id: str) -> HttpResponse:
        account = self._account_of(request)
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.account_id != account.id:
                return _error(404, MSG_NOT_FOUND)
            if media.failed:
                return _error(422, "Error processing the uploaded file")
            if media.poll():
                return json_response(206, self._media_entity(media, processing=True))
            return json_response(200, self._media_entity(media))

    # --- entities -----------------------------------------------------------------------------

    @handles("GET", r"/api/v2/instance")
    def _instance(self, request: HttpRequest) -> HttpResponse:
        host = self.url.split("://", 1)[1]
        return json_response(
            200,
            {
                "domain": host,
                "title": "campaign-scheduler sandbox",
                "version": "4.3.0 (compatible; campaign-scheduler sandbox)",
                "source_url": "https://github.com/mastodon/mastodon",
                "description": "A loopback Mastodon instance for rehearsals and tests.",
                "languages": ["de", "en"],
                "configuration": {
                    "urls": {"streaming": None},
                    "statuses": {
                        "max_characters": self.max_characters,
                        "max_media_attachments": MAX_MEDIA,
                        "characters_reserved_per_url": 23,
                    },
                    "media_attachments": {
                        "supported_mime_types": sorted(SUPPORTED_MIME_TYPES),
                        "description_limit": MAX_DESCRIPTION,
                        "image_size_limit": 16777216,
                        "image_matrix_limit": 33177600,
                        "video_size_limit": VIDEO_SIZE_LIMIT,
                        "video_frame_rate_limit": 120,
                        "video_matrix_limit": 8294400,
                    },
                },
                "registrations": {"enabled": False, "approval_required": False},
            },
        )

    def _account_entity(self, account: _Account) -> dict[str, Any]:
        last = account.last_status_at
        return {
            "id": account.id,
            "username": account.username,
            "acct": account.username,
            "display_name": account.username,
            "locked": False,
            "bot": False,
            "group": False,
            "created_at": _iso(account.created_at),
            "note": "",
            "url": f"{self.url}/@{account.username}",
            "uri": f"{self.url}/users/{account.username}",
            "avatar": f"{self.url}/avatars/original/missing.png",
            "header": f"{self.url}/headers/original/missing.png",
            "followers_count": account.followers,
            "following_count": 0,
            "statuses_count": account.statuses,
            "last_status_at": None if last is None else _iso(last)[:10],
            "emojis": [],
            "fields": [],
        }

    def _media_entity(self, media: _Media, *, processing: bool = False) -> dict[str, Any]:
        ready = media.ready and not processing
        url = f"{self.url}/system/media_attachments/files/{media.id}/original/{media.filename}"
        return {
            "id": media.id,
            "type": media.kind,
            "url": url if ready else None,
            "preview_url": url if ready else None,
            "remote_url": None,
            "description": media.description,
            "blurhash": None,
            "meta": {},
        }

    def _status_entity(self, status: _Status) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "id": status.id,
            "created_at": _iso(status.created_at),
            "in_reply_to_id": status.in_reply_to.id if status.in_reply_to else None,
            "in_reply_to_account_id": (
                status.in_reply_to.account.id if status.in_reply_to else None
            ),
            "sensitive": False,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": f"{self.url}/users/{status.account.username}/statuses/{status.id}",
            "url": f"{self.url}/@{status.account.username}/{status.id}",
            "replies_count": status.replies,
            "reblogs_count": status.reblogs,
            "favourites_count": status.favourites,
            "edited_at": None,
            "content": _html(status.text),
            "reblog": None,
            "application": {"name": "campaign-scheduler", "website": None},
            "account": self._account_entity(status.account),
            "media_attachments": [self._media_entity(m) for m in status.media],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        if status.quotes is not None:
            entity["quotes_count"] = status.quotes
        return entity

    def _next_id(self, now: float) -> str:
        """Snowflake-like ids as Mastodon makes them: milliseconds << 16, always increasing."""
        with self._lock:
            self._last_id = max(self._last_id + 1, int(now * 1000) << 16)
            return str(self._last_id)

    # --- OAuth ---------------------------------------------------------------------------------

    @handles("POST", r"/api/v1/apps")
    def _register_app(self, request: HttpRequest) -> HttpResponse:
        params, _files = _params(request)
        name = text_value(params.get("client_name"))
        uris = params.get("redirect_uris") or []
        uris = [str(u) for u in (uris if isinstance(uris, list) else str(uris).split())]
        if not name:
            return _error(422, "Validation failed: Application name can't be blank")
        if not uris:
            return _error(422, "Validation failed: Redirect URI can't be blank")
        scopes = frozenset((text_value(params.get("scopes")) or "read").split())
        client = self.oauth.add_app(uris, scopes=scopes, name=name)
        return json_response(
            200,
            {
                "id": client.client_id[:8],
                "name": name,
                "website": params.get("website"),
                "scopes": sorted(scopes),
                "redirect_uri": "\n".join(uris),
                "redirect_uris": uris,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )

    @handles("GET", r"/oauth/authorize")
    def _authorize(self, request: HttpRequest) -> HttpResponse:
        query = {k: v[-1] for k, v in request.query.items() if v}
        return self.oauth.authorize(query)

    @handles("POST", r"/oauth/token")
    def _token(self, request: HttpRequest) -> HttpResponse:
        params, _files = _params(request)
        status, body = self.oauth.token({k: str(v) for k, v in params.items()})
        return json_response(status, body)

    # --- control over HTTP --------------------------------------------------------------------

    def _view_statuses(self) -> list[dict[str, Any]]:
        return [_status_json(s) for s in self.statuses()]

    def _control_accounts(self, body: dict[str, Any]) -> dict[str, Any]:
        token = self.add_account(
            str(body["username"]), body.get("token"), followers=int(body.get("followers", 0))
        )
        return {"token": token}

    def _control_engagement(self, body: dict[str, Any]) -> None:
        figures = counts(body, favourites=0, reblogs=0, replies=0, quotes=None)
        self.set_engagement(str(body["status_id"]), **figures)

    # --- the API ------------------------------------------------------------------------------

    unknown_route_message = MSG_NOT_FOUND


# --- helpers ----------------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return json_response(status, {"error": message}, headers)


def _rate_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def _moment(timestamp: float) -> datetime:
    """``timestamp`` as an aware UTC datetime, to the millisecond (what the API shows)."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _iso(timestamp: float) -> str:
    """Mastodon's timestamp format: UTC with milliseconds and a Z."""
    moment = _moment(timestamp)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _params(request: HttpRequest) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """The request's parameters and files; a malformed body ends the request with 400."""
    try:
        return request.params()
    except (ValueError, UnicodeDecodeError):
        raise Answer(_error(400, MSG_UNPARSABLE)) from None


def _html(text: str) -> str:
    """Plain text as Mastodon renders it: paragraphs on blank lines, <br /> on single ones."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(
        "<p>" + "<br />".join(html.escape(line, quote=False) for line in p.split("\n")) + "</p>"
        for p in paragraphs
    )


def _snapshot(status: _Status) -> SandboxStatus:
    return snapshot(
        SandboxStatus,
        status,
        username=status.account.username,
        media=tuple(
            SandboxMedia(m.id, m.description, m.mime_type, m.filename, m.size) for m in status.media
        ),
        in_reply_to_id=status.in_reply_to.id if status.in_reply_to else None,
        created_at=_moment(status.created_at),
    )


def _status_json(status: SandboxStatus) -> dict[str, Any]:
    return fields_of(
        status,
        *("id", "username", "text", "language", "idempotency_key", "media"),
        *("in_reply_to_id", "created_at", "visibility", "deleted"),
        media=("id", "alt", "mime_type"),
    )
