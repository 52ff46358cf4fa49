"""The command line in German and English: gettext catalogs, the choice of language, help."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_scheduler import catalogs, uilang
from campaign_scheduler.cli import app
from conftest import Workspace
from test_cli import heavy_modules_loaded_by

ROOT = Path(__file__).resolve().parent.parent


# --- the catalogs -------------------------------------------------------------------------


def test_every_message_in_the_code_has_a_german_translation() -> None:
    template = catalogs.extract()
    assert len(template) > 100
    assert catalogs.untranslated(template, catalogs.read("de")) == []


def test_a_new_message_without_translation_is_found(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "cli").mkdir(parents=True)
    (package / "new.py").write_text('from x import tr\nprint(tr("a brand new message {x}"))\n')
    (package / "cli" / "new_cmd.py").write_text(
        "import typer\n"
        "def new(ctx: typer.Context, flag: bool = typer.Option(False, help='a new flag')):\n"
        '    """A new command.\n\n    Its second paragraph."""\n'
    )
    template = catalogs.extract(package)
    missing = catalogs.untranslated(template, catalogs.read("de"))
    assert sorted(missing) == sorted(
        ["a brand new message {x}", "a new flag", "A new command.", "Its second paragraph."]
    )


def test_the_shipped_mo_is_compiled_from_the_po() -> None:
    assert catalogs.check() == []


def test_a_stale_mo_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(uilang.LOCALE_DIR, tmp_path / "locale")
    monkeypatch.setattr(catalogs, "LOCALE_DIR", tmp_path / "locale")
    po = catalogs.po_path("de")
    po.write_text(
        po.read_text("utf-8").replace('msgstr "Fehler: {message}"', 'msgstr "FEHLER: {message}"'),
        "utf-8",
    )
    assert any("is stale" in line for line in catalogs.check())


def test_no_german_is_left_outside_the_catalog() -> None:
    """New messages' German goes into de/campaign.po (``make catalogs`` moves uilang.GERMAN)."""
    assert uilang.GERMAN == {}


