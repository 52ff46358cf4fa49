"""Tokens never leave their origin, and no answer can hold or flood an adapter
(channels/_http.py ``send``, used by every adapter).

* A redirect is never followed to another origin: the request (with its token in a header or
  in the body) goes to the configured server and nowhere else.
* ``http://`` is refused except for loopback addresses.
* A call has a total time limit (not only a limit per read), and an answer a size limit.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from campaign_scheduler.channels._http import make_session, send
from campaign_scheduler.channels.base import AccountSettings, OutboundPost
from campaign_scheduler.channels.facebook import FacebookChannel
from campaign_scheduler.errors import ChannelError, OutcomeUnknownError, UnavailableError

Answer = Callable[[BaseHTTPRequestHandler, bytes], None]


@dataclass
class Server:
    """A loopback HTTP server that records every request and answers with ``answer``."""

    answer: Answer
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                server.requests.append((self.command, self.path, dict(self.headers), body))
                server.answer(self, body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that stops reading (as the size limit makes it) is expected here


@pytest.fixture
def serve() -> Iterator[Callable[[Answer], Server]]:
    running: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> Server:
        server = Server(answer)
        httpd = _QuietServer(("127.0.0.1", 0), server.handler())
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        running.append(httpd)
        server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        return server

    yield start
    for httpd in running:
        httpd.shutdown()
        httpd.server_close()


def reply(status: int, body: bytes = b"{}", **headers: str) -> Answer:
    def answer(handler: BaseHTTPRequestHandler, _: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def chunked(pieces: int, size: int) -> Answer:
    """A 200 whose body comes in ``pieces`` chunks of ``size`` bytes."""

    def answer(handler: BaseHTTPRequestHandler, _: bytes) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for _piece in range(pieces):
            handler.wfile.write(f"{size:x}\r\n".encode() + b"a" * size + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")

    return answer


# --- redirects --------------------------------------------------------------------------------


def test_a_redirect_to_another_origin_is_not_followed(serve: Callable[[Answer], Server]) -> None:
    elsewhere = serve(reply(200, b'{"id": "stolen"}'))
    home = serve(reply(307, Location=f"{elsewhere.url}/collect"))
    with pytest.raises(ChannelError, match="redirect") as caught:
        send(
            make_session(),
            "POST",
            f"{home.url}/v21.0/123/feed",
            timeout=5,
            data={"message": "Hallo", "access_token": "page-secret"},
            headers={"Authorization": "Bearer page-secret"},
        )
    assert elsewhere.requests == []
    assert "page-secret" not in caught.value.message
    assert type(caught.value) is ChannelError  # not retried: a person checks base_url


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_no_redirect_to_another_origin_is_followed_for_any_status(
    serve: Callable[[Answer], Server], status: int
) -> None:
    elsewhere = serve(reply(200))
    home = serve(reply(status, Location=f"{elsewhere.url}/"))
    with pytest.raises(ChannelError):
        send(make_session(), "GET", f"{home.url}/me", timeout=5, params={"access_token": "t"})
    assert elsewhere.requests == []


def test_a_redirect_on_the_same_origin_is_followed_with_method_and_body(
    serve: Callable[[Answer], Server],
) -> None:
    def answer(handler: BaseHTTPRequestHandler, body: bytes) -> None:
        if handler.path == "/old":
            reply(307, Location="/new")(handler, body)
        else:
            reply(200, b'{"id": "1"}')(handler, body)

    home = serve(answer)
    response = send(
        make_session(),
        "POST",
        f"{home.url}/old",
        timeout=5,
        data={"message": "Hallo"},
        headers={"Authorization": "Bearer t"},
    )
    assert response.json() == {"id": "1"}
    assert [(method, path, body) for method, path, _, body in home.requests] == [
        ("POST", "/old", b"message=Hallo"),
        ("POST", "/new", b"message=Hallo"),
    ]
    assert home.requests[1][2]["Authorization"] == "Bearer t"


def test_a_redirect_loop_ends(serve: Callable[[Answer], Server]) -> None:
    home = serve(reply(302, Location="/again"))
    with pytest.raises(ChannelError, match="redirect"):
        send(make_session(), "GET", f"{home.url}/again", timeout=5)
    assert len(home.requests) <= 6


def test_the_graph_adapter_does_not_hand_its_token_to_a_redirect_target(
    serve: Callable[[Answer], Server],
) -> None:
    """The reported failure: the page token, sent in the form body, followed a 307 to another
    server, whose answer then counted as the publish."""
    elsewhere = serve(reply(200, b'{"id": "999_1"}'))
    home = serve(reply(307, Location=f"{elsewhere.url}/collect"))
    account = AccountSettings(
        "soest-facebook", home.url, {"page_id": "123"}, secret=lambda key: "page-secret"
    )
    channel = FacebookChannel(account, make_session(), timeout=5)
    post = OutboundPost("Konferenz am 18.11. #5malklug", "de", "key-1")
    with pytest.raises(ChannelError):
        channel.publish(post)
    assert elsewhere.requests == []


# --- schemes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://social.example/api", "http://10.0.0.5/api", "ftp://social.example/"]
)
def test_plain_http_is_refused_except_on_loopback(url: str) -> None:
    session = make_session()
    session.mount("http://", _NoNetwork())
    with pytest.raises(ChannelError, match="https"):
        send(session, "GET", url, timeout=5)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://localhost:9/x",
        "http://[::1]:9/x",
        "http://127.8.0.1/x",
        "http://sandbox-1.invalid/x",  # never resolves: only an in-process transport answers
    ],
)
def test_plain_http_is_allowed_where_nothing_leaves_the_machine(url: str) -> None:
    session = make_session()
    session.mount("http://", _NoNetwork())
    with pytest.raises(UnavailableError, match="connect timeout"):
        send(session, "GET", url, timeout=5)


class _NoNetwork(requests.adapters.BaseAdapter):
    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        raise requests.exceptions.ConnectTimeout("no network in this test")

    def close(self) -> None:
        pass


# --- time and size ----------------------------------------------------------------------------


class Ticks:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_call_has_a_total_time_limit_not_only_one_per_read(
    serve: Callable[[Answer], Server],
) -> None:
    """A server that keeps sending a little at a time never trips the per-read timeout; the
    total limit ends the call all the same (here measured on a clock that ticks per read)."""
    slow = serve(chunked(pieces=40, size=70_000))
    with pytest.raises(OutcomeUnknownError, match="within 5 s"):
        send(make_session(), "GET", f"{slow.url}/feed", timeout=5, monotonic=Ticks())


def test_an_answer_in_time_is_read_whole(serve: Callable[[Answer], Server]) -> None:
    quick = serve(chunked(pieces=3, size=10))
    response = send(make_session(), "GET", f"{quick.url}/feed", timeout=5)
    assert response.content == b"a" * 30


def test_an_answer_larger_than_the_limit_is_not_read_to_the_end(
    serve: Callable[[Answer], Server],
) -> None:
    flood = serve(chunked(pieces=20, size=1000))
    with pytest.raises(OutcomeUnknownError, match="larger than"):
        send(make_session(), "GET", f"{flood.url}/feed", timeout=5, max_bytes=5000)


def test_a_declared_length_over_the_limit_is_refused_before_reading(
    serve: Callable[[Answer], Server],
) -> None:
    flood = serve(reply(200, b"x" * 6000))
    with pytest.raises(OutcomeUnknownError, match="larger than"):
        send(make_session(), "GET", f"{flood.url}/feed", timeout=5, max_bytes=5000)


def test_a_compressed_answer_is_read_as_the_text_it_stands_for(
    serve: Callable[[Answer], Server],
) -> None:
    """Real servers (the Bluesky AppView among them) compress their JSON answers."""
    packed = serve(reply(200, gzip.compress(b'{"posts": []}'), Content_Encoding="gzip"))
    response = send(make_session(), "GET", f"{packed.url}/feed", timeout=5)
    assert response.json() == {"posts": []}


def test_the_size_limit_counts_what_a_compressed_answer_unpacks_to(
    serve: Callable[[Answer], Server],
) -> None:
    bomb = serve(reply(200, gzip.compress(b"0" * 1_000_000), Content_Encoding="gzip"))
    with pytest.raises(OutcomeUnknownError, match="larger than"):
        send(make_session(), "GET", f"{bomb.url}/feed", timeout=5, max_bytes=5000)
