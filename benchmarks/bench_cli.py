"""Benchmark: start-up, `check` and `load` on a generated campaign of 10,000 drafts.

Each command runs as a whole process (as a user runs it), repeated; the script prints the
median and spread in milliseconds and the ratio to a baseline measured in the same run, so
figures from different machines can be compared:

- `campaign --help` against `python -c "import typer, rich.console"` (goal: <= 1.2x),
- `campaign status` against `python -c "import typer, rich.console, sqlalchemy"` (<= 1.5x),
- `check` + `load` of the drafts into an empty database (goal: <= 3 s together) and `load`
  with nothing changed (<= 1 s), against the typer baseline.

    .venv/bin/python benchmarks/bench_cli.py [--drafts 10000] [--runs 5] [--only startup]
        [--bytecode] [--before OTHER/.venv]

``--before VENV`` also times ``--help``, ``--version`` and ``status`` of another installation
(a checkout of the code before a change, with its own virtual environment) in the same rounds,
against the same baselines, so that before and after meet the same moments of a noisy machine.

``--bytecode`` caches compiled bytecode for every command and baseline alike (in a temporary
``PYTHONPYCACHEPREFIX``, after one warm-up round), as a normal installation has it; without
it, the environment decides (``PYTHONDONTWRITEBYTECODE=1`` on the project's machines: the
package's own modules are then compiled on every run, the installed libraries are not).
"""

from __future__ import annotations

import argparse
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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

SENDERS = 50
CAMPAIGN = """\
[campaign]
slug = "bench"
name = "Benchmark"
hashtag = "#5malklug"
timezone = "Europe/Berlin"
language = "de"
starts = "2020-01-01"

[event]
name = "Smart Cities: Konferenz"
start = "2021-11-18T10:00"
end = "2021-11-18T16:00"
url = "https://smartcities-suedwestfalen.com/konferenz/"

[rules]
min_gap = "30m"
"""


