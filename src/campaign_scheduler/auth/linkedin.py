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

from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from campaign_scheduler.auth._flowkit import (
    app_credentials,
    choose,
    endpoint,
    text_field,
    with_fixed_redirect,
)
from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.oauth import authorization_code, expiry_from
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.channels.linkedin import DEFAULT_API_VERSION
from campaign_scheduler.errors import AuthError, ChannelError

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

        def authorize_url(redirect_uri: str, state: str) -> str:
            query = {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": " ".join(SCOPES),
            }
            return f"{authorize}?{urlencode(query)}"

        code, redirect_uri = authorization_code(
            with_fixed_redirect(ctx), authorize_url, network=NETWORK
        )
        answer = request_json(
            ctx,
            "POST",
            endpoint(ctx, API, TOKEN),
            network=NETWORK,
            what="exchanging the code",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        token = text_field(answer, "access_token", NETWORK, "code exchange")
        organization, name = choose(
            ctx,
            self._organizations(ctx, token),
            key="organization",
            what="organisation",
            network=NETWORK,
        )
        extra = {"organization": organization, "organization_name": name, "client_id": client_id}
        refresh_token = answer.get("refresh_token")
        if isinstance(refresh_token, str) and refresh_token:
            extra["client_secret"] = client_secret  # the daemon refreshes without a person
            self._note_refresh_expiry(ctx, answer, extra)
        record = TokenRecord(
            access_token=token,
            refresh_token=refresh_token if isinstance(refresh_token, str) else None,
            expires_at=expiry_from(answer, ctx.clock()),
            scope=str(answer.get("scope") or " ".join(SCOPES)),
            extra=extra,
        )
        when = f"{record.expires_at:%Y-%m-%d}" if record.expires_at else "an unknown date"
        renewal = (
            "the tool refreshes it"
            if record.refresh_token
            else "connect again before then (the app has no refresh tokens)"
        )
        ctx.say(f"linkedin: connected to {name}; the token lasts until {when}; {renewal}")
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
        answer = request_json(
            ctx,
            "POST",
            endpoint(ctx, API, TOKEN),
            network=NETWORK,
            what="refreshing the token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": record.refresh_token,
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        new_refresh = answer.get("refresh_token")
        refreshed = record.with_access(
            text_field(answer, "access_token", NETWORK, "refresh"),
            expires_at=expiry_from(answer, ctx.clock()),
            refresh_token=new_refresh if isinstance(new_refresh, str) and new_refresh else None,
        )
        extra = dict(refreshed.extra)
        self._note_refresh_expiry(ctx, answer, extra)
        return replace(refreshed, extra=extra)

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

    @staticmethod
    def _note_refresh_expiry(
        ctx: ConnectContext, answer: dict[str, Any], extra: dict[str, str]
    ) -> None:
        seconds = answer.get("refresh_token_expires_in")
        if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
            extra["refresh_expires_at"] = (ctx.clock() + timedelta(seconds=seconds)).isoformat()
