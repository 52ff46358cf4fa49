"""What every network sandbox shares: lifecycle, request handling, control routes and faults.

A sandbox subclasses :class:`SandboxBase`, which owns

* the loopback server and ``start``/``stop``/``with``/``url``, and the in-process transport for
  unit tests (:meth:`SandboxBase.start_in_process`, :meth:`SandboxBase.mount`);
* :meth:`SandboxBase.handle`: control requests go to the control routes, every other request is
  recorded in ``requests_seen`` (a :class:`SeenRequest`, or what the network's ``_seen`` keeps),
  routed (:attr:`SandboxBase.routes`, the :class:`Route` each handler declares with
  :func:`handles`, unless the network overrides
  ``_route``) and delivered through the fault switches; a handler deep down may end the request
  early by raising :class:`Answer`;
* the control routes under ``/_sandbox/`` (loopback clients only): ``GET /_sandbox/requests``,
  ``POST /_sandbox/faults``, ``POST /_sandbox/settings`` (from the network's
  :attr:`SandboxBase.settings`) and the network's own views and controls (its methods
  ``_view_<name>`` and ``_control_<name>``, see :meth:`SandboxBase._views` and
  :meth:`SandboxBase._controls`), with their errors in the network's own envelope
  (:meth:`SandboxBase._error_envelope`);
* the network's knobs (:class:`Option`): each is an attribute with a default, a keyword of the
  constructor (next to ``clock``) and, when ``settable``, a key of ``POST /_sandbox/settings``;
* the fault queues (:class:`FaultSwitches`): failures and rate limits for the next creations,
  creations whose answer is dropped or held until :meth:`SandboxBase.release`, ``delay`` and
  ``revoke``, uploads whose processing fails (the fault named by
  :attr:`SandboxBase.processing_fault`); the keys of ``POST /_sandbox/faults``
  (:meth:`SandboxBase._apply_faults`, plus the network's :meth:`SandboxBase._extra_faults`).

What differs per network stays in the network's module: its routes, its error envelope, its
length tables, its settings, the public ``fail_next`` and ``rate_limit_next`` (their parameters
and what they queue), the error bodies a failure or a rate limit is answered with (passed to
:meth:`SandboxBase._begin_create`) and any extra faults.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, overload
from urllib.parse import unquote, urlencode

from campaign_scheduler.sandbox._server import (
    HttpRequest,
    HttpResponse,
    LoopbackServer,
    json_response,
    read_timeout,
)

if TYPE_CHECKING:
    import requests

FailT = TypeVar("FailT")
RateT = TypeVar("RateT")
T = TypeVar("T")

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
    processing: int = 0  # uploads whose processing fails

    def after_create(self) -> str | None:
        """Use up a drop ("drop") or else a hold ("hold"); ``None`` when neither is set."""
        if self.drop:
            self.drop -= 1
            return "drop"
        if self.hold:
            self.hold -= 1
            return "hold"
        return None


@dataclass(kw_only=True)
class Processing:
    """An upload's processing, the same state machine in every sandbox whatever the payload
    (Mastodon and X media, LinkedIn images and videos): :meth:`process` starts it, the next
    ``polls_left`` status reads find it still processing (:meth:`poll`), then it has
    ``failed`` or is ready."""

    polls_left: int = 0
    failed: bool = False

    def process(self, fails: bool, polls: int, *, at_least: int = 0) -> None:
        """Processing starts: ``polls`` reads (at least ``at_least``, and at least one when it
        ``fails``) find it processing."""
        self.failed = fails
        self.polls_left = max(polls, at_least, 1 if fails else 0)

    @property
    def processing(self) -> bool:
        return self.polls_left > 0

    def poll(self) -> bool:
        """A status read: whether it found the upload still processing (one read used up)."""
        processing = self.processing
        self.polls_left -= processing
        return processing


#: The clients the control routes answer.
LOOPBACK_HOSTS = ("127.0.0.1", "::1")

#: What a control route answers when it has nothing to report.
OK = {"ok": True}

_in_process_numbers = itertools.count(1)


class Answer(Exception):
    """Ends a request early with ``response`` (e.g. a 401 from deep inside a handler)."""

    def __init__(self, response: HttpResponse) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass(frozen=True)
class SeenRequest:
    """A request as it arrived: no credential, no body (see :meth:`SandboxBase._seen`)."""

    method: str
    path: str
    query: str
    monotonic: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival


#: A route's handler, a sandbox method: ``(request, *context, *path parts)`` -> the answer, or the
#: answer and what happens after it ("drop", "hold", ``None``: see :meth:`SandboxBase._begin_create`).
Handler = Callable[..., "HttpResponse | tuple[HttpResponse, str | None]"]
HandlerT = TypeVar("HandlerT", bound=Handler)
#: The attribute that holds a method's routes (see :func:`handles`).
_ROUTES = "sandbox_routes"


@dataclass(frozen=True)
class Route:
    """One route of a network's API: ``method`` and a pattern over the whole path, whose groups
    (URL-decoded; ``None`` when an optional group is absent) follow the request as arguments
    of the sandbox's method ``handler`` (looked up on the sandbox, so a subclass or a test may
    replace it)."""

    method: str
    pattern: re.Pattern[str]
    handler: str


def handles(method: str, pattern: str) -> Callable[[HandlerT], HandlerT]:
    """Declare the decorated method a route of the network's API: ``method`` and a regular
    expression that must match the whole path. The routes of a class are its
    :attr:`SandboxBase.routes`, in the order the methods are defined (a method may carry
    several)."""

    def declare(handler: HandlerT) -> HandlerT:
        declared = list(getattr(handler, _ROUTES, ()))
        route = Route(method, re.compile(pattern), handler.__name__)
        setattr(handler, _ROUTES, [route, *declared])
        return handler

    return declare


def optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A setting's converter that also takes ``None`` (JSON ``null``: "off")."""
    return lambda value: None if value is None else convert(value)


