"""Placeholders in post texts and alt texts: ``{event.date}``, ``{countdown}``, ``{sender.name}`` …

A draft says ``Am {event.weekday}, {event.day} ist es so weit`` instead of hard-coding the
date, so that moving ``[event] start`` moves the whole campaign, text included. Placeholders
are filled in when the drafts are read (before ``check`` counts the text and before ``load``
hashes and stores it), in the post's language, with Babel's CLDR data. What the database holds,
what the four-eyes approval covers and what the network receives is therefore the same
rendered text.

Syntax: ``{name}``; ``{{`` and ``}}`` stand for literal braces. Anything else between braces is
an error that names the file and line. The names are in :data:`PLACEHOLDERS`.

Babel is imported only when a text uses a placeholder that needs it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from campaign_scheduler.problems import Problem
from campaign_scheduler.uilang import msg

if TYPE_CHECKING:
    from babel import Locale

    from campaign_scheduler.campaign import Campaign
    from campaign_scheduler.drafts import Draft

#: Every placeholder with a short description (shown in error messages and the docs).
PLACEHOLDERS: dict[str, str] = {
    "event.name": "the event's name",
    "event.url": "the event's web address",
    "event.date": "the event's (first) day, long form: 18. November 2021",
    "event.day": "the event's (first) day without the year: 18. November",
    "event.weekday": "the weekday of the event's start: Donnerstag",
    "event.time": "the event's start time: 10:00",
    "event.end_time": "the event's end time: 16:00",
    "event.year": "the year of the event: 2021",
    "days_left": "whole days from the post's day to the event's day: 3 (0 on the day)",
    "countdown": "the same as a phrase: in 3 Tagen, übermorgen, morgen, heute",
    "campaign.name": "the campaign's name",
    "hashtag": "the campaign's hashtag: #5malklug",
    "sender.name": "the sender's name: Stadt Soest",
}

# `{{`, `}}`, a well-formed `{name}`, or a brace that is neither.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}|[{}]")


class PlaceholderError(ValueError):
    """A placeholder that cannot be rendered; ``offset`` is where it starts in the text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def uses_placeholders(text: str) -> bool:
    return "{" in text or "}" in text


@dataclass(frozen=True)
class RenderContext:
    """What a text is rendered for: one campaign, one sender, one due time, one language."""

    campaign: Campaign
    sender_name: str
    language: str
    due_at: datetime | None  # UTC; None when the post has no valid time

    @property
    def event_day(self) -> date:
        return self.campaign.event.start.astimezone(self.campaign.zone).date()

    def days_left(self) -> int | None:
        if self.due_at is None:
            return None
        return (self.event_day - self.due_at.astimezone(self.campaign.zone).date()).days


@cache
def _locale(language: str) -> Locale:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise PlaceholderError(
            msg(
                "language '{language}' is unknown to the date formatting (Babel/CLDR)",
                language=language,
            ),
            0,
        ) from None


def _event_local(context: RenderContext) -> datetime:
    return context.campaign.event.start.astimezone(context.campaign.zone)


# Babel's formatting parses its patterns on every call; a campaign formats the same few
# values thousands of times, so the results are cached by value.


@cache
def _date_text(day: date, pattern: str, language: str) -> str:
    from babel.dates import format_date

    return format_date(day, pattern, locale=_locale(language))


@cache
def _skeleton_text(day: date, skeleton: str, language: str) -> str:
    from babel.dates import format_skeleton

    return format_skeleton(skeleton, day, locale=_locale(language))


@cache
def _time_text(moment: time, language: str) -> str:
    from babel.dates import format_time

    return format_time(moment, "short", locale=_locale(language))


