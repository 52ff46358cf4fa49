"""``campaign init``: a guided start, asked interactively or given as options."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from campaign_scheduler.campaign import require_campaign
from campaign_scheduler.cli import app

ROOT = Path(__file__).resolve().parents[1]

NEW_CAMPAIGN = [
    "init", "neu", "--no-input",
    "--name", "Digitaltag Sauerland", "--hashtag", "digisauer",
    "--event-name", "Digitaltag 2027", "--event-start", "5.6.2027 10:00", "--event-end", "16:00",
    "--url", "https://example.org/digitaltag", "--starts", "01.05.2027",
    "--sender", "Stadt Soest", "--sender", "Kreisstadt Olpe", "--network", "mastodon",
    "--approval",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")


def run(runner: CliRunner, *args: str, input: str | None = None) -> Result:
    return runner.invoke(app, list(args), input=input)


def test_init_with_options_writes_a_campaign_that_checks_clean(
    tmp_path: Path, runner: CliRunner
) -> None:
    result = run(runner, *NEW_CAMPAIGN)
    assert result.exit_code == 0, result.output
    folder = tmp_path / "neu"
    campaign = require_campaign(folder / "campaign" / "digisauer.toml")
    assert campaign.name == "Digitaltag Sauerland"
    assert campaign.hashtag == "#digisauer"
    assert campaign.event.start.isoformat() == "2027-06-05T08:00:00+00:00"
    assert campaign.event.end is not None
    assert campaign.event.end.isoformat() == "2027-06-05T14:00:00+00:00"
    assert campaign.starts is not None and campaign.starts.isoformat() == "2027-05-01"
    assert [(s.slug, s.name) for s in campaign.senders] == [
        ("soest", "Stadt Soest"),
        ("olpe", "Kreisstadt Olpe"),
    ]
    assert campaign.rules.require_approval
    config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    assert config["paths"] == {"campaign": "campaign/digisauer.toml", "posts": "posts"}
    assert "# [accounts.soest-mastodon]" in (folder / "config.toml").read_text(encoding="utf-8")
    assert (folder / "posts" / "soest").is_dir() and (folder / "posts" / "olpe").is_dir()
    assert "wrote" in result.stderr and "campaign check" in result.stderr

    checked = runner.invoke(app, ["--config", str(folder / "config.toml"), "check"])
    assert checked.exit_code == 0, checked.output
    assert "0 errors, 0 warnings in 0 drafts" in checked.stderr


def test_init_asks_in_german_and_asks_again_after_a_bad_answer(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    answers = [
        "Digitaltag Sauerland",  # name
        "#digisauer",  # hashtag
        "",  # short name: take the suggestion
        "",  # event name: the campaign's
        "05/06/2027 10:00",  # ambiguous: asked again
        "05.06.2027 10:00",
        "16:00",
        "",  # no web address
        "",  # no first day
        "Stadt Soest, hsk=Hochsauerlandkreis",
        "vielleicht",  # neither yes nor no: asked again
        "nein",
        "mastodon, facebok",  # typo: asked again
        "mastodon, facebook",
    ]
    result = run(runner, "init", "neu", input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert "Beginn der Veranstaltung" in result.output
    assert "ein Datum mit Schrägstrichen ist mehrdeutig" in result.output
    assert "Bitte j oder n eingeben" in result.output
    assert "meinten Sie 'facebook'?" in result.output
    assert "Nächste Schritte" in result.stderr
    campaign = require_campaign(tmp_path / "neu" / "campaign" / "digisauer.toml")
    assert campaign.event.start.isoformat() == "2027-06-05T08:00:00+00:00"
    assert campaign.event.url is None and campaign.starts is None
    assert [s.slug for s in campaign.senders] == ["soest", "hsk"]
    assert not campaign.rules.require_approval
    config = (tmp_path / "neu" / "config.toml").read_text(encoding="utf-8")
    assert "# [accounts.hsk-facebook]" in config


def test_init_without_a_terminal_names_the_missing_option(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    result = run(runner, "init", "neu", "--no-input", "--name", "X")
    assert result.exit_code == 2
    assert "--event-start is needed when there is no terminal to ask in" in result.stderr
    assert not (tmp_path / "neu").exists()


def test_init_never_overwrites_without_force(tmp_path: Path, runner: CliRunner) -> None:
    (tmp_path / "neu").mkdir()
    (tmp_path / "neu" / "config.toml").write_text("# mine\n", encoding="utf-8")
    result = run(runner, *NEW_CAMPAIGN)
    assert result.exit_code == 2
    assert "already exists; pass --force" in result.stderr
    assert (tmp_path / "neu" / "config.toml").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "neu" / "campaign").exists()  # nothing half-written
    assert run(runner, *NEW_CAMPAIGN, "--force").exit_code == 0


def test_next_years_conference_from_the_shipped_campaign(tmp_path: Path, runner: CliRunner) -> None:
    result = run(
        runner, "init", "2022", "--no-input", "--from", str(ROOT / "campaign" / "5malklug.toml"),
        "--from-config", str(ROOT / "config.example.toml"), "--event-start", "17.11.2022 10:00",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    folder = tmp_path / "2022"
    text = (folder / "campaign" / "5malklug-2022.toml").read_text(encoding="utf-8")
    # The template's comments and rules stay; the dates move with the event (364 days).
    assert 'start = "2022-11-17T10:00"        # T-0; drafts use times relative' in text
    assert 'starts = "2022-10-25"' in text
    assert "windows = [                       # publishing hours" in text
    campaign = require_campaign(folder / "campaign" / "5malklug-2022.toml")
    assert campaign.slug == "5malklug-2022"
    assert campaign.event.end is not None
    assert campaign.event.end.astimezone(campaign.zone).isoformat() == "2022-11-17T16:00:00+01:00"
    assert len(campaign.senders) == 6
    drafts = sorted((folder / "posts").rglob("*.md"))
    assert len(drafts) == len(list((ROOT / "posts").rglob("*.md")))
    assert "copied" in result.stderr
    config = tomllib.loads((folder / "config.toml").read_text(encoding="utf-8"))
    assert config["paths"]["campaign"] == "campaign/5malklug-2022.toml"

    checked = runner.invoke(app, ["--config", str(folder / "config.toml"), "check", "--json"])
    assert checked.exit_code == 0, checked.output
    assert '"severity": "error"' not in checked.stdout


def test_a_template_for_another_municipality_takes_new_senders(
    tmp_path: Path, runner: CliRunner
) -> None:
    result = run(
        runner, "init", "brilon", "--no-input", "--from", str(ROOT / "campaign" / "5malklug.toml"),
        "--event-start", "18.11.2021 10:00", "--slug", "brilon-digital",
        "--name", "Brilon digital", "--hashtag", "#brilondigital", "--sender", "Stadt Brilon",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    campaign = require_campaign(tmp_path / "brilon" / "campaign" / "brilon-digital.toml")
    assert [(s.slug, s.name) for s in campaign.senders] == [("brilon", "Stadt Brilon")]
    assert campaign.hashtag == "#brilondigital"
    assert campaign.starts is not None and campaign.starts.isoformat() == "2021-10-26"
    assert list((tmp_path / "brilon" / "posts").rglob("*.md")) == []


def test_a_copy_keeps_the_templates_rules(tmp_path: Path, runner: CliRunner) -> None:
    result = run(
        runner, "init", "x", "--no-input", "--from", str(ROOT / "campaign" / "5malklug.toml"),
        "--event-start", "17.11.2022 10:00", "--approval",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "keeps the template's rules" in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # replaced in place
        (
            '[paths]\ncampaign = "old.toml"\n[db]\nurl = "x"\n',
            '[paths]\ncampaign = "new.toml"\n[db]\nurl = "x"\n',
        ),
        # added at the end of [paths], before the next table
        (
            '[paths]\nposts = "p"\n[db]\nx = 1\n',
            '[paths]\nposts = "p"\ncampaign = "new.toml"\n[db]\nx = 1\n',
        ),
        # added at the end of [paths] when it is the last table
        (
            '[db]\nx = 1\n[paths]\nposts = "p"\n',
            '[db]\nx = 1\n[paths]\nposts = "p"\ncampaign = "new.toml"\n',
        ),
        # a [paths] table of its own when there is none; a key of that name elsewhere is kept
        (
            "campaign = 1\n[db]\ncampaign = 2\n",
            'campaign = 1\n[db]\ncampaign = 2\n\n[paths]\ncampaign = "new.toml"\n',
        ),
    ],
)
def test_config_from_template_points_at_the_new_campaign(source: str, expected: str) -> None:
    from campaign_scheduler.scaffold import config_from_template

    assert config_from_template(source, "new.toml") == expected
