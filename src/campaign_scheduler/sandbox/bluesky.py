"""A Bluesky PDS (with the AppView's read views) on loopback, answering as channels.md §3 and the
reference PDS do (docs/bluesky.md records what the real server answered).

Used by rehearsals (``campaign sandbox``) and by tests. What it implements, all under
``/xrpc/<method>`` with the XRPC error envelope ``{"error": "<Name>", "message": "<text>"}``:

* ``com.atproto.server.createSession`` (handle, DID or e-mail plus any of the account's
  passwords), ``refreshSession`` (rotates the refresh token; the old one is refused at once),
  ``getSession``. Access tokens live ``access_token_ttl`` seconds (default 5 minutes, short so
  that clients meet ``400 ExpiredToken`` and refresh); unknown tokens are ``400 InvalidToken``,
  a missing one ``401 AuthMissing``, a wrong password ``401 AuthenticationRequired``.
  ``createSession`` is rate-limited per identifier (30 per 5 minutes). A session opened with
  an app password has an access token of scope ``com.atproto.appPass``, one opened with the
  account password (``add_account(main_password=…)``) ``com.atproto.access``; only the latter
  may call ``com.atproto.server.createAppPassword`` (``{"name"}`` → a new app password).
* ``com.atproto.repo.createRecord`` with ``app.bsky.feed.post`` validated like the lexicon
  (300 graphemes and 3000 bytes of text, ``createdAt``, at most 3 ``langs``, facets with byte
  indexes and link/mention/tag features, up to 4 images with ``alt`` whose blobs exist, are
  images and are at most 2,000,000 bytes, strong refs in ``reply``): ``400 InvalidRequest``
  otherwise. A client-chosen ``rkey`` must be a TID; one that exists already is answered
  ``500 InternalServerError`` (as the reference PDS does; ``existing_rkey_status`` changes it).
  Writes cost 3 points (deletes 1) of ``write_points_per_hour`` per account, with
  ``RateLimit-*`` headers (reset in Unix seconds) and ``429 RateLimitExceeded`` at zero.
* ``getRecord`` (``400 RecordNotFound``), ``deleteRecord`` (200 also when nothing was there),
  ``listRecords``, ``uploadBlob`` (type sniffed from the bytes, ``413 PayloadTooLarge`` over
  ``blob_upload_limit``), ``com.atproto.identity.resolveHandle`` (``400 HandleNotFound``).
* ``app.bsky.feed.getPosts`` (counters set with :meth:`BlueskySandbox.set_engagement`; posts
  younger than ``index_delay`` seconds are missing, like an AppView that has not indexed them
  yet) and ``app.bsky.actor.getProfile`` (``followersCount``).

Faults and inspection are available from Python (:class:`BlueskySandbox` methods) and, for
rehearsals driven through a subprocess, over HTTP from loopback:

``POST /_sandbox/faults``
    a JSON object with any of ``{"fail_next": {"count": 1, "status": 503}}``,
    ``{"rate_limit_next": {"count": 1, "reset_in": 60}}``, ``{"drop_after_create": {"count": 1}}``,
    ``{"hold_after_create": {"count": 1}}``, ``{"release": true}``,
    ``{"revoke": {"password": "…"}}``, ``{"expire_access_tokens": true}``, ``{"delay": 0.5}``.
``POST /_sandbox/accounts``
    ``{"handle": "soest.test", "password": "optional", "followers": 0}`` →
    ``{"did": "…", "handle": "…", "password": "…"}``.
``POST /_sandbox/engagement``
    ``{"uri": "at://…", "likes": 3, "reposts": 1, "replies": 0, "quotes": 0}``.
``GET /_sandbox/records`` (also ``/_sandbox/statuses``), ``GET /_sandbox/requests``
    what was created / what arrived, as JSON.

Not modelled: OAuth/DPoP, PLC and DID documents, handles on other servers, the firehose,
labels, blob garbage collection, collections other than posts beyond storing them.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import itertools
import json
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import regex
from dateutil.parser import isoparse

from campaign_scheduler.channels._atproto import AtUri, detect_facets, encode_tid, is_tid
from campaign_scheduler.imagetypes import image_info
from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.sandbox import _base
from campaign_scheduler.sandbox._base import (
    Answer,
    HandlerT,
    Option,
    SandboxBase,
    counts,
    handles,
    snapshot,
)
from campaign_scheduler.sandbox._server import HttpRequest, HttpResponse
from campaign_scheduler.sandbox._server import json_response as _json_response

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_LANGS = 3
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 2_000_000
MAX_THUMB_BYTES = 1_000_000  # app.bsky.embed.external#external.thumb
MAX_VIDEO_BYTES = 100_000_000  # app.bsky.embed.video#video: accept video/mp4
MAX_VIDEO_ALT = 10_000  # app.bsky.embed.video#alt maxLength (bytes)
MAX_TAG_GRAPHEMES = 64
MAX_TAG_BYTES = 640
MAX_GET_POSTS = 25
SESSION_LIMIT = 30
SESSION_WINDOW = 300.0
WRITE_WINDOW = 3600.0
CREATE_POINTS = 3
DELETE_POINTS = 1

# The reference PDS's wording (xrpc-server errors, auth-verifier, lexicon validation).
_STATUS_NAMES = {
    400: "InvalidRequest",
    401: "AuthenticationRequired",
    403: "Forbidden",
    404: "XRPCNotSupported",
    413: "PayloadTooLarge",
    429: "RateLimitExceeded",
    500: "InternalServerError",
    501: "MethodNotImplemented",
    502: "UpstreamFailure",
    503: "NotEnoughResources",
    504: "UpstreamTimeout",
}
_STATUS_MESSAGES = {
    413: "request entity too large",
    429: "Rate Limit Exceeded",
    500: "Internal Server Error",
    501: "Method Not Implemented",
    502: "Upstream Failure",
    503: "Not Enough Resources",
    504: "Upstream Timeout",
}
_GRAPHEME = regex.compile(r"\X")
_LANGUAGE = re.compile(r"^(?:[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{1,8})*|i-[a-zA-Z0-9-]+)$")
_DID = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")
_CID = re.compile(r"^b[a-z2-7]{20,}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


# --- what tests and rehearsals can inspect -----------------------------------------------------


@dataclass(frozen=True)
class SandboxImage:
    """An image of a post's embed."""

    cid: str
    alt: str
    mime_type: str
    size: int
    aspect_ratio: tuple[int, int] | None


