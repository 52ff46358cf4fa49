"""OAuth 2 pieces every browser-based connect flow shares.

* :func:`pkce_pair` — a PKCE code verifier and its S256 challenge (oauthlib).
* :class:`RedirectReceiver` — a one-request HTTP server on ``http://127.0.0.1:<free port>/callback``
  that takes the authorization server's redirect, checks ``state``, shows a plain page ("Sie
  können dieses Fenster schließen" / "you can close this window") and hands the query to the
  flow; :meth:`RedirectReceiver.wait` gives up cleanly after a timeout.
* :func:`authorization_code` — the whole browser step: start the receiver, print the URL, open a
  browser on a desktop and wait for the redirect; on a headless server (no browser opened) ask
  the person to paste the code or the whole address the browser was sent to.
* :func:`browser_opener` — ``webbrowser.open`` on a desktop, nothing on a server (SSH session,
  or Linux without ``DISPLAY``/``WAYLAND_DISPLAY``).
* :func:`expiry_from` — ``expires_in`` seconds of a token answer as an aware UTC time.
* :func:`code_grant` — the ``authorization_code`` grant; :func:`token_record` the record of
  its answer.
* :func:`refresh_token_grant` — the ``refresh_token`` grant, giving the renewed record.
"""

from __future__ import annotations

import os
import secrets
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qs, urlsplit

from campaign_scheduler.errors import AuthError, UsageError
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from campaign_scheduler.auth.base import ConnectContext
    from campaign_scheduler.auth.tokens import TokenRecord

CALLBACK_PATH = "/callback"
#: How long the browser step waits for the redirect by default.
DEFAULT_WAIT = 300.0

_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>campaign-scheduler</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>{title_de}</h1><p>{text_de}</p>
<hr><h1 lang="en">{title_en}</h1><p lang="en">{text_en}</p>
</body></html>
"""
_DONE = {
    "title_de": "Anmeldung abgeschlossen",
    "text_de": "Sie können dieses Fenster schließen und zum Terminal zurückkehren.",
    "title_en": "Signed in",
    "text_en": "You can close this window and return to the terminal.",
}
_FAILED = {
    "title_de": "Anmeldung nicht abgeschlossen",
    "text_de": "Das Netzwerk hat die Anmeldung nicht bestätigt. Details stehen im Terminal. "
    "Sie können dieses Fenster schließen.",
    "title_en": "Sign-in not completed",
    "text_en": "The network did not confirm the sign-in; the terminal says why. "
    "You can close this window.",
}


def pkce_pair() -> tuple[str, str]:
    """A fresh PKCE ``(code_verifier, code_challenge)`` with the S256 method."""
    from oauthlib.oauth2 import WebApplicationClient  # type: ignore[import-untyped]

    client = WebApplicationClient("pkce")
    verifier = client.create_code_verifier(64)
    return verifier, client.create_code_challenge(verifier, "S256")


def new_state() -> str:
    """An unguessable ``state`` value for one authorization request."""
    return secrets.token_urlsafe(24)


def expiry_from(answer: Mapping[str, Any], now: datetime) -> datetime | None:
    """When a token from ``answer`` (an OAuth token response) expires: ``now`` plus its
    ``expires_in`` seconds; ``None`` when the answer does not say."""
    value = answer.get("expires_in")
    if isinstance(value, bool) or value is None:
        return None
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        return None
    return now + timedelta(seconds=seconds) if seconds > 0 else None


def is_desktop(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether a browser can be opened here: not over SSH, and on Linux/BSD only with a
    display."""
    env = os.environ if environ is None else environ
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return False
    plat = sys.platform if platform is None else platform
    if plat.startswith(("win", "darwin")):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def browser_opener(environ: Mapping[str, str] | None = None) -> Callable[[str], bool]:
    """``open_url`` for a :class:`ConnectContext`: the default browser on a desktop; on a
    server a function that opens nothing (the flow then asks for the code)."""
    if not is_desktop(environ):
        return lambda url: False

    def open_url(url: str) -> bool:
        import webbrowser

        try:
            return bool(webbrowser.open(url, new=2))
        except webbrowser.Error:
            return False

    return open_url


class RedirectReceiver:
    """Receives one OAuth redirect on ``http://127.0.0.1:<port>/callback``.

    ``start()`` binds a free port; :attr:`redirect_uri` is then the address to register as the
    redirect. The first request to the callback path whose ``state`` matches ends the wait
    (other paths, e.g. ``/favicon.ico``, get 404; a wrong ``state`` gets the failure page and is
    ignored). Use as a context manager, or call ``stop()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.expected_state: str | None = None
        self._query: dict[str, str] | None = None
        self._done = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def redirect_uri(self) -> str:
        if self._server is None:
            raise RuntimeError("RedirectReceiver.start() first")
        return f"http://{self.host}:{self._server.server_address[1]}{CALLBACK_PATH}"

    def start(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != CALLBACK_PATH:
                    self._page(404, _FAILED)
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items() if v}
                if receiver.expected_state is not None and not secrets.compare_digest(
                    query.get("state", ""), receiver.expected_state
                ):
                    self._page(400, _FAILED)
                    return
                ok = "code" in query and "error" not in query
                # Recorded before the page goes out: whoever sees the page may rely on the
                # receiver already holding the answer.
                if not receiver._done.is_set():
                    receiver._query = query
                    receiver._done.set()
                self._page(200 if ok else 400, _DONE if ok else _FAILED)

            def _page(self, status: int, texts: Mapping[str, str]) -> None:
                body = _PAGE.format(**texts).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # the query holds the code: never log it

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="oauth-redirect", daemon=True
        )
        self._thread.start()
        return self

    def wait(self, timeout: float) -> dict[str, str] | None:
        """The redirect's query parameters, or ``None`` when none came within ``timeout``."""
        if not self._done.wait(timeout):
            return None
        return self._query

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _code_from(query: Mapping[str, str], state: str, network: str) -> str:
    if "error" in query:
        reason = query.get("error_description") or query["error"]
        raise AuthError(
            f"{network}: the sign-in was refused: {reason}",
            hint="run `campaign accounts connect` again and allow the access",
        )
    if not secrets.compare_digest(query.get("state", ""), state):
        raise AuthError(f"{network}: the answer belongs to another sign-in (state differs)")
    code = query.get("code", "")
    if not code:
        raise AuthError(f"{network}: the answer carries no authorization code")
    return code


