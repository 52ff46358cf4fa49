"""The report for the terminal: one rich table per section, the definitions at the end.

Names and URLs in a report come from the campaign files and the networks: every string goes
to rich as a :class:`Text` with control characters escaped (:func:`_text`), never as markup.
"""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from campaign_scheduler.reports.i18n import Words
from campaign_scheduler.reports.layout import Table, layout
from campaign_scheduler.reports.model import Report
from campaign_scheduler.terminal import one_line


def _text(text: str, style: str = "") -> Text:
    return Text(one_line(text), style=style)


#: Width used when the output is not a terminal (a file or a pipe): wide enough that no
#: table of the report needs to wrap its cells.
FILE_WIDTH = 200


def print_table(report: Report, words: Words, console: Console) -> None:
    document = layout(report, words)
    console.print(_text(document.title, "bold"))
    for label, value in document.facts:
        console.print(_text(f"{label}: {value}"), highlight=False)
    for section in document.sections:
        console.print()
        console.print(_text(section.title, "bold underline"))
        for table in section.tables:
            _print(table, console, titled=table.caption != section.title)
    console.print()
    console.print(_text(document.notes_title, "bold"))
    for number, note in enumerate(document.notes, start=1):
        console.print(_text(f"{number}. {note}"), highlight=False)


def render_table(report: Report, words: Words, *, width: int = FILE_WIDTH) -> str:
    """The terminal report as plain text (no colours), e.g. for ``--output``."""
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, highlight=False
    )
    print_table(report, words, console)
    return buffer.getvalue()


def _print(table: Table, console: Console, *, titled: bool) -> None:
    if not table.rows:
        console.print(_text(f"{table.caption}: {table.empty or '—'}"), highlight=False)
        return
    rich = RichTable(
        title=_text(table.caption) if titled else None,
        title_justify="left",
        show_footer=table.total is not None,
        highlight=False,
    )
    numeric = [any(row[i].numeric for row in table.rows) for i in range(len(table.columns))]
    for index, name in enumerate(table.columns):
        footer = table.total[index].text if table.total else ""
        rich.add_column(
            _text(name),
            footer=_text(footer, "bold"),
            justify="right" if numeric[index] else "left",
            overflow="fold",
        )
    for row in table.rows:
        rich.add_row(*(_text(cell.text) for cell in row))
    console.print(rich)