@dataclass(frozen=True)
class SandboxRecord:
    """A post record the sandbox holds (snapshot; later changes do not show in it)."""

    uri: str
    cid: str
    did: str
    handle: str
    rkey: str
    text: str
    langs: tuple[str, ...]
    facets: tuple[dict[str, Any], ...]
    images: tuple[SandboxImage, ...]
    reply_root: str | None
    reply_parent: str | None
    created_at: str  # the record's own createdAt, as sent
    indexed_at: datetime
    deleted: bool
    value: dict[str, Any]  # the whole record, as stored
    video: SandboxImage | None = None  # the app.bsky.embed.video of the post, if any


@dataclass(frozen=True)
class SeenCall(_base.SeenRequest):
    """A request as it arrived (no Authorization header, no body), with the method's NSID
    (the path where it has none) and the query not URL-encoded."""

    nsid: str


# --- internal state -----------------------------------------------------------------------------


@dataclass
class _Account:
    did: str
    handle: str
    passwords: set[str]  # app passwords
    created_at: float
    followers: int = 0
    main_password: str | None = None  # the account password (see add_account)


@dataclass
class _Grant:
    """One access or refresh token."""

    account: _Account
    password: str  # the password the session was created with
    expires_at: float
    refresh: bool
    revoked: bool = False


@dataclass
class _Blob:
    did: str
    cid: str
    mime_type: str
    size: int


@dataclass
class _Record:
    account: _Account
    collection: str
    rkey: str
    value: dict[str, Any]
    cid: str
    indexed_at: float
    deleted: bool = False
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0

    @property
    def uri(self) -> str:
        return str(AtUri(self.account.did, self.collection, self.rkey))


@dataclass
class _Window:
    """A fixed rate-limit window that starts at its first hit."""

    started: float
    used: int


class _Invalid(Exception):
    """A record that breaks the lexicon: ``<reason> at <path>``."""


def xrpc(method: str, nsid: str) -> Callable[[HandlerT], HandlerT]:
    """Declare the decorated method the XRPC method ``nsid`` (``/xrpc/<nsid>``)."""
    return handles(method, "/xrpc/" + re.escape(nsid))


