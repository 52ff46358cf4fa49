"""The campaign report from a known set of snapshots, checked figure by figure in every format
(terminal table, CSV, JSON, Markdown, HTML) and in both languages."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from campaign_scheduler.reports import Format, Lang, render
from campaign_scheduler.reports.build import build_report
from campaign_scheduler.reports.model import GroupBy, Report
from campaign_scheduler.store.engine import Store
from report_data import GENERATED_AT, known_store
from report_parse import Rows, html_links, html_tables, md_tables, text_tables

# ---------------------------------------------------------------------------------------------
# What the known campaign must show (report_data.py explains where each figure comes from).

# Reasons are worded for readers of the report: no configuration keys such as not_after.
DEADLINE_DE = "nicht vor Ablauf seiner Frist erschienen: der Veröffentlichungsdienst lief zu dieser Zeit nicht"
DEADLINE_EN = (
    "not published before its deadline: the publishing service was not running at the time"
)
DEADLINE_RAW = "not published before its deadline (not_after): no daemon published it in time"

EXPECTED: dict[str, dict[str, Rows]] = {
    "summary": {
        "de": [
            ["Kennzahl", "Gesamt"],
            ["Geplant", "14"],
            ["Veröffentlicht", "7"],
            ["Fehlgeschlagen", "2"],
            ["Abgelaufen", "2"],
            ["Zurückgezogen", "1"],
            ["Ungeklärt", "1"],
            ["Offen", "1"],
            ["Verzögerung (Median)", "30 s"],
            ["Innerhalb 1 Minute", "5"],
            ["Interaktionen", "70"],
            ["Impressionen", "2.400"],
            ["Reichweite", "1.500"],
            ["Klicks", "85"],
            ["Beiträge anderer mit dem Hashtag", "5"],
            ["Verschiedene Konten mit dem Hashtag", "3"],
        ],
        "en": [
            ["Figure", "Total"],
            ["Planned", "14"],
            ["Published", "7"],
            ["Failed", "2"],
            ["Expired", "2"],
            ["Cancelled", "1"],
            ["Unknown", "1"],
            ["Open", "1"],
            ["Lag (median)", "30 s"],
            ["Within 1 minute", "5"],
            ["Engagement", "70"],
            ["Impressions", "2,400"],
            ["Reach", "1,500"],
            ["Clicks", "85"],
            ["Posts by others with the hashtag", "5"],
            ["Unique authors using the hashtag", "3"],
        ],
    },
    "outcomes": {
        "de": [
            [
                "Absender",
                "Geplant",
                "Veröffentlicht",
                "Fehlgeschlagen",
                "Abgelaufen",
                "Zurückgezogen",
                "Ungeklärt",
                "Offen",
            ],
            ["Kreisstadt Olpe", "6", "3", "0", "1", "1", "1", "0"],
            ["Stadt Soest", "8", "4", "2", "1", "0", "0", "1"],
            ["Gesamt", "14", "7", "2", "2", "1", "1", "1"],
        ],
        "en": [
            [
                "Sender",
                "Planned",
                "Published",
                "Failed",
                "Expired",
                "Cancelled",
                "Unknown",
                "Open",
            ],
            ["Kreisstadt Olpe", "6", "3", "0", "1", "1", "1", "0"],
            ["Stadt Soest", "8", "4", "2", "1", "0", "0", "1"],
            ["Total", "14", "7", "2", "2", "1", "1", "1"],
        ],
    },
    "reasons": {
        "de": [
            ["Absender", "Status", "Grund", "Anzahl"],
            ["Kreisstadt Olpe", "zurückgezogen", "zurückgezogen von anna", "1"],
            ["Kreisstadt Olpe", "abgelaufen", DEADLINE_DE, "1"],
            ["Kreisstadt Olpe", "ungeklärt", "outcome unknown: connection lost after sending", "1"],
            ["Stadt Soest", "fehlgeschlagen", "rejected: text too long", "2"],
            ["Stadt Soest", "abgelaufen", DEADLINE_DE, "1"],
        ],
        "en": [
            ["Sender", "State", "Reason", "Count"],
            ["Kreisstadt Olpe", "cancelled", "withdrawn by anna", "1"],
            ["Kreisstadt Olpe", "expired", DEADLINE_EN, "1"],
            ["Kreisstadt Olpe", "unknown", "outcome unknown: connection lost after sending", "1"],
            ["Stadt Soest", "failed", "rejected: text too long", "2"],
            ["Stadt Soest", "expired", DEADLINE_EN, "1"],
        ],
    },
    "punctuality": {
        "de": [
            [
                "Absender",
                "Veröffentlicht",
                "Verzögerung (Median)",
                "Verzögerung (95. Perzentil)",
                "Verzögerung (Maximum)",
                "Innerhalb 1 Minute",
            ],
            ["Kreisstadt Olpe", "3", "30 s", "10 min", "10 min", "2"],
            ["Stadt Soest", "4", "32,5 s", "2 min", "2 min", "3"],
            ["Gesamt", "7", "30 s", "10 min", "10 min", "5"],
        ],
        "en": [
            [
                "Sender",
                "Published",
                "Lag (median)",
                "Lag (95th percentile)",
                "Lag (maximum)",
                "Within 1 minute",
            ],
            ["Kreisstadt Olpe", "3", "30 s", "10 min", "10 min", "2"],
            ["Stadt Soest", "4", "32.5 s", "2 min", "2 min", "3"],
            ["Total", "7", "30 s", "10 min", "10 min", "5"],
        ],
    },
    "group-figures": {
        "de": [
            [
                "Absender",
                "„Gefällt mir“",
                "Geteilt",
                "Antworten",
                "Zitate",
                "Impressionen",
                "Reichweite",
                "Klicks",
                "Interaktionen",
            ],
            ["Kreisstadt Olpe", "5", "2", "1", "—", "—", "—", "—", "8"],
            ["Stadt Soest", "42", "11", "8", "1", "2.400", "1.500", "85", "62"],
            ["Gesamt", "47", "13", "9", "1", "2.400", "1.500", "85", "70"],
        ],
        "en": [
            [
                "Sender",
                "Likes",
                "Reposts",
                "Replies",
                "Quotes",
                "Impressions",
                "Reach",
                "Clicks",
                "Engagement",
            ],
            ["Kreisstadt Olpe", "5", "2", "1", "—", "—", "—", "—", "8"],
            ["Stadt Soest", "42", "11", "8", "1", "2,400", "1,500", "85", "62"],
            ["Total", "47", "13", "9", "1", "2,400", "1,500", "85", "70"],
        ],
    },
    "channels": {
        "de": [
            [
                "Kanal",
                "Veröffentlicht",
                "Gemessen",
                "„Gefällt mir“",
                "Geteilt",
                "Antworten",
                "Zitate",
                "Impressionen",
                "Reichweite",
                "Klicks",
                "Interaktionen",
            ],
            ["Bluesky", "1", "1", "7", "2", "1", "1", "—", "—", "—", "11"],
            ["LinkedIn", "1", "1", "20", "3", "4", "—", "2.400", "1.500", "85", "27"],
            ["Mastodon", "4", "4", "20", "8", "4", "—", "—", "—", "—", "32"],
            ["Telegram", "1", "0", "—", "—", "—", "—", "—", "—", "—", "—"],
            ["Gesamt", "7", "6", "47", "13", "9", "1", "2.400", "1.500", "85", "70"],
        ],
        "en": [
            [
                "Channel",
                "Published",
                "Measured",
                "Likes",
                "Reposts",
                "Replies",
                "Quotes",
                "Impressions",
                "Reach",
                "Clicks",
                "Engagement",
            ],
            ["Bluesky", "1", "1", "7", "2", "1", "1", "—", "—", "—", "11"],
            ["LinkedIn", "1", "1", "20", "3", "4", "—", "2,400", "1,500", "85", "27"],
            ["Mastodon", "4", "4", "20", "8", "4", "—", "—", "—", "—", "32"],
            ["Telegram", "1", "0", "—", "—", "—", "—", "—", "—", "—", "—"],
            ["Total", "7", "6", "47", "13", "9", "1", "2,400", "1,500", "85", "70"],
        ],
    },
    "providers": {
        "de": [
            ["Kennzahl", "Geliefert von"],
            ["„Gefällt mir“", "Bluesky, LinkedIn, Mastodon"],
            ["Geteilt", "Bluesky, LinkedIn, Mastodon"],
            ["Antworten", "Bluesky, LinkedIn, Mastodon"],
            ["Zitate", "Bluesky"],
            ["Impressionen", "LinkedIn"],
            ["Reichweite", "LinkedIn"],
            ["Klicks", "LinkedIn"],
        ],
        "en": [
            ["Figure", "Provided by"],
            ["Likes", "Bluesky, LinkedIn, Mastodon"],
            ["Reposts", "Bluesky, LinkedIn, Mastodon"],
            ["Replies", "Bluesky, LinkedIn, Mastodon"],
            ["Quotes", "Bluesky"],
            ["Impressions", "LinkedIn"],
            ["Reach", "LinkedIn"],
            ["Clicks", "LinkedIn"],
        ],
    },
    "followers": {
        "de": [
            ["Konto", "Kanal", "Absender", "Beim ersten Beitrag", "Beim letzten Beitrag"],
            ["olpe-mastodon", "Mastodon", "Kreisstadt Olpe", "450", "470"],
            ["olpe-telegram", "Telegram", "Kreisstadt Olpe", "—", "—"],
            ["soest-bluesky", "Bluesky", "Stadt Soest", "300", "300"],
            ["soest-linkedin", "LinkedIn", "Stadt Soest", "800", "800"],
            ["soest-mastodon", "Mastodon", "Stadt Soest", "1.200", "1.240"],
        ],
        "en": [
            ["Account", "Channel", "Sender", "At first post", "At last post"],
            ["olpe-mastodon", "Mastodon", "Kreisstadt Olpe", "450", "470"],
            ["olpe-telegram", "Telegram", "Kreisstadt Olpe", "—", "—"],
            ["soest-bluesky", "Bluesky", "Stadt Soest", "300", "300"],
            ["soest-linkedin", "LinkedIn", "Stadt Soest", "800", "800"],
            ["soest-mastodon", "Mastodon", "Stadt Soest", "1,200", "1,240"],
        ],
    },
    "top": {
        "de": [
            [
                "Rang",
                "Beitrag",
                "Absender",
                "Kanal",
                "Veröffentlicht am",
                "Interaktionen",
                "Impressionen",
                "Link",
            ],
            [
                "1",
                "Text von soest/01-auftakt #5malklug",
                "Stadt Soest",
                "LinkedIn",
                "04.11.2021, 09:32 Uhr",
                "27",
                "2.400",
                "https://linkedin.example/@soest/1003",
            ],
            [
                "2",
                "Text von soest/01-auftakt #5malklug",
                "Stadt Soest",
                "Mastodon",
                "04.11.2021, 09:30 Uhr",
                "20",
                "—",
                "https://mastodon.example/@soest/1001",
            ],
            [
                "3",
                "Text von soest/01-auftakt #5malklug",
                "Stadt Soest",
                "Bluesky",
                "04.11.2021, 09:30 Uhr",
                "11",
                "—",
                "https://bluesky.example/@soest/1002",
            ],
            [
                "4",
                "Text von olpe/01-hallo #5malklug",
                "Kreisstadt Olpe",
                "Mastodon",
                "04.11.2021, 12:00 Uhr",
                "8",
                "—",
                "https://mastodon.example/@olpe/1009",
            ],
            [
                "5",
                "Text von soest/02-klima #5malklug",
                "Stadt Soest",
                "Mastodon",
                "11.11.2021, 09:30 Uhr",
                "4",
                "—",
                "https://mastodon.example/@soest/1004",
            ],
            [
                "6",
                "Text von olpe/03-morgen #5malklug",
                "Kreisstadt Olpe",
                "Mastodon",
                "18.11.2021, 08:00 Uhr",
                "0",
                "—",
                "https://mastodon.example/@olpe/1013",
            ],
        ],
        "en": [
            ["Rank", "Post", "Sender", "Channel", "Published", "Engagement", "Impressions", "Link"],
            [
                "1",
                "Text von soest/01-auftakt #5malklug",
                "Stadt Soest",
                "LinkedIn",
                "4 Nov 2021, 09:32",
                "27",
                "2,400",
                "https://linkedin.example/@soest/1003",
            ],
            [
                "2",
                "Text von soest/01-auftakt #5malklug",
                "Stadt Soest",
                "Mastodon",
                "4 Nov 2021, 09:30",
                "20",
                "—",
                "https://mastodon.example/@soest/1001",
            ],
            [
                "3",
                "Text von soest/01-auftakt #5malklug",
                "Stadt Soest",
                "Bluesky",
                "4 Nov 2021, 09:30",
                "11",
                "—",
                "https://bluesky.example/@soest/1002",
            ],
            [
                "4",
                "Text von olpe/01-hallo #5malklug",
                "Kreisstadt Olpe",
                "Mastodon",
                "4 Nov 2021, 12:00",
                "8",
                "—",
                "https://mastodon.example/@olpe/1009",
            ],
            [
                "5",
                "Text von soest/02-klima #5malklug",
                "Stadt Soest",
                "Mastodon",
                "11 Nov 2021, 09:30",
                "4",
                "—",
                "https://mastodon.example/@soest/1004",
            ],
            [
                "6",
                "Text von olpe/03-morgen #5malklug",
                "Kreisstadt Olpe",
                "Mastodon",
                "18 Nov 2021, 08:00",
                "0",
                "—",
                "https://mastodon.example/@olpe/1013",
            ],
        ],
    },
    "timeline": {
        "de": [
            ["Tag", "Countdown", "Geplant", "Veröffentlicht"],
            ["Do., 04.11.2021", "T-14", "5", "5"],
            ["Do., 11.11.2021", "T-7", "3", "1"],
            ["Mi., 17.11.2021", "T-1", "2", "0"],
            ["Do., 18.11.2021", "T-0", "4", "1"],
        ],
        "en": [
            ["Day", "Countdown", "Planned", "Published"],
            ["Thu 4 Nov 2021", "T-14", "5", "5"],
            ["Thu 11 Nov 2021", "T-7", "3", "1"],
            ["Wed 17 Nov 2021", "T-1", "2", "0"],
            ["Thu 18 Nov 2021", "T-0", "4", "1"],
        ],
    },
    "hashtag": {
        "de": [
            ["Kanal", "Beiträge", "Verschiedene Konten"],
            ["Bluesky", "1", "1"],
            ["Mastodon", "4", "2"],
            ["Gesamt", "5", "3"],
        ],
        "en": [
            ["Channel", "Posts", "Unique authors"],
            ["Bluesky", "1", "1"],
            ["Mastodon", "4", "2"],
            ["Total", "5", "3"],
        ],
    },
    "hashtag-days": {
        "de": [
            ["Tag", "Countdown", "Beiträge", "Verschiedene Konten"],
            ["So., 31.10.2021", "T-18", "1", "1"],  # 22:30 UTC on 30 Oct (CEST)
            ["Do., 04.11.2021", "T-14", "3", "3"],  # 23:30 UTC on 3 Nov counts here (CET)
            ["Do., 18.11.2021", "T-0", "1", "1"],
        ],
        "en": [
            ["Day", "Countdown", "Posts", "Unique authors"],
            ["Sun 31 Oct 2021", "T-18", "1", "1"],
            ["Thu 4 Nov 2021", "T-14", "3", "3"],
            ["Thu 18 Nov 2021", "T-0", "1", "1"],
        ],
    },
}

NOTES = {
    "de": [
        "Reichweite: Zahl der verschiedenen Konten",
        "Impressionen: wie oft ein Beitrag angezeigt wurde",
        "Interaktionen: Summe aus „Gefällt mir“, Geteilt, Antworten und Zitaten",
        "Mastodon, Bluesky und Telegram stellen keine Impressionen bereit",
        "Ein Strich ist nie eine Null.",
    ],
    "en": [
        "Reach: the number of distinct accounts",
        "Impressions: how often a post was displayed",
        "Engagement (interactions): likes + reposts + replies + quotes",
        "Mastodon, Bluesky and Telegram provide no impressions",
        "A dash is never a zero.",
    ],
}

LANGS = ["de", "en"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("report") / "known.db"
    known = known_store(f"sqlite:///{path}")
    yield known
    known.dispose()


@pytest.fixture(scope="module")
def report(store: Store) -> Report:
    return build_report(store, "testlauf", now=GENERATED_AT)


def rendered(report: Report, fmt: Format, lang: str) -> str:
    return render(report, fmt, Lang(lang))


# ---------------------------------------------------------------------------------------------
# Every table in every format


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_terminal_table_shows_every_figure(report: Report, lang: str, table: str) -> None:
    tables = text_tables(rendered(report, Format.TABLE, lang))
    assert EXPECTED[table][lang] in tables


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_markdown_shows_every_figure(report: Report, lang: str, table: str) -> None:
    assert EXPECTED[table][lang] in md_tables(rendered(report, Format.MD, lang))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("table", sorted(EXPECTED))
def test_html_shows_every_figure(report: Report, lang: str, table: str) -> None:
    assert html_tables(rendered(report, Format.HTML, lang))[f"t-{table}"] == EXPECTED[table][lang]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("fmt", [Format.TABLE, Format.MD, Format.HTML])
def test_every_text_format_has_the_title_and_the_definitions(
    report: Report, lang: str, fmt: Format
) -> None:
    text = rendered(report, fmt, lang)
    title = "Reichweitenbericht" if lang == "de" else "Reach report"
    assert f"{title}: Testlauf #5malklug" in text
    for note in NOTES[lang]:
        assert note in text.replace("\n", " ")


def test_html_links_every_top_post(report: Report) -> None:
    links = html_links(rendered(report, Format.HTML, "de"))
    assert [row[-1] for row in EXPECTED["top"]["de"][1:]] == links


def test_markdown_links_every_top_post(report: Report) -> None:
    text = rendered(report, Format.MD, "en")
    assert "[https://linkedin.example/@soest/1003](https://linkedin.example/@soest/1003)" in text


CSV_EXPECTED = {
    "de": [
        ["Kennung", "Absender", "Geplant", "Veröffentlicht", "Fehlgeschlagen", "Abgelaufen",
         "Zurückgezogen", "Ungeklärt", "Offen", "Verzögerung Median (s)",
         "Verzögerung 95. Perzentil (s)", "Verzögerung Maximum (s)", "Innerhalb 1 Minute",
         "Gefällt mir", "Geteilt", "Antworten", "Zitate", "Impressionen", "Reichweite", "Klicks",
         "Interaktionen", "Gemessen"],
        ["olpe", "Kreisstadt Olpe", "6", "3", "0", "1", "1", "1", "0", "30", "600", "600", "2",
         "5", "2", "1", "", "", "", "", "8", "2"],
        ["soest", "Stadt Soest", "8", "4", "2", "1", "0", "0", "1", "32,5", "120", "120", "3",
         "42", "11", "8", "1", "2400", "1500", "85", "62", "4"],
        ["", "Gesamt", "14", "7", "2", "2", "1", "1", "1", "30", "600", "600", "5",
         "47", "13", "9", "1", "2400", "1500", "85", "70", "6"],
    ],
    "en": [
        ["Key", "Sender", "Planned", "Published", "Failed", "Expired", "Cancelled", "Unknown",
         "Open", "Lag median (s)", "Lag 95th percentile (s)", "Lag maximum (s)",
         "Within 1 minute", "Likes", "Reposts", "Replies", "Quotes", "Impressions", "Reach",
         "Clicks", "Engagement", "Measured"],
        ["olpe", "Kreisstadt Olpe", "6", "3", "0", "1", "1", "1", "0", "30", "600", "600", "2",
         "5", "2", "1", "", "", "", "", "8", "2"],
        ["soest", "Stadt Soest", "8", "4", "2", "1", "0", "0", "1", "32.5", "120", "120", "3",
         "42", "11", "8", "1", "2400", "1500", "85", "62", "4"],
        ["", "Total", "14", "7", "2", "2", "1", "1", "1", "30", "600", "600", "5",
         "47", "13", "9", "1", "2400", "1500", "85", "70", "6"],
    ],
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGS)
def test_csv_has_one_row_per_group_and_a_total(report: Report, lang: str) -> None:
    text = rendered(report, Format.CSV, lang)
    delimiter = ";" if lang == "de" else ","
    assert list(csv.reader(io.StringIO(text), delimiter=delimiter)) == CSV_EXPECTED[lang]


def figures(**values: int | None) -> dict[str, int | None]:
    names = ("likes", "reposts", "replies", "quotes", "views", "reach", "clicks")
    return {**{name: values.get(name) for name in names}, "interactions": values["interactions"]}


def test_json_carries_every_figure(report: Report) -> None:
    data = json.loads(rendered(report, Format.JSON, "en"))
    assert data["report_version"] == 1
    assert data["by"] == "sender"
    assert data["language"] == "en"
    assert data["generated_at"] == "2021-11-26T10:00:00+01:00"
    assert data["campaign"] == {
        "slug": "testlauf",
        "name": "Testlauf #5malklug",
        "hashtag": "#5malklug",
        "timezone": "Europe/Berlin",
        "event": {
            "name": "Smart Cities: Konferenz",
            "start": "2021-11-18T10:00:00+01:00",
            "end": "2021-11-18T16:00:00+01:00",
            "url": "https://smartcities-suedwestfalen.com/konferenz/",
        },
    }
    assert data["totals"] == {
        "deliveries": {
            "planned": 14,
            "published": 7,
            "failed": 2,
            "expired": 2,
            "cancelled": 1,
            "unknown": 1,
            "open": 1,
        },
        "punctuality": {
            "published": 7,
            "median_seconds": 30.0,
            "p95_seconds": 600.0,
            "max_seconds": 600.0,
            "within_1_minute": 5,
        },
        "engagement": {
            **figures(
                likes=47,
                reposts=13,
                replies=9,
                quotes=1,
                views=2400,
                reach=1500,
                clicks=85,
                interactions=70,
            ),
            "measured": 6,
        },
    }
    olpe, soest = data["groups"]
    assert olpe == {
        "key": "olpe",
        "label": "Kreisstadt Olpe",
        "deliveries": {
            "planned": 6,
            "published": 3,
            "failed": 0,
            "expired": 1,
            "cancelled": 1,
            "unknown": 1,
            "open": 0,
        },
        "reasons": [
            {"state": "cancelled", "reason": "cancelled by anna", "count": 1},
            {"state": "expired", "reason": DEADLINE_RAW, "count": 1},
            {
                "state": "unknown",
                "reason": "outcome unknown: connection lost after sending",
                "count": 1,
            },
        ],
        "punctuality": {
            "published": 3,
            "median_seconds": 30.0,
            "p95_seconds": 600.0,
            "max_seconds": 600.0,
            "within_1_minute": 2,
        },
        "engagement": {**figures(likes=5, reposts=2, replies=1, interactions=8), "measured": 2},
    }
    assert soest["punctuality"]["median_seconds"] == 32.5  # mean of the middle two (20, 45)
    assert soest["punctuality"]["p95_seconds"] == 120.0  # nearest rank: 4th of 4
    assert soest["reasons"] == [
        {"state": "failed", "reason": "rejected: text too long", "count": 2},
        {"state": "expired", "reason": DEADLINE_RAW, "count": 1},
    ]
    assert soest["engagement"] == {
        **figures(
            likes=42,
            reposts=11,
            replies=8,
            quotes=1,
            views=2400,
            reach=1500,
            clicks=85,
            interactions=62,
        ),
        "measured": 4,
    }
    channels = {row["channel"]: row for row in data["channels"]}
    assert list(channels) == ["bluesky", "linkedin", "mastodon", "telegram"]
    assert channels["telegram"]["engagement"] == {**figures(interactions=None), "measured": 0}
    assert channels["mastodon"]["engagement"] == {
        **figures(likes=20, reposts=8, replies=4, interactions=32),
        "measured": 4,
    }
    assert channels["mastodon"]["deliveries"]["published"] == 4
    assert data["providers"] == {
        "likes": ["bluesky", "linkedin", "mastodon"],
        "reposts": ["bluesky", "linkedin", "mastodon"],
        "replies": ["bluesky", "linkedin", "mastodon"],
        "quotes": ["bluesky"],
        "views": ["linkedin"],
        "reach": ["linkedin"],
        "clicks": ["linkedin"],
    }
    assert data["networks_without_impressions"] == ["bluesky", "mastodon", "telegram"]
    assert data["followers"][0] == {
        "account": "olpe-mastodon",
        "channel": "mastodon",
        "sender": "olpe",
        "sender_name": "Kreisstadt Olpe",
        "at_first_post": 450,
        "at_last_post": 470,
    }
    assert data["followers"][1]["at_first_post"] is None  # Telegram tells nothing
    top = data["top_posts"][0]
    assert top == {
        "rank": 1,
        "post": "soest/01-auftakt",
        "sender": "soest",
        "sender_name": "Stadt Soest",
        "text": "Text von soest/01-auftakt #5malklug",
        "account": "soest-linkedin",
        "channel": "linkedin",
        "published_at": "2021-11-04T09:32:00+01:00",
        "url": "https://linkedin.example/@soest/1003",
        "engagement": figures(
            likes=20, reposts=3, replies=4, views=2400, reach=1500, clicks=85, interactions=27
        ),
    }
    assert [t["engagement"]["interactions"] for t in data["top_posts"]] == [27, 20, 11, 8, 4, 0]
    timeline = {d["date"]: d for d in data["timeline"]}
    assert len(timeline) == 15  # every day from the first post to the event, quiet ones too
    assert timeline["2021-11-04"] == {
        "date": "2021-11-04",
        "countdown": "T-14",
        "planned": 5,
        "published": 5,
    }
    assert timeline["2021-11-05"]["planned"] == 0
    assert timeline["2021-11-18"] == {
        "date": "2021-11-18",
        "countdown": "T-0",
        "planned": 4,
        "published": 1,
    }
    hashtag = data["hashtag"]
    assert (hashtag["tag"], hashtag["posts"], hashtag["authors"]) == ("#5malklug", 5, 3)
    assert hashtag["channels"] == [
        {"channel": "bluesky", "posts": 1, "authors": 1},
        {"channel": "mastodon", "posts": 4, "authors": 2},
    ]
    days = {d["date"]: (d["posts"], d["authors"]) for d in hashtag["days"]}
    assert days["2021-10-31"] == (1, 1)
    assert days["2021-11-04"] == (3, 3)
    assert days["2021-11-18"] == (1, 1)
    assert sum(posts for posts, _ in days.values()) == 5
    assert len(data["notes"]) == 8


def test_json_notes_follow_the_language(report: Report) -> None:
    notes = json.loads(rendered(report, Format.JSON, "de"))["notes"]
    assert notes[0].startswith("Reichweite:")


# ---------------------------------------------------------------------------------------------
# --by variants


def test_by_channel_groups_and_labels(store: Store) -> None:
    report = build_report(store, "testlauf", by=GroupBy.CHANNEL, now=GENERATED_AT)
    data = json.loads(render(report, Format.JSON, Lang.EN))
    by_key = {g["key"]: g for g in data["groups"]}
    assert list(by_key) == ["bluesky", "linkedin", "mastodon", "telegram"]
    assert by_key["mastodon"]["punctuality"]["median_seconds"] == 15.0  # 5, 10, 20, 30
    assert by_key["bluesky"]["reasons"] == [
        {"state": "failed", "reason": "rejected: text too long", "count": 2}
    ]
    tables = html_tables(render(report, Format.HTML, Lang.DE))
    assert [row[0] for row in tables["t-outcomes"]] == [
        "Kanal",
        "Bluesky",
        "LinkedIn",
        "Mastodon",
        "Telegram",
        "Gesamt",
    ]
    assert "t-group-figures" not in tables  # the channel table says it already


def test_by_day_uses_local_days_with_countdown_labels(store: Store) -> None:
    report = build_report(store, "testlauf", by=GroupBy.DAY, now=GENERATED_AT)
    data = json.loads(render(report, Format.JSON, Lang.DE))
    assert [(g["key"], g["countdown"]) for g in data["groups"]] == [
        ("2021-11-04", "T-14"),
        ("2021-11-11", "T-7"),
        ("2021-11-17", "T-1"),
        ("2021-11-18", "T-0"),
    ]
    day = data["groups"][0]
    assert day["deliveries"]["planned"] == 5
    assert day["punctuality"]["median_seconds"] == 45.0  # 20, 30, 45, 120, 600
    assert day["engagement"]["likes"] == 44
    quiet = data["groups"][2]
    assert quiet["punctuality"]["median_seconds"] is None
    assert quiet["engagement"]["likes"] is None
    rows = text_tables(render(report, Format.TABLE, Lang.DE))
    assert ["Do., 04.11.2021 (T-14)", "5", "5", "0", "0", "0", "0", "0"] in rows[1]


def test_by_post_shows_real_zeros_as_zero(store: Store) -> None:
    report = build_report(store, "testlauf", by=GroupBy.POST, now=GENERATED_AT)
    data = json.loads(render(report, Format.JSON, Lang.EN))
    by_key = {g["key"]: g for g in data["groups"]}
    assert list(by_key) == [
        "olpe/01-hallo",
        "olpe/02-programm",
        "olpe/03-morgen",
        "soest/01-auftakt",
        "soest/02-klima",
        "soest/03-heute",
    ]
    assert by_key["olpe/03-morgen"]["engagement"]["likes"] == 0  # measured: nobody liked it
    assert by_key["olpe/02-programm"]["engagement"]["likes"] is None  # never published
    assert by_key["soest/01-auftakt"]["engagement"]["interactions"] == 58
    rows = md_tables(render(report, Format.MD, Lang.EN))
    figures_table = next(t for t in rows if t[0][0] == "Post" and t[0][1] == "Likes")
    assert ["olpe/03-morgen", "0", "0", "0", "—", "—", "—", "—", "0"] in figures_table
    assert ["olpe/02-programm", "—", "—", "—", "—", "—", "—", "—", "—"] in figures_table


@pytest.mark.parametrize("by", list(GroupBy))
def test_every_grouping_sums_to_the_totals(store: Store, by: GroupBy) -> None:
    report = build_report(store, "testlauf", by=by, now=GENERATED_AT)
    assert sum(g.outcomes.planned for g in report.groups) == report.totals_outcomes.planned
    assert sum(g.outcomes.published for g in report.groups) == 7
    assert sum(g.figures.likes or 0 for g in report.groups) == 47
    assert sum(g.punctuality.published for g in report.groups) == 7


# ---------------------------------------------------------------------------------------------
# The documented JSON shape


def shape(value: object) -> object:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value and not isinstance(value[0], str) else []
    return None


def test_docs_example_has_the_shape_of_the_real_output(report: Report) -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "report.md"
    text = docs.read_text(encoding="utf-8")
    example = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    documented = json.loads(example)
    actual = json.loads(rendered(report, Format.JSON, "en"))
    assert shape(documented) == shape(actual)
    # The docs' example is this known campaign: its figures are the real ones.
    assert documented["totals"] == actual["totals"]
    assert documented["providers"] == actual["providers"]
