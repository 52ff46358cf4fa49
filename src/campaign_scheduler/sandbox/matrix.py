"""A Matrix homeserver on loopback: the parts of the client-server API that a room poster uses,
answering as Synapse does (checked against Synapse 1.163, see tests/test_matrix_synapse.py).

Used by rehearsals (``campaign sandbox``, ``campaign demo``) and by tests. What it implements:

* ``PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}``: membership and power-level
  checks (403 ``M_FORBIDDEN``), the 65536-byte event limit (413 ``M_TOO_LARGE``), and
  transaction ids remembered per (room, user, device, txnId) for ``txn_ttl`` seconds (Synapse:
  24 hours), concurrent repeats serialised so that one event is created.
* ``GET .../rooms/{roomId}/event/{eventId}``, ``.../messages`` (``dir``, ``from``, ``limit``,
  ``filter`` with ``types``/``not_types``/``senders``/``not_senders``),
  ``PUT .../redact/{eventId}/{txnId}``, ``GET .../joined_members``,
  ``GET .../state/m.room.member/{userId}``, ``GET .../state/m.room.power_levels``,
  ``POST /_matrix/client/v3/join/{roomIdOrAlias}``,
  ``GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]``.
  Events carry ``unsigned.transaction_id`` for the device that sent them, ``redacted_because``
  after a redaction and the bundled ``m.thread`` aggregation (``count``).
* ``GET /_matrix/client/v3/account/whoami``, ``GET /_matrix/client/v3/directory/room/{alias}``
  (no token needed, as in Synapse), ``GET /_matrix/client/versions``.
* ``POST /_matrix/media/v3/upload`` (→ ``mxc://``), authenticated downloads from
  ``GET /_matrix/client/v1/media/download/{server}/{mediaId}`` (the unauthenticated
  ``/_matrix/media/v3/download`` answers 404, as with Synapse's default
  ``enable_authenticated_media``), ``GET /_matrix/client/v1/media/config``.
* Matrix's error envelope ``{"errcode": "M_...", "error": "..."}`` in Synapse's wording; 429
  with ``retry_after_ms`` and a ``Retry-After`` header.

Faults and inspection are available from Python (:class:`MatrixSandbox` methods) and, for
rehearsals driven through a subprocess, over HTTP from loopback without a token:

``POST /_sandbox/faults``
    a JSON object with any of ``{"fail_next": {"count": 1, "status": 503}}``,
    ``{"rate_limit_next": {"count": 1, "reset_in": 60}}``, ``{"drop_after_create": {"count": 1}}``,
    ``{"hold_after_create": {"count": 1}}``, ``{"release": true}``, ``{"revoke": {"token": "…"}}``,
    ``{"delay": 0.5}``. The faults apply to the next event sends (``PUT .../send/...``).
``POST /_sandbox/accounts``
    ``{"user": "soest", "token": "optional", "rooms": ["#5malklug:localhost"]}`` →
    ``{"token": "…", "user_id": "@soest:localhost", "device_id": "…"}``.
``POST /_sandbox/rooms``
    ``{"alias": "5malklug", "message_level": 0}`` → ``{"room_id": "!…", "alias": "#…"}``.
``POST /_sandbox/engagement``
    ``{"event_id": "$…", "reactions": 3, "thread_replies": 1}`` (from a reader account).
``GET /_sandbox/events``, ``GET /_sandbox/requests``
    what was sent / what arrived, as JSON.

* ``GET``/``POST /_matrix/client/v3/login`` with ``m.login.password`` for users given a password
  (:meth:`MatrixSandbox.set_password`): a new device and access token (no expiry, as Synapse
  without refresh tokens); a wrong password is 403 ``M_FORBIDDEN``.

Not modelled: sync, federation, encryption, room versions and state resolution, registration,
login types other than passwords, ratelimiting other than by the fault switch.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.sandbox._base import Answer, Option, SandboxBase, handles, snapshot
from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    json_response,
)

MAX_EVENT_BYTES = 65536
TXN_TTL = 24 * 3600.0
MAX_UPLOAD = 50 * 1024 * 1024
READER = "leser"  # the account that reacts and replies for set_engagement
VERSIONS = ["r0.6.1", "v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8",
            "v1.9", "v1.10", "v1.11", "v1.12"]  # fmt: skip

# Synapse's own words (synapse/api/errors.py, handlers, rest/client).
_DEFAULT_ERRORS = {
    400: ("M_BAD_JSON", "Content not JSON."),
    401: ("M_UNKNOWN_TOKEN", "Invalid access token passed."),
    403: ("M_FORBIDDEN", "Forbidden"),
    404: ("M_NOT_FOUND", "Not found"),
    413: ("M_TOO_LARGE", "event too large"),
    429: ("M_LIMIT_EXCEEDED", "Too Many Requests"),
    500: ("M_UNKNOWN", "Internal server error"),
    502: ("M_UNKNOWN", "Bad gateway"),
    503: ("M_UNKNOWN", "Service unavailable"),
    504: ("M_UNKNOWN", "Gateway timeout"),
}


# --- what tests and rehearsals can inspect ---------------------------------------------------


@dataclass(frozen=True)
class SandboxEvent:
    """An event the sandbox holds (snapshot; a later redaction does not show in it)."""

    event_id: str
    room_id: str
    sender: str
    type: str
    content: dict[str, Any]
    origin_server_ts: int
    txn_id: str | None
    device_id: str | None
    redacted: bool

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(self.origin_server_ts / 1000, UTC)


@dataclass(frozen=True)
class SandboxUpload:
    """A file uploaded to the media repository."""

    content_uri: str
    filename: str | None
    content_type: str
    content: bytes
    uploader: str


# --- internal state ---------------------------------------------------------------------------


@dataclass
class _Event:
    event_id: str
    room_id: str
    sender: str
    type: str
    content: dict[str, Any]
    origin_server_ts: int
    stream: int
    state_key: str | None = None
    txn_id: str | None = None
    device_id: str | None = None
    redacted_because: _Event | None = None


@dataclass
class _Room:
    room_id: str
    aliases: list[str]
    members: dict[str, str] = field(default_factory=dict)  # user id -> display name
    power_levels: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Requester:
    user_id: str
    device_id: str


class MatrixSandbox(SandboxBase[int, float]):
    """A loopback Matrix homeserver. Use as a context manager or call start()/stop()."""

    wrong_method_status = 405
    unknown_route_message = "Unrecognized request"

    #: The homeserver's name (the part of user ids and room ids after the colon).
    server_name = Option("localhost")
    #: Seconds a transaction id is remembered (a repeated ``PUT`` answers the same event).
    txn_ttl = Option(TXN_TTL)
    #: The media repository's upload limit in bytes (``m.upload.size``).
    max_upload_size = Option(MAX_UPLOAD)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._tokens: dict[str, _Requester] = {}
        self._passwords: dict[str, str] = {}  # user id -> password
        self._rooms: dict[str, _Room] = {}
        self._aliases: dict[str, str] = {}
        self._events: dict[str, _Event] = {}
        self._timeline: list[_Event] = []
        self._txns: dict[tuple[str, str, str, str], tuple[str, float]] = {}
        self._uploads: dict[str, SandboxUpload] = {}
        self._stream = itertools.count(1)

    # --- control ------------------------------------------------------------------------------

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def add_room(self, alias: str | None = None, *, message_level: int = 0) -> str:
        """Create a public room (optionally with ``#alias:server``); return its id. Messages
        need power level ``message_level`` (0: every member may post)."""
        room_id = f"!{secrets.token_urlsafe(12)}:{self.server_name}"
        full_alias = None if alias is None else self._full_alias(alias)
        with self._lock:
            if full_alias is not None and full_alias in self._aliases:
                raise ValueError(f"alias {full_alias} is taken")
            room = _Room(room_id, [full_alias] if full_alias else [])
            room.power_levels = {
                "ban": 50,
                "events": {"m.room.power_levels": 100, "m.room.name": 50},
                "events_default": message_level,
                "invite": 50,
                "kick": 50,
                "redact": 50,
                "state_default": 50,
                "users": {},
                "users_default": 0,
            }
            self._rooms[room_id] = room
            if full_alias is not None:
                self._aliases[full_alias] = room_id
        return room_id

    def add_account(
        self, localpart: str, token: str | None = None, *, rooms: tuple[str, ...] = ()
    ) -> str:
        """A new device (and token) for ``@localpart:server``, joined to ``rooms`` (ids or
        aliases); return the token."""
        token = token or f"syt_{secrets.token_urlsafe(24)}"
        user_id = self.user_id(localpart)
        with self._lock:
            self._tokens[token] = _Requester(user_id, secrets.token_hex(5).upper())
            for room in rooms:
                self.join(localpart, room)
        return token

    def set_password(self, localpart: str, password: str) -> None:
        """Let ``@localpart:server`` log in with ``password`` (``POST /login``)."""
        with self._lock:
            self._passwords[self.user_id(localpart)] = password

    def join(self, localpart: str, room: str) -> str:
        """Make ``@localpart:server`` a member of ``room`` (id or alias); return the room id."""
        user_id = self.user_id(localpart)
        with self._lock:
            target = self._room_by_id_or_alias(room)
            if target is None:
                raise KeyError(f"no room {room}")
            if user_id not in target.members:
                target.members[user_id] = localpart
                member = {"membership": "join", "displayname": localpart}
                self._append(target.room_id, user_id, "m.room.member", member, state_key=user_id)
            return target.room_id

    def set_power_level(self, room_id: str, localpart: str, level: int) -> None:
        with self._lock:
            self._rooms[room_id].power_levels["users"][self.user_id(localpart)] = level

    def events(self, room_id: str | None = None) -> list[SandboxEvent]:
        """Every event so far (also redacted ones, with their content emptied), oldest first."""
        return self._listing(self._timeline, _snapshot, lambda e: room_id in (None, e.room_id))

    def uploads(self) -> list[SandboxUpload]:
        with self._lock:
            return list(self._uploads.values())

    def react(self, event_id: str, key: str = "👍", localpart: str = READER) -> str:
        """Add a reaction (``m.annotation``) to ``event_id`` from ``@localpart``."""
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return self._relate(event_id, localpart, "m.reaction", {"m.relates_to": relation})

    def reply_in_thread(self, event_id: str, text: str, localpart: str = READER) -> str:
        """Add a reply in the thread of ``event_id`` from ``@localpart``."""
        relation = {
            "rel_type": "m.thread",
            "event_id": event_id,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": event_id},
        }
        content = {"msgtype": "m.text", "body": text, "m.relates_to": relation}
        return self._relate(event_id, localpart, "m.room.message", content)

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` event sends get ``status`` and create nothing."""
        self._queue_failures(count, status)

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` event sends get 429 ``M_LIMIT_EXCEEDED`` with
        ``retry_after_ms`` = ``reset_in`` seconds."""
        self._queue_rate_limits(count, reset_in)

    # --- request handling ---------------------------------------------------------------------

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        return _error(status, _CONTROL_ERRCODES.get(status, "M_UNKNOWN"), message)

    def _requester(self, request: HttpRequest) -> _Requester:
        header = request.header("Authorization")
        token = None
        if header is not None:
            scheme, _, value = header.partition(" ")
            token = value.strip() if scheme.lower() == "bearer" else None
        elif request.query.get("access_token"):
            token = request.query["access_token"][-1]
        if token is None:
            raise Answer(_error(401, "M_MISSING_TOKEN", "Missing access token"))
        with self._lock:
            requester = self._tokens.get(token)
        if requester is None:
            raise Answer(
                json_response(
                    401,
                    {
                        "errcode": "M_UNKNOWN_TOKEN",
                        "error": "Invalid access token passed.",
                        "soft_logout": False,
                    },
                )
            )
        return requester

    def _member_room(self, room_id: str, user_id: str) -> _Room:
        room = self._rooms.get(room_id)
        if room is None or user_id not in room.members:
            raise Answer(
                _error(
                    403,
                    "M_FORBIDDEN",
                    f"User {user_id} not in room {room_id}, and room previews are disabled",
                )
            )
        return room

    # --- client API ---------------------------------------------------------------------------

    @handles("GET", r"/_matrix/client/versions")
    def _versions(self, request: HttpRequest) -> HttpResponse:
        return json_response(200, {"versions": VERSIONS, "unstable_features": {}})

    @handles("GET", r"/_matrix/client/v3/account/whoami")
    def _whoami(self, request: HttpRequest) -> HttpResponse:
        requester = self._requester(request)
        return json_response(
            200,
            {"user_id": requester.user_id, "is_guest": False, "device_id": requester.device_id},
        )

    @handles("GET", r"/_matrix/client/v3/login")
    def _login_flows(self, request: HttpRequest) -> HttpResponse:
        return json_response(200, {"flows": [{"type": "m.login.password"}]})

    @handles("POST", r"/_matrix/client/v3/login")
    def _login(self, request: HttpRequest) -> HttpResponse:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "M_NOT_JSON", "Content not JSON.")
        if not isinstance(body, dict) or body.get("type") != "m.login.password":
            return _error(400, "M_UNKNOWN", "Unknown login type")
        identifier = body.get("identifier") or {}
        user = str(identifier.get("user") or body.get("user") or "")
        user_id = user if user.startswith("@") else self.user_id(user)
        with self._lock:
            known = self._passwords.get(user_id)
        password = str(body.get("password") or "")
        if known is None or not secrets.compare_digest(known, password):
            return _error(403, "M_FORBIDDEN", "Invalid username or password")
        token = f"syt_{secrets.token_urlsafe(24)}"
        device = str(body.get("device_id") or secrets.token_hex(5).upper())
        with self._lock:
            self._tokens[token] = _Requester(user_id, device)
        return json_response(
            200,
            {
                "user_id": user_id,
                "access_token": token,
                "home_server": self.server_name,
                "device_id": device,
            },
        )

    @handles("GET", r"/_matrix/client/v3/directory/room/([^/]+)")
    def _directory(self, request: HttpRequest, alias: str) -> HttpResponse:
        with self._lock:
            room_id = self._aliases.get(alias)
        if room_id is None:
            return _error(404, "M_NOT_FOUND", f"Room alias {alias} not found")
        return json_response(200, {"room_id": room_id, "servers": [self.server_name]})

    @handles("POST", r"/_matrix/client/v3/join/([^/]+)")
    def _join(self, request: HttpRequest, room: str) -> HttpResponse:
        requester = self._requester(request)
        localpart = requester.user_id[1:].split(":", 1)[0]
        try:
            room_id = self.join(localpart, room)
        except KeyError:
            return _error(404, "M_NOT_FOUND", f"No known servers for {room}")
        return json_response(200, {"room_id": room_id})

    @handles("PUT", r"/_matrix/client/v3/rooms/([^/]+)/send/([^/]+)/([^/]+)")
    def _send(
        self, request: HttpRequest, room_id: str, event_type: str, txn_id: str
    ) -> tuple[HttpResponse, str | None]:
        requester = self._requester(request)
        return self._create_unless_faulted(
            _failure,
            _rate_limited,
            lambda: self._create_event(request, requester, room_id, event_type, txn_id),
        )

    def _create_event(
        self,
        request: HttpRequest,
        requester: _Requester,
        room_id: str,
        event_type: str,
        txn_id: str,
    ) -> HttpResponse:
        try:
            content = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "M_NOT_JSON", "Content not JSON.")
        if not isinstance(content, dict):
            return _error(400, "M_BAD_JSON", "Content must be a JSON object.")
        with self._lock:  # one creation at a time: concurrent repeats of a txn see the first
            now = self.clock()
            key = (room_id, requester.user_id, requester.device_id, txn_id)
            stored = self._txns.get(key)
            if stored is not None and now - stored[1] < self.txn_ttl:
                return json_response(200, {"event_id": stored[0]})
            room = self._rooms.get(room_id)
            if room is None or requester.user_id not in room.members:
                return _error(403, "M_FORBIDDEN", f"User {requester.user_id} not in room {room_id}")
            have, needed = _levels(room.power_levels, requester.user_id, event_type)
            if have < needed:
                return _error(
                    403,
                    "M_FORBIDDEN",
                    f"You don't have permission to post that to the room. user_level ({have}) "
                    f"< send_level ({needed})",
                )
            event = self._append(
                room_id,
                requester.user_id,
                event_type,
                content,
                txn=(requester.device_id, txn_id),
                check_size=True,
            )
            if event is None:
                return _error(413, "M_TOO_LARGE", "event too large")
            self._txns[key] = (event.event_id, now)
            return json_response(200, {"event_id": event.event_id})

    @handles("PUT", r"/_matrix/client/v3/rooms/([^/]+)/redact/([^/]+)/([^/]+)")
    def _redact(
        self, request: HttpRequest, room_id: str, event_id: str, txn_id: str
    ) -> HttpResponse:
        requester = self._requester(request)
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "M_NOT_JSON", "Content not JSON.")
        with self._lock:
            now = self.clock()
            key = (room_id, requester.user_id, requester.device_id, txn_id)
            stored = self._txns.get(key)
            if stored is not None and now - stored[1] < self.txn_ttl:
                return json_response(200, {"event_id": stored[0]})
            room = self._member_room(room_id, requester.user_id)
            target = self._events.get(event_id)
            if target is not None and target.sender != requester.user_id:
                have = _int(room.power_levels["users"].get(requester.user_id, 0))
                if have < _int(room.power_levels.get("redact", 50)):
                    return _error(403, "M_FORBIDDEN", "You don't have permission to redact events")
            content = {"redacts": event_id}
            if isinstance(body, dict) and isinstance(body.get("reason"), str):
                content["reason"] = body["reason"]
            redaction = self._append(
                room_id,
                requester.user_id,
                "m.room.redaction",
                content,
                txn=(requester.device_id, txn_id),
            )
            assert redaction is not None
            # Synapse stores a redaction of an unknown event too (and answers 200).
            if target is not None and target.room_id == room_id and not target.redacted_because:
                target.redacted_because = redaction
                target.content = {}
            self._txns[key] = (redaction.event_id, now)
            return json_response(200, {"event_id": redaction.event_id})

    @handles("GET", r"/_matrix/client/v3/rooms/([^/]+)/event/([^/]+)")
    def _get_event(self, request: HttpRequest, room_id: str, event_id: str) -> HttpResponse:
        requester = self._requester(request)
        with self._lock:
            self._member_room(room_id, requester.user_id)
            event = self._events.get(event_id)
            if event is None or event.room_id != room_id:
                return _error(404, "M_NOT_FOUND", "Event not found.")
            return json_response(200, self._serialize(event, requester))

    @handles("GET", r"/_matrix/client/v3/rooms/([^/]+)/messages")
    def _messages(self, request: HttpRequest, room_id: str) -> HttpResponse:
        requester = self._requester(request)
        query = {key: values[-1] for key, values in request.query.items() if values}
        direction = query.get("dir", "b")
        if direction not in ("b", "f"):
            return _error(400, "M_INVALID_PARAM", "Query parameter 'dir' must be one of ['b', 'f']")
        try:
            limit = min(max(int(query.get("limit") or 10), 0), 1000)
            start = _token_position(query.get("from"))
            event_filter = json.loads(query["filter"]) if query.get("filter") else {}
            if not isinstance(event_filter, dict):
                raise TypeError("the filter must be a JSON object")
        except (ValueError, KeyError, TypeError):
            return _error(400, "M_INVALID_PARAM", "Invalid pagination parameter or filter")
        limit = min(limit, _int(event_filter.get("limit", limit)) or limit)
        with self._lock:
            self._member_room(room_id, requester.user_id)
            events = [e for e in self._timeline if e.room_id == room_id]
            if direction == "b":
                begin = start if start is not None else math.inf
                candidates = [e for e in reversed(events) if e.stream < begin]
            else:
                begin = start if start is not None else 0
                candidates = [e for e in events if e.stream >= begin]
            matching = [e for e in candidates if _matches(event_filter, e)]
            page = matching[:limit]
            body: dict[str, Any] = {
                "chunk": [self._serialize(e, requester) for e in page],
                "start": query.get("from") or f"s{_end_position(events, direction)}",
            }
            if len(matching) > len(page) and page:
                last = page[-1].stream
                body["end"] = f"s{last if direction == 'b' else last + 1}"
            return json_response(200, body)

    @handles("GET", r"/_matrix/client/v1/rooms/([^/]+)/relations/([^/]+)(?:/([^/]+))?(?:/([^/]+))?")
    def _relations(
        self,
        request: HttpRequest,
        room_id: str,
        event_id: str,
        rel_type: str | None = None,
        event_type: str | None = None,
    ) -> HttpResponse:
        requester = self._requester(request)
        query = {key: values[-1] for key, values in request.query.items() if values}
        try:
            limit = min(max(int(query.get("limit") or 5), 1), 1000)
            start = _token_position(query.get("from"))
        except ValueError:
            return _error(400, "M_INVALID_PARAM", "Invalid pagination parameter")
        with self._lock:
            self._member_room(room_id, requester.user_id)
            parent = self._events.get(event_id)
            if parent is None or parent.room_id != room_id:
                return _error(404, "M_NOT_FOUND", "Event not found.")

            def wanted(event: _Event) -> bool:
                relation = _relation(event)
                return (
                    relation is not None
                    and relation[0] == event_id
                    and rel_type in (None, relation[1])
                    and event_type in (None, event.type)
                    and event.redacted_because is None
                    and (start is None or event.stream < start)
                )

            children = [e for e in reversed(self._timeline) if wanted(e)]
            page = children[:limit]
            body: dict[str, Any] = {"chunk": [self._serialize(e, requester) for e in page]}
            if len(children) > len(page):
                body["next_batch"] = f"s{page[-1].stream}"
            return json_response(200, body)

    @handles("GET", r"/_matrix/client/v3/rooms/([^/]+)/joined_members")
    def _joined_members(self, request: HttpRequest, room_id: str) -> HttpResponse:
        requester = self._requester(request)
        with self._lock:
            room = self._member_room(room_id, requester.user_id)
            joined = {
                user: {"avatar_url": None, "display_name": name}
                for user, name in room.members.items()
            }
        return json_response(200, {"joined": joined})

    @handles("GET", r"/_matrix/client/v3/rooms/([^/]+)/state/m\.room\.member/([^/]+)")
    def _member_state(self, request: HttpRequest, room_id: str, user_id: str) -> HttpResponse:
        requester = self._requester(request)
        with self._lock:
            room = self._member_room(room_id, requester.user_id)
            if user_id not in room.members:
                return _error(404, "M_NOT_FOUND", f"Event not found ({room_id}, {user_id})")
            return json_response(200, {"displayname": room.members[user_id], "membership": "join"})

    @handles("GET", r"/_matrix/client/v3/rooms/([^/]+)/state/m\.room\.power_levels/?")
    def _power_levels(self, request: HttpRequest, room_id: str) -> HttpResponse:
        requester = self._requester(request)
        with self._lock:
            room = self._member_room(room_id, requester.user_id)
            return json_response(200, json.loads(json.dumps(room.power_levels)))

    # --- media --------------------------------------------------------------------------------

    @handles("POST", r"/_matrix/media/v3/upload")
    def _upload(self, request: HttpRequest) -> HttpResponse:
        requester = self._requester(request)
        if len(request.body) > self.max_upload_size:
            return _error(413, "M_TOO_LARGE", "Upload request body is too large")
        filename = request.query.get("filename", [None])[-1]
        media_id = secrets.token_urlsafe(18)
        content_uri = f"mxc://{self.server_name}/{media_id}"
        upload = SandboxUpload(
            content_uri,
            filename,
            request.header("Content-Type") or "application/octet-stream",
            request.body,
            requester.user_id,
        )
        with self._lock:
            self._uploads[media_id] = upload
        return json_response(200, {"content_uri": content_uri})

    @handles("GET", r"/_matrix/client/v1/media/download/([^/]+)/([^/]+)(?:/([^/]+))?")
    def _download(
        self, request: HttpRequest, server: str, media_id: str, filename: str | None = None
    ) -> HttpResponse:
        self._requester(request)
        with self._lock:
            upload = self._uploads.get(media_id) if server == self.server_name else None
        if upload is None:
            return _error(404, "M_NOT_FOUND", "Not found")
        return HttpResponse(200, upload.content, [("Content-Type", upload.content_type)])

    @handles("GET", r"/_matrix/media/v3/download/([^/]+)/([^/]+).*")
    def _legacy_download(self, request: HttpRequest, *parts: str) -> HttpResponse:
        return _error(404, "M_NOT_FOUND", "Not found")

    @handles("GET", r"/_matrix/client/v1/media/config")
    def _media_config(self, request: HttpRequest) -> HttpResponse:
        self._requester(request)
        return json_response(200, {"m.upload.size": self.max_upload_size})

    # --- events -------------------------------------------------------------------------------

    def _append(
        self,
        room_id: str,
        sender: str,
        event_type: str,
        content: dict[str, Any],
        *,
        state_key: str | None = None,
        txn: tuple[str, str] | None = None,
        check_size: bool = False,
    ) -> _Event | None:
        """Store a new event (under the lock); ``None`` when it is too large."""
        event = _Event(
            event_id="$" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("="),
            room_id=room_id,
            sender=sender,
            type=event_type,
            content=json.loads(json.dumps(content)),
            origin_server_ts=int(self.clock() * 1000),
            stream=next(self._stream),
            state_key=state_key,
            device_id=txn[0] if txn else None,
            txn_id=txn[1] if txn else None,
        )
        if check_size and _size(self._plain(event)) > MAX_EVENT_BYTES:
            return None
        self._events[event.event_id] = event
        self._timeline.append(event)
        return event

    def _relate(
        self, event_id: str, localpart: str, event_type: str, content: dict[str, Any]
    ) -> str:
        with self._lock:
            parent = self._events.get(event_id)
            if parent is None:
                raise KeyError(f"no event {event_id}")
            self.join(localpart, parent.room_id)
            event = self._append(parent.room_id, self.user_id(localpart), event_type, content)
            assert event is not None
            return event.event_id

    def _plain(self, event: _Event) -> dict[str, Any]:
        plain: dict[str, Any] = {
            "content": event.content,
            "event_id": event.event_id,
            "origin_server_ts": event.origin_server_ts,
            "room_id": event.room_id,
            "sender": event.sender,
            "type": event.type,
        }
        if event.state_key is not None:
            plain["state_key"] = event.state_key
        if event.type == "m.room.redaction":
            plain["redacts"] = event.content.get("redacts")
        return plain

    def _serialize(self, event: _Event, requester: _Requester) -> dict[str, Any]:
        """The client format of ``event`` as ``requester`` sees it."""
        plain = self._plain(event)
        age = max(0, int(self.clock() * 1000) - event.origin_server_ts)
        unsigned: dict[str, Any] = {"age": age}
        if (
            event.txn_id is not None
            and event.sender == requester.user_id
            and event.device_id == requester.device_id
        ):
            unsigned["transaction_id"] = event.txn_id
        if event.redacted_because is not None:
            because = self._serialize(event.redacted_because, requester)
            unsigned["redacted_because"] = because
            plain["redacted_because"] = because
        threads = [
            e
            for e in self._timeline
            if _relation(e) == (event.event_id, "m.thread") and e.redacted_because is None
        ]
        if threads:
            unsigned["m.relations"] = {
                "m.thread": {
                    "count": len(threads),
                    "current_user_participated": any(
                        e.sender == requester.user_id for e in threads
                    ),
                    "latest_event": self._plain(threads[-1]),
                }
            }
        plain["unsigned"] = unsigned
        plain["user_id"] = event.sender
        plain["age"] = age
        return plain

    def _room_by_id_or_alias(self, room: str) -> _Room | None:
        room_id = self._aliases.get(room, room)
        return self._rooms.get(room_id)

    def _full_alias(self, alias: str) -> str:
        alias = alias.lstrip("#")
        return f"#{alias}" if ":" in alias else f"#{alias}:{self.server_name}"

    # --- control over HTTP --------------------------------------------------------------------

    def _view_events(self) -> list[dict[str, Any]]:
        return [_event_json(e) for e in self.events()]

    def _control_rooms(self, body: dict[str, Any]) -> dict[str, Any]:
        alias = body.get("alias")
        room_id = self.add_room(
            None if alias is None else str(alias),
            message_level=int(body.get("message_level", 0)),
        )
        return {"room_id": room_id, "alias": None if alias is None else self._full_alias(alias)}

    def _control_accounts(self, body: dict[str, Any]) -> dict[str, Any]:
        localpart = str(body["user"])
        token = self.add_account(
            localpart, body.get("token"), rooms=tuple(str(r) for r in body.get("rooms", []))
        )
        with self._lock:
            device = self._tokens[token].device_id
        return {"token": token, "user_id": self.user_id(localpart), "device_id": device}

    def _control_engagement(self, body: dict[str, Any]) -> None:
        event_id = str(body["event_id"])
        for _ in range(int(body.get("reactions", 0))):
            self.react(event_id)
        for number in range(int(body.get("thread_replies", 0))):
            self.reply_in_thread(event_id, f"Antwort {number + 1}")


# --- helpers ----------------------------------------------------------------------------------


#: The errcodes of the control routes' answers.
_CONTROL_ERRCODES = {
    400: "M_INVALID_PARAM",
    403: "M_FORBIDDEN",
    404: "M_UNRECOGNIZED",
    405: "M_UNRECOGNIZED",
}


def _error(status: int, errcode: str, message: str) -> HttpResponse:
    return json_response(status, {"errcode": errcode, "error": message})


def _failure(status: int) -> HttpResponse:
    errcode, message = _DEFAULT_ERRORS.get(status, ("M_UNKNOWN", "Error"))
    return _error(status, errcode, message)


def _rate_limited(reset_in: float) -> HttpResponse:
    wait_ms = max(0, int(reset_in * 1000))
    return json_response(
        429,
        {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": wait_ms},
        {"Retry-After": str(math.ceil(wait_ms / 1000))},
    )


def _size(event: dict[str, Any]) -> int:
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _levels(power_levels: dict[str, Any], user_id: str, event_type: str) -> tuple[int, int]:
    have = _int(power_levels["users"].get(user_id, power_levels.get("users_default", 0)))
    needed = _int(power_levels["events"].get(event_type, power_levels.get("events_default", 0)))
    return have, needed


def _relation(event: _Event) -> tuple[str, str] | None:
    """(parent event id, rel_type) of an event that relates to another, else ``None``."""
    relates = event.content.get("m.relates_to")
    if not isinstance(relates, dict):
        return None
    parent, rel_type = relates.get("event_id"), relates.get("rel_type")
    if isinstance(parent, str) and isinstance(rel_type, str):
        return parent, rel_type
    return None


def _matches(event_filter: dict[str, Any], event: _Event) -> bool:
    """A RoomEventFilter's ``types``/``not_types``/``senders``/``not_senders`` (exact names
    and ``*`` wildcards in types)."""

    def listed(key: str, value: str) -> bool | None:
        entries = event_filter.get(key)
        if not isinstance(entries, list):
            return None
        return any(
            re.fullmatch(re.escape(str(entry)).replace(r"\*", ".*"), value) for entry in entries
        )

    if listed("not_types", event.type) or listed("not_senders", event.sender):
        return False
    return listed("types", event.type) is not False and listed("senders", event.sender) is not False


def _token_position(token: str | None) -> int | None:
    if not token:
        return None
    if not token.startswith("s") or not token[1:].isdigit():
        raise ValueError("unknown pagination token")
    return int(token[1:])


def _end_position(events: list[_Event], direction: str) -> int:
    """The token position of the timeline's end (newest + 1) or start (1)."""
    if direction == "b":
        return (events[-1].stream + 1) if events else 1
    return 1


def _snapshot(event: _Event) -> SandboxEvent:
    return snapshot(
        SandboxEvent,
        event,
        content=json.loads(json.dumps(event.content)),
        redacted=event.redacted_because is not None,
    )


def _event_json(event: SandboxEvent) -> dict[str, Any]:
    return fields_of(
        event,
        *("event_id", "room_id", "sender", "type", "content", "origin_server_ts", "txn_id"),
        "redacted",
    )
