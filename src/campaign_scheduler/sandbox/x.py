"""X (API v2) on loopback: posts, media and the account's timeline (channels.md §4).

Used by rehearsals and tests. What it implements:

* OAuth 1.0a user context, verified for real: every request's HMAC-SHA1 signature is checked
  with oauthlib's server-side endpoint against the app's consumer secret and the user's token
  secret (nonces may not repeat, timestamps may be 10 minutes off). A wrong secret, an unknown
  or revoked token gets 401 in X's problem shape; a Bearer token gets 403 "Unsupported
  Authentication" (app-only tokens cannot post).
* ``POST /2/tweets`` (JSON only; 400 otherwise): twitter-text v3 weighted length, identical text
  from the same user refused with 403 "duplicate content", replies, up to four media that must
  have finished processing; 201 ``{"data": {"id", "text", "edit_history_tweet_ids"}}``. Ids are
  snowflakes (creation time in milliseconds << 22), as X's are. ``x-rate-limit-*`` headers with
  epoch-second resets (a 15-minute window) and, when a daily cap is set, ``x-user-limit-24hour-*``.
* ``GET /2/tweets/:id`` with ``tweet.fields`` (``public_metrics``, ``non_public_metrics`` for the
  author's own posts younger than 30 days, else a field error as X sends it, ``created_at``,
  ``entities``, ``attachments``, ``referenced_tweets``); ``DELETE /2/tweets/:id``.
* ``GET /2/users/me`` (``user.fields=public_metrics``) and ``GET /2/users/:id/tweets``
  (``max_results`` 5–100, ``pagination_token``, ``start_time``, ``end_time``, ``since_id``,
  ``until_id``, ``exclude``) with its own rate limit.
* ``POST /2/media/upload`` (multipart ``media`` or base64 JSON) → ``data.id``; the chunked
  upload for videos: ``POST /2/media/upload/initialize`` (JSON ``media_type``,
  ``total_bytes``), ``POST /2/media/upload/:id/append`` (multipart ``segment_index``,
  ``media``; 5 MB per segment), ``POST /2/media/upload/:id/finalize`` (the segments must add
  up; a video is then always processed asynchronously);
  ``GET /2/media/upload?command=STATUS`` moving ``pending → in_progress → succeeded`` over
  ``media_processing_polls`` polls; ``POST /2/media/metadata`` for alt text (≤ 1000 characters).
* Text as X shows it back: ``&``, ``<``, ``>`` escaped, every link replaced by a ``t.co`` link
  (``entities.urls`` keep the original as ``expanded_url``), a ``t.co`` link to the media
  appended to posts with media.

What channels.md marks UNVERIFIED is a constructor argument (and settable over HTTP under
``/_sandbox/settings``): ``duplicate_window`` (how far back identical text is refused; ``None``
turns the check off), ``too_long_status`` (400 or 403 for over-long text), ``timeline_lag``
(seconds before a new post shows in the user's timeline), ``post_limit``/``daily_post_limit``
/``timeline_limit``, and ``non_public_metrics`` (whether the token may read them at all).

Faults and inspection, from Python and over HTTP (loopback only, no signature) under
``/_sandbox/``: ``POST /_sandbox/faults`` with ``fail_next`` (``count``, ``status``),
``rate_limit_next`` (``count``, ``reset_in``, ``daily``), ``drop_after_create``,
``hold_after_create``, ``release``, ``fail_media_processing``, ``revoke`` (``token``),
``delay``; ``POST /_sandbox/accounts`` ``{"username", "followers", "write"}`` → the four
credentials; ``POST /_sandbox/engagement`` ``{"tweet_id", "likes", …}``; ``GET
/_sandbox/statuses``, ``GET /_sandbox/requests``.

OAuth 2.0 user context (X's "OAuth 2.0 Authorization Code Flow with PKCE"): ``GET
/i/oauth2/authorize`` (``x.com`` for real; PKCE required) consents at once as :attr:`oauth`
``.consent_as`` (see :meth:`add_user`) and redirects with a ``code``; ``POST /2/oauth2/token``
(``grant_type=authorization_code`` with ``code_verifier``, or ``refresh_token``; the client
authenticates with HTTP Basic, a public client sends only ``client_id``) answers ``{"token_type":
"bearer", "access_token", "expires_in": 7200, "scope"}`` and, with the scope ``offline.access``,
a ``refresh_token`` that rotates (each one works once); ``POST /2/oauth2/revoke``. Such a token
is accepted as ``Authorization: Bearer`` where its scopes allow (``tweet.write`` to post,
``media.write`` to upload, ``users.read`` for ``/2/users``, ``tweet.read`` to read posts);
after two hours it is refused with 401.

Not modelled: polls, quotes, edits, chunked uploads, video.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import math
import re
import secrets
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlencode

from dateutil.parser import isoparse
from oauthlib.oauth1 import (  # type: ignore[import-untyped]
    SIGNATURE_HMAC_SHA1,
    RequestValidator,
    ResourceEndpoint,
)

from campaign_scheduler.imagetypes import image_info
from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.sandbox._base import (
    Answer,
    Option,
    Processing,
    SandboxBase,
    handles,
    one_of,
    only_known,
    optional,
    snapshot,
    whole,
)
from campaign_scheduler.sandbox._oauth import (
    OAuthApp,
    OAuthError,
    OAuthServer,
    query_params,
)
from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    UploadedFile,
    json_response,
)
from campaign_scheduler.sandbox._text import clusters, is_emoji

TWITTER_EPOCH_MS = 1288834974657
WINDOW = 15 * 60.0
DAY = 24 * 3600.0
MAX_MEDIA = 4
MAX_ALT_TEXT = 1000
IMAGE_LIMIT = 5 * 1024 * 1024
MEDIA_EXPIRY = 24 * 3600
NON_PUBLIC_DAYS = 30
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
VIDEO_LIMIT = 512 * 1024 * 1024
SEGMENT_LIMIT = 5 * 1024 * 1024  # one APPEND

# --- the length table (twitter-text v3 ``config/v3.json``, channels.md §4) ---------------------

MAX_WEIGHTED_LENGTH = 280
_SCALE = 100
_DEFAULT_WEIGHT = 200  # an emoji sequence, and every code point outside the ranges below
_URL_WEIGHT = 23 * _SCALE  # ``transformedURLLength``
#: Code point ranges that weigh 100 (one character).
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
#: Top-level domains a URL without a scheme is recognised by (the common ones; twitter-text
#: knows all). A URL with a scheme counts whatever its domain.
_BARE_TLDS = "com|org|net|de|eu|info|io|app|dev|social|gov|edu|nrw|ruhr|berlin|at|ch|uk"
_URL = re.compile(
    r"(?<![\w@./-])(?:https?://[^\s<>\"]*[^\s<>\".,;:!?'(\)\[\]]"
    rf"|(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_BARE_TLDS})\b(?:/[^\s<>\"]*[^\s<>\".,;:!?'(\)\[\]])?)",
    re.IGNORECASE,
)


def weighted_length(text: str) -> int:
    """A post's weighted length as twitter-text v3 counts it: NFC first; each URL 23; each
    emoji sequence 2; each other code point 1 inside the light ranges, else 2."""
    text = unicodedata.normalize("NFC", text)
    weight = 0
    position = 0
    for url in _URL.finditer(text):
        weight += _plain_weight(text[position : url.start()]) + _URL_WEIGHT
        position = url.end()
    weight += _plain_weight(text[position:])
    return weight // _SCALE


def _plain_weight(text: str) -> int:
    weight = 0
    for cluster in clusters(text):
        if is_emoji(cluster):
            weight += _DEFAULT_WEIGHT
            continue
        for char in cluster:
            code = ord(char)
            light = any(low <= code <= high for low, high in _LIGHT_RANGES)
            weight += _SCALE if light else _DEFAULT_WEIGHT
    return weight


_INVALID_CHARACTERS = ("\ufffe", "\ufeff", "\uffff")

PROBLEM_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
PROBLEM_REPLY_GONE = "You attempted to reply to a Tweet that is deleted or not visible to you."
PROBLEM_TOO_LONG = "Your Tweet text is too long."
PROBLEM_READ_ONLY = (
    "Your client app is not configured with the appropriate oauth1 app permissions for this "
    "endpoint."
)
PROBLEM_APP_ONLY = (
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
    "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
)
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found Error",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_PROBLEMS = "https://api.twitter.com/2/problems/"
_TCO_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


# --- what tests and rehearsals can inspect ---------------------------------------------------


@dataclass(frozen=True)
class XCredentials:
    """What an adapter needs for one account (config keys of the same names)."""

    api_key: str
    api_secret: str
    access_token: str
    access_secret: str


@dataclass(frozen=True)
class SandboxMedia:
    id: str
    alt: str | None
    mime_type: str
    size: int


@dataclass(frozen=True)
class SandboxTweet:
    """A post the sandbox created (snapshot)."""

    id: str
    username: str
    text: str  # as sent
    media: tuple[SandboxMedia, ...]
    in_reply_to: str | None
    created_at: datetime
    deleted: bool


# --- internal state ---------------------------------------------------------------------------


@dataclass
class _User:
    id: str
    username: str
    followers: int = 0
    write: bool = True


@dataclass
class _Media(Processing):
    id: str
    owner: _User
    mime_type: str
    size: int
    width: int
    height: int
    created_at: float
    alt: str | None = None
    #: A chunked upload: the bytes announced by INIT, the segments APPENDed, FINALIZE done.
    total_bytes: int = 0
    segments: dict[int, int] = field(default_factory=dict)
    finalized: bool = True

    @property
    def key(self) -> str:
        return f"{7 if self.mime_type.startswith('video/') else 3}_{self.id}"

    @property
    def state(self) -> str:
        if not self.finalized:
            return "pending"  # never usable before FINALIZE
        if self.processing:
            return "in_progress"
        return "failed" if self.failed else "succeeded"


@dataclass
class _Tweet:
    id: str
    author: _User
    text: str
    media: list[_Media]
    in_reply_to: _Tweet | None
    created_at: float
    deleted: bool = False
    metrics: dict[str, int] = field(default_factory=dict)


#: OAuth 2.0 access tokens live two hours.
OAUTH2_LIFETIME = 7200.0
#: The scope each API needs from an OAuth 2.0 user token: (method, path prefix) -> scope.
_SCOPES = (
    ("POST", "/2/tweets", "tweet.write"),
    ("DELETE", "/2/tweets", "tweet.write"),
    ("GET", "/2/tweets", "tweet.read"),
    ("GET", "/2/users", "users.read"),
    ("POST", "/2/media", "media.write"),
    ("GET", "/2/media", "media.write"),
)


class XSandbox(SandboxBase[int, tuple[float, bool]]):
    """A loopback X API. Use as a context manager or call start()/stop()."""

    processing_fault = "fail_media_processing"

    # The knobs (module doc); all but the length limit can also be set over HTTP.
    max_weighted_length = Option(280)
    duplicate_window: Option[float | None] = Option(DAY, optional(float), settable=True)
    too_long_status = Option(400, one_of(400, 403), settable=True)
    timeline_lag = Option(0.0, float, settable=True)
    post_limit = Option(100, whole, settable=True)
    daily_post_limit: Option[int | None] = Option(None, optional(int), settable=True)
    timeline_limit = Option(900, whole, settable=True)
    non_public_metrics = Option(True, bool, settable=True)
    media_processing_polls = Option(0, whole, settable=True)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)

        self._apps: dict[str, str] = {}  # consumer key -> consumer secret
        self._tokens: dict[str, tuple[str, str, _User]] = {}  # token -> (app key, secret, user)
        self._users: dict[str, _User] = {}  # by id
        self._tweets: dict[str, _Tweet] = {}
        self._media: dict[str, _Media] = {}
        self._nonces: dict[tuple[str, str, str], float] = {}
        self._windows: dict[tuple[str, str, int], int] = {}  # (family, user, window) -> used
        self._sequence = itertools.count()
        self._last_id = 0
        self._user_ids = itertools.count(1_450_000_000_000_000_001)
        self._endpoint = ResourceEndpoint(_Validator(self))
        #: OAuth 2.0: apps, codes and the user tokens issued.
        self.oauth = OAuthServer(lambda: self.clock())
        self.api_key, self.api_secret = self.add_app()

    # --- control ------------------------------------------------------------------------------

    def add_app(self) -> tuple[str, str]:
        """A developer app: (consumer key, consumer secret)."""
        key, secret = secrets.token_urlsafe(19)[:25], secrets.token_urlsafe(38)[:50]
        with self._lock:
            self._apps[key] = secret
        return key, secret

    def add_account(
        self,
        username: str,
        *,
        followers: int = 0,
        write: bool = True,
        app: tuple[str, str] | None = None,
    ) -> XCredentials:
        """Create ``username`` (or reuse it) with a fresh user access token of ``app`` (default:
        the sandbox's app). ``write=False`` imitates an app with read-only permissions."""
        api_key, api_secret = app or (self.api_key, self.api_secret)
        with self._lock:
            user = next((u for u in self._users.values() if u.username == username), None)
            if user is None:
                user = _User(str(next(self._user_ids)), username)
                self._users[user.id] = user
            user.followers, user.write = followers, write
            token = f"{user.id}-{secrets.token_urlsafe(30)[:40]}"
            secret = secrets.token_urlsafe(34)[:45]
            self._tokens[token] = (api_key, secret, user)
        return XCredentials(api_key, api_secret, token, secret)

    def add_user(self, username: str, *, followers: int = 0) -> str:
        """Create ``username`` (or reuse it), who signs in at the OAuth 2.0 authorize endpoint
        from now on; returns the user id."""
        with self._lock:
            user = next((u for u in self._users.values() if u.username == username), None)
            if user is None:
                user = _User(str(next(self._user_ids)), username)
                self._users[user.id] = user
            user.followers = followers
        self.oauth.consent_as = user.id
        return user.id

    def add_oauth2_app(self, redirect_uris: Sequence[str], *, public: bool = True) -> OAuthApp:
        """An OAuth 2.0 client (a "Native App" is public: no secret at the token endpoint)."""
        app = self.oauth.add_app(redirect_uris)
        if public:
            app.client_secret = ""
        return app

    def revoke(self, token: str) -> None:
        super().revoke(token)
        self.oauth.revoke(token)

    def statuses(self, username: str | None = None) -> list[SandboxTweet]:
        """Every post created so far (deleted ones too), oldest first."""
        return self._listing(
            self._tweets.values(), _snapshot, lambda t: username in (None, t.author.username)
        )

    def set_engagement(self, tweet_id: str, **metrics: int) -> None:
        """Set counters: ``likes``, ``retweets``, ``replies``, ``quotes``, ``bookmarks``,
        ``impressions``, ``url_link_clicks``, ``user_profile_clicks``."""
        known = {
            "likes",
            "retweets",
            "replies",
            "quotes",
            "bookmarks",
            "impressions",
            "url_link_clicks",
            "user_profile_clicks",
        }
        only_known("metric", metrics, known)
        with self._lock:
            tweet = self._tweets.get(tweet_id)
            if tweet is None:
                raise KeyError(f"no post {tweet_id}")
            tweet.metrics.update({k: int(v) for k, v in metrics.items()})

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` post creations get ``status`` and create nothing."""
        self._queue_failures(count, status)

    def rate_limit_next(
        self, count: int = 1, reset_in: float = 60.0, *, daily: bool = False
    ) -> None:
        """The next ``count`` post creations get 429: the 15-minute window (or, ``daily``, the
        24-hour user cap) is spent and resets ``reset_in`` s ahead."""
        self._queue_rate_limits(count, (reset_in, daily))

    def fail_media_processing(self, count: int = 1) -> None:
        """The next ``count`` uploads end in processing state ``failed``."""
        self._fail_processing(count)

    # --- request handling ---------------------------------------------------------------------

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        return _problem(status, _CONTROL_TITLES.get(status, "Error"), message)

    def _route_context(self, request: HttpRequest) -> tuple[_User] | tuple[()]:
        if request.path.startswith(("/i/oauth2/", "/2/oauth2/")):
            return ()
        return (self._authenticate(request),)

    def _authenticate(self, request: HttpRequest) -> _User:
        header = request.header("Authorization") or ""
        if header.lower().startswith("bearer "):
            user = self._oauth2_user(request, header[7:].strip())
            if user is not None:
                return user
            raise Answer(
                _problem(
                    403,
                    "Unsupported Authentication",
                    PROBLEM_APP_ONLY,
                    kind=_PROBLEMS + "unsupported-authentication",
                )
            )
        query = urlencode(request.query, doseq=True)
        uri = f"http://{request.header('Host') or self.url.split('://', 1)[1]}{request.path}"
        body = (
            request.body.decode("utf-8", "replace")
            if request.content_type == ("application/x-www-form-urlencoded")
            else None
        )
        headers = {key: str(value) for key, value in request.headers.items()}
        valid, checked = self._endpoint.validate_protected_resource_request(
            uri + (f"?{query}" if query else ""), request.method, body, headers
        )
        token = getattr(checked, "resource_owner_key", None)
        with self._lock:
            known = self._tokens.get(token) if valid and isinstance(token, str) else None
        if known is None:
            raise Answer(_problem(401, "Unauthorized", "Unauthorized"))
        return known[2]

    def _oauth2_user(self, request: HttpRequest, token: str) -> _User | None:
        """The user of an OAuth 2.0 user token (refused if it ran out or lacks the scope), or
        ``None`` if ``token`` is no such token (an app-only token)."""
        issued = self.oauth.lookup(token)
        if issued is None:
            return None
        if issued.revoked or issued.expired(self.clock()):
            raise Answer(_problem(401, "Unauthorized", "Unauthorized"))
        needed = next(
            (s for m, p, s in _SCOPES if m == request.method and request.path.startswith(p)), None
        )
        if needed is not None and needed not in issued.scopes:
            raise Answer(
                _problem(
                    403,
                    "Forbidden",
                    f"Missing the scope {needed} for this endpoint.",
                    kind=_PROBLEMS + "client-forbidden",
                )
            )
        with self._lock:
            return self._users[issued.subject]

    # --- OAuth 2.0 ----------------------------------------------------------------------------

    @handles("GET", r"/i/oauth2/authorize")
    def _authorize(self, request: HttpRequest) -> HttpResponse:
        return self.oauth.authorize(query_params(request.query), require_pkce=True)

    @handles("POST", r"/2/oauth2/token")
    def _token(self, request: HttpRequest) -> HttpResponse:
        try:
            params = self._oauth_form(request)
            grant_type = params.get("grant_type")
            if grant_type == "authorization_code":
                grant = self.oauth.redeem(params, require_secret=False, require_pkce=True)
                subject, client_id, scopes = grant.subject, grant.client_id, grant.scopes
            elif grant_type == "refresh_token":
                refresh = self.oauth.use_refresh_token(
                    params.get("refresh_token"), params.get("client_id")
                )
                subject, client_id, scopes = refresh.subject, refresh.client_id, refresh.scopes
            else:
                raise OAuthError(
                    "unsupported_grant_type", "Value passed for the grant type was invalid."
                )
        except OAuthError as exc:
            return json_response(
                exc.status, {"error": exc.error, "error_description": exc.description}
            )
        issued = self.oauth.issue(
            subject,
            client_id,
            scopes,
            OAUTH2_LIFETIME,
            with_refresh="offline.access" in scopes,
        )
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": int(OAUTH2_LIFETIME),
            "access_token": issued.token,
            "scope": " ".join(scopes),
        }
        if issued.refresh_token is not None:
            body["refresh_token"] = issued.refresh_token
        return json_response(200, body)

    @handles("POST", r"/2/oauth2/revoke")
    def _revoke_token(self, request: HttpRequest) -> HttpResponse:
        try:
            params = self._oauth_form(request)
        except OAuthError as exc:
            return json_response(
                exc.status, {"error": exc.error, "error_description": exc.description}
            )
        issued = self.oauth.lookup(params.get("token", ""))
        if issued is None or issued.client_id == params.get("client_id"):
            self.oauth.revoke(params.get("token", ""))
        return json_response(200, {"revoked": True})

    def _oauth_form(self, request: HttpRequest) -> dict[str, str]:
        """The token endpoint's form, with the client authenticated: HTTP Basic for a
        confidential client, ``client_id`` alone for a public one."""
        try:
            fields, _ = request.params()
        except (ValueError, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_request", "Malformed request body") from exc
        params = {k: str(v[-1] if isinstance(v, list) and v else v) for k, v in fields.items()}
        header = request.header("Authorization") or ""
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError) as exc:
                raise OAuthError("invalid_client", "Malformed client credentials", 401) from exc
            client_id, _, secret = decoded.partition(":")
            self.oauth.check_client(unquote(client_id), unquote(secret))
            params["client_id"] = unquote(client_id)
            return params
        app = self.oauth.app(params.get("client_id"))
        if app is None or app.client_secret:
            raise OAuthError("invalid_client", "Missing valid authorization header", 401)
        return params

    def _oauth_secrets(self, client_key: str, token: str) -> tuple[str | None, str | None]:
        with self._lock:
            entry = self._tokens.get(token)
            token_secret = entry[1] if entry is not None and entry[0] == client_key else None
            return self._apps.get(client_key), token_secret

    def _nonce_is_fresh(self, client_key: str, timestamp: str, nonce: str) -> bool:
        now = time.time()
        with self._lock:
            for old, seen in list(self._nonces.items()):
                if now - seen > 1200:
                    del self._nonces[old]
            key = (client_key, timestamp, nonce)
            if key in self._nonces:
                return False
            self._nonces[key] = now
            return True

    # --- posts --------------------------------------------------------------------------------

    @staticmethod
    def _require_write(user: _User) -> None:
        """A read-only token ends the request with X's 403."""
        if not user.write:
            raise Answer(
                _problem(403, "Forbidden", PROBLEM_READ_ONLY, kind=_PROBLEMS + "oauth1-permissions")
            )

    @handles("POST", r"/2/tweets")
    def _post_tweet(self, request: HttpRequest, user: _User) -> tuple[HttpResponse, str | None]:
        self._require_write(user)
        if request.content_type != "application/json":
            return _problem(
                400,
                "Invalid Request",
                "Requests with bodies must have content-type of application/json.",
                kind=_PROBLEMS + "invalid-request",
            ), None
        return self._create_unless_faulted(
            _failure,
            lambda limit: self._too_many(user, limit[0], daily=limit[1]),
            lambda: self._create(request, user),
        )

    def _create(self, request: HttpRequest, user: _User) -> HttpResponse:
        try:
            body = request.json_object()
        except (TypeError, ValueError):
            return _invalid("body", "The request body is not a JSON object.")
        text = body.get("text", "")
        media_spec = body.get("media") or {}
        reply_spec = body.get("reply") or {}
        if (
            not isinstance(text, str)
            or not isinstance(media_spec, dict)
            or not isinstance(reply_spec, dict)
        ):
            return _invalid("text", "text must be a string; media and reply objects.")
        media_ids = media_spec.get("media_ids") or []
        if not isinstance(media_ids, list) or len(media_ids) > MAX_MEDIA:
            return _invalid("media.media_ids", f"At most {MAX_MEDIA} media ids are allowed.")
        if not text and not media_ids:
            return _invalid("text", "Either text or media is required.")
        if any(c in text for c in _INVALID_CHARACTERS):
            return _invalid("text", "The text contains invalid characters.")
        if text and weighted_length(text) > self.max_weighted_length:
            if self.too_long_status == 403:
                return _problem(403, "Forbidden", PROBLEM_TOO_LONG)
            return _invalid("text", PROBLEM_TOO_LONG)
        now = self.clock()
        media: list[_Media] = []
        for media_id in media_ids:
            item = self._media.get(str(media_id))
            usable = (
                item is not None
                and item.owner is user
                and item.state == "succeeded"
                and now - item.created_at < MEDIA_EXPIRY
            )
            if not usable or item is None:
                return _invalid("media.media_ids", "Your media IDs are invalid.")
            media.append(item)
        parent = None
        reply_id = reply_spec.get("in_reply_to_tweet_id")
        if reply_id is not None:
            parent = self._tweets.get(str(reply_id))
            if parent is None or parent.deleted:
                return _problem(403, "Forbidden", PROBLEM_REPLY_GONE)
        if text and self._is_duplicate(user, text, now):
            return _problem(403, "Forbidden", PROBLEM_DUPLICATE)
        limited = self._spend(user, now)
        if limited is not None:
            return limited
        tweet = _Tweet(self._next_id(now), user, text, media, parent, now)
        self._tweets[tweet.id] = tweet
        shown = self._displayed(tweet)
        data = {"id": tweet.id, "text": shown["text"], "edit_history_tweet_ids": [tweet.id]}
        return json_response(201, {"data": data}, self._limit_headers(user, now))

    def _is_duplicate(self, user: _User, text: str, now: float) -> bool:
        if self.duplicate_window is None:
            return False
        return any(
            t.author is user
            and not t.deleted
            and t.text == text
            and now - t.created_at < self.duplicate_window
            for t in self._tweets.values()
        )

    def _spend(self, user: _User, now: float) -> HttpResponse | None:
        """Count one post against the window (and the daily cap); a 429 when spent."""
        window = int(now // WINDOW)
        used = self._windows.get(("post", user.id, window), 0)
        if used >= self.post_limit:
            return self._too_many(user, (window + 1) * WINDOW - now, daily=False)
        if self.daily_post_limit is not None:
            day = int(now // DAY)
            if self._windows.get(("day", user.id, day), 0) >= self.daily_post_limit:
                return self._too_many(user, (day + 1) * DAY - now, daily=True)
            self._windows[("day", user.id, day)] = self._windows.get(("day", user.id, day), 0) + 1
        self._windows[("post", user.id, window)] = used + 1
        return None

    def _limit_headers(
        self, user: _User, now: float, *, exhausted: tuple[float, bool] | None = None
    ) -> dict[str, str]:
        window = int(now // WINDOW)
        remaining = max(0, self.post_limit - self._windows.get(("post", user.id, window), 0))
        reset = (window + 1) * WINDOW
        headers = {
            "x-rate-limit-limit": str(self.post_limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset)),
        }
        daily_limit = self.daily_post_limit
        if daily_limit is not None or (exhausted is not None and exhausted[1]):
            day = int(now // DAY)
            limit = daily_limit if daily_limit is not None else 17
            used = self._windows.get(("day", user.id, day), 0)
            headers.update(
                {
                    "x-user-limit-24hour-limit": str(limit),
                    "x-user-limit-24hour-remaining": str(max(0, limit - used)),
                    "x-user-limit-24hour-reset": str(int((day + 1) * DAY)),
                }
            )
        if exhausted is not None:
            reset_in, daily = exhausted
            prefix = "x-user-limit-24hour" if daily else "x-rate-limit"
            headers[f"{prefix}-remaining"] = "0"
            headers[f"{prefix}-reset"] = str(math.ceil(now + reset_in))
        return headers

    def _too_many(self, user: _User, reset_in: float, *, daily: bool) -> HttpResponse:
        now = self.clock()
        headers = self._limit_headers(user, now, exhausted=(reset_in, daily))
        return _problem(429, "Too Many Requests", "Too Many Requests", headers=headers)

    def _next_id(self, now: float) -> str:
        milliseconds = int(now * 1000) - TWITTER_EPOCH_MS
        candidate = (milliseconds << 22) | (1 << 17) | (next(self._sequence) & 0xFFF)
        self._last_id = max(self._last_id + 1, candidate)
        return str(self._last_id)

    @handles("GET", r"/2/tweets/([^/]+)")
    def _get_tweet(self, request: HttpRequest, user: _User, tweet_id: str) -> HttpResponse:
        fields = _fields(request, "tweet.fields")
        with self._lock:
            tweet = self._tweets.get(tweet_id)
            if tweet is None or tweet.deleted:
                return json_response(200, {"errors": [_not_found(tweet_id)]})
            data, errors = self._tweet_json(tweet, fields, user)
        body: dict[str, Any] = {"data": data}
        if errors:
            body["errors"] = errors
        return json_response(200, body)

    @handles("DELETE", r"/2/tweets/([^/]+)")
    def _delete_tweet(self, request: HttpRequest, user: _User, tweet_id: str) -> HttpResponse:
        self._require_write(user)
        with self._lock:
            tweet = self._tweets.get(tweet_id)
            if tweet is None or tweet.deleted:
                return json_response(200, {"data": {"deleted": False}})
            if tweet.author is not user:
                return _problem(403, "Forbidden", "You are not allowed to delete this Tweet.")
            tweet.deleted = True
            return json_response(200, {"data": {"deleted": True}})

    # --- users --------------------------------------------------------------------------------

    @handles("GET", r"/2/users/me")
    def _me(self, request: HttpRequest, user: _User) -> HttpResponse:
        data: dict[str, Any] = {"id": user.id, "name": user.username, "username": user.username}
        if "public_metrics" in _fields(request, "user.fields"):
            with self._lock:
                count = sum(1 for t in self._tweets.values() if t.author is user and not t.deleted)
            data["public_metrics"] = {
                "followers_count": user.followers,
                "following_count": 0,
                "tweet_count": count,
                "listed_count": 0,
                "like_count": 0,
            }
        return json_response(200, {"data": data})

    @handles("GET", r"/2/users/([^/]+)/tweets")
    def _timeline(self, request: HttpRequest, user: _User, user_id: str) -> HttpResponse:
        query = {key: values[-1] for key, values in request.query.items() if values}
        try:
            max_results = int(query.get("max_results", 10))
            start = _instant(query.get("start_time"))
            end = _instant(query.get("end_time"))
            since_id = int(query["since_id"]) if "since_id" in query else None
            until_id = int(query["until_id"]) if "until_id" in query else None
            before = int(query["pagination_token"], 36) if "pagination_token" in query else None
        except (ValueError, OverflowError):
            return _invalid("query", "One or more query parameters are invalid.")
        if not 5 <= max_results <= 100:
            return _invalid(
                "max_results",
                f"The `max_results` query parameter value [{max_results}] is not between 5 and 100",
            )
        excluded = set(query.get("exclude", "").split(","))
        fields = _fields(request, "tweet.fields")
        now = self.clock()
        with self._lock:
            window = int(now // WINDOW)
            used = self._windows.get(("timeline", user.id, window), 0)
            if used >= self.timeline_limit:
                return self._read_limited(window, now)
            self._windows[("timeline", user.id, window)] = used + 1
            author = self._users.get(user_id)
            if author is None:
                return json_response(200, {"errors": [_not_found(user_id, "user")]})
            found = [
                t
                for t in self._tweets.values()
                if t.author is author
                and not t.deleted
                and now - t.created_at >= self.timeline_lag
                and (start is None or t.created_at >= start)
                and (end is None or t.created_at <= end)
                and (since_id is None or int(t.id) > since_id)
                and (until_id is None or int(t.id) < until_id)
                and (before is None or int(t.id) < before)
                and not ("replies" in excluded and t.in_reply_to is not None)
            ]
            found.sort(key=lambda t: int(t.id), reverse=True)
            page = found[:max_results]
            data = [self._tweet_json(t, fields, user)[0] for t in page]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update({"newest_id": page[0].id, "oldest_id": page[-1].id})
            if len(found) > len(page):
                meta["next_token"] = _base36(int(page[-1].id))
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
        headers = {
            "x-rate-limit-limit": str(self.timeline_limit),
            "x-rate-limit-remaining": str(max(0, self.timeline_limit - used - 1)),
            "x-rate-limit-reset": str(int((window + 1) * WINDOW)),
        }
        return json_response(200, body, headers)

    def _read_limited(self, window: int, now: float) -> HttpResponse:
        headers = {
            "x-rate-limit-limit": str(self.timeline_limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int((window + 1) * WINDOW)),
        }
        return _problem(429, "Too Many Requests", "Too Many Requests", headers=headers)

    # --- media --------------------------------------------------------------------------------

    @handles("POST", r"/2/media/upload")
    def _upload(self, request: HttpRequest, user: _User) -> HttpResponse:
        self._require_write(user)
        try:
            params, files = request.params()
        except (ValueError, UnicodeDecodeError):
            return _invalid("media", "The request body could not be parsed.")
        upload: UploadedFile | None = files.get("media")
        if upload is None and isinstance(params.get("media"), str):
            try:
                content = base64.b64decode(params["media"], validate=True)
            except ValueError:
                return _invalid("media", "media must be base64 in a JSON body.")
            mime = str(params.get("media_type") or "application/octet-stream")
            upload = UploadedFile("upload", mime, content)
        if upload is None:
            return _invalid("media", "The `media` field is required.")
        mime = str(params.get("media_type") or upload.content_type)
        image = image_info(upload.content)
        if mime == "application/octet-stream":
            mime = image.content_type if image else mime
        if mime not in IMAGE_TYPES:
            return _invalid("media_type", f"Unsupported media type {mime}.")
        if len(upload.content) > IMAGE_LIMIT:
            return _invalid("media", "File size exceeds 5242880 bytes.")
        now = self.clock()
        width, height = (image.width, image.height) if image else (0, 0)
        with self._lock:
            media = _Media(
                id=self._next_id(now),
                owner=user,
                mime_type=mime,
                size=len(upload.content),
                width=width,
                height=height,
                created_at=now,
            )
            media.process(self._processing_fails(), self.media_processing_polls)
            self._media[media.id] = media
            data = self._media_json(media, initial=True)
        return json_response(200, {"data": data})

    @handles("POST", r"/2/media/upload/initialize")
    def _initialize(self, request: HttpRequest, user: _User) -> HttpResponse:
        """INIT of a chunked upload (``POST /2/media/upload/initialize``, JSON)."""
        self._require_write(user)
        try:
            body = request.json()
            mime = str(body["media_type"])
            total = int(body["total_bytes"])
        except (KeyError, TypeError, ValueError, UnicodeDecodeError):
            return _invalid("media_type", "Expected {media_type, total_bytes, media_category}.")
        if mime not in VIDEO_TYPES | IMAGE_TYPES:
            return _invalid("media_type", f"Unsupported media type {mime}.")
        if total <= 0 or total > (VIDEO_LIMIT if mime in VIDEO_TYPES else IMAGE_LIMIT):
            return _invalid("total_bytes", f"File size {total} is not allowed for {mime}.")
        now = self.clock()
        with self._lock:
            media = _Media(
                id=self._next_id(now),
                owner=user,
                mime_type=mime,
                size=0,
                width=0,
                height=0,
                created_at=now,
                total_bytes=total,
                finalized=False,
            )
            self._media[media.id] = media
        data = {"id": media.id, "media_key": media.key, "expires_after_secs": MEDIA_EXPIRY}
        return json_response(200, {"data": data})

    @handles("POST", r"/2/media/upload/(\d+)/append")
    def _append(self, request: HttpRequest, user: _User, media_id: str) -> HttpResponse:
        """APPEND one segment (multipart ``segment_index`` and ``media``); 2xx, empty body."""
        try:
            params, files = request.params()
            index = int(str(params.get("segment_index")))
        except (TypeError, ValueError, UnicodeDecodeError):
            return _invalid("segment_index", "segment_index must be an integer.")
        upload = files.get("media")
        if upload is None:
            return _invalid("media", "The `media` field is required.")
        if len(upload.content) > SEGMENT_LIMIT or not 0 <= index <= 999:
            return _invalid("media", "Segment too large or segment_index out of range.")
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.owner is not user or media.finalized:
                return _invalid("media_id", "Invalid media id.")
            media.segments[index] = len(upload.content)
        return HttpResponse(204)

    @handles("POST", r"/2/media/upload/(\d+)/finalize")
    def _finalize(self, request: HttpRequest, user: _User, media_id: str) -> HttpResponse:
        """FINALIZE: the segments must add up to INIT's ``total_bytes``; a video then goes
        through asynchronous processing (``processing_info``, at least one STATUS poll)."""
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.owner is not user or media.finalized:
                return _invalid("media_id", "Invalid media id.")
            received = sum(media.segments.values())
            if sorted(media.segments) != list(range(len(media.segments))) or (
                received != media.total_bytes
            ):
                return _invalid(
                    "media_id",
                    f"File size mismatch: received {received} of {media.total_bytes} bytes.",
                )
            media.size = received
            media.finalized = True
            # Transcoding takes a while: never ready at once.
            media.process(self._processing_fails(), self.media_processing_polls, at_least=1)
            data = self._media_json(media, initial=True)
        return json_response(200, {"data": data})

    @handles("GET", r"/2/media/upload")
    def _media_status(self, request: HttpRequest, user: _User) -> HttpResponse:
        query = {key: values[-1] for key, values in request.query.items() if values}
        if query.get("command") != "STATUS":
            return _invalid("command", "command must be STATUS.")
        with self._lock:
            media = self._media.get(query.get("media_id", ""))
            if media is None or media.owner is not user:
                return _invalid("media_id", "Invalid media id.")
            data = self._media_json(media)
            media.poll()
            return json_response(200, {"data": data})

    @handles("POST", r"/2/media/metadata")
    def _media_metadata(self, request: HttpRequest, user: _User) -> HttpResponse:
        try:
            body = request.json()
            media_id = str(body["id"])
            alt = body["metadata"]["alt_text"]["text"]
        except (KeyError, TypeError, ValueError, UnicodeDecodeError):
            return _invalid("metadata", "Expected {id, metadata: {alt_text: {text}}}.")
        if not isinstance(alt, str) or len(alt) > MAX_ALT_TEXT:
            return _invalid(
                "metadata.alt_text.text", f"Alt text may have at most {MAX_ALT_TEXT} characters."
            )
        with self._lock:
            media = self._media.get(media_id)
            if media is None or media.owner is not user:
                return _invalid("id", "Invalid media id.")
            media.alt = alt
        return json_response(
            200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}}
        )

    def _media_json(self, media: _Media, *, initial: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": media.id,
            "media_key": media.key,
            "size": media.size,
            "expires_after_secs": MEDIA_EXPIRY,
        }
        if media.mime_type.startswith("video/"):
            data["video"] = {"video_type": media.mime_type}
        else:
            data["image"] = {"image_type": media.mime_type, "w": media.width, "h": media.height}
        state = media.state
        if initial and media.processing:
            data["processing_info"] = {"state": "pending", "check_after_secs": 1}
        elif not initial:
            info: dict[str, Any] = {"state": state}
            if state == "in_progress":
                info.update({"check_after_secs": 1, "progress_percent": 50})
            elif state == "failed":
                info["error"] = {"code": 1, "name": "InvalidMedia", "message": "Invalid media"}
            else:
                info["progress_percent"] = 100
            data["processing_info"] = info
        return data

    # --- entities -----------------------------------------------------------------------------

    def _displayed(self, tweet: _Tweet) -> dict[str, Any]:
        """The text as X shows it back (escaped, links on t.co) and its URL entities."""
        from twitter_text import extract_urls_with_indices

        pieces: list[str] = []
        urls: list[dict[str, Any]] = []
        position = 0
        for number, found in enumerate(extract_urls_with_indices(tweet.text)):
            start, end = found["indices"]
            pieces.append(_escape(tweet.text[position:start]))
            original = tweet.text[start:end]
            short = _tco(tweet.id, number)
            offset = sum(len(p) for p in pieces)
            pieces.append(short)
            expanded = original if "://" in original else f"http://{original}"
            urls.append(
                {
                    "start": offset,
                    "end": offset + len(short),
                    "url": short,
                    "expanded_url": expanded,
                    "display_url": original.split("://", 1)[-1][:26],
                }
            )
            position = end
        pieces.append(_escape(tweet.text[position:]))
        text = "".join(pieces)
        if tweet.media:
            short = _tco(tweet.id, 99)
            text = f"{text} {short}" if text else short
            first = tweet.media[0]
            urls.append(
                {
                    "start": len(text) - len(short),
                    "end": len(text),
                    "url": short,
                    "expanded_url": f"https://x.com/{tweet.author.username}/status/{tweet.id}/photo/1",
                    "display_url": "pic.x.com/" + short.rsplit("/", 1)[-1],
                    "media_key": first.key,
                }
            )
        return {"text": text, "urls": urls}

    def _tweet_json(
        self, tweet: _Tweet, fields: set[str], viewer: _User
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        shown = self._displayed(tweet)
        data: dict[str, Any] = {
            "id": tweet.id,
            "text": shown["text"],
            "edit_history_tweet_ids": [tweet.id],
        }
        errors: list[dict[str, Any]] = []
        metrics = tweet.metrics
        if "created_at" in fields:
            data["created_at"] = _iso(tweet.created_at)
        if "author_id" in fields:
            data["author_id"] = tweet.author.id
        if "entities" in fields and shown["urls"]:
            data["entities"] = {"urls": shown["urls"]}
        if "attachments" in fields and tweet.media:
            data["attachments"] = {"media_keys": [m.key for m in tweet.media]}
        if "referenced_tweets" in fields and tweet.in_reply_to is not None:
            data["referenced_tweets"] = [{"type": "replied_to", "id": tweet.in_reply_to.id}]
        if "in_reply_to_user_id" in fields and tweet.in_reply_to is not None:
            data["in_reply_to_user_id"] = tweet.in_reply_to.author.id
        if "public_metrics" in fields:
            data["public_metrics"] = {
                "retweet_count": metrics.get("retweets", 0),
                "reply_count": metrics.get("replies", 0)
                + sum(1 for t in self._tweets.values() if t.in_reply_to is tweet and not t.deleted),
                "like_count": metrics.get("likes", 0),
                "quote_count": metrics.get("quotes", 0),
                "bookmark_count": metrics.get("bookmarks", 0),
                "impression_count": metrics.get("impressions", 0),
            }
        if "non_public_metrics" in fields:
            age = self.clock() - tweet.created_at
            if self.non_public_metrics and tweet.author is viewer and age <= NON_PUBLIC_DAYS * DAY:
                data["non_public_metrics"] = {
                    "impression_count": metrics.get("impressions", 0),
                    "url_link_clicks": metrics.get("url_link_clicks", 0),
                    "user_profile_clicks": metrics.get("user_profile_clicks", 0),
                }
            else:
                errors.append(_field_error(tweet.id, "non_public_metrics"))
        return data, errors

    # --- control over HTTP --------------------------------------------------------------------

    def _view_statuses(self) -> list[dict[str, Any]]:
        return [_tweet_summary(t) for t in self.statuses()]

    def _control_accounts(self, body: dict[str, Any]) -> dict[str, Any]:
        return vars(
            self.add_account(
                str(body["username"]),
                followers=int(body.get("followers", 0)),
                write=bool(body.get("write", True)),
            )
        )

    def _control_engagement(self, body: dict[str, Any]) -> None:
        tweet_id = str(body.pop("tweet_id"))
        self.set_engagement(tweet_id, **{k: int(v) for k, v in body.items()})

    def _apply_rate_limit_next(self, spec: dict[str, Any]) -> None:
        self.rate_limit_next(
            int(spec.get("count", 1)),
            float(spec.get("reset_in", 60.0)),
            daily=bool(spec.get("daily", False)),
        )

    # --- the API (every handler gets the authenticated user after the request) ----------------

    unknown_route_message = "Sorry, that page does not exist."


class _Validator(RequestValidator):  # type: ignore[misc]
    """oauthlib's questions about keys, tokens and nonces, answered from the sandbox."""

    def __init__(self, sandbox: XSandbox) -> None:
        super().__init__()
        self._sandbox = sandbox

    @property
    def enforce_ssl(self) -> bool:
        return False  # loopback

    @property
    def allowed_signature_methods(self) -> tuple[str, ...]:
        return (SIGNATURE_HMAC_SHA1,)  # the only method X accepts

    @property
    def dummy_client(self) -> str:
        return "dummy-client-key"

    @property
    def dummy_access_token(self) -> str:
        return "dummy-access-token"

    def check_client_key(self, client_key: str) -> bool:
        return bool(client_key) and len(client_key) <= 100

    def check_access_token(self, request_token: str) -> bool:
        return bool(request_token) and len(request_token) <= 200

    def check_nonce(self, nonce: str) -> bool:
        return bool(nonce) and len(nonce) <= 100

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return self._sandbox._oauth_secrets(client_key, "")[0] is not None

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return self._sandbox._oauth_secrets(client_key, token)[1] is not None

    def validate_timestamp_and_nonce(
        self, client_key: str, timestamp: str, nonce: str, *_: Any, **__: Any
    ) -> bool:
        return self._sandbox._nonce_is_fresh(client_key, timestamp, nonce)

    def validate_realms(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self._sandbox._oauth_secrets(client_key, "")[0] or "dummy-secret"

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self._sandbox._oauth_secrets(client_key, token)[1] or "dummy-secret"


# --- helpers ----------------------------------------------------------------------------------


#: The titles of the control routes' problems.
_CONTROL_TITLES = {400: "Invalid Request", 403: "Forbidden", 404: "Not Found"}


def _problem(
    status: int,
    title: str,
    detail: str,
    *,
    kind: str = "about:blank",
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    response = json_response(
        status, {"title": title, "detail": detail, "type": kind, "status": status}, headers
    )
    response.headers[0] = ("Content-Type", "application/problem+json")
    return response


def _invalid(parameter: str, message: str) -> HttpResponse:
    response = json_response(
        400,
        {
            "errors": [{"parameters": {parameter: [message]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": _PROBLEMS + "invalid-request",
        },
    )
    response.headers[0] = ("Content-Type", "application/problem+json")
    return response


def _not_found(resource_id: str, kind: str = "tweet") -> dict[str, Any]:
    return {
        "value": resource_id,
        "detail": f"Could not find {kind} with id: [{resource_id}].",
        "title": "Not Found Error",
        "resource_type": kind,
        "parameter": "id",
        "resource_id": resource_id,
        "type": _PROBLEMS + "resource-not-found",
    }


def _field_error(tweet_id: str, field_name: str) -> dict[str, Any]:
    return {
        "value": tweet_id,
        "detail": f"Sorry, you are not authorized to access '{field_name}' on the Tweet with "
        f"ids: [{tweet_id}].",
        "title": "Field Authorization Error",
        "resource_type": "tweet",
        "parameter": "tweet.fields",
        "resource_id": tweet_id,
        "field": field_name,
        "type": _PROBLEMS + "not-authorized-for-field",
    }


def _fields(request: HttpRequest, name: str) -> set[str]:
    return {f for value in request.query.get(name, []) for f in value.split(",") if f}


def _instant(value: str | None) -> float | None:
    if not value:
        return None
    moment = isoparse(unquote(value))
    if moment.tzinfo is None:
        raise ValueError("times must name their zone")
    return moment.timestamp()


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


def _tco(tweet_id: str, number: int) -> str:
    digest = hashlib.sha256(f"{tweet_id}:{number}".encode()).digest()
    slug = "".join(_TCO_ALPHABET[b % len(_TCO_ALPHABET)] for b in digest[:10])
    return f"https://t.co/{slug}"


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def _snapshot(tweet: _Tweet) -> SandboxTweet:
    return snapshot(
        SandboxTweet,
        tweet,
        username=tweet.author.username,
        media=tuple(SandboxMedia(m.id, m.alt, m.mime_type, m.size) for m in tweet.media),
        in_reply_to=tweet.in_reply_to.id if tweet.in_reply_to else None,
        created_at=datetime.fromtimestamp(int(tweet.created_at * 1000) / 1000, UTC),
    )


def _tweet_summary(tweet: SandboxTweet) -> dict[str, Any]:
    return fields_of(
        tweet,
        *("id", "username", "text", "media", "in_reply_to", "created_at", "deleted"),
        media=("id", "alt", "mime_type"),
    )


def _failure(status: int) -> HttpResponse:
    title = _TITLES.get(status, "Error")
    return _problem(status, title, title)
