"""Nothing from outside is interpreted by the terminal: rich markup in names stays text, control
characters from networks, drafts and file names are shown escaped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from campaign_scheduler.cli import app
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.i18n import Lang, Words
from campaign_scheduler.reports.render_table import render_table
from campaign_scheduler.store.models import CampaignRecord, SenderRecord
from campaign_scheduler.terminal import clean, one_line
from conftest import Workspace

ESC_BODY = "\x1b[2J\x1b]0;pwned\x07Bad Request\rOK"


def run(runner: CliRunner, ws: Workspace, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(ws.config_file), *args], env={"COLUMNS": "250"})
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_clean_escapes_what_a_terminal_would_act_on() -> None:
    assert clean(ESC_BODY) == "\\x1b[2J\\x1b]0;pwned\\x07Bad Request\\x0dOK"
    assert clean("Zeile 1\nZeile 2\tTab") == "Zeile 1\nZeile 2\tTab"
    assert one_line("Zeile 1\nZeile 2") == "Zeile 1\\x0aZeile 2"
    assert clean("\u202egnp.exe \x9b31m \u2028") == "\\u202egnp.exe \\x9b31m \\u2028"
    assert clean("Grüße aus Soest 👍 #5malklug") == "Grüße aus Soest 👍 #5malklug"


def test_markup_in_a_campaign_and_sender_name_is_printed_as_text(
    workspace: Workspace, runner: CliRunner
) -> None:
    text = workspace.campaign_file.read_text(encoding="utf-8")
    text = text.replace('name = "Testlauf"', 'name = "Test [/] lauf [bold]x"')
    text = text.replace('name = "Stadt Soest"', 'name = "Stadt [/]Soest"')
    workspace.campaign_file.write_text(text, encoding="utf-8")
    workspace.draft("soest/01-klima")
    assert run(runner, workspace, "load")[0] == 0
    code, output = run(runner, workspace, "plan")
    assert code == 0
    assert "Test [/] lauf [bold]x" in output


def test_a_link_in_a_file_name_stays_text(workspace: Workspace, runner: CliRunner) -> None:
    workspace.draft("soest/[link=https---evil.example]klima")
    assert run(runner, workspace, "load")[0] == 0
    code, output = run(runner, workspace, "plan")
    assert code == 0
    assert "[link=https---evil.example]klima" in output
    assert "\x1b]8;" not in output


def test_escape_sequences_in_an_error_body_are_shown_escaped(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-klima", channels=("mastodon",))
    assert run(runner, workspace, "load")[0] == 0
    with sqlite3.connect(workspace.root / "campaign.db") as db:
        db.execute(
            "UPDATE delivery SET state = 'failed', last_error = ?, attempts = 1",
            (f"rejected by mastodon: {ESC_BODY}",),
        )
    code, output = run(runner, workspace, "history")
    assert code == 0
    assert "\x1b" not in output and "\x07" not in output and "\r" not in output
    assert "\\x1b[2J\\x1b]0;pwned\\x07Bad Request\\x0dOK" in output


def test_control_characters_in_a_draft_name_are_escaped_in_check(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-\x1b[2Jklima", text="kein front matter\n")
    code, output = run(runner, workspace, "check")
    assert code == 1
    assert "\x1b" not in output
    assert "01-\\x1b[2Jklima.md:1:" in output


@pytest.mark.parametrize("name", ["[/]", "[link=https://evil.example]x[/link]", "\x1b[2J"])
def test_the_report_table_prints_names_as_text(name: str, tmp_path: Path) -> None:
    from report_data import GENERATED_AT, known_store

    store = known_store(f"sqlite:///{tmp_path / 'report.db'}")
    with store.session(write=True) as session:
        session.execute(update(CampaignRecord).values(name=f"Kampagne {name}"))
        session.execute(
            update(SenderRecord).where(SenderRecord.slug == "soest").values(name=f"Soest {name}")
        )
    report = build_report(store, "testlauf", now=GENERATED_AT)
    store.dispose()
    out = render_table(report, Words(Lang.DE))
    assert one_line(f"Kampagne {name}") in out
    assert one_line(f"Soest {name}") in out
    assert "\x1b" not in out


def test_history_json_escapes_c1_and_bidi_controls_and_stays_valid(
    workspace: Workspace, runner: CliRunner
) -> None:
    import json

    workspace.draft("soest/01-klima", channels=("mastodon",))
    assert run(runner, workspace, "load")[0] == 0
    error = "x\x9b31m\u202ey\x1b"
    with sqlite3.connect(workspace.root / "campaign.db") as db:
        db.execute("UPDATE delivery SET state = 'failed', last_error = ?, attempts = 1", (error,))
    code, output = run(runner, workspace, "history", "--json")
    assert code == 0
    assert "\x9b" not in output and "\u202e" not in output
    assert json.loads(output)[0]["error"] == error


def test_daemon_log_lines_escape_what_a_network_sent() -> None:
    import json
    import logging

    from campaign_scheduler.cli.run_cmd import _JsonFormatter, _TextFormatter

    record = logging.LogRecord(
        "campaign_scheduler", logging.WARNING, __file__, 1, "rejected: %s", (ESC_BODY,), None
    )
    text = _TextFormatter("%(levelname)s %(message)s").format(record)
    assert "\x1b" not in text and "\\x1b[2J" in text
    line = _JsonFormatter().format(record)
    assert "\x1b" not in line and "\x07" not in line
    assert json.loads(line)["message"] == f"rejected: {ESC_BODY}"
