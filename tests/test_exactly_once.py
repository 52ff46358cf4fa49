"""Exactly once under compound faults (issue 9): each observed failure, reproduced.

Every test here combines two faults that the protocol met one at a time before: a lost
answer and then a failed replay, a claim racing a command, a call longer than its lease, a
record that cannot be written. The record must always tell the truth about the network.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from campaign_scheduler.channels.base import OutboundPost, Receipt
from campaign_scheduler.channels.published import PublishedPart
from campaign_scheduler.errors import (
    ConflictError,
    RateLimitedError,
    UnavailableError,
)
from campaign_scheduler.publishing.daemon import Daemon, utcnow
from campaign_scheduler.publishing.queue import (
    Outcome,
    OutcomeKind,
    claim_abandoned,
    claim_due,
    expire_overdue,
    record_outcome,
)
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import AccountRecord, DeliveryRecord
from conftest import Workspace
from fakes import (
    CREATE_THEN_LOSE_ANSWER,
    BlindChannel,
    FakeChannels,
    FakeNetwork,
    KeyedChannel,
    KeyOnlyChannel,
    LookupChannel,
)
from test_publishing import (
    DUE,
    LEASE,
    LONG_TEXT,
    Clock,
    delivery,
    load,
    one_post,
    store,
    thread_post,
    worker,
)

__all__ = ["one_post", "store", "thread_post"]  # fixtures shared with test_publishing

#: How long a test waits for another thread to reach a condition; never a timing assumption.
PATIENCE = 30.0


def wait_for(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` until it holds; False if it never did within PATIENCE."""
    done = threading.Event()
    for _ in range(int(PATIENCE / 0.01)):
        if condition():
            return True
        done.wait(0.01)
    return False


def set_delivery(store: Store, **values: object) -> None:
    with store.session(write=True) as session:
        session.execute(update(DeliveryRecord).values(**values))


# -- 1. a failed replay must not turn the next attempt into a fresh post -----------------------


def test_a_failed_replay_past_the_key_window_never_posts_again(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = KeyOnlyChannel(network, [CREATE_THEN_LOSE_ANSWER, UnavailableError("503")])
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock)
    w.tick()  # created, answer lost
    clock.advance(seconds=5)
    w.tick()  # the replay meets a 503
    assert delivery(store).state == "retry_wait"
    clock.advance(minutes=56)  # the network has forgotten the key; the deadline is still ahead
    w.tick()
    d = delivery(store)
    assert len(network.posts) == 1
    assert d.state == "unknown"
    assert "resolve" in (d.state_reason or "")


def test_a_failed_replay_at_the_last_attempt_is_not_recorded_failed(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = KeyedChannel(network, [CREATE_THEN_LOSE_ANSWER, UnavailableError("503")])
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock, max_attempts=2)
    for _ in range(4):
        w.tick()
        clock.advance(minutes=1)
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "1")
    assert len(network.posts) == 1


# -- 2. commands racing a claim (PostgreSQL: READ COMMITTED) -----------------------------------


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[Store]:
    opened = open_store(postgres_url)
    yield opened
    opened.dispose()


def claim_right_after_read(monkeypatch: pytest.MonkeyPatch, store: Store, target: str) -> None:
    """Let a daemon claim the delivery between the command's read and its write."""
    from campaign_scheduler.store import changes

    original = getattr(changes, target)

    def read_then_claim(*args: object, **kwargs: object) -> object:
        result = original(*args, **kwargs)
        if claim_due(store, "racer", DUE, LEASE) is None:
            raise AssertionError("the racing claim found nothing")
        return result

    monkeypatch.setattr(changes, target, read_then_claim)


def test_cancel_that_loses_the_race_changes_nothing(
    workspace: Workspace, pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.store.changes import cancel

    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, pg_store)
    claim_right_after_read(monkeypatch, pg_store, "_post")
    with pytest.raises(ConflictError):
        cancel(pg_store, "testlauf", "soest/01-klima", actor="anna", now=DUE)
    assert delivery(pg_store).state == "publishing"


