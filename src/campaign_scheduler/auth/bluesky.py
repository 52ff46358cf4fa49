"""Bluesky: the account's handle and an app password, verified by opening a session.

Never the account's main password: the flow says so before asking, and refuses a password whose
session has the scope ``com.atproto.access`` (what the PDS gives the account password; app
passwords get ``com.atproto.appPass``). A privileged app password (``appPassPrivileged``, which
may also read direct messages) is accepted with a note that it need not be privileged.

The stored record's access token is the app password (what the account's ``password`` secret
refers to); the channel opens and renews its own sessions with it. App passwords do not expire
until revoked in the Bluesky settings: ``refresh`` returns ``None``.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.errors import AuthError
from campaign_scheduler.uilang import msg

APP_PASSWORD_SCOPES = ("com.atproto.appPass", "com.atproto.appPassPrivileged")
MAIN_PASSWORD_SCOPE = "com.atproto.access"


def jwt_scope(token: str) -> str | None:
    """The ``scope`` claim of a JWT (not verified: only to tell which password opened it)."""
    try:
        payload = token.split(".")[1]
        data: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, UnicodeDecodeError):
        return None
    scope = data.get("scope") if isinstance(data, dict) else None
    return scope if isinstance(scope, str) else None


class BlueskyFlow:
    """``connect``: handle + app password, checked with ``createSession``; no refresh."""

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        ctx.say(
            msg(
                "Bluesky: use an app password (Settings → Privacy and security → App "
                "passwords), never the account's own password."
            )
        )
        identifier = str(ctx.settings.get("identifier") or "").strip() or ctx.answer(
            "identifier", msg("Handle (e.g. stadt-soest.bsky.social): ")
        )
        password = ctx.answer("password", msg("App password (xxxx-xxxx-xxxx-xxxx): "), secret=True)
        session = request_json(
            ctx,
            "POST",
            ctx.url("/xrpc/com.atproto.server.createSession"),
            network="bluesky",
            json={"identifier": identifier, "password": password},
        )
        scope = jwt_scope(str(session.get("accessJwt") or ""))
        if scope == MAIN_PASSWORD_SCOPE:
            raise AuthError(
                "bluesky: that is the account's own password, not an app password; "
                "it was not stored",
                hint="create an app password in the Bluesky settings (App passwords) and "
                "run `campaign accounts connect` again with it",
            )
        if scope is not None and scope not in APP_PASSWORD_SCOPES:
            raise AuthError(f"bluesky: the session has an unexpected scope {scope!r}")
        if scope == "com.atproto.appPassPrivileged":
            ctx.say(msg("Note: this app password is privileged (direct messages); it need not be."))
        handle = str(session.get("handle") or identifier)
        did = str(session.get("did") or "")
        ctx.say(msg("Connected as @{name}.", name=handle))
        extra = {"identifier": handle}
        if did:
            extra["did"] = did
        return TokenRecord(access_token=password, scope=scope, extra=extra)

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        return None  # app passwords do not expire; the channel renews its sessions itself
