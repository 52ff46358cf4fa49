"""``campaign check`` and ``load`` in German: every family of problem (campaign file, rules,
calendar, content checks, placeholders, media) is said in the user's language, while
``check --json`` and ``str(exc)`` stay English."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from campaign_scheduler import uilang
from campaign_scheduler.cli import app
from conftest import Workspace, draft_text


def _run(workspace: Workspace, runner: CliRunner, lang: str, *command: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(workspace.config_file), "--lang", lang, *command])
    return result.exit_code, result.stdout + result.stderr


# --- the campaign file ----------------------------------------------------------------------


@pytest.fixture
def broken_campaign(workspace: Workspace) -> Workspace:
    text = workspace.campaign_file.read_text("utf-8")
    text = text.replace('hashtag = "#5malklug"', 'hashtag = "5malklug"')
    text = text.replace('starts = "2021-10-26"', 'starts = "2021-12-01"\nends = "bald"')
    text = text.replace('grace = "2h"', 'grace = "2h"\nquiet_days = "maybe"')
    text += '\n[[senders]]\nslug = "soest"\n'
    workspace.campaign_file.write_text(text, "utf-8")
    return workspace


def test_campaign_file_problems_are_german(broken_campaign: Workspace, runner: CliRunner) -> None:
    code, out = _run(broken_campaign, runner, "de", "check")
    assert code == 1
    assert "testlauf.toml:4: der Hashtag '5malklug' muss wie '#tag' aussehen" in out
    assert "'starts' der Kampagne liegt nach der Veranstaltung" in out
    assert "'ends' muss ein Datum wie \"2021-10-26\" sein" in out
    assert "rules.quiet_days muss einer dieser Werte sein: 'warn', 'refuse', 'ignore'" in out
    assert "Absender 'soest' ist doppelt angegeben" in out


def test_an_unknown_region_is_german(workspace: Workspace, runner: CliRunner) -> None:
    text = workspace.campaign_file.read_text("utf-8")
    workspace.campaign_file.write_text(
        text.replace('language = "de"', 'language = "de"\nregion = "DE-NWW"'), "utf-8"
    )
    code, out = _run(workspace, runner, "de", "check")
    assert code == 1
    assert "Region 'DE-NWW': DE hat keinen Landesteil NWW (meinten Sie 'NW'?)" in out
    assert "(bekannt: " in out


# --- the drafts: rules, calendar, content, placeholders, media ---------------------------------


def _broken_drafts(workspace: Workspace) -> Workspace:
    text = workspace.campaign_file.read_text("utf-8")
    workspace.campaign_file.write_text(
        text.replace('language = "de"', 'language = "de"\nregion = "DE-NW"'), "utf-8"
    )
    ws = workspace
    ws.draft("soest/01-lang", body="Klimaschutz " * 50 + "#5malklug", channels=("mastodon",))
    ws.draft("soest/02-abends", at="2021-11-08 21:00", channels=("mastodon",))
    ws.draft("soest/03-trauertag", at="2021-11-14 11:00", channels=("mastodon",))
    ws.draft(
        "soest/04-vieles",
        body="Ohne Schlagwort",
        channels=("mastodon", "mastodn"),
        extra='language = "deutsch"\n[[media]]\npath = "bild.png"\n',
    )
    ws.draft(
        "soest/05-datum",
        body="Wir sehen uns am 19. November! #5malklug",
        extra='first_comment = "Mehr dazu im Programm"\n',
    )
    ws.draft(
        "soest/06-platzhalter",
        body="Am {event.datum} #5malklug",
        channels=("mastodon",),
        extra='[[media]]\npath = "../../config.toml"\nalt = "Konfiguration"\n',
    )
    ws.draft("olpe/06-zeilen", body="Eins\u2028zwei\x0bdrei #5malklug", at="T-9d 10:00")
    (ws.root / "posts" / "olpe" / "05-latin1.md").write_bytes(
        draft_text("Grüße #5malklug", at="T-8d 10:00").encode("latin-1")
    )
    ws.draft("olpe/07-a", at="T-10d 10:00", channels=("mastodon",))
    ws.draft("olpe/08-b", at="T-10d 10:00", channels=("mastodon",))
    return ws


@pytest.fixture
def broken_drafts(workspace: Workspace) -> Workspace:
    return _broken_drafts(workspace)


GERMAN_PROBLEMS = [
    # rules
    "01-lang.md:5: Text zu lang für mastodon: ",
    "Zeichen (Adressen zählen 23)",
    "einen kürzeren Text unter [variants.mastodon] ergänzen",
    (
        "02-abends.md:2: geplant für 2021-11-08 21:00 (Mo.), außerhalb der Veröffentlichungszeiten "
        "(Mon-Fri 08:00-19:00, Sat-Sun 10:00-16:00)"
    ),
    "04-vieles.md:4: 'deutsch' ist kein Sprachkürzel wie 'de' oder 'en-GB'",
    "04-vieles.md:3: unbekannter Kanal 'mastodn' (meinten Sie 'mastodon'?)",
    "04-vieles.md:8: im Text fehlt der Hashtag #5malklug",
    "04-vieles.md:5: Mediendatei nicht gefunden: bild.png",
    '04-vieles.md:5: Bild bild.png hat keinen Alternativtext (alt = "…" ergänzen)',
    (
        "08-b.md:2: olpe/08-b und olpe/07-a erscheinen beide auf olpe-mastodon innerhalb von 0m "
        "(rules.min_gap ist 30m)"
    ),
    # the configuration the campaign is checked with
    (
        "config.toml:8: Warnung: Konto 'soest-mastodon': base_url enthält noch einen Beispielwert "
        "aus config.example.toml"
    ),
    # calendar
    (
        "03-trauertag.md:2: Warnung: geplant für 2021-11-14 11:00 (So.): Volkstrauertag, ein "
        "stiller Feiertag (§ 6 Feiertagsgesetz NW) in DE-NW; einen anderen Tag wählen "
        '(rules.quiet_days = "warn")'
    ),
    # content checks
    (
        "05-datum.md:6: Warnung: im Text steht „19. November“, die Veranstaltung ist aber am "
        "Donnerstag, 18. November 2021; {event.day} oder {event.date} schreiben"
    ),
    # placeholders
    (
        "06-platzhalter.md:8: unbekannter Platzhalter {event.datum} (meinten Sie 'event.date'?); "
        "bekannt sind: {event.name}, "
    ),
    # drafts
    (
        "06-zeilen.md:5: Warnung: der Text enthält ein Sonderzeichen (Zeilentrenner (U+2028), "
        "vertikaler Tabulator): Netzwerke zeigen es unterschiedlich oder gar nicht an"
    ),
    (
        "05-latin1.md:5: der Entwurf ist nicht als UTF-8 gespeichert (Byte 0xfc in Spalte 3); "
        "als UTF-8 speichern"
    ),
    # media
    "06-platzhalter.md:5: Medienpfad '../../config.toml' führt aus posts/soest/ hinaus",
]


def test_rule_calendar_content_placeholder_and_media_problems_are_german(
    broken_drafts: Workspace, runner: CliRunner
) -> None:
    code, out = _run(broken_drafts, runner, "de", "check")
    assert code == 1
    missing = [text for text in GERMAN_PROBLEMS if text not in out]
    assert not missing, out
    assert "warning:" not in out


def test_every_problem_of_check_has_german_wording(broken_drafts: Workspace) -> None:
    """A problem added later in English only fails here: each message is a :class:`Msg` whose
    German differs from its English."""
    from campaign_scheduler.config import load_settings
    from campaign_scheduler.rules import check

    result = check(load_settings(broken_drafts.config_file), cached=False)
    assert len(result.problems) > 15
    untranslated = [
        p.message
        for p in result.problems
        if not isinstance(p.message, uilang.Msg) or uilang.tr(p.message, "de") == p.message
    ]
    assert untranslated == []


def test_check_json_is_the_same_in_german_and_english(
    broken_drafts: Workspace, runner: CliRunner
) -> None:
    _, english = _run(broken_drafts, runner, "en", "check", "--json")
    _, german = _run(broken_drafts, runner, "de", "check", "--json")
    assert json.loads(german) == json.loads(english)
    messages = [p["message"] for p in json.loads(german)]
    assert "the text lacks the hashtag #5malklug" in messages
    assert any(
        m.startswith("due 2021-11-14 11:00 (Sun), on Volkstrauertag, a quiet day") for m in messages
    )


def test_a_cached_check_is_german_too(broken_drafts: Workspace, runner: CliRunner) -> None:
    for path in (broken_drafts.root / "posts").rglob("*.md"):
        os.utime(path, (1_600_000_000, 1_600_000_000))  # settled: the draft cache keeps them
    _run(broken_drafts, runner, "en", "check")
    cache = broken_drafts.root / "campaign" / ".cache" / "drafts.json"
    assert cache.exists()
    _, out = _run(broken_drafts, runner, "de", "check")
    missing = [text for text in GERMAN_PROBLEMS if text not in out]
    assert not missing, out


def test_load_refuses_in_german(broken_drafts: Workspace, runner: CliRunner) -> None:
    code, out = _run(broken_drafts, runner, "de", "load", "--as", "anna")
    assert code == 1
    assert "im Text fehlt der Hashtag #5malklug" in out
    assert "unbekannter Platzhalter {event.datum}" in out


# --- errors raised before the command line shows them -----------------------------------------


def test_a_toml_error_keeps_its_english_and_is_shown_in_german(tmp_path: Path) -> None:
    from campaign_scheduler.errors import InputError
    from campaign_scheduler.tomlsource import parse_toml

    uilang.set_language("de")  # the language when the error is raised does not matter
    with pytest.raises(InputError) as caught:
        parse_toml("x = \n", tmp_path / "a.toml")
    assert str(caught.value).startswith(f"{tmp_path / 'a.toml'}:1: malformed TOML: ")
    assert uilang.tr(caught.value.message, "de").startswith(
        f"{tmp_path / 'a.toml'}:1: fehlerhaftes TOML: "
    )


def test_a_draft_without_front_matter_keeps_its_english(tmp_path: Path) -> None:
    from campaign_scheduler.drafts import split_front_matter
    from campaign_scheduler.errors import InputError

    uilang.set_language("de")
    with pytest.raises(InputError) as caught:
        split_front_matter("Nur Text\n", tmp_path / "d.md")
    assert str(caught.value).endswith(
        "d.md:1: a draft must start with a '+++' line (TOML front matter)"
    )
    assert uilang.tr(caught.value.message, "de").endswith(
        "d.md:1: ein Entwurf muss mit einer Zeile '+++' beginnen (TOML-Kopf)"
    )


def test_a_broken_config_is_a_german_error(workspace: Workspace, runner: CliRunner) -> None:
    workspace.config_file.write_text(
        workspace.config_file.read_text("utf-8") + "\n[broken\n", "utf-8"
    )
    code, out = _run(workspace, runner, "de", "status")
    assert code == 1
    assert "Fehler: " in out and "fehlerhaftes TOML" in out
    assert "malformed" not in out


def test_a_placeholder_error_keeps_its_english() -> None:
    from campaign_scheduler.placeholders import PlaceholderError, RenderContext, render

    uilang.set_language("de")
    with pytest.raises(PlaceholderError) as caught:
        render("a { b", RenderContext(None, "x", "de", None))  # type: ignore[arg-type]
    assert str(caught.value).startswith("a lone '{': write '{{' for a literal brace")
    assert uilang.tr(caught.value.message, "de").startswith("einzelne Klammer '{'")


def test_a_refused_media_path_keeps_its_english(tmp_path: Path) -> None:
    from campaign_scheduler.media import MediaRefusedError, locate_media

    uilang.set_language("de")
    with pytest.raises(MediaRefusedError) as caught:
        locate_media(tmp_path, "soest", "/etc/passwd")
    assert str(caught.value).startswith("media path '/etc/passwd' is absolute")
    assert uilang.tr(caught.value.reason, "de").startswith("Medienpfad '/etc/passwd' ist absolut")


def test_a_translatable_value_is_said_in_the_language_of_its_sentence() -> None:
    """``tr(message, day=special.describe())``: the day is German in a German sentence."""
    from datetime import date

    from campaign_scheduler.calendar_rules import DayKind, SpecialDay

    day = SpecialDay(date(2021, 11, 14), "Volkstrauertag", DayKind.QUIET, "§ 6 Feiertagsgesetz NW")
    assert uilang.tr("{when} is on {day}", "de", when="14.11.", day=day.describe()) == (
        "14.11. fällt auf Volkstrauertag, ein stiller Feiertag (§ 6 Feiertagsgesetz NW)"
    )
    assert (
        str(day.describe())
        == "Volkstrauertag, a quiet day (stiller Feiertag, § 6 Feiertagsgesetz NW)"
    )


def test_a_missing_link_card_is_a_german_warning(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from campaign_scheduler import linkcards
    from campaign_scheduler.campaign import require_campaign
    from campaign_scheduler.drafts import load_drafts

    monkeypatch.setenv("CAMPAIGN_LINK_CARDS", "on")
    workspace.draft("soest/01-link", body="Programm: https://example.org/programm #5malklug")
    campaign = require_campaign(workspace.campaign_file)
    drafts, _ = load_drafts(workspace.root / "posts", campaign)
    now = datetime(2021, 11, 1, tzinfo=UTC)
    _, problems = linkcards.refresh_cards(
        drafts, campaign, now=now, fetch=lambda url: linkcards.LinkCard(url, now, error="HTTP 404")
    )
    assert [p.message for p in problems] == [
        "no link card for https://example.org/programm: HTTP 404"
    ]
    assert (
        problems[0]
        .format()
        .endswith("warning: no link card for https://example.org/programm: HTTP 404")
    )
    uilang.set_language("de")
    assert (
        problems[0]
        .format()
        .endswith("Warnung: keine Linkvorschau für https://example.org/programm: HTTP 404")
    )
