"""HTTP plumbing shared by the channel adapters.

Three things live here:

* :class:`ApiClient`, one network's HTTP dialect for one account: token lookup,
  ``call(method, path, creates=…)`` (which decides once whether a lost answer is an unknown
  outcome or only unavailability), the default status ladder, JSON that is checked, and
  :func:`reset_time`/:func:`retry_at` for every form of retry time. Each adapter declares a
  subclass (``api_class``) that overrides only what is its network's: error envelope, reset
  headers, a different ladder, where the token goes.
* :func:`make_session` builds the ``requests.Session`` an adapter talks through (our
  User-Agent, nothing else; adapters add their own auth headers per request). It reads what
  the environment says about a server (proxies, ``NO_PROXY``, a CA bundle) once per origin,
  and what ``~/.netrc`` (or ``$NETRC``) says about a host once per host, not at every request
  as a plain session does (a tenth of the daemon's CPU per call); what they say applies as
  it would on a plain session.
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

  HTTP error *statuses* are not raised by :func:`send` (:meth:`ApiClient.call` maps them).
  :func:`send` also keeps credentials with their server: no redirect to another origin is
  followed, plain ``http://`` only on loopback, one time limit for the whole call (a server
  that trickles its answer cannot hold it longer) and a size limit for the answer.

Secrets never reach messages or logs: the messages name the host and path only (no query
string, no user info), and headers are never logged. A Telegram bot token, which the Bot API
puts in the path (``/bot<id>:<secret>/sendMessage``), is replaced by ``/bot<redacted>``.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urljoin, urlsplit

from campaign_scheduler import __version__, errors
from campaign_scheduler.channels.addresses import url_problem
from campaign_scheduler.channels.base import Metrics
from campaign_scheduler.timeutil import utcnow

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.channels.base import AccountSettings

# requests and urllib3 are imported where a request is made: the channel classes (and with
# them this module) are loaded by `check` and `load` for their specs, which send nothing.

USER_AGENT = f"campaign-scheduler/{__version__}"


def make_session(*, user_agent: str = USER_AGENT) -> requests.Session:
    """A fresh session that identifies itself as campaign-scheduler."""
    session = _session_class()()
    session.headers["User-Agent"] = user_agent
    return session


_SESSION_CLASS: type[requests.Session] | None = None
#: Origins a session remembers the environment's settings for (then it starts over).
_ORIGINS_REMEMBERED = 64


def _session_class() -> type[requests.Session]:
    """A ``requests.Session`` that reads the environment's settings for an origin once.

    A plain session looks up the proxies for every request (scanning the whole environment
    for ``*_proxy`` variables and matching ``NO_PROXY``) and the CA bundle variables; the
    process's environment does not change while it runs, so each origin's answer is kept
    (per session, for the arguments of the request; a copy is handed out each time). The
    same for the credentials ``.netrc`` has for a host: looked up (the file found and parsed)
    at the first request to the host without auth of its own, then kept for the session."""
    global _SESSION_CLASS
    if _SESSION_CLASS is not None:
        return _SESSION_CLASS
    import requests
    from requests.auth import AuthBase, HTTPBasicAuth
    from requests.sessions import merge_hooks, merge_setting
    from requests.structures import CaseInsensitiveDict
    from requests.utils import get_auth_from_url, get_netrc_auth

    class NoNetrcEntry(AuthBase):
        """A request's auth when ``.netrc`` has no entry for its host: what requests does
        without any auth (the user info of the URL, if there is one)."""

        def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
            in_url = get_auth_from_url(r.url or "")
            return HTTPBasicAuth(*in_url)(r) if any(in_url) else r

    no_entry = NoNetrcEntry()

    class Session(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self._environment: dict[tuple[Any, ...], Any] = {}
            self._netrc: dict[str | None, tuple[str, str] | None] = {}

        def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
            # A plain session looks for ~/.netrc (and parses it) at every request without auth.
            if self.trust_env and not request.auth and not self.auth:
                host = urlsplit(request.url).hostname
                if host not in self._netrc:
                    if len(self._netrc) >= _ORIGINS_REMEMBERED:
                        self._netrc.clear()
                    self._netrc[host] = get_netrc_auth(request.url)
                found = self._netrc[host]
                request.auth = found if found is not None else no_entry
            if self.cookies or request.cookies or self.params or self.auth is not None:
                return super().prepare_request(request)
            # What requests prepares for a session without cookies, parameters or auth of its
            # own (the adapters' sessions; a cookie a server sets takes the way above), without
            # merging empty cookie jars and settings: each merge makes typing's runtime protocol
            # checks, slow on Python 3.11 (a third of the time requests took to prepare a call).
            headers = CaseInsensitiveDict(self.headers)
            headers.update(request.headers or {})
            for name in [name for name, value in headers.items() if value is None]:
                del headers[name]  # as requests does: None removes a header
            prepared = requests.PreparedRequest()
            prepared.prepare(
                method=request.method.upper() if request.method else request.method,
                url=request.url,
                files=request.files,
                data=request.data,
                json=request.json,
                headers=headers,
                params=(
                    merge_setting(request.params, self.params)  # type: ignore[no-untyped-call]
                    if request.params
                    else None
                ),
                auth=request.auth,
                cookies=None,  # (an empty jar, as the merge of two empty ones)
                hooks=merge_hooks(request.hooks, self.hooks),  # type: ignore[no-untyped-call]
            )
            return prepared

        def merge_environment_settings(
            self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
        ) -> Any:
            if not self.trust_env or not isinstance(verify, bool | str | None):
                return super().merge_environment_settings(url, proxies, stream, verify, cert)
            parts = urlsplit(url)
            key = (
                parts.scheme,
                parts.netloc,
                tuple(sorted((proxies or {}).items())),
                stream,
                verify,
                cert if not isinstance(cert, list) else tuple(cert),
            )
            known = self._environment.get(key)
            if known is None:
                if len(self._environment) >= _ORIGINS_REMEMBERED:
                    self._environment.clear()
                known = super().merge_environment_settings(url, proxies, stream, verify, cert)
                self._environment[key] = known
            return {**known, "proxies": dict(known["proxies"])}

    _SESSION_CLASS = Session
    return Session


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
    import requests

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
            raise errors.ChannelError(
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
    raise errors.ChannelError(
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
        raise errors.ChannelError(
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
    import urllib3

    too_large = errors.OutcomeUnknownError(
        f"{channel}: {request}: the answer is larger than {max_bytes} bytes; "
        "it was not read to the end"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        response.close()
        raise too_large
    content: object = response._content
    if content is not False:  # an in-process transport answered, already whole
        if isinstance(content, bytes) and len(content) > max_bytes:
            raise too_large
        return
    raw = response.raw
    read_raw: Callable[..., bytes] = getattr(raw, "read1", None) or raw.read
    # Decoded as it arrives: servers compress (gzip, deflate, br), and the size limit applies
    # to what the answer unpacks to. (A transport may hand over a plain file object instead.)
    decode = isinstance(raw, urllib3.response.BaseHTTPResponse)

    def read(amount: int) -> bytes:
        return read_raw(amount, decode_content=True) if decode else read_raw(amount)

    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            left = deadline - monotonic()
            if left <= 0:
                raise errors.OutcomeUnknownError(
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
    except errors.OutcomeUnknownError:
        response.close()
        raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        response.close()
        raise errors.OutcomeUnknownError(
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
    import urllib3

    if isinstance(exc, urllib3.exceptions.ReadTimeoutError | TimeoutError):
        return "read timeout"
    return "response body cut off"


def _translate(
    exc: requests.exceptions.RequestException, *, channel: str, method: str, where: str
) -> errors.ChannelError:
    import requests

    request = f"{method} {where}"
    if isinstance(
        exc,
        requests.exceptions.InvalidURL
        | requests.exceptions.MissingSchema
        | requests.exceptions.InvalidSchema
        | requests.exceptions.URLRequired,
    ):
        return errors.ChannelError(
            f"{channel}: cannot call {where}: the address is not a valid http(s) URL",
            hint="check base_url of the account in config.toml",
        )
    reason = _not_sent_reason(exc)
    if reason is not None:
        return errors.UnavailableError(
            f"{channel}: {request} did not reach the server ({reason}); nothing was sent"
        )
    return errors.OutcomeUnknownError(
        f"{channel}: {request} got no complete answer ({_unknown_reason(exc)}); "
        "the server may have acted on it"
    )


def _not_sent_reason(exc: requests.exceptions.RequestException) -> str | None:
    """Why the request certainly never reached the server, or ``None`` if it may have."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

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
    import requests

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


