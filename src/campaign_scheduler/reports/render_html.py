"""The report as one self-contained HTML file: inline CSS, inline SVG charts, no scripts,
nothing fetched from the network; printable on A4 (tables break only between rows and repeat
their header; charts and short tables are never split)."""

from __future__ import annotations

from html import escape

from campaign_scheduler.reports import charts
from campaign_scheduler.reports.i18n import Words
from campaign_scheduler.reports.layout import Cell, Section, Table, layout
from campaign_scheduler.reports.model import INTERACTION_FIGURES, GroupBy, Report

#: Tables with at most this many rows are kept on one page.
KEEP_TOGETHER_ROWS = 25
#: Tables with more columns than this are set smaller so that they fit the A4 width.
WIDE_COLUMNS = 8

CSS = """
@page { size: A4; margin: 15mm 14mm 17mm 14mm; }
* { box-sizing: border-box; }
html { background: #ffffff; color: #1a1a1a; }
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 10.5pt;
  line-height: 1.4; max-width: 200mm; margin: 0 auto; padding: 8mm; }
h1 { font-size: 18pt; line-height: 1.2; margin: 0 0 3mm; color: #1d3f66; }
h2 { font-size: 13pt; margin: 7mm 0 2mm; padding-bottom: 1mm; border-bottom: 1.5px solid #1d3f66;
  color: #1a1a1a; break-after: avoid; page-break-after: avoid; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.5mm 4mm; margin: 0 0 4mm; }
dl.facts dt { font-weight: bold; }
dl.facts dd { margin: 0; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 3mm; margin: 3mm 0 2mm;
  break-inside: avoid; }
.tile { border: 1px solid #b8c4d2; border-left: 4px solid #1d3f66; padding: 2mm 3mm; }
.tile .value { font-size: 16pt; font-weight: bold; color: #1d3f66; display: block; }
.tile .label { font-size: 9pt; color: #3d3d3d; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 4mm; font-size: 9pt; }
caption { text-align: left; font-weight: bold; padding: 0 0 1mm; caption-side: top; }
th, td { border-bottom: 1px solid #c4c4c4; padding: 1mm 1.6mm; text-align: left;
  vertical-align: top; }
thead th { background: #e8eef5; border-bottom: 1.5px solid #1d3f66; }
tbody th { font-weight: normal; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
caption.same { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
tfoot th, tfoot td { font-weight: bold; border-top: 1.5px solid #1a1a1a; }
thead { display: table-header-group; }
tfoot { display: table-row-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
.keep { break-inside: avoid; page-break-inside: avoid; }
table.wide { font-size: 8pt; }
table.wide th, table.wide td { padding: 0.8mm 1mm; }
figure { margin: 1mm 0 3mm; break-inside: avoid; page-break-inside: avoid; }
figure svg { display: block; max-width: 100%; height: auto; }
p.empty { font-style: italic; color: #3d3d3d; }
a { color: #1d3f66; overflow-wrap: anywhere; }
ol.notes { padding-left: 5mm; font-size: 9pt; }
ol.notes li { margin-bottom: 1mm; }
footer { margin-top: 6mm; font-size: 8.5pt; color: #3d3d3d; }
header .brand { display: flex; justify-content: space-between; align-items: flex-start;
  gap: 6mm; }
header img.logo { max-height: 22mm; max-width: 60mm; object-fit: contain; }
p.notice { margin: 0 0 4mm; padding: 2mm 3mm; border-left: 4px solid #b8c4d2;
  background: #f3f6f9; font-size: 9.5pt; }
p.closing { margin-top: 5mm; padding-top: 2mm; border-top: 1px solid #c4c4c4; }
@media print {
  body { padding: 0; max-width: none; }
  h2 { margin-top: 5mm; }
}
"""


def render_html(report: Report, words: Words) -> str:
    document = layout(report, words)
    drawn = _charts(report, words)
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{escape(document.lang)}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        '<div class="brand">' if document.logo else "",
        f"<h1>{escape(document.title)}</h1>",
        f'<img class="logo" src="{escape(document.logo, quote=True)}" alt="Logo"></div>'
        if document.logo
        else "",
        '<dl class="facts">',
        *(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in document.facts),
        "</dl>",
        f'<p class="notice">{escape(document.notice)}</p>' if document.notice else "",
        _tiles(report, words),
        "</header>",
        "<main>",
        *(_section(section, drawn.get(section.chart or "")) for section in document.sections),
        "</main>",
        '<footer id="notes">',
        f"<h2>{escape(document.notes_title)}</h2>",
        '<ol class="notes">',
        *(f"<li>{escape(note)}</li>" for note in document.notes),
        "</ol>",
        f'<p class="closing">{escape(document.footer)}</p>' if document.footer else "",
        "</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _tiles(report: Report, words: Words) -> str:
    totals = report.totals_outcomes
    tiles = [
        (
            f"{words.number(totals.published)} / {words.number(totals.planned)}",
            f"{words('published')} / {words('planned')}",
        ),
        (words.seconds(report.totals_punctuality.median_seconds), words("lag.median")),
        (words.number(report.totals_figures.interactions), words("interactions")),
        (words.number(report.hashtag.posts), words("summary.tag_posts")),
    ]
    return (
        '<div class="tiles">'
        + "".join(
            f'<div class="tile"><span class="value">{escape(value)}</span>'
            f'<span class="label">{escape(label)}</span></div>'
            for value, label in tiles
        )
        + "</div>"
    )


