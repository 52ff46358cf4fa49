"""The shipped #5malKlug campaign reads as the editor signed it off (issue 16)."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from campaign_scheduler.config import load_settings
from campaign_scheduler.rules import CheckResult, check

ROOT = Path(__file__).resolve().parents[1]
URL = re.compile(r"https?://")


@pytest.fixture(scope="module")
def shipped() -> CheckResult:
    result = check(load_settings(ROOT / "config.example.toml", environ={}))
    assert result.errors == []
    assert result.campaign is not None
    return result


def _local(result: CheckResult, when: datetime | None) -> datetime:
    assert when is not None and result.campaign is not None
    return when.astimezone(result.campaign.zone)


def _volkstrauertag(year: int) -> date:
    """Two Sundays before the first Sunday of Advent: the Sunday from 13 to 19 November."""
    day = date(year, 11, 13)
    return day + timedelta(days=(6 - day.weekday()) % 7)


def test_four_eyes_is_on_in_the_shipped_campaign(shipped: CheckResult) -> None:
    assert shipped.campaign is not None
    assert shipped.campaign.rules.require_approval is True


def test_no_post_on_a_day_of_remembrance(shipped: CheckResult) -> None:
    assert shipped.campaign is not None
    year = shipped.campaign.event.start.year
    quiet = {date(year, 11, 9), _volkstrauertag(year)}
    assert _volkstrauertag(2021) == date(2021, 11, 14)
    on_quiet_days = {
        d.draft.key for d in shipped.deliveries if _local(shipped, d.due_at).date() in quiet
    }
    assert on_quiet_days == set()


def test_every_sender_asks_for_registration_before_the_day_and_thanks_after_it(
    shipped: CheckResult,
) -> None:
    assert shipped.campaign is not None
    event = shipped.campaign.event.start
    asks: dict[str, int] = defaultdict(int)
    thanks: dict[str, int] = defaultdict(int)
    for d in shipped.deliveries:
        due = _local(shipped, d.due_at)
        if due.date() < event.date() and re.search(r"\banmelden\b|\bAnmeldung\b", d.text):
            asks[d.draft.sender] += 1
        if due.date() > event.date() and "Danke" in d.text:
            thanks[d.draft.sender] += 1
    senders = {s.slug for s in shipped.campaign.senders}
    assert set(asks) == senders
    assert set(thanks) == senders


def test_the_live_post_follows_the_start_and_not_the_minute_of_a_thank_you(
    shipped: CheckResult,
) -> None:
    assert shipped.campaign is not None
    start = shipped.campaign.event.start
    live = [d for d in shipped.deliveries if d.draft.key == "suedwestfalen/10-jetzt-live"]
    assert live
    assert all(d.due_at is not None and d.due_at > start for d in live)
    thank_you_times = {d.due_at for d in shipped.deliveries if "Danke an alle" in d.text}
    assert {d.due_at for d in live}.isdisjoint(thank_you_times)


def test_instagram_captions_have_no_dead_links_and_carry_topic_hashtags(
    shipped: CheckResult,
) -> None:
    instagram = [d for d in shipped.deliveries if d.channel == "instagram"]
    assert instagram
    for d in instagram:
        assert URL.search(d.text) is None, d.draft.key
        assert "Link in der Bio" in d.text, d.draft.key
        town = "".join(part.capitalize() for part in d.draft.sender.split("-"))
        for tag in ("#SmartCity", "#Südwestfalen", f"#{town}"):
            assert tag in d.text, (d.draft.key, tag)
    elsewhere = [
        d.draft.key
        for d in shipped.deliveries
        if d.channel != "instagram" and "Link in der Bio" in d.text
    ]
    assert elsewhere == []


def test_texts_quote_the_press_release_and_do_not_inflate_it(shipped: CheckResult) -> None:
    for d in shipped.deliveries:
        text, key = d.text, f"{d.draft.key} ({d.channel})"
        assert "#5malKlug" in text and "#5malklug" not in text, key  # CamelCase for screen readers
        # The conference's name always in quotes, so colons do not stack.
        assert text.count("Smart Cities: Konferenz") == text.count("„Smart Cities: Konferenz“"), key
        assert "Bundesprogramm" not in text, key  # it is a Modellvorhaben
        assert re.search(r"Bundesministerium|\bBMI\b", text) is None, key  # names change
        assert re.search(r"klimaneutral (bis|in) 2030|bis 2030 klimaneutral", text) is None, key
        if "2030" in text:
            assert "„Klimaneutrale Smart City“" in text, key
        assert (
            "Link in der Bio" in text or "https://smartcities-suedwestfalen.com/konferenz/" in text
        )


def test_ideas_are_credited_to_the_model_project_not_to_one_town(shipped: CheckResult) -> None:
    ideas = ("Ehrenamtsportal", "Naturerlebnispfad", "Lastenr", "Leerst", "Mobilitäts-Hub")
    for d in shipped.deliveries:
        if any(idea in d.text for idea in ideas):
            assert re.search(
                r"Ideen aus dem Modellprojekt|im Modellprojekt|Pionierkommunen", d.text
            ), (
                d.draft.key,
                d.channel,
            )
