"""A light idle daemon: what `campaign run` has imported while nothing is due.

The daemon runs as a subprocess with ``PYTHONPROFILEIMPORTTIME`` set, so its output names
every module it imported; it is stopped after its first metrics sweep (5 s after the start),
which used to build the accounts' adapters (and import ``requests``) to search the campaign's
hashtag although the campaign had published nothing yet.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from campaign_scheduler.sandbox.mastodon import MastodonSandbox
from live import LiveCampaign

GENEROUS = 60.0
#: Loaded only when there is something to send, to fetch or to parse leniently.
NOT_WHILE_IDLE = (
    "requests",  # the first network call
    "urllib3",
    "dateutil",  # a date string that is not ISO 8601
    "html.parser",  # reading a link card
    "http.cookiejar",
)
#: On SQLite also: the PostgreSQL dialect (the snapshots' upsert), until a snapshot is written.
NOT_ON_SQLITE = ("sqlalchemy.dialects.postgresql",)


@pytest.fixture
def sandbox() -> Iterator[MastodonSandbox]:
    with MastodonSandbox() as server:
        yield server


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GENEROUS
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.1)


def imported(output: str) -> set[str]:
    """The modules ``-X importtime`` reported in ``output``."""
    return {
        match.group(1).strip()
        for match in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|(.*)$", output, re.MULTILINE)
    }


def test_an_idle_daemon_imports_no_network_library_and_no_lenient_date_parser(
    tmp_path: Path,
    sandbox: MastodonSandbox,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    live = LiveCampaign(tmp_path, sandbox, database_url=database_url)
    live.draft("01-spaeter", live.now + timedelta(days=3))  # the campaign has a hashtag
    live.load()
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    daemon = live.start("run", "--log-json")
    try:
        wait_for(lambda: '"metrics: 0 snapshots"' in daemon.log.read_text(), "a metrics sweep")
    finally:
        daemon.send_signal(signal.SIGTERM)
        code, output = daemon.finish(timeout=GENEROUS)
    assert code == 0, output
    modules = imported(output)
    assert "campaign_scheduler.metrics.collector" in modules  # the sweep ran
    banned = NOT_WHILE_IDLE + (NOT_ON_SQLITE if database_url.startswith("sqlite") else ())
    loaded = sorted(
        name for name in modules if any(name == b or name.startswith(f"{b}.") for b in banned)
    )
    assert loaded == []


def test_hashtag_use_is_searched_from_the_campaigns_first_post_on(
    tmp_path: Path, sandbox: MastodonSandbox
) -> None:
    live = LiveCampaign(tmp_path, sandbox)
    live.draft("01-jetzt", live.now - timedelta(minutes=1), "Noch 7 Tage #5malklug")
    live.load()
    sandbox.post_as("buergerin", "Ich bin am 18. dabei! #5malklug")
    before = json.loads(live.run("metrics", "--json").stdout)
    assert before["hashtag_posts"] == 0  # nothing of ours is out: nothing searched
    assert live.run("run", "--once").returncode == 0
    after = json.loads(live.run("metrics", "--json").stdout)
    assert after["hashtag_posts"] == 1  # the post from before our first one is found
