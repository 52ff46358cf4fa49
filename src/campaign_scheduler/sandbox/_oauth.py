"""The OAuth 2 authorization server the sandboxes share (RFC 6749, RFC 7636).

A sandbox that speaks OAuth keeps one :class:`OAuthServer`: the developer apps it knows, the
authorization codes it handed out, and the tokens it issued with their lifetimes on the
sandbox's clock. The network's own sandbox decides the paths, the error envelope, who consents
(tests never see a consent screen: the authorize endpoint consents at once, as the sandbox's
:attr:`OAuthServer.consent_as` subject) and what a token may do.

What is checked, as the networks do: the ``client_id`` is known and the ``redirect_uri`` is one
the app registered (a loopback URI matches with any port, RFC 8252 §7.3) — otherwise the
authorize endpoint answers an error page and does not redirect; codes live
:attr:`OAuthServer.code_lifetime` seconds, are single-use and bound to the client and the
redirect URI; with PKCE the ``code_verifier`` must hash to the ``code_challenge`` (``S256``; a
``plain`` challenge is refused where :attr:`OAuthServer.plain_pkce` is off); refresh tokens can
rotate (the old one then stops working).

A network whose token endpoint is plain RFC 6749 (Mastodon) lets :meth:`OAuthServer.token`
answer it: ``authorization_code`` and ``refresh_token`` grants, tokens that live
:attr:`OAuthServer.lifetime` seconds (``None``: for ever), refresh tokens when
:attr:`OAuthServer.refreshable`, and the network's ``mint`` hook binding each new token to the
subject's account. :attr:`OAuthServer.deny_next` makes the next consents ``access_denied``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from campaign_scheduler.sandbox._server import HttpResponse

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


class OAuthError(Exception):
    """A refusal of the token endpoint: RFC 6749 §5.2 ``error`` and its description."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class OAuthApp:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    #: Whether the app's token endpoint hands out refresh tokens (LinkedIn: only some apps).
    refresh_tokens: bool = True
    #: The scopes the app may ask for (``None``: any).
    scopes: frozenset[str] | None = None
    name: str = ""


@dataclass
class Grant:
    """An authorization code and what it was issued for."""

    code: str
    client_id: str
    redirect_uri: str
    subject: str
    scopes: tuple[str, ...]
    challenge: str | None
    challenge_method: str | None
    expires_at: float
    used: bool = False


@dataclass
class IssuedToken:
    """An access token the sandbox issued; ``expires_at`` ``None``: it does not expire."""

    token: str
    subject: str
    client_id: str
    scopes: tuple[str, ...]
    issued_at: float
    expires_at: float | None
    kind: str = "user"
    refresh_token: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    revoked: bool = False

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def expires_in(self, now: float) -> int | None:
        return None if self.expires_at is None else max(0, int(self.expires_at - now))


@dataclass
class RefreshToken:
    token: str
    subject: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float | None
    used: bool = False


def s256(verifier: str) -> str:
    """The PKCE ``S256`` challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def redirect(uri: str, params: Mapping[str, str]) -> HttpResponse:
    """A 302 to ``uri`` with ``params`` added to its query."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    location = urlunsplit(parts._replace(query=urlencode(query)))
    return HttpResponse(302, b"", [("Location", location), ("Content-Length", "0")])


def error_page(status: int, message: str) -> HttpResponse:
    """What the browser shows when the authorize request cannot be sent back to the client."""
    body = f"<!doctype html><title>Error</title><p>{message}</p>".encode()
    return HttpResponse(status, body, [("Content-Type", "text/html; charset=utf-8")])


def _same_redirect(registered: str, given: str) -> bool:
    if registered == given:
        return True
    want, got = urlsplit(registered), urlsplit(given)
    if want.hostname in LOOPBACK_HOSTS and got.hostname == want.hostname:
        # RFC 8252 §7.3: a native app's loopback redirect may use any port.
        return (want.scheme, want.path) == (got.scheme, got.path)
    return False


