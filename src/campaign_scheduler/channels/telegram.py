"""Telegram: post to a channel through the Bot API (channels.md §8).

The points that matter to the publisher:

* A post is ``sendMessage`` (text) or ``sendPhoto`` (one image, the text as its caption, at most
  1024 characters) to the account's ``chat`` (``@channelname`` or a numeric id ``-100…``). The
  text goes out with ``parse_mode=HTML``: ``<``, ``>`` and ``&`` are escaped, links become
  ``<a href="…">``. A reply chain uses ``reply_parameters``.
* Telegram has no idempotency key and the Bot API cannot list a channel's history, so after a
  lost answer nothing can tell whether the message exists: ``idempotency_window`` is ``None``
  and ``can_look_up`` is ``False``; the publisher marks such a delivery ``unknown`` for a
  person to settle (``campaign resolve``).
* The bot token is part of every URL (``/bot<token>/sendMessage``). It never reaches a message,
  a log line or an exception chain: URLs are logged through ``_http.safe_url`` (which redacts
  it), errors from the transport are re-raised without their cause, and a log filter redacts
  it from urllib3's own debug lines.
* No language field, no alt text, no metrics: the Bot API offers none (reactions arrive only as
  ``message_reaction_count`` updates to bots that poll for them), so :meth:`fetch_metrics`
  returns all ``None``.

HTTP answers map to the error classes like this (``description`` is Telegram's text):

=====================================  ===============================================
401, 404                               :class:`AuthError` (token refused / malformed)
403                                    :class:`AuthError`: the bot is not an admin of
                                       the channel (or was removed)
400 "chat not found", "not enough      :class:`AuthError`: the account is set up wrong
rights", ``migrate_to_chat_id``
other 400 ("message is too long",      :class:`RejectedError`
"can't parse entities", …)
429                                    :class:`RateLimitedError`, ``retry_at`` = now +
                                       ``parameters.retry_after`` (else ``Retry-After``,
                                       else 60 s)
502, 504 on a send                     :class:`OutcomeUnknownError` (a gateway gave up;
                                       the message may exist)
other 5xx                              :class:`UnavailableError`
=====================================  ===============================================
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from campaign_scheduler import errors
from campaign_scheduler.channels._http import ApiClient, body_start, json_or_none, redact_path
from campaign_scheduler.channels.base import AccountApi, AccountSettings, Channel, Metrics, Receipt
from campaign_scheduler.channels.catalog import ChannelSpec, Key, VideoLimits, account_keys
from campaign_scheduler.channels.published import (
    PublishedPart,
    digits,
    refusal,
    segments,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_UTF16, TextRule, count_utf16_units

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels.base import MediaFile, OutboundPost

#: Photos uploaded through the public Bot API may be at most this big.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
#: Files other than photos uploaded to the public Bot API (channels.md §Telegram).
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: ``<bot id>:<secret>`` as @BotFather hands it out.
TOKEN_FORMAT = re.compile(r"\d+:[A-Za-z0-9_-]+")
_SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendVideo"})
#: What each upload method may carry, and who says so in the refusal.
_UPLOAD_LIMITS = {
    "sendPhoto": (MAX_PHOTO_BYTES, "photos may have"),
    "sendVideo": (MAX_UPLOAD_BYTES, "bots may upload"),
}
_CONFIG_PROBLEMS = ("chat not found", "not enough rights", "need administrator rights")


#: A 401 or 404 from the Bot API: the token is not (any more) a bot's.
_TOKEN_REFUSED = (
    "the Bot API refused the bot token",
    "check `token` (from @BotFather; revoked tokens must be replaced)",
)


class TelegramApi(ApiClient):
    """The Bot API: the token is part of the path; errors are ``{"ok": false,
    "description", "parameters"}``, and flood control names ``retry_after`` in the body."""

    thing = "message"
    doubt = "the message may have been sent"
    rate_limit_words = "flood control"
    auth_statuses: ClassVar[Mapping[int, tuple[str, str]]] = {
        **dict.fromkeys((401, 404), _TOKEN_REFUSED),
        403: (
            "forbidden",
            "make the bot an administrator of the channel with the right to post messages",
        ),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        install_log_redaction()  # urllib3 logs every path, and the token is in the path

    def auth_headers(self) -> dict[str, str]:
        return {}  # the token is in the path (bot_path)

    def bot_path(self, method: str) -> str:
        token = self.secret(what="bot token")
        if not TOKEN_FORMAT.fullmatch(token):
            raise errors.AuthError(
                f"telegram: the bot token of {self.account.name} is malformed "
                "(expected <bot id>:<secret>)",
                hint="copy the token from @BotFather again",
            )
        return f"/bot{token}/{method}"

    def error_text(self, response: requests.Response) -> str:
        body = json_or_none(response)
        if isinstance(body, dict) and isinstance(body.get("description"), str):
            return redact_path(str(body["description"]))
        return body_start(response)

    def retry_at(self, response: requests.Response) -> datetime:
        wait = _parameters(response).get("retry_after")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and wait >= 0:
            return self.clock() + timedelta(seconds=float(wait))
        return super().retry_at(response)

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError | None:
        status = response.status_code
        if status >= 500 or status in self.auth_statuses or status == 429:
            return None
        migrated = _parameters(response).get("migrate_to_chat_id")
        if migrated is not None:
            return errors.AuthError(
                f"{where}: the chat moved to {migrated}",
                network_message=said,
                hint=f"set `chat` of the account to {migrated}",
            )
        if any(problem in said.lower() for problem in _CONFIG_PROBLEMS):
            return errors.AuthError(
                f"{where}: the channel cannot be used ({said})",
                network_message=said,
                hint="check `chat` (a private channel needs its numeric id -100…) and that "
                "the bot is an administrator with the right to post",
            )
        return None


class TelegramChannel(Channel):
    """Messages in one Telegram channel, sent by a bot that is one of its administrators.

    Setting ``chat``: the channel's ``@username`` or numeric id. Secret ``token``: the bot
    token from @BotFather."""

    name = "telegram"
    spec = ChannelSpec(
        "Telegram",
        **account_keys(chat=Key.SETTING, token=Key.SECRET),
        default_base_url="https://api.telegram.org",
        supports_threads=True,
        reports_impressions=False,
        # sendVideo: MPEG4 (other formats arrive as documents), the Bot API's 50 MB upload
        # limit, no duration limit; one file per message (this adapter sends no albums).
        video=VideoLimits(max_bytes=MAX_UPLOAD_BYTES),
        max_images=1,  # this adapter sends one image per message (no albums)
        other_files=False,
    )
    text_rule = TextRule(UNIT_UTF16, count_utf16_units, 4096, caption_limit=1024)
    api = AccountApi(TelegramApi)
    connect_flow = "campaign_scheduler.auth.telegram:TelegramFlow"
    rehearsal_network = "campaign_scheduler.rehearsal.networks:TelegramNetwork"

    # --- the Channel interface ------------------------------------------------------------

    def post_problems(self, post: OutboundPost) -> list[str]:
        problems: list[str] = []
        if post.reply_to is not None and not post.reply_to.isdigit():
            problems.append(f"telegram: reply target {post.reply_to!r} is not a message id")
        return problems

    def publish(self, post: OutboundPost) -> Receipt:
        text = to_html(post.text)
        fields: dict[str, Any] = {"chat_id": self._chat(), "parse_mode": "HTML"}
        if post.reply_to is not None:
            if not post.reply_to.isdigit():
                raise errors.RejectedError(
                    f"telegram: reply target {post.reply_to!r} is not a message id"
                )
            fields["reply_parameters"] = {"message_id": int(post.reply_to)}
        if not post.media:
            message = self._call("sendMessage", json={**fields, "text": text})
        elif post.media[0].is_video:
            # The Bot API has no alt text; supports_streaming lets clients play while loading.
            message = self._send_file(
                "sendVideo", post.media[0], {**fields, "supports_streaming": "true"}, text
            )
        else:
            message = self._send_file("sendPhoto", post.media[0], fields, text)
        with self.api.reading_created(
            hint="check the channel and settle the delivery with `campaign resolve`"
        ):
            receipt = self._receipt(message)
        self.api.log.debug("published message %s on %s", receipt.remote_id, self.account.name)
        return receipt

    def fetch_metrics(self, receipt: Receipt) -> Metrics:
        """Always empty: the Bot API reports no views, forwards or reach for channel posts
        (reaction counts reach only bots that receive ``message_reaction_count`` updates)."""
        return Metrics()

    def delete(self, remote_id: str) -> None:
        """Delete the message (possible for 48 hours). One already gone counts as deleted."""
        if not remote_id.isdigit():
            raise errors.RejectedError(f"telegram: {remote_id!r} is not a message id")
        try:
            self._call(
                "deleteMessage", json={"chat_id": self._chat(), "message_id": int(remote_id)}
            )
        except errors.RejectedError as exc:
            if "not found" not in (exc.network_message or "").lower():
                raise
            self.api.log.info("message %s on %s was already gone", remote_id, self.account.name)

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """``https://t.me/CHANNEL/ID`` (a public channel, ``chat = "@CHANNEL"``) or
        ``https://t.me/c/NUMBER/ID`` (a private one, ``chat = -100NUMBER``): the message id."""
        chat = str(account.settings.get("chat") or "").strip()
        where = f"c/{chat[4:]}" if chat.startswith("-100") else chat.lstrip("@") or "CHANNEL"
        shape = f"https://t.me/{where}/ID"
        parts = split_address(
            url, network=cls.title(), account=account.name, shape=shape, hosts=("t.me",)
        )
        match segments(parts):
            case ["c", number, message] if chat == f"-100{number}" and digits(message):
                return PublishedPart(message)
            case [name, message] if (
                name.lower() == chat.lstrip("@").lower() and chat and digits(message)
            ):
                return PublishedPart(message)
        raise refusal(cls.title(), account.name, url, shape)

    def verify(self) -> str:
        """The bot's and the channel's names; raises :class:`AuthError` unless the bot is an
        administrator of the channel that may post there."""
        me = self._call("getMe", json={})
        chat = self._call("getChat", json={"chat_id": self._chat()})
        member = self._call("getChatMember", json={"chat_id": self._chat(), "user_id": me["id"]})
        status = member.get("status")
        may_post = status == "creator" or (
            status == "administrator"
            and (chat.get("type") != "channel" or member.get("can_post_messages") is True)
        )
        where = f"@{chat['username']}" if chat.get("username") else str(chat.get("title"))
        if not may_post:
            raise errors.AuthError(
                f"telegram: {self.account.name}: the bot @{me.get('username')} may not post in "
                f"{where} (member status: {status})",
                hint="make the bot an administrator of the channel with the right to post messages",
            )
        return f"@{me.get('username')} → {where}"

    # --- steps ------------------------------------------------------------------------------

    def _send_file(
        self, method: str, media: MediaFile, fields: dict[str, Any], caption: str
    ) -> Any:
        """``sendPhoto`` or ``sendVideo``: the file uploaded with the message (multipart), the
        text as its caption; refused before sending when it is over the Bot API's limit."""
        content = media.read(self.name)
        limit, who = _UPLOAD_LIMITS[method]
        if len(content) > limit:
            raise errors.RejectedError(
                f"telegram: {media.path.name} is {len(content)} bytes; {who} at most {limit}"
            )
        form = {key: _form_value(value) for key, value in fields.items()}
        form["caption"] = caption
        field = "video" if method == "sendVideo" else "photo"
        return self._call(
            method, data=form, files={field: (media.path.name, content, media.mime_type)}
        )

    def _chat(self) -> str | int:
        chat = str(self.account.settings.get("chat") or "").strip()
        if not chat:
            raise errors.AuthError(
                f"telegram: account {self.account.name} names no chat",
                hint="set `chat` of the account (@channelname or the numeric id -100…)",
            )
        if re.fullmatch(r"-?\d+", chat):
            return int(chat)
        return chat if chat.startswith("@") else f"@{chat}"

    def _receipt(self, message: Any) -> Receipt:
        message_id = int(message["message_id"])
        chat = message.get("chat") or {}
        username = chat.get("username")
        url: str | None = None
        if isinstance(username, str) and username:
            url = f"https://t.me/{username}/{message_id}"
        elif str(chat.get("id", "")).startswith("-100"):
            url = f"https://t.me/c/{str(chat['id'])[4:]}/{message_id}"
        return Receipt(
            remote_id=str(message_id),
            url=url,
            published_at=datetime.fromtimestamp(int(message["date"]), UTC),
        )

    # --- HTTP -------------------------------------------------------------------------------

    def _call(self, method: str, **kwargs: Any) -> Any:
        """Call ``method`` of the Bot API and return its ``result``; errors raise (module doc).

        Transport errors are re-raised without their cause: the cause's text holds the URL,
        and the URL holds the token."""
        creates = method in _SEND_METHODS
        failure: errors.ChannelError | None = None
        try:
            response = self.api.send("POST", self.api.bot_path(method), creates=creates, **kwargs)
        except errors.ChannelError as exc:
            failure = exc
        if failure is not None:
            _scrub(failure)
            raise failure
        body = json_or_none(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        if response.status_code == 200 and creates:
            raise errors.OutcomeUnknownError(
                f"telegram: {self.account.name}: {method} answered 200 without a readable result",
                hint="check the channel and settle the delivery with `campaign resolve`",
            )
        raise self.api.error(response, method, creates=creates)


def _parameters(response: requests.Response) -> dict[str, Any]:
    body = json_or_none(response)
    parameters = body.get("parameters") if isinstance(body, dict) else None
    return parameters if isinstance(parameters, dict) else {}


# --- text ---------------------------------------------------------------------------------------


def to_html(text: str) -> str:
    """Plain ``text`` as Telegram HTML: ``&``, ``<`` and ``>`` escaped, every http(s) link an
    ``<a href>`` whose visible text is the link itself."""
    from twitter_text import extract_urls_with_indices

    pieces: list[str] = []
    position = 0
    for found in extract_urls_with_indices(text, extract_urls_without_protocol=False):
        start, end = found["indices"]
        url = text[start:end]
        pieces.append(_escape(text[position:start]))
        pieces.append(f'<a href="{_escape(url, quote=True)}">{_escape(url)}</a>')
        position = end
    pieces.append(_escape(text[position:]))
    return "".join(pieces)


def _escape(text: str, *, quote: bool = False) -> str:
    """Telegram's own escapes only (it knows ``&lt; &gt; &amp; &quot;`` and numeric ones)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


# --- secrets out of logs and exceptions -----------------------------------------------------


class _RedactBotTokens(logging.Filter):
    """Replace ``/bot<id>:<secret>`` in a record's message and arguments (urllib3 logs the path
    of every request at DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_path(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


_redaction_lock = threading.Lock()
#: The loggers of the HTTP stack that may write a request path.
_PATH_LOGGERS = ("urllib3.connectionpool", "urllib3.connection")


def install_log_redaction(*names: str) -> None:
    """Attach the token-redacting filter to the loggers ``names`` (default: urllib3's), once
    per logger and process."""
    with _redaction_lock:
        for name in names or _PATH_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(f, _RedactBotTokens) for f in logger.filters):
                logger.addFilter(_RedactBotTokens())


def _scrub(error: errors.ChannelError) -> None:
    """Drop what links ``error`` to the transport exception (whose text holds the URL)."""
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    error.with_traceback(None)


# --- helpers ----------------------------------------------------------------------------------


def _form_value(value: Any) -> str:
    """A multipart form field: objects (``reply_parameters``) are JSON-serialised."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
