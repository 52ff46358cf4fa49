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
        [--before ../base/.venv] [--bytecode]

With ``--postgres`` (a server where the user may create databases) the PostgreSQL cases run
in databases created for them (``bench_load``, ``bench_load_before``, ``bench_floor``).
With ``--before`` the commands of another installation (a checkout of ``main`` with its own
virtual environment) run as cases of their own, named ``before: …``, in the same round robin
on their own copy of the campaign: before and after are measured under the same load.

``--bytecode`` caches compiled bytecode for every command alike (in a temporary
``PYTHONPYCACHEPREFIX``, after one warm-up round that is not counted), as a normal installation
has it; without it, the environment decides (``PYTHONDONTWRITEBYTECODE=1`` on the project's
machines: the package's own modules are then compiled on every run).
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


def postgres_database(admin_url: str, name: str) -> str:
    """A fresh database ``name`` on the server of ``admin_url``; its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


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


def command_cases(
    label: str,
    campaign: str,
    root: Path,
    databases: dict[str, str],
    imports: str,
    floors: dict[str, str],
) -> list[Case]:
    """The cases of one installation (``label``) on the campaign generated in ``root``."""
    config = root / "config.toml"
    cache = root / "campaign" / ".cache" / "drafts.json"
    cases = [
        Case(
            f"{label}check, no cache",
            [campaign, "--config", str(config), "check"],
            imports,
            before=lambda: cache.unlink(missing_ok=True),
        ),
        Case(f"{label}check, cached", [campaign, "--config", str(config), "check"], imports),
    ]
    for name, url in databases.items():
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
                f"{label}load, empty database, {name}",
                [*base, "load"],
                floors[name],
                before=functools.partial(emptied, url),
            )
        )
        cases.append(Case(f"{label}load, nothing changed, {name}", [*base, "load"], imports))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", help="URL of a PostgreSQL server (admin database)")
    parser.add_argument(
        "--before",
        type=Path,
        help="a virtual environment with the code to compare with (e.g. a checkout of main): "
        "its commands run in the same round robin, on their own copy of the campaign",
    )
    parser.add_argument(
        "--bytecode",
        action="store_true",
        help="cache compiled bytecode for every command (after a warm-up round)",
    )
    args = parser.parse_args()
    campaign = shutil.which("campaign", path=str(Path(sys.executable).parent)) or "campaign"
    bytecode = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    env = {**os.environ, "BENCH_TOKEN": "x", "BENCH_PASSWORD": "y", "CAMPAIGN_LINK_CARDS": "off"}
    env.pop("CAMPAIGN_DATABASE_URL", None)

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "after"
        started = time.perf_counter()
        generate(root, args.drafts)
        # Drafts written a moment ago are not cached (see draftcache.SETTLED_NS): age them.
        old = time.time() - 3600
        for path in (root / "posts").rglob("*.md"):
            os.utime(path, (old, old))
        print(f"generated {args.drafts} drafts in {time.perf_counter() - started:.1f} s")
        if args.bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
            bytecode = "on (cached in a warm-up round)"
        roots = {"": root}
        if args.before:
            # Each installation has its own copy (and so its own caches and databases):
            # the code of the other would make its cache of drafts stale on every run.
            roots["before: "] = Path(shutil.copytree(root, Path(folder) / "before"))
        imports = 'python -c "import typer, rich.console, sqlalchemy.orm"'
        cases = [
            Case(
                imports,
                [sys.executable, "-c", "import typer, rich.console, sqlalchemy.orm"],
                imports,
            )
        ]
        admin = {"sqlite": ""}
        if args.postgres:
            admin["postgresql"] = args.postgres
        floors = {}
        for name, server in admin.items():
            floors[name] = floor = f"executemany of {args.drafts} + {2 * args.drafts} rows, {name}"
            url = (
                f"sqlite:///{Path(folder) / 'floor.db'}"
                if name == "sqlite"
                else postgres_database(server, "bench_floor")
            )
            cases.append(
                Case(
                    floor,
                    [sys.executable, "-c", BASELINE_INSERT, url, str(args.drafts), "2"],
                    floor,
                )
            )
        for label, where in roots.items():
            databases = {"sqlite": f"sqlite:///{where / 'bench.db'}"}
            if args.postgres:
                databases["postgresql"] = postgres_database(
                    args.postgres, "bench_load_before" if label else "bench_load"
                )
            command = str(args.before / "bin" / "campaign") if label else campaign
            cases += command_cases(label, command, where, databases, imports, floors)
        if args.bytecode:
            for case in cases:
                run_once(case, env)
                case.times.clear()
                case.cpu.clear()
        for _ in range(args.runs):
            for case in cases:
                run_once(case, env)

    medians = {case.name: statistics.median(case.times) for case in cases}
    print(
        f"\nmedian of {args.runs} runs, bytecode cache {bytecode}, Python {sys.version.split()[0]}, "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'case':66} {'median ms':>10} {'min':>8} {'max':>8} {'ratio':>7} {'cpu ms':>8}  against"
    )
    for case in cases:
        ratio = medians[case.name] / medians[case.against]
        against = "" if case.against == case.name else case.against.split(",")[0]
        print(
            f"{case.name:66} {medians[case.name]:10.0f} {min(case.times):8.0f} "
            f"{max(case.times):8.0f} {ratio:7.2f}x {statistics.median(case.cpu):8.0f}  {against}"
        )
    cpu = {case.name: statistics.median(case.cpu) for case in cases}
    for label in roots:
        for name in admin:
            together = f"{label}check (cached) + load into an empty database, {name}"
            print(
                f"{together:66} {medians[f'{label}check, cached'] + medians[f'{label}load, empty database, {name}']:10.0f}"
                f"{'':37} {cpu[f'{label}check, cached'] + cpu[f'{label}load, empty database, {name}']:8.0f}"
            )


if __name__ == "__main__":
    main()
