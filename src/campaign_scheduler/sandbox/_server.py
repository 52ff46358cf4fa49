"""A small HTTP/1.1 server on the loopback interface that the network sandboxes build on.

It is ``http.server.ThreadingHTTPServer`` with the settings a local stand-in for a network API
needs:

* bound to 127.0.0.1 on a port the kernel picks (port 0), so tests never collide;
* ``TCP_NODELAY`` on every accepted socket and each answer written in one piece. Without that,
  Nagle's algorithm and the client's delayed ACK add about 40 ms to every keep-alive request
  (PERF-NOTES.md: 22 instead of ~590 sequential requests per second);
* HTTP/1.1 keep-alive (every answer has a ``Content-Length``), one daemon thread per connection;
* :meth:`LoopbackServer.stop` closes the listening socket and every open connection, so no
  thread is left blocked on a client that keeps its connection open.

The server knows nothing of any network: it parses a request into :class:`HttpRequest`, hands it
to an :class:`App` and writes the :class:`HttpResponse` back, or, when the response says so,
closes the connection without answering (to imitate a server that dies mid-request).
``GET /_sandbox/connection`` is answered here: it reports the socket options of the connection
it came on, so tests can check ``TCP_NODELAY``.

:class:`~campaign_scheduler.sandbox._inprocess.InProcessAdapter` is the same server without a socket, for unit tests: a ``requests``
transport adapter (in the spirit of httpx's ``MockTransport``) that turns the prepared request
into an :class:`HttpRequest`, calls the app on the caller's thread and turns the answer into a
``requests.Response``. A dropped answer raises what a closed connection raises; an answer later
than the client's read timeout raises ``ReadTimeout`` at once (no waiting).
"""

from __future__ import annotations

import contextvars
import json
import logging
import selectors
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

_log = logging.getLogger("campaign_scheduler.sandbox")

#: Request bodies larger than this are refused (413); the sandbox stores uploads in memory.
MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class UploadedFile:
    """One file part of a multipart/form-data body."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class HttpRequest:
    """A parsed request as an :class:`App` sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client_host: str

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body decoded as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body.strip() else {}

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; raises ValueError when it is not JSON, TypeError when it
        is not an object."""
        body = self.json()
        if not isinstance(body, dict):
            raise TypeError("the body is not a JSON object")
        return body

    def params(self) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        """Fields and files of a JSON, form-encoded or multipart body, plus the query string.

        Form keys ending in ``[]`` (``media_ids[]``) become lists under the bare name; a
        repeated plain key keeps its last value. Raises ValueError on a malformed body.
        """
        fields: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        pairs: list[tuple[str, str]] = [(k, v) for k, vs in self.query.items() for v in vs]
        kind = self.content_type
        if kind == "application/json":
            data = self.json()
            if not isinstance(data, dict):
                raise ValueError("the JSON body must be an object")
            _merge_pairs(fields, pairs)
            fields.update(data)
            return fields, files
        if kind == "multipart/form-data":
            form, files = _parse_multipart(self.header("Content-Type") or "", self.body)
            pairs.extend(form)
        elif self.body:
            text = self.body.decode("utf-8")
            pairs.extend(
                (k, v) for k, vs in parse_qs(text, keep_blank_values=True).items() for v in vs
            )
        _merge_pairs(fields, pairs)
        return fields, files


def text_value(value: Any) -> str:
    """A field of :meth:`HttpRequest.params` as one string: the last of a repeated one, ``""``
    when it is absent."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value)


def _merge_pairs(fields: dict[str, Any], pairs: list[tuple[str, str]]) -> None:
    for key, value in pairs:
        if key.endswith("[]"):
            fields.setdefault(key[:-2], []).append(value)
        else:
            fields[key] = value


def _parse_multipart(
    content_type: str, body: bytes
) -> tuple[list[tuple[str, str]], dict[str, UploadedFile]]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ValueError("malformed multipart body")
    form: list[tuple[str, str]] = []
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(filename, part.get_content_type(), content)
        else:
            charset = part.get_content_charset() or "utf-8"
            form.append((name, content.decode(charset)))
    return form, files


@dataclass
class HttpResponse:
    """What to answer. ``drop`` closes the connection instead of answering; ``late`` marks an
    answer the in-process client would have stopped waiting for."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    late: bool = False


_READ_TIMEOUT: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sandbox_read_timeout", default=None
)


def read_timeout() -> float | None:
    """How long the in-process client waits for the answer being made (``None``: a socket
    client, or one that waits for ever)."""
    return _READ_TIMEOUT.get()


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> HttpResponse:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    all_headers = [("Content-Type", "application/json; charset=utf-8")]
    all_headers.extend((headers or {}).items())
    return HttpResponse(status, body, all_headers)


class App(Protocol):
    """The network behind the server: one call per request, from many threads at once."""

    def handle(self, request: HttpRequest) -> HttpResponse: ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    timeout = 0.5
    #: A network accepts many connections at once; socketserver's default backlog of 5 drops
    #: the rest of a burst (their clients retry after a second, or see a reset).
    request_queue_size = 1024

    def __init__(self, app: App) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        super().__init__(("127.0.0.1", 0), _Handler)

    def serve(self) -> None:
        """Accept connections until :meth:`stop_serving`; unlike ``serve_forever`` it does not
        poll, so stopping takes no time."""
        with selectors.DefaultSelector() as selector:
            selector.register(self, selectors.EVENT_READ)
            selector.register(self._wake_reader, selectors.EVENT_READ)
            while not self._stop.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self and not self._stop.is_set():
                        # Readable, so this accepts at once; ``timeout`` only bounds the wait
                        # should the client vanish between select() and accept().
                        self.handle_request()

    def stop_serving(self) -> None:
        self._stop.set()
        try:
            self._wake_writer.send(b"x")
        except OSError:
            pass

    def server_close(self) -> None:
        super().server_close()
        self._wake_reader.close()
        self._wake_writer.close()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._open_lock:
            self._open.add(conn)
        return conn, address

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-answer is normal here (timeouts in tests).
        _log.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffered writes: status line, headers and body leave in one send() at the flush that
    # BaseHTTPRequestHandler does after each request.
    wbufsize = -1
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True
            self._write(json_response(HTTPStatus.BAD_REQUEST, {"error": str(exc)}))
            return
        if body is None:
            self.close_connection = True
            self._write(json_response(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "too big"}))
            return
        url = urlsplit(self.path)
        request = HttpRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
            client_host=str(self.client_address[0]),
        )
        if request.path == "/_sandbox/connection" and request.method == "GET":
            nodelay = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            self._write(json_response(200, {"tcp_nodelay": bool(nodelay)}))
            return
        try:
            response = self.server.app.handle(request)
        except Exception:  # noqa: BLE001 - a sandbox bug answers 500, like a real server
            _log.exception("sandbox failed on %s %s", request.method, request.path)
            response = json_response(500, {"error": "sandbox error (see the log)"})
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self._write(response)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            size_total = 0
            while True:
                size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
                size = int(size_line, 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                size_total += size
                if size_total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.client_address[0], *args)


class LoopbackServer:
    """Serve ``app`` on 127.0.0.1 in a background thread until :meth:`stop`."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Bind a free port, start serving; return the base URL."""
        if self._server is not None:
            return self.url
        server = _Server(self._app)
        thread = threading.Thread(target=server.serve, name="sandbox-http", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        return self.url

    def stop(self) -> None:
        """Stop accepting, close open connections, release the port. Safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        server.stop_serving()
        if thread is not None:
            thread.join(timeout=5)
        server.close_connections()
        server.server_close()
