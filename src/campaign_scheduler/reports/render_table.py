"""The report for the terminal: one rich table per section, the definitions at the end."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from campaign_scheduler.reports.i18n import Words
from campaign_scheduler.reports.layout import Table, layout
from campaign_scheduler.reports.model import Report

#: Width used when the output is not a terminal (a file or a pipe): wide enough that no
#: table of the report needs to wrap its cells.
FILE_WIDTH = 200


def print_table(report: Report, words: Words, console: Console) -> None:
    document = layout(report, words)
    console.print(Text(document.title, style="bold"))
    for label, value in document.facts:
        console.print(f"{label}: {value}", markup=False, highlight=False)
    for section in document.sections:
        console.print()
        console.print(Text(section.title, style="bold underline"))
        for table in section.tables:
            _print(table, console, titled=table.caption != section.title)
    console.print()
    console.print(Text(document.notes_title, style="bold"))
    for number, note in enumerate(document.notes, start=1):
        console.print(f"{number}. {note}", markup=False, highlight=False)


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
        console.print(f"{table.caption}: {table.empty or '—'}", markup=False, highlight=False)
        return
    rich = RichTable(
        title=table.caption if titled else None,
        title_justify="left",
        show_footer=table.total is not None,
        highlight=False,
    )
    numeric = [any(row[i].numeric for row in table.rows) for i in range(len(table.columns))]
    for index, name in enumerate(table.columns):
        footer = table.total[index].text if table.total else ""
        rich.add_column(
            name,
            footer=Text(footer, style="bold"),
            justify="right" if numeric[index] else "left",
            overflow="fold",
        )
    for row in table.rows:
        rich.add_row(*(Text(cell.text) for cell in row))
    console.print(rich)
