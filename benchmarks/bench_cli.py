"""Benchmark: `campaign --help`, `check` and `load` on a generated campaign of 10,000 drafts.

Each command runs as a whole process (as a user runs it), repeated; the script prints the
median and spread in milliseconds and the ratio to `python -c "import typer"` measured in the
same run, so figures from different machines can be compared.

    .venv/bin/python benchmarks/bench_cli.py [--drafts 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

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


def measure(command: list[str], runs: int, before: Callable[[], None] | None = None) -> list[float]:
    env = {**os.environ, "BENCH_TOKEN": "x", "BENCH_PASSWORD": "y"}
    env.pop("CAMPAIGN_DATABASE_URL", None)
    times = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, env=env, check=False)
        times.append((time.perf_counter() - started) * 1000)
        if result.returncode != 0:
            sys.exit(f"{' '.join(command)} failed:\n{result.stderr.decode()[-2000:]}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    campaign = shutil.which("campaign", path=str(Path(sys.executable).parent)) or "campaign"
    bytecode = "off" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        started = time.perf_counter()
        config = generate(root, args.drafts)
        print(f"generated {args.drafts} drafts in {time.perf_counter() - started:.1f} s")
        database = root / "bench.db"

        def fresh_database() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)

        base = [campaign, "--config", str(config)]
        results = {
            'python -c "import typer" (baseline)': measure(
                [sys.executable, "-c", "import typer"], args.runs
            ),
            "campaign --help": measure([campaign, "--help"], args.runs),
            f"campaign check ({args.drafts} drafts)": measure([*base, "check"], args.runs),
            f"campaign load, empty database ({args.drafts} drafts)": measure(
                [*base, "load"], args.runs, before=fresh_database
            ),
            f"campaign load, nothing changed ({args.drafts} drafts)": measure(
                [*base, "load"], args.runs
            ),
        }
    baseline = statistics.median(next(iter(results.values())))
    print(
        f"\nmedian of {args.runs} runs, bytecode cache {bytecode}, Python {sys.version.split()[0]}"
    )
    print(f"{'command':58} {'median ms':>10} {'min':>8} {'max':>8} {'ratio':>7}")
    for name, times in results.items():
        median = statistics.median(times)
        print(
            f"{name:58} {median:10.0f} {min(times):8.0f} {max(times):8.0f} "
            f"{median / baseline:7.1f}x"
        )


if __name__ == "__main__":
    main()
