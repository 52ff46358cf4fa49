"""The campaign file (``campaign/<slug>.toml``): event, senders, rules, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaign_scheduler.errors import InputError
from campaign_scheduler.fields import FieldReader
from campaign_scheduler.problems import Problem, has_errors
from campaign_scheduler.timeutil import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    PostingWindow,
    WhenError,
    parse_duration,
    parse_when,
    parse_window,
    wall_clock_to_utc,
    year_in_range,
)
from campaign_scheduler.tomlsource import TomlDocument, read_toml
from campaign_scheduler.uilang import msg

CAMPAIGN_KEYS = (
    "slug",
    "name",
    "hashtag",
    "timezone",
    "language",
    "starts",
    "ends",
    "region",
)
EVENT_KEYS = ("name", "start", "end", "url")
RULE_KEYS = (
    "require_hashtag",
    "require_alt_text",
    "min_gap",
    "grace",
    "windows",
    "require_approval",
    "quiet_days",
    "holidays",
    "approvers",
    "allow_as",
)
DAY_POLICIES = ("warn", "refuse", "ignore")
SENDER_KEYS = ("slug", "name")
REPORT_KEYS = ("logo", "notice", "footer")
#: Image types a report may embed as its logo, by file suffix.
LOGO_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}
#: The largest logo embedded in a report.
MAX_LOGO_BYTES = 1_000_000

#: Without ``campaign.ends`` the campaign runs this long past the event's last day.
FOLLOW_UP_PERIOD = timedelta(days=14)


@dataclass(frozen=True)
class Sender:
    slug: str
    name: str


@dataclass(frozen=True)
class Event:
    name: str
    start: datetime  # UTC
    end: datetime | None  # UTC
    url: str | None


@dataclass(frozen=True)
class Rules:
    require_hashtag: bool = True
    require_alt_text: bool = True
    min_gap: timedelta = timedelta(minutes=30)
    grace: timedelta = timedelta(hours=2)
    windows: tuple[PostingWindow, ...] = ()
    require_approval: bool = False
    quiet_days: str = "warn"  # posts on the region's quiet days: warn, refuse or ignore
    holidays: str = "warn"  # posts on its public holidays
    #: Who may approve (OS user names, or the names given with --as); empty = anyone but
    #: the post's writers.
    approvers: tuple[str, ...] = ()
    #: Whether ``campaign approve --as NAME`` may name the approver (the OS user is recorded
    #: as well, and an OS account that wrote the post can still never approve it).
    allow_as: bool = False


@dataclass(frozen=True)
class ReportSettings:
    """``[report]``: what the printed report adds. ``logo`` is inside the campaign's folder."""

    logo: Path | None = None
    notice: str | None = None  # e.g. the funding notice: "Gefördert vom …"
    footer: str | None = None


@dataclass(frozen=True)
class Campaign:
    slug: str
    name: str
    hashtag: str | None
    timezone: str
    language: str
    starts: date | None
    ends: date | None
    event: Event
    rules: Rules
    senders: tuple[Sender, ...]
    path: Path
    doc: TomlDocument
    region: str | None = None  # ISO 3166-2, e.g. "DE-NW": holidays and quiet days
    report: ReportSettings = ReportSettings()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def sender(self, slug: str) -> Sender | None:
        return self._senders_by_slug.get(slug)

    @cached_property
    def _senders_by_slug(self) -> dict[str, Sender]:
        return {s.slug: s for s in reversed(self.senders)}  # (the first of a repeated slug)

    @property
    def period_start(self) -> datetime | None:
        """The first instant of the campaign (UTC), from ``starts``; None = open."""
        if self.starts is None:
            return None
        return wall_clock_to_utc(datetime.combine(self.starts, time()), self.zone)

    @property
    def last_day(self) -> date:
        """The last day posts may be due: ``ends``, by default two weeks after the event's
        last day (room for thank-you posts, the recording, the slides)."""
        if self.ends is not None:
            return self.ends
        event_end = self.event.end or self.event.start
        return event_end.astimezone(self.zone).date() + FOLLOW_UP_PERIOD

    @property
    def period_end(self) -> datetime:
        """The end of the campaign (UTC): the end of :attr:`last_day`."""
        last_day = self.last_day
        return wall_clock_to_utc(datetime.combine(last_day + timedelta(days=1), time()), self.zone)

    def outside_period(self, when: datetime) -> list[tuple[str, datetime]]:
        """The ends of the campaign period ``when`` falls outside of, each as its name and
        instant: ``("start", …)`` before :attr:`period_start`, ``("end", …)`` at or after
        :attr:`period_end`; empty inside the period."""
        start, end = self.period_start, self.period_end
        outside = [("start", start)] if start is not None and when < start else []
        return [*outside, ("end", end)] if when >= end else outside