class OAuthServer:
    """Apps, codes and tokens of one sandbox; thread-safe; times come from ``clock``."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        token_prefix: str = "",
        code_lifetime: float = 600.0,
        plain_pkce: bool = False,
        mint: Callable[[str], str] | None = None,
    ) -> None:
        self.clock = clock
        #: ``subject -> access token`` bound to the subject's account (for :meth:`token`).
        self.mint = mint
        #: Seconds a token from :meth:`token` lives (``None``: it does not expire).
        self.lifetime: float | None = None
        #: Whether :meth:`token` hands out refresh tokens.
        self.refreshable = False
        #: How many of the next consents are refused (``access_denied``).
        self.deny_next = 0
        self.token_prefix = token_prefix
        self.code_lifetime = code_lifetime
        self.plain_pkce = plain_pkce
        #: Who consents at the authorize endpoint (set by the sandbox or a test).
        self.consent_as: str | None = None
        self._lock = threading.Lock()
        self._apps: dict[str, OAuthApp] = {}
        self._grants: dict[str, Grant] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._refresh: dict[str, RefreshToken] = {}

    # --- apps ---------------------------------------------------------------------------------

    def add_app(
        self,
        redirect_uris: Iterable[str] = ("http://127.0.0.1/callback",),
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        refresh_tokens: bool = True,
        scopes: frozenset[str] | None = None,
        name: str = "",
    ) -> OAuthApp:
        app = OAuthApp(
            client_id or secrets.token_hex(8),
            client_secret or secrets.token_urlsafe(24),
            tuple(redirect_uris),
            refresh_tokens,
            scopes,
            name,
        )
        with self._lock:
            self._apps[app.client_id] = app
        return app

    def app(self, client_id: str | None) -> OAuthApp | None:
        with self._lock:
            return self._apps.get(client_id or "")

    def check_client(self, client_id: str | None, client_secret: str | None) -> OAuthApp:
        """The app, if ``client_secret`` is its secret; else ``invalid_client``."""
        app = self.app(client_id)
        if app is None or not secrets.compare_digest(app.client_secret, client_secret or ""):
            raise OAuthError("invalid_client", "Client authentication failed", 401)
        return app

    # --- the authorize endpoint ---------------------------------------------------------------

    def authorize(
        self,
        query: Mapping[str, str],
        *,
        require_pkce: bool = False,
        subject: str | None = None,
    ) -> HttpResponse:
        """Consent at once as ``subject`` (default :attr:`consent_as`) and redirect with a code."""
        app = self.app(query.get("client_id"))
        if app is None:
            return error_page(400, "Invalid client_id")
        redirect_uri = query.get("redirect_uri", "")
        if not any(_same_redirect(r, redirect_uri) for r in app.redirect_uris):
            return error_page(400, "The redirect_uri does not match the registered one")
        state = {"state": query["state"]} if "state" in query else {}
        if query.get("response_type", "code") != "code":
            return redirect(redirect_uri, {"error": "unsupported_response_type", **state})
        challenge = query.get("code_challenge")
        method = query.get("code_challenge_method", "plain" if challenge else None)
        if require_pkce and not challenge:
            return redirect(
                redirect_uri,
                {"error": "invalid_request", "error_description": "code_challenge missing"} | state,
            )
        if method not in (None, "S256") and not (method == "plain" and self.plain_pkce):
            return redirect(
                redirect_uri,
                {"error": "invalid_request", "error_description": "unsupported challenge method"}
                | state,
            )
        scopes = tuple(s for s in query.get("scope", "").replace(",", " ").split() if s)
        if app.scopes is not None and not set(scopes) <= app.scopes:
            return redirect(redirect_uri, {"error": "invalid_scope", **state})
        who = subject or self.consent_as
        with self._lock:
            denied = self.deny_next > 0
            self.deny_next -= denied
        if denied:
            said_no = {"error": "access_denied", "error_description": "the user said no"}
            return redirect(redirect_uri, said_no | state)
        if who is None:
            return redirect(redirect_uri, {"error": "access_denied", **state})
        grant = Grant(
            code=secrets.token_urlsafe(24),
            client_id=app.client_id,
            redirect_uri=redirect_uri,
            subject=who,
            scopes=scopes,
            challenge=challenge,
            challenge_method=method,
            expires_at=self.clock() + self.code_lifetime,
        )
        with self._lock:
            self._grants[grant.code] = grant
        return redirect(redirect_uri, {"code": grant.code, **state})

    # --- the token endpoint -------------------------------------------------------------------

    def redeem(
        self,
        params: Mapping[str, str],
        *,
        require_secret: bool = True,
        require_pkce: bool = False,
    ) -> Grant:
        """Check an authorization-code exchange and use the code up."""
        client_id = params.get("client_id")
        if require_secret:
            app = self.check_client(client_id, params.get("client_secret"))
        else:
            found = self.app(client_id)
            if found is None:
                raise OAuthError("invalid_client", "Unknown client", 401)
            app = found
        code = params.get("code", "")
        with self._lock:
            grant = self._grants.get(code)
            valid = (
                grant is not None
                and not grant.used
                and grant.client_id == app.client_id
                and self.clock() < grant.expires_at
            )
            if grant is not None:
                grant.used = True  # a code is tried once, right or wrong
        if grant is None or not valid:
            raise OAuthError("invalid_grant", "The authorization code is invalid or expired")
        if params.get("redirect_uri", "") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "The redirect_uri does not match")
        verifier = params.get("code_verifier")
        if grant.challenge is not None:
            wanted = s256(verifier or "") if grant.challenge_method == "S256" else verifier
            if not verifier or wanted != grant.challenge:
                raise OAuthError("invalid_grant", "The code_verifier does not match")
        elif require_pkce:
            raise OAuthError("invalid_request", "PKCE is required")
        return grant

    def issue(
        self,
        subject: str,
        client_id: str,
        scopes: Iterable[str],
        lifetime: float | None,
        *,
        kind: str = "user",
        refresh_lifetime: float | None = None,
        with_refresh: bool = False,
        token: str | None = None,
        extra: Mapping[str, str] | None = None,
    ) -> IssuedToken:
        """A new access token (and a refresh token if ``with_refresh``)."""
        now = self.clock()
        issued = IssuedToken(
            token=token or self.token_prefix + secrets.token_urlsafe(32),
            subject=subject,
            client_id=client_id,
            scopes=tuple(scopes),
            issued_at=now,
            expires_at=None if lifetime is None else now + lifetime,
            kind=kind,
            extra=dict(extra or {}),
        )
        refresh: RefreshToken | None = None
        if with_refresh:
            refresh = RefreshToken(
                self.token_prefix + "r" + secrets.token_urlsafe(32),
                subject,
                client_id,
                issued.scopes,
                None if refresh_lifetime is None else now + refresh_lifetime,
            )
            issued.refresh_token = refresh.token
        with self._lock:
            self._tokens[issued.token] = issued
            if refresh is not None:
                self._refresh[refresh.token] = refresh
        return issued

    def use_refresh_token(
        self, refresh_token: str | None, client_id: str | None, *, rotate: bool = True
    ) -> RefreshToken:
        """Check ``refresh_token`` for ``client_id``; with ``rotate`` it cannot be used again."""
        with self._lock:
            found = self._refresh.get(refresh_token or "")
            ok = (
                found is not None
                and not found.used
                and found.client_id == client_id
                and (found.expires_at is None or self.clock() < found.expires_at)
            )
            if found is not None and ok and rotate:
                found.used = True
        if found is None or not ok:
            raise OAuthError("invalid_grant", "The refresh token is unknown, used or expired")
        return found

    def token(self, params: Mapping[str, str]) -> tuple[int, dict[str, object]]:
        """A plain RFC 6749 token endpoint: ``(status, body)``. The client secret may be left
        out when the code was issued with PKCE; tokens come from :attr:`mint`."""
        try:
            app = self.app(params.get("client_id"))
            given = params.get("client_secret")
            if app is None or (
                given is not None and not secrets.compare_digest(given, app.client_secret)
            ):
                raise OAuthError("invalid_client", "client authentication failed", 401)
            grant_type = params.get("grant_type")
            if grant_type == "authorization_code":
                grant = self.redeem(params, require_secret=False)
                if grant.challenge is None and given is None:
                    raise OAuthError("invalid_client", "client_secret required without PKCE", 401)
                subject, scopes = grant.subject, grant.scopes
            elif grant_type == "refresh_token":
                used = self.use_refresh_token(params.get("refresh_token"), app.client_id)
                subject, scopes = used.subject, used.scopes
            else:
                raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r}")
        except OAuthError as exc:
            return exc.status, {"error": exc.error, "error_description": exc.description}
        if self.mint is None:
            raise RuntimeError("OAuthServer.token needs a mint hook")
        issued = self.issue(
            subject,
            app.client_id,
            scopes,
            self.lifetime,
            with_refresh=self.refreshable,
            token=self.mint(subject),
        )
        body: dict[str, object] = {
            "access_token": issued.token,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "created_at": int(issued.issued_at),
        }
        if self.lifetime is not None:
            body["expires_in"] = int(self.lifetime)
        if issued.refresh_token is not None:
            body["refresh_token"] = issued.refresh_token
        return 200, body

    def refresh_expiry(self, refresh_token: str) -> float | None:
        with self._lock:
            found = self._refresh.get(refresh_token)
        return None if found is None else found.expires_at

    # --- what the API checks ------------------------------------------------------------------

    def lookup(self, token: str) -> IssuedToken | None:
        """The issued token ``token`` (expired and revoked ones too), or ``None``."""
        with self._lock:
            return self._tokens.get(token)

    def revoke(self, token: str) -> None:
        with self._lock:
            issued = self._tokens.get(token)
            if issued is not None:
                issued.revoked = True
            refresh = self._refresh.get(token)
            if refresh is not None:
                refresh.used = True

    def is_expired(self, token: str) -> bool:
        """Whether ``token`` was issued here and has run out (tokens from elsewhere: no)."""
        issued = self.lookup(token)
        return issued is not None and issued.expired(self.clock())


def query_params(query: Mapping[str, list[str]]) -> dict[str, str]:
    """A request's query (or form) as single values: the last of repeated keys."""
    return {key: values[-1] for key, values in query.items() if values}
