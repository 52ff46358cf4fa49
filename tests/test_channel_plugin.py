"""A channel from another package, installed through the entry-point group, is a network like
the built-in ones: configured, checked against its own text rule, loaded, published and
reported without a line of campaign-scheduler knowing its name.

The plugin is a real (if tiny) distribution: a module and a ``.dist-info`` folder with
``entry_points.txt`` on ``sys.path``, which is what ``pip install`` leaves behind.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from campaign_scheduler.channels import registry
from campaign_scheduler.cli import app
from campaign_scheduler.config import load_settings
from campaign_scheduler.publishing.accounts import ConfiguredChannels
from campaign_scheduler.publishing.daemon import Worker
from campaign_scheduler.publishing.publisher import Publisher
from campaign_scheduler.store.engine import open_store
from campaign_scheduler.store.models import DeliveryRecord
from conftest import Workspace

DUE = datetime(2021, 11, 4, 8, 30, tzinfo=UTC)  # "T-14d 09:30" in Berlin

PLUGIN_MODULE = '''
"""A pinboard in the town hall: the smallest network there is."""

from datetime import UTC, datetime
from typing import ClassVar

from campaign_scheduler.channels.base import Channel, OutboundPost, Receipt
from campaign_scheduler.channels.catalog import ChannelSpec
from campaign_scheduler.channels.text import UNIT_GRAPHEMES, TextRule, count_graphemes

BOARD: list[tuple[str, str, str]] = []  # (board, token, text) of every pinned note


class PinboardChannel(Channel):
    name: ClassVar[str] = "pinboard"
    spec: ClassVar[ChannelSpec] = ChannelSpec(
        "Pinboard",
        settings=("board",),
        secrets=("token",),
        needs_base_url=False,
        reports_impressions=False,
    )
    text_rule: ClassVar[TextRule] = TextRule(UNIT_GRAPHEMES, count_graphemes, 80)

    def publish(self, post: OutboundPost) -> Receipt:
        BOARD.append((self.account.settings["board"], self.account.secret("token"), post.text))
        return Receipt(str(len(BOARD)), None, datetime(2021, 11, 4, 8, 30, tzinfo=UTC))

    def verify(self) -> str:
        return "Rathaus"
'''


@pytest.fixture
def pinboard(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The plugin installed into a folder on ``sys.path``; its module once imported."""
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "pinboard_channel.py").write_text(PLUGIN_MODULE, encoding="utf-8")
    dist_info = site / "pinboard_channel-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: pinboard-channel\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        "[campaign_scheduler.channels]\npinboard = pinboard_channel:PinboardChannel\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    registry.forget_installed()
    yield importlib.import_module("pinboard_channel")
    sys.modules.pop("pinboard_channel", None)
    registry.forget_installed()


@pytest.fixture
def campaign(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """Soest has an account on the pinboard, and a draft for it."""
    with workspace.config_file.open("a", encoding="utf-8") as config:
        config.write(
            textwrap.dedent("""
            [accounts.soest-pinboard]
            channel = "pinboard"
            sender = "soest"
            board = "Rathaus Soest"
            token = "env:SOEST_PINBOARD_TOKEN"
            """)
        )
    monkeypatch.setenv("SOEST_PINBOARD_TOKEN", "pin-secret")
    workspace.draft(
        "soest/01-aushang", channels=("pinboard",), body="Konferenz am 18.11. #5malklug"
    )
    return workspace


def campaign_cli(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(ws.config_file), *args])
    return result.exit_code, result.output


def test_a_plugin_channel_goes_through_check_load_publish_and_report(
    pinboard: ModuleType, campaign: Workspace
) -> None:
    code, output = campaign_cli(campaign, "check")
    assert code == 0, output

    code, output = campaign_cli(campaign, "load", "--as", "anna")
    assert code == 0, output

    settings = load_settings(campaign.config_file)
    store = open_store(settings.database_url)
    try:
        publisher = Publisher(ConfiguredChannels(settings), media_root=campaign.root / "posts")
        worker = Worker(
            store, publisher, worker_id="w1", lease=timedelta(minutes=10), clock=lambda: DUE
        )
        worker.tick()
        with store.session() as session:
            assert session.scalars(select(DeliveryRecord.state)).all() == ["published"]
    finally:
        store.dispose()
    assert pinboard.BOARD == [("Rathaus Soest", "pin-secret", "Konferenz am 18.11. #5malklug")]

    code, output = campaign_cli(campaign, "report", "--format", "json", "--by", "channel")
    assert code == 0, output
    report = json.loads(output)
    (group,) = report["groups"]
    assert group["key"] == "pinboard"
    assert group["deliveries"]["published"] == 1
    assert "pinboard" in report["networks_without_impressions"]

    code, output = campaign_cli(campaign, "report", "--format", "csv", "--by", "channel")
    assert code == 0, output
    assert output.splitlines()[1].startswith("pinboard;Pinboard;1;1;")  # the plugin's title


def test_check_measures_with_the_plugins_own_text_rule(
    pinboard: ModuleType, campaign: Workspace
) -> None:
    campaign.draft("soest/01-aushang", channels=("pinboard",), body="Aushang " * 10 + "#5malklug")
    code, output = campaign_cli(campaign, "check")
    assert code == 1
    assert "text too long for pinboard: 89 of 80 graphemes" in output


def test_a_plugin_account_is_checked_against_the_plugins_keys(
    pinboard: ModuleType, campaign: Workspace
) -> None:
    text = campaign.config_file.read_text(encoding="utf-8")
    campaign.config_file.write_text(text.replace('board = "Rathaus Soest"\n', ""), "utf-8")
    code, output = campaign_cli(campaign, "check")
    assert code != 0
    assert "board" in output


def test_without_the_plugin_the_channel_is_unknown(campaign: Workspace) -> None:
    registry.forget_installed()
    code, output = campaign_cli(campaign, "check")
    assert code != 0
    assert "unknown channel 'pinboard'" in output
