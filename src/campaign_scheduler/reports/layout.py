"""The report as titled sections of formatted tables, in one language: what the terminal,
Markdown and HTML renderers all show, so that every format says the same thing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from campaign_scheduler.reports.i18n import Words
from campaign_scheduler.reports.model import (
    FIGURES,
    OUTCOMES,
    Figures,
    Group,
    GroupBy,
    Outcomes,
    Punctuality,
    Report,
)


@dataclass(frozen=True)
class Cell:
    """One cell. ``link`` is kept only for an ``http(s)`` URL: addresses come from network
    answers, and a ``javascript:`` or ``data:`` one must never become a link in a report."""

    text: str
    numeric: bool = False
    link: str | None = None

    def __post_init__(self) -> None:
        if self.link is not None and not is_web_link(self.link):
            object.__setattr__(self, "link", None)


def is_web_link(url: str) -> bool:
    """Whether ``url`` is an absolute ``http://`` or ``https://`` URL with a host and no
    whitespace or control characters (anything else is shown as text, never linked)."""
    from urllib.parse import urlsplit

    if any(ch.isspace() or ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    total: tuple[Cell, ...] | None = None
    empty: str | None = None  # said instead of the table when it has no rows


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    tables: tuple[Table, ...]
    chart: str | None = None  # which chart the HTML report draws for this section


@dataclass(frozen=True)
class Document:
    lang: str
    title: str
    facts: tuple[tuple[str, str], ...]  # (label, value) under the title
    sections: tuple[Section, ...]
    notes: tuple[str, ...]
    notes_title: str
    notice: str | None = None  # [report] notice: who sends it, who funds the project
    footer: str | None = None  # [report] footer
    logo: str | None = None  # [report] logo as a data URI


def layout(report: Report, words: Words) -> Document:
    zone = ZoneInfo(report.campaign.timezone)
    campaign = report.campaign
    facts = [
        (words("campaign"), campaign.name),
        (words("event"), f"{campaign.event_name}, {words.moment(campaign.event_start, zone)}"),
    ]
    if campaign.hashtag:
        facts.append((words("hashtag"), campaign.hashtag))
    facts.append((words("generated"), words.moment(report.generated_at, zone)))
    facts.append((words("timezone"), campaign.timezone))
    sections = [
        _summary(report, words),
        _breakdown(report, words),
        _punctuality(report, words),
    ]
    if report.by is not GroupBy.CHANNEL:
        sections.append(_group_figures(report, words))
    sections += [
        _channels(report, words),
        _followers(report, words),
        _top_posts(report, words, zone),
        _timeline(report, words),
        _hashtag(report, words),
    ]
    return Document(
        lang=words.lang.value,
        title=f"{words('title')}: {campaign.name}",
        facts=tuple(facts),
        sections=tuple(sections),
        notes=tuple(words.notes()),
        notes_title=words("notes"),
        notice=report.branding.notice,
        footer=report.branding.footer,
        logo=report.branding.logo_data_uri,
    )


def _n(words: Words, value: float | None) -> Cell:
    return Cell(words.number(value), numeric=True)


def _columns(words: Words, *keys: str) -> tuple[str, ...]:
    return tuple(words(key) for key in keys)


def _alone(table: Table, chart: str | None = None) -> Section:
    """A section of one table, under the table's caption."""
    return Section(table.id, table.caption, (table,), chart)


def _group_column(report: Report, words: Words) -> str:
    return words(f"col.{report.by.value}")


def group_label(report: Report, words: Words, group: Group) -> str:
    """How a group of the breakdown is named: sender name, channel name, day, post key."""
    if report.by is GroupBy.CHANNEL:
        return words.channel(group.key)
    if report.by is GroupBy.DAY:
        return f"{words.day(date.fromisoformat(group.key))} ({group.countdown})"
    return group.label


def _outcome_cells(words: Words, outcomes: Outcomes) -> tuple[Cell, ...]:
    return tuple(_n(words, getattr(outcomes, name)) for name in OUTCOMES)


