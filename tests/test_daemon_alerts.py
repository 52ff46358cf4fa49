"""The daemon tells a person right after it records a failure, and leaves a clean stop behind."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from alert_receivers import HttpReceiver, http_receiver_fixture  # noqa: F401 (fixture)
from campaign_scheduler.alerts import send_alerts
from campaign_scheduler.cli import app
from campaign_scheduler.config import load_settings
from campaign_scheduler.errors import RejectedError
from campaign_scheduler.publishing.daemon import Daemon, Worker
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.store.attention import DaemonState, daemon_liveness
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import DeliveryRecord
from conftest import Workspace
from fakes import FakeChannels, FakeNetwork, ScriptedChannel


def test_the_daemon_alerts_after_a_failure_and_records_its_stop(
    workspace: Workspace,
    http_receiver: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEAM_ALERT_URL", http_receiver.url)
    workspace.config_file.write_text(
        workspace.config_file.read_text() + '\n[alerts]\nurls = ["env:TEAM_ALERT_URL"]\n'
    )
    workspace.draft("soest/01-klima", channels=("mastodon",))
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(workspace.config_file), "load"]).exit_code == 0
    settings = load_settings(workspace.config_file)
    store = open_store(workspace.database_url)
    with store.session(write=True) as session:  # due a minute ago, no deadline
        session.execute(
            update(DeliveryRecord).values(
                due_at=datetime.now(UTC) - timedelta(minutes=1), not_after=None
            )
        )
    channel = ScriptedChannel(FakeNetwork(), [RejectedError("rejected by mastodon: Text too long")])
    worker = Worker(store, Publisher(FakeChannels(channel), media_root=workspace.root))
    told = threading.Event()

    def alerts() -> None:
        report = send_alerts(store, settings.alerts, datetime.now(UTC), sender=worker.worker_id)
        if report.sent:
            told.set()

    daemon = Daemon(worker, alerts=alerts, alerts_every=timedelta(hours=1))
    serving = threading.Thread(target=daemon.serve, kwargs={"handle_signals": False})
    serving.start()
    try:
        assert told.wait(timeout=120), "the daemon sent no alert"
        assert daemon_liveness(
            store, datetime.now(UTC), stale_after=timedelta(minutes=5)
        ).state is (DaemonState.RUNNING)
    finally:
        daemon.stop()
        serving.join()
    liveness = daemon_liveness(store, datetime.now(UTC), stale_after=timedelta(minutes=5))
    store.dispose()
    assert liveness.state is DaemonState.STOPPED
    [message] = http_receiver.received
    assert "soest/01-klima auf soest-mastodon ist fehlgeschlagen" in message["message"]
