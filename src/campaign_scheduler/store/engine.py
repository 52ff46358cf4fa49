"""Open the database: engine set-up per backend and migrations applied on first use.

SQLite (the default) runs with WAL, foreign keys on and a busy timeout; writers can ask for
``BEGIN IMMEDIATE`` so that two processes never lose a race half-way through a transaction.
PostgreSQL is reached through psycopg 3 (``postgresql+psycopg://…``). Its connections are
not pinged before use (a ping is a round trip to the server for every transaction): a
connection the server has ended is found without one when it is taken from the pool (see
:func:`_configure_postgresql`), and connections are replaced after
:data:`POSTGRES_RECYCLE_SECONDS`, before idle timeouts of the server or of the network
between can end them unseen. A single-statement write runs in autocommit mode, which spares
the ``BEGIN`` and ``COMMIT`` round trips (:meth:`Store.transaction`).

SQLAlchemy's ORM is imported when the first session is opened, not before: commands that read
with Core statements only (``campaign status``) never pay for it.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from campaign_scheduler.errors import ConflictError, StoreError
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


SQLITE_BUSY_TIMEOUT_MS = 15_000
IMMEDIATE = "campaign_sqlite_immediate"
#: PostgreSQL connections older than this are closed and opened anew when next taken from
#: the pool (an idle connection may be cut by the server or a firewall without a word).
POSTGRES_RECYCLE_SECONDS = 1800


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid database URL>"


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _configure_postgresql(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # Instead of a ping (a round trip per transaction): a connection that is idle in the
        # pool has nothing to read unless the server has ended it. An ended backend sends its
        # FATAL message ("terminating connection due to administrator command", a shutdown)
        # and closes the socket, so the socket polls readable; so does a reset connection. A
        # stale connection is then replaced before anything was sent on it: SQLAlchemy's pool
        # takes a DisconnectionError here as "invalidate it and check out another".
        from psycopg import Error as DriverError

        try:
            stale = dbapi_connection.closed or _readable(dbapi_connection.pgconn.socket)
        except (DriverError, OSError):  # no socket left to poll
            stale = True
        if stale:
            raise DisconnectionError("the server has closed the connection")


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read (or an error or hang-up) right now."""
    poll = select.poll()
    poll.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poll.poll(0))


