"""Calendar sense: public holidays and quiet days ("stille Tage") of the campaign's region.

``[campaign] region = "DE-NW"`` (ISO 3166-2: country, subdivision) switches it on. Public
holidays come from the maintained ``holidays`` library; quiet days come from the state's
Feiertagsgesetz, kept below as data (:data:`QUIET_DAYS`), one entry per region with the
paragraph it comes from. Another state is one more entry.

A day counts in the campaign's time zone, midnight to midnight, even where the law protects
only some hours (NRW: Volkstrauertag 5–18 Uhr): a cheerful post in the evening of a day of
mourning is just as out of place on social media.

The ``holidays`` library takes about 0.2 s to import; it is imported only for a campaign with
a region.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from dateutil.easter import easter

from campaign_scheduler.problems import Problem, Severity
from campaign_scheduler.uilang import N_, Msg, msg, tr

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.drafts import Draft

REGION_PATTERN = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")


#: Short weekday names, Monday first, as the English of a message shows them ("Thu").
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


def weekday_msg(day: date) -> str:
    """``Thu`` in a message's English (and ``--json``), ``Do.`` where it is shown in German."""
    return Msg(WEEKDAYS[day.weekday()])


class DayKind(StrEnum):
    QUIET = "quiet_day"
    HOLIDAY = "public_holiday"


class DayPolicy(StrEnum):
    """What ``check`` does with a post on such a day (``[rules] quiet_days``/``holidays``)."""

    WARN = "warn"
    REFUSE = "refuse"
    IGNORE = "ignore"


# --- movable days ---------------------------------------------------------------------------


def _first_advent(year: int) -> date:
    christmas_eve = date(year, 12, 24)
    fourth_advent = christmas_eve - timedelta(days=(christmas_eve.weekday() + 1) % 7)
    return fourth_advent - timedelta(weeks=3)


DAY_RULES: dict[str, tuple[str, Callable[[int], date]]] = {
    "gruendonnerstag": ("Gründonnerstag", lambda y: easter(y) - timedelta(days=3)),
    "karfreitag": ("Karfreitag", lambda y: easter(y) - timedelta(days=2)),
    "karsamstag": ("Karsamstag", lambda y: easter(y) - timedelta(days=1)),
    "allerheiligen": ("Allerheiligen", lambda y: date(y, 11, 1)),
    # Second Sunday before the first Advent (FeiertG NW § 2 (2) 1).
    "volkstrauertag": ("Volkstrauertag", lambda y: _first_advent(y) - timedelta(weeks=2)),
    "buss_und_bettag": ("Buß- und Bettag", lambda y: _first_advent(y) - timedelta(days=11)),
    # Last Sunday before the first Advent (FeiertG NW § 2 (2) 2).
    "totensonntag": ("Totensonntag", lambda y: _first_advent(y) - timedelta(weeks=1)),
    "heiligabend": ("Heiligabend", lambda y: date(y, 12, 24)),
}


@dataclass(frozen=True)
class QuietDayLaw:
    days: tuple[str, ...]  # keys of DAY_RULES
    source: str


#: Quiet days ("stille Feiertage") per region, from the state's Feiertagsgesetz.
QUIET_DAYS: dict[str, QuietDayLaw] = {
    # Gesetz über die Sonn- und Feiertage (Feiertagsgesetz NW, FeiertG NW, SGV. NRW. 113),
    # § 6 "Stille Feiertage": Volkstrauertag, Allerheiligentag, Totensonntag, Karfreitag.
    # Buß- und Bettag (§ 8: church services only) and Heiligabend are not stille Feiertage in
    # NRW; nor are Gründonnerstag and Karsamstag (protected in other states).
    "DE-NW": QuietDayLaw(
        ("karfreitag", "allerheiligen", "volkstrauertag", "totensonntag"),
        "§ 6 Feiertagsgesetz NW",
    ),
}


@dataclass(frozen=True)
class SpecialDay:
    day: date
    name: str
    kind: DayKind
    source: str

    def describe(self) -> str:
        """English (a :class:`~campaign_scheduler.uilang.Msg`), said in the user's language
        where it is shown."""
        if self.kind is DayKind.QUIET:
            return msg(
                "{name}, a quiet day (stiller Feiertag, {source})",
                name=self.name,
                source=self.source,
            )
        return msg("{name}, a public holiday", name=self.name)

    def label(self, lang: str | None = None) -> str:
        """For the plan: ``Volkstrauertag (stiller Feiertag)``, ``Allerheiligen (Feiertag)``;
        ``Volkstrauertag (quiet day)`` in English."""
        if self.kind is DayKind.QUIET:
            return tr("{name} (quiet day)", lang, name=self.name)
        return tr("{name} (public holiday)", lang, name=self.name)

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "kind": str(self.kind), "source": self.source}


class RegionError(ValueError):
    pass


def validate_region(region: str) -> None:
    """Raise :class:`RegionError` with a helpful message for a region the library lacks."""
    if not REGION_PATTERN.match(region):
        raise RegionError(
            msg(
                "region '{region}' must be an ISO 3166-2 code like \"DE-NW\" "
                "(country, then the state)",
                region=region,
            )
        )
    import holidays

    country, _, subdivision = region.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise RegionError(
            msg(
                "region '{region}': the holidays library does not know {country}",
                region=region,
                country=country,
            )
        )
    if subdivision and subdivision not in supported[country]:
        from campaign_scheduler.fields import did_you_mean

        known = [s for s in supported[country] if s.isupper()]
        raise RegionError(
            msg(
                "region '{region}': {country} has no subdivision {subdivision}{suggestion} "
                "(known: {known})",
                region=region,
                country=country,
                subdivision=subdivision,
                suggestion=did_you_mean(subdivision, known),
                known=", ".join(known),
            )
        )


