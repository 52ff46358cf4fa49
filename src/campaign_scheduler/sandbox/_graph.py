"""What the Facebook, Instagram and Threads sandboxes share: a loopback Graph API host.

:class:`GraphSandbox` answers the way Meta's Graph hosts do (channels.md §§1, 5, 6, 9):

* paths with or without a version prefix (``/v25.0/…``, ``/v1.0/…``); the version of every
  call is recorded in :attr:`GraphSandbox.requests_seen`;
* the token as ``access_token`` (query, form or multipart) or, if
  :attr:`~GraphSandbox.accept_bearer`, as ``Authorization: Bearer`` (UNVERIFIED for Meta);
  missing → code 104, unknown → 190, revoked → 190 with a subcode (HTTP
  :attr:`~GraphSandbox.auth_status`, 400 by default: UNVERIFIED);
* the error envelope ``{"error": {"message", "type", "code", "error_subcode", "is_transient",
  "fbtrace_id"}}``;
* usage headers on every answer: ``X-App-Usage`` (percent of :attr:`~GraphSandbox.app_budget`
  calls per hour) and ``X-Business-Use-Case-Usage`` (percent of
  :attr:`~GraphSandbox.buc_budget` calls per 24 hours for the account, with
  ``estimated_time_to_regain_access`` in minutes), ``X-Page-Usage`` when listed in
  :attr:`~GraphSandbox.usage_headers` (UNVERIFIED); a used-up budget answers the network's
  throttling code (HTTP :attr:`~GraphSandbox.throttle_status`, 400 by default: UNVERIFIED);
* ``GET /_media/<name>/<path>`` serves folders registered with :meth:`serve_media`, so that
  rehearsals can point ``media_base_url`` at the sandbox; containers fetch their ``image_url``
  for real (:attr:`~ContainerSandbox.fetch_media`) and check type, size and aspect ratio (a
  ``video_url``: an MP4/MOV file of at most :attr:`~GraphSandbox.max_video_bytes`).

:class:`ContainerSandbox` adds the container life cycle of Instagram and Threads:
``IN_PROGRESS`` for :attr:`~ContainerSandbox.container_polls` status reads (a video
container: :attr:`~ContainerSandbox.video_polls`, 2 by default), then ``FINISHED``;
``PUBLISHED`` after publishing; ``EXPIRED`` after :attr:`~ContainerSandbox.container_ttl`
seconds; ``ERROR`` when the download failed or :meth:`~ContainerSandbox.container_error_next`
says so. Publishing an unfinished container is refused (code 9007, subcode 2207027), and so is
publishing beyond the quota of a moving 24-hour window (code 9, subcode 2207042).

Fault switches, with the names of the Mastodon sandbox, act on the next calls that create a
post (Facebook feed/photos/comments, ``media_publish``, ``threads_publish``):
:meth:`~GraphSandbox.fail_next`, :meth:`~GraphSandbox.rate_limit_next`,
:meth:`~GraphSandbox.drop_after_create`, :meth:`~GraphSandbox.hold_after_create` /
:meth:`~GraphSandbox.release`; :attr:`~GraphSandbox.delay` slows every answer,
:attr:`~GraphSandbox.delay_creates` only those of creating calls; :meth:`~GraphSandbox.revoke`
invalidates a token. Over HTTP (loopback clients only, no token):

``POST /_sandbox/faults``
    ``{"fail_next": {"count": 1, "status": 503, "code": 2, "subcode": null, "message": null}}``,
    ``{"rate_limit_next": {"count": 1, "reset_in": 60}}``, ``{"drop_after_create": {"count": 1}}``,
    ``{"hold_after_create": {"count": 1}}``, ``{"release": true}``, ``{"revoke": {"token": "…"}}``,
    ``{"delay": 0.5}``, ``{"delay_creates": 0.5}``, and for containers
    ``{"container_error_next": {"count": 1, "message": "…"}}``.
``POST /_sandbox/accounts``
    ``{"name": "soest", "id": null, "token": null, "followers": 0}`` → ``{"id", "token"}``.
``POST /_sandbox/engagement``
    ``{"post_id": "…", "likes": 3, …}`` (the network's figure names).
``POST /_sandbox/config``
    ``{"<switch>": value}`` for the switches (:attr:`GraphSandbox.options`; every UNVERIFIED
    behaviour is one of them).
``POST /_sandbox/media``
    ``{"folder": "/path/to/posts/soest/media", "name": "soest"}`` → ``{"url": …}``.
``GET /_sandbox/statuses``, ``GET /_sandbox/requests``
    what was created / what arrived, as JSON.
"""

from __future__ import annotations

import itertools
import json
import math
import mimetypes
import re
import secrets
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlencode, urlsplit

from campaign_scheduler.channels._graph import redact_access_tokens
from campaign_scheduler.imagetypes import image_info
from campaign_scheduler.sandbox import _base
from campaign_scheduler.sandbox._base import (
    Answer,
    Option,
    SandboxBase,
    fault_spec,
    only_known,
    present,
    seconds,
    snapshot,
    strict,
)
from campaign_scheduler.sandbox._graph_login import GraphLogin
from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    json_response,
)

# The server logs request lines at DEBUG level; tokens in query strings stay out of the log.
redact_access_tokens("campaign_scheduler.sandbox")

T = TypeVar("T")
_VERSION = re.compile(r"v\d+(\.\d+)?")
_PART = re.compile(r"[^/]+")

MSG_TOKEN_MISSING = "An access token is required to request this resource."
MSG_TOKEN_INVALID = "Invalid OAuth access token - Cannot parse access token"
MSG_TOKEN_REVOKED = {
    460: "Error validating access token: The session has been invalidated because the user "
    "changed their password or Facebook has changed the session for security reasons.",
    463: "Error validating access token: Session has expired.",
    458: "Error validating access token: The user has not authorized application.",
}
MSG_UNKNOWN_ERROR = "An unknown error occurred"
MSG_UNAVAILABLE = "Service temporarily unavailable"
MSG_INVALID_PARAMETER = "(#100) Invalid parameter"
MSG_PERMISSION = "(#200) The user hasn't authorized the application to perform this action"


