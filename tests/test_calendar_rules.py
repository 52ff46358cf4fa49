"""Calendar sense: quiet days (stille Feiertage) and public holidays of the campaign's region."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from typer.testing import CliRunner

from campaign_scheduler.calendar_rules import (
    QUIET_DAYS,
    DayKind,
    RegionCalendar,
    next_free_slot,
)
from campaign_scheduler.campaign import require_campaign
from campaign_scheduler.config import load_settings
from campaign_scheduler.problems import Severity
from campaign_scheduler.rules import check
from conftest import Workspace


def with_region(ws: Workspace, region: str = "DE-NW", rules: str = "") -> None:
    text = ws.campaign_file.read_text()
    text = text.replace('language = "de"\n', f'language = "de"\nregion = "{region}"\n')
    text = text.replace('grace = "2h"\n', f'grace = "2h"\n{rules}')
    ws.campaign_file.write_text(text)


def problems_of(ws: Workspace) -> list[str]:
    result = check(load_settings(ws.config_file))
    return [p.format(ws.root) for p in result.problems if p.path.name != "config.toml"]


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (
            2021,
            {
                date(2021, 4, 2): "Karfreitag",
                date(2021, 11, 1): "Allerheiligen",
                date(2021, 11, 14): "Volkstrauertag",
                date(2021, 11, 21): "Totensonntag",
            },
        ),
        (
            # 24 December on a Sunday: it is the fourth Advent, so the first is 3 December.
            2023,
            {
                date(2023, 4, 7): "Karfreitag",
                date(2023, 11, 1): "Allerheiligen",
                date(2023, 11, 19): "Volkstrauertag",
                date(2023, 11, 26): "Totensonntag",
            },
        ),
    ],
)
def test_nrw_quiet_days_follow_the_feiertagsgesetz(year: int, expected: dict[date, str]) -> None:
    calendar = RegionCalendar("DE-NW", "de")
    quiet = {
        d.day: d.name
        for d in calendar.days_between(date(year, 1, 1), date(year, 12, 31))
        if d.kind is DayKind.QUIET
    }
    assert quiet == expected
    assert QUIET_DAYS["DE-NW"].source == "§ 6 Feiertagsgesetz NW"


def test_public_holidays_come_from_the_holidays_library_in_german() -> None:
    calendar = RegionCalendar("DE-NW", "de")
    day = calendar.on(date(2021, 10, 3))
    assert day is not None and (day.name, day.kind) == (
        "Tag der Deutschen Einheit",
        DayKind.HOLIDAY,
    )
    assert calendar.on(date(2021, 11, 17)) is None  # Buß- und Bettag: a working day in NRW
    assert calendar.on(date(2021, 6, 3)) is not None  # Fronleichnam: a holiday in NRW
    assert RegionCalendar("DE-BE", "de").on(date(2021, 6, 3)) is None  # … but not in Berlin


def test_a_post_on_volkstrauertag_is_a_warning(workspace: Workspace) -> None:
    with_region(workspace)
    workspace.draft("soest/01-noch-4-tage", at="T-4d 11:00")  # Sunday, 14 November 2021
    assert problems_of(workspace) == [
        (
            "posts/soest/01-noch-4-tage.md:2: warning: due 2021-11-14 11:00 (Sun), on "
            "Volkstrauertag, a quiet day (stiller Feiertag, § 6 Feiertagsgesetz NW) in DE-NW; "
            'choose another day (rules.quiet_days = "warn")'
        )
    ]


def test_the_rule_can_refuse_quiet_days(workspace: Workspace) -> None:
    with_region(workspace, rules='quiet_days = "refuse"\n')
    workspace.draft("soest/01-noch-4-tage", at="T-4d 11:00")
    result = check(load_settings(workspace.config_file))
    [problem] = result.errors
    assert "Volkstrauertag" in problem.message and problem.severity is Severity.ERROR


def test_the_rule_can_ignore_quiet_days(workspace: Workspace) -> None:
    with_region(workspace, rules='quiet_days = "ignore"\n')
    workspace.draft("soest/01-noch-4-tage", at="T-4d 11:00")
    assert problems_of(workspace) == []


def test_public_holidays_have_their_own_rule(workspace: Workspace) -> None:
    with_region(workspace, rules='holidays = "refuse"\nquiet_days = "ignore"\n')
    text = workspace.campaign_file.read_text().replace(
        'starts = "2021-10-26"', 'starts = "2021-10-01"'
    )
    workspace.campaign_file.write_text(text)
    workspace.draft("soest/01-einheit", at="2021-10-03 11:00")
    workspace.draft("soest/02-allerheiligen", at="2021-11-01 11:00")  # quiet, ignored
    assert problems_of(workspace) == [
        (
            "posts/soest/01-einheit.md:2: due 2021-10-03 11:00 (Sun), on Tag der Deutschen "
            'Einheit, a public holiday in DE-NW; choose another day (rules.holidays = "refuse")'
        )
    ]


def test_without_a_region_every_day_is_alike(workspace: Workspace) -> None:
    workspace.draft("soest/01-noch-4-tage", at="T-4d 11:00")
    assert problems_of(workspace) == []


@pytest.mark.parametrize(
    ("region", "message"),
    [
        ("DE-XY", "region 'DE-XY': DE has no subdivision XY"),
        ("DE-NRW", "region 'DE-NRW': DE has no subdivision NRW (did you mean 'NW'?)"),
        ("Germany", "region 'Germany' must be an ISO 3166-2 code like \"DE-NW\""),
        ("QQ", "region 'QQ': the holidays library does not know QQ"),
    ],
)
def test_an_unknown_region_is_a_located_error(
    workspace: Workspace, region: str, message: str
) -> None:
    with_region(workspace, region)
    [problem] = problems_of(workspace)
    assert problem.startswith(f"campaign/testlauf.toml:7: {message}")


def test_an_unknown_rule_value_is_a_located_error(workspace: Workspace) -> None:
    with_region(workspace, rules='quiet_days = "sometimes"\n')
    assert problems_of(workspace) == [
        "campaign/testlauf.toml:19: rules.quiet_days must be one of 'warn', 'refuse', 'ignore'"
    ]


def test_next_free_slot_skips_quiet_days(workspace: Workspace) -> None:
    with_region(workspace)
    campaign = require_campaign(workspace.campaign_file)
    calendar = RegionCalendar("DE-NW", "de")
    saturday_evening = datetime(2021, 11, 13, 17, 0, tzinfo=UTC)  # windows closed until Sunday
    slot = next_free_slot(saturday_evening, campaign, calendar, [])
    assert slot == datetime(2021, 11, 15, 7, 0, tzinfo=UTC)  # Monday 08:00, not Volkstrauertag
    assert next_free_slot(saturday_evening, campaign, None, []) == datetime(
        2021, 11, 14, 9, 0, tzinfo=UTC
    )


def test_queue_next_slot_avoids_quiet_days(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.cli import app, posts_cmd

    with_region(workspace)
    monkeypatch.chdir(workspace.root)
    assert runner.invoke(app, ["--config", "config.toml", "load"]).exit_code == 0
    monkeypatch.setattr(posts_cmd, "utcnow", lambda: datetime(2021, 11, 13, 17, 0, tzinfo=UTC))
    result = runner.invoke(
        app,
        [
            "--config",
            "config.toml",
            "queue",
            "Gleich geht's los #5malklug",
            "--sender",
            "soest",
            "--channel",
            "mastodon",
            "--next-slot",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["due_at"] == "2021-11-15T08:00:00+01:00"


def test_queue_at_a_quiet_day_warns_or_refuses(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.cli import app, posts_cmd

    with_region(workspace)
    monkeypatch.chdir(workspace.root)
    assert runner.invoke(app, ["--config", "config.toml", "load"]).exit_code == 0
    monkeypatch.setattr(posts_cmd, "utcnow", lambda: datetime(2021, 11, 1, 17, 0, tzinfo=UTC))
    args = ["--config", "config.toml", "queue", "Heute #5malklug", "--sender", "soest"]
    args += ["--channel", "mastodon", "--at", "2021-11-14 11:00"]
    warned = runner.invoke(app, args)
    assert warned.exit_code == 0, warned.output
    assert "warning: Sun 14 Nov 2021, 11:00 is on Volkstrauertag, a quiet day" in warned.stderr

    text = workspace.campaign_file.read_text().replace(
        'grace = "2h"\n', 'grace = "2h"\nquiet_days = "refuse"\n'
    )
    workspace.campaign_file.write_text(text)
    refused = runner.invoke(app, [*args[:-1], "2021-11-14 12:00"])
    assert refused.exit_code == 1
    assert "not queued: Sun 14 Nov 2021, 12:00 is on Volkstrauertag" in refused.stderr


def test_plan_marks_quiet_days_in_the_table_and_the_json(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.cli import app

    with_region(workspace)
    workspace.draft("soest/01-noch-4-tage", at="T-4d 11:00")  # Volkstrauertag
    workspace.draft("soest/02-noch-3-tage", at="T-3d 11:00")
    monkeypatch.chdir(workspace.root)
    assert runner.invoke(app, ["--config", "config.toml", "load"]).exit_code == 0
    rows = json.loads(runner.invoke(app, ["--config", "config.toml", "plan", "--json"]).stdout)
    marks = {(r["post"], r["account"]): r["special_day"] for r in rows}
    assert marks[("soest/01-noch-4-tage", "soest-mastodon")] == {
        "name": "Volkstrauertag",
        "kind": "quiet_day",
        "source": "§ 6 Feiertagsgesetz NW",
    }
    assert marks[("soest/02-noch-3-tage", "soest-mastodon")] is None
    monkeypatch.setenv("COLUMNS", "160")
    table = runner.invoke(app, ["--config", "config.toml", "plan"]).stdout
    sunday = table.index("Sun 14 Nov")
    assert "Volkstrauertag (quiet day)" in table[sunday : table.index("Mon 15 Nov")]
    german = runner.invoke(app, ["--config", "config.toml", "--lang", "de", "plan"]).stdout
    sunday = german.index("So., 14. Nov.")
    assert "Volkstrauertag (stiller Feiertag)" in german[sunday : german.index("Mo., 15. Nov.")]


def test_reschedule_onto_a_quiet_day_warns_or_refuses(
    workspace: Workspace, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from campaign_scheduler.cli import app

    with_region(workspace)
    workspace.draft("soest/01-klima", at="T-3d 11:00")
    monkeypatch.chdir(workspace.root)
    assert runner.invoke(app, ["--config", "config.toml", "load"]).exit_code == 0
    args = ["--config", "config.toml", "reschedule", "soest/01-klima", "--at"]
    warned = runner.invoke(app, [*args, "2021-11-14 11:00"])
    assert warned.exit_code == 0, warned.output
    assert "warning: Sun 14 Nov 2021, 11:00 is on Volkstrauertag, a quiet day" in warned.stderr

    text = workspace.campaign_file.read_text().replace(
        'grace = "2h"\n', 'grace = "2h"\nquiet_days = "refuse"\n'
    )
    workspace.campaign_file.write_text(text)
    refused = runner.invoke(app, [*args, "2021-11-14 12:00"])
    assert refused.exit_code == 1
    assert "not moved: Sun 14 Nov 2021, 12:00 is on Volkstrauertag" in refused.stderr
    plan = json.loads(runner.invoke(app, ["--config", "config.toml", "plan", "--json"]).stdout)
    assert {row["due_at"] for row in plan} == {"2021-11-14T11:00:00+01:00"}
