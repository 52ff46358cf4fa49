"""Immediate pick-up: work queued by another process wakes the running daemon at once.

The daemon reconciles only once an hour here, so the post queued after its first reconcile
can only have been found through the wake-up (PostgreSQL LISTEN/NOTIFY, SQLite
``PRAGMA data_version``). Every wait is on an event or a condition with a generous timeout.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from campaign_scheduler.store.engine import Store, open_store
from campaign_scheduler.store.models import WorkerRecord
from campaign_scheduler.store.wakeup import CHANNEL, Watcher, announce
from campaign_scheduler.timeutil import utcnow
from live import LiveCampaign, Started

GENEROUS = 60.0


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


def wait_for(condition: Callable[[], bool], what: str, timeout: float = GENEROUS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def heartbeats(store: Store) -> int:
    with store.session() as session:
        return len(list(session.scalars(select(WorkerRecord.heartbeat_at))))


def test_a_post_queued_by_another_process_wakes_the_daemon_not_the_reconcile(
    tmp_path: Path, sandbox: MastodonSandbox, database_url: str
) -> None:
    live = LiveCampaign(tmp_path, sandbox, database_url=database_url, reconcile="1h")
    live.draft("01-spaeter", live.now + timedelta(hours=5))
    live.load()
    daemon: Started = live.start("run", "--verbose")
    store = open_store(live.database_url)
    try:
        # Ready: the first (and, within this test, only) reconcile ran, the watcher watches.
        wait_for(lambda: heartbeats(store) == 1, "the daemon's first reconcile")
        wait_for(lambda: "watching for queue changes" in daemon.log.read_text(), "the watcher")
        queued = live.run(
            "queue", "Sofort #5malklug", "--sender", "soest", "--channel", "mastodon",
            "--at", live.now.isoformat(),
        )  # fmt: skip
        assert queued.returncode == 0, queued.stderr
        wait_for(lambda: bool(sandbox.statuses()), "the queued post on the sandbox")
        assert [s.text for s in sandbox.statuses()] == ["Sofort #5malklug"]
    finally:
        store.dispose()
        daemon.send_signal(signal.SIGTERM)
        code, output = daemon.finish(timeout=GENEROUS)
    assert code == 0, output
    assert "looking for new work" in output  # the watcher, not the hourly reconcile
    assert output.count("watching for queue changes") == 1


@contextmanager
def listening(url: str) -> Iterator[tuple[threading.Event, list[str]]]:
    """A second PostgreSQL connection that LISTENs, as a daemon does."""
    import psycopg

    store = open_store(url)
    args, kwargs = store.engine.dialect.create_connect_args(store.engine.url)
    connection = psycopg.connect(*args, **{**kwargs, "autocommit": True})
    connection.execute(f"LISTEN {CHANNEL}")
    heard = threading.Event()
    channels: list[str] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            for notice in connection.notifies(timeout=0.2, stop_after=1):
                channels.append(notice.channel)
                heard.set()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    try:
        yield heard, channels
    finally:
        stop.set()
        thread.join()
        connection.close()
        store.dispose()


APPROVE_AS_BEN = (
    "import sys\n"
    "import campaign_scheduler.identity\n"
    "campaign_scheduler.identity.os_user = lambda: 'ben'\n"
    "from campaign_scheduler.cli import app\n"
    "app(sys.argv[1:], prog_name='campaign')\n"
)


@pytest.mark.parametrize("command", ["load", "queue", "reschedule", "approve"])
def test_every_command_that_changes_the_queue_notifies_on_postgres(
    tmp_path: Path, sandbox: MastodonSandbox, postgres_url: str, command: str
) -> None:
    live = LiveCampaign(tmp_path, sandbox, database_url=postgres_url)
    live.draft("01-spaeter", live.now + timedelta(hours=5))
    if command != "load":
        live.load()
    arguments = {
        "load": ["load"],
        "queue": ["queue", "Bald #5malklug", "--sender", "soest", "--channel", "mastodon",
                  "--at", (live.now + timedelta(hours=1)).isoformat()],
        "reschedule": ["reschedule", "soest/01-spaeter", "--at",
                       (live.now + timedelta(hours=4)).isoformat()],
        "approve": ["approve", "soest/01-spaeter"],
    }[command]  # fmt: skip
    with listening(postgres_url) as (heard, channels):
        if command == "approve":  # by another login than the one that loaded it (four eyes)
            result = subprocess.run(
                [sys.executable, "-c", APPROVE_AS_BEN, "--config", str(live.config), *arguments],
                capture_output=True, text=True, env=live.process_env(), timeout=120, check=False,
            )  # fmt: skip
        else:
            result = live.run(*arguments)
        assert result.returncode == 0, result.stderr
        assert heard.wait(GENEROUS), f"{command} changed the queue without a notification"
        assert channels == [CHANNEL]


@contextmanager
def opened_store(url: str) -> Iterator[Store]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.dispose()


def test_the_watcher_hears_a_commit_of_another_connection(database_url: str) -> None:
    """The mechanism on its own: a second connection commits (and announces); the watcher
    pokes. On SQLite it is the change counter, on PostgreSQL the notification."""
    with opened_store(database_url) as store:
        poked = threading.Event()
        how: list[bool] = []

        def poke(*, announced: bool) -> None:
            how.append(announced)
            poked.set()

        watcher = Watcher(store, poke)
        watcher.start()
        try:
            assert watcher.ready.wait(GENEROUS)
            assert not poked.is_set()
            with opened_store(database_url) as other:
                with other.session(write=True) as session:
                    session.add(WorkerRecord(id="elsewhere", hostname="h", pid=1,
                                             started_at=utcnow(), heartbeat_at=utcnow(),
                                             version="0"))  # fmt: skip
                announce(other)
            assert poked.wait(GENEROUS)
            assert how[0] is store.engine.url.get_backend_name().startswith("postgres")
        finally:
            watcher.stop()
