"""A first start: commands without a configuration say so and point to ``campaign init``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from conftest import Workspace


@pytest.fixture
def without_config(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """The shipped layout (campaign file, drafts) but no config.toml yet, as after a git clone."""
    workspace.config_file.unlink()
    workspace.draft("soest/01-klima")
    monkeypatch.chdir(workspace.root)
    return workspace


def test_check_without_config_says_so_and_how_to_start(
    without_config: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 1
    assert "has no account" not in result.output
    assert "no configuration found: there is no config.toml in" in result.stderr
    assert "CAMPAIGN_CONFIG is not set" in result.stderr
    assert "campaign init" in result.stderr
    assert "campaign --config PATH/config.toml check" in result.stderr


def test_the_message_is_german_for_a_german_locale(
    without_config: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 1
    assert "keine Konfiguration gefunden" in result.stderr
    assert "campaign init" in result.stderr


def test_check_json_without_config_is_one_problem(
    without_config: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "C")
    result = runner.invoke(app, ["check", "--json"])
    assert result.exit_code == 1
    problems = json.loads(result.stdout)
    assert len(problems) == 1
    assert problems[0]["severity"] == "error"
    assert "campaign init" in problems[0]["message"]


@pytest.mark.parametrize(
    "command",
    [
        ["load"],
        ["status"],
        ["queue", "x", "--sender", "soest", "--channel", "mastodon", "--at", "T-1d"],
    ],
)
def test_other_commands_without_config_say_the_same(
    without_config: Workspace, runner: CliRunner, command: list[str]
) -> None:
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    assert "campaign init" in result.stderr
    assert "Traceback" not in result.output
