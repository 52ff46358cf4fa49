"""`campaign sandbox`: every network's sandbox on loopback in one process, until Ctrl-C.

Accounts are seeded for the configuration's accounts (or one per network when there is no
configuration), the matching config.toml tables are printed, and engagement grows over time
from a fixed seed so that metrics and reports have something to show.
"""

from __future__ import annotations

import random
import signal
import threading
from collections.abc import Callable
from types import FrameType

from campaign_scheduler.config import Account, Settings
from campaign_scheduler.rehearsal.workspace import account_tables

DEFAULT_SENDER = "sandbox"


def _default_accounts(channels: list[str]) -> dict[str, Account]:
    return {
        f"{DEFAULT_SENDER}-{channel}": Account(
            name=f"{DEFAULT_SENDER}-{channel}",
            channel=channel,
            sender=DEFAULT_SENDER,
            base_url=None,
            settings={},
            secrets={},
        )
        for channel in channels
    }


def serve_sandboxes(
    settings: Settings,
    *,
    seed: int,
    out: Callable[[str], None],
    stop: threading.Event | None = None,
    tick: float = 2.0,
) -> None:
    """Start, seed, print the config tables and the variables, serve until stopped."""
    from campaign_scheduler.rehearsal.networks import NETWORKS, start_all

    accounts = dict(settings.accounts) or _default_accounts(sorted(NETWORKS))
    networks = start_all(sorted({a.channel for a in accounts.values()}))
    stop = stop or threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tables, environ = account_tables(accounts, networks, settings.posts_path)
        out(
            "# campaign sandbox: paste these tables into a config.toml (they replace real accounts)"
        )
        out("# and export the variables below; everything stays on this machine.\n")
        out(tables)
        for variable, value in sorted(environ.items()):
            out(f"export {variable}={value}")
        for channel, network in sorted(networks.items()):
            out(f"# {channel:<10} {network.url}")
        out("# serving; Ctrl-C stops")
        rng, others = random.Random(seed), random.Random(seed + 1)
        minutes = 0.0
        rounds = 0
        while not stop.wait(tick):
            minutes += tick  # one real second is a simulated minute of engagement
            rounds += 1
            for network in networks.values():
                network.grow_engagement(rng, minutes)
                if rounds % 10 == 0:
                    network.post_by_others("5malklug", others, 1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for network in networks.values():
            network.stop()
        out("# sandboxes stopped")