# --- reset times ------------------------------------------------------------------------------

#: Wait this long after a rate limit that names no time.
DEFAULT_RATE_LIMIT_WAIT = timedelta(seconds=60)
#: A number at least this large is a Unix time (2001 or later), a smaller one seconds to wait.
_EPOCH_FROM = 1_000_000_000


def reset_time(value: object, now: datetime, *, epoch: bool | None = None) -> datetime | None:
    """A retry or reset time in any of the forms networks write it, never before ``now``:
    seconds to wait (``"120"``, ``"1.5"``), a Unix time (``"1767225600"``), an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``) or ISO 8601 (``"2026-05-01T15:00:00.000Z"``).
    A number is a Unix time when ``epoch`` is true, seconds to wait when it is false, and
    when ``None`` a Unix time from 10⁹ (2001) on. ``None`` when ``value`` is none of these."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    when: datetime | None = None
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None:
        if not math.isfinite(number) or number < 0:
            return None
        try:
            if epoch or (epoch is None and number >= _EPOCH_FROM):
                when = datetime.fromtimestamp(number, UTC)
            else:
                when = now + timedelta(seconds=number)
        except (OverflowError, OSError, ValueError):
            return None
    else:
        from dateutil.parser import isoparse

        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            try:
                when = isoparse(text)
            except (ValueError, OverflowError):
                return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return max(when.astimezone(UTC), now)


def retry_at(
    headers: Mapping[str, str],
    now: datetime,
    *,
    names: tuple[str, ...] = ("Retry-After",),
    default: timedelta = DEFAULT_RATE_LIMIT_WAIT,
) -> datetime:
    """When to try again: the first of the headers ``names`` that holds a readable time
    (:func:`reset_time`; a number in ``Retry-After`` is always seconds), else
    ``now + default``."""
    for name in names:
        when = reset_time(
            headers.get(name), now, epoch=False if name.lower() == "retry-after" else None
        )
        if when is not None:
            return when
    return now + default


# --- figures -----------------------------------------------------------------------------------


def count(value: object) -> int | None:
    """A figure from an answer: a whole number of at least 0, else ``None`` (booleans are
    not figures)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if value >= 0 else None