class BlueskySandbox(SandboxBase[int, float]):
    """A loopback Bluesky PDS plus AppView views. Use as a context manager or start()/stop()."""

    revoke_key = "password"
    seen_type: ClassVar[type[_base.SeenRequest]] = SeenCall

    # The knobs (module doc): token lifetimes in seconds, the createSession limit per
    # SESSION_WINDOW, write points per hour, the blob size limit in bytes, the status of a
    # create with an existing rkey, and how many seconds the AppView lags behind.
    access_token_ttl = Option(300.0)
    refresh_token_ttl = Option(90 * 86400.0)
    session_limit = Option(SESSION_LIMIT)
    write_points_per_hour = Option(5000)
    blob_upload_limit = Option(5 * 1024 * 1024)
    existing_rkey_status = Option(500)
    index_delay = Option(0.0)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)

        self._accounts: dict[str, _Account] = {}  # by DID
        self._grants: dict[str, _Grant] = {}  # by token
        self._records: dict[tuple[str, str, str], _Record] = {}  # (did, collection, rkey)
        self._blobs: dict[tuple[str, str], _Blob] = {}  # (did, cid)
        self._session_windows: dict[str, _Window] = {}
        self._write_windows: dict[str, _Window] = {}
        self._last_tid = 0
        self._dids = itertools.count(1)

    # --- control ------------------------------------------------------------------------------

    def add_account(
        self,
        handle: str,
        password: str | None = None,
        *,
        followers: int = 0,
        main_password: str | None = None,
    ) -> str:
        """Create ``handle`` (or reuse it) and give it ``password`` (or a new app password);
        return the password. A handle without a dot gets ``.test`` appended.

        ``main_password`` sets the account password: it also opens a session, but one whose
        access token has the scope ``com.atproto.access`` (app passwords get
        ``com.atproto.appPass``, as on the reference PDS), and only such a session may call
        ``com.atproto.server.createAppPassword``."""
        handle = _full_handle(handle)
        password = password or "-".join(secrets.token_hex(2) for _ in range(4))
        with self._lock:
            account = self._account_by_handle(handle)
            if account is None:
                digest = hashlib.sha256(f"{handle}/{next(self._dids)}".encode()).digest()
                did = "did:plc:" + base64.b32encode(digest).decode("ascii").lower()[:24]
                account = _Account(did, handle, set(), self.clock())
                self._accounts[did] = account
            account.passwords.add(password)
            account.followers = followers
            if main_password is not None:
                account.main_password = main_password
        return password

    def did_of(self, handle: str) -> str:
        """The DID of an account created with :meth:`add_account`."""
        with self._lock:
            account = self._account_by_handle(_full_handle(handle))
        if account is None:
            raise KeyError(f"no account {handle}")
        return account.did

    def post_as(
        self, handle: str, text: str, *, created_at: float | None = None, language: str = "de"
    ) -> str:
        """A post by ``handle`` (created if new), as if someone else posted it: earned use of
        a hashtag. Its hashtags get tag facets, as an app would add them. Returns its AT URI."""
        handle = _full_handle(handle)
        with self._lock:
            if self._account_by_handle(handle) is None:
                self.add_account(handle)
            account = self._account_by_handle(handle)
            assert account is not None
            when = self.clock() if created_at is None else created_at
            value: dict[str, Any] = {
                "$type": POST,
                "text": text,
                "createdAt": _iso(when),
                "langs": [language],
            }
            tags = [
                {
                    "index": {"byteStart": facet.start, "byteEnd": facet.end},
                    "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": facet.value}],
                }
                for facet in detect_facets(text)
                if facet.kind == "tag"
            ]
            if tags:
                value["facets"] = tags
            record = _Record(account, POST, self._next_tid(when), value, _record_cid(value), when)
            self._records[(account.did, POST, record.rkey)] = record
            return record.uri

    def revoke(self, password: str) -> None:
        """Revoke an (app) password, as the real server does: it no longer logs in and the
        refresh tokens of its sessions are refused (``400 ExpiredToken``); access tokens
        already issued keep working until they expire."""
        with self._lock:
            for account in self._accounts.values():
                account.passwords.discard(password)
            for grant in self._grants.values():
                if grant.password == password and grant.refresh:
                    grant.revoked = True

    def expire_access_tokens(self) -> None:
        """Every access token issued so far expires now (its next use: ``400 ExpiredToken``)."""
        with self._lock:
            now = self.clock()
            for grant in self._grants.values():
                if not grant.refresh:
                    grant.expires_at = min(grant.expires_at, now)

    def records(self, handle: str | None = None) -> list[SandboxRecord]:
        """Every post record created so far (also deleted ones), oldest first."""
        with self._lock:
            wanted = None if handle is None else _full_handle(handle)
            return [
                _snapshot(record, self._blobs)
                for record in self._records.values()
                if record.collection == POST and wanted in (None, record.account.handle)
            ]

    def statuses(self, handle: str | None = None) -> list[SandboxRecord]:
        """The same as :meth:`records` (the name MastodonSandbox uses)."""
        return self.records(handle)

    def set_engagement(
        self, uri: str, *, likes: int = 0, reposts: int = 0, replies: int = 0, quotes: int = 0
    ) -> None:
        """Set a post's counters as ``getPosts`` reports them."""
        with self._lock:
            record = self._record_at(uri)
            if record is None:
                raise KeyError(f"no record {uri}")
            record.likes, record.reposts = likes, reposts
            record.replies, record.quotes = replies, quotes

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` record creations get ``status`` and create nothing."""
        self._queue_failures(count, status)

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` record creations get 429 with a reset ``reset_in`` s ahead."""
        self._queue_rate_limits(count, reset_in)

    # --- request handling ---------------------------------------------------------------------

    def _seen_fields(self, request: HttpRequest) -> dict[str, Any]:
        return {
            "nsid": _nsid(request) or request.path,
            "query": "&".join(f"{k}={v}" for k, vs in request.query.items() for v in vs),
        }

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        return _error(status, _CONTROL_ERRORS.get(status), message)

    def _no_route(self, request: HttpRequest, path_known: bool) -> HttpResponse:
        if not _nsid(request):
            return _error(404, "XRPCNotSupported", "Not Found")
        if path_known:
            return _error(400, "InvalidRequest", "Incorrect HTTP method")
        return _error(501)

    @xrpc("GET", "_health")
    def _health(self, request: HttpRequest) -> HttpResponse:
        return _json(200, {"version": "sandbox"})

    # --- sessions -----------------------------------------------------------------------------

    @xrpc("POST", "com.atproto.server.createSession")
    def _create_session(self, request: HttpRequest) -> HttpResponse:
        body = _body(request)
        identifier = str(body.get("identifier") or "").strip().lower()
        password = str(body.get("password") or "")
        if not identifier or not password:
            return _error(
                400, "InvalidRequest", "Input must have the properties identifier, password"
            )
        with self._lock:
            headers = self._spend(
                self._session_windows, identifier, 1, self.session_limit, SESSION_WINDOW
            )
            account = self._account_by_identifier(identifier)
            if account is None or (
                password not in account.passwords and password != account.main_password
            ):
                return _error(
                    401, "AuthenticationRequired", "Invalid identifier or password", headers
                )
            answer = self._new_session(account, password)
        return _json(200, answer, headers)

    @xrpc("POST", "com.atproto.server.refreshSession")
    def _refresh_session(self, request: HttpRequest) -> HttpResponse:
        token = _bearer(request)
        with self._lock:
            grant = self._grants.get(token)
            if grant is None or not grant.refresh:
                return _error(400, "InvalidToken", "Token could not be verified")
            if grant.revoked:
                return _error(400, "ExpiredToken", "Token has been revoked")
            if grant.expires_at <= self.clock():
                return _error(400, "ExpiredToken", "Token has expired")
            grant.revoked = True  # rotated: the old refresh token is spent
            answer = self._new_session(grant.account, grant.password)
        return _json(200, answer)

    @xrpc("POST", "com.atproto.server.createAppPassword")
    def _create_app_password(self, request: HttpRequest) -> HttpResponse:
        account = self._authenticate(request)
        with self._lock:
            grant = self._grants.get(_bearer(request))
            if grant is None or grant.password != account.main_password:
                return _error(400, "InvalidToken", "Bad token scope")
        name = str(_body(request).get("name") or "").strip()
        if not name:
            return _error(400, "InvalidRequest", "Input must have the property name")
        password = "-".join(secrets.token_hex(2) for _ in range(4))
        with self._lock:
            account.passwords.add(password)
        created = datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")
        return _json(200, {"name": name, "password": password, "createdAt": created})

    @xrpc("GET", "com.atproto.server.getSession")
    def _get_session(self, request: HttpRequest) -> HttpResponse:
        account = self._authenticate(request)
        return _json(200, {**self._session_fields(account), "emailConfirmed": False})

    def _new_session(self, account: _Account, password: str) -> dict[str, Any]:
        now = self.clock()
        scope = "com.atproto.access" if password == account.main_password else "com.atproto.appPass"
        access = self._token(account, now, now + self.access_token_ttl, scope)
        refresh = self._token(account, now, now + self.refresh_token_ttl, "com.atproto.refresh")
        self._grants[access] = _Grant(account, password, now + self.access_token_ttl, False)
        self._grants[refresh] = _Grant(account, password, now + self.refresh_token_ttl, True)
        return {**self._session_fields(account), "accessJwt": access, "refreshJwt": refresh}

    @staticmethod
    def _session_fields(account: _Account) -> dict[str, Any]:
        return {
            "did": account.did,
            "handle": account.handle,
            "email": f"{account.handle}@example.org",
            "active": True,
        }

    def _token(self, account: _Account, issued: float, expires: float, scope: str) -> str:
        """A JWT-shaped token (the signature is random; only the sandbox checks it)."""

        def part(data: dict[str, Any]) -> str:
            raw = json.dumps(data, separators=(",", ":")).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

        header = {"typ": "at+jwt" if scope.endswith("access") else "refresh+jwt", "alg": "HS256"}
        payload = {
            "scope": scope,
            "aud": "did:web:sandbox.test",
            "sub": account.did,
            "iat": int(issued),
            "exp": int(expires),
        }
        return f"{part(header)}.{part(payload)}.{secrets.token_urlsafe(32)}"

    def _authenticate(self, request: HttpRequest) -> _Account:
        """The account of the request's access token; ends the request as the real server
        does when there is none, or it is unknown, expired or a refresh token."""
        if request.header("Authorization") is None:
            raise Answer(_error(401, "AuthMissing", "Authentication Required"))
        token = _bearer(request)
        with self._lock:
            grant = self._grants.get(token)
            if grant is None:
                raise Answer(_error(400, "InvalidToken", "Token could not be verified"))
            if grant.refresh:
                raise Answer(_error(400, "InvalidToken", "Bad token scope"))
            if grant.expires_at <= self.clock():
                raise Answer(_error(400, "ExpiredToken", "Token has expired"))
            return grant.account

    # --- records --------------------------------------------------------------------------------

    @xrpc("POST", "com.atproto.repo.createRecord")
    def _create_record(self, request: HttpRequest) -> tuple[HttpResponse, str | None]:
        account = self._authenticate(request)
        return self._create_unless_faulted(
            _error, self._write_limited, lambda: self._write_record(request, account)
        )

    def _write_limited(self, reset_in: float) -> HttpResponse:
        reset = self.clock() + reset_in
        limit = self.write_points_per_hour
        return _error(429, headers=_rate_headers(limit, 0, reset, WRITE_WINDOW))

    def _write_record(self, request: HttpRequest, account: _Account) -> HttpResponse:
        body = _body(request)
        self._check_repo(account, body.get("repo"))
        collection = str(body.get("collection") or "")
        record = body.get("record")
        rkey = body.get("rkey")
        if not re.match(r"^[a-zA-Z][a-zA-Z0-9-]*(\.[a-zA-Z0-9-]+){2,}$", collection):
            return _error(400, "InvalidRequest", f"Invalid collection: {collection}")
        if not isinstance(record, dict):
            return _error(400, "InvalidRequest", "Input/record must be an object")
        if rkey is not None and (not isinstance(rkey, str) or not is_tid(rkey)):
            return _error(
                400,
                "InvalidRequest",
                f'Invalid record key for {collection}: Invalid TID string (got "{rkey}") at $',
            )
        with self._lock:
            headers = self._spend_writes(account, CREATE_POINTS)
            if collection == POST and body.get("validate") is not False:
                try:
                    self._validate_post(account, record)
                except _Invalid as exc:
                    return _error(400, "InvalidRequest", f"Invalid {POST} record: {exc}")
                except Answer as refusal:
                    return refusal.response
            now = self.clock()
            key = rkey or self._next_tid(now)
            existing = self._records.get((account.did, collection, key))
            if existing is not None and not existing.deleted:
                return self._existing_rkey(existing)
            value = copy.deepcopy(record)
            value.setdefault("$type", collection)
            created = _Record(account, collection, key, value, _record_cid(value), now)
            self._records[(account.did, collection, key)] = created
            self._count_reply(created, +1)
            answer = {
                "uri": created.uri,
                "cid": created.cid,
                "commit": {"cid": _record_cid({"commit": key, "at": now}), "rev": key},
                "validationStatus": "valid" if collection == POST else "unknown",
            }
        return _json(200, answer, headers)

    def _existing_rkey(self, existing: _Record) -> HttpResponse:
        status = self.existing_rkey_status
        if status >= 500:
            return _error(status)
        return _error(status, "InvalidRequest", f"Record already exists: {existing.uri}")

    def _check_repo(self, account: _Account, repo: object) -> None:
        if repo in (account.did, account.handle):
            return
        with self._lock:
            other = self._account_by_identifier(str(repo or "").lower())
        if other is None:
            raise Answer(_error(403, "AccountNotFound", "Account not found"))
        raise Answer(_error(401, "AuthenticationRequired", "Authentication Required"))

    def _validate_post(self, account: _Account, record: dict[str, Any]) -> None:
        """Raise :class:`_Invalid` (or a BlobNotFound answer) where the lexicon refuses."""
        kind = record.get("$type")
        if kind is not None and kind != POST:
            raise _Invalid(f'Invalid $type: expected "{POST}" (got "{kind}") at $.record')
        text = _required(record, "text", str, "$.record")
        graphemes = sum(1 for _ in _GRAPHEME.finditer(text))
        if graphemes > MAX_GRAPHEMES:
            raise _Invalid(
                f"grapheme too big (maximum {MAX_GRAPHEMES}, got {graphemes}) at $.record.text"
            )
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            raise _Invalid(
                f"string too big (maximum {MAX_TEXT_BYTES}, got {size}) at $.record.text"
            )
        created = _required(record, "createdAt", str, "$.record")
        if not _is_datetime(created):
            raise _Invalid(f'Invalid datetime (got "{created}") at $.record.createdAt')
        langs = record.get("langs", [])
        if not isinstance(langs, list):
            raise _Invalid("Expected array value type at $.record.langs")
        if len(langs) > MAX_LANGS:
            raise _Invalid(
                f"array too big (maximum {MAX_LANGS}, got {len(langs)}) at $.record.langs"
            )
        for index, lang in enumerate(langs):
            if not isinstance(lang, str) or not _LANGUAGE.match(lang):
                raise _Invalid(f'Invalid language (got "{lang}") at $.record.langs[{index}]')
        facets = record.get("facets", [])
        if not isinstance(facets, list):
            raise _Invalid("Expected array value type at $.record.facets")
        for index, facet in enumerate(facets):
            _validate_facet(facet, f"$.record.facets[{index}]")
        if "embed" in record:
            self._validate_embed(account, record["embed"])
        if "reply" in record:
            reply = record["reply"]
            if not isinstance(reply, dict):
                raise _Invalid("Expected object value type at $.record.reply")
            for name in ("root", "parent"):
                _validate_strong_ref(_required(reply, name, dict, "$.record.reply"), name)

    def _validate_embed(self, account: _Account, embed: object) -> None:
        if not isinstance(embed, dict):
            raise _Invalid("Expected object value type at $.record.embed")
        if embed.get("$type") == "app.bsky.embed.external":
            self._validate_external(account, embed)
            return
        if embed.get("$type") == "app.bsky.embed.video":
            self._validate_video(account, embed)
            return
        if embed.get("$type") != "app.bsky.embed.images":
            return  # other embeds (record) are stored unchecked
        images = _required(embed, "images", list, "$.record.embed")
        if len(images) > MAX_IMAGES:
            raise _Invalid(
                f"array too big (maximum {MAX_IMAGES}, got {len(images)}) at $.record.embed.images"
            )
        for index, image in enumerate(images):
            path = f"$.record.embed.images[{index}]"
            if not isinstance(image, dict):
                raise _Invalid(f"Expected object value type at {path}")
            blob = _required(image, "image", dict, path)
            _required(image, "alt", str, path)
            ratio = image.get("aspectRatio")
            if ratio is not None and not (
                isinstance(ratio, dict)
                and all(
                    isinstance(ratio.get(k), int) and ratio[k] >= 1 for k in ("width", "height")
                )
            ):
                raise _Invalid(f"Invalid aspectRatio at {path}.aspectRatio")
            self._validate_image_blob(account, blob, f"{path}.image", MAX_IMAGE_BYTES)

    def _validate_external(self, account: _Account, embed: dict[str, Any]) -> None:
        """``app.bsky.embed.external``: uri, title and description required; thumb an image
        blob of this account of at most 1,000,000 bytes."""
        path = "$.record.embed"
        external = _required(embed, "external", dict, path)
        path = f"{path}.external"
        uri = _required(external, "uri", str, path)
        if not _URI.match(uri):
            raise _Invalid(f'Invalid uri (got "{uri}") at {path}.uri')
        _required(external, "title", str, path)
        _required(external, "description", str, path)
        if "thumb" in external:
            thumb = external["thumb"]
            if not isinstance(thumb, dict):
                raise _Invalid(f"Expected blob value type at {path}.thumb")
            self._validate_image_blob(account, thumb, f"{path}.thumb", MAX_THUMB_BYTES)

    def _validate_video(self, account: _Account, embed: dict[str, Any]) -> None:
        """``app.bsky.embed.video``: a ``video/mp4`` blob of this account, optional ``alt``
        (at most 10,000 bytes) and ``aspectRatio``."""
        path = "$.record.embed"
        blob = _required(embed, "video", dict, path)
        alt = embed.get("alt")
        if alt is not None and (not isinstance(alt, str) or len(alt.encode()) > MAX_VIDEO_ALT):
            raise _Invalid(f"Invalid alt at {path}.alt")
        self._validate_image_blob(account, blob, f"{path}.video", MAX_VIDEO_BYTES, "video/mp4")

    def _validate_image_blob(
        self,
        account: _Account,
        blob: dict[str, Any],
        path: str,
        limit: int,
        accept: str = "image/*",
    ) -> None:
        ref = blob.get("ref")
        cid = ref.get("$link") if isinstance(ref, dict) else None
        if blob.get("$type") != "blob" or not isinstance(cid, str):
            raise _Invalid(f"Expected blob value type at {path}")
        stored = self._blobs.get((account.did, cid))
        if stored is None:
            raise Answer(_error(400, "BlobNotFound", f"Could not find blob: {cid}"))
        if not stored.mime_type.startswith(accept.removesuffix("*")):
            raise _Invalid(f'Expected "{accept}" (got "{stored.mime_type}") at {path}.mimeType')
        if stored.size > limit:
            raise _Invalid(f"blob too big (maximum {limit}, got {stored.size}) at {path}")

    def _count_reply(self, record: _Record, step: int) -> None:
        reply = record.value.get("reply") if record.collection == POST else None
        parent = reply.get("parent") if isinstance(reply, dict) else None
        target = self._record_at(str(parent.get("uri"))) if isinstance(parent, dict) else None
        if target is not None:
            target.replies = max(0, target.replies + step)

    @xrpc("GET", "com.atproto.repo.getRecord")
    def _get_record(self, request: HttpRequest) -> HttpResponse:
        query = _query(request)
        with self._lock:
            account = self._account_by_identifier(query.get("repo", "").lower())
            if account is None:
                return _error(400, "InvalidRequest", f"Could not find repo: {query.get('repo')}")
            key = (account.did, query.get("collection", ""), query.get("rkey", ""))
            record = self._records.get(key)
            uri = str(AtUri(*key))
            if record is None or record.deleted or query.get("cid", record.cid) != record.cid:
                return _error(400, "RecordNotFound", f"Could not locate record: {uri}")
            return _json(200, {"uri": uri, "cid": record.cid, "value": copy.deepcopy(record.value)})

    @xrpc("GET", "com.atproto.repo.listRecords")
    def _list_records(self, request: HttpRequest) -> HttpResponse:
        query = _query(request)
        try:
            limit = min(max(int(query.get("limit") or 50), 1), 100)
        except ValueError:
            return _error(400, "InvalidRequest", "Invalid limit")
        reverse = query.get("reverse", "").lower() == "true"
        cursor = query.get("cursor")
        with self._lock:
            account = self._account_by_identifier(query.get("repo", "").lower())
            if account is None:
                return _error(400, "InvalidRequest", f"Could not find repo: {query.get('repo')}")
            found = sorted(
                (
                    r
                    for (did, collection, _), r in self._records.items()
                    if did == account.did
                    and collection == query.get("collection")
                    and not r.deleted
                ),
                key=lambda r: r.rkey,
                reverse=not reverse,
            )
            if cursor:
                found = [r for r in found if (r.rkey > cursor if reverse else r.rkey < cursor)]
            page = found[:limit]
            body: dict[str, Any] = {
                "records": [
                    {"uri": r.uri, "cid": r.cid, "value": copy.deepcopy(r.value)} for r in page
                ]
            }
            if len(found) > limit:
                body["cursor"] = page[-1].rkey
        return _json(200, body)

    @xrpc("POST", "com.atproto.repo.deleteRecord")
    def _delete_record(self, request: HttpRequest) -> HttpResponse:
        account = self._authenticate(request)
        body = _body(request)
        self._check_repo(account, body.get("repo"))
        with self._lock:
            headers = self._spend_writes(account, DELETE_POINTS)
            key = (account.did, str(body.get("collection") or ""), str(body.get("rkey") or ""))
            record = self._records.get(key)
            if record is None or record.deleted:
                return _json(200, {}, headers)
            record.deleted = True
            self._count_reply(record, -1)
            rev = self._next_tid(self.clock())
        return _json(
            200, {"commit": {"cid": _record_cid({"delete": key, "rev": rev}), "rev": rev}}, headers
        )

    @xrpc("POST", "com.atproto.repo.uploadBlob")
    def _upload_blob(self, request: HttpRequest) -> HttpResponse:
        account = self._authenticate(request)
        data = request.body
        if len(data) > self.blob_upload_limit:
            return _error(413)
        image = image_info(data)
        mime_type = (
            (image.content_type if image else None)
            or request.content_type
            or "application/octet-stream"
        )
        cid = _cid(0x55, data)
        with self._lock:
            self._blobs[(account.did, cid)] = _Blob(account.did, cid, mime_type, len(data))
        blob = {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime_type, "size": len(data)}
        return _json(200, {"blob": blob})

    # --- identities and views -------------------------------------------------------------------

    @xrpc("GET", "com.atproto.identity.resolveHandle")
    def _resolve_handle(self, request: HttpRequest) -> HttpResponse:
        handle = _query(request).get("handle", "").strip().lower()
        with self._lock:
            account = self._account_by_handle(handle)
        if account is None:
            return _error(400, "HandleNotFound", "Unable to resolve handle")
        return _json(200, {"did": account.did})

    @xrpc("GET", "app.bsky.feed.getPosts")
    def _get_posts(self, request: HttpRequest) -> HttpResponse:
        self._authenticate(request)
        uris = request.query.get("uris", [])
        if not uris or len(uris) > MAX_GET_POSTS:
            return _error(
                400,
                "InvalidRequest",
                f"uris must hold 1 to {MAX_GET_POSTS} items (got {len(uris)})",
            )
        now = self.clock()
        with self._lock:
            views = []
            for uri in uris:
                record = self._record_at(uri)
                if record is None or record.deleted or record.collection != POST:
                    continue
                if now - record.indexed_at < self.index_delay:
                    continue  # the AppView has not indexed it yet
                views.append(self._post_view(record))
        return _json(200, {"posts": views})

    def _post_view(self, record: _Record) -> dict[str, Any]:
        account = record.account
        return {
            "uri": record.uri,
            "cid": record.cid,
            "author": {"did": account.did, "handle": account.handle, "displayName": account.handle},
            "record": copy.deepcopy(record.value),
            "replyCount": record.replies,
            "repostCount": record.reposts,
            "likeCount": record.likes,
            "quoteCount": record.quotes,
            "bookmarkCount": 0,
            "indexedAt": _iso(record.indexed_at),
            "viewer": {},
            "labels": [],
        }

    @xrpc("GET", "app.bsky.feed.searchPosts")
    def _search_posts(self, request: HttpRequest) -> HttpResponse:
        """``app.bsky.feed.searchPosts`` for hashtag queries (``q=#tag``), newest first, with
        ``since`` (ISO 8601), ``limit`` (1-100) and an offset ``cursor``, as the AppView pages."""
        self._authenticate(request)
        query = _query(request)
        words = query.get("q", "").split()
        tags = [w[1:].lower() for w in words if w.startswith("#") and len(w) > 1]
        if not tags:
            return _error(400, "InvalidRequest", "the sandbox searches hashtags only (q=#tag)")
        try:
            limit = min(max(int(query.get("limit") or 25), 1), 100)
            offset = int(query.get("cursor") or 0)
        except ValueError:
            return _error(400, "InvalidRequest", "limit and cursor must be numbers")
        since = query.get("since")
        now = self.clock()
        with self._lock:
            found = []
            for record in self._records.values():
                if (
                    record.deleted
                    or record.collection != POST
                    or now - record.indexed_at < self.index_delay
                ):
                    continue
                text = str(record.value.get("text", ""))
                if not all(
                    re.search(rf"(?<![\w#])#{re.escape(tag)}(?!\w)", text, re.IGNORECASE)
                    for tag in tags
                ):
                    continue
                created = str(record.value.get("createdAt", ""))
                if since and created < since:
                    continue
                found.append((created, record))
            found.sort(key=lambda item: item[0], reverse=True)
            page = [self._post_view(record) for _, record in found[offset : offset + limit]]
        body: dict[str, Any] = {"posts": page, "hitsTotal": len(found)}
        if offset + limit < len(found):
            body["cursor"] = str(offset + limit)
        return _json(200, body)

    @xrpc("GET", "app.bsky.actor.getProfile")
    def _get_profile(self, request: HttpRequest) -> HttpResponse:
        self._authenticate(request)
        actor = _query(request).get("actor", "").strip().lower()
        with self._lock:
            account = self._account_by_identifier(actor)
            if account is None:
                return _error(400, "InvalidRequest", "Profile not found")
            posts = sum(
                1
                for r in self._records.values()
                if r.account is account and r.collection == POST and not r.deleted
            )
            return _json(
                200,
                {
                    "did": account.did,
                    "handle": account.handle,
                    "displayName": account.handle,
                    "followersCount": account.followers,
                    "followsCount": 0,
                    "postsCount": posts,
                    "indexedAt": _iso(account.created_at),
                    "createdAt": _iso(account.created_at),
                    "viewer": {},
                    "labels": [],
                },
            )

    # --- bookkeeping ----------------------------------------------------------------------------

    def _account_by_handle(self, handle: str) -> _Account | None:
        return next((a for a in self._accounts.values() if a.handle == handle), None)

    def _account_by_identifier(self, identifier: str) -> _Account | None:
        """By DID, handle or the e-mail address the sandbox gives it."""
        if identifier.startswith("did:"):
            return self._accounts.get(identifier)
        return self._account_by_handle(identifier.removesuffix("@example.org"))

    def _record_at(self, uri: str) -> _Record | None:
        try:
            at = AtUri.parse(uri)
        except ValueError:
            return None
        account = self._account_by_identifier(at.repo.lower())
        if account is None:
            return None
        return self._records.get((account.did, at.collection, at.rkey))

    def _next_tid(self, now: float) -> str:
        """A clock TID as a PDS makes them: microseconds, always increasing."""
        self._last_tid = max(self._last_tid + 1, int(now * 1_000_000))
        return encode_tid(self._last_tid, 0)

    def _spend_writes(self, account: _Account, points: int) -> dict[str, str]:
        """Take ``points`` from ``account``'s hourly write budget (see :meth:`_spend`)."""
        return self._spend(
            self._write_windows, account.did, points, self.write_points_per_hour, WRITE_WINDOW
        )

    def _spend(
        self, windows: dict[str, _Window], key: str, points: int, limit: int, length: float
    ) -> dict[str, str]:
        """Take ``points`` from ``key``'s window; answer 429 when they are not there.
        Returns the ``RateLimit-*`` headers for the answer."""
        now = self.clock()
        window = windows.get(key)
        if window is None or now >= window.started + length:
            window = windows[key] = _Window(now, 0)
        reset = window.started + length
        if window.used + points > limit:
            headers = _rate_headers(limit, max(0, limit - window.used), reset, length)
            headers["Retry-After"] = str(max(0, math.ceil(reset - now)))
            raise Answer(_error(429, headers=headers))
        window.used += points
        return _rate_headers(limit, limit - window.used, reset, length)

    # --- control over HTTP ----------------------------------------------------------------------

    def _view_records(self) -> list[dict[str, Any]]:
        return [_record_json(r) for r in self.records()]

    _view_statuses = _view_records

    def _control_accounts(self, body: dict[str, Any]) -> dict[str, Any]:
        handle = _full_handle(str(body["handle"]))
        password = self.add_account(
            handle, body.get("password"), followers=int(body.get("followers", 0))
        )
        return {"did": self.did_of(handle), "handle": handle, "password": password}

    def _control_engagement(self, body: dict[str, Any]) -> None:
        figures = counts(body, likes=0, reposts=0, replies=0, quotes=0)
        self.set_engagement(str(body["uri"]), **figures)

    def _extra_faults(self) -> dict[str, Callable[[Any], None]]:
        return {"expire_access_tokens": lambda v: self.expire_access_tokens() if v else None}


# --- record checks ------------------------------------------------------------------------------


def _required(container: dict[str, Any], key: str, kind: type, path: str) -> Any:
    if key not in container:
        raise _Invalid(f'Missing required key "{key}" at {path}')
    value = container[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        names = {str: "string", dict: "object", list: "array", int: "integer"}
        raise _Invalid(f"Expected {names.get(kind, kind.__name__)} value type at {path}.{key}")
    return value


def _validate_facet(facet: object, path: str) -> None:
    if not isinstance(facet, dict):
        raise _Invalid(f"Expected object value type at {path}")
    index = _required(facet, "index", dict, path)
    for key in ("byteStart", "byteEnd"):
        value = _required(index, key, int, f"{path}.index")
        if value < 0:
            raise _Invalid(f"integer too small (minimum 0, got {value}) at {path}.index.{key}")
    features = _required(facet, "features", list, path)
    for number, feature in enumerate(features):
        where = f"{path}.features[{number}]"
        if not isinstance(feature, dict):
            raise _Invalid(f"Expected object value type at {where}")
        kind = feature.get("$type")
        if kind == "app.bsky.richtext.facet#link":
            uri = _required(feature, "uri", str, where)
            if not _URI.match(uri):
                raise _Invalid(f'Invalid uri (got "{uri}") at {where}.uri')
        elif kind == "app.bsky.richtext.facet#mention":
            did = _required(feature, "did", str, where)
            if not _DID.match(did):
                raise _Invalid(f'Invalid DID (got "{did}") at {where}.did')
        elif kind == "app.bsky.richtext.facet#tag":
            tag = _required(feature, "tag", str, where)
            graphemes = sum(1 for _ in _GRAPHEME.finditer(tag))
            if graphemes > MAX_TAG_GRAPHEMES:
                raise _Invalid(
                    f"grapheme too big (maximum {MAX_TAG_GRAPHEMES}, got {graphemes}) at {where}.tag"
                )
            if len(tag.encode("utf-8")) > MAX_TAG_BYTES:
                raise _Invalid(f"string too big (maximum {MAX_TAG_BYTES}) at {where}.tag")


def _validate_strong_ref(ref: dict[str, Any], name: str) -> None:
    path = f"$.record.reply.{name}"
    uri = _required(ref, "uri", str, path)
    cid = _required(ref, "cid", str, path)
    try:
        AtUri.parse(uri)
    except ValueError:
        raise _Invalid(f'Invalid AT-URI (got "{uri}") at {path}.uri') from None
    if not _CID.match(cid):
        raise _Invalid(f'Invalid CID string (got "{cid}") at {path}.cid')


def _is_datetime(value: str) -> bool:
    if not _DATETIME.match(value):
        return False
    try:
        isoparse(value)
    except ValueError:
        return False
    return True


# --- helpers ------------------------------------------------------------------------------------


#: The XRPC error names of the control routes' answers.
_CONTROL_ERRORS = {400: "InvalidRequest", 403: "Forbidden", 404: "NotFound"}


def _nsid(request: HttpRequest) -> str:
    """The method a ``/xrpc/<nsid>`` request calls ("" for any other path)."""
    return request.path[len("/xrpc/") :] if request.path.startswith("/xrpc/") else ""


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    return _json_response(status, payload, headers)


def _error(
    status: int,
    name: str | None = None,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """The XRPC error envelope, with the reference server's default words for ``status``."""
    name = name or _STATUS_NAMES.get(status, "InternalServerError" if status >= 500 else "Error")
    message = message or _STATUS_MESSAGES.get(status, name)
    return _json_response(status, {"error": name, "message": message}, headers)


def _rate_headers(limit: int, remaining: int, reset: float, window: float) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(remaining),
        "RateLimit-Reset": str(math.ceil(reset)),
        "RateLimit-Policy": f"{limit};w={int(window)}",
    }


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise Answer(
            _error(400, "InvalidRequest", f"Unable to parse the JSON body: {exc}")
        ) from exc
    if not isinstance(body, dict):
        raise Answer(_error(400, "InvalidRequest", "Input must be an object"))
    return body


def _query(request: HttpRequest) -> dict[str, str]:
    return {key: values[-1] for key, values in request.query.items() if values}


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _full_handle(handle: str) -> str:
    handle = handle.strip().lstrip("@").lower()
    return handle if "." in handle else f"{handle}.test"


def _cid(codec: int, data: bytes) -> str:
    """A CIDv1 (sha2-256) in base32, as AT Protocol writes them: ``bafkrei…`` for raw blobs
    (codec 0x55; identical to the real server's), ``bafyrei…`` for records (0x71)."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode("ascii").lower().rstrip("=")


def _record_cid(value: Any) -> str:
    # The real CID hashes the record's DAG-CBOR; canonical JSON gives the same uniqueness.
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return _cid(0x71, canonical.encode("utf-8"))


def _iso(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _snapshot(record: _Record, blobs: dict[tuple[str, str], _Blob]) -> SandboxRecord:
    value = record.value
    reply = _mapping(value.get("reply"))

    def ref_uri(name: str) -> str | None:
        uri = _mapping(reply.get(name)).get("uri")
        return str(uri) if uri is not None else None

    langs = value.get("langs")
    facets = value.get("facets")
    return snapshot(
        SandboxRecord,
        record,
        did=record.account.did,
        handle=record.account.handle,
        text=str(value.get("text") or ""),
        langs=tuple(str(x) for x in langs) if isinstance(langs, list) else (),
        facets=tuple(copy.deepcopy(f) for f in facets) if isinstance(facets, list) else (),
        images=_images(record, blobs),
        reply_root=ref_uri("root"),
        reply_parent=ref_uri("parent"),
        created_at=str(value.get("createdAt") or ""),
        indexed_at=datetime.fromtimestamp(record.indexed_at, UTC),
        value=copy.deepcopy(value),
        video=_video(record, blobs),
    )


def _video(record: _Record, blobs: dict[tuple[str, str], _Blob]) -> SandboxImage | None:
    embed = _mapping(record.value.get("embed"))
    if embed.get("$type") != "app.bsky.embed.video":
        return None
    blob = _mapping(embed.get("video"))
    cid = str(_mapping(blob.get("ref")).get("$link") or "")
    stored = blobs.get((record.account.did, cid))
    ratio = _mapping(embed.get("aspectRatio"))
    return SandboxImage(
        cid=cid,
        alt=str(embed.get("alt") or ""),
        mime_type=stored.mime_type if stored else str(blob.get("mimeType") or ""),
        size=stored.size if stored else int(blob.get("size") or 0),
        aspect_ratio=(int(ratio["width"]), int(ratio["height"])) if ratio else None,
    )


def _images(record: _Record, blobs: dict[tuple[str, str], _Blob]) -> tuple[SandboxImage, ...]:
    embed = _mapping(record.value.get("embed"))
    if embed.get("$type") != "app.bsky.embed.images":
        return ()
    images = []
    for item in embed.get("images") or []:
        image = _mapping(item)
        blob = _mapping(image.get("image"))
        cid = str(_mapping(blob.get("ref")).get("$link") or "")
        stored = blobs.get((record.account.did, cid))
        ratio = _mapping(image.get("aspectRatio"))
        images.append(
            SandboxImage(
                cid=cid,
                alt=str(image.get("alt") or ""),
                mime_type=stored.mime_type if stored else str(blob.get("mimeType") or ""),
                size=stored.size if stored else int(blob.get("size") or 0),
                aspect_ratio=(int(ratio["width"]), int(ratio["height"])) if ratio else None,
            )
        )
    return tuple(images)


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _record_json(record: SandboxRecord) -> dict[str, Any]:
    return fields_of(
        record,
        *("uri", "cid", "handle", "text", "langs", "facets", "images"),
        *("reply_root", "reply_parent", "created_at", "deleted"),
        images=("cid", "alt", "mime_type", "size"),
    )