def _create_private(path: Path) -> None:
    """Create a missing SQLite database file with mode 0600 before SQLite does (it would use
    0644 less the umask); SQLite gives its -wal and -shm files the database file's mode."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise StoreError(
            msg("cannot create the database {path}: {reason}", path=path, reason=reason)
        ) from None
    os.close(fd)


def create_db_engine(url: str, *, connections: int | None = None) -> Engine:
    """An engine for ``url``; ``connections`` sizes its pool for that many threads."""
    pool: dict[str, Any] = {} if connections is None else {"pool_size": connections}
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            msg("invalid database URL '{url}'", url=url),
            hint=msg("use sqlite:///campaign.db or postgresql+psycopg://user@host/dbname"),
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            folder = Path(database).parent
            if not folder.is_dir():
                raise StoreError(msg("the database folder {folder} does not exist", folder=folder))
            _create_private(Path(database))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **pool)
        _configure_sqlite(engine)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(parsed, pool_recycle=POSTGRES_RECYCLE_SECONDS, **pool)
        except ModuleNotFoundError:
            raise StoreError(
                msg("PostgreSQL needs the psycopg driver"),
                hint="pip install 'campaign-scheduler[postgres]'",
            ) from None
        _configure_postgresql(engine)
        return engine
    raise StoreError(
        msg("unsupported database '{backend}' in {url}", backend=backend, url=safe_url(url)),
        hint=msg("campaign-scheduler supports SQLite and PostgreSQL"),
    )


class Store:
    """The opened, migrated database and a factory for sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessionmaker: sessionmaker[Session] | None = None
        #: SQLite takes one writer at a time: this process's threads queue here rather than
        #: in SQLite's busy handler, which sleeps in steps of up to 100 ms.
        self._writing: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.is_sqlite else contextlib.nullcontext()
        )
        #: SQL and own values of the statements :meth:`pipelined` sends (compiled once).

    def for_threads(self, threads: int) -> Store:
        """The same database with a pool for ``threads`` threads (and their lease keepers)."""
        url = self.engine.url.render_as_string(hide_password=False)
        return Store(create_db_engine(url, connections=2 * threads + 2))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _sessions(self) -> Session:
        """A new session; the factory (and the ORM with it) is made on first use."""
        if self._sessionmaker is None:
            from sqlalchemy.orm import sessionmaker

            self._sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        return self._sessionmaker()

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        from sqlalchemy.orm.exc import StaleDataError

        with self._writing if write else contextlib.nullcontext():
            session = self._sessions()
            if write and self.is_sqlite:
                session.connection(execution_options={IMMEDIATE: True})
            try:
                yield session
                session.commit()
            except StaleDataError:
                # A compare-and-set lost: another worker or command changed a row since it
                # was read. Nothing of this transaction is kept.
                session.rollback()
                raise ConflictError(
                    msg(
                        "the record changed while this command was running (a daemon or "
                        "another command got there first); nothing was changed"
                    ),
                    hint=msg(
                        "look at 'campaign status' and run the command again if it still applies"
                    ),
                ) from None
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()

    @contextmanager
    def transaction(self, *, write: bool = False, single: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction, for hot paths that need no ORM objects.

        ``single``: the caller sends one statement only, which is then the whole transaction.
        On PostgreSQL it runs in autocommit mode: the server commits it as it ends, without
        the ``BEGIN`` and ``COMMIT`` round trips (a failed statement changes nothing, as a
        rolled-back transaction). On SQLite nothing changes."""
        with (
            self._writing if write else contextlib.nullcontext(),
            self.engine.connect() as connection,
        ):
            if write and self.is_sqlite:
                connection.execution_options(**{IMMEDIATE: True})
            elif single and not self.is_sqlite:
                connection.execution_options(isolation_level="AUTOCOMMIT")
            with connection.begin():
                yield connection

    def pipelined(
        self, statements: Sequence[tuple[Executable, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """PostgreSQL: run ``statements`` one after another as one transaction, in one round
        trip, and return the rows of each.

        They go out in psycopg's pipeline mode, on a connection in autocommit mode, closed by
        one ``Sync``: the server runs what comes before a ``Sync`` as one implicit
        transaction, committed at the ``Sync`` (rolled back, the statements after it skipped,
        if one fails). Each statement has a snapshot of its own (``READ COMMITTED``): a later
        statement sees what another transaction committed while an earlier one waited or
        locked. SQLAlchemy would sync each statement to read its result, so the statements
        are compiled by SQLAlchemy once and sent by the driver itself: their values go through
        their types' bind processing as with SQLAlchemy (JSON, UTC datetimes), and rows come
        back as the driver reads them (no result processing: datetimes in the session's
        zone). Driver errors are raised as SQLAlchemy's, and a connection the server has
        dropped is not given back to the pool."""
        from psycopg import Error as DriverError
        from sqlalchemy.exc import DBAPIError

        dialect = self.engine.dialect
        compiled = [
            (_compiled_for_driver(dialect, statement), values) for statement, values in statements
        ]
        # (autocommit: SQLAlchemy's transaction sends neither BEGIN nor COMMIT)
        with self.transaction(write=True, single=True) as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            sql = ""
            try:
                cursors = []
                with driver.pipeline():
                    for found, values in compiled:
                        sql = found.sql
                        cursor = driver.cursor()
                        cursor.execute(sql, found.bound(values))
                        cursors.append(cursor)
                return [cursor.fetchall() for cursor in cursors]
            except DriverError as exc:
                dropped = dialect.is_disconnect(exc, driver, None)  # type: ignore[arg-type]
                if dropped:
                    connection.invalidate(exc)
                raise DBAPIError.instance(
                    sql,
                    None,
                    exc,
                    DriverError,
                    connection_invalidated=dropped,
                    dialect=dialect,
                ) from exc

    def dispose(self) -> None:
        self.engine.dispose()


@dataclass(frozen=True)
class DriverStatement:
    """A statement as the driver takes it (:meth:`Store.pipelined`, :func:`execute_on_driver`):
    its SQL, the values of its own binds, the order of its positional parameters (``None``
    where they are named) and the bind processing of its types; ``plain`` when running it
    needs nothing of SQLAlchemy (no defaults computed in Python, no expanding ``IN`` lists,
    no escaped names, no ``RETURNING``)."""

    sql: str
    defaults: dict[str, Any]
    positions: tuple[str, ...] | None
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    plain: bool

    def bound(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` with the statement's own binds, each through its type's processing."""
        params = {**self.defaults, **values}
        for name, process in self.processors:
            params[name] = process(params[name])
        return params


#: Per database dialect (one per engine), the statements compiled for the driver.
driver_sql: weakref.WeakKeyDictionary[Any, dict[Executable, DriverStatement]] = (
    weakref.WeakKeyDictionary()
)


def execute_on_driver(
    connection: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> int:
    """SQLite: run a write without ``RETURNING`` once for each of ``rows`` (one, or an
    ``executemany``) in ``connection``'s transaction; returns the rows it changed.

    Hot writes of the daemon (one or two per delivery) go to the driver directly: SQLAlchemy
    compiles the statement once (per database dialect), with its types' bind processing
    (UTC datetimes, JSON, booleans), and the execution context and result object it would
    build at every call are skipped (a sixth to a quarter of a record's CPU). Statements
    that need SQLAlchemy at execution time (defaults computed in Python, expanding ``IN``
    lists, ``RETURNING``) are refused when first compiled. Cursor listeners are called as
    SQLAlchemy calls them (without an execution context); driver errors are raised as
    SQLAlchemy's. (Lanes compiling the same statement at once both compile it; harmless.)"""
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    dialect = connection.dialect
    found = _compiled_for_driver(dialect, statement)
    if dialect.name != "sqlite" or found.positions is None or not found.plain:
        raise ValueError(f"not a statement for the driver alone: {found.sql}")
    sql, order = found.sql, found.positions
    values = []
    for row in rows:
        params = found.bound(row)
        values.append(tuple(params[name] for name in order))
    driver = connection.connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    many = len(values) > 1
    parameters: Any = values if many else values[0]
    dispatch = connection.dispatch  # listeners still see the statement (counts, tests)
    if dispatch.before_cursor_execute:
        dispatch.before_cursor_execute(connection, cursor, sql, parameters, None, many)
    try:
        if many:
            cursor.executemany(sql, values)
        else:
            cursor.execute(sql, values[0])
        changed = int(cursor.rowcount)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, values, exc, sqlite3.Error, dialect=dialect) from exc
    finally:
        cursor.close()
    if dispatch.after_cursor_execute:
        dispatch.after_cursor_execute(connection, cursor, sql, parameters, None, many)
    return changed


def _compiled_for_driver(dialect: Any, statement: Executable) -> DriverStatement:
    """``statement`` compiled for ``dialect`` once, kept for the dialect's engine."""
    known = driver_sql.setdefault(dialect, {})
    found = known.get(statement)
    if found is None:
        compiled: Any = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        processors = {}  # (a bind used twice, as a time in two places, is one value)
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors[name] = process
        found = DriverStatement(
            sql=compiled.string,
            defaults=dict(compiled.params),
            positions=None if compiled.positiontup is None else tuple(compiled.positiontup),
            processors=tuple(processors.items()),
            plain=not (
                compiled.insert_prefetch
                or compiled.update_prefetch
                or compiled.post_compile_params
                or compiled.escaped_bind_names
                or compiled.returning
            ),
        )
        known[statement] = found
    return found


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open the database at ``url`` and bring its schema up to date.

    Whatever goes wrong on the way (a database error, a bug in a migration step, Ctrl-C),
    the engine is disposed before the exception leaves: no caller holds it, so a connection
    left in its pool would stay open until the garbage collector found it."""
    engine = create_db_engine(url)
    try:
        if migrate:
            from campaign_scheduler.store.migrate import upgrade_to_head

            upgrade_to_head(engine)
        else:
            with engine.connect():
                pass
    except BaseException as exc:
        engine.dispose()
        if isinstance(exc, SQLAlchemyError):
            raise _store_error(url, exc) from None
        raise
    return Store(engine)


def _store_error(url: str, exc: SQLAlchemyError) -> StoreError:
    """The user's message for a database error while the store was opened."""
    if isinstance(exc, OperationalError):
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return StoreError(
            msg("cannot open the database {url}: {reason}", url=safe_url(url), reason=reason),
            hint=msg("check database.url in config.toml or CAMPAIGN_DATABASE_URL"),
        )
    return StoreError(msg("database error at {url}: {error}", url=safe_url(url), error=exc))
