"""The daemon: APScheduler as the clock, the database as the queue.

APScheduler 3 runs a ``BlockingScheduler`` with an in-memory job store and a single worker
thread, used only as a timer: one date job ("publish-due") wakes the daemon when the next
delivery is due, and a repeated job ("reconcile") re-reads the database so that work queued
by other processes is seen without a restart. What to publish is never stored in APScheduler.
Every job is a date job with an id of its own, and a repeated job sets its next run when a run
ends: a tick longer than the reconcile period delays the next reconcile instead of having
APScheduler skip it ("maximum number of running instances reached"), and a poke from another
process is never skipped (see ``Daemon.wake_now``).

The metrics sweep runs on its own thread with its own read budget, never on the publishing
path; SIGTERM stops it between two reads and the daemon does not wait for it. While a call
is in flight, a lease keeper renews the worker's lease; a worker whose lease was taken over
stops before its next network write (see :class:`RecordLedger`).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from campaign_scheduler import __version__
from campaign_scheduler.publishing.journal import Journal, JournaledReceipt
from campaign_scheduler.publishing.publisher import Parts, Publisher
from campaign_scheduler.publishing.queue import (
    Claim,
    LeaseLostError,
    Outcome,
    OutcomeKind,
    accounts_due,
    apply_receipt,
    claim_abandoned_many,
    claim_due_many,
    expire_overdue,
    freeze_plan,
    mark_not_out,
    next_wake,
    record_and_claim_due,
    record_outcome,
    record_outcomes,
    record_parts,
    rehearse,
    release_retries,
    renew_lease,
)
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import WorkerRecord
from campaign_scheduler.store.wakeup import Watcher
from campaign_scheduler.timeutil import utcnow as utcnow  # noqa: PLC0414 (re-exported; defined once there)
from campaign_scheduler.uilang import N_, msg, tr

log = logging.getLogger("campaign_scheduler.daemon")

PUBLISH_JOB = "publish-due"
RECONCILE_JOB = "reconcile"
METRICS_JOB = "metrics"
ALERTS_JOB = "alerts"
WAKEUP_JOB = "wakeup"
TOKENS_JOB = "tokens"
#: A wake-up that found nothing to do is not repeated sooner than this.
IDLE_FLOOR = timedelta(seconds=1)
#: How long before a wake-up the accounts due then are warmed up (see ``Daemon.warm``); a
#: warm-up covers the accounts due up to this long after its wake-up too, and wake-ups within
#: that horizon get none of their own (see ``Daemon._schedule_wake``).
WARM_LEAD = timedelta(seconds=10)
#: A tick writes the worker's heartbeat at most this often (a reconcile writes it always).
HEARTBEAT_EVERY = timedelta(seconds=1)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    expired: int = 0

    @property
    def published(self) -> int:
        return self.outcomes[OutcomeKind.PUBLISHED.value]

    def summary(self, lang: str = "en") -> str:
        """``2 published, 1 expired (overdue)``; in ``lang`` where a person reads it."""
        parts = [
            tr("{n} {outcome}", lang, n=n, outcome=tr(_OUTCOME_WORDS.get(kind, kind), lang))
            for kind, n in sorted(self.outcomes.items())
        ]
        if self.expired:
            parts.append(tr("{n} expired (overdue)", lang, n=self.expired))
        return ", ".join(parts) or tr("nothing due", lang)


#: What a tick's outcomes are called in its summary (the log keeps them in English).
_OUTCOME_WORDS = {
    "published": N_("published"),
    "retry": N_("to retry"),
    "rate_limited": N_("rate-limited"),
    "failed": N_("failed"),
    "auth_broken": N_("refused access"),
    "expired": N_("expired"),
    "unknown": N_("unknown outcome"),
    "lease lost": N_("taken over by another worker"),
}


class RecordLedger:
    """The publisher's writes to the record for one claim, each fenced by the lease token.

    The fence before a network write is cheap while the lease is young: no other worker can
    claim the delivery before ``confirmed`` (the end of the lease last written by this
    worker). Past half the lease it renews in the database, which fails if the lease was
    taken over. A claim is itself "possibly out" for whoever takes it over after its lease
    ran out, so nothing needs writing before the first call of a single post.
    """

    def __init__(self, worker: Worker, lost: threading.Event, claim: Claim) -> None:
        self.worker = worker
        self.lost = lost
        self.confirmed = worker.clock() + worker.lease
        self.frozen = claim.plan is not None

    def _until(self) -> datetime:
        return self.worker.clock() + self.worker.lease

    def renewed(self, until: datetime) -> None:
        self.confirmed = max(self.confirmed, until)

    def _check(self, claim: Claim) -> None:
        if self.lost.is_set():
            raise LeaseLostError(
                msg(
                    "{post} on {account}: the lease of {worker} is gone",
                    post=claim.post_key,
                    account=claim.account_name,
                    worker=claim.worker,
                )
            )

    def about_to_send(self, claim: Claim, plan: list[str]) -> None:
        if len(plan) > 1 and not self.frozen:
            self._check(claim)
            until = self._until()
            self.worker.retrying(lambda: freeze_plan(self.worker.store, claim, plan, until))
            self.frozen = True
            self.renewed(until)
            return
        self.checkpoint(claim)

    def checkpoint(self, claim: Claim) -> None:
        self._check(claim)
        if self.worker.clock() < self.confirmed - self.worker.lease / 2:
            return
        until = self._until()
        self.worker.retrying(lambda: renew_lease(self.worker.store, claim, until))
        self.renewed(until)

    def part_out(self, claim: Claim, parts: Parts) -> None:
        until = self._until()
        self.worker.retrying(lambda: record_parts(self.worker.store, claim, parts, until))
        self.renewed(until)

    def not_out(self, claim: Claim) -> None:
        self._check(claim)
        self.worker.retrying(lambda: mark_not_out(self.worker.store, claim))


#: How long a lane thread with nothing to do waits for the next lane before it ends (longer
#: than :data:`WARM_LEAD`: threads started by a warm-up are still there at the wake-up).
LANE_IDLE_SECONDS = 60.0


@dataclass(eq=False)
class _Parked:
    """A lane thread waiting for its next lane (``_LanePool``)."""

    ready: threading.Event = field(default_factory=threading.Event)
    lane: Callable[[], None] | None = None
    taken: threading.Event = field(default_factory=threading.Event)


class _LanePool:
    """The threads lanes run on, kept from one lane to the next and from one tick to the
    next: starting a thread for every lane cost a thread start per few deliveries (some
    hundred microseconds of CPU each, under the GIL with every call in flight), and at a
    due moment the threads of the first calls were started only then. A thread with nothing
    to do for :data:`LANE_IDLE_SECONDS` ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._parked: list[_Parked] = []
        self._threads = 0

    @property
    def threads(self) -> int:
        with self._lock:
            return self._threads

    def run(self, lane: Callable[[], None]) -> None:
        """Run ``lane`` on a parked thread, or on a new one if none is parked."""
        with self._lock:
            parked = self._parked.pop() if self._parked else None
            if parked is None:
                self._threads += 1
        if parked is None:
            self._start(lane)
        else:
            parked.lane = lane
            parked.ready.set()
            # Wait until the thread has its lane, as a thread start waits for the thread: the
            # GIL goes to the lane at once, and its call leaves before the next lane is
            # handed out (without, 30 lanes handed out at one instant queued for the GIL).
            parked.taken.wait()

    def prestart(self, count: int) -> None:
        """Have ``count`` threads parked (a warm-up: the due moment starts none)."""
        with self._lock:
            missing = max(0, count - self._threads)
            self._threads += missing
        for _ in range(missing):
            self._start(None)

    def _start(self, lane: Callable[[], None] | None) -> None:
        threading.Thread(target=self._serve, args=(lane,), name="publish", daemon=True).start()

    def _serve(self, lane: Callable[[], None] | None) -> None:
        while True:
            if lane is not None:
                lane()  # a lane never raises (``_Lanes._guarded``)
            parked = _Parked()
            with self._lock:
                self._parked.append(parked)
            if not parked.ready.wait(LANE_IDLE_SECONDS):
                with self._lock:
                    if parked in self._parked:  # nobody handed it a lane: it ends
                        self._parked.remove(parked)
                        self._threads -= 1
                        return
                parked.ready.wait()  # handed a lane just as it timed out
            lane = parked.lane
            parked.taken.set()


