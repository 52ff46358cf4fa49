"""Logging in on the Graph sandboxes: Facebook Login (Facebook, Instagram) and Threads OAuth.

Facebook and Instagram (``style="facebook"``; channels.md §§5, 6 and Meta's "Access Tokens",
"Long-Lived Access Tokens", "Debug Token" and "Page access tokens" pages):

* ``GET /dialog/oauth?client_id&redirect_uri&state&scope`` consents at once as the sandbox's
  :attr:`OAuthServer.consent_as` user and redirects with ``code`` (``www.facebook.com`` serves it
  for real; here the API host does);
* ``GET /oauth/access_token?client_id&client_secret&redirect_uri&code`` → a short-lived user
  token (:data:`SHORT_LIVED`, about an hour): ``{"access_token", "token_type": "bearer",
  "expires_in"}``;
* ``GET /oauth/access_token?grant_type=fb_exchange_token&client_id&client_secret
  &fb_exchange_token`` → a long-lived user token (:data:`LONG_LIVED`, 60 days);
* with a user token: ``GET /me``, ``GET /me/accounts`` (the Pages the user manages, each with
  a Page token: one derived from a long-lived user token has no expiry, one from a short-lived
  token runs out with it), ``GET /{page-id}?fields=instagram_business_account,name``;
* ``GET /debug_token?input_token=…&access_token=<app id>|<app secret>`` (or any valid token) →
  ``{"data": {"app_id", "type", "is_valid", "issued_at", "expires_at" (0: never),
  "data_access_expires_at", "scopes", "user_id", "profile_id"}}``.

Threads (``style="threads"``; channels.md §9):

* ``GET /oauth/authorize`` (``threads.net`` for real) as above;
* ``POST /oauth/access_token`` (``grant_type=authorization_code``) → ``{"access_token",
  "user_id"}``, a short-lived token (an hour);
* ``GET /access_token?grant_type=th_exchange_token&client_secret&access_token`` → a long-lived
  token (60 days, ``expires_in``);
* ``GET /refresh_access_token?grant_type=th_refresh_token&access_token`` → a new 60-day token
  for a long-lived one at least a day old and not expired (the old one keeps working until it
  runs out).

An expired token is refused everywhere like the network does: code 190, subcode 463.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from campaign_scheduler.sandbox._oauth import IssuedToken, OAuthError, OAuthServer
from campaign_scheduler.sandbox._server import HttpRequest, HttpResponse, json_response

if TYPE_CHECKING:
    from campaign_scheduler.sandbox._graph import GraphSandbox

DAY = 86400.0
SHORT_LIVED = 3600.0
LONG_LIVED = 60 * DAY
DATA_ACCESS = 90 * DAY
THREADS_REFRESH_MIN_AGE = DAY


def expired_message(expires_at: float) -> str:
    when = datetime.fromtimestamp(expires_at, UTC).strftime("%A, %d-%b-%y %H:%M:%S UTC")
    return f"Error validating access token: Session has expired on {when}."


@dataclass
class PageGrant:
    """A Page a user manages; its Page token acts as ``acts_as`` on this sandbox."""

    page_id: str
    name: str
    acts_as: str
    instagram_id: str | None = None
    tasks: tuple[str, ...] = ("ADVERTISE", "ANALYZE", "CREATE_CONTENT", "MODERATE", "MANAGE")


@dataclass
class GraphUser:
    id: str
    name: str
    pages: list[PageGrant] = field(default_factory=list)


class GraphLogin:
    """The login side of one Graph sandbox (see the module doc)."""

    def __init__(self, sandbox: GraphSandbox, style: str) -> None:
        self.sandbox = sandbox
        self.style = style
        self.oauth = OAuthServer(
            lambda: sandbox.clock(), token_prefix="THAA" if style == "threads" else "EAA"
        )
        self.users: dict[str, GraphUser] = {}
        self._ids = 10_200_000_000_000_000

    # --- control ------------------------------------------------------------------------------

    def add_user(self, name: str) -> str:
        """A person who can log in; the authorize endpoint consents as the newest one."""
        with self.sandbox._lock:
            self._ids += 1
            user = GraphUser(str(self._ids), name)
            self.users[user.id] = user
        self.oauth.consent_as = user.id
        return user.id

    def grant_page(
        self,
        user_id: str,
        page_id: str,
        *,
        name: str,
        acts_as: str,
        instagram_id: str | None = None,
    ) -> None:
        with self.sandbox._lock:
            self.users[user_id].pages.append(PageGrant(page_id, name, acts_as, instagram_id))

    # --- routing ------------------------------------------------------------------------------

    def route(
        self, request: HttpRequest, parts: list[str], params: dict[str, str]
    ) -> HttpResponse | None:
        """The answer to a login request, or ``None`` when ``request`` is none of them."""
        routes: dict[tuple[str, str], Callable[[dict[str, str]], HttpResponse]] = {
            ("GET", "debug_token"): self._debug_token,
            **(
                {
                    ("GET", "dialog/oauth"): self.oauth.authorize,
                    ("GET", "oauth/access_token"): self._facebook_token,
                    ("POST", "oauth/access_token"): self._facebook_token,
                }
                if self.style == "facebook"
                else {
                    ("GET", "oauth/authorize"): self.oauth.authorize,
                    ("POST", "oauth/access_token"): self._threads_code,
                    ("GET", "access_token"): self._threads_exchange,
                    ("GET", "refresh_access_token"): self._threads_refresh,
                }
            ),
        }
        handler = routes.get((request.method, "/".join(parts)))
        if handler is None:
            return None
        try:
            return handler(params)
        except _Refused as exc:
            return exc.response
        except OAuthError as exc:
            return self._error(exc.description)

    def user_call(
        self, request: HttpRequest, parts: list[str], params: dict[str, Any], token: str
    ) -> HttpResponse | None:
        """The answer to an API call made with a Facebook user token, or ``None`` when ``token``
        is not one."""
        issued = self.oauth.lookup(token)
        if issued is None or issued.kind not in ("short", "long") or self.style != "facebook":
            return None
        refusal = self.refusal(token)
        if refusal is not None:
            return refusal
        user = self.users[issued.subject]
        fields = str(params.get("fields") or "")
        if request.method != "GET":
            return self.sandbox_error(200, "(#200) Permissions error")
        if parts == ["me"]:
            return json_response(200, {"id": user.id, "name": user.name})
        if parts == ["me", "accounts"] or parts == [user.id, "accounts"]:
            return json_response(200, {"data": [self._page_entry(issued, p) for p in user.pages]})
        if len(parts) == 1:
            page = next((p for p in user.pages if p.page_id == parts[0]), None)
            if page is None:
                return self.sandbox_error(100, f"(#100) Object with ID '{parts[0]}' not found")
            body: dict[str, Any] = {"id": page.page_id}
            wanted = {f.strip() for f in fields.split(",") if f.strip()} or {"name"}
            if "name" in wanted:
                body["name"] = page.name
            if "instagram_business_account" in wanted and page.instagram_id is not None:
                body["instagram_business_account"] = {"id": page.instagram_id}
            return json_response(200, body)
        return self.sandbox_error(
            100, "(#100) A user access token cannot do this: use a Page access token"
        )

    def refusal(self, token: str) -> HttpResponse | None:
        """Graph's answer to an expired or revoked issued token, or ``None``."""
        issued = self.oauth.lookup(token)
        if issued is None:
            return None
        if issued.revoked:
            return self.sandbox_error(
                190, "Error validating access token: The user has not authorized application.", 458
            )
        if issued.expired(self.sandbox.clock()):
            assert issued.expires_at is not None
            return self.sandbox_error(190, expired_message(issued.expires_at), 463)
        return None

    # --- Facebook -----------------------------------------------------------------------------

    def _facebook_token(self, params: dict[str, str]) -> HttpResponse:
        if params.get("grant_type") == "fb_exchange_token":
            app = self.oauth.check_client(params.get("client_id"), params.get("client_secret"))
            short = self._valid(params.get("fb_exchange_token"), app.client_id)
            issued = self.oauth.issue(
                short.subject, app.client_id, short.scopes, LONG_LIVED, kind="long"
            )
            self._remember_data_access(issued, short)
            return self._token_answer(issued)
        grant = self.oauth.redeem(params)
        issued = self.oauth.issue(grant.subject, grant.client_id, grant.scopes, SHORT_LIVED)
        issued.kind = "short"
        issued.extra["data_access_expires_at"] = str(int(self.sandbox.clock() + DATA_ACCESS))
        return self._token_answer(issued)

    def _page_entry(self, user_token: IssuedToken, page: PageGrant) -> dict[str, Any]:
        lifetime = None
        if user_token.kind == "short" and user_token.expires_at is not None:
            lifetime = user_token.expires_at - self.sandbox.clock()
        page_token = self.oauth.issue(
            user_token.subject,
            user_token.client_id,
            user_token.scopes,
            lifetime,
            kind="page",
            extra={
                "profile_id": page.page_id,
                "data_access_expires_at": user_token.extra.get("data_access_expires_at", "0"),
            },
        )
        self.sandbox.bind_token(page_token.token, page.acts_as)
        return {
            "id": page.page_id,
            "name": page.name,
            "access_token": page_token.token,
            "category": "Government organization",
            "tasks": list(page.tasks),
        }

    def _debug_token(self, params: dict[str, str]) -> HttpResponse:
        caller = params.get("access_token", "")
        app_id, _, secret = caller.partition("|")
        app = self.oauth.app(app_id)
        caller_ok = (app is not None and secrets.compare_digest(app.client_secret, secret)) or (
            self.oauth.lookup(caller) is not None and self.refusal(caller) is None
        )
        if not caller_ok:
            return self.sandbox_error(190, "Invalid OAuth access token - Cannot parse access token")
        issued = self.oauth.lookup(params.get("input_token", ""))
        if issued is None:
            return self.sandbox_error(100, "(#100) The parameter input_token is invalid")
        now = self.sandbox.clock()
        data: dict[str, Any] = {
            "app_id": issued.client_id,
            "type": "PAGE" if issued.kind == "page" else "USER",
            "application": "campaign-scheduler",
            "data_access_expires_at": int(issued.extra.get("data_access_expires_at", "0")),
            "expires_at": 0 if issued.expires_at is None else int(issued.expires_at),
            "is_valid": not issued.revoked and not issued.expired(now),
            "issued_at": int(issued.issued_at),
            "scopes": list(issued.scopes),
            "user_id": issued.subject,
        }
        if "profile_id" in issued.extra:
            data["profile_id"] = issued.extra["profile_id"]
        if issued.expired(now) and issued.expires_at is not None:
            data["error"] = {"code": 190, "message": expired_message(issued.expires_at)}
            data["error"]["subcode"] = 463
        return json_response(200, {"data": data})

    # --- Threads ------------------------------------------------------------------------------

    def _threads_code(self, params: dict[str, str]) -> HttpResponse:
        if params.get("grant_type", "authorization_code") != "authorization_code":
            raise OAuthError("invalid_request", "Unsupported grant_type")
        grant = self.oauth.redeem(params)
        issued = self.oauth.issue(grant.subject, grant.client_id, grant.scopes, SHORT_LIVED)
        issued.kind = "short"
        self.sandbox.bind_token(issued.token, grant.subject)
        return json_response(200, {"access_token": issued.token, "user_id": int(grant.subject)})

    def _threads_exchange(self, params: dict[str, str]) -> HttpResponse:
        short = self._threads_source(params, "th_exchange_token", "short", "exchanged")
        self.oauth.check_client(short.client_id, params.get("client_secret"))
        return self._threads_long_lived(short)

    def _threads_refresh(self, params: dict[str, str]) -> HttpResponse:
        old = self._threads_source(params, "th_refresh_token", "long", "refreshed")
        if self.sandbox.clock() - old.issued_at < THREADS_REFRESH_MIN_AGE:
            raise OAuthError("invalid_request", "The token is less than 24 hours old")
        return self._threads_long_lived(old)

    def _threads_source(
        self, params: dict[str, str], grant_type: str, kind: str, done: str
    ) -> IssuedToken:
        """The token a Threads exchange or refresh (``grant_type``) starts from, which must
        be a ``kind`` ("short", "long") one."""
        if params.get("grant_type") != grant_type:
            raise OAuthError("invalid_request", "Unsupported grant_type")
        source = self._valid(params.get("access_token"), None)
        if source.kind != kind:
            raise OAuthError("invalid_request", f"Only a {kind}-lived token can be {done}")
        return source

    def _threads_long_lived(self, source: IssuedToken) -> HttpResponse:
        """A new long-lived token in place of ``source``."""
        issued = self.oauth.issue(
            source.subject, source.client_id, source.scopes, LONG_LIVED, kind="long"
        )
        self.sandbox.bind_token(issued.token, source.subject)
        return self._token_answer(issued)

    # --- helpers ------------------------------------------------------------------------------

    def _valid(self, token: str | None, client_id: str | None) -> IssuedToken:
        issued = self.oauth.lookup(token or "")
        if issued is None or (client_id is not None and issued.client_id != client_id):
            raise OAuthError("invalid_token", "Invalid OAuth access token")
        refusal = self.refusal(issued.token)
        if refusal is not None:
            raise _Refused(refusal)
        return issued

    def _remember_data_access(self, issued: IssuedToken, source: IssuedToken) -> None:
        issued.extra["data_access_expires_at"] = source.extra.get("data_access_expires_at", "0")

    def _token_answer(self, issued: IssuedToken) -> HttpResponse:
        body: dict[str, Any] = {"access_token": issued.token, "token_type": "bearer"}
        expires_in = issued.expires_in(self.sandbox.clock())
        if expires_in is not None:
            body["expires_in"] = expires_in
        return json_response(200, body)

    def _error(self, message: str) -> HttpResponse:
        return self.sandbox_error(100, message)

    def sandbox_error(self, code: int, message: str, subcode: int | None = None) -> HttpResponse:
        from campaign_scheduler.sandbox._graph import graph_error

        status = self.sandbox.auth_status if code == 190 else 400
        return graph_error(status, code, message, subcode=subcode)


class _Refused(OAuthError):
    """A token endpoint refusing an expired or revoked token with the API's own answer."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__("invalid_token", "refused")
        self.response = response