def _summary(report: Report, words: Words) -> Section:
    totals, lag, figures = report.totals_outcomes, report.totals_punctuality, report.totals_figures
    rows: list[tuple[str, Cell]] = [
        (words.head(name), _n(words, getattr(totals, name))) for name in OUTCOMES
    ]
    rows += [
        (words("lag.median"), Cell(words.seconds(lag.median_seconds), numeric=True)),
        (words("lag.within"), _n(words, lag.within_1_minute)),
        (words("interactions"), _n(words, figures.interactions)),
        (words("views"), _n(words, figures.views)),
        (words("reach"), _n(words, figures.reach)),
        (words("clicks"), _n(words, figures.clicks)),
        (words("summary.tag_posts"), _n(words, report.hashtag.posts)),
        (words("summary.tag_authors"), _n(words, report.hashtag.authors)),
    ]
    table = Table(
        id="summary",
        caption=words("summary"),
        columns=_columns(words, "col.figure", "col.total"),
        rows=tuple((Cell(label), value) for label, value in rows),
    )
    return _alone(table)


def _breakdown(report: Report, words: Words) -> Section:
    rows = tuple(
        (Cell(group_label(report, words, g)), *_outcome_cells(words, g.outcomes))
        for g in report.groups
    )
    outcomes = Table(
        id="outcomes",
        caption=words(f"by.{report.by.value}"),
        columns=(_group_column(report, words), *(words.head(name) for name in OUTCOMES)),
        rows=rows,
        total=(Cell(words("total")), *_outcome_cells(words, report.totals_outcomes)),
    )
    reason_rows = tuple(
        (
            Cell(group_label(report, words, g)),
            Cell(words.state(r.state)),
            Cell(words.reason(r.reason, r.data) or "—"),
            _n(words, r.count),
        )
        for g in report.groups
        for r in g.reasons
    )
    reasons = Table(
        id="reasons",
        caption=words("reasons"),
        columns=(
            _group_column(report, words),
            words("col.state"),
            words("col.reason"),
            words("col.count"),
        ),
        rows=reason_rows,
        empty=words("no_reasons"),
    )
    return Section("outcomes", words(f"by.{report.by.value}"), (outcomes, reasons), "outcomes")


def _lag_cells(words: Words, lag: Punctuality) -> tuple[Cell, ...]:
    return (
        _n(words, lag.published),
        Cell(words.seconds(lag.median_seconds), numeric=True),
        Cell(words.seconds(lag.p95_seconds), numeric=True),
        Cell(words.seconds(lag.max_seconds), numeric=True),
        _n(words, lag.within_1_minute),
    )


def _punctuality(report: Report, words: Words) -> Section:
    table = Table(
        id="punctuality",
        caption=words("punctuality"),
        columns=(
            _group_column(report, words),
            words.head("published"),
            words("lag.median"),
            words("lag.p95"),
            words("lag.max"),
            words("lag.within"),
        ),
        rows=tuple(
            (Cell(group_label(report, words, g)), *_lag_cells(words, g.punctuality))
            for g in report.groups
        ),
        total=(Cell(words("total")), *_lag_cells(words, report.totals_punctuality)),
    )
    return _alone(table)


def _figure_cells(words: Words, figures: Figures) -> tuple[Cell, ...]:
    return (
        *(_n(words, figures.get(name)) for name in FIGURES),
        _n(words, figures.interactions),
    )


def _figure_columns(words: Words) -> tuple[str, ...]:
    return (*(words(name) for name in FIGURES), words("interactions"))


def _group_figures(report: Report, words: Words) -> Section:
    title = words(f"figures.{report.by.value}")
    table = Table(
        id="group-figures",
        caption=title,
        columns=(_group_column(report, words), *_figure_columns(words)),
        rows=tuple(
            (Cell(group_label(report, words, g)), *_figure_cells(words, g.figures))
            for g in report.groups
        ),
        total=(Cell(words("total")), *_figure_cells(words, report.totals_figures)),
    )
    return _alone(table)


