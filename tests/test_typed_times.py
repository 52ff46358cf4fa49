"""Times as German communications staff type them on the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from campaign_scheduler.cli import app
from campaign_scheduler.timeutil import WhenError, format_local, parse_typed_date, parse_typed_when
from conftest import Workspace

BERLIN = ZoneInfo("Europe/Berlin")
# Monday, 7 December 2026, 14:00 in Berlin.
NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
EVENT = datetime(2021, 11, 18, 9, 0, tzinfo=UTC)
# The #5malklug campaign: 26 Oct 2021 to the end of 18 Nov 2021, Berlin time.
PERIOD = (datetime(2021, 10, 25, 22, 0, tzinfo=UTC), datetime(2021, 11, 18, 23, 0, tzinfo=UTC))


def typed(text: str, period: tuple[datetime | None, datetime | None] = PERIOD) -> str:
    instant = parse_typed_when(text, zone=BERLIN, event_start=EVENT, now=NOW, period=period)
    return format_local(instant, BERLIN)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18.11.2021 10:00", "2021-11-18 10:00"),
        ("18.11.2021, 10 Uhr", "2021-11-18 10:00"),
        ("4.11.21 9:30", "2021-11-04 09:30"),
        ("18.11.2021 10.30 Uhr", "2021-11-18 10:30"),
        ("Do, 18.11.2021 10:00", "2021-11-18 10:00"),
        ("18.11. 10:00", "2021-11-18 10:00"),  # the campaign's 18 November
        ("morgen 9:30", "2026-12-08 09:30"),
        ("Morgen um 9:30 Uhr", "2026-12-08 09:30"),
        ("übermorgen 14:00", "2026-12-09 14:00"),
        ("heute 18:00", "2026-12-07 18:00"),
        ("Do 10:00", "2026-12-10 10:00"),
        ("Mo 15:00", "2026-12-07 15:00"),  # today, still ahead
        ("Mo 13:00", "2026-12-14 13:00"),  # today's is gone: next week
        ("Donnerstag 10:00", "2026-12-10 10:00"),
        ("in 2 Stunden", "2026-12-07 16:00"),
        ("in 30 Minuten", "2026-12-07 14:30"),
        ("in 3 Tagen", "2026-12-10 14:00"),
        ("2021-11-04 09:30", "2021-11-04 09:30"),
        ("T-2h", "2021-11-18 08:00"),
    ],
)
def test_german_forms(text: str, expected: str) -> None:
    assert typed(text) == expected


def test_a_date_without_year_outside_any_campaign_is_its_next_occurrence() -> None:
    assert typed("18.11. 10:00", period=(None, None)) == "2027-11-18 10:00"
    assert typed("24.12. 10:00", period=(None, None)) == "2026-12-24 10:00"
    assert typed("29.02. 10:00", period=(None, None)) == "2028-02-29 10:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("05/01/2027 10:00", "a date with slashes is ambiguous (5 January or 1 May?)"),
        ("05/01/2027", "write the day first with dots, e.g. '05.01.2027 10:00'"),
        ("übermorgen", "no time of day given; add one, e.g. 'übermorgen 09:30'"),
        ("18.11.2021", "no time of day given"),
        ("Fr, 18.11.2021 10:00", "18.11.2021 is a Do, not a Fr"),
        ("31.02.2022 10:00", "31.2.2022 is not a date"),
        ("morgen 25:00", "25:00 is not a time of day"),
        ("in 2 Jahren", "unknown unit 'Jahren'"),
        ("gestern", "write e.g. '18.11.2021 10:00'"),
    ],
)
def test_unclear_forms_are_refused_with_a_hint(text: str, message: str) -> None:
    with pytest.raises(WhenError, match=None) as caught:
        typed(text)
    assert message in str(caught.value)


def test_typed_dates() -> None:
    assert parse_typed_date("26.10.2022").isoformat() == "2022-10-26"
    assert parse_typed_date("2022-10-26").isoformat() == "2022-10-26"
    with pytest.raises(WhenError, match="day first with dots"):
        parse_typed_date("10/26/2022")


# --- through the command line, with the clock fixed at NOW ---------------------------------------


@pytest.fixture
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    from campaign_scheduler.cli import common, posts_cmd

    monkeypatch.setattr(common, "utcnow", lambda: NOW)
    monkeypatch.setattr(posts_cmd, "utcnow", lambda: NOW)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    return NOW


def invoke(runner: CliRunner, ws: Workspace, *args: str) -> Result:
    return runner.invoke(app, ["--config", str(ws.config_file), *args])


def queue_at(runner: CliRunner, ws: Workspace, *when: str) -> Result:
    assert invoke(runner, ws, "load").exit_code == 0
    return invoke(
        runner, ws, "queue", "Infostand #5malklug", "--sender", "soest",
        "--channel", "mastodon", "--json", *when,
    )  # fmt: skip


def test_queue_refuses_a_date_with_slashes(
    workspace: Workspace, runner: CliRunner, fixed_now: datetime
) -> None:
    result = queue_at(runner, workspace, "--at", "05/11/2021 10:00")
    assert result.exit_code == 2
    assert "--at: bad time '05/11/2021 10:00': a date with slashes is ambiguous" in result.stderr


def test_queue_takes_a_german_date_and_warns_that_it_is_past(
    workspace: Workspace, runner: CliRunner, fixed_now: datetime
) -> None:
    result = queue_at(runner, workspace, "--at", "10.11. 12:00")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["due_at"] == "2021-11-10T12:00:00+01:00"
    assert "warning: --at: Wed 10 Nov 2021, 12:00 is in the past (now: Mon 7 Dec 2026, 14:00)" in (
        result.stderr
    )


def test_queue_warns_about_a_time_after_the_campaign(
    workspace: Workspace, runner: CliRunner, fixed_now: datetime
) -> None:
    result = queue_at(runner, workspace, "--at", "06.12.2021 12:00", "--not-after", "T+20d")
    assert result.exit_code == 0, result.output
    assert (
        "--at: Mon 6 Dec 2021, 12:00 is after the campaign ends (Fri 3 Dec 2021, 00:00)"
        in result.stderr
    )


def test_queue_warns_in_german(
    workspace: Workspace, runner: CliRunner, fixed_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    result = queue_at(runner, workspace, "--at", "10.11.2021 12:00")
    assert result.exit_code == 0, result.output
    assert (
        "Warnung: --at: Mi., 10. Nov. 2021, 12:00 Uhr liegt in der Vergangenheit" in result.stderr
    )


def test_next_slot_never_chooses_a_day_after_the_campaign(
    workspace: Workspace, runner: CliRunner, fixed_now: datetime
) -> None:
    result = queue_at(runner, workspace, "--next-slot")
    assert result.exit_code == 1
    assert (
        "no free slot before the campaign ends (Fri 3 Dec 2021, 00:00); choose a time with --at"
        in (result.stderr)
    )


def test_reschedule_warns_about_a_past_time(
    workspace: Workspace, runner: CliRunner, fixed_now: datetime
) -> None:
    workspace.draft("soest/01-klima")
    assert invoke(runner, workspace, "load").exit_code == 0
    result = invoke(runner, workspace, "reschedule", "soest/01-klima", "--at", "Fr, 5.11. 10:15")
    assert result.exit_code == 0, result.output
    assert "--at: Fri 5 Nov 2021, 10:15 is in the past" in result.stderr
    rows = json.loads(invoke(runner, workspace, "plan", "--json").stdout)
    assert {r["due_at"] for r in rows} == {"2021-11-05T10:15:00+01:00"}


# --- dates shown: the year when it is not this one; logs in ISO 8601 with offset -----------------


def test_plan_shows_the_year_of_a_campaign_in_another_year(
    workspace: Workspace, runner: CliRunner
) -> None:
    workspace.draft("soest/01-klima", at="T-14d 09:30")
    assert invoke(runner, workspace, "load").exit_code == 0
    result = invoke(runner, workspace, "plan")
    assert result.exit_code == 0, result.output
    assert "Thu 4 Nov 2021" in result.stdout


@pytest.mark.parametrize("as_json", [False, True])
def test_daemon_log_lines_carry_iso_timestamps_with_offset(
    as_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    import logging
    import re

    from campaign_scheduler.cli.run_cmd import _setup_logging

    _setup_logging(as_json, verbose=False)
    try:
        logging.getLogger("campaign_scheduler.test").info("published soest/01-klima")
    finally:
        logging.getLogger("campaign_scheduler").handlers.clear()
    line = capsys.readouterr().err.strip()
    stamp = json.loads(line)["time"] if as_json else line.split(" ", 1)[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", stamp), line