def parse_pasted(text: str, state: str, network: str) -> str:
    """The code from what the person pasted: the bare code, or the whole address the browser
    was redirected to (then its ``state`` must match)."""
    text = text.strip()
    if "://" in text or text.startswith(("?", "/")):
        query = {k: v[0] for k, v in parse_qs(urlsplit(text).query).items() if v}
        return _code_from(query, state, network)
    if not text:
        raise UsageError(msg("nothing was pasted"))
    return text


def authorization_code(
    ctx: ConnectContext,
    authorize_url: Callable[[str, str], str],
    *,
    network: str,
    wait: float = DEFAULT_WAIT,
) -> tuple[str, str]:
    """Run the browser step of an authorization-code flow; return ``(code, redirect_uri)``.

    ``authorize_url(redirect_uri, state)`` builds the network's authorization address. The
    redirect goes to a :class:`RedirectReceiver`. When ``ctx.open_url`` opened a browser the
    flow waits for the redirect (at most ``wait`` seconds); otherwise the person opens the
    printed URL anywhere and pastes the code or the address they were sent to.
    """
    state = new_state()
    receiver = ctx.redirect_receiver()
    receiver.expected_state = state
    receiver.start()
    try:
        redirect_uri = receiver.redirect_uri
        url = authorize_url(redirect_uri, state)
        ctx.say(msg("Open this address to allow access:\n  {url}", url=url))
        if ctx.open_url(url):
            ctx.say(msg("Waiting for the browser …"))
            query = receiver.wait(wait)
            if query is None:
                raise AuthError(
                    f"{network}: no answer from the browser within {int(wait)} seconds",
                    hint="run `campaign accounts connect` again; on a server without a "
                    "browser the tool asks for the code instead",
                )
            return _code_from(query, state, network), redirect_uri
        pasted = ctx.ask(
            msg(
                "After allowing access, paste the code or the whole address the browser shows "
                "(it may say it cannot connect): "
            )
        )
        return parse_pasted(pasted, state, network), redirect_uri
    finally:
        receiver.stop()


def code_grant(
    ctx: ConnectContext,
    token_url: str,
    *,
    network: str,
    code: str,
    redirect_uri: str,
    client_id: str,
    params: Mapping[str, str] | None = None,
    **options: Any,
) -> tuple[str, dict[str, Any]]:
    """RFC 6749 §4.1.3: exchange ``code`` at ``token_url``; ``(access token, the answer)``.
    ``params`` adds the network's own fields (client secret, PKCE verifier, scope), ``options``
    go to the request (X's HTTP Basic client authentication)."""
    from campaign_scheduler.auth.base import request_json

    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        **(params or {}),
    }
    answer = request_json(
        ctx, "POST", token_url, network=network, what="exchanging the code", data=data, **options
    )
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthError(f"{network}: the code exchange gave no access token")
    return access, answer


def token_record(
    ctx: ConnectContext,
    access: str,
    answer: Mapping[str, Any],
    *,
    scope: str,
    extra: dict[str, str],
) -> TokenRecord:
    """The record of a new token: the refresh token and expiry the answer gives, its ``scope``
    (else ``scope``)."""
    from campaign_scheduler.auth.tokens import TokenRecord

    refresh = answer.get("refresh_token")
    return TokenRecord(
        access_token=access,
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_at=expiry_from(answer, ctx.clock()),
        scope=str(answer.get("scope") or scope),
        extra=extra,
    )


def refresh_token_grant(
    ctx: ConnectContext,
    token_url: str,
    record: TokenRecord,
    *,
    network: str,
    client_id: str,
    client_secret: str | None = None,
    params: Mapping[str, str] | None = None,
    extra_from: Callable[[Mapping[str, Any]], Mapping[str, str]] | None = None,
    **options: Any,
) -> TokenRecord:
    """RFC 6749 §6: a new access token for ``record.refresh_token`` at ``token_url``. The new
    expiry comes from ``expires_in``; a rotated refresh token replaces the old one;
    ``extra_from(answer)`` adds to the record's extra. ``options`` go to the request. A refused
    refresh raises :class:`AuthError` (connect again)."""
    from dataclasses import replace

    from campaign_scheduler.auth.base import request_json

    if not record.refresh_token:
        raise AuthError(f"{network}: the token has no refresh token; connect the account again")
    data = {
        "grant_type": "refresh_token",
        "refresh_token": record.refresh_token,
        "client_id": client_id,
        **(params or {}),
    }
    if client_secret is not None:
        data["client_secret"] = client_secret
    answer = request_json(
        ctx, "POST", token_url, network=network, what="refreshing the token", data=data, **options
    )
    access = answer.get("access_token")
    if not isinstance(access, str) or not access:
        raise AuthError(f"{network}: the refresh gave no access token")
    rotated = answer.get("refresh_token")
    refreshed = record.with_access(
        access,
        expires_at=expiry_from(answer, ctx.clock()),
        refresh_token=rotated if isinstance(rotated, str) and rotated else None,
    )
    if extra_from is None:
        return refreshed
    return replace(refreshed, extra={**refreshed.extra, **extra_from(answer)})