def test_reschedule_that_loses_the_race_changes_nothing(
    workspace: Workspace, pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.rules import check
    from campaign_scheduler.store.changes import reschedule

    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, pg_store)
    campaign = check(load_settings(workspace.config_file)).campaign
    assert campaign is not None
    claim_right_after_read(monkeypatch, pg_store, "_post")
    with pytest.raises(ConflictError):
        reschedule(
            pg_store, campaign, "soest/01-klima", DUE + timedelta(days=1), actor="anna", now=DUE
        )
    d = delivery(pg_store)
    assert (d.state, d.due_at) == ("publishing", DUE)


def test_load_that_loses_the_race_changes_nothing(
    workspace: Workspace, pg_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.store import sync

    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, pg_store)
    workspace.draft(
        "soest/01-klima", body="Neuer Text über Soest. #5malklug", channels=("mastodon",)
    )
    original = sync._Sync._update_post

    def claim_then_update(self: object, *args: object) -> None:
        assert claim_due(pg_store, "racer", DUE, LEASE) is not None
        original(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sync._Sync, "_update_post", claim_then_update)
    with pytest.raises(ConflictError):
        load(workspace, pg_store)
    d = delivery(pg_store)
    assert d.state == "publishing"
    assert d.text.startswith("Soest will bis 2030")


# -- 3. load never rewrites a delivery that may be partly out ----------------------------------


