"""``campaign run``: the daemon that publishes on schedule."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import queue
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from campaign_scheduler.cli.common import opened
from campaign_scheduler.cli.output import err_line
from campaign_scheduler.errors import CampaignSchedulerError
from campaign_scheduler.terminal import clean, json_safe
from campaign_scheduler.uilang import Msg, tr, ui_language

if TYPE_CHECKING:
    from campaign_scheduler.store.engine import Store


def _fail_on_held(store: Store) -> None:
    """``run --once`` exits 1 when a due delivery is held for an account that needs attention
    (a token variable not set, credentials refused), naming the account and the reason."""
    from campaign_scheduler.publishing.daemon import utcnow
    from campaign_scheduler.publishing.queue import held_due

    held = held_due(store, utcnow())
    if not held:
        return
    for post_key, account, reason in held:
        err_line(
            tr("held: {post} on {account}: {reason}", post=post_key, account=account, reason=reason)
        )
    raise typer.Exit(1)


class _IsoTimeFormatter(logging.Formatter):
    """Timestamps in ISO 8601 with the UTC offset, ``2021-11-04T09:30:00.123+01:00``."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        from datetime import datetime

        return (
            datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")
        )


class _JsonFormatter(_IsoTimeFormatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json_safe(json.dumps(entry, ensure_ascii=False))


class _TextFormatter(_IsoTimeFormatter):
    """Log lines for a person at a terminal: in their language (the log message is the msgid;
    ``--log-json`` stays English), and network answers in messages cannot drive it.

    ``language`` fixes the language (the daemon's: a run speaks one language from start to
    end); without it each line looks the language up (commands of one process that may be
    told another language between lines, as tests are)."""

    def __init__(self, fmt: str | None = None, *, language: str | None = None) -> None:
        super().__init__(fmt)
        self.language = language

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.msg, str):
            lang = self.language or ui_language()
            args = record.args
            if isinstance(args, tuple):
                # A reason is logged as itself: its record in JSON, its wording for readers here.
                args = tuple(_worded(arg, lang) for arg in args)
            record = copy.copy(record)  # the other handlers get the record as it was logged
            record.msg, record.args = tr(record.msg, lang), args
        return clean(super().format(record))


def _worded(arg: object, lang: str) -> object:
    """A log argument as a person reads it: a reason in its wording for readers, an error or
    a :func:`~campaign_scheduler.uilang.msg` in the user's language."""
    if type(arg) in _AS_THEY_ARE:
        return arg
    for_readers = getattr(arg, "for_readers", None)
    if callable(for_readers):
        return for_readers(lang)
    if isinstance(arg, CampaignSchedulerError):
        return tr(arg.message, lang)
    return tr(arg, lang) if isinstance(arg, Msg) else arg


#: Log arguments that are shown as they are (most of them: keys, names, addresses, numbers).
_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})


def log_warnings_for_people() -> None:
    """A command that is not the daemon shows the warnings its modules log as plain lines in
    the user's language (without a handler, logging would print them in English)."""
    root = logging.getLogger("campaign_scheduler")
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_TextFormatter("%(message)s"))
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)


def _setup_logging(as_json: bool, verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if as_json
        else _TextFormatter("%(asctime)s %(levelname)-7s %(message)s", language=ui_language())
    )
    root = logging.getLogger("campaign_scheduler")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


class _Enqueue(logging.Handler):
    """Hands a record to the thread that writes log lines, as it is: the writing handler's
    formatter words it (in the reader's language, or as JSON with its arguments).

    Unlike ``logging.handlers.QueueHandler`` it neither formats the record in the logging
    thread nor takes a lock (``SimpleQueue.put`` is thread-safe): a lane logs without waiting
    for another lane's line to be written."""

    def __init__(self, lines: queue.SimpleQueue[logging.LogRecord]) -> None:
        super().__init__()
        self.lines = lines

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.put(record)


