"""Signing in on the LinkedIn and X sandboxes (OAuth 2 authorization code; PKCE for X): the
tokens they issue post in the same sandbox, expire on the sandbox's clock, refresh as the
network does (LinkedIn keeps its refresh token, X rotates it)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from campaign_scheduler.sandbox._oauth import OAuthApp, s256
from campaign_scheduler.sandbox.linkedin import (
    ACCESS_TOKEN_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    LinkedInAccount,
    LinkedInSandbox,
)
from campaign_scheduler.sandbox.x import OAUTH2_LIFETIME, XSandbox
from sandbox_clock import Clock

REDIRECT = "http://127.0.0.1/callback"
BROWSER_REDIRECT = "http://127.0.0.1:43123/callback"  # any loopback port is allowed
DAY = 86400.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def follow_authorize(http: requests.Session, url: str, **params: str) -> dict[str, list[str]]:
    answer = http.get(url, params=params, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(BROWSER_REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


# --- LinkedIn ---------------------------------------------------------------------------------


def linkedin_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": "202605",
        "X-Restli-Protocol-Version": "2.0.0",
    }


def linkedin_post(organization: str, text: str) -> dict[str, Any]:
    return {
        "author": organization,
        "commentary": text,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
    }


def linkedin_sign_in(
    http: requests.Session, sandbox: LinkedInSandbox, app: OAuthApp
) -> dict[str, Any]:
    query = follow_authorize(
        http,
        f"{sandbox.url}/oauth/v2/authorization",
        response_type="code",
        client_id=app.client_id,
        redirect_uri=BROWSER_REDIRECT,
        state="st",
        scope="w_organization_social r_organization_admin",
    )
    assert query["state"] == ["st"]
    answer = http.post(
        f"{sandbox.url}/oauth/v2/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": BROWSER_REDIRECT,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_linkedin_token_chooses_the_organisation_posts_expires_and_refreshes(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = LinkedInSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    soest: LinkedInAccount = sandbox.add_account("Stadt Soest", role=None)
    olpe = sandbox.add_account("Stadt Olpe", role=None)
    member = sandbox.add_member({soest.organization: "ADMINISTRATOR", olpe.organization: "ANALYST"})
    app = sandbox.add_app([REDIRECT])
    token = linkedin_sign_in(http, sandbox, app)
    assert token["expires_in"] == ACCESS_TOKEN_LIFETIME
    assert token["refresh_token_expires_in"] == REFRESH_TOKEN_LIFETIME
    headers = linkedin_headers(token["access_token"])

    acls = http.get(
        f"{sandbox.url}/rest/organizationAcls",
        params={"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"},
        headers=headers,
        timeout=5,
    ).json()
    assert [(e["organization"], e["roleAssignee"]) for e in acls["elements"]] == [
        (soest.organization, member)
    ]
    answer = http.post(
        f"{sandbox.url}/rest/posts",
        json=linkedin_post(soest.organization, "Hallo Soest"),
        headers=headers,
        timeout=5,
    )
    assert answer.status_code == 201, answer.text

    introspect = {"client_id": app.client_id, "client_secret": app.client_secret}
    info = http.post(
        f"{sandbox.url}/oauth/v2/introspectToken",
        data={**introspect, "token": token["access_token"]},
        timeout=5,
    ).json()
    assert info["active"] and info["expires_at"] == int(clock.now + ACCESS_TOKEN_LIFETIME)

    clock.now += ACCESS_TOKEN_LIFETIME
    answer = http.post(
        f"{sandbox.url}/rest/posts",
        json=linkedin_post(soest.organization, "Zu spät"),
        headers=headers,
        timeout=5,
    )
    assert answer.status_code == 401 and answer.json()["serviceErrorCode"] == 65601
    info = http.post(
        f"{sandbox.url}/oauth/v2/introspectToken",
        data={**introspect, "token": token["access_token"]},
        timeout=5,
    ).json()
    assert (info["active"], info["status"]) == (False, "expired")

    refreshed = http.post(
        f"{sandbox.url}/oauth/v2/accessToken",
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"], **introspect},
        timeout=5,
    ).json()
    assert refreshed["refresh_token"] == token["refresh_token"]  # LinkedIn keeps it
    assert refreshed["refresh_token_expires_in"] == REFRESH_TOKEN_LIFETIME - ACCESS_TOKEN_LIFETIME
    answer = http.post(
        f"{sandbox.url}/rest/posts",
        json=linkedin_post(soest.organization, "Wieder da"),
        headers=linkedin_headers(refreshed["access_token"]),
        timeout=5,
    )
    assert answer.status_code == 201, answer.text


def test_linkedin_app_without_refresh_tokens_gets_none_and_bad_codes_are_refused(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = LinkedInSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    sandbox.add_member({})
    app = sandbox.add_app([REDIRECT], refresh_tokens=False)
    token = linkedin_sign_in(http, sandbox, app)
    assert "refresh_token" not in token
    answer = http.post(
        f"{sandbox.url}/oauth/v2/accessToken",
        data={
            "grant_type": "authorization_code",
            "code": "erfunden",
            "redirect_uri": BROWSER_REDIRECT,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        },
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


# --- X ----------------------------------------------------------------------------------------


def x_sign_in(
    http: requests.Session,
    sandbox: XSandbox,
    app: OAuthApp,
    scope: str = "tweet.read tweet.write users.read media.write offline.access",
) -> dict[str, Any]:
    verifier = secrets.token_urlsafe(48)
    query = follow_authorize(
        http,
        f"{sandbox.url}/i/oauth2/authorize",
        response_type="code",
        client_id=app.client_id,
        redirect_uri=BROWSER_REDIRECT,
        scope=scope,
        state="st",
        code_challenge=s256(verifier),
        code_challenge_method="S256",
    )
    answer = http.post(
        f"{sandbox.url}/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": BROWSER_REDIRECT,
            "client_id": app.client_id,
            "code_verifier": verifier,
        },
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_x_oauth2_user_token_posts_expires_and_refresh_rotates(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = XSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    user_id = sandbox.add_user("stadt_olpe")
    app = sandbox.add_oauth2_app([REDIRECT])
    token = x_sign_in(http, sandbox, app)
    assert token["expires_in"] == OAUTH2_LIFETIME and "refresh_token" in token
    bearer = {"Authorization": f"Bearer {token['access_token']}"}

    me = http.get(f"{sandbox.url}/2/users/me", headers=bearer, timeout=5)
    assert me.status_code == 200 and me.json()["data"]["id"] == user_id
    posted = http.post(f"{sandbox.url}/2/tweets", json={"text": "Hallo"}, headers=bearer, timeout=5)
    assert posted.status_code == 201, posted.text
    assert [t.text for t in sandbox.statuses("stadt_olpe")] == ["Hallo"]

    clock.now += OAUTH2_LIFETIME
    late = http.post(f"{sandbox.url}/2/tweets", json={"text": "Spät"}, headers=bearer, timeout=5)
    assert late.status_code == 401

    def refresh(refresh_token: str) -> requests.Response:
        return http.post(
            f"{sandbox.url}/2/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": app.client_id,
            },
            timeout=5,
        )

    renewed = refresh(token["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["refresh_token"] != token["refresh_token"]
    assert refresh(token["refresh_token"]).status_code == 400  # rotated: the old one is spent
    again = http.post(
        f"{sandbox.url}/2/tweets",
        json={"text": "Wieder da"},
        headers={"Authorization": f"Bearer {renewed.json()['access_token']}"},
        timeout=5,
    )
    assert again.status_code == 201


def test_x_oauth2_needs_pkce_the_scope_and_offline_access_for_refresh(
    http: requests.Session, clock: Clock
) -> None:
    sandbox = XSandbox(clock=clock).start_in_process()
    sandbox.mount(http)
    sandbox.add_user("stadt_olpe")
    app = sandbox.add_oauth2_app([REDIRECT])
    no_pkce = http.get(
        f"{sandbox.url}/i/oauth2/authorize",
        params={"response_type": "code", "client_id": app.client_id, "redirect_uri": REDIRECT},
        allow_redirects=False,
        timeout=5,
    )
    assert "error=invalid_request" in no_pkce.headers["Location"]

    token = x_sign_in(http, sandbox, app, scope="users.read")
    assert "refresh_token" not in token
    refused = http.post(
        f"{sandbox.url}/2/tweets",
        json={"text": "Ohne Recht"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert refused.status_code == 403 and sandbox.statuses() == []

    sandbox.revoke(token["access_token"])
    gone = http.get(
        f"{sandbox.url}/2/users/me",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert gone.status_code == 401

    app_only = http.post(
        f"{sandbox.url}/2/tweets",
        json={"text": "App"},
        headers={"Authorization": "Bearer AAAAAAAAAAAAAAAAAAAAAApp"},
        timeout=5,
    )
    assert app_only.status_code == 403  # app-only tokens still cannot post