class RegionCalendar:
    """Holidays and quiet days of one region, computed per year on demand."""

    def __init__(self, region: str, language: str) -> None:
        validate_region(region)
        self.region = region
        self.language = language
        self._years: dict[int, dict[date, SpecialDay]] = {}

    def _year(self, year: int) -> dict[date, SpecialDay]:
        days = self._years.get(year)
        if days is not None:
            return days
        import holidays

        country, _, subdivision = self.region.partition("-")
        days = {}
        table = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
        supported = getattr(table, "supported_languages", ())
        language = self.language.split("-")[0]
        if language in supported:
            table = holidays.country_holidays(
                country, subdiv=subdivision or None, years=year, language=language
            )
        for day, name in sorted(table.items()):
            days[day] = SpecialDay(day, name, DayKind.HOLIDAY, "holidays")
        law = QUIET_DAYS.get(self.region)
        if law is not None:
            for key in law.days:
                name, rule = DAY_RULES[key]
                day = rule(year)
                days[day] = SpecialDay(day, name, DayKind.QUIET, law.source)
        self._years[year] = days
        return days

    def on(self, day: date) -> SpecialDay | None:
        return self._year(day.year).get(day)

    def at(self, instant: datetime, zone: ZoneInfo) -> SpecialDay | None:
        return self.on(instant.astimezone(zone).date())

    def days_between(self, first: date, last: date) -> list[SpecialDay]:
        found: list[SpecialDay] = []
        for year in range(first.year, last.year + 1):
            found.extend(d for d in self._year(year).values() if first <= d.day <= last)
        return sorted(found, key=lambda d: d.day)


@cache
def _calendar(region: str, language: str) -> RegionCalendar:
    return RegionCalendar(region, language)


def calendar_of(campaign: Campaign) -> RegionCalendar | None:
    """The campaign's calendar, or None without ``region`` (or with a region that
    ``check`` reports as unknown)."""
    if campaign.region is None:
        return None
    try:
        return _calendar(campaign.region, campaign.language)
    except RegionError:
        return None


def policy_for(campaign: Campaign, day: SpecialDay) -> DayPolicy:
    rules = campaign.rules
    return DayPolicy(rules.quiet_days if day.kind is DayKind.QUIET else rules.holidays)


def avoided(campaign: Campaign, calendar: RegionCalendar | None) -> Callable[[date], bool]:
    """A test for days that ``queue --next-slot`` skips: those whose rule is not "ignore"."""

    def test(day: date) -> bool:
        if calendar is None:
            return False
        special = calendar.on(day)
        return special is not None and policy_for(campaign, special) is not DayPolicy.IGNORE

    return test


def region_problems(campaign: Campaign) -> list[Problem]:
    """An unknown region, located in the campaign file."""
    if campaign.region is None:
        return []
    try:
        validate_region(campaign.region)
    except RegionError as exc:
        return [Problem(campaign.path, campaign.doc.line_of("campaign", "region"), str(exc))]
    return []


def day_problems(draft: Draft, campaign: Campaign, calendar: RegionCalendar) -> list[Problem]:
    """A post due on a quiet day or public holiday: a warning or an error, per rule."""
    from campaign_scheduler.timeutil import format_local

    if draft.due_at is None:
        return []
    special = calendar.at(draft.due_at, campaign.zone)
    if special is None:
        return []
    policy = policy_for(campaign, special)
    if policy is DayPolicy.IGNORE:
        return []
    key = "quiet_days" if special.kind is DayKind.QUIET else "holidays"
    message = msg(
        'due {due} ({weekday}), on {day} in {region}; choose another day (rules.{key} = "{policy}")',
        due=format_local(draft.due_at, campaign.zone),
        weekday=weekday_msg(draft.due_at.astimezone(campaign.zone).date()),
        day=special.describe(),
        region=calendar.region,
        key=key,
        policy=str(policy),
    )
    severity = Severity.ERROR if policy is DayPolicy.REFUSE else Severity.WARNING
    return [Problem(draft.path, draft.doc.line_of("at"), message, severity)]


def next_free_slot(
    earliest: datetime,
    campaign: Campaign,
    calendar: RegionCalendar | None,
    taken: list[datetime],
) -> datetime:
    """The first free slot in the posting windows (see :func:`timeutil.next_slot`) that is not
    on a quiet day or holiday whose rule is "warn" or "refuse"."""
    from datetime import time

    from campaign_scheduler.timeutil import WhenError, next_slot, wall_clock_to_utc

    zone = campaign.zone
    skip = avoided(campaign, calendar)
    start = earliest
    for _ in range(400):
        slot = next_slot(
            start,
            windows=campaign.rules.windows,
            zone=zone,
            taken=taken,
            min_gap=campaign.rules.min_gap,
        )
        day = slot.astimezone(zone).date()
        if not skip(day):
            return slot
        start = wall_clock_to_utc(datetime.combine(day + timedelta(days=1), time()), zone)
    raise WhenError(msg("no free slot: every day ahead is a holiday or quiet day"))
