"""Immediate pick-up: a running daemon learns at once that another process changed the queue.

Without this, work queued, rescheduled or approved by a command is seen at the daemon's next
reconcile (every 30 s by default). Two mechanisms, one per backend:

* **PostgreSQL**: the commands that change the queue call :func:`announce` after their
  transaction committed (``pg_notify`` on :data:`CHANNEL`); the daemon ``LISTEN``\\ s on a
  connection of its own (:class:`Watcher`) and looks again within milliseconds.
* **SQLite**: there is no notification, but ``PRAGMA data_version`` changes whenever another
  connection committed to the database file. The watcher reads it on its own connection every
  :data:`SQLITE_PROBE_SECONDS` (a read of the WAL index, not of any table), so any commit, by a
  command or by hand, is noticed within that interval without polling the queue.

A notification only says "look again": what is due is always read from the record. A lost
notification (the listening connection dropped, a command killed between commit and notify)
costs no more than the wait for the next reconcile, which stays as the safety net.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from campaign_scheduler.store.engine import Store

log = logging.getLogger("campaign_scheduler.wakeup")

#: The PostgreSQL notification channel the commands announce on and the daemon listens to.
CHANNEL = "campaign_scheduler_queue"
#: How often a daemon on SQLite reads ``PRAGMA data_version`` (goal: seen within 1 s).
SQLITE_PROBE_SECONDS = 0.25
#: How long the PostgreSQL listener waits for a notification before it checks for a stop.
LISTEN_TIMEOUT_SECONDS = 1.0
#: After the listening connection failed: wait this long before connecting again.
RECONNECT_SECONDS = 2.0

#: Called with ``announced=True`` when a command said the queue changed (PostgreSQL), with
#: ``announced=False`` when some connection committed something (SQLite: maybe the daemon's
#: own writes).
Poke = Callable[..., None]


def announce(store: Store) -> None:
    """Tell the daemons that the queue changed; call it after the change was committed.

    On SQLite nothing needs doing (the daemons see the commit in ``PRAGMA data_version``).
    A failed notification is only logged: the change is committed and the next reconcile
    finds it.
    """
    if store.engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        # One statement in autocommit mode: one round trip, no BEGIN and COMMIT of its own.
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    except SQLAlchemyError as exc:
        log.warning(
            "could not notify the daemons (they see the change at the next reconcile): %s", exc
        )


class Watcher:
    """A daemon thread that calls ``poke`` when the queue may have changed elsewhere."""

    def __init__(self, store: Store, poke: Poke) -> None:
        self.store = store
        self.poke = poke
        self._stop = threading.Event()
        #: Set once the watcher listens (PostgreSQL) or has read its first data_version.
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def kind(self) -> str | None:
        """What this backend offers: ``"listen"``, ``"data_version"`` or None (in memory)."""
        url = self.store.engine.url
        if url.get_backend_name() == "postgresql":
            return "listen"
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return "data_version"
        return None

    def start(self) -> None:
        kind = self.kind
        if kind is None:
            return
        target = self._listen if kind == "listen" else self._probe
        self._thread = threading.Thread(target=target, name="wakeup", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; returns within one probe or listen interval at most."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(LISTEN_TIMEOUT_SECONDS + 1)

    # --- SQLite --------------------------------------------------------------------------------

    def _probe(self) -> None:
        database = self.store.engine.url.database
        assert database is not None
        connection: sqlite3.Connection | None = None
        last: int | None = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = sqlite3.connect(database, isolation_level=None)
                version = int(connection.execute("PRAGMA data_version").fetchone()[0])
            except sqlite3.Error as exc:
                log.warning("cannot read the database's change counter: %s", exc)
                if connection is not None:
                    connection.close()
                connection, last = None, None
                self._stop.wait(RECONNECT_SECONDS)
                continue
            if last is not None and version != last:
                log.debug("the database changed: looking for new work")
                self.poke(announced=False)
            last = version
            if not self.ready.is_set():
                log.info(
                    "watching for queue changes (SQLite data_version, every %s s)",
                    SQLITE_PROBE_SECONDS,
                )
                self.ready.set()
            self._stop.wait(SQLITE_PROBE_SECONDS)
        if connection is not None:
            connection.close()

    # --- PostgreSQL ----------------------------------------------------------------------------

    def _connect(self) -> Any:
        import psycopg

        engine = self.store.engine
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        connection = psycopg.connect(*args, **{**kwargs, "autocommit": True})
        connection.execute(f"LISTEN {CHANNEL}")
        return connection

    def _listen(self) -> None:
        import psycopg

        connection: Any = None
        while not self._stop.is_set():
            try:
                if connection is None:
                    connection = self._connect()
                    if self.ready.is_set():  # connected again: notifications may be lost
                        self.poke(announced=True)
                    else:
                        log.info("watching for queue changes (PostgreSQL LISTEN %s)", CHANNEL)
                        self.ready.set()
                for _notice in connection.notifies(timeout=LISTEN_TIMEOUT_SECONDS, stop_after=1):
                    log.debug("notified of a queue change: looking for new work")
                    self.poke(announced=True)
            except psycopg.Error as exc:
                log.warning("listening for queue changes failed (%s); connecting again", exc)
                if connection is not None:
                    connection.close()
                connection = None
                self._stop.wait(RECONNECT_SECONDS)
        if connection is not None:
            connection.close()
