"""The in-process transport: a sandbox answers a ``requests`` session without a socket or a
thread, and a client sees what it would see from the loopback server."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from campaign_scheduler.channels._http import send
from campaign_scheduler.errors import OutcomeUnknownError
from campaign_scheduler.sandbox import MastodonSandbox
from campaign_scheduler.sandbox._server import HttpRequest, HttpResponse


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    sandbox = MastodonSandbox().start_in_process()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def http(sandbox: MastodonSandbox) -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield sandbox.mount(session)


def _status(http: requests.Session, sandbox: MastodonSandbox, token: str, text: str) -> int:
    answer = http.post(
        f"{sandbox.url}/api/v1/statuses",
        json={"status": text},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": text},
        timeout=5,
    )
    return answer.status_code


def test_requests_reach_the_sandbox_without_a_socket_or_a_thread(
    sandbox: MastodonSandbox, http: requests.Session
) -> None:
    threads_before = threading.active_count()
    token = sandbox.add_account("soest")

    assert _status(http, sandbox, token, "Hallo Soest") == 200
    instance = http.get(f"{sandbox.url}/api/v2/instance", timeout=5)

    assert instance.json()["configuration"]["statuses"]["max_characters"] == 500
    assert instance.headers["Content-Type"].startswith("application/json")
    assert [s.text for s in sandbox.statuses()] == ["Hallo Soest"]
    assert sandbox.requests_seen[0].idempotency_key == "Hallo Soest"
    assert threading.active_count() == threads_before
    assert sandbox.url.endswith(".invalid")  # no port was bound


def test_the_sandbox_judges_what_arrives_as_it_would_over_a_socket(
    sandbox: MastodonSandbox, http: requests.Session
) -> None:
    token = sandbox.add_account("soest")

    assert _status(http, sandbox, token, "a" * 500) == 200
    assert _status(http, sandbox, token, "a" * 501) == 422
    assert _status(http, sandbox, "wrong", "b") == 401


def test_the_control_routes_answer(sandbox: MastodonSandbox, http: requests.Session) -> None:
    created = http.post(f"{sandbox.url}/_sandbox/accounts", json={"username": "olpe"}, timeout=5)
    assert _status(http, sandbox, created.json()["token"], "Hallo Olpe") == 200

    listed = http.get(f"{sandbox.url}/_sandbox/statuses", timeout=5).json()
    unknown = http.post(f"{sandbox.url}/_sandbox/nothing", json={}, timeout=5)

    assert [s["text"] for s in listed] == ["Hallo Olpe"]
    assert unknown.status_code == 404 and "error" in unknown.json()


def test_a_dropped_answer_is_an_unknown_outcome_after_the_post_was_created(
    sandbox: MastodonSandbox, http: requests.Session
) -> None:
    token = sandbox.add_account("soest")
    sandbox.drop_after_create()

    with pytest.raises(OutcomeUnknownError, match="connection closed without a response"):
        send(
            http,
            "POST",
            f"{sandbox.url}/api/v1/statuses",
            timeout=5,
            json={"status": "verloren"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert [s.text for s in sandbox.statuses()] == ["verloren"]


def test_an_answer_later_than_the_read_timeout_times_out_at_once(
    sandbox: MastodonSandbox, http: requests.Session
) -> None:
    token = sandbox.add_account("soest")
    sandbox.delay = 3600.0  # far longer than the test may take: nothing waits for it

    with pytest.raises(OutcomeUnknownError, match="read timeout"):
        send(
            http,
            "POST",
            f"{sandbox.url}/api/v1/statuses",
            timeout=(5, 30),
            json={"status": "spät"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert [s.text for s in sandbox.statuses()] == ["spät"]


def test_a_held_answer_arrives_when_released(
    sandbox: MastodonSandbox, http: requests.Session
) -> None:
    token = sandbox.add_account("soest")
    held = sandbox.hold_after_create()
    answers: list[int] = []
    client = threading.Thread(
        target=lambda: answers.append(_status(http, sandbox, token, "gehalten"))
    )
    client.start()

    assert held.wait(10)
    assert answers == [] and len(sandbox.statuses()) == 1
    sandbox.release()
    client.join(10)
    assert answers == [200]


def test_a_held_answer_past_the_read_timeout_times_out(
    sandbox: MastodonSandbox, http: requests.Session
) -> None:
    token = sandbox.add_account("soest")
    sandbox.hold_after_create()

    with pytest.raises(requests.ReadTimeout):
        http.post(
            f"{sandbox.url}/api/v1/statuses",
            json={"status": "nie beantwortet"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=0.01,
        )
    assert len(sandbox.statuses()) == 1


def test_a_sandbox_bug_answers_500(http: requests.Session) -> None:
    class Broken(MastodonSandbox):
        def handle(self, request: HttpRequest) -> HttpResponse:
            raise RuntimeError("bug")

    broken = Broken().start_in_process()
    broken.mount(http)

    assert http.get(f"{broken.url}/api/v2/instance", timeout=5).status_code == 500


def test_on_loopback_mount_leaves_the_session_on_the_socket() -> None:
    with MastodonSandbox() as sandbox, requests.Session() as session:
        sandbox.mount(session)

        answer = session.get(f"{sandbox.url}/_sandbox/connection", timeout=5)
        assert sandbox.url.startswith("http://127.0.0.1:")

    assert answer.json() == {"tcp_nodelay": True}  # only the socket server answers this
