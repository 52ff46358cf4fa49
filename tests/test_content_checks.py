"""`campaign check` questions what a post says: stale dates and weekdays, links Instagram won't
make clickable."""

from __future__ import annotations

import pytest

from campaign_scheduler.config import load_settings
from campaign_scheduler.problems import Severity
from campaign_scheduler.rules import check
from conftest import Workspace


def warnings_of(ws: Workspace) -> list[str]:
    result = check(load_settings(ws.config_file))
    assert result.errors == []
    return [
        p.format(ws.root)
        for p in result.problems
        if p.severity is Severity.WARNING and p.path.suffix == ".md"
    ]


def move_event_to_17_november_2022(ws: Workspace) -> None:
    text = ws.campaign_file.read_text()
    text = text.replace("2021-11-18T", "2022-11-17T").replace("2021-10-26", "2022-10-25")
    ws.campaign_file.write_text(text)


@pytest.mark.parametrize(
    "written",
    [
        "18. November",
        "18. Nov.",
        "18.11.",
        "18.11.2022",
        "Donnerstag, 18. November",
        "Fr., 18.11.",
        "2022-11-18",
    ],
)
def test_a_written_date_that_disagrees_with_the_moved_event_is_named(
    workspace: Workspace, written: str
) -> None:
    move_event_to_17_november_2022(workspace)
    workspace.draft("soest/01-klima", body=f"Wir sehen uns am {written} #5malklug")
    [warning] = warnings_of(workspace)
    assert warning.startswith(
        f"posts/soest/01-klima.md:5: warning: the text says „{written}“, "
        "but the event is on Donnerstag, 17. November 2022; write {event.day}"
    )


@pytest.mark.parametrize(
    "written", ["17. November", "17.11.", "17.11.2022", "Donnerstag, 17. November"]
)
def test_dates_that_agree_with_the_event_pass(workspace: Workspace, written: str) -> None:
    move_event_to_17_november_2022(workspace)
    workspace.draft("soest/01-klima", body=f"Wir sehen uns am {written}. #5malklug")
    assert warnings_of(workspace) == []


def test_last_year_s_date_with_its_year_is_stale(workspace: Workspace) -> None:
    move_event_to_17_november_2022(workspace)
    workspace.draft("soest/01-klima", body="Konferenz am 17.11.2021 #5malklug")
    [warning] = warnings_of(workspace)
    assert "„17.11.2021“" in warning


def test_a_wrong_weekday_next_to_the_right_date_is_named(workspace: Workspace) -> None:
    workspace.draft("soest/01-klima", body="Am Mittwoch, 18. November geht's los #5malklug")
    [warning] = warnings_of(workspace)
    assert warning == (
        "posts/soest/01-klima.md:5: warning: the text says „Mittwoch, 18. November“, but "
        "18.11.2021 is a Donnerstag; write {event.weekday}, {event.day} to keep it in step"
    )


def test_dates_far_from_the_event_are_about_something_else(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-klima",
        body="Bewerbungen bis 15. September, Ergebnisse am 1.2.2022, Version 1.2.3 #5malklug",
    )
    assert warnings_of(workspace) == []


def test_times_and_numbers_are_not_dates(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-klima",
        body="Am 18. November 10 Uhr, 3.5 Prozent, 12.000 Gäste, Saal 1.12 #5malklug",
    )
    assert warnings_of(workspace) == []


def test_stale_dates_in_variants_and_alt_texts_name_their_lines(workspace: Workspace) -> None:
    (workspace.root / "posts" / "soest" / "bild.png").write_bytes(b"\x89PNG\r\n")
    move_event_to_17_november_2022(workspace)
    workspace.draft(
        "soest/01-klima",
        body="Erste Zeile #5malklug\nAm {event.day}.\nUnd am 16. November?",
        extra=(
            '[[media]]\npath = "bild.png"\nalt = "Plakat: 18. November"\n'
            '[variants.bluesky]\ntext = "Am 18.11. #5malklug"\n'
        ),
    )
    warnings = warnings_of(workspace)
    assert [w.split(": warning")[0] for w in warnings] == [
        "posts/soest/01-klima.md:6",
        "posts/soest/01-klima.md:8",
        "posts/soest/01-klima.md:12",
    ]


def test_moving_the_event_with_placeholders_leaves_nothing_stale(workspace: Workspace) -> None:
    workspace.draft(
        "soest/01-klima",
        body="Am {event.weekday}, {event.day} ({event.date}) #5malklug",
    )
    assert warnings_of(workspace) == []
    move_event_to_17_november_2022(workspace)
    assert warnings_of(workspace) == []


def test_a_link_in_an_instagram_caption_suggests_link_in_bio(workspace: Workspace) -> None:
    text = workspace.config_file.read_text() + (
        '\n[accounts.soest-instagram]\nchannel = "instagram"\nsender = "soest"\n'
        'user_id = "1784"\nmedia_base_url = "https://media.soest.example/"\n'
        'token = "env:SOEST_INSTAGRAM_TOKEN"\n'
    )
    workspace.config_file.write_text(text)
    (workspace.root / "posts" / "soest" / "bild.png").write_bytes(b"\x89PNG\r\n")
    media = '[[media]]\npath = "bild.png"\nalt = "Plakat"\n'
    workspace.draft(
        "soest/01-klima",
        body="Mehr unter https://smartcities-suedwestfalen.com/konferenz/. #5malklug",
        channels=("mastodon", "instagram"),
        extra=media,
    )
    workspace.draft(
        "soest/02-variante",
        at="T-13d 09:30",
        channels=("mastodon", "instagram"),
        extra=media + '[variants.instagram]\ntext = "Infos: www.soest.de/smart #5malklug"\n',
    )
    workspace.draft(
        "soest/03-bio",
        at="T-12d 11:30",
        body="Alles zur Konferenz: https://smartcities-suedwestfalen.com/konferenz/ #5malklug",
        channels=("mastodon", "instagram"),
        extra=media
        + '[variants.instagram]\ntext = "Alles zur Konferenz: Link in der Bio #5malklug"\n',
    )
    assert warnings_of(workspace) == [
        (
            "posts/soest/01-klima.md:8: warning: the text has a link "
            "(https://smartcities-suedwestfalen.com/konferenz/), but Instagram does not make "
            "links in captions clickable; add a [variants.instagram] text that says "
            "„Link in der Bio“ instead"
        ),
        (
            "posts/soest/02-variante.md:8: warning: the [variants.instagram] text has a link "
            "(www.soest.de/smart), but Instagram does not make links in captions clickable; "
            "say „Link in der Bio“ there and put the link in the profile"
        ),
    ]
