"""`campaign accounts connect` for Mastodon, end to end against the sandbox's OAuth endpoints:
app registration, authorization code with PKCE, the loopback redirect, verify_credentials."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from typer.testing import CliRunner

from auth_browser import Browser, Paster
from campaign_scheduler.auth.accounts import context_for
from campaign_scheduler.auth.base import flow_for
from campaign_scheduler.auth.tokens import FileTokenStore, default_store
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.cli import accounts_cmd, app
from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import AuthError
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from conftest import Workspace


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox().start_in_process() as server:
        server.oauth.consent_as = "stadtsoest"
        yield server


@pytest.fixture
def session(sandbox: MastodonSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def _config(
    workspace: Workspace, sandbox: MastodonSandbox, token: str = "keyring:soest-mastodon"
) -> Path:
    text = workspace.config_file.read_text(encoding="utf-8")
    text = text.replace('base_url = "https://social.soest.example"', f'base_url = "{sandbox.url}"')
    text = text.replace('token = "env:SOEST_MASTODON_TOKEN"', f'token = "{token}"')
    workspace.config_file.write_text(text, encoding="utf-8")
    return workspace.config_file


def test_connect_registers_an_app_and_gets_a_token_through_the_browser(
    workspace: Workspace, sandbox: MastodonSandbox, session: requests.Session
) -> None:
    account = load_settings(_config(workspace, sandbox)).accounts["soest-mastodon"]
    browser = Browser(session)
    said: list[str] = []
    ctx = context_for(account, session, open_url=browser, say=said.append)
    record = flow_for("mastodon").connect(ctx)

    assert record.expires_at is None and record.refresh_token is None
    assert record.scope == "write:statuses write:media read:statuses read:accounts"
    assert record.extra == {"username": "stadtsoest"}
    # The token works for the account that consented.
    me = session.get(
        f"{sandbox.url}/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {record.access_token}"},
        timeout=30,
    )
    assert me.json()["username"] == "stadtsoest"
    # PKCE S256 and the registered app were used; the person saw the page in both languages.
    assert "code_challenge_method=S256" in browser.visited[0]
    assert browser.redirects[0].startswith("http://127.0.0.1:")
    assert browser.pages[0][0] == 200 and "Sie können dieses Fenster" in browser.pages[0][1]
    assert any(browser.visited[0] in line for line in said)
    assert all(record.access_token not in line for line in said)


def test_a_headless_server_takes_the_pasted_address(
    workspace: Workspace, sandbox: MastodonSandbox, session: requests.Session
) -> None:
    account = load_settings(_config(workspace, sandbox)).accounts["soest-mastodon"]
    paster = Paster(session)
    ctx = context_for(
        account, session, open_url=paster.open_url, ask=paster.ask, say=lambda s: None
    )
    record = flow_for("mastodon").connect(ctx)
    assert record.extra["username"] == "stadtsoest"
    assert len(paster.prompts) == 1


def test_a_refused_consent_is_an_auth_error(
    workspace: Workspace, sandbox: MastodonSandbox, session: requests.Session
) -> None:
    account = load_settings(_config(workspace, sandbox)).accounts["soest-mastodon"]
    sandbox.oauth.deny_next = 1
    ctx = context_for(account, session, open_url=Browser(session), say=lambda s: None)
    with pytest.raises(AuthError, match="the user said no"):
        flow_for("mastodon").connect(ctx)


def test_a_code_cannot_be_exchanged_without_its_verifier(sandbox: MastodonSandbox) -> None:
    client = sandbox.oauth.add_app(("http://127.0.0.1/callback",), scopes=frozenset({"read"}))
    consent = sandbox.oauth.authorize(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "scope": "read",
            "code_challenge": "abc",
            "code_challenge_method": "S256",
        }
    )
    code = dict(consent.headers)["Location"].split("code=")[1]
    status, body = sandbox.oauth.token(
        {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "code": code,
            "redirect_uri": "http://127.0.0.1:9/callback",
            "code_verifier": "wrong",
        }
    )
    assert (status, body["error"]) == (400, "invalid_grant")


def test_cli_connect_stores_the_token_and_says_what_to_put_in_config(
    workspace: Workspace,
    sandbox: MastodonSandbox,
    session: requests.Session,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    config = _config(workspace, sandbox, token="env:SOEST_MASTODON_TOKEN")
    browser = Browser(session)
    monkeypatch.setattr(accounts_cmd, "session_factory", lambda: session)
    monkeypatch.setattr(
        accounts_cmd, "interaction", lambda no_browser: {"open_url": browser, "say": lambda s: None}
    )
    result = runner.invoke(app, ["--config", str(config), "accounts", "connect", "soest-mastodon"])
    assert result.exit_code == 0, result.output
    assert 'token = "keyring:soest-mastodon"' in result.output
    store = default_store()
    assert isinstance(store, FileTokenStore) and store.path == tmp_path / "tokens.json"
    record = store.get("soest-mastodon")
    assert record is not None and record.access_token not in result.output
    # config.toml is the user's: untouched
    assert 'token = "env:SOEST_MASTODON_TOKEN"' in config.read_text(encoding="utf-8")

    # Once config refers to it, list shows where it comes from and refresh says it cannot.
    _config(workspace, sandbox)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'token = "env:SOEST_MASTODON_TOKEN"', 'token = "keyring:soest-mastodon"'
        ),
        encoding="utf-8",
    )
    listed = runner.invoke(app, ["--config", str(config), "accounts", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(l for l in listed.output.splitlines() if l.startswith("soest-mastodon"))
    assert "token from keyring:soest-mastodon" in line and "mastodon" in line
    assert record.access_token not in listed.output
    olpe = next(l for l in listed.output.splitlines() if l.startswith("olpe-mastodon"))
    assert "env:OLPE_MASTODON_TOKEN" in olpe and "secret missing: token" in olpe

    refreshed = runner.invoke(app, ["--config", str(config), "accounts", "refresh"])
    assert refreshed.exit_code == 0, refreshed.output
    assert "soest-mastodon: cannot be renewed without you" in refreshed.output


def test_connect_names_an_unknown_account(workspace: Workspace, runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["--config", str(workspace.config_file), "accounts", "connect", "nope"]
    )
    assert result.exit_code == 1
    assert "no account 'nope'" in result.output


def test_a_network_without_a_guided_flow_says_where_the_token_comes_from() -> None:
    from campaign_scheduler.errors import NotFoundError

    with pytest.raises(NotFoundError, match="cannot be connected from the terminal") as caught:
        flow_for("webhook")
    assert "docs/going-live.md" in (caught.value.hint or "")


def test_accounts_list_json_never_holds_a_secret(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOEST_BLUESKY_PASSWORD", "aaaa-bbbb-cccc-dddd")
    result = runner.invoke(
        app, ["--config", str(workspace.config_file), "accounts", "list", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert "aaaa-bbbb-cccc-dddd" not in result.output
    rows = {row["account"]: row for row in json.loads(result.output)}
    assert rows["soest-bluesky"]["secrets"] == {"password": "env:SOEST_BLUESKY_PASSWORD"}
    assert rows["soest-bluesky"]["flags"] == []
    assert rows["olpe-mastodon"]["flags"] == ["secret missing: token"]
