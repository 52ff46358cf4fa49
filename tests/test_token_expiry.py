"""Token expiry is known and acted on: status, channels verify, the alert, the daemon's refresh."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests
from typer.testing import CliRunner

from alert_receivers import HttpReceiver, http_receiver_fixture  # noqa: F401 (fixture)
from auth_browser import Browser
from campaign_scheduler.alerts import send_alerts, watch_token_expiry
from campaign_scheduler.auth.accounts import (
    context_for,
    refresh_due,
    refresh_tokens_job,
    token_source,
)
from campaign_scheduler.auth.base import flow_for
from campaign_scheduler.auth.tokens import TokenRecord, default_store
from campaign_scheduler.channels._http import make_session
from campaign_scheduler.cli import app, status_cmd
from campaign_scheduler.config import load_settings
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.timeutil import utcnow
from conftest import Workspace

# The draft is due on 4 Nov 2021 09:30 Berlin (T-14d before the 18 Nov event).
NOW = datetime(2021, 10, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_watch() -> Iterator[None]:
    yield
    watch_token_expiry(None)


def use_token_store(ws: Workspace, base_url: str | None = None) -> None:
    text = ws.config_file.read_text(encoding="utf-8").replace(
        'token = "env:SOEST_MASTODON_TOKEN"', 'token = "keyring:soest-mastodon"'
    )
    if base_url is not None:
        text = text.replace("https://social.soest.example", base_url)
    ws.config_file.write_text(text, encoding="utf-8")


def store_token(expires_at: datetime | None, refresh: str | None = None, access: str = "t") -> None:
    default_store().put(
        "soest-mastodon", TokenRecord(access, refresh_token=refresh, expires_at=expires_at)
    )


@pytest.fixture
def loaded(workspace: Workspace, runner: CliRunner) -> Workspace:
    use_token_store(workspace)
    workspace.draft("soest/01-klima")
    result = runner.invoke(app, ["--config", str(workspace.config_file), "load", "--as", "anna"])
    assert result.exit_code == 0, result.output
    return workspace


def test_status_flags_a_token_that_expires_before_the_last_scheduled_post(
    loaded: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_cmd, "utcnow", lambda: NOW)
    store_token(datetime(2021, 11, 2, 12, 0, tzinfo=UTC))
    result = runner.invoke(app, ["--config", str(loaded.config_file), "status"])
    assert result.exit_code == 1, result.output
    assert (
        "needs a person: soest-mastodon: token expires in 3 days, before its last scheduled "
        "post (connect it again: campaign accounts connect soest-mastodon)"
    ) in result.output
    as_json = runner.invoke(app, ["--config", str(loaded.config_file), "status", "--json"])
    assert '"before_last_post": true' in as_json.output


def test_status_shows_a_later_expiry_without_alarm(
    loaded: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_cmd, "utcnow", lambda: NOW)
    store_token(datetime(2021, 12, 31, 12, 0, tzinfo=UTC))
    result = runner.invoke(app, ["--config", str(loaded.config_file), "status"])
    assert "soest-mastodon: token expires in 62 days" in result.output
    assert "needs a person: soest-mastodon" not in result.output


def test_a_refreshable_token_is_no_alarm_while_the_daemon_can_renew_it(
    loaded: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_cmd, "utcnow", lambda: NOW)
    store_token(datetime(2021, 11, 2, 12, 0, tzinfo=UTC), refresh="r")
    result = runner.invoke(app, ["--config", str(loaded.config_file), "status"])
    assert "soest-mastodon: token expires in 3 days, before its last scheduled post (renewed" in (
        result.output
    )
    assert "needs a person: soest-mastodon" not in result.output


def test_the_expiry_alert_names_the_last_post_in_german(
    loaded: Workspace, http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM_ALERT_URL", http_receiver.url)
    loaded.config_file.write_text(
        loaded.config_file.read_text() + '\n[alerts]\nurls = ["env:TEAM_ALERT_URL"]\n'
    )
    store_token(datetime(2021, 11, 2, 12, 0, tzinfo=UTC))
    settings = load_settings(loaded.config_file)
    watch_token_expiry(token_source(settings))
    store = open_store(loaded.database_url)
    try:
        first = send_alerts(store, settings.alerts, NOW, sender="test")
        again = send_alerts(store, settings.alerts, NOW, sender="test")
    finally:
        store.dispose()
    assert [c.kind for c in first.sent] == ["token_expiring_before_post"]
    assert again.sent == []  # told once
    message = http_receiver.received[0]["message"]
    assert "Der Token von soest-mastodon läuft am 2021-11-02 13:00 ab" in message
    assert "vor dem letzten geplanten Beitrag am 2021-11-04 09:30" in message
    assert "campaign accounts connect soest-mastodon" in message


# --- refresh ----------------------------------------------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox().start_in_process() as server:
        server.oauth.lifetime = 7 * 86400.0
        server.oauth.refreshable = True
        server.oauth.consent_as = "stadtsoest"
        yield server


@pytest.fixture
def http(sandbox: MastodonSandbox) -> Iterator[requests.Session]:
    with make_session() as session:
        yield sandbox.mount(session)


def _works(sandbox: MastodonSandbox, http: requests.Session, token: str) -> bool:
    answer = http.get(
        f"{sandbox.url}/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return answer.status_code == 200


def test_the_daemon_job_refreshes_a_token_well_ahead_of_expiry(
    workspace: Workspace, sandbox: MastodonSandbox, http: requests.Session
) -> None:
    use_token_store(workspace, sandbox.url)
    settings = load_settings(workspace.config_file)
    account = settings.accounts["soest-mastodon"]
    ctx = context_for(account, http, open_url=Browser(http), say=lambda line: None)
    record = flow_for("mastodon").connect(ctx)
    assert record.expires_at is not None and record.refresh_token is not None
    store = default_store()
    store.put("soest-mastodon", record)

    # Eight days ahead of expiry nothing is due; with three days left it is refreshed.
    early = refresh_due(settings, store, record.expires_at - timedelta(days=12), lambda: http)
    assert early == []
    outcomes = refresh_due(settings, store, record.expires_at - timedelta(days=3), lambda: http)
    assert [(o.account, o.result) for o in outcomes] == [("soest-mastodon", "refreshed")]
    renewed = store.get("soest-mastodon")
    assert renewed is not None and renewed.access_token != record.access_token
    assert renewed.refresh_token != record.refresh_token  # rotated, written back
    assert renewed.extra["username"] == "stadtsoest"
    assert _works(sandbox, http, renewed.access_token)
    # The spent refresh token is refused: the next refresh must use the stored one.
    store.put("soest-mastodon", record)
    failed = refresh_due(settings, store, record.expires_at, lambda: http)
    assert [o.result for o in failed] == ["failed"]
    assert "refresh token is unknown" in (failed[0].detail or "")


def test_refresh_job_exists_only_for_accounts_in_the_token_store(workspace: Workspace) -> None:
    assert refresh_tokens_job(load_settings(workspace.config_file)) is None
    use_token_store(workspace)
    job = refresh_tokens_job(load_settings(workspace.config_file))
    assert job is not None
    store_token(None)
    assert job() == []  # no expiry known: nothing to refresh


def test_channels_verify_shows_the_expiry(workspace: Workspace, runner: CliRunner) -> None:
    with MastodonSandbox() as sandbox:
        token = sandbox.add_account("stadtsoest")
        use_token_store(workspace, sandbox.url)
        store_token(utcnow() + timedelta(days=30, hours=1), access=token)
        result = runner.invoke(
            app,
            [
                "--config",
                str(workspace.config_file),
                "channels",
                "verify",
                "--account",
                "soest-mastodon",
            ],
        )
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[0]
    assert line.startswith("ok   soest-mastodon: @stadtsoest@")
    assert line.endswith(" · expires in 30 days")
    assert token not in result.output


def test_the_daemon_runs_the_token_job_at_start_and_goes_on_when_it_fails(
    workspace: Workspace,
) -> None:
    import threading

    from campaign_scheduler.publishing.daemon import Daemon, Worker
    from campaign_scheduler.publishing.publisher import Publisher
    from fakes import FakeChannels, FakeNetwork, ScriptedChannel

    store = open_store(workspace.database_url)
    worker = Worker(
        store,
        Publisher(FakeChannels(ScriptedChannel(FakeNetwork(), [])), media_root=workspace.root),
    )
    ran = threading.Event()

    def tokens() -> None:
        ran.set()
        raise RuntimeError("the network's token endpoint is broken")

    daemon = Daemon(worker, tokens=tokens, tokens_every=timedelta(hours=6))
    serving = threading.Thread(target=daemon.serve, kwargs={"handle_signals": False})
    serving.start()
    try:
        assert ran.wait(timeout=120), "the daemon did not run the token job"
        assert serving.is_alive()
    finally:
        daemon.stop()
        serving.join()
        store.dispose()