def generate(root: Path, drafts: int) -> Path:
    """Write a campaign with `drafts` drafts over SENDERS senders, each on Mastodon and Bluesky."""
    (root / "campaign").mkdir(parents=True)
    campaign = [CAMPAIGN]
    config = [
        '[database]\nurl = "sqlite:///bench.db"\n\n[paths]\ncampaign = "campaign/bench.toml"\n'
    ]
    for s in range(SENDERS):
        slug = f"sender-{s:02d}"
        campaign.append(f'\n[[senders]]\nslug = "{slug}"\nname = "Absender {s}"\n')
        config.append(
            f'\n[accounts.{slug}-mastodon]\nchannel = "mastodon"\nsender = "{slug}"\n'
            f'base_url = "https://social.example"\ntoken = "env:BENCH_TOKEN"\n'
            f'\n[accounts.{slug}-bluesky]\nchannel = "bluesky"\nsender = "{slug}"\n'
            f'identifier = "{slug}.example"\npassword = "env:BENCH_PASSWORD"\n'
        )
        (root / "posts" / slug).mkdir(parents=True)
    (root / "campaign" / "bench.toml").write_text("".join(campaign), encoding="utf-8")
    (root / "config.toml").write_text("".join(config), encoding="utf-8")
    start = datetime(2020, 1, 2, 9, 0)
    per_sender = -(-drafts // SENDERS)
    for n in range(drafts):
        sender, index = n % SENDERS, n // SENDERS
        at = start + timedelta(minutes=(index * 60 * 24 * 600) // per_sender // 60 * 60)
        body = (
            f"Beitrag {index} von Absender {sender}: Smart Cities in Südwestfalen – "
            "Mobilitäts-Hubs, Ehrenamtsportale und smarte Bürgerhäuser. #5malklug "
            "https://smartcities-suedwestfalen.com/konferenz/"
        )
        text = f'+++\nat = "{at:%Y-%m-%d %H:%M}"\nchannels = ["mastodon", "bluesky"]\n+++\n{body}\n'
        (root / "posts" / f"sender-{sender:02d}" / f"{index:04d}-beitrag.md").write_text(
            text, encoding="utf-8"
        )
    return root / "config.toml"


@dataclass
class Case:
    """One command to time, and the baseline it is compared with."""

    name: str
    command: list[str]
    against: str
    before: Callable[[], None] | None = None
    exit_codes: tuple[int, ...] = (0,)
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # the process's user + system time


#: Set by ``--bytecode``: where every command keeps its compiled bytecode.
PYCACHE: list[str] = []


def run_once(case: Case) -> None:
    env = {**os.environ, "BENCH_TOKEN": "x", "BENCH_PASSWORD": "y"}
    env.pop("CAMPAIGN_DATABASE_URL", None)
    if PYCACHE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = PYCACHE[0]
    if case.before is not None:
        case.before()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(case.command, capture_output=True, env=env, check=False)
    case.times.append((time.perf_counter() - started) * 1000)
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    case.cpu.append((now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime) * 1000)
    if result.returncode not in case.exit_codes:
        sys.exit(f"{' '.join(case.command)} failed:\n{result.stderr.decode()[-2000:]}")


def measure(cases: list[Case], runs: int) -> None:
    """Round-robin: every case once per round, so that a noisy moment on the shared machine
    hits a command and its baseline alike."""
    for _ in range(runs):
        for case in cases:
            run_once(case)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--only", choices=("startup", "load"), help="run only the start-up or the load part"
    )
    parser.add_argument(
        "--bytecode", action="store_true", help="cache compiled bytecode for every command"
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="VENV",
        help="also time the start-up commands of the installation in this virtual environment",
    )
    args = parser.parse_args()
    campaign = shutil.which("campaign", path=str(Path(sys.executable).parent)) or "campaign"
    before = None
    if args.before is not None:
        before = shutil.which("campaign", path=str(args.before / "bin"))
        if before is None:
            parser.error(f"no campaign command in {args.before / 'bin'}")
    bytecode = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        if args.bytecode:
            PYCACHE.append(str(root / "pycache"))
            bytecode = "on (cached in a warm-up round)"
        started = time.perf_counter()
        config = generate(root, args.drafts)
        print(f"generated {args.drafts} drafts in {time.perf_counter() - started:.1f} s")
        database = root / "bench.db"

        def fresh_database() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)

        base = [campaign, "--config", str(config)]
        typer_only = 'python -c "import typer, rich.console" (baseline)'
        with_sqlalchemy = 'python -c "import typer, rich.console, sqlalchemy" (baseline)'
        cases: list[Case] = []

        def run(name: str, against: str, command: list[str], **options: Any) -> None:
            cases.append(Case(name, command, against, **options))

        run(typer_only, typer_only, [sys.executable, "-c", "import typer, rich.console"])
        if args.only != "load":
            run(
                with_sqlalchemy,
                with_sqlalchemy,
                [sys.executable, "-c", "import typer, rich.console, sqlalchemy"],
            )
            run("campaign --help", typer_only, [campaign, "--help"])
            run("campaign --version", typer_only, [campaign, "--version"])
            if before is not None:
                run("before: campaign --help", typer_only, [before, "--help"])
                run("before: campaign --version", typer_only, [before, "--version"])
        if args.only != "startup":
            run(f"campaign check ({args.drafts} drafts)", typer_only, [*base, "check"])
            run(
                f"campaign load, empty database ({args.drafts} drafts)",
                typer_only,
                [*base, "load"],
                before=fresh_database,
            )
            run(
                f"campaign load, nothing changed ({args.drafts} drafts)",
                typer_only,
                [*base, "load"],
            )
        if args.only != "load":
            run_once(Case("first load", [*base, "load"], ""))
            run(
                f"campaign status ({args.drafts * 2} deliveries)",
                with_sqlalchemy,
                [*base, "status"],
                exit_codes=(0, 1),  # 1: the drafts are overdue and no daemon runs
            )
            if before is not None:
                run(
                    f"before: campaign status ({args.drafts * 2} deliveries)",
                    with_sqlalchemy,
                    [before, "--config", str(config), "status"],
                    exit_codes=(0, 1),
                )
        if args.bytecode:
            measure(cases, 1)
            for case in cases:
                case.times.clear()
                case.cpu.clear()
        measure(cases, args.runs)
    results = {case.name: (case.times, case.against) for case in cases}
    cpu = {case.name: statistics.median(case.cpu) for case in cases}
    print(
        f"\nmedian of {args.runs} runs, bytecode cache {bytecode}, Python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'command':64} {'median ms':>10} {'min':>8} {'max':>8} {'ratio':>7} {'CPU ms':>8} "
        f"{'CPU ratio':>9}"
    )
    for name, (times, against) in results.items():
        median = statistics.median(times)
        ratio = median / statistics.median(results[against][0])
        cpu_ratio = cpu[name] / cpu[against]
        note = (
            ""
            if against == name
            else f"  vs {'+sqlalchemy' if 'sqlalchemy' in against else 'typer'}"
        )
        print(
            f"{name:64} {median:10.0f} {min(times):8.0f} {max(times):8.0f} {ratio:7.2f}x "
            f"{cpu[name]:8.0f} {cpu_ratio:8.2f}x{note}"
        )
    check = next((k for k in results if k.startswith("campaign check")), None)
    fresh = next((k for k in results if "empty database" in k), None)
    if check and fresh:
        together = statistics.median(results[check][0]) + statistics.median(results[fresh][0])
        print(f"{'check + load into an empty database (sum of medians)':64} {together:10.0f}")


if __name__ == "__main__":
    main()
