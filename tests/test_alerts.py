"""Alerts: each condition is told once, with what to do, to a real receiver on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from alert_receivers import (  # noqa: F401 (fixtures)
    HttpReceiver,
    SmtpReceiver,
    http_receiver_fixture,
    smtp_receiver_fixture,
)
from campaign_scheduler.alerts import send_alerts
from campaign_scheduler.cli import app
from campaign_scheduler.config import load_settings
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import AccountRecord, DeliveryRecord, PostRecord
from conftest import Workspace

NOW = datetime(2021, 11, 10, 9, 0, tzinfo=UTC)


def with_alerts(ws: Workspace, monkeypatch: pytest.MonkeyPatch, url: str, extra: str = "") -> None:
    monkeypatch.setenv("TEAM_ALERT_URL", url)
    text = ws.config_file.read_text() + f'\n[alerts]\nurls = ["env:TEAM_ALERT_URL"]\n{extra}'
    ws.config_file.write_text(text)


def load(ws: Workspace, runner: CliRunner) -> None:
    ws.draft("soest/01-klima")
    result = runner.invoke(app, ["--config", str(ws.config_file), "load", "--as", "anna"])
    assert result.exit_code == 0, result.output


def set_delivery(ws: Workspace, account: str, **values: object) -> None:
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        for delivery in session.scalars(select(DeliveryRecord)):
            if delivery.account.name == account:
                for key, value in values.items():
                    setattr(delivery, key, value)
    store.dispose()


def send(ws: Workspace, now: datetime = NOW) -> list[str]:
    settings = load_settings(ws.config_file)
    store = open_store(ws.database_url)
    try:
        report = send_alerts(store, settings.alerts, now, sender="test")
    finally:
        store.dispose()
    assert report.error is None, report.error
    return [c.key for c in report.sent]


@pytest.fixture
def loaded(workspace: Workspace, runner: CliRunner) -> Workspace:
    load(workspace, runner)
    return workspace


def test_a_failed_post_is_told_once_in_german_with_what_to_do(
    loaded: Workspace, http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_alerts(loaded, monkeypatch, http_receiver.url)
    set_delivery(
        loaded,
        "soest-mastodon",
        state="failed",
        state_reason="rejected by mastodon: Text zu lang",
    )
    assert len(send(loaded)) == 1
    assert send(loaded) == []  # told once, not every round
    assert send(loaded, NOW + timedelta(hours=5)) == []
    [message] = http_receiver.received
    assert message["title"] == "campaign-scheduler (testlauf): 1 Meldung(en) brauchen eine Person"
    assert (
        "soest/01-klima auf soest-mastodon ist fehlgeschlagen: rejected by mastodon"
        in (message["message"])
    )
    assert (
        "Was tun: Fehler in 'campaign history --post soest/01-klima' ansehen"
        in (message["message"])
    )


def test_the_schedulers_own_reason_is_worded_in_the_alerts_language(
    loaded: Workspace, http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.reasons import Reason

    late = Reason("late", {"grace": 7200, "why": Reason("no_daemon")})
    with_alerts(loaded, monkeypatch, http_receiver.url)
    set_delivery(
        loaded,
        "soest-mastodon",
        state="expired",
        state_reason=late.record(),
        state_reason_data=late.as_json(),
    )
    assert len(send(loaded)) == 1
    [message] = http_receiver.received
    assert (
        "die Frist ist verstrichen: nicht innerhalb von 2 Stunden nach dem geplanten Zeitpunkt "
        "erschienen: der Veröffentlichungsdienst lief zu dieser Zeit nicht" in message["message"]
    )
    assert "rules.grace" not in message["message"]


def test_an_english_campaign_gets_english_alerts(
    loaded: Workspace, http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded.campaign_file.write_text(
        loaded.campaign_file.read_text().replace('language = "de"', 'language = "en"')
    )
    store = open_store(loaded.database_url)
    with store.session(write=True) as session:
        from campaign_scheduler.store.models import CampaignRecord

        session.execute(update(CampaignRecord).values(language="en"))
    store.dispose()
    with_alerts(loaded, monkeypatch, http_receiver.url)
    set_delivery(loaded, "soest-bluesky", state="unknown", state_reason="connection dropped")
    send(loaded)
    [message] = http_receiver.received
    assert "Whether soest/01-klima went out on soest-bluesky is unknown" in message["message"]
    assert (
        "What to do: Look at the account, then 'campaign resolve soest/01-klima "
        "--account soest-bluesky --published URL' or '--not-published'." in message["message"]
    )


def test_an_alert_that_could_not_be_sent_is_sent_next_round(
    loaded: Workspace, http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_alerts(loaded, monkeypatch, http_receiver.url)
    set_delivery(loaded, "soest-mastodon", state="expired", state_reason="deadline passed")
    http_receiver.answers = [500]
    settings = load_settings(loaded.config_file)
    store = open_store(loaded.database_url)
    try:
        report = send_alerts(store, settings.alerts, NOW, sender="test")
        assert report.sent == [] and report.error is not None
        assert "TEAM_ALERT_URL" not in report.error and http_receiver.url not in report.error
        again = send_alerts(store, settings.alerts, NOW, sender="test")
    finally:
        store.dispose()
    assert [c.kind for c in again.sent] == ["delivery_expired"]
    assert len(http_receiver.received) == 1


def test_a_held_account_alerts_again_only_after_it_was_released(
    loaded: Workspace, smtp_receiver: SmtpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_alerts(loaded, monkeypatch, smtp_receiver.url)

    def hold(held: bool) -> None:
        store = open_store(loaded.database_url)
        with store.session(write=True) as session:
            session.execute(
                update(AccountRecord)
                .where(AccountRecord.name == "soest-mastodon")
                .values(
                    needs_attention=held, attention_reason="401 invalid token" if held else None
                )
            )
        store.dispose()

    hold(True)
    assert send(loaded) == ["account-held:soest-mastodon"]
    assert send(loaded) == []
    hold(False)
    assert send(loaded) == []
    hold(True)
    assert send(loaded) == ["account-held:soest-mastodon"]
    assert len(smtp_receiver.mails) == 2
    assert smtp_receiver.mails[0]["To"] == "team@kreis.example"
    [text, _] = smtp_receiver.texts()
    assert "Konto soest-mastodon ist angehalten" in text
    assert "'campaign channels verify'" in text


def test_a_rate_limit_holding_a_post_past_half_its_grace_is_told(
    loaded: Workspace, http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_alerts(loaded, monkeypatch, http_receiver.url)
    store = open_store(loaded.database_url)
    with store.session() as session:
        due = session.scalars(select(DeliveryRecord.due_at)).first()
    assert due is not None
    now = due - timedelta(minutes=5)

    def limit_until(until: datetime) -> None:
        with store.session(write=True) as session:
            session.execute(
                update(AccountRecord)
                .where(AccountRecord.name == "soest-mastodon")
                .values(rate_limited_until=until)
            )

    limit_until(due + timedelta(minutes=59))  # grace is 2 h: within the first half
    assert send(loaded, now) == []
    limit_until(due + timedelta(minutes=61))
    keys = send(loaded, now)
    store.dispose()
    assert len(keys) == 1 and keys[0].startswith("rate-limit:")
    assert "wird durch ein Ratenlimit bis" in http_receiver.received[0]["message"]
    assert "Kulanzzeit (2 h)" in http_receiver.received[0]["message"]


def test_nothing_is_sent_or_remembered_without_alert_urls(loaded: Workspace) -> None:
    set_delivery(loaded, "soest-mastodon", state="failed", state_reason="x")
    assert send(loaded) == []
    from campaign_scheduler.store.attention import notice_keys

    store = open_store(loaded.database_url)
    assert notice_keys(store) == set()
    store.dispose()


def test_an_alert_url_written_into_the_config_is_refused_without_echoing_it(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.config_file.write_text(
        workspace.config_file.read_text()
        + '\n[alerts]\nurls = ["mailtos://anna:geheim@mail.kreis.example"]\n'
    )
    result = runner.invoke(app, ["--config", str(workspace.config_file), "check"])
    assert result.exit_code == 1
    assert "alerts.urls: each entry must be a reference" in result.output
    assert "geheim" not in result.output
    assert "config.toml:" in result.output


def test_posts_are_not_changed_by_alerting(
    loaded: Workspace, http_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_alerts(loaded, monkeypatch, http_receiver.url)
    set_delivery(loaded, "soest-mastodon", state="failed", state_reason="x")
    store = open_store(loaded.database_url)
    with store.session() as session:
        before = [(p.key, p.version) for p in session.scalars(select(PostRecord))]
    store.dispose()
    send(loaded)
    store = open_store(loaded.database_url)
    with store.session() as session:
        assert [(p.key, p.version) for p in session.scalars(select(PostRecord))] == before
    store.dispose()


def test_what_a_person_acknowledged_is_not_alerted(
    loaded: Workspace,
    http_receiver: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
    runner: CliRunner,
) -> None:
    set_delivery(loaded, "soest-mastodon", state="failed", state_reason="x")
    runner.invoke(app, ["--config", str(loaded.config_file), "status", "--ack"])
    with_alerts(loaded, monkeypatch, http_receiver.url)
    assert send(loaded, datetime.now(UTC)) == []
    assert http_receiver.received == []
