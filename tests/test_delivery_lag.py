"""A published delivery's lag is stored with its publication (``delivery.lag_seconds``) and
equals what the report computed from the stored times before it read the column: on SQLite
and PostgreSQL, for deliveries published at once, after a retry, by a receipt from the journal
or by a person's confirmation, and for those published before migration 0010 (it fills them).
Deliveries that are not published have none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Numeric, cast, extract, func, select, update

from campaign_scheduler.channels.published import PublishedPart
from campaign_scheduler.publishing.queue import (
    Outcome,
    OutcomeKind,
    apply_receipt,
    claim_due,
    record_outcome,
    release_retries,
)
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.store.changes import resolve
from campaign_scheduler.store.engine import Store, create_db_engine, open_store
from campaign_scheduler.store.lag import fill_lags
from campaign_scheduler.store.models import DeliveryRecord
from conftest import Workspace
from snapshot_data import campaign_rows
from test_migration_0008 import migrate
from test_publishing import load

D = DeliveryRecord
LEASE = timedelta(minutes=10)


def old_lag(dialect: str) -> Any:
    """The report's lag before migration 0010: computed from the stored times."""
    if dialect == "postgresql":
        return func.round(cast(extract("epoch", D.published_at - D.due_at), Numeric), 3)
    return func.round((func.julianday(D.published_at) - func.julianday(D.due_at)) * 86400.0, 3)


def lags(connection: Connection) -> list[tuple[int, str, float | None, float | None]]:
    """(id, state, stored lag, the old computation) of every delivery."""
    query = select(D.id, D.state, D.lag_seconds, old_lag(connection.dialect.name)).order_by(D.id)
    return [
        (i, state, stored, None if old is None else float(old))
        for i, state, stored, old in connection.execute(query)
    ]


def assert_stored_as_computed(connection: Connection) -> None:
    for _, state, stored, old in lags(connection):
        if state == "published":
            assert old is not None and stored == old
        else:
            assert stored is None


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def posts(workspace: Workspace, store: Store) -> Workspace:
    """Four posts on Mastodon, due an hour apart."""
    for n in range(4):
        workspace.draft(f"soest/0{n}-klima", channels=("mastodon",), at=f"T-14d 1{n}:00")
    load(workspace, store)
    return workspace


def _last_due(store: Store) -> datetime:
    with store.session() as session:
        due = session.scalars(select(func.max(D.due_at))).one()
    assert isinstance(due, datetime)
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _publish(store: Store, now: datetime, published_at: datetime) -> None:
    claim = claim_due(store, "w1", now, LEASE)
    assert claim is not None
    published = Outcome(OutcomeKind.PUBLISHED, remote_id="1", published_at=published_at)
    assert record_outcome(store, claim, published, published_at)


def test_the_publishing_path_stores_the_lag_the_report_computed(
    posts: Workspace, store: Store
) -> None:
    now = _last_due(store) + timedelta(seconds=1)
    # At once, with a sub-millisecond fraction (SQLite counts whole milliseconds).
    _publish(store, now, now + timedelta(seconds=12, microseconds=345_678))
    with store.transaction() as connection:
        [(_, _, first, _)] = [row for row in lags(connection) if row[1] == "published"]
        assert first == 3 * 3600 + 13.346  # the first post was due 3 hours before the last
    # After a retry: no lag while it waits, then the one of its publication.
    claim = claim_due(store, "w1", now, LEASE)
    assert claim is not None
    retry = Outcome(OutcomeKind.RETRY, error="503", next_attempt_at=now + timedelta(minutes=1))
    assert record_outcome(store, claim, retry, now)
    with store.transaction() as connection:
        assert [stored for _, _, stored, _ in lags(connection)].count(None) == 3
    # A failed one keeps none.
    claim = claim_due(store, "w1", now, LEASE)
    assert claim is not None
    assert record_outcome(store, claim, Outcome(OutcomeKind.FAILED, error="no"), now)
    later = now + timedelta(minutes=2)
    release_retries(store, later)
    _publish(store, later, later + timedelta(microseconds=999_500))
    # Published elsewhere, recorded from the local journal.
    with store.transaction() as connection:
        pending = connection.execute(select(D.id).where(D.state == "pending")).scalar_one()
    assert apply_receipt(
        store,
        delivery_id=pending,
        remote_id="7",
        remote_url=None,
        published_at=later + timedelta(hours=1, microseconds=500),
        now=later,
    )
    with store.transaction() as connection:
        rows = lags(connection)
        assert sorted(state for _, state, _, _ in rows) == ["failed", *["published"] * 3]
        assert_stored_as_computed(connection)