def _section(section: Section, chart: str | None) -> str:
    parts = [f'<section id="{section.id}">', f"<h2>{escape(section.title)}</h2>"]
    if chart:
        parts.append(f"<figure>{chart}</figure>")
    parts += [_table(table, same=table.caption == section.title) for table in section.tables]
    parts.append("</section>")
    return "\n".join(parts)


def _cell(cell: Cell, tag: str, *, scope: str | None = None) -> str:
    attributes = (f' scope="{scope}"' if scope else "") + (' class="num"' if cell.numeric else "")
    content = escape(cell.text)
    if cell.link:
        content = f'<a href="{escape(cell.link, quote=True)}">{content}</a>'
    return f"<{tag}{attributes}>{content}</{tag}>"


def _row(cells: tuple[Cell, ...]) -> str:
    first, *rest = cells
    return (
        "<tr>" + _cell(first, "th", scope="row") + "".join(_cell(c, "td") for c in rest) + "</tr>"
    )


def _table(table: Table, *, same: bool = False) -> str:
    if not table.rows:
        return (
            f'<p class="empty" id="t-{table.id}"><strong>{escape(table.caption)}:</strong> '
            f"{escape(table.empty or '—')}</p>"
        )
    classes = " ".join(
        name
        for name, wanted in (
            ("keep", len(table.rows) <= KEEP_TOGETHER_ROWS),
            ("wide", len(table.columns) > WIDE_COLUMNS),
        )
        if wanted
    )
    keep = f' class="{classes}"' if classes else ""
    numeric = [any(row[i].numeric for row in table.rows) for i in range(len(table.columns))]
    num, hidden = ' class="num"', ' class="same"'
    head = "".join(
        f'<th scope="col"{num if numeric[i] else ""}>{escape(name)}</th>'
        for i, name in enumerate(table.columns)
    )
    parts = [
        f'<table id="t-{table.id}"{keep}>',
        f"<caption{hidden if same else ''}>{escape(table.caption)}</caption>",
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
        *(_row(row) for row in table.rows),
        "</tbody>",
    ]
    if table.total:
        parts.append(f"<tfoot>{_row(table.total)}</tfoot>")
    parts.append("</table>")
    return "\n".join(parts)


def _charts(report: Report, words: Words) -> dict[str, str]:
    def group_label(key: str, label: str, countdown: str | None) -> str:
        if report.by is GroupBy.CHANNEL:
            return words.channel(key)
        if report.by is GroupBy.DAY:
            from datetime import date

            return f"{words.short_day(date.fromisoformat(key))} ({countdown})"
        return label

    group_name = words(f"col.{report.by.value}")
    outcomes = charts.horizontal_bars(
        "chart-outcomes",
        words("chart.outcomes"),
        words("chart.outcomes.desc", group=group_name),
        [group_label(g.key, g.label, g.countdown) for g in report.groups],
        [
            charts.Series(
                words("planned"), charts.PLANNED, [g.outcomes.planned for g in report.groups]
            ),
            charts.Series(
                words("published"), charts.PUBLISHED, [g.outcomes.published for g in report.groups]
            ),
        ],
        number=words.number,
        empty=words("chart.empty"),
    )
    engagement = charts.stacked_bars(
        "chart-engagement",
        words("chart.engagement"),
        words("chart.engagement.desc"),
        [words.channel(c.channel) for c in report.channels],
        [
            charts.Series(
                words(name),
                charts.FIGURE_COLOURS[name],
                [c.figures.get(name) for c in report.channels],
            )
            for name in INTERACTION_FIGURES
        ],
        [words.number(c.figures.interactions) for c in report.channels],
        number=words.number,
        empty=words("chart.empty"),
    )
    event = next((i for i, d in enumerate(report.timeline) if d.countdown == "T-0"), None)
    timeline = charts.day_columns(
        "chart-timeline",
        words("chart.timeline"),
        words("chart.timeline.desc"),
        [d.countdown for d in report.timeline],
        [
            charts.Series(words("planned"), charts.PLANNED, [d.planned for d in report.timeline]),
            charts.Series(
                words("published"), charts.PUBLISHED, [d.published for d in report.timeline]
            ),
        ],
        marker=event,
        marker_label=report.campaign.event_name,
        number=words.number,
        empty=words("chart.empty"),
    )
    days = report.hashtag.days
    hashtag = charts.day_columns(
        "chart-hashtag",
        words("chart.hashtag"),
        words("chart.hashtag.desc"),
        [words.short_day(d.day) for d in days],
        [charts.Series(words("col.posts"), charts.HASHTAG_POSTS, [d.posts for d in days])],
        line=charts.Series(words("col.authors"), charts.HASHTAG_AUTHORS, [d.authors for d in days]),
        number=words.number,
        empty=words("no_hashtag"),
    )
    return {
        "outcomes": outcomes,
        "engagement": engagement,
        "timeline": timeline,
        "hashtag": hashtag,
    }
