"""Checks of what a post says (after placeholders are rendered), for ``campaign check``.

- Dates and weekdays written out by hand that disagree with the event ("18. November" when the
  event is on 17 November; "Donnerstag, 18.11." when the 18th is a Friday).
- Links in texts for networks that do not make them clickable (Instagram captions).

Pure functions over a parsed draft; they return warnings with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from campaign_scheduler.campaign import Campaign
from campaign_scheduler.channels.catalog import spec_of
from campaign_scheduler.drafts import Draft
from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.uilang import msg

#: A written date this close to the event (read in the event's year) is taken to mean the
#: event; further away it is about something else (a deadline, a follow-up) and left alone.
NEAR_EVENT = timedelta(days=14)

MONTHS: dict[str, int] = {
    "januar": 1,
    "jänner": 1,
    "jan": 1,
    "februar": 2,
    "feb": 2,
    "märz": 3,
    "mär": 3,
    "mrz": 3,
    "april": 4,
    "apr": 4,
    "mai": 5,
    "juni": 6,
    "jun": 6,
    "juli": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "okt": 10,
    "november": 11,
    "nov": 11,
    "dezember": 12,
    "dez": 12,
}
MONTH_NAMES = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
WEEKDAYS: dict[str, int] = {
    "montag": 0,
    "mo": 0,
    "dienstag": 1,
    "di": 1,
    "mittwoch": 2,
    "mi": 2,
    "donnerstag": 3,
    "do": 3,
    "freitag": 4,
    "fr": 4,
    "samstag": 5,
    "sonnabend": 5,
    "sa": 5,
    "sonntag": 6,
    "so": 6,
}
WEEKDAY_NAMES = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")

_FULL_MONTHS = {name.lower() for name in MONTH_NAMES} | {"jänner"}
_MONTH_ALTERNATIVES = "|".join(
    [*sorted(_FULL_MONTHS, key=len, reverse=True)]
    + [rf"{abbr}\b\.?" for abbr in sorted(set(MONTHS) - _FULL_MONTHS, key=len, reverse=True)]
)
_WEEKDAY_ALTERNATIVES = (
    "Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonnabend|Sonntag"
    "|(?:Mo|Di|Mi|Do|Fr|Sa|So)\\."
)
# A date: "18. November [2021]", "18. Nov.", "18.11.[2021]", and a weekday right before it
# ("Donnerstag, 18. November", "Do., 18.11.", "Donnerstag, den 18.11."), looked for separately
# (one pattern with an optional weekday in front is ten times slower).
# Each pattern starts with a digit (the look-behind comes after it) so that the regex engine
# can skip ahead to digits instead of trying every position.
_DATE = re.compile(
    r"(?P<day>\d(?<![\d.]\d)\d?)\."
    rf"(?:\s?(?P<month_name>{_MONTH_ALTERNATIVES})(?!\w)(?:\s(?P<year>\d{{4}})\b)?"
    r"|(?P<month>\d{1,2})\.(?:(?P<nyear>\d{4}|\d{2})\b|(?!\d)))",
    re.IGNORECASE,
)
_WEEKDAY_BEFORE = re.compile(
    rf"(?<!\w)(?P<weekday>{_WEEKDAY_ALTERNATIVES}),?\s+(?:den\s+)?$", re.IGNORECASE
)
_WEEKDAY_REACH = 24  # characters before a date where its weekday may stand
_ISO_DATE = re.compile(r"(?P<year>\d(?<![\d-]\d)\d{3})-(?P<month>\d{2})-(?P<day>\d{2})(?![\d-])")

# Addresses a reader would want to tap: with a scheme, or starting with "www.".
_URL = re.compile(r"(?i)(?<![\w@/])(?:https?://|www\.)[^\s<>\"“”„]+")


@dataclass(frozen=True)
class WrittenDate:
    start: int
    text: str
    day: date  # in the year written, or the one nearest the event
    year_written: bool
    weekday: int | None


def _written_dates(text: str, event_day: date) -> Iterator[WrittenDate]:
    for match in _DATE.finditer(text):
        month_name = match.group("month_name")
        if month_name:
            day_text, month, year_text = (
                match.group("day"),
                MONTHS[month_name.lower().rstrip(".")],
                match.group("year"),
            )
        else:
            day_text, month, year_text = (
                match.group("day"),
                int(match.group("month")),
                match.group("nyear"),
            )
        start, written = match.start(), match.group(0)
        weekday = None
        before = _WEEKDAY_BEFORE.search(text, max(0, start - _WEEKDAY_REACH), start)
        if before is not None:
            weekday = WEEKDAYS[before.group("weekday").lower().rstrip(".")]
            start, written = before.start(), text[before.start() : match.end()]
        found = _resolve(int(day_text), month, year_text, event_day)
        if found is not None:
            day, year_written = found
            yield WrittenDate(start, written, day, year_written, weekday)
    for match in _ISO_DATE.finditer(text):
        found = _resolve(
            int(match.group("day")), int(match.group("month")), match.group("year"), event_day
        )
        if found is not None:
            yield WrittenDate(match.start(), match.group(0), found[0], True, None)


def _resolve(
    day: int, month: int, year_text: str | None, event_day: date
) -> tuple[date, bool] | None:
    if year_text is not None:
        year = int(year_text)
        if year < 100:
            year += 2000
        try:
            return date(year, month, day), True
        except ValueError:
            return None
    candidates = []
    for year in (event_day.year - 1, event_day.year, event_day.year + 1):
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if not candidates:
        return None
    return min(candidates, key=lambda d: abs(d - event_day)), False


def german_date(day: date) -> str:
    return f"{WEEKDAY_NAMES[day.weekday()]}, {day.day}. {MONTH_NAMES[day.month - 1]} {day.year}"


def _event_days(campaign: Campaign) -> list[date]:
    zone = campaign.zone
    first = campaign.event.start.astimezone(zone).date()
    last = (campaign.event.end or campaign.event.start).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def date_disagreements(text: str, campaign: Campaign) -> Iterator[tuple[int, str]]:
    """(offset, message) for every written date or weekday that disagrees with the event."""
    days = _event_days(campaign)
    first = days[0]
    for written in _written_dates(text, first):
        # Distance as if the date were in the event's year: "18.11.2021" is near an event on
        # 18.11.2022, and wrong.
        try:
            same_year = written.day.replace(year=first.year)
        except ValueError:  # 29 February
            same_year = written.day
        distance = min(abs(same_year - d) for d in days)
        if distance <= NEAR_EVENT and written.day not in days:
            message = msg(
                "the text says „{written}“, but the event is on {event_day}; "
                "write {{event.day}} or {{event.date}} to keep it in step",
                written=written.text,
                event_day=german_date(first),
            )
            yield written.start, message
            continue
        if written.weekday is not None and written.weekday != written.day.weekday():
            message = msg(
                "the text says „{written}“, but {day} is a {weekday}; "
                "write {{event.weekday}}, {{event.day}} to keep it in step",
                written=written.text,
                day=written.day.strftime("%d.%m.%Y"),
                weekday=WEEKDAY_NAMES[written.day.weekday()],
            )
            yield written.start, message


def _texts(draft: Draft) -> Iterator[tuple[str, int, bool]]:
    """(text, first line, whether lines inside the text can be counted) of every text."""
    yield draft.body, draft.body_line, True
    for channel, text in draft.variants.items():
        yield text, draft.doc.line_of("variants", channel, "text"), False
    for index, media in enumerate(draft.media):
        if media.alt:
            yield media.alt, draft.doc.line_of("media", index, "alt"), False


def date_problems(draft: Draft, campaign: Campaign) -> list[Problem]:
    problems = []
    for text, line, spans_lines in _texts(draft):
        for offset, message in date_disagreements(text, campaign):
            where = line + text.count("\n", 0, offset) if spans_lines else line
            problems.append(Problem(draft.path, where, message, Severity.WARNING))
    return problems


def unclickable_links(text: str) -> list[str]:
    return [match.group(0).rstrip(".,;:!?)") for match in _URL.finditer(text)]


def link_problems(draft: Draft) -> list[Problem]:
    """Links in the text of a network that does not make them clickable (Instagram)."""
    problems = []
    for channel in draft.channels:
        spec = spec_of(channel)
        if spec is None or spec.links_clickable:
            continue
        links = unclickable_links(draft.text_for(channel))
        if not links:
            continue
        said = {"link": links[0], "network": spec.title, "channel": channel}
        if channel in draft.variants:
            message = msg(
                "the [variants.{channel}] text has a link ({link}), but {network} does not make "
                "links in captions clickable; say „Link in der Bio“ there and put the link in "
                "the profile",
                **said,
            )
        else:
            message = msg(
                "the text has a link ({link}), but {network} does not make links in captions "
                "clickable; add a [variants.{channel}] text that says „Link in der Bio“ instead",
                **said,
            )
        problems.append(Problem(draft.path, draft.text_line(channel), message, Severity.WARNING))
    return problems
