"""What every network sandbox shares: its lifecycle, the fault switches and held answers.

A sandbox subclasses :class:`SandboxBase`, which owns

* the loopback server and ``start``/``stop``/``with``/``url``;
* the fault queues (:class:`FaultSwitches`): failures and rate limits for the next creations,
  creations whose answer is dropped or held until :meth:`SandboxBase.release`, and ``delay``;
* the common keys of ``POST /_sandbox/faults`` (:meth:`SandboxBase._apply_faults`).

What differs per network stays in the network's module: the public ``fail_next`` and
``rate_limit_next`` (their parameters and what they queue), the error bodies a failure or a rate
limit is answered with (passed to :meth:`SandboxBase._begin_create`), how a revoked credential is
named, and any extra fault names.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from campaign_scheduler.sandbox._server import HttpRequest, HttpResponse, LoopbackServer

FailT = TypeVar("FailT")
RateT = TypeVar("RateT")

#: The fault names every sandbox's ``POST /_sandbox/faults`` accepts.
COMMON_FAULTS = frozenset(
    {
        "fail_next",
        "rate_limit_next",
        "drop_after_create",
        "hold_after_create",
        "release",
        "revoke",
        "delay",
    }
)


@dataclass
class FaultSwitches(Generic[FailT, RateT]):
    """What the next creations meet: a failure each, a rate limit each, then drop or hold."""

    fail: list[FailT] = field(default_factory=list)  # in order
    rate_limit: list[RateT] = field(default_factory=list)  # in order
    drop: int = 0
    hold: int = 0

    def after_create(self) -> str | None:
        """Use up a drop ("drop") or else a hold ("hold"); ``None`` when neither is set."""
        if self.drop:
            self.drop -= 1
            return "drop"
        if self.hold:
            self.hold -= 1
            return "hold"
        return None


def fault_spec(value: Any) -> dict[str, Any]:
    """The object of a fault (``{"count": 2, ...}``); a bare ``true`` or number means ``{}``."""
    return value if isinstance(value, dict) else {}


def fault_count(value: Any) -> int:
    """``count`` of a fault, 1 when not given."""
    return int(fault_spec(value).get("count", 1))


def seconds(body: dict[str, Any], name: str) -> float:
    """``body[name]`` as a non-negative, finite number of seconds (else ValueError)."""
    value = float(body[name])
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number of seconds")
    return value


class SandboxBase(Generic[FailT, RateT]):
    """Lifecycle and fault switches of a loopback sandbox (see the module doc).

    Subclasses call ``super().__init__()`` before anything else, route requests in
    ``handle`` and end every answer with :meth:`_deliver`.
    """

    #: The key that names the credential in ``{"revoke": {...}}``.
    revoke_key: ClassVar[str] = "token"
    #: The status of ``{"fail_next": {}}`` when the body gives none.
    default_fail_status: ClassVar[int] = 503

    def __init__(self) -> None:
        #: Seconds added before every answer (requests are processed first, then answered late).
        self.delay = 0.0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._faults: FaultSwitches[FailT, RateT] = FaultSwitches()
        self._held = threading.Event()
        self._release_gate = threading.Event()
        self._server = LoopbackServer(self)

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        self._stopping.clear()
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving; held and delayed requests are let go first."""
        self._stopping.set()
        with self._lock:
            self._release_gate.set()
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running)."""
        return self._server.url

    # --- fault switches -----------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` creations get ``status`` and create nothing."""
        raise NotImplementedError

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` creations are rate limited until ``reset_in`` s from now."""
        raise NotImplementedError

    def revoke(self, token: str) -> None:
        """Later calls with the credential ``token`` are refused."""
        raise NotImplementedError

    def drop_after_create(self, count: int = 1) -> None:
        """The next ``count`` creations are carried out, then the connection is closed without
        an answer."""
        with self._lock:
            self._faults.drop += count

    def hold_after_create(self, count: int = 1) -> threading.Event:
        """The next ``count`` creations are carried out, then their answer is held until
        :meth:`release` (or :meth:`stop`). The returned Event is set as soon as a request is
        being held."""
        with self._lock:
            self._faults.hold += count
            if self._release_gate.is_set():
                self._release_gate = threading.Event()
            self._held = threading.Event()
            return self._held

    def release(self) -> None:
        """Answer every held request."""
        with self._lock:
            self._release_gate.set()
            self._release_gate = threading.Event()

    def _queue_failures(self, count: int, failure: FailT) -> None:
        with self._lock:
            self._faults.fail.extend([failure] * count)

    def _queue_rate_limits(self, count: int, limit: RateT) -> None:
        with self._lock:
            self._faults.rate_limit.extend([limit] * count)

    # --- request handling ---------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` (the loopback server calls this on its own threads)."""
        raise NotImplementedError

    def _begin_create(
        self,
        failure: Callable[[FailT], HttpResponse],
        rate_limited: Callable[[RateT], HttpResponse],
    ) -> tuple[HttpResponse | None, str | None]:
        """Use up the faults a creation meets: ``(error, None)`` when it is answered with
        ``failure(...)`` or ``rate_limited(...)`` at once, else ``(None, after)`` with ``after``
        "drop", "hold" or ``None`` for :meth:`_deliver`."""
        with self._lock:
            faults = self._faults
            if faults.fail:
                return failure(faults.fail.pop(0)), None
            if faults.rate_limit:
                return rate_limited(faults.rate_limit.pop(0)), None
            return None, faults.after_create()

    def _deliver(
        self, response: HttpResponse, after: str | None, *, extra_delay: float = 0.0
    ) -> HttpResponse:
        """``response`` as the fault switches want it: dropped, or after ``delay`` (plus
        ``extra_delay``) seconds, and held until released when ``after`` is "hold"."""
        if after == "drop":
            response.drop = True
            return response
        wait = self.delay + extra_delay
        if wait > 0:
            self._stopping.wait(wait)
        if after == "hold":
            with self._lock:
                gate, held = self._release_gate, self._held
            held.set()
            gate.wait()
        return response

    # --- control over HTTP --------------------------------------------------------------------

    def _extra_faults(self) -> frozenset[str]:
        """Fault names beyond :data:`COMMON_FAULTS` that this sandbox accepts."""
        return frozenset()

    def _apply_extra_faults(self, body: dict[str, Any]) -> None:
        """Apply the faults named by :meth:`_extra_faults`."""

    def _apply_fail_next(self, spec: dict[str, Any]) -> None:
        status = int(spec.get("status", self.default_fail_status))
        self.fail_next(int(spec.get("count", 1)), status)

    def _apply_rate_limit_next(self, spec: dict[str, Any]) -> None:
        self.rate_limit_next(int(spec.get("count", 1)), float(spec.get("reset_in", 60.0)))

    def _apply_revoke(self, spec: dict[str, Any]) -> None:
        self.revoke(str(spec[self.revoke_key]))

    def _apply_faults(self, body: dict[str, Any]) -> None:
        """Apply a ``POST /_sandbox/faults`` body; unknown names raise ValueError, missing
        keys KeyError."""
        unknown = set(body) - COMMON_FAULTS - self._extra_faults()
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        if "fail_next" in body:
            self._apply_fail_next(fault_spec(body["fail_next"]))
        if "rate_limit_next" in body:
            self._apply_rate_limit_next(fault_spec(body["rate_limit_next"]))
        if "drop_after_create" in body:
            self.drop_after_create(fault_count(body["drop_after_create"]))
        if "hold_after_create" in body:
            self.hold_after_create(fault_count(body["hold_after_create"]))
        if body.get("release"):
            self.release()
        if "revoke" in body:
            self._apply_revoke(fault_spec(body["revoke"]))
        if "delay" in body:
            self.delay = seconds(body, "delay")
        self._apply_extra_faults(body)
