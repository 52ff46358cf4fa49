"""Time handling: "when" expressions, durations, posting windows and free slots.

Conventions used throughout the project and enforced here:

* Instants are timezone-aware datetimes in UTC. Every function that returns an instant
  returns one in UTC; :func:`utc` converts, and refuses naive values.
* Wall-clock times (what people write in drafts and on the command line) are naive
  datetimes meant in the campaign's zone. :func:`wall_clock_to_utc` turns them into
  instants with one fixed DST policy:

  - a wall time that does not exist (the spring-forward gap) is moved forward by the
    length of the gap, so 02:30 on 2021-03-28 in Europe/Berlin becomes 03:30 CEST;
  - a wall time that happens twice (the autumn fold) means its first occurrence, the
    one still in summer time.

  This is exactly what PEP 495 prescribes for ``fold=0``, so zoneinfo does the work.

* Calendar offsets ("T-14d 09:30") move the event's *local* date and keep the wall
  clock; exact offsets ("T-2h") move the instant by that many real hours.

ISO 8601 input is read by the standard library (``datetime.fromisoformat``); other human
date input is parsed with python-dateutil, imported only when such a text comes (an idle
daemon never loads it). This module imports only the standard library (and dateutil when it
needs it), so every other module may depend on it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import wraps
from typing import Concatenate, ParamSpec
from zoneinfo import ZoneInfo

from campaign_scheduler.uilang import N_, msg


def utcnow() -> datetime:
    """The current time, aware, in UTC: the one default clock of the whole program."""
    return datetime.now(UTC)


__all__ = [
    "PostingWindow",
    "WhenError",
    "ago",
    "ahead",
    "countdown_label",
    "format_duration",
    "format_local",
    "in_windows",
    "infer_year",
    "is_ambiguous",
    "is_nonexistent",
    "next_slot",
    "parse_duration",
    "parse_typed_date",
    "parse_typed_when",
    "parse_when",
    "parse_window",
    "span",
    "to_local",
    "utc",
    "wall_clock_to_utc",
]


class WhenError(ValueError):
    """A time, duration or posting window written by a user cannot be understood.

    The message is meant for the user as it stands, for example
    ``bad time 'T-14x 09:30': unknown unit 'x' (use d, h or m)``.
    """


# ---------------------------------------------------------------------------
# Basic conversions


def utc(dt: datetime) -> datetime:
    """Return the aware datetime ``dt`` converted to UTC; a naive one is a ValueError."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} where an aware one is required")
    return dt.astimezone(UTC)


def to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    """Return the aware ``instant`` as an aware datetime in ``zone`` (fold set correctly)."""
    return utc(instant).astimezone(zone)


def format_local(instant: datetime, zone: ZoneInfo, *, seconds: bool = False) -> str:
    """Format ``instant`` as local wall-clock text, e.g. ``2021-11-04 09:30``."""
    return to_local(instant, zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def _require_naive(local: datetime, what: str) -> None:
    if local.tzinfo is not None:
        raise ValueError(f"{what} needs a naive wall-clock datetime, got {local.isoformat()}")


def wall_clock_to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Convert the naive wall-clock time ``local`` in ``zone`` to an aware UTC instant.

    Times in a DST gap move forward by the gap's length; ambiguous times mean their first
    occurrence. Both follow from attaching the zone with ``fold=0`` (PEP 495).
    """
    _require_naive(local, "wall_clock_to_utc")
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def is_nonexistent(local: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive wall-clock time ``local`` falls into a gap (clocks jumped over it)."""
    _require_naive(local, "is_nonexistent")
    back = local.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)
    return back.replace(tzinfo=None) != local


