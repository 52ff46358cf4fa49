"""Matrix: post messages into one room through the client-server API of a homeserver.

The account names a room (``room``: an id ``!abc:server`` or an alias ``#name:server``, resolved
through ``GET /_matrix/client/v3/directory/room/{alias}`` and cached) and carries an access
token (``token``, sent as ``Authorization: Bearer``). What the publisher needs to know:

* A post is one ``m.room.message`` event (``msgtype: m.text``) with the plain ``body`` and an
  HTML ``formatted_body`` (``format: org.matrix.custom.html``; text escaped, links clickable).
  Images are uploaded first (``POST /_matrix/media/v3/upload``; Matrix 1.11 moved downloads to
  the authenticated ``/_matrix/client/v1/media/*`` endpoints but kept this upload endpoint) and
  sent as ``m.image`` events *before* the text, each with the alt text as ``body`` and
  ``info`` (mimetype, size, w, h). The text event is sent last and is the post
  (``remote_id`` = its event id); it lists the image events under
  ``campaign_scheduler.media``, so that :meth:`MatrixChannel.delete` can redact them too.
* Every event is sent with ``PUT /rooms/{roomId}/send/m.room.message/{txnId}``; the text event's
  ``txnId`` is the delivery's idempotency key, image *n*'s is ``<key>-media-<n>``. Repeating a
  ``txnId`` returns the event already created instead of a second one. Synapse remembers a
  ``txnId`` per (room, user, device) for 24 hours in its database (and per device and path for
  30-60 minutes in memory); the specification names no duration, and other homeservers keep
  theirs in memory for about 30 minutes. :attr:`MatrixChannel.idempotency_window` therefore
  claims 25 minutes, below every implementation we know; later, the publisher looks the post up.
* :meth:`MatrixChannel.look_up` pages back through the room (``GET /rooms/{roomId}/messages``,
  filtered to our own ``m.room.message`` events) and recognises the post by the delivery key,
  kept in the content as ``campaign_scheduler.delivery`` and echoed by the homeserver as
  ``unsigned.transaction_id`` to the device that sent it.
* Matrix has no language field on messages (only an unstable proposal, MSC3554), so the
  post's language is not sent.
* Replies are rich replies: ``m.relates_to: {"m.in_reply_to": {"event_id": ...}}``.
* HTTP errors map to the error classes like this (``errcode`` in the JSON body):

  =======================================  ================================================
  401 (``M_UNKNOWN_TOKEN``, ...)           :class:`AuthError`
  403 (``M_FORBIDDEN``: not in the room,   :class:`AuthError`, with a hint on membership
  too low a power level; ...)              and power levels
  unknown room alias (404 on the alias)    :class:`AuthError` (the account's ``room``)
  429 / ``M_LIMIT_EXCEEDED``               :class:`RateLimitedError`; ``retry_at`` from
                                           ``retry_after_ms``, else ``Retry-After``, else
                                           now + 60 s
  413 ``M_TOO_LARGE``, 400, other 4xx      :class:`RejectedError`
  502, 504 on a send                       :class:`OutcomeUnknownError` (a gateway gave up;
                                           the homeserver may have stored the event)
  other 5xx                                :class:`UnavailableError`
  =======================================  ================================================
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from campaign_scheduler import errors
from campaign_scheduler.channels._http import ApiClient, GoneError, body_start, count, json_or_none
from campaign_scheduler.channels.base import AccountApi, AccountSettings, Channel, Metrics, Receipt
from campaign_scheduler.channels.catalog import ChannelSpec, Key, account_keys
from campaign_scheduler.channels.published import (
    PublishedPart,
    refusal,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_UTF8, TextRule, count_utf8_bytes
from campaign_scheduler.imagetypes import image_info

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels.base import MediaFile, OutboundPost

CLIENT = "/_matrix/client/v3"
CLIENT_V1 = "/_matrix/client/v1"
UPLOAD = "/_matrix/media/v3/upload"
#: Content keys of our own (namespaced, as the specification asks of custom fields).
DELIVERY_KEY = "campaign_scheduler.delivery"
MEDIA_KEY = "campaign_scheduler.media"
#: Events may not exceed 65536 bytes of JSON; the homeserver adds ids, hashes and signatures.
MAX_EVENT_BYTES = 65536
EVENT_ENVELOPE_BYTES = 2048
#: How long a resolved room alias is trusted.
ROOM_CACHE_TTL = 3600.0
#: ``look_up`` searches events sent down to ``since`` minus this (clock skew).
LOOK_UP_MARGIN = timedelta(minutes=1)
LOOK_UP_MAX_PAGES = 20
PAGE_SIZE = 100
#: ``fetch_metrics`` counts at most this many pages of reactions.
RELATION_MAX_PAGES = 50


# (base_url, alias) -> (room id, monotonic time it was resolved)
_rooms: dict[tuple[str, str], tuple[str, float]] = {}
_rooms_lock = threading.Lock()


def clear_room_cache() -> None:
    """Forget every resolved room alias (tests; after an alias was moved to another room)."""
    with _rooms_lock:
        _rooms.clear()


class MatrixApi(ApiClient):
    """The Matrix client-server API: errors are ``{"errcode", "error"}``; a rate limit says
    ``retry_after_ms`` in the body (else ``Retry-After``); 403 means the room, not the token."""

    thing = "event"
    server = "homeserver"

    def call_name(self, path: str) -> str:
        """The path for messages, with the room id shortened (it is long and says little)."""
        return re.sub(r"/rooms/[^/]+", "/rooms/…", super().call_name(path))

    def error_text(self, response: requests.Response) -> str:
        return _error_parts(response)[1]

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError | None:
        status = response.status_code
        errcode = _error_parts(response)[0]
        if status == 429 or errcode == "M_LIMIT_EXCEEDED":
            return self.rate_limited(response, said, who=where)
        if status == 401:
            return errors.AuthError(
                f"{where}: the homeserver refused the access token ({errcode or status}: {said})",
                network_message=said,
                hint="log in again and store the new access token (`campaign channels verify`)",
            )
        if status == 403:
            return _ForbiddenError(
                f"{where}: forbidden ({errcode or status}: {said})",
                network_message=said,
                hint=_FORBIDDEN_HINTS.get(errcode or "", _FORBIDDEN_HINTS["M_FORBIDDEN"]),
            )
        if status < 500 and status not in (404, 410):
            return errors.RejectedError(
                f"{where}: refused ({errcode or status}: {said})", network_message=said
            )
        return None

    def retry_at(self, response: requests.Response) -> datetime:
        body = json_or_none(response)
        wait_ms = body.get("retry_after_ms") if isinstance(body, dict) else None
        if isinstance(wait_ms, int | float) and not isinstance(wait_ms, bool) and wait_ms >= 0:
            return self.clock() + timedelta(milliseconds=wait_ms)
        return super().retry_at(response)


class MatrixChannel(Channel):
    """Messages in one Matrix room. Setting: ``room`` (``!id:server`` or ``#alias:server``);
    secret: ``token`` (an access token of a user who has joined the room and may post)."""

    name = "matrix"
    spec = ChannelSpec(
        "Matrix", **account_keys(room=Key.SETTING, token=Key.SECRET), supports_threads=True
    )
    text_rule = TextRule(UNIT_UTF8, count_utf8_bytes, 60000)
    api = AccountApi(MatrixApi)
    idempotency_window = timedelta(minutes=25)
    can_look_up = True
    connect_flow = "campaign_scheduler.auth.matrix:MatrixFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:MatrixNetwork"

    # --- the Channel interface ------------------------------------------------------------

    def publish(self, post: OutboundPost) -> Receipt:
        room_id = self._room_id()
        media_events = []
        for number, media in enumerate(post.media, start=1):
            post.checkpoint()  # each media event is a write: only while this worker holds the post
            media_events.append(
                self._send_media(room_id, media, f"{post.idempotency_key}-media-{number}", post)
            )
        if media_events:
            post.checkpoint()
        content = message_content(post, media_events)
        event_id = self._send(room_id, post.idempotency_key, content)
        receipt = self._receipt(room_id, event_id)
        self.api.log.debug("published %s on %s", event_id, self.account.name)
        return receipt

    def look_up(self, post: OutboundPost, *, since: datetime) -> Receipt | None:
        """Our own text event in the room sent since ``since`` (less a minute) that carries
        ``post.idempotency_key``; ``None`` when there is none.

        Raises :class:`OutcomeUnknownError` when we sent too many messages since then to
        search back that far.
        """
        if since.tzinfo is None:
            raise ValueError("since must be an aware datetime")
        oldest_ms = int((since - LOOK_UP_MARGIN).timestamp() * 1000)
        room_id = self._room_id()
        for event in self._own_messages(room_id, oldest_ms):
            if _is_post(event, post.idempotency_key):
                return self._receipt_from_event(event)
        return None

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Reactions (any key) as likes, replies in the post's thread as replies, joined members
        other than us as followers. Matrix has no reposts, quotes, views or clicks; replies
        outside the thread (rich replies in the main timeline) are not counted."""
        room_id = self._room_id()
        path = f"{CLIENT}/rooms/{_q(room_id)}/event/{_q(receipt.remote_id)}"
        event = self.api.json_object(self.api.call("GET", path))
        relations = event.get("unsigned", {}).get("m.relations", {})
        thread = relations.get("m.thread") if isinstance(relations, dict) else None
        replies = thread.get("count") if isinstance(thread, dict) else 0
        members = self.api.json_object(
            self.api.call("GET", f"{CLIENT}/rooms/{_q(room_id)}/joined_members")
        )
        joined = members.get("joined")
        followers = (
            len([u for u in joined if u != self._whoami]) if isinstance(joined, dict) else None
        )
        return Metrics(
            likes=self._count_reactions(room_id, receipt.remote_id),
            replies=count(replies),
            followers=followers,
        )

    def delete(self, remote_id: str) -> None:
        """Redact the post and the image events it lists. Redacting is idempotent (Synapse
        answers 200 for an event that is already redacted or unknown)."""
        room_id = self._room_id()
        try:
            event = self.api.json_object(
                self.api.call("GET", f"{CLIENT}/rooms/{_q(room_id)}/event/{_q(remote_id)}")
            )
        except GoneError:
            self.api.log.info("event %s on %s was already gone", remote_id, self.account.name)
            return
        attached = event.get("content", {}).get(MEDIA_KEY, [])
        for media_event in [e for e in attached if isinstance(e, str)] + [remote_id]:
            txn = "redact-" + hashlib.sha256(media_event.encode()).hexdigest()[:32]
            self.api.call(
                "PUT",
                f"{CLIENT}/rooms/{_q(room_id)}/redact/{_q(media_event)}/{txn}",
                json={"reason": "removed by campaign-scheduler"},
            )

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """``https://matrix.to/#/ROOM/EVENT`` (the permalink, room as configured, ``?via=`` and
        the like after it ignored): the event id."""
        room = str(account.settings.get("room") or "").strip()
        shape = f"https://matrix.to/#/{room or 'ROOM'}/$EVENT"
        parts = split_address(
            url, network=cls.title(), account=account.name, shape=shape, hosts=("matrix.to",)
        )
        path = parts.fragment.split("?", 1)[0]
        named = [unquote(s) for s in path.split("/")]
        match named:
            case ["", linked, event] if (
                room and linked == room and _EVENT_ID.fullmatch(event) and not parts.path.strip("/")
            ):
                return PublishedPart(event)
        raise refusal(cls.title(), account.name, url, shape)

    def verify(self) -> str:
        """The user behind the token, checked to be joined to the room and allowed to post."""
        user_id = self._whoami
        room_id = self._room_id()
        state = f"{CLIENT}/rooms/{_q(room_id)}/state"
        said: str | None = None
        try:
            member = self.api.json_object(
                self.api.call("GET", f"{state}/m.room.member/{_q(user_id)}")
            )
        except (GoneError, _ForbiddenError) as exc:  # 403: not in the room
            member, said = {}, exc.network_message
        if member.get("membership") != "join":
            raise errors.AuthError(
                f"matrix: {self.account.name}: {user_id} has not joined {self._room_setting()}",
                network_message=said,
                hint="join the room with this account (or invite it and accept the invitation)",
            )
        try:
            levels = self.api.json_object(self.api.call("GET", f"{state}/m.room.power_levels"))
        except GoneError:
            levels = {}
        have, needed = _power_to_post(levels, user_id)
        if have < needed:
            raise errors.AuthError(
                f"matrix: {self.account.name}: {user_id} may not post in "
                f"{self._room_setting()} (power level {have}, messages need {needed})",
                hint="a room moderator must raise the account's power level",
            )
        return f"{user_id} in {self._room_setting()}"

    # --- steps ------------------------------------------------------------------------------

    def _room_setting(self) -> str:
        room = self.account.settings.get("room")
        if not isinstance(room, str) or not room.startswith(("!", "#")) or len(room) < 2:
            raise errors.AuthError(
                f"matrix: account {self.account.name} names no room",
                hint="set `room` of the account to a room id (!abc:server) or an alias "
                "(#name:server)",
            )
        return room

    def _room_id(self) -> str:
        room = self._room_setting()
        if room.startswith("!"):
            return room
        now = time.monotonic()
        with _rooms_lock:
            cached = _rooms.get((self.base_url, room))
        if cached is not None and now - cached[1] < ROOM_CACHE_TTL:
            return cached[0]
        try:
            answer = self.api.json_object(
                self.api.call("GET", f"{CLIENT}/directory/room/{_q(room)}")
            )
        except GoneError as exc:
            raise errors.AuthError(
                f"matrix: {self.account.name}: the room alias {room} does not exist",
                network_message=exc.network_message,
                hint="check `room` of the account in config.toml",
            ) from exc
        room_id = answer.get("room_id")
        if not isinstance(room_id, str) or not room_id.startswith("!"):
            raise errors.UnavailableError(
                f"matrix: {self.account.name}: the homeserver resolved {room} to no room id"
            )
        with _rooms_lock:
            _rooms[(self.base_url, room)] = (room_id, now)
        return room_id

    @cached_property
    def _whoami(self) -> str:
        """The user the token belongs to, asked once per adapter."""
        answer = self.api.json_object(self.api.call("GET", f"{CLIENT}/account/whoami"))
        user_id = answer.get("user_id")
        if not isinstance(user_id, str) or not user_id:
            raise errors.UnavailableError(
                f"matrix: {self.account.name}: whoami returned no user id"
            )
        return user_id

    def _send(self, room_id: str, txn_id: str, content: dict[str, Any]) -> str:
        response = self.api.call(
            "PUT",
            f"{CLIENT}/rooms/{_q(room_id)}/send/m.room.message/{_q(txn_id)}",
            json=content,
            creates=True,
        )
        with self.api.reading_created(hint="sending the same transaction id again returns it"):
            event_id = self.api.json_object(response, creates=True)["event_id"]
            if not isinstance(event_id, str):
                raise TypeError("event_id is not a string")
        return event_id

    def _send_media(self, room_id: str, media: MediaFile, txn_id: str, post: OutboundPost) -> str:
        data = media.read(self.name)
        # Nothing is visible in the room yet: at worst an unused upload stays behind.
        try:
            answer = self.api.json_object(
                self.api.call(
                    "POST",
                    UPLOAD,
                    params={"filename": media.path.name},
                    data=data,
                    headers={"Content-Type": media.mime_type},
                )
            )
            content_uri = answer["content_uri"]
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.UnavailableError(
                f"matrix: {self.account.name}: unreadable answer to the upload of {media.path.name}"
            ) from exc
        content = media_content(media, str(content_uri), data)
        content[DELIVERY_KEY] = post.idempotency_key
        return self._send(room_id, txn_id, content)

    def _receipt(self, room_id: str, event_id: str) -> Receipt:
        """The receipt of a sent event, with the homeserver's timestamp when it can be read."""
        try:
            event = self.api.json_object(
                self.api.call("GET", f"{CLIENT}/rooms/{_q(room_id)}/event/{_q(event_id)}")
            )
            return self._receipt_from_event(event)
        except (errors.ChannelError, KeyError, TypeError, ValueError) as exc:
            self.api.log.warning("could not read back %s (%s); using the local time", event_id, exc)
            return Receipt(event_id, self._permalink(event_id), self.clock())

    def _receipt_from_event(self, event: dict[str, Any]) -> Receipt:
        event_id = str(event["event_id"])
        sent = datetime.fromtimestamp(int(event["origin_server_ts"]) / 1000, UTC)
        return Receipt(event_id, self._permalink(event_id), sent)

    def _permalink(self, event_id: str) -> str:
        return f"https://matrix.to/#/{_q(self._room_setting())}/{_q(event_id)}"

    def _own_messages(self, room_id: str, oldest_ms: int) -> Iterator[dict[str, Any]]:
        """Our ``m.room.message`` events in the room, newest first, down to ``oldest_ms``."""
        event_filter = {"types": ["m.room.message"], "senders": [self._whoami]}
        params: dict[str, str | int] = {
            "dir": "b",
            "limit": PAGE_SIZE,
            "filter": json.dumps(event_filter, separators=(",", ":")),
        }
        path = f"{CLIENT}/rooms/{_q(room_id)}/messages"
        for _ in range(LOOK_UP_MAX_PAGES):
            page = self.api.json_object(self.api.call("GET", path, params=params))
            chunk = [e for e in page.get("chunk", []) if isinstance(e, dict)]
            for event in chunk:
                if int(event.get("origin_server_ts", 0)) < oldest_ms:
                    return
                yield event
            end = page.get("end")
            if not chunk or not isinstance(end, str):
                return
            params["from"] = end
        raise self.search_exhausted(
            f"more than {LOOK_UP_MAX_PAGES * PAGE_SIZE} own messages in the room since the post "
            "was sent",
            "room",
        )

    def _count_reactions(self, room_id: str, event_id: str) -> int | None:
        path = f"{CLIENT_V1}/rooms/{_q(room_id)}/relations/{_q(event_id)}/m.annotation/m.reaction"
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        total = 0
        for _ in range(RELATION_MAX_PAGES):
            page = self.api.json_object(self.api.call("GET", path, params=params))
            chunk = page.get("chunk", [])
            total += len([e for e in chunk if isinstance(e, dict) and e.get("content")])
            after = page.get("next_batch")
            if not isinstance(after, str) or not chunk:
                return total
            params["from"] = after
        return None  # too many to count honestly

    # --- HTTP -------------------------------------------------------------------------------


class _ForbiddenError(errors.AuthError):
    """403: not in the room, too low a power level, or the account is barred."""


_FORBIDDEN_HINTS = {
    "M_FORBIDDEN": "the account must have joined the room and have the power level to post "
    "there (`campaign channels verify` checks both)",
    "M_USER_DEACTIVATED": "the account was deactivated on the homeserver",
    "M_CONSENT_NOT_GIVEN": "log in with a Matrix client and accept the homeserver's terms",
    "M_RESOURCE_LIMIT_EXCEEDED": "the homeserver reached a resource limit; ask its admins",
}


# --- message content ---------------------------------------------------------------------------


def message_content(post: OutboundPost, media_events: list[str]) -> dict[str, Any]:
    """The ``m.room.message`` content of the post's text event."""
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": post.text,
        "format": "org.matrix.custom.html",
        "formatted_body": text_to_html(post.text),
        # Present and empty: no one is mentioned, so "@room" in a text notifies nobody.
        "m.mentions": {},
        DELIVERY_KEY: post.idempotency_key,
    }
    if media_events:
        content[MEDIA_KEY] = media_events
    if post.reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": post.reply_to}}
    if _event_bytes(content) > MAX_EVENT_BYTES - EVENT_ENVELOPE_BYTES:
        # The HTML roughly doubles a long text; the plain body alone may still fit.
        del content["format"], content["formatted_body"]
    return content