# --- what tests and rehearsals can inspect ----------------------------------------------------


@dataclass(frozen=True)
class GraphMedia:
    """An image attached to a post, as the sandbox received it."""

    source: str  # the image_url, or the uploaded file's name
    alt: str | None
    content_type: str | None
    size: int | None


@dataclass(frozen=True)
class GraphPost:
    """A post (or comment, or reply) the sandbox created; a snapshot."""

    id: str
    owner_id: str  # the Page, Instagram user or Threads user
    text: str
    kind: str  # facebook: status/link/photo/album/comment; instagram, threads: media_type
    media: tuple[GraphMedia, ...]
    reply_to: str | None  # the parent post of a comment or reply
    link: str | None
    created_at: datetime
    permalink: str
    deleted: bool
    container_id: str | None = None


@dataclass(frozen=True)
class SeenRequest(_base.SeenRequest):
    """A request as it arrived, with the Graph version of its path; the token is never kept."""

    version: str | None


# --- internal state ---------------------------------------------------------------------------


@dataclass
class Principal:
    """An account the sandbox knows (a Page, an Instagram or Threads user)."""

    id: str
    name: str
    created_at: float
    followers: int = 0


@dataclass
class Published:
    """A published Instagram media or Threads post (or reply)."""

    id: str
    owner: Principal
    media_type: str  # the network's name: IMAGE, CAROUSEL_ALBUM, TEXT_POST
    text: str  # Instagram's caption, Threads' text
    media: list[GraphMedia]
    shortcode: str
    created_at: float
    container_id: str
    reply_to: Published | None = None
    deleted: bool = False
    figures: dict[str, int] = field(default_factory=dict)

    @property
    def root(self) -> Published:
        post = self
        while post.reply_to is not None:
            post = post.reply_to
        return post


@dataclass
class _Failure:
    status: int
    code: int | None
    subcode: int | None
    message: str | None


class Window:
    """Events in a moving time window (quotas, budgets)."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self._times: deque[float] = deque()

    def used(self, now: float) -> int:
        while self._times and self._times[0] <= now - self.duration:
            self._times.popleft()
        return len(self._times)

    def add(self, now: float) -> None:
        self.used(now)
        self._times.append(now)

    def frees_at(self, now: float) -> float:
        """When the oldest event leaves the window (``now`` when it is empty)."""
        self.used(now)
        return self._times[0] + self.duration if self._times else now


@dataclass
class Routed:
    """A handler's result: the answer, what to do after the work, whether it created a post."""

    response: HttpResponse
    after: str | None = None  # "drop" or "hold"
    creates: bool = False


class CreateRefused(Answer):
    """A post-creating call answered at once by a queued fault (still delayed like a
    creating call: ``delay_creates``)."""


#: The edges of a node a Graph sandbox answers: ``(edge, method)`` -> ``handler(sandbox, call,
#: ...)`` (see :meth:`GraphSandbox._edge`).
Edges = Mapping[tuple[str, str], Callable[..., Routed | HttpResponse]]


@dataclass(frozen=True)
class Call:
    """One parsed Graph request."""

    request: HttpRequest
    parts: list[str]
    params: dict[str, Any]
    principal: Principal
    token: str

    @property
    def method(self) -> str:
        return self.request.method

    def param(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, list):
            value = value[-1] if value else ""
        return str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.param(name)
        if value is None or value == "":
            return default
        return value.strip().lower() in ("1", "true", "yes")

    def fields(self) -> dict[str, str]:
        return parse_fields(self.param("fields") or "")


