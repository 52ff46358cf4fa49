"""Benchmark the daemon against the Mastodon sandbox.

0. Lag under real network latency: the sandbox adds 250 ms to every call; 30 deliveries due
   at the same instant on 30 accounts, and the shipped campaign's calendar (its instants
   compressed to a few seconds apart, each sender's drafts to as many accounts as it has).
   Lag is measured to the moment the network's answer left (arrival + the added latency), the
   baseline is one round trip.
1. Lag from due time to the request reaching the sandbox, with N deliveries due within one
   minute (N = 1,000 and 10,000 by default, `--lag-sizes`), one `campaign run` daemon on
   SQLite; with the timer's own floor (APScheduler alone, date jobs due the same way) and the
   sandbox's (bare POSTs due the same way, from 32 threads), and the daemon's CPU per
   delivery. Two due patterns (`--lag-patterns`, both by default, see ``due_plan``):
   `seconds`, drafts evenly through the minute cut to whole seconds, each on all 50 accounts
   (bursts of 150-200 at one instant), and `spread`, every delivery at an instant of its own
   (uniformly random, microseconds, as the queue stores them).
2. Deliveries per second: one daemon on SQLite, one and two on PostgreSQL (`run --once` on a
   backlog of due deliveries; `--sqlite-only` for the first alone).

Parts 0-2 take `--before PYTHON` as the daemons part does (below): every case also runs with
that interpreter, alternating, each side loading its own database.
3. The idle daemon's memory (RSS) and CPU.
4. Round trips per delivery (`--only statements`, not run by default): statements, commits,
   autocommit statements and connection check-outs of one `run --once` on a backlog, SQLite
   and PostgreSQL, and on PostgreSQL the round trips from libpq's trace, counted by
   count_statements.py (see there what each figure is; a check-out is no round trip).
5. N daemons on PostgreSQL (`--only daemons`, not run by default): one and two `run --once`
   daemons on the same backlog on 125 accounts, 50 ms per call; the *steady* rate, from the
   first to the last status the sandbox received (the daemons' start-up, 1-3 s of CPU each
   on a busy machine, is outside it), with the CPU each part spent per delivery in that
   window (the daemons, PostgreSQL's backends, this process with the sandbox), the cores
   that makes at the steady rate, how often backends waited for a lock, the smallest share
   of the deliveries one daemon made (from the attempts' workers; 1.0: an even split) and
   the longest gap between two arrivals. `--before PYTHON` runs every case with that
   interpreter too (another checkout's venv), alternating, for before/after figures from one
   run; `--delay 0` for calls without added latency. 125 accounts, not the 50 of the other
   parts: a daemon makes one call at a time per account, so with calls of ``d`` s no number
   of daemons passes ``accounts / d`` deliveries/s. One daemon's 32 lanes already allow
   32 / 0.05 s = 640/s, so on 50 accounts (at most 1,000/s) two daemons could reach 1.56x
   one at best, whatever their CPU. 125 accounts allow 2,500/s (about 2,100/s with a few ms
   of record and claim between an account's calls), well above the 1,280/s of two daemons'
   64 lanes: the lanes and the CPU, not the accounts, are the bound. Not more accounts: each
   account's first call makes its adapter, session and connection (once per account in a
   real campaign), and with 4 deliveries per account (`--quick`: 500; 16 of 2,000) that
   start-up stays a small part of the steady window (on 250 accounts, 2 each, it added
   0.2 ms of daemon CPU per delivery).

   Two cases, both kept:
   - *default parallel* (as above, `--workers` not given): each daemon has its 32 lanes;
     on this machine's two cores one daemon already needs more than a core at its rate, so
     this case measures what the CPU allows, not scale-out.
   - *latency-bound*: `--workers 8 --daemons 1,2,3 --deliveries 1000 --lead 20`: 8 lanes a
     daemon (at most 8 / 0.05 s = 160/s each), so that one daemon leaves most of the machine
     to spare (the cores it uses are printed) and the network's latency is the bound; the
     case the goal "two daemons ≥ 1.8x one with 50 ms per call" is about. With `--lead S` the
     backlog falls due S s after the drafts are written and the daemons (`run`, not
     `--once`) are started and idle before that (their warm-up included; the run fails if
     one is not up a second before), take the backlog from the same instant and are
     stopped once everything arrived: with `run --once` a daemon starts 1-3 s after
     another, so the window holds a part where one works alone, and a later daemon's
     start-up takes CPU from the others within it.
6. Claim and record alone (`--only claims`, not run by default): one thread claims and records
   a PostgreSQL backlog with no network call, ms per delivery (wall and CPU), `--before` as
   above.

Every figure is also given as a ratio to a baseline measured in the same run: lag and
throughput against plain sequential POSTs to the same sandbox with requests.Session; memory
against an idle `python -c` process.

    .venv/bin/python benchmarks/bench_publish.py [--quick] [--postgres URL] [--only latency,...]
    .venv/bin/python benchmarks/bench_publish.py --only daemons --quick --before PYTHON
    .venv/bin/python benchmarks/bench_publish.py --only daemons --workers 8 --daemons 1,2,3 \
        --deliveries 1000 --lead 20 --before PYTHON
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from live import LiveCampaign

ACCOUNTS = 50  # the sandbox enforces Mastodon's 300 statuses per 3 hours per account
#: Accounts of the N-daemons part: enough that one call at a time per account is not the
#: bound of two daemons' lanes (see the module's docstring, part 5).
DAEMON_ACCOUNTS = 125


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def baseline_post_rate(sandbox: MastodonSandbox, count: int = 500) -> tuple[float, float]:
    """Sequential POST /api/v1/statuses with requests.Session: (requests/s, median ms)."""
    token = sandbox.add_account(f"baseline{uuid.uuid4().hex[:6]}")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    times = []
    started = time.perf_counter()
    for n in range(count):
        t0 = time.perf_counter()
        response = session.post(
            f"{sandbox.url}/api/v1/statuses", json={"status": f"b{n}"}, timeout=10
        )
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code == 429:  # the statuses family limit: use a fresh account
            session.headers["Authorization"] = f"Bearer {sandbox.add_account(uuid.uuid4().hex[:8])}"
    elapsed = time.perf_counter() - started
    return count / elapsed, statistics.median(times)


def campaign(
    root: Path,
    sandbox: MastodonSandbox,
    *,
    database_url: str | None = None,
    accounts: int = ACCOUNTS,
) -> LiveCampaign:
    return LiveCampaign(
        root, sandbox, accounts=accounts, database_url=database_url, min_gap="0m", reconcile="5s"
    )


#: The due patterns of the lag part (``--lag-patterns``).
LAG_PATTERNS = ("seconds", "spread")


def due_plan(
    deliveries: int, pattern: str, first_due: datetime, seed: int = 17
) -> list[tuple[int, datetime]]:
    """When each of ``deliveries`` is due, as (account index, due), within the minute from
    ``first_due``.

    ``seconds``: ``deliveries / ACCOUNTS`` drafts evenly through the minute, each due on
    every account, their times cut to whole seconds (the resolution a draft's ``at`` is
    usually written in; a real campaign writes whole minutes): 150-200 deliveries fall due
    at one instant, three or four drafts' worth.
    ``spread``: every delivery at an instant of its own, uniformly random within the minute
    at the microsecond resolution the queue stores (a draft's ``at``, ``reschedule --at``
    and ``queue`` keep sub-second times end to end); on average one every 6 ms at 10,000.
    """
    if pattern == "seconds":
        drafts = deliveries // ACCOUNTS
        return [
            (account, (first_due + timedelta(seconds=60 * n / drafts)).replace(microsecond=0))
            for n in range(drafts)
            for account in range(ACCOUNTS)
        ]
    if pattern == "spread":
        import random

        chance = random.Random(seed)
        return sorted(
            (
                (n % ACCOUNTS, first_due + timedelta(microseconds=chance.randrange(60_000_000)))
                for n in range(deliveries)
            ),
            key=lambda planned: planned[1],
        )
    raise ValueError(f"unknown due pattern {pattern!r}")


def lag_run(
    deliveries: int, rtt_ms: float, python: str = sys.executable, pattern: str = "seconds"
) -> dict[str, float]:
    """Lags (ms) from due to arrival at the sandbox of ``deliveries`` due within a minute as
    :func:`due_plan` has them, one daemon of ``python`` (its own checkout loads the campaign:
    it makes the schema it knows). ``seconds``: one draft per instant, on every account;
    ``spread``: one draft per delivery, on its one account (``accounts = [...]``)."""
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        live = campaign(Path(folder), sandbox)
        drafts = deliveries // ACCOUNTS if pattern == "seconds" else deliveries
        # Time to load the drafts and start the daemon before the first is due.
        first_due = live.now + timedelta(
            seconds=40 + drafts // (50 if pattern == "seconds" else 250)
        )
        plan = due_plan(deliveries, pattern, first_due)
        due_of: dict[str, datetime] = {}
        if pattern == "seconds":
            for n, (_account, at) in enumerate(plan[::ACCOUNTS]):
                live.draft(f"{n:05d}", at, f"Countdown {n} #5malklug")
                due_of[f"Countdown {n} #5malklug"] = at
        else:
            for n, (account, at) in enumerate(plan):
                text = f"Countdown {n} #5malklug"
                (live.root / "posts" / "soest" / f"{n:05d}.md").write_text(
                    f'+++\nat = "{at.isoformat()}"\nchannels = ["mastodon"]\n'
                    f'accounts = ["soest-mastodon-{account}"]\n+++\n{text}\n',
                    encoding="utf-8",
                )
                due_of[text] = at
        _run_with(live, python, "load")
        import resource

        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        daemon = _start_with(live, python, "run", "--log-json")
        try:
            deadline = time.monotonic() + 60 + (first_due - datetime.now(UTC)).total_seconds() + 120
            while len(sandbox.statuses()) < deliveries and time.monotonic() < deadline:
                time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
        spent = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = spent.ru_utime + spent.ru_stime - used.ru_utime - used.ru_stime
        arrivals = {
            s.idempotency_key: s.created_at for s in sandbox.statuses() if s.idempotency_key
        }
        lags = []
        for status in sandbox.statuses():
            due = due_of[status.text]
            lags.append((status.created_at - due).total_seconds() * 1000)
        assert len(arrivals) == deliveries, f"only {len(arrivals)} of {deliveries} arrived"
    p50, p99 = percentile(lags, 0.5), percentile(lags, 0.99)
    return {
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": max(lags),
        "p50_ratio": p50 / rtt_ms,
        # the daemon's CPU from its start to its stop (start-up and warm-ups included)
        "cpu_ms": cpu * 1000 / deliveries,
    }


SHIPPED_CONFIG = ROOT / "config.example.toml"


class BurstCampaign:
    """A campaign live now with several senders, each with ``n`` Mastodon sandbox accounts."""

    def __init__(
        self,
        root: Path,
        sandbox: MastodonSandbox,
        senders: dict[str, int],
        python: str = sys.executable,
    ) -> None:
        self.root, self.sandbox, self.python = root, sandbox, python
        self.now = datetime.now(UTC).replace(microsecond=0)
        (root / "campaign").mkdir(parents=True)
        sender_tables = "".join(
            f'\n[[senders]]\nslug = "{slug}"\nname = "{slug.title()}"\n' for slug in senders
        )
        (root / "campaign" / "live.toml").write_text(
            '[campaign]\nslug = "live"\nname = "Live"\nhashtag = "#5malklug"\n'
            'timezone = "Europe/Berlin"\nlanguage = "de"\n\n[event]\n'
            f'name = "Smart Cities: Konferenz"\nstart = "{self.now + timedelta(days=7):%Y-%m-%dT%H:%M:%S+00:00}"\n'
            '\n[rules]\nmin_gap = "0m"\ngrace = "2h"\n' + sender_tables,
            encoding="utf-8",
        )
        self.env: dict[str, str] = {}
        tables = []
        for slug, count in senders.items():
            (root / "posts" / slug).mkdir(parents=True)
            for n in range(count):
                variable = f"BURST_{slug.upper().replace('-', '_')}_{n}"
                self.env[variable] = sandbox.add_account(f"{slug}{n}")
                tables.append(
                    f'[accounts.{slug}-mastodon-{n}]\nchannel = "mastodon"\nsender = "{slug}"\n'
                    f'base_url = "{sandbox.url}"\ntoken = "env:{variable}"\n'
                )
        self.config = root / "config.toml"
        self.config.write_text(
            f'[database]\nurl = "sqlite:///{root / "live.db"}"\n\n[paths]\n'
            'campaign = "campaign/live.toml"\n\n[daemon]\nreconcile = "1s"\n\n' + "\n".join(tables),
            encoding="utf-8",
        )

    def draft(self, sender: str, name: str, at: datetime, text: str) -> None:
        (self.root / "posts" / sender / f"{name}.md").write_text(
            f'+++\nat = "{at.isoformat()}"\nchannels = ["mastodon"]\n+++\n{text}\n',
            encoding="utf-8",
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.python, "-m", "campaign_scheduler", "--config", str(self.config), *args],
            capture_output=True,
            text=True,
            env=_env_for(
                self.python,
                {
                    **{k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")},
                    **self.env,
                },
            ),
            timeout=300,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.python, "-m", "campaign_scheduler", "--config", str(self.config), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            env=_env_for(
                self.python,
                {
                    **{k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")},
                    **self.env,
                },
            ),
        )


def shipped_shape() -> tuple[dict[str, int], list[tuple[str, int]]]:
    """The shipped campaign's accounts per sender, and its drafts as (sender, instant index):
    every distinct due moment of the calendar becomes one instant, in order."""
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.rules import check

    result = check(load_settings(SHIPPED_CONFIG, environ={}))
    accounts: dict[str, set[str]] = {}
    drafts: dict[tuple[str, datetime], str] = {}
    for delivery in result.deliveries:
        sender = delivery.account.sender
        accounts.setdefault(sender, set()).add(delivery.account.name)
        assert delivery.due_at is not None
        drafts[(delivery.draft.key, delivery.due_at)] = sender
    instants = sorted({at for _key, at in drafts})
    index = {at: n for n, at in enumerate(instants)}
    return (
        {sender: len(names) for sender, names in accounts.items()},
        [
            (sender, index[at])
            for (_key, at), sender in sorted(drafts.items(), key=lambda d: d[0][1])
        ],
    )


def latency_run(
    senders: dict[str, int],
    drafts: list[tuple[str, int]],
    delay: float,
    python: str = sys.executable,
) -> list[float]:
    """Lags (ms) from due to the answer, every call ``delay`` s long; instants 2 s apart.

    The daemon runs before the drafts are loaded (it sees them at its next reconcile, every
    second), and the first is due 15 s after the load finished: a slow load on a busy
    machine does not make the daemon start late."""
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        sandbox.delay = delay
        burst = BurstCampaign(Path(folder), sandbox, senders, python)
        first = next(iter(senders))
        burst.draft(first, "later", burst.now + timedelta(days=3), "Später #5malklug")
        loaded = burst.run("load")
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        daemon = burst.start("run")
        expected, due_of = 0, dict[str, datetime]()
        while True:  # due times that leave 15 s after the load
            lead = timedelta(seconds=60)
            first_due = datetime.now(UTC).replace(microsecond=0) + lead
            due_of = {}
            expected = 0
            for n, (sender, instant) in enumerate(drafts):
                at = first_due + timedelta(seconds=2 * instant)
                text = f"Takt {n} #5malklug"
                burst.draft(sender, f"{n:04d}", at, text)
                due_of[text] = at
                expected += senders[sender]
            loaded = burst.run("load")
            assert loaded.returncode == 0, loaded.stdout + loaded.stderr
            if datetime.now(UTC) < first_due - timedelta(seconds=15):
                break
            print("  (the load took too long; again with later due times)")
            for n in range(len(drafts)):
                (burst.root / "posts" / drafts[n][0] / f"{n:04d}.md").unlink()
            burst.run("load")
        try:
            until = time.monotonic() + 120 + 2 * (drafts[-1][1] + 1) + delay * expected
            while len(sandbox.statuses()) < expected and time.monotonic() < until:
                time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(60)
        statuses = sandbox.statuses()
        assert len(statuses) == expected, f"only {len(statuses)} of {expected} arrived"
        return [((s.created_at - due_of[s.text]).total_seconds() + delay) * 1000 for s in statuses]


def parallel_floor(accounts: int, delay: float) -> float:
    """p99 lag (ms) of bare POSTs, one thread and fresh session per account, all started at
    one instant: what Python threads on this machine reach at best, measured in this run."""
    with MastodonSandbox() as sandbox:
        sandbox.delay = delay
        sessions = []
        for n in range(accounts):
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {sandbox.add_account(f'floor{n}')}"
            sessions.append(session)
        start = threading.Event()
        began = [0.0]

        def post(session: requests.Session, n: int) -> None:
            start.wait()
            session.post(f"{sandbox.url}/api/v1/statuses", json={"status": f"f{n}"}, timeout=30)

        threads = [threading.Thread(target=post, args=(s, n)) for n, s in enumerate(sessions)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        began[0] = time.time()
        start.set()
        for thread in threads:
            thread.join()
        lags = [(s.created_at.timestamp() - began[0] + delay) * 1000 for s in sandbox.statuses()]
    return percentile(lags, 0.99)


def _pythons(before: str | None) -> list[tuple[str, str]]:
    """("after", this interpreter) and, with ``--before``, ("before", that one)."""
    return [("after", sys.executable)] + ([("before", before)] if before else [])


def latency_cases(runs: int, delay: float = 0.25, before: str | None = None) -> None:
    round_trip = delay * 1000
    floor = statistics.median(parallel_floor(30, delay) for _ in range(runs))
    print(
        f"floor: 30 bare POSTs from 30 threads at one instant, {round_trip:.0f} ms per call: "
        f"p99 {floor:.0f} ms = one round trip + {floor - round_trip:.0f} ms"
    )
    senders, drafts = shipped_shape()
    cases = [
        ("30 accounts, one instant", {"soest": 30}, [("soest", 0)]),
        (
            f"shipped campaign ({sum(senders.values())} accounts, {len(drafts)} drafts)",
            senders,
            drafts,
        ),
    ]
    for label, accounts, shape in cases:
        results: dict[str, list[list[float]]] = {}
        for _ in range(runs):  # the interpreters alternate
            for side, python in _pythons(before):
                lags = latency_run(accounts, shape, delay, python)
                results.setdefault(side, []).append(lags)
                print(
                    f"  {side}, {label}: p50 {percentile(lags, 0.5):.0f} ms, p99 "
                    f"{percentile(lags, 0.99):.0f} ms, load {os.getloadavg()[0]:.1f}"
                )
        for side, rows in results.items():
            p50 = statistics.median(percentile(r, 0.5) for r in rows)
            p99 = statistics.median(percentile(r, 0.99) for r in rows)
            print(
                f"{side}: lag with {round_trip:.0f} ms per call, {label}, median of {runs}: "
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms = one round trip + {p99 - round_trip:.0f} ms "
                f"(goal: + 100 ms), max {max(max(r) for r in rows):.0f} ms"
            )


def timer_floor(deliveries: int, pattern: str = "seconds") -> dict[str, float]:
    """APScheduler 3 alone as the timer: one date job per delivery, due as in :func:`lag_run`
    (:func:`due_plan`); lag = when the job ran − due (ms)."""
    from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    lags: list[float] = []
    lock = threading.Lock()

    def ran(due: float) -> None:
        with lock:
            lags.append((time.time() - due) * 1000)

    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": JobExecutor(max_workers=1)},
        job_defaults={"misfire_grace_time": None, "coalesce": False},
        timezone=UTC,
    )
    scheduler.start()
    plan = due_plan(deliveries, pattern, datetime.now(UTC) + timedelta(seconds=10))
    for _account, at in plan:
        scheduler.add_job(ran, "date", run_date=at, args=[at.timestamp()])
    until = time.monotonic() + 120
    while len(lags) < len(plan) and time.monotonic() < until:
        time.sleep(0.5)
    scheduler.shutdown(wait=False)
    return {"p50_ms": percentile(lags, 0.5), "p99_ms": percentile(lags, 0.99)}


def burst_floor(deliveries: int, threads: int = 32, pattern: str = "seconds") -> dict[str, float]:
    """Bare POSTs due as in :func:`lag_run` (:func:`due_plan`), each handed at its due
    instant to ``threads`` threads (one requests.Session each, as the daemon's lanes): what
    this sandbox and Python threads on this machine reach at best in that shape; lag =
    arrival − due (ms)."""
    import queue

    with MastodonSandbox() as sandbox:
        tokens = [sandbox.add_account(f"burst{n}") for n in range(ACCOUNTS)]
        plan = due_plan(deliveries, pattern, datetime.now(UTC) + timedelta(seconds=5))
        due_of: dict[str, float] = {}
        work: queue.Queue[tuple[str, str] | None] = queue.Queue()

        def lane() -> None:
            session = requests.Session()
            while (item := work.get()) is not None:
                token, text = item
                session.post(
                    f"{sandbox.url}/api/v1/statuses",
                    json={"status": text},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )

        pool = [threading.Thread(target=lane, daemon=True) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for sent, (account, at) in enumerate(plan):
            time.sleep(max(0.0, at.timestamp() - time.time()))
            text = f"b{sent}"
            due_of[text] = at.timestamp()
            work.put((tokens[account], text))
        for _ in pool:
            work.put(None)
        for thread in pool:
            thread.join()
        lags = [(s.created_at.timestamp() - due_of[s.text]) * 1000 for s in sandbox.statuses()]
    return {"p50_ms": percentile(lags, 0.5), "p99_ms": percentile(lags, 0.99)}


def write_backlog(
    live: LiveCampaign, deliveries: int, accounts: int = ACCOUNTS, due: datetime | None = None
) -> None:
    """Drafts due at ``due`` (a minute ago), one per account each, for ``deliveries``
    deliveries."""
    at = due or live.now - timedelta(minutes=1)
    for n in range(deliveries // accounts):
        live.draft(f"{n:05d}", at, f"Rückstau {n} #5malklug")


def throughput_run(
    deliveries: int,
    daemons: int,
    database_url: str | None,
    *,
    delay: float = 0.0,
    workers: int | None = None,
    python: str = sys.executable,
) -> tuple[float, float]:
    """Deliveries per second of ``daemons`` × `run --once` on a backlog, every call ``delay``
    seconds long (``workers`` overrides ``daemon.parallel``), and the daemons' CPU ms per
    delivery from the first to the last status the sandbox received (start-up left out)."""
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        sandbox.delay = delay
        live = campaign(Path(folder), sandbox, database_url=database_url)
        write_backlog(live, deliveries)
        _run_with(live, python, "load")
        options = ["--workers", str(workers)] if workers else []
        started = time.perf_counter()
        runners = [
            _start_with(live, python, "run", "--once", *options, "--worker-id", f"d{i}")
            for i in range(daemons)
        ]
        with CpuSampler([r.pid for r in runners], None, period=0.05) as sampler:
            for runner in runners:
                runner.wait(timeout=1200)
        elapsed = time.perf_counter() - started
        arrivals = sorted(s.created_at.timestamp() for s in sandbox.statuses())
        assert len(arrivals) == deliveries
    cpu = (sampler.at(arrivals[-1])[0] - sampler.at(arrivals[0])[0]) * 1000 / (deliveries - 1)
    return deliveries / elapsed, cpu


def _env_for(python: str, env: dict[str, str]) -> dict[str, str]:
    """``env`` for a process of ``python``: another checkout's interpreter imports its own
    code (a ``PYTHONPATH`` this run was given points at this one's)."""
    if python == sys.executable:
        return env
    return {k: v for k, v in env.items() if k != "PYTHONPATH"}


def _run_with(live: LiveCampaign, python: str, *args: str) -> None:
    """``campaign ARGS`` of ``python`` (another checkout's venv, or this one) on ``live``."""
    done = subprocess.run(
        [python, *live.command(*args)[1:]],
        env=_env_for(python, live.process_env()),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _start_with(live: LiveCampaign, python: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [python, *live.command(*args)[1:]],
        env=_env_for(python, live.process_env()),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def statements_run(deliveries: int, database_url: str | None) -> dict[str, float]:
    """Per delivery of one `run --once` on a backlog, what count_statements.py counts:
    statements, commits, autocommit statements, connection check-outs (no round trip) and,
    on PostgreSQL, round trips."""
    import json

    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        live = campaign(Path(folder), sandbox, database_url=database_url)
        write_backlog(live, deliveries)
        live.load()
        out = Path(folder) / "counts.json"
        counter = Path(__file__).with_name("count_statements.py")
        subprocess.run(
            [sys.executable, str(counter), str(out), *live.command("run", "--once")[3:]],
            env=live.process_env(),
            check=True,
            capture_output=True,
            timeout=1200,
        )
        assert len(sandbox.statuses()) == deliveries
        counts = json.loads(out.read_text(encoding="utf-8"))
    return {name: value / deliveries for name, value in counts.items()}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def idle_run(seconds: float) -> dict[str, float]:
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        live = LiveCampaign(Path(folder), sandbox)
        live.draft("01", live.now + timedelta(days=2))
        live.load()
        daemon = live.start("run")
        baseline = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        try:
            time.sleep(5)
            cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(seconds)
            cpu = (cpu_seconds(daemon.pid) - cpu0) / (time.monotonic() - t0) * 100
            rss, base_rss = rss_kib(daemon.pid), rss_kib(baseline.pid)
        finally:
            baseline.kill()
            baseline.wait()
            daemon.send_signal(signal.SIGTERM)
            daemon.finish(timeout=30)
    return {"rss_mib": rss / 1024, "cpu_percent": cpu, "rss_ratio": rss / base_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (1,000 deliveries)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CAMPAIGN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--only",
        default="latency,lag,throughput,idle",
        help="which parts to run (comma-separated: latency, lag, throughput, idle, statements, "
        "daemons, claims)",
    )
    parser.add_argument(
        "--delay", type=float, default=0.05, help="daemons: seconds added to every call"
    )
    parser.add_argument(
        "--before",
        metavar="PYTHON",
        help="daemons, claims, latency, lag, throughput: also run every case with this "
        "interpreter (another checkout's venv), alternating",
    )
    parser.add_argument(
        "--lag-sizes", help="lag: deliveries due within the minute, comma-separated (1000,10000)"
    )
    parser.add_argument(
        "--lag-patterns",
        default=",".join(LAG_PATTERNS),
        help="lag: how the deliveries fall due, comma-separated: seconds (whole-second "
        "bursts), spread (each at its own instant)",
    )
    parser.add_argument(
        "--sqlite-only", action="store_true", help="throughput: only the SQLite daemon"
    )
    parser.add_argument(
        "--accounts",
        type=int,
        default=DAEMON_ACCOUNTS,
        help="daemons: accounts the backlog is spread over (one call at a time per account)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="daemons: lanes per daemon (`run --workers`; 0: daemon.parallel)",
    )
    parser.add_argument(
        "--daemons", default="1,2", help="daemons: how many daemons, comma-separated (1,2)"
    )
    parser.add_argument(
        "--lead",
        type=float,
        default=0,
        help="daemons: the backlog falls due this many seconds after the drafts are written, "
        "the daemons (`run`) started and idle before (0: `run --once` on a backlog due "
        "already)",
    )
    parser.add_argument(
        "--deliveries", type=int, help="daemons: the backlog (500 with --quick, else 2,000)"
    )
    args = parser.parse_args()
    if args.deliveries and args.deliveries % args.accounts:
        # The backlog is whole drafts, one delivery per account each: any other number would
        # leave the wait for the last delivery waiting for deliveries never written.
        parser.error(f"--deliveries must be a multiple of --accounts ({args.accounts})")
    only = set(args.only.split(","))
    if "claims" in only:
        claim_record_cases(args.postgres, 500 if args.quick else 2000, args.runs, args.before)
    if "daemons" in only:
        case = DaemonCase(
            deliveries=args.deliveries or (500 if args.quick else 2000),
            delay=args.delay,
            accounts=args.accounts,
            workers=args.workers or None,
            counts=tuple(int(n) for n in args.daemons.split(",")),
            lead=args.lead or None,
        )
        daemon_cases(args.postgres, case, args.runs, args.before)
    if "statements" in only:
        statement_cases(args.postgres, 500 if args.quick else 2000)
    if "latency" in only:
        latency_cases(args.runs, before=args.before)
    if not only & {"lag", "throughput", "idle"}:
        return

    with MastodonSandbox() as sandbox:
        rates, rtts = zip(*(baseline_post_rate(sandbox) for _ in range(args.runs)), strict=True)
    base_rate, rtt = statistics.median(rates), statistics.median(rtts)
    print(f"baseline: sequential POST to the sandbox {base_rate:.0f}/s, median {rtt:.2f} ms")

    sizes = [int(n) for n in args.lag_sizes.split(",")] if args.lag_sizes else []
    sizes = sizes or ([1000] if args.quick else [1000, 10_000])
    patterns = args.lag_patterns.split(",")
    for pattern in patterns if "lag" in only else []:
        shape = {"seconds": "in whole-second bursts", "spread": "each at its own instant"}[pattern]
        floor = timer_floor(sizes[-1], pattern)
        print(
            f"timer floor ({pattern}): APScheduler alone, {sizes[-1]} date jobs due within a "
            f"minute {shape}: p50 {floor['p50_ms']:.0f} ms, p99 {floor['p99_ms']:.0f} ms, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        burst = burst_floor(sizes[-1], pattern=pattern)
        print(
            f"sandbox floor ({pattern}): {sizes[-1]} bare POSTs due the same way, 32 threads: "
            f"p50 {burst['p50_ms']:.0f} ms, p99 {burst['p99_ms']:.0f} ms, "
            f"load {os.getloadavg()[0]:.1f}"
        )
        for size in sizes:
            lag_rows: dict[str, list[dict[str, float]]] = {}
            for _ in range(1 if size > 1000 and not args.before else args.runs):
                for side, python in _pythons(args.before):
                    row = lag_run(size, rtt, python, pattern)
                    lag_rows.setdefault(side, []).append(row)
                    print(
                        f"  {side}, {size} due ({pattern}): p50 {row['p50_ms']:.0f} ms, p99 "
                        f"{row['p99_ms']:.0f} ms, daemon CPU {row['cpu_ms']:.2f} ms per delivery, "
                        f"load {os.getloadavg()[0]:.1f}"
                    )
            for side, runs in lag_rows.items():
                p50 = statistics.median(r["p50_ms"] for r in runs)
                p99 = statistics.median(r["p99_ms"] for r in runs)
                print(
                    f"{side}: lag, {size} due within a minute {shape} (1 daemon, SQLite, "
                    f"median of {len(runs)}): p50 {p50:.0f} ms ({p50 / rtt:.0f}x a sandbox "
                    f"round trip), p99 {p99:.0f} ms, max {max(r['max_ms'] for r in runs):.0f} ms, "
                    f"daemon CPU {statistics.median(r['cpu_ms'] for r in runs):.2f} ms per delivery"
                )

    backlog = 1000 if args.quick else 5000
    slow = 500 if args.quick else 2000  # with 50 ms per call
    cases: list[tuple[str, int, str | None, int, float, int | None]] = [
        ("1 daemon, SQLite", 1, None, backlog, 0.0, None),
        ("1 daemon, PostgreSQL", 1, "pg", backlog, 0.0, None),
        ("2 daemons, PostgreSQL", 2, "pg", backlog, 0.0, None),
        ("1 daemon, PostgreSQL, 50 ms per call", 1, "pg", slow, 0.05, None),
        ("2 daemons, PostgreSQL, 50 ms per call", 2, "pg", slow, 0.05, None),
        ("1 daemon, PostgreSQL, 50 ms per call, --workers 1", 1, "pg", slow, 0.05, 1),
        ("2 daemons, PostgreSQL, 50 ms per call, --workers 1", 2, "pg", slow, 0.05, 1),
    ]
    if args.sqlite_only:
        cases = cases[:1]
    for label, daemons, backend, size, delay, workers in cases if "throughput" in only else []:
        values: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}
        for _ in range(args.runs):  # the interpreters alternate
            for side, python in _pythons(args.before):
                url = None
                if backend == "pg":  # a fresh database per run: every run loads the same backlog
                    url = _fresh_postgres(args.postgres)
                    if url is None:
                        break
                try:
                    rate, cpu = throughput_run(
                        size, daemons, url, delay=delay, workers=workers, python=python
                    )
                finally:
                    if url is not None:
                        _drop_postgres(args.postgres, url)
                values.setdefault(side, []).append(rate)
                cpus.setdefault(side, []).append(cpu)
                print(
                    f"  {side}, {label}: {rate:.1f}/s, daemon CPU {cpu:.2f} ms per delivery, "
                    f"load {os.getloadavg()[0]:.1f}"
                )
        if not values:
            print(f"throughput, {label}: skipped (no PostgreSQL at {args.postgres})")
            continue
        for side, side_rates in values.items():
            rate = statistics.median(side_rates)
            print(
                f"{side}: throughput, {label}, {size} due (median of {len(side_rates)}): {rate:.0f} "
                f"deliveries/s ({rate / base_rate:.2f}x the baseline POST rate), daemon CPU "
                f"{statistics.median(cpus[side]):.2f} ms per delivery (first to last arrival)"
            )

    if "idle" not in only:
        return
    idle = idle_run(30)
    print(
        f"idle daemon: RSS {idle['rss_mib']:.0f} MiB ({idle['rss_ratio']:.1f}x an idle python), "
        f"CPU {idle['cpu_percent']:.2f} %"
    )


def statement_cases(admin_url: str, deliveries: int) -> None:
    for label, backend in (("SQLite", None), ("PostgreSQL", "pg")):
        url = _fresh_postgres(admin_url) if backend else None
        if backend and url is None:
            print(f"statements per delivery, {label}: skipped (no PostgreSQL at {admin_url})")
            continue
        try:
            per = statements_run(deliveries, url)
        finally:
            if url is not None:
                _drop_postgres(admin_url, url)
        trips = per.get("round_trips")
        print(
            f"per delivery, {label}, run --once on {deliveries}: "
            f"{per.get('statements', 0):.2f} statements, {per.get('commits', 0):.2f} commits, "
            f"{per.get('autocommits', 0):.2f} statements in autocommit (no BEGIN/COMMIT), "
            f"{per.get('checkouts', 0):.2f} connection check-outs (no round trip)"
            + (f"; {trips:.2f} round trips (libpq trace)" if trips is not None else "")
        )


class CpuSampler:
    """Samples, every ``period`` s, the CPU seconds of the daemons, of PostgreSQL's backends
    serving ``database`` (none without one) and of this process, and how many of those
    backends wait for a lock; :meth:`at` interpolates the CPU figures at a moment."""

    def __init__(
        self, daemons: list[int], database: str | None, admin_url: str = "", period: float = 0.2
    ):
        self.daemons, self.database, self.period = daemons, database, period
        self.samples: list[tuple[float, float, float, float]] = []  # time, daemons, pg, here
        self.backend_cpu: dict[int, float] = {}  # kept after a backend exits
        self.lock_waits = 0
        self.backend_samples = 0
        self._admin_url = admin_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _backends(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if command.startswith(b"postgres: ") and f" {self.database} ".encode() in command:
                pids.append(int(entry.name))
        return pids

    def _run(self) -> None:
        if self.database is None:
            while not self._stop.wait(self.period):
                self._sample()
            return
        from sqlalchemy import create_engine, text

        engine = create_engine(self._admin_url, isolation_level="AUTOCOMMIT")
        waits = text(
            "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) "
            "FROM pg_stat_activity WHERE datname = :name AND state = 'active'"
        )
        with engine.connect() as connection:
            while not self._stop.wait(self.period):
                locked, active = connection.execute(waits, {"name": self.database}).one()
                self.lock_waits += locked
                self.backend_samples += active
                self._sample()
        engine.dispose()

    def _sample(self) -> None:
        if self.database is not None:
            for pid in self._backends():
                with contextlib.suppress(OSError):
                    self.backend_cpu[pid] = cpu_seconds(pid)
        daemons = 0.0
        for pid in self.daemons:
            with contextlib.suppress(OSError):
                daemons += cpu_seconds(pid)
        self.samples.append(
            (time.time(), daemons, sum(self.backend_cpu.values()), time.process_time())
        )

    def at(self, moment: float) -> tuple[float, float, float]:
        """CPU seconds (daemons, PostgreSQL, this process) used up to ``moment``."""
        before = [s for s in self.samples if s[0] <= moment]
        after = [s for s in self.samples if s[0] >= moment]
        if not before or not after:
            edge = (before or after)[-1 if before else 0]
            return edge[1], edge[2], edge[3]
        a, b = before[-1], after[0]
        share = 0.0 if b[0] == a[0] else (moment - a[0]) / (b[0] - a[0])
        return (
            a[1] + share * (b[1] - a[1]),
            a[2] + share * (b[2] - a[2]),
            a[3] + share * (b[3] - a[3]),
        )


def daemons_run(
    deliveries: int,
    daemons: int,
    database_url: str,
    admin_url: str,
    python: str,
    delay: float,
    accounts: int = DAEMON_ACCOUNTS,
    workers: int | None = None,
    lead: float | None = None,
) -> dict[str, float]:
    """``daemons`` daemons of ``python`` on a backlog of ``deliveries`` on ``accounts``
    accounts, ``workers`` lanes each (None: ``daemon.parallel``): the steady rate (first to
    last status at the sandbox), the whole rate (processes started to all ended), CPU ms per
    delivery within the steady window and the share of the deliveries each daemon made
    (``fewest``: the smallest share, times the number of daemons; 1.0 is an even split).

    Without ``lead`` the daemons are `run --once` on a backlog due a minute ago: they start
    one after the other (each 1-3 s of CPU on a busy machine), so the window holds a part
    where not all of them run yet, and a later one's start-up takes CPU from the others.
    With ``lead`` the backlog falls due ``lead`` s after the drafts were written; the daemons
    (`run`) are started, and idle, before that (a warm-up included), and take it from the
    same instant; they are stopped once everything arrived."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        sandbox.delay = delay
        live = campaign(Path(folder), sandbox, database_url=database_url, accounts=accounts)
        due = live.now + timedelta(seconds=lead) if lead else live.now - timedelta(minutes=1)
        write_backlog(live, deliveries, accounts, due)
        # loaded by the interpreter the daemons run on: its code makes the schema it knows
        loaded = subprocess.run(
            [python, *live.command("load")[1:]],
            env=live.process_env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        options = ["--workers", str(workers)] if workers else []
        options += [] if lead else ["--once"]
        started = time.perf_counter()
        runners = [
            subprocess.Popen(
                [python, *live.command("run", *options, "--worker-id", f"d{i}")[1:]],
                env=live.process_env(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(daemons)
        ]
        database = str(make_url(database_url).database)
        engine = create_engine(database_url)
        try:
            with CpuSampler([r.pid for r in runners], database, admin_url) as sampler:
                if lead:
                    _wait_for_workers(engine, daemons, due)
                    limit = time.monotonic() + lead + 1200
                    while len(sandbox.statuses()) < deliveries and time.monotonic() < limit:
                        time.sleep(0.2)
                    for runner in runners:
                        runner.send_signal(signal.SIGTERM)
                for runner in runners:
                    runner.wait(timeout=1200)
            with engine.connect() as connection:
                counted = connection.execute(
                    text("SELECT worker, count(*) FROM attempt GROUP BY 1")
                )
                made: dict[str, int] = {row[0]: row[1] for row in counted}
        finally:
            engine.dispose()
        elapsed = time.perf_counter() - started
        arrivals = sorted(s.created_at.timestamp() for s in sandbox.statuses())
        assert len(arrivals) == deliveries, f"{len(arrivals)} of {deliveries} arrived"
    first, last = arrivals[0], arrivals[-1]
    cpu_first, cpu_last = sampler.at(first), sampler.at(last)
    per = [(b - a) * 1000 / (deliveries - 1) for a, b in zip(cpu_first, cpu_last, strict=True)]
    window = last - first
    shares = [made.get(f"d{i}", 0) / deliveries for i in range(daemons)]
    return {
        "steady": (deliveries - 1) / window,
        "whole": deliveries / elapsed,
        "daemon_ms": per[0],
        "postgres_ms": per[1],
        "sandbox_ms": per[2],
        # the share of two cores the daemons / everything used in the steady window
        "daemon_cores": per[0] * (deliveries - 1) / 1000 / window,
        "all_cores": sum(per) * (deliveries - 1) / 1000 / window,
        "lock_share": sampler.lock_waits / max(sampler.backend_samples, 1),
        "fewest": min(shares) * daemons,
        "longest_gap": max(b - a for a, b in itertools.pairwise(arrivals)),
    }


def _wait_for_workers(engine: Any, daemons: int, due: datetime) -> None:
    """Until ``daemons`` daemons have registered (their first heartbeat); the backlog must
    not fall due before (the lead is too short for this machine's load otherwise)."""
    from sqlalchemy import text

    while True:
        with engine.connect() as connection:
            up = connection.execute(text("SELECT count(*) FROM worker")).scalar_one()
        if up >= daemons:
            break
        time.sleep(0.1)
    left = (due - datetime.now(UTC)).total_seconds()
    assert left > 1, f"the daemons were up {left:.1f} s before the backlog fell due: --lead"


@dataclass(frozen=True)
class DaemonCase:
    """What the N-daemons part runs (see the module's docstring, part 5)."""

    deliveries: int
    delay: float = 0.05
    accounts: int = DAEMON_ACCOUNTS
    workers: int | None = None  # lanes per daemon; None: daemon.parallel
    counts: tuple[int, ...] = (1, 2)  # numbers of daemons
    lead: float | None = None  # None: `run --once` on a backlog due a minute ago


def daemon_cases(admin_url: str, case: DaemonCase, runs: int, before: str | None) -> None:
    """``case.counts`` daemons on PostgreSQL, ``case.delay`` s per call, alternating numbers
    and interpreters; the sequential POST baseline (no added latency) is measured before."""
    with MastodonSandbox() as sandbox:
        base_rate = statistics.median(baseline_post_rate(sandbox)[0] for _ in range(runs))
    print(f"baseline: sequential POST to the sandbox {base_rate:.0f}/s")
    pythons = [("after", sys.executable)] + ([("before", before)] if before else [])
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    loads: list[float] = []
    for _ in range(runs):
        for daemons in case.counts:
            for label, python in pythons:
                url = _fresh_postgres(admin_url)
                if url is None:
                    print(f"daemons: skipped (no PostgreSQL at {admin_url})")
                    return
                try:
                    result = daemons_run(
                        case.deliveries,
                        daemons,
                        url,
                        admin_url,
                        python,
                        case.delay,
                        case.accounts,
                        case.workers,
                        case.lead,
                    )
                finally:
                    _drop_postgres(admin_url, url)
                results.setdefault((label, daemons), []).append(result)
                loads.append(os.getloadavg()[0])
                shown = ", ".join(f"{k} {v:.3g}" for k, v in result.items())
                print(f"  {label}, {daemons} daemon(s): {shown}, load {loads[-1]:.1f}")
    lanes = f"{case.workers} lanes" if case.workers else "daemon.parallel lanes"
    start = (
        f"due {case.lead:.0f} s after the load began, daemons idle" if case.lead else "run --once"
    )
    print(
        f"{case.deliveries} due on {case.accounts} accounts, {case.delay * 1000:.0f} ms per "
        f"call, {lanes} per daemon, {start}; load average {min(loads):.1f}-{max(loads):.1f}"
    )
    for label, _python in pythons:
        one = statistics.median(r["steady"] for r in results[(label, case.counts[0])])
        for daemons in case.counts:
            rows = results[(label, daemons)]

            def median(key: str, rows: list[dict[str, float]] = rows) -> float:
                return statistics.median(r[key] for r in rows)

            def each(rows: list[dict[str, float]], key: str) -> list[float]:
                return [r[key] for r in rows]

            print(
                f"{label}: {daemons} daemon(s) (median of {len(rows)}): steady "
                f"{median('steady'):.1f}/s ({median('steady') / one:.2f}x {case.counts[0]}, "
                f"{median('steady') / base_rate:.2f}x the baseline; runs "
                f"{', '.join(f'{steady:.0f}' for steady in each(rows, 'steady'))}), "
                f"whole run incl. start-up "
                f"{median('whole'):.1f}/s; CPU ms per delivery: daemons "
                f"{median('daemon_ms'):.1f}, PostgreSQL {median('postgres_ms'):.1f}, sandbox "
                f"{median('sandbox_ms'):.1f}; cores used: daemons "
                f"{median('daemon_cores'):.2f}, all {median('all_cores'):.2f}; backends "
                f"waiting for a lock {median('lock_share'):.1%}; smallest share of a daemon "
                f"{median('fewest'):.2f} of an even one; longest gap {median('longest_gap'):.3f} s"
            )


_CLAIM_RECORD_LOOP = """
import sys, time
from datetime import UTC, datetime, timedelta
from campaign_scheduler.publishing.queue import Outcome, OutcomeKind, claim_due, record_outcome
from campaign_scheduler.store.engine import open_store
store = open_store(sys.argv[1])
now, lease, done = datetime.now(UTC), timedelta(minutes=10), 0
started, cpu = time.perf_counter(), time.process_time()
while (claim := claim_due(store, "loop", now, lease)) is not None:
    record_outcome(store, claim, Outcome(OutcomeKind.PUBLISHED, remote_id=str(done)), now)
    done += 1
print(done, time.perf_counter() - started, time.process_time() - cpu)
"""


def claim_record_cases(admin_url: str, deliveries: int, runs: int, before: str | None) -> None:
    """Claim and record a backlog one delivery after another, in one thread, without any
    network call: the daemon's database work per delivery, where its round trips add up."""
    pythons = [("after", sys.executable)] + ([("before", before)] if before else [])
    results: dict[str, list[tuple[float, float]]] = {}
    for _ in range(runs):
        for label, python in pythons:
            url = _fresh_postgres(admin_url)
            if url is None:
                print(f"claim + record: skipped (no PostgreSQL at {admin_url})")
                return
            try:
                with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
                    live = campaign(Path(folder), sandbox, database_url=url)
                    for n in range(deliveries // ACCOUNTS):
                        live.draft(
                            f"{n:05d}", live.now - timedelta(minutes=1), f"Schleife {n} #5malklug"
                        )
                    live.load()
                    out = subprocess.run(
                        [python, "-c", _CLAIM_RECORD_LOOP, url],
                        capture_output=True, text=True, check=True, timeout=1200,
                    ).stdout.split()  # fmt: skip
            finally:
                _drop_postgres(admin_url, url)
            done, wall, cpu = int(out[0]), float(out[1]), float(out[2])
            assert done == deliveries, f"{done} of {deliveries}"
            results.setdefault(label, []).append((wall * 1000 / done, cpu * 1000 / done))
            print(f"  {label}: {results[label][-1]}, load {os.getloadavg()[0]:.1f}")
    for label, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        print(
            f"{label}: claim + record, one thread, PostgreSQL, {deliveries} due (median of "
            f"{len(rows)}): {wall:.2f} ms per delivery ({1000 / wall:.0f}/s), of it "
            f"{cpu:.2f} ms CPU in the process"
        )


def _fresh_postgres(admin_url: str) -> str | None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    name = f"cs_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError:
        return None
    finally:
        engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgres(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


if __name__ == "__main__":
    main()
