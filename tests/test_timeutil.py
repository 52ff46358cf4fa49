"""Tests for campaign_scheduler.timeutil: "when" forms, durations, windows, slots, DST."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_scheduler import timeutil
from campaign_scheduler.timeutil import (
    PostingWindow,
    WhenError,
    countdown_label,
    format_duration,
    format_local,
    in_windows,
    is_ambiguous,
    is_nonexistent,
    next_slot,
    parse_duration,
    parse_when,
    parse_window,
    to_local,
    utc,
    wall_clock_to_utc,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # DST shifts by 30 minutes
SAO_PAULO = ZoneInfo("America/Sao_Paulo")  # changed at midnight; no DST since 2019
ZONES = [BERLIN, NEW_YORK, LORD_HOWE, SAO_PAULO]

# The #5malklug conference: 2021-11-18 10:00 in Berlin (CET) is 09:00 UTC.
EVENT = datetime(2021, 11, 18, 9, 0, tzinfo=UTC)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An instant in UTC, for brevity."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def when(text: str | datetime | date, **kwargs: object) -> datetime:
    options: dict[str, object] = {"zone": BERLIN, "event_start": EVENT}
    options.update(kwargs)
    return parse_when(text, **options)  # type: ignore[arg-type]


def when_error(text: str | datetime | date, **kwargs: object) -> str:
    with pytest.raises(WhenError) as caught:
        when(text, **kwargs)
    return str(caught.value)


# ---------------------------------------------------------------------------
# Basic conversions


def test_utc_converts_aware_and_refuses_naive() -> None:
    berlin_noon = datetime(2021, 11, 4, 12, 0, tzinfo=BERLIN)
    assert utc(berlin_noon) == at(2021, 11, 4, 11)
    assert utc(berlin_noon).tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2021, 11, 4, 12, 0))


def test_to_local_and_format_local() -> None:
    local = to_local(at(2021, 11, 4, 8, 30), BERLIN)
    assert local.tzinfo is BERLIN
    assert (local.hour, local.minute) == (9, 30)
    assert format_local(at(2021, 11, 4, 8, 30), BERLIN) == "2021-11-04 09:30"
    assert (
        format_local(
            at(
                2021,
                7,
                4,
                8,
                30,
            ),
            BERLIN,
        )
        == "2021-07-04 10:30"
    )
    assert format_local(at(2021, 11, 4, 8, 30), BERLIN, seconds=True) == "2021-11-04 09:30:00"
    with pytest.raises(ValueError):
        to_local(datetime(2021, 11, 4, 8, 30), BERLIN)


def test_wall_clock_to_utc_plain_summer_and_winter() -> None:
    assert wall_clock_to_utc(datetime(2021, 10, 28, 9, 0), BERLIN) == at(2021, 10, 28, 7)
    assert wall_clock_to_utc(datetime(2021, 11, 4, 9, 0), BERLIN) == at(2021, 11, 4, 8)
    assert wall_clock_to_utc(datetime(2021, 11, 4, 9, 0), BERLIN).tzinfo is UTC


def test_wall_clock_in_spring_gap_moves_forward_by_the_gap() -> None:
    gap_time = datetime(2021, 3, 28, 2, 30)
    assert is_nonexistent(gap_time, BERLIN)
    assert not is_ambiguous(gap_time, BERLIN)
    result = wall_clock_to_utc(gap_time, BERLIN)
    assert result == at(2021, 3, 28, 1, 30)
    assert format_local(result, BERLIN) == "2021-03-28 03:30"
    # New York: 02:30 on 2021-03-14 does not exist either; it becomes 03:30 EDT.
    assert format_local(wall_clock_to_utc(datetime(2021, 3, 14, 2, 30), NEW_YORK), NEW_YORK) == (
        "2021-03-14 03:30"
    )
    # Lord Howe only jumps 30 minutes: 02:15 becomes 02:45.
    result = wall_clock_to_utc(datetime(2021, 10, 3, 2, 15), LORD_HOWE)
    assert format_local(result, LORD_HOWE) == "2021-10-03 02:45"


def test_wall_clock_in_autumn_fold_means_first_occurrence() -> None:
    fold_time = datetime(2021, 10, 31, 2, 30)
    assert is_ambiguous(fold_time, BERLIN)
    assert not is_nonexistent(fold_time, BERLIN)
    result = wall_clock_to_utc(fold_time, BERLIN)
    assert result == at(2021, 10, 31, 0, 30)  # 02:30 CEST, not 02:30 CET
    assert to_local(result, BERLIN).fold == 0


def test_ordinary_times_are_neither_ambiguous_nor_nonexistent() -> None:
    for local in (datetime(2021, 11, 4, 9, 30), datetime(2021, 3, 28, 3, 0)):
        assert not is_ambiguous(local, BERLIN)
        assert not is_nonexistent(local, BERLIN)


def test_wall_clock_helpers_refuse_aware_input() -> None:
    aware = datetime(2021, 11, 4, 9, 30, tzinfo=BERLIN)
    for function in (wall_clock_to_utc, is_ambiguous, is_nonexistent):
        with pytest.raises(ValueError, match="naive"):
            function(aware, BERLIN)


# ---------------------------------------------------------------------------
# Durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("90s", timedelta(seconds=90)),
        ("1w", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        (" 1h 30m ", timedelta(minutes=90)),
        ("2H", timedelta(hours=2)),
        ("0", timedelta(0)),
        ("0m", timedelta(0)),
        ("1d2h3m4s", timedelta(days=1, hours=2, minutes=3, seconds=4)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bad duration '': empty (use e.g. 30m, 2h, 1d or 1h30m)"),
        ("30", "bad duration '30': '30' needs a unit (w, d, h, m or s)"),
        ("-5m", "bad duration '-5m': a duration cannot be negative"),
        ("1.5h", "bad duration '1.5h': use whole numbers (write 1h30m rather than 1.5h)"),
        ("1x", "bad duration '1x': unknown unit 'x' (use w, d, h, m or s)"),
        ("5min", "bad duration '5min': unknown unit 'min' (use w, d, h, m or s)"),
        ("1h1h", "bad duration '1h1h': unit 'h' given twice"),
        ("soon", "bad duration 'soon': unexpected 'soon' (use e.g. 30m, 2h, 1d or 1h30m)"),
        ("99999999999w", "bad duration '99999999999w': too large"),
    ],
)
def test_parse_duration_errors(text: str, message: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("td", "text"),
    [
        (timedelta(seconds=5400), "1h30m"),
        (timedelta(0), "0m"),
        (timedelta(minutes=30), "30m"),
        (timedelta(days=7), "7d"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(days=1, hours=2), "1d2h"),
        (timedelta(minutes=-30), "-30m"),
    ],
)
def test_format_duration(td: timedelta, text: str) -> None:
    assert format_duration(td) == text


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4000)))
@settings(max_examples=100, database=None)
def test_format_duration_reads_back(td: timedelta) -> None:
    whole = timedelta(seconds=int(td.total_seconds()))
    assert parse_duration(format_duration(td)) == whole


# ---------------------------------------------------------------------------
# "When": the examples from the brief and CONTRACT.md


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T-21d 09:00", at(2021, 10, 28, 7)),  # 09:00 CEST
        ("T-14d 09:00", at(2021, 11, 4, 8)),  # 09:00 CET
        ("T-14d 09:30", at(2021, 11, 4, 8, 30)),
        ("T-14d 9:30", at(2021, 11, 4, 8, 30)),
        ("T-22d", at(2021, 10, 27, 8)),  # 10:00 CEST, the event's own wall clock
        ("T-14d", at(2021, 11, 4, 9)),
        ("T-1w 12:00", at(2021, 11, 11, 11)),
        ("T-2h", at(2021, 11, 18, 7)),
        ("T-90m", at(2021, 11, 18, 7, 30)),
        ("T+30m", at(2021, 11, 18, 9, 30)),
        ("T-1h30m", at(2021, 11, 18, 7, 30)),
        ("T-0", EVENT),
        ("T+0", EVENT),
        ("T", EVENT),
        ("T-0h", EVENT),
        ("T+1d 12:00", at(2021, 11, 19, 11)),
        ("T - 2h", at(2021, 11, 18, 7)),
        ("T -14d  09:30", at(2021, 11, 4, 8, 30)),
        ("  T-2h  ", at(2021, 11, 18, 7)),
        ("t-2H", at(2021, 11, 18, 7)),
        ("T-0 18:00", at(2021, 11, 18, 17)),  # the event day at 18:00
        ("T 08:00", at(2021, 11, 18, 7)),
    ],
)
def test_event_relative_forms(text: str, expected: datetime) -> None:
    result = when(text)
    assert result == expected
    assert result.tzinfo is UTC


def test_exact_duration_across_dst_change_is_exact() -> None:
    event = wall_clock_to_utc(datetime(2021, 11, 1, 10, 0), BERLIN)  # after the 31 Oct change
    result = when("T-48h", event_start=event)
    assert event - result == timedelta(hours=48)
    assert format_local(result, BERLIN) == "2021-10-30 11:00"  # the wall clock moved by one hour
    # whereas calendar days keep the wall clock
    assert format_local(when("T-2d", event_start=event), BERLIN) == "2021-10-30 10:00"


def test_calendar_days_into_a_gap_shift_forward() -> None:
    event = wall_clock_to_utc(datetime(2021, 4, 4, 10, 0), BERLIN)
    assert format_local(when("T-7d 02:30", event_start=event), BERLIN) == "2021-03-28 03:30"


def test_calendar_days_into_a_fold_take_the_first_occurrence() -> None:
    event = wall_clock_to_utc(datetime(2021, 11, 7, 10, 0), BERLIN)
    result = when("T-7d 02:30", event_start=event)
    assert result == at(2021, 10, 31, 0, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-11-04 09:30", at(2021, 11, 4, 8, 30)),
        ("2021-11-04T09:30", at(2021, 11, 4, 8, 30)),
        ("2021-11-04 9:30", at(2021, 11, 4, 8, 30)),
        ("2021-11-04 09:30:15", at(2021, 11, 4, 8, 30) + timedelta(seconds=15)),
        ("2021-11-04T09:30:00", at(2021, 11, 4, 8, 30)),
        ("2021-10-28 09:00", at(2021, 10, 28, 7)),
        ("2021-11-04T09:30:00+01:00", at(2021, 11, 4, 8, 30)),
        ("2021-11-04T09:30:00-05:00", at(2021, 11, 4, 14, 30)),
        ("2021-11-04T09:30+0200", at(2021, 11, 4, 7, 30)),
        ("2021-11-04T09:30:00Z", at(2021, 11, 4, 9, 30)),
        ("2021-11-04 09:30 UTC", at(2021, 11, 4, 9, 30)),
        ("2021-03-28 02:30", at(2021, 3, 28, 1, 30)),  # in the gap: 03:30 CEST
    ],
)
def test_absolute_forms(text: str, expected: datetime) -> None:
    result = when(text, event_start=None)
    assert result == expected
    assert result.tzinfo is UTC


def test_absolute_forms_use_the_given_zone() -> None:
    assert when("2021-11-04 09:30", zone=NEW_YORK) == at(2021, 11, 4, 13, 30)


def test_toml_values() -> None:
    assert when(datetime(2021, 11, 4, 9, 30)) == at(2021, 11, 4, 8, 30)
    offset = timezone(timedelta(hours=1))
    assert when(datetime(2021, 11, 4, 9, 30, tzinfo=offset)) == at(2021, 11, 4, 8, 30)
    assert when(datetime(2021, 11, 4, 9, 30, tzinfo=UTC)).tzinfo is UTC
    assert when_error(date(2021, 11, 4)) == (
        "bad time '2021-11-04': a date alone is not enough, add the time ('2021-11-04 09:30')"
    )
    assert when_error(time(9, 30)).startswith(  # type: ignore[arg-type]
        "bad time '09:30': a time of day alone is not enough"
    )


def test_natural_forms_on_the_command_line() -> None:
    now = at(2021, 11, 3, 15, 17) + timedelta(seconds=33)  # a Wednesday
    natural = {"allow_natural": True, "now": now, "event_start": None}
    assert when("Nov 5 2021 9am", **natural) == at(2021, 11, 5, 8)
    assert when("5 November 2021 09:30", **natural) == at(2021, 11, 5, 8, 30)
    # a date written the German way: day first
    assert when("4.11.2021 09:30", **natural) == at(2021, 11, 4, 8, 30)
    # missing date fields come from `now` (in the campaign zone); seconds do not
    assert when("09:30", **natural) == at(2021, 11, 3, 8, 30)
    assert when("Friday 09:00", **natural) == at(2021, 11, 5, 8)
    # a zone abbreviation is accepted when it is the campaign zone's own on that date
    assert when("2021-11-04 09:30 CET", **natural) == at(2021, 11, 4, 8, 30)
    # the strict forms keep working
    assert when("2021-11-04 9:30", **natural) == at(2021, 11, 4, 8, 30)
    # ...and so do the event-relative ones
    assert when("T-2h", allow_natural=True, now=now) == at(2021, 11, 18, 7)


def test_natural_forms_default_to_the_current_time() -> None:
    result = when("09:30", allow_natural=True)
    assert result.tzinfo is UTC
    assert format_local(result, BERLIN).endswith("09:30")


def test_natural_forms_are_off_by_default() -> None:
    assert when_error("Nov 5 2021 9am").startswith("bad time 'Nov 5 2021 9am': use 'YYYY-MM-DD")


def test_natural_errors() -> None:
    natural = {"allow_natural": True, "now": at(2021, 11, 3, 15)}
    assert when_error("Friday", **natural) == (
        "bad time 'Friday': no time of day given; add one, e.g. 'Friday 09:30'"
    )
    assert when_error("2021-11-05", **natural).startswith(
        "bad time '2021-11-05': a date alone is not enough"
    )
    message = when_error("whenever", **natural)
    assert message.startswith("bad time 'whenever': use 'YYYY-MM-DD HH:MM'")
    assert "another common date format" in message
    assert when_error("2021-11-04 09:30 CEST", **natural) == (
        "bad time '2021-11-04 09:30 CEST': unknown time zone name 'CEST'; write an offset "
        "such as +01:00, or leave it out to mean Europe/Berlin time"
    )
    assert "unknown time zone name 'XYZ'" in when_error("2021-11-04 09:30 XYZ", **natural)


FORMS = (
    "use 'YYYY-MM-DD HH:MM' (campaign time zone), ISO 8601 with an offset such as "
    "'2021-11-04T09:30:00+01:00', or a time relative to the event start such as "
    "'T-14d 09:30', 'T-14d', 'T-2h', 'T-90m', 'T-0' or 'T+1d 12:00'"
)
RELATIVE_HINT = "e.g. 'T-14d 09:30', 'T-2h', 'T-90m' or 'T-0'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("T-14x 09:30", "bad time 'T-14x 09:30': unknown unit 'x' (use d, h or m)"),
        ("T-14", "bad time 'T-14': '14' needs a unit (use d, h or m), e.g. 'T-14d'"),
        ("T-5s", "bad time 'T-5s': unknown unit 's' (use d, h or m)"),
        (
            "T-2h 09:30",
            (
                "bad time 'T-2h 09:30': a time of day goes only with days ('T-14d 09:30'); "
                "'T-2h' is already an exact time"
            ),
        ),
        (
            "T+90m 12:00",
            (
                "bad time 'T+90m 12:00': a time of day goes only with days ('T-14d 09:30'); "
                "'T+90m' is already an exact time"
            ),
        ),
        (
            "T-1d2h",
            (
                "bad time 'T-1d2h': do not mix days with hours or minutes; "
                "write e.g. 'T-1d 08:00' or 'T-26h'"
            ),
        ),
        (
            "T-1.5h",
            "bad time 'T-1.5h': use whole numbers in '1.5h' (e.g. T-90m rather than T-1.5h)",
        ),
        ("T-14d 24:00", "bad time 'T-14d 24:00': hour 24 in '24:00' is not in 0-23"),
        ("T-14d 09:60", "bad time 'T-14d 09:60': minute 60 in '09:60' is not in 0-59"),
        ("T-14d 9.30", "bad time 'T-14d 9.30': bad time of day '9.30' (use HH:MM, e.g. 09:30)"),
        (
            "T-14d 09:30:00",
            "bad time 'T-14d 09:30:00': bad time of day '09:30:00' (use HH:MM, e.g. 09:30)",
        ),
        (
            "T-14d morning",
            "bad time 'T-14d morning': bad time of day 'morning' (use HH:MM, e.g. 09:30)",
        ),
        ("T14d", f"bad time 'T14d': cannot read the offset from the event start ({RELATIVE_HINT})"),
        ("T-", f"bad time 'T-': cannot read the offset from the event start ({RELATIVE_HINT})"),
        ("T-d", f"bad time 'T-d': the offset 'd' must start with a number ({RELATIVE_HINT})"),
        ("T-14d!", f"bad time 'T-14d!': cannot read the offset '14d!' ({RELATIVE_HINT})"),
        ("T-99999999999d", "bad time 'T-99999999999d': offset too large"),
        ("T-9999999999h", "bad time 'T-9999999999h': offset too large"),
        ("", f"bad time '': empty; {FORMS}"),
        ("soon", f"bad time 'soon': {FORMS}"),
        ("Tuesday 09:30", f"bad time 'Tuesday 09:30': {FORMS}"),
        ("04.11.2021 09:30", f"bad time '04.11.2021 09:30': {FORMS}"),
        ("2021-11-04 09:30 CET", f"bad time '2021-11-04 09:30 CET': {FORMS}"),
        (
            "2021-11-04",
            "bad time '2021-11-04': a date alone is not enough, add the time ('2021-11-04 09:30')",
        ),
        ("2021-02-30 09:00", "bad time '2021-02-30 09:00': day is out of range for month"),
        ("2021-11-04 24:00", "bad time '2021-11-04 24:00': hour must be in 0..23"),
    ],
)
def test_when_errors(text: str, message: str) -> None:
    assert when_error(text) == message


@pytest.mark.parametrize("text", ["T-2h", "T-14d 09:30", "T-14d", "T-0", "T", "T+1d 12:00"])
def test_event_relative_needs_an_event_start(text: str) -> None:
    assert when_error(text, event_start=None) == (
        f"bad time '{text}': an event-relative time needs an event start (set [event] start)"
    )


def test_when_error_is_a_value_error() -> None:
    assert issubclass(WhenError, ValueError)


# ---------------------------------------------------------------------------
# Countdown labels


@pytest.mark.parametrize(
    ("instant", "label"),
    [
        (at(2021, 11, 4, 8), "T-14"),
        (at(2021, 11, 17, 12), "T-1"),
        (at(2021, 11, 17, 22, 30), "T-1"),  # 23:30 on the 17th in Berlin
        (at(2021, 11, 17, 23, 30), "T-0"),  # 00:30 on the 18th in Berlin
        (at(2021, 11, 18, 9), "T-0"),
        (at(2021, 11, 18, 22, 59), "T-0"),
        (at(2021, 11, 19, 8), "T+1"),
        (at(2021, 10, 28, 7), "T-21"),
    ],
)
def test_countdown_label(instant: datetime, label: str) -> None:
    assert countdown_label(instant, EVENT, BERLIN) == label


# ---------------------------------------------------------------------------
# Posting windows


@pytest.mark.parametrize(
    ("text", "days", "start", "end"),
    [
        ("Mon-Fri 08:00-19:00", {0, 1, 2, 3, 4}, time(8), time(19)),
        ("Sat 10:00-14:00", {5}, time(10), time(14)),
        ("Mon,Wed,Fri 09:00-12:00", {0, 2, 4}, time(9), time(12)),
        ("Sat-Sun 10:00-16:00", {5, 6}, time(10), time(16)),
        ("daily 07:00-22:00", set(range(7)), time(7), time(22)),
        ("Daily 07:00-22:00", set(range(7)), time(7), time(22)),
        ("täglich 07:00-22:00", set(range(7)), time(7), time(22)),
        ("07:00-22:00", set(range(7)), time(7), time(22)),
        ("Mo-Fr 08:00-19:00", {0, 1, 2, 3, 4}, time(8), time(19)),
        ("Di,Do 9:00-12:30", {1, 3}, time(9), time(12, 30)),
        ("Sa-So 10:00-16:00", {5, 6}, time(10), time(16)),
        ("Mi 08:00-09:00", {2}, time(8), time(9)),
        ("MON-FRI 08:00-19:00", {0, 1, 2, 3, 4}, time(8), time(19)),
        ("Fri-Mon 10:00-12:00", {4, 5, 6, 0}, time(10), time(12)),
        ("So-Di 10:00-12:00", {6, 0, 1}, time(10), time(12)),
        ("Mon-Mon 10:00-12:00", {0}, time(10), time(12)),
        ("Mon-Wed,Sat 10:00-12:00", {0, 1, 2, 5}, time(10), time(12)),
        ("Mon, Wed 10:00-12:00", {0, 2}, time(10), time(12)),
        ("Mon - Fri 08:00 - 19:00", {0, 1, 2, 3, 4}, time(8), time(19)),
        ("Monday-Friday 08:00-19:00", {0, 1, 2, 3, 4}, time(8), time(19)),
        ("Montag-Freitag 08:00–19:00", {0, 1, 2, 3, 4}, time(8), time(19)),
        ("Fri 20:00-24:00", {4}, time(20), time.max),
    ],
)
def test_parse_window(text: str, days: set[int], start: time, end: time) -> None:
    window = parse_window(text)
    assert window.days == frozenset(days)
    assert (window.start, window.end) == (start, end)
    assert window.text == text
    assert str(window) == text


OVERNIGHT = (
    "the end must be after the start; a window cannot run past midnight, so split it in "
    "two, e.g. 'Fri 22:00-24:00' and 'Sat 00:00-02:00'"
)
WINDOW_FORMS = (
    "e.g. 'Mon-Fri 08:00-19:00', 'Sat 10:00-14:00', 'Mon,Wed 09:00-12:00' or 'daily 07:00-22:00'"
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Mon 19:00-08:00", OVERNIGHT),
        ("Fri 22:00-02:00", OVERNIGHT),
        ("Mon 10:00-10:00", OVERNIGHT),
        ("Mon-Fry 08:00-19:00", "unknown day 'Fry' (use Mon..Sun, Mo..So or daily)"),
        ("weekdays 08:00-19:00", "unknown day 'weekdays' (use Mon..Sun, Mo..So or daily)"),
        ("Mon 8-9", f"expected days and a time range, {WINDOW_FORMS}"),
        ("Mon-Fri", f"expected days and a time range, {WINDOW_FORMS}"),
        ("", f"expected days and a time range, {WINDOW_FORMS}"),
        ("Mon 25:00-26:00", "bad time '25:00': hours go from 0 to 23 (24:00 only as the end)"),
        ("Mon 24:00-24:00", "bad time '24:00': hours go from 0 to 23 (24:00 only as the end)"),
        ("Mon 08:00-08:75", "bad time '08:75': minutes go from 0 to 59"),
        ("Mon,,Tue 08:00-09:00", f"missing day name ({WINDOW_FORMS})"),
        ("-Tue 08:00-09:00", f"missing day name ({WINDOW_FORMS})"),
    ],
)
def test_parse_window_errors(text: str, reason: str) -> None:
    with pytest.raises(WhenError) as caught:
        parse_window(text)
    assert str(caught.value) == f"bad posting window '{text}': {reason}"


def test_window_constructor_validates() -> None:
    with pytest.raises(WhenError, match="must be after the start"):
        PostingWindow(days=frozenset({0}), start=time(10), end=time(9), text="x")
    with pytest.raises(WhenError, match="days"):
        PostingWindow(days=frozenset(), start=time(9), end=time(10), text="x")
    with pytest.raises(WhenError, match="days"):
        PostingWindow(days=frozenset({7}), start=time(9), end=time(10), text="x")


def test_window_contains() -> None:
    window = parse_window("Mon-Fri 08:00-19:00")
    thursday = datetime(2021, 11, 4)
    assert window.contains(thursday.replace(hour=8))  # start inclusive
    assert window.contains(thursday.replace(hour=18, minute=59, second=59))
    assert not window.contains(thursday.replace(hour=19))  # end exclusive
    assert not window.contains(thursday.replace(hour=7, minute=59))
    assert not window.contains(datetime(2021, 11, 6, 12))  # Saturday
    # an aware local datetime is read by its wall clock
    assert window.contains(datetime(2021, 11, 4, 8, tzinfo=BERLIN))
    late = parse_window("Fri 20:00-24:00")
    assert late.contains(datetime(2021, 11, 5, 23, 59, 59, 999999))
    assert not late.contains(datetime(2021, 11, 6, 0, 0))


def test_in_windows() -> None:
    windows = [parse_window("Mon-Fri 08:00-19:00"), parse_window("Sat 10:00-14:00")]
    assert in_windows(at(2021, 11, 4, 7), windows, BERLIN)  # Thu 08:00 CET
    assert not in_windows(at(2021, 11, 4, 6, 59), windows, BERLIN)
    assert in_windows(at(2021, 10, 28, 6), windows, BERLIN)  # Thu 08:00 CEST
    assert not in_windows(at(2021, 11, 4, 6, 30), windows, BERLIN)
    assert in_windows(at(2021, 11, 6, 9), windows, BERLIN)  # Sat 10:00
    assert not in_windows(at(2021, 11, 7, 11), windows, BERLIN)  # Sunday
    assert in_windows(at(2021, 11, 7, 3), [], BERLIN)  # no windows: any time


# ---------------------------------------------------------------------------
# next_slot

MIN30 = timedelta(minutes=30)
WORKDAYS = [parse_window("Mon-Fri 08:00-19:00")]


def test_next_slot_without_constraints_rounds_up_to_the_step() -> None:
    earliest = at(2021, 11, 4, 8, 31) + timedelta(seconds=12)
    assert next_slot(earliest, windows=[], zone=BERLIN, taken=[], min_gap=MIN30) == at(
        2021, 11, 4, 8, 35
    )
    aligned = at(2021, 11, 4, 8, 30)
    assert next_slot(aligned, windows=[], zone=BERLIN, taken=[], min_gap=MIN30) == aligned
    hourly = next_slot(
        earliest, windows=[], zone=BERLIN, taken=[], min_gap=MIN30, step=timedelta(hours=1)
    )
    assert hourly == at(2021, 11, 4, 9)


def test_next_slot_rounds_on_the_local_clock() -> None:
    # Kathmandu is UTC+05:45: local full hours are at :15 UTC.
    kathmandu = ZoneInfo("Asia/Kathmandu")
    result = next_slot(
        at(2021, 11, 4, 8, 20),
        windows=[],
        zone=kathmandu,
        taken=[],
        min_gap=MIN30,
        step=timedelta(hours=1),
    )
    assert result == at(2021, 11, 4, 9, 15)
    assert format_local(result, kathmandu) == "2021-11-04 15:00"


def test_next_slot_keeps_the_gap() -> None:
    taken = [at(2021, 11, 4, 9), at(2021, 11, 4, 9, 30), at(2021, 11, 4, 10, 15)]
    earliest = at(2021, 11, 4, 9)
    result = next_slot(earliest, windows=[], zone=BERLIN, taken=taken, min_gap=MIN30)
    assert result == at(2021, 11, 4, 10, 45)
    # exactly min_gap away is fine
    assert next_slot(
        at(2021, 11, 4, 8, 30), windows=[], zone=BERLIN, taken=[at(2021, 11, 4, 9)], min_gap=MIN30
    ) == at(2021, 11, 4, 8, 30)
    # a post shortly after the candidate also blocks it
    assert next_slot(
        at(2021, 11, 4, 8, 45), windows=[], zone=BERLIN, taken=[at(2021, 11, 4, 9)], min_gap=MIN30
    ) == at(2021, 11, 4, 9, 30)
    # order of `taken` does not matter
    assert next_slot(earliest, windows=[], zone=BERLIN, taken=taken[::-1], min_gap=MIN30) == result


def test_next_slot_zero_gap_allows_the_same_instant() -> None:
    instant = at(2021, 11, 4, 9)
    assert next_slot(instant, windows=[], zone=BERLIN, taken=[instant], min_gap=timedelta(0)) == (
        instant
    )


def test_next_slot_waits_for_the_window() -> None:
    # Friday 18:50 local: the window closes at 19:00, the 30-minute gap pushes past it,
    # so the next slot is Monday 08:00.
    friday_evening = wall_clock_to_utc(datetime(2021, 11, 5, 18, 40), BERLIN)
    taken = [wall_clock_to_utc(datetime(2021, 11, 5, 18, 30), BERLIN)]
    result = next_slot(friday_evening, windows=WORKDAYS, zone=BERLIN, taken=taken, min_gap=MIN30)
    assert format_local(result, BERLIN) == "2021-11-08 08:00"
    # Saturday night straight to Monday morning
    result = next_slot(at(2021, 11, 6, 22), windows=WORKDAYS, zone=BERLIN, taken=[], min_gap=MIN30)
    assert format_local(result, BERLIN) == "2021-11-08 08:00"


def test_next_slot_across_spring_forward() -> None:
    # 02:00-02:30 does not exist on 2021-03-28; the window opens again a week later.
    windows = [parse_window("Sun 02:00-02:30")]
    result = next_slot(at(2021, 3, 27, 23), windows=windows, zone=BERLIN, taken=[], min_gap=MIN30)
    assert result == at(2021, 4, 4, 0)
    assert format_local(result, BERLIN) == "2021-04-04 02:00"
    # a window that reaches past the gap is open from 03:00 CEST on
    windows = [parse_window("Sun 02:00-04:00")]
    result = next_slot(at(2021, 3, 27, 23), windows=windows, zone=BERLIN, taken=[], min_gap=MIN30)
    assert format_local(result, BERLIN) == "2021-03-28 03:00"


def test_next_slot_uses_the_repeated_hour_after_fall_back() -> None:
    windows = [parse_window("Sun 02:00-02:30")]
    first = at(2021, 10, 31, 0)  # 02:00 CEST
    result = next_slot(first, windows=windows, zone=BERLIN, taken=[first], min_gap=MIN30)
    assert result == at(2021, 10, 31, 1)  # 02:00 CET, the second 02:00 of the night
    assert to_local(result, BERLIN).fold == 1


def test_next_slot_gives_up_after_the_horizon() -> None:
    with pytest.raises(WhenError) as caught:
        next_slot(
            at(2021, 11, 6, 22),
            windows=WORKDAYS,
            zone=BERLIN,
            taken=[],
            min_gap=MIN30,
            horizon=timedelta(days=1),
        )
    assert str(caught.value) == (
        "no free slot in the windows Mon-Fri 08:00-19:00 at least 30m away from other posts "
        "within 1d after 2021-11-06 23:00 (Europe/Berlin)"
    )
    start = at(2021, 11, 4, 9)
    taken = [start + i * timedelta(minutes=10) for i in range(20)]
    with pytest.raises(WhenError, match=r"^no free slot at least 30m away"):
        next_slot(
            start, windows=[], zone=BERLIN, taken=taken, min_gap=MIN30, horizon=timedelta(hours=3)
        )


def test_next_slot_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="step"):
        next_slot(EVENT, windows=[], zone=BERLIN, taken=[], min_gap=MIN30, step=timedelta(0))
    with pytest.raises(ValueError, match="min_gap"):
        next_slot(EVENT, windows=[], zone=BERLIN, taken=[], min_gap=-MIN30)
    with pytest.raises(ValueError, match="naive"):
        next_slot(datetime(2021, 11, 4), windows=[], zone=BERLIN, taken=[], min_gap=MIN30)


def test_next_slot_jumps_over_thousands_of_posts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every workday slot for four months is taken, every 30 minutes; the scheduler has to
    # find the first free slot after all of them. It must jump over busy stretches and closed
    # windows instead of walking them step by step: it looks at no more candidates than there
    # are taken instants and days. (Its speed is a benchmark's business, not a stopwatch's.)
    start = at(2021, 9, 1)
    taken: list[datetime] = []
    candidate = start
    while len(taken) < 3000:
        candidate = next_slot(candidate, windows=WORKDAYS, zone=BERLIN, taken=(), min_gap=MIN30)
        taken.append(candidate)
        candidate += MIN30
    looked_at: list[datetime] = []
    real_in_windows = timeutil.in_windows

    def counting(moment: datetime, *args: Any, **kwargs: Any) -> bool:
        looked_at.append(moment)
        return real_in_windows(moment, *args, **kwargs)

    monkeypatch.setattr(timeutil, "in_windows", counting)
    result = next_slot(start, windows=WORKDAYS, zone=BERLIN, taken=taken, min_gap=MIN30)

    assert result == next_slot(
        taken[-1] + MIN30, windows=WORKDAYS, zone=BERLIN, taken=(), min_gap=MIN30
    )
    days = (result - start).days + 1
    assert len(looked_at) <= len(taken) + 2 * days  # a walk in 5-minute steps: 6 per post


# ---------------------------------------------------------------------------
# Property-based tests around DST changes


def _transition_days(zone: ZoneInfo) -> list[date]:
    """Local dates in 2019-2026 on which the zone's UTC offset changes."""
    days = []
    day = date(2019, 1, 1)
    previous = datetime.combine(day, time(12), zone).utcoffset()
    while day < date(2027, 1, 1):
        day += timedelta(days=1)
        offset = datetime.combine(day, time(12), zone).utcoffset()
        if offset != previous:
            days.append(day)
        previous = offset
    return days


