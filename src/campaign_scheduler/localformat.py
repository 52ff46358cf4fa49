"""Numbers, dates and lists as a German or English reader expects them, through Babel (CLDR).

``Do., 18. Nov. 2021, 10:00 Uhr`` / ``Thu 18 Nov 2021, 10:00``; ``1.500`` / ``1,500``;
``a, b und c`` / ``a, b, and c``. Babel is imported inside each function: only commands that
format pay for it (``campaign --help`` does not).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

#: CLDR patterns, per language: a day, a day in the current year, a moment, a time.
_PATTERNS = {
    "de": {
        "day": "EEE, d. MMM y",
        "day_this_year": "EEE, d. MMM",
        "moment": "EEE, d. MMM y, HH:mm 'Uhr'",
        "time": "HH:mm",
    },
    "en": {
        "day": "EEE d MMM y",
        "day_this_year": "EEE d MMM",
        "moment": "EEE d MMM y, HH:mm",
        "time": "HH:mm",
    },
}


def _locale(lang: str) -> str:
    return "de_DE" if lang == "de" else "en_GB"


def format_day(value: date, lang: str, *, with_year: bool = True) -> str:
    """``Do., 18. Nov. 2021`` / ``Thu 18 Nov 2021``; without the year: ``Do., 18. Nov.``."""
    from babel.dates import format_date

    pattern = _PATTERNS[lang]["day" if with_year else "day_this_year"]
    return format_date(value, pattern, locale=_locale(lang))


def format_moment(value: datetime, zone: ZoneInfo, lang: str) -> str:
    """``Do., 18. Nov. 2021, 10:00 Uhr`` / ``Thu 18 Nov 2021, 10:00`` in ``zone``."""
    from babel.dates import format_datetime

    return format_datetime(value.astimezone(zone), _PATTERNS[lang]["moment"], locale=_locale(lang))


def format_number(value: float, lang: str, *, decimals: int | None = None) -> str:
    """``1.500`` / ``1,500``; ``32,5`` / ``32.5`` with ``decimals=1``."""
    from babel.numbers import format_decimal

    if decimals is None:
        return format_decimal(value, locale=_locale(lang))
    pattern = "#,##0." + "0" * decimals if decimals else "#,##0"
    return format_decimal(value, format=pattern, locale=_locale(lang))


def format_list(items: Sequence[str], lang: str) -> str:
    """``a, b und c`` / ``a, b and c``."""
    from babel.lists import format_list as babel_list

    return babel_list(list(items), locale=_locale(lang)) if items else ""
