"""Publishing in parallel across accounts: one call at a time per account, in due order.

A daemon makes up to ``daemon.parallel`` calls at once, each on another account. A claim
skips accounts with a delivery in flight (in this daemon or another), so an account's
deliveries go out one after another in due order; a stop waits for every call in flight.
"""

from __future__ import annotations

import select as select_module
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from campaign_scheduler.channels.base import Channel, OutboundPost
from campaign_scheduler.config import load_settings
from campaign_scheduler.publishing.accounts import ConfiguredChannels
from campaign_scheduler.publishing.daemon import Daemon, Worker
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import claim_due
from campaign_scheduler.rules import check
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import AccountRecord, DeliveryRecord, PostRecord
from campaign_scheduler.store.sync import load_campaign_into
from conftest import Workspace
from fakes import FakeNetwork, KeyedChannel
from live import LiveCampaign

#: 11:05 in Berlin on the day of the drafts below: all of them are due, none past its grace.
NOW = datetime(2021, 11, 4, 10, 5, tzinfo=UTC)
LEASE = timedelta(minutes=10)
PATIENCE = 60  # seconds a test waits for something that must happen; only a failure waits

# soest-mastodon gets three posts due first; olpe-mastodon and soest-bluesky one each, later.
DRAFTS = [
    ("soest/01-klima", "T-14d 09:30", ("mastodon",)),
    ("soest/02-wasser", "T-14d 10:00", ("mastodon",)),
    ("soest/03-energie", "T-14d 10:30", ("mastodon",)),
    ("olpe/01-willkommen", "T-14d 11:00", ("mastodon",)),
    ("soest/04-bluesky", "T-14d 11:00", ("bluesky",)),
]


class Calls:
    """One fake network behind every account; records the calls as they start and end."""

    def __init__(self, *, meet: int = 0) -> None:
        self.network = FakeNetwork()
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()
        self.started: dict[str, list[str]] = defaultdict(list)
        self.overlaps: list[str] = []
        #: The first call on each of ``meet`` accounts waits until all of them are in flight.
        self.meeting = threading.Barrier(meet, timeout=PATIENCE) if meet else None
        self.met: set[str] = set()
        #: Calls wait for this once they met (set it to let them answer).
        self.answer = threading.Event()
        self.answer.set()
        self._channels: dict[str, Channel] = {}

    def channel_for(self, account_name: str) -> Channel:
        with self.lock:
            if account_name not in self._channels:
                channel = KeyedChannel(self.network)
                channel.during_call = lambda post, name=account_name: self._call(name, post)
                self._channels[account_name] = channel
            return self._channels[account_name]

    def _call(self, account: str, post: OutboundPost) -> None:
        with self.lock:
            if self.in_flight[account]:
                self.overlaps.append(f"{post.text[:20]!r} on {account}")
            self.in_flight[account] += 1
            self.started[account].append(post.idempotency_key)
            first = account not in self.met
            self.met.add(account)
        try:
            if first and self.meeting is not None:
                self.meeting.wait()
            assert self.answer.wait(PATIENCE)
        finally:
            with self.lock:
                self.in_flight[account] -= 1


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def load_drafts(
    workspace: Workspace, store: Store, drafts: Iterable[tuple[str, str, tuple[str, ...]]]
) -> Workspace:
    """Write ``drafts`` (key, time, channels) into ``workspace`` and load them into ``store``."""
    for key, at, channels in drafts:
        workspace.draft(key, at=at, channels=channels, body=f"{key} #5malklug")
    settings = load_settings(workspace.config_file)
    result = check(settings)
    assert result.errors == [] and result.campaign is not None
    load_campaign_into(
        store, result.campaign, result.drafts, result.deliveries, settings, actor="anna"
    )
    return workspace


@pytest.fixture
def drafted(workspace: Workspace, store: Store) -> Workspace:
    return load_drafts(workspace, store, DRAFTS)


def worker(store: Store, ws: Workspace, calls: Calls, threads: int) -> Worker:
    publisher = Publisher(calls, media_root=ws.root / "posts")
    return Worker(store, publisher, worker_id="w1", lease=LEASE, threads=threads, clock=lambda: NOW)


