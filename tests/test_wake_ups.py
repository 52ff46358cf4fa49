"""What a wake-up costs when deliveries fall due a few milliseconds apart (issue 17, item 2):
the read of the next moment, the warm-ups, the heartbeat and the retry sweep, counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, insert, select, update

from campaign_scheduler.publishing.daemon import Daemon, Worker
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import next_wake, release_retries
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryRecord,
    PostRecord,
    WorkerRecord,
)
from conftest import Workspace
from fakes import FakeChannels, FakeNetwork, KeyedChannel
from test_parallel_publish import load_drafts

DUE = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)  # "T-14d 09:30" in Berlin


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def sqlite_store(workspace: Workspace) -> Iterator[Store]:
    opened = open_store(workspace.database_url)
    yield opened
    opened.dispose()


def one_delivery(workspace: Workspace, store: Store) -> None:
    load_drafts(workspace, store, [("soest/01-klima", "T-14d 09:30", ("mastodon",))])


def copy_delivery(store: Store, due_at: datetime, **values: Any) -> int:
    """Another post with one delivery like the first one's, due at ``due_at``; its id."""
    post_t = cast(Table, PostRecord.__table__)
    delivery_t = cast(Table, DeliveryRecord.__table__)
    with store.engine.begin() as connection:
        first_post = select(post_t).order_by(post_t.c.id).limit(1)
        post = dict(connection.execute(first_post).mappings().one())
        first = select(delivery_t).order_by(delivery_t.c.id).limit(1)
        delivery = dict(connection.execute(first).mappings().one())
        number = len(connection.execute(select(post_t.c.id)).all())
        post.pop("id")
        post.update(key=f"{post['key']}-{number}", due_at=due_at)
        post_id = connection.execute(insert(post_t).values(post).returning(post_t.c.id)).scalar()
        delivery.pop("id")
        delivery.update(post_id=post_id, due_at=due_at, idempotency_key=f"copy-{number}", **values)
        added = insert(delivery_t).values(delivery).returning(delivery_t.c.id)
        return int(connection.execute(added).scalar_one())


