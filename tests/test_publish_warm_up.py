"""The warm-up before a due moment leaves only the call itself for the moment.

Ten seconds before a wake-up the daemon makes the adapters the calls will use and runs every
statement of a tick once, finding and changing nothing, so that the first burst after a quiet
spell neither builds adapters nor compiles SQL while deliveries are due.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from campaign_scheduler.channels.base import Channel
from campaign_scheduler.config import load_settings
from campaign_scheduler.publishing.accounts import ConfiguredChannels, warm_up
from campaign_scheduler.publishing.queue import (
    Outcome,
    OutcomeKind,
    claim_due,
    record_and_claim_due,
    record_outcome,
    rehearse,
    renew_lease,
)
from campaign_scheduler.rules import check
from campaign_scheduler.store.engine import Store, driver_sql, open_store
from campaign_scheduler.store.models import AttemptRecord, AuditEventRecord, DeliveryRecord
from campaign_scheduler.store.sync import load_campaign_into
from conftest import Workspace

NOW = datetime(2021, 11, 4, 10, 5, tzinfo=UTC)  # soest/01 is due (08:30 UTC), within grace
LEASE = timedelta(minutes=10)


@pytest.fixture
def store(database_url: str, workspace: Workspace) -> Iterator[Store]:
    opened = open_store(database_url)
    workspace.draft(
        "soest/01-klima", at="T-14d 09:30", channels=("mastodon",), body="Klima #5malklug"
    )
    settings = load_settings(workspace.config_file)
    result = check(settings)
    assert result.errors == [] and result.campaign is not None
    load_campaign_into(
        opened, result.campaign, result.drafts, result.deliveries, settings, actor="anna"
    )
    yield opened
    opened.dispose()


def _record_state(store: Store) -> tuple[Any, ...]:
    with store.session() as session:
        deliveries = session.execute(
            select(DeliveryRecord.id, DeliveryRecord.state, DeliveryRecord.version)
        ).all()
        attempts = session.scalar(select(func.count()).select_from(AttemptRecord))
        events = session.scalar(select(func.count()).select_from(AuditEventRecord))
    return sorted(deliveries), attempts, events


def test_the_rehearsal_changes_nothing_and_leaves_no_statement_of_a_tick_to_compile(
    store: Store,
) -> None:
    before = _record_state(store)
    rehearse(store, "w1", LEASE)
    assert _record_state(store) == before  # a due delivery is there, and still pending

    misses: list[str] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, _p: Any, context: Any, _m: Any) -> None:
        if context is not None and context.cache_hit is context.dialect.CACHE_MISS:
            misses.append(statement)

    # PostgreSQL's pipelines and SQLite's hot writes, compiled for the driver
    on_driver = set(driver_sql.get(store.engine.dialect, {}))
    try:
        claim = claim_due(store, "w1", NOW, LEASE)
        assert claim is not None
        renew_lease(store, claim, NOW + LEASE)
        published = Outcome(OutcomeKind.PUBLISHED, remote_id="1", published_at=NOW)
        if store.is_sqlite:
            assert record_outcome(store, claim, published, NOW)
        else:  # a lane records and claims its next delivery in one go
            assert record_and_claim_due(store, claim, published, NOW, LEASE, 1) == (True, [])
    finally:
        event.remove(store.engine, "after_cursor_execute", _seen)
    assert misses == []
    assert set(driver_sql.get(store.engine.dialect, {})) == on_driver


def test_the_warm_up_makes_the_adapters_the_calls_will_use(workspace: Workspace) -> None:
    settings = load_settings(workspace.config_file)
    publishing = ConfiguredChannels(settings, per_account=True)
    probing = ConfiguredChannels(settings, per_account=True)
    made: list[str] = []
    original = publishing._make

    def make(name: str) -> Channel:
        made.append(name)
        return original(name)

    publishing._make = make  # type: ignore[method-assign, assignment]
    warm_up(probing, ["soest-mastodon"], publishing=publishing)
    assert made == ["soest-mastodon"]
    publishing.channel_for("soest-mastodon")  # the call: made already
    assert made == ["soest-mastodon"]
