"""The progress bar of ``check`` and ``load``: on a terminal only, never in JSON or a pipe."""

from __future__ import annotations

import io
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from campaign_scheduler.cli.progress import SHOWN_FROM, draft_progress
from conftest import Workspace


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def many_drafts(ws: Workspace, count: int) -> None:
    """Six posts a day, an hour apart, inside every posting window, before the event."""
    first = datetime(2021, 10, 27, 10, 0)
    for n in range(count):
        at = first + timedelta(days=n // 6, hours=n % 6)
        ws.draft(f"soest/{n:04d}-beitrag", at=f"{at:%Y-%m-%d %H:%M}", channels=("mastodon",))


def test_a_terminal_gets_a_bar_over_the_drafts(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with draft_progress(as_json=False) as steps:
        assert steps.drafts is not None
        for done in range(1, SHOWN_FROM + 1):
            steps.drafts(done, SHOWN_FROM)
    shown = terminal.getvalue()
    assert "reading drafts" in shown
    assert f"{SHOWN_FROM}/{SHOWN_FROM}" in shown


def test_a_few_drafts_get_no_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with draft_progress(as_json=False) as steps:
        assert steps.drafts is not None
        for done in range(1, 11):
            steps.drafts(done, 10)
    assert "reading drafts" not in terminal.getvalue()


@pytest.mark.parametrize(("tty", "as_json"), [(False, False), (True, True)])
def test_no_bar_in_a_pipe_or_with_json(
    monkeypatch: pytest.MonkeyPatch, tty: bool, as_json: bool
) -> None:
    stream = Terminal() if tty else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    with draft_progress(as_json=as_json) as steps:
        assert steps.drafts is None
        steps.phase("writing to the database")
    assert stream.getvalue() == ""


def test_load_through_a_pipe_prints_no_escape_codes(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    many_drafts(workspace, 120)
    monkeypatch.chdir(workspace.root)
    result = runner.invoke(app, ["--config", str(workspace.config_file), "load"])
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.output
    assert "reading drafts" not in result.output
    assert "loaded: 120 new" in result.output
    assert Path(workspace.root / "campaign.db").is_file()