def test_the_package_data_ships_the_catalogs() -> None:
    """``pip install`` and the wheel carry the .po and .mo files (setuptools package-data)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["campaign_scheduler"]
    package = ROOT / "src" / "campaign_scheduler"
    shipped = {path for pattern in patterns for path in package.glob(pattern)}
    assert package / "locale/de/LC_MESSAGES/campaign.mo" in shipped
    assert package / "locale/de/LC_MESSAGES/campaign.po" in shipped


# --- the choice of language ---------------------------------------------------------------


def test_the_locale_decides_when_nothing_else_does() -> None:
    assert uilang.ui_language(environ={"LANG": "de_DE.UTF-8"}) == "de"
    assert uilang.ui_language(environ={"LC_ALL": "de_AT.UTF-8", "LANG": "en_US.UTF-8"}) == "de"
    assert uilang.ui_language(environ={"LC_MESSAGES": "fr_FR.UTF-8", "LANG": "de_DE"}) == "en"
    assert uilang.ui_language(environ={"LANG": "C.UTF-8"}) == "en"
    assert uilang.ui_language(environ={}) == "en"


def test_lang_beats_campaign_lang_beats_config_beats_locale() -> None:
    german_locale = {"LANG": "de_DE.UTF-8"}
    uilang.set_language(None, configured="en")
    assert uilang.ui_language(environ=german_locale) == "en"
    assert uilang.ui_language(environ={**german_locale, "CAMPAIGN_LANG": "de"}) == "de"
    uilang.set_language("en", configured="de")
    assert uilang.ui_language(environ={**german_locale, "CAMPAIGN_LANG": "de"}) == "en"
    uilang.set_language(None)
    assert uilang.ui_language(environ=german_locale) == "de"


def test_the_config_language_is_read_before_the_command_runs(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "sqlite:///x.db"\n\n[ui]\nlanguage = "de"\n')
    assert uilang.peek_config_language(config, environ={}) == "de"
    config.write_text('[ui]\nlanguage = "fr"\n')
    assert uilang.peek_config_language(config, environ={}) is None
    config.write_text("[ui\nbroken")
    assert uilang.peek_config_language(config, environ={}) is None
    assert uilang.peek_config_language(tmp_path / "missing.toml", environ={}) is None


def test_help_follows_lang_option(runner: CliRunner) -> None:
    german = runner.invoke(app, ["--lang", "de", "--help"])
    assert german.exit_code == 0
    assert "Eine Social-Media-Kampagne im Terminal steuern" in german.stdout
    assert "Befehle:" in german.stdout and "Optionen:" in german.stdout
    assert "Zeitplan nach Tagen zeigen" in german.stdout  # a lazy command's summary
    english = runner.invoke(app, ["--help"])
    assert "Run a social-media campaign from the terminal" in english.stdout
    assert "Commands:" in english.stdout


def test_lang_after_help_still_counts(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help", "--lang", "de"])
    assert "Aufruf: campaign" in result.stdout


def test_subcommand_help_follows_campaign_lang(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGN_LANG", "de")
    result = runner.invoke(app, ["plan", "--help"])
    assert result.exit_code == 0
    assert "das Ergebnis als JSON ausgeben" in result.stdout
    assert "Diese Hilfe zeigen und beenden." in result.stdout
    group = runner.invoke(app, ["channels", "verify", "--help"])
    assert "Zugangsdaten jedes Kontos" in group.stdout


def test_config_ui_language_makes_help_german(workspace: Workspace, runner: CliRunner) -> None:
    workspace.config_file.write_text(
        workspace.config_file.read_text("utf-8") + '\n[ui]\nlanguage = "de"\n', "utf-8"
    )
    result = runner.invoke(app, ["--config", str(workspace.config_file), "status", "--help"])
    assert "das Ergebnis als JSON ausgeben" in result.stdout
    checked = runner.invoke(app, ["--config", str(workspace.config_file), "check", "--json"])
    assert "ui.language" not in checked.stdout  # a known key


def test_a_german_locale_makes_errors_german(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    workspace.config_file.unlink()
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Fehler: keine Konfiguration gefunden")
    assert "\nHinweis: eine neue Kampagne hier anlegen" in result.stderr


def test_an_unknown_lang_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--lang", "fr", "status"])
    assert result.exit_code == 2
    assert "--lang" in result.stderr


def test_german_help_imports_none_of_the_heavy_modules() -> None:
    assert heavy_modules_loaded_by("--lang", "de", "--help") == set()


# --- JSON stays language-neutral -----------------------------------------------------------


@pytest.fixture
def loaded(workspace: Workspace, runner: CliRunner) -> Workspace:
    workspace.draft("soest/01-klima")
    result = runner.invoke(app, ["--config", str(workspace.config_file), "load", "--as", "anna"])
    assert result.exit_code == 0, result.output
    return workspace


@pytest.mark.parametrize(
    "command", [["status", "--json"], ["plan", "--json"], ["history", "--json"]]
)
def test_json_output_is_the_same_in_every_language(
    loaded: Workspace, runner: CliRunner, command: list[str]
) -> None:
    config = ["--config", str(loaded.config_file)]
    english = runner.invoke(app, [*config, "--lang", "en", *command])
    german = runner.invoke(app, [*config, "--lang", "de", *command])
    assert english.exit_code == german.exit_code
    assert _timeless(json.loads(english.stdout)) == _timeless(json.loads(german.stdout))


def _timeless(value: object) -> object:
    """``value`` without the ages in seconds (the two runs are moments apart)."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items() if not k.endswith("_seconds")}
    return value


# --- status, plan, history -----------------------------------------------------------------


