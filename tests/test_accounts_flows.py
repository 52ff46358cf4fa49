"""Connect flows for Bluesky, Telegram and Matrix, end to end against their sandboxes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from campaign_scheduler.auth.base import ConnectContext, flow_for
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.errors import AuthError, ChannelError
from campaign_scheduler.sandbox.bluesky import BlueskySandbox
from campaign_scheduler.sandbox.matrix import MatrixSandbox
from campaign_scheduler.sandbox.telegram import TelegramSandbox
from campaign_scheduler.uilang import tr


class Person:
    """Answers prompts by a word in them; an answer may be a function (doing something first)."""

    def __init__(self, answers: dict[str, str | Callable[[], str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, bool]] = []
        self.heard: list[str] = []

    def ask(self, prompt: str, secret: bool = False) -> str:
        self.asked.append((prompt, secret))
        for word, answer in self.answers.items():
            if word in prompt:
                return answer() if callable(answer) else answer
        raise AssertionError(f"unexpected prompt {prompt!r}")


def _ctx(
    channel: str, url: str, session: requests.Session, person: Person, **settings: Any
) -> ConnectContext:
    return ConnectContext(
        account_name=f"soest-{channel}",
        channel=channel,
        base_url=url,
        settings=settings,
        session=session,
        ask=person.ask,
        say=person.heard.append,
    )


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with make_session() as session:
        yield session


# --- Bluesky ----------------------------------------------------------------------------------


@pytest.fixture
def bluesky(http: requests.Session) -> Iterator[BlueskySandbox]:
    with BlueskySandbox().start_in_process() as sandbox:
        sandbox.mount(http)
        yield sandbox


def test_bluesky_connects_with_an_app_password(
    bluesky: BlueskySandbox, http: requests.Session
) -> None:
    app_password = bluesky.add_account("stadt-soest", main_password="geheim-geheim")
    person = Person({"App password": app_password})
    ctx = _ctx("bluesky", bluesky.url, http, person, identifier="stadt-soest.test")
    record = flow_for("bluesky").connect(ctx)
    assert record.access_token == app_password
    assert record.scope == "com.atproto.appPass" and record.expires_at is None
    assert record.extra == {"identifier": "stadt-soest.test", "did": bluesky.did_of("stadt-soest")}
    assert person.asked == [("App password (xxxx-xxxx-xxxx-xxxx): ", True)]
    assert "never the account's own password" in person.heard[0]
    assert "niemals das Passwort des Kontos" in tr(person.heard[0], "de")  # said where shown


def test_bluesky_refuses_the_main_password(bluesky: BlueskySandbox, http: requests.Session) -> None:
    bluesky.add_account("stadt-soest", main_password="geheim-geheim")
    person = Person({"App password": "geheim-geheim"})
    ctx = _ctx("bluesky", bluesky.url, http, person, identifier="stadt-soest.test")
    with pytest.raises(AuthError, match="account's own password") as caught:
        flow_for("bluesky").connect(ctx)
    assert "app password" in (caught.value.hint or "")


def test_bluesky_a_wrong_password_is_an_auth_error(
    bluesky: BlueskySandbox, http: requests.Session
) -> None:
    bluesky.add_account("stadt-soest")
    ctx = _ctx("bluesky", bluesky.url, http, Person({"App password": "aaaa-bbbb-cccc-dddd"}))
    ctx.settings = {"identifier": "stadt-soest.test"}
    with pytest.raises(AuthError, match="Invalid identifier or password"):
        flow_for("bluesky").connect(ctx)


def test_bluesky_app_passwords_come_from_create_app_password(
    bluesky: BlueskySandbox, http: requests.Session
) -> None:
    bluesky.add_account("stadt-soest", main_password="geheim-geheim")
    login = http.post(
        f"{bluesky.url}/xrpc/com.atproto.server.createSession",
        json={"identifier": "stadt-soest.test", "password": "geheim-geheim"},
        timeout=30,
    ).json()
    made = http.post(
        f"{bluesky.url}/xrpc/com.atproto.server.createAppPassword",
        json={"name": "campaign-scheduler"},
        headers={"Authorization": f"Bearer {login['accessJwt']}"},
        timeout=30,
    )
    assert made.status_code == 200
    ctx = _ctx("bluesky", bluesky.url, http, Person({"App password": made.json()["password"]}))
    ctx.settings = {"identifier": "stadt-soest.test"}
    assert flow_for("bluesky").connect(ctx).scope == "com.atproto.appPass"


# --- Telegram ---------------------------------------------------------------------------------


@pytest.fixture
def telegram(http: requests.Session) -> Iterator[TelegramSandbox]:
    with TelegramSandbox().start_in_process() as sandbox:
        sandbox.mount(http)
        yield sandbox


def test_telegram_finds_the_channel_the_bot_was_added_to(
    telegram: TelegramSandbox, http: requests.Session
) -> None:
    token = telegram.add_bot("soest_bot")
    chat_ids: list[int] = []

    def add_the_bot() -> str:
        chat_ids.append(telegram.add_channel("soest_news", title="Stadt Soest", admins=[token]))
        telegram.post_in_channel(chat_ids[0], "Hallo")
        return ""

    person = Person({"Bot token": token, "Enter": add_the_bot})
    record = flow_for("telegram").connect(_ctx("telegram", telegram.url, http, person))
    assert record.access_token == token
    assert record.extra == {"chat": str(chat_ids[0])}
    assert person.asked[0] == ("Bot token from @BotFather (123456:ABC…): ", True)
    assert any("@soest_bot" in line for line in person.heard)
    assert all(token not in line for line in person.heard)


def test_telegram_offers_a_choice_between_channels(
    telegram: TelegramSandbox, http: requests.Session
) -> None:
    token = telegram.add_bot("soest_bot")
    telegram.add_channel("a_news", title="A", admins=[token])
    second = telegram.add_channel("b_news", title="B", admins=[token])
    person = Person({"Bot token": token, "Enter": "", "Which channel": "2"})
    record = flow_for("telegram").connect(_ctx("telegram", telegram.url, http, person))
    assert record.extra["chat"] == str(second)


def test_telegram_says_when_the_bot_saw_no_channel(
    telegram: TelegramSandbox, http: requests.Session
) -> None:
    token = telegram.add_bot("soest_bot")
    person = Person({"Bot token": token, "Enter": ""})
    with pytest.raises(ChannelError, match="has not seen a channel") as caught:
        flow_for("telegram").connect(_ctx("telegram", telegram.url, http, person))
    assert token not in str(caught.value)


def test_telegram_a_revoked_token_is_refused(
    telegram: TelegramSandbox, http: requests.Session
) -> None:
    token = telegram.add_bot("soest_bot")
    telegram.revoke(token)
    with pytest.raises(AuthError, match="bot token was refused") as caught:
        flow_for("telegram").connect(_ctx("telegram", telegram.url, http, Person({"Bot": token})))
    assert token not in str(caught.value)


# --- Matrix -----------------------------------------------------------------------------------


@pytest.fixture
def matrix(http: requests.Session) -> Iterator[MatrixSandbox]:
    with MatrixSandbox().start_in_process() as sandbox:
        sandbox.mount(http)
        yield sandbox


def test_matrix_password_login_and_room_alias(
    matrix: MatrixSandbox, http: requests.Session
) -> None:
    room_id = matrix.add_room("5malklug")
    matrix.set_password("soest", "correct horse")
    person = Person({"[p/t]": "p", "Matrix user": "soest", "Password": "correct horse"})
    ctx = _ctx("matrix", matrix.url, http, person, room=f"#5malklug:{matrix.server_name}")
    record = flow_for("matrix").connect(ctx)
    assert record.extra["room"] == room_id
    assert record.extra["user_id"] == matrix.user_id("soest")
    who = http.get(
        f"{matrix.url}/_matrix/client/v3/account/whoami",
        headers={"Authorization": f"Bearer {record.access_token}"},
        timeout=30,
    ).json()
    assert who["user_id"] == matrix.user_id("soest")
    assert (
        matrix.user_id("soest")
        in http.get(
            f"{matrix.url}/_matrix/client/v3/rooms/{room_id}/joined_members",
            headers={"Authorization": f"Bearer {record.access_token}"},
            timeout=30,
        ).json()["joined"]
    )
    assert ("Password (not stored): ", True) in person.asked


def test_matrix_pasted_token(matrix: MatrixSandbox, http: requests.Session) -> None:
    room_id = matrix.add_room("5malklug")
    token = matrix.add_account("soest")
    person = Person(
        {"[p/t]": "t", "Access token": token, "Room": f"#5malklug:{matrix.server_name}"}
    )
    record = flow_for("matrix").connect(_ctx("matrix", matrix.url, http, person))
    assert (record.access_token, record.extra["room"]) == (token, room_id)


def test_matrix_wrong_password_and_unknown_alias(
    matrix: MatrixSandbox, http: requests.Session
) -> None:
    matrix.set_password("soest", "correct horse")
    wrong = Person({"[p/t]": "p", "Matrix user": "soest", "Password": "nope"})
    with pytest.raises(AuthError, match="Invalid username or password"):
        flow_for("matrix").connect(_ctx("matrix", matrix.url, http, wrong, room="!x:y"))
    token = matrix.add_account("soest")
    person = Person({"[p/t]": "t", "Access token": token})
    ctx = _ctx("matrix", matrix.url, http, person, room=f"#nowhere:{matrix.server_name}")
    with pytest.raises(ChannelError, match="not found"):
        flow_for("matrix").connect(ctx)