@contextlib.contextmanager
def _lines_written_by_one_thread() -> Iterator[None]:
    """While the daemon publishes, the lines of ``campaign_scheduler``'s loggers are written by
    one thread of their own, in the order they were logged: the daemon's lanes (up to
    ``daemon.parallel`` threads) queue them instead of taking turns at the handler's lock
    while a line goes out. At the end every queued line is written and the handlers are
    back as they were."""
    import logging.handlers

    root = logging.getLogger("campaign_scheduler")
    handlers = list(root.handlers)
    if not handlers:
        yield
        return
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = logging.handlers.QueueListener(lines, *handlers, respect_handler_level=True)
    writer.start()
    root.handlers[:] = [_Enqueue(lines)]
    try:
        yield
    finally:
        root.handlers[:] = handlers
        writer.stop()


def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="publish what is due now, then exit")
    ] = False,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="log one JSON object per line")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            max=256,
            help="calls in flight at once, one per account (default: daemon.parallel)",
        ),
    ] = None,
    worker_id: Annotated[
        str | None, typer.Option("--worker-id", help="this daemon's name in the record")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log more")] = False,
) -> None:
    """Publish on schedule until stopped (SIGTERM/SIGINT finish the call in flight)."""
    from campaign_scheduler.linkcards import CachedCards, cache_path
    from campaign_scheduler.publishing.accounts import ConfiguredChannels, warm_up
    from campaign_scheduler.publishing.daemon import Daemon, Worker
    from campaign_scheduler.publishing.journal import Journal, journal_path_for
    from campaign_scheduler.publishing.publisher import Publisher

    _setup_logging(log_json, verbose)
    with opened(ctx) as c, contextlib.ExitStack() as stack:
        # One call at a time per account: each account keeps one adapter (and connection).
        channels = ConfiguredChannels(c.settings, per_account=True)
        publisher = Publisher(
            channels,
            media_root=c.settings.posts_path,
            link_cards=CachedCards(cache_path(c.campaign)),
        )
        threads = workers or c.settings.daemon.parallel
        # Every call in flight writes its record on a connection of its own.
        worker_store = c.store.for_threads(threads) if threads > 1 else c.store
        if worker_store is not c.store:
            stack.callback(worker_store.dispose)
        worker = Worker(
            worker_store,
            publisher,
            worker_id=worker_id,
            lease=c.settings.daemon.lease,
            threads=threads,
        )
        worker.journal = Journal(journal_path_for(c.settings.database_url, c.settings.base_dir))
        store, accounts, alert_settings = c.store, list(c.settings.accounts), c.settings.alerts
        settings = c.settings
        from campaign_scheduler.alerts import watch_token_expiry
        from campaign_scheduler.auth.accounts import (
            refresh_interval,
            refresh_tokens_job,
            token_source,
        )

        watch_token_expiry(token_source(settings))
        refresh_tokens = refresh_tokens_job(settings)

        def send_alerts_now() -> None:
            from campaign_scheduler.alerts import send_alerts
            from campaign_scheduler.publishing.daemon import utcnow

            send_alerts(store, alert_settings, utcnow(), sender=worker.worker_id)

        if once:
            if refresh_tokens is not None:
                refresh_tokens()
            with _lines_written_by_one_thread():
                report = worker.tick()
            err_line(tr("run --once: {summary}", summary=report.summary(ui_language())))
            if alert_settings.enabled:
                send_alerts_now()
            _fail_on_held(c.store)
            return
        # Metrics get their own adapters (and HTTP sessions): reads never queue behind writes.
        readers = ConfiguredChannels(c.settings)
        warmers = ConfiguredChannels(c.settings, per_account=True)

        def collect_metrics(stop: threading.Event) -> None:
            from campaign_scheduler.metrics.collector import collect, collect_hashtag_use
            from campaign_scheduler.publishing.daemon import utcnow

            report = collect(store, readers, utcnow(), clock=utcnow, stop=stop.is_set)
            if stop.is_set():
                return
            collect_hashtag_use(store, readers, utcnow(), accounts=accounts, report=report)
            logging.getLogger("campaign_scheduler.metrics").info("metrics: %s", report.summary())

        daemon = Daemon(
            worker,
            reconcile=c.settings.daemon.reconcile,
            metrics=collect_metrics,
            metrics_every=c.settings.daemon.metrics,
            alerts=send_alerts_now if alert_settings.enabled else None,
            alerts_every=alert_settings.every,
            tokens=refresh_tokens,
            tokens_every=refresh_interval(settings),
            warm=lambda names: warm_up(warmers, names, publishing=channels),
        )
        with _lines_written_by_one_thread():
            daemon.serve()