def whole(value: Any) -> int:
    """A setting's converter to a whole number that also takes ``"5"``, ``5.0`` or ``"5.0"``."""
    return int(float(value))


def one_of(*allowed: Any) -> Callable[[Any], Any]:
    """A setting's converter that takes only ``allowed`` values."""

    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(map(str, allowed))}")
        return value

    return check


def strict(kind: type) -> Callable[[Any], Any]:
    """A setting's converter that takes only values of ``kind`` (an int for a float; never a
    bool for an int)."""

    def check(value: Any) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"takes a {kind.__name__}")
        return value

    return check


class Option(Generic[T]):
    """One of a sandbox's knobs, declared on its class (``max_characters = Option(500, int)``):
    an attribute that reads ``default`` (a copy of it) until set, a keyword of the constructor,
    and, when ``settable``, a key of ``POST /_sandbox/settings``. ``convert`` checks a value
    given to the constructor or over HTTP (raising ValueError or TypeError)."""

    def __init__(
        self, default: T, convert: Callable[[Any], Any] | None = None, *, settable: bool = False
    ) -> None:
        self.default = default
        self.convert: Callable[[Any], Any] = convert or (lambda value: value)
        self.settable = settable
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Self: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Self | T:
        if instance is None:
            return self
        values = instance.__dict__
        if self.name not in values:
            values[self.name] = copy.copy(self.default)
        value: T = values[self.name]
        return value

    def __set__(self, instance: object, value: T) -> None:
        instance.__dict__[self.name] = value


