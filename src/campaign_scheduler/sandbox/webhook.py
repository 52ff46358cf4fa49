"""A webhook receiver on loopback: what a CMS or intranet behind a signed webhook would be.

Used by rehearsals and tests. Each endpoint (``POST /hooks/<name>``) has its own secret and:

* verifies ``X-Campaign-Signature`` (HMAC-SHA256 over ``<timestamp>.<body>``) and
  ``X-Campaign-Timestamp`` (at most ``tolerance`` seconds from its clock, either way);
  anything else is answered 401 ``{"error": "..."}`` and not stored;
* takes ``{"type": "post", ...}`` (stored, answered 200 ``{"id": "...", "url": "..."}``, or
  202 without a body when ``answer_with_id`` is off) and ``{"type": "ping"}`` (answered 200,
  nothing stored); other types get 422;
* when ``deduplicate`` is set (seconds), remembers each ``Idempotency-Key`` that long: a repeat
  gets the first answer again, a repeat with a different body 422, a repeat while the first
  is still being answered 409 (as draft-ietf-httpapi-idempotency-key-header describes).
  Without it, every request publishes: the receiver we must assume by default.

Faults and inspection are available from Python (:class:`WebhookSandbox` methods) and over
HTTP from loopback:

``POST /_sandbox/faults``
    a JSON object with any of ``{"fail_next": {"count": 1, "status": 503}}``,
    ``{"rate_limit_next": {"count": 1, "reset_in": 60}}``, ``{"drop_after_create": {"count": 1}}``,
    ``{"hold_after_create": {"count": 1}}``, ``{"release": true}``,
    ``{"revoke": {"secret": "…"}}``, ``{"delay": 0.5}``. They apply to the next post requests.
``POST /_sandbox/endpoints``
    ``{"name": "soest", "secret": "optional", "deduplicate": 86400}`` →
    ``{"url": "http://127.0.0.1:…/hooks/soest", "secret": "…"}``.
``GET /_sandbox/deliveries``, ``GET /_sandbox/requests``
    what was stored / what arrived (with the signature verdict), as JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from campaign_scheduler.jsonfields import fields_of
from campaign_scheduler.sandbox._base import Option, SandboxBase
from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    json_response,
)

SIGNATURE_HEADER = "X-Campaign-Signature"
TIMESTAMP_HEADER = "X-Campaign-Timestamp"
TOLERANCE = 300.0
_MESSAGES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    413: "Payload too large",
    422: "Unprocessable entity",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


# --- what tests and rehearsals can inspect ---------------------------------------------------


@dataclass(frozen=True)
class SandboxFile:
    """A media file as the receiver got it."""

    filename: str
    mime_type: str
    alt: str | None
    size: int
    intact: bool  # the base64 data decodes to ``size`` bytes with the given sha256


@dataclass(frozen=True)
class SandboxDelivery:
    """A post the receiver stored."""

    id: str
    endpoint: str
    delivery_id: str
    idempotency_key: str | None
    account: str | None
    text: str
    language: str | None
    reply_to: str | None
    media: tuple[SandboxFile, ...]
    received_at: datetime


@dataclass(frozen=True)
class SeenRequest:
    """A request as it arrived, with the receiver's verdict on its signature."""

    method: str
    path: str
    idempotency_key: str | None
    timestamp: str | None
    signature_valid: bool
    monotonic: float
    wall: float


# --- internal state ---------------------------------------------------------------------------


@dataclass
class _Endpoint:
    name: str
    secret: str
    deduplicate: float | None
    # idempotency key -> (body sha256, stored at, response or None while being answered)
    keys: dict[str, tuple[str, float, HttpResponse | None]] = field(default_factory=dict)


