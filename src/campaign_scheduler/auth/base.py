"""The interface of a network's connect flow, and how a channel names its flow.

``campaign accounts connect ACCOUNT`` runs the flow of the account's channel; the result is a
:class:`~campaign_scheduler.auth.tokens.TokenRecord` that the CLI stores in the token store.
``campaign accounts refresh`` and the daemon call the flow's ``refresh``.

A flow is any object with (see :class:`ConnectFlow`)::

    connect(ctx: ConnectContext) -> TokenRecord
    refresh(record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None   # None: cannot

A flow talks to the person only through the context: ``ctx.say`` (a line of output),
``ctx.ask(prompt, secret=False)`` (a line of input; ``secret=True`` does not echo it),
``ctx.open_url(url)`` (opens a browser on a desktop, returns whether it did; the flow has then
already printed the URL) and ``ctx.redirect_receiver()`` (a
:class:`~campaign_scheduler.auth.oauth.RedirectReceiver` on ``http://127.0.0.1:<port>/callback``
for the OAuth redirect). It sends HTTP only through ``ctx.session`` (tests mount a sandbox's
in-process transport there) and reads the time only through ``ctx.clock``. It raises
:class:`~campaign_scheduler.errors.AuthError` when the network refuses the credentials, and
:class:`~campaign_scheduler.errors.ChannelError` for other failures; never prints a token.

**Which flow a channel has.** The channel class is the one source of truth for a network's
facts, so it names its flow in a class attribute: ``connect_flow = "module:Class"`` (a string,
so that loading a channel does not import the auth machinery). :func:`flow_for` imports it and
instantiates the class without arguments. A third-party channel plugin does the same.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from campaign_scheduler.errors import NotFoundError
from campaign_scheduler.timeutil import utcnow
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    import requests

    from campaign_scheduler.auth.oauth import RedirectReceiver
    from campaign_scheduler.auth.tokens import TokenRecord


def _no_input(prompt: str, secret: bool = False) -> str:
    from campaign_scheduler.errors import UsageError

    raise UsageError(msg("{prompt} — cannot ask: no terminal to answer on", prompt=prompt.strip()))


def _no_browser(url: str) -> bool:
    return False


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _default_receiver() -> RedirectReceiver:
    from campaign_scheduler.auth.oauth import RedirectReceiver

    return RedirectReceiver()


@dataclass
class ConnectContext:
    """Everything a flow may use while connecting or refreshing one account."""

    #: The account's name in config.toml (``[accounts.NAME]``).
    account_name: str
    #: The channel's entry name ("mastodon").
    channel: str
    #: The API's base URL (the account's ``base_url`` or the channel's default).
    base_url: str
    #: The account's plain settings from config.toml (ids, handles; no secret values).
    settings: Mapping[str, Any]
    #: The HTTP session every request goes through.
    session: requests.Session
    clock: Callable[[], datetime] = utcnow
    ask: Callable[..., str] = _no_input  # ask(prompt, secret=False) -> str
    say: Callable[[str], None] = _print
    open_url: Callable[[str], bool] = _no_browser
    redirect_receiver: Callable[[], RedirectReceiver] = _default_receiver
    #: Values a flow may take instead of asking (``--client-id`` and the like, and tests).
    options: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")

    def answer(self, key: str, prompt: str, *, secret: bool = False) -> str:
        """``options[key]`` when given, else the person's answer to ``prompt`` (stripped;
        asked again while empty, at most three times)."""
        given = self.options.get(key)
        if given:
            return given
        for _ in range(3):
            value = self.ask(prompt, secret=secret).strip()
            if value:
                return value
        from campaign_scheduler.errors import UsageError

        raise UsageError(msg("no answer to: {prompt}", prompt=prompt.strip()))


@runtime_checkable
class ConnectFlow(Protocol):
    """A network's guided way to obtain and renew an account's token."""

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        """Obtain a token (asking the person, opening a browser); verify it with the network."""
        ...

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        """A renewed record, or ``None`` when this network's tokens cannot be renewed without a
        person (connect again). Raises AuthError when the network refuses the refresh."""
        ...


def flow_for(channel: str) -> ConnectFlow:
    """The connect flow of the installed channel ``channel``.

    Raises :class:`NotFoundError` when the channel is unknown or names no flow."""
    from campaign_scheduler.channels.registry import channel_class

    cls = channel_class(channel)
    target = getattr(cls, "connect_flow", None)
    if not target:
        raise NotFoundError(
            msg(
                "{network} accounts cannot be connected from the terminal yet",
                network=cls.title(),
            ),
            hint=msg(
                "obtain the token in the network's developer console and refer to it in "
                'config.toml ("env:NAME" or "file:PATH"); see docs/going-live.md'
            ),
        )
    module_name, _, attr = str(target).partition(":")
    module = importlib.import_module(module_name)
    flow = getattr(module, attr)()
    if not isinstance(flow, ConnectFlow):
        raise NotFoundError(
            msg("{target} is not a connect flow (needs connect and refresh)", target=target)
        )
    return flow


#: OAuth error codes (RFC 6749 §4.1.2.1, §5.2, RFC 6750 §3.1) that refuse what the flow sent:
#: the code, the client, the refresh token or the person's consent.
OAUTH_REFUSALS = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "invalid_token",
        "invalid_scope",
        "unauthorized_client",
        "access_denied",
    }
)


def request_json(
    ctx: ConnectContext,
    method: str,
    url: str,
    *,
    network: str,
    what: str = "the request",
    **kwargs: Any,
) -> dict[str, Any]:
    """One HTTP call of a flow through ``ctx.session``; the JSON object it answers.

    * 401/403, an OAuth refusal (:data:`OAUTH_REFUSALS`) and a Graph ``OAuthException``
      (Graph sends its token refusals as 400) raise
      :class:`~campaign_scheduler.errors.AuthError`;
    * other 3xx/4xx and an answer that is not a JSON object :class:`ChannelError`;
    * 5xx, a refused connection or a timeout :class:`UnavailableError` (try again later).

    The message carries the network's own words (``error_description``, Graph's
    ``error.message``, ``detail``, ``message``…), never a URL's query, which may hold a secret."""
    import requests

    from campaign_scheduler.errors import AuthError, ChannelError, UnavailableError

    kwargs.setdefault("timeout", ctx.timeout)
    try:
        response = ctx.session.request(method, url, **kwargs)
    except requests.RequestException as exc:
        raise UnavailableError(
            f"{network}: {what}: {urlsplit(url).netloc} cannot be reached ({type(exc).__name__})",
            hint="check the address and the network connection, then try again",
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    said = _said(body) or response.reason or f"HTTP {response.status_code}"
    status = response.status_code
    if status >= 500:
        raise UnavailableError(
            f"{network}: {what}: the server failed ({status} {said})", network_message=said
        )
    if status >= 300:
        if status in (401, 403) or _is_refusal(body):
            raise AuthError(
                f"{network}: {what} was refused: {said} ({status})", network_message=said
            )
        raise ChannelError(f"{network}: {what} failed: {said} ({status})", network_message=said)
    if not isinstance(body, dict):
        raise ChannelError(f"{network}: {what}: the answer is not a JSON object")
    return body


def _is_refusal(body: Any) -> bool:
    if not isinstance(body, Mapping):
        return False
    error = body.get("error")
    if isinstance(error, Mapping):  # Graph
        return error.get("type") == "OAuthException"
    return error in OAUTH_REFUSALS


def _said(body: Any) -> str:
    if not isinstance(body, Mapping):
        return ""
    error = body.get("error")
    if isinstance(error, Mapping):  # Graph
        return str(error.get("message") or "")
    for key in ("error_description", "detail", "message", "title", "description", "error"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""
