"""The API client every adapter talks through (channels/_http.py): one reset-time parser, one
decision "unknown or unavailable", JSON that is checked, and the default status ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from campaign_scheduler.channels._http import (
    ApiClient,
    GoneError,
    make_session,
    reset_time,
    retry_at,
)
from campaign_scheduler.channels.base import AccountSettings
from campaign_scheduler.errors import (
    AuthError,
    OutcomeUnknownError,
    RateLimitedError,
    RejectedError,
    UnavailableError,
)

NOW = datetime(2026, 5, 1, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", NOW + timedelta(seconds=120)),
        ("1.5", NOW + timedelta(seconds=1.5)),
        ("0", NOW),
        (str(int((NOW + timedelta(minutes=5)).timestamp())), NOW + timedelta(minutes=5)),
        ("Fri, 01 May 2026 15:10:00 GMT", NOW + timedelta(minutes=10)),
        ("2026-05-01T15:20:00.000000Z", NOW + timedelta(minutes=20)),
        ("2026-05-01T17:30:00+02:00", NOW + timedelta(minutes=30)),
        ("2026-05-01T15:40:00", NOW + timedelta(minutes=40)),  # no zone: UTC
    ],
)
def test_every_form_of_reset_time_is_understood(value: str, expected: datetime) -> None:
    assert reset_time(value, NOW) == expected


@pytest.mark.parametrize("value", ["", "  ", "soon", "-5", "nan", "inf", None, "1e400"])
def test_unreadable_reset_times_are_none(value: str | None) -> None:
    assert reset_time(value, NOW) is None


def test_a_reset_time_in_the_past_means_now() -> None:
    assert reset_time("Fri, 01 May 2026 14:00:00 GMT", NOW) == NOW


def test_retry_at_takes_the_first_readable_header_else_a_minute() -> None:
    headers = {"X-RateLimit-Reset": "garbage", "Retry-After": "30"}
    assert retry_at(headers, NOW, names=("X-RateLimit-Reset", "Retry-After")) == NOW + timedelta(
        seconds=30
    )
    assert retry_at({}, NOW) == NOW + timedelta(minutes=1)


# --- the client ---------------------------------------------------------------------------------


class Scripted(requests.adapters.BaseAdapter):
    """A transport that answers every request with the next scripted answer or error."""

    def __init__(self, *answers: Any) -> None:
        super().__init__()
        self.answers = list(answers)
        self.sent: list[requests.PreparedRequest] = []
        self.proxies: list[dict[str, str]] = []  # the proxies each request was sent through

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        self.sent.append(request)
        self.proxies.append(kwargs.get("proxies") or {})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body, headers = answer
        response = requests.Response()
        response.status_code = status
        response._content = body
        response.headers.update(headers)
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def client(*answers: Any, secret: str = "tok") -> tuple[ApiClient, Scripted]:
    transport = Scripted(*answers)
    session = requests.Session()
    session.mount("https://", transport)
    account = AccountSettings("soest-net", "https://net.example", secret=lambda key: secret)
    return ApiClient("net", account, session, clock=lambda: NOW), transport


def test_the_token_goes_in_a_bearer_header() -> None:
    api, transport = client((200, b"{}", {}))
    api.call("GET", "/me")
    assert transport.sent[0].headers["Authorization"] == "Bearer tok"


def test_an_empty_token_is_an_auth_error_before_anything_is_sent() -> None:
    api, transport = client((200, b"{}", {}), secret="")
    with pytest.raises(AuthError, match="has no access token"):
        api.call("GET", "/me")
    assert transport.sent == []


def test_a_lost_answer_is_unknown_only_on_a_call_that_can_create() -> None:
    lost = requests.exceptions.ReadTimeout("read timed out")
    api, _ = client(lost, lost)
    with pytest.raises(OutcomeUnknownError):
        api.call("POST", "/posts", creates=True)
    with pytest.raises(UnavailableError):
        api.call("GET", "/posts")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthError),
        (403, AuthError),
        (404, GoneError),
        (410, GoneError),
        (422, RejectedError),
        (500, UnavailableError),
        (502, UnavailableError),
    ],
)
def test_the_default_status_ladder(status: int, error: type[Exception]) -> None:
    api, _ = client((status, b'{"error": "nope"}', {}))
    with pytest.raises(error, match="nope"):
        api.call("GET", "/me")


@pytest.mark.parametrize("status", [502, 504])
def test_a_gateway_error_on_a_creating_call_is_unknown(status: int) -> None:
    api, _ = client((status, b"", {}))
    with pytest.raises(OutcomeUnknownError):
        api.call("POST", "/posts", creates=True)


def test_a_rate_limit_says_when_from_the_clock_passed_in() -> None:
    api, _ = client((429, b"", {"Retry-After": "90"}))
    with pytest.raises(RateLimitedError) as caught:
        api.call("GET", "/me")
    assert caught.value.retry_at == NOW + timedelta(seconds=90)


def test_an_answer_that_is_not_json_is_unavailable_not_a_crash() -> None:
    api, _ = client((200, b"<html>maintenance</html>", {}))
    with pytest.raises(UnavailableError, match="not a JSON object"):
        api.json_object(api.call("GET", "/me"))


def test_an_unreadable_answer_to_a_creating_call_is_unknown() -> None:
    api, _ = client((200, b"[1, 2]", {}))
    with pytest.raises(OutcomeUnknownError):
        api.json_object(api.call("POST", "/posts", creates=True), creates=True)


def _api_classes() -> list[type[ApiClient]]:
    from campaign_scheduler.channels.registry import available_channels, channel_class

    found = []
    for name in available_channels():
        api_class = channel_class(name).api_class
        if api_class is not None and api_class not in found:
            found.append(api_class)
    return found


@pytest.mark.parametrize("api_class", _api_classes(), ids=lambda cls: cls.__name__)
def test_every_network_reads_retry_after_as_seconds_or_an_http_date(
    api_class: type[ApiClient],
) -> None:
    """The drift the shared parser ended: two adapters did not understand the HTTP-date form."""
    account = AccountSettings("a", "https://net.example", secret=lambda key: "tok")
    api = api_class("net", account, requests.Session(), clock=lambda: NOW)
    for value, expected in [
        ("45", NOW + timedelta(seconds=45)),
        ("Fri, 01 May 2026 15:10:00 GMT", NOW + timedelta(minutes=10)),
    ]:
        response = requests.Response()
        response.status_code = 429
        response.headers["Retry-After"] = value
        response._content = b"{}"
        assert api.retry_at(response) == expected


class _Dialect(ApiClient):
    """A network with a fact of its own for each hook of the ladder."""

    auth_statuses = {404: ("the token is unknown", "get a new token")}  # noqa: RUF012
    doubtful_statuses = frozenset({503})
    doubt = "the note may be out"

    def network_error(
        self, response: requests.Response, said: str, where: str, *, creates: bool
    ) -> RejectedError | None:
        if response.status_code == 400 and "duplicate" in said:
            return RejectedError(f"{where}: duplicate")
        return None


def dialect(*answers: Any) -> ApiClient:
    api, _ = client(*answers)
    return _Dialect("net", api.account, api.session, clock=lambda: NOW)


def test_a_network_overrides_only_its_own_facts_of_the_ladder() -> None:
    api = dialect(
        (404, b'{"error": "who?"}', {}),
        (503, b"", {}),
        (503, b"", {}),
        (400, b'{"error": "duplicate"}', {}),
        (400, b'{"error": "too long"}', {}),
    )
    with pytest.raises(AuthError, match="the token is unknown") as auth:
        api.call("GET", "/me")
    assert auth.value.hint == "get a new token"
    with pytest.raises(OutcomeUnknownError, match="the note may be out"):
        api.call("POST", "/notes", creates=True)
    with pytest.raises(UnavailableError):
        api.call("GET", "/notes")
    with pytest.raises(RejectedError, match="POST /notes: duplicate"):
        api.call("POST", "/notes", creates=True)
    with pytest.raises(RejectedError, match=r"refused \(400: too long\)"):
        api.call("POST", "/notes", creates=True)


# --- the session ----------------------------------------------------------------------------


def test_a_session_reads_the_environment_once_per_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Proxies and ``NO_PROXY`` are looked up for the first request to a server, not for each
    (a plain session scans the whole environment every time); what they say still applies."""
    looked_up: list[str] = []
    environ_proxies = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: Any = None) -> Any:
        looked_up.append(url)
        return environ_proxies(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    session = make_session()

    def proxy(url: str, where: requests.Session = session) -> str | None:
        settings = where.merge_environment_settings(url, {}, True, None, None)
        return settings["proxies"].get("https")

    for path in ("statuses", "statuses", "media"):
        assert proxy(f"https://social.example/api/v1/{path}") == "http://proxy.example:3128"
        assert proxy(f"https://direct.example/api/v1/{path}") is None
    assert looked_up == [
        "https://social.example/api/v1/statuses",
        "https://direct.example/api/v1/statuses",
    ]
    assert proxy("https://social.example/x", make_session()) == "http://proxy.example:3128"
    assert len(looked_up) == 3  # a session of its own asks anew


def _session_client(
    session: requests.Session, *answers: Any, base_url: str = "https://net.example"
) -> tuple[ApiClient, Scripted]:
    transport = Scripted(*answers)
    session.mount("https://", transport)
    account = AccountSettings("soest-net", base_url, secret=lambda key: "tok")
    return ApiClient("net", account, session, clock=lambda: NOW), transport


def test_a_proxy_set_in_the_environment_carries_every_call_of_an_adapters_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    api, transport = _session_client(make_session(), *[(200, b"{}", {})] * 3)
    for _ in range(3):
        api.call("POST", "/statuses", creates=True)
    assert [proxies.get("https") for proxies in transport.proxies] == [
        "http://proxy.example:3128"
    ] * 3
    direct, transport = _session_client(
        make_session(), (200, b"{}", {}), base_url="https://direct.example"
    )
    direct.call("GET", "/me")
    assert transport.proxies[0].get("https") is None


@pytest.fixture
def netrc_file(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``$NETRC`` with credentials for net.example; the list names each time it is parsed."""
    import netrc

    path = tmp_path / "netrc"
    path.write_text("machine net.example login nutzer password geheim\n", encoding="utf-8")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    parsed: list[str] = []
    original = netrc.netrc

    class Counted(original):  # type: ignore[valid-type,misc]
        def __init__(self, file: str | None = None) -> None:
            parsed.append(str(file))
            super().__init__(file)

    monkeypatch.setattr(netrc, "netrc", Counted)
    return parsed


def test_netrc_credentials_still_apply_and_the_file_is_read_once_per_host(
    netrc_file: list[str],
) -> None:
    import base64

    api, transport = _session_client(make_session(), *[(200, b"{}", {})] * 3)
    for _ in range(3):
        api.call("GET", "/instance", authenticate=False)
    basic = "Basic " + base64.b64encode(b"nutzer:geheim").decode()
    assert [sent.headers.get("Authorization") for sent in transport.sent] == [basic] * 3
    assert len(netrc_file) == 1  # a plain session parses it at every request


def test_a_host_netrc_does_not_name_gets_no_credentials_and_user_info_still_counts(
    netrc_file: list[str],
) -> None:
    import base64

    api, transport = _session_client(
        make_session(), (200, b"{}", {}), (200, b"{}", {}), base_url="https://other.example"
    )
    api.call("GET", "/instance", authenticate=False)
    api.call("GET", "https://ich:pw@other.example/instance", authenticate=False)
    assert "Authorization" not in transport.sent[0].headers
    assert transport.sent[1].headers["Authorization"] == (
        "Basic " + base64.b64encode(b"ich:pw").decode()
    )
    assert len(netrc_file) == 1


def test_a_session_reads_the_environments_proxy_settings_once_per_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests scans the environment at every request; a daemon's environment does not
    change while it runs, so the session asks once per origin and keeps what it found."""
    import requests.sessions

    from campaign_scheduler.channels._http import make_session

    real = requests.sessions.get_environ_proxies
    asked: list[str] = []

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        asked.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = make_session()
    settings = [
        session.merge_environment_settings(url, {}, None, None, None)
        for url in (
            "https://social.example/api/v1/statuses",
            "https://social.example/api/v1/media",
            "https://other.example/api/v1/statuses",
        )
    ]
    assert len(asked) == 2  # one per origin
    for found in settings:  # the proxy of the environment is still used
        assert found["proxies"]["https"] == "http://proxy.example:3128"
    settings[0]["proxies"]["https"] = "changed by a request"
    again = session.merge_environment_settings("https://social.example/x", {}, None, None, None)
    assert again["proxies"]["https"] == "http://proxy.example:3128"
    # Settings given to a request itself are merged as requests does, not kept.
    own = session.merge_environment_settings(
        "https://social.example/x", {"https": "http://mine.example:1"}, None, None, None
    )
    assert own["proxies"]["https"] == "http://mine.example:1"


def test_an_auth_given_to_a_request_wins_over_netrc(netrc_file: list[str]) -> None:
    session = make_session()
    kept = session.prepare_request(requests.Request("POST", "https://net.example/x"))
    assert kept.headers["Authorization"].startswith("Basic ")
    own = session.prepare_request(
        requests.Request(
            "POST",
            "https://net.example/x",
            auth=lambda request: request,  # type: ignore[arg-type,return-value]
        )
    )
    assert "Authorization" not in own.headers


def _plain_prepared(request: requests.Request) -> requests.PreparedRequest:
    """``request`` as a plain requests session with our User-Agent prepares it."""
    plain = requests.Session()
    plain.trust_env = False
    plain.headers["User-Agent"] = make_session().headers["User-Agent"]
    return plain.prepare_request(request)


@pytest.mark.parametrize(
    "options",
    [
        {"json": {"status": "Hallo #5malklug"}, "headers": {"Idempotency-Key": "k1"}},
        {"params": {"q": "5malklug", "limit": "40"}, "headers": {"Accept": "text/plain"}},
        {"data": {"chat_id": "1", "text": "Hallo"}, "headers": {"Accept-Encoding": None}},
        {"files": {"file": ("bild.png", b"\x89PNG", "image/png")}, "data": {"alt": "Bild"}},
        {"data": b"raw", "headers": {"Content-Type": "application/octet-stream"}},
        {"auth": ("nutzer", "geheim")},
    ],
)
def test_an_adapters_session_prepares_a_request_as_requests_does(
    options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETRC", "/nonexistent")
    session = make_session()
    ours = session.prepare_request(requests.Request("POST", "https://net.example/x", **options))
    plain = _plain_prepared(requests.Request("POST", "https://net.example/x", **options))
    assert (ours.method, ours.url) == (plain.method, plain.url)
    if options.get("files"):  # a multipart body: its boundary is random
        boundary = ours.headers["Content-Type"].split("boundary=")[1].encode()
        plain_boundary = plain.headers["Content-Type"].split("boundary=")[1].encode()
        assert isinstance(ours.body, bytes) and isinstance(plain.body, bytes)
        assert ours.body.replace(boundary, b"-") == plain.body.replace(plain_boundary, b"-")
        plain.headers["Content-Type"] = ours.headers["Content-Type"]
    else:
        assert ours.body == plain.body
    assert list(ours.headers.items()) == list(plain.headers.items())


def test_a_cookie_a_server_sets_is_sent_back_as_by_requests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NETRC", "/nonexistent")
    session = make_session()
    assert (
        "Cookie"
        not in session.prepare_request(requests.Request("GET", "https://a.example/")).headers
    )
    session.cookies.set("sticky", "b1", domain="a.example", path="/")
    again = session.prepare_request(requests.Request("GET", "https://a.example/x"))
    assert again.headers["Cookie"] == "sticky=b1"
    own = session.prepare_request(
        requests.Request("GET", "https://a.example/x", cookies={"mine": "1"})
    )
    assert sorted(own.headers["Cookie"].split("; ")) == ["mine=1", "sticky=b1"]
