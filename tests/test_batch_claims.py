"""Claims and records in batches: a tick's due deliveries are claimed together, the outcomes
of calls that finished together are recorded together, and every guard of the protocol holds
for each of them (docs/protocol.md).

On SQLite a batch claim is one ``UPDATE … RETURNING`` with its attempt rows and details in
one statement each, whatever its size; the statement counts below show it (a claim of one
delivery at a time costs three statements each).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from campaign_scheduler.publishing import daemon as daemon_module
from campaign_scheduler.publishing.daemon import Worker
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import (
    Claim,
    Outcome,
    OutcomeKind,
    claim_due_many,
    record_outcomes,
)
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import AttemptRecord, AuditEventRecord, DeliveryRecord
from conftest import Workspace
from fakes import FakeChannels, FakeNetwork, KeyedChannel
from test_parallel_publish import DRAFTS, LEASE, NOW, PATIENCE, Calls, load_drafts

# DRAFTS: three posts on soest-mastodon, one each on olpe-mastodon and soest-bluesky.
ACCOUNTS = 3

#: SQLite batches claims and outcomes; PostgreSQL lanes claim and record side by side, one
#: delivery per pick (SKIP LOCKED) and one statement per outcome (tests/test_pg_round_trips.py).
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def drafted(workspace: Workspace, store: Store) -> Workspace:
    return load_drafts(workspace, store, DRAFTS)


class Statements:
    """Counts the statements sent through ``store``'s engine while counting is on."""

    def __init__(self, store: Store) -> None:
        self.count = 0
        self.on = False
        event.listen(store.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        if self.on:
            self.count += 1

    def during(self, action: Any) -> Any:
        self.count, self.on = 0, True
        try:
            return action()
        finally:
            self.on = False


def delivery_states(store: Store) -> dict[int, str]:
    with store.session() as session:
        return dict(session.execute(select(DeliveryRecord.id, DeliveryRecord.state)).all())


@SQLITE_ONLY
def test_a_batch_claim_on_sqlite_costs_the_statements_of_one_claim(
    drafted: Workspace, store: Store
) -> None:
    """Three claims in one batch cost what one claim costs: one ``UPDATE … RETURNING``, one
    insert of the attempts and one read of the details (plus the transaction's ``BEGIN``)."""
    counter = Statements(store)
    one = counter.during(lambda: claim_due_many(store, "w1", NOW, LEASE, 1))
    single = counter.count
    assert [c.account_name for c in one] == ["soest-mastodon"]
    rest = counter.during(lambda: claim_due_many(store, "w1", NOW, LEASE, 10))
    assert counter.count == single  # (one at a time: three statements more for each claim)
    assert sorted(c.account_name for c in rest) == ["olpe-mastodon", "soest-bluesky"]


def test_a_batch_claim_takes_one_delivery_per_free_account_in_due_order(
    drafted: Workspace, store: Store
) -> None:
    claims = claim_due_many(store, "w1", NOW, LEASE, 10)
    assert len(claims) == ACCOUNTS
    assert [c.due_at for c in claims] == sorted(c.due_at for c in claims)
    by_account = {c.account_name: c for c in claims}
    assert by_account["soest-mastodon"].post_key == "soest/01-klima"  # the most overdue
    for claim in claims:  # each with its attempt, its lease token and what the call needs
        assert claim.attempt_number == 1 and claim.worker == "w1"
        assert claim.text.startswith(claim.post_key)
        assert claim.key_first_used == NOW
    with store.session() as session:
        attempts = session.scalars(select(AttemptRecord)).all()
        held = session.scalars(select(DeliveryRecord).where(DeliveryRecord.state == "publishing"))
        assert {(d.id, d.version, d.lease_owner) for d in held} == {
            (c.delivery_id, c.version, "w1") for c in claims
        }
    assert {(a.id, a.delivery_id, a.number) for a in attempts} == {
        (c.attempt_id, c.delivery_id, 1) for c in claims
    }
    assert claim_due_many(store, "w1", NOW, LEASE, 10) == []  # every account is busy now


def test_batch_claims_racing_each_other_never_claim_a_delivery_twice(
    drafted: Workspace, store: Store, database_url: str
) -> None:
    """Two daemons (engines of their own) claim in batches at once, again and again: each
    delivery goes to one of them, and no account ever has two deliveries in flight."""
    other = open_store(database_url)
    claimed: list[tuple[str, Claim]] = []
    lock = threading.Lock()
    start = threading.Barrier(2, timeout=PATIENCE)

    def claimer(name: str, where: Store) -> None:
        start.wait()
        for _ in range(20):
            got = claim_due_many(where, name, NOW, LEASE, 10)
            with lock:
                claimed.extend((name, claim) for claim in got)

    try:
        threads = [
            threading.Thread(target=claimer, args=(name, where))
            for name, where in (("d1", store), ("d2", other))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE)
    finally:
        other.dispose()
    ids = [claim.delivery_id for _, claim in claimed]
    assert len(ids) == len(set(ids)) == ACCOUNTS
    assert len({claim.account_name for _, claim in claimed}) == ACCOUNTS
    with store.session() as session:
        owners = dict(session.execute(select(DeliveryRecord.id, DeliveryRecord.lease_owner)).all())
        attempts = Counter(session.scalars(select(AttemptRecord.delivery_id)))
    assert {claim.delivery_id: name for name, claim in claimed} == {
        id_: owner for id_, owner in owners.items() if owner is not None
    }
    assert attempts == Counter(ids)  # one attempt row per claim, none for a lost race


def test_a_crash_after_a_batch_claim_leaves_every_claimed_delivery_to_the_take_over(
    drafted: Workspace, store: Store
) -> None:
    """The batch is committed before any call: a daemon that dies right after it leaves its
    claims publishing under a lease, and whoever comes after the lease publishes each of them
    once."""
    dead = claim_due_many(store, "dead", NOW, LEASE, 10)
    assert len(dead) == ACCOUNTS
    network = FakeNetwork()
    channel = KeyedChannel(network)
    later = NOW + LEASE + timedelta(minutes=1)
    heir = Worker(
        store,
        Publisher(FakeChannels(channel), media_root=drafted.root / "posts"),
        worker_id="heir",
        lease=LEASE,
        threads=ACCOUNTS,
        clock=lambda: later,
    )
    heir.tick()
    # each taken over, "possibly out", and sent again under its key (the network dedupes)
    sent_keys = {post.idempotency_key for _, post in network.posts}
    assert {c.idempotency_key for c in dead} <= sent_keys
    assert set(delivery_states(store).values()) == {"published"}
    assert sorted(post.text for _, post in network.posts) == sorted(
        f"{key} #5malklug" for key, _at, _channels in DRAFTS
    )
    with store.session() as session:
        abandoned = session.scalars(
            select(AttemptRecord.delivery_id).where(AttemptRecord.outcome == "abandoned")
        ).all()
    assert sorted(abandoned) == sorted(c.delivery_id for c in dead)


def test_outcomes_recorded_together_each_land_under_their_own_lease(
    drafted: Workspace, store: Store
) -> None:
    claims = claim_due_many(store, "w1", NOW, LEASE, 10)
    published, retry, failed = claims
    # Not the holder (its attempt row is none of these):
    stolen = dataclasses.replace(published, worker="someone-else", attempt_id=-1)
    later = NOW + timedelta(seconds=2)
    kept = record_outcomes(
        store,
        [
            (published, Outcome(OutcomeKind.PUBLISHED, remote_id="7", remote_url="u7")),
            (retry, Outcome(OutcomeKind.RETRY, error="503", next_attempt_at=later)),
            (failed, Outcome(OutcomeKind.FAILED, error="refused")),
            (stolen, Outcome(OutcomeKind.FAILED, error="not mine")),
        ],
        later,
    )
    assert kept == [True, True, True, False]
    states = delivery_states(store)
    assert states[published.delivery_id] == "published"
    assert states[retry.delivery_id] == "retry_wait"
    assert states[failed.delivery_id] == "failed"
    with store.session() as session:
        outcomes = dict(
            session.execute(select(AttemptRecord.delivery_id, AttemptRecord.outcome)).all()
        )
        events = Counter(session.scalars(select(AuditEventRecord.action)))
    assert outcomes == {
        published.delivery_id: "published",
        retry.delivery_id: "retry",
        failed.delivery_id: "failed",
    }
    assert events["delivery.published"] == 1 and events["delivery.failed"] == 1
    assert "delivery.retry_wait" not in events  # a retry is not an event


@SQLITE_ONLY
def test_a_group_of_outcomes_on_sqlite_costs_fewer_statements_than_one_at_a_time(
    drafted: Workspace, store: Store
) -> None:
    claims = claim_due_many(store, "w1", NOW, LEASE, 10)
    counter = Statements(store)
    counter.during(
        lambda: record_outcomes(
            store,
            [(c, Outcome(OutcomeKind.PUBLISHED, remote_id=str(c.delivery_id))) for c in claims],
            NOW,
        )
    )
    # one UPDATE each, then the attempts' ends and the events in one executemany each
    # (+ BEGIN); one at a time it is three statements each.
    assert counter.count == len(claims) + 3
    assert set(delivery_states(store).values()) == {"published", "pending"}


def grouped_worker(store: Store, drafted: Workspace, calls: Calls) -> Worker:
    publisher = Publisher(calls, media_root=drafted.root / "posts")
    return Worker(
        store, publisher, worker_id="w1", lease=LEASE, threads=ACCOUNTS, clock=lambda: NOW
    )


def finish_together(worker: Worker, calls: Calls) -> Worker:
    """Run a tick whose first three calls answer while a write is under way, so that their
    outcomes wait together and the next lane writes them as one group."""
    worker._recording.acquire()  # a write under way
    ticking = threading.Thread(target=worker.tick)
    ticking.start()
    until = time.monotonic() + PATIENCE
    while len(worker._finished) < ACCOUNTS and time.monotonic() < until:
        time.sleep(0.01)
    worker._recording.release()
    ticking.join(PATIENCE)
    assert not ticking.is_alive()
    return worker


@SQLITE_ONLY
def test_a_daemon_on_sqlite_records_outcomes_that_finished_together_in_one_go(
    drafted: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups: list[int] = []
    real = record_outcomes

    def spy(where: Store, results: list[tuple[Claim, Outcome]], now: Any) -> list[bool]:
        groups.append(len(results))
        return real(where, results, now)

    monkeypatch.setattr(daemon_module, "record_outcomes", spy)
    calls = Calls(meet=ACCOUNTS)
    finish_together(grouped_worker(store, drafted, calls), calls)
    assert groups[:1] == [ACCOUNTS]
    assert set(delivery_states(store).values()) == {"published"}
    assert len(calls.network.posts) == len(DRAFTS) and calls.overlaps == []


@SQLITE_ONLY
def test_when_a_group_write_fails_each_outcome_is_recorded_on_its_own(
    drafted: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    failed = [0]

    def away(*_args: object) -> list[bool]:
        failed[0] += 1
        raise OperationalError("UPDATE delivery", {}, Exception("database is locked"))

    monkeypatch.setattr(daemon_module, "record_outcomes", away)
    calls = Calls(meet=ACCOUNTS)
    finish_together(grouped_worker(store, drafted, calls), calls)
    assert failed[0] >= 1
    assert set(delivery_states(store).values()) == {"published"}
    assert len(calls.network.posts) == len(DRAFTS)