def keys_in_due_order(store: Store) -> dict[str, list[str]]:
    with store.session() as session:
        rows = session.execute(
            select(AccountRecord.name, DeliveryRecord.idempotency_key)
            .join(AccountRecord, AccountRecord.id == DeliveryRecord.account_id)
            .join(PostRecord, PostRecord.id == DeliveryRecord.post_id)
            .order_by(DeliveryRecord.due_at, DeliveryRecord.id)
        ).all()
    order: dict[str, list[str]] = defaultdict(list)
    for account, key in rows:
        order[account].append(key)
    return order


def states(store: Store) -> Counter[str]:
    with store.session() as session:
        return Counter(session.scalars(select(DeliveryRecord.state)))


def test_calls_to_different_accounts_run_side_by_side_one_at_a_time_per_account(
    drafted: Workspace, store: Store
) -> None:
    # The first calls on all three accounts must be in flight together to go on; a second
    # call on soest-mastodon while its first is in flight would be an overlap.
    calls = Calls(meet=3)
    report = worker(store, drafted, calls, threads=3).tick()
    assert report.published == 5
    assert calls.overlaps == []
    assert calls.met == {"soest-mastodon", "olpe-mastodon", "soest-bluesky"}
    assert dict(calls.started) == keys_in_due_order(store)  # each account in due order
    assert len(calls.network.posts) == 5


