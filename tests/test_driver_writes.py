"""The daemon's hot writes on SQLite go to the driver directly (``execute_on_driver``): what
they write and how they fail is what SQLAlchemy's execution gave."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Table, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from campaign_scheduler.publishing.queue import (
    Outcome,
    OutcomeKind,
    claim_due_many,
    record_outcome,
)
from campaign_scheduler.store.engine import Store, execute_on_driver, open_store
from campaign_scheduler.store.models import AttemptRecord, AuditEventRecord, DeliveryRecord
from conftest import Workspace
from test_parallel_publish import DRAFTS, LEASE, NOW, load_drafts


@pytest.fixture
def store(workspace: Workspace) -> Iterator[Store]:
    opened = open_store(workspace.database_url)
    load_drafts(workspace, opened, DRAFTS)
    yield opened
    opened.dispose()


def test_a_recorded_outcome_reads_back_as_it_was_written(store: Store) -> None:
    claim = claim_due_many(store, "w1", NOW, LEASE, 1)[0]
    out_at = NOW.replace(microsecond=123456)
    outcome = Outcome(
        OutcomeKind.PUBLISHED,
        remote_id="109",
        remote_url="https://m.example/@s/109",
        published_at=out_at,
    )
    assert record_outcome(store, claim, outcome, NOW)
    with store.session() as session:
        delivery = session.get(DeliveryRecord, claim.delivery_id)
        attempt = session.get(AttemptRecord, claim.attempt_id)
        assert delivery is not None and attempt is not None
        assert (delivery.state, delivery.remote_id, delivery.maybe_out) == (
            "published",
            "109",
            False,
        )
        assert delivery.published_at == out_at  # an aware UTC datetime, to the microsecond
        assert delivery.lease_owner is None and delivery.version == claim.version + 1
        assert (attempt.outcome, attempt.finished_at) == ("published", NOW)


def test_a_write_the_database_refuses_is_raised_as_sqlalchemys_error_and_nothing_is_kept(
    store: Store,
) -> None:
    claim = claim_due_many(store, "w1", NOW, LEASE, 1)[0]
    with store.transaction(write=True) as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE UPDATE OF state ON delivery "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    outcome = Outcome(OutcomeKind.PUBLISHED, remote_id="109", published_at=NOW)
    with pytest.raises(IntegrityError, match="refused"):  # the daemon retries, then journals
        record_outcome(store, claim, outcome, NOW)
    with store.session() as session:
        assert session.get(DeliveryRecord, claim.delivery_id).state == "publishing"  # type: ignore[union-attr]
        assert session.get(AttemptRecord, claim.attempt_id).finished_at is None  # type: ignore[union-attr]


def test_a_statement_that_needs_sqlalchemy_when_it_runs_is_not_sent_by_the_driver(
    store: Store,
) -> None:
    events = AuditEventRecord.__table__
    assert isinstance(events, Table)
    with store.transaction(write=True) as connection, pytest.raises(ValueError):
        # the ids of an IN list are rendered at execution time
        execute_on_driver(connection, select(events).where(events.c.id.in_([1, 2])), ({},))
    assert issubclass(IntegrityError, SQLAlchemyError)  # what the daemon's retries catch