class WebhookSandbox(SandboxBase[int, float]):
    """A loopback webhook receiver. Use as a context manager or call start()/stop()."""

    revoke_key = "secret"

    #: Seconds a signature's timestamp may differ from the receiver's clock.
    tolerance = Option(TOLERANCE)
    #: Whether a post is answered 200 with its id and URL (else 202 without a body).
    answer_with_id = Option(True)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._endpoints: dict[str, _Endpoint] = {}
        self._deliveries: list[SandboxDelivery] = []
        self._ids = itertools.count(1)

    def url_for(self, name: str) -> str:
        """The address of endpoint ``name``."""
        return f"{self.url}/hooks/{name}"

    # --- control ------------------------------------------------------------------------------

    def add_endpoint(
        self, name: str, secret: str | None = None, *, deduplicate: float | None = None
    ) -> str:
        """Create (or replace) endpoint ``name``; return its secret. ``deduplicate``: seconds
        an ``Idempotency-Key`` is remembered (``None``: repeats publish again)."""
        secret = secret or secrets.token_urlsafe(32)
        with self._lock:
            self._endpoints[name] = _Endpoint(name, secret, deduplicate)
        return secret

    def revoke(self, secret: str) -> None:
        """Endpoints using ``secret`` get a new random one: requests signed with it fail."""
        with self._lock:
            for endpoint in self._endpoints.values():
                if hmac.compare_digest(endpoint.secret, secret):
                    endpoint.secret = secrets.token_urlsafe(32)

    def deliveries(self, endpoint: str | None = None) -> list[SandboxDelivery]:
        """Every stored post, oldest first."""
        with self._lock:
            return [d for d in self._deliveries if endpoint is None or d.endpoint == endpoint]

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` post requests get ``status`` and store nothing."""
        self._queue_failures(count, status)

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` post requests get 429 with ``Retry-After: reset_in``."""
        self._queue_rate_limits(count, reset_in)

    # --- request handling ---------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        response, after, remember = self._answer(request)
        response = self._deliver(response, after)
        if remember is not None:  # repeats of the key get this answer from now on
            endpoint, key = remember
            with self._lock:
                fingerprint, stored_at, _ = endpoint.keys[key]
                endpoint.keys[key] = (fingerprint, stored_at, response)
        return response

    def _answer(
        self, request: HttpRequest
    ) -> tuple[HttpResponse, str | None, tuple[_Endpoint, str] | None]:
        """The answer, what to do after it (drop, hold), and the key to remember it under."""
        name = request.path.removeprefix("/hooks/")
        with self._lock:
            endpoint = self._endpoints.get(name) if request.path.startswith("/hooks/") else None
        if endpoint is None:
            return _error(404, "no such endpoint"), None, None
        if request.method != "POST":
            return _error(405, "POST only"), None, None
        problem = self._check_signature(request, endpoint)
        self._record_signed(request, problem is None)
        if problem is not None:
            return _error(401, problem), None, None
        try:
            payload = request.json()
        except (ValueError, UnicodeDecodeError):
            return _error(400, "the body is not JSON"), None, None
        if not isinstance(payload, dict):
            return _error(400, "the body must be a JSON object"), None, None
        kind = payload.get("type")
        if kind == "ping":
            return json_response(200, {"ok": True}), None, None
        if kind != "post":
            return _error(422, f"unknown type {kind!r}"), None, None
        return self._post(request, endpoint, payload)

    def _check_signature(self, request: HttpRequest, endpoint: _Endpoint) -> str | None:
        """Why the request's signature is not acceptable, or ``None`` when it is."""
        stamp = request.header(TIMESTAMP_HEADER)
        signature = request.header(SIGNATURE_HEADER)
        if stamp is None or signature is None:
            return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}"
        if not stamp.isdigit():
            return f"{TIMESTAMP_HEADER} is not a Unix time"
        if abs(self.clock() - int(stamp)) > self.tolerance:
            return "the timestamp is too far from the receiver's clock"
        signed = stamp.encode("ascii") + b"." + request.body
        expected = (
            "sha256=" + hmac.new(endpoint.secret.encode(), signed, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, signature.strip()):
            return "invalid signature"
        return None

    def _record_signed(self, request: HttpRequest, valid: bool) -> None:
        with self._lock:
            self.requests_seen.append(
                SeenRequest(
                    method=request.method,
                    path=request.path,
                    idempotency_key=request.header("Idempotency-Key"),
                    timestamp=request.header(TIMESTAMP_HEADER),
                    signature_valid=valid,
                    monotonic=time.monotonic(),
                    wall=time.time(),
                )
            )

    def _post(
        self, request: HttpRequest, endpoint: _Endpoint, payload: dict[str, Any]
    ) -> tuple[HttpResponse, str | None, tuple[_Endpoint, str] | None]:
        key = request.header("Idempotency-Key")
        fingerprint = hashlib.sha256(request.body).hexdigest()
        with self._lock:
            faults = self._faults
            if faults.fail:
                status = faults.fail.pop(0)
                return _error(status, _MESSAGES.get(status, "Error")), None, None
            if faults.rate_limit:
                wait = math.ceil(faults.rate_limit.pop(0))
                return _error(429, "Too many requests", {"Retry-After": str(wait)}), None, None
            dedupe = key is not None and endpoint.deduplicate is not None
            if key is not None and dedupe:
                replay = self._replay(endpoint, key, fingerprint)
                if replay is not None:
                    return replay, None, None
            response = self._store(endpoint, key, payload)
            if isinstance(response, str):
                return _error(422, response), None, None
            after = faults.after_create()
            if key is None or not dedupe:
                return response, after, None
            endpoint.keys[key] = (fingerprint, self.clock(), None)
            return response, after, (endpoint, key)

    def _replay(self, endpoint: _Endpoint, key: str, fingerprint: str) -> HttpResponse | None:
        stored = endpoint.keys.get(key)
        if stored is None:
            return None
        stored_fingerprint, stored_at, response = stored
        assert endpoint.deduplicate is not None
        if self.clock() - stored_at >= endpoint.deduplicate:
            del endpoint.keys[key]
            return None
        if stored_fingerprint != fingerprint:
            return _error(422, "Idempotency-Key reused with a different body")
        if response is None:
            return _error(409, "a request with this Idempotency-Key is still being processed")
        return HttpResponse(response.status, response.body, list(response.headers))

    def _store(
        self, endpoint: _Endpoint, key: str | None, payload: dict[str, Any]
    ) -> HttpResponse | str:
        """Store the post (under the lock); the answer, or a validation problem."""
        text = payload.get("text")
        delivery_id = payload.get("delivery_id")
        if not isinstance(text, str) or not isinstance(delivery_id, str):
            return "text and delivery_id are required strings"
        media = payload.get("media") or []
        if not isinstance(media, list) or not all(isinstance(m, dict) for m in media):
            return "media must be a list of objects"
        number = str(next(self._ids))
        language, reply_to, account = (
            payload.get("language"),
            payload.get("reply_to"),
            payload.get("account"),
        )
        self._deliveries.append(
            SandboxDelivery(
                id=number,
                endpoint=endpoint.name,
                delivery_id=delivery_id,
                idempotency_key=key,
                account=account if isinstance(account, str) else None,
                text=text,
                language=language if isinstance(language, str) else None,
                reply_to=reply_to if isinstance(reply_to, str) else None,
                media=tuple(_file(m) for m in media),
                received_at=datetime.fromtimestamp(self.clock(), UTC),
            )
        )
        if not self.answer_with_id:
            return HttpResponse(202)
        return json_response(200, {"id": number, "url": f"{self.url}/posts/{number}"})

    # --- control over HTTP --------------------------------------------------------------------

    def _view_deliveries(self) -> list[dict[str, Any]]:
        return [_delivery_json(d) for d in self.deliveries()]

    def _control_endpoints(self, body: dict[str, Any]) -> dict[str, Any]:
        name = str(body["name"])
        dedupe = body.get("deduplicate")
        secret = self.add_endpoint(
            name, body.get("secret"), deduplicate=None if dedupe is None else float(dedupe)
        )
        return {"url": self.url_for(name), "secret": secret}

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        return _error(status, message)


# --- helpers ----------------------------------------------------------------------------------


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> HttpResponse:
    return json_response(status, {"error": message}, headers)


def _file(entry: dict[str, Any]) -> SandboxFile:
    size = entry.get("size")
    data = entry.get("data")
    digest = entry.get("sha256")
    try:
        content = base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        content = None
    intact = (
        content is not None
        and len(content) == size
        and hashlib.sha256(content).hexdigest() == digest
    )
    alt = entry.get("alt")
    return SandboxFile(
        filename=str(entry.get("filename", "")),
        mime_type=str(entry.get("mime_type", "")),
        alt=alt if isinstance(alt, str) else None,
        size=size if isinstance(size, int) else 0,
        intact=intact,
    )


def _delivery_json(delivery: SandboxDelivery) -> dict[str, Any]:
    return fields_of(
        delivery,
        *("id", "endpoint", "delivery_id", "account", "text", "language", "reply_to"),
        *("media", "received_at"),
        media=("filename", "mime_type", "alt", "size"),
    )