def is_ambiguous(local: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive wall-clock time ``local`` happens twice (clocks were turned back)."""
    _require_naive(local, "is_ambiguous")
    if is_nonexistent(local, zone):
        return False
    first = local.replace(tzinfo=zone, fold=0).utcoffset()
    second = local.replace(tzinfo=zone, fold=1).utcoffset()
    return first != second


# ---------------------------------------------------------------------------
# Durations

_DURATION_UNITS: dict[str, timedelta] = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
_DURATION_PART = re.compile(r"\s*(\d+)\s*([A-Za-z]*)\s*")
_DURATION_HINT = N_("use e.g. 30m, 2h, 1d or 1h30m")


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``30m``, ``2h``, ``1d``, ``90s``, ``1w``, ``1h30m`` or ``0``.

    Units: w (7 days), d (24 hours), h, m, s; each at most once. Whitespace between the
    parts is allowed. Negative or fractional amounts are refused.
    """
    stripped = text.strip()

    def fail(reason: str) -> WhenError:
        return WhenError(msg("bad duration '{text}': {reason}", text=stripped, reason=reason))

    if not stripped:
        raise fail(msg("empty ({hint})", hint=msg(_DURATION_HINT)))
    if stripped.startswith("-"):
        raise fail(msg("a duration cannot be negative"))
    parts: list[tuple[int, str]] = []
    pos = 0
    while pos < len(stripped):
        match = _DURATION_PART.match(stripped, pos)
        if match is None:
            rest = stripped[pos:]
            if rest[0] in ".,":
                raise fail(msg("use whole numbers (write 1h30m rather than 1.5h)"))
            raise fail(msg("unexpected '{rest}' ({hint})", rest=rest, hint=msg(_DURATION_HINT)))
        parts.append((int(match.group(1)), match.group(2).lower()))
        pos = match.end()
    if len(parts) == 1 and parts[0] == (0, ""):
        return timedelta(0)
    total = timedelta(0)
    seen: set[str] = set()
    for amount, unit in parts:
        if not unit:
            raise fail(msg("'{amount}' needs a unit (w, d, h, m or s)", amount=amount))
        if unit not in _DURATION_UNITS:
            raise fail(msg("unknown unit '{unit}' (use w, d, h, m or s)", unit=unit))
        if unit in seen:
            raise fail(msg("unit '{unit}' given twice", unit=unit))
        seen.add(unit)
        try:
            total += amount * _DURATION_UNITS[unit]
        except OverflowError:
            raise fail(msg("too large")) from None
    return total


def format_duration(td: timedelta) -> str:
    """Format ``td`` compactly so that :func:`parse_duration` reads it back.

    ``5400s`` gives ``1h30m``, zero gives ``0m``, a week gives ``7d``; sub-second parts are
    dropped and negative durations get a leading ``-``.
    """
    if td < timedelta(0):
        return "-" + format_duration(-td)
    seconds = int(td.total_seconds())
    if seconds == 0:
        return "0m"
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    pieces = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
    return "".join(f"{amount}{unit}" for amount, unit in pieces if amount)


def _spoken(td: timedelta, lang: str, *, direction: bool) -> str:
    """``td`` in the one unit a person would say (CLDR, through Babel, imported only here)."""
    from babel.dates import format_timedelta

    rounded = timedelta(seconds=int(td.total_seconds()))
    locale = "de_DE" if lang == "de" else "en_GB"
    # A unit is used from one and a half of it on: "90 minutes", then "2 hours".
    return format_timedelta(rounded, threshold=1.5, add_direction=direction, locale=locale)


def span(td: timedelta, lang: str) -> str:
    """How long, as a person says it: ``3 Minuten``, ``5 Jahre`` / ``3 minutes``, ``5 years``."""
    return _spoken(abs(td), lang, direction=False)


def ago(td: timedelta, lang: str) -> str:
    """How long ago: ``vor 3 Minuten``, ``vor 3 Tagen`` / ``3 minutes ago`` (at least a
    second: CLDR says "in 0 seconds" of no time at all)."""
    return _spoken(-max(abs(td), timedelta(seconds=1)), lang, direction=True)


def ahead(td: timedelta, lang: str) -> str:
    """How long ahead: ``in 2 Stunden`` / ``in 2 hours``."""
    return _spoken(abs(td), lang, direction=True)


# ---------------------------------------------------------------------------
# "When" expressions

_FORMS = N_(
    "use 'YYYY-MM-DD HH:MM' (campaign time zone), ISO 8601 with an offset such as "
    "'2021-11-04T09:30:00+01:00', or a time relative to the event start such as "
    "'T-14d 09:30', 'T-14d', 'T-2h', 'T-90m', 'T-0' or 'T+1d 12:00'"
)
_NATURAL_FORMS = N_(
    "use 'YYYY-MM-DD HH:MM' (campaign time zone), ISO 8601 with an offset such as "
    "'2021-11-04T09:30:00+01:00', a time relative to the event start such as "
    "'T-14d 09:30', 'T-14d', 'T-2h', 'T-90m', 'T-0' or 'T+1d 12:00', "
    "or another common date format such as 'Nov 4 2021 9:30am'"
)
_RELATIVE_HINT = N_("e.g. 'T-14d 09:30', 'T-2h', 'T-90m' or 'T-0'")
#: What dateutil (through ``datetime``) says of a date that does not exist.
_DATEUTIL_REASONS = (
    N_("day is out of range for month"),
    N_("month must be in 1..12"),
    N_("hour must be in 0..23"),
    N_("minute must be in 0..59"),
    N_("second must be in 0..59"),
)


def _bad_time(text: object, reason: str) -> WhenError:
    """``bad time 'text': reason``; ``reason`` is a :func:`msg` (or the words of a library)."""
    return WhenError(msg("bad time '{text}': {reason}", text=text, reason=reason))


def _date_alone(day: str) -> WhenError:
    return _bad_time(day, msg("a date alone is not enough, add the time ('{day} 09:30')", day=day))


# "T" not followed by a letter: "T-14d", "T + 2h", "T"; but not "Tuesday" or "today".
_RELATIVE_START = re.compile(r"T(?![A-Za-z])", re.IGNORECASE)
_RELATIVE_REST = re.compile(
    r"\s*(?:(?P<sign>[+-])\s*(?P<amount>\S+))?(?:\s+(?P<clock>\S.*?))?\s*", re.DOTALL
)
_OFFSET_PART = re.compile(r"(\d+)([A-Za-z]*)")
_CALENDAR_UNITS = {"d": 1, "w": 7}
_EXACT_UNITS = {"h": timedelta(hours=1), "m": timedelta(minutes=1)}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")

# The strict absolute forms; the actual date arithmetic is left to dateutil.
_ABSOLUTE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T|\s+)\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?"
    r"\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