def test_load_refuses_to_rewrite_a_delivery_whose_last_answer_was_lost(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    worker(store, one_post, KeyedChannel(network, [CREATE_THEN_LOSE_ANSWER]), Clock(DUE)).tick()
    assert delivery(store).state == "retry_wait"
    one_post.draft("soest/01-klima", body="Ganz neuer Text. #5malklug", channels=("mastodon",))
    with pytest.raises(ConflictError):
        load(one_post, store)
    assert delivery(store).text.startswith("Soest will bis 2030")


def test_load_refuses_to_rewrite_a_thread_with_parts_out(
    thread_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = KeyedChannel(network, ["ok", UnavailableError("503")])
    worker(store, thread_post, channel, Clock(DUE)).tick()
    assert len(delivery(store).parts or []) == 1
    thread_post.draft(
        "soest/01-lang",
        body=LONG_TEXT.replace("Soest", "Olpe"),
        channels=("mastodon",),
        extra="split = true\n",
    )
    with pytest.raises(ConflictError):
        load(thread_post, store)
    assert "Soest" in delivery(store).text


# -- 4. leases live as long as the call; a worker that lost its lease stops --------------------


def test_the_lease_is_renewed_while_a_long_call_is_in_flight(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    clock = Clock(DUE)
    channel = LookupChannel(network)
    slow = worker(store, one_post, channel, clock)
    slow.renew_every = 0.01
    other = worker(store, one_post, LookupChannel(network), clock)
    other.worker_id = "w2"

    def renewed_after(moment: datetime) -> Callable[[], bool]:
        return lambda: (delivery(store).lease_until or DUE) > moment + LEASE * 0.5

    def lasts_longer_than_the_lease(post: OutboundPost) -> None:
        for _ in range(3):  # three times 0.9 leases: the lease must be renewed to survive
            clock.now += LEASE * 0.9
            assert wait_for(renewed_after(clock.now)), "the lease was not renewed during the call"
        other.tick()  # another daemon looks in: the delivery is still held

    channel.during_call = lasts_longer_than_the_lease
    slow.tick()
    assert len(network.posts) == 1
    assert delivery(store).state == "published"


def test_a_worker_that_lost_its_lease_sends_no_further_part(
    thread_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    clock = Clock(DUE)
    channel = KeyedChannel(network)

    def taken_over(post: OutboundPost) -> None:
        if post.reply_to is None:  # part 1 outlasts the lease, and another worker takes over
            clock.advance(minutes=11)
            assert claim_abandoned(store, "thief", clock.now, LEASE) is not None

    channel.during_call = taken_over
    worker(store, thread_post, channel, clock).tick()
    assert len(network.posts) == 1  # part 1 went out; parts 2 and 3 were fenced off
    d = delivery(store)
    assert (d.state, d.lease_owner) == ("publishing", "thief")
    assert not d.parts  # and the worker that lost its lease recorded nothing


# -- 5. metrics never share the publishing path ------------------------------------------------


def test_publishing_goes_on_while_a_metrics_sweep_hangs(one_post: Workspace, store: Store) -> None:
    network = FakeNetwork()
    set_delivery(store, due_at=DUE + timedelta(days=1))  # nothing due when the daemon starts
    clock = Clock(DUE)
    w = worker(store, one_post, KeyedChannel(network), clock)
    sweeping, release = threading.Event(), threading.Event()

    def hanging_sweep(stop: threading.Event) -> None:
        sweeping.set()
        release.wait(PATIENCE)  # a network that does not answer, and ignores the stop

    daemon = Daemon(
        w,
        reconcile=timedelta(milliseconds=20),
        metrics=hanging_sweep,
        metrics_every=timedelta(hours=1),
        metrics_first=timedelta(0),
    )
    serving = threading.Thread(target=daemon.serve, kwargs={"handle_signals": False})
    stopper = threading.Thread(target=daemon.stop)
    serving.start()
    try:
        assert sweeping.wait(PATIENCE)
        set_delivery(store, due_at=DUE)  # queued elsewhere, seen by reconcile
        assert wait_for(lambda: delivery(store).state == "published")
        stopper.start()
        stopper.join(PATIENCE / 3)
        serving.join(PATIENCE / 3)
        assert not stopper.is_alive(), "stopping waited for the metrics sweep"
        assert not serving.is_alive(), "the daemon waited for the metrics sweep to stop"
    finally:
        release.set()
        serving.join(PATIENCE)
        if stopper.is_alive():
            stopper.join(PATIENCE)


def test_stopping_never_deadlocks_with_a_job_that_is_setting_its_next_wake_up(
    one_post: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop that arrives while a job is choosing its next wake-up: the job must not wait for
    a scheduler lock that the stop holds while the stop waits for the job (a deadlock that
    left daemons alive after SIGTERM)."""
    from campaign_scheduler.publishing import daemon as daemon_module

    set_delivery(store, due_at=DUE + timedelta(days=1))
    clock = Clock(DUE)
    w = worker(store, one_post, KeyedChannel(FakeNetwork()), clock)
    d = Daemon(w, reconcile=timedelta(hours=1))
    choosing, shutting_down = threading.Event(), threading.Event()

    def next_wake_during_the_stop(_store: Store, now: datetime) -> datetime:
        choosing.set()
        shutting_down.wait(PATIENCE)  # the stop is under way when the job goes on
        return now + timedelta(hours=1)

    monkeypatch.setattr(daemon_module, "next_wake", next_wake_during_the_stop)
    serving = threading.Thread(target=d.serve, kwargs={"handle_signals": False})
    serving.start()
    try:
        assert choosing.wait(PATIENCE)  # the first reconcile is choosing its wake-up
        # APScheduler's own moment of shutting down its executor (inside its job-store lock).
        executor = d._scheduler._executors["default"]
        shut_down = executor.shutdown

        def shutdown(*args: object, **kwargs: object) -> None:
            shutting_down.set()
            shut_down(*args, **kwargs)

        monkeypatch.setattr(executor, "shutdown", shutdown)
        stopper = threading.Thread(target=d.stop)
        stopper.start()
        stopper.join(PATIENCE)  # a deadlock detector, not a time limit: this returns at once
        serving.join(PATIENCE)
        assert not stopper.is_alive(), "stop() deadlocked with the job in flight"
        assert not serving.is_alive(), "serve() did not return after stop()"
    finally:
        shutting_down.set()
        serving.join(PATIENCE)


def serving_until_stopped(d: Daemon) -> tuple[threading.Thread, list[BaseException]]:
    """``d.serve()`` on a thread of its own; what it raised, if anything, lands in the list."""
    raised: list[BaseException] = []

    def serve() -> None:
        try:
            d.serve(handle_signals=False)
        except BaseException as error:  # noqa: BLE001 (the test reports it)
            raised.append(error)

    serving = threading.Thread(target=serve, name="serving")
    serving.start()
    return serving, raised


def a_daemon_waiting_for_tomorrow(
    store: Store, one_post: Workspace, monkeypatch: pytest.MonkeyPatch
) -> tuple[Daemon, threading.Event]:
    """A daemon whose next work is an hour away; the event is set once it has reconciled."""
    from campaign_scheduler.publishing import daemon as daemon_module

    set_delivery(store, due_at=DUE + timedelta(days=1))
    d = Daemon(worker(store, one_post, KeyedChannel(FakeNetwork()), Clock(DUE)))
    reconciled = threading.Event()

    def next_wake_in_an_hour(_store: Store, now: datetime) -> datetime:
        reconciled.set()
        return now + timedelta(hours=1)

    monkeypatch.setattr(daemon_module, "next_wake", next_wake_in_an_hour)
    return d, reconciled


def test_a_stop_while_the_scheduler_hands_a_job_over_leaves_serve_clean(
    one_post: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop that arrives while the scheduler's loop hands a due job to the worker thread:
    APScheduler marks itself stopped before it takes its job stores' lock, so the loop, which
    holds that lock, then removes the job it has just handed over from a scheduler that says
    it is stopped, finds nothing and raises JobLookupError out of serve() (seen under load)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    stopper_takes_a_lock = threading.Event()

    class WatchedLock:
        """The scheduler's own lock, telling when the stopping thread first reaches for it."""

        def __init__(self) -> None:
            self._lock = threading.RLock()

        def __enter__(self) -> bool:
            if threading.current_thread().name == "stopper":
                stopper_takes_a_lock.set()
            return self._lock.__enter__()

        def __exit__(self, *exc: object) -> None:
            self._lock.release()

    monkeypatch.setattr(BlockingScheduler, "_create_lock", lambda _self: WatchedLock())
    d, reconciled = a_daemon_waiting_for_tomorrow(store, one_post, monkeypatch)
    serving, raised = serving_until_stopped(d)
    stopper = threading.Thread(target=d.stop, name="stopper")
    try:
        assert reconciled.wait(PATIENCE)
        executor = d._scheduler._executors["default"]
        hand_over = executor.submit_job

        def stop_while_handing_over(job: Any, run_times: list[datetime]) -> None:
            if job.id == "came-due":  # on the loop's thread, inside the job stores' lock
                stopper.start()
                assert stopper_takes_a_lock.wait(PATIENCE)  # the stop is under way
            hand_over(job, run_times)

        monkeypatch.setattr(executor, "submit_job", stop_while_handing_over)
        d._scheduler.add_job(lambda: None, "date", run_date=utcnow(), id="came-due")
        assert stopper_takes_a_lock.wait(PATIENCE)
        stopper.join(PATIENCE)
        serving.join(PATIENCE)
        assert not stopper.is_alive() and not serving.is_alive()
        assert raised == []
    finally:
        d.stop()
        serving.join(PATIENCE)


def test_a_stop_just_before_the_scheduler_starts_is_not_lost(
    one_post: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (a SIGTERM) that comes after serve() has looked for one but before the
    scheduler runs: the stop finds nothing running to shut down, and the scheduler must not
    then serve on for ever."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    d, _reconciled = a_daemon_waiting_for_tomorrow(store, one_post, monkeypatch)
    start = BlockingScheduler.start

    def stopped_on_the_way(scheduler: BlockingScheduler, *args: Any, **kwargs: Any) -> None:
        d.stop()  # serve() has checked for a stop; the scheduler is not running yet
        start(scheduler, *args, **kwargs)

    monkeypatch.setattr(BlockingScheduler, "start", stopped_on_the_way)
    serving, raised = serving_until_stopped(d)
    try:
        serving.join(PATIENCE)  # a detector of a lost stop, not a time limit
        assert not serving.is_alive(), "serve() went on after a stop"
        assert raised == []
    finally:
        monkeypatch.undo()
        d.stop()
        serving.join(PATIENCE)


class MetricsLimited(KeyedChannel):
    def fetch_metrics(self, receipt: Receipt) -> object:  # type: ignore[override]
        raise RateLimitedError("429 on a read", retry_at=DUE + timedelta(hours=2))


def test_a_rate_limited_metrics_read_does_not_hold_publishing(
    workspace: Workspace, store: Store
) -> None:
    from campaign_scheduler.metrics.collector import collect

    workspace.draft("soest/01-klima", channels=("mastodon",))
    workspace.draft("soest/02-gemeinsam", channels=("mastodon",), at="T-14d 11:00")
    load(workspace, store)
    network = FakeNetwork()
    channel = MetricsLimited(network)
    clock = Clock(DUE)
    w = worker(store, workspace, channel, clock)
    w.tick()  # the first post is out
    collect(store, FakeChannels(channel), clock.now, everything=True)
    clock.advance(minutes=90)
    w.tick()
    with store.session() as session:
        states = sorted(session.scalars(select(DeliveryRecord.state)))
    assert states == ["published", "published"]


class CountedReads(KeyedChannel):
    reads = 0

    def fetch_metrics(self, receipt: Receipt) -> object:  # type: ignore[override]
        from campaign_scheduler.channels.base import Metrics

        self.reads += 1
        return Metrics(likes=1)


def test_a_metrics_sweep_stops_between_two_reads(workspace: Workspace, store: Store) -> None:
    from campaign_scheduler.metrics.collector import collect

    workspace.draft("soest/01-klima", channels=("mastodon",))
    workspace.draft("soest/02-gemeinsam", channels=("mastodon",), at="T-14d 11:00")
    load(workspace, store)
    channel = CountedReads(FakeNetwork())
    clock = Clock(DUE + timedelta(hours=2))
    worker(store, workspace, channel, clock).tick()

    def stop_after_the_first_read() -> bool:
        return channel.reads >= 1

    report = collect(
        store, FakeChannels(channel), clock.now, everything=True, stop=stop_after_the_first_read
    )
    assert (channel.reads, report.snapshots) == (1, 1)


# -- 7. a failed lookup after a lost answer asks a person ----------------------------------------


def test_lookups_that_keep_failing_end_unknown_not_expired(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = LookupChannel(network, [CREATE_THEN_LOSE_ANSWER])
    channel.lookup_errors = [UnavailableError("503 on the lookup")] * 50
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock)
    for _ in range(30):
        w.tick()
        if delivery(store).state not in ("pending", "retry_wait", "publishing"):
            break
        clock.advance(minutes=20)
    d = delivery(store)
    assert len(network.posts) == 1
    assert d.state == "unknown", (d.state, d.state_reason)
    assert d.state_reason


# -- 8. half a thread is never recorded expired --------------------------------------------------


def test_a_thread_with_part_one_out_is_completed_after_the_deadline(
    thread_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = KeyedChannel(network, ["ok", UnavailableError("503")])
    clock = Clock(DUE)
    w = worker(store, thread_post, channel, clock)
    w.tick()
    clock.advance(hours=3)  # past the two hours of grace
    w.tick()
    d = delivery(store)
    assert d.state == "published"
    assert len(network.posts) == 3
    assert [post.text[-5:] for _, post in network.posts] == ["(1/3)", "(2/3)", "(3/3)"]


def test_a_thread_whose_first_part_a_person_confirms_is_completed_not_cut_short(
    thread_post: Workspace, store: Store
) -> None:
    from campaign_scheduler.store.changes import resolve

    network = FakeNetwork()
    clock = Clock(DUE)
    w = worker(store, thread_post, BlindChannel(network, [CREATE_THEN_LOSE_ANSWER]), clock)
    w.tick()
    assert (delivery(store).state, len(network.posts)) == ("unknown", 1)
    message = resolve(
        store,
        "testlauf",
        "soest/01-lang",
        "soest-mastodon",
        published_url="https://social.example/@s/1",
        published_as=PublishedPart("1"),
        actor="eva",
        now=DUE + timedelta(hours=3),  # past the deadline: a started thread is completed
    )
    assert "part 1" in message
    d = delivery(store)
    assert (d.state, d.parts) == ("pending", [{"id": "1", "url": "https://social.example/@s/1"}])
    clock.advance(hours=3)
    w.tick()
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "1")
    assert [post.text[-5:] for _, post in network.posts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert [post.reply_to for _, post in network.posts] == [None, "1", "2"]


# -- 9. the thread plan is frozen at the first attempt -------------------------------------------


def test_a_resumed_thread_continues_the_split_it_started(
    thread_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    channel = KeyedChannel(network, ["ok", UnavailableError("503")])
    clock = Clock(DUE)
    w = worker(store, thread_post, channel, clock)
    w.tick()
    channel.limit = 300  # the instance's limit, as cached, changed meanwhile
    clock.advance(minutes=5)
    w.tick()
    texts = network.texts()
    assert [text[-5:] for text in texts] == ["(1/3)", "(2/3)", "(3/3)"]
    assert delivery(store).state == "published"


# -- 10. a receipt is never lost -----------------------------------------------------------------


def test_a_receipt_survives_a_failed_write_of_the_record(
    one_post: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    network = FakeNetwork()
    clock = Clock(DUE)
    w = worker(store, one_post, KeyedChannel(network), clock)
    original = store.transaction
    failures = [OperationalError("UPDATE delivery", {}, Exception("database is locked"))]

    def flaky(*, write: bool = False, single: bool = False) -> object:
        if write and failures and network.posts:  # the first write after the post went out
            raise failures.pop()
        return original(write=write, single=single)

    monkeypatch.setattr(store, "transaction", flaky)
    w.tick()
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "1")


def test_a_receipt_is_journaled_while_the_database_is_away_and_applied_later(
    one_post: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from campaign_scheduler.publishing.journal import Journal, JournaledReceipt

    network = FakeNetwork()
    clock = Clock(DUE)
    w = worker(store, one_post, KeyedChannel(network), clock)
    w.journal = Journal(tmp_path / "receipts.journal")
    w.record_retries = 2
    original = store.transaction
    away = [True]

    def unreachable(*, write: bool = False, single: bool = False) -> object:
        if away[0] and network.posts:
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        return original(write=write, single=single)

    monkeypatch.setattr(store, "transaction", unreachable)
    keep = w.journal.append

    def journaled_then_back(receipt: JournaledReceipt) -> None:
        keep(receipt)
        away[0] = False  # the database answers again right after the receipt was kept

    monkeypatch.setattr(w.journal, "append", journaled_then_back)
    w.tick()
    journal = tmp_path / "receipts.journal"
    assert journal.exists() and journal.stat().st_mode & 0o777 == 0o600
    assert delivery(store).state == "publishing"
    clock.advance(minutes=30)  # the lease ran out meanwhile: the journal is applied first
    w.tick()
    d = delivery(store)
    assert (d.state, d.remote_id) == ("published", "1")
    assert len(network.posts) == 1
    assert not journal.exists() or journal.read_text() == ""


# -- 11. the smaller holes -----------------------------------------------------------------------


def test_a_rate_limit_never_shortens_one_already_known(workspace: Workspace, store: Store) -> None:
    workspace.draft("soest/01-klima", channels=("mastodon",))
    workspace.draft("soest/02-gemeinsam", channels=("mastodon",), at="T-14d 11:00")
    load(workspace, store)
    later = DUE + timedelta(hours=3)
    first = claim_due(store, "w1", later, LEASE)
    assert first is not None
    # A claim skips an account with a call in flight; two calls on one account at once still
    # come from a daemon of an older version running alongside: hide the first from the
    # second claim as such a daemon would not see it (its lease token stays as it was).
    with store.session(write=True) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.id == first.delivery_id)
            .values(state="retry_wait", next_attempt_at=later + timedelta(days=1))
        )
    second = claim_due(store, "w2", later, LEASE)
    with store.session(write=True) as session:
        session.execute(
            update(DeliveryRecord)
            .where(DeliveryRecord.id == first.delivery_id)
            .values(state="publishing", next_attempt_at=None)
        )
    assert second is not None
    long_wait = later + timedelta(hours=1)
    record_outcome(
        store,
        first,
        Outcome(OutcomeKind.RATE_LIMITED, error="429", next_attempt_at=long_wait),
        later,
    )
    record_outcome(
        store,
        second,
        Outcome(
            OutcomeKind.RATE_LIMITED, error="429", next_attempt_at=later + timedelta(minutes=1)
        ),
        later,
    )
    with store.session() as session:
        until = session.scalars(select(AccountRecord.rate_limited_until)).one()
    assert until == long_wait


def test_reschedule_resets_the_attempts(one_post: Workspace, store: Store) -> None:
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.rules import check
    from campaign_scheduler.store.changes import reschedule

    network = FakeNetwork()
    channel = KeyedChannel(network, [UnavailableError("503")] * 2)
    clock = Clock(DUE)
    w = worker(store, one_post, channel, clock, max_attempts=2)
    for _ in range(3):
        w.tick()
        clock.advance(minutes=5)
    assert (delivery(store).state, delivery(store).attempts) == ("failed", 2)
    campaign = check(load_settings(one_post.config_file)).campaign
    assert campaign is not None
    reschedule(
        store, campaign, "soest/01-klima", DUE + timedelta(days=1), actor="anna", now=clock.now
    )
    assert (delivery(store).state, delivery(store).attempts) == ("pending", 0)


class ExplodingValidate(KeyedChannel):
    def validate(self, post: OutboundPost) -> list[str]:
        raise ValueError("a bug in the validator")


def test_an_error_outside_the_network_call_is_recorded_not_raised(
    one_post: Workspace, store: Store
) -> None:
    network = FakeNetwork()
    w = worker(store, one_post, ExplodingValidate(network), Clock(DUE))
    w.tick()
    d = delivery(store)
    assert d.state == "failed"
    assert "a bug in the validator" in (d.state_reason or "")
    assert network.posts == []


def test_mastodon_metrics_answer_that_is_not_json_is_a_channel_error() -> None:
    import requests

    from campaign_scheduler.channels.base import AccountSettings
    from campaign_scheduler.channels.mastodon import MastodonChannel
    from campaign_scheduler.errors import ChannelError

    class NotJson(requests.Session):
        def request(  # type: ignore[override]
            self, method: str, url: str | bytes, *args: object, **kwargs: object
        ) -> requests.Response:
            response = requests.Response()
            response.status_code = 200
            response._content = b"<html>maintenance</html>"
            response.url = str(url)
            return response

    channel = MastodonChannel(
        AccountSettings("soest-mastodon", "https://social.example", secret=lambda key: "t"),
        NotJson(),
    )
    with pytest.raises(ChannelError):
        channel.fetch_metrics(Receipt("1", None, DUE))


def test_run_once_names_the_account_and_variable_of_a_held_delivery(
    workspace: Workspace, runner: object
) -> None:
    from datetime import UTC

    from typer.testing import CliRunner

    from campaign_scheduler.cli import app

    workspace.draft("soest/01-klima", channels=("mastodon",))
    assert isinstance(runner, CliRunner)
    config = str(workspace.config_file)
    assert runner.invoke(app, ["--config", config, "load"]).exit_code == 0
    local = open_store(workspace.database_url)
    set_delivery(local, due_at=datetime.now(UTC) - timedelta(minutes=1), not_after=None)
    local.dispose()
    result = runner.invoke(app, ["--config", config, "run", "--once"])
    assert result.exit_code == 1, result.output
    assert "soest-mastodon" in result.output and "SOEST_MASTODON_TOKEN" in result.output


def test_expire_overdue_skips_rows_locked_by_a_claim(workspace: Workspace, pg_store: Store) -> None:
    """On PostgreSQL, a row another transaction holds is not expired under its feet."""
    workspace.draft("soest/01-klima", channels=("mastodon",))
    load(workspace, pg_store)
    late = DUE + timedelta(hours=3)
    expired: list[object] = []
    with pg_store.engine.connect() as holder, holder.begin():
        holder.execute(select(DeliveryRecord.id).with_for_update())
        sweep = threading.Thread(target=lambda: expired.append(expire_overdue(pg_store, late)))
        sweep.start()
        sweep.join(PATIENCE)
        blocked = sweep.is_alive()
    sweep.join()
    assert not blocked, "expire_overdue waited for a row another daemon holds"
    assert expired == [[]]
    assert [row[1] for row in expire_overdue(pg_store, late)] == ["soest-mastodon"]


# -- 6. a busy worker thread delays the daemon's jobs, never drops them ------------------------

SKIPPED = "maximum number of running instances reached"


def pending_jobs(daemon: Daemon, name: str) -> list[datetime]:
    """When the scheduler's jobs named ``name`` are next due (none: run or waiting to run)."""
    return [
        job.next_run_time
        for job in daemon._scheduler.get_jobs()
        if job.id.startswith(name) and job.next_run_time is not None
    ]


def test_a_tick_longer_than_the_reconcile_period_skips_no_job(
    one_post: Workspace, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Reconcile comes due twice while one publish call holds the worker thread: APScheduler
    used to skip the second run with a warning (the first still waiting for the thread)."""
    from campaign_scheduler.publishing.daemon import RECONCILE_JOB, utcnow

    network = FakeNetwork()
    channel = KeyedChannel(network)
    calling, answer = threading.Event(), threading.Event()

    def held_call(_post: OutboundPost) -> None:
        calling.set()
        answer.wait(PATIENCE)

    channel.during_call = held_call
    period = timedelta(milliseconds=20)
    d = Daemon(worker(store, one_post, channel, Clock(DUE)), reconcile=period)
    serving = threading.Thread(target=d.serve, kwargs={"handle_signals": False})
    serving.start()
    try:
        assert calling.wait(PATIENCE)  # the tick is in its call
        held_since = utcnow()
        # Until reconcile's runs due in the next two periods have left the job store (to the
        # worker thread, or skipped).
        assert wait_for(
            lambda: all(t > held_since + 2 * period for t in pending_jobs(d, RECONCILE_JOB))
        )
        answer.set()
        assert wait_for(lambda: delivery(store).state == "published")
    finally:
        answer.set()
        d.stop()
        serving.join(PATIENCE)
    assert not serving.is_alive()
    assert len(network.posts) == 1
    assert [r.getMessage() for r in caplog.records if SKIPPED in r.getMessage()] == []


@pytest.mark.parametrize("announced", [True, False])
def test_a_poke_during_a_look_gets_a_look_of_its_own(
    one_post: Workspace,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    announced: bool,
) -> None:
    """Another process queues a post while the daemon's last look at the record is under way
    (it read the record before the change): the poke must bring another look, not wait for
    the next reconcile (an hour here)."""
    from campaign_scheduler.publishing import daemon as daemon_module
    from campaign_scheduler.publishing.daemon import WAKEUP_JOB, utcnow
    from campaign_scheduler.publishing.queue import next_wake as read_next_wake

    clock = Clock(utcnow())  # a wake-up tomorrow is not run at once: the scheduler's clock
    set_delivery(store, due_at=clock.now + timedelta(days=1), not_after=None)  # nothing due
    network = FakeNetwork()
    d = Daemon(worker(store, one_post, KeyedChannel(network), clock), reconcile=timedelta(hours=1))
    looks: list[datetime | None] = []
    hold, looking, go_on = threading.Event(), threading.Event(), threading.Event()

    def next_wake_read_before_the_change(s: Store, now: datetime) -> datetime | None:
        wake = read_next_wake(s, now)
        looks.append(wake)
        if hold.is_set():
            hold.clear()
            looking.set()
            go_on.wait(PATIENCE)  # the change is committed meanwhile
        return wake

    monkeypatch.setattr(daemon_module, "next_wake", next_wake_read_before_the_change)
    serving = threading.Thread(target=d.serve, kwargs={"handle_signals": False})
    serving.start()
    try:
        assert wait_for(lambda: len(looks) >= 1)  # the first reconcile has looked
        hold.set()
        d.wake_now()  # some commit: the daemon looks again
        assert looking.wait(PATIENCE)
        set_delivery(store, due_at=clock.now)  # queued for now by another process
        d.wake_now(announced=announced)
        assert wait_for(lambda: pending_jobs(d, WAKEUP_JOB) == [])  # given to the thread
        go_on.set()
        assert wait_for(lambda: delivery(store).state == "published")
    finally:
        go_on.set()
        d.stop()
        serving.join(PATIENCE)
    assert not serving.is_alive()
    assert len(network.posts) == 1
    assert [r.getMessage() for r in caplog.records if SKIPPED in r.getMessage()] == []
