"""Benchmark the campaign report and the metrics sweep.

1. ``campaign report`` over 1,000,000 metric snapshots on SQLite, in two shapes: 20,000
   deliveries with 50 snapshots each, and 200,000 deliveries with 5 each (the default
   cadence). Median of 5 runs of building the report (all SQL), and of building plus rendering
   JSON and HTML. Baselines in the same run, on the same table: ``SELECT count(*)`` and a plain
   ``GROUP BY`` over all rows (sums of every figure per account).
2. ``campaign metrics`` over 1,000 published deliveries against the Mastodon sandbox
   (``metrics.collector.collect``: two GETs per delivery plus one snapshot transaction each).
   Baseline in the same run: the same two GETs per delivery, sequential, with one
   ``requests.Session``, and nothing else.

    .venv/bin/python benchmarks/bench_report.py [--quick] [--runs N]

Module bytecode: whatever the environment says (``PYTHONDONTWRITEBYTECODE``); every figure
here is measured inside one process after its imports, so import time is not in them.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from campaign_scheduler.reports import Format, Lang, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.model import GroupBy
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.lag import fill_lags
from campaign_scheduler.store.models import (
    AccountRecord,
    CampaignRecord,
    DeliveryRecord,
    HashtagUseRecord,
    MetricSnapshotRecord,
    PostRecord,
    SenderRecord,
)
from campaign_scheduler.store.snapshots import rebuild_delivery_metrics
from live import LiveCampaign

EVENT = datetime(2021, 11, 18, 9, 0, tzinfo=UTC)
SENDERS = ("agentur", "arnsberg", "badberleburg", "menden", "olpe", "soest")
#: channel -> the figures its snapshots carry (the others stay NULL)
CHANNELS: dict[str, tuple[str, ...]] = {
    "mastodon": ("likes", "reposts", "replies"),
    "bluesky": ("likes", "reposts", "replies", "quotes"),
    "linkedin": ("likes", "reposts", "replies", "views", "reach", "clicks"),
    "x": ("likes", "reposts", "replies", "quotes", "views", "clicks"),
    "instagram": ("likes", "replies", "views", "reach"),
}
FIGURES = ("likes", "reposts", "replies", "quotes", "views", "reach", "clicks")


def timed(action: Callable[[], object], runs: int) -> float:
    """Median wall time of ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def interleaved(
    baseline: Callable[[], object], action: Callable[[], object], runs: int
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Medians of (wall, CPU) seconds of ``baseline`` and ``action``, run alternately."""
    times: list[list[float]] = [[], [], [], []]
    for _ in range(runs):
        for offset, call in ((0, baseline), (2, action)):
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            times[offset].append(time.perf_counter() - wall)
            times[offset + 1].append(time.process_time() - cpu)
    medians = [statistics.median(t) for t in times]
    return (medians[0], medians[1]), (medians[2], medians[3])


# ---------------------------------------------------------------------------------------------
# 1. The report over a million snapshots


def generate(store: Store, deliveries: int, per_delivery: int) -> None:
    """A campaign with ``deliveries`` published deliveries and ``per_delivery`` snapshots each,
    written with Core ``executemany`` in large batches."""
    rng = random.Random(5)
    now = datetime(2021, 12, 1, tzinfo=UTC)
    with store.transaction(write=True) as connection:
        connection.execute(
            insert(CampaignRecord),
            [
                {
                    "id": 1,
                    "slug": "bench",
                    "name": "#5malklug",
                    "hashtag": "#5malklug",
                    "timezone": "Europe/Berlin",
                    "language": "de",
                    "event_name": "Smart Cities: Konferenz",
                    "event_start": EVENT,
                    "event_end": EVENT + timedelta(hours=6),
                    "grace_seconds": 7200,
                    "min_gap_seconds": 0,
                    "require_approval": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        connection.execute(
            insert(SenderRecord),
            [
                {"id": n + 1, "campaign_id": 1, "slug": s, "name": s.title()}
                for n, s in enumerate(SENDERS)
            ],
        )
        accounts = [
            (n * len(CHANNELS) + m + 1, sender, channel)
            for n, sender in enumerate(SENDERS)
            for m, channel in enumerate(CHANNELS)
        ]
        connection.execute(
            insert(AccountRecord),
            [
                {
                    "id": account_id,
                    "name": f"{sender}-{channel}",
                    "channel": channel,
                    "sender_id": SENDERS.index(sender) + 1,
                    "needs_attention": False,
                    "updated_at": now,
                }
                for account_id, sender, channel in accounts
            ],
        )
        posts = deliveries // len(CHANNELS)
        days = 42
        post_rows: list[dict[str, Any]] = []
        for number in range(posts):
            sender = number % len(SENDERS)
            due = EVENT - timedelta(days=days) + timedelta(minutes=number * days * 1440 // posts)
            post_rows.append(
                {
                    "id": number + 1,
                    "campaign_id": 1,
                    "key": f"{SENDERS[sender]}/{number:06d}",
                    "source": "draft",
                    "sender_id": sender + 1,
                    "body": "Countdown #5malklug",
                    "variants": {},
                    "media": [],
                    "language": "de",
                    "split": False,
                    "at_text": "x",
                    "due_at": due,
                    "content_hash": "h",
                    "version": 1,
                    "author": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        connection.execute(insert(PostRecord), post_rows)
        delivery_rows: list[dict[str, Any]] = []
        delivery_meta: list[tuple[int, int, str, datetime]] = []
        for post in post_rows:
            sender = post["sender_id"] - 1
            for m, channel in enumerate(CHANNELS):
                delivery_id = len(delivery_rows) + 1
                account_id = sender * len(CHANNELS) + m + 1
                published = post["due_at"] + timedelta(seconds=rng.uniform(0.2, 90))
                state = "published" if rng.random() > 0.03 else rng.choice(["failed", "expired"])
                delivery_rows.append(
                    {
                        "id": delivery_id,
                        "post_id": post["id"],
                        "account_id": account_id,
                        "state": state,
                        "state_reason": None if state == "published" else f"{state}: reason",
                        "text": "Countdown #5malklug",
                        "content_hash": "h",
                        "due_at": post["due_at"],
                        "attempts": 1,
                        "idempotency_key": f"k{delivery_id}",
                        "remote_id": str(delivery_id) if state == "published" else None,
                        "remote_url": f"https://{channel}.example/{delivery_id}"
                        if state == "published"
                        else None,
                        "published_at": published if state == "published" else None,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if state == "published":
                    delivery_meta.append((delivery_id, account_id, channel, published))
        for start in range(0, len(delivery_rows), 50_000):
            connection.execute(insert(DeliveryRecord), delivery_rows[start : start + 50_000])

    snapshot_rows: list[dict[str, Any]] = []
    total = 0
    target = deliveries * per_delivery

    def flush() -> None:
        with store.transaction(write=True) as connection:
            connection.execute(insert(MetricSnapshotRecord), snapshot_rows)
        snapshot_rows.clear()

    while total < target:
        for delivery_id, account_id, channel, published in delivery_meta:
            if total >= target:
                break
            given = CHANNELS[channel]
            for n in range(per_delivery):
                if total >= target:
                    break
                row: dict[str, Any] = {
                    "delivery_id": delivery_id,
                    "campaign_id": 1,
                    "account_id": account_id,
                    "fetched_at": published + timedelta(hours=n * 7),
                    "followers": 1000 + n,
                }
                for figure in FIGURES:
                    row[figure] = n * 3 + (delivery_id % 7) if figure in given else None
                snapshot_rows.append(row)
                total += 1
                if len(snapshot_rows) >= 100_000:
                    flush()
        per_delivery = 1  # top up with one more snapshot each until the target is reached
    if snapshot_rows:
        flush()
    # The per-delivery summary, as add_snapshot() keeps it and migration 0008 fills it, and the
    # lags, as the publishing path stores them (migration 0010 fills them).
    with store.transaction(write=True) as connection:
        rebuild_delivery_metrics(connection)
        fill_lags(connection)
    with store.transaction(write=True) as connection:
        connection.execute(
            insert(HashtagUseRecord),
            [
                {
                    "campaign_id": 1,
                    "channel": rng.choice(["mastodon", "bluesky"]),
                    "remote_id": f"t{n}",
                    "author": f"person{rng.randrange(2000)}",
                    "posted_at": EVENT - timedelta(minutes=rng.randrange(60 * 24 * 45)),
                    "url": None,
                    "fetched_at": now,
                }
                for n in range(10_000)
            ],
        )


def report_benchmark(snapshots: int, deliveries: int, runs: int, keep: Path | None) -> None:
    per_delivery = max(1, snapshots // deliveries)
    with tempfile.TemporaryDirectory() as folder:
        database = (keep or Path(folder)) / f"bench-{snapshots}-{deliveries}.db"
        existed = database.exists()
        store = open_store(f"sqlite:///{database}")
        started = time.perf_counter()
        if not existed:
            generate(store, deliveries, per_delivery)
        made = time.perf_counter() - started
        with store.transaction() as connection:
            count = connection.execute(text("SELECT count(*) FROM metric_snapshot")).scalar_one()
        print(
            f"\nreport, {count:,} snapshots = {deliveries:,} deliveries x {per_delivery} "
            + (
                f"(kept from an earlier run: {database}):"
                if existed
                else f"(generated in {made:.1f} s, {count / made:,.0f} rows/s):"
            )
        )

        def count_all() -> None:
            with store.transaction() as connection:
                connection.execute(text("SELECT count(*) FROM metric_snapshot")).scalar_one()

        sums = ", ".join(f"SUM({f})" for f in FIGURES)

        def group_all() -> None:
            with store.transaction() as connection:
                connection.execute(
                    text(f"SELECT account_id, {sums} FROM metric_snapshot GROUP BY account_id")
                ).all()

        baseline_count = timed(count_all, runs)
        baseline_group = timed(group_all, runs)
        print(f"  baseline SELECT count(*):             {baseline_count * 1000:8.0f} ms")
        print(f"  baseline GROUP BY account, all rows:  {baseline_group * 1000:8.0f} ms")
        for by in (GroupBy.SENDER, GroupBy.DAY, GroupBy.POST):
            built = timed(partial(build_report, store, "bench", by=by), runs)
            print(
                f"  build report --by {by.value:<7} (SQL):    {built * 1000:8.0f} ms  "
                f"= {built / baseline_count:5.1f}x count(*), {built / baseline_group:4.2f}x GROUP BY"
            )
        # The same comparison with the two interleaved (GROUP BY, report, GROUP BY, …) and in
        # CPU time as well: on a loaded machine the wall times above drift between the blocks.
        for by in (GroupBy.SENDER, GroupBy.DAY, GroupBy.POST):
            base, built_pair = interleaved(
                group_all, partial(build_report, store, "bench", by=by), runs
            )
            print(
                f"  interleaved, --by {by.value:<7}: GROUP BY {base[0] * 1000:6.0f} ms "
                f"({base[1] * 1000:.0f} ms CPU), report {built_pair[0] * 1000:6.0f} ms "
                f"({built_pair[1] * 1000:.0f} ms CPU) = {built_pair[0] / base[0]:4.2f}x wall, "
                f"{built_pair[1] / base[1]:4.2f}x CPU"
            )
        report = build_report(store, "bench")
        for fmt in (Format.JSON, Format.HTML, Format.TABLE):
            rendered = timed(partial(render, report, fmt, Lang.DE), runs)
            print(f"  render {fmt.value:<5} (--by sender):         {rendered * 1000:8.0f} ms")
        store.dispose()


# ---------------------------------------------------------------------------------------------
# 2. The metrics sweep against the sandbox


def sweep_benchmark(deliveries: int, runs: int) -> None:
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.metrics.collector import collect
    from campaign_scheduler.publishing.accounts import ConfiguredChannels

    accounts = 10
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        live = LiveCampaign(Path(folder), sandbox, accounts=accounts)
        os.environ.update(live.env)
        settings = load_settings(live.config)
        store = open_store(live.database_url)
        tokens = [live.env[f"LIVE_TOKEN_{n}"] for n in range(accounts)]
        statuses = []
        for n in range(deliveries):
            status_id = sandbox.post_as(f"soest{n % accounts}", f"Countdown {n} #5malklug")
            sandbox.set_engagement(status_id, favourites=n % 13, reblogs=n % 5, replies=n % 3)
            statuses.append((status_id, n % accounts))
        _published_deliveries(store, sandbox.url, statuses, accounts)

        session = requests.Session()

        def plain_gets() -> None:
            for status_id, account in statuses:
                headers = {"Authorization": f"Bearer {tokens[account]}"}
                session.get(f"{sandbox.url}/api/v1/statuses/{status_id}", headers=headers)
                session.get(f"{sandbox.url}/api/v1/accounts/verify_credentials", headers=headers)

        def one_get() -> None:
            for status_id, account in statuses:
                headers = {"Authorization": f"Bearer {tokens[account]}"}
                session.get(f"{sandbox.url}/api/v1/statuses/{status_id}", headers=headers)

        def sweep() -> None:
            channels = ConfiguredChannels(settings, timeout=15)
            report = collect(store, channels, datetime.now(UTC), everything=True)
            assert report.snapshots == deliveries and not report.failures, report.summary()

        base_two = timed(plain_gets, runs)
        base_one = timed(one_get, runs)
        swept = timed(sweep, runs)
        print(f"\nmetrics sweep, {deliveries:,} published deliveries on the Mastodon sandbox:")
        print(
            f"  baseline: 2 GETs per delivery, sequential:  {base_two:6.2f} s "
            f"({2 * deliveries / base_two:,.0f} requests/s)"
        )
        print(f"  baseline: 1 GET per delivery, sequential:   {base_one:6.2f} s")
        print(
            f"  collect() (2 GETs + 1 snapshot each):       {swept:6.2f} s "
            f"({deliveries / swept:,.0f} deliveries/s) = {swept / base_two:.2f}x the 2-GET baseline"
        )
        store.dispose()


def _published_deliveries(
    store: Store, base_url: str, statuses: list[tuple[str, int]], accounts: int
) -> None:
    """Campaign rows for statuses that already exist on the sandbox: published deliveries."""
    now = datetime.now(UTC)
    with store.transaction(write=True) as connection:
        connection.execute(
            insert(CampaignRecord),
            [
                {
                    "id": 1,
                    "slug": "live",
                    "name": "Live",
                    "hashtag": "#5malklug",
                    "timezone": "Europe/Berlin",
                    "language": "de",
                    "event_name": "Konferenz",
                    "event_start": now + timedelta(days=7),
                    "grace_seconds": 7200,
                    "min_gap_seconds": 0,
                    "require_approval": False,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        connection.execute(
            insert(SenderRecord),
            [{"id": 1, "campaign_id": 1, "slug": "soest", "name": "Stadt Soest"}],
        )
        connection.execute(
            insert(AccountRecord),
            [
                {
                    "id": n + 1,
                    "name": f"soest-mastodon-{n}",
                    "channel": "mastodon",
                    "sender_id": 1,
                    "base_url": base_url,
                    "needs_attention": False,
                    "updated_at": now,
                }
                for n in range(accounts)
            ],
        )
        connection.execute(
            insert(PostRecord),
            [
                {
                    "id": n + 1,
                    "campaign_id": 1,
                    "key": f"soest/{n:05d}",
                    "source": "draft",
                    "sender_id": 1,
                    "body": "x",
                    "variants": {},
                    "media": [],
                    "language": "de",
                    "split": False,
                    "at_text": "x",
                    "due_at": now,
                    "content_hash": "h",
                    "version": 1,
                    "author": "bench",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(len(statuses))
            ],
        )
        connection.execute(
            insert(DeliveryRecord),
            [
                {
                    "id": n + 1,
                    "post_id": n + 1,
                    "account_id": account + 1,
                    "state": "published",
                    "text": "x",
                    "content_hash": "h",
                    "due_at": now,
                    "attempts": 1,
                    "idempotency_key": f"k{n}",
                    "remote_id": status_id,
                    "remote_url": f"{base_url}/@soest{account}/{status_id}",
                    "published_at": now,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, (status_id, account) in enumerate(statuses)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 snapshots, 200 deliveries")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the generated databases in DIR and reuse them in later runs",
    )
    args = parser.parse_args()
    print(
        f"Python {sys.version.split()[0]}, SQLite {__import__('sqlite3').sqlite_version}, "
        f"median of {args.runs} runs, PYTHONDONTWRITEBYTECODE="
        f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}"
    )
    snapshots = 100_000 if args.quick else 1_000_000
    if not args.skip_report:
        for deliveries in (snapshots // 50, snapshots // 5):
            report_benchmark(snapshots, deliveries, args.runs, args.keep)
    if not args.skip_sweep:
        sweep_benchmark(200 if args.quick else 1000, args.runs)


if __name__ == "__main__":
    main()
