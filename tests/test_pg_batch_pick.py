"""PostgreSQL: claims in one round trip, in batches, side by side with another daemon.

A claim on PostgreSQL is two statements of one transaction, the pick (which locks the
deliveries and their accounts, ``SKIP LOCKED``) and the claim (a snapshot of its own, which
sees a claim another daemon committed meanwhile); they go out together in one round trip. A
claim for several lanes picks the first deliveries in due order and claims the most overdue
of each account among them. Round trips are counted as in tests/test_pg_round_trips.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaign_scheduler.publishing.daemon import Worker
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import (
    Claim,
    Outcome,
    OutcomeKind,
    claim_due_many,
    record_outcome,
)
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import DeliveryRecord
from conftest import Workspace
from test_parallel_publish import PATIENCE, Calls, keys_in_due_order, load_drafts
from test_pg_round_trips import RoundTrips

NOW = datetime(2021, 11, 4, 10, 5, tzinfo=UTC)  # every draft below is due, none past grace
LEASE = timedelta(minutes=10)


def drafts(per_account: int) -> list[tuple[str, str, tuple[str, ...]]]:
    """``per_account`` posts (at most four: the rules' gap is 30 minutes, the grace two
    hours) on each of soest-mastodon, olpe-mastodon and soest-bluesky, due half an hour after
    another, the accounts' interleaved."""
    made: list[tuple[str, str, tuple[str, ...]]] = []
    for n in range(per_account):
        minutes = 9 * 60 + 30 + 30 * n
        at = f"T-14d {minutes // 60:02d}:{minutes % 60:02d}"
        made.append((f"soest/{n:02d}-m", at, ("mastodon",)))
        made.append((f"olpe/{n:02d}-m", at, ("mastodon",)))
        made.append((f"soest/{n:02d}-b", at, ("bluesky",)))
    return made


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = open_store(postgres_url)
    yield opened
    opened.dispose()


def _claimed_counting_round_trips(store: Store, lanes: int) -> tuple[list[Claim], int]:
    """A claim for ``lanes`` lanes at NOW, and the round trips it took (the pool opened
    before, so that connecting is not counted)."""
    claim_due_many(store, "w1", NOW - timedelta(days=3650), LEASE, 1)
    trips = RoundTrips(store)
    try:
        claims = claim_due_many(store, "w1", NOW, LEASE, lanes)
        return claims, trips.count()
    finally:
        trips.close()


def test_a_claim_for_many_lanes_is_one_round_trip_and_one_delivery_per_account(
    workspace: Workspace, store: Store
) -> None:
    """Ten lanes want a delivery, three accounts have four each: one round trip claims the
    most overdue of each account (before: a pick and a claim for each, in a transaction of
    its own, 4 round trips a claim)."""
    load_drafts(workspace, store, drafts(4))
    claims, used = _claimed_counting_round_trips(store, 10)
    assert sorted(c.post_key for c in claims) == ["olpe/00-m", "soest/00-b", "soest/00-m"]
    assert len({c.account_name for c in claims}) == 3
    assert [c.due_at for c in claims] == sorted(c.due_at for c in claims)
    assert used == 1
    assert claim_due_many(store, "w1", NOW, LEASE, 10) == []  # every account is busy now


def test_a_claim_of_one_is_one_round_trip(workspace: Workspace, store: Store) -> None:
    load_drafts(workspace, store, drafts(2))
    claims, used = _claimed_counting_round_trips(store, 1)
    assert [c.post_key[-5:] for c in claims] in (["/00-m"], ["/00-b"])  # one of the first
    assert used == 1


