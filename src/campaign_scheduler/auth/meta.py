"""Connect flows of Meta's networks: Facebook Pages, Instagram and Threads.

Facebook and Instagram (Facebook Login, Meta's "Access Tokens" and "Long-Lived Access Tokens"
pages; channels.md §§5, 6):

1. The browser step at ``https://www.facebook.com/<version>/dialog/oauth`` with the Page
   permissions; the code is exchanged at ``/oauth/access_token`` for a short-lived user token
   (about an hour), which ``grant_type=fb_exchange_token`` turns into a long-lived one (60 days).
2. ``/me/accounts`` lists the Pages the person manages, each with a Page token. A Page token
   derived from a long-lived user token does not expire, so that is what is stored; the Page is
   the one named by ``page_id`` (option or config), the only one, or the person's choice.
3. Instagram: ``/{page-id}?fields=instagram_business_account`` gives the Instagram
   professional account linked to the Page (the account's ``user_id``).
4. ``/debug_token`` (with the app token ``<app id>|<app secret>``) tells the token's real
   expiry (``expires_at`` 0: never) and when its data access ends (``data_access_expires_at``,
   90 days; then the person must sign in again). Both are recorded.

Nothing is refreshed: a non-expiring Page token has nothing to renew, and renewing data access
needs the person (``refresh`` answers ``None``: connect again).

Threads (Meta's Threads "Get Started" and "Long-Lived Tokens"; channels.md §9): the browser step
at ``https://threads.net/oauth/authorize``, the code exchanged at ``POST
/oauth/access_token`` (short-lived, an hour, with the ``user_id``), at once exchanged for a
long-lived token (``th_exchange_token``, 60 days). ``refresh`` renews a long-lived token
(``th_refresh_token``; at least a day old and not expired) for another 60 days.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from campaign_scheduler.auth._flowkit import (
    app_credentials,
    browser_code,
    choose,
    endpoint,
    text_field,
)
from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.auth.oauth import code_grant, expiry_from
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.channels._graph import DEFAULT_GRAPH_VERSION
from campaign_scheduler.errors import ChannelError
from campaign_scheduler.uilang import msg

GRAPH = "https://graph.facebook.com"
THREADS_GRAPH = "https://graph.threads.net"
FACEBOOK_SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "pages_manage_posts",
    "read_insights",
)
INSTAGRAM_SCOPES = (
    "pages_show_list",
    "pages_read_engagement",
    "business_management",
    "instagram_basic",
    "instagram_content_publish",
    "instagram_manage_insights",
)
THREADS_SCOPES = (
    "threads_basic",
    "threads_content_publish",
    "threads_manage_insights",
    "threads_read_replies",
)


def _timestamp(value: Any) -> datetime | None:
    """A Graph Unix time; 0 or missing: ``None`` (never / not said)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    return datetime.fromtimestamp(value, UTC)


def _long_lived(
    ctx: ConnectContext, url: str, network: str, grant: str, **fields: str
) -> dict[str, Any]:
    """A short-lived token exchanged for a long-lived one (60 days) with Meta's ``grant``."""
    return request_json(
        ctx,
        "GET",
        url,
        network=network,
        what="getting a long-lived token",
        params={"grant_type": grant, **fields},
    )