TRANSITIONS = {zone.key: _transition_days(zone) for zone in ZONES}


def _occurrences(naive: datetime, zone: ZoneInfo) -> list[datetime]:
    """All UTC instants whose wall clock in zone reads `naive`, by brute force over offsets."""
    guess = naive.replace(tzinfo=UTC)
    offsets = {(guess + timedelta(hours=k)).astimezone(zone).utcoffset() for k in range(-30, 31)}
    found = set()
    for offset in offsets:
        assert offset is not None
        candidate = guess - offset
        if candidate.astimezone(zone).replace(tzinfo=None) == naive:
            found.add(candidate)
    return sorted(found)


zones = st.sampled_from(ZONES)
clock_times = st.builds(
    time,
    st.one_of(st.integers(0, 23), st.sampled_from([0, 1, 2, 3])),  # extra weight on DST hours
    st.one_of(st.integers(0, 59), st.sampled_from([0, 15, 30, 45])),
)
any_instant = st.datetimes(
    min_value=datetime(2019, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@st.composite
def calendar_cases(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, int, int, time]:
    """A zone, an event start, a signed day offset and a wall clock, landing near DST changes."""
    zone = draw(zones)
    days = draw(st.integers(0, 60))
    sign = draw(st.sampled_from([-1, 1]))
    if draw(st.booleans()):
        event_start = draw(any_instant)
    else:
        # Put the target date right on a transition day.
        target = draw(st.sampled_from(TRANSITIONS[zone.key]))
        event_day = target - timedelta(days=sign * days)
        seconds = draw(st.integers(0, 86399))
        event_start = wall_clock_to_utc(datetime.combine(event_day, time(0)), zone) + timedelta(
            seconds=seconds
        )
    return zone, event_start, sign, days, draw(clock_times)


def _check_wall_clock(result: datetime, naive: datetime, zone: ZoneInfo) -> None:
    """`result` is `naive` read in zone under the DST policy, checked against brute force."""
    assert result.tzinfo is UTC
    occurrences = _occurrences(naive, zone)
    local = to_local(result, zone)
    if occurrences:
        assert not is_nonexistent(naive, zone)
        assert is_ambiguous(naive, zone) == (len(occurrences) > 1)
        assert local.replace(tzinfo=None) == naive
        assert result == occurrences[0]  # the first occurrence when ambiguous
    else:
        assert is_nonexistent(naive, zone)
        assert not is_ambiguous(naive, zone)
        offset_after = local.utcoffset()
        offset_before = to_local(result - timedelta(hours=6), zone).utcoffset()
        assert offset_after is not None and offset_before is not None
        gap = offset_after - offset_before
        assert gap > timedelta(0)
        assert local.replace(tzinfo=None) == naive + gap
        assert result == naive.replace(tzinfo=UTC) - offset_before


@given(calendar_cases())
@settings(max_examples=300, database=None, deadline=None)
def test_property_calendar_days_with_wall_clock(
    case: tuple[ZoneInfo, datetime, int, int, time],
) -> None:
    zone, event_start, sign, days, clock = case
    text = f"T{'-' if sign < 0 else '+'}{days}d {clock.hour}:{clock.minute:02d}"
    result = parse_when(text, zone=zone, event_start=event_start)
    target_day = to_local(event_start, zone).date() + timedelta(days=sign * days)
    _check_wall_clock(result, datetime.combine(target_day, clock), zone)


@given(calendar_cases())
@settings(max_examples=150, database=None, deadline=None)
def test_property_calendar_days_keep_the_event_wall_clock(
    case: tuple[ZoneInfo, datetime, int, int, time],
) -> None:
    zone, event_start, sign, days, _clock = case
    text = f"T{'-' if sign < 0 else '+'}{days}d"
    result = parse_when(text, zone=zone, event_start=event_start)
    event_local = to_local(event_start, zone)
    if days == 0:
        assert result == event_start
        return
    target_day = event_local.date() + timedelta(days=sign * days)
    _check_wall_clock(result, datetime.combine(target_day, event_local.time()), zone)


@given(zones, any_instant, st.integers(0, 2000), st.sampled_from(["h", "m"]), st.sampled_from("-+"))
@settings(max_examples=150, database=None, deadline=None)
def test_property_exact_offsets(
    zone: ZoneInfo, event_start: datetime, amount: int, unit: str, sign: str
) -> None:
    result = parse_when(f"T{sign}{amount}{unit}", zone=zone, event_start=event_start)
    delta = timedelta(hours=amount) if unit == "h" else timedelta(minutes=amount)
    assert result == (event_start - delta if sign == "-" else event_start + delta)
    assert result.tzinfo is UTC


@st.composite
def wall_clocks(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    zone = draw(zones)
    if draw(st.booleans()):
        naive = draw(st.datetimes(min_value=datetime(2019, 1, 1), max_value=datetime(2026, 12, 31)))
    else:
        day = draw(st.sampled_from(TRANSITIONS[zone.key]))
        naive = datetime.combine(day, draw(clock_times))
    return zone, naive


@given(wall_clocks())
@settings(max_examples=300, database=None, deadline=None)
def test_property_wall_clock_round_trip(case: tuple[ZoneInfo, datetime]) -> None:
    zone, naive = case
    result = wall_clock_to_utc(naive, zone)
    _check_wall_clock(result, naive, zone)
    if not is_nonexistent(naive, zone):
        assert to_local(result, zone).replace(tzinfo=None) == naive
    # absolute text in the zone means the same thing
    text = naive.strftime("%Y-%m-%d %H:%M:%S")
    assert parse_when(text, zone=zone, event_start=None) == wall_clock_to_utc(
        naive.replace(microsecond=0), zone
    )


DAY_SPELLINGS = [
    ("Mon", "Mo"), ("Tue", "Di"), ("Wed", "Mi"), ("Thu", "Do"),
    ("Fri", "Fr"), ("Sat", "Sa"), ("Sun", "So"),
]  # fmt: skip


@st.composite
def windows_and_texts(draw: st.DrawFn) -> tuple[frozenset[int], int, int, str]:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start = draw(st.integers(0, 24 * 60 - 2))
    end = draw(st.integers(start + 1, 24 * 60 - 1))
    german = draw(st.booleans())
    names = ",".join(DAY_SPELLINGS[d][german] for d in sorted(days))
    text = f"{names} {start // 60:02d}:{start % 60:02d}-{end // 60}:{end % 60:02d}"
    return days, start, end, text


@given(windows_and_texts(), st.lists(any_instant, min_size=1, max_size=5), zones)
@settings(max_examples=150, database=None, deadline=None)
def test_property_in_windows_agrees_with_a_minute_check(
    spec: tuple[frozenset[int], int, int, str], instants: list[datetime], zone: ZoneInfo
) -> None:
    days, start, end, text = spec
    window = parse_window(text)
    assert window.days == days
    assert (window.start.hour * 60 + window.start.minute) == start
    assert (window.end.hour * 60 + window.end.minute) == end
    for instant in instants:
        local = instant.astimezone(zone)
        minute_of_day = local.hour * 60 + local.minute
        expected = local.weekday() in days and start <= minute_of_day < end
        assert in_windows(instant, [window], zone) == expected


WINDOW_CHOICES = [
    "Mon-Fri 08:00-19:00",
    "Sat 10:00-14:00",
    "Sun 01:30-03:15",
    "daily 02:00-02:30",
    "Sun 02:45-24:00",
    "Sat-Sun 00:00-01:00",
    "daily 12:00-12:10",
]


def _brute_force_slot(
    earliest: datetime,
    windows: list[PostingWindow],
    zone: ZoneInfo,
    taken: list[datetime],
    min_gap: timedelta,
    horizon: timedelta,
) -> datetime | None:
    """Walk minute by minute: the reference next_slot must agree with."""
    candidate = earliest.replace(second=0, microsecond=0)
    if candidate < earliest:
        candidate += timedelta(minutes=1)
    while candidate <= earliest + horizon:
        local = candidate.astimezone(zone)
        if (
            local.minute % 5 == 0
            and (not windows or any(w.contains(local) for w in windows))
            and all(abs(candidate - other) >= min_gap for other in taken)
        ):
            return candidate
        candidate += timedelta(minutes=1)
    return None


@st.composite
def slot_cases(
    draw: st.DrawFn,
) -> tuple[ZoneInfo, datetime, list[PostingWindow], list[datetime], timedelta]:
    zone = draw(st.sampled_from([BERLIN, NEW_YORK]))
    day = draw(st.sampled_from(TRANSITIONS[zone.key]))
    earliest = wall_clock_to_utc(datetime.combine(day, time(0)), zone) + timedelta(
        seconds=draw(st.integers(-36 * 3600, 36 * 3600))
    )
    windows = [
        parse_window(text) for text in draw(st.lists(st.sampled_from(WINDOW_CHOICES), max_size=2))
    ]
    taken = draw(
        st.lists(
            st.integers(-60, 2 * 24 * 60).map(lambda m: earliest + timedelta(minutes=m)),
            max_size=12,
        )
    )
    gap = draw(st.sampled_from([timedelta(0), timedelta(minutes=15), MIN30, timedelta(minutes=90)]))
    return zone, earliest, windows, taken, gap


@given(slot_cases())
@settings(
    max_examples=80, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
def test_property_next_slot_agrees_with_brute_force(
    case: tuple[ZoneInfo, datetime, list[PostingWindow], list[datetime], timedelta],
) -> None:
    zone, earliest, windows, taken, gap = case
    horizon = timedelta(days=2)
    expected = _brute_force_slot(earliest, windows, zone, taken, gap, horizon)
    if expected is None:
        with pytest.raises(WhenError, match="no free slot"):
            next_slot(
                earliest, windows=windows, zone=zone, taken=taken, min_gap=gap, horizon=horizon
            )
    else:
        result = next_slot(
            earliest, windows=windows, zone=zone, taken=taken, min_gap=gap, horizon=horizon
        )
        assert result == expected, (format_local(result, zone), format_local(expected, zone))


def test_example_error_message_format() -> None:
    # The user-facing shape promised in the brief.
    message = when_error("T-14x 09:30")
    assert re.fullmatch(r"bad time 'T-14x 09:30': unknown unit 'x' \(use d, h or m\)", message)