class _Lanes:
    """At most ``limit`` lanes at once; the first runs on the caller's thread, the others on
    threads of the worker's :class:`_LanePool`.

    A slot is reserved before a claim and given back when the claim brought less: a claimed
    delivery always has a lane. A lane's exception is raised again by :meth:`wait`, after
    every other lane has ended."""

    def __init__(self, limit: int, pool: _LanePool) -> None:
        self.limit = limit
        self.pool = pool
        self._changed = threading.Condition()
        self._running = 0
        #: Lanes waiting to claim; the one that gets to claim claims for all of them.
        self.wanting: list[_Wanting] = []
        self.wanting_lock = threading.Lock()
        self._errors: list[Exception] = []

    def reserve(self, wanted: int) -> int:
        with self._changed:
            granted = max(0, min(wanted, self.limit - self._running))
            self._running += granted
            return granted

    def release(self, count: int) -> None:
        with self._changed:
            self._running -= count
            self._changed.notify_all()

    def run_here(self, lane: Callable[[], None]) -> None:
        """Run a lane on this thread (its slot reserved)."""
        self._guarded(lane)

    def start(self, lane: Callable[[], None]) -> None:
        """Run a lane on another thread (its slot reserved)."""
        self.pool.run(functools.partial(self._guarded, lane))

    def _guarded(self, lane: Callable[[], None]) -> None:
        try:
            lane()
        except Exception as exc:  # noqa: BLE001 - raised again by wait()
            with self._changed:
                self._errors.append(exc)
        finally:
            self.release(1)

    def wait(self) -> None:
        with self._changed:
            self._changed.wait_for(lambda: self._running == 0)
            if self._errors:
                raise self._errors[0]


