"""An OAuth 2 authorization server a sandbox can embed (RFC 6749 + PKCE, RFC 7636).

:class:`OAuthDesk` keeps registered clients, authorization codes and issued tokens. A network's
sandbox routes its own paths (``/oauth/authorize``, ``/oauth/token`` …) to
:meth:`OAuthDesk.authorize` and :meth:`OAuthDesk.token` and wraps the answers in its envelope.

* ``authorize`` consents at once (tests have no person to click "allow") on behalf of
  :attr:`OAuthDesk.consent_as` and redirects (302) to the client's registered ``redirect_uri``
  with ``code`` and ``state``; :attr:`OAuthDesk.deny_next` makes the next one answer
  ``error=access_denied`` instead. An unknown client or an unregistered redirect URI is answered
  400 without a redirect, as real servers do. Loopback redirect URIs (``http://127.0.0.1``) match
  on any port (RFC 8252 §7.3).
* ``token`` takes ``authorization_code`` (one use; PKCE ``S256``/``plain`` checked when the code
  was issued with a challenge; redirect URI and client checked) and ``refresh_token`` (rotated
  when :attr:`OAuthDesk.rotate_refresh` is set). Tokens live :attr:`OAuthDesk.lifetime` seconds
  (``None``: no expiry, no ``expires_in``); a refresh token is issued when
  :attr:`OAuthDesk.refreshable`.
* ``issue(subject, scope) -> access_token`` is the network's hook that binds a fresh token to its
  account (e.g. ``MastodonSandbox.add_account``). :meth:`OAuthDesk.expires_at` tells a token's
  expiry so the network can refuse expired tokens with its own 401.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from campaign_scheduler.sandbox._server import HttpResponse


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: frozenset[str]
    name: str = ""


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    subject: str
    challenge: str | None
    method: str


@dataclass
class _Refresh:
    client_id: str
    scope: str
    subject: str


@dataclass
class OAuthDesk:
    clock: Callable[[], float]
    issue: Callable[[str, str], str]  # (subject, scope) -> access token
    consent_as: str = "sandbox"
    lifetime: float | None = None
    refreshable: bool = False
    rotate_refresh: bool = True
    deny_next: int = 0
    clients: dict[str, OAuthClient] = field(default_factory=dict)
    _codes: dict[str, _Code] = field(default_factory=dict)
    _refresh: dict[str, _Refresh] = field(default_factory=dict)
    _expiry: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- clients ------------------------------------------------------------------------------

    def register(
        self,
        redirect_uris: tuple[str, ...],
        scopes: frozenset[str],
        *,
        name: str = "",
        client_id: str | None = None,
        client_secret: str | None = None,
    ) -> OAuthClient:
        client = OAuthClient(
            client_id or secrets.token_urlsafe(16),
            client_secret or secrets.token_urlsafe(24),
            redirect_uris,
            scopes,
            name,
        )
        with self._lock:
            self.clients[client.client_id] = client
        return client

    @staticmethod
    def _redirect_ok(client: OAuthClient, uri: str) -> bool:
        if uri in client.redirect_uris:
            return True
        asked = urlsplit(uri)
        for registered in client.redirect_uris:
            known = urlsplit(registered)
            if (
                known.hostname in ("127.0.0.1", "::1")
                and asked.scheme == known.scheme == "http"
                and asked.hostname == known.hostname
                and asked.path == known.path
            ):
                return True
        return False

    # --- the endpoints ------------------------------------------------------------------------

    def authorize(self, query: Mapping[str, str]) -> HttpResponse:
        """``GET /authorize``: auto-consent and redirect, or 400 for a bad client/redirect."""
        client = self.clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None or not self._redirect_ok(client, redirect_uri):
            return HttpResponse(400, b"invalid client or redirect_uri")
        state = query.get("state")
        if query.get("response_type") != "code":
            return _redirect(redirect_uri, {"error": "unsupported_response_type"}, state)
        scope = " ".join(query.get("scope", "").split())
        if not set(scope.split()) <= client.scopes:
            return _redirect(redirect_uri, {"error": "invalid_scope"}, state)
        with self._lock:
            if self.deny_next:
                self.deny_next -= 1
                return _redirect(
                    redirect_uri,
                    {"error": "access_denied", "error_description": "the user said no"},
                    state,
                )
            code = secrets.token_urlsafe(24)
            self._codes[code] = _Code(
                client.client_id,
                redirect_uri,
                scope,
                self.consent_as,
                query.get("code_challenge"),
                query.get("code_challenge_method", "plain"),
            )
        return _redirect(redirect_uri, {"code": code}, state)

    def token(self, params: Mapping[str, str]) -> tuple[int, dict[str, object]]:
        """``POST /token``: ``(status, body)`` in RFC 6749 §5 form."""
        client = self._client(params)
        if client is None:
            return 401, _err("invalid_client", "client authentication failed")
        grant = params.get("grant_type")
        if grant == "authorization_code":
            return self._exchange(client, params)
        if grant == "refresh_token":
            return self._renew(client, params)
        return 400, _err("unsupported_grant_type", f"grant_type {grant!r}")

    def expires_at(self, token: str) -> float | None:
        with self._lock:
            return self._expiry.get(token)

    def is_expired(self, token: str) -> bool:
        when = self.expires_at(token)
        return when is not None and self.clock() >= when

    # --- internals ----------------------------------------------------------------------------

    def _client(self, params: Mapping[str, str]) -> OAuthClient | None:
        client = self.clients.get(params.get("client_id", ""))
        if client is None:
            return None
        given = params.get("client_secret")
        # Public clients with PKCE may leave the secret out; a wrong one is refused.
        if given is not None and not secrets.compare_digest(given, client.client_secret):
            return None
        return client

    def _exchange(
        self, client: OAuthClient, params: Mapping[str, str]
    ) -> tuple[int, dict[str, object]]:
        with self._lock:
            code = self._codes.pop(params.get("code", ""), None)
        if code is None or code.client_id != client.client_id:
            return 400, _err("invalid_grant", "the authorization code is unknown or used")
        if params.get("redirect_uri", "") != code.redirect_uri:
            return 400, _err("invalid_grant", "redirect_uri differs from the authorization")
        if code.challenge is not None:
            verifier = params.get("code_verifier", "")
            if not verifier or not secrets.compare_digest(
                _challenge(verifier, code.method), code.challenge
            ):
                return 400, _err("invalid_grant", "PKCE verification failed")
        elif params.get("client_secret") is None:
            return 401, _err("invalid_client", "client_secret required without PKCE")
        return 200, self._grant(client, code.subject, code.scope)

    def _renew(
        self, client: OAuthClient, params: Mapping[str, str]
    ) -> tuple[int, dict[str, object]]:
        given = params.get("refresh_token", "")
        with self._lock:
            entry = self._refresh.get(given)
            if entry is None or entry.client_id != client.client_id:
                return 400, _err("invalid_grant", "the refresh token is unknown or revoked")
            if self.rotate_refresh:
                del self._refresh[given]
        body = self._grant(
            client, entry.subject, entry.scope, keep_refresh=None if self.rotate_refresh else given
        )
        return 200, body

    def _grant(
        self, client: OAuthClient, subject: str, scope: str, *, keep_refresh: str | None = None
    ) -> dict[str, object]:
        access = self.issue(subject, scope)
        body: dict[str, object] = {
            "access_token": access,
            "token_type": "Bearer",
            "scope": scope,
            "created_at": int(self.clock()),
        }
        with self._lock:
            if self.lifetime is not None:
                self._expiry[access] = self.clock() + self.lifetime
                body["expires_in"] = int(self.lifetime)
            if self.refreshable:
                refresh = keep_refresh or secrets.token_urlsafe(32)
                self._refresh[refresh] = _Refresh(client.client_id, scope, subject)
                body["refresh_token"] = refresh
        return body


def _challenge(verifier: str, method: str) -> str:
    if method == "S256":
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
    return verifier


def _err(code: str, description: str) -> dict[str, object]:
    return {"error": code, "error_description": description}


def _redirect(uri: str, params: dict[str, str], state: str | None) -> HttpResponse:
    if state is not None:
        params = {**params, "state": state}
    sep = "&" if urlsplit(uri).query else "?"
    return HttpResponse(302, b"", [("Location", uri + sep + urlencode(params))])