def test_a_confirmation_by_a_person_stores_the_lag(posts: Workspace, store: Store) -> None:
    now = _last_due(store) + timedelta(seconds=1)
    claim = claim_due(store, "w1", now, LEASE)
    assert claim is not None
    unknown = Outcome(OutcomeKind.UNKNOWN, error="timeout", maybe_out=True)
    assert record_outcome(store, claim, unknown, now)
    resolve(
        store,
        claim.campaign_slug,
        claim.post_key,
        claim.account_name,
        published_url="https://social.example/@s/5",
        published_as=PublishedPart("5"),
        actor="anna",
        now=now + timedelta(hours=2),
    )
    with store.transaction() as connection:
        [published] = [row for row in lags(connection) if row[1] == "published"]
        assert published[2] is not None
        assert_stored_as_computed(connection)


def test_the_report_reads_the_stored_lag(posts: Workspace, store: Store) -> None:
    now = _last_due(store) + timedelta(seconds=1)
    _publish(store, now, now + timedelta(seconds=29))
    assert build_report(store, "testlauf").totals_punctuality.max_seconds == 3 * 3600 + 30.0
    with store.transaction(write=True) as connection:
        connection.execute(update(D).where(D.state == "published").values(lag_seconds=31.5))
    assert build_report(store, "testlauf").totals_punctuality.max_seconds == 31.5


def _subsecond_publications(connection: Connection) -> None:
    """Give the published deliveries publication times with sub-millisecond fractions."""
    ids = connection.execute(select(D.id, D.published_at).where(D.state == "published")).all()
    for n, (delivery_id, published_at) in enumerate(ids):
        fraction = timedelta(microseconds=(n * 137_501) % 1_000_000)
        assert published_at is not None
        connection.execute(
            update(D).where(D.id == delivery_id).values(published_at=published_at + fraction)
        )
    # One across the end of summer time in Berlin (2021-10-31 01:00 UTC), half a millisecond
    # on either side of the second: the lag is a duration in UTC, whatever the local clock did.
    across = min(delivery_id for delivery_id, _ in ids)
    connection.execute(
        update(D)
        .where(D.id == across)
        .values(
            due_at=datetime(2021, 10, 31, 0, 59, 59, 999_500, tzinfo=UTC),
            published_at=datetime(2021, 10, 31, 1, 0, 0, 500, tzinfo=UTC),
        )
    )


def test_0010_fills_the_lag_of_deliveries_published_before_it(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        migrate(engine, "upgrade", "0009")
        with engine.begin() as connection:
            campaign_rows(connection, 40, seed=3)  # published, failed, pending, … deliveries
            _subsecond_publications(connection)
        migrate(engine, "upgrade", "0010")
        with engine.connect() as connection:
            rows = lags(connection)
            assert sum(state == "published" for _, state, _, _ in rows) > 20
            assert {state for _, state, _, _ in rows} - {"published"}
            assert_stored_as_computed(connection)
            first = select(func.min(D.id)).where(D.state == "published")
            across = connection.execute(first).scalar_one()
            [(_, _, lag, _)] = [row for row in rows if row[0] == across]
            assert lag is not None and abs(lag - 0.001) <= 0.001
            # fill_lags (tests, benchmarks) writes what the migration wrote
            connection.execute(update(D).values(lag_seconds=None))
            assert fill_lags(connection) == sum(s == "published" for _, s, _, _ in rows)
            assert lags(connection) == rows
        migrate(engine, "downgrade", "0009")
        migrate(engine, "upgrade", "head")
    finally:
        engine.dispose()