def test_status_speaks_german(loaded: Workspace, runner: CliRunner) -> None:
    result = runner.invoke(app, ["--config", str(loaded.config_file), "--lang", "de", "status"])
    assert result.exit_code == 1
    out = result.stdout
    assert "Veröffentlichungen: 2 ausstehend" in out
    assert "Daemon: nie gestartet" in out
    assert "braucht eine Person: kein Daemon läuft (nie gestartet) und 2 Veröffentlichungen" in out


def test_plan_speaks_german_with_german_dates(loaded: Workspace, runner: CliRunner) -> None:
    result = runner.invoke(app, ["--config", str(loaded.config_file), "--lang", "de", "plan"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Do., 4. Nov. 2021" in out
    assert "Zeit" in out and "Absender" in out and "Kanäle und Status" in out
    assert "ausstehend" in out
    assert "2 Veröffentlichungen von 1 Beitrag; Zeiten in Europe/Berlin" in result.stderr


def test_history_speaks_german(loaded: Workspace, runner: CliRunner) -> None:
    result = runner.invoke(app, ["--config", str(loaded.config_file), "--lang", "de", "history"])
    assert result.stdout.strip() == "Noch nichts veröffentlicht oder versucht"


# --- reasons keep their key; readers get them worded ---------------------------------------


def test_a_reason_keeps_its_record_and_is_worded_for_readers_from_its_key() -> None:
    from campaign_scheduler.reasons import Reason

    late = Reason(
        "late",
        {"grace": 5400, "why": Reason("attempts_failed", {"count": 3, "error": "HTTP 500"})},
    )
    assert late.record() == "more than 1h30m (rules.grace) late: 3 attempt(s) failed (HTTP 500)"
    assert late.for_readers("de") == (
        "nicht innerhalb von 1 Stunde 30 Minuten nach dem geplanten Zeitpunkt erschienen: "
        "3 Versuch(e) schlugen fehl (HTTP 500)"
    )
    assert late.for_readers("en") == (
        "not published within 1 hour 30 minutes of its planned time: 3 attempt(s) failed (HTTP 500)"
    )
    assert Reason.from_json(late.as_json()) == late
    assert Reason.from_json({"key": "from a newer program"}) is None


def test_the_report_never_parses_a_reason_text() -> None:
    """Without a key (a network's message, an older record) the text is shown as recorded."""
    from campaign_scheduler.reports.i18n import Lang, Words

    text = "more than 2h (rules.grace) late: no daemon published it in time"
    assert Words(Lang.DE).reason(text) == text
    data = {"key": "late", "grace": 7200, "why": {"key": "no_daemon"}}
    assert Words(Lang.DE).reason(text, data) == (
        "nicht innerhalb von 2 Stunden nach dem geplanten Zeitpunkt erschienen: "
        "der Veröffentlichungsdienst lief zu dieser Zeit nicht"
    )


def test_errors_and_counts_speak_german(loaded: Workspace, runner: CliRunner) -> None:
    config = ["--config", str(loaded.config_file), "--lang", "de"]
    queued = runner.invoke(app, [*config, "queue", "Hallo #5malklug", "--channel", "mastodon"])
    assert queued.exit_code == 2
    assert queued.stderr.strip() == "Fehler: --sender wird gebraucht"
    checked = runner.invoke(app, [*config, "check"])
    assert checked.stderr.strip().endswith(" in 1 Entwurf")
    again = runner.invoke(app, [*config, "load"])
    assert "geladen: 0 neu, 0 geändert, 0 entfernt, 1 unverändert" in again.stderr


# --- the daemon's human log ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_json", "expected"), [(False, "Daemon w1 beendet"), (True, "daemon w1 stopped")]
)
def test_the_daemon_log_speaks_german_and_its_json_stays_english(
    as_json: bool, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    from campaign_scheduler.cli.run_cmd import _setup_logging

    uilang.set_language("de")
    _setup_logging(as_json, verbose=False)
    try:
        logging.getLogger("campaign_scheduler.publishing.daemon").info("daemon %s stopped", "w1")
    finally:
        logging.getLogger("campaign_scheduler").handlers.clear()
    line = capsys.readouterr().err.strip()
    message = json.loads(line)["message"] if as_json else line.split(" ", 2)[2].strip()
    assert message == expected


# --- problems and errors raised outside the command line -------------------------------------


def _broken_config(workspace: Workspace) -> list[str]:
    workspace.config_file.write_text(
        workspace.config_file.read_text("utf-8") + "\n[daemon]\nparallel = 10000\n", "utf-8"
    )
    return ["--config", str(workspace.config_file)]


def test_a_config_problem_is_german_with_its_line(workspace: Workspace, runner: CliRunner) -> None:
    result = runner.invoke(app, [*_broken_config(workspace), "--lang", "de", "check"])
    assert result.exit_code == 1
    assert "config.toml:" in result.stdout
    assert "daemon.parallel darf höchstens" in result.stdout


def test_a_missing_config_file_is_a_german_error(tmp_path: Path, runner: CliRunner) -> None:
    missing = tmp_path / "nowhere.toml"
    result = runner.invoke(app, ["--config", str(missing), "--lang", "de", "check"])
    assert result.exit_code == 1
    shown = result.stdout + result.stderr
    assert f"Konfigurationsdatei {missing} nicht gefunden" in shown


def test_check_json_problems_stay_english(workspace: Workspace, runner: CliRunner) -> None:
    config = _broken_config(workspace)
    english = runner.invoke(app, [*config, "--lang", "en", "check", "--json"])
    german = runner.invoke(app, [*config, "--lang", "de", "check", "--json"])
    assert german.exit_code == english.exit_code == 1
    assert json.loads(german.stdout) == json.loads(english.stdout)
    assert any("must be at most" in p["message"] for p in json.loads(german.stdout))


def test_a_typed_date_error_is_german(workspace: Workspace, runner: CliRunner) -> None:
    result = runner.invoke(
        app,
        ["--config", str(workspace.config_file), "--lang", "de", "queue", "Infostand",
         "--sender", "soest", "--channel", "mastodon", "--at", "05/11/2021 10:00"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert (
        "--at: ungültige Zeit '05/11/2021 10:00': ein Datum mit Schrägstrichen ist mehrdeutig"
        in result.stderr
    )


def test_cancel_and_resolve_results_are_german(loaded: Workspace, runner: CliRunner) -> None:
    config = ["--config", str(loaded.config_file), "--lang", "de"]
    result = runner.invoke(app, [*config, "cancel", "soest/01-klima", "--as", "carla"])
    assert result.exit_code == 0, result.output
    assert "soest/01-klima auf soest-bluesky zurückgezogen" in result.stdout
    again = runner.invoke(app, [*config, "cancel", "soest/01-klima", "--as", "carla"])
    assert "soest/01-klima auf soest-bluesky bleibt zurückgezogen" in again.stdout
    unknown = runner.invoke(app, [*config, "cancel", "soest/01-klimx", "--as", "carla"])
    assert unknown.exit_code == 1
    assert "kein Beitrag 'soest/01-klimx'" in unknown.stderr
    assert "(meinten Sie 'soest/01-klima'?)" in unknown.stderr


def test_accounts_list_is_german_and_its_json_stays_english(
    workspace: Workspace, runner: CliRunner
) -> None:
    config = ["--config", str(workspace.config_file)]
    german = runner.invoke(app, [*config, "--lang", "de", "accounts", "list"])
    assert german.exit_code == 0, german.output
    olpe = next(line for line in german.stdout.splitlines() if line.startswith("olpe-mastodon"))
    assert "token aus env:" in olpe
    assert olpe.endswith("[Geheimnis fehlt: token]")
    english = runner.invoke(app, [*config, "--lang", "en", "accounts", "list", "--json"])
    german_json = runner.invoke(app, [*config, "--lang", "de", "accounts", "list", "--json"])
    assert json.loads(german_json.stdout) == json.loads(english.stdout)
    rows = {row["account"]: row for row in json.loads(german_json.stdout)}
    assert rows["olpe-mastodon"]["flags"] == ["secret missing: token"]
    unknown = runner.invoke(app, [*config, "--lang", "de", "accounts", "connect", "nope"])
    assert "kein Konto 'nope' in der Konfiguration" in unknown.output


def test_channels_verify_of_an_unknown_account_is_german(
    workspace: Workspace, runner: CliRunner
) -> None:
    result = runner.invoke(
        app,
        ["--config", str(workspace.config_file), "--lang", "de", "channels", "verify",
         "--account", "nope"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "kein Konto 'nope' in der Konfiguration" in result.stderr


def test_a_draft_problem_is_german_with_file_and_line(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-klima", channels=())
    config = ["--config", str(workspace.config_file)]
    german = runner.invoke(app, [*config, "--lang", "de", "check"])
    assert german.exit_code == 1
    assert "01-klima.md:3: 'channels' muss mindestens einen Kanal nennen" in german.stdout
    english = runner.invoke(app, [*config, "--lang", "en", "check", "--json"])
    german_json = runner.invoke(app, [*config, "--lang", "de", "check", "--json"])
    assert json.loads(german_json.stdout) == json.loads(english.stdout)
    assert any(
        p["message"] == "'channels' must name at least one channel"
        for p in json.loads(german_json.stdout)
    )


def test_load_json_is_the_same_in_every_language(workspace: Workspace, runner: CliRunner) -> None:
    workspace.draft("soest/01-klima")
    config = ["--config", str(workspace.config_file)]
    english = runner.invoke(app, [*config, "--lang", "en", "load", "--dry-run", "--json"])
    german = runner.invoke(app, [*config, "--lang", "de", "load", "--dry-run", "--json"])
    assert english.exit_code == german.exit_code == 0, german.output
    assert json.loads(german.stdout) == json.loads(english.stdout)


def test_an_unknown_key_is_german_with_a_suggestion(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.config_file.write_text(
        workspace.config_file.read_text("utf-8") + "\n[daemon]\nparalel = 2\n", "utf-8"
    )
    result = runner.invoke(app, ["--config", str(workspace.config_file), "--lang", "de", "check"])
    assert "unbekannter Schlüssel 'paralel' in [daemon] (meinten Sie 'parallel'?)" in result.stdout


def test_malformed_toml_is_german(workspace: Workspace, runner: CliRunner) -> None:
    workspace.draft("soest/01-klima", "+++\nat = \n+++\nText #5malklug\n")
    result = runner.invoke(app, ["--config", str(workspace.config_file), "--lang", "de", "check"])
    assert result.exit_code == 1
    assert "01-klima.md:2: fehlerhaftes TOML:" in result.stdout


def test_a_cached_draft_problem_is_still_said_in_the_users_language(
    workspace: Workspace, runner: CliRunner
) -> None:
    import os

    path = workspace.draft(
        "soest/01-klima", '+++\nat = "T-14d 09:30"\nchanels = ["mastodon"]\n+++\nText #5malklug\n'
    )
    os.utime(path, (1_600_000_000, 1_600_000_000))  # settled: the draft cache keeps it
    config = ["--config", str(workspace.config_file)]
    runner.invoke(app, [*config, "--lang", "en", "check"])
    cache = workspace.root / "campaign" / ".cache" / "drafts.json"
    entries = json.loads(cache.read_text("utf-8").partition("\n")[0])["drafts"]
    assert entries["soest/01-klima"]["problems"]
    german = runner.invoke(app, [*config, "--lang", "de", "check"])
    assert "unbekannter Schlüssel 'chanels'" in german.stdout, german.stdout
