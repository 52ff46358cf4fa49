"""The real daemon (`campaign run`) in subprocesses against the Mastodon sandbox.

These tests kill workers mid-call and run several daemons on one database: exactly one status
per delivery must reach the sandbox, and none may be left behind.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import AttemptRecord, DeliveryRecord
from live import CANARY_TOKEN_PREFIX, LiveCampaign


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


def states(live: LiveCampaign) -> Counter[str]:
    store = open_store(live.database_url)
    try:
        with store.session() as session:
            return Counter(session.scalars(select(DeliveryRecord.state)))
    finally:
        store.dispose()


def test_run_once_publishes_what_is_due_and_nothing_else(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox)
    live.draft("01-jetzt", live.now - timedelta(minutes=1), "Jetzt: Smart City Soest #5malklug")
    live.draft("02-spaeter", live.now + timedelta(hours=3), "Später #5malklug")
    live.load()
    result = live.run("run", "--once")
    assert result.returncode == 0, result.stderr
    [status] = sandbox.statuses()
    assert (status.text, status.language, status.visibility) == (
        "Jetzt: Smart City Soest #5malklug",
        "de",
        "public",
    )
    assert states(live) == Counter({"published": 1, "pending": 1})
    history = json.loads(live.run("history", "--json").stdout)
    assert history[0]["url"].endswith(f"/@soest0/{status.id}")


def test_a_worker_killed_mid_call_never_posts_twice(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox, lease="2s")
    live.draft("01-jetzt", live.now - timedelta(minutes=1))
    live.load()
    held = sandbox.hold_after_create(1)
    worker = live.start("run", "--once")
    try:
        assert held.wait(30), "the worker never reached the sandbox"
        worker.send_signal(signal.SIGKILL)  # dies while the status exists but the answer is held
        worker.finish(timeout=10)
    finally:
        sandbox.release()
    assert len(sandbox.statuses()) == 1
    assert states(live) == Counter({"publishing": 1})
    time.sleep(2.1)  # let the dead worker's lease run out
    result = live.run("run", "--once")
    assert result.returncode == 0, result.stderr
    assert len(sandbox.statuses()) == 1  # the replayed key returned the first status
    assert states(live) == Counter({"published": 1})
    store = open_store(live.database_url)
    with store.session() as session:
        outcomes = session.scalars(
            select(AttemptRecord.outcome).order_by(AttemptRecord.number)
        ).all()
    store.dispose()
    assert outcomes == ["abandoned", "published"]


def test_a_dropped_connection_is_recovered_without_a_second_status(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox)
    live.draft("01-jetzt", live.now - timedelta(minutes=1))
    live.load()
    sandbox.drop_after_create(1)
    assert live.run("run", "--once").returncode == 0
    assert states(live) == Counter({"retry_wait": 1})
    time.sleep(5.2)  # the replay waits a few seconds
    assert live.run("run", "--once").returncode == 0
    assert len(sandbox.statuses()) == 1
    assert states(live) == Counter({"published": 1})


def test_the_daemon_picks_up_work_queued_by_another_process_and_stops_on_sigterm(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox, reconcile="1s")
    live.draft("01-spaeter", live.now + timedelta(hours=5))
    live.load()
    daemon = live.start("run")
    try:
        time.sleep(1.5)
        due = (live.now + timedelta(seconds=3)).isoformat()
        queued = live.run(
            "queue",
            "Kurzfristig #5malklug",
            "--sender",
            "soest",
            "--channel",
            "mastodon",
            "--at",
            due,
        )
        assert queued.returncode == 0, queued.stderr
        deadline = time.monotonic() + 20
        while not sandbox.statuses() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [s.text for s in sandbox.statuses()] == ["Kurzfristig #5malklug"]
    finally:
        daemon.send_signal(signal.SIGTERM)
        code, stderr = daemon.finish(timeout=20)
    assert code == 0, stderr
    assert "finishing the call in flight" in stderr
    status = json.loads(live.run("status", "--json").stdout)
    assert status["heartbeat_age_seconds"] is not None


def test_secrets_never_reach_logs_database_or_json(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox)
    live.draft("01-jetzt", live.now - timedelta(minutes=1))
    live.load()
    sandbox.fail_next(1, status=401)
    outputs = [live.run("run", "--once", "--log-json", "-v")]
    outputs += [
        live.run(*args)
        for args in (
            ["status", "--json"],
            ["history", "--json"],
            ["plan", "--json"],
            ["check", "--json"],
            ["channels", "verify"],
        )
    ]
    for result in outputs:
        assert CANARY_TOKEN_PREFIX not in result.stdout + result.stderr
    assert CANARY_TOKEN_PREFIX.encode() not in (tmp_path / "live.db").read_bytes()


@pytest.mark.parametrize("daemons", [2, 4])
def test_several_daemons_share_the_work_without_claiming_twice(
    tmp_path: Path, sandbox: MastodonSandbox, database_url: str, daemons: int
) -> None:
    live = LiveCampaign(tmp_path, sandbox, accounts=10, database_url=database_url, min_gap="0m")
    for n in range(200):
        live.draft(f"{n:03d}-beitrag", live.now - timedelta(minutes=1), f"Beitrag {n} #5malklug")
    live.load()
    # One call at a time per daemon: ten accounts (one call each at a time) leave work for all.
    workers = [
        live.start("run", "--once", "--workers", "1", "--worker-id", f"daemon-{i}")
        for i in range(daemons)
    ]
    for worker in workers:
        code, output = worker.finish(timeout=300)
        assert code == 0, output
    created = sandbox.statuses()
    assert len(created) == 2000
    assert len({s.idempotency_key for s in created}) == 2000
    assert states(live) == Counter({"published": 2000})
    store = open_store(live.database_url)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(AttemptRecord)) == 2000
        per_worker = Counter(session.scalars(select(AttemptRecord.worker)))
    store.dispose()
    assert len(per_worker) == daemons  # every daemon took a share
