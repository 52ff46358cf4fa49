"""Benchmark: files to database. ``check`` and ``load`` of a generated campaign of 10,000
drafts (50 senders, each draft on two accounts: 20,000 deliveries), on SQLite and PostgreSQL.

Each command runs as a whole process, round-robin with its baselines, repeated; the script
prints medians, spreads and ratios against baselines measured in the same run:

- ``import``: ``python -c "import typer, rich.console, sqlalchemy.orm"``, the imports a load
  cannot do without;
- ``executemany``: a process that imports SQLAlchemy and inserts the same number of post and
  delivery rows (as wide as ours) with Core ``executemany`` into a fresh table, the floor of
  any load into an empty database.

Beside the wall-clock medians the table gives the median CPU time (user + system) of each
command's process, which a busy machine disturbs less (PostgreSQL's own work is not in it).

Cases: ``check`` with no cache (``.cache/drafts.json`` removed first), ``check`` with the
cache, ``load`` into an empty database, ``load`` with nothing changed. Goals (issue 17):
check + load <= 3 s together, load with nothing changed <= 1 s.

    .venv/bin/python benchmarks/bench_load.py [--drafts 10000] [--runs 5]
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

With ``--postgres`` (a server where the user may create databases) the PostgreSQL cases run
in a database ``bench_load`` created for them.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_cli import generate  # type: ignore[import-not-found]

BASELINE_INSERT = """
import sys, uuid, datetime
from sqlalchemy import create_engine, MetaData, Table, Column, Integer, String, Text, DateTime
url, posts, per_post = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
engine = create_engine(url)
meta = MetaData()
post = Table("bench_post", meta, Column("id", Integer, primary_key=True), Column("key", String(300)),
    Column("body", Text), Column("content_hash", String(64)), Column("due_at", DateTime))
delivery = Table("bench_delivery", meta, Column("id", Integer, primary_key=True),
    Column("post_id", Integer), Column("text", Text), Column("content_hash", String(64)),
    Column("idempotency_key", String(64)), Column("due_at", DateTime))
meta.drop_all(engine)
meta.create_all(engine)
now = datetime.datetime(2021, 11, 1)
body = "Beitrag von Absender: Smart Cities in Südwestfalen – Mobilitäts-Hubs " * 2
with engine.begin() as c:
    c.execute(post.insert(), [{"id": n + 1, "key": f"s/{n}", "body": body, "content_hash": "0" * 64,
        "due_at": now} for n in range(posts)])
    c.execute(delivery.insert(), [{"post_id": n // per_post + 1, "text": body, "content_hash": "0" * 64,
        "idempotency_key": uuid.uuid4().hex, "due_at": now} for n in range(posts * per_post)])
"""


@dataclass
class Case:
    name: str
    command: list[str]
    against: str
    before: Callable[[], None] | None = None
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def run_once(case: Case, env: dict[str, str]) -> None:
    if case.before is not None:
        case.before()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(case.command, capture_output=True, env=env, check=False)
    case.times.append((time.perf_counter() - started) * 1000)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    case.cpu.append((now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime) * 1000)
    if result.returncode != 0:
        sys.exit(f"{' '.join(case.command)} failed:\n{result.stderr.decode()[-2000:]}")


def postgres_database(admin_url: str) -> str:
    """A fresh database ``bench_load`` on the server of ``admin_url``; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS bench_load"))
        connection.execute(text("CREATE DATABASE bench_load"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/bench_load"


def emptied(url: str) -> None:
    """Drop everything in the database at ``url`` (the next load creates the schema)."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="URL of a PostgreSQL server (admin database)")
    args = parser.parse_args()
    campaign = shutil.which("campaign", path=str(Path(sys.executable).parent)) or "campaign"
    bytecode = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    env = {**os.environ, "BENCH_TOKEN": "x", "BENCH_PASSWORD": "y", "CAMPAIGN_LINK_CARDS": "off"}
    env.pop("CAMPAIGN_DATABASE_URL", None)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        config = generate(root, args.drafts)
        # Drafts written a moment ago are not cached (see draftcache.SETTLED_NS): age them.
        old = time.time() - 3600
        for path in (root / "posts").rglob("*.md"):
            os.utime(path, (old, old))
        print(f"generated {args.drafts} drafts in {time.perf_counter() - started:.1f} s")
        cache = root / "campaign" / ".cache" / "drafts.json"
        databases = {"sqlite": f"sqlite:///{root / 'bench.db'}"}
        if args.postgres:
            databases["postgresql"] = postgres_database(args.postgres)
        imports = 'python -c "import typer, rich.console, sqlalchemy.orm"'
        cases = [
            Case(
                imports,
                [sys.executable, "-c", "import typer, rich.console, sqlalchemy.orm"],
                imports,
            )
        ]
        cases.append(
            Case(
                "check, no cache",
                [campaign, "--config", str(config), "check"],
                imports,
                before=lambda: cache.unlink(missing_ok=True),
            )
        )
        cases.append(Case("check, cached", [campaign, "--config", str(config), "check"], imports))
        for name, url in databases.items():
            floor = f"executemany of {args.drafts} + {2 * args.drafts} rows, {name}"
            cases.append(
                Case(
                    floor,
                    [sys.executable, "-c", BASELINE_INSERT, url, str(args.drafts), "2"],
                    floor,
                )
            )
            db_config = root / f"config-{name}.toml"
            db_config.write_text(
                config.read_text(encoding="utf-8").replace(
                    'url = "sqlite:///bench.db"', f'url = "{url}"'
                ),
                encoding="utf-8",
            )
            base = [campaign, "--config", str(db_config)]
            cases.append(
                Case(
                    f"load, empty database, {name}",
                    [*base, "load"],
                    floor,
                    before=functools.partial(emptied, url),
                )
            )
            cases.append(Case(f"load, nothing changed, {name}", [*base, "load"], imports))
        for _ in range(args.runs):
            for case in cases:
                run_once(case, env)

    medians = {case.name: statistics.median(case.times) for case in cases}
    print(
        f"\nmedian of {args.runs} runs, bytecode cache {bytecode}, Python {sys.version.split()[0]}"
    )
    print(
        f"{'case':58} {'median ms':>10} {'min':>8} {'max':>8} {'ratio':>7} {'cpu ms':>8}  against"
    )
    for case in cases:
        ratio = medians[case.name] / medians[case.against]
        against = "" if case.against == case.name else case.against.split(",")[0]
        print(
            f"{case.name:58} {medians[case.name]:10.0f} {min(case.times):8.0f} "
            f"{max(case.times):8.0f} {ratio:7.2f}x {statistics.median(case.cpu):8.0f}  {against}"
        )
    for name in databases:
        together = medians["check, cached"] + medians[f"load, empty database, {name}"]
        print(f"{'check (cached) + load into an empty database, ' + name:58} {together:10.0f}")


if __name__ == "__main__":
    main()
