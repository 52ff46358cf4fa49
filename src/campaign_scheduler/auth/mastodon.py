"""Mastodon: register an app on the instance, then OAuth authorization code with PKCE.

1. ``POST /api/v1/apps`` registers "campaign-scheduler" on the account's instance with the
   loopback redirect URI of this run and the scopes :data:`SCOPES` (each connect registers
   its own app: the redirect port differs per run, and an app costs the instance nothing).
2. The person allows access in the browser (``/oauth/authorize``, PKCE ``S256``); the code comes
   back to the loopback receiver, or is pasted on a headless server.
3. ``POST /oauth/token`` exchanges it; ``GET /api/v1/accounts/verify_credentials`` confirms the
   token and names the account.

Mastodon's user tokens do not expire and have no refresh token: ``refresh`` returns ``None``.
Servers that speak Mastodon's API but issue expiring tokens with a refresh token (Pleroma,
Akkoma) get the expiry recorded and the app's client id and secret kept in the record's
``extra``; ``refresh`` then uses the ``refresh_token`` grant.
"""

from __future__ import annotations

from urllib.parse import urlencode

from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.oauth import (
    authorization_code,
    code_grant,
    pkce_pair,
    refresh_token_grant,
    token_record,
)
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.errors import AuthError
from campaign_scheduler.uilang import msg

SCOPES = "write:statuses write:media read:statuses read:accounts"
APP_NAME = "campaign-scheduler"
APP_WEBSITE = "https://github.com/campaign-scheduler/campaign-scheduler"


class MastodonFlow:
    """``connect``: app registration + authorization code with PKCE; no refresh."""

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        verifier, challenge = pkce_pair()
        app: dict[str, str] = {}

        def authorize_url(redirect_uri: str, state: str) -> str:
            answer = request_json(
                ctx,
                "POST",
                ctx.url("/api/v1/apps"),
                network="mastodon",
                data={
                    "client_name": APP_NAME,
                    "redirect_uris": redirect_uri,
                    "scopes": SCOPES,
                    "website": APP_WEBSITE,
                },
            )
            app["client_id"] = str(answer.get("client_id") or "")
            app["client_secret"] = str(answer.get("client_secret") or "")
            if not app["client_id"]:
                raise AuthError(f"mastodon: {ctx.base_url} did not register the app")
            query = {
                "response_type": "code",
                "client_id": app["client_id"],
                "redirect_uri": redirect_uri,
                "scope": SCOPES,
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
            return ctx.url("/oauth/authorize") + "?" + urlencode(query)

        ctx.say(
            msg(
                "Connecting {account} on {url} (Mastodon).",
                account=ctx.account_name,
                url=ctx.base_url,
            )
        )
        code, redirect_uri = authorization_code(ctx, authorize_url, network="mastodon")
        access, token = code_grant(
            ctx,
            ctx.url("/oauth/token"),
            network="mastodon",
            code=code,
            redirect_uri=redirect_uri,
            client_id=app["client_id"],
            params={
                "client_secret": app["client_secret"],
                "code_verifier": verifier,
                "scope": SCOPES,
            },
        )
        me = request_json(
            ctx,
            "GET",
            ctx.url("/api/v1/accounts/verify_credentials"),
            network="mastodon",
            headers={"Authorization": f"Bearer {access}"},
        )
        username = str(me.get("acct") or me.get("username") or "")
        ctx.say(msg("Connected as @{name}.", name=username))
        extra = {"username": username} if username else {}
        refresh = token.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            extra.update(client_id=app["client_id"], client_secret=app["client_secret"])
        return token_record(ctx, access, token, scope=SCOPES, extra=extra)

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        client_id = record.extra.get("client_id")
        if not record.refresh_token or not client_id:
            return None  # Mastodon's own tokens do not expire
        return refresh_token_grant(
            ctx,
            ctx.url("/oauth/token"),
            record,
            network="mastodon",
            client_id=client_id,
            client_secret=record.extra.get("client_secret"),
        )