def test_batch_claims_of_two_daemons_never_overlap_and_keep_each_account_in_due_order(
    workspace: Workspace, store: Store, postgres_url: str
) -> None:
    """Two daemons (engines of their own), four threads each, claim batches of three and
    record at once, until nothing is left: each delivery is claimed once, an account never
    has two deliveries in flight, and each account's go out in due order."""
    load_drafts(workspace, store, drafts(4))
    other = open_store(postgres_url)
    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    overlaps: list[str] = []
    claimed: list[Claim] = []
    start = threading.Barrier(8, timeout=PATIENCE)

    def lane(name: str, where: Store) -> None:
        start.wait()
        while got := claim_due_many(where, name, NOW, LEASE, 3):
            with lock:
                for claim in got:
                    if claim.account_name in in_flight:
                        overlaps.append(f"{claim.post_key} beside {in_flight}")
                    in_flight[claim.account_name] = claim.delivery_id
                claimed.extend(got)
            for claim in got:
                with lock:  # (before the record: a claim after it may follow at once)
                    del in_flight[claim.account_name]
                published = Outcome(OutcomeKind.PUBLISHED, remote_id=str(claim.delivery_id))
                assert record_outcome(where, claim, published, NOW)

    try:
        threads = [
            threading.Thread(target=lane, args=(f"d{n % 2}", (store, other)[n % 2]))
            for n in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
    finally:
        other.dispose()
    assert overlaps == []
    ids = Counter(claim.delivery_id for claim in claimed)
    assert len(ids) == 12 and set(ids.values()) == {1}
    with store.session() as session:
        assert Counter(session.scalars(select(DeliveryRecord.state))) == {"published": 12}
    order: dict[str, list[str]] = {}
    for claim in sorted(claimed, key=lambda c: c.attempt_id):  # in the order of the claims
        order.setdefault(claim.account_name, []).append(claim.idempotency_key)
    assert order == keys_in_due_order(store)


def two_daemons(
    workspace: Workspace, stores: tuple[Store, Store], calls: Calls, threads: int
) -> list[Worker]:
    """Daemons d1 and d2, each on its own store (its own connections), with ``threads`` lanes
    each, making their calls through ``calls``."""
    return [
        Worker(
            where,
            Publisher(calls, media_root=workspace.root / "posts"),
            worker_id=name,
            lease=LEASE,
            threads=threads,
            clock=lambda: NOW,
        )
        for name, where in zip(("d1", "d2"), stores, strict=True)
    ]


def test_two_daemons_on_postgresql_publish_each_post_once_one_call_at_a_time_per_account(
    workspace: Workspace, store: Store, postgres_url: str
) -> None:
    load_drafts(workspace, store, drafts(4))
    other = open_store(postgres_url)
    calls = Calls()
    workers = two_daemons(workspace, (store, other), calls, threads=4)
    try:
        threads = [threading.Thread(target=w.tick) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
    finally:
        other.dispose()
    assert calls.overlaps == []
    keys = [post.idempotency_key for _remote_id, post in calls.network.posts]
    assert len(keys) == len(set(keys)) == 12
    assert dict(calls.started) == keys_in_due_order(store)


def test_a_daemon_on_postgresql_records_and_claims_the_next_in_one_round_trip(
    workspace: Workspace, store: Store
) -> None:
    """A lane's outcome and its next claim are one transaction, one round trip: a tick
    costs one round trip per delivery more than a tick with nothing due (before: 5, a
    record and a claim of its own)."""

    def tick_round_trips() -> int:
        calls = Calls()
        publisher = Publisher(calls, media_root=workspace.root / "posts")
        w = Worker(store, publisher, worker_id="w1", lease=LEASE, threads=1, clock=lambda: NOW)
        trips = RoundTrips(store)
        try:
            w.tick()
            return trips.count()
        finally:
            trips.close()

    tick_round_trips()  # (the daemon's first heartbeat is written now, not in a tick below)
    load_drafts(workspace, store, drafts(2))
    busy = tick_round_trips()
    idle = tick_round_trips()  # nothing due any more
    with store.session() as session:
        assert Counter(session.scalars(select(DeliveryRecord.state))) == {"published": 6}
    assert (busy - idle) / 6 <= 1, f"{busy} round trips, {idle} with nothing due"


def test_a_pipeline_on_a_connection_the_server_ends_fails_as_sqlalchemy_and_is_not_reused(
    workspace: Workspace, store: Store
) -> None:
    """The daemon retries writes on SQLAlchemy's errors: a pipeline whose connection the
    server ends raises one (the driver's error translated), and the next pipeline goes out
    on a new connection."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    load_drafts(workspace, store, drafts(1))
    ended = text("SELECT pg_terminate_backend(pg_backend_pid())")
    with pytest.raises(OperationalError) as raised:
        store.pipelined([(ended, {})])
    assert raised.value.connection_invalidated
    claims = claim_due_many(store, "w1", NOW, LEASE, 10)
    assert len(claims) == 3


def _waiting_for_a_lock(store: Store, count: int) -> None:
    """Until ``count`` backends of the test's database wait for a lock."""
    from sqlalchemy import text

    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(int(PATIENCE * 20)):
        with store.engine.connect() as connection:
            if connection.execute(query).scalar_one() >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"{count} backends never waited for a lock")


def test_a_batch_claim_locks_no_more_accounts_than_it_claims_for(
    workspace: Workspace, store: Store, postgres_url: str
) -> None:
    """Daemon A claims for two lanes; while its claim is in flight (its pick's locks held),
    daemon B claims for two: B gets the third account's first delivery (all three are due at
    the same instant), the one A does not claim. (Before,
    A's pick locked the first ``2 × BATCH_SCAN`` deliveries in due order and every account
    among them, all three here, so B found nothing: a daemon with free lanes went idle, on
    PostgreSQL until its next wake-up, while another claimed only what its lanes could take.)

    A's claim is held in flight by a table lock on ``attempt`` that its claim statement (which
    inserts the attempts, after the pick) waits for; B's waits for it too, after its pick."""
    from sqlalchemy import text

    load_drafts(workspace, store, drafts(4))
    other = open_store(postgres_url)
    got: dict[str, list[Claim]] = {}

    def claim(name: str, where: Store) -> None:
        got[name] = claim_due_many(where, name, NOW, LEASE, 2)

    a = threading.Thread(target=claim, args=("A", store))
    b = threading.Thread(target=claim, args=("B", other))
    try:
        with store.engine.connect() as holding:
            holding.execute(text("LOCK TABLE attempt IN SHARE MODE"))
            a.start()
            _waiting_for_a_lock(store, 1)  # A has picked and locked
            b.start()
            _waiting_for_a_lock(store, 2)  # B has picked too
            holding.commit()
        a.join(PATIENCE)
        b.join(PATIENCE)
    finally:
        other.dispose()
    assert len(got["A"]) == 2
    assert len(got["B"]) == 1
    both = got["A"] + got["B"]
    assert sorted(c.post_key for c in both) == ["olpe/00-m", "soest/00-b", "soest/00-m"]


def test_a_daemon_with_free_lanes_is_not_left_idle_by_another_daemons_claim(
    workspace: Workspace, store: Store, postgres_url: str
) -> None:
    """Two daemons, two lanes each, three accounts due: daemon d1's first claim (for its two
    lanes) is in flight when d2's tick claims. d2 gets the account d1 does not take and
    publishes (before, d1's claim held all three accounts, d2's tick found nothing and ended:
    on a daemon it then waits for its next wake-up, with `run --once` it exits), each post
    goes out once, one call at a time per account."""
    from sqlalchemy import text

    load_drafts(workspace, store, drafts(4))
    other = open_store(postgres_url)
    calls = Calls()
    workers = two_daemons(workspace, (store, other), calls, threads=2)
    reports = {}

    def tick(worker: Worker) -> None:
        reports[worker.worker_id] = worker.tick()

    threads = [threading.Thread(target=tick, args=(w,)) for w in workers]
    try:
        with store.engine.connect() as holding:
            holding.execute(text("LOCK TABLE attempt IN SHARE MODE"))
            threads[0].start()
            _waiting_for_a_lock(store, 1)  # d1 has picked for its two lanes
            threads[1].start()
            _waiting_for_a_lock(store, 2)  # d2 has picked too
            holding.commit()
        for thread in threads:
            thread.join(PATIENCE)
    finally:
        other.dispose()
    assert reports["d2"].published >= 1
    assert calls.overlaps == []
    keys = [post.idempotency_key for _remote_id, post in calls.network.posts]
    assert len(keys) == len(set(keys)) == 12