def _channels(report: Report, words: Words) -> Section:
    figures = Table(
        id="channels",
        caption=words("engagement"),
        columns=(
            words("col.channel"),
            words.head("published"),
            words("col.measured"),
            *_figure_columns(words),
        ),
        rows=tuple(
            (
                Cell(words.channel(c.channel)),
                _n(words, c.outcomes.published),
                _n(words, c.figures.measured),
                *_figure_cells(words, c.figures),
            )
            for c in report.channels
        ),
        total=(
            Cell(words("total")),
            _n(words, report.totals_outcomes.published),
            _n(words, report.totals_figures.measured),
            *_figure_cells(words, report.totals_figures),
        ),
    )
    providers = Table(
        id="providers",
        caption=words("providers"),
        columns=_columns(words, "col.figure", "col.providers"),
        rows=tuple(
            (Cell(words(name)), Cell(words.channels(report.providers.get(name, ()))))
            for name in FIGURES
        ),
    )
    return Section("channels", words("engagement"), (figures, providers), "engagement")


def _followers(report: Report, words: Words) -> Section:
    table = Table(
        id="followers",
        caption=words("followers"),
        columns=_columns(
            words, "col.account", "col.channel", "col.sender", "col.first_post", "col.last_post"
        ),
        rows=tuple(
            (
                Cell(f.account),
                Cell(words.channel(f.channel)),
                Cell(f.sender_name or f.sender),
                _n(words, f.at_first_post),
                _n(words, f.at_last_post),
            )
            for f in report.followers
        ),
        empty=words("no_top"),
    )
    return _alone(table)


#: How much of a post's text names it in the report.
EXCERPT_CHARACTERS = 60


def excerpt(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """The beginning of a post's text on one line, cut at a word with "…" when longer."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rstrip()
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.–-") + " …"


def _top_posts(report: Report, words: Words, zone: ZoneInfo) -> Section:
    table = Table(
        id="top",
        caption=words("top"),
        columns=_columns(
            words,
            "col.rank",
            "col.post",
            "col.sender",
            "col.channel",
            "col.published_at",
            "interactions",
            "views",
            "col.link",
        ),
        rows=tuple(
            (
                _n(words, t.rank),
                Cell(excerpt(t.text) or t.post),
                Cell(t.sender_name or t.sender),
                Cell(words.channel(t.channel)),
                Cell(words.moment(t.published_at, zone)),
                _n(words, t.figures.interactions),
                _n(words, t.figures.views),
                Cell(t.url or "—", link=t.url),
            )
            for t in report.top_posts
        ),
        empty=words("no_top"),
    )
    return _alone(table)


def _timeline(report: Report, words: Words) -> Section:
    table = Table(
        id="timeline",
        caption=words("timeline"),
        columns=(
            *_columns(words, "col.day", "col.countdown"),
            words.head("planned"),
            words.head("published"),
        ),
        rows=tuple(
            (
                Cell(words.day(d.day)),
                Cell(d.countdown),
                _n(words, d.planned),
                _n(words, d.published),
            )
            for d in report.timeline
            if d.planned or d.published
        ),
        empty=words("chart.empty"),
    )
    return _alone(table, "timeline")


def _hashtag(report: Report, words: Words) -> Section:
    use = report.hashtag
    title = words("hashtag_use") + (f" ({use.tag})" if use.tag else "")
    channels = Table(
        id="hashtag",
        caption=title,
        columns=_columns(words, "col.channel", "col.posts", "col.authors"),
        rows=tuple(
            (Cell(words.channel(c.channel)), _n(words, c.posts), _n(words, c.authors))
            for c in use.channels
        ),
        total=(Cell(words("total")), _n(words, use.posts), _n(words, use.authors))
        if use.channels
        else None,
        empty=words("no_hashtag"),
    )
    days = Table(
        id="hashtag-days",
        caption=words("hashtag_days"),
        columns=_columns(words, "col.day", "col.countdown", "col.posts", "col.authors"),
        rows=tuple(
            (Cell(words.day(d.day)), Cell(d.countdown), _n(words, d.posts), _n(words, d.authors))
            for d in use.days
            if d.posts
        ),
        empty=words("no_hashtag"),
    )
    return Section("hashtag", title, (channels, days), "hashtag")