@dataclass
class _Finished:
    """A call's outcome waiting to be recorded with others (``Worker._record_soon``)."""

    claim: Claim
    outcome: Outcome
    taken: bool = False  # a lane is writing it (or tried to)
    kept: bool | None = None  # written: whether the lease was still held; None: not written


class _LeaseKeeper:
    """Renews the leases of a worker's calls in flight, each every ``renew_every`` seconds
    (wall clock) from the start of its call, on one thread for all of them (a thread per
    call cost a thread start and stop per delivery). A renewal that finds the lease taken
    over tells the call's ledger; one that fails otherwise is tried again a period later."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._changed = threading.Condition()
        #: delivery id -> (claim, ledger, when its next renewal is due, monotonic)
        self._held: dict[int, tuple[Claim, RecordLedger, float]] = {}
        self._running = False  # the thread ends when no call is in flight

    def keep(self, claim: Claim, ledger: RecordLedger) -> None:
        with self._changed:
            due = time.monotonic() + self.worker.renew_every
            # Every renewal is due ``renew_every`` after its call started: one kept earlier is
            # due first, and the keeper waiting for it needs no wake-up (each cost the GIL
            # twice per call); only a keeper with nothing held is told.
            sooner = not self._held
            self._held[claim.delivery_id] = (claim, ledger, due)
            if sooner:
                self._changed.notify()
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="lease-keeper", daemon=True).start()

    def drop(self, claim: Claim) -> None:
        """The call ended: no more renewals (one under way finishes first)."""
        with self._changed:
            self._held.pop(claim.delivery_id, None)
            while self._renewing == claim.delivery_id:
                self._changed.wait()

    _renewing: int | None = None

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [(at, id_) for id_, (_c, _l, at) in self._held.items() if at <= now]
                if not self._held:
                    self._running = False
                    return
                if not due:
                    self._changed.wait(min(at for _c, _l, at in self._held.values()) - now)
                    continue
                _at, delivery = min(due)
                claim, ledger, _due = self._held[delivery]
                self._held[delivery] = (claim, ledger, now + self.worker.renew_every)
                self._renewing = delivery
            try:
                self._renew(claim, ledger)
            finally:
                with self._changed:
                    self._renewing = None
                    self._changed.notify_all()

    def _renew(self, claim: Claim, ledger: RecordLedger) -> None:
        until = self.worker.clock() + self.worker.lease
        try:
            renew_lease(self.worker.store, claim, until)
            ledger.renewed(until)
        except LeaseLostError:
            ledger.lost.set()
            with self._changed:
                self._held.pop(claim.delivery_id, None)
        except SQLAlchemyError as exc:  # the next renewal or the fence will tell
            log.warning("renewing the lease on %s failed: %s", claim.post_key, exc)


class _NotTogether(Exception):
    """This outcome is not recorded together with the next claim (``record_and_claim_due``)."""


@dataclass(eq=False)
class _Wanting:
    """A lane waiting for its next claim (``Worker._claim_together``)."""

    served: bool = False  # a claim was made for it: ``claim`` is its delivery, or None
    claim: Claim | None = None


class Worker:
    """Claims due deliveries and publishes them until nothing is due (one tick)."""

    #: How often writing the record is tried before a receipt goes to the journal.
    record_retries = 5
    #: The first wait between those tries (doubling), in seconds.
    record_backoff = 0.2

    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        worker_id: str | None = None,
        lease: timedelta = timedelta(minutes=10),
        threads: int = 1,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.worker_id = worker_id or new_worker_id()
        self.lease = lease
        #: Seconds between lease renewals while a call is in flight (wall clock).
        self.renew_every: float = max(lease.total_seconds() / 3, 0.01)
        self.journal: Journal | None = None
        self.threads = max(1, threads)
        self.clock = clock
        self.stop_requested = threading.Event()
        self.started_at = clock()
        self._lock = threading.Lock()
        #: Claims are taken one at a time within this daemon, except due claims on
        #: PostgreSQL: there lanes claim side by side, as two daemons do (the pick locks the
        #: delivery and its account, ``SKIP LOCKED``); a claim is round trips to the server,
        #: and lanes waiting for each other's claims made the claims, not the calls, the
        #: limit. (SQLite serialises claims anyway; a take-over of abandoned deliveries does
        #: not lock the account.)
        self._claiming = threading.Lock()
        #: One thread renews the leases of every call in flight (started at the first call).
        self._keeper: _LeaseKeeper | None = None
        self._keeper_lock = threading.Lock()
        self._due_side_by_side = not store.is_sqlite
        #: SQLite takes one writer at a time: outcomes of calls that finished while another
        #: lane was writing are recorded together, one transaction (see :meth:`_record_soon`).
        #: On PostgreSQL each lane records on its own connection, side by side.
        self._group_records = store.is_sqlite
        self._recording = threading.Lock()  # held by the lane writing a group
        self._finished_lock = threading.Lock()
        self._finished: list[_Finished] = []
        #: The threads lanes run on, kept between lanes and ticks.
        self.lane_pool = _LanePool()
        #: When this worker last wrote its heartbeat (see :data:`HEARTBEAT_EVERY`).
        self._beat_at: datetime | None = None

    def tick(self) -> TickReport:
        report = TickReport()
        self.apply_journal()
        for post_key, account, reason in expire_overdue(self.store, self.clock()):
            log.warning("expired %s on %s: %s", post_key, account, reason)
            report.expired += 1
        release_retries(self.store, self.clock())
        self._drain(claim_abandoned_many, report)
        self._drain(claim_due_many, report)
        # With deliveries due a few milliseconds apart every one is a tick of its own: a
        # heartbeat write each (0.7 ms) is more than liveness needs.
        if self._beat_at is None or self.clock() - self._beat_at >= HEARTBEAT_EVERY:
            self.heartbeat()
        return report

    def _drain(self, claim: Callable[..., list[Claim]], report: TickReport) -> None:
        """Publish what ``claim`` hands out until nothing more may go out now.

        Up to :attr:`threads` calls run at once, each on another account: a claim skips
        accounts with a delivery in flight, so each account's deliveries go out one at a
        time, in due order. A lane claims as many deliveries as there are free lanes, in one
        transaction committed before the calls, keeps the first and starts a lane for each
        of the others; a lane that finds nothing ends. Returns when every lane has recorded
        its last outcome."""
        lanes = _Lanes(self.threads, self.lane_pool)
        lanes.reserve(1)
        lanes.run_here(lambda: self._lane(claim, report, lanes, None))
        lanes.wait()

    def _lane(
        self,
        claim: Callable[..., list[Claim]],
        report: TickReport,
        lanes: _Lanes,
        claimed: Claim | None,
    ) -> None:
        while True:
            if claimed is None:
                if self.stop_requested.is_set():
                    return
                if self._due_side_by_side and claim is claim_due_many:
                    mine = _Wanting()
                    self._claim_for([mine], claim, report, lanes)
                else:
                    mine = self._claim_together(claim, report, lanes)
                if mine.claim is None:
                    return
                claimed = mine.claim
            if self._due_side_by_side and claim is claim_due_many:
                following = self._publish_claimed(claimed, report, lanes)
                if following is not None:  # recorded, and claimed in the same round trip
                    if following.claim is None:
                        return
                    claimed = following.claim
                    continue
            else:
                self._publish_claimed(claimed, report)
            claimed = None

    def _claim_together(
        self, claim: Callable[..., list[Claim]], report: TickReport, lanes: _Lanes
    ) -> _Wanting:
        """Claim for this lane and for every lane waiting to claim meanwhile, in one
        transaction: lanes whose outcomes were recorded together claim together, and the
        lane that gets to claim takes the next delivery of each of them at once."""
        mine = _Wanting()
        with lanes.wanting_lock:
            lanes.wanting.append(mine)
        with self._claiming:
            if mine.served:
                return mine
            with lanes.wanting_lock:
                waiting, lanes.wanting = lanes.wanting, []
            if mine not in waiting:  # a claim for it failed: it claims for itself now
                waiting.insert(0, mine)
            if self.stop_requested.is_set():  # stopping: nothing more is claimed
                for wanting in waiting:
                    wanting.served = True
                return mine
            self._claim_for(waiting, claim, report, lanes)
        return mine

    def _claim_for(
        self,
        waiting: list[_Wanting],
        claim: Callable[..., list[Claim]],
        report: TickReport,
        lanes: _Lanes,
        claiming: Callable[..., list[Claim]] | None = None,
    ) -> None:
        """Claim one delivery for each lane ``waiting`` (whose slots are reserved) and one
        for each free slot, in one transaction; start a lane for each claim beyond those.
        A lane that gets none ends. ``claiming`` makes these claims instead of ``claim``
        (which the lanes started go on with)."""
        spare = lanes.reserve(self.threads)  # one lane for each further claim
        batch: list[Claim] = []
        try:
            batch = (claiming or claim)(
                self.store, self.worker_id, self.clock(), self.lease, spare + len(waiting)
            )
        finally:
            lanes.release(spare - max(len(batch) - len(waiting), 0))
        for wanting, claimed in itertools.zip_longest(waiting, batch[: len(waiting)]):
            wanting.claim, wanting.served = claimed, True
        for other in batch[len(waiting) :]:
            lanes.start(functools.partial(self._lane, claim, report, lanes, other))

    def _publish_claimed(
        self, claimed: Claim, report: TickReport, lanes: _Lanes | None = None
    ) -> _Wanting | None:
        """Publish, then record the outcome. With ``lanes`` (due claims on PostgreSQL) the
        lane's next claim is made with the record, in one round trip, where the outcome
        allows (:func:`record_and_claim_due`): returns that claim (served; its ``claim`` is
        None when nothing more may go out), or None when the lane is to claim for itself."""
        ledger = RecordLedger(self, threading.Event(), claimed)
        with self._keeping_lease(claimed, ledger):
            outcome = self.publisher.publish(claimed, self.clock, ledger)
        following = None
        kept = self._record_soon(claimed, outcome) if self._group_records else None
        if kept is None and lanes is not None and not self.stop_requested.is_set():
            following, kept = self._record_and_claim(claimed, outcome, report, lanes)
        if kept is None:
            kept = self._record(claimed, outcome)
        with self._lock:
            report.outcomes[outcome.kind.value if kept else "lease lost"] += 1
        self._log(claimed, outcome.kind, outcome.remote_url, outcome.error)
        return following

    def _record_and_claim(
        self, claimed: Claim, outcome: Outcome, report: TickReport, lanes: _Lanes
    ) -> tuple[_Wanting | None, bool | None]:
        """PostgreSQL: record ``outcome`` and claim this lane's next delivery (and one for
        each free slot) together. Returns the lane's next claim and whether the outcome was
        kept, or (None, None) when it was not done: then the outcome is recorded on its own
        (with its retries and the journal) and the lane claims as before. The record and
        the claims commit together or not at all, so nothing is left half-done."""
        kept: list[bool] = []

        def claiming(
            store: Store, worker: str, now: datetime, lease: timedelta, limit: int
        ) -> list[Claim]:
            done = record_and_claim_due(store, claimed, outcome, now, lease, limit)
            if done is None:
                raise _NotTogether
            kept.append(done[0])
            return done[1]

        mine = _Wanting()
        try:
            self._claim_for([mine], claim_due_many, report, lanes, claiming)
        except _NotTogether:
            return None, None
        except SQLAlchemyError as exc:
            log.warning("recording and claiming in one go failed (%s); one after the other", exc)
            return None, None
        return mine, kept[0]

    @contextlib.contextmanager
    def _keeping_lease(self, claim: Claim, ledger: RecordLedger) -> Any:
        """Renew the lease while the call is in flight; the ledger learns if it was taken."""
        with self._keeper_lock:
            if self._keeper is None:
                self._keeper = _LeaseKeeper(self)
        self._keeper.keep(claim, ledger)
        try:
            yield
        finally:
            self._keeper.drop(claim)

    def retrying(self, write: Callable[[], None]) -> None:
        """Run a write to the record, retrying while the database is away."""
        delay = self.record_backoff
        for attempt in range(1, self.record_retries + 1):
            try:
                write()
                return
            except SQLAlchemyError as exc:
                if attempt == self.record_retries:
                    raise
                log.warning("writing the record failed (%s); trying again", exc)
                threading.Event().wait(delay)
                delay *= 2

    def _record_soon(self, claim: Claim, outcome: Outcome) -> bool | None:
        """Record the outcome together with those of calls that finished meanwhile (group
        commit). The lane that gets to write takes every outcome waiting and writes them in
        one transaction; the others find theirs written when their turn comes, so no record
        waits longer than for the writes before it. Returns whether it was kept, or None when
        the group's write failed: then each lane records its own (:meth:`_record`: retries,
        then the journal)."""
        mine = _Finished(claim, outcome)
        with self._finished_lock:
            self._finished.append(mine)
        with self._recording:
            if mine.taken:
                return mine.kept
            with self._finished_lock:
                group, self._finished = self._finished, []
            for finished in group:
                finished.taken = True
            if len(group) == 1:  # alone: written as before, with its retries
                return self._record(claim, outcome)
            try:
                kept = record_outcomes(
                    self.store, [(f.claim, f.outcome) for f in group], self.clock()
                )
            except SQLAlchemyError as exc:
                log.warning("recording %d outcomes together failed: %s", len(group), exc)
                return None
            for finished, was_kept in zip(group, kept, strict=True):
                finished.kept = was_kept
            return mine.kept

    def _record(self, claim: Claim, outcome: Outcome) -> bool:
        """Record the outcome; a receipt the database will not take goes to the journal."""
        kept = [False]

        def write() -> None:
            kept[0] = record_outcome(self.store, claim, outcome, self.clock())

        try:
            self.retrying(write)
            return kept[0]
        except SQLAlchemyError as exc:
            if outcome.kind is not OutcomeKind.PUBLISHED or outcome.remote_id is None:
                # Nothing to keep: the record still says the post may be out, so whoever
                # claims it next replays, looks it up or asks a person.
                log.error("could not record %s for %s: %s", outcome.kind, claim.post_key, exc)
                return False
            if self.journal is None:
                log.error(
                    "could not record the receipt of %s on %s (%s): %s",
                    claim.post_key,
                    claim.account_name,
                    outcome.remote_url,
                    exc,
                )
                return False
            self.journal.append(
                JournaledReceipt(
                    delivery_id=claim.delivery_id,
                    post_key=claim.post_key,
                    account=claim.account_name,
                    remote_id=outcome.remote_id,
                    remote_url=outcome.remote_url,
                    published_at=(outcome.published_at or self.clock()).isoformat(),
                    comment_error=outcome.comment_error,
                    comment_error_data=(
                        outcome.comment_reason.as_json() if outcome.comment_reason else None
                    ),
                )
            )
            log.error(
                "the database is away: the receipt of %s on %s is kept in %s",
                claim.post_key,
                claim.account_name,
                self.journal.path,
            )
            return False

    def apply_journal(self) -> int:
        """Record receipts kept while the database was away (before claiming anything)."""
        if self.journal is None:
            return 0

        def apply(entry: JournaledReceipt) -> None:
            apply_receipt(
                self.store,
                delivery_id=entry.delivery_id,
                remote_id=entry.remote_id,
                remote_url=entry.remote_url,
                published_at=entry.published,
                now=self.clock(),
                comment_error=entry.comment_error,
                comment_error_data=entry.comment_error_data,
            )
            log.info("applied the journaled receipt of %s on %s", entry.post_key, entry.account)

        return self.journal.apply(apply)

    def _log(self, claim: Claim, kind: OutcomeKind, url: str | None, error: str | None) -> None:
        where = f"{claim.post_key} on {claim.account_name}"
        if kind is OutcomeKind.PUBLISHED:
            lag = (self.clock() - claim.due_at).total_seconds()
            log.info("published %s: %s (%.1f s after due)", where, url, lag)
        elif kind in (OutcomeKind.RETRY, OutcomeKind.RATE_LIMITED):
            log.info("will retry %s: %s", where, error)
        else:
            log.warning("%s %s: %s", kind.value, where, error)

    def heartbeat(self) -> None:
        now = self.clock()
        self._beat_at = now
        with self.store.session(write=True) as session:
            record = session.get(WorkerRecord, self.worker_id)
            if record is None:
                session.add(
                    WorkerRecord(
                        id=self.worker_id,
                        hostname=socket.gethostname(),
                        pid=os.getpid(),
                        started_at=self.started_at,
                        heartbeat_at=now,
                        version=__version__,
                    )
                )
            else:
                record.heartbeat_at = now
                record.stopped_at = None  # the same --worker-id started again


class Daemon:
    """`campaign run`: wake when work is due, reconcile with the database, stop on a signal."""

    def __init__(
        self,
        worker: Worker,
        *,
        reconcile: timedelta = timedelta(seconds=30),
        metrics: Callable[[threading.Event], None] | None = None,
        metrics_every: timedelta = timedelta(hours=1),
        alerts: Callable[[], None] | None = None,
        alerts_every: timedelta = timedelta(minutes=5),
        metrics_first: timedelta = timedelta(seconds=5),
        tokens: Callable[[], object] | None = None,
        tokens_every: timedelta = timedelta(hours=6),
        warm: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.worker = worker
        #: Gets the accounts due at the next wake-up, :data:`WARM_LEAD` before it, on a thread
        #: of its own (what a first call would ask the network, asked ahead of time).
        self.warm = warm
        self.reconcile_every = reconcile
        #: The sweep gets the stop event and returns soon after it is set (between reads).
        self.metrics = metrics
        self.metrics_every = metrics_every
        self.alerts = alerts
        self.alerts_every = alerts_every
        self.metrics_first = metrics_first
        self._metrics_thread: threading.Thread | None = None
        #: Refreshes stored tokens ahead of expiry (campaign_scheduler.auth.accounts.refresh_due).
        self.tokens = tokens
        self.tokens_every = tokens_every
        self._scheduler: Any = None
        self._last_idle: datetime | None = None
        self._wake_at: datetime | None = None
        self._wake_job: str | None = None
        #: The accounts due up to this moment have had a warm-up (see :meth:`_schedule_wake`).
        self._warmed_until: datetime | None = None
        #: Held by every scheduled job while it runs. A stop waits for it outside APScheduler's
        #: own locks: ``shutdown(wait=True)`` waits for the running job while holding the job
        #: store's lock, which that job needs to set its next wake-up (a deadlock).
        self._job_running = threading.Lock()
        #: Numbers the ids of the scheduler's jobs (see :meth:`_add_once`).
        self._job_numbers = itertools.count(1)
        #: A look asked for by :meth:`wake_now` waits for the scheduler's thread, and whether
        #: any poke it stands for was announced by a command.
        self._poke_lock = threading.Lock()
        self._poke_waiting = False
        self._poke_announced = False

    def _job(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            with self._job_running:
                if not self.worker.stop_requested.is_set():
                    body()

        return run

    def serve(self, *, handle_signals: bool = True) -> None:
        """Run until stopped: by SIGTERM/SIGINT (with ``handle_signals``, main thread only)
        or by :meth:`stop` from another thread."""
        from apscheduler.events import EVENT_SCHEDULER_STARTED
        from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.blocking import BlockingScheduler

        scheduler = BlockingScheduler(
            jobstores={"default": MemoryJobStore()},
            # One thread: the publish and reconcile jobs never run at the same time.
            executors={"default": JobExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self._scheduler = scheduler
        watcher = Watcher(self.worker.store, self.wake_now)
        watcher.start()

        def every(period: timedelta, job_id: str, job: Callable[[], None]) -> None:
            """``job`` now, then ``period`` after each run has ended (see :meth:`_repeat`)."""
            self._repeat(period, job_id, job, utcnow())

        every(self.reconcile_every, RECONCILE_JOB, self._job(self._reconcile))
        if self.metrics is not None:
            # Never on the scheduler's thread: a sweep against a network that is down must not
            # hold publishing or reconcile. A daemon thread, so a stop never waits for it.
            self._metrics_thread = threading.Thread(
                target=self._metrics_loop, name=METRICS_JOB, daemon=True
            )
            self._metrics_thread.start()
        if self.alerts is not None:
            every(self.alerts_every, ALERTS_JOB, self._job(self._send_alerts))
        if self.tokens is not None:
            every(self.tokens_every, TOKENS_JOB, self._refresh_tokens)
        previous = (
            {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
            if handle_signals
            else {}
        )
        log.info(
            "daemon %s started (reconcile every %ss)",
            self.worker.worker_id,
            int(self.reconcile_every.total_seconds()),
        )

        def stop_at_once(_event: object) -> None:
            """A stop that came while the scheduler was starting found nothing running to
            shut down: the scheduler, running now, shuts down before its loop begins."""
            if self.worker.stop_requested.is_set():
                _shut_down(scheduler)

        scheduler.add_listener(stop_at_once, EVENT_SCHEDULER_STARTED)
        try:
            if not self.worker.stop_requested.is_set():
                scheduler.start()
        finally:
            watcher.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            with self._job_running:  # the call in flight finishes before the daemon says so
                pass
            self._mark_stopped()
            log.info("daemon %s stopped", self.worker.worker_id)

    def stop(self) -> None:
        """Finish the call in flight, then stop serving (from any thread but a job's)."""
        self.worker.stop_requested.set()
        scheduler = self._scheduler
        if scheduler is not None and scheduler.running:
            _shut_down(scheduler)
        # else serve() has not started it: it looks for the stop before and after it starts
        with self._job_running:  # the job in flight finishes; later ones see the stop
            pass

    def _add_once(self, job: Callable[[], None], run_date: datetime, name: str) -> None:
        """A date job under an id of its own: APScheduler skips (and warns about) a job whose
        id has an instance running or waiting for the worker thread, so no id is reused."""
        with contextlib.suppress(Exception):  # stopping: the scheduler takes no more jobs
            self._scheduler.add_job(
                job, "date", run_date=run_date, id=f"{name}-{next(self._job_numbers)}"
            )

    def _repeat(
        self, period: timedelta, name: str, job: Callable[[], None], run_date: datetime
    ) -> None:
        """Run ``job`` at ``run_date``, then again ``period`` after each run has ended.

        Not an interval job: its runs are due on the clock whether or not the last one has
        run, and one that comes due while the worker thread is still busy (a tick longer
        than the period) is skipped with a warning. Here the next run is set only when a run
        ends, so at most one is ever waiting; a busy thread delays it, never drops it."""

        def run() -> None:
            try:
                job()
            finally:
                if not self.worker.stop_requested.is_set():
                    self._repeat(period, name, job, utcnow() + period)

        self._add_once(run, run_date, name)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing the call in flight, then stopping", signal.Signals(signum).name
        )
        self.worker.stop_requested.set()
        if self._scheduler is not None:
            threading.Thread(target=self.stop, name="stop").start()

    def _publish(self) -> None:
        self._wake_at = None  # this wake-up is being used now
        report = self.worker.tick()
        if report.outcomes or report.expired:
            log.info("tick: %s", report.summary())
            self._last_idle = None
            self._send_alerts()  # right after the outcomes are recorded
        else:
            self._last_idle = self.worker.clock()
        self._schedule_wake()

    def _metrics_loop(self) -> None:
        stop = self.worker.stop_requested
        wait = self.metrics_first
        while not stop.wait(wait.total_seconds()):
            self._collect_metrics()
            wait = self.metrics_every

    def _side_job(self, job: Callable[[], object] | None, failed: str) -> None:
        """Run ``job`` (figures, token refreshes, alerts) unless there is none or the daemon
        is stopping. A failure is logged as ``failed``: none is worth stopping the daemon for."""
        if job is None or self.worker.stop_requested.is_set():
            return
        try:
            job()
        except Exception:
            log.exception(failed)

    def _collect_metrics(self) -> None:
        metrics, stop = self.metrics, self.worker.stop_requested
        if metrics is None or stop.is_set():
            return
        self._side_job(lambda: metrics(stop), N_("collecting metrics failed"))
        self._send_alerts()  # a refused token found by the metrics job is told at once

    def _refresh_tokens(self) -> None:
        self._side_job(self.tokens, N_("refreshing tokens failed"))

    def _send_alerts(self) -> None:
        self._side_job(self.alerts, N_("sending alerts failed"))

    def _mark_stopped(self) -> None:
        from campaign_scheduler.store.attention import mark_stopped

        try:
            mark_stopped(self.worker.store, self.worker.worker_id, self.worker.clock())
        except Exception:  # the database may be what stopped us
            log.exception("could not record that daemon %s stopped", self.worker.worker_id)

    def _reconcile(self) -> None:
        self.worker.heartbeat()
        self._schedule_wake()

    def wake_now(self, *, announced: bool = False) -> None:
        """Another process may have changed the queue: look again at once (store/wakeup.py).

        Runs on the watcher's thread; the look itself is a job on the scheduler's thread.
        Pokes that arrive while a look waits for the thread are merged into it (it reads the
        record after they came); a poke during a look that has begun gets a look of its own
        after it, so no change is left for the next reconcile."""
        if self._scheduler is None or self.worker.stop_requested.is_set():
            return
        with self._poke_lock:
            self._poke_announced = self._poke_announced or announced
            if self._poke_waiting:
                return
            self._poke_waiting = True
        self._add_once(self._job(self._look_again), utcnow(), WAKEUP_JOB)

    def _look_again(self) -> None:
        with self._poke_lock:  # later pokes need a look of their own: this one reads now
            announced, self._poke_announced = self._poke_announced, False
            self._poke_waiting = False
        if announced:  # a command changed the queue: claim what is due now, if anything
            self._last_idle = None
            self._publish()
        else:  # maybe only our own writes: read when the next work is due (no writes)
            self._schedule_wake()

    def _schedule_wake(self) -> None:
        """Make sure a wake-up is set for the next moment work is due.

        Both jobs run on the scheduler's single worker thread, so this never races itself.
        Every wake-up job gets its own id: APScheduler removes a finished date job by id.
        """
        if self.worker.stop_requested.is_set() or self._scheduler is None:
            return
        now = self.worker.clock()
        wake = next_wake(self.worker.store, now)
        if wake is None:
            return
        if self._last_idle is not None and wake < self._last_idle + IDLE_FLOOR:
            wake = self._last_idle + IDLE_FLOOR
        if self._wake_at is not None and self._wake_at <= wake:
            return
        if self._wake_job is not None:
            with contextlib.suppress(Exception):  # already run and gone
                self._scheduler.remove_job(self._wake_job)
        self._wake_job = f"{PUBLISH_JOB}-{uuid.uuid4().hex[:8]}"
        self._wake_at = wake
        self._scheduler.add_job(self._job(self._publish), "date", run_date=wake, id=self._wake_job)
        # One warm-up covers the accounts due up to WARM_LEAD after its wake-up: with work
        # due every few milliseconds, a warm-up per wake-up (a thread, the rehearsal and a
        # read of the accounts due, 5 ms of CPU) cost more than the deliveries themselves.
        if (
            self.warm is not None
            and wake > now
            and (self._warmed_until is None or wake > self._warmed_until)
        ):
            self._warmed_until = wake + WARM_LEAD
            self._scheduler.add_job(
                self._start_warm_up,
                "date",
                run_date=max(wake - WARM_LEAD, now),
                args=[self._warmed_until],
                id=f"warm-{self._wake_job}",
            )

    def _start_warm_up(self, until: datetime) -> None:
        """Warm up the accounts due by ``until`` (the next wake-up and WARM_LEAD after it)."""
        wake = self._wake_at
        if wake is None or self.warm is None or self.worker.stop_requested.is_set():
            return
        warm = self.warm

        def run() -> None:
            try:
                rehearse(self.worker.store, self.worker.worker_id, self.worker.lease)
                due = accounts_due(self.worker.store, max(wake, until))
                # The first lane runs on the scheduler's thread; the others' threads wait.
                self.worker.lane_pool.prestart(min(self.worker.threads, len(due)) - 1)
                warm(due)
            except Exception:  # a warm-up is not worth stopping the daemon for
                log.exception("warming up the accounts due at %s failed", wake.isoformat())

        # Never on the scheduler's thread: a network that does not answer must not hold the
        # wake-up itself. A daemon thread, so a stop never waits for it.
        threading.Thread(target=run, name="warm-up", daemon=True).start()


def _shut_down(scheduler: Any) -> None:
    """Stop APScheduler's loop without waiting for the job it runs, from any thread.

    APScheduler marks itself stopped before it takes its job stores' lock, and its loop,
    holding that lock, removes each date job it has just handed to the worker thread: a
    removal after the mark looks among the jobs kept for a start, finds nothing and raises
    JobLookupError out of serve(). With the lock held here the mark waits until the loop has
    done its round. The running job is not waited for (wait=False): one that needs the lock to
    set its next wake-up would deadlock with a stop waiting for it inside the lock."""
    from apscheduler.schedulers import SchedulerNotRunningError

    with (
        scheduler._jobstores_lock,
        contextlib.suppress(SchedulerNotRunningError),  # stopped meanwhile (a signal)
    ):
        scheduler.shutdown(wait=False)


def active_workers(store: Store, since: datetime) -> list[WorkerRecord]:
    with store.session() as session:
        return list(session.scalars(select(WorkerRecord).where(WorkerRecord.heartbeat_at >= since)))
