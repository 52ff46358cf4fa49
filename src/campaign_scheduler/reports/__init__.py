"""The campaign report: aggregation in SQL (:mod:`.queries`), the report as plain data
(:mod:`.model`), and one renderer per format."""

from __future__ import annotations

import enum

from campaign_scheduler.reports.i18n import Lang, Words
from campaign_scheduler.reports.model import GroupBy, Report


class Format(enum.StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    MD = "md"
    HTML = "html"


#: File name extension per format, for ``report-<slug>.<ext>``.
EXTENSIONS = {
    Format.TABLE: "txt",
    Format.CSV: "csv",
    Format.JSON: "json",
    Format.MD: "md",
    Format.HTML: "html",
}


def render(report: Report, fmt: Format, lang: Lang) -> str:
    """The report as text in one format and language."""
    words = Words(lang)
    if fmt is Format.TABLE:
        from campaign_scheduler.reports.render_table import render_table

        return render_table(report, words)
    if fmt is Format.CSV:
        from campaign_scheduler.reports.render_csv import render_csv

        return render_csv(report, words)
    if fmt is Format.JSON:
        from campaign_scheduler.reports.render_json import render_json

        return render_json(report, words)
    if fmt is Format.MD:
        from campaign_scheduler.reports.render_md import render_md

        return render_md(report, words)
    from campaign_scheduler.reports.render_html import render_html

    return render_html(report, words)


__all__ = ["EXTENSIONS", "Format", "GroupBy", "Lang", "Report", "Words", "render"]
