"""One HTTP call of a connect flow (``auth.base.request_json``): what each answer becomes.

The OAuth flows of Meta, LinkedIn and X and the flows of Mastodon, Bluesky, Matrix and Telegram
go through this one function, so a refusal, a server failure and a lost connection mean the
same for every network."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from campaign_scheduler.auth.base import ConnectContext, request_json
from campaign_scheduler.errors import AuthError, ChannelError, UnavailableError


class Scripted(requests.adapters.BaseAdapter):
    """A transport that answers with one scripted answer (or raises one error)."""

    def __init__(self, answer: Any) -> None:
        super().__init__()
        self.answer = answer

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        if isinstance(self.answer, Exception):
            raise self.answer
        status, body = self.answer
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if body is not None else b"<html>"
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        pass


def call(answer: Any) -> dict[str, Any]:
    session = requests.Session()
    session.mount("https://", Scripted(answer))
    ctx = ConnectContext("main", "facebook", "https://graph.example", {}, session)
    return request_json(
        ctx,
        "GET",
        "https://graph.example/oauth/access_token?client_secret=S3CRET",
        network="facebook",
        what="exchanging the code",
    )


GRAPH_EXPIRED = {"error": {"message": "Session has expired", "type": "OAuthException", "code": 190}}


@pytest.mark.parametrize(
    "answer",
    [
        (400, GRAPH_EXPIRED),  # Graph sends its OAuth refusals as 400
        (400, {"error": "invalid_grant", "error_description": "code used"}),  # RFC 6749
        (401, {"error": "invalid_client"}),
        (403, {"message": "Not enough permissions"}),
    ],
)
def test_a_refusal_of_the_credentials_is_an_auth_error(answer: Any) -> None:
    with pytest.raises(AuthError) as refused:
        call(answer)
    assert "S3CRET" not in str(refused.value)
    assert refused.value.network_message


def test_another_client_error_is_a_channel_error_not_an_auth_error() -> None:
    with pytest.raises(ChannelError) as failed:
        call((422, {"message": "field x is invalid"}))
    assert not isinstance(failed.value, AuthError)
    assert "field x is invalid" in str(failed.value)


@pytest.mark.parametrize(
    "answer", [(503, None), (500, {"error": {"message": "An unknown error occurred"}})]
)
def test_a_server_failure_is_temporary(answer: Any) -> None:
    with pytest.raises(UnavailableError):
        call(answer)


def test_an_unreachable_network_is_temporary_and_names_no_secret() -> None:
    with pytest.raises(UnavailableError) as failed:
        call(requests.ConnectionError("refused https://graph.example/?client_secret=S3CRET"))
    assert "S3CRET" not in str(failed.value)


@pytest.mark.parametrize("body", [None, ["a", "list"]])
def test_an_answer_that_is_not_a_json_object_is_a_channel_error(body: Any) -> None:
    with pytest.raises(ChannelError, match="exchanging the code"):
        call((200, body))


def test_the_json_object_of_a_success() -> None:
    assert call((200, {"access_token": "t"})) == {"access_token": "t"}
