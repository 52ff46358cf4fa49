"""``campaign report`` on the command line: formats, languages, files, and usage errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from campaign_scheduler.cli import app
from conftest import Workspace
from report_data import known_store
from report_parse import html_tables, text_tables


@pytest.fixture(scope="module")
def known_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("known") / "campaign.db"
    known_store(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def loaded(workspace: Workspace, known_database: Path) -> Workspace:
    """The workspace with the known campaign in its database (a copy per test)."""
    shutil.copyfile(known_database, workspace.root / "campaign.db")
    return workspace


def invoke(runner: CliRunner, ws: Workspace, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(ws.config_file), "report", *args])


def test_the_default_is_a_table_in_the_campaigns_language(
    loaded: Workspace, runner: CliRunner
) -> None:
    result = invoke(runner, loaded)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Reichweitenbericht: Testlauf #5malklug")
    tables = text_tables(result.stdout)
    assert ["Stadt Soest", "8", "4", "2", "1", "0", "0", "1"] in tables[1]
    assert "\x1b[" not in result.stdout  # no colour codes when not on a terminal


def test_english_when_the_campaign_is_english(loaded: Workspace, runner: CliRunner) -> None:
    text = loaded.campaign_file.read_text(encoding="utf-8")
    loaded.campaign_file.write_text(
        text.replace('language = "de"', 'language = "en"'), encoding="utf-8"
    )
    result = invoke(runner, loaded)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Reach report: Testlauf #5malklug")


def test_lang_overrides_the_campaign(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "--lang", "en", "--format", "md")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# Reach report: Testlauf #5malklug")
    assert "| Stadt Soest | 42 | 11 | 8 | 1 | 2,400 | 1,500 | 85 | 62 |" in result.stdout


@pytest.mark.parametrize("by", ["sender", "channel", "day", "post"])
def test_json_for_every_grouping(loaded: Workspace, runner: CliRunner, by: str) -> None:
    result = invoke(runner, loaded, "--format", "json", "--by", by)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["by"] == by
    assert sum(g["deliveries"]["planned"] for g in data["groups"]) == 14
    assert data["totals"]["engagement"]["likes"] == 47


def test_csv_to_stdout(loaded: Workspace, runner: CliRunner) -> None:
    result = invoke(runner, loaded, "--format", "csv", "--lang", "en", "--by", "channel")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Key,Channel,Planned,Published")
    assert lines[-1].startswith(",Total,14,7,")
    assert "telegram,Telegram,3,1,0,1,0,1,0,600,600,600,0,,,,,,,,,0" in lines


def test_output_is_written_atomically_and_reported(
    loaded: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "out" / "bericht.json"
    target.parent.mkdir()
    target.write_text("old", encoding="utf-8")
    result = invoke(runner, loaded, "--format", "json", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote {target}" in result.stderr
    assert json.loads(target.read_text(encoding="utf-8"))["totals"]["deliveries"]["planned"] == 14
    assert [p.name for p in target.parent.iterdir()] == ["bericht.json"]  # no temporary left


def test_a_csv_file_starts_with_a_byte_order_mark(
    loaded: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "bericht.csv"
    result = invoke(runner, loaded, "--format", "csv", "-o", str(target))
    assert result.exit_code == 0, result.output
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfKennung;Absender;Geplant;")
    assert "soest;Stadt Soest;8;4;2;1;0;0;1;32,5;120;120;3;" in data.decode("utf-8-sig")


def test_table_to_a_file_is_plain_text(
    loaded: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "bericht.txt"
    result = invoke(runner, loaded, "--output", str(target))
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    assert ["Gesamt", "7", "30 s", "10 min", "10 min", "5"] in text_tables(text)[3]


def test_html_without_output_goes_to_the_working_folder(
    loaded: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    result = invoke(runner, loaded, "--format", "html")
    assert result.exit_code == 0, result.output
    written = tmp_path / "report-testlauf.html"  # the tests run in tmp_path (conftest)
    assert written.is_file()
    assert f"wrote {written}" in result.stderr
    html = written.read_text(encoding="utf-8")
    assert html.startswith('<!DOCTYPE html>\n<html lang="de">')
    assert html_tables(html)["t-outcomes"][-1] == ["Gesamt", "14", "7", "2", "2", "1", "1", "1"]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--by", "week"], "--by"),
        (["--format", "pdf"], "--format"),
        (["--lang", "fr"], "--lang"),
    ],
)
def test_bad_option_values_exit_2_naming_the_option(
    loaded: Workspace, runner: CliRunner, args: list[str], option: str
) -> None:
    result = invoke(runner, loaded, *args)
    assert result.exit_code == 2
    assert option in result.output
    assert args[1] in result.output
    assert "Traceback" not in result.output


def test_an_output_folder_that_does_not_exist_is_a_usage_error(
    loaded: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    result = invoke(runner, loaded, "--output", str(tmp_path / "nowhere" / "r.html"))
    assert result.exit_code == 2
    assert "--output: the folder" in result.stderr
    assert "does not exist" in result.stderr


def test_a_campaign_not_loaded_yet_exits_1_with_a_hint(
    workspace: Workspace, runner: CliRunner
) -> None:
    result = invoke(runner, workspace)
    assert result.exit_code == 1
    assert "campaign 'testlauf' is not in the database yet" in result.stderr
    assert "campaign load" in result.stderr


def test_report_is_listed_in_help(runner: CliRunner) -> None:
    result = runner.invoke(app, ["report", "--help"])
    assert result.exit_code == 0
    for option in ("--by", "--format", "--output", "--lang"):
        assert option in result.stdout
