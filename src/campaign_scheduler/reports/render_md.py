"""The report as Markdown (GitHub-flavoured tables), e.g. for a wiki or an e-mail."""

from __future__ import annotations

import re

from campaign_scheduler.reports.i18n import Words
from campaign_scheduler.reports.layout import Cell, Table, layout
from campaign_scheduler.reports.model import Report

_SPECIAL = re.compile(r"([\\|*_\[\]<>`])")


def escape_md(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def render_md(report: Report, words: Words) -> str:
    document = layout(report, words)
    lines = [f"# {escape_md(document.title)}", ""]
    lines += [f"- **{escape_md(label)}:** {escape_md(value)}" for label, value in document.facts]
    if document.notice:
        lines += ["", escape_md(document.notice)]
    for section in document.sections:
        lines += ["", f"## {escape_md(section.title)}"]
        for table in section.tables:
            lines += ["", *_table(table, titled=table.caption != section.title)]
    lines += ["", f"## {escape_md(document.notes_title)}", ""]
    lines += [f"{n}. {escape_md(note)}" for n, note in enumerate(document.notes, start=1)]
    if document.footer:
        lines += ["", "---", "", escape_md(document.footer)]
    return "\n".join(lines) + "\n"


def _cell(cell: Cell, *, bold: bool = False) -> str:
    text = escape_md(cell.text)
    if cell.link:
        text = f"[{text}]({cell.link.replace(')', '%29').replace(' ', '%20')})"
    return f"**{text}**" if bold and text else text


def _table(table: Table, *, titled: bool) -> list[str]:
    if not table.rows:
        return [f"**{escape_md(table.caption)}:** {escape_md(table.empty or '—')}"]
    numeric = [any(row[i].numeric for row in table.rows) for i in range(len(table.columns))]
    lines = [f"**{escape_md(table.caption)}**", ""] if titled else []
    lines += [
        "| " + " | ".join(escape_md(name) for name in table.columns) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    if table.total:
        lines.append("| " + " | ".join(_cell(c, bold=True) for c in table.total) + " |")
    return lines