_MSGTYPES = {"image": "m.image", "video": "m.video", "audio": "m.audio"}


def media_content(media: MediaFile, content_uri: str, data: bytes) -> dict[str, Any]:
    """An ``m.image`` (or ``m.video``/``m.audio``/``m.file``) event for an uploaded file.

    ``body`` is the alt text (the specification: "a textual representation of the image ...
    the alt text"), or the file name when there is none. No ``filename`` is set: since
    Matrix 1.10 a ``body`` that differs from ``filename`` is shown as a visible caption.
    """
    info: dict[str, Any] = {"mimetype": media.mime_type, "size": len(data)}
    msgtype = _MSGTYPES.get(media.mime_type.split("/", 1)[0], "m.file")
    if msgtype == "m.image":
        size = image_size(data)
        if size is not None:
            info["w"], info["h"] = size
    return {
        "msgtype": msgtype,
        "body": media.alt or media.path.name,
        "url": content_uri,
        "info": info,
        "m.mentions": {},
    }


_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_TRAILING = ".,;:!?'\"»«“”„‘’"


def text_to_html(text: str) -> str:
    """Plain text as Matrix HTML: escaped, line breaks as ``<br>``, http(s) URLs as links."""
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        url = _trim_url(match.group())
        parts.append(html.escape(text[position : match.start()], quote=False))
        parts.append(f'<a href="{html.escape(url)}">{html.escape(url, quote=False)}</a>')
        position = match.start() + len(url)
    parts.append(html.escape(text[position:], quote=False))
    return "".join(parts).replace("\r\n", "\n").replace("\n", "<br>")


