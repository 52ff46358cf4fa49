"""The Telegram Bot API on loopback, for bots that post to channels (channels.md §8).

Used by rehearsals and tests. What it implements:

* Routing on ``/bot<token>/<method>`` (method names case-insensitive; GET or POST; query string,
  JSON, form or multipart bodies). An unknown or revoked token gets 401 ``Unauthorized``, a
  malformed one 401 ``Unauthorized: invalid token specified``, other paths 404 ``Not Found``.
* ``sendMessage``, ``sendPhoto`` and ``sendVideo`` (multipart upload, ``caption``; a video
  over the Bot API's 50 MB upload limit gets 413) with ``parse_mode=HTML``
  parsed the way the Bot API does (supported tags, ``&lt; &gt; &amp; &quot;`` and numeric
  entities, errors as ``Bad Request: can't parse entities: …``); the 4096/1024 limits counted
  after markup is removed; ``reply_parameters`` or the legacy ``reply_to_message_id``; a
  per-chat flood limit answered with 429, ``parameters.retry_after`` and ``Retry-After``.
* ``deleteMessage`` (refused after 48 hours of sandbox time), ``getMe``, ``getChat``,
  ``getChatMember``.
* Telegram's envelope ``{"ok": false, "error_code": N, "description": "…"}`` and its wording for
  401, 403 (bot not an admin), 400 (chat not found, too long, empty) and 429; 502 and 504 come
  as the HTML page of the nginx in front of the Bot API.

What channels.md marks UNVERIFIED is a constructor argument (and settable over HTTP):
``count_unit`` (``"utf16"``, the default, or ``"codepoints"`` for the 4096/1024 limits),
``chat_per_minute`` (the flood limit; ``None`` turns it off) and ``strict_ampersand`` (refuse a
bare ``&`` instead of keeping it as text, which is what TDLib's parser does).

Faults and inspection work from Python and, over HTTP from loopback, under ``/_sandbox/``:

``POST /_sandbox/faults``
    ``{"fail_next": {"count": 1, "status": 500, "description": "…"}}``,
    ``{"rate_limit_next": {"count": 1, "reset_in": 60}}``, ``{"drop_after_create": {"count": 1}}``,
    ``{"hold_after_create": {"count": 1}}``, ``{"release": true}``, ``{"revoke": {"token": "…"}}``,
    ``{"delay": 0.5}``.
``POST /_sandbox/bots``
    ``{"username": "arnsberg_bot", "token": "optional"}`` → ``{"token": "…"}``.
``POST /_sandbox/channels``
    ``{"username": "arnsberg_news", "title": "…", "admins": ["<token>"], "can_post": true}``
    → ``{"chat_id": -100…}``.
``POST /_sandbox/settings``
    ``{"count_unit": "codepoints", "chat_per_minute": null, "strict_ampersand": true}``.
``GET /_sandbox/statuses``, ``GET /_sandbox/requests``
    the messages sent and the calls received (tokens never appear), as JSON.

* ``getUpdates`` (``offset`` confirms earlier updates): a ``my_chat_member`` update for each bot
  made administrator of a channel (:meth:`TelegramSandbox.add_channel`) and a ``channel_post``
  for each message someone else writes there (:meth:`TelegramSandbox.post_in_channel`) — what
  ``campaign accounts connect`` reads to find the channel's chat id.

Not modelled: groups and private chats, webhooks, other send methods,
``file_id`` reuse, MarkdownV2.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from campaign_scheduler.channels.telegram import install_log_redaction
from campaign_scheduler.imagetypes import image_info
from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.sandbox._base import Answer, Option, SandboxBase, one_of, optional, snapshot
from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    UploadedFile,
    json_response,
    text_value,
)

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
RAW_TEXT_LIMIT = 32768  # bytes of markup-included text the server accepts at all
PHOTO_LIMIT = 10 * 1024 * 1024
DELETE_WINDOW = 48 * 3600.0
COUNT_UNITS = ("utf16", "codepoints")

MSG_UNAUTHORIZED = "Unauthorized"
MSG_BAD_TOKEN = "Unauthorized: invalid token specified"
MSG_NOT_FOUND = "Not Found"
MSG_CHAT_NOT_FOUND = "Bad Request: chat not found"
MSG_NOT_MEMBER = "Forbidden: bot is not a member of the channel chat"
MSG_NO_RIGHTS = "Bad Request: need administrator rights in the channel chat"
MSG_EMPTY = "Bad Request: message text is empty"
MSG_TOO_LONG = "Bad Request: message is too long"
MSG_RAW_TOO_LONG = "Bad Request: text is too long"
MSG_CAPTION_TOO_LONG = "Bad Request: message caption is too long"
MSG_REPLY_MISSING = "Bad Request: message to be replied not found"
MSG_DELETE_MISSING = "Bad Request: message to delete not found"
MSG_CANNOT_DELETE = "Bad Request: message can't be deleted"
MSG_NO_PHOTO = "Bad Request: there is no photo in the request"
MSG_NO_VIDEO = "Bad Request: there is no video in the request"
UPLOAD_LIMIT = 50 * 1024 * 1024  # files other than photos, uploaded to the public Bot API
MSG_PHOTO_TOO_BIG = "Bad Request: file is too big"
#: The methods that send a file: its part, the answer when it is missing, the size limit and
#: the answer above it.
_ATTACHMENTS: dict[str, tuple[str, str, int, tuple[int, str]]] = {
    "sendphoto": ("photo", MSG_NO_PHOTO, PHOTO_LIMIT, (400, MSG_PHOTO_TOO_BIG)),
    "sendvideo": ("video", MSG_NO_VIDEO, UPLOAD_LIMIT, (413, "Request Entity Too Large")),
}
_DEFAULT_ERRORS = {
    400: "Bad Request: the sandbox was told to refuse this request",
    401: MSG_UNAUTHORIZED,
    403: "Forbidden: bot was kicked from the channel chat",
    404: MSG_NOT_FOUND,
    500: "Internal Server Error",
    503: "Service Unavailable",
}
_NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} "
    "{reason}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {502: "Bad Gateway", 504: "Gateway Time-out"}
_PATH = re.compile(r"^/bot([^/]*)/([A-Za-z]+)/?$")
_TOKEN = re.compile(r"(\d+):[A-Za-z0-9_-]+")


# --- what tests and rehearsals can inspect ---------------------------------------------------


@dataclass(frozen=True)
class SandboxPhoto:
    filename: str
    mime_type: str
    size: int


@dataclass(frozen=True)
class SandboxMessage:
    """A message the sandbox holds (snapshot)."""

    chat_id: int
    chat_username: str | None
    message_id: int
    bot: str  # the sending bot's username
    text: str  # visible text (markup removed); the caption of a photo
    markup: str  # as sent
    parse_mode: str | None
    entities: tuple[dict[str, Any], ...]
    photo: SandboxPhoto | None
    reply_to: int | None
    date: datetime
    deleted: bool
    video: SandboxPhoto | None = None  # the uploaded file of a sendVideo


@dataclass(frozen=True)
class SeenCall:
    """A call as it arrived. Only the bot's username is kept, never its token."""

    bot: str | None
    method: str
    monotonic: float
    wall: float