def only_known(what: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise ValueError naming every name in ``given`` that ``known`` lacks ("unknown
    ``what``(s): a, b")."""
    unknown = set(given) - set(known)
    if unknown:
        raise ValueError(f"unknown {what}(s): {', '.join(sorted(unknown))}")


def present(**fields: Any) -> dict[str, Any]:
    """The fields that are not ``None``, in the order given (an error body's optional keys)."""
    return {name: value for name, value in fields.items() if value is not None}


SnapshotT = TypeVar("SnapshotT")
RecordT = TypeVar("RecordT")


def snapshot(kind: Callable[..., SnapshotT], record: Any, /, **computed: Any) -> SnapshotT:
    """A ``kind`` (a dataclass: what tests and rehearsals inspect) of the internal ``record``:
    the fields ``computed`` does not give are ``record``'s attributes of the same name (a
    field with a default keeps it where ``record`` has no such attribute)."""
    copied = {
        f.name: getattr(record, f.name)
        for f in fields(kind)  # type: ignore[arg-type]
        if f.init
        and f.name not in computed
        and (hasattr(record, f.name) or (f.default is MISSING and f.default_factory is MISSING))
    }
    return kind(**copied, **computed)


def counts(body: Mapping[str, Any], **defaults: int | None) -> dict[str, Any]:
    """The whole numbers ``body`` gives under the names of ``defaults`` (a control route's
    figures); a name ``body`` lacks gets its default, and one whose default is None may be null."""
    figures: dict[str, Any] = {}
    for name, default in defaults.items():
        value = body.get(name, default)
        figures[name] = value if value is None and default is None else int(value)
    return figures


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

    Subclasses declare their knobs as :class:`Option` attributes, call
    ``super().__init__(**options)`` before anything else, and declare ``_route``,
    ``_seen``, ``_error_envelope`` and their control routes (``_view_<name>``, ``_control_<name>``). A
    sandbox whose requests need more than that (Graph's usage headers, webhook's remembered
    answers) overrides :meth:`handle` and ends every answer with :meth:`_deliver`.
    """

    #: The network's API, in the order they are tried (see :meth:`_route`): the routes its
    #: methods declare with :func:`handles`.
    routes: ClassVar[Sequence[Route]] = ()
    #: The status of a known path called with a method it does not take.
    wrong_method_status: ClassVar[int] = 404
    #: The message of the answer to a path no route knows.
    unknown_route_message: ClassVar[str] = "Not Found"
    #: The network's knobs (every :class:`Option` of the class and its bases): name -> option.
    options: ClassVar[Mapping[str, Option[Any]]] = {}
    #: What ``POST /_sandbox/settings`` may change (the ``settable`` options): attribute name
    #: -> converter (which raises ValueError or TypeError on a bad value). Empty: the sandbox
    #: has no such route.
    settings: ClassVar[Mapping[str, Callable[[Any], Any]]] = {}
    #: The key that names the credential in ``{"revoke": {...}}``.
    revoke_key: ClassVar[str] = "token"
    #: The status of ``{"fail_next": {}}`` when the body gives none.
    default_fail_status: ClassVar[int] = 503
    #: The fault that makes the next uploads fail processing (``POST /_sandbox/faults``), or
    #: ``None`` where the network does not process uploads.
    processing_fault: ClassVar[str | None] = None
    #: What :meth:`_seen` records: :class:`SeenRequest` or a subclass (see :meth:`_seen_fields`).
    seen_type: ClassVar[type[SeenRequest]] = SeenRequest

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        options: dict[str, Option[Any]] = {}
        for klass in reversed(cls.__mro__):
            options.update((n, v) for n, v in vars(klass).items() if isinstance(v, Option))
        cls.options = options
        declared = [r for value in vars(cls).values() for r in getattr(value, _ROUTES, ())]
        if declared:
            cls.routes = (*cls.routes, *declared)
        cls.settings = {n: o.convert for n, o in options.items() if o.settable}

    def __init__(self, *, clock: Callable[[], float] = time.time, **options: Any) -> None:
        """``options``: values for the network's knobs (:attr:`options`), checked by each
        option's converter; ``clock`` is the sandbox's wall clock (seconds since the epoch)."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise TypeError(f"unknown option(s): {', '.join(sorted(unknown))}")
        for name, value in options.items():
            setattr(self, name, self.options[name].convert(value))
        self.clock = clock
        #: Seconds added before every answer (requests are processed first, then answered late).
        self.delay = 0.0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._faults: FaultSwitches[FailT, RateT] = FaultSwitches()
        self._held = threading.Event()
        self._release_gate = threading.Event()
        self._server = LoopbackServer(self)
        self._in_process_url: str | None = None
        #: The credentials the sandbox takes: token -> whose (the network's own record).
        self._tokens: dict[str, Any] = {}
        #: Every request to the network's API as it arrived (``_seen`` says what is kept).
        self.requests_seen: list[Any] = []

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Serve on a free loopback port (rehearsals, end-to-end tests, other processes)."""
        self._stopping.clear()
        self._server.start()
        return self

    def start_in_process(self) -> Self:
        """Serve without a socket: :attr:`url` becomes a name that only sessions given to
        :meth:`mount` reach (unit tests; no port, no threads)."""
        self._stopping.clear()
        if self._in_process_url is None:
            self._in_process_url = f"http://sandbox-{next(_in_process_numbers)}.invalid"
        return self

    def mount(self, session: requests.Session) -> requests.Session:
        """Let ``session`` reach this sandbox; returns ``session``. In-process, its requests
        for :attr:`url` are routed to :meth:`handle`; on loopback there is nothing to do."""
        from campaign_scheduler.sandbox._inprocess import InProcessAdapter

        if self._in_process_url is not None and not self._server.running:
            session.mount(self._in_process_url + "/", InProcessAdapter(self))
        return session

    def session(self) -> requests.Session:
        """A new ``requests`` session that reaches this sandbox (see :meth:`mount`)."""
        import requests

        return self.mount(requests.Session())

    def stop(self) -> None:
        """Stop serving; held and delayed requests are let go first."""
        self._stopping.set()
        with self._lock:
            self._release_gate.set()
        self._server.stop()

    def __enter__(self) -> Self:
        """Start on loopback, unless already started in-process."""
        return self if self._in_process_url is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (only while running), or the in-process name."""
        if self._in_process_url is not None and not self._server.running:
            return self._in_process_url
        return self._server.url

    # --- fault switches -----------------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """The next ``count`` creations get ``status`` and create nothing."""
        raise NotImplementedError

    def rate_limit_next(self, count: int = 1, reset_in: float = 60.0) -> None:
        """The next ``count`` creations are rate limited until ``reset_in`` s from now."""
        raise NotImplementedError

    def revoke(self, token: str) -> None:
        """Later calls with the credential ``token`` are refused, in the network's words for
        an unknown or expired credential."""
        with self._lock:
            self._tokens.pop(token, None)

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

    def _fail_processing(self, count: int) -> None:
        """The next ``count`` uploads fail processing (see :meth:`_processing_fails`)."""
        with self._lock:
            self._faults.processing += count

    def _processing_fails(self) -> bool:
        """Whether this upload's processing fails (using up one of :meth:`_fail_processing`)."""
        with self._lock:
            fails = self._faults.processing > 0
            self._faults.processing -= fails
            return fails

    def _queue_failures(self, count: int, failure: FailT) -> None:
        with self._lock:
            self._faults.fail.extend([failure] * count)

    def _queue_rate_limits(self, count: int, limit: RateT) -> None:
        with self._lock:
            self._faults.rate_limit.extend([limit] * count)

    def _listing(
        self,
        records: Iterable[RecordT],
        snap: Callable[[RecordT], SnapshotT],
        keep: Callable[[RecordT], bool],
    ) -> list[SnapshotT]:
        """``snap`` of each of ``records`` that ``keep`` keeps, read under the lock (what the
        inspection methods such as ``statuses()`` answer)."""
        with self._lock:
            return [snap(record) for record in records if keep(record)]

    # --- request handling ---------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Answer ``request`` (the loopback server calls this on its own threads)."""
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        self._record(request)
        try:
            response, after = self._route(request)
        except Answer as answer:
            response, after = answer.response, None
        return self._deliver(response, after)

    def _route(self, request: HttpRequest) -> tuple[HttpResponse, str | None]:
        """The network's answer to ``request`` and what happens after it ("drop", "hold",
        ``None``; from :meth:`_begin_create`): the first of :attr:`routes` whose method and
        pattern fit answers it; a path that fits only under another method is answered
        :attr:`wrong_method_status`, any other 404, in the network's error envelope. A network
        whose paths do not lend themselves to a table overrides this."""
        path_known = False
        for candidate in self.routes:
            match = candidate.pattern.fullmatch(request.path)
            if match is None:
                continue
            if candidate.method != request.method:
                path_known = True
                continue
            parts = [None if part is None else unquote(part) for part in match.groups()]
            handler = getattr(self, candidate.handler)
            result = handler(request, *self._route_context(request), *parts)
            return result if isinstance(result, tuple) else (result, None)
        return self._no_route(request, path_known), None

    def _no_route(self, request: HttpRequest, path_known: bool) -> HttpResponse:
        """The answer to a request no route takes (``path_known``: one takes its path with
        another method): :attr:`wrong_method_status` or 404, in the network's envelope."""
        status = self.wrong_method_status if path_known else 404
        return self._error_envelope(status, self.unknown_route_message)

    def _route_context(self, request: HttpRequest) -> tuple[Any, ...]:
        """What every route's handler gets after the request, before the path's parts (e.g.
        the authenticated caller); raise :class:`Answer` to refuse the request instead."""
        return ()

    def _seen(self, request: HttpRequest, monotonic: float, wall: float) -> Any:
        """What ``requests_seen`` keeps of ``request`` (never a credential; ``None`` keeps
        nothing): by default a :attr:`seen_type` of the request's method, path and query,
        and what :meth:`_seen_fields` adds or replaces."""
        fields: dict[str, Any] = {
            "method": request.method,
            "path": request.path,
            "query": urlencode(request.query, doseq=True),
            "monotonic": monotonic,
            "wall": wall,
        }
        return self.seen_type(**(fields | self._seen_fields(request)))

    def _seen_fields(self, request: HttpRequest) -> dict[str, Any]:
        """The fields of the network's :attr:`seen_type` beyond :class:`SeenRequest`'s, and
        those it keeps otherwise (e.g. the path URL-decoded)."""
        return {}

    def _record(self, request: HttpRequest) -> None:
        seen = self._seen(request, time.monotonic(), time.time())
        if seen is not None:
            with self._lock:
                self.requests_seen.append(seen)

    def _error_envelope(self, status: int, message: str) -> HttpResponse:
        """An error in the network's own envelope (also used for the control routes)."""
        return json_response(status, {"error": message})

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

    def _create_unless_faulted(
        self,
        failure: Callable[[FailT], HttpResponse],
        rate_limited: Callable[[RateT], HttpResponse],
        create: Callable[[], HttpResponse],
    ) -> tuple[HttpResponse, str | None]:
        """A creating call through the fault queues: the failure or rate limit queued for it
        (``failure(...)``, ``rate_limited(...)``), or else ``create()``, run under the lock,
        and what happens after its answer (for :meth:`_deliver`)."""
        with self._lock:
            error, after = self._begin_create(failure, rate_limited)
            if error is not None:
                return error, None
            return create(), after

    def _deliver(
        self, response: HttpResponse, after: str | None, *, extra_delay: float = 0.0
    ) -> HttpResponse:
        """``response`` as the fault switches want it: dropped, or after ``delay`` (plus
        ``extra_delay``) seconds, and held until released when ``after`` is "hold"."""
        if after == "drop":
            response.drop = True
            return response
        wait = self.delay + extra_delay
        patience = read_timeout()  # the in-process client's read timeout, if any
        if wait > 0:
            if patience is not None and wait >= patience:
                # The client would give up before the answer: tell it so at once.
                response.late = True
                return response
            self._stopping.wait(wait)
        if after == "hold":
            with self._lock:
                gate, held = self._release_gate, self._held
            held.set()
            if not gate.wait(None if patience is None else max(patience - wait, 0.0)):
                response.late = True
        return response

    # --- control over HTTP --------------------------------------------------------------------

    def _views(self) -> Mapping[str, Callable[[], Any]]:
        """``GET /_sandbox/<name>`` routes beyond ``requests``: the sandbox's methods
        ``_view_<name>``, each returning a JSON-able value."""
        return self._methods_named("_view_")

    def _controls(self) -> Mapping[str, Callable[[dict[str, Any]], Any]]:
        """``POST /_sandbox/<name>`` routes beyond ``faults`` and ``settings``: the sandbox's
        methods ``_control_<name>``, each a handler of the JSON object body, returning what to
        answer (``None``: ``{"ok": true}``). A missing key (KeyError) or a bad value
        (TypeError, ValueError) is answered 400."""
        return self._methods_named("_control_")

    def _methods_named(self, prefix: str) -> dict[str, Callable[..., Any]]:
        """The methods whose names start with ``prefix``, by the rest of their names."""
        return {
            name.removeprefix(prefix): getattr(self, name)
            for name in dir(type(self))
            if name.startswith(prefix)
        }

    def apply_settings(self, body: Mapping[str, Any]) -> None:
        """Change the settings named in ``body`` (see :attr:`settings`); nothing changes when
        a name is unknown or a value is bad (ValueError)."""
        only_known("setting", body, self.settings)
        values = {}
        for name, value in body.items():
            try:
                values[name] = self.settings[name](value)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name}: {exc}") from exc
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)

    def _control(self, request: HttpRequest) -> HttpResponse:
        if request.client_host not in LOOPBACK_HOSTS:
            return self._error_envelope(
                403, "the sandbox control API answers loopback clients only"
            )
        name = request.path.removeprefix("/_sandbox/")
        if request.method == "GET":
            if name == "requests":
                with self._lock:
                    seen = [_plain(r) for r in self.requests_seen]
                return json_response(200, seen)
            view = self._views().get(name)
            if view is not None:
                return json_response(200, view())
        if request.method != "POST":
            return self._error_envelope(404, "no such sandbox control")
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            return self._error_envelope(400, "the body must be JSON")
        if not isinstance(body, dict):
            return self._error_envelope(400, "the body must be a JSON object")
        controls: dict[str, Callable[[dict[str, Any]], Any]] = {"faults": self._apply_faults}
        if self.settings:
            controls["settings"] = self.apply_settings
        controls.update(self._controls())
        control = controls.get(name)
        if control is None:
            return self._error_envelope(404, "no such sandbox control")
        try:
            result = control(body)
        except KeyError as exc:
            return self._error_envelope(400, f"missing or unknown: {exc.args[0]}")
        except (TypeError, ValueError) as exc:
            return self._error_envelope(400, str(exc))
        return json_response(200, OK if result is None else result)

    def _extra_faults(self) -> Mapping[str, Callable[[Any], None]]:
        """Faults beyond :data:`COMMON_FAULTS` that this sandbox accepts: name -> what applies
        the fault's value (a spec object, ``true`` or a number)."""
        return {}

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
        extra = self._extra_faults()
        if self.processing_fault is not None:
            processing = self.processing_fault
            extra = {**extra, processing: lambda v: self._fail_processing(fault_count(v))}
        only_known("fault", body, COMMON_FAULTS | set(extra))
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
        for name, apply in extra.items():
            if name in body:
                apply(body[name])


def _plain(record: Any) -> Any:
    """A recorded request as JSON-able data."""
    return asdict(record) if is_dataclass(record) and not isinstance(record, type) else record
