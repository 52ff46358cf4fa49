"""Read the tables back out of each report format, so tests compare cell by cell.

Each function returns every table of a document as a list of rows (header row first, the
total row last), each row a list of cell texts.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

Rows = list[list[str]]


def text_tables(text: str) -> list[Rows]:
    """Tables drawn by rich (box characters) in the terminal format."""
    tables: list[Rows] = []
    current: Rows | None = None
    for line in text.splitlines():
        if line.startswith("┏"):
            current = []
        elif current is not None and line[:1] in ("┃", "│"):
            separator = line[0]
            current.append([cell.strip() for cell in line.strip()[1:-1].split(separator)])
        elif current is not None and line.startswith("└"):
            tables.append(current)
            current = None
    return tables


_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_ESCAPED = re.compile(r"\\(.)")


def _md_cell(cell: str) -> str:
    cell = cell.strip()
    if cell.startswith("**") and cell.endswith("**") and len(cell) >= 4:
        cell = cell[2:-2]
    cell = _LINK.sub(r"\1", cell)
    return _ESCAPED.sub(r"\1", cell)


def md_tables(text: str) -> list[Rows]:
    """GitHub-flavoured Markdown pipe tables."""
    tables: list[Rows] = []
    current: Rows = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            if re.fullmatch(r"\|(?:-+:?\|)+", line):
                continue
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            current.append([_md_cell(c) for c in cells])
        elif current:
            tables.append(current)
            current = []
    return tables


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, Rows] = {}
        self.table: str | None = None
        self.row: list[str] | None = None
        self.cell: list[str] | None = None
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self.table = attributes.get("id") or f"table-{len(self.tables)}"
            self.tables[self.table] = []
        elif tag == "tr" and self.table:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
        elif tag == "a" and attributes.get("href"):
            self.links.append(str(attributes["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None and self.table:
            self.tables[self.table].append(self.row)
            self.row = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_tables(text: str) -> dict[str, Rows]:
    """Tables by id (``t-outcomes``, ``t-channels``, ...)."""
    parser = _Tables()
    parser.feed(text)
    return parser.tables


def html_links(text: str) -> list[str]:
    parser = _Tables()
    parser.feed(text)
    return parser.links
