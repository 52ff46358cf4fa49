"""Logging in on the Graph sandboxes (Facebook Login for Facebook and Instagram, Threads
OAuth): the tokens they issue post in the same sandbox, run out on the sandbox's clock and are
refused then the way Graph refuses them (code 190, subcode 463)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from campaign_scheduler.sandbox._graph import GraphSandbox
from campaign_scheduler.sandbox._graph_login import DAY, LONG_LIVED, SHORT_LIVED
from campaign_scheduler.sandbox._oauth import OAuthApp
from campaign_scheduler.sandbox.facebook import FacebookSandbox
from campaign_scheduler.sandbox.instagram import InstagramSandbox
from campaign_scheduler.sandbox.threads import ThreadsSandbox

NOW = 1_900_000_000.0
REDIRECT = "http://127.0.0.1:8765/callback"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def authorize(
    http: requests.Session, sandbox: GraphSandbox, path: str, app: OAuthApp, **extra: str
) -> dict[str, list[str]]:
    """Play the browser: open the authorize URL, which consents and redirects."""
    answer = http.get(
        f"{sandbox.url}{path}",
        params={"client_id": app.client_id, "redirect_uri": REDIRECT, "state": "s1", **extra},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith("http://127.0.0.1:8765/callback?")
    return parse_qs(urlsplit(location).query)


def get(http: requests.Session, sandbox: GraphSandbox, path: str, **params: Any) -> Any:
    answer = http.get(f"{sandbox.url}/v25.0/{path}", params=params, timeout=5)
    return answer.status_code, answer.json()


def facebook_login(http: requests.Session, sandbox: GraphSandbox, app: OAuthApp) -> tuple[str, str]:
    """Code → short-lived user token → long-lived user token."""
    query = authorize(http, sandbox, "/v25.0/dialog/oauth", app, scope="pages_manage_posts")
    assert query["state"] == ["s1"]
    status, short = get(
        http,
        sandbox,
        "oauth/access_token",
        client_id=app.client_id,
        client_secret=app.client_secret,
        redirect_uri=REDIRECT,
        code=query["code"][0],
    )
    assert status == 200 and short["token_type"] == "bearer"
    assert short["expires_in"] == SHORT_LIVED
    status, long = get(
        http,
        sandbox,
        "oauth/access_token",
        grant_type="fb_exchange_token",
        client_id=app.client_id,
        client_secret=app.client_secret,
        fb_exchange_token=short["access_token"],
    )
    assert status == 200 and long["expires_in"] == LONG_LIVED
    return short["access_token"], long["access_token"]


def test_facebook_page_token_from_a_long_lived_user_token_posts_and_never_expires(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = FacebookSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    page_id, _ = sandbox.add_page("Stadt Soest")
    user = sandbox.login.add_user("Anna Admin")
    sandbox.login.grant_page(user, page_id, name="Stadt Soest", acts_as=page_id)
    app = sandbox.login.oauth.add_app([REDIRECT])

    _, long_token = facebook_login(http, sandbox, app)
    status, me = get(http, sandbox, "me", access_token=long_token)
    assert (status, me["id"]) == (200, user)
    status, accounts = get(http, sandbox, "me/accounts", access_token=long_token)
    assert status == 200
    [page] = accounts["data"]
    assert (page["id"], page["name"]) == (page_id, "Stadt Soest")

    app_token = f"{app.client_id}|{app.client_secret}"
    _, debug = get(
        http, sandbox, "debug_token", input_token=page["access_token"], access_token=app_token
    )
    assert debug["data"]["type"] == "PAGE" and debug["data"]["expires_at"] == 0
    assert debug["data"]["profile_id"] == page_id and debug["data"]["is_valid"]
    assert debug["data"]["data_access_expires_at"] == int(NOW + 90 * DAY)
    _, debug_user = get(
        http, sandbox, "debug_token", input_token=long_token, access_token=app_token
    )
    assert debug_user["data"]["expires_at"] == int(NOW + LONG_LIVED)

    clock.now += LONG_LIVED + DAY  # the user token ran out; the Page token did not
    status, error = get(http, sandbox, "me", access_token=long_token)
    assert status == 400 and error["error"]["code"] == 190
    assert error["error"]["error_subcode"] == 463
    answer = http.post(
        f"{sandbox.url}/v25.0/{page_id}/feed",
        data={"message": "Hallo", "access_token": page["access_token"]},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert [p.text for p in sandbox.statuses()] == ["Hallo"]


def test_a_page_token_from_a_short_lived_user_token_runs_out_with_it(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = FacebookSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    page_id, _ = sandbox.add_page("Stadt Olpe")
    user = sandbox.login.add_user("Anna Admin")
    sandbox.login.grant_page(user, page_id, name="Stadt Olpe", acts_as=page_id)
    app = sandbox.login.oauth.add_app([REDIRECT])
    short_token, _ = facebook_login(http, sandbox, app)
    _, accounts = get(http, sandbox, "me/accounts", access_token=short_token)
    page_token = accounts["data"][0]["access_token"]

    clock.now += SHORT_LIVED
    answer = http.post(
        f"{sandbox.url}/v25.0/{page_id}/feed",
        data={"message": "Zu spät", "access_token": page_token},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["error_subcode"] == 463
    assert sandbox.statuses() == []
    _, debug = get(
        http,
        sandbox,
        "debug_token",
        input_token=page_token,
        access_token=f"{app.client_id}|{app.client_secret}",
    )
    assert debug["data"]["is_valid"] is False and debug["data"]["error"]["code"] == 190


def test_the_code_exchange_refuses_wrong_secrets_reused_codes_and_other_redirects(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = FacebookSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    sandbox.login.add_user("Anna Admin")
    app = sandbox.login.oauth.add_app([REDIRECT])
    code = authorize(http, sandbox, "/dialog/oauth", app)["code"][0]
    base = {"client_id": app.client_id, "redirect_uri": REDIRECT, "code": code}
    status, error = get(http, sandbox, "oauth/access_token", **base, client_secret="falsch")
    assert status == 400 and error["error"]["code"] == 100
    status, _ = get(http, sandbox, "oauth/access_token", **base, client_secret=app.client_secret)
    assert status == 200
    status, _ = get(http, sandbox, "oauth/access_token", **base, client_secret=app.client_secret)
    assert status == 400  # a code is good for one exchange

    answer = http.get(
        f"{sandbox.url}/dialog/oauth",
        params={"client_id": app.client_id, "redirect_uri": "https://evil.example/cb"},
        allow_redirects=False,
        timeout=5,
    )
    assert answer.status_code == 400 and "Location" not in answer.headers


def test_instagram_business_account_is_found_through_the_page(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = InstagramSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    ig_id, _ = sandbox.add_account("stadt.soest")
    user = sandbox.login.add_user("Anna Admin")
    sandbox.login.grant_page(
        user, "1234567890", name="Stadt Soest", acts_as=ig_id, instagram_id=ig_id
    )
    app = sandbox.login.oauth.add_app([REDIRECT])
    _, long_token = facebook_login(http, sandbox, app)
    _, accounts = get(http, sandbox, "me/accounts", access_token=long_token)
    page = accounts["data"][0]
    status, node = get(
        http, sandbox, page["id"], fields="instagram_business_account", access_token=long_token
    )
    assert status == 200 and node["instagram_business_account"] == {"id": ig_id}
    status, media = get(http, sandbox, f"{ig_id}/media", access_token=page["access_token"])
    assert status == 200 and media["data"] == []


def test_threads_short_long_and_refreshed_tokens(http: requests.Session, clock: Clock) -> None:
    sandbox = ThreadsSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    user_id, _ = sandbox.add_account("stadt.soest")
    sandbox.login.oauth.consent_as = user_id
    app = sandbox.login.oauth.add_app([REDIRECT])
    code = authorize(http, sandbox, "/oauth/authorize", app, scope="threads_basic")["code"][0]
    answer = http.post(
        f"{sandbox.url}/oauth/access_token",
        data={
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "grant_type": "authorization_code",
            "redirect_uri": REDIRECT,
            "code": code,
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    short = answer.json()
    assert str(short["user_id"]) == user_id
    status, long = get(
        http,
        sandbox,
        "access_token",
        grant_type="th_exchange_token",
        client_secret=app.client_secret,
        access_token=short["access_token"],
    )
    assert status == 200 and long["expires_in"] == LONG_LIVED
    status, _ = get(http, sandbox, "me", access_token=long["access_token"])
    assert status == 200

    status, _ = get(
        http,
        sandbox,
        "refresh_access_token",
        grant_type="th_refresh_token",
        access_token=long["access_token"],
    )
    assert status == 400  # less than a day old

    clock.now += LONG_LIVED - DAY
    status, fresh = get(
        http,
        sandbox,
        "refresh_access_token",
        grant_type="th_refresh_token",
        access_token=long["access_token"],
    )
    assert status == 200 and fresh["expires_in"] == LONG_LIVED

    clock.now += 2 * DAY  # the old token ran out, the refreshed one works
    status, error = get(http, sandbox, "me", access_token=long["access_token"])
    assert status == 400 and error["error"]["error_subcode"] == 463
    status, _ = get(http, sandbox, "me", access_token=fresh["access_token"])
    assert status == 200
    status, _ = get(
        http,
        sandbox,
        "refresh_access_token",
        grant_type="th_refresh_token",
        access_token=long["access_token"],
    )
    assert status == 400  # an expired token cannot be refreshed
