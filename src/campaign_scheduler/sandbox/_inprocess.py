"""A ``requests`` transport adapter that calls a sandbox directly: no socket, no thread.

In the spirit of httpx's ``MockTransport``: unit tests mount it on the session an adapter talks
through (``sandbox.start_in_process(); sandbox.mount(session)``), and every request for the
sandbox's URL becomes one call of ``sandbox.handle`` on the caller's thread. It keeps what a
client can tell from the loopback server:

* the request as the server would parse it (method, path, query, headers, body; the client is
  127.0.0.1, so the control routes answer);
* an answer the sandbox drops raises what a connection closed without a response raises;
* an answer later than the client's read timeout (``delay``, or held past it) raises
  ``ReadTimeout`` at once instead of after the wait;
* a sandbox bug answers 500.

Rehearsals and end-to-end tests keep the loopback server (:mod:`._server`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from email.message import Message
from http import HTTPStatus
from http.client import RemoteDisconnected
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ProtocolError

from campaign_scheduler.sandbox._server import (
    _READ_TIMEOUT,
    MAX_BODY,
    App,
    HttpRequest,
    HttpResponse,
    json_response,
)

_log = logging.getLogger("campaign_scheduler.sandbox")
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


class InProcessAdapter(BaseAdapter):
    """Send every request to ``app.handle`` in-process."""

    def __init__(self, app: App) -> None:
        super().__init__()
        self.app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        patience = timeout[1] if isinstance(timeout, tuple) else timeout
        parsed = _parse(request)
        if len(parsed.body) > MAX_BODY:
            answer = json_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "too big"})
        else:
            answer = self._call(parsed, patience)
        if answer.drop:
            raise requests.ConnectionError(
                ProtocolError(
                    "Connection aborted.",
                    RemoteDisconnected("Remote end closed connection without response"),
                ),
                request=request,
            )
        if answer.late:
            raise requests.ReadTimeout(
                f"in-process sandbox: Read timed out. (read timeout={patience})",
                request=request,
            )
        return _response(request, parsed, answer)

    def close(self) -> None:
        pass

    def _call(self, request: HttpRequest, patience: float | None) -> HttpResponse:
        token = _READ_TIMEOUT.set(None if patience is None else float(patience))
        try:
            return self.app.handle(request)
        except Exception:  # noqa: BLE001 - a sandbox bug answers 500, like the socket server
            _log.exception("sandbox failed on %s %s", request.method, request.path)
            return json_response(500, {"error": "sandbox error (see the log)"})
        finally:
            _READ_TIMEOUT.reset(token)


def _parse(prepared: requests.PreparedRequest) -> HttpRequest:
    url = urlsplit(prepared.url or "")
    body = prepared.body
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, bytes):
        data = body
    elif hasattr(body, "read"):  # a file: what requests would stream
        data = body.read()
    else:
        data = b"".join(body)
    headers = Message()
    for name, value in prepared.headers.items():
        # requests sends str values as latin-1 and bytes values as they are
        headers[name] = value.decode("latin-1") if isinstance(value, bytes) else value
    return HttpRequest(
        method=prepared.method or "GET",
        path=url.path or "/",
        query=parse_qs(url.query, keep_blank_values=True),
        headers=headers,
        body=data,
        client_host="127.0.0.1",
    )


def _response(
    prepared: requests.PreparedRequest, request: HttpRequest, answer: HttpResponse
) -> requests.Response:
    response = requests.Response()
    response.status_code = answer.status
    response.reason = _PHRASES.get(answer.status, "")
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in answer.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    headers["Content-Length"] = str(len(answer.body))
    response.headers = headers
    response.raw = io.BytesIO(b"" if request.method == "HEAD" else answer.body)
    response.url = prepared.url or ""
    response.request = prepared
    response.encoding = get_encoding_from_headers(headers)
    return response
