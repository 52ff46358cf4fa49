"""Benchmark: what an idle daemon costs (resident memory and CPU).

Starts ``campaign run`` on a live campaign against the Mastodon sandbox with nothing due for
days, waits until it watches for queue changes, then samples ``/proc/PID`` over a window:
resident memory (VmRSS, and its peak VmHWM) and CPU time (user + system) per wall second.
Baselines in the same run, sampled the same way:

- a bare ``python -c`` that sleeps,
- the *floor*: a python that imports what the daemon cannot do without (typer, rich, SQLAlchemy
  with its ORM, APScheduler's blocking scheduler; with ``--postgres`` also psycopg) and sleeps.

Goals: idle RSS ≤ 70 MB, CPU ≤ 0.5 % of one core.

    .venv/bin/python benchmarks/bench_idle.py [--window 30] [--postgres URL]

Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from live import LiveCampaign

TICKS = os.sysconf("SC_CLK_TCK")
#: What an idle daemon has loaded that it cannot do without (requests is loaded only with the
#: first call to a network).
FLOOR_IMPORTS = (
    "import typer, rich.console, sqlalchemy.orm, sqlite3, "
    "apscheduler.schedulers.blocking, apscheduler.executors.pool"
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def sample(pid: int, window: float) -> tuple[float, float, float]:
    """(RSS MB at the end, peak RSS MB, CPU % of one core over the window)."""
    cpu_before, started = cpu_seconds(pid), time.monotonic()
    time.sleep(window)
    cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - started) * 100
    rss, peak = memory_mb(pid)
    return rss, peak, cpu


def idle_python(code: str, window: float) -> tuple[float, float, float]:
    process = subprocess.Popen(
        [sys.executable, "-c", f"{code}\nimport time\nprint('ready', flush=True)\ntime.sleep(3600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        return sample(process.pid, window)
    finally:
        process.kill()
        process.wait()


def idle_daemon(
    window: float, settle: float, database_url: str | None
) -> tuple[float, float, float]:
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        live = LiveCampaign(Path(folder), sandbox, database_url=database_url)
        live.draft("01-spaeter", live.now + timedelta(days=3))
        live.load()
        daemon = live.start("run")
        try:
            deadline = time.monotonic() + 120
            while "watching for queue changes" not in daemon.log.read_text(encoding="utf-8"):
                if time.monotonic() > deadline or daemon.popen.poll() is not None:
                    sys.exit(f"the daemon did not start:\n{daemon.log.read_text()}")
                time.sleep(0.1)
            time.sleep(settle)  # the first reconcile, alerts, tokens and metrics jobs ran
            return sample(daemon.pid, window)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.finish(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0, help="seconds sampled")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds after start-up before sampling"
    )
    parser.add_argument(
        "--postgres", help="also measure a daemon on PostgreSQL (server URL; a database is made)"
    )
    args = parser.parse_args()
    rows: list[tuple[str, tuple[float, float, float]]] = [
        ("python, idle (baseline)", idle_python("pass", args.window)),
        ("python + the daemon's libraries (floor)", idle_python(FLOOR_IMPORTS, args.window)),
        ("campaign run, SQLite, nothing due", idle_daemon(args.window, args.settle, None)),
    ]
    if args.postgres:
        from benchmarks.bench_wakeup import drop_postgres_database, postgres_database

        rows.append(("floor + psycopg", idle_python(f"{FLOOR_IMPORTS}, psycopg", args.window)))

        database = postgres_database(args.postgres)
        if database is None:
            sys.exit(f"no PostgreSQL at {args.postgres}")
        try:
            daemon = idle_daemon(args.window, args.settle, database)
        finally:
            drop_postgres_database(args.postgres, database)
        rows.append(("campaign run, PostgreSQL, nothing due", daemon))
    print(f"\nidle over {args.window:.0f} s, Python {sys.version.split()[0]}")
    print(f"{'process':44} {'RSS MB':>8} {'peak MB':>8} {'CPU %':>7}")
    for name, (rss, peak, cpu) in rows:
        print(f"{name:44} {rss:8.1f} {peak:8.1f} {cpu:7.2f}")


if __name__ == "__main__":
    main()