def _trim_url(url: str) -> str:
    """Drop sentence punctuation and an unbalanced closing parenthesis from a URL's end."""
    while url:
        unbalanced = url[-1] == ")" and url.count("(") < url.count(")")
        if url[-1] in _TRAILING or unbalanced:
            url = url[:-1]
        else:
            break
    return url


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image, read from its header."""
    info = image_info(data)
    return None if info is None else (info.width, info.height)


# --- helpers ----------------------------------------------------------------------------------


def _q(segment: str) -> str:
    """A path segment: room ids, aliases, event ids and txn ids percent-encoded entirely."""
    return quote(segment, safe="")


def _event_bytes(content: dict[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _is_post(event: dict[str, Any], key: str) -> bool:
    """Whether ``event`` is the text event of the delivery with idempotency key ``key``."""
    unsigned = event.get("unsigned")
    if isinstance(unsigned, dict) and unsigned.get("transaction_id") == key:
        return True  # sent by this device with the key as txnId (also when since redacted)
    content = event.get("content")
    return (
        isinstance(content, dict)
        and content.get("msgtype") == "m.text"
        and content.get(DELIVERY_KEY) == key
    )


def _power_to_post(levels: dict[str, Any], user_id: str) -> tuple[int, int]:
    """The user's power level and the level ``m.room.message`` events need (spec defaults:
    users 0, events 0, when the room has no power-levels event)."""
    users = levels.get("users")
    users = users if isinstance(users, dict) else {}
    events = levels.get("events")
    events = events if isinstance(events, dict) else {}
    have = _int(users.get(user_id, levels.get("users_default", 0)))
    needed = _int(events.get("m.room.message", levels.get("events_default", 0)))
    return have, needed


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)  # old rooms sometimes hold levels as strings
    return 0


def _error_parts(response: requests.Response) -> tuple[str | None, str]:
    """``errcode`` and ``error`` of a Matrix error body, or the start of whatever came back."""
    body = json_or_none(response)
    if isinstance(body, dict) and isinstance(body.get("errcode"), str):
        error = body.get("error")
        return str(body["errcode"]), str(error) if isinstance(error, str) else body["errcode"]
    return None, body_start(response)


#: An event id as rooms of version 3 and later have them (``$`` and a hash), or the older
#: ``$opaque:server``.
_EVENT_ID = re.compile(r"\$[A-Za-z0-9+/=_:.-]{1,254}")
