"""Placeholders: drafts that survive a new event date, rendered in the post's language."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest

from campaign_scheduler.config import load_settings
from campaign_scheduler.drafts import load_drafts
from campaign_scheduler.planning import intended_deliveries
from campaign_scheduler.problems import Severity
from campaign_scheduler.rules import check
from conftest import Workspace, draft_text


def rendered(ws: Workspace, key: str = "soest/01-countdown") -> str:
    result = check(load_settings(ws.config_file))
    [draft] = [d for d in result.drafts if d.key == key]
    return draft.body


def errors_of(ws: Workspace) -> list[str]:
    result = check(load_settings(ws.config_file))
    return [p.format(ws.root) for p in result.problems if p.severity is Severity.ERROR]


def move_event(ws: Workspace, start: str, end: str) -> None:
    text = ws.campaign_file.read_text()
    text = text.replace('start = "2021-11-18T10:00"', f'start = "{start}"')
    text = text.replace('end = "2021-11-18T16:00"', f'end = "{end}"')
    ws.campaign_file.write_text(text)


def test_event_placeholders_are_rendered_in_german(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-countdown",
        body=(
            "{sender.name} ist dabei: {event.name} am {event.weekday}, {event.day} "
            "({event.date}), {event.time}–{event.end_time} Uhr. {event.url} {hashtag}"
        ),
    )
    assert rendered(workspace) == (
        "Stadt Soest ist dabei: Smart Cities: Konferenz am Donnerstag, 18. November "
        "(18. November 2021), 10:00–16:00 Uhr. "
        "https://smartcities-suedwestfalen.com/konferenz/ #5malklug"
    )


def test_days_left_and_countdown_follow_the_post_s_day(workspace: Workspace) -> None:
    for at, key in [("T-3d 09:00", "03"), ("T-2d 09:00", "02"), ("T-1d 09:00", "01")]:
        workspace.draft(
            f"soest/{key}", body="Noch {days_left} Tage, also {countdown}: #5malklug", at=at
        )
    workspace.draft("soest/00", body="{countdown} ist es so weit #5malklug", at="T-2h")
    workspace.draft(
        "soest/99",
        body="Danke! Die Konferenz war {countdown}. #5malklug",
        at="T+1d 12:00",
        extra='not_after = "T+1d 18:00"\n',
    )
    settings = load_settings(workspace.config_file)
    result = check(settings)
    bodies = {d.key: d.body for d in result.drafts}
    assert bodies["soest/03"] == "Noch 3 Tage, also in 3 Tagen: #5malklug"
    assert bodies["soest/02"] == "Noch 2 Tage, also übermorgen: #5malklug"
    assert bodies["soest/01"] == "Noch 1 Tage, also morgen: #5malklug"
    assert bodies["soest/00"] == "heute ist es so weit #5malklug"
    assert bodies["soest/99"] == "Danke! Die Konferenz war gestern. #5malklug"


def test_the_post_s_language_chooses_the_words(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-countdown",
        body="See you on {event.weekday}, {event.day}, {countdown}! #5malklug",
        at="T-3d 09:00",
        extra='language = "en"\n',
    )
    assert rendered(workspace) == "See you on Thursday, November 18, in 3 days! #5malklug"


def test_moving_the_event_moves_the_whole_campaign_text_included(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-countdown",
        body="Noch {days_left} Tage bis {event.weekday}, {event.day}! #5malklug",
        at="T-3d 09:00",
        extra='[[media]]\npath = "bild.png"\nalt = "Plakat: {event.day}, {event.name}"\n',
    )
    (workspace.root / "posts" / "soest" / "bild.png").write_bytes(b"\x89PNG\r\n")
    settings = load_settings(workspace.config_file)
    before = {d.account.name: d for d in intended_deliveries(check(settings).drafts, settings)}

    move_event(workspace, "2022-11-17T10:00", "2022-11-17T16:00")
    result = check(load_settings(workspace.config_file))
    assert result.errors == []
    [draft] = result.drafts
    assert draft.due_at == datetime(2022, 11, 14, 8, 0, tzinfo=UTC)  # Monday, 09:00 CET
    assert draft.body == "Noch 3 Tage bis Donnerstag, 17. November! #5malklug"
    assert draft.media[0].alt == "Plakat: 17. November, Smart Cities: Konferenz"
    after = {d.account.name: d for d in intended_deliveries(result.drafts, settings)}
    for name, delivery in after.items():
        assert delivery.text == draft.body
        assert delivery.content_hash != before[name].content_hash


def test_a_changed_rendering_changes_the_post_hash_that_approval_covers(
    workspace: Workspace,
) -> None:
    from campaign_scheduler.planning import post_hash

    workspace.draft("soest/01-countdown", body="Heute: {event.name} #5malklug")
    [draft] = check(load_settings(workspace.config_file)).drafts
    text = workspace.campaign_file.read_text().replace(
        'name = "Smart Cities: Konferenz"', 'name = "Smart Cities: Konferenz 2021"'
    )
    workspace.campaign_file.write_text(text)
    [renamed] = check(load_settings(workspace.config_file)).drafts
    # The draft file and its time are the same; only the rendered text differs. The post's
    # content hash must still change, so that `load` withdraws an approval.
    assert renamed.due_at == draft.due_at
    assert renamed.body == "Heute: Smart Cities: Konferenz 2021 #5malklug"
    assert post_hash(renamed, []) != post_hash(draft, [])


def test_length_is_counted_after_rendering(workspace: Workspace) -> None:
    # 12 characters as written, 300+ once rendered: Bluesky's 300-grapheme limit applies.
    text = workspace.campaign_file.read_text().replace(
        'name = "Smart Cities: Konferenz"', f'name = "{"Konferenz " * 35}"'
    )
    workspace.campaign_file.write_text(text)
    workspace.draft("soest/01-countdown", body="{event.name} #5malklug", channels=("bluesky",))
    [error] = errors_of(workspace)
    assert error.startswith("posts/soest/01-countdown.md:5: ")
    assert "300" in error


def test_unknown_placeholder_is_a_located_error_with_a_suggestion(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-countdown",
        body="Erste Zeile #5malklug\nzweite Zeile\nAm {event.datum} geht es los.",
    )
    [error] = errors_of(workspace)
    assert error.startswith(
        "posts/soest/01-countdown.md:7: unknown placeholder {event.datum} "
        "(did you mean 'event.date'?)"
    )


def test_unknown_placeholder_in_a_variant_or_alt_text_names_that_line(
    workspace: Workspace,
) -> None:
    (workspace.root / "posts" / "soest" / "bild.png").write_bytes(b"\x89PNG\r\n")
    workspace.draft(
        "soest/01-countdown",
        extra=(
            '[[media]]\npath = "bild.png"\nalt = "Plakat {ort}"\n'
            '[variants.bluesky]\ntext = "Kurz: {zeit} #5malklug"\n'
        ),
    )
    errors = errors_of(workspace)
    assert [e.split(": ")[0] for e in errors] == [
        "posts/soest/01-countdown.md:6",
        "posts/soest/01-countdown.md:8",
    ]
    assert "unknown placeholder {ort}" in errors[0]
    assert "unknown placeholder {zeit}" in errors[1]


def test_doubled_braces_are_literal_and_a_lone_brace_is_an_error(workspace: Workspace) -> None:
    workspace.draft("soest/01-countdown", body="Mengenlehre: {{1, 2}} und {event.year} #5malklug")
    workspace.draft("soest/02-kaputt", body="Ein {Tippfehler #5malklug", at="T-13d 09:30")
    result = check(load_settings(workspace.config_file))
    bodies = {d.key: d.body for d in result.drafts}
    assert bodies["soest/01-countdown"] == "Mengenlehre: {1, 2} und 2021 #5malklug"
    [error] = [p.format(workspace.root) for p in result.errors]
    assert error.startswith("posts/soest/02-kaputt.md:5: a lone '{': write '{{'")


def test_days_left_after_the_event_is_an_error(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-countdown",
        body="Noch {days_left} Tage #5malklug",
        at="T+1d 12:00",
        extra='not_after = "T+1d 18:00"\n',
    )
    [error] = errors_of(workspace)
    assert "{days_left}: the post is due 1 day after the event's day" in error
    assert error.startswith("posts/soest/01-countdown.md:6:")


def test_missing_event_url_is_named(workspace: Workspace) -> None:
    text = workspace.campaign_file.read_text().replace(
        'url = "https://smartcities-suedwestfalen.com/konferenz/"\n', ""
    )
    workspace.campaign_file.write_text(text)
    workspace.draft("soest/01-countdown", body="Mehr: {event.url} #5malklug")
    [error] = errors_of(workspace)
    assert "{event.url}: the campaign's [event] has no 'url'" in error


def test_drafts_without_placeholders_do_not_import_babel(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace.draft("soest/01-countdown", body=draft_text().split("+++\n")[-1].strip())
    for name in [m for m in sys.modules if m == "babel" or m.startswith("babel.")]:
        monkeypatch.delitem(sys.modules, name)  # put back after the test
    load_drafts(workspace.root / "posts", None)
    settings = load_settings(workspace.config_file)
    check(settings)
    assert "babel" not in sys.modules


@pytest.mark.parametrize("language", ["xx", "de-XX-bogus-thing"])
def test_unknown_language_for_formatting_is_a_located_error(
    workspace: Workspace, language: str
) -> None:
    workspace.draft(
        "soest/01-countdown", body="Am {event.day} #5malklug", extra=f'language = "{language}"\n'
    )
    errors = errors_of(workspace)
    assert any("unknown to the date formatting" in e for e in errors)


def test_queue_renders_placeholders_for_its_time(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from typer.testing import CliRunner

    from campaign_scheduler.cli import app

    runner = CliRunner()
    monkeypatch.chdir(workspace.root)
    assert runner.invoke(app, ["--config", "config.toml", "load"]).exit_code == 0
    args = ["--config", "config.toml", "queue", "--sender", "soest", "--channel", "mastodon"]
    queued = runner.invoke(
        app, [*args, "--at", "2021-11-17 10:00", "{sender.name}: {countdown}! {hashtag}"]
    )
    assert queued.exit_code == 0, queued.output
    plan = json.loads(runner.invoke(app, ["--config", "config.toml", "plan", "--json"]).stdout)
    assert [row["text"] for row in plan] == ["Stadt Soest: morgen! #5malklug"]

    refused = runner.invoke(app, [*args, "--at", "2021-11-16 10:00", "{event.datum} #5malklug"])
    assert refused.exit_code == 1
    assert "not queued: unknown placeholder {event.datum}" in refused.stderr
