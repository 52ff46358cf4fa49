"""The record behind alerts and status, on SQLite and PostgreSQL: a notice is claimed once,
a failed send releases it, a clean stop and a silent daemon are told apart."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from campaign_scheduler.store.attention import (
    DaemonState,
    claim_notices,
    daemon_liveness,
    last_ack,
    mark_stopped,
    notice_keys,
    rearm,
    record_ack,
    release_notices,
)
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import WorkerRecord

NOW = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)
STALE = timedelta(seconds=90)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def test_a_notice_is_claimed_once_and_released_when_sending_failed(store: Store) -> None:
    keys: list[tuple[str, str, dict[str, Any]]] = [
        ("delivery:1:failed:1", "delivery_failed", {}),
        ("account-held:x", "account_held", {}),
    ]
    assert claim_notices(store, keys, by="daemon-a", now=NOW) == [k for k, _, _ in keys]
    assert claim_notices(store, keys, by="timer", now=NOW) == []  # the other process
    release_notices(store, ["delivery:1:failed:1"])
    assert claim_notices(store, keys, by="timer", now=NOW) == ["delivery:1:failed:1"]


def test_a_cleared_condition_is_rearmed(store: Store) -> None:
    claim_notices(store, [("account-held:x", "account_held", {})], by="d", now=NOW)
    claim_notices(store, [("delivery:1:failed:1", "delivery_failed", {})], by="d", now=NOW)
    rearm(store, "account_held", active=[])
    assert notice_keys(store) == {"delivery:1:failed:1"}


def test_the_newest_acknowledgement_counts(store: Store) -> None:
    assert last_ack(store) is None
    record_ack(store, os_user="anna", problems=2, now=NOW)
    record_ack(store, os_user="ben", problems=0, now=NOW + timedelta(hours=1))
    ack = last_ack(store)
    assert ack is not None and (ack.os_user, ack.at) == ("ben", NOW + timedelta(hours=1))


def test_liveness_never_started_running_stopped_and_silent(store: Store) -> None:
    assert daemon_liveness(store, NOW, stale_after=STALE).state is DaemonState.NEVER_STARTED
    with store.session(write=True) as session:
        session.add(
            WorkerRecord(
                id="w1", hostname="h", pid=1, started_at=NOW, heartbeat_at=NOW, version="t"
            )
        )
    assert daemon_liveness(store, NOW + STALE, stale_after=STALE).running
    silent = daemon_liveness(store, NOW + STALE + timedelta(seconds=1), stale_after=STALE)
    assert silent.state is DaemonState.STALE
    mark_stopped(store, "w1", NOW + timedelta(seconds=10))
    stopped = daemon_liveness(store, NOW + timedelta(seconds=11), stale_after=STALE)
    assert stopped.state is DaemonState.STOPPED
    assert stopped.stopped_at == NOW + timedelta(seconds=10)
