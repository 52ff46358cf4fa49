"""What the OAuth 2 connect flows of Facebook, Instagram, Threads, LinkedIn and X share.

* :func:`endpoint` — the network's sign-in address; on another ``base_url`` than the network's
  own (a sandbox, a rehearsal) the same path on that host, where the sandboxes serve it.
* :func:`choose` — pick one of several pages/organisations: the one preset with ``--option``
  or in config.toml, the only one, or the person's choice by number.
* :func:`app_credentials` — the developer app's client id (and secret).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from campaign_scheduler.errors import ChannelError, UsageError
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from campaign_scheduler.auth.base import ConnectContext


def endpoint(ctx: ConnectContext, default_base: str, production: str) -> str:
    """``production`` when the account talks to the network itself (``base_url`` is
    ``default_base``); else the same path on the account's ``base_url``."""
    base = ctx.base_url.rstrip("/")
    if base == default_base.rstrip("/"):
        return production
    return base + urlsplit(production).path


def text_field(body: Mapping[str, Any], key: str, network: str, what: str) -> str:
    value = body.get(key)
    if value is None or value == "" or isinstance(value, (dict, list, bool)):
        raise ChannelError(f"{network}: {what}: the answer has no {key}")
    return str(value)


def choose(
    ctx: ConnectContext,
    items: Sequence[tuple[str, str]],
    *,
    key: str,
    what: str,
    network: str,
) -> tuple[str, str]:
    """One ``(id, name)`` of ``items``: the id preset in ``ctx.options[key]`` or the account's
    setting ``key``, the only one, or the one the person picks by number."""
    if not items:
        raise ChannelError(
            msg("{network}: the signed-in person manages no {what}", network=network, what=what)
        )
    preset = ctx.options.get(key) or str(ctx.settings.get(key) or "")
    if preset:
        for item in items:
            if item[0] == preset or item[0].rsplit(":", 1)[-1] == preset:
                return item
        raise UsageError(
            msg(
                "{network}: {key} {preset} is not among those the signed-in person manages",
                network=network,
                key=key,
                preset=preset,
            ),
            hint=msg("sign in as someone who manages it, or leave it out to choose"),
        )
    if len(items) == 1:
        ctx.say(msg("{what}: {name} ({id})", what=what, name=items[0][1], id=items[0][0]))
        return items[0]
    for number, (item_id, name) in enumerate(items, 1):
        ctx.say(f"  {number}. {name} ({item_id})")
    for _ in range(3):
        answer = ctx.ask(msg("Which {what}? [1-{count}]: ", what=what, count=len(items))).strip()
        if answer.isdigit() and 1 <= int(answer) <= len(items):
            return items[int(answer) - 1]
    raise UsageError(msg("{network}: nothing chosen ({what})", network=network, what=what))


def app_credentials(ctx: ConnectContext, network: str, *, secret: bool = True) -> tuple[str, str]:
    """The developer app's ``(client_id, client_secret)``: from ``--option``, the account's
    ``client_id`` setting, or asked (the secret without echo)."""
    client_id = str(ctx.settings.get("client_id") or "") or ctx.answer(
        "client_id", msg("{network} app: client id: ", network=network)
    )
    client_secret = ""
    if secret:
        client_secret = ctx.answer(
            "client_secret", msg("{network} app: client secret: ", network=network), secret=True
        )
    return client_id, client_secret


#: The loopback port of the redirect for Meta, LinkedIn and X. These networks compare the
#: redirect address with the registered one exactly, port included (RFC 8252's "any port on
#: loopback" is not honoured there), so the app registers ``http://127.0.0.1:8421/callback``.
DEFAULT_REDIRECT_PORT = 8421
REDIRECT_PORT_ENV = "CAMPAIGN_REDIRECT_PORT"


def redirect_port(ctx: ConnectContext) -> int:
    """The redirect's port: ``--option redirect_port`` / ``ctx.options``, else the environment
    variable ``CAMPAIGN_REDIRECT_PORT``, else :data:`DEFAULT_REDIRECT_PORT` (0: any free one)."""
    import os

    text = ctx.options.get("redirect_port") or os.environ.get(REDIRECT_PORT_ENV) or ""
    if not text:
        return DEFAULT_REDIRECT_PORT
    if not text.isdigit() or int(text) > 65535:
        raise UsageError(msg("redirect port {text!r} is not a port number (0-65535)", text=text))
    return int(text)


def with_fixed_redirect(ctx: ConnectContext) -> ConnectContext:
    """``ctx`` whose redirect receiver listens on :func:`redirect_port` (a receiver that was
    given a port keeps it)."""
    from dataclasses import replace

    port = redirect_port(ctx)
    make = ctx.redirect_receiver

    def receiver() -> Any:
        made = make()
        if made.port == 0:
            made.port = port
        return made

    return replace(ctx, redirect_receiver=receiver)


def browser_code(
    ctx: ConnectContext, authorize: str, client_id: str, *, network: str, **query: str
) -> tuple[str, str]:
    """The browser step of the authorization-code flows of Meta, LinkedIn and X: ``(code,
    redirect_uri)`` for the sign-in address ``authorize`` with the network's ``query`` (scope,
    PKCE), the redirect on :func:`redirect_port`."""
    from urllib.parse import urlencode

    from campaign_scheduler.auth.oauth import authorization_code

    def authorize_url(redirect_uri: str, state: str) -> str:
        fields = {"response_type": "code", "client_id": client_id, **query}
        return f"{authorize}?{urlencode({**fields, 'redirect_uri': redirect_uri, 'state': state})}"

    return authorization_code(with_fixed_redirect(ctx), authorize_url, network=network)
