"""Shared fixtures: a small campaign workspace on disk, and the CLI runner."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import settings as hypothesis_settings
from typer.testing import CliRunner

# No per-example deadline (CI machines are shared and busy) and no example database on disk.
hypothesis_settings.register_profile("campaign", deadline=None, database=None)
hypothesis_settings.load_profile("campaign")

CAMPAIGN_TOML = """\
[campaign]
slug = "testlauf"
name = "Testlauf"
hashtag = "#5malklug"
timezone = "Europe/Berlin"
language = "de"
starts = "2021-10-26"

[event]
name = "Smart Cities: Konferenz"
start = "2021-11-18T10:00"
end = "2021-11-18T16:00"
url = "https://smartcities-suedwestfalen.com/konferenz/"

[rules]
min_gap = "30m"
grace = "2h"
windows = ["Mon-Fri 08:00-19:00", "Sat-Sun 10:00-16:00"]

[[senders]]
slug = "soest"
name = "Stadt Soest"

[[senders]]
slug = "olpe"
name = "Kreisstadt Olpe"
"""

CONFIG_TOML = """\
[database]
url = "sqlite:///campaign.db"

[paths]
campaign = "campaign/testlauf.toml"
posts = "posts"

[accounts.soest-mastodon]
channel = "mastodon"
sender = "soest"
base_url = "https://social.soest.example"
token = "env:SOEST_MASTODON_TOKEN"

[accounts.soest-bluesky]
channel = "bluesky"
sender = "soest"
identifier = "soest.example"
password = "env:SOEST_BLUESKY_PASSWORD"

[accounts.olpe-mastodon]
channel = "mastodon"
sender = "olpe"
base_url = "https://social.olpe.example"
token = "env:OLPE_MASTODON_TOKEN"
"""


def draft_text(
    body: str = "Soest will bis 2030 klimaneutral werden. #5malklug",
    *,
    at: str = "T-14d 09:30",
    channels: tuple[str, ...] = ("mastodon", "bluesky"),
    extra: str = "",
) -> str:
    channel_list = ", ".join(f'"{c}"' for c in channels)
    front = f'at = "{at}"\nchannels = [{channel_list}]\n' + textwrap.dedent(extra)
    return f"+++\n{front}+++\n{body}\n"


class Workspace:
    """A campaign folder with config, campaign file and drafts, as a user would have it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "campaign").mkdir()
        (root / "posts" / "soest").mkdir(parents=True)
        (root / "posts" / "olpe").mkdir(parents=True)
        self.campaign_file = root / "campaign" / "testlauf.toml"
        self.config_file = root / "config.toml"
        self.campaign_file.write_text(CAMPAIGN_TOML, encoding="utf-8")
        self.config_file.write_text(CONFIG_TOML, encoding="utf-8")

    def draft(self, key: str, text: str | None = None, **kwargs: object) -> Path:
        path = self.root / "posts" / f"{key}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text is not None else draft_text(**kwargs), encoding="utf-8")  # type: ignore[arg-type]
        return path

    def remove(self, key: str) -> None:
        (self.root / "posts" / f"{key}.md").unlink()

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.root / 'campaign.db'}"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("CAMPAIGN_") and not name.startswith("CAMPAIGN_TEST_"):
            monkeypatch.delenv(name)
    # Tests never fetch link cards from the internet; the link card tests turn it on.
    monkeypatch.setenv("CAMPAIGN_LINK_CARDS", "off")
    # Tokens go to a 0600 file of the test, never to the keyring of the machine.
    monkeypatch.setenv("CAMPAIGN_TOKEN_STORE", f"file:{tmp_path / 'tokens.json'}")
    # Connect flows run side by side: the OAuth redirect takes a free port, not the fixed one.
    monkeypatch.setenv("CAMPAIGN_REDIRECT_PORT", "0")
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws_root = tmp_path / "ws"
    ws_root.mkdir()
    return Workspace(ws_root)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def real_server_missing(reason: str, require_variable: str) -> NoReturn:
    """A real server (PostgreSQL, PDS, Synapse, mastodon-mock, Chromium …) is not there.

    Where ``require_variable`` is set (``.ci/run`` sets it) that is a failure; on a developer's
    machine without the server the test is skipped, naming what is not installed or running.
    """
    if os.environ.get(require_variable):
        pytest.fail(f"{reason} ({require_variable} is set, so this server is required)")
    pytest.skip(f"not installed or not running here: {reason}")


POSTGRES_URL = os.environ.get(
    "CAMPAIGN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"cs_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        real_server_missing(
            f"no PostgreSQL server reachable at {POSTGRES_URL} ({exc.orig})",
            "CAMPAIGN_TEST_REQUIRE_POSTGRES",
        )
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on a real SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))