class FacebookPageFlow:
    """Facebook Page: a non-expiring Page token through Facebook Login (see the module doc)."""

    network = "facebook"
    scopes: tuple[str, ...] = FACEBOOK_SCOPES

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        version = str(ctx.settings.get("api_version") or DEFAULT_GRAPH_VERSION)
        api = f"{ctx.base_url.rstrip('/') or GRAPH}/{version}"
        client_id, client_secret = app_credentials(ctx, "Meta")
        dialog = endpoint(ctx, GRAPH, f"https://www.facebook.com/{version}/dialog/oauth")

        code, redirect_uri = browser_code(
            ctx, dialog, client_id, network=self.network, scope=",".join(self.scopes)
        )
        short = request_json(
            ctx,
            "GET",
            f"{api}/oauth/access_token",
            network=self.network,
            what="exchanging the code",
            params={
                "client_id": client_id,
                "client_secret": client_secret,
                "redirect_uri": redirect_uri,
                "code": code,
            },
        )
        long = _long_lived(
            ctx,
            f"{api}/oauth/access_token",
            self.network,
            "fb_exchange_token",
            client_id=client_id,
            client_secret=client_secret,
            fb_exchange_token=text_field(short, "access_token", self.network, "code"),
        )
        user_token = text_field(long, "access_token", self.network, "token exchange")
        pages = self._pages(ctx, api, user_token)
        page_id, page_name = choose(
            ctx,
            [(pid, name) for pid, (name, _) in pages.items()],
            key="page_id",
            what=msg("Page"),
            network=self.network,
        )
        page_token = pages[page_id][1]
        extra = {"page_id": page_id, "page_name": page_name, "client_id": client_id}
        extra.update(self._linked_ids(ctx, api, user_token, page_id))
        debug = request_json(
            ctx,
            "GET",
            f"{api}/debug_token",
            network=self.network,
            what="reading the token's expiry",
            params={"input_token": page_token, "access_token": f"{client_id}|{client_secret}"},
        ).get("data", {})
        if not isinstance(debug, dict) or debug.get("is_valid") is False:
            raise ChannelError(f"{self.network}: Meta says the new Page token is not valid")
        data_access = _timestamp(debug.get("data_access_expires_at"))
        if data_access is not None:
            extra["data_access_expires_at"] = data_access.isoformat()
        ctx.say(self._summary(page_name, _timestamp(debug.get("expires_at")), data_access))
        return TokenRecord(
            access_token=page_token,
            expires_at=_timestamp(debug.get("expires_at")),
            scope=",".join(str(s) for s in debug.get("scopes") or self.scopes),
            extra=extra,
        )

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        return None  # a Page token from a long-lived user token does not expire

    def _pages(self, ctx: ConnectContext, api: str, user_token: str) -> dict[str, tuple[str, str]]:
        """Page id -> (name, Page token), over every page of ``/me/accounts``."""
        pages: dict[str, tuple[str, str]] = {}
        url: str | None = f"{api}/me/accounts"
        params: dict[str, str] | None = {
            "fields": "id,name,access_token,tasks",
            "access_token": user_token,
        }
        for _ in range(20):
            if url is None:
                break
            body = request_json(
                ctx, "GET", url, network=self.network, what="listing the Pages", params=params
            )
            for entry in body.get("data") or []:
                if isinstance(entry, dict) and entry.get("id") and entry.get("access_token"):
                    name = str(entry.get("name") or entry["id"])
                    pages[str(entry["id"])] = (name, str(entry["access_token"]))
            following = (body.get("paging") or {}).get("next")
            url, params = (str(following), None) if following else (None, None)
        return pages

    def _linked_ids(
        self, ctx: ConnectContext, api: str, user_token: str, page_id: str
    ) -> dict[str, str]:
        return {}

    def _summary(
        self, page_name: str, expires: datetime | None, data_access: datetime | None
    ) -> str:
        lasts = (
            msg("does not expire")
            if expires is None
            else msg("expires {when}", when=format(expires, "%Y-%m-%d"))
        )
        if data_access is None:
            return msg(
                "{network}: connected to {page}; the Page token {lasts}",
                network=self.network,
                page=page_name,
                lasts=lasts,
            )
        return msg(
            "{network}: connected to {page}; the Page token {lasts}; sign in again before "
            "{when} (data access)",
            network=self.network,
            page=page_name,
            lasts=lasts,
            when=format(data_access, "%Y-%m-%d"),
        )


class InstagramFlow(FacebookPageFlow):
    """Instagram: the Page token of the Page the Instagram professional account is linked to,
    and that account's id (``user_id``)."""

    network = "instagram"
    scopes = INSTAGRAM_SCOPES

    def _linked_ids(
        self, ctx: ConnectContext, api: str, user_token: str, page_id: str
    ) -> dict[str, str]:
        node = request_json(
            ctx,
            "GET",
            f"{api}/{page_id}",
            network=self.network,
            what="finding the Instagram account",
            params={"fields": "instagram_business_account", "access_token": user_token},
        )
        linked = node.get("instagram_business_account")
        if not isinstance(linked, dict) or not linked.get("id"):
            raise ChannelError(
                f"{self.network}: the Page {page_id} has no Instagram professional account",
                hint="link the Instagram account to the Facebook Page (Instagram: Settings → "
                "Account type and tools), then connect again",
            )
        return {"user_id": str(linked["id"])}


class ThreadsFlow:
    """Threads: a long-lived token, refreshed before it runs out (see the module doc)."""

    network = "threads"

    def connect(self, ctx: ConnectContext) -> TokenRecord:
        api = ctx.base_url.rstrip("/") or THREADS_GRAPH
        client_id, client_secret = app_credentials(ctx, "Threads")
        authorize = endpoint(ctx, THREADS_GRAPH, "https://threads.net/oauth/authorize")

        code, redirect_uri = browser_code(
            ctx, authorize, client_id, network=self.network, scope=",".join(THREADS_SCOPES)
        )
        short_token, short = code_grant(
            ctx,
            f"{api}/oauth/access_token",
            network=self.network,
            code=code,
            redirect_uri=redirect_uri,
            client_id=client_id,
            params={"client_secret": client_secret},
        )
        user_id = text_field(short, "user_id", self.network, "code exchange")
        long = _long_lived(
            ctx,
            f"{api}/access_token",
            self.network,
            "th_exchange_token",
            client_secret=client_secret,
            access_token=short_token,
        )
        expires_at = expiry_from(long, ctx.clock())
        when = format(expires_at, "%Y-%m-%d") if expires_at else msg("an unknown date")
        ctx.say(
            msg(
                "threads: connected to user {user}; the token lasts until {when}",
                user=user_id,
                when=when,
            )
        )
        return TokenRecord(
            access_token=text_field(long, "access_token", self.network, "token exchange"),
            expires_at=expires_at,
            scope=",".join(THREADS_SCOPES),
            extra={"user_id": user_id, "client_id": client_id},
        )

    def refresh(self, record: TokenRecord, ctx: ConnectContext) -> TokenRecord | None:
        api = ctx.base_url.rstrip("/") or THREADS_GRAPH
        body = request_json(
            ctx,
            "GET",
            f"{api}/refresh_access_token",
            network=self.network,
            what="refreshing the token",
            params={"grant_type": "th_refresh_token", "access_token": record.access_token},
        )
        return record.with_access(
            text_field(body, "access_token", self.network, "refresh"),
            expires_at=expiry_from(body, ctx.clock()),
        )
