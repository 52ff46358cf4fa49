"""HTTP plumbing shared by the channel adapters.

Two things live here:

* :func:`make_session` builds the ``requests.Session`` an adapter talks through (our
  User-Agent, nothing else; adapters add their own auth headers per request).
* :func:`send` makes one request and turns a *transport* failure into the error that tells the
  publisher what it needs to know: was anything sent?

  ====================================================  ==============================
  what happened                                         raised
  ====================================================  ==============================
  connection refused, DNS failure, connect timeout,     :class:`UnavailableError`
  TLS handshake or proxy failure                        (the server never saw the request)
  read timeout, connection dropped after the request    :class:`OutcomeUnknownError`
  went out, broken chunked body, anything unclassified  (the server may have acted on it)
  malformed URL / unsupported scheme                    :class:`ChannelError`
                                                        (configuration; retrying won't help)
  ====================================================  ==============================

  HTTP error *statuses* are not raised here: each network words its errors differently, so
  the adapter maps the response itself.

Secrets never reach messages or logs: the messages name the host and path only (no query
string, no user info), and headers are never logged. A Telegram bot token, which the Bot API
puts in the path (``/bot<id>:<secret>/sendMessage``), is replaced by ``/bot<redacted>``.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from campaign_scheduler import __version__
from campaign_scheduler.errors import ChannelError, OutcomeUnknownError, UnavailableError

USER_AGENT = f"campaign-scheduler/{__version__}"


def make_session(*, user_agent: str = USER_AGENT) -> requests.Session:
    """A fresh session that identifies itself as campaign-scheduler."""
    session = requests.Session()
    session.headers["User-Agent"] = user_agent
    return session


def logger_for(channel: str) -> logging.Logger:
    """The logger an adapter for ``channel`` writes to."""
    return logging.getLogger(f"campaign_scheduler.channels.{channel}")


#: A Telegram bot token as the Bot API puts it in the path: ``/bot<numeric id>:<secret>``.
_BOT_TOKEN_IN_PATH = re.compile(r"/bot\d+:[^/]*")


def redact_path(path: str) -> str:
    """``path`` with a Telegram bot token (``/bot<id>:<secret>``) replaced by ``/bot<redacted>``."""
    return _BOT_TOKEN_IN_PATH.sub("/bot<redacted>", path)


def safe_url(url: str) -> str:
    """``url`` without user info, query string, fragment or bot token: fit for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = redact_path(parts.path)
    return f"{parts.scheme}://{host}{path}" if parts.scheme else path


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float | tuple[float, float],
    channel: str = "http",
    **kwargs: Any,
) -> requests.Response:
    """Make one request through ``session``; translate transport failures (see module doc).

    ``kwargs`` go to :meth:`requests.Session.request` unchanged. Any HTTP status is returned
    as a response; only failures to get one raise.
    """
    log = logger_for(channel)
    where = safe_url(url)
    try:
        response = session.request(method, url, timeout=timeout, **kwargs)
    except requests.exceptions.RequestException as exc:
        error = _translate(exc, channel=channel, method=method, where=where)
        log.warning("%s", error.message)
        raise error from exc
    log.debug("%s %s -> %s", method, where, response.status_code)
    return response


def _translate(
    exc: requests.exceptions.RequestException, *, channel: str, method: str, where: str
) -> ChannelError:
    request = f"{method} {where}"
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.URLRequired,
    ):
        return ChannelError(
            f"{channel}: cannot call {where}: the address is not a valid http(s) URL",
            hint="check base_url of the account in config.toml",
        )
    reason = _not_sent_reason(exc)
    if reason is not None:
        return UnavailableError(
            f"{channel}: {request} did not reach the server ({reason}); nothing was sent"
        )
    return OutcomeUnknownError(
        f"{channel}: {request} got no complete answer ({_unknown_reason(exc)}); "
        "the server may have acted on it"
    )


def _not_sent_reason(exc: requests.exceptions.RequestException) -> str | None:
    """Why the request certainly never reached the server, or ``None`` if it may have."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "proxy failed"
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        inner = exc.args[0]
        if isinstance(inner, MaxRetryError):
            cause = inner.reason
            if isinstance(cause, NewConnectionError):
                # NameResolutionError is a subclass; word it separately for people.
                text = str(cause).lower()
                if "resolve" in text or "name or service" in text:
                    return "host name not found"
                if "refused" in text:
                    return "connection refused"
                return "could not connect"
            if isinstance(cause, ConnectTimeoutError):
                return "connect timeout"
    return None


def _unknown_reason(exc: requests.exceptions.RequestException) -> str:
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "response body cut off"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "Read timed out" in text:
            return "read timeout"
        if "RemoteDisconnected" in text or "without response" in text:
            return "connection closed without a response"
        if "reset" in text.lower():
            return "connection reset"
        return "connection dropped"
    return type(exc).__name__
