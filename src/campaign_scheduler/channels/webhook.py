"""Signed webhooks: deliver each post as a signed JSON POST to a URL the account names, for a
CMS, an intranet or a chat bridge that publishes it further.

docs/matrix-and-webhooks.md describes the request for receiver authors. In short:

* ``POST <url>`` with ``Content-Type: application/json`` and the body
  ``{"type": "post", "delivery_id": ..., "account": ..., "text": ..., "language": ...,
  "reply_to": ..., "media": [{"filename", "mime_type", "alt", "size", "sha256", "data"}]}``,
  ``data`` being the file in base64. ``delivery_id`` is the delivery's idempotency key: the
  same on every attempt of one delivery, and the body is the same bytes on every attempt.
* Headers: ``Idempotency-Key: <delivery_id>``, ``X-Campaign-Timestamp: <unix seconds>`` and
  ``X-Campaign-Signature: sha256=<hex>``, the hex HMAC-SHA256 with the account's secret as key
  over ``<timestamp>.<raw body>``. Receivers reject old timestamps (we suggest 5 minutes), which
  stops replays of a captured request.
* :meth:`WebhookChannel.verify` sends ``{"type": "ping", ...}``, signed the same way; a
  receiver answers it with 2xx and publishes nothing.

Answers map to outcomes like this:

=================================  ===================================================
2xx                                published; ``remote_id`` = the answer's JSON ``id``
                                   if any, else the delivery id; ``url`` = its ``url``
3xx                                :class:`RejectedError` (redirects are not followed:
                                   configure the final URL)
401, 403                           :class:`AuthError` (wrong secret, or clocks apart)
408                                :class:`UnavailableError` (the request never arrived
                                   whole)
409                                :class:`OutcomeUnknownError` (the receiver is still
                                   working on an earlier attempt with this key)
429                                :class:`RateLimitedError`; ``retry_at`` from
                                   ``Retry-After`` (seconds or a date), else now + 60 s
other 4xx                          :class:`RejectedError`
502, 504                           :class:`OutcomeUnknownError` (a gateway gave up; the
                                   receiver behind it may have published)
other 5xx                          :class:`UnavailableError`
timeout, dropped connection        :class:`OutcomeUnknownError` (from ``_http.send``)
=================================  ===================================================

Recovery: we do not control the receiver, so by default nothing is claimed
(``idempotency_window = None``, ``can_look_up = False``): after a lost answer the publisher
asks a person. An account may set ``deduplicates = "24h"`` (any duration the receiver
documents for its ``Idempotency-Key`` handling); the adapter then claims that window, less a
margin of 10 % (at least a minute), and the publisher replays the same request inside it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from campaign_scheduler import errors
from campaign_scheduler.channels._http import ApiClient, json_or_none, safe_url
from campaign_scheduler.channels.base import AccountSettings, Channel, Receipt
from campaign_scheduler.channels.catalog import ChannelSpec, Key, account_keys
from campaign_scheduler.channels.published import (
    PublishedPart,
    split_address,
)
from campaign_scheduler.channels.text import UNIT_GRAPHEMES, TextRule, count_graphemes
from campaign_scheduler.timeutil import WhenError, parse_duration, utcnow
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels.base import AccountSettings, OutboundPost

SIGNATURE_HEADER = "X-Campaign-Signature"
TIMESTAMP_HEADER = "X-Campaign-Timestamp"
#: Share of a receiver's documented deduplication window that is not relied upon.
WINDOW_MARGIN = 0.10
MIN_WINDOW_MARGIN = timedelta(minutes=1)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Campaign-Signature`` value for ``body`` sent at ``timestamp``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def receiver_window(setting: object) -> timedelta | None:
    """The idempotency window to claim for a receiver that documents ``setting`` (e.g.
    ``"24h"``): the duration less 10 % (at least a minute); ``None`` when unset.

    Raises :class:`ConfigError` for a value that is not a duration."""
    if setting is None or setting == "":
        return None
    if not isinstance(setting, str):
        raise errors.ConfigError(
            msg(
                'webhook: deduplicates must be a duration such as "24h", not {setting!r}',
                setting=setting,
            )
        )
    try:
        documented = parse_duration(setting)
    except WhenError as exc:
        raise errors.ConfigError(
            msg("webhook: deduplicates: {error}", error=str(exc)),
            hint=msg('e.g. deduplicates = "24h"'),
        ) from exc
    window = documented - max(documented * WINDOW_MARGIN, MIN_WINDOW_MARGIN)
    return window if window > timedelta(0) else None


class WebhookChannel(Channel):
    """Posts delivered as signed JSON to one URL. Setting: ``url``; secret: ``secret`` (the
    HMAC key shared with the receiver); optional: ``deduplicates`` (how long the receiver
    documents that it answers a repeated ``Idempotency-Key`` without publishing again)."""

    name = "webhook"
    spec = ChannelSpec(
        "Webhook",
        **account_keys(url=Key.ADDRESS, secret=Key.SECRET, deduplicates=Key.OPTIONAL),
        needs_base_url=False,
    )
    text_rule = TextRule(UNIT_GRAPHEMES, count_graphemes, None)
    idempotency_window = None
    can_look_up = False
    rehearsal_network = "campaign_scheduler.rehearsal.networks:WebhookNetwork"

    def __init__(
        self,
        account: AccountSettings,
        session: requests.Session,
        *,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(account, session, timeout=timeout, clock=now)
        self.api = WebhookApi(self.name, account, session, base_url="", timeout=timeout, clock=now)
        self._clock = clock  # Unix seconds for the signature's timestamp
        window = receiver_window(account.settings.get("deduplicates"))
        if window is not None:
            # Per account, not per class: this receiver's promise, not every webhook's.
            setattr(self, "idempotency_window", window)  # noqa: B010

    # --- the Channel interface ------------------------------------------------------------

    def post_problems(self, post: OutboundPost) -> list[str]:
        issues: list[str] = []
        for media in post.media:
            if not media.path.is_file():
                issues.append(f"media file {media.path} does not exist")
        return issues

    def publish(self, post: OutboundPost) -> Receipt:
        body = post_body(post, self.account.name)
        response = self._post(body, post.idempotency_key, creates=True)
        answer = json_or_none(response)
        answer = answer if isinstance(answer, dict) else {}  # receivers may answer 204
        remote_id = answer.get("id")
        url = answer.get("url")
        receipt = Receipt(
            remote_id=str(remote_id) if isinstance(remote_id, str | int) else post.idempotency_key,
            url=url if isinstance(url, str) else None,
            published_at=self.clock(),
        )
        self.api.log.info("delivered %s to %s", post.idempotency_key, safe_url(self._url()))
        return receipt

    @classmethod
    def published_part(cls, url: str, account: AccountSettings) -> PublishedPart:
        """Any ``https://`` address where the receiver shows the post: it has no id of its
        own to an outsider, so the address itself is the record's id."""
        shape = "https://… (where the receiver shows the post)"
        receiver = urlsplit(url)
        parts = split_address(
            url,
            network=cls.title(),
            account=account.name,
            shape=shape,
            hosts=(receiver.netloc.lower(),),
        )
        return PublishedPart(parts.geturl())

    def verify(self) -> str:
        """Send a signed ping; the receiver must answer 2xx (and publish nothing)."""
        ping_id = uuid.uuid4().hex
        body = _encode({"type": "ping", "delivery_id": ping_id, "account": self.account.name})
        self._post(body, ping_id, creates=False)
        return f"webhook {safe_url(self._url())}"

    # --- HTTP -------------------------------------------------------------------------------

    def _url(self) -> str:
        url = self.account.settings.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise errors.AuthError(
                f"webhook: account {self.account.name} has no http(s) url",
                hint="set `url` of the account in config.toml",
            )
        return url

    def _post(self, body: bytes, key: str, *, creates: bool) -> requests.Response:
        url = self._url()
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(self.api.secret("secret", what="secret"), timestamp, body),
        }
        response = self.api.send(
            "POST",
            url,
            creates=creates,
            authenticate=False,
            data=body,
            headers=headers,
            follow_redirects=False,  # a receiver's redirect is reported, never followed
        )
        if not 200 <= response.status_code < 300:
            raise self.api.error(response, "POST", creates=creates)
        return response