def _date(
    reader: FieldReader, table: dict[str, Any], path: tuple[str, ...], key: str
) -> date | None:
    value = table.get(key)
    if value is None:
        return None
    day: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            pass
    if day is None:
        reader.error(msg("'{key}' must be a date like \"2021-10-26\"", key=key), *path, key)
    elif not year_in_range(day.year):
        reader.error(
            msg(
                "'{key}': the year must be between {earliest} and {latest}",
                key=key,
                earliest=EARLIEST_YEAR,
                latest=LATEST_YEAR,
            ),
            *path,
            key,
        )
        day = None
    return day


def load_campaign(path: Path) -> tuple[Campaign | None, list[Problem]]:
    """Parse a campaign file. Returns the campaign (None when it is unusable) and the problems."""
    try:
        doc = read_toml(path)
    except InputError as exc:
        return None, list(exc.problems)
    problems: list[Problem] = []
    campaign = _campaign_from_document(doc, problems)
    return campaign, problems


def require_campaign(path: Path) -> Campaign:
    campaign, problems = load_campaign(path)
    if campaign is None or has_errors(problems):
        raise InputError(
            msg("{path}: the campaign file has errors", path=str(path)),
            problems=problems,
            hint=msg("run 'campaign check' to see them all"),
        )
    return campaign


def _campaign_from_document(doc: TomlDocument, problems: list[Problem]) -> Campaign | None:
    reader = FieldReader(doc, problems)
    data = doc.data
    reader.known_keys(data, (), ("campaign", "event", "rules", "senders", "report"))

    table = reader.table(data, ("campaign",), required=True)
    reader.known_keys(table, ("campaign",), CAMPAIGN_KEYS)
    slug = reader.string(table, ("campaign",), "slug", required=True)
    name = reader.string(table, ("campaign",), "name") or slug or ""
    hashtag = reader.string(table, ("campaign",), "hashtag")
    if hashtag is not None and (not hashtag.startswith("#") or len(hashtag) < 2 or " " in hashtag):
        reader.error(
            msg("hashtag '{hashtag}' must look like '#tag'", hashtag=hashtag), "campaign", "hashtag"
        )
    timezone = reader.string(table, ("campaign",), "timezone", default="UTC") or "UTC"
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        reader.error(
            msg(
                "unknown time zone '{timezone}' (use an IANA name like 'Europe/Berlin')",
                timezone=timezone,
            ),
            "campaign",
            "timezone",
        )
        return None
    language = reader.string(table, ("campaign",), "language", default="de") or "de"
    starts = _date(reader, table, ("campaign",), "starts")
    ends = _date(reader, table, ("campaign",), "ends")
    region = reader.string(table, ("campaign",), "region")

    event_table = reader.table(data, ("event",), required=True)
    reader.known_keys(event_table, ("event",), EVENT_KEYS)
    event_name = reader.string(event_table, ("event",), "name", default="") or ""
    event_url = reader.string(event_table, ("event",), "url")
    event_start = _event_time(reader, event_table, "start", zone, required=True)
    event_end = _event_time(reader, event_table, "end", zone, required=False)
    if event_start is not None and event_end is not None and event_end <= event_start:
        reader.error(msg("event end must be after its start"), "event", "end")

    rules = _read_rules(reader, reader.table(data, ("rules",)))
    report = _read_report(reader, reader.table(data, ("report",)), doc.path.parent)

    senders: list[Sender] = []
    seen: set[str] = set()
    for path, entry in reader.tables(
        data,
        "senders",
        SENDER_KEYS,
        required=msg("the campaign needs at least one [[senders]] entry"),
    ):
        sender_slug = reader.string(entry, path, "slug", required=True)
        if sender_slug is None:
            continue
        if sender_slug in seen:
            reader.error(
                msg("sender '{sender}' is defined twice", sender=sender_slug), *path, "slug"
            )
            continue
        seen.add(sender_slug)
        senders.append(Sender(sender_slug, reader.string(entry, path, "name") or sender_slug))

    if slug is None or event_start is None:
        return None
    if starts is not None and starts > event_start.astimezone(zone).date():
        reader.error(msg("campaign 'starts' is after the event"), "campaign", "starts")
    if ends is not None and ends < event_start.astimezone(zone).date():
        reader.error(msg("campaign 'ends' is before the event"), "campaign", "ends")
    return Campaign(
        slug=slug,
        name=name,
        hashtag=hashtag,
        timezone=timezone,
        language=language,
        starts=starts,
        ends=ends,
        event=Event(event_name, event_start, event_end, event_url),
        rules=rules,
        senders=tuple(senders),
        path=doc.path,
        doc=doc,
        region=region,
        report=report,
    )