def vm_steps(store: Store, read: Callable[[], object]) -> int:
    """SQLite virtual machine steps (in tens) that ``read`` makes."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0  # go on

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_progress_handler(count, 10)

    event.listen(store.engine, "checkout", on_checkout)
    try:
        read()
    finally:
        event.remove(store.engine, "checkout", on_checkout)
    return steps[0]


def test_next_wake_reads_the_deliveries_due_first_not_the_whole_queue(
    workspace: Workspace, sqlite_store: Store
) -> None:
    """With 400 deliveries waiting after the first, the next moment is found with about the
    work it takes with one: it was read from every waiting delivery at every wake-up."""
    one_delivery(workspace, sqlite_store)
    alone = vm_steps(sqlite_store, lambda: next_wake(sqlite_store, DUE - timedelta(days=1)))
    for n in range(1, 401):
        copy_delivery(sqlite_store, DUE + timedelta(milliseconds=7 * n))
    many = vm_steps(sqlite_store, lambda: next_wake(sqlite_store, DUE - timedelta(days=1)))
    assert next_wake(sqlite_store, DUE - timedelta(days=1)) == DUE
    assert many <= 2 * alone + 10, (alone, many)


def test_next_wake_is_the_earliest_moment_whatever_the_due_order(
    workspace: Workspace, store: Store
) -> None:
    """A waiting delivery's moment is the latest of its due time, its next attempt and its
    account's rate limit; the earliest of those moments is the next wake-up, even where an
    earlier due time waits longer, and held deliveries do not count."""
    one_delivery(workspace, store)  # due at DUE, on soest-mastodon
    first = DUE
    retrying = copy_delivery(
        store,
        first - timedelta(minutes=5),
        state="retry_wait",
        next_attempt_at=first + timedelta(minutes=3),
    )
    copy_delivery(store, first + timedelta(minutes=1))
    with store.engine.begin() as connection:  # the account of all three is rate-limited
        connection.execute(
            update(AccountRecord).values(rate_limited_until=first + timedelta(seconds=30))
        )
    before = DUE - timedelta(days=1)
    assert next_wake(store, before) == first + timedelta(seconds=30)

    with store.engine.begin() as connection:
        connection.execute(update(AccountRecord).values(rate_limited_until=None))
        connection.execute(  # the retry is now the earliest, though due before the others
            update(DeliveryRecord)
            .where(DeliveryRecord.id == retrying)
            .values(next_attempt_at=first - timedelta(minutes=1))
        )
    assert next_wake(store, before) == first - timedelta(minutes=1)

    with store.engine.begin() as connection:  # held for approval: not counted
        connection.execute(update(CampaignRecord).values(require_approval=True))
        connection.execute(
            update(PostRecord)
            .where(
                PostRecord.id.in_(
                    select(DeliveryRecord.post_id).where(DeliveryRecord.id == retrying)
                )
            )
            .values(approver="anna")
        )
    assert next_wake(store, before) == first - timedelta(minutes=1)
    with store.engine.begin() as connection:
        connection.execute(update(PostRecord).values(approver=None))
    assert next_wake(store, before) is None


class Jobs:
    """A scheduler that only notes the jobs it is given."""

    def __init__(self) -> None:
        self.added: list[tuple[str, datetime]] = []

    def add_job(
        self, _job: object, _trigger: str, *, run_date: datetime, id: str, **_: object
    ) -> None:
        self.added.append((id.split("-")[0], run_date))

    def remove_job(self, _id: str) -> None:
        pass

    def of(self, kind: str) -> list[datetime]:
        return [at for name, at in self.added if name == kind]


def test_wake_ups_close_together_share_one_warm_up(workspace: Workspace, store: Store) -> None:
    """Deliveries due two seconds apart: the second wake-up is inside the first warm-up's
    horizon (WARM_LEAD after its wake-up) and gets none of its own; one due 30 s later
    does. (Every wake-up had its own warm-up: a thread, a rehearsal and a read each.)"""
    one_delivery(workspace, store)
    second = copy_delivery(store, DUE + timedelta(seconds=2))
    copy_delivery(store, DUE + timedelta(seconds=30))
    clock = [DUE - timedelta(minutes=1)]
    worker = Worker(
        store, Publisher(FakeChannels(KeyedChannel(FakeNetwork())), media_root=workspace.root)
    )
    worker.clock = lambda: clock[0]
    daemon = Daemon(worker, warm=lambda _names: None)
    jobs = Jobs()
    daemon._scheduler = jobs

    def used(until: datetime) -> None:
        """The wake-up ran: what was due by ``until`` went out."""
        clock[0] = until
        daemon._wake_at = None
        with store.engine.begin() as connection:
            connection.execute(
                update(DeliveryRecord)
                .where(DeliveryRecord.due_at <= until)
                .values(state="published")
            )
        daemon._schedule_wake()

    daemon._schedule_wake()
    used(DUE)
    used(DUE + timedelta(seconds=2))
    assert jobs.of("publish") == [DUE, DUE + timedelta(seconds=2), DUE + timedelta(seconds=30)]
    assert jobs.of("warm") == [DUE - timedelta(seconds=10), DUE + timedelta(seconds=20)]
    assert second  # (the delivery due two seconds after the first)


def test_ticks_close_together_write_one_heartbeat_a_second(
    workspace: Workspace, store: Store
) -> None:
    one_delivery(workspace, store)
    clock = [DUE - timedelta(hours=1)]
    worker = Worker(
        store,
        Publisher(FakeChannels(KeyedChannel(FakeNetwork())), media_root=workspace.root),
        worker_id="w1",
        clock=lambda: clock[0],
    )

    def heartbeat() -> datetime:
        with store.session() as session:
            return session.scalars(select(WorkerRecord.heartbeat_at)).one()

    first = clock[0]
    worker.tick()
    clock[0] = first + timedelta(milliseconds=500)
    worker.tick()
    assert heartbeat() == first
    clock[0] = first + timedelta(milliseconds=1500)
    worker.tick()
    assert heartbeat() == first + timedelta(milliseconds=1500)


def test_a_tick_with_no_retry_over_takes_no_write_lock_to_release_retries(
    workspace: Workspace, sqlite_store: Store
) -> None:
    """Each tick releases the retries whose wait is over; when there are none it only reads
    (the write transaction waited for the lanes' records on SQLite)."""
    one_delivery(workspace, sqlite_store)
    retrying = copy_delivery(
        sqlite_store, DUE, state="retry_wait", next_attempt_at=DUE + timedelta(minutes=5)
    )
    begun: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("BEGIN"):
            begun.append(statement)

    event.listen(sqlite_store.engine, "before_cursor_execute", on_execute)
    try:
        assert release_retries(sqlite_store, DUE + timedelta(minutes=1)) == 0
        assert "BEGIN IMMEDIATE" not in begun
        assert release_retries(sqlite_store, DUE + timedelta(minutes=6)) == 1
        assert "BEGIN IMMEDIATE" in begun
    finally:
        event.remove(sqlite_store.engine, "before_cursor_execute", on_execute)
    with sqlite_store.session() as session:
        assert session.get(DeliveryRecord, retrying).state == "pending"  # type: ignore[union-attr]