def graph_error(
    status: int,
    code: int | None,
    message: str,
    *,
    subcode: int | None = None,
    type_: str = "OAuthException",
    transient: bool | None = None,
    user_title: str | None = None,
    user_message: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """A Graph error envelope."""
    error = present(
        message=message,
        type=type_,
        code=code,
        error_subcode=subcode,
        is_transient=transient,
        error_user_title=user_title,
        error_user_msg=user_message,
        fbtrace_id=secrets.token_urlsafe(12),
    )
    return json_response(status, {"error": error}, headers)


def not_found(object_id: str, method: str = "get") -> HttpResponse:
    return graph_error(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be "
        "loaded due to missing permissions, or does not support this operation. Please read "
        "the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        subcode=33,
        type_="GraphMethodException",
    )


def invalid(
    message: str, *, subcode: int | None = None, user_message: str | None = None
) -> HttpResponse:
    return graph_error(400, 100, message, subcode=subcode, user_message=user_message)


def nonexisting_field(name: str, node: str) -> HttpResponse:
    """Graph's answer to a ``fields`` entry the node does not have."""
    return invalid(f"(#100) Tried accessing nonexisting field ({name}) on node type ({node})")


def unknown_path(parts: list[str]) -> HttpResponse:
    """Graph's answer to an edge that does not exist."""
    return graph_error(400, 2500, f"Unknown path components: /{'/'.join(parts[1:])}")


def graph_time(timestamp: float) -> str:
    """Graph's timestamp format: ``2026-11-30T10:00:00+0000``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def moment(timestamp: float) -> datetime:
    """``timestamp`` as an aware datetime, to the second (what Graph shows)."""
    return datetime.fromtimestamp(int(timestamp), UTC)


def parse_fields(text: str) -> dict[str, str]:
    """``id,reactions.summary(total_count).limit(0),comments{id}`` → field name → modifiers."""
    fields: dict[str, str] = {}
    depth = 0
    start = 0
    for index, char in enumerate(text + ","):
        if char in "({":
            depth += 1
        elif char in ")}":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            item = text[start:index].strip()
            start = index + 1
            if item:
                name = re.split(r"[.{(]", item, maxsplit=1)[0]
                fields[name] = item[len(name) :]
    return fields


def paginate(
    call: Call, items: list[dict[str, Any]], base_url: str, *, default_limit: int = 25
) -> HttpResponse:
    """Cursor paging as Graph does it: ``limit`` and ``after``/``before`` cursors, ``next``."""
    try:
        limit = min(max(int(call.param("limit") or default_limit), 1), 100)
        offset = int(call.param("after") or "0") if (call.param("after") or "0").isdigit() else 0
    except ValueError:
        return invalid("(#100) Invalid pagination parameter")
    page = items[offset : offset + limit]
    body: dict[str, Any] = {"data": page}
    if page:
        paging: dict[str, Any] = {
            "cursors": {"before": str(offset), "after": str(offset + len(page))}
        }
        if offset + len(page) < len(items):
            query = {k: v for k, v in call.params.items() if k not in ("access_token", "after")}
            query["after"] = str(offset + len(page))
            paging["next"] = f"{base_url}{call.request.path}?{urlencode(query, doseq=True)}"
        body["paging"] = paging
    return json_response(200, body)


def time_param(value: str | None) -> float | None:
    """``since``/``until``: Unix seconds or an ISO 8601 time."""
    if value is None or value == "":
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", value):
        return float(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Answer(invalid(f"(#100) Invalid time {value!r}")) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


# --- images -----------------------------------------------------------------------------------


# --- the sandbox ------------------------------------------------------------------------------


def account_throttle(code: int, account: str) -> tuple[int, str]:
    """The code and message of a used-up per-account budget (``account``: "Page",
    "Instagram")."""
    return code, (
        f"(#{code}) There have been too many calls to this {account} account. Wait a bit and "
        "try again. For more info, please refer to "
        "https://developers.facebook.com/docs/graph-api/overview/rate-limiting."
    )


def switch(default: T) -> Option[T]:
    """A Graph switch: an :class:`Option` that takes only values of ``default``'s type."""
    return Option(default, strict(type(default)))


class GraphSandbox(SandboxBase[_Failure, float]):
    """A loopback Graph API host. Subclasses implement one network's routes."""

    seen_type: ClassVar[type[_base.SeenRequest]] = SeenRequest

    #: The network's name (e.g. "facebook").
    network: ClassVar[str]
    #: The error code of a used-up call budget, and its message.
    throttle_code: ClassVar[int] = 4
    throttle_message: ClassVar[str] = "(#4) Application request limit reached"
    #: ``type`` in the business-use-case usage header.
    buc_type: ClassVar[str] = "pages"
    #: How one logs in: "facebook" (Facebook Login) or "threads" (see ``_graph_login``).
    login_style: ClassVar[str] = "facebook"
    #: The figures :meth:`set_engagement` takes (the network's own names).
    figure_names: ClassVar[tuple[str, ...]] = ()
    #: What a post is called in :meth:`set_engagement`'s KeyError.
    post_noun: ClassVar[str] = "post"
    #: The edges of the caller's own account: ``(edge, method)`` -> ``handler(sandbox, call)``.
    own_edges: ClassVar[Edges] = {}
    #: The edges of a post: ``(edge, method)`` -> ``handler(sandbox, call, node)``.
    post_edges: ClassVar[Edges] = {}
    #: The code and message of calling an edge of someone else's account.
    foreign_account_error: ClassVar[tuple[int, str]] = (200, MSG_PERMISSION)
    # The switches (:func:`switch`), settable with :meth:`configure` and
    # ``POST /_sandbox/config``; every UNVERIFIED behaviour is one of them.
    #: Accept ``Authorization: Bearer <token>`` besides ``access_token`` (UNVERIFIED).
    accept_bearer = switch(True)
    #: HTTP status of token errors (channels.md: usually 400, some edges 401/403).
    auth_status = switch(400)
    #: HTTP status of throttling errors (channels.md: 400 in most reports).
    throttle_status = switch(400)
    #: Which usage headers to send (``x-page-usage`` is UNVERIFIED, off by default).
    usage_headers = switch(["x-app-usage", "x-business-use-case-usage"])
    #: Calls per hour per app, and per 24 hours per account, before throttling.
    app_budget = switch(100_000)
    buc_budget = switch(4800)
    #: Download image URLs for real (else only check that they are http(s) URLs).
    fetch_media = switch(True)
    media_fetch_timeout = switch(5.0)
    max_image_bytes = switch(8 * 1024 * 1024)
    #: Videos a container may download (Instagram Reels and Threads: 1 GB).
    max_video_bytes = switch(1024 * 1024 * 1024)
    #: Accepted image types (Meta documents JPEG for Instagram; PNG is UNVERIFIED there).
    image_types = switch(["image/jpeg", "image/png"])
    #: Accepted width/height range (Instagram feed: 4:5 to 1.91:1).
    min_aspect_ratio = switch(0.0)
    max_aspect_ratio = switch(math.inf)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Seconds added before answers to post-creating calls (on top of ``delay``).
        self.delay_creates = 0.0

        self._principals: dict[str, Principal] = {}
        self._tokens: dict[str, str] = {}  # token -> principal id
        self._revoked: dict[str, int] = {}  # token -> subcode
        self._app_calls = Window(3600.0)
        self._buc_calls: dict[str, Window] = {}
        self._media_folders: dict[str, Path] = {}
        self._ids = itertools.count(1)
        self._last_id = 0
        #: Logging in: apps, users and the tokens issued to them (``_graph_login``).
        self.login = GraphLogin(self, self.login_style)
        #: What was published: id -> the network's record (with ``figures`` and ``deleted``).
        self._posts: dict[str, Any] = {}

    # --- control ------------------------------------------------------------------------------

    def add_account(
        self,
        name: str,
        *,
        account_id: str | None = None,
        token: str | None = None,
        followers: int = 0,
    ) -> tuple[str, str]:
        """Create the account ``name`` (or reuse it) and give it a token: ``(id, token)``."""
        token = token or "EAA" + secrets.token_urlsafe(32)
        with self._lock:
            principal = next((p for p in self._principals.values() if p.name == name), None)
            if principal is None:
                principal = Principal(account_id or self.new_account_id(), name, self.clock())
                self._principals[principal.id] = principal
            principal.followers = followers
            self._tokens[token] = principal.id
            self._revoked.pop(token, None)
        return principal.id, token

    def bind_token(self, token: str, principal_id: str) -> None:
        """Let ``token`` (issued by :attr:`login`) act as the account ``principal_id``."""
        with self._lock:
            self._tokens[token] = principal_id

    def new_account_id(self) -> str:
        return str(17841400000000000 + next(self._ids))

    def revoke(self, token: str, subcode: int = 460) -> None:
        """Later calls with ``token`` get code 190 with ``subcode`` (460 password changed,
        463 expired, 458 app removed)."""
        with self._lock:
            if token in self._tokens:
                self._revoked[token] = subcode

    def fail_next(
        self,
        count: int = 1,
        status: int = 503,
        *,
        code: int | None = None,
        subcode: int | None = None,
        message: str | None = None,
    ) -> None:
        """The next ``count`` post-creating calls get a Graph error and create nothing.

        Without ``code`` it follows ``status``: 5xx → code 2 (transient), 401/403 → 190,
        429 → 4, other 4xx → 100."""
        self._queue_failures(count, _Failure(status, code, subcode, message))

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` post-creating calls get the network's throttling error, with
        ``estimated_time_to_regain_access`` = ``reset_in`` rounded up to whole minutes."""
        self._queue_rate_limits(count, reset_in)

    def _edge(self, call: Call, node: str, edge: str) -> Routed:
        """A call of ``node``'s ``edge``: one of :attr:`own_edges` on the caller's own account,
        refused on another account, one of :attr:`post_edges` on anything else."""
        handler = self.post_edges.get((edge, call.method))
        args: tuple[str, ...] = (node,)
        if node in self._principals:
            if node != call.principal.id:
                return Routed(graph_error(403, *self.foreign_account_error))
            handler, args = self.own_edges.get((edge, call.method)), ()
        result = unknown_path(call.parts) if handler is None else handler(self, call, *args)
        return result if isinstance(result, Routed) else Routed(result)

    def configure(self, **switches: Any) -> None:
        """Set switches (the :attr:`options`); unknown names or wrong types raise."""
        for name, value in switches.items():
            option = self.options.get(name)
            if option is None:
                raise ValueError(f"unknown switch {name!r} (known: {', '.join(self.options)})")
            try:
                value = option.convert(value)
            except ValueError as exc:
                raise ValueError(f"switch {name!r} {exc}") from None
            with self._lock:
                setattr(self, name, value)

    def serve_media(self, folder: Path, name: str = "media") -> str:
        """Serve ``folder`` at ``/_media/<name>/``; return that URL (a ``media_base_url``)."""
        if not re.fullmatch(r"[\w.-]+", name):
            raise ValueError("the name may contain letters, digits, '.', '_' and '-' only")
        with self._lock:
            self._media_folders[name] = Path(folder).resolve()
        return f"{self.url}/_media/{name}"

    def statuses(self, owner_id: str | None = None) -> list[GraphPost]:
        """Every post created so far (also deleted ones) of ``owner_id`` or of everyone,
        oldest first."""
        with self._lock:
            return [self._snapshot(p) for p in self._posts.values() if self._lists(p, owner_id)]

    def set_engagement(self, post_id: str, **figures: int) -> None:
        """Set a post's figures (the network's own names in :attr:`figure_names`, e.g.
        ``likes=3``)."""
        only_known("figure", figures, self.figure_names)
        with self._lock:
            post = self._posts.get(post_id)
            if post is None:
                raise KeyError(f"no {self.post_noun} {post_id}")
            post.figures.update(figures)

    def _lists(self, post: Any, owner_id: str | None) -> bool:
        """Whether :meth:`statuses` shows ``post`` when asked for ``owner_id``."""
        return owner_id in (None, post.owner.id)

    def _snapshot(self, post: Any) -> GraphPost:
        raise NotImplementedError

    def _permalink(self, post: Any) -> str:
        raise NotImplementedError

    def _post_snapshot(
        self, record: Any, owner: Principal, reply_to: Any | None, **fields: Any
    ) -> GraphPost:
        """A :class:`GraphPost` of the network's own ``record`` (with ``id``, ``created_at``
        and ``deleted``) by ``owner``, in reply to the record ``reply_to``; ``fields`` gives
        what ``record`` does not have under the same name."""
        return snapshot(
            GraphPost,
            record,
            owner_id=owner.id,
            reply_to=None if reply_to is None else reply_to.id,
            created_at=moment(record.created_at),
            permalink=self._permalink(record),
            **fields,
        )

    # --- request handling ---------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        if request.path.startswith("/_media/") and request.method == "GET":
            return self._serve_file(request.path)
        parts = _PART.findall(request.path)
        if parts and _VERSION.fullmatch(parts[0]):
            parts.pop(0)
        self._record(request)
        principal: Principal | None = None
        try:
            params = self._params(request)
            single = {k: str(v[-1] if isinstance(v, list) and v else v) for k, v in params.items()}
            login = self.login.route(request, parts, single)
            if login is None:
                token = self._token(request, params)
                login = self.login.user_call(request, parts, params, token) if token else None
            if login is not None:
                return self._deliver(login, None)
            principal, token = self._authenticate(request, params)
            self._spend_budget(principal)
            routed = self._dispatch(Call(request, parts, params, principal, token))
        except Answer as answer:
            routed = Routed(answer.response, creates=isinstance(answer, CreateRefused))
        if principal is not None:
            present = {name.lower() for name, _ in routed.response.headers}
            routed.response.headers.extend(
                (name, value)
                for name, value in self._usage_headers(principal).items()
                if name.lower() not in present
            )
        extra = self.delay_creates if routed.creates else 0.0
        return self._deliver(routed.response, routed.after, extra_delay=extra)

    def _seen_fields(self, request: HttpRequest) -> dict[str, Any]:
        parts = _PART.findall(request.path)
        return {
            "version": parts[0] if parts and _VERSION.fullmatch(parts[0]) else None,
            "query": urlencode(
                {k: v for k, v in request.query.items() if k != "access_token"}, doseq=True
            ),
        }

    def _dispatch(self, call: Call) -> Routed:
        raise NotImplementedError

    def _params(self, request: HttpRequest) -> dict[str, Any]:
        try:
            fields, files = request.params()
        except (ValueError, UnicodeDecodeError) as exc:
            raise Answer(invalid("(#100) Could not parse the request parameters")) from exc
        for name, upload in files.items():
            fields[name] = upload
        return fields

    def _token(self, request: HttpRequest, params: dict[str, Any]) -> str | None:
        token = params.get("access_token")
        if isinstance(token, list):
            token = token[-1] if token else None
        header = request.header("Authorization") or ""
        if token is None and self.accept_bearer:
            scheme, _, value = header.partition(" ")
            if scheme.lower() in ("bearer", "oauth") and value.strip():
                token = value.strip()
        return token if isinstance(token, str) and token else None

    def _authenticate(self, request: HttpRequest, params: dict[str, Any]) -> tuple[Principal, str]:
        token = self._token(request, params)
        if token is None:
            raise Answer(graph_error(self.auth_status, 104, MSG_TOKEN_MISSING))
        with self._lock:
            principal_id = self._tokens.get(token)
            revoked = self._revoked.get(token)
            principal = self._principals.get(principal_id) if principal_id else None
        if principal is None:
            raise Answer(graph_error(self.auth_status, 190, MSG_TOKEN_INVALID))
        if revoked is not None:
            message = MSG_TOKEN_REVOKED.get(revoked, "Error validating access token.")
            raise Answer(graph_error(self.auth_status, 190, message, subcode=revoked))
        refusal = self.login.refusal(token)  # an issued token that ran out
        if refusal is not None:
            raise Answer(refusal)
        return principal, token

    def _spend_budget(self, principal: Principal) -> None:
        now = self.clock()
        with self._lock:
            window = self._buc_calls.setdefault(principal.id, Window(86400.0))
            if window.used(now) >= self.buc_budget:
                minutes = math.ceil((window.frees_at(now) - now) / 60)
                raise Answer(self._throttled(principal, minutes))
            window.add(now)
            self._app_calls.add(now)

    def _throttled(self, principal: Principal, minutes: int) -> HttpResponse:
        headers = self._usage_headers(principal, regain_minutes=max(minutes, 0), full=True)
        return graph_error(
            self.throttle_status,
            self.throttle_code,
            self.throttle_message,
            transient=True,
            headers=headers,
        )

    def _usage_headers(
        self, principal: Principal, *, regain_minutes: int = 0, full: bool = False
    ) -> dict[str, str]:
        now = self.clock()
        with self._lock:
            window = self._buc_calls.setdefault(principal.id, Window(86400.0))
            buc = 100 if full else min(100, window.used(now) * 100 // max(self.buc_budget, 1))
            app = min(100, self._app_calls.used(now) * 100 // max(self.app_budget, 1))
            wanted = {name.lower() for name in self.usage_headers}
        percentages = {"call_count": buc, "total_cputime": buc // 2, "total_time": buc // 2}
        headers: dict[str, str] = {}
        if "x-app-usage" in wanted:
            app_usage = {"call_count": app, "total_cputime": app // 2, "total_time": app // 2}
            headers["X-App-Usage"] = json.dumps(app_usage)
        if "x-business-use-case-usage" in wanted:
            entry = {
                "type": self.buc_type,
                **percentages,
                "estimated_time_to_regain_access": regain_minutes,
            }
            headers["X-Business-Use-Case-Usage"] = json.dumps({principal.id: [entry]})
        if "x-page-usage" in wanted:
            headers["X-Page-Usage"] = json.dumps(
                {**percentages, "estimated_time_to_regain_access": regain_minutes}
            )
        return headers

    def begin_create(self, principal: Principal) -> str | None:
        """Consume the faults of a post-creating call: a queued failure or throttling ends the
        request (:class:`CreateRefused`); else what happens after the answer, "drop", "hold"
        or ``None`` (pass it to :meth:`created`)."""
        error, after = self._begin_create(
            self._failure,
            lambda reset_in: self._throttled(principal, math.ceil(reset_in / 60)),
        )
        if error is not None:
            raise CreateRefused(error)
        return after

    @staticmethod
    def created(response: HttpResponse, after: str | None) -> Routed:
        """The answer of a post-creating call that went ahead (see :meth:`begin_create`)."""
        return Routed(response, after=after, creates=True)

    def _failure(self, failure: _Failure) -> HttpResponse:
        status, code = failure.status, failure.code
        if code is None:
            if status >= 500:
                code = 2
            elif status in (401, 403):
                code = 190
            elif status == 429:
                code = 4
            else:
                code = 100
        defaults = {
            1: MSG_UNKNOWN_ERROR,
            2: MSG_UNAVAILABLE,
            4: "(#4) Application request limit reached",
            100: MSG_INVALID_PARAMETER,
            190: MSG_TOKEN_INVALID,
            200: MSG_PERMISSION,
            368: "(#368) The action attempted has been deemed abusive or is otherwise disallowed",
            506: "(#506) Duplicate status message",
        }
        message = failure.message or defaults.get(code, f"(#{code}) Error")
        transient = True if code == 2 else (False if status < 500 else None)
        return graph_error(status, code, message, subcode=failure.subcode, transient=transient)

    def new_id(self, digits: int = 17) -> str:
        """A fresh numeric id of ``digits`` digits, always increasing."""
        with self._lock:
            self._last_id = max(self._last_id + 1, int(self.clock() * 1000))
            return str(10 ** (digits - 1) + self._last_id)

    # --- media --------------------------------------------------------------------------------

    def fetch_image(self, url: str | None, alt: str | None) -> tuple[GraphMedia | None, str | None]:
        """Download and check ``url``: the media, or why it cannot be used."""
        data = self._fetch(url, alt, "image_url", self.max_image_bytes)
        if not isinstance(data, bytes):
            return data
        info = image_info(data)
        if info is None or info.content_type not in self.image_types:
            kind = info.content_type if info else "not an image"
            return None, f"unsupported image type ({kind})"
        if info.width and info.height:
            ratio = info.width / info.height
            if not self.min_aspect_ratio <= ratio <= self.max_aspect_ratio:
                return None, f"aspect ratio {info.width}:{info.height}"
        return GraphMedia(str(url), alt, info.content_type, info.size), None

    def fetch_video(self, url: str | None, alt: str | None) -> tuple[GraphMedia | None, str | None]:
        """Download and check a ``video_url``: an MP4 or MOV (an ISO media file: its first
        box is ``ftyp``) of at most :attr:`max_video_bytes`. The media, or why not."""
        data = self._fetch(url, alt, "video_url", self.max_video_bytes)
        if not isinstance(data, bytes):
            return data
        if data[4:8] != b"ftyp":
            return None, "unsupported video type (not MP4 or MOV)"
        kind = "video/quicktime" if data[8:12] == b"qt  " else "video/mp4"
        return GraphMedia(str(url), alt, kind, len(data)), None

    def _fetch(
        self, url: str | None, alt: str | None, name: str, limit: int
    ) -> bytes | tuple[GraphMedia | None, str | None]:
        """The bytes at ``url`` (at most ``limit``) to check; else the answer of a fetch:
        the media unchecked (:attr:`fetch_media` off), or why it cannot be used."""
        if not url:
            return None, f"{name} is required"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None, f"{url} is not an http(s) URL"
        if not self.fetch_media:
            return GraphMedia(url, alt, None, None), None
        try:
            data = self._download(url, parts.hostname, limit)
        except urllib.error.HTTPError as exc:
            return None, f"downloading {url} answered HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"could not download {url}: {reason}"
        if len(data) > limit:
            return None, "too large"
        return data

    def _download(self, url: str, host: str, limit: int | None = None) -> bytes:
        limit = self.max_image_bytes if limit is None else limit
        own = f"{self.url}/_media/"
        if url.startswith(own):  # its own files (also when running in-process, without a port)
            served = self._serve_file(urlsplit(url).path)
            if served.status != 200:
                raise urllib.error.HTTPError(url, served.status, "Not Found", Message(), None)
            return served.body[: limit + 1]
        if host in ("127.0.0.1", "localhost", "::1"):
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        else:
            opener = urllib.request.build_opener()
        request = urllib.request.Request(
            url, headers={"User-Agent": "facebookexternalhit/1.1 (campaign-scheduler sandbox)"}
        )
        with opener.open(request, timeout=self.media_fetch_timeout) as response:
            data: bytes = response.read(limit + 1)
        return data

    def _serve_file(self, path: str) -> HttpResponse:
        parts = [unquote(p) for p in _PART.findall(path)[1:]]
        if len(parts) < 2:
            return json_response(404, {"error": "not found"})
        with self._lock:
            folder = self._media_folders.get(parts[0])
        if folder is None or any(p in ("..", ".") or "\\" in p for p in parts[1:]):
            return json_response(404, {"error": "not found"})
        target = folder.joinpath(*parts[1:]).resolve()
        if not target.is_relative_to(folder) or not target.is_file():
            return json_response(404, {"error": "not found"})
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return HttpResponse(200, target.read_bytes(), [("Content-Type", kind)])

    # --- control over HTTP --------------------------------------------------------------------

    def _view_statuses(self) -> list[dict[str, Any]]:
        return [_post_json(p) for p in self.statuses()]

    def _control_config(self, body: dict[str, Any]) -> None:
        self.configure(**body)

    def _control_media(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.serve_media(Path(str(body["folder"])), str(body.get("name", "media")))}

    def _control_accounts(self, body: dict[str, Any]) -> dict[str, Any]:
        account_id, token = self.add_account(
            str(body["name"]),
            account_id=None if body.get("id") is None else str(body["id"]),
            token=body.get("token"),
            followers=int(body.get("followers", 0)),
        )
        return {"id": account_id, "token": token}

    def _control_engagement(self, body: dict[str, Any]) -> None:
        figures = {k: int(v) for k, v in body.items() if k != "post_id"}
        self.set_engagement(str(body["post_id"]), **figures)

    def apply_faults(self, body: dict[str, Any]) -> None:
        """Apply a ``/_sandbox/faults`` body (see the module doc)."""
        self._apply_faults(body)

    def _apply_fail_next(self, spec: dict[str, Any]) -> None:
        self.fail_next(
            int(spec.get("count", 1)),
            int(spec.get("status", 503)),
            code=None if spec.get("code") is None else int(spec["code"]),
            subcode=None if spec.get("subcode") is None else int(spec["subcode"]),
            message=None if spec.get("message") is None else str(spec["message"]),
        )

    def _apply_revoke(self, spec: dict[str, Any]) -> None:
        self.revoke(str(spec["token"]), int(spec.get("subcode", 460)))

    def _extra_faults(self) -> dict[str, Callable[[Any], None]]:
        def delay_creates(value: Any) -> None:
            self.delay_creates = seconds({"delay_creates": value}, "delay_creates")

        return {"delay_creates": delay_creates}


# --- containers (Instagram, Threads) ----------------------------------------------------------


@dataclass
class Container:
    """A media container: what a post will be once published."""

    id: str
    owner: Principal
    media_type: str
    params: dict[str, Any]
    media: list[GraphMedia]
    children: list[str]
    is_carousel_item: bool
    created_at: float
    polls_left: int
    error: str | None = None
    published_id: str | None = None


class ContainerSandbox(GraphSandbox):
    """A Graph host with the container → publish flow (Instagram, Threads)."""

    #: How many status reads answer IN_PROGRESS before FINISHED.
    container_polls = switch(1)
    #: The same for a video container (Meta transcodes it first).
    video_polls = switch(2)
    #: Seconds after which an unpublished container is EXPIRED.
    container_ttl = switch(86400.0)
    #: Posts per moving 24 hours (Instagram: 50 on the reference page, UNVERIFIED).
    quota_total = switch(50)
    #: The container's state field and the field that explains it.
    status_field: ClassVar[str] = "status_code"
    detail_field: ClassVar[str] = "status"
    #: The post's text: the container parameter and the field (Instagram: "caption").
    text_field: ClassVar[str] = "text"
    #: Container media type -> the published post's ``media_type``.
    published_types: ClassVar[Mapping[str, str]] = {}
    #: The node names in "nonexisting field" errors: the user, a post.
    user_node: ClassVar[str] = "User"
    post_node: ClassVar[str] = "Media"
    #: Whether other accounts' posts can be read (else they are "not found").
    posts_public: ClassVar[bool] = False
    foreign_account_error = (10, "(#10) Application does not have permission")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._container_errors: list[str] = []
        self._containers: dict[str, Container] = {}
        self._published: dict[str, Window] = {}

    # --- control ------------------------------------------------------------------------------

    def container_error_next(self, count: int = 1, message: str = "UNKNOWN") -> None:
        """The next ``count`` containers end in ERROR with ``message``."""
        with self._lock:
            self._container_errors.extend([message] * count)

    def containers(self) -> list[Container]:
        """Every container created so far, oldest first (live objects; read only)."""
        with self._lock:
            return list(self._containers.values())

    def _extra_faults(self) -> dict[str, Callable[[Any], None]]:
        def container_error_next(value: Any) -> None:
            spec = fault_spec(value)
            self.container_error_next(
                int(spec.get("count", 1)), str(spec.get("message", "UNKNOWN"))
            )

        return {**super()._extra_faults(), "container_error_next": container_error_next}

    # --- the life cycle -----------------------------------------------------------------------

    def new_container(
        self,
        owner: Principal,
        media_type: str,
        params: dict[str, Any],
        media: list[GraphMedia],
        *,
        children: list[str] | None = None,
        is_carousel_item: bool = False,
        error: str | None = None,
        polls: int | None = None,
    ) -> Container:
        with self._lock:
            if error is None and self._container_errors:
                error = self._container_errors.pop(0)
            container = Container(
                id=self.new_id(17),
                owner=owner,
                media_type=media_type,
                params=params,
                media=media,
                children=children or [],
                is_carousel_item=is_carousel_item,
                created_at=self.clock(),
                polls_left=self.container_polls if polls is None else polls,
                error=error,
            )
            self._containers[container.id] = container
            return container

    def container_status(self, container: Container, *, read: bool = False) -> str:
        """IN_PROGRESS, FINISHED, PUBLISHED, ERROR or EXPIRED; ``read`` counts a poll."""
        with self._lock:
            if container.published_id is not None:
                return "PUBLISHED"
            if self.clock() - container.created_at >= self.container_ttl:
                return "EXPIRED"
            if container.polls_left > 0:
                if read:
                    container.polls_left -= 1
                return "IN_PROGRESS"
            return "ERROR" if container.error is not None else "FINISHED"

    def container_detail(self, container: Container, status: str) -> str | None:
        """The explanation field (network-specific wording)."""
        return container.error if status == "ERROR" else None

    def get_container(self, call: Call, container: Container) -> HttpResponse:
        if container.owner is not call.principal:
            return not_found(container.id)
        status = self.container_status(container, read=True)
        fields = call.fields() or {self.status_field: ""}
        body: dict[str, Any] = {"id": container.id}
        if self.status_field in fields:
            body[self.status_field] = status
        if self.detail_field in fields:
            detail = self.container_detail(container, status)
            if detail is not None:
                body[self.detail_field] = detail
        return json_response(200, body)

    def publish_container(
        self,
        call: Call,
        *,
        quota: Window,
        quota_total: int,
    ) -> Routed:
        """``POST …/media_publish`` / ``…/threads_publish``: checks, faults, then create."""
        creation_id = call.param("creation_id")
        if not creation_id:
            return Routed(invalid("(#100) The parameter creation_id is required"))
        with self._lock:
            container = self._containers.get(creation_id)
        if container is None or container.owner is not call.principal or container.is_carousel_item:
            return Routed(
                invalid(
                    "(#100) The parameter creation_id is not a valid media container of this "
                    "account"
                )
            )
        status = self.container_status(container)
        refusal = self._publish_refusal(container, status)
        if refusal is not None:
            return Routed(refusal)
        now = self.clock()
        with self._lock:
            if quota.used(now) >= quota_total:
                return Routed(
                    graph_error(
                        400,
                        9,
                        "Application request limit reached",
                        subcode=2207042,
                        user_title="Publishing limit reached",
                        user_message="You have reached the maximum number of posts that is "
                        "allowed to be published by the API in 24 hours.",
                    )
                )
        after = self.begin_create(call.principal)
        with self._lock:
            if container.published_id is not None:  # a concurrent publish won the race
                media_id = container.published_id
            else:
                media_id = self._materialise(container)
                container.published_id = media_id
                quota.add(now)
        return self.created(json_response(200, {"id": media_id}), after)

    def _publish_refusal(self, container: Container, status: str) -> HttpResponse | None:
        if status == "IN_PROGRESS":
            return graph_error(
                400,
                9007,
                "Media ID is not available",
                subcode=2207027,
                user_title="Media not ready",
                user_message="The media is not ready for publishing, please wait for a moment",
                transient=False,
            )
        if status == "EXPIRED":
            return graph_error(
                400,
                -2,
                "The media container has expired",
                subcode=2207020,
                user_message="The media you are trying to publish has expired. Please try "
                "again with a new media container.",
                transient=False,
            )
        if status == "ERROR":
            return graph_error(
                400,
                -1,
                "Create media has failed",
                subcode=2207032,
                user_message="Create media has failed, please try to re-create media",
                transient=False,
            )
        if status == "PUBLISHED":
            return invalid("(#100) The media container has already been published")
        return None

    def publishing_window(self, principal: Principal, kind: str = "posts") -> Window:
        with self._lock:
            return self._published.setdefault(f"{principal.id}:{kind}", Window(86400.0))

    def _materialise(self, container: Container) -> str:
        """Publish ``container`` as a :class:`Published` post; its id."""
        parent_id = container.params.get("reply_to_id")
        post = Published(
            id=self.new_id(17),
            owner=container.owner,
            media_type=self.published_types[container.media_type],
            text=str(container.params.get(self.text_field) or ""),
            media=list(container.media),
            reply_to=self._posts.get(str(parent_id)) if parent_id else None,
            shortcode=secrets.token_urlsafe(8)[:11],
            created_at=self.clock(),
            container_id=container.id,
        )
        self._posts[post.id] = post
        return post.id

    def carousel_items(self, call: Call) -> list[Container]:
        """The containers named by ``children`` (2 to ``max_carousel_items`` carousel items
        of the caller); else raises :class:`Answer` with the refusal."""
        ids = [c.strip() for c in (call.param("children") or "").split(",") if c.strip()]
        most = int(getattr(self, "max_carousel_items", 10))
        if not 2 <= len(ids) <= most:
            raise Answer(invalid(f"(#100) A carousel needs 2 to {most} children, not {len(ids)}"))
        with self._lock:
            children = [self._containers.get(i) for i in ids]
        items = [
            c
            for c in children
            if c is not None and c.owner is call.principal and c.is_carousel_item
        ]
        if len(items) != len(ids):
            raise Answer(invalid("(#100) The parameter children has an invalid carousel item id"))
        return items

    # --- routing ------------------------------------------------------------------------------

    def _dispatch(self, call: Call) -> Routed:
        parts, method = call.parts, call.method
        user = call.principal
        if len(parts) == 1:
            node = user.id if parts[0] == "me" else parts[0]
            if node in self._principals:
                if node != user.id or method != "GET":
                    return Routed(not_found(node, method.lower()))
                return Routed(self._user_entity(call, user))
            return Routed(self._node(call, node))
        if len(parts) != 2:
            return Routed(unknown_path(parts))
        node, edge = parts
        return self._edge(call, user.id if node == "me" else node, edge)

    def _node(self, call: Call, node: str) -> HttpResponse:
        with self._lock:
            container = self._containers.get(node)
            post = self._posts.get(node)
        if container is not None and call.method == "GET":
            return self.get_container(call, container)
        if (
            post is None
            or post.deleted
            or (not self.posts_public and post.owner is not call.principal)
        ):
            return not_found(node, call.method.lower())
        if call.method == "DELETE":
            return self._delete(call, post)
        if call.method != "GET":
            return not_found(node, call.method.lower())
        with self._lock:
            return json_response(200, self._fields(post, call.fields() or {"id": ""}))

    def _delete(self, call: Call, post: Published) -> HttpResponse:
        raise NotImplementedError

    # --- reading ------------------------------------------------------------------------------

    def own_post(self, call: Call, node: str) -> Published:
        """The caller's live post ``node``; else raises :class:`Answer` (not found)."""
        with self._lock:
            post: Published | None = self._posts.get(node)
        if post is None or post.deleted or post.owner is not call.principal:
            raise Answer(not_found(node))
        return post

    def metric_names(self, call: Call) -> list[str]:
        """The names in ``metric``."""
        return [n.strip() for n in (call.param("metric") or "").split(",") if n.strip()]

    def list_posts(
        self, call: Call, keep: Callable[[Published], bool] = lambda post: True
    ) -> HttpResponse:
        """The caller's live posts that ``keep`` keeps, newest first, paged."""
        with self._lock:
            items = [
                p
                for p in self._posts.values()
                if p.owner is call.principal and not p.deleted and keep(p)
            ]
            items.sort(key=lambda p: (p.created_at, int(p.id)), reverse=True)
            fields = call.fields() or {"id": ""}
            data = [self._fields(p, fields) for p in items]
        return paginate(call, data, self.url)

    def _fields(self, post: Published, fields: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {"id": post.id}
        extra = self._post_fields(post)
        image = post.media[0] if post.media_type in ("IMAGE", "VIDEO") else None
        for name in fields:
            if name == self.text_field:
                if post.text:
                    values[name] = post.text
            elif name == "timestamp":
                values[name] = graph_time(post.created_at)
            elif name == "permalink":
                values[name] = self._permalink(post)
            elif name == "shortcode":
                values[name] = post.shortcode
            elif name == "media_type":
                values[name] = post.media_type
            elif name == "username":
                values[name] = post.owner.name
            elif name == "alt_text":
                if image is not None and image.alt:
                    values[name] = image.alt
            elif name == "media_url":
                if image is not None:
                    values[name] = image.source
            elif name in extra:
                if extra[name] is not None:
                    values[name] = extra[name]
            elif name != "id":
                raise Answer(nonexisting_field(name, self.post_node))
        return values

    def _post_fields(self, post: Published) -> dict[str, Any]:
        """The network's own fields of ``post`` (``None``: left out of the answer)."""
        return {}

    def _user_entity(self, call: Call, user: Principal) -> HttpResponse:
        fields = call.fields() or {"id": ""}
        values: dict[str, Any] = {"id": user.id}
        extra = self._user_fields(user)
        for name in fields:
            if name in ("username", "name"):
                values[name] = user.name
            elif name in extra:
                values[name] = extra[name]
            elif name != "id":
                return nonexisting_field(name, self.user_node)
        return json_response(200, values)

    def _user_fields(self, user: Principal) -> dict[str, Any]:
        """The network's own fields of the account ``user``."""
        return {}

    def _snapshot(self, post: Published) -> GraphPost:
        return self._post_snapshot(
            post,
            post.owner,
            post.reply_to,
            kind=post.media_type,
            media=tuple(post.media),
            link=None,
        )


# --- helpers ----------------------------------------------------------------------------------


def _post_json(post: GraphPost) -> dict[str, Any]:
    data = asdict(post)
    data["created_at"] = post.created_at.isoformat()
    return data
