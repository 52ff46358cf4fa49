"""Connecting a LinkedIn organisation page end to end against the LinkedIn sandbox: the
authorization code through the loopback redirect, the organisation chosen from
organizationAcls, the expiry recorded, the token refreshed where the app has refresh tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from typer.testing import CliRunner

from auth_browser import NOW, Browser, Clock, flow_context
from campaign_scheduler.auth.base import ConnectContext, flow_for
from campaign_scheduler.auth.tokens import default_store
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.cli import accounts_cmd, app
from campaign_scheduler.errors import ChannelError
from campaign_scheduler.sandbox.linkedin import (
    ACCESS_TOKEN_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    LinkedInSandbox,
)
from conftest import Workspace

REDIRECT = "http://127.0.0.1/callback"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sandbox(clock: Clock) -> Iterator[LinkedInSandbox]:
    with LinkedInSandbox(clock=clock).start_in_process() as server:
        yield server


@pytest.fixture
def session(sandbox: LinkedInSandbox) -> Iterator[requests.Session]:
    with make_session() as http:
        yield sandbox.mount(http)


def context(
    sandbox: LinkedInSandbox,
    session: requests.Session,
    clock: Clock,
    answers: tuple[str, ...] = (),
    /,
    **options: str,
) -> ConnectContext:
    return flow_context("linkedin", sandbox.url, session, clock, answers, options=options)


def post(session: requests.Session, sandbox: LinkedInSandbox, token: str, organization: str) -> int:
    answer = session.post(
        f"{sandbox.url}/rest/posts",
        json={
            "author": organization,
            "commentary": f"Hallo {datetime.now(UTC).timestamp()}",
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
        },
        headers={
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": "202605",
            "X-Restli-Protocol-Version": "2.0.0",
        },
        timeout=5,
    )
    return answer.status_code


def test_connect_chooses_among_the_pages_the_person_may_post_for_and_refreshes(
    sandbox: LinkedInSandbox, session: requests.Session, clock: Clock
) -> None:
    soest = sandbox.add_account("Stadt Soest", role=None).organization
    menden = sandbox.add_account("Stadt Menden", role=None).organization
    olpe = sandbox.add_account("Stadt Olpe", role=None).organization
    sandbox.add_member(
        {soest: "ADMINISTRATOR", menden: "CONTENT_ADMIN", olpe: "ANALYST"}  # Olpe: no posting
    )
    app = sandbox.add_app([REDIRECT])
    ctx = context(
        sandbox, session, clock, ("2",), client_id=app.client_id, client_secret=app.client_secret
    )
    flow = flow_for("linkedin")
    record = flow.connect(ctx)

    assert record.extra["organization"] == menden
    assert record.extra["organization_name"] == "Stadt Menden"
    assert record.expires_at == datetime.fromtimestamp(NOW + ACCESS_TOKEN_LIFETIME, UTC)
    assert record.refresh_token is not None
    assert record.extra["refresh_expires_at"] == (
        datetime.fromtimestamp(NOW + REFRESH_TOKEN_LIFETIME, UTC).isoformat()
    )
    assert post(session, sandbox, record.access_token, menden) == 201

    clock.now += ACCESS_TOKEN_LIFETIME - 7 * 86400.0
    refreshed = flow.refresh(record, ctx)
    assert refreshed is not None and refreshed.access_token != record.access_token
    assert refreshed.expires_at == datetime.fromtimestamp(clock.now + ACCESS_TOKEN_LIFETIME, UTC)
    assert refreshed.refresh_token == record.refresh_token  # LinkedIn keeps it
    assert refreshed.extra["refresh_expires_at"] == record.extra["refresh_expires_at"]
    clock.now += 30 * 86400.0
    assert post(session, sandbox, record.access_token, menden) == 401
    assert post(session, sandbox, refreshed.access_token, menden) == 201


def test_an_app_without_refresh_tokens_records_the_expiry_and_cannot_refresh(
    sandbox: LinkedInSandbox, session: requests.Session, clock: Clock
) -> None:
    soest = sandbox.add_account("Stadt Soest", role=None).organization
    sandbox.add_member({soest: "ADMINISTRATOR"})
    app = sandbox.add_app([REDIRECT], refresh_tokens=False)
    ctx = context(
        sandbox,
        session,
        clock,
        organization=soest.rsplit(":", 1)[-1],
        client_id=app.client_id,
        client_secret=app.client_secret,
    )
    record = flow_for("linkedin").connect(ctx)
    assert record.extra["organization"] == soest and record.refresh_token is None
    assert "client_secret" not in record.extra
    assert record.expires_at is not None
    assert flow_for("linkedin").refresh(record, ctx) is None


def test_a_person_without_a_posting_role_is_told_so(
    sandbox: LinkedInSandbox, session: requests.Session, clock: Clock
) -> None:
    soest = sandbox.add_account("Stadt Soest", role=None).organization
    sandbox.add_member({soest: "ANALYST"})
    app = sandbox.add_app([REDIRECT])
    ctx = context(sandbox, session, clock, client_id=app.client_id, client_secret=app.client_secret)
    with pytest.raises(ChannelError, match="no administrator or content admin"):
        flow_for("linkedin").connect(ctx)


def test_cli_connect_and_refresh_keep_the_app_secret_out_of_every_output(
    workspace: Workspace,
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sandbox_clock import Clock as WallClock

    with LinkedInSandbox(clock=WallClock()).start_in_process() as sandbox, make_session() as http:
        session = sandbox.mount(http)
        menden = sandbox.add_account("Stadt Menden", role=None).organization
        sandbox.add_member({menden: "ADMINISTRATOR"})
        app_ = sandbox.add_app([REDIRECT])
        config = workspace.config_file
        config.write_text(
            config.read_text(encoding="utf-8")
            + f'\n[accounts.menden-linkedin]\nchannel = "linkedin"\nsender = "soest"\n'
            f'base_url = "{sandbox.url}"\norganization = "{menden}"\n'
            'token = "env:MENDEN_LINKEDIN_TOKEN"\n',
            encoding="utf-8",
        )
        answers = {"client id": app_.client_id, "client secret": app_.client_secret}
        monkeypatch.setattr(accounts_cmd, "session_factory", lambda: session)
        monkeypatch.setattr(
            accounts_cmd,
            "interaction",
            lambda no_browser: {
                "open_url": Browser(session),
                "say": lambda s: None,
                "ask": lambda prompt, secret=False: next(
                    v for k, v in answers.items() if k in prompt
                ),
            },
        )
        connected = runner.invoke(
            app, ["--config", str(config), "accounts", "connect", "menden-linkedin"]
        )
        assert connected.exit_code == 0, connected.output
        assert 'token = "keyring:menden-linkedin"' in connected.output
        record = default_store().get("menden-linkedin")
        assert record is not None and record.extra["organization"] == menden
        assert app_.client_secret not in connected.output
        assert record.access_token not in connected.output

        config.write_text(
            config.read_text(encoding="utf-8").replace(
                "env:MENDEN_LINKEDIN_TOKEN", "keyring:menden-linkedin"
            ),
            encoding="utf-8",
        )
        refreshed = runner.invoke(
            app, ["--config", str(config), "accounts", "refresh", "menden-linkedin"]
        )
        assert refreshed.exit_code == 0, refreshed.output
        assert "menden-linkedin: refreshed" in refreshed.output
        renewed = default_store().get("menden-linkedin")
        assert renewed is not None and renewed.access_token != record.access_token
        listed = runner.invoke(app, ["--config", str(config), "accounts", "list"])
        assert listed.exit_code == 0, listed.output
        assert "refreshable" in listed.output
        for output in (refreshed.output, listed.output):
            assert app_.client_secret not in output
            assert renewed.access_token not in output
