"""Connecting an X account with OAuth 2.0 (PKCE) end to end against the X sandbox; the token
it stores posts through XChannel as a bearer token, runs out after two hours and is refreshed
with a rotating refresh token; accounts with the four OAuth 1.0a keys still load and post."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from auth_browser import Clock, flow_context
from campaign_scheduler.auth.base import ConnectContext, flow_for
from campaign_scheduler.auth.tokens import TokenRecord
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.channels.base import AccountSettings, OutboundPost
from campaign_scheduler.channels.x import XChannel
from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import AuthError
from campaign_scheduler.sandbox.x import OAUTH2_LIFETIME, XSandbox
from conftest import Workspace

REDIRECT = "http://127.0.0.1/callback"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[XSandbox]:
    with XSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def session(sandbox: XSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def context(
    sandbox: XSandbox, session: requests.Session, clock: Clock, **options: str
) -> ConnectContext:
    return flow_context("x", sandbox.url, session, clock, account_name="olpe-x", options=options)


def publish(sandbox: XSandbox, session: requests.Session, record: TokenRecord, text: str) -> str:
    secrets = {"token": record.access_token}
    account = AccountSettings("olpe-x", sandbox.url, {}, secret=secrets.__getitem__)
    channel = XChannel(account, session, poll_interval=0, sleep=lambda s: None, timeout=5.0)
    receipt = channel.publish(
        OutboundPost(text=text, language="de", idempotency_key=uuid.uuid4().hex)
    )
    return receipt.remote_id


def test_connect_with_pkce_posts_as_bearer_and_refresh_rotates(
    sandbox: XSandbox, session: requests.Session, clock: Clock
) -> None:
    user_id = sandbox.add_user("stadt_olpe")
    app = sandbox.add_oauth2_app([REDIRECT])
    ctx = context(sandbox, session, clock, client_id=app.client_id, client_secret="")
    flow = flow_for("x")
    record = flow.connect(ctx)

    assert record.extra["user_id"] == user_id and record.extra["username"] == "stadt_olpe"
    assert record.expires_at == clock.utc() + timedelta(seconds=OAUTH2_LIFETIME)
    assert record.refresh_token is not None
    assert set((record.scope or "").split()) >= {
        "tweet.write",
        "users.read",
        "media.write",
        "offline.access",
    }
    assert "code_challenge_method=S256" in ctx.open_url.visited[0]  # type: ignore[attr-defined]
    publish(sandbox, session, record, "Hallo aus Olpe")
    assert [t.text for t in sandbox.statuses("stadt_olpe")] == ["Hallo aus Olpe"]

    clock.now += OAUTH2_LIFETIME
    with pytest.raises(AuthError) as refused:
        publish(sandbox, session, record, "Zu spät")
    assert "accounts refresh" in (refused.value.hint or "")

    refreshed = flow.refresh(record, ctx)
    assert refreshed is not None and refreshed.refresh_token != record.refresh_token
    publish(sandbox, session, refreshed, "Wieder da")
    with pytest.raises(AuthError):
        flow.refresh(record, ctx)  # X rotated the refresh token: the old one is spent
    again = flow.refresh(refreshed, ctx)
    assert again is not None and again.access_token != refreshed.access_token


def test_a_confidential_client_authenticates_with_its_secret(
    sandbox: XSandbox, session: requests.Session, clock: Clock
) -> None:
    sandbox.add_user("stadt_olpe")
    app = sandbox.add_oauth2_app([REDIRECT], public=False)
    with pytest.raises(AuthError):
        flow_for("x").connect(
            context(sandbox, session, clock, client_id=app.client_id, client_secret="")
        )
    ctx = context(sandbox, session, clock, client_id=app.client_id, client_secret=app.client_secret)
    record = flow_for("x").connect(ctx)
    clock.now += OAUTH2_LIFETIME
    refreshed = flow_for("x").refresh(record, ctx)
    assert refreshed is not None
    publish(sandbox, session, refreshed, "Vertraulich verbunden")


def _x_account(workspace: Workspace, body: str) -> Path:
    text = workspace.config_file.read_text(encoding="utf-8")
    text += f'\n[accounts.olpe-x]\nchannel = "x"\nsender = "olpe"\n{body}'
    workspace.config_file.write_text(text, encoding="utf-8")
    return workspace.config_file


def test_config_takes_an_oauth2_token_or_the_four_oauth1_keys(workspace: Workspace) -> None:
    config = _x_account(workspace, 'token = "keyring:olpe-x"\n')
    account = load_settings(config).accounts["olpe-x"]
    assert set(account.secrets) == {"token"}


def test_config_with_the_oauth1_keys_still_loads(workspace: Workspace) -> None:
    keys = "".join(
        f'{key} = "env:OLPE_X_{key.upper()}"\n'
        for key in ("api_key", "api_secret", "access_token", "access_secret")
    )
    account = load_settings(_x_account(workspace, keys)).accounts["olpe-x"]
    assert set(account.secrets) == {"api_key", "api_secret", "access_token", "access_secret"}


def test_config_with_an_incomplete_set_names_what_is_missing(workspace: Workspace) -> None:
    settings = load_settings(_x_account(workspace, 'api_key = "env:OLPE_X_API_KEY"\n'))
    messages = [problem.message for problem in settings.problems]
    assert any("missing secret 'access_secret'" in m for m in messages), messages
    assert not any("olpe-x" in m and "'token'" in m for m in messages), messages


def test_the_redirect_listens_on_the_registered_port_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, sandbox: XSandbox, session: requests.Session, clock: Clock
) -> None:
    from campaign_scheduler.auth._flowkit import DEFAULT_REDIRECT_PORT, with_fixed_redirect
    from campaign_scheduler.errors import UsageError

    monkeypatch.delenv("CAMPAIGN_REDIRECT_PORT")
    ctx = context(sandbox, session, clock)
    assert with_fixed_redirect(ctx).redirect_receiver().port == DEFAULT_REDIRECT_PORT == 8421
    monkeypatch.setenv("CAMPAIGN_REDIRECT_PORT", "9000")
    assert with_fixed_redirect(ctx).redirect_receiver().port == 9000
    ctx.options["redirect_port"] = "9001"
    assert with_fixed_redirect(ctx).redirect_receiver().port == 9001
    ctx.options["redirect_port"] = "neun"
    with pytest.raises(UsageError):
        with_fixed_redirect(ctx)


def test_the_daemon_renews_two_hour_tokens_in_their_last_hour(
    workspace: Workspace, sandbox: XSandbox, session: requests.Session, clock: Clock
) -> None:
    """X tokens live two hours: the daemon's token job runs every half hour for such an
    account and renews the token in its last hour, so a post never finds it expired."""
    from campaign_scheduler.auth.accounts import refresh_due, refresh_interval
    from campaign_scheduler.auth.tokens import default_store

    sandbox.add_user("stadt_olpe")
    app = sandbox.add_oauth2_app([REDIRECT])
    record = flow_for("x").connect(
        context(sandbox, session, clock, client_id=app.client_id, client_secret="")
    )
    assert record.expires_at is not None
    store = default_store()
    store.put("olpe-x", record)
    config = _x_account(workspace, f'token = "keyring:olpe-x"\nbase_url = "{sandbox.url}"\n')
    settings = load_settings(config)
    assert refresh_interval(settings) == timedelta(minutes=30)

    ninety_minutes_left = record.expires_at - timedelta(minutes=90)
    assert refresh_due(settings, store, ninety_minutes_left, lambda: session) == []
    clock.now += (timedelta(seconds=OAUTH2_LIFETIME) - timedelta(minutes=50)).total_seconds()
    outcomes = refresh_due(settings, store, clock.utc(), lambda: session)
    assert [(o.account, o.result) for o in outcomes] == [("olpe-x", "refreshed")]
    renewed = store.get("olpe-x")
    assert renewed is not None and renewed.expires_at is not None
    assert renewed.expires_at > record.expires_at
    publish(sandbox, session, renewed, "Erneuert")