def read_metrics(
    values: Mapping[str, Any],
    names: Mapping[str, str],
    *,
    read: Callable[[object], int | None] = count,
    **known: int | None,
) -> Metrics:
    """A post's :class:`Metrics`: each field in ``names`` read (with ``read``) from the
    network's key for it in ``values``; the figures in ``known`` as they are."""
    return Metrics(**{field: read(values.get(key)) for field, key in names.items()}, **known)


# --- one API client per dialect -----------------------------------------------------------------


class GoneError(errors.RejectedError):
    """404/410: what the call names (reply target, post, media, room) does not exist (any
    more)."""


class ApiClient:
    """One network's HTTP dialect for one account: the base address, the token, the calls,
    the error ladder and the reading of answers. An adapter holds one (``self.api``) and
    keeps only what is truly its network's; a dialect overrides the hooks below.

    ``call(method, path, creates=…)`` decides once what a failure means for the publisher: a
    lost answer (:class:`OutcomeUnknownError`) stays unknown only on a call that can create
    the post (``creates=True``); on any other call nothing can have been published by it, so
    it is :class:`UnavailableError`. The clock is passed in; adapters never read the time.
    """

    #: Headers that say when to try again after a rate limit, in order of preference.
    reset_headers: tuple[str, ...] = ("Retry-After",)
    #: Keys of a JSON error body whose text is the network's own message.
    message_keys: tuple[str, ...] = ("error", "message", "detail")
    #: What to do about refused credentials.
    auth_hint: str = "check the account's token and its scopes (`campaign channels verify`)"
    #: Statuses that mean the credentials or the account's rights are at fault: what happened
    #: (``{server}`` names :attr:`server`) and what to do (empty: :attr:`auth_hint`).
    auth_statuses: ClassVar[Mapping[int, tuple[str, str]]] = {
        401: ("the {server} refused the credentials", ""),
        403: ("the {server} refused the credentials", ""),
    }
    #: What the network calls a rate limit ("throttled", "flood control").
    rate_limit_words: str = "rate limited"
    #: Server errors after which a creating call may still have acted (a gateway gave up
    #: waiting; the server behind it may have gone on).
    doubtful_statuses: frozenset[int] = frozenset({502, 504})
    #: What a created thing is called in messages ("status", "event").
    thing: str = "post"
    #: What the other side is called in messages ("instance", "homeserver").
    server: str = "server"
    #: What a doubtful server error may have left behind (empty: "the <thing> may have been
    #: created").
    doubt: str = ""
    #: The error for a call that names something that does not exist (any more).
    gone: ClassVar[type[errors.RejectedError]] = GoneError
    #: :class:`Metrics` fields and the keys of the network's answers that hold them (what
    #: :meth:`metrics` reads).
    figures: ClassVar[Mapping[str, str]] = {}

    def __init__(
        self,
        channel: str,
        account: AccountSettings,
        session: requests.Session,
        *,
        base_url: str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.channel = channel
        self.account = account
        self.session = session
        self.base_url = (base_url if base_url is not None else account.base_url).rstrip("/")
        self.timeout = timeout
        self.clock = clock
        self.log = logger_for(channel)

    @property
    def who(self) -> str:
        return f"{self.channel}: {self.account.name}"

    # --- credentials ------------------------------------------------------------------------

    def secret(self, key: str = "token", *, what: str = "access token") -> str:
        """The account's secret ``key``, read now; :class:`AuthError` when it is empty."""
        value = self.account.secret(key)
        if not value:
            raise errors.AuthError(
                f"{self.channel}: account {self.account.name} has no {what}",
                hint=f"set `{key}` of the account in config.toml",
            )
        return value

    def auth_headers(self) -> dict[str, str]:
        """Headers that authenticate a call (default: ``Bearer`` with the ``token`` secret)."""
        return {"Authorization": f"Bearer {self.secret()}"}

    def auth_options(self) -> dict[str, Any]:
        """Further request options that authenticate a call (e.g. a requests ``auth``)."""
        return {}

    # --- calls --------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        creates: bool = False,
        authenticate: bool = True,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One request, any status returned. ``path`` is appended to the base address unless
        it is a full URL. A lost answer is unknown only when ``creates`` (see the class)."""
        all_headers = {**(self.auth_headers() if authenticate else {}), **(headers or {})}
        if authenticate:
            kwargs.update(self.auth_options())
        url = path if "://" in path else self.base_url + path
        try:
            return send(
                self.session,
                method,
                url,
                timeout=self.timeout if timeout is None else timeout,
                channel=self.channel,
                headers=all_headers,
                **kwargs,
            )
        except errors.OutcomeUnknownError as exc:
            if creates:
                raise
            # Nothing this call does can publish a post: the outcome is not in doubt.
            what_happened = exc.message.split(";")[0]
            raise errors.UnavailableError(
                f"{what_happened}; this call cannot have published anything",
                network_message=exc.network_message,
            ) from exc

    def call(
        self, method: str, path: str, *, creates: bool = False, **kwargs: Any
    ) -> requests.Response:
        """:meth:`send`, and an HTTP error status raised through :meth:`error`."""
        response = self.send(method, path, creates=creates, **kwargs)
        if response.status_code >= 400:
            raise self.error(response, f"{method} {self.call_name(path)}", creates=creates)
        return response

    def call_name(self, path: str) -> str:
        """``path`` as messages show it (no query string, no secrets)."""
        return redact_path(urlsplit(path).path)

    # --- errors -------------------------------------------------------------------------------

    def error(
        self, response: requests.Response, call: str, *, creates: bool
    ) -> errors.ChannelError:
        """The error for an error answer to ``call``: the network's own reading
        (:meth:`network_error`) where it has one, else the default ladder: :attr:`auth_statuses`
        auth, 429 rate limited, 404/410 gone, other 4xx rejected, 5xx :meth:`server_error`."""
        status = response.status_code
        said = self.error_text(response)
        where = f"{self.who}: {call}"
        special = self.network_error(response, said, where, creates=creates)
        if special is not None:
            return special
        if status in self.auth_statuses:
            what, hint = self.auth_statuses[status]
            return errors.AuthError(
                f"{where}: {what.format(server=self.server)} ({status}: {said})",
                network_message=said,
                hint=hint or self.auth_hint,
            )
        if status == 429:
            return self.rate_limited(response, said, who=where)
        if status in (404, 410):
            return self.gone(f"{where}: not found ({said})", network_message=said)
        if status < 500:
            return errors.RejectedError(
                f"{where}: refused ({status}: {said})", network_message=said
            )
        return self.server_error(status, said, where, creates=creates)

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError | None:
        """What only this network's answers mean (an error code, a duplicate, a moved chat),
        or ``None`` for the default ladder of :meth:`error`. ``where`` names account and call."""
        return None

    def server_error(
        self, status: int, said: str, where: str, *, creates: bool
    ) -> errors.ChannelError:
        """A 5xx answer: after a creating call a :attr:`doubtful_statuses` one leaves the
        outcome unknown (the request may have been carried out), any other is unavailable."""
        if creates and status in self.doubtful_statuses:
            kind = "gateway error" if status in (502, 504) else "server error"
            doubt = self.doubt or f"the {self.thing} may have been created"
            return errors.OutcomeUnknownError(
                f"{where}: {kind} {status}; {doubt}",
                network_message=said,
            )
        return errors.UnavailableError(
            f"{where}: server error {status} ({said})", network_message=said
        )

    def rate_limited(
        self,
        response: requests.Response,
        said: str,
        *,
        who: str | None = None,
        what: str | None = None,
    ) -> errors.RateLimitedError:
        """A rate limit ("rate limited", "throttled", "flood control") until :meth:`retry_at`."""
        when = self.retry_at(response)
        return errors.RateLimitedError(
            f"{who or self.who}: {what or self.rate_limit_words} until "
            f"{when.isoformat(timespec='seconds')}",
            retry_at=when,
            network_message=said,
        )

    def retry_at(self, response: requests.Response) -> datetime:
        """When to try again after a rate limit (from :attr:`reset_headers`)."""
        return retry_at(response.headers, self.clock(), names=self.reset_headers)

    def error_text(self, response: requests.Response) -> str:
        """The network's own words: a :attr:`message_keys` entry of a JSON body, else the
        start of whatever came back."""
        body = json_or_none(response)
        if isinstance(body, dict):
            for key in self.message_keys:
                if isinstance(body.get(key), str) and body[key].strip():
                    return " ".join(str(body[key]).split())
        return body_start(response)

    # --- answers ------------------------------------------------------------------------------

    def metrics(
        self,
        values: Mapping[str, Any],
        *,
        read: Callable[[object], int | None] = count,
        **known: int | None,
    ) -> Metrics:
        """A post's :class:`Metrics` from an answer: the :attr:`figures` in ``values`` (each
        read with ``read``), and the figures in ``known`` as they are."""
        return read_metrics(values, self.figures, read=read, **known)

    def json_object(self, response: requests.Response, *, creates: bool = False) -> dict[str, Any]:
        """The answer's JSON object. An unreadable answer raises :class:`UnavailableError`, or
        :class:`OutcomeUnknownError` after a creating call (it succeeded, but which post it
        made cannot be told)."""
        value = json_or_none(response)
        if isinstance(value, dict):
            return value
        raise self._unreadable(response, "a JSON object", creates=creates)

    def json_list(self, response: requests.Response) -> list[dict[str, Any]]:
        """The answer's JSON array (its objects); unreadable: :class:`UnavailableError`."""
        value = json_or_none(response)
        if isinstance(value, list):
            return [item for item in value if isinstance(item, dict)]
        raise self._unreadable(response, "a JSON array", creates=False)

    @contextmanager
    def reading_created(self, *, hint: str) -> Iterator[None]:
        """Around the reading of a creating call's successful answer: one that lacks what is
        read from it (``KeyError``, ``TypeError``, ``ValueError``) leaves the outcome unknown,
        since the network created something but which one cannot be told; ``hint`` says how
        the post is found again."""
        try:
            yield
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.OutcomeUnknownError(
                f"{self.who}: the {self.thing} was created but the answer could not be read",
                hint=hint,
            ) from exc

    def _unreadable(
        self, response: requests.Response, wanted: str, *, creates: bool
    ) -> errors.ChannelError:
        where = self.call_name(response.request.path_url) if response.request else "?"
        message = f"{self.who}: the answer to {where} is not {wanted}"
        if creates:
            return errors.OutcomeUnknownError(
                f"{message}; the {self.thing} may have been created",
                hint="look the post up on the network before anything is retried",
            )
        return errors.UnavailableError(message)


def json_or_none(response: requests.Response) -> Any:
    """The answer's JSON value, or ``None`` when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


def body_start(response: requests.Response) -> str:
    """The start of an answer's text, for messages."""
    text = redact_path(" ".join(response.text.split())[:200])
    return text or response.reason or f"HTTP {response.status_code}"


def parse_time(value: object) -> datetime | None:
    """An API's ISO 8601 timestamp (Graph's ``2026-11-30T10:00:00+0000``, AT Protocol's
    ``createdAt``) as an aware UTC datetime; ``None`` when missing or unreadable (no zone: UTC)."""
    if not isinstance(value, str) or not value:
        return None
    import dateutil.parser  # at the first timestamp read, not with the module (idle daemon)

    try:
        moment = dateutil.parser.isoparse(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