# "4.11.2021" is the 4th of November, as everywhere dots separate day and month first.
_GERMAN_DATE = re.compile(r"\b\d{1,2}\.\d{1,2}\.")
_UTC_NAMES = frozenset({"UTC", "Z", "GMT", "UT"})


#: The years a time may fall in: wide enough for any campaign, narrow enough that adding a
#: grace period, a countdown or a zone offset never leaves the years ``datetime`` covers
#: (0001-9999, where 0001-01-01 in Berlin or 9999-12-31 plus a day raise OverflowError).
EARLIEST_YEAR = 1970
LATEST_YEAR = 9000


def year_in_range(year: int) -> bool:
    return EARLIEST_YEAR <= year <= LATEST_YEAR


def _year_error(shown: object) -> WhenError:
    return _bad_time(
        shown,
        msg(
            "the year must be between {earliest} and {latest}",
            earliest=EARLIEST_YEAR,
            latest=LATEST_YEAR,
        ),
    )


_When = str | datetime | date
_P = ParamSpec("_P")


def _within_years(
    parse: Callable[Concatenate[_When, _P], datetime],
) -> Callable[Concatenate[_When, _P], datetime]:
    """``parse`` raising :class:`WhenError` for a time outside the years :data:`EARLIEST_YEAR`
    to :data:`LATEST_YEAR`, also for one whose arithmetic overflows on the way."""

    @wraps(parse)
    def checked(value: _When, /, *args: _P.args, **kwargs: _P.kwargs) -> datetime:
        shown = value.isoformat(sep=" ") if isinstance(value, datetime) else value
        if isinstance(value, date) and not year_in_range(value.year):
            raise _year_error(shown)
        try:
            instant = parse(value, *args, **kwargs)
        except OverflowError:
            raise _year_error(shown) from None
        if not year_in_range(instant.year):
            raise _year_error(shown)
        return instant

    return checked


