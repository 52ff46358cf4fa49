"""X's connect flow: OAuth 2.0 authorization code with PKCE (X's "OAuth 2.0 Authorization Code
Flow with PKCE" page; channels.md §4).

1. The browser step at ``https://x.com/i/oauth2/authorize`` with an S256 challenge and the
   scopes ``tweet.read tweet.write users.read media.write offline.access`` (``tweet.read`` lets
   the adapter find a post after a lost answer; ``offline.access`` brings a refresh token).
2. The code is exchanged at ``POST https://api.x.com/2/oauth2/token`` with the ``code_verifier``.
   A "Native App" (public client) sends its ``client_id`` only; a "Web App" (confidential
   client; give ``--option client_secret=…``) authenticates with HTTP Basic.
3. ``GET /2/users/me`` verifies the token and names the account.

Access tokens live two hours, so ``refresh`` matters: it exchanges the refresh token for a new
pair — X rotates refresh tokens, each works once, and the store writes the new one back
atomically. Accounts with the four OAuth 1.0a keys in config.toml keep working unchanged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from campaign_scheduler.auth._flowkit import browser_code, endpoint
from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.oauth import (
    code_grant,
    pkce_pair,
    refresh_token_grant,
    token_record,
)
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.errors import AuthError
from campaign_scheduler.uilang import msg

API = "https://api.x.com"
AUTHORIZE = "https://x.com/i/oauth2/authorize"
SCOPES = ("tweet.read", "tweet.write", "users.read", "media.write", "offline.access")
NETWORK = "x"


def _client_auth(client_id: str, client_secret: str) -> dict[str, Any]:
    """How the client authenticates at the token endpoint (see the module doc)."""
    if client_secret:
        return {"auth": (client_id, client_secret)}
    return {}


class XFlow:
    """Connect an X account with OAuth 2.0 (see the module doc)."""

    #: X's access tokens live two hours: renewed in their last hour (the daemon's token job
    #: then runs every half hour, see :func:`campaign_scheduler.auth.accounts.refresh_interval`).
    refresh_ahead: ClassVar[timedelta] = timedelta(hours=1)

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        client_id = str(ctx.settings.get("client_id") or "") or ctx.answer(
            "client_id", msg("X app: OAuth 2.0 client id: ")
        )
        if "client_secret" in ctx.options:
            client_secret = ctx.options["client_secret"]
        else:
            client_secret = ctx.ask(
                msg("X app: client secret — only for a Web App; leave empty for a Native App: "),
                secret=True,
            ).strip()
        verifier, challenge = pkce_pair()
        authorize = endpoint(ctx, API, AUTHORIZE)

        code, redirect_uri = browser_code(
            ctx,
            authorize,
            client_id,
            network=NETWORK,
            scope=" ".join(SCOPES),
            code_challenge=challenge,
            code_challenge_method="S256",
        )
        token, answer = code_grant(
            ctx,
            f"{ctx.base_url.rstrip('/')}/2/oauth2/token",
            network=NETWORK,
            code=code,
            redirect_uri=redirect_uri,
            client_id=client_id,
            params={"code_verifier": verifier},
            **_client_auth(client_id, client_secret),
        )
        me = request_json(
            ctx,
            "GET",
            f"{ctx.base_url.rstrip('/')}/2/users/me",
            network=NETWORK,
            what="reading the account",
            headers={"Authorization": f"Bearer {token}"},
        ).get("data")
        if not isinstance(me, dict) or not me.get("id"):
            raise AuthError("x: the new token does not name its account (GET /2/users/me)")
        extra = {
            "user_id": str(me["id"]),
            "username": str(me.get("username") or ""),
            "client_id": client_id,
        }
        if client_secret:
            extra["client_secret"] = client_secret  # the daemon refreshes without a person
        record = token_record(ctx, token, answer, scope=" ".join(SCOPES), extra=extra)
        ctx.say(
            msg(
                "x: connected to @{name}; the token lives two hours and the tool refreshes it",
                name=extra["username"],
            )
            if record.refresh_token
            else msg("x: connected to @{name} without a refresh token", name=extra["username"])
        )
        return record

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        if not record.refresh_token:
            return None
        client_id = record.extra.get("client_id", "")
        if not client_id:
            raise AuthError(
                "x: the stored token lacks the app's client id",
                hint="run `campaign accounts connect` again",
            )
        return refresh_token_grant(
            ctx,
            f"{ctx.base_url.rstrip('/')}/2/oauth2/token",
            record,
            network=NETWORK,
            client_id=client_id,
            **_client_auth(client_id, record.extra.get("client_secret", "")),
        )
