"""LinkedIn's connect flow: OAuth 2 authorization code (LinkedIn's "Authorization Code Flow",
"Refresh Tokens with OAuth 2.0" and "Organization Access Control by Role" pages).

1. The browser step at ``https://www.linkedin.com/oauth/v2/authorization`` with the scopes of
   the Community Management API (``w_organization_social r_organization_social
   rw_organization_admin``); the code is exchanged at ``/oauth/v2/accessToken`` for an access
   token (60 days) and, where LinkedIn gave the app programmatic refresh tokens, a refresh token
   (a year from the first sign-in, not renewed by refreshing).
2. ``GET /rest/organizationAcls?q=roleAssignee&state=APPROVED`` lists the organisations the
   person has a role on; one whose role may post (``ADMINISTRATOR``, ``CONTENT_ADMIN``) is
   chosen: the ``organization`` given as option or in config.toml, the only one, or the
   person's pick.
3. Both expiries are recorded. ``refresh`` uses the refresh token (with the app's client id and
   secret, kept with the token in the token store because the daemon refreshes without a
   person); without one it answers ``None``: sign in again before the 60 days are over.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from campaign_scheduler.auth._flowkit import (
    app_credentials,
    browser_code,
    choose,
    endpoint,
)
from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.oauth import (
    code_grant,
    refresh_token_grant,
    token_record,
)
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.channels.linkedin import DEFAULT_API_VERSION
from campaign_scheduler.errors import AuthError, ChannelError
from campaign_scheduler.uilang import msg

API = "https://api.linkedin.com"
AUTHORIZE = "https://www.linkedin.com/oauth/v2/authorization"
TOKEN = "https://www.linkedin.com/oauth/v2/accessToken"
SCOPES = ("w_organization_social", "r_organization_social", "rw_organization_admin")
POSTING_ROLES = ("ADMINISTRATOR", "CONTENT_ADMIN")
NETWORK = "linkedin"


class LinkedInFlow:
    """Connect a LinkedIn organisation page (see the module doc)."""

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        client_id, client_secret = app_credentials(ctx, "LinkedIn")
        authorize = endpoint(ctx, API, AUTHORIZE)

        code, redirect_uri = browser_code(
            ctx, authorize, client_id, network=NETWORK, scope=" ".join(SCOPES)
        )
        token, answer = code_grant(
            ctx,
            endpoint(ctx, API, TOKEN),
            network=NETWORK,
            code=code,
            redirect_uri=redirect_uri,
            client_id=client_id,
            params={"client_secret": client_secret},
        )
        organization, name = choose(
            ctx,
            self._organizations(ctx, token),
            key="organization",
            what=msg("organisation"),
            network=NETWORK,
        )
        extra = {"organization": organization, "organization_name": name, "client_id": client_id}
        if isinstance(answer.get("refresh_token"), str) and answer["refresh_token"]:
            extra["client_secret"] = client_secret  # the daemon refreshes without a person
            extra.update(_refresh_expiry(ctx, answer))
        record = token_record(ctx, token, answer, scope=" ".join(SCOPES), extra=extra)
        when = f"{record.expires_at:%Y-%m-%d}" if record.expires_at else "an unknown date"
        renewal = (
            msg("the tool refreshes it")
            if record.refresh_token
            else msg("connect again before then (the app has no refresh tokens)")
        )
        ctx.say(
            msg(
                "{network}: connected to {name}; the token lasts until {when}; {renewal}",
                network="linkedin",
                name=name,
                when=when,
                renewal=renewal,
            )
        )
        return record

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        if not record.refresh_token:
            return None
        client_id = record.extra.get("client_id", "")
        client_secret = record.extra.get("client_secret", "")
        if not client_id or not client_secret:
            raise AuthError(
                "linkedin: the stored token lacks the app's client id or secret",
                hint="run `campaign accounts connect` again",
            )
        return refresh_token_grant(
            ctx,
            endpoint(ctx, API, TOKEN),
            record,
            network=NETWORK,
            client_id=client_id,
            client_secret=client_secret,
            extra_from=lambda answer: _refresh_expiry(ctx, answer),
        )

    def _organizations(self, ctx: ConnectContext, token: str) -> list[tuple[str, str]]:
        version = str(ctx.settings.get("api_version") or DEFAULT_API_VERSION)
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        body = request_json(
            ctx,
            "GET",
            f"{ctx.base_url.rstrip('/')}/rest/organizationAcls",
            network=NETWORK,
            what="listing the organisations",
            params={"q": "roleAssignee", "state": "APPROVED"},
            headers=headers,
        )
        found: list[tuple[str, str]] = []
        for element in body.get("elements") or []:
            if not isinstance(element, dict) or element.get("role") not in POSTING_ROLES:
                continue
            urn = str(element.get("organization") or "")
            if urn and urn not in (f[0] for f in found):
                found.append((urn, self._name(ctx, headers, urn)))
        if not found:
            raise ChannelError(
                "linkedin: the signed-in person is no administrator or content admin of any "
                "organisation page",
                hint="ask a page admin to give you the role, then connect again",
            )
        return found

    def _name(self, ctx: ConnectContext, headers: dict[str, str], urn: str) -> str:
        number = urn.rsplit(":", 1)[-1]
        try:
            body = request_json(
                ctx,
                "GET",
                f"{ctx.base_url.rstrip('/')}/rest/organizations/{number}",
                network=NETWORK,
                what="reading the organisation",
                headers=headers,
            )
        except ChannelError:
            return urn
        return str(body.get("localizedName") or urn)


def _refresh_expiry(ctx: ConnectContext, answer: Mapping[str, Any]) -> dict[str, str]:
    """``refresh_expires_at`` when LinkedIn says how long the refresh token lives."""
    seconds = answer.get("refresh_token_expires_in")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        return {"refresh_expires_at": (ctx.clock() + timedelta(seconds=seconds)).isoformat()}
    return {}