@_within_years
def parse_when(
    value: _When,
    *,
    zone: ZoneInfo,
    event_start: datetime | None,
    allow_natural: bool = False,
    now: datetime | None = None,
) -> datetime:
    """Resolve a "when" (CONTRACT.md) to an aware UTC instant.

    ``value`` is text from a draft or the command line, or a value TOML already turned
    into a ``datetime`` (naive means wall clock in ``zone``) or a ``date`` (refused: a
    time of day is needed). ``event_start`` (aware) anchors the ``T…`` forms.
    ``allow_natural`` additionally accepts whatever dateutil understands, with the date
    taken from ``now`` (default: the current time) when the text gives none.

    Raises :class:`WhenError` for anything it cannot resolve, including a time outside the
    years :data:`EARLIEST_YEAR` to :data:`LATEST_YEAR`.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return wall_clock_to_utc(value.replace(tzinfo=None), zone)
        return utc(value)
    if isinstance(value, date):
        raise _date_alone(value.isoformat())
    if isinstance(value, time):
        clock = value.isoformat(timespec="minutes")
        raise _bad_time(
            clock,
            msg(
                "a time of day alone is not enough, add the date ('2021-11-04 {clock}') or "
                "the day relative to the event ('T-14d {clock}')",
                clock=clock,
            ),
        )
    if not isinstance(value, str):
        raise _bad_time(value, msg(_FORMS))

    text = value.strip()
    if not text:
        raise _bad_time("", msg("empty; {forms}", forms=msg(_FORMS)))
    if _RELATIVE_START.match(text):
        return _parse_relative(text, zone, event_start)
    if _ABSOLUTE.fullmatch(text):
        try:  # the common, strict spelling; dateutil handles the rest (e.g. "9:30", "UTC")
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return _parse_with_dateutil(text, zone, default=datetime(2000, 1, 1), forms=_FORMS)
        return parse_when(parsed, zone=zone, event_start=None)
    if _DATE_ONLY.fullmatch(text):
        raise _date_alone(text)
    if allow_natural:
        current = to_local(now if now is not None else datetime.now(UTC), zone)
        midnight = current.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        forms = _NATURAL_FORMS
        first = _parse_with_dateutil(text, zone, default=midnight, forms=forms)
        # The same text parsed with a different default hour reveals whether it has a time.
        second = _parse_with_dateutil(text, zone, default=midnight.replace(hour=12), forms=forms)
        if first != second:
            raise _needs_clock(text, text)
        return first
    raise _bad_time(text, msg(_FORMS))


def _zone_resolver(
    zone: ZoneInfo,
) -> tuple[Callable[[str | None, int | None], tzinfo | None], list[str]]:
    """A dateutil ``tzinfos`` callback that never falls back to the machine's local zone.

    UTC names and numeric offsets map to fixed offsets; any other name is tried as an
    abbreviation of ``zone`` (the caller checks that it really is one).
    """
    names: list[str] = []

    def resolve(name: str | None, offset: int | None) -> tzinfo | None:
        if name is not None and name.upper() in _UTC_NAMES:
            return UTC
        if offset is not None:
            return timezone(timedelta(seconds=offset))
        if name is None:
            return None
        names.append(name)
        return zone

    return resolve, names


def _parse_with_dateutil(text: str, zone: ZoneInfo, *, default: datetime, forms: str) -> datetime:
    from dateutil import parser as dateutil_parser  # only for text that is not ISO 8601

    resolve, names = _zone_resolver(zone)
    try:
        parsed = dateutil_parser.parse(
            text, default=default, tzinfos=resolve, dayfirst=_GERMAN_DATE.search(text) is not None
        )
    except dateutil_parser.ParserError as exc:
        reason = exc.args[0] if exc.args and isinstance(exc.args[0], str) else ""
        if reason.endswith(": %s") and "format" not in reason:
            # e.g. "day is out of range for month" (_DATEUTIL_REASONS)
            raise _bad_time(text, msg(reason.removesuffix(": %s"))) from None
        raise _bad_time(text, msg(forms)) from None
    except (ValueError, OverflowError):
        raise _bad_time(text, msg(forms)) from None
    if parsed.tzinfo is None:
        return wall_clock_to_utc(parsed, zone)
    for name in names:
        if parsed.tzname() != name:
            raise _bad_time(
                text,
                msg(
                    "unknown time zone name '{name}'; write an offset such as +01:00, or "
                    "leave it out to mean {zone} time",
                    name=name,
                    zone=zone.key,
                ),
            )
    return utc(parsed)


def _parse_clock(text: str, raw: str) -> time:
    match = _CLOCK.fullmatch(raw)
    if match is None:
        raise _bad_time(text, msg("bad time of day '{raw}' (use HH:MM, e.g. 09:30)", raw=raw))
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23:
        raise _bad_time(text, msg("hour {hour} in '{raw}' is not in 0-23", hour=hour, raw=raw))
    if minute > 59:
        raise _bad_time(
            text, msg("minute {minute} in '{raw}' is not in 0-59", minute=minute, raw=raw)
        )
    return time(hour, minute)


def _parse_relative(text: str, zone: ZoneInfo, event_start: datetime | None) -> datetime:
    """Parse the ``T…`` forms; ``text`` is stripped and starts with ``T``."""

    def fail(reason: str) -> WhenError:
        return _bad_time(text, reason)

    hint = msg(_RELATIVE_HINT)
    match = _RELATIVE_REST.fullmatch(text, 1)
    if match is None:
        raise fail(msg("cannot read the offset from the event start ({hint})", hint=hint))
    sign = -1 if match.group("sign") == "-" else 1
    amount = match.group("amount") or "0"
    clock_text = match.group("clock")

    if not re.fullmatch(r"[0-9A-Za-z]+", amount):
        if re.search(r"\d[.,]\d", amount):
            raise fail(
                msg(
                    "use whole numbers in '{amount}' (e.g. T-90m rather than T-1.5h)", amount=amount
                )
            )
        raise fail(msg("cannot read the offset '{amount}' ({hint})", amount=amount, hint=hint))
    if not _OFFSET_PART.match(amount):
        raise fail(
            msg("the offset '{amount}' must start with a number ({hint})", amount=amount, hint=hint)
        )
    parts = [(int(m.group(1)), m.group(2).lower()) for m in _OFFSET_PART.finditer(amount)]

    days = 0
    exact = timedelta(0)
    kinds: set[str] = set()
    for number, unit in parts:
        if not unit:
            if number == 0 and len(parts) == 1:
                continue
            raise fail(msg("'{n}' needs a unit (use d, h or m), e.g. 'T-{n}d'", n=number))
        if unit in _CALENDAR_UNITS:
            days += number * _CALENDAR_UNITS[unit]
            kinds.add("calendar")
        elif unit in _EXACT_UNITS:
            try:
                exact += number * _EXACT_UNITS[unit]
            except OverflowError:
                raise fail(msg("offset too large")) from None
            kinds.add("exact")
        else:
            raise fail(msg("unknown unit '{unit}' (use d, h or m)", unit=unit))
    if len(kinds) > 1:
        raise fail(msg("do not mix days with hours or minutes; write e.g. 'T-1d 08:00' or 'T-26h'"))
    if "exact" in kinds and clock_text is not None:
        offset = ("T-" if sign < 0 else "T+") + amount
        raise fail(
            msg(
                "a time of day goes only with days ('T-14d 09:30'); '{offset}' is already an "
                "exact time",
                offset=offset,
            )
        )
    clock = _parse_clock(text, clock_text) if clock_text is not None else None

    if event_start is None:
        raise fail(msg("an event-relative time needs an event start (set [event] start)"))
    start = utc(event_start)
    try:
        if "exact" in kinds:
            return start + sign * exact
        if days == 0 and clock is None:
            return start
        local = to_local(start, zone)
        day = local.date() + timedelta(days=sign * days)
        wall = clock if clock is not None else local.time()
        return wall_clock_to_utc(datetime.combine(day, wall), zone)
    except OverflowError:
        raise fail(msg("offset too large")) from None


def countdown_label(instant: datetime, event_start: datetime, zone: ZoneInfo) -> str:
    """Calendar days from ``instant`` to the event, by local dates: ``T-14``, ``T-0``, ``T+1``."""
    days = (to_local(event_start, zone).date() - to_local(instant, zone).date()).days
    return f"T-{days}" if days >= 0 else f"T+{-days}"


# ---------------------------------------------------------------------------
# Posting windows

_DAY_NAMES: dict[str, int] = {}
for _number, _spellings in enumerate(
    [
        ("mon", "monday", "mo", "montag"),
        ("tue", "tues", "tuesday", "di", "dienstag"),
        ("wed", "wednesday", "mi", "mittwoch"),
        ("thu", "thur", "thurs", "thursday", "do", "donnerstag"),
        ("fri", "friday", "fr", "freitag"),
        ("sat", "saturday", "sa", "samstag", "sonnabend"),
        ("sun", "sunday", "so", "sonntag"),
    ]
):
    for _spelling in _spellings:
        _DAY_NAMES[_spelling] = _number
_EVERY_DAY = frozenset({"daily", "täglich", "taeglich"})
_WINDOW = re.compile(
    r"(?:(?P<days>.*?)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})", re.DOTALL
)
_WINDOW_FORMS = N_(
    "e.g. 'Mon-Fri 08:00-19:00', 'Sat 10:00-14:00', 'Mon,Wed 09:00-12:00' or 'daily 07:00-22:00'"
)
_END_OF_DAY = time.max  # how "24:00" is stored as an end


def _bad_window(text: str, reason: str) -> WhenError:
    return WhenError(msg("bad posting window '{text}': {reason}", text=text, reason=reason))


@dataclass(frozen=True)
class PostingWindow:
    """Weekly recurring span of local wall-clock time in which posts may go out.

    ``end`` is exclusive; ``time.max`` stands for 24:00 (the end of the day).
    """

    days: frozenset[int]  # 0 = Monday .. 6 = Sunday
    start: time
    end: time
    text: str

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise _bad_window(self.text, msg("days must be a non-empty set of 0-6"))
        if self.end <= self.start:
            raise _bad_window(
                self.text,
                msg(
                    "the end must be after the start; a window cannot run past midnight, so "
                    "split it in two, e.g. 'Fri 22:00-24:00' and 'Sat 00:00-02:00'"
                ),
            )

    def contains(self, local: datetime) -> bool:
        """Whether the local wall-clock time ``local`` (naive, or aware in the zone) is inside."""
        if local.weekday() not in self.days:
            return False
        clock = local.time()
        return self.start <= clock and (clock < self.end or self.end == _END_OF_DAY)

    def __str__(self) -> str:
        return self.text


def parse_window(text: str) -> PostingWindow:
    """Parse a posting window such as ``Mon-Fri 08:00-19:00`` or ``Sa-So 10:00-16:00``.

    Days: English or German names or abbreviations, single (``Sat``), lists (``Mon,Wed``),
    ranges that may wrap (``Fri-Mon``), or ``daily``; no days at all also means daily.
    Times are HH:MM; the end may be ``24:00``. Case does not matter.
    """
    spelled = text.strip()

    def fail(reason: str) -> WhenError:
        return _bad_window(spelled, reason)

    normalized = spelled.replace("–", "-").replace("—", "-")
    match = _WINDOW.fullmatch(normalized)
    if match is None:
        raise fail(msg("expected days and a time range, {forms}", forms=msg(_WINDOW_FORMS)))
    start = _parse_window_clock(match.group("start"), fail, allow_24=False)
    end = _parse_window_clock(match.group("end"), fail, allow_24=True)
    days = _parse_days(match.group("days"), fail)
    return PostingWindow(days=days, start=start, end=end, text=spelled)


def _parse_window_clock(raw: str, fail: Callable[[str], WhenError], *, allow_24: bool) -> time:
    hour_text, minute_text = raw.split(":")
    hour, minute = int(hour_text), int(minute_text)
    if allow_24 and hour == 24 and minute == 0:
        return _END_OF_DAY
    if hour > 23:
        raise fail(msg("bad time '{raw}': hours go from 0 to 23 (24:00 only as the end)", raw=raw))
    if minute > 59:
        raise fail(msg("bad time '{raw}': minutes go from 0 to 59", raw=raw))
    return time(hour, minute)


def _day_number(name: str, fail: Callable[[str], WhenError]) -> int:
    key = name.strip().lower().rstrip(".")
    if not key:
        raise fail(msg("missing day name ({forms})", forms=msg(_WINDOW_FORMS)))
    if key not in _DAY_NAMES:
        raise fail(msg("unknown day '{day}' (use Mon..Sun, Mo..So or daily)", day=name.strip()))
    return _DAY_NAMES[key]


def _parse_days(spec: str | None, fail: Callable[[str], WhenError]) -> frozenset[int]:
    if spec is None or spec.strip().lower() in _EVERY_DAY:
        return frozenset(range(7))
    days: set[int] = set()
    for item in spec.split(","):
        if "-" in item:
            first_name, _, last_name = item.partition("-")
            first = _day_number(first_name, fail)
            last = _day_number(last_name, fail)
            span = (last - first) % 7  # ranges may wrap past Sunday: Fri-Mon
            days.update((first + i) % 7 for i in range(span + 1))
        else:
            days.add(_day_number(item, fail))
    return frozenset(days)


def in_windows(instant: datetime, windows: Sequence[PostingWindow], zone: ZoneInfo) -> bool:
    """Whether ``instant`` lies in any of ``windows`` (local to ``zone``); no windows: always."""
    if not windows:
        return True
    local = to_local(instant, zone)
    return any(window.contains(local) for window in windows)


# ---------------------------------------------------------------------------
# Free slots

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)


def _align_up(instant: datetime, zone: ZoneInfo, step: timedelta) -> datetime:
    """The first instant at or after ``instant`` whose local wall clock is a multiple of step."""
    step_us = step // timedelta(microseconds=1)
    current = instant
    while True:
        offset = to_local(current, zone).utcoffset() or timedelta(0)
        local_us = (current - _EPOCH + offset) // timedelta(microseconds=1)
        remainder = local_us % step_us
        if remainder == 0:
            return current
        # If this crosses an offset change, the next round re-aligns to the new offset.
        current = current + timedelta(microseconds=step_us - remainder)


def _next_window_change(
    instant: datetime, windows: Sequence[PostingWindow], zone: ZoneInfo
) -> datetime:
    """A later instant that is a window opening or an offset change, with none skipped.

    ``instant`` lies outside every window. Between two offset changes the local clock runs
    in step with UTC, so the next opening is found on the local calendar and mapped back;
    if the offset changes on the way, the change itself is returned for a fresh look (the
    clock may have jumped into a window, or back into one, at that moment).
    """
    local = to_local(instant, zone)
    naive = local.replace(tzinfo=None)
    opening: datetime | None = None
    for day_offset in range(8):
        day = naive.date() + timedelta(days=day_offset)
        for window in windows:
            if day.weekday() in window.days:
                candidate = datetime.combine(day, window.start)
                if candidate > naive and (opening is None or candidate < opening):
                    opening = candidate
        if opening is not None:
            break
    if opening is None:  # pragma: no cover - every window has a day within a week
        raise WhenError(msg("posting windows without any day"))
    target = instant + (opening - naive)
    offset = local.utcoffset()
    if to_local(target, zone).utcoffset() == offset:
        return target
    low, high = instant, target  # offset(low) == offset, offset(high) != offset
    while high - low > _ONE_SECOND:
        middle = low + (high - low) / 2
        if to_local(middle, zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high.replace(microsecond=0) if high.microsecond else high


def next_slot(
    earliest: datetime,
    *,
    windows: Sequence[PostingWindow],
    zone: ZoneInfo,
    taken: Sequence[datetime],
    min_gap: timedelta,
    step: timedelta = timedelta(minutes=5),
    horizon: timedelta = timedelta(days=366),
) -> datetime:
    """The first free instant at or after ``earliest``.

    Candidates are instants whose local wall clock is a multiple of ``step`` (09:30,
    09:35, …). A candidate is free when it lies in one of ``windows`` (or there are none)
    and is at least ``min_gap`` away from every instant in ``taken``. Raises WhenError
    when nothing is free within ``horizon`` after ``earliest``.

    Runs in O(n log n) for n taken instants: busy stretches and closed windows are jumped
    over, not walked minute by minute.
    """
    if step <= timedelta(0):
        raise ValueError("step must be positive")
    if min_gap < timedelta(0):
        raise ValueError("min_gap must not be negative")
    start = utc(earliest)
    limit = start + horizon
    busy = sorted(utc(t) for t in taken)
    candidate = _align_up(start, zone, step)
    while candidate <= limit:
        if windows and not in_windows(candidate, windows, zone):
            candidate = _align_up(_next_window_change(candidate, windows, zone), zone, step)
            continue
        if busy and min_gap > timedelta(0):
            low = bisect_right(busy, candidate - min_gap)
            high = bisect_left(busy, candidate + min_gap)
            if low < high:
                # Every instant before busy[high - 1] + min_gap clashes with that post.
                candidate = _align_up(busy[high - 1] + min_gap, zone, step)
                continue
        return candidate
    values = {
        "gap": format_duration(min_gap),
        "horizon": format_duration(horizon),
        "after": format_local(start, zone),
        "zone": zone.key,
    }
    raise WhenError(
        msg(
            "no free slot in the windows {windows} at least {gap} away from other posts within "
            "{horizon} after {after} ({zone})",
            windows=", ".join(w.text for w in windows),
            **values,
        )
        if windows
        else msg(
            "no free slot at least {gap} away from other posts within {horizon} after {after} "
            "({zone})",
            **values,
        )
    )


def deadline(due_at: datetime, not_after: datetime | None, grace: timedelta) -> datetime:
    """The last moment a post due at ``due_at`` may still go out.

    Never after its ``not_after``, nor more than ``grace`` after it was due (a daemon that was
    down does not flush a stale backlog).
    """
    latest = due_at + grace
    return min(latest, not_after) if not_after is not None else latest


# ---------------------------------------------------------------------------
# Times as people type them on the command line: German forms first
#
# Kept apart from parse_when (the contract's forms, also used in drafts): these forms depend on
# "now" and on the campaign period, so they belong to what a person types, not to files.

_TYPED_CLOCK = r"(?:um\s+)?(?P<hour>\d{1,2})(?:[:.](?P<minute>\d{2}))?(?P<uhr>\s*uhr)?"
_TYPED_DATE = re.compile(
    rf"(?:(?P<weekday>[a-zäöü]+)\.?,?\s+)?(?P<day>\d{{1,2}})\.(?P<month>\d{{1,2}})\."
    rf"(?P<year>\d{{4}}|\d{{2}})?(?:,?\s*{_TYPED_CLOCK})?",
    re.IGNORECASE,
)
_TYPED_NAMED_DAY = re.compile(
    rf"(?P<name>heute|morgen|übermorgen|uebermorgen|today|tomorrow)(?:,?\s*{_TYPED_CLOCK})?",
    re.IGNORECASE,
)
_TYPED_WEEKDAY = re.compile(rf"(?P<weekday>[a-z]+)\.?,?(?:\s+{_TYPED_CLOCK})?", re.IGNORECASE)
_TYPED_IN = re.compile(r"in\s+(?P<amount>\d+)\s*(?P<unit>[a-zA-Z]+)", re.IGNORECASE)
_TYPED_SLASHES = re.compile(r"\d{1,2}\s*/\s*\d{1,2}(?:\s*/\s*\d{2,4})?\b")
_NAMED_DAYS = {
    "heute": 0,
    "today": 0,
    "morgen": 1,
    "tomorrow": 1,
    "übermorgen": 2,
    "uebermorgen": 2,
}
_TYPED_UNITS: dict[str, timedelta] = {}
for _unit, _spellings in (
    (timedelta(minutes=1), ("m", "min", "mins", "minute", "minuten", "minutes")),
    (timedelta(hours=1), ("h", "std", "stunde", "stunden", "hour", "hours")),
    (timedelta(days=1), ("d", "tag", "tage", "tagen", "day", "days")),
    (timedelta(weeks=1), ("w", "woche", "wochen", "week", "weeks")),
):
    for _spelling in _spellings:
        _TYPED_UNITS[_spelling] = _unit
_TYPED_FORMS = N_(
    "write e.g. '18.11.2021 10:00', '18.11. 10:00', 'morgen 9:30', 'übermorgen 14:00', "
    "'Do 10:00', 'in 2 Stunden', 'in 30 Minuten', '2021-11-18 10:00' or 'T-2h'"
)
_WEEKDAY_WORDS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")


def _typed_clock(match: re.Match[str], text: str) -> time | None:
    """The time of day of a typed form: ``10:00``, ``9 Uhr``, ``9:30 Uhr``; None if absent."""
    hour_text = match.group("hour")
    if hour_text is None:
        return None
    if match.group("minute") is None and match.group("uhr") is None:
        raise WhenError(
            msg(
                "bad time '{text}': write the time of day as HH:MM, e.g. '{hour}:00'",
                text=text,
                hour=hour_text,
            )
        )
    hour, minute = int(hour_text), int(match.group("minute") or 0)
    if hour > 23 or minute > 59:
        raise WhenError(
            msg(
                "bad time '{text}': {hour}:{minute:02d} is not a time of day",
                text=text,
                hour=hour,
                minute=minute,
            )
        )
    return time(hour, minute)


def _needs_clock(text: str, example: str) -> WhenError:
    return WhenError(
        msg(
            "bad time '{text}': no time of day given; add one, e.g. '{example} 09:30'",
            text=text,
            example=example,
        )
    )


def infer_year(
    day: int,
    month: int,
    clock: time,
    *,
    zone: ZoneInfo,
    now: datetime,
    period: tuple[datetime | None, datetime | None] = (None, None),
) -> int:
    """The year meant by a date typed without one (``18.11. 10:00``).

    The year in which that day falls inside the campaign period (``period``: start and end as
    UTC instants, either may be open), so that "18.11." means the campaign's 18 November even
    when the campaign is in another year; when the period has no such day, the next
    occurrence: this year if that moment is still ahead of ``now``, else next year.
    """
    start, end = period
    if start is not None or end is not None:
        first = to_local(start if start is not None else utc(now), zone).year
        last = to_local(end, zone).year if end is not None else first + 1
        for year in range(first, last + 1):
            try:
                instant = wall_clock_to_utc(datetime.combine(date(year, month, day), clock), zone)
            except ValueError:  # 29.02. in a year without it
                continue
            if (start is None or instant >= start) and (end is None or instant < end):
                return year
    current = to_local(now, zone)
    for year in range(current.year, current.year + 9):  # 29.02. waits for a leap year
        try:
            candidate = datetime.combine(date(year, month, day), clock)
        except ValueError:
            continue
        if wall_clock_to_utc(candidate, zone) > utc(now):
            return year
    return current.year + 1  # pragma: no cover - one of the above exists for every valid day


def parse_typed_when(
    text: str,
    *,
    zone: ZoneInfo,
    event_start: datetime | None,
    now: datetime,
    period: tuple[datetime | None, datetime | None] = (None, None),
) -> datetime:
    """A time typed on the command line, as an aware UTC instant.

    Besides everything :func:`parse_when` reads (with ``allow_natural``), German forms:
    ``18.11.2021 10:00`` (also ``18.11.21``, ``10 Uhr``, ``Do, 18.11.2021 10:00``),
    ``18.11. 10:00`` (year: see :func:`infer_year`), ``heute``/``morgen``/``übermorgen 9:30``,
    ``Do 10:00`` (the next Thursday at 10:00 still ahead of ``now``, today included),
    ``in 2 Stunden``/``in 30 Minuten``/``in 3 Tagen`` (exactly that long after ``now``).
    Dates with slashes (``05/01/2027``) are refused: 5 January or 1 May cannot be told apart.
    """
    stripped = " ".join(text.split())
    if _TYPED_SLASHES.match(stripped):
        raise WhenError(
            msg(
                "bad time '{text}': a date with slashes is ambiguous (5 January or 1 May?); "
                "write the day first with dots, e.g. '05.01.2027 10:00', or ISO, '2027-01-05 10:00'",
                text=stripped,
            )
        )
    typed = _parse_typed_german(stripped, zone=zone, now=now, period=period)
    if typed is not None:
        return typed
    try:
        return parse_when(stripped, zone=zone, event_start=event_start, allow_natural=True, now=now)
    except WhenError as exc:
        if stripped[:1].isdigit() or stripped[:1] in "Tt":
            raise
        raise WhenError(
            msg("bad time '{text}': {forms}", text=stripped, forms=msg(_TYPED_FORMS))
        ) from exc


def _parse_typed_german(
    text: str,
    *,
    zone: ZoneInfo,
    now: datetime,
    period: tuple[datetime | None, datetime | None],
) -> datetime | None:
    """One of the German forms, or None when ``text`` is none of them."""
    today = to_local(now, zone).date()
    if match := _TYPED_DATE.fullmatch(text):
        day, month = int(match.group("day")), int(match.group("month"))
        clock = _typed_clock(match, text)
        if clock is None:
            raise _needs_clock(text, text)
        year_text = match.group("year")
        if year_text is None:
            if not (1 <= month <= 12 and 1 <= day <= 31):
                raise WhenError(
                    msg(
                        "bad time '{text}': {day}.{month}. is not a date",
                        text=text,
                        day=day,
                        month=month,
                    )
                )
            year = infer_year(day, month, clock, zone=zone, now=now, period=period)
        else:
            year = int(year_text) + (2000 if len(year_text) == 2 else 0)
        try:
            local_day = date(year, month, day)
        except ValueError:
            raise WhenError(
                msg(
                    "bad time '{text}': {day}.{month}.{year} is not a date",
                    text=text,
                    day=day,
                    month=month,
                    year=year,
                )
            ) from None
        weekday = match.group("weekday")
        if weekday is not None:
            number = _DAY_NAMES.get(weekday.lower())
            if number is None:
                return None
            if number != local_day.weekday():
                raise WhenError(
                    msg(
                        "bad time '{text}': {day} is a {weekday}, not a {typed}",
                        text=text,
                        day=local_day.strftime("%d.%m.%Y"),
                        weekday=_WEEKDAY_WORDS[local_day.weekday()],
                        typed=_WEEKDAY_WORDS[number],
                    )
                )
        return wall_clock_to_utc(datetime.combine(local_day, clock), zone)
    if match := _TYPED_NAMED_DAY.fullmatch(text):
        clock = _typed_clock(match, text)
        if clock is None:
            raise _needs_clock(text, match.group("name"))
        local_day = today + timedelta(days=_NAMED_DAYS[match.group("name").lower()])
        return wall_clock_to_utc(datetime.combine(local_day, clock), zone)
    if (match := _TYPED_WEEKDAY.fullmatch(text)) and match.group("weekday").lower() in _DAY_NAMES:
        number = _DAY_NAMES[match.group("weekday").lower()]
        clock = _typed_clock(match, text)
        if clock is None:
            raise _needs_clock(text, match.group("weekday"))
        for ahead in range(8):
            local_day = today + timedelta(days=ahead)
            if local_day.weekday() == number:
                instant = wall_clock_to_utc(datetime.combine(local_day, clock), zone)
                if instant > utc(now):
                    return instant
        raise AssertionError("unreachable: a weekday recurs within eight days")  # pragma: no cover
    if match := _TYPED_IN.fullmatch(text):
        unit = _TYPED_UNITS.get(match.group("unit").lower())
        if unit is None:
            raise WhenError(
                msg(
                    "bad time '{text}': unknown unit '{unit}' (use Minuten, Stunden, Tage or Wochen)",
                    text=text,
                    unit=match.group("unit"),
                )
            )
        try:
            return utc(now) + int(match.group("amount")) * unit
        except OverflowError:
            raise WhenError(msg("bad time '{text}': too far ahead", text=text)) from None
    return None


def parse_typed_date(text: str) -> date:
    """A calendar day typed by a person: ``26.10.2022`` or ``2022-10-26``; slashes refused."""
    stripped = text.strip()
    if match := re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", stripped):
        day, month, year = (int(part) for part in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise WhenError(
                msg(
                    "bad date '{text}': {day}.{month}.{year} is not a date",
                    text=stripped,
                    day=day,
                    month=month,
                    year=year,
                )
            ) from None
    try:
        return date.fromisoformat(stripped)
    except ValueError:
        raise WhenError(
            msg(
                "bad date '{text}': write the day first with dots, e.g. '26.10.2022', "
                "or ISO, '2022-10-26'",
                text=stripped,
            )
        ) from None