@cache
def _number_text(number: int, language: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(number, locale=_locale(language))


def _event_date(context: RenderContext) -> str:
    return _date_text(context.event_day, "long", context.language)


def _event_day(context: RenderContext) -> str:
    return _skeleton_text(context.event_day, "dMMMM", context.language)


def _event_weekday(context: RenderContext) -> str:
    return _date_text(context.event_day, "EEEE", context.language)


def _event_time(context: RenderContext) -> str:
    return _time_text(_event_local(context).time(), context.language)


def _event_end_time(context: RenderContext) -> str:
    end = context.campaign.event.end
    if end is None:
        raise PlaceholderError(
            msg(
                "{placeholder}: the campaign's [event] has no 'end'", placeholder="{event.end_time}"
            ),
            0,
        )
    return _time_text(end.astimezone(context.campaign.zone).time(), context.language)


def _event_url(context: RenderContext) -> str:
    url = context.campaign.event.url
    if not url:
        raise PlaceholderError(
            msg("{placeholder}: the campaign's [event] has no 'url'", placeholder="{event.url}"), 0
        )
    return url


def _hashtag(context: RenderContext) -> str:
    hashtag = context.campaign.hashtag
    if not hashtag:
        raise PlaceholderError(
            msg("{placeholder}: the campaign has no 'hashtag'", placeholder="{hashtag}"), 0
        )
    return hashtag


def _days(context: RenderContext) -> int:
    days = context.days_left()
    if days is None:
        raise _Unresolved
    return days


def _days_left(context: RenderContext) -> str:
    days = _days(context)
    if days < 0:
        names = {"placeholder": "{days_left}", "countdown": "{countdown}"}
        if days == -1:
            late = msg(
                "{placeholder}: the post is due 1 day after the event's day; "
                "use {countdown} for posts after the event",
                **names,
            )
        else:
            late = msg(
                "{placeholder}: the post is due {days} days after the event's day; "
                "use {countdown} for posts after the event",
                days=-days,
                **names,
            )
        raise PlaceholderError(late, 0)
    return _number_text(days, context.language)


def _countdown(context: RenderContext) -> str:
    return _countdown_text(_days(context), context.language)


@cache
def _countdown_text(days: int, language: str) -> str:
    return countdown_phrase(days, _locale(language))


def countdown_phrase(days: int, locale: Locale) -> str:
    """``heute``, ``morgen``, ``übermorgen``, ``in 3 Tagen``, ``gestern``, ``vor 3 Tagen``
    (and the same in any CLDR language)."""
    from datetime import timedelta

    from babel.dates import format_timedelta

    # CLDR's relative day names ("heute", "morgen", "übermorgen"); Babel has no public
    # function for them, so they are read from its locale data, with the numeric phrase as
    # the fallback.
    try:
        named = locale._data["date_fields"]["day"]["relative"]
        if days in named:
            return str(named[days])
    except (KeyError, TypeError, AttributeError):
        pass
    return format_timedelta(
        timedelta(days=days),
        granularity="day",
        threshold=100_000,
        add_direction=True,
        locale=locale,
    )


class _Unresolved(Exception):
    """The value depends on something the draft lacks (an invalid ``at``): keep the token."""


_RENDERERS: dict[str, Callable[[RenderContext], str]] = {
    "event.name": lambda c: c.campaign.event.name,
    "event.url": _event_url,
    "event.date": _event_date,
    "event.day": _event_day,
    "event.weekday": _event_weekday,
    "event.time": _event_time,
    "event.end_time": _event_end_time,
    "event.year": lambda c: str(c.event_day.year),
    "days_left": _days_left,
    "countdown": _countdown,
    "campaign.name": lambda c: c.campaign.name,
    "hashtag": _hashtag,
    "sender.name": lambda c: c.sender_name,
}
assert set(_RENDERERS) == set(PLACEHOLDERS)


def render(text: str, context: RenderContext) -> str:
    """Fill in every placeholder; raise :class:`PlaceholderError` for the first bad one."""
    if not uses_placeholders(text):
        return text
    parts: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
            continue
        name = match.group(1)
        if name is None:
            raise PlaceholderError(
                msg(
                    "a lone '{brace}': write '{double}' for a literal brace, "
                    "or a placeholder like {example}",
                    brace=token,
                    double=token * 2,
                    example="{event.date}",
                ),
                match.start(),
            )
        renderer = _RENDERERS.get(name)
        if renderer is None:
            from campaign_scheduler.fields import did_you_mean

            raise PlaceholderError(
                msg(
                    "unknown placeholder {name}{suggestion}; known: {known}",
                    name="{" + name + "}",
                    suggestion=did_you_mean(name, PLACEHOLDERS),
                    known=", ".join("{" + key + "}" for key in PLACEHOLDERS),
                ),
                match.start(),
            )
        try:
            parts.append(renderer(context))
        except _Unresolved:
            parts.append(token)
        except PlaceholderError as exc:
            raise PlaceholderError(exc.message, match.start()) from None
    parts.append(text[position:])
    return "".join(parts)


def _line_at(text: str, offset: int, first_line: int) -> int:
    return first_line + text.count("\n", 0, offset)


def render_draft(draft: Draft, campaign: Campaign, problems: list[Problem]) -> Draft:
    """The draft with its text, variants and alt texts rendered; problems are located.

    On an error the draft keeps the text as written (and ``check`` fails on the problem).
    """
    texts = [
        draft.body,
        *draft.variants.values(),
        *(m.alt or "" for m in draft.media),
        draft.first_comment or "",
    ]
    if not any(uses_placeholders(t) for t in texts):
        return draft
    sender = campaign.sender(draft.sender)
    context = RenderContext(
        campaign=campaign,
        sender_name=sender.name if sender else draft.sender,
        language=draft.language,
        due_at=draft.due_at,
    )
    failed = False

    def rendered(text: str, path: Path, line: int, *, spans_lines: bool) -> str:
        nonlocal failed
        try:
            return render(text, context)
        except PlaceholderError as exc:
            failed = True
            where = _line_at(text, exc.offset, line) if spans_lines else line
            problems.append(Problem(path, where, exc.message))
            return text

    changes: dict[str, Any] = {
        "body": rendered(draft.body, draft.path, draft.body_line, spans_lines=True),
        "variants": {
            channel: rendered(
                text, draft.path, draft.doc.line_of("variants", channel, "text"), spans_lines=False
            )
            for channel, text in draft.variants.items()
        },
        "media": tuple(
            dataclasses.replace(
                media,
                alt=rendered(
                    media.alt,
                    draft.path,
                    draft.doc.line_of("media", index, "alt"),
                    spans_lines=False,
                ),
            )
            if media.alt
            else media
            for index, media in enumerate(draft.media)
        ),
        "first_comment": rendered(
            draft.first_comment, draft.path, draft.comment_line(), spans_lines=False
        )
        if draft.first_comment
        else None,
    }
    if failed:
        return draft
    return dataclasses.replace(draft, **changes)
