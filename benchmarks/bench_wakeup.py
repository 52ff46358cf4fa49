"""Benchmark: how soon a running daemon picks up a post queued by another process.

A real ``campaign run`` (reconciling only once an hour, so only the wake-up can find the
work) runs against the Mastodon sandbox; this process queues one post due *now* at a time
(``store.changes.queue_post`` and ``store.wakeup.announce``, as ``campaign queue`` does) and
waits until the sandbox has the status. Pick-up latency = the status's creation time at the
sandbox − the moment the queueing transaction had committed. Baseline in the same run: one
bare POST of a status to the same sandbox (``requests.Session``), which the latency includes.

Before this mechanism the daemon found such work at its next reconcile: 0–30 s later with the
default ``daemon.reconcile = "30s"`` (15 s on average). Goals: ≤ 50 ms on PostgreSQL, ≤ 1 s
on SQLite.

    .venv/bin/python benchmarks/bench_wakeup.py [--posts 20] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from campaign_scheduler.campaign import require_campaign
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.changes import queue_post
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import WorkerRecord
from campaign_scheduler.store.wakeup import announce
from live import LiveCampaign

POSTGRES = os.environ.get(
    "CAMPAIGN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def wait_for(condition: object, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            sys.exit(f"gave up waiting for {what}")
        time.sleep(0.005)


def pick_up(database_url: str, posts: int) -> tuple[list[float], list[float]]:
    """Latencies in ms, one per queued post: until the daemon was woken (its log line, ms
    resolution) and until the sandbox had the status."""
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        live = LiveCampaign(
            Path(folder), sandbox, database_url=database_url, reconcile="1h", min_gap="0m"
        )
        live.draft("01-spaeter", live.now + timedelta(days=1))
        live.load()
        campaign = require_campaign(live.root / "campaign" / "live.toml")
        store = open_store(database_url)
        daemon = live.start("run", "--verbose")
        latencies, commits = [], []
        output = ""
        try:

            def ready() -> bool:
                with store.session() as session:
                    beat = session.scalar(select(WorkerRecord.heartbeat_at))
                return beat is not None and "watching for queue changes" in live_log(daemon.log)

            wait_for(ready, "the daemon")
            for n in range(posts):
                time.sleep(0.3)  # let the daemon go idle again
                now = datetime.now(UTC)
                queue_post(
                    store,
                    campaign,
                    sender="soest",
                    accounts=[("soest-mastodon", "mastodon", sandbox.url)],
                    text=f"Sofort {n} #5malklug",
                    language="de",
                    due_at=now,
                    not_after=now + timedelta(hours=1),
                    actor="bench",
                    now=now,
                )
                committed = time.time()
                commits.append(committed)
                announce(store)
                wait_for(lambda n=n: len(sandbox.statuses()) > n, f"post {n}")  # type: ignore[misc]
                created = sandbox.statuses()[n].created_at.timestamp()
                latencies.append((created - committed) * 1000)
        finally:
            daemon.send_signal(signal.SIGTERM)
            output = daemon.finish(timeout=60)[1]
            store.dispose()
        woken = [
            datetime.fromisoformat(entry.split()[0]).timestamp()
            for entry in output.splitlines()
            if WOKEN in entry
        ]
        # the first wake-up after each commit (SQLite also wakes on the daemon's own writes)
        noticed = [
            (min(w for w in woken if w >= c - 0.001) - c) * 1000
            for c in commits
            if any(w >= c - 0.001 for w in woken)
        ]
        return noticed, latencies


WOKEN = "looking for new work"


def live_log(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def bare_post(runs: int) -> list[float]:
    with MastodonSandbox() as sandbox:
        token = sandbox.add_account("bare", "bare-token")
        session = requests.Session()
        times = []
        for n in range(runs):
            started = time.perf_counter()
            answer = session.post(
                f"{sandbox.url}/api/v1/statuses",
                data={"status": f"bare {n}"},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            answer.raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
        return times


def postgres_database(url: str) -> str | None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"cs_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        return None
    finally:
        admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(admin_url: str, url: str) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def line(name: str, values: list[float], baseline: float | None = None) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    ratio = f"{statistics.median(values) / baseline:7.1f}x" if baseline else " " * 8
    return f"{name:34} {statistics.median(values):9.1f} {p99:9.1f} {max(values):9.1f} {ratio}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--postgres", default=POSTGRES, help="server URL (a database is made)")
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        woken, out = pick_up(f"sqlite:///{Path(folder) / 'bench.db'}", args.posts)
        results["SQLite: woken (data_version)"] = woken
        results["SQLite: status at the network"] = out
    database = postgres_database(args.postgres)
    if database is None:
        print(f"no PostgreSQL at {args.postgres}: only SQLite measured")
    else:
        try:
            woken, out = pick_up(database, args.posts)
            results["PostgreSQL: woken (LISTEN/NOTIFY)"] = woken
            results["PostgreSQL: status at the network"] = out
        finally:
            drop_postgres_database(args.postgres, database)
    bare = bare_post(args.posts)
    baseline = statistics.median(bare)
    print(f"\n{args.posts} posts each, Python {sys.version.split()[0]}; ms")
    print(f"{'pick-up latency':34} {'median':>9} {'p99':>9} {'max':>9} {'vs POST':>8}")
    print(line("bare POST to the sandbox (baseline)", bare))
    for name, values in results.items():
        print(line(name, values, baseline))


if __name__ == "__main__":
    main()
