"""Real alert receivers on loopback: an HTTP endpoint (apprise ``json://``) and an SMTP server.

apprise hands a message over synchronously: when ``notify`` returns, the receiver has it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_string
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class HttpReceiver:
    port: int
    received: list[dict[str, Any]] = field(default_factory=list)
    #: Status codes to answer with, in order; 200 once they are used up.
    answers: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/alerts"


@pytest.fixture(name="http_receiver")
def http_receiver_fixture() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length).decode("utf-8"))
            status = receiver.answers.pop(0) if receiver.answers else 200
            if status == 200:
                receiver.received.append(body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class SmtpReceiver:
    port: int
    mails: list[Message] = field(default_factory=list)

    @property
    def url(self) -> str:
        return (
            f"mailto://127.0.0.1:{self.port}?smtp=127.0.0.1&mode=insecure"
            "&from=alerts@kreis.example&to=team@kreis.example"
        )

    def texts(self) -> list[str]:
        out = []
        for mail in self.mails:
            for part in mail.walk():
                if part.get_content_type() == "text/plain":
                    payload = part.get_payload(decode=True)
                    assert isinstance(payload, bytes)
                    out.append(payload.decode("utf-8"))
        return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(name="smtp_receiver")
def smtp_receiver_fixture() -> Iterator[SmtpReceiver]:
    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver(port=_free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            content = envelope.content
            text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
            receiver.mails.append(message_from_string(text))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