def test_lanes_claim_side_by_side_on_postgresql_and_one_at_a_time_on_sqlite(
    drafted: Workspace, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a daemon's lanes claim as two daemons do (a claim is round trips to the
    server: lanes queueing for each other's claims made the claims the limit); SQLite takes
    one writer at a time, and its claims queue in the daemon."""
    from campaign_scheduler.publishing import daemon as daemon_module
    from campaign_scheduler.publishing import queue as queue_module

    lock = threading.Lock()
    claims = [0]
    inside = [0, 0]  # claims in progress now, most at once
    # On PostgreSQL the second claims of both lanes must be in progress together to go on.
    together = threading.Barrier(2, timeout=PATIENCE)

    def counted(real: Any) -> Any:
        def claim(*args: object, **kwargs: object) -> Any:
            with lock:
                claims[0] += 1
                number = claims[0]
                inside[0] += 1
                inside[1] = max(inside)
            try:
                if number in (2, 3) and not store.is_sqlite:
                    together.wait()
                return real(*args, **kwargs)
            finally:
                with lock:
                    inside[0] -= 1

        return claim

    # (on PostgreSQL a lane's next claim goes with the record of its outcome)
    for name in ("claim_due_many", "record_and_claim_due"):
        monkeypatch.setattr(daemon_module, name, counted(getattr(queue_module, name)))
    calls = Calls()  # the first claim takes two deliveries; both lanes then claim again
    report = worker(store, drafted, calls, threads=2).tick()
    assert report.published == 5
    assert calls.overlaps == []
    assert inside[1] == (1 if store.is_sqlite else 2)


def test_lane_threads_are_kept_from_one_tick_to_the_next(drafted: Workspace, store: Store) -> None:
    """A lane's thread waits for the next lane instead of ending: the calls of a later tick
    run on the threads of the earlier one (a thread start per lane cost CPU at every due
    moment)."""
    now = [NOW]
    calls = Calls(meet=3)
    seen: list[set[threading.Thread]] = [set(), set()]
    tick_number = [0]
    call = calls._call

    def noting(account: str, post: OutboundPost) -> None:
        seen[tick_number[0]].add(threading.current_thread())
        call(account, post)

    calls._call = noting  # type: ignore[method-assign]
    w = Worker(
        store,
        Publisher(calls, media_root=drafted.root / "posts"),
        worker_id="w1",
        lease=LEASE,
        threads=3,
        clock=lambda: now[0],
    )
    assert w.tick().published == 5
    later = [
        ("soest/05-later", "T-14d 11:40", ("mastodon",)),
        ("olpe/02-later", "T-14d 11:40", ("mastodon",)),
        ("soest/06-later", "T-14d 11:40", ("bluesky",)),
    ]
    load_drafts(drafted, store, [*DRAFTS, *later])
    now[0] = NOW + timedelta(minutes=40)
    calls.meeting, calls.met = threading.Barrier(3, timeout=PATIENCE), set()
    tick_number[0] = 1
    assert w.tick().published == 3
    assert calls.overlaps == []
    main = threading.current_thread()
    assert seen[1] - {main}  # the second tick had lanes on other threads too
    assert seen[1] - {main} <= seen[0] - {main}


def test_a_claim_skips_an_account_with_a_call_in_flight(drafted: Workspace, store: Store) -> None:
    """Also across daemons: another worker's claim on the account holds its later posts."""
    first = claim_due(store, "other-daemon", NOW, LEASE)
    assert first is not None and first.account_name == "soest-mastodon"
    second = claim_due(store, "w1", NOW, LEASE)
    third = claim_due(store, "w1", NOW, LEASE)
    assert second is not None and third is not None
    assert {second.account_name, third.account_name} == {"olpe-mastodon", "soest-bluesky"}
    assert claim_due(store, "w1", NOW, LEASE) is None  # soest/02 waits for soest/01


def test_a_stop_waits_for_every_call_in_flight_and_claims_nothing_more(
    drafted: Workspace, store: Store
) -> None:
    calls = Calls(meet=3)
    calls.answer.clear()  # the three first calls are held until the stop is under way
    daemon = Daemon(worker(store, drafted, calls, threads=3), reconcile=timedelta(hours=1))
    serving = threading.Thread(target=daemon.serve, kwargs={"handle_signals": False})
    stopper = threading.Thread(target=daemon.stop)
    serving.start()
    try:
        with calls.lock:
            meeting = calls.meeting
        assert meeting is not None
        for _ in range(PATIENCE * 100):  # until the three calls met
            if len(calls.met) == 3 and meeting.n_waiting == 0:
                break
            threading.Event().wait(0.01)
        assert calls.met == {"soest-mastodon", "olpe-mastodon", "soest-bluesky"}
        stopper.start()
        assert states(store)["publishing"] == 3  # the stop has not cut the calls short
    finally:
        calls.answer.set()
        stopper.join(PATIENCE)
        serving.join(PATIENCE)
    assert not stopper.is_alive() and not serving.is_alive()
    # When the stop returned, the three calls were recorded and nothing else was claimed.
    assert states(store) == Counter({"published": 3, "pending": 2})
    assert calls.overlaps == []


def test_campaign_run_publishes_in_parallel_across_accounts_by_default(tmp_path: Path) -> None:
    """`run --once` with the default config: five accounts' posts are in flight together."""
    with MastodonSandbox() as sandbox:
        live = LiveCampaign(tmp_path, sandbox, accounts=5)
        live.draft("01-jetzt", live.now - timedelta(minutes=1))
        live.load()
        held = sandbox.hold_after_create(5)
        run = live.start("run", "--once")
        try:
            assert held.wait(PATIENCE)
            for _ in range(PATIENCE * 100):  # until all five calls arrived (their answers held)
                if len(sandbox.statuses()) == 5:
                    break
                threading.Event().wait(0.01)
            assert len(sandbox.statuses()) == 5
        finally:
            sandbox.release()
            code, output = run.finish(timeout=PATIENCE)
        assert code == 0, output
        assert "5 published" in output


def test_the_daemon_keeps_one_adapter_per_account_whatever_the_thread(
    workspace: Workspace,
) -> None:
    """Each account keeps its connection (and login) from one call to the next, whichever
    of the daemon's threads makes the call; other users keep one adapter per thread."""
    settings = load_settings(workspace.config_file)
    seen: dict[bool, list[Channel]] = {True: [], False: []}

    def look(per_account: bool, channels: ConfiguredChannels) -> None:
        seen[per_account].append(channels.channel_for("soest-mastodon"))

    for per_account in (True, False):
        channels = ConfiguredChannels(settings, per_account=per_account)
        for _ in range(2):
            thread = threading.Thread(target=look, args=(per_account, channels))
            thread.start()
            thread.join()
    assert seen[True][0] is seen[True][1]
    assert seen[False][0] is not seen[False][1]


def serve_until_warmed(daemon: Daemon, warmed: threading.Event) -> None:
    """Run ``daemon`` until its warm-up has been called, then stop it."""
    serving = threading.Thread(target=daemon.serve, kwargs={"handle_signals": False})
    serving.start()
    try:
        assert warmed.wait(PATIENCE)
    finally:
        daemon.stop()
        serving.join(PATIENCE)


def test_accounts_due_at_the_next_wake_are_warmed_up_ahead_of_it(
    drafted: Workspace, store: Store
) -> None:
    """Before the wake-up, the daemon asks what a first call would ask (a Mastodon instance's
    text limit), so that the call goes out at its moment."""
    before = datetime(2021, 11, 4, 8, 0, tzinfo=UTC)  # soest/01 is due at 08:30 UTC
    calls = Calls()
    w = Worker(store, Publisher(calls, media_root=drafted.root / "posts"), clock=lambda: before)
    warmed: list[list[str]] = []
    done = threading.Event()

    def warm(names: list[str]) -> None:
        warmed.append(sorted(names))
        done.set()

    serve_until_warmed(Daemon(w, reconcile=timedelta(hours=1), warm=warm), done)
    assert warmed[0] == ["soest-mastodon"]  # due at the next wake-up (09:30 Berlin)
    assert calls.network.posts == []  # (the test's clock never reaches it)


def test_the_warm_up_starts_the_lane_threads_the_wake_up_will_use(
    workspace: Workspace, store: Store
) -> None:
    """Three accounts are due at the next wake-up: the warm-up starts the threads of the two
    lanes beyond the first (which runs on the scheduler's thread), so that the due moment
    starts none."""
    load_drafts(
        workspace,
        store,
        [
            ("soest/01-klima", "T-14d 09:30", ("mastodon",)),
            ("soest/02-bluesky", "T-14d 09:30", ("bluesky",)),
            ("olpe/01-willkommen", "T-14d 09:30", ("mastodon",)),
        ],
    )
    before = datetime(2021, 11, 4, 8, 0, tzinfo=UTC)  # all three are due at 08:30 UTC
    calls = Calls()
    w = Worker(
        store,
        Publisher(calls, media_root=workspace.root / "posts"),
        threads=8,
        clock=lambda: before,
    )
    threads_at_warm_up: list[int] = []
    done = threading.Event()

    def warm(names: list[str]) -> None:
        threads_at_warm_up.append(w.lane_pool.threads)
        done.set()

    serve_until_warmed(Daemon(w, reconcile=timedelta(hours=1), warm=warm), done)
    assert set(threads_at_warm_up) == {2}  # (a second warm-up may follow: no more threads)
    assert calls.network.posts == []  # (the test's clock never reaches the wake-up)


def test_a_sandbox_takes_a_burst_of_connections_like_a_network() -> None:
    """Thirty accounts posting at one instant open thirty connections at once; with
    socketserver's backlog of 5 the rest waited a second for a retried SYN, or were reset."""
    from campaign_scheduler.sandbox._server import _Server

    server = _Server(MastodonSandbox())  # listening, but not accepting yet
    clients = [socket.socket() for _ in range(64)]
    try:
        for client in clients:
            client.settimeout(PATIENCE)
            client.setblocking(False)
            client.connect_ex(server.server_address[:2])
        # The kernel completes every handshake on its own while they fit the backlog; one that
        # does not fit is retried after a second (so: all of them before that second).
        waiting = list(clients)
        deadline = time.monotonic() + 0.9
        while waiting and time.monotonic() < deadline:
            _, writable, _ = select_module.select([], waiting, [], 0.05)
            waiting = [c for c in waiting if c not in writable]
        assert waiting == []
        assert all(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 for c in clients)
    finally:
        for client in clients:
            client.close()
        server.server_close()
