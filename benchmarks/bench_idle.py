"""Benchmark: what an idle daemon costs (resident memory and CPU).

Starts ``campaign run`` on a live campaign against the Mastodon sandbox with nothing due for
days, waits until it watches for queue changes, then samples ``/proc/PID`` over a window:
resident memory (VmRSS, and its peak VmHWM) and CPU time (user + system) per wall second.
Baselines in the same run, sampled the same way:

- a bare ``python -c`` that sleeps,
- the *floor*: a python that imports what the daemon cannot do without (typer, rich, SQLAlchemy
  with its ORM, APScheduler's blocking scheduler; with ``--postgres`` also psycopg) and sleeps.

Goals: idle RSS ≤ 70 MB, CPU ≤ 0.5 % of one core.

    .venv/bin/python benchmarks/bench_idle.py [--window 30] [--postgres URL] [--walk]
        [--env MALLOC_ARENA_MAX=2]

``--walk`` also tells where the daemon's memory goes: the daemon runs once more with
``PYTHONPROFILEIMPORTTIME`` set, and a fresh python imports the modules it reported in the
same order, recording the RSS growth of each (grouped by package, largest first). ``--env``
sets a variable for the daemons only (e.g. glibc's ``MALLOC_ARENA_MAX``). The daemon runs on
the interpreter running this script: run the script with another checkout's venv python to
measure that checkout. ``--bytecode`` caches compiled bytecode for every process (in a
temporary ``PYTHONPYCACHEPREFIX``, after a warm-up round), as an installed daemon has it;
without it the environment decides (``PYTHONDONTWRITEBYTECODE=1`` on the project's machines:
every start compiles the project's modules from source, which leaves the compiler's memory in
the process's RSS).

Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import re
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
    window: float,
    settle: float,
    database_url: str | None,
    env: dict[str, str] | None = None,
    output: list[str] | None = None,
) -> tuple[float, float, float]:
    """Sample an idle ``campaign run``; its output is appended to ``output`` when given."""
    with MastodonSandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        live = LiveCampaign(Path(folder), sandbox, database_url=database_url)
        live.draft("01-spaeter", live.now + timedelta(days=3))
        live.load()
        live.env.update(env or {})
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
            _, log = daemon.finish(timeout=60)
            if output is not None:
                output.append(log)


#: ``-X importtime`` lines: ``import time: self | cumulative | <indent>module``.
_IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+\d+ \|(.*)$", re.MULTILINE)
#: Imports every module named on stdin in turn; prints ``module KB`` (RSS growth) for each.
_WALK = """
import gc, importlib, sys
def rss():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS"))
for name in sys.stdin.read().split():
    before = rss()
    try:
        importlib.import_module(name)
    except Exception:
        continue
    gc.collect()
    print(name, rss() - before)
"""


def group_of(module: str) -> str:
    """What a module's memory is reported under: our own modules one by one (the first two
    parts), SQLAlchemy by subpackage, other libraries by top-level package."""
    parts = module.split(".")
    if parts[0] == "campaign_scheduler":
        return ".".join(parts[:3] if parts[1:2] in (["store"], ["publishing"]) else parts[:2])
    if parts[:2] == ["sqlalchemy", "dialects"]:
        return ".".join(parts[:3])
    return parts[0]


def module_walk(database_url: str | None, settle: float, env: dict[str, str]) -> list[str]:
    """Lines of the per-module RSS walk over what an idle daemon imported."""
    logs: list[str] = []
    idle_daemon(0.1, settle, database_url, {**env, "PYTHONPROFILEIMPORTTIME": "1"}, logs)
    modules = [match.group(1).strip() for match in _IMPORT_LINE.finditer(logs[0])]
    walked = subprocess.run(
        [sys.executable, "-c", _WALK], input="\n".join(modules), capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    groups: dict[str, int] = {}
    for line in walked.splitlines():
        module, grown = line.split()
        groups[group_of(module)] = groups.get(group_of(module), 0) + int(grown)
    total = sum(groups.values())
    lines = [f"  all imports together: {total / 1024:.1f} MB ({len(modules)} modules)"]
    for name, kb in sorted(groups.items(), key=lambda item: -item[1]):
        if kb >= 200:
            lines.append(f"  {name:44} {kb / 1024:6.1f} MB")
    return lines


def warm_up(postgres: str | None, env: dict[str, str]) -> None:
    """Run every measured kind of process once, so that each has its bytecode cached."""
    from benchmarks.bench_wakeup import drop_postgres_database, postgres_database

    idle_python(f"{FLOOR_IMPORTS}, psycopg" if postgres else FLOOR_IMPORTS, 0.1)
    idle_daemon(0.1, 6.0, None, env)
    database = postgres_database(postgres) if postgres else None
    if postgres and database:
        try:
            idle_daemon(0.1, 6.0, database, env)
        finally:
            drop_postgres_database(postgres, database)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=30.0, help="seconds sampled")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds after start-up before sampling"
    )
    parser.add_argument(
        "--postgres", help="also measure a daemon on PostgreSQL (server URL; a database is made)"
    )
    parser.add_argument(
        "--walk", action="store_true", help="also show the RSS growth of each imported package"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="for the daemons"
    )
    parser.add_argument(
        "--bytecode", action="store_true", help="cache compiled bytecode (after a warm-up round)"
    )
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    bytecode = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    if args.bytecode:
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="bench-idle-pycache-")
        bytecode = "cached (warm-up round)"
        warm_up(args.postgres, env)
    walks: dict[str, list[str]] = {}
    rows: list[tuple[str, tuple[float, float, float]]] = [
        ("python, idle (baseline)", idle_python("pass", args.window)),
        ("python + the daemon's libraries (floor)", idle_python(FLOOR_IMPORTS, args.window)),
        ("campaign run, SQLite, nothing due", idle_daemon(args.window, args.settle, None, env)),
    ]
    if args.walk:
        walks["SQLite"] = module_walk(None, args.settle, env)
    if args.postgres:
        from benchmarks.bench_wakeup import drop_postgres_database, postgres_database

        rows.append(("floor + psycopg", idle_python(f"{FLOOR_IMPORTS}, psycopg", args.window)))

        database = postgres_database(args.postgres)
        if database is None:
            sys.exit(f"no PostgreSQL at {args.postgres}")
        try:
            daemon = idle_daemon(args.window, args.settle, database, env)
            if args.walk:
                walks["PostgreSQL"] = module_walk(database, args.settle, env)
        finally:
            drop_postgres_database(args.postgres, database)
        rows.append(("campaign run, PostgreSQL, nothing due", daemon))
    print(f"\nidle over {args.window:.0f} s, Python {sys.version.split()[0]}, {sys.prefix}")
    print(
        f"load average {os.getloadavg()[0]:.1f}, bytecode {bytecode}, "
        f"daemon environment {env or 'as is'}"
    )
    print(f"{'process':44} {'RSS MB':>8} {'peak MB':>8} {'CPU %':>7}")
    for name, (rss, peak, cpu) in rows:
        print(f"{name:44} {rss:8.1f} {peak:8.1f} {cpu:7.2f}")
    for database, lines in walks.items():
        print(f"\nwhat the idle daemon on {database} imported (RSS growth, imported alone):")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