# --- internal state ---------------------------------------------------------------------------


@dataclass
class _Bot:
    id: int
    username: str


@dataclass
class _Admin:
    can_post: bool
    can_delete: bool


@dataclass
class _Chat:
    id: int
    username: str | None
    title: str
    admins: dict[int, _Admin] = field(default_factory=dict)
    last_message_id: int = 0
    sent: deque[float] = field(default_factory=deque)  # send times, for the flood limit


@dataclass
class _Message:
    chat: _Chat
    message_id: int
    bot: _Bot
    text: str
    markup: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    photo: SandboxPhoto | None
    reply_to: _Message | None
    date: float
    deleted: bool = False
    video: SandboxPhoto | None = None


class _ParseError(ValueError):
    """Telegram HTML that the Bot API would refuse; the message is Telegram's wording."""


class TelegramSandbox(SandboxBase[tuple[int, str | None], float]):
    """A loopback Bot API. Use as a context manager or call start()/stop()."""

    # The knobs (module doc), also settable over HTTP.
    count_unit = Option("utf16", one_of(*COUNT_UNITS), settable=True)
    chat_per_minute: Option[int | None] = Option(20, optional(int), settable=True)
    strict_ampersand = Option(False, bool, settable=True)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)

        self._bots: dict[str, _Bot] = {}  # by token
        self._chats: dict[int, _Chat] = {}
        self._messages: dict[tuple[int, int], _Message] = {}
        self._bot_ids = itertools.count(7_100_000_001)
        self._chat_ids = itertools.count(1_001_000_000_001)
        self._updates: dict[int, list[dict[str, Any]]] = {}  # bot id -> pending updates
        self._update_ids = itertools.count(500_000_001)
        # The server logs request lines, and a request line holds the bot token.
        install_log_redaction("campaign_scheduler.sandbox")

    # --- control ------------------------------------------------------------------------------

    def add_bot(self, username: str, token: str | None = None) -> str:
        """Create a bot and return its token (``<id>:<secret>``)."""
        with self._lock:
            if token is not None:
                match = _TOKEN.fullmatch(token)
                if match is None:
                    raise ValueError("a bot token looks like <digits>:<secret>")
                bot_id = int(match.group(1))
            else:
                bot_id = next(self._bot_ids)
                token = f"{bot_id}:{secrets.token_urlsafe(26)[:35]}"
            self._bots[token] = _Bot(bot_id, username)
        return token

    def add_channel(
        self,
        username: str | None,
        *,
        title: str | None = None,
        admins: tuple[str, ...] | list[str] = (),
        can_post: bool = True,
        can_delete: bool = True,
    ) -> int:
        """Create a channel (``username`` without the @, or ``None`` for a private one) whose
        administrators are the bots with the tokens in ``admins``; return its chat id."""
        with self._lock:
            chat = _Chat(-next(self._chat_ids), username, title or username or "Sandbox channel")
            for token in admins:
                bot = self._bots[token]
                chat.admins[bot.id] = _Admin(can_post, can_delete)
                self._queue_update(
                    bot.id,
                    "my_chat_member",
                    {
                        "chat": _chat_json(chat),
                        "from": {"id": 1_000_001, "is_bot": False, "first_name": "Redaktion"},
                        "date": int(self.clock()),
                        "old_chat_member": {"status": "left", "user": _user_json(bot)},
                        "new_chat_member": {
                            "status": "administrator",
                            "user": _user_json(bot),
                            "can_post_messages": can_post,
                        },
                    },
                )
            self._chats[chat.id] = chat
            return chat.id

    def post_in_channel(self, chat: str | int, text: str) -> int:
        """A message someone else writes in the channel; every bot administrator of it gets a
        ``channel_post`` update. Returns the message id."""
        with self._lock:
            found = self._find_chat(chat)
            if found is None:
                raise KeyError(f"no channel {chat}")
            found.last_message_id += 1
            message = {
                "message_id": found.last_message_id,
                "chat": _chat_json(found),
                "date": int(self.clock()),
                "text": text,
            }
            for bot_id in found.admins:
                self._queue_update(bot_id, "channel_post", message)
            return found.last_message_id

    def _queue_update(self, bot_id: int, kind: str, payload: dict[str, Any]) -> None:
        update = {"update_id": next(self._update_ids), kind: payload}
        self._updates.setdefault(bot_id, []).append(update)

    def revoke(self, token: str) -> None:
        """Later calls with ``token`` are answered 401 (as after /revoke in @BotFather)."""
        with self._lock:
            self._bots.pop(token, None)

    def statuses(self, chat: str | int | None = None) -> list[SandboxMessage]:
        """Every message sent so far (deleted ones too), oldest first; ``chat`` filters by
        ``@username`` or id."""
        with self._lock:
            wanted = None if chat is None else self._find_chat(chat)
            return [
                _snapshot(m) for m in self._messages.values() if wanted is None or m.chat is wanted
            ]

    def fail_next(self, count: int = 1, status: int = 500, description: str | None = None) -> None:
        """The next ``count`` sends get ``status`` and send nothing."""
        self._queue_failures(count, (status, description))

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` sends get 429 with ``retry_after`` = ``reset_in`` (rounded up)."""
        self._queue_rate_limits(count, reset_in)

    # --- request handling ---------------------------------------------------------------------

    @property
    def calls_seen(self) -> list[SeenCall]:
        """Every call to the Bot API as it arrived (no token)."""
        return self.requests_seen

    def _seen(self, request: HttpRequest, monotonic: float, wall: float) -> SeenCall:
        match = _PATH.match(request.path)
        with self._lock:
            bot = self._bots.get(match.group(1)) if match else None
        return SeenCall(
            bot=bot.username if bot else None,
            method=match.group(2) if match else "?",
            monotonic=monotonic,
            wall=wall,
        )

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        return _error(status, f"{_CONTROL_PREFIXES.get(status, 'Error')}: {message}")

    def _route(self, request: HttpRequest) -> tuple[HttpResponse, str | None]:
        match = _PATH.match(request.path)
        if match is None or request.method not in ("GET", "POST"):
            return _error(404, MSG_NOT_FOUND), None
        token, method = match.group(1), match.group(2).lower()
        if _TOKEN.fullmatch(token) is None:
            return _error(401, MSG_BAD_TOKEN), None
        with self._lock:
            bot = self._bots.get(token)
        if bot is None:
            return _error(401, MSG_UNAUTHORIZED), None
        try:
            params, files = request.params()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "Bad Request: can't parse request body"), None
        if method in ("sendmessage", "sendphoto", "sendvideo"):
            return self._send(bot, method, params, files)
        handlers: dict[str, Callable[[_Bot, dict[str, Any]], HttpResponse]] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "deletemessage": self._delete_message,
        }
        handler = handlers.get(method)
        if handler is None:
            return _error(404, MSG_NOT_FOUND), None
        return handler(bot, params), None

    # --- sending ------------------------------------------------------------------------------

    def _send(
        self, bot: _Bot, method: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> tuple[HttpResponse, str | None]:
        return self._create_unless_faulted(
            lambda fault: _fault(*fault), _flood, lambda: self._create(bot, method, params, files)
        )

    def _create(
        self, bot: _Bot, method: str, params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> HttpResponse:
        chat = self._writable_chat(bot, params.get("chat_id"))
        photo_mode = method in _ATTACHMENTS  # a caption, not a text
        markup = text_value(params.get("caption" if photo_mode else "text"))
        parse_mode = text_value(params.get("parse_mode")) or None
        if len(markup.encode("utf-8")) > RAW_TEXT_LIMIT:
            return _error(400, MSG_RAW_TOO_LONG)
        try:
            text, entities = self._parse(markup, parse_mode)
        except _ParseError as exc:
            return _error(400, f"Bad Request: can't parse entities: {exc}")
        attached: dict[str, SandboxPhoto] = {}
        if photo_mode:
            part, missing, limit, too_big = _ATTACHMENTS[method]
            upload = files.get(part)
            if upload is None:
                return _error(400, missing)
            if len(upload.content) > limit:
                return _error(*too_big)
            attached[part] = SandboxPhoto(upload.filename, upload.content_type, len(upload.content))
            if self._length(text) > CAPTION_LIMIT:
                return _error(400, MSG_CAPTION_TOO_LONG)
        else:
            if not text.strip():
                return _error(400, MSG_EMPTY)
            if self._length(text) > TEXT_LIMIT:
                return _error(400, MSG_TOO_LONG)
        reply_to, problem = self._reply_target(chat, params)
        if problem is not None:
            return problem
        now = self.clock()
        flood = self._flood_wait(chat, now)
        if flood is not None:
            return _flood(flood)
        chat.sent.append(now)
        chat.last_message_id += 1
        message = _Message(
            chat=chat,
            message_id=chat.last_message_id,
            bot=bot,
            text=text,
            markup=markup,
            parse_mode=parse_mode,
            entities=entities,
            photo=attached.get("photo"),
            reply_to=reply_to,
            date=now,
            video=attached.get("video"),
        )
        self._messages[(chat.id, message.message_id)] = message
        return json_response(200, {"ok": True, "result": self._message_json(message, upload=files)})

    def _parse(self, markup: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
        if parse_mode is None:
            return markup, []
        if parse_mode.lower() != "html":
            raise _ParseError(f"unsupported parse_mode {parse_mode!r} in the sandbox")
        return parse_html(markup, strict_ampersand=self.strict_ampersand)

    def _length(self, text: str) -> int:
        if self.count_unit == "codepoints":
            return len(text)
        return len(text.encode("utf-16-le", "surrogatepass")) // 2

    def _reply_target(
        self, chat: _Chat, params: dict[str, Any]
    ) -> tuple[_Message | None, HttpResponse | None]:
        spec = params.get("reply_parameters")
        if isinstance(spec, str) and spec.strip():
            try:
                spec = json.loads(spec)
            except ValueError:
                return None, _error(400, "Bad Request: can't parse reply parameters JSON object")
        if not isinstance(spec, dict):
            legacy = params.get("reply_to_message_id")
            spec = {"message_id": legacy} if legacy not in (None, "") else None
        if spec is None:
            return None, None
        try:
            target_id = int(str(spec.get("message_id")))
        except (TypeError, ValueError):
            return None, _error(400, "Bad Request: invalid reply parameters")
        target = self._messages.get((chat.id, target_id))
        if target is None or target.deleted:
            if _truthy(spec.get("allow_sending_without_reply")):
                return None, None
            return None, _error(400, MSG_REPLY_MISSING)
        return target, None

    def _flood_wait(self, chat: _Chat, now: float) -> float | None:
        """Seconds until ``chat`` may get another message, or ``None`` if it may now."""
        limit = self.chat_per_minute
        while chat.sent and chat.sent[0] <= now - 60.0:
            chat.sent.popleft()
        if limit is None or len(chat.sent) < limit:
            return None
        return max(1.0, chat.sent[0] + 60.0 - now)

    # --- other methods ------------------------------------------------------------------------

    def _get_me(self, bot: _Bot, params: dict[str, Any]) -> HttpResponse:
        return _ok(_user_json(bot))

    def _get_updates(self, bot: _Bot, params: dict[str, Any]) -> HttpResponse:
        try:
            offset = int(str(params.get("offset") or 0))
        except ValueError:
            return _error(400, "Bad Request: invalid offset specified")
        with self._lock:
            pending = [u for u in self._updates.get(bot.id, []) if u["update_id"] >= offset]
            if offset:
                self._updates[bot.id] = pending
            return _ok([copy.deepcopy(u) for u in pending[:100]])

    def _get_chat(self, bot: _Bot, params: dict[str, Any]) -> HttpResponse:
        with self._lock:
            chat = self._find_chat(params.get("chat_id"))
            if chat is None:
                return _error(400, MSG_CHAT_NOT_FOUND)
            return _ok({**_chat_json(chat), "accent_color_id": 0, "max_reaction_count": 11})

    def _get_chat_member(self, bot: _Bot, params: dict[str, Any]) -> HttpResponse:
        with self._lock:
            chat = self._find_chat(params.get("chat_id"))
            if chat is None:
                return _error(400, MSG_CHAT_NOT_FOUND)
            if bot.id not in chat.admins:
                return _error(403, MSG_NOT_MEMBER)
            try:
                user_id = int(str(params.get("user_id")))
            except (TypeError, ValueError):
                return _error(400, "Bad Request: invalid user_id specified")
            member = next((b for b in self._bots.values() if b.id == user_id), None)
            rights = chat.admins.get(user_id)
            if member is None or rights is None:
                user = _user_json(member) if member else {"id": user_id, "is_bot": False}
                return _ok({"status": "left", "user": user})
            return _ok(
                {
                    "status": "administrator",
                    "user": _user_json(member),
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_post_messages": rights.can_post,
                    "can_edit_messages": rights.can_post,
                    "can_delete_messages": rights.can_delete,
                }
            )

    def _delete_message(self, bot: _Bot, params: dict[str, Any]) -> HttpResponse:
        with self._lock:
            chat = self._writable_chat(bot, params.get("chat_id"))
            try:
                message_id = int(str(params.get("message_id")))
            except (TypeError, ValueError):
                return _error(400, "Bad Request: message identifier is not specified")
            message = self._messages.get((chat.id, message_id))
            if message is None or message.deleted:
                return _error(400, MSG_DELETE_MISSING)
            rights = chat.admins[bot.id]
            own = message.bot is bot
            if self.clock() - message.date > DELETE_WINDOW or not (rights.can_delete or own):
                return _error(400, MSG_CANNOT_DELETE)
            message.deleted = True
            return _ok(True)

    # --- lookups and entities -----------------------------------------------------------------

    def _find_chat(self, chat_id: Any) -> _Chat | None:
        if chat_id is None:
            return None
        value = str(chat_id).strip()
        if re.fullmatch(r"-?\d+", value):
            return self._chats.get(int(value))
        name = value.removeprefix("@").lower()
        return next(
            (c for c in self._chats.values() if c.username and c.username.lower() == name), None
        )

    def _writable_chat(self, bot: _Bot, chat_id: Any) -> _Chat:
        """The chat ``bot`` may post in, or an answer that ends the request."""
        chat = self._find_chat(chat_id)
        if chat is None:
            raise Answer(_error(400, MSG_CHAT_NOT_FOUND))
        rights = chat.admins.get(bot.id)
        if rights is None:
            raise Answer(_error(403, MSG_NOT_MEMBER))
        if not rights.can_post:
            raise Answer(_error(400, MSG_NO_RIGHTS))
        return chat

    def _message_json(
        self, message: _Message, *, upload: dict[str, UploadedFile] | None = None
    ) -> dict[str, Any]:
        chat = _chat_json(message.chat)
        body: dict[str, Any] = {
            "message_id": message.message_id,
            "sender_chat": chat,
            "chat": chat,
            "date": int(message.date),
        }
        captioned = message.photo is not None or message.video is not None
        key = "caption" if captioned else "text"
        if message.text:
            body[key] = message.text
        if message.entities:
            body["caption_entities" if captioned else "entities"] = message.entities
        if message.video is not None:
            body["video"] = _video_json(message)
        if message.photo is not None:
            content = upload["photo"].content if upload and "photo" in upload else b""
            body["photo"] = _photo_sizes(message, content)
        if message.reply_to is not None:
            body["reply_to_message"] = self._message_json(message.reply_to)
        return body

    # --- control over HTTP --------------------------------------------------------------------

    def _view_statuses(self) -> list[dict[str, Any]]:
        return [_message_summary(m) for m in self.statuses()]

    def _control_bots(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"token": self.add_bot(str(body["username"]), body.get("token"))}

    def _control_channels(self, body: dict[str, Any]) -> dict[str, Any]:
        chat_id = self.add_channel(
            body.get("username"),
            title=body.get("title"),
            admins=[str(t) for t in body.get("admins", [])],
            can_post=bool(body.get("can_post", True)),
            can_delete=bool(body.get("can_delete", True)),
        )
        return {"chat_id": chat_id}

    def _apply_fail_next(self, spec: dict[str, Any]) -> None:
        status = int(spec.get("status", 500))
        self.fail_next(int(spec.get("count", 1)), status, spec.get("description"))


# --- Telegram HTML ----------------------------------------------------------------------------

_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",  # only with class="tg-spoiler"
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_REF = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_START_TAG = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*/?>"
)
_ATTRIBUTE = re.compile(r"([^\s=>]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")


@dataclass
class _Open:
    name: str
    start: int  # UTF-16 offset
    attributes: dict[str, str]


def parse_html(markup: str, *, strict_ampersand: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """Telegram HTML → (visible text, message entities with UTF-16 offsets).

    Raises :class:`_ParseError` worded like the Bot API (the part after "can't parse
    entities: ")."""
    out: list[str] = []
    units = 0
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    i = 0

    def emit(text: str) -> None:
        nonlocal units
        out.append(text)
        units += len(text.encode("utf-16-le", "surrogatepass")) // 2

    while i < len(markup):
        char = markup[i]
        offset = len(markup[:i].encode("utf-8"))
        if char == "&":
            decoded, length = _decode_reference(markup, i)
            if decoded is None:
                if strict_ampersand:
                    raise _ParseError(f"Unsupported HTML entity at byte offset {offset}")
                emit("&")
                i += 1
            else:
                emit(decoded)
                i += length
        elif char == "<" and markup.startswith("</", i):
            end = markup.find(">", i)
            if end < 0:
                raise _ParseError(f"Unclosed end tag at byte offset {offset}")
            name = markup[i + 2 : end].strip().lower()
            if not stack:
                raise _ParseError(f"Unexpected end tag at byte offset {offset}")
            top = stack.pop()
            if top.name != name:
                raise _ParseError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            entity = _entity(top, units)
            if entity is not None:
                entities.append(entity)
            i = end + 1
        elif char == "<":
            # As TDLib reads it: the name runs to the first space or ">".
            j = i + 1
            while j < len(markup) and not markup[j].isspace() and markup[j] != ">":
                j += 1
            if j == len(markup):
                raise _ParseError(f"Unclosed start tag at byte offset {offset}")
            name = markup[i + 1 : j].lower()
            if name not in _TAG_ENTITY:
                raise _ParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
            match = _START_TAG.match(markup, i)
            if match is None:
                raise _ParseError(f"Unclosed start tag at byte offset {offset}")
            attributes = {
                key.lower(): _unescape(next((v for v in values if v), ""))
                for key, *values in _ATTRIBUTE.findall(match.group(2))
            }
            stack.append(_Open(name, units, attributes))
            i = match.end()
        else:
            emit(char)
            i += 1
    if stack:
        raise _ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _decode_reference(markup: str, i: int) -> tuple[str | None, int]:
    match = _ENTITY_REF.match(markup, i)
    if match is None:
        return None, 0
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        value = _NAMED.get(name.lower())
        return (value, match.end() - i) if value is not None else (None, 0)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or code == 0:
        return None, 0
    return chr(code), match.end() - i


def _unescape(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        decoded, _ = _decode_reference(match.group(0), 0)
        return decoded if decoded is not None else match.group(0)

    return _ENTITY_REF.sub(replace, value)


def _entity(tag: _Open, end: int) -> dict[str, Any] | None:
    length = end - tag.start
    kind = _TAG_ENTITY[tag.name]
    if length <= 0:
        return None
    entity: dict[str, Any] = {"offset": tag.start, "length": length, "type": kind}
    if tag.name == "span" and tag.attributes.get("class") != "tg-spoiler":
        return None
    if kind == "text_link":
        href = tag.attributes.get("href", "")
        if not href:
            return None
        entity["url"] = href
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = tag.attributes.get("emoji-id", "")
    elif kind == "blockquote" and "expandable" in tag.attributes:
        entity["type"] = "expandable_blockquote"
    return entity


# --- helpers ----------------------------------------------------------------------------------


def _video_json(message: _Message) -> dict[str, Any]:
    """A ``Video`` object as sendVideo answers it (Telegram reads width, height and duration
    from the file; the sandbox does not decode it and says 0)."""
    assert message.video is not None
    unique = f"{message.chat.id}-{message.message_id}-video"
    return {
        "file_id": f"BAACAgI{unique}",
        "file_unique_id": unique,
        "width": 0,
        "height": 0,
        "duration": 0,
        "mime_type": message.video.mime_type,
        "file_size": message.video.size,
    }


def _ok(result: Any) -> HttpResponse:
    return json_response(200, {"ok": True, "result": result})


#: How the Bot API begins the description of a control route's error.
_CONTROL_PREFIXES = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}


def _error(status: int, description: str) -> HttpResponse:
    return json_response(status, {"ok": False, "error_code": status, "description": description})


def _fault(status: int, description: str | None) -> HttpResponse:
    if status in _REASONS and description is None:
        page = _NGINX_PAGE.format(status=status, reason=_REASONS[status])
        return HttpResponse(status, page.encode(), [("Content-Type", "text/html")])
    return _error(status, description or _DEFAULT_ERRORS.get(status, "Error"))


def _flood(seconds: float) -> HttpResponse:
    wait = max(1, math.ceil(seconds))
    return json_response(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {wait}",
            "parameters": {"retry_after": wait},
        },
        {"Retry-After": str(wait)},
    )


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _user_json(bot: _Bot) -> dict[str, Any]:
    return {
        "id": bot.id,
        "is_bot": True,
        "first_name": bot.username,
        "username": bot.username,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
    }


def _chat_json(chat: _Chat) -> dict[str, Any]:
    body: dict[str, Any] = {"id": chat.id, "title": chat.title, "type": "channel"}
    if chat.username:
        body["username"] = chat.username
    return body


def _photo_sizes(message: _Message, content: bytes) -> list[dict[str, Any]]:
    assert message.photo is not None
    image = image_info(content)
    width, height = (image.width, image.height) if image else (0, 0)
    unique = f"AQAD{message.chat.id % 10**6}{message.message_id}"
    sizes = []
    for scale, suffix in ((90, "s"), (320, "m"), (800, "x")):
        factor = min(1.0, scale / max(width, height, 1))
        sizes.append(
            {
                "file_id": f"AgACAgI{unique}{suffix}",
                "file_unique_id": f"{unique}{suffix}",
                "width": round(width * factor),
                "height": round(height * factor),
                "file_size": max(1, message.photo.size * scale // 800),
            }
        )
    return sizes


def _snapshot(message: _Message) -> SandboxMessage:
    return snapshot(
        SandboxMessage,
        message,
        chat_id=message.chat.id,
        chat_username=message.chat.username,
        bot=message.bot.username,
        entities=tuple(dict(e) for e in message.entities),
        reply_to=message.reply_to.message_id if message.reply_to else None,
        date=datetime.fromtimestamp(int(message.date), UTC),
    )


def _message_summary(message: SandboxMessage) -> dict[str, Any]:
    return fields_of(
        message,
        *("chat_id", "chat_username", "message_id", "bot", "text", "markup", "entities"),
        *("photo", "reply_to", "date", "deleted"),
    )