def _event_time(
    reader: FieldReader, table: dict[str, Any], key: str, zone: ZoneInfo, *, required: bool
) -> datetime | None:
    value = table.get(key)
    if value is None:
        if required:
            reader.error(msg("missing key '{key}' in [{table}]", key=key, table="event"), "event")
        return None
    if not isinstance(value, str | datetime):
        reader.error(
            msg('event {key} must be a date and time like "2021-11-18T10:00"', key=key),
            "event",
            key,
        )
        return None
    try:
        return parse_when(value, zone=zone, event_start=None)
    except WhenError as exc:
        reader.error(msg("event {key}: {error}", key=key, error=str(exc)), "event", key)
        return None


def _read_rules(reader: FieldReader, table: dict[str, Any]) -> Rules:
    path = ("rules",)
    reader.known_keys(table, path, RULE_KEYS)
    defaults = Rules()
    durations: dict[str, timedelta] = {}
    for key in ("min_gap", "grace"):
        text = reader.string(table, path, key)
        durations[key] = getattr(defaults, key)
        if text is not None:
            try:
                durations[key] = parse_duration(text)
            except WhenError as exc:
                reader.error(
                    msg("{key}: {error}", key="rules." + key, error=str(exc)), "rules", key
                )
    windows: list[PostingWindow] = []
    for text in reader.string_list(table, path, "windows"):
        try:
            windows.append(parse_window(text))
        except WhenError as exc:
            reader.error(
                msg("{key}: {error}", key="rules.windows", error=str(exc)), "rules", "windows"
            )
    policies: dict[str, str] = {}
    for key in ("quiet_days", "holidays"):
        value = reader.string(table, path, key, default=getattr(defaults, key))
        if value not in DAY_POLICIES:
            reader.error(
                msg(
                    "rules.{key} must be one of {choices}",
                    key=key,
                    choices=", ".join(repr(p) for p in DAY_POLICIES),
                ),
                "rules",
                key,
            )
            value = getattr(defaults, key)
        policies[key] = value or getattr(defaults, key)
    approvers: list[str] = []
    for name in reader.string_list(table, path, "approvers"):
        if not name.strip():
            reader.error(msg("rules.approvers: a name may not be empty"), "rules", "approvers")
        elif name.strip() not in approvers:
            approvers.append(name.strip())
    return Rules(
        quiet_days=policies["quiet_days"],
        holidays=policies["holidays"],
        approvers=tuple(approvers),
        allow_as=reader.boolean(table, path, "allow_as", defaults.allow_as),
        require_hashtag=reader.boolean(table, path, "require_hashtag", defaults.require_hashtag),
        require_alt_text=reader.boolean(table, path, "require_alt_text", defaults.require_alt_text),
        min_gap=durations["min_gap"],
        grace=durations["grace"],
        windows=tuple(windows),
        require_approval=reader.boolean(table, path, "require_approval", defaults.require_approval),
    )


def _read_report(reader: FieldReader, table: dict[str, Any], folder: Path) -> ReportSettings:
    """``[report]``; the logo must be an image file inside the campaign file's folder."""
    path = ("report",)
    reader.known_keys(table, path, REPORT_KEYS)
    notice = reader.string(table, path, "notice")
    footer = reader.string(table, path, "footer")
    logo_text = reader.string(table, path, "logo")
    logo: Path | None = None
    if logo_text:
        root = folder.resolve()
        candidate = (folder / logo_text).resolve()
        if not candidate.is_relative_to(root):
            reader.error(
                msg(
                    "report.logo '{logo}' must be inside the campaign's folder {folder}",
                    logo=logo_text,
                    folder=str(folder),
                ),
                "report",
                "logo",
            )
        elif candidate.suffix.lower() not in LOGO_TYPES:
            reader.error(
                msg("report.logo '{logo}' must be a PNG, JPEG or SVG file", logo=logo_text),
                "report",
                "logo",
            )
        elif not candidate.is_file():
            reader.error(
                msg(
                    "report.logo '{logo}' not found in {folder}", logo=logo_text, folder=str(folder)
                ),
                "report",
                "logo",
            )
        elif candidate.stat().st_size > MAX_LOGO_BYTES:
            reader.error(
                msg(
                    "report.logo '{logo}' is larger than {size} kB",
                    logo=logo_text,
                    size=MAX_LOGO_BYTES // 1000,
                ),
                "report",
                "logo",
            )
        else:
            logo = candidate
    return ReportSettings(logo=logo, notice=notice or None, footer=footer or None)
