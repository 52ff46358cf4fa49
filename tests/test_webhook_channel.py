"""WebhookChannel against the loopback WebhookSandbox (a receiver that checks signatures) and
against a bare recorder that keeps the raw requests, plus the verification snippet that
docs/matrix-and-webhooks.md gives receiver authors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, MediaFile, OutboundPost
from campaign_scheduler.channels.webhook import WebhookChannel, receiver_window, sign
from campaign_scheduler.errors import (
    AuthError,
    ConfigError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)
from campaign_scheduler.sandbox._server import HttpRequest, HttpResponse, LoopbackServer
from campaign_scheduler.sandbox.webhook import WebhookSandbox

DOCS = Path(__file__).parent.parent / "docs" / "matrix-and-webhooks.md"


@pytest.fixture
def sandbox() -> Iterator[WebhookSandbox]:
    with WebhookSandbox().start_in_process() as server:
        yield server


@pytest.fixture
def session(sandbox: WebhookSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def connect(
    session: requests.Session,
    url: str,
    secret: str,
    *,
    timeout: float = 5.0,
    clock: Any = time.time,
    **settings: Any,
) -> WebhookChannel:
    account = AccountSettings(
        "soest-intranet", "", {"url": url, **settings}, secret={"secret": secret}.__getitem__
    )
    return WebhookChannel(account, session, timeout=timeout, clock=clock)


@pytest.fixture
def channel(sandbox: WebhookSandbox, session: requests.Session) -> WebhookChannel:
    return connect(session, sandbox.url_for("soest"), sandbox.add_endpoint("soest"))


def post(text: str = "Noch 7 Tage bis zur Konferenz! #5malklug", **kwargs: Any) -> OutboundPost:
    kwargs.setdefault("language", "de")
    kwargs.setdefault("idempotency_key", uuid.uuid4().hex)
    return OutboundPost(text=text, **kwargs)


@pytest.fixture
def image(tmp_path: Path) -> MediaFile:
    path = tmp_path / "countdown.png"
    Image.new("RGB", (8, 6), (20, 90, 60)).save(path)
    return MediaFile(path, "Grafik: „Noch 7 Tage“ auf grünem Grund", "image/png")


class Recorder:
    """A bare HTTP server that keeps every request and answers with ``answer``."""

    def __init__(self, answer: HttpResponse | None = None) -> None:
        self.requests: list[HttpRequest] = []
        self.answer = answer or HttpResponse(204)
        self.server = LoopbackServer(self)

    def handle(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return self.answer


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recording = Recorder()
    recording.server.start()
    yield recording
    recording.server.stop()


# --- the request ------------------------------------------------------------------------------


def test_the_request_is_signed_json_with_the_delivery_id(
    recorder: Recorder, session: requests.Session, image: MediaFile
) -> None:
    channel = connect(session, recorder.server.url + "/hook", "geheim", clock=lambda: 1_900_000_000)
    outbound = post(media=(image,), reply_to="4711")

    receipt = channel.publish(outbound)

    [request] = recorder.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.header("Content-Type") == "application/json; charset=utf-8"
    assert request.header("Idempotency-Key") == outbound.idempotency_key
    assert request.header("X-Campaign-Timestamp") == "1900000000"
    expected = hmac.new(b"geheim", b"1900000000." + request.body, hashlib.sha256).hexdigest()
    assert request.header("X-Campaign-Signature") == f"sha256={expected}"
    content = image.path.read_bytes()
    assert json.loads(request.body) == {
        "type": "post",
        "delivery_id": outbound.idempotency_key,
        "account": "soest-intranet",
        "text": outbound.text,
        "language": "de",
        "reply_to": "4711",
        "media": [
            {
                "filename": "countdown.png",
                "mime_type": "image/png",
                "alt": image.alt,
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "data": base64.b64encode(content).decode(),
            }
        ],
    }
    assert receipt.remote_id == outbound.idempotency_key  # 204: no id in the answer
    assert receipt.url is None


def test_every_attempt_sends_the_same_body_with_a_fresh_signature(
    recorder: Recorder, session: requests.Session
) -> None:
    now = [1_900_000_000.0]
    channel = connect(session, recorder.server.url, "geheim", clock=lambda: now[0])
    outbound = post()

    channel.publish(outbound)
    now[0] += 30
    channel.publish(outbound)

    first, second = recorder.requests
    assert first.body == second.body
    assert first.header("X-Campaign-Signature") != second.header("X-Campaign-Signature")
    assert sign("geheim", 1_900_000_030, second.body) == second.header("X-Campaign-Signature")


def test_the_receipt_takes_id_and_url_from_the_answer(
    channel: WebhookChannel, sandbox: WebhookSandbox
) -> None:
    before = datetime.now(UTC)

    receipt = channel.publish(post())

    [delivery] = sandbox.deliveries()
    assert receipt.remote_id == delivery.id
    assert receipt.url == f"{sandbox.url}/posts/{delivery.id}"
    assert receipt.published_at >= before


@pytest.mark.parametrize(("answer", "remote_id"), [(b'{"id": 42}', "42"), (b"ok", None)])
def test_numeric_ids_and_non_json_answers(
    recorder: Recorder, session: requests.Session, answer: bytes, remote_id: str | None
) -> None:
    recorder.answer = HttpResponse(200, answer)
    outbound = post()

    receipt = connect(session, recorder.server.url, "geheim").publish(outbound)

    assert receipt.remote_id == (remote_id or outbound.idempotency_key)


def test_language_alt_text_and_files_arrive(
    channel: WebhookChannel, sandbox: WebhookSandbox, image: MediaFile
) -> None:
    channel.publish(post(media=(image,)))

    [delivery] = sandbox.deliveries()
    assert delivery.language == "de"
    [received] = delivery.media
    assert (received.alt, received.mime_type, received.intact) == (image.alt, "image/png", True)


def test_a_missing_media_file_is_reported_and_rejected(
    channel: WebhookChannel, sandbox: WebhookSandbox, tmp_path: Path
) -> None:
    missing = post(media=(MediaFile(tmp_path / "weg.png", None, "image/png"),))

    assert channel.validate(missing) == [f"media file {tmp_path / 'weg.png'} does not exist"]
    with pytest.raises(RejectedError, match=r"weg\.png"):
        channel.publish(missing)
    assert sandbox.deliveries() == []


# --- answers and errors -----------------------------------------------------------------------


def test_a_wrong_secret_is_an_auth_error_and_stays_secret(
    sandbox: WebhookSandbox, session: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sandbox.add_endpoint("soest")
    channel = connect(session, sandbox.url_for("soest"), "falsches-geheimnis")

    with pytest.raises(AuthError, match="invalid signature") as caught:
        channel.publish(post())

    assert caught.value.hint is not None and "same secret" in caught.value.hint
    assert "falsches-geheimnis" not in str(caught.value) + caplog.text
    assert sandbox.deliveries() == []


def test_a_clock_far_off_is_refused(sandbox: WebhookSandbox, session: requests.Session) -> None:
    secret = sandbox.add_endpoint("soest")
    late = connect(session, sandbox.url_for("soest"), secret, clock=lambda: time.time() - 600)

    with pytest.raises(AuthError, match="timestamp"):
        late.publish(post())


def test_rate_limit_says_when_to_retry(channel: WebhookChannel, sandbox: WebhookSandbox) -> None:
    sandbox.rate_limit_next(reset_in=120)
    before = datetime.now(UTC)

    with pytest.raises(RateLimitedError) as caught:
        channel.publish(post())

    assert caught.value.retry_at is not None
    assert timedelta(seconds=119) <= caught.value.retry_at - before <= timedelta(seconds=125)


def test_retry_after_as_a_date(recorder: Recorder, session: requests.Session) -> None:
    recorder.answer = HttpResponse(429, b"", [("Retry-After", "Wed, 21 Oct 2037 07:28:00 GMT")])

    with pytest.raises(RateLimitedError) as caught:
        connect(session, recorder.server.url, "geheim").publish(post())

    assert caught.value.retry_at == datetime(2037, 10, 21, 7, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (301, RejectedError),
        (400, RejectedError),
        (403, AuthError),
        (404, RejectedError),
        (408, UnavailableError),
        (409, OutcomeUnknownError),
        (413, RejectedError),
        (422, RejectedError),
        (500, UnavailableError),
        (503, UnavailableError),
        (502, OutcomeUnknownError),
        (504, OutcomeUnknownError),
    ],
)
def test_http_statuses_map_to_outcomes(
    channel: WebhookChannel, sandbox: WebhookSandbox, status: int, error: type[Exception]
) -> None:
    sandbox.fail_next(1, status=status)

    with pytest.raises(error):
        channel.publish(post())
    assert sandbox.deliveries() == []


def test_redirects_are_not_followed(recorder: Recorder, session: requests.Session) -> None:
    recorder.answer = HttpResponse(302, b"", [("Location", "https://intranet.example/neu?x=1")])

    with pytest.raises(RejectedError, match=r"302 to https://intranet\.example/neu\)") as caught:
        connect(session, recorder.server.url, "geheim").publish(post())

    assert caught.value.hint is not None and "final address" in caught.value.hint
    assert len(recorder.requests) == 1


def test_a_timeout_is_an_unknown_outcome(
    sandbox: WebhookSandbox, session: requests.Session
) -> None:
    channel = connect(session, sandbox.url_for("soest"), sandbox.add_endpoint("soest"), timeout=0.3)
    sandbox.delay = 0.6

    with pytest.raises(OutcomeUnknownError):
        channel.publish(post())
    sandbox.delay = 0


def test_an_unreachable_receiver_is_unavailable(session: requests.Session) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(UnavailableError, match="connection refused"):
        connect(session, f"http://127.0.0.1:{port}/hook", "geheim").publish(post())


@pytest.mark.parametrize(
    ("url", "secret", "problem"),
    [
        ("", "geheim", "has no http"),
        ("ftp://intranet/hook", "geheim", "has no http"),
        ("http://intranet/hook", "", "has no secret"),
    ],
)
def test_missing_url_or_secret_is_an_account_problem(
    session: requests.Session, url: str, secret: str, problem: str
) -> None:
    with pytest.raises(AuthError, match=problem):
        connect(session, url, secret).publish(post())


# --- recovery ---------------------------------------------------------------------------------


def test_by_default_nothing_is_claimed_about_repeats() -> None:
    assert WebhookChannel.idempotency_window is None
    assert WebhookChannel.can_look_up is False


def test_a_receiver_that_does_not_deduplicate_publishes_a_repeat_twice(
    channel: WebhookChannel, sandbox: WebhookSandbox
) -> None:
    outbound = post()
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    channel.publish(outbound)  # what replaying blindly would do: the reason for the default

    assert len(sandbox.deliveries()) == 2
    assert channel.idempotency_window is None


def test_a_documented_deduplication_window_makes_replays_safe(
    sandbox: WebhookSandbox, session: requests.Session
) -> None:
    secret = sandbox.add_endpoint("soest", deduplicate=24 * 3600)
    channel = connect(session, sandbox.url_for("soest"), secret, deduplicates="24h")
    outbound = post()
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError):
        channel.publish(outbound)
    receipt = channel.publish(outbound)

    [delivery] = sandbox.deliveries()
    assert receipt.remote_id == delivery.id
    assert channel.idempotency_window == timedelta(hours=21, minutes=36)
    assert WebhookChannel.idempotency_window is None  # per account, not for every webhook


def test_a_repeat_while_the_first_is_still_processed_is_an_unknown_outcome(
    sandbox: WebhookSandbox, session: requests.Session
) -> None:
    secret = sandbox.add_endpoint("soest", deduplicate=3600)
    channel = connect(session, sandbox.url_for("soest"), secret, deduplicates="1h")
    outbound = post()
    held = sandbox.hold_after_create()
    first = threading.Thread(target=channel.publish, args=(outbound,))
    first.start()
    assert held.wait(5)

    with pytest.raises(OutcomeUnknownError, match="still processing"):
        channel.publish(outbound)
    sandbox.release()
    first.join(5)
    assert channel.publish(outbound).remote_id == sandbox.deliveries()[0].id
    assert len(sandbox.deliveries()) == 1


@pytest.mark.parametrize(
    ("setting", "window"),
    [
        (None, None),
        ("", None),
        ("24h", timedelta(hours=21, minutes=36)),
        ("30m", timedelta(minutes=27)),
        ("5m", timedelta(minutes=4)),
        ("1m", None),
        ("7d", timedelta(days=6, hours=7, minutes=12)),
    ],
)
def test_receiver_window(setting: str | None, window: timedelta | None) -> None:
    assert receiver_window(setting) == window


@pytest.mark.parametrize("setting", ["bald", "1.5h", 24])
def test_a_bad_deduplicates_setting_is_a_config_error(setting: object) -> None:
    with pytest.raises(ConfigError, match="deduplicates"):
        receiver_window(setting)


def test_deduplicates_is_an_optional_catalog_key() -> None:
    assert "deduplicates" in WebhookChannel.spec.optional


# --- verify -----------------------------------------------------------------------------------


def test_verify_pings_without_publishing(channel: WebhookChannel, sandbox: WebhookSandbox) -> None:
    assert channel.verify() == f"webhook {sandbox.url_for('soest')}"
    assert sandbox.deliveries() == []
    assert [r.signature_valid for r in sandbox.requests_seen] == [True]


def test_verify_with_a_revoked_secret_fails(
    sandbox: WebhookSandbox, session: requests.Session
) -> None:
    secret = sandbox.add_endpoint("soest")
    sandbox.revoke(secret)

    with pytest.raises(AuthError):
        connect(session, sandbox.url_for("soest"), secret).verify()


# --- the sandbox ------------------------------------------------------------------------------


def test_sandbox_refuses_a_key_reused_with_another_body(
    sandbox: WebhookSandbox, session: requests.Session
) -> None:
    secret = sandbox.add_endpoint("soest", deduplicate=60)
    channel = connect(session, sandbox.url_for("soest"), secret, deduplicates="1m")
    key = uuid.uuid4().hex
    channel.publish(post("Erste Fassung", idempotency_key=key))

    with pytest.raises(RejectedError, match="different body"):
        channel.publish(post("Zweite Fassung", idempotency_key=key))


def test_sandbox_forgets_keys_after_its_window(
    sandbox: WebhookSandbox, session: requests.Session
) -> None:
    now = [time.time()]
    sandbox.clock = lambda: now[0]
    secret = sandbox.add_endpoint("soest", deduplicate=60)
    channel = connect(session, sandbox.url_for("soest"), secret, clock=lambda: now[0])
    outbound = post()

    channel.publish(outbound)
    channel.publish(outbound)
    now[0] += 61
    channel.publish(outbound)

    assert len(sandbox.deliveries()) == 2


def test_sandbox_without_ids_answers_202(session: requests.Session) -> None:
    with WebhookSandbox(answer_with_id=False) as sandbox:
        outbound = post()
        channel = connect(session, sandbox.url_for("a"), sandbox.add_endpoint("a"))

        receipt = channel.publish(outbound)

    assert (receipt.remote_id, receipt.url) == (outbound.idempotency_key, None)


def test_sandbox_control_api_over_http(sandbox: WebhookSandbox, session: requests.Session) -> None:
    base = f"{sandbox.url}/_sandbox"
    endpoint = sandbox.session().post(f"{base}/endpoints", json={"name": "olpe"}, timeout=5).json()
    channel = connect(session, endpoint["url"], endpoint["secret"])
    sandbox.session().post(f"{base}/faults", json={"fail_next": {"status": 500}}, timeout=5)

    with pytest.raises(UnavailableError):
        channel.publish(post())
    channel.publish(post("Hallo Olpe"))

    deliveries = sandbox.session().get(f"{base}/deliveries", timeout=5).json()
    seen = sandbox.session().get(f"{base}/requests", timeout=5).json()
    assert [d["text"] for d in deliveries] == ["Hallo Olpe"]
    assert [r["signature_valid"] for r in seen] == [True, True]
    bad = sandbox.session().post(f"{base}/faults", json={"explode": 1}, timeout=5)
    assert bad.status_code == 400
    unknown = sandbox.session().post(f"{sandbox.url}/hooks/nirgends", data=b"{}", timeout=5)
    assert unknown.status_code == 404


# --- the documentation ------------------------------------------------------------------------


def _docs_snippet() -> dict[str, Any]:
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(r"```python\n(# verify_webhook\.py.*?)```", text, re.DOTALL)
    assert match is not None, "docs/matrix-and-webhooks.md lost its verification snippet"
    namespace: dict[str, Any] = {}
    # Our own documentation, run as written: that is the point of the test.
    exec(compile(match.group(1), str(DOCS), "exec"), namespace)  # noqa: S102
    return namespace


def test_the_documented_verification_accepts_our_requests_and_refuses_tampering(
    recorder: Recorder, session: requests.Session
) -> None:
    verify = _docs_snippet()["verify"]
    connect(session, recorder.server.url, "geheim").publish(post())
    [request] = recorder.requests
    stamp, signature = (
        request.header("X-Campaign-Timestamp"),
        request.header("X-Campaign-Signature"),
    )

    assert verify("geheim", stamp, signature, request.body) is True
    assert verify("anders", stamp, signature, request.body) is False
    assert verify("geheim", stamp, signature, request.body + b" ") is False
    assert verify("geheim", str(int(stamp or 0) - 600), signature, request.body) is False


MALFORMED_HEADERS: list[tuple[Any, Any]] = [
    ("²", "sha256=" + "0" * 64),  # isdigit() but not a number int() reads
    ("١٧٦٣١١٢٦٠٠", "sha256=" + "0" * 64),  # Arabic-Indic digits
    ("9" * 5000, "sha256=" + "0" * 64),  # longer than int() converts
    ("-1", "sha256=" + "0" * 64),
    (" 1763112600", "sha256=" + "0" * 64),
    ("1763112600", "sha256=ä" + "0" * 63),  # non-ASCII signature (compare_digest raises)
    ("1763112600", "sha256=" + "0" * 6400),
    ("1763112600", "md5=" + "0" * 67),
    ("1763112600", ""),
    ("", "sha256=" + "0" * 64),
    (None, None),
    (b"1763112600", b"sha256=" + b"0" * 64),  # bytes, as some frameworks hand headers over
    (1763112600, "sha256=" + "0" * 64),
]


@pytest.mark.parametrize(("stamp", "signature"), MALFORMED_HEADERS)
def test_the_documented_verification_refuses_malformed_headers_without_crashing(
    stamp: Any, signature: Any
) -> None:
    verify = _docs_snippet()["verify"]
    assert verify("geheim", stamp, signature, b"{}", now=1763112600) is False
    assert verify("geheim", "1763112600", "sha256=" + "0" * 64, "{}", now=1763112600) is False
