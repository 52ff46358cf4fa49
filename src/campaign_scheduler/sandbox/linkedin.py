"""LinkedIn's versioned REST API on loopback, for posts of organisation pages (channels.md §7).

Used by rehearsals and tests. What it implements:

* Every ``/rest/`` call needs ``Authorization: Bearer``, a ``LinkedIn-Version: YYYYMM`` header
  (missing → 400 ``VERSION_MISSING``, older than ``oldest_version`` → 426
  ``NONEXISTENT_VERSION``) and ``X-Restli-Protocol-Version: 2.0.0``. Members act for an
  organisation only with a role on it (``ADMINISTRATOR`` or ``CONTENT_ADMIN``; statistics need
  ``ADMINISTRATOR``); otherwise 403 ``ACCESS_DENIED``.
* ``POST /rest/posts`` → 201 with an empty body and the URN in ``x-restli-id``; required fields
  checked; ``commentary`` read in the "little" text format (backslash escapes, ``#hashtag``,
  ``@[Name](urn)`` mentions, ``{hashtag|\\#|tag}``); identical commentary from the same author
  refused with 422 ``DUPLICATE_POST`` naming the earlier URN; ``content.media`` /
  ``content.multiImage`` with images that must be ``AVAILABLE``.
* ``GET /rest/posts/{urn}``, ``GET /rest/posts?q=author&author=…&count=…&start=…``
  (newest first), ``DELETE /rest/posts/{urn}`` → 204.
* Comments API: ``POST /rest/socialActions/{urn}/comments`` with ``actor`` (an organisation the
  member may post for), ``object`` (the post, as in the path) and ``message.text`` (at most
  ``max_comment`` characters, 1250, UNVERIFIED) → 201 with the comment (``id``,
  ``commentUrn`` ``urn:li:comment:({urn},{id})``, ``created.time``) and its URN in
  ``x-restli-id``; ``GET /rest/socialActions/{urn}/comments?start=…&count=…`` (oldest first:
  the order is not documented).
* Images API: ``POST /rest/images?action=initializeUpload`` → ``uploadUrl`` and image URN;
  ``PUT`` to the upload URL; ``GET /rest/images/{urn}`` with ``status`` ``WAITING_UPLOAD →
  PROCESSING → AVAILABLE`` (or ``PROCESSING_FAILED``) over ``image_processing_polls`` polls.
* Videos API: ``POST /rest/videos?action=initializeUpload`` (``owner``, ``fileSizeBytes``) →
  the video URN and one upload URL per 4 MB part; ``PUT`` each part (answered with an
  ``ETag``); ``POST /rest/videos?action=finalizeUpload`` with every ETag in order; ``GET
  /rest/videos/{urn}`` ``PROCESSING`` (at least one read) → ``AVAILABLE``; a post takes an
  available video as ``content.media``.
* ``GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&…&shares=List(…)``
  (and ``ugcPosts=List(…)``), ``GET /rest/networkSizes/{org}?edgeType=…`` (followers),
  ``GET /rest/organizations/{id}``.
* LinkedIn's error body ``{"status", "serviceErrorCode", "code", "message"}`` (401 65600
  "Invalid access token"), and a plain 429 without headers when a daily budget is spent (it
  resets at 00:00 UTC).

What channels.md marks UNVERIFIED is a constructor argument (and settable over HTTP under
``/_sandbox/settings``): ``max_commentary`` (3000), ``unescaped`` (what an unescaped reserved
character does: ``"truncate"`` the visible text there, as reported by third parties,
``"reject"`` with 422, or ``"accept"``), ``duplicate_window`` (seconds; ``None`` = forever),
``ghost_duplicates`` (seconds a deleted post still counts as the original of a duplicate),
``encode_restli_id`` (URL-encode the ``x-restli-id`` header), ``ugc_for_media`` (posts with
media get ``urn:li:ugcPost:`` URNs), ``delete_missing_status`` (204 or 404 for deleting a post
that is gone) and ``daily_post_limit``.

Faults and inspection from Python and over HTTP (loopback only, no token) under ``/_sandbox/``:
``POST /_sandbox/faults`` (``fail_next`` ``{"count", "status"}``, ``rate_limit_next``
``{"count", "daily"}``, ``drop_after_create``, ``hold_after_create``, ``release``,
``fail_image_processing``, ``revoke`` ``{"token"}``, ``delay``); ``POST /_sandbox/accounts``
``{"name", "token", "followers", "role"}`` → ``{"organization", "token"}``;
``POST /_sandbox/engagement`` ``{"post", "impressions", …}``; ``GET /_sandbox/statuses``;
``GET /_sandbox/requests``.

Signing in (LinkedIn's "Authorization Code Flow", "Refresh Tokens with OAuth 2.0" and "Token
Introspection" pages): ``GET /oauth/v2/authorization`` (``www.linkedin.com`` for real) consents
at once as :attr:`oauth` ``.consent_as`` (a member from :meth:`add_member`) and redirects with a
``code``; ``POST /oauth/v2/accessToken`` exchanges it (``grant_type=authorization_code``) for
``{"access_token", "expires_in", "scope"}`` — 60 days — plus ``refresh_token`` and
``refresh_token_expires_in`` (a year, counted from the first grant and not renewed) when the app
has refresh tokens; ``grant_type=refresh_token`` gives a new access token and the same refresh
token. ``POST /oauth/v2/introspectToken`` answers ``active``, ``status``, ``expires_at``.
``GET /rest/organizationAcls?q=roleAssignee`` lists the caller's roles on organisations. Issued
tokens run out on the sandbox's clock and are then refused with 401 ``serviceErrorCode`` 65601.

Not modelled: member (person) posts, videos and documents, edits (PARTIAL_UPDATE), replies
to comments, reshares, sponsored content, time-bound statistics.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote, unquote, urlencode

from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.sandbox import _base
from campaign_scheduler.sandbox._base import (
    Answer,
    Option,
    Processing,
    SandboxBase,
    handles,
    one_of,
    only_known,
    optional,
    present,
    snapshot,
)
from campaign_scheduler.sandbox._oauth import (
    IssuedToken,
    OAuthApp,
    OAuthError,
    OAuthServer,
    query_params,
)
from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    json_response,
)

DAY = 24 * 3600.0
MAX_IMAGES = 20
MAX_ALT_TEXT = 4086
ACCESS_TOKEN_LIFETIME = 60 * DAY
REFRESH_TOKEN_LIFETIME = 365 * DAY
IMAGE_LIMIT = 36_152_320  # LinkedIn's documented image size limit in bytes (about 36 MB)
VIDEO_LIMIT = 500 * 1024 * 1024  # the Videos API: up to 500 MB
VIDEO_PART = 4 * 1024 * 1024  # initializeUpload hands out one upload URL per 4 MB
ROLES_THAT_POST = frozenset({"ADMINISTRATOR", "CONTENT_ADMIN", "DIRECT_SPONSORED_CONTENT_POSTER"})
UNESCAPED_MODES = ("truncate", "reject", "accept")
RESERVED = frozenset("\\|{}@[]()<>#*_~")
STATISTICS = (
    "impressionCount",
    "uniqueImpressionsCount",
    "clickCount",
    "likeCount",
    "commentCount",
    "shareCount",
)
_VERSION = re.compile(r"(\d{6})(?:\.\d{2})?")
_HASHTAG = re.compile(r"#([^\W_]+)")
_ESCAPE = re.compile(r"\\([" + "".join(map(re.escape, sorted(RESERVED))) + "])")
_MENTION = re.compile(r"@\[([^\]\\]*)\]\((urn:li:(?:person|organization):\d+)\)")
_TEMPLATE = re.compile(r"\{hashtag\|\\?[#＃]\|([^}|]+)\}")


# --- what tests and rehearsals can inspect ---------------------------------------------------


@dataclass(frozen=True)
class LinkedInAccount:
    organization: str  # urn:li:organization:…
    token: str


@dataclass(frozen=True)
class SandboxImage:
    urn: str
    alt: str | None
    size: int


@dataclass(frozen=True)
class SandboxPost:
    """A post the sandbox holds (snapshot)."""

    urn: str
    author: str
    commentary: str  # as sent, in the little format
    text: str  # what readers see
    images: tuple[SandboxImage, ...]
    created_at: datetime
    deleted: bool
    article: dict[str, str] | None = None  # content.article of an article share


@dataclass(frozen=True)
class SeenRequest(_base.SeenRequest):
    """A request as it arrived (no token kept), with the ``LinkedIn-Version`` it asked for."""

    version: str | None


# --- internal state ---------------------------------------------------------------------------


@dataclass
class _Organization:
    id: int
    name: str
    followers: int = 0

    @property
    def urn(self) -> str:
        return f"urn:li:organization:{self.id}"


@dataclass
class _Member:
    urn: str
    roles: dict[str, str]  # organisation urn -> role


@dataclass
class _Image(Processing):
    """An asset of the Images API, and the state machine of every asset: ``WAITING_UPLOAD``
    until its bytes are complete (:meth:`uploaded_now`), then ``PROCESSING`` for
    ``polls_left`` reads, then ``AVAILABLE`` or ``PROCESSING_FAILED``."""

    #: The asset's collection (``/rest/images``) and its name in errors.
    collection: ClassVar[str] = "images"
    noun: ClassVar[str] = "Image"
    #: The fewest reads that find it PROCESSING once uploaded.
    min_polls: ClassVar[int] = 0

    urn: str
    owner: str
    upload_token: str
    size: int = 0
    uploaded: bool = False

    @property
    def status(self) -> str:
        if not self.uploaded:
            return "WAITING_UPLOAD"
        if self.processing:
            return "PROCESSING"
        return "PROCESSING_FAILED" if self.failed else "AVAILABLE"

    def uploaded_now(self, fails: bool, polls: int) -> None:
        """The bytes are complete: processing starts (and ``fails`` in the end)."""
        self.uploaded = True
        self.process(fails, polls, at_least=self.min_polls)

    def read(self, base_url: str) -> dict[str, Any]:
        """``GET /rest/{collection}/{urn}``; one processing poll is used up."""
        status = self.status
        self.poll()
        body: dict[str, Any] = {"id": self.urn, "owner": self.owner, "status": status}
        return body | self._available(base_url) if status == "AVAILABLE" else body

    def _available(self, base_url: str) -> dict[str, Any]:
        return {"downloadUrl": f"{base_url}/dms-downloads/{self.upload_token}"}


@dataclass
class _Video(_Image):
    """A video of the Videos API: uploaded in parts (one ``PUT`` each, answered with an
    ``ETag``), usable once ``finalizeUpload`` named every part's ETag and processing ended
    (transcoding takes at least one read)."""

    collection: ClassVar[str] = "videos"
    noun: ClassVar[str] = "Video"
    min_polls: ClassVar[int] = 1

    parts: list[tuple[int, int]] = field(default_factory=list)  # (firstByte, lastByte)
    etags: dict[int, str] = field(default_factory=dict)  # part index -> ETag

    def _available(self, base_url: str) -> dict[str, Any]:
        return {"duration": 0}  # not decoded by the sandbox


_AssetT = TypeVar("_AssetT", bound=_Image)


@dataclass
class _Post:
    urn: str
    author: str
    commentary: str
    text: str
    body: dict[str, Any]
    images: list[tuple[_Image, str | None]]
    created_at: float
    deleted_at: float | None = None
    statistics: dict[str, float] = field(default_factory=dict)


@dataclass
class _Comment:
    urn: str
    id: str
    post: str
    actor: str
    text: str
    created_at: float


class LinkedInSandbox(SandboxBase[int, bool]):
    """A loopback LinkedIn REST API. Use as a context manager or call start()/stop()."""

    # The knobs (module doc), also settable over HTTP.
    oldest_version = Option("202501", str, settable=True)
    max_commentary = Option(3000, int, settable=True)
    unescaped = Option("truncate", one_of(*UNESCAPED_MODES), settable=True)
    duplicate_window: Option[float | None] = Option(None, optional(float), settable=True)
    ghost_duplicates = Option(0.0, float, settable=True)
    encode_restli_id = Option(False, bool, settable=True)
    ugc_for_media = Option(False, bool, settable=True)
    delete_missing_status = Option(204, one_of(204, 404), settable=True)
    daily_post_limit: Option[int | None] = Option(None, optional(int), settable=True)
    image_processing_polls = Option(0, int, settable=True)
    max_comment = Option(1250, int, settable=True)

    processing_fault = "fail_image_processing"

    seen_type: ClassVar[type[_base.SeenRequest]] = SeenRequest

    default_fail_status = 500

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._organizations: dict[str, _Organization] = {}  # by urn
        self._tokens: dict[str, _Member] = {}
        self._posts: dict[str, _Post] = {}
        self._comments: list[_Comment] = []
        self._images: dict[str, _Image] = {}  # images and videos, by urn
        self._uploads: dict[str, _Image] = {}  # by upload token
        self._video_parts: dict[str, tuple[_Video, int]] = {}  # part upload token -> part
        self._daily: dict[tuple[str, int], int] = {}
        self._post_ids = itertools.count(7_190_000_000_000_000_001)
        self._organization_ids = itertools.count(10_000_001)
        self._member_ids = itertools.count(1)
        self._members: dict[str, _Member] = {}  # by urn
        #: Signing in: apps, codes and the tokens issued to members.
        self.oauth = OAuthServer(lambda: self.clock(), token_prefix="AQV")

    # --- control ------------------------------------------------------------------------------

    def add_account(
        self,
        name: str,
        token: str | None = None,
        *,
        followers: int = 0,
        role: str | None = "ADMINISTRATOR",
    ) -> LinkedInAccount:
        """Create the organisation page ``name`` (or reuse it) and a member token with
        ``role`` on it (``None``: no role at all)."""
        token = token or f"AQV{secrets.token_urlsafe(48)}"
        with self._lock:
            organization = next((o for o in self._organizations.values() if o.name == name), None)
            if organization is None:
                organization = _Organization(next(self._organization_ids), name)
                self._organizations[organization.urn] = organization
            organization.followers = followers
            member = _Member(f"urn:li:person:m{next(self._member_ids)}", {})
            if role is not None:
                member.roles[organization.urn] = role
            self._tokens[token] = member
        return LinkedInAccount(organization.urn, token)

    def add_member(self, roles: Mapping[str, str]) -> str:
        """A member with ``roles`` (organisation URN -> role) who signs in at the authorize
        endpoint from now on; returns the member's URN."""
        with self._lock:
            member = _Member(f"urn:li:person:m{next(self._member_ids)}", dict(roles))
            self._members[member.urn] = member
        self.oauth.consent_as = member.urn
        return member.urn

    def add_app(self, redirect_uris: Sequence[str], *, refresh_tokens: bool = True) -> OAuthApp:
        """A developer app; ``refresh_tokens``: whether LinkedIn gave it programmatic refresh
        tokens (only some partner programmes get them)."""
        return self.oauth.add_app(redirect_uris, refresh_tokens=refresh_tokens)

    def statuses(self, organization: str | None = None) -> list[SandboxPost]:
        """Every post created so far (deleted ones too), oldest first."""
        return self._listing(
            self._posts.values(), _snapshot, lambda p: organization in (None, p.author)
        )

    def set_statistics(self, urn: str, **figures: float) -> None:
        """Set a post's lifetime statistics (``impressionCount``, ``uniqueImpressionsCount``,
        ``clickCount``, ``likeCount``, ``commentCount``, ``shareCount``)."""
        only_known("statistic", figures, STATISTICS)
        with self._lock:
            post = self._posts.get(urn)
            if post is None:
                raise KeyError(f"no post {urn}")
            post.statistics.update(figures)

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next ``count`` post creations get ``status`` and create nothing."""
        self._queue_failures(count, status)

    def rate_limit_next(
        self, count: int = 1, reset_in: float = 60.0, *, daily: bool = False
    ) -> None:
        """The next ``count`` post creations get a plain 429. LinkedIn says nothing about when
        to retry, so ``reset_in`` cannot be sent; ``daily`` words the message like the daily
        quota's."""
        self._queue_rate_limits(count, daily)

    def fail_image_processing(self, count: int = 1) -> None:
        """The next ``count`` uploaded images end as ``PROCESSING_FAILED``."""
        self._fail_processing(count)

    # --- request handling ---------------------------------------------------------------------

    def _seen_fields(self, request: HttpRequest) -> dict[str, Any]:
        return {"path": unquote(request.path), "version": request.header("LinkedIn-Version")}

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        return _error(status, message, code="NOT_FOUND" if status == 404 else None)

    def _route_context(self, request: HttpRequest) -> tuple[_Member] | tuple[()]:
        if not request.path.startswith("/rest/"):
            return ()  # the upload URL carries its own token
        member = self._authenticate(request)
        self._check_headers(request)
        return (member,)

    @handles("POST", r"/rest/(images|videos)")
    def _asset_action(self, request: HttpRequest, member: _Member, collection: str) -> HttpResponse:
        action = request.query.get("action", [""])[-1]
        if (collection, action) == ("images", "initializeUpload"):
            return self._initialize_upload(request, member)
        if (collection, action) == ("videos", "initializeUpload"):
            return self._initialize_video(request, member)
        if (collection, action) == ("videos", "finalizeUpload"):
            return self._finalize_video(request, member)
        return self._error_envelope(404, self.unknown_route_message)

    # --- authentication and headers -----------------------------------------------------------

    def _authenticate(self, request: HttpRequest) -> _Member:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Answer(_error(401, "Empty oauth2 access token", service_code=65604))
        with self._lock:
            member = self._tokens.get(token.strip())
        if member is None:
            raise Answer(_error(401, "Invalid access token", service_code=65600))
        if self.oauth.is_expired(token.strip()):
            raise Answer(
                _error(401, "The token used in the request has expired", service_code=65601)
            )
        return member

    # --- signing in ---------------------------------------------------------------------------

    @handles("GET", r"/oauth/v2/authorization")
    def _authorize(self, request: HttpRequest) -> HttpResponse:
        return self.oauth.authorize(query_params(request.query))

    @handles("POST", r"/oauth/v2/accessToken")
    def _access_token(self, request: HttpRequest) -> HttpResponse:
        try:
            params = _form(request)
            grant_type = params.get("grant_type")
            if grant_type == "authorization_code":
                grant = self.oauth.redeem(params)
                app = self.oauth.check_client(grant.client_id, params.get("client_secret"))
                issued = self.oauth.issue(
                    grant.subject,
                    grant.client_id,
                    grant.scopes,
                    ACCESS_TOKEN_LIFETIME,
                    with_refresh=app.refresh_tokens,
                    refresh_lifetime=REFRESH_TOKEN_LIFETIME,
                )
            elif grant_type == "refresh_token":
                app = self.oauth.check_client(params.get("client_id"), params.get("client_secret"))
                refresh = self.oauth.use_refresh_token(
                    params.get("refresh_token"), app.client_id, rotate=False
                )
                issued = self.oauth.issue(
                    refresh.subject, app.client_id, refresh.scopes, ACCESS_TOKEN_LIFETIME
                )
                issued.refresh_token = refresh.token
            else:
                raise OAuthError("unsupported_grant_type", "A required parameter is missing")
        except OAuthError as exc:
            return json_response(
                exc.status, {"error": exc.error, "error_description": exc.description}
            )
        with self._lock:
            self._tokens[issued.token] = self._members[issued.subject]
        return json_response(200, self._token_body(issued))

    def _token_body(self, issued: IssuedToken) -> dict[str, Any]:
        now = self.clock()
        body: dict[str, Any] = {
            "access_token": issued.token,
            "expires_in": issued.expires_in(now),
            "scope": ",".join(issued.scopes),
        }
        if issued.refresh_token is not None:
            expiry = self.oauth.refresh_expiry(issued.refresh_token)
            body["refresh_token"] = issued.refresh_token
            if expiry is not None:
                body["refresh_token_expires_in"] = max(0, int(expiry - now))
        return body

    @handles("POST", r"/oauth/v2/introspectToken")
    def _introspect(self, request: HttpRequest) -> HttpResponse:
        params = _form(request)
        try:
            self.oauth.check_client(params.get("client_id"), params.get("client_secret"))
        except OAuthError as exc:
            return json_response(
                exc.status, {"error": exc.error, "error_description": exc.description}
            )
        issued = self.oauth.lookup(params.get("token", ""))
        if issued is None:
            return json_response(200, {"active": False})
        with self._lock:
            revoked = issued.token not in self._tokens
        status = "revoked" if revoked else "expired" if issued.expired(self.clock()) else "active"
        body: dict[str, Any] = {
            "active": status == "active",
            "client_id": issued.client_id,
            "authorized_at": int(issued.issued_at),
            "created_at": int(issued.issued_at),
            "status": status,
            "scope": ",".join(issued.scopes),
            "auth_type": "3L",
        }
        if issued.expires_at is not None:
            body["expires_at"] = int(issued.expires_at)
        return json_response(200, body)

    @handles("GET", r"/rest/organizationAcls")
    def _organization_acls(self, request: HttpRequest, member: _Member) -> HttpResponse:
        if request.query.get("q", [""])[-1] != "roleAssignee":
            return _error(400, "Invalid finder: expected q=roleAssignee")
        role = request.query.get("role", [None])[-1]
        elements = [
            {
                "roleAssignee": member.urn,
                "state": "APPROVED",
                "role": granted,
                "organization": organization,
            }
            for organization, granted in member.roles.items()
            if role is None or granted == role
        ]
        return json_response(
            200, {"elements": elements, "paging": {"count": 10, "start": 0, "total": len(elements)}}
        )

    def _check_headers(self, request: HttpRequest) -> None:
        version = request.header("LinkedIn-Version")
        if version is None:
            raise Answer(
                _error(
                    400,
                    "A version must be present. Please specify a version by adding the "
                    "LinkedIn-Version header.",
                    code="VERSION_MISSING",
                )
            )
        match = _VERSION.fullmatch(version.strip())
        if match is None or match.group(1) < self.oldest_version:
            raise Answer(
                _error(
                    426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION"
                )
            )
        if (request.header("X-Restli-Protocol-Version") or "").strip() != "2.0.0":
            raise Answer(
                _error(400, "X-Restli-Protocol-Version 2.0.0 is required", code="BAD_REQUEST")
            )

    def _require_role(self, member: _Member, organization: str, *, admin: bool = False) -> None:
        role = member.roles.get(organization)
        allowed = role == "ADMINISTRATOR" if admin else role in ROLES_THAT_POST
        if not allowed:
            raise Answer(
                _error(
                    403,
                    f"Not enough permissions to access: {organization}",
                    code="ACCESS_DENIED",
                    service_code=100,
                )
            )

    # --- posts --------------------------------------------------------------------------------

    @handles("POST", r"/rest/posts")
    def _post(self, request: HttpRequest, member: _Member) -> tuple[HttpResponse, str | None]:
        return self._creating(lambda: self._create(request, member))

    def _creating(self, create: Callable[[], HttpResponse]) -> tuple[HttpResponse, str | None]:
        """A call that creates something (a post, a comment), after the faults it meets."""
        return self._create_unless_faulted(
            lambda status: _error(status, _REASONS.get(status, "Error")),
            lambda daily: _throttled(daily=daily),
            create,
        )

    def _create(self, request: HttpRequest, member: _Member) -> HttpResponse:
        body = _json_object(request)
        if isinstance(body, HttpResponse):
            return body
        missing = [
            name
            for name in ("author", "visibility", "distribution", "lifecycleState")
            if name not in body
        ]
        if missing:
            return _missing(f"/{missing[0]}")
        author = str(body["author"])
        self._require_role(member, author)
        commentary = body.get("commentary", "")
        if not isinstance(commentary, str):
            return _field_error("/commentary", "must be a string", "INVALID_VALUE")
        if body["lifecycleState"] != "PUBLISHED":
            return _field_error("/lifecycleState", "only PUBLISHED is modelled", "INVALID_VALUE")
        too_long = _too_long("/commentary", commentary, self.max_commentary)
        if too_long is not None:
            return too_long
        text, unescaped_at = parse_little(commentary)
        if unescaped_at is not None:
            if self.unescaped == "reject":
                return _field_error(
                    "/commentary",
                    f"unescaped reserved character at position {unescaped_at}",
                    "INVALID_LITTLE_TEXT",
                )
            if self.unescaped == "accept":
                text = parse_little(commentary, lenient=True)[0]
        images, problem = self._attached_images(body.get("content"), author)
        if problem is not None:
            return problem
        now = self.clock()
        original = self._duplicate_of(author, commentary, now)
        if original is not None:
            return _duplicate(original)
        day = (member.urn, int(now // DAY))
        if self.daily_post_limit is not None and self._daily.get(day, 0) >= self.daily_post_limit:
            return _throttled(daily=True)
        self._daily[day] = self._daily.get(day, 0) + 1
        kind = "ugcPost" if images and self.ugc_for_media else "share"
        urn = f"urn:li:{kind}:{next(self._post_ids)}"
        self._posts[urn] = _Post(urn, author, commentary, text, body, images, now)
        header = quote(urn, safe="") if self.encode_restli_id else urn
        return HttpResponse(201, b"", [("x-restli-id", header), ("x-linkedin-id", header)])

    def _attached_images(
        self, content: Any, author: str
    ) -> tuple[list[tuple[_Image, str | None]], HttpResponse | None]:
        if content is None:
            return [], None
        if not isinstance(content, dict):
            return [], _field_error("/content", "must be an object", "INVALID_VALUE")
        if "article" in content:
            return [], self._article_problem(content["article"], author)
        if "media" in content:
            specs = [content["media"]]
        elif "multiImage" in content:
            specs = (content["multiImage"] or {}).get("images") or []
            if not 2 <= len(specs) <= MAX_IMAGES:
                return [], _field_error(
                    "/content/multiImage/images", "must hold 2 to 20 images", "INVALID_VALUE"
                )
        else:
            return [], _field_error("/content", "unsupported content", "INVALID_VALUE")
        images: list[tuple[_Image, str | None]] = []
        for spec in specs:
            urn = str((spec or {}).get("id", ""))
            alt = (spec or {}).get("altText")
            image = self._asset(_Image, urn) or (
                self._asset(_Video, urn) if len(specs) == 1 else None
            )
            if image is None or image.owner != author or image.status != "AVAILABLE":
                return [], _field_error(
                    "/content", f"media {urn} does not exist or is not available", "INVALID_VALUE"
                )
            if alt is not None and (not isinstance(alt, str) or len(alt) > MAX_ALT_TEXT):
                return [], _field_error(
                    "/content", f"altText longer than {MAX_ALT_TEXT}", "INVALID_VALUE_LENGTH"
                )
            images.append((image, alt))
        return images, None

    def _article_problem(self, article: Any, author: str) -> HttpResponse | None:
        """An article share: ``source`` (an http(s) URL) and ``title`` required, optional
        ``description`` and ``thumbnail`` (an available image of the author)."""
        if not isinstance(article, dict):
            return _field_error("/content/article", "must be an object", "INVALID_VALUE")
        source = article.get("source")
        if not isinstance(source, str) or not source.startswith(("https://", "http://")):
            return _field_error("/content/article/source", "must be a URL", "INVALID_VALUE")
        title = article.get("title")
        if not isinstance(title, str) or not title:
            return _field_error("/content/article/title", "is required", "MISSING_FIELD")
        if not isinstance(article.get("description", ""), str):
            return _field_error("/content/article/description", "must be a string", "INVALID_VALUE")
        if "thumbnail" in article:
            urn = str(article["thumbnail"])
            image = self._asset(_Image, urn)
            if image is None or image.owner != author or image.status != "AVAILABLE":
                return _field_error(
                    "/content/article/thumbnail",
                    f"image {urn} does not exist or is not available",
                    "INVALID_VALUE",
                )
        return None

    def _duplicate_of(self, author: str, commentary: str, now: float) -> _Post | None:
        for post in self._posts.values():
            if post.author != author or post.commentary != commentary:
                continue
            if post.deleted_at is not None and now - post.deleted_at >= self.ghost_duplicates:
                continue
            if self.duplicate_window is not None and now - post.created_at >= self.duplicate_window:
                continue
            return post
        return None

    def comments(self, post: str | None = None) -> list[tuple[str, str, str]]:
        """(post URN, actor, text) of every comment (under ``post``), oldest first."""
        with self._lock:
            return [(c.post, c.actor, c.text) for c in self._comments if post in (None, c.post)]

    @handles("POST", r"/rest/socialActions/([^/]+)/comments")
    def _comment(
        self, request: HttpRequest, member: _Member, urn: str
    ) -> tuple[HttpResponse, str | None]:
        return self._creating(lambda: self._create_comment(request, member, urn))

    def _create_comment(self, request: HttpRequest, member: _Member, urn: str) -> HttpResponse:
        body = _json_object(request)
        if isinstance(body, HttpResponse):
            return body
        for name in ("actor", "object", "message"):
            if name not in body:
                return _missing(f"/{name}")
        actor = str(body["actor"])
        self._require_role(member, actor)
        post = self._posts.get(urn)
        if post is None or post.deleted_at is not None:
            return _error(404, f"Post {urn} does not exist", code="NOT_FOUND")
        if body["object"] != urn:
            return _field_error("/object", "must be the entity in the path", "INVALID_VALUE")
        message = body["message"]
        text = message.get("text") if isinstance(message, dict) else None
        if not isinstance(text, str) or not text.strip():
            return _field_error("/message/text", "must be a non-empty string", "INVALID_VALUE")
        too_long = _too_long("/message/text", text, self.max_comment)
        if too_long is not None:
            return too_long
        number = str(next(self._post_ids))
        comment = _Comment(
            f"urn:li:comment:({urn},{number})", number, urn, actor, text, self.clock()
        )
        self._comments.append(comment)
        return HttpResponse(
            201,
            json.dumps(_comment_json(comment)).encode(),
            [("Content-Type", "application/json"), ("x-restli-id", quote(comment.urn, safe=""))],
        )

    @handles("GET", r"/rest/socialActions/([^/]+)/comments")
    def _list_comments(self, request: HttpRequest, member: _Member, urn: str) -> HttpResponse:
        query = {key: values[-1] for key, values in request.query.items() if values}
        paging = _paging(query)
        if isinstance(paging, HttpResponse):
            return paging
        start, count = paging
        with self._lock:
            post = self._posts.get(urn)
            if post is None or post.deleted_at is not None:
                return _error(404, f"Post {urn} does not exist", code="NOT_FOUND")
            self._require_role(member, post.author)
            found = [c for c in self._comments if c.post == urn]
            elements = [_comment_json(c) for c in found[start : start + count]]
        return json_response(
            200,
            {"paging": {"start": start, "count": count, "total": len(found)}, "elements": elements},
        )

    @handles("GET", r"/rest/posts/([^/]+)")
    def _get_post(self, request: HttpRequest, member: _Member, urn: str) -> HttpResponse:
        with self._lock:
            post = self._posts.get(urn)
            if post is None or post.deleted_at is not None:
                return _error(404, f"Post {urn} does not exist", code="NOT_FOUND")
            self._require_role(member, post.author)
            return json_response(200, _post_json(post))

    @handles("GET", r"/rest/posts")
    def _find_posts(self, request: HttpRequest, member: _Member) -> HttpResponse:
        query = {key: values[-1] for key, values in request.query.items() if values}
        if query.get("q") != "author" or "author" not in query:
            return _error(400, "The finder needs q=author and author", code="BAD_REQUEST")
        paging = _paging(query)
        if isinstance(paging, HttpResponse):
            return paging
        start, count = paging
        author = query["author"]
        with self._lock:
            self._require_role(member, author)
            found = [p for p in self._posts.values() if p.author == author and p.deleted_at is None]
            found.sort(key=lambda p: (p.created_at, p.urn), reverse=True)
            page = found[start : start + count]
            elements = [_post_json(p) for p in page]
        links = []
        if start + count < len(found):
            following = urlencode({**query, "start": start + count})
            links.append(
                {"type": "application/json", "rel": "next", "href": f"/rest/posts?{following}"}
            )
        return json_response(
            200,
            {"paging": {"start": start, "count": count, "links": links}, "elements": elements},
        )

    @handles("DELETE", r"/rest/posts/([^/]+)")
    def _delete_post(self, request: HttpRequest, member: _Member, urn: str) -> HttpResponse:
        with self._lock:
            post = self._posts.get(urn)
            if post is None or post.deleted_at is not None:
                if self.delete_missing_status == 404:
                    return _error(404, f"Post {urn} does not exist", code="NOT_FOUND")
                return HttpResponse(204)
            self._require_role(member, post.author)
            post.deleted_at = self.clock()
            return HttpResponse(204)

    # --- images -------------------------------------------------------------------------------

    def _initialize_upload(self, request: HttpRequest, member: _Member) -> HttpResponse:
        try:
            owner = str(request.json()["initializeUploadRequest"]["owner"])
        except (KeyError, TypeError, ValueError, UnicodeDecodeError):
            return _missing("/initializeUploadRequest/owner")
        self._require_role(member, owner)
        with self._lock:
            image = self._new_asset(_Image, owner)
            self._uploads[image.upload_token] = image
        expires = int((self.clock() + DAY) * 1000)
        return json_response(
            200,
            {
                "value": {
                    "uploadUrlExpiresAt": expires,
                    "uploadUrl": f"{self.url}/dms-uploads/{image.upload_token}",
                    "image": image.urn,
                }
            },
        )

    @handles("PUT", r"/dms-uploads/([^/]+)")
    def _upload(self, request: HttpRequest, upload_token: str) -> HttpResponse:
        self._authenticate(request)
        with self._lock:
            part = self._video_parts.get(upload_token)
            if part is not None:
                return self._upload_part(request, *part)
            image = self._uploads.get(upload_token)
            if image is None:
                return _error(404, "Not Found", code="NOT_FOUND")
            if len(request.body) > IMAGE_LIMIT:
                return _error(413, "Request Entity Too Large")
            image.size = len(request.body)
            image.uploaded_now(self._processing_fails(), self.image_processing_polls)
        return HttpResponse(201)

    def _new_asset(self, kind: type[_AssetT], owner: str, **fields: Any) -> _AssetT:
        """A new image or video of ``owner``, waiting for its upload."""
        urn = f"urn:li:{kind.collection[:-1]}:D4E10AQ{secrets.token_urlsafe(12)}"
        asset = kind(urn, owner, secrets.token_urlsafe(24), **fields)
        self._images[asset.urn] = asset
        return asset

    def _asset(self, kind: type[_AssetT], urn: str) -> _AssetT | None:
        """The image or video ``urn`` (``None`` if there is none of that kind)."""
        asset = self._images.get(urn)
        return asset if isinstance(asset, kind) and asset.collection == kind.collection else None

    def _initialize_video(self, request: HttpRequest, member: _Member) -> HttpResponse:
        """``initializeUpload`` of the Videos API: ``owner`` and ``fileSizeBytes`` → the video
        URN and one upload instruction (URL, first and last byte) per 4 MB part."""
        try:
            spec = request.json()["initializeUploadRequest"]
            owner, size = str(spec["owner"]), int(spec["fileSizeBytes"])
        except (KeyError, TypeError, ValueError, UnicodeDecodeError):
            return _missing("/initializeUploadRequest/fileSizeBytes")
        self._require_role(member, owner)
        if not 0 < size <= VIDEO_LIMIT:
            return _field_error(
                "/initializeUploadRequest/fileSizeBytes",
                f"must be between 1 and {VIDEO_LIMIT}",
                "INVALID_VALUE",
            )
        with self._lock:
            video = self._new_asset(
                _Video,
                owner,
                parts=[
                    (first, min(first + VIDEO_PART, size) - 1)
                    for first in range(0, size, VIDEO_PART)
                ],
            )
            instructions = []
            for index, (first, last) in enumerate(video.parts):
                token = secrets.token_urlsafe(24)
                self._video_parts[token] = (video, index)
                instructions.append(
                    {
                        "uploadUrl": f"{self.url}/dms-uploads/{token}",
                        "firstByte": first,
                        "lastByte": last,
                    }
                )
        expires = int((self.clock() + DAY) * 1000)
        value = {
            "uploadUrlsExpireAt": expires,
            "video": video.urn,
            "uploadInstructions": instructions,
            "uploadToken": "",
        }
        return json_response(200, {"value": value})

    def _finalize_video(self, request: HttpRequest, member: _Member) -> HttpResponse:
        """``finalizeUpload``: ``uploadedPartIds`` must be the ETags of every part, in order;
        then the video is PROCESSING for ``image_processing_polls`` reads (at least one)."""
        try:
            spec = request.json()["finalizeUploadRequest"]
            urn, etags = str(spec["video"]), spec["uploadedPartIds"]
        except (KeyError, TypeError, ValueError, UnicodeDecodeError):
            return _missing("/finalizeUploadRequest/uploadedPartIds")
        with self._lock:
            video = self._owned(member, _Video, urn)
            expected = [video.etags.get(index) for index in range(len(video.parts))]
            if None in expected or etags != expected:
                return _field_error(
                    "/finalizeUploadRequest/uploadedPartIds",
                    "do not match the uploaded parts",
                    "INVALID_VALUE",
                )
            video.uploaded_now(self._processing_fails(), self.image_processing_polls)
        return HttpResponse(200)

    def _upload_part(self, request: HttpRequest, video: _Video, index: int) -> HttpResponse:
        first, last = video.parts[index]
        if len(request.body) != last - first + 1:
            return _error(400, "Part size does not match the upload instruction")
        etag = f"/ambry-video/signedId/{secrets.token_urlsafe(16)}"
        video.etags[index] = etag
        video.size = max(video.size, last + 1)
        return HttpResponse(200, b"", [("ETag", etag)])

    def _owned(self, member: _Member, kind: type[_AssetT], urn: str) -> _AssetT:
        """The image or video ``urn``, which ``member`` may use (else :class:`Answer`)."""
        asset = self._asset(kind, urn)
        if asset is None:
            raise Answer(_error(404, f"{kind.noun} {urn} does not exist", code="NOT_FOUND"))
        self._require_role(member, asset.owner)
        return asset

    @handles("GET", r"/rest/(images|videos)/([^/]+)")
    def _get_asset(
        self, request: HttpRequest, member: _Member, collection: str, urn: str
    ) -> HttpResponse:
        kind = _Video if collection == "videos" else _Image
        with self._lock:
            return json_response(200, self._owned(member, kind, urn).read(self.url))

    # --- statistics and organisations ---------------------------------------------------------

    @handles("GET", r"/rest/organizationalEntityShareStatistics")
    def _statistics(self, request: HttpRequest, member: _Member) -> HttpResponse:
        query = {key: values[-1] for key, values in request.query.items() if values}
        organization = query.get("organizationalEntity", "")
        if query.get("q") != "organizationalEntity" or not organization:
            return _error(400, "The finder needs q=organizationalEntity", code="BAD_REQUEST")
        self._require_role(member, organization, admin=True)
        elements = []
        with self._lock:
            for parameter, key in (("shares", "share"), ("ugcPosts", "ugcPost")):
                for urn in _list_param(query.get(parameter)):
                    post = self._posts.get(urn)
                    if post is None or post.author != organization:
                        continue
                    totals: dict[str, float] = dict.fromkeys(STATISTICS, 0)
                    totals.update(post.statistics)
                    engaged = sum(
                        totals[n] for n in ("clickCount", "likeCount", "commentCount", "shareCount")
                    )
                    impressions = totals["impressionCount"]
                    totals["engagement"] = engaged / impressions if impressions else 0.0
                    elements.append(
                        {
                            "organizationalEntity": organization,
                            key: urn,
                            "totalShareStatistics": {
                                k: (int(v) if k != "engagement" else v) for k, v in totals.items()
                            },
                        }
                    )
        return json_response(
            200,
            {"paging": {"start": 0, "count": len(elements), "links": []}, "elements": elements},
        )

    @handles("GET", r"/rest/networkSizes/([^/]+)")
    def _network_size(self, request: HttpRequest, member: _Member, urn: str) -> HttpResponse:
        with self._lock:
            organization = self._organizations.get(urn)
            if organization is None:
                return _error(404, f"{urn} does not exist", code="NOT_FOUND")
            return json_response(200, {"firstDegreeSize": organization.followers})

    @handles("GET", r"/rest/organizations/([^/]+)")
    def _organization(
        self, request: HttpRequest, member: _Member, organization_id: str
    ) -> HttpResponse:
        with self._lock:
            organization = self._organizations.get(f"urn:li:organization:{organization_id}")
            if organization is None:
                return _error(
                    404, f"Organization {organization_id} does not exist", code="NOT_FOUND"
                )
            return json_response(
                200,
                {
                    "id": organization.id,
                    "localizedName": organization.name,
                    "vanityName": re.sub(r"\W+", "-", organization.name.lower()).strip("-"),
                    "primaryOrganizationType": "GOVERNMENT",
                },
            )

    # --- control over HTTP --------------------------------------------------------------------

    def _view_statuses(self) -> list[dict[str, Any]]:
        return [_post_summary(p) for p in self.statuses()]

    def _control_accounts(self, body: dict[str, Any]) -> dict[str, Any]:
        return vars(
            self.add_account(
                str(body["name"]),
                body.get("token"),
                followers=int(body.get("followers", 0)),
                role=body.get("role", "ADMINISTRATOR"),
            )
        )

    def _control_engagement(self, body: dict[str, Any]) -> None:
        urn = str(body.pop("post"))
        self.set_statistics(urn, **{k: float(v) for k, v in body.items()})

    def _apply_rate_limit_next(self, spec: dict[str, Any]) -> None:
        self.rate_limit_next(int(spec.get("count", 1)), daily=bool(spec.get("daily", False)))

    # --- the API (``/rest/`` handlers get the authenticated member after the request) ---------


# --- the little text format -------------------------------------------------------------------


def parse_little(commentary: str, *, lenient: bool = False) -> tuple[str, int | None]:
    """What readers see of ``commentary``, and the position of the first unescaped reserved
    character (``None`` if there is none). The visible text stops there, as LinkedIn is
    reported to cut posts off; ``lenient`` keeps such characters as text instead."""
    out: list[str] = []
    i = 0
    while i < len(commentary):
        construct = _CONSTRUCTS.get(commentary[i])
        found = construct.at(commentary, i) if construct is not None else None
        if found is not None:
            visible, i = found
            out.append(visible)
        elif commentary[i] in RESERVED and not lenient:
            return "".join(out), i
        else:
            out.append(commentary[i])
            i += 1
    return "".join(out), None


@dataclass(frozen=True)
class _Construct:
    """A construct of the little format: its pattern and what readers see of a match."""

    pattern: re.Pattern[str]
    visible: Callable[[re.Match[str]], str]
    word_start: bool = False  # it does not start right after a letter or digit

    def at(self, text: str, i: int) -> tuple[str, int] | None:
        """What readers see of the construct at ``text[i]`` and where it ends, if it is one."""
        if self.word_start and i > 0 and text[i - 1].isalnum():
            return None
        match = self.pattern.match(text, i)
        return None if match is None else (self.visible(match), match.end())


#: The constructs by the character that opens them.
_CONSTRUCTS = {
    "\\": _Construct(_ESCAPE, lambda m: m.group(1)),
    "#": _Construct(_HASHTAG, lambda m: m.group(0), word_start=True),
    "@": _Construct(_MENTION, lambda m: m.group(1)),
    "{": _Construct(_TEMPLATE, lambda m: "#" + m.group(1)),
}


# --- helpers ----------------------------------------------------------------------------------

_REASONS = {
    400: "Bad Request",
    401: "Invalid access token",
    403: "Not enough permissions",
    404: "Not Found",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _form(request: HttpRequest) -> dict[str, str]:
    """A form-encoded body (and the query) as single values."""
    try:
        fields, _ = request.params()
    except (ValueError, UnicodeDecodeError):
        return {}
    return {k: str(v[-1] if isinstance(v, list) and v else v) for k, v in fields.items()}


def _json_object(request: HttpRequest) -> dict[str, Any] | HttpResponse:
    """The request's JSON object, or LinkedIn's 400 for anything else."""
    try:
        return request.json_object()
    except (TypeError, ValueError):
        return _error(400, "Request body is not a JSON object", code="BAD_REQUEST")


def _paging(query: Mapping[str, str]) -> tuple[int, int] | HttpResponse:
    """``(start, count)`` of a collection call, or LinkedIn's 400."""
    try:
        count = int(query.get("count", 10))
        start = int(query.get("start", 0))
    except ValueError:
        return _error(400, "count and start must be numbers", code="BAD_REQUEST")
    if not 1 <= count <= 100 or start < 0:
        return _error(400, "count must be 1 to 100", code="BAD_REQUEST")
    return start, count


def _error(
    status: int, message: str, *, code: str | None = None, service_code: int | None = None
) -> HttpResponse:
    body = present(status=status, message=message, serviceErrorCode=service_code, code=code)
    return json_response(status, body)


def _too_long(path: str, text: str, limit: int) -> HttpResponse | None:
    """LinkedIn's 422 for ``text`` longer than ``limit`` UTF-16 code units, else ``None``."""
    if len(text.encode("utf-16-le", "surrogatepass")) // 2 <= limit:
        return None
    return _field_error(path, f"length exceeds the maximum of {limit}", "INVALID_VALUE_LENGTH")


def _missing(path: str) -> HttpResponse:
    """LinkedIn's 422 for a required field that is absent."""
    return _field_error(
        path,
        "field is required but not found and has no default value",
        "FIELD_REQUIRED_BUT_NOT_FOUND",
    )


def _field_error(path: str, problem: str, code: str) -> HttpResponse:
    return json_response(
        422,
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": f"ERROR :: {path} :: {problem}\n",
            "errorDetails": {
                "inputErrors": [
                    {
                        "description": problem,
                        "input": {"inputPath": {"fieldPath": path}},
                        "code": code,
                    }
                ]
            },
            "status": 422,
        },
    )


def _duplicate(original: _Post) -> HttpResponse:
    return json_response(
        422,
        {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": f"ERROR :: /commentary :: Content is a duplicate of {original.urn}",
            "errorDetails": {
                "inputErrors": [
                    {
                        "description": "Duplicate post is detected",
                        "input": {},
                        "code": "DUPLICATE_POST",
                    }
                ]
            },
            "status": 422,
        },
    )


def _throttled(*, daily: bool) -> HttpResponse:
    message = (
        "Resource level throttle APPLICATION DAY limit for calls to this resource is reached."
        if daily
        else "Too many requests"
    )
    return _error(429, message, code="TOO_MANY_REQUESTS", service_code=101)


def _list_param(value: str | None) -> list[str]:
    """The items of a Rest.li ``List(a,b)`` query value."""
    if not value or not value.startswith("List(") or not value.endswith(")"):
        return []
    return [unquote(item) for item in value[5:-1].split(",") if item]


def _comment_json(comment: _Comment) -> dict[str, Any]:
    millis = int(comment.created_at * 1000)
    return {
        "id": comment.id,
        "commentUrn": comment.urn,
        "object": comment.post,
        "actor": comment.actor,
        "message": {"text": comment.text},
        "created": {"actor": comment.actor, "time": millis},
        "lastModified": {"actor": comment.actor, "time": millis},
    }


def _post_json(post: _Post) -> dict[str, Any]:
    created = int(post.created_at * 1000)
    body: dict[str, Any] = {
        "id": post.urn,
        "author": post.author,
        "commentary": post.commentary,
        "visibility": post.body.get("visibility", "PUBLIC"),
        "distribution": post.body.get("distribution"),
        "lifecycleState": "PUBLISHED",
        "lifecycleStateInfo": {"isEditedByAuthor": False},
        "isReshareDisabledByAuthor": bool(post.body.get("isReshareDisabledByAuthor", False)),
        "createdAt": created,
        "publishedAt": created,
        "lastModifiedAt": created,
    }
    if len(post.images) == 1:
        image, alt = post.images[0]
        body["content"] = {"media": {"id": image.urn, **({"altText": alt} if alt else {})}}
    elif post.images:
        body["content"] = {
            "multiImage": {
                "images": [{"id": i.urn, **({"altText": a} if a else {})} for i, a in post.images]
            }
        }
    return body


def _snapshot(post: _Post) -> SandboxPost:
    return snapshot(
        SandboxPost,
        post,
        images=tuple(SandboxImage(i.urn, alt, i.size) for i, alt in post.images),
        created_at=datetime.fromtimestamp(int(post.created_at * 1000) / 1000, UTC),
        deleted=post.deleted_at is not None,
        article=copy.deepcopy((post.body.get("content") or {}).get("article")),
    )


def _post_summary(post: SandboxPost) -> dict[str, Any]:
    return fields_of(
        post,
        *("urn", "author", "commentary", "text", "images", "created_at", "deleted"),
        images=("urn", "alt", "size"),
    )
