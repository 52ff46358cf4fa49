"""The daemon: APScheduler as the clock, the database as the queue.

APScheduler 3 runs a ``BlockingScheduler`` with an in-memory job store and a single worker
thread, used only as a timer: one date job ("publish-due") wakes the daemon when the next
delivery is due, and an interval job ("reconcile") re-reads the database so that work queued
by other processes is seen without a restart. What to publish is never stored in APScheduler.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import Any

from sqlalchemy import select

from campaign_scheduler import __version__
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.publishing.queue import (
    Claim,
    OutcomeKind,
    claim_abandoned,
    claim_due,
    expire_overdue,
    next_wake,
    record_outcome,
    record_parts,
    release_retries,
)
from campaign_scheduler.store.engine import Store
from campaign_scheduler.store.models import WorkerRecord
from campaign_scheduler.timeutil import utcnow as utcnow  # noqa: PLC0414 (re-exported; defined once there)

log = logging.getLogger("campaign_scheduler.daemon")

PUBLISH_JOB = "publish-due"
RECONCILE_JOB = "reconcile"
METRICS_JOB = "metrics"
ALERTS_JOB = "alerts"
TOKENS_JOB = "tokens"
#: A wake-up that found nothing to do is not repeated sooner than this.
IDLE_FLOOR = timedelta(seconds=1)


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class TickReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    expired: int = 0

    @property
    def published(self) -> int:
        return self.outcomes[OutcomeKind.PUBLISHED.value]

    def summary(self) -> str:
        parts = [f"{n} {kind}" for kind, n in sorted(self.outcomes.items())]
        if self.expired:
            parts.append(f"{self.expired} expired (overdue)")
        return ", ".join(parts) or "nothing due"


class Worker:
    """Claims due deliveries and publishes them until nothing is due (one tick)."""

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
        publisher.progress = lambda claim, parts: record_parts(store, claim, parts)
        self.worker_id = worker_id or new_worker_id()
        self.lease = lease
        self.threads = max(1, threads)
        self.clock = clock
        self.stop_requested = threading.Event()
        self.started_at = clock()
        self._lock = threading.Lock()

    def tick(self) -> TickReport:
        report = TickReport()
        for post_key, account, reason in expire_overdue(self.store, self.clock()):
            log.warning("expired %s on %s: %s", post_key, account, reason)
            report.expired += 1
        release_retries(self.store, self.clock())
        self._drain(claim_abandoned, report)
        self._drain(claim_due, report)
        self.heartbeat()
        return report

    def _drain(self, claim: Callable[..., Claim | None], report: TickReport) -> None:
        if self.threads == 1:
            self._drain_loop(claim, report)
            return
        with ThreadPoolExecutor(self.threads, thread_name_prefix="publish") as pool:
            for future in [
                pool.submit(self._drain_loop, claim, report) for _ in range(self.threads)
            ]:
                future.result()

    def _drain_loop(self, claim: Callable[..., Claim | None], report: TickReport) -> None:
        while not self.stop_requested.is_set():
            claimed = claim(self.store, self.worker_id, self.clock(), self.lease)
            if claimed is None:
                return
            outcome = self.publisher.publish(claimed, self.clock)
            kept = record_outcome(self.store, claimed, outcome, self.clock())
            with self._lock:
                report.outcomes[outcome.kind.value if kept else "lease lost"] += 1
            self._log(claimed, outcome.kind, outcome.remote_url, outcome.error)

    def _log(self, claim: Claim, kind: OutcomeKind, url: str | None, error: str | None) -> None:
        where = f"{claim.post_key} on {claim.account_name}"
        if kind is OutcomeKind.PUBLISHED:
            lag = (self.clock() - claim.due_at).total_seconds()
            log.info("published %s: %s (%.1f s after due)", where, url, lag)
        elif kind in (OutcomeKind.RETRY, OutcomeKind.RATE_LIMITED, OutcomeKind.NOT_PUBLISHED):
            log.info("will retry %s: %s", where, error)
        else:
            log.warning("%s %s: %s", kind.value, where, error)

    def heartbeat(self) -> None:
        now = self.clock()
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
        metrics: Callable[[], None] | None = None,
        metrics_every: timedelta = timedelta(hours=1),
        alerts: Callable[[], None] | None = None,
        alerts_every: timedelta = timedelta(minutes=5),
        tokens: Callable[[], object] | None = None,
        tokens_every: timedelta = timedelta(hours=6),
    ) -> None:
        self.worker = worker
        self.reconcile_every = reconcile
        self.metrics = metrics
        self.metrics_every = metrics_every
        self.alerts = alerts
        self.alerts_every = alerts_every
        #: Refreshes stored tokens ahead of expiry (campaign_scheduler.auth.accounts.refresh_due).
        self.tokens = tokens
        self.tokens_every = tokens_every
        self._scheduler: Any = None
        self._last_idle: datetime | None = None
        self._wake_at: datetime | None = None
        self._wake_job: str | None = None

    def serve(self, *, handle_signals: bool = True) -> None:
        """Run until stopped: by SIGTERM/SIGINT (with ``handle_signals``, main thread only)
        or by :meth:`stop` from another thread."""
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
        scheduler.add_job(
            self._reconcile,
            "interval",
            seconds=self.reconcile_every.total_seconds(),
            id=RECONCILE_JOB,
            replace_existing=True,
            next_run_time=utcnow(),
        )
        if self.metrics is not None:
            scheduler.add_job(
                self._collect_metrics,
                "interval",
                seconds=self.metrics_every.total_seconds(),
                id=METRICS_JOB,
                replace_existing=True,
                next_run_time=utcnow() + timedelta(seconds=5),
            )
        if self.alerts is not None:
            scheduler.add_job(
                self._send_alerts,
                "interval",
                seconds=self.alerts_every.total_seconds(),
                id=ALERTS_JOB,
                replace_existing=True,
                next_run_time=utcnow(),
            )
        if self.tokens is not None:
            scheduler.add_job(
                self._refresh_tokens,
                "interval",
                seconds=self.tokens_every.total_seconds(),
                id=TOKENS_JOB,
                replace_existing=True,
                next_run_time=utcnow(),
            )
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
        try:
            if not self.worker.stop_requested.is_set():
                scheduler.start()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._mark_stopped()
            log.info("daemon %s stopped", self.worker.worker_id)

    def stop(self) -> None:
        """Finish the call in flight, then stop serving (from any thread)."""
        self.worker.stop_requested.set()
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info(
            "received %s: finishing the call in flight, then stopping", signal.Signals(signum).name
        )
        self.worker.stop_requested.set()
        if self._scheduler is not None:
            threading.Thread(target=self._scheduler.shutdown, kwargs={"wait": True}).start()

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

    def _collect_metrics(self) -> None:
        if self.metrics is None or self.worker.stop_requested.is_set():
            return
        try:
            self.metrics()
        except Exception:  # figures are not worth stopping the daemon for
            log.exception("collecting metrics failed")
        self._send_alerts()  # a refused token found by the metrics job is told at once

    def _refresh_tokens(self) -> None:
        if self.tokens is None or self.worker.stop_requested.is_set():
            return
        try:
            self.tokens()
        except Exception:  # a token refresh is not worth stopping the daemon for
            log.exception("refreshing tokens failed")

    def _send_alerts(self) -> None:
        if self.alerts is None or self.worker.stop_requested.is_set():
            return
        try:
            self.alerts()
        except Exception:  # an alert receiver is not worth stopping the daemon for
            log.exception("sending alerts failed")

    def _mark_stopped(self) -> None:
        from campaign_scheduler.store.attention import mark_stopped

        try:
            mark_stopped(self.worker.store, self.worker.worker_id, self.worker.clock())
        except Exception:  # the database may be what stopped us
            log.exception("could not record that daemon %s stopped", self.worker.worker_id)

    def _reconcile(self) -> None:
        self.worker.heartbeat()
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
        self._scheduler.add_job(self._publish, "date", run_date=wake, id=self._wake_job)


def active_workers(store: Store, since: datetime) -> list[WorkerRecord]:
    with store.session() as session:
        return list(session.scalars(select(WorkerRecord).where(WorkerRecord.heartbeat_at >= since)))
