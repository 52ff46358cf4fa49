"""`campaign status` never says "all well" while a person is needed, and says so in plain ages."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from alert_receivers import HttpReceiver, http_receiver_fixture  # noqa: F401 (fixture)
from campaign_scheduler.cli import app
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import DeliveryRecord, WorkerRecord
from conftest import Workspace


def invoke(runner: CliRunner, ws: Workspace, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(ws.config_file), *args])


def now() -> datetime:
    return datetime.now(UTC)


def due_in(ws: Workspace, delta: timedelta) -> None:
    """Move every waiting delivery to now + delta (the test campaign lies in 2021)."""
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        session.execute(update(DeliveryRecord).values(due_at=now() + delta, not_after=None))
    store.dispose()


def set_state(ws: Workspace, account: str, state: str, reason: str, at: datetime) -> None:
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        for delivery in session.scalars(select(DeliveryRecord)):
            if delivery.account.name == account:
                delivery.state = state
                delivery.state_reason = reason
                delivery.updated_at = at
    store.dispose()
    # updated_at has an onupdate default: set it once more without touching anything else
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        session.execute(
            update(DeliveryRecord).where(DeliveryRecord.state == state).values(updated_at=at)
        )
    store.dispose()


def worker(ws: Workspace, heartbeat: datetime, stopped: datetime | None) -> None:
    store = open_store(ws.database_url)
    with store.session(write=True) as session:
        session.add(
            WorkerRecord(
                id="host:1:abc",
                hostname=socket.gethostname(),
                pid=1,
                started_at=heartbeat - timedelta(hours=1),
                heartbeat_at=heartbeat,
                version="test",
                stopped_at=stopped,
            )
        )
    store.dispose()


@pytest.fixture
def loaded(workspace: Workspace, runner: CliRunner) -> Workspace:
    workspace.draft("soest/01-klima")
    assert invoke(runner, workspace, "load", "--as", "anna").exit_code == 0
    return workspace


def test_no_daemon_ever_started_and_a_post_due_in_four_minutes_needs_a_person(
    loaded: Workspace, runner: CliRunner
) -> None:
    due_in(loaded, timedelta(minutes=4))
    result = invoke(runner, loaded, "status")
    assert result.exit_code == 1, result.stdout
    assert "daemon: never started" in result.stdout
    assert (
        "needs a person: no daemon is running (never started) and 2 deliveries are due "
        "within the next hour" in result.stdout
    )
    assert "all well" not in result.stdout


def test_a_stopped_daemon_with_work_due_needs_a_person(
    loaded: Workspace, runner: CliRunner
) -> None:
    due_in(loaded, timedelta(minutes=30))
    worker(loaded, now() - timedelta(seconds=5), stopped=now() - timedelta(seconds=5))
    result = invoke(runner, loaded, "status", "--json")
    assert result.exit_code == 1
    status = json.loads(result.stdout)
    assert status["daemon"]["state"] == "stopped"
    assert status["due_within_hour"] == 2
    assert any("no daemon is running (stopped" in p for p in status["needs_a_person"])


def test_a_running_daemon_and_work_later_is_all_well(loaded: Workspace, runner: CliRunner) -> None:
    due_in(loaded, timedelta(hours=3))
    result = invoke(runner, loaded, "status")
    assert result.exit_code == 0, result.stdout  # nothing due within the hour
    assert result.stdout.strip().endswith("all well")
    worker(loaded, now(), stopped=None)
    due_in(loaded, timedelta(minutes=10))
    result = invoke(runner, loaded, "status")
    assert result.exit_code == 0, result.stdout
    assert "daemon: running (heartbeat" in result.stdout


def test_a_silent_daemon_counts_as_not_running(loaded: Workspace, runner: CliRunner) -> None:
    due_in(loaded, timedelta(minutes=10))
    worker(loaded, now() - timedelta(hours=2), stopped=None)
    result = invoke(runner, loaded, "status")
    assert result.exit_code == 1
    assert "daemon: silent for 2 hours (crashed or hanging?)" in result.stdout


def test_an_expired_post_is_named_until_acknowledged(loaded: Workspace, runner: CliRunner) -> None:
    due_in(loaded, timedelta(hours=3))
    worker(loaded, now(), stopped=None)
    set_state(loaded, "soest-mastodon", "expired", "its deadline passed", now() - timedelta(days=3))
    result = invoke(runner, loaded, "status")
    assert result.exit_code == 1
    assert (
        "needs a person: soest/01-klima on soest-mastodon expired 3 days ago: "
        "its deadline passed" in result.stdout
    )
    assert "all well" not in result.stdout

    acked = invoke(runner, loaded, "status", "--ack")
    assert "acknowledged 1 problem(s) as " in acked.stdout
    assert acked.exit_code == 0, acked.stdout
    after = invoke(runner, loaded, "status", "--json")
    assert after.exit_code == 0, after.stdout
    status = json.loads(after.stdout)
    assert status["since_ack"] == []
    assert status["last_ack"]["os_user"]  # the OS user, not a name typed on the command line

    set_state(loaded, "soest-bluesky", "failed", "rejected by bluesky", now())
    again = invoke(runner, loaded, "status")
    assert again.exit_code == 1
    assert "soest/01-klima on soest-bluesky failed" in again.stdout
    assert "soest-mastodon expired" not in again.stdout


def test_ages_read_like_a_person_says_them(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "status")  # the campaign lies years in the past
    assert "oldest overdue by" in result.stdout
    line = next(x for x in result.stdout.splitlines() if "oldest overdue by" in x)
    assert line.endswith(" years")
    assert "d" not in line.split("oldest overdue by ")[1].split()[0]


def test_status_alert_tells_a_person_that_no_daemon_runs(
    loaded: Workspace,
    runner: CliRunner,
    http_receiver: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEAM_ALERT_URL", http_receiver.url)
    loaded.config_file.write_text(
        loaded.config_file.read_text() + '\n[alerts]\nurls = ["env:TEAM_ALERT_URL"]\n'
    )
    due_in(loaded, timedelta(minutes=4))
    result = invoke(runner, loaded, "status", "--alert")
    assert result.exit_code == 1
    assert "1 alert(s) sent" in result.stdout
    again = invoke(runner, loaded, "status", "--alert")
    assert "no new alerts" in again.stdout
    [message] = http_receiver.received
    assert (
        "Kein Daemon läuft (nie gestartet, letztes Lebenszeichen: nie) und 2"
        in (message["message"])
    )
    assert "Was tun: Daemon starten" in message["message"]


def test_status_alert_without_alert_urls_is_a_usage_error(
    loaded: Workspace, runner: CliRunner
) -> None:
    result = invoke(runner, loaded, "status", "--alert")
    assert result.exit_code == 2
    assert "--alert: the config has no [alerts] urls" in result.stderr


def test_many_problems_are_named_up_to_a_limit_and_counted_beyond(
    workspace: Workspace, runner: CliRunner
) -> None:
    for number in range(12):
        workspace.draft(f"soest/{number:02d}-post", at=f"T-{number + 1}d 11:30")
    assert invoke(runner, workspace, "load").exit_code == 0
    store = open_store(workspace.database_url)
    with store.session(write=True) as session:
        session.execute(update(DeliveryRecord).values(state="failed", state_reason="nein"))
    store.dispose()
    result = invoke(runner, workspace, "status")
    assert result.exit_code == 1
    assert (
        result.stdout.count(" failed 0 s ago: nein") + result.stdout.count(" failed 1 s ago: nein")
        <= 20
    )
    assert "… and 4 more failed, expired or unknown deliveries" in result.stdout
    status = json.loads(invoke(runner, workspace, "status", "--json").stdout)
    assert len(status["since_ack"]) == 24
