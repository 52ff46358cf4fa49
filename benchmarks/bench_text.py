"""Benchmark: length counting of hostile 5,000-character texts on every network.

Prints, per network and text, the median time in milliseconds and its ratio to counting an
ordinary 5,000-character German text on the same network in the same run. Before the guard
on long runs (channels/text.py), "a.a.a.…" took 213 s on X and 139 s on Mastodon.

    .venv/bin/python benchmarks/bench_text.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from campaign_scheduler.channels.catalog import installed_names
from campaign_scheduler.channels.text import measure

ORDINARY = (
    "Soest will bis 2030 klimaneutral werden. Mehr dazu auf der Smart Cities: Konferenz "
    "https://smartcities-suedwestfalen.com/konferenz/ #5malklug @stadt@social.soest.example "
)
HOSTILE = {
    "a.a.a…": "a." * 2500,
    "https://a.a.…": "https://" + "a." * 2496,
    "a-a-a…": "a-" * 2500,
    "short chains": ("a." * 6 + "a ") * 357,
}


def median_ms(channel: str, text: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        measure(channel, text)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    ordinary = (ORDINARY * (5000 // len(ORDINARY) + 1))[:5000]
    for channel in installed_names():
        measure(channel, "warm up https://example.com")
        base = median_ms(channel, ordinary, runs)
        cells = [f"ordinary {base:7.1f} ms"]
        for name, text in HOSTILE.items():
            took = median_ms(channel, text, runs)
            cells.append(f"{name} {took:7.1f} ms ({took / base:4.1f}x)")
        print(f"{channel:10}", " | ".join(cells))


if __name__ == "__main__":
    main()
