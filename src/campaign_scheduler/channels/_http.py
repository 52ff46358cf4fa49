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
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from campaign_scheduler import __version__
from campaign_scheduler.channels.addresses import url_problem
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


#: The largest answer read from a network (media are uploaded, never downloaded).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: How many same-origin redirects one call follows.
MAX_REDIRECTS = 5
_READ_CHUNK = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float | tuple[float, float],
    channel: str = "http",
    max_bytes: int = MAX_BODY_BYTES,
    follow_redirects: bool = True,
    monotonic: Callable[[], float] = time.monotonic,
    **kwargs: Any,
) -> requests.Response:
    """Make one request through ``session``; translate transport failures (see module doc).

    ``kwargs`` go to :meth:`requests.Session.request` unchanged. Any HTTP status is returned
    as a response (its body read whole); only failures to get one raise. On top of that:

    * the URL must be ``https://``, or ``http://`` on a loopback address (sandboxes, tests);
    * redirects are followed only on the same origin (scheme, host and port), at most
      :data:`MAX_REDIRECTS`; one to another origin raises :class:`ChannelError` and is not
      followed, so credentials in headers, query or body never reach another server
      (``follow_redirects=False``: every redirect is returned as the answer);
    * ``timeout`` (the read timeout of a pair) is also the limit for the whole call, body
      included: a server that trickles its answer cannot hold the call longer;
    * an answer longer than ``max_bytes`` is not read further (:class:`OutcomeUnknownError`).
    """
    log = logger_for(channel)
    read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout
    deadline = monotonic() + read_timeout
    for _ in range(MAX_REDIRECTS + 1):
        where = safe_url(url)
        _require_safe_scheme(url, channel)
        try:
            response = session.request(
                method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs
            )
        except requests.exceptions.RequestException as exc:
            error = _translate(exc, channel=channel, method=method, where=where)
            log.warning("%s", error.message)
            raise error from exc
        redirect = response.status_code in _REDIRECTS and "location" in response.headers
        if not (redirect and follow_redirects):
            _read_body(
                response,
                channel=channel,
                request=f"{method} {where}",
                deadline=deadline,
                limit=read_timeout,
                max_bytes=max_bytes,
                monotonic=monotonic,
            )
            log.debug("%s %s -> %s", method, where, response.status_code)
            return response
        target = urljoin(url, response.headers["location"])
        response.close()
        if _origin(target) != _origin(url):
            raise ChannelError(
                f"{channel}: {method} {where} was redirected to another server "
                f"({safe_url(target)}); the request was not repeated there",
                hint="credentials are only ever sent to base_url: check base_url of the "
                "account in config.toml",
            )
        log.debug(
            "%s %s -> %s, following to %s", method, where, response.status_code, safe_url(target)
        )
        if response.status_code == 303 or (
            response.status_code in (301, 302) and method not in ("GET", "HEAD")
        ):
            method = "GET"  # as browsers and requests do; the body is not sent again
            for key in ("data", "json", "files"):
                kwargs.pop(key, None)
        url = target
    raise ChannelError(
        f"{channel}: {method} {safe_url(url)}: more than {MAX_REDIRECTS} redirects",
        hint="check base_url of the account in config.toml",
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def _require_safe_scheme(url: str, channel: str) -> None:
    problem = url_problem(url)
    if problem is not None:
        raise ChannelError(
            f"{channel}: will not call {safe_url(url)}: the address {problem}",
            hint="check base_url (and other addresses) of the account in config.toml",
        )


def _read_body(
    response: requests.Response,
    *,
    channel: str,
    request: str,
    deadline: float,
    limit: float,
    max_bytes: int,
    monotonic: Callable[[], float],
) -> None:
    """Read the streamed body of ``response`` into it, within ``deadline`` and ``max_bytes``."""
    too_large = OutcomeUnknownError(
        f"{channel}: {request}: the answer is larger than {max_bytes} bytes; "
        "it was not read to the end"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise too_large
    raw = response.raw
    read = getattr(raw, "read1", None) or raw.read
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise OutcomeUnknownError(
                    f"{channel}: {request} got no complete answer within {limit:g} s "
                    "(the time limit of a call); the server may have acted on it"
                )
            _limit_next_read(raw, min(left, limit))
            chunk = read(_READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise too_large
            chunks.append(chunk)
    except OutcomeUnknownError:
        response.close()
        raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise OutcomeUnknownError(
            f"{channel}: {request} got no complete answer ({_body_failure(exc)}); "
            "the server may have acted on it"
        ) from exc
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]
    response.close()


def _limit_next_read(raw: Any, seconds: float) -> None:
    """Let the next read on ``raw``'s socket wait at most ``seconds`` (where there is one)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


def _body_failure(exc: BaseException) -> str:
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "read timeout"
    return "response body cut off"


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
