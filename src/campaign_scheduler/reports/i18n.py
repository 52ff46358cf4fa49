"""The report's words and number formats in German and English.

German follows the usage of public administration (Reichweite, Interaktionen, Pünktlichkeit,
geplant/veröffentlicht/fehlgeschlagen/abgelaufen); numbers use the German separators
(1.500; 32,5 s). No locale module: output must not depend on the machine's settings.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from campaign_scheduler.uilang import N_, tr


class Lang(enum.StrEnum):
    DE = "de"
    EN = "en"


def language_of(code: str | None) -> Lang:
    """The report language for a campaign language tag (``de``, ``de-DE``, ``en``, ...)."""
    return Lang.DE if (code or "").lower().startswith("de") else Lang.EN


#: Shown where a figure is not known. Never 0.
MISSING = "—"

_TEXT: dict[str, str] = {
    # key: English msgid (German in the gettext catalog)
    "title": N_("Reach report"),
    "campaign": N_("Campaign"),
    "event": N_("Event"),
    "hashtag": N_("Hashtag"),
    "generated": N_("As of"),
    "timezone": N_("Time zone"),
    "summary": N_("Summary"),
    "deliveries": N_("Deliveries"),
    "by.sender": N_("Deliveries by sender"),
    "by.channel": N_("Deliveries by channel"),
    "by.day": N_("Deliveries by day"),
    "by.post": N_("Deliveries by post"),
    "col.sender": N_("Sender"),
    "col.channel": N_("Channel"),
    "col.day": N_("Day"),
    "col.post": N_("Post"),
    "col.account": N_("Account"),
    "col.state": N_("State"),
    "col.reason": N_("Reason"),
    "col.count": N_("Count"),
    "col.countdown": N_("Countdown"),
    "col.rank": N_("Rank"),
    "col.published_at": N_("Published"),
    "col.link": N_("Link"),
    "col.figure": N_("Figure"),
    "col.total": N_("Total"),
    "col.providers": N_("Provided by"),
    "col.first_post": N_("At first post"),
    "col.last_post": N_("At last post"),
    "col.posts": N_("Posts"),
    "col.authors": N_("Unique authors"),
    "col.measured": N_("Measured"),
    "total": N_("Total"),
    "planned": N_("planned"),
    "published": N_("published"),
    "failed": N_("failed"),
    "expired": N_("expired"),
    "cancelled": N_("cancelled"),
    "unknown": N_("unknown"),
    "open": N_("open"),
    "reasons": N_("Why deliveries did not go out"),
    "no_reasons": N_("Nothing failed, expired, was cancelled or is unknown."),
    "punctuality": N_("Punctuality"),
    "lag.median": N_("Lag (median)"),
    "lag.p95": N_("Lag (95th percentile)"),
    "lag.max": N_("Lag (maximum)"),
    "lag.within": N_("Within 1 minute"),
    "engagement": N_("Engagement and reach by channel"),
    "figures.sender": N_("Engagement and reach by sender"),
    "figures.day": N_("Engagement and reach by day"),
    "figures.post": N_("Engagement and reach by post"),
    "likes": N_("Likes"),
    "reposts": N_("Reposts"),
    "replies": N_("Replies"),
    "quotes": N_("Quotes"),
    "views": N_("Impressions"),
    "reach": N_("Reach"),
    "clicks": N_("Clicks"),
    "interactions": N_("Engagement"),
    "providers": N_("Which networks provide which figure"),
    "nobody": N_("no network"),
    "followers": N_("Followers at publishing time"),
    "top": N_("Top posts by engagement"),
    "no_top": N_("No figures yet."),
    "timeline": N_("Countdown: planned and published per day"),
    "hashtag_use": N_("Use of the hashtag by others"),
    "hashtag_days": N_("Use per day"),
    "no_hashtag": N_("No posts by others with the hashtag found."),
    "notes": N_("Definitions"),
    "chart.outcomes": N_("Planned and published"),
    "chart.outcomes.desc": N_("Bar chart: planned and published deliveries per {group}."),
    "chart.engagement": N_("Engagement by channel"),
    "chart.engagement.desc": N_(
        "Stacked bar chart: likes, reposts, replies and quotes per channel."
    ),
    "chart.timeline": N_("Countdown timeline"),
    "chart.timeline.desc": N_(
        "Column chart per day up to the event (T-0): planned and published deliveries."
    ),
    "chart.hashtag": N_("Hashtag use over time"),
    "chart.hashtag.desc": N_(
        "Columns: posts by others with the hashtag per day; line: unique authors per day."
    ),
    "chart.empty": N_("no data"),
    "summary.tag_posts": N_("Posts by others with the hashtag"),
    "summary.tag_authors": N_("Unique authors using the hashtag"),
}


#: Footnotes, in order (English msgids).
NOTES: tuple[str, ...] = (
    N_(
        "Reach: the number of distinct accounts a post was shown to at least once, as the network counts them. Sums over several posts count an account that saw several posts more than once. Only some networks report it (e.g. LinkedIn, Instagram, Facebook)."
    ),
    N_(
        "Impressions: how often a post was displayed, repeated displays to the same account included (called “views” by some networks)."
    ),
    N_(
        "Engagement (interactions): likes + reposts + replies + quotes, as far as the network reports them. Clicks are not included; they are shown separately because only a few networks report them."
    ),
    N_(
        "Mastodon, Bluesky and Telegram provide no impressions; Telegram's Bot API provides no figures at all. For these networks the report shows “—”, not a number."
    ),
    N_(
        "“—” means the network does not provide this figure, or nothing has been measured yet. A dash is never a zero."
    ),
    N_(
        "Every figure comes from the latest measurement of each post on each channel. Followers: the account's followers at the first measurement after publishing – context, not reach."
    ),
    N_(
        "Punctuality: the lag from the planned time to publication. Median: half of the deliveries went out faster; 95th percentile: 95 % went out faster."
    ),
    N_(
        "Hashtag use: posts by other accounts with the campaign hashtag (our own posts not counted), where the network offers a hashtag search. Unique authors are counted once over the whole period."
    ),
)

_WEEKDAYS = {
    Lang.DE: ("Mo.", "Di.", "Mi.", "Do.", "Fr.", "Sa.", "So."),
    Lang.EN: ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Words:
    """Strings and formats of one language."""

    lang: Lang

    def __call__(self, key: str, **values: str) -> str:
        return tr(_TEXT[key], self.lang.value, **values)

    def notes(self) -> list[str]:
        return [tr(note, self.lang.value) for note in NOTES]

    def channel(self, name: str) -> str:
        from campaign_scheduler.channels.catalog import title_of

        return title_of(name)

    def channels(self, names: tuple[str, ...] | list[str]) -> str:
        return ", ".join(self.channel(n) for n in names) if names else self("nobody")

    def number(self, value: float | None) -> str:
        """``1.500`` / ``1,500``; ``—`` for an unknown value."""
        if value is None:
            return MISSING
        if isinstance(value, float) and not value.is_integer():
            text = f"{value:,.1f}"
        else:
            text = f"{int(value):,d}"
        if self.lang is Lang.DE:
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text

    def seconds(self, value: float | None) -> str:
        """A lag: ``32,5 s``, ``2 min``, ``10 min 5 s``, ``1 h 5 min``; ``—`` if unknown."""
        if value is None:
            return MISSING
        sign = "-" if value < 0 else ""
        value = abs(value)
        if value < 60:
            rounded = round(value, 1)
            return f"{sign}{self.number(float(rounded))} s"
        whole = round(value)
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            return f"{sign}{hours} h" + (f" {minutes} min" if minutes else "")
        return f"{sign}{minutes} min" + (f" {secs} s" if secs else "")

    def day(self, value: date) -> str:
        """``Do., 04.11.2021`` / ``Thu 4 Nov 2021``."""
        weekday = _WEEKDAYS[self.lang][value.weekday()]
        if self.lang is Lang.DE:
            return f"{weekday}, {value:%d.%m.%Y}"
        return f"{weekday} {value.day} {_MONTHS_EN[value.month - 1]} {value.year}"

    def short_day(self, value: date) -> str:
        """``04.11.`` / ``4 Nov``: axis labels."""
        if self.lang is Lang.DE:
            return f"{value:%d.%m.}"
        return f"{value.day} {_MONTHS_EN[value.month - 1]}"

    def moment(self, value: datetime | None, zone: ZoneInfo) -> str:
        """``04.11.2021, 09:32 Uhr`` / ``4 Nov 2021, 09:32``."""
        if value is None:
            return MISSING
        local = value.astimezone(zone)
        if self.lang is Lang.DE:
            return f"{local:%d.%m.%Y, %H:%M} Uhr"
        return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"

    def reason(self, text: str, data: Mapping[str, Any] | None = None) -> str:
        """A delivery's reason for readers: the scheduler's own reasons worded from their key
        (no configuration keys), in the report's language; a network's message (or a reason
        without a key) as recorded."""
        from campaign_scheduler.reasons import Reason

        reason = Reason.from_json(data) or Reason.from_record(text)
        return reason.for_readers(self.lang.value) if reason is not None else text

    def head(self, key: str) -> str:
        """A column or row heading: the word with a capital first letter."""
        text = self(key)
        return text[:1].upper() + text[1:]

    def state(self, state: str) -> str:
        key = {"pending": "open", "retry_wait": "open", "publishing": "open"}.get(state, state)
        return self(key) if key in _TEXT else state