class WebhookApi(ApiClient):
    """A receiver's answers: any 2xx is success; redirects, 408 and 409 have meanings of
    their own; a gateway error may hide a post the receiver published."""

    auth_hint = "check that both sides use the same secret and that the clocks agree"
    auth_statuses: ClassVar[Mapping[int, tuple[str, str]]] = {
        401: ("the receiver refused the request", ""),
        403: ("the receiver refused the request", ""),
    }
    doubt = "the receiver may have published the post"

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError | None:
        status = response.status_code
        if 300 <= status < 400:
            target = response.headers.get("Location", "?")
            return errors.RejectedError(
                f"{where}: the receiver redirects ({status} to {safe_url(target)})",
                network_message=said,
                hint="set `url` to the final address; redirects are not followed",
            )
        if status == 408:
            return errors.UnavailableError(f"{where}: the receiver timed out reading the request")
        if status == 409:
            return errors.OutcomeUnknownError(
                f"{where}: the receiver is still processing an earlier attempt ({said})",
                network_message=said,
            )
        return None


def post_body(post: OutboundPost, account: str) -> bytes:
    """The JSON body for ``post``: the same bytes for every attempt of one delivery.

    Raises :class:`RejectedError` when a media file cannot be read."""
    media = []
    for item in post.media:
        data = item.read("webhook")
        media.append(
            {
                "filename": item.path.name,
                "mime_type": item.mime_type,
                "alt": item.alt,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "data": base64.b64encode(data).decode("ascii"),
            }
        )
    return _encode(
        {
            "type": "post",
            "delivery_id": post.idempotency_key,
            "account": account,
            "text": post.text,
            "language": post.language or None,
            "reply_to": post.reply_to,
            "media": media,
        }
    )


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
