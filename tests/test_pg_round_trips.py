"""PostgreSQL: round trips per delivery, and connections dropped by the server.

Round trips are counted from libpq's protocol trace of every connection the store opens: a
message the client sends that the server must answer before the client goes on (a simple
``Query``: ``BEGIN``, ``COMMIT``, a ping; or a ``Sync`` closing an extended-protocol
statement or a pipeline) is one round trip. So a ``BEGIN`` sent on its own counts, and one
sent in a pipeline with the statement after it does not count again.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, select, text

from campaign_scheduler.publishing.daemon import Worker
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import (
    Outcome,
    OutcomeKind,
    claim_due,
    record_outcome,
)
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import DeliveryRecord
from conftest import Workspace
from fakes import FakeNetwork, KeyedChannel
from test_parallel_publish import load_drafts

NOW = datetime(2021, 11, 4, 10, 5, tzinfo=UTC)  # every draft below is due, none past grace
LEASE = timedelta(minutes=10)
DRAFTS = [
    ("soest/01-klima", "T-14d 09:30"),
    ("soest/02-wasser", "T-14d 10:00"),
    ("soest/03-energie", "T-14d 10:30"),
    ("olpe/01-willkommen", "T-14d 10:00"),
    ("olpe/02-radweg", "T-14d 11:00"),
]


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = open_store(postgres_url)
    yield opened
    opened.dispose()


@pytest.fixture
def drafted(workspace: Workspace, store: Store) -> Workspace:
    return load_drafts(workspace, store, ((key, at, ("mastodon",)) for key, at in DRAFTS))


class RoundTrips:
    """Traces every connection ``store`` opens from now on (libpq ``PQtrace``)."""

    def __init__(self, store: Store) -> None:
        store.engine.dispose()  # connections opened before were not traced
        self._folder = tempfile.TemporaryDirectory()
        self._files: list[Any] = []
        self._lock = threading.Lock()
        self._engine = store.engine
        event.listen(store.engine, "connect", self._trace)

    def _trace(self, dbapi_connection: Any, _record: Any) -> None:
        from psycopg import pq

        with self._lock:
            path = Path(self._folder.name) / f"{len(self._files)}.trace"
            stream = path.open("w", encoding="utf-8")
            self._files.append(stream)
        dbapi_connection.pgconn.trace(stream.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def count(self) -> int:
        """Round trips so far: every ``Query`` and ``Sync`` the client sent."""
        total = 0
        with self._lock:
            for stream in self._files:
                stream.flush()
                for line in Path(stream.name).read_text(encoding="utf-8").splitlines():
                    fields = line.split("\t")
                    sent = fields[0] == "F" and len(fields) >= 3
                    if sent and fields[2].split(" ")[0] in ("Query", "Sync"):
                        total += 1
        return total

    def close(self) -> None:
        event.remove(self._engine, "connect", self._trace)
        for stream in self._files:
            stream.close()
        self._folder.cleanup()


def published(remote_id: str) -> Outcome:
    return Outcome(OutcomeKind.PUBLISHED, remote_id=remote_id, published_at=NOW)


def test_a_delivery_costs_two_round_trips_to_postgresql(drafted: Workspace, store: Store) -> None:
    """A claim (pick and claim, one transaction sent in one go) and a record (one statement),
    with no ping before each and no ``BEGIN`` of its own: 2 round trips (before: 9, then 5
    with the claim's ``BEGIN``, pick, claim and ``COMMIT`` one after another)."""
    claim_due(store, "w1", NOW - timedelta(days=3650), LEASE)  # opens the pool, finds nothing
    trips = RoundTrips(store)
    try:
        for n in range(len(DRAFTS)):
            claim = claim_due(store, "w1", NOW, LEASE)
            assert claim is not None
            assert record_outcome(store, claim, published(str(n)), NOW)
        per_delivery = trips.count() / len(DRAFTS)
    finally:
        trips.close()
    assert claim_due(store, "w1", NOW, LEASE) is None
    with store.session() as session:
        assert set(session.scalars(select(DeliveryRecord.state))) == {"published"}
    assert per_delivery <= 2, f"{per_delivery} round trips per delivery"


def terminate_other_backends(url: str) -> int:
    """``pg_terminate_backend`` on every other connection to the database of ``url``, and
    wait until those backends have exited: ``pg_terminate_backend`` only signals them, and a
    connection checked out before its backend closed the socket still looks alive."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            pids = list(
                connection.execute(
                    text(
                        # Materialized first: the planner may otherwise call
                        # pg_terminate_backend before the other conditions are checked.
                        "WITH other AS MATERIALIZED (SELECT pid FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()) "
                        "SELECT pid FROM other WHERE pg_terminate_backend(pid)"
                    )
                ).scalars()
            )
            for _ in range(1000):
                alive = connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                    {"pids": pids},
                ).scalar_one()
                if not alive:
                    break
                time.sleep(0.01)
            else:
                raise AssertionError(f"backends {pids} did not exit")
    finally:
        engine.dispose()
    return len(pids)


class OneChannel:
    def __init__(self, network: FakeNetwork) -> None:
        self.channel = KeyedChannel(network)

    def channel_for(self, _account: str) -> KeyedChannel:
        return self.channel


def test_connections_dropped_by_the_server_between_deliveries_lose_and_repeat_nothing(
    drafted: Workspace, store: Store, postgres_url: str
) -> None:
    """The server ends every pooled connection (a restart, a failover, an idle timeout)
    between deliveries: the next claims and records go out on new connections, each
    delivery is published once and recorded published."""
    network = FakeNetwork()
    publisher = Publisher(OneChannel(network), media_root=drafted.root / "posts")
    first = claim_due(store, "w1", NOW, LEASE)
    assert first is not None
    assert terminate_other_backends(postgres_url) >= 1  # between the claim and its record
    assert record_outcome(store, first, published("first"), NOW)
    assert terminate_other_backends(postgres_url) >= 1  # between two deliveries
    w = Worker(store, publisher, worker_id="w1", lease=LEASE, threads=2, clock=lambda: NOW)
    report = w.tick()
    assert report.published == len(DRAFTS) - 1
    assert terminate_other_backends(postgres_url) >= 1
    assert w.tick().published == 0
    keys = [post.idempotency_key for _remote_id, post in network.posts]
    assert len(keys) == len(set(keys)) == len(DRAFTS) - 1
    with store.session() as session:
        assert list(session.scalars(select(DeliveryRecord.state).distinct())) == ["published"]


def test_count_statements_counts_what_its_figures_are_called(
    drafted: Workspace, store: Store
) -> None:
    """benchmarks/count_statements.py: a ``COMMIT`` is counted only where one is sent (the
    claim, a pick and a claim in one pipeline, and the record, one statement, both run in
    autocommit and send none), a pipeline's statements are counted although they bypass
    SQLAlchemy's cursor events, check-outs are not round trips (nothing pings), and each unit
    in autocommit is one round trip (its ``Sync``)."""
    import importlib.util

    script = Path(__file__).parents[1] / "benchmarks" / "count_statements.py"
    spec = importlib.util.spec_from_file_location("count_statements", script)
    assert spec is not None and spec.loader is not None
    count_statements = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(count_statements)

    claim_due(store, "w1", NOW - timedelta(days=3650), LEASE)  # opens the pool, finds nothing
    store.engine.dispose()  # every connection of the count is opened (and traced) in it
    counts = count_statements.Counts()
    try:
        with counts.counting():
            for n in range(len(DRAFTS)):
                claim = claim_due(store, "w1", NOW, LEASE)
                assert claim is not None
                assert record_outcome(store, claim, published(str(n)), NOW)
        figures = counts.as_dict()
    finally:
        store.engine.dispose()  # the traced connections end before their traces are closed
        counts.close()
    assert figures.get("commits", 0) == 0
    assert figures["autocommits"] == 2 * len(DRAFTS)  # each claim's pipeline, each record
    assert figures["statements"] == 3 * len(DRAFTS)  # pick, claim, record
    assert figures["checkouts"] == 2 * len(DRAFTS)
    assert figures["round_trips"] == figures["autocommits"]
    assert figures["round_trips"] <= 2 * len(DRAFTS)
