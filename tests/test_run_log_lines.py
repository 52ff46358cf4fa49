"""`campaign run` writes its log lines from one thread of their own while it publishes: the
daemon's lanes queue their lines instead of taking turns at the handler's lock."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from campaign_scheduler.cli.run_cmd import _lines_written_by_one_thread, _setup_logging
from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from live import LiveCampaign


class _Recording(logging.Handler):
    """Keeps each line it writes with the thread that wrote it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((threading.current_thread().name, self.format(record)))


@pytest.fixture
def recording() -> Iterator[_Recording]:
    root = logging.getLogger("campaign_scheduler")
    saved = list(root.handlers), root.level, root.propagate
    handler = _Recording()
    handler.setFormatter(logging.Formatter("%(threadName)s %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    try:
        yield handler
    finally:
        root.handlers[:], root.level, root.propagate = saved


def test_lines_of_many_lanes_are_written_by_one_thread_all_of_them_in_order(
    recording: _Recording,
) -> None:
    log = logging.getLogger("campaign_scheduler.channels.mastodon")
    handlers = list(logging.getLogger("campaign_scheduler").handlers)

    def lane(n: int) -> None:
        for k in range(50):
            log.info("published %s on %s", k, f"account-{n}")

    with _lines_written_by_one_thread():
        lanes = [threading.Thread(target=lane, args=(n,), name=f"lane-{n}") for n in range(8)]
        for thread in lanes:
            thread.start()
        for thread in lanes:
            thread.join()
        log.debug("not written: below the level")

    assert len(recording.lines) == 8 * 50  # every line written by the time the block ends
    writers = {writer for writer, _line in recording.lines}
    assert len(writers) == 1
    assert writers.isdisjoint({f"lane-{n}" for n in range(8)} | {"MainThread"})
    for n in range(8):  # each line formatted as the lane logged it, each lane's in order
        assert [line for _writer, line in recording.lines if line.startswith(f"lane-{n} ")] == [
            f"lane-{n} published {k} on account-{n}" for k in range(50)
        ]
    # afterwards the lines are written directly again, by the thread that logs them
    log.info("after")
    assert recording.lines[-1] == ("MainThread", "MainThread after")
    assert logging.getLogger("campaign_scheduler").handlers == handlers


def test_a_line_below_a_handlers_level_is_not_written_by_the_writer_thread(
    recording: _Recording,
) -> None:
    recording.setLevel(logging.WARNING)
    log = logging.getLogger("campaign_scheduler.publishing")
    with _lines_written_by_one_thread():
        log.info("only information")
        log.warning("a warning")
    assert [line for _writer, line in recording.lines] == ["MainThread a warning"]


def test_json_lines_keep_their_arguments_through_the_queue(
    recording: _Recording, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    _setup_logging(as_json=True, verbose=False)
    log = logging.getLogger("campaign_scheduler.channels.mastodon")
    with _lines_written_by_one_thread():
        log.info("published %s on %s", "109", "soest-mastodon")
    entry = json.loads(stream.getvalue().splitlines()[-1])
    assert entry["message"] == "published 109 on soest-mastodon"


def test_run_once_writes_every_lanes_line_before_its_summary(tmp_path: Path) -> None:
    with MastodonSandbox() as sandbox:
        live = LiveCampaign(tmp_path, sandbox, accounts=4, min_gap="0m")
        for n in range(3):
            live.draft(f"0{n}-jetzt", live.now - timedelta(minutes=1), f"Jetzt {n} #5malklug")
        live.load()
        result = live.run("run", "--once", "--workers", "4")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    published = [i for i, line in enumerate(lines) if " published soest/" in line]
    summary = [i for i, line in enumerate(lines) if "run --once:" in line]
    assert len(published) == 12, result.stderr
    assert len(summary) == 1 and summary[0] > max(published), result.stderr


def test_run_once_logs_each_delivery_in_one_line_with_post_account_and_address(
    tmp_path: Path,
) -> None:
    with MastodonSandbox() as sandbox:
        live = LiveCampaign(tmp_path, sandbox, accounts=2, min_gap="0m")
        live.draft("01-jetzt", live.now - timedelta(minutes=1), "Jetzt #5malklug")
        live.load()
        result = live.run("run", "--once")
        statuses, address = {s.id for s in sandbox.statuses()}, sandbox.url
    assert result.returncode == 0, result.stderr
    # the adapter's own "published <id> on <account>" is a debug line (`--verbose`)
    published = [line for line in result.stderr.splitlines() if " published " in line]
    assert len(published) == 2, result.stderr
    for account in ("soest-mastodon-0", "soest-mastodon-1"):
        said = f"published soest/01-jetzt on {account}: {address}/"
        assert sum(said in line for line in published) == 1, result.stderr
    assert {line.split("/")[-1].split(" ")[0] for line in published} == statuses
