"""The command line: exit codes, messages without tracebacks, and the installed console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from campaign_scheduler.cli import app
from conftest import Workspace

ROOT = Path(__file__).resolve().parents[1]


def invoke(runner: CliRunner, ws: Workspace, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(ws.config_file), *args])


def test_load_shows_the_change_and_plan_lists_it(workspace: Workspace, runner: CliRunner) -> None:
    workspace.draft("soest/01-klima")
    result = invoke(runner, workspace, "load", "--as", "anna")
    assert result.exit_code == 0, result.output
    assert "+ soest/01-klima  (2 deliveries: soest-bluesky, soest-mastodon)" in result.stdout
    assert "loaded: 1 new, 0 changed, 0 removed, 0 unchanged" in result.stderr

    result = invoke(runner, workspace, "plan", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["post"], r["account"], r["state"]) for r in rows] == [
        ("soest/01-klima", "soest-bluesky", "pending"),
        ("soest/01-klima", "soest-mastodon", "pending"),
    ]
    assert rows[0]["due_at"] == "2021-11-04T09:30:00+01:00"
    assert rows[0]["not_after"] == "2021-11-18T10:00:00+01:00"
    assert rows[0]["countdown"] == "T-14"
    assert rows[0]["channel"] == "bluesky" and rows[0]["sender"] == "soest"


def test_load_looks_up_the_language_once_for_all_its_lines(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # (looking the language up reads the environment: not once per post of 10,000)
    from campaign_scheduler import uilang

    calls: list[None] = []
    look_up = uilang.ui_language

    def counted(*args: object, **kwargs: object) -> str:
        calls.append(None)
        return look_up(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(uilang, "ui_language", counted)
    monkeypatch.setenv("CAMPAIGN_LANG", "de")
    workspace.draft("soest/01-klima")
    assert invoke(runner, workspace, "load").exit_code == 0
    workspace.draft("soest/02-wald", at="T-13d 10:30")
    calls.clear()
    assert invoke(runner, workspace, "load").exit_code == 0  # one new post, one unchanged
    one = len(calls)
    workspace.draft("soest/03-feld", at="T-12d 10:30")
    workspace.draft("soest/04-berg", at="T-11d 10:30")
    calls.clear()
    result = invoke(runner, workspace, "load")  # two new posts, two unchanged
    assert result.exit_code == 0, result.output
    assert "+ soest/04-berg  (2 Veröffentlichungen: soest-bluesky, soest-mastodon)" in result.stdout
    assert len(calls) == one


def test_plan_table_groups_by_day_with_countdown_labels(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-klima", at="T-14d 09:30")
    workspace.draft("soest/02-bald", at="T-13d 12:00", body="Bald #5malklug")
    invoke(runner, workspace, "load")
    result = invoke(runner, workspace, "plan")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Thu 4 Nov" in out and "T-14" in out
    assert "Fri 5 Nov" in out and "T-13" in out
    assert out.index("T-14") < out.index("01-klima") < out.index("T-13") < out.index("02-bald")


def test_load_dry_run_writes_nothing(workspace: Workspace, runner: CliRunner) -> None:
    workspace.draft("soest/01-klima")
    result = invoke(runner, workspace, "load", "--dry-run")
    assert result.exit_code == 0
    assert "dry run, nothing written: 1 new" in result.stderr
    result = invoke(runner, workspace, "plan")
    assert result.exit_code == 1
    assert "campaign 'testlauf' is not in the database yet" in result.stderr
    assert "hint: run 'campaign load' first" in result.stderr


def test_load_with_errors_is_refused_and_writes_nothing(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-klima")
    workspace.draft("soest/02-kaputt", channels=("mastodn",))
    result = invoke(runner, workspace, "load")
    assert result.exit_code == 1
    assert "unknown channel 'mastodn'" in result.stderr
    assert "load refused: 1 error in the campaign files; nothing was written" in result.stderr
    assert "Traceback" not in result.output
    assert not (workspace.root / "campaign.db").exists()  # refused before the database opens


def test_a_conflicting_load_exits_1_with_the_reason(
    workspace: Workspace, runner: CliRunner
) -> None:
    from sqlalchemy import select

    from campaign_scheduler.store.engine import open_store
    from campaign_scheduler.store.models import DeliveryRecord

    workspace.draft("soest/01-klima")
    invoke(runner, workspace, "load")
    store = open_store(workspace.database_url)
    with store.session(write=True) as session:
        for delivery in session.scalars(select(DeliveryRecord)):
            delivery.state = "published"
    store.dispose()
    workspace.draft("soest/01-klima", body="Anders #5malklug")
    result = invoke(runner, workspace, "load")
    assert result.exit_code == 1
    assert "error: load refused: it would change deliveries that are already out" in result.stderr
    assert "hint: " in result.stderr


def test_ics_export_has_one_event_per_post_and_the_conference(
    workspace: Workspace, runner: CliRunner, tmp_path: Path
) -> None:
    from icalendar import Calendar

    workspace.draft("soest/01-klima")
    workspace.draft(
        "olpe/01-hallo", channels=("mastodon",), at="T-10d 12:00", body="Olpe #5malklug"
    )
    invoke(runner, workspace, "load")
    target = tmp_path / "plan.ics"
    result = invoke(runner, workspace, "plan", "--ics", str(target))
    assert result.exit_code == 0, result.output
    calendar = Calendar.from_ical(target.read_bytes())
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert set(events) == {
        "soest/01-klima@testlauf.campaign-scheduler",
        "olpe/01-hallo@testlauf.campaign-scheduler",
        "event@testlauf.campaign-scheduler",
    }
    klima = events["soest/01-klima@testlauf.campaign-scheduler"]
    assert klima.decoded("dtstart").isoformat() == "2021-11-04T08:30:00+00:00"
    assert "soest-mastodon (mastodon): pending" in str(klima["description"])


def test_usage_errors_exit_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["plan", "--no-such-option"])
    assert result.exit_code == 2


def test_a_missing_config_file_is_reported_without_traceback(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "load"])
    assert result.exit_code == 1
    assert "error: config file" in result.stderr and "not found" in result.stderr
    assert "Traceback" not in result.output


def test_debug_switch_shows_the_exception(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.errors import ConfigError

    monkeypatch.setenv("CAMPAIGN_DEBUG", "1")
    result = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "load"])
    assert isinstance(result.exception, ConfigError)


def test_a_secret_value_never_reaches_the_output_or_the_database(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = "canary-7f3a9c-secret"
    monkeypatch.setenv("SOEST_MASTODON_TOKEN", canary)
    workspace.draft("soest/01-klima")
    outputs = [
        invoke(runner, workspace, *args).output
        for args in (["check"], ["check", "--json"], ["load"], ["plan", "--json"])
    ]
    assert all(canary not in out for out in outputs)
    assert canary.encode() not in (workspace.root / "campaign.db").read_bytes()


def test_help_lists_the_commands(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("check", "load", "plan"):
        assert command in result.stdout


def _console_script() -> str:
    script = Path(sys.executable).with_name("campaign")
    return str(script) if script.exists() else shutil.which("campaign") or "campaign"


def test_the_installed_console_script_checks_the_shipped_campaign() -> None:
    result = subprocess.run(
        [_console_script(), "--config", str(ROOT / "config.example.toml"), "check"],
        capture_output=True,
        check=False,
        text=True,
        # No link cards from the internet, and no cache written into the repository.
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_")},
            "CAMPAIGN_LINK_CARDS": "off",
        },
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stderr


def test_python_dash_m_runs_the_same_app() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "campaign_scheduler", "--version"],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert result.stdout.startswith("campaign-scheduler ")


#: Libraries and parts of the program that cost start-up time; a command loads only those it uses.
HEAVY = (
    "sqlalchemy",
    "alembic",
    "apscheduler",
    "requests",
    "psycopg",
    "babel",
    "holidays",
    "apprise",
    "PIL",
    "icalendar",
    "campaign_scheduler.reports",
    "campaign_scheduler.sandbox",
    "campaign_scheduler.rehearsal",
    "campaign_scheduler.publishing",
    "campaign_scheduler.metrics",
    "campaign_scheduler.alerts",
    # typer converts option values with it; options left out and plain values need none
    "pydantic",
)


def heavy_modules_loaded_by(*args: str, heavy: tuple[str, ...] = HEAVY) -> set[str]:
    """Run ``campaign ARGS`` in a fresh interpreter; the ``heavy`` modules it imported."""
    code = (
        "import sys\n"
        "from campaign_scheduler.cli import app\n"
        f"try:\n    app({list(args)!r})\nexcept SystemExit:\n    pass\n"
        f"heavy = {heavy!r}\n"
        "print('loaded:', *(h for h in heavy if h in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1].split()
    assert last[0] == "loaded:"
    return set(last[1:])


def test_help_and_version_import_none_of_the_heavy_modules() -> None:
    assert heavy_modules_loaded_by("--help") == set()
    assert heavy_modules_loaded_by("--version") == set()


def test_help_does_not_even_load_the_subcommands() -> None:
    code = (
        "import sys\n"
        "from campaign_scheduler.cli import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.endswith('_cmd')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("module", ["requests", "urllib3", "requests_oauthlib", "sqlalchemy"])
def test_check_reads_channel_specs_without_loading_http(module: str) -> None:
    """``check`` loads every configured channel class for its spec and text rule; those
    classes make no request, so nothing of the HTTP stack is imported."""
    config = Path(__file__).resolve().parents[1] / "config.example.toml"
    code = (
        "import sys\n"
        "from campaign_scheduler.cli import app\n"
        f"try:\n    app(['--config', {str(config)!r}, 'check'])\nexcept SystemExit:\n    pass\n"
        f"print({module!r} in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_the_help_summaries_are_the_commands_own() -> None:
    from campaign_scheduler.cli import COMMANDS, load_command

    for name, entry in COMMANDS.items():
        command = load_command(name)
        assert command.help is not None
        assert command.help.split("\n\n")[0] == entry.summary, name


def test_check_needs_no_database_and_no_network_library(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima")
    assert heavy_modules_loaded_by("--config", str(workspace.config_file), "check") == set()


@pytest.mark.parametrize("command", [["history"], ["plan"], ["plan", "--json"]])
def test_reading_commands_load_the_database_library_and_nothing_else(
    workspace: Workspace, runner: CliRunner, command: list[str]
) -> None:
    workspace.draft("soest/01-klima")
    assert invoke(runner, workspace, "load").exit_code == 0  # the database stands at head
    loaded = heavy_modules_loaded_by("--config", str(workspace.config_file), *command)
    # the plan table formats dates for the reader's language with Babel; JSON and history do
    # not format, and do not load it
    expected = {"babel"} if command == ["plan"] else set()
    assert loaded == {"sqlalchemy"} | expected


#: What ``status`` leaves alone besides HEAVY: SQLAlchemy's ORM (its reads are Core
#: statements), the record's ORM classes, the libraries the channels and accounts use (the
#: config reads each account's channel class for its spec; counting text needs ``regex``, not
#: reading a spec).
NOT_FOR_STATUS = (
    *HEAVY,
    "sqlalchemy.orm",
    "campaign_scheduler.store.models",
    "urllib3",
    "requests_oauthlib",
    "twitter_text",
    "keyring",
    "regex",
)


@pytest.mark.parametrize("command", [["status"], ["status", "--json"]])
def test_status_reads_with_core_and_loads_no_orm(
    workspace: Workspace, runner: CliRunner, command: list[str]
) -> None:
    """``campaign status`` is what a person (or a timer) runs most: it starts in not much more
    than the time it takes to import typer and SQLAlchemy's Core."""
    workspace.draft("soest/01-klima")
    assert invoke(runner, workspace, "load").exit_code == 0  # the database stands at head
    loaded = heavy_modules_loaded_by(
        "--config", str(workspace.config_file), *command, heavy=NOT_FOR_STATUS
    )
    # the text lists the counts for the reader's language with Babel; JSON does not format
    expected = {"babel"} if command == ["status"] else set()
    assert loaded == {"sqlalchemy"} | expected


def test_the_daemon_loads_neither_pydantic_nor_regex_while_nothing_is_due(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An idle daemon keeps what it imports (``run`` as the service unit starts it, without
    --workers or --worker-id): no option needs pydantic, no text is counted."""
    for name in ("SOEST_MASTODON_TOKEN", "SOEST_BLUESKY_PASSWORD", "OLPE_MASTODON_TOKEN"):
        monkeypatch.setenv(name, "secret")
    assert invoke(runner, workspace, "load").exit_code == 0
    loaded = heavy_modules_loaded_by(
        "--config", str(workspace.config_file), "run", "--once", heavy=("pydantic", "regex")
    )
    assert loaded == set()


def test_load_of_a_migrated_database_does_not_load_alembic(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-klima")
    assert invoke(runner, workspace, "load").exit_code == 0
    # (a draft of its own time: one at the same time would be refused before any database)
    workspace.draft("soest/02-bald", body="Bald #5malklug", at="T-10d 09:30")
    loaded = heavy_modules_loaded_by("--config", str(workspace.config_file), "load")
    assert loaded == {"sqlalchemy"}
