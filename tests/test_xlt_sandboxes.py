"""The X, LinkedIn and Telegram sandboxes' own contracts, checked with plain HTTP (channels.md
§4, §7, §8, "Fake server must"), so that adapter tests run against something that answers
like the networks."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import requests
from PIL import Image
from requests_oauthlib import OAuth1  # type: ignore[import-untyped]

from campaign_scheduler.sandbox.linkedin import LinkedInAccount, LinkedInSandbox
from campaign_scheduler.sandbox.telegram import TelegramSandbox, parse_html
from campaign_scheduler.sandbox.x import XCredentials, XSandbox
from sandbox_clock import Clock


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = _png(16, 8)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.mark.parametrize("kind", [XSandbox, LinkedInSandbox, TelegramSandbox])
def test_every_sandbox_sets_tcp_nodelay_and_guards_its_controls(
    kind: type[XSandbox | LinkedInSandbox | TelegramSandbox], http: requests.Session
) -> None:
    with kind() as sandbox:
        answer = http.get(f"{sandbox.url}/_sandbox/connection", timeout=5)
        assert answer.json() == {"tcp_nodelay": True}
        unknown = http.post(f"{sandbox.url}/_sandbox/faults", json={"explode": 1}, timeout=5)
        assert unknown.status_code == 400
        delay = http.post(f"{sandbox.url}/_sandbox/faults", json={"delay": 0.25}, timeout=5)
        assert delay.ok and sandbox.delay == 0.25


# --- Telegram ---------------------------------------------------------------------------------


@pytest.fixture
def telegram(clock: Clock, http: requests.Session) -> Iterator[TelegramSandbox]:
    with TelegramSandbox(clock=clock).start_in_process() as sandbox:
        sandbox.mount(http)
        yield sandbox


@pytest.fixture
def bot(telegram: TelegramSandbox) -> str:
    token = telegram.add_bot("olpe_bot")
    telegram.add_channel("olpe_news", title="Kreisstadt Olpe", admins=[token])
    return token


def call(
    http: requests.Session, sandbox: TelegramSandbox, token: str, method: str, **kw: Any
) -> tuple[int, Any]:
    answer = http.post(f"{sandbox.url}/bot{token}/{method}", timeout=5, **kw)
    return answer.status_code, answer.json()


def test_telegram_routes_and_tokens(
    telegram: TelegramSandbox, bot: str, http: requests.Session
) -> None:
    assert http.get(f"{telegram.url}/bot{bot}/GETME", timeout=5).json()["result"]["username"] == (
        "olpe_bot"
    )
    assert call(http, telegram, bot, "noSuchMethod") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert http.get(f"{telegram.url}/getMe", timeout=5).status_code == 404
    assert call(http, telegram, "garbage", "getMe")[1]["description"] == (
        "Unauthorized: invalid token specified"
    )
    assert call(http, telegram, "1:unknown", "getMe")[1]["description"] == "Unauthorized"


@pytest.mark.parametrize("how", ["json", "data", "files", "params"])
def test_telegram_accepts_every_body_kind(
    telegram: TelegramSandbox, bot: str, http: requests.Session, how: str
) -> None:
    fields = {"chat_id": "@olpe_news", "text": "Olpe ist dabei"}
    body: dict[str, Any] = {how: fields}
    if how == "files":
        body = {"files": {k: (None, v) for k, v in fields.items()}}
    status, answer = call(http, telegram, bot, "sendMessage", **body)
    assert status == 200 and answer["result"]["text"] == "Olpe ist dabei"
    assert answer["result"]["chat"]["type"] == "channel"
    assert "from" not in answer["result"]


def test_telegram_html_entities_use_utf16_offsets() -> None:
    text, entities = parse_html(
        '👍 <b>fett</b> &amp; <a href="https://x.example/?a=1&amp;b=2">Link</a>'
    )
    assert text == "👍 fett & Link"
    assert entities == [
        {"offset": 3, "length": 4, "type": "bold"},
        {"offset": 10, "length": 4, "type": "text_link", "url": "https://x.example/?a=1&b=2"},
    ]
    assert parse_html("A & B &#228; &#x1F600; &nbsp;")[0] == "A & B ä 😀 &nbsp;"


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("a <foo>b</foo>", 'Unsupported start tag "foo" at byte offset 2'),
        ("ä <b>x</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
    ],
)
def test_telegram_html_errors(
    telegram: TelegramSandbox, bot: str, http: requests.Session, markup: str, error: str
) -> None:
    status, answer = call(
        http,
        telegram,
        bot,
        "sendMessage",
        json={"chat_id": "@olpe_news", "text": markup, "parse_mode": "HTML"},
    )
    assert status == 400
    assert answer["description"] == f"Bad Request: can't parse entities: {error}"


def test_telegram_strict_ampersand(
    telegram: TelegramSandbox, bot: str, http: requests.Session
) -> None:
    http.post(f"{telegram.url}/_sandbox/settings", json={"strict_ampersand": True}, timeout=5)
    status, answer = call(
        http,
        telegram,
        bot,
        "sendMessage",
        json={"chat_id": "@olpe_news", "text": "A & B", "parse_mode": "HTML"},
    )
    assert status == 400 and "Unsupported HTML entity" in answer["description"]


def test_telegram_limits_count_after_markup(
    telegram: TelegramSandbox, bot: str, http: requests.Session
) -> None:
    def send(text: str, **extra: Any) -> tuple[int, Any]:
        fields = {"chat_id": "@olpe_news", "text": text, "parse_mode": "HTML", **extra}
        return call(http, telegram, bot, "sendMessage", json=fields)

    assert send("<b>" + "x" * 4096 + "</b>")[0] == 200
    assert send("x" * 4097)[1]["description"] == "Bad Request: message is too long"
    assert send("😀" * 2049)[0] == 400  # 4098 UTF-16 units
    telegram.count_unit = "codepoints"
    assert send("😀" * 2049)[0] == 200
    assert send("  ")[1]["description"] == "Bad Request: message text is empty"
    caption = {"chat_id": "@olpe_news", "caption": "x" * 1025}
    status, answer = call(
        http, telegram, bot, "sendPhoto", data=caption, files={"photo": ("a.png", PNG, "image/png")}
    )
    assert (status, answer["description"]) == (400, "Bad Request: message caption is too long")


@pytest.mark.parametrize(
    ("method", "part", "limit", "too_big"),
    [
        ("sendPhoto", "photo", 10 * 1024 * 1024, (400, "Bad Request: file is too big")),
        ("sendVideo", "video", 50 * 1024 * 1024, (413, "Request Entity Too Large")),
    ],
)
def test_telegram_file_missing_or_too_big(
    telegram: TelegramSandbox,
    bot: str,
    http: requests.Session,
    method: str,
    part: str,
    limit: int,
    too_big: tuple[int, str],
) -> None:
    fields = {"chat_id": "@olpe_news", "caption": "Datei"}
    status, answer = call(http, telegram, bot, method, data=fields)
    assert (status, answer["description"]) == (
        400,
        f"Bad Request: there is no {part} in the request",
    )
    huge = {part: ("a.bin", b"\0" * (limit + 1), "application/octet-stream")}
    status, answer = call(http, telegram, bot, method, data=fields, files=huge)
    assert (status, answer["description"]) == too_big
    assert telegram.statuses() == []


def test_telegram_photo_and_reply(
    telegram: TelegramSandbox, bot: str, http: requests.Session
) -> None:
    status, first = call(
        http,
        telegram,
        bot,
        "sendPhoto",
        data={"chat_id": "@olpe_news", "caption": "Bild"},
        files={"photo": ("a.png", PNG, "image/png")},
    )
    assert status == 200 and first["result"]["photo"][-1]["width"] == 16
    replies = {"chat_id": "@olpe_news", "text": "Antwort", "reply_parameters": '{"message_id": 1}'}
    status, second = call(http, telegram, bot, "sendMessage", data=replies)
    assert status == 200 and second["result"]["reply_to_message"]["message_id"] == 1
    legacy = {"chat_id": "@olpe_news", "text": "x", "reply_to_message_id": 99}
    assert call(http, telegram, bot, "sendMessage", json=legacy)[1]["description"] == (
        "Bad Request: message to be replied not found"
    )
    lenient = {
        "chat_id": "@olpe_news",
        "text": "x",
        "reply_parameters": {"message_id": 99, "allow_sending_without_reply": True},
    }
    assert call(http, telegram, bot, "sendMessage", json=lenient)[0] == 200


def test_telegram_membership_and_rights(
    telegram: TelegramSandbox, bot: str, http: requests.Session
) -> None:
    stranger = telegram.add_bot("fremd_bot")
    muted = telegram.add_bot("stumm_bot")
    telegram.add_channel("olpe_intern", admins=[muted], can_post=False)
    text = {"text": "x"}
    assert call(
        http, telegram, stranger, "sendMessage", json={"chat_id": "@olpe_news", **text}
    ) == (
        403,
        {
            "ok": False,
            "error_code": 403,
            "description": "Forbidden: bot is not a member of the channel chat",
        },
    )
    assert (
        call(http, telegram, muted, "sendMessage", json={"chat_id": "@olpe_intern", **text})[1][
            "description"
        ]
        == "Bad Request: need administrator rights in the channel chat"
    )
    assert (
        call(http, telegram, bot, "sendMessage", json={"chat_id": "@nirgends", **text})[1][
            "description"
        ]
        == "Bad Request: chat not found"
    )
    member = call(
        http,
        telegram,
        bot,
        "getChatMember",
        json={"chat_id": "@olpe_news", "user_id": bot.split(":")[0]},
    )
    assert member[1]["result"]["status"] == "administrator"
    assert member[1]["result"]["can_post_messages"] is True


def test_telegram_flood_limit_and_fault_429(
    telegram: TelegramSandbox, bot: str, http: requests.Session, clock: Clock
) -> None:
    telegram.chat_per_minute = 1
    fields = {"chat_id": "@olpe_news", "text": "x"}
    assert call(http, telegram, bot, "sendMessage", json=fields)[0] == 200
    clock.now += 20.5
    answer = http.post(f"{telegram.url}/bot{bot}/sendMessage", json=fields, timeout=5)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "40"
    assert answer.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 40",
        "parameters": {"retry_after": 40},
    }
    clock.now += 40
    telegram.rate_limit_next(1, reset_in=6.2)
    assert call(http, telegram, bot, "sendMessage", json=fields)[1]["parameters"] == {
        "retry_after": 7
    }


def test_telegram_gateway_errors_are_html(
    telegram: TelegramSandbox, bot: str, http: requests.Session
) -> None:
    telegram.fail_next(1, status=502)
    answer = http.post(
        f"{telegram.url}/bot{bot}/sendMessage",
        json={"chat_id": "@olpe_news", "text": "x"},
        timeout=5,
    )
    assert answer.status_code == 502 and answer.headers["Content-Type"] == "text/html"
    assert "502 Bad Gateway" in answer.text
    assert telegram.statuses() == []


def test_telegram_delete(
    telegram: TelegramSandbox, bot: str, http: requests.Session, clock: Clock
) -> None:
    fields = {"chat_id": "@olpe_news", "text": "x"}
    call(http, telegram, bot, "sendMessage", json=fields)
    call(http, telegram, bot, "sendMessage", json=fields)
    target = {"chat_id": "@olpe_news", "message_id": 1}
    assert call(http, telegram, bot, "deleteMessage", json=target) == (
        200,
        {"ok": True, "result": True},
    )
    assert call(http, telegram, bot, "deleteMessage", json=target)[1]["description"] == (
        "Bad Request: message to delete not found"
    )
    clock.now += 48 * 3600 + 1
    later = {"chat_id": "@olpe_news", "message_id": 2}
    assert call(http, telegram, bot, "deleteMessage", json=later)[1]["description"] == (
        "Bad Request: message can't be deleted"
    )


def test_telegram_hold_and_release(
    telegram: TelegramSandbox, bot: str, http: requests.Session
) -> None:
    held = telegram.hold_after_create(1)
    answers: list[int] = []
    worker = threading.Thread(
        target=lambda: answers.append(
            call(http, telegram, bot, "sendMessage", json={"chat_id": "@olpe_news", "text": "x"})[0]
        )
    )
    worker.start()
    assert held.wait(5)
    assert len(telegram.statuses()) == 1 and answers == []
    telegram.release()
    worker.join(5)
    assert answers == [200]


def test_telegram_controls_over_http_never_show_tokens(
    telegram: TelegramSandbox, http: requests.Session
) -> None:
    token = http.post(
        f"{telegram.url}/_sandbox/bots", json={"username": "menden_bot"}, timeout=5
    ).json()["token"]
    chat = http.post(
        f"{telegram.url}/_sandbox/channels",
        json={"username": "menden", "admins": [token]},
        timeout=5,
    ).json()["chat_id"]
    assert chat < -1_000_000_000_000
    http.post(f"{telegram.url}/_sandbox/faults", json={"fail_next": {"status": 500}}, timeout=5)
    assert call(http, telegram, token, "sendMessage", json={"chat_id": chat, "text": "x"})[0] == 500
    call(http, telegram, token, "sendMessage", json={"chat_id": chat, "text": "Menden"})
    statuses = http.get(f"{telegram.url}/_sandbox/statuses", timeout=5)
    seen = http.get(f"{telegram.url}/_sandbox/requests", timeout=5)
    assert [m["text"] for m in statuses.json()] == ["Menden"]
    assert [c["bot"] for c in seen.json()] == ["menden_bot", "menden_bot"]
    secret = token.split(":")[1]
    assert secret not in statuses.text and secret not in seen.text


# --- X ----------------------------------------------------------------------------------------


@pytest.fixture
def x(clock: Clock, http: requests.Session) -> Iterator[XSandbox]:
    with XSandbox(clock=clock).start_in_process() as sandbox:
        sandbox.mount(http)
        yield sandbox


@pytest.fixture
def keys(x: XSandbox) -> XCredentials:
    return x.add_account("olpe")


def signed(keys: XCredentials) -> OAuth1:
    return OAuth1(keys.api_key, keys.api_secret, keys.access_token, keys.access_secret)


def tweet(
    http: requests.Session, x: XSandbox, keys: XCredentials, **body: Any
) -> requests.Response:
    return http.post(f"{x.url}/2/tweets", json=body, auth=signed(keys), timeout=5)


def test_x_verifies_oauth_signatures(
    x: XSandbox, keys: XCredentials, http: requests.Session
) -> None:
    me = http.get(
        f"{x.url}/2/users/me",
        params={"user.fields": "public_metrics"},
        auth=signed(keys),
        timeout=5,
    )
    assert me.json()["data"]["username"] == "olpe"

    prepared = http.prepare_request(
        requests.Request("GET", f"{x.url}/2/users/me", auth=signed(keys))
    )
    assert http.send(prepared, timeout=5).status_code == 200
    assert http.send(prepared, timeout=5).status_code == 401  # the nonce was used
    tampered = prepared.copy()
    tampered.url = f"{x.url}/2/users/me?user.fields=public_metrics"
    assert http.send(tampered, timeout=5).status_code == 401
    unsigned = http.get(f"{x.url}/2/users/me", timeout=5)
    assert unsigned.status_code == 401
    assert unsigned.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }
    bearer = http.post(
        f"{x.url}/2/tweets", json={"text": "x"}, headers={"Authorization": "Bearer app"}, timeout=5
    )
    assert bearer.status_code == 403 and bearer.json()["title"] == "Unsupported Authentication"


def test_x_create_needs_json_and_counts_weighted_length(
    x: XSandbox, keys: XCredentials, http: requests.Session
) -> None:
    form = http.post(f"{x.url}/2/tweets", data={"text": "x"}, auth=signed(keys), timeout=5)
    assert form.status_code == 400
    assert (
        form.json()["detail"] == "Requests with bodies must have content-type of application/json."
    )
    assert tweet(http, x, keys, text="会" * 140).status_code == 201
    too_long = tweet(http, x, keys, text="会" * 141)
    assert too_long.status_code == 400 and too_long.json()["title"] == "Invalid Request"
    assert tweet(http, x, keys, text="").status_code == 400


def test_x_create_answers_201_with_rate_headers(
    x: XSandbox, keys: XCredentials, http: requests.Session, clock: Clock
) -> None:
    x.post_limit = 2
    first = tweet(http, x, keys, text="eins")
    assert first.status_code == 201
    data = first.json()["data"]
    assert data == {"id": data["id"], "text": "eins", "edit_history_tweet_ids": [data["id"]]}
    assert first.headers["x-rate-limit-remaining"] == "1"
    reset = int(first.headers["x-rate-limit-reset"])
    assert reset % 900 == 0 and 0 < reset - clock.now <= 900
    tweet(http, x, keys, text="zwei")
    third = tweet(http, x, keys, text="drei")
    assert third.status_code == 429
    assert third.json() == {
        "title": "Too Many Requests",
        "detail": "Too Many Requests",
        "type": "about:blank",
        "status": 429,
    }
    assert third.headers["x-rate-limit-remaining"] == "0"
    assert int(third.headers["x-rate-limit-reset"]) == reset


def test_x_refuses_duplicates_within_its_window(
    x: XSandbox, keys: XCredentials, http: requests.Session, clock: Clock
) -> None:
    assert tweet(http, x, keys, text="Gleich").status_code == 201
    duplicate = tweet(http, x, keys, text="Gleich")
    assert duplicate.status_code == 403
    assert duplicate.json() == {
        "title": "Forbidden",
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "status": 403,
    }
    clock.now += 86400
    assert tweet(http, x, keys, text="Gleich").status_code == 201


def test_x_shows_text_back_escaped_with_tco_links(
    x: XSandbox, keys: XCredentials, http: requests.Session
) -> None:
    created = tweet(http, x, keys, text="A & B <3 https://example.org/a?b=1 #5malklug").json()[
        "data"
    ]
    assert created["text"].startswith("A &amp; B &lt;3 https://t.co/")
    got = http.get(
        f"{x.url}/2/tweets/{created['id']}",
        params={"tweet.fields": "entities,created_at"},
        auth=signed(keys),
        timeout=5,
    ).json()["data"]
    [url] = got["entities"]["urls"]
    assert url["expanded_url"] == "https://example.org/a?b=1"
    assert got["text"][url["start"] : url["end"]] == url["url"]
    assert got["created_at"].endswith("Z")
    missing = http.get(f"{x.url}/2/tweets/1", auth=signed(keys), timeout=5).json()
    assert missing["errors"][0]["type"] == "https://api.twitter.com/2/problems/resource-not-found"


def test_x_timeline_pages_and_lags(
    x: XSandbox, keys: XCredentials, http: requests.Session, clock: Clock
) -> None:
    user_id = keys.access_token.split("-")[0]
    for number in range(7):
        clock.now += 1
        tweet(http, x, keys, text=f"Beitrag {number}")

    def page(**params: Any) -> dict[str, Any]:
        answer = http.get(
            f"{x.url}/2/users/{user_id}/tweets", params=params, auth=signed(keys), timeout=5
        )
        return dict(answer.json())

    assert page(max_results=4)["title"] == "Invalid Request"
    first = page(max_results=5)
    assert [t["text"] for t in first["data"]] == [f"Beitrag {n}" for n in range(6, 1, -1)]
    second = page(max_results=5, pagination_token=first["meta"]["next_token"])
    assert [t["text"] for t in second["data"]] == ["Beitrag 1", "Beitrag 0"]
    assert "next_token" not in second["meta"]
    start = datetime.fromtimestamp(clock.now - 1.5, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert page(max_results=5, start_time=start)["meta"]["result_count"] == 2
    x.timeline_lag = 3.5  # the four newest are younger than that
    assert page(max_results=10)["meta"]["result_count"] == 3


def test_x_media_processing_and_alt_text(
    x: XSandbox, keys: XCredentials, http: requests.Session
) -> None:
    x.media_processing_polls = 1
    upload = http.post(
        f"{x.url}/2/media/upload",
        files={"media": ("a.png", PNG, "image/png")},
        data={"media_category": "tweet_image"},
        auth=signed(keys),
        timeout=5,
    ).json()["data"]
    assert upload["processing_info"] == {"state": "pending", "check_after_secs": 1}
    assert upload["image"] == {"image_type": "image/png", "w": 16, "h": 8}
    early = tweet(http, x, keys, text="Bild", media={"media_ids": [upload["id"]]})
    assert early.status_code == 400
    status = {"command": "STATUS", "media_id": upload["id"]}
    states = [
        http.get(f"{x.url}/2/media/upload", params=status, auth=signed(keys), timeout=5).json()[
            "data"
        ]["processing_info"]["state"]
        for _ in range(2)
    ]
    assert states == ["in_progress", "succeeded"]
    metadata = {"id": upload["id"], "metadata": {"alt_text": {"text": "a" * 1001}}}
    assert (
        http.post(
            f"{x.url}/2/media/metadata", json=metadata, auth=signed(keys), timeout=5
        ).status_code
        == 400
    )
    metadata["metadata"] = {"alt_text": {"text": "Ein Bild"}}
    assert http.post(f"{x.url}/2/media/metadata", json=metadata, auth=signed(keys), timeout=5).ok
    assert tweet(http, x, keys, text="Bild", media={"media_ids": [upload["id"]]}).status_code == 201
    assert x.statuses()[0].media[0].alt == "Ein Bild"


def test_x_controls_over_http(x: XSandbox, http: requests.Session) -> None:
    created = http.post(
        f"{x.url}/_sandbox/accounts", json={"username": "menden", "followers": 9}, timeout=5
    )
    keys = XCredentials(**created.json())
    http.post(
        f"{x.url}/_sandbox/faults",
        json={"rate_limit_next": {"reset_in": 120, "daily": True}},
        timeout=5,
    )
    limited = tweet(http, x, keys, text="x")
    assert limited.status_code == 429 and limited.headers["x-user-limit-24hour-remaining"] == "0"
    data = tweet(http, x, keys, text="Menden").json()["data"]
    http.post(f"{x.url}/_sandbox/engagement", json={"tweet_id": data["id"], "likes": 4}, timeout=5)
    http.post(f"{x.url}/_sandbox/settings", json={"non_public_metrics": False}, timeout=5)
    got = http.get(
        f"{x.url}/2/tweets/{data['id']}",
        params={"tweet.fields": "public_metrics,non_public_metrics"},
        auth=signed(keys),
        timeout=5,
    ).json()
    assert got["data"]["public_metrics"]["like_count"] == 4
    assert got["errors"][0]["title"] == "Field Authorization Error"
    assert [t["text"] for t in http.get(f"{x.url}/_sandbox/statuses", timeout=5).json()] == [
        "Menden"
    ]
    seen = http.get(f"{x.url}/_sandbox/requests", timeout=5).text
    assert keys.access_token not in seen and keys.api_key not in seen


# --- LinkedIn ---------------------------------------------------------------------------------


@pytest.fixture
def linkedin(clock: Clock, http: requests.Session) -> Iterator[LinkedInSandbox]:
    with LinkedInSandbox(clock=clock).start_in_process() as sandbox:
        sandbox.mount(http)
        yield sandbox


@pytest.fixture
def page(linkedin: LinkedInSandbox) -> LinkedInAccount:
    return linkedin.add_account("Stadt Menden", followers=12)


def rest(
    http: requests.Session,
    sandbox: LinkedInSandbox,
    account: LinkedInAccount,
    method: str,
    path: str,
    *,
    version: str | None = "202605",
    **kw: Any,
) -> requests.Response:
    headers = {"Authorization": f"Bearer {account.token}", "X-Restli-Protocol-Version": "2.0.0"}
    if version is not None:
        headers["LinkedIn-Version"] = version
    return http.request(method, f"{sandbox.url}{path}", headers=headers, timeout=5, **kw)


def new_post(account: LinkedInAccount, commentary: str, **extra: Any) -> dict[str, Any]:
    return {
        "author": account.organization,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        **extra,
    }


def test_linkedin_requires_its_headers_and_a_role(
    linkedin: LinkedInSandbox, page: LinkedInAccount, http: requests.Session
) -> None:
    missing = rest(http, linkedin, page, "GET", "/rest/organizations/1", version=None)
    assert (missing.status_code, missing.json()["code"]) == (400, "VERSION_MISSING")
    retired = rest(http, linkedin, page, "GET", "/rest/organizations/1", version="202312")
    assert (retired.status_code, retired.json()["code"]) == (426, "NONEXISTENT_VERSION")
    no_restli = http.get(
        f"{linkedin.url}/rest/organizations/1",
        headers={"Authorization": f"Bearer {page.token}", "LinkedIn-Version": "202605"},
        timeout=5,
    )
    assert no_restli.status_code == 400
    bad = LinkedInAccount(page.organization, "nope")
    assert rest(http, linkedin, bad, "GET", "/rest/organizations/1").json() == {
        "status": 401,
        "message": "Invalid access token",
        "serviceErrorCode": 65600,
    }
    stranger = linkedin.add_account("Anderswo")
    denied = rest(http, linkedin, stranger, "POST", "/rest/posts", json=new_post(page, "x"))
    assert (denied.status_code, denied.json()["code"]) == (403, "ACCESS_DENIED")


def test_linkedin_create_answers_201_with_the_urn_in_a_header(
    linkedin: LinkedInSandbox, page: LinkedInAccount, http: requests.Session
) -> None:
    created = rest(
        http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "Hallo #5malklug")
    )
    assert created.status_code == 201 and created.content == b""
    urn = created.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    got = rest(http, linkedin, page, "GET", f"/rest/posts/{quote(urn, safe='')}").json()
    assert (got["id"], got["commentary"], got["lifecycleState"]) == (
        urn,
        "Hallo #5malklug",
        "PUBLISHED",
    )
    incomplete = new_post(page, "x")
    del incomplete["distribution"]
    refused = rest(http, linkedin, page, "POST", "/rest/posts", json=incomplete)
    assert refused.status_code == 422
    assert (
        refused.json()["errorDetails"]["inputErrors"][0]["code"] == "FIELD_REQUIRED_BUT_NOT_FOUND"
    )
    assert (
        rest(
            http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "x" * 3001)
        ).status_code
        == 422
    )


def test_linkedin_duplicates_name_the_first_post(
    linkedin: LinkedInSandbox, page: LinkedInAccount, http: requests.Session, clock: Clock
) -> None:
    urn = rest(http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "Gleich")).headers[
        "x-restli-id"
    ]
    duplicate = rest(http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "Gleich"))
    assert duplicate.status_code == 422
    body = duplicate.json()
    assert body["message"].endswith(f"Content is a duplicate of {urn}")
    assert body["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"
    linkedin.duplicate_window = 3600
    clock.now += 3601
    assert (
        rest(http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "Gleich")).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("mode", "status", "visible"),
    [("truncate", 201, "Menden "), ("reject", 422, None), ("accept", 201, "Menden (Sauerland)")],
)
def test_linkedin_unescaped_reserved_characters(
    linkedin: LinkedInSandbox,
    page: LinkedInAccount,
    http: requests.Session,
    mode: str,
    status: int,
    visible: str | None,
) -> None:
    http.post(f"{linkedin.url}/_sandbox/settings", json={"unescaped": mode}, timeout=5)
    answer = rest(
        http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "Menden (Sauerland)")
    )
    assert answer.status_code == status
    assert [p.text for p in linkedin.statuses()] == ([visible] if visible else [])


def test_linkedin_finder_pages_newest_first(
    linkedin: LinkedInSandbox, page: LinkedInAccount, http: requests.Session, clock: Clock
) -> None:
    for number in range(3):
        clock.now += 1
        rest(http, linkedin, page, "POST", "/rest/posts", json=new_post(page, f"Beitrag {number}"))
    author = quote(page.organization, safe="")
    first = rest(
        http, linkedin, page, "GET", f"/rest/posts?author={author}&q=author&count=2"
    ).json()
    assert [e["commentary"] for e in first["elements"]] == ["Beitrag 2", "Beitrag 1"]
    assert first["paging"]["links"][0]["rel"] == "next"
    second = rest(
        http, linkedin, page, "GET", f"/rest/posts?author={author}&q=author&count=2&start=2"
    ).json()
    assert [e["commentary"] for e in second["elements"]] == ["Beitrag 0"]
    assert second["paging"]["links"] == []


def test_linkedin_images_and_statistics(
    linkedin: LinkedInSandbox, page: LinkedInAccount, http: requests.Session
) -> None:
    init = rest(
        http,
        linkedin,
        page,
        "POST",
        "/rest/images?action=initializeUpload",
        json={"initializeUploadRequest": {"owner": page.organization}},
    ).json()["value"]
    image = init["image"]
    encoded = quote(image, safe="")
    assert (
        rest(http, linkedin, page, "GET", f"/rest/images/{encoded}").json()["status"]
        == "WAITING_UPLOAD"
    )
    with_image = new_post(page, "Bild", content={"media": {"id": image, "altText": "Rathaus"}})
    assert rest(http, linkedin, page, "POST", "/rest/posts", json=with_image).status_code == 422
    put = http.put(
        init["uploadUrl"], data=PNG, headers={"Authorization": f"Bearer {page.token}"}, timeout=5
    )
    assert put.status_code == 201
    assert (
        rest(http, linkedin, page, "GET", f"/rest/images/{encoded}").json()["status"] == "AVAILABLE"
    )
    urn = rest(http, linkedin, page, "POST", "/rest/posts", json=with_image).headers["x-restli-id"]
    linkedin.set_statistics(urn, impressionCount=100, likeCount=5, clickCount=5)
    org = quote(page.organization, safe="")
    query = f"q=organizationalEntity&organizationalEntity={org}&shares=List({quote(urn, safe='')})"
    [element] = rest(
        http, linkedin, page, "GET", f"/rest/organizationalEntityShareStatistics?{query}"
    ).json()["elements"]
    assert element["share"] == urn
    assert element["totalShareStatistics"]["likeCount"] == 5
    assert element["totalShareStatistics"]["engagement"] == pytest.approx(0.1)
    sizes = rest(
        http, linkedin, page, "GET", f"/rest/networkSizes/{org}?edgeType=COMPANY_FOLLOWED_BY_MEMBER"
    )
    assert sizes.json() == {"firstDegreeSize": 12}


def test_linkedin_daily_budget_is_a_plain_429(
    linkedin: LinkedInSandbox, page: LinkedInAccount, http: requests.Session, clock: Clock
) -> None:
    linkedin.daily_post_limit = 1
    assert (
        rest(http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "eins")).status_code
        == 201
    )
    limited = rest(http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "zwei"))
    assert limited.status_code == 429 and "DAY limit" in limited.json()["message"]
    assert not any(h.lower().startswith(("x-ratelimit", "retry-after")) for h in limited.headers)
    clock.now = (clock.now // 86400 + 1) * 86400  # 00:00 UTC
    assert (
        rest(http, linkedin, page, "POST", "/rest/posts", json=new_post(page, "zwei")).status_code
        == 201
    )


def test_linkedin_delete_and_controls_over_http(
    linkedin: LinkedInSandbox, http: requests.Session
) -> None:
    created = http.post(
        f"{linkedin.url}/_sandbox/accounts", json={"name": "Stadt Soest"}, timeout=5
    ).json()
    account = LinkedInAccount(**created)
    urn = rest(
        http, linkedin, account, "POST", "/rest/posts", json=new_post(account, "Soest")
    ).headers["x-restli-id"]
    encoded = quote(urn, safe="")
    assert rest(http, linkedin, account, "DELETE", f"/rest/posts/{encoded}").status_code == 204
    assert rest(http, linkedin, account, "DELETE", f"/rest/posts/{encoded}").status_code == 204
    http.post(f"{linkedin.url}/_sandbox/settings", json={"delete_missing_status": 404}, timeout=5)
    assert rest(http, linkedin, account, "DELETE", f"/rest/posts/{encoded}").status_code == 404
    summary = http.get(f"{linkedin.url}/_sandbox/statuses", timeout=5).json()
    assert [(p["text"], p["deleted"]) for p in summary] == [("Soest", True)]
    assert account.token not in http.get(f"{linkedin.url}/_sandbox/requests", timeout=5).text


def test_sandbox_answers_late_after_doing_the_work(
    linkedin: LinkedInSandbox, page: LinkedInAccount, http: requests.Session
) -> None:
    linkedin.delay = 0.5
    headers = {
        "Authorization": f"Bearer {page.token}",
        "LinkedIn-Version": "202605",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.post(
            f"{linkedin.url}/rest/posts", json=new_post(page, "spät"), headers=headers, timeout=0.1
        )
    assert [p.text for p in linkedin.statuses()] == ["spät"]  # created before the late answer
    linkedin.delay = 0
