"""The breakdown (``--by``) as CSV: one row per group and a total row, every figure a column.

German output is written for German spreadsheet programs: ``;`` between fields and a
decimal comma; English uses ``,`` and a decimal point. Unknown figures are empty cells,
never 0. A text cell (key, name) that a spreadsheet would read as a formula -- it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return -- gets a leading ``'``
(:func:`neutralise`); figures are numbers this module writes itself.
"""

from __future__ import annotations

import csv
import io

from campaign_scheduler.reports.i18n import Lang, Words
from campaign_scheduler.reports.layout import group_label
from campaign_scheduler.reports.model import (
    FIGURES,
    OUTCOMES,
    Figures,
    Outcomes,
    Punctuality,
    Report,
)

#: Machine names of the columns, in order (docs/report.md).
COLUMNS: tuple[str, ...] = (
    "key",
    "group",
    *OUTCOMES,
    "lag_median_seconds",
    "lag_p95_seconds",
    "lag_max_seconds",
    "within_1_minute",
    *FIGURES,
    "interactions",
    "measured",
)


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` safe to open in a spreadsheet: a formula-like start gets a leading ``'``."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def header(words: Words, by_column: str) -> list[str]:
    german = words.lang is Lang.DE
    names = {
        "key": "Kennung" if german else "Key",
        "group": by_column,
        "lag_median_seconds": "Verzögerung Median (s)" if german else "Lag median (s)",
        "lag_p95_seconds": "Verzögerung 95. Perzentil (s)" if german else "Lag 95th percentile (s)",
        "lag_max_seconds": "Verzögerung Maximum (s)" if german else "Lag maximum (s)",
        "within_1_minute": words("lag.within"),
        "measured": words("col.measured"),
    }
    return [names.get(c) or words.head(c).strip("„“") for c in COLUMNS]


def render_csv(report: Report, words: Words) -> str:
    german = words.lang is Lang.DE
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if german else ",", lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header(words, words(f"col.{report.by.value}"))])

    def number(value: float | None) -> str:
        if value is None:
            return ""
        text = f"{value:.3f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)
        return text.replace(".", ",") if german else text

    def row(
        key: str, label: str, outcomes: Outcomes, lag: Punctuality, figures: Figures
    ) -> list[str]:
        return [
            neutralise(key),
            neutralise(label),
            *(number(getattr(outcomes, name)) for name in OUTCOMES),
            number(lag.median_seconds),
            number(lag.p95_seconds),
            number(lag.max_seconds),
            number(lag.within_1_minute),
            *(number(figures.get(name)) for name in FIGURES),
            number(figures.interactions),
            number(figures.measured),
        ]

    for group in report.groups:
        writer.writerow(
            row(
                group.key,
                group_label(report, words, group),
                group.outcomes,
                group.punctuality,
                group.figures,
            )
        )
    writer.writerow(
        row(
            "",
            words("total"),
            report.totals_outcomes,
            report.totals_punctuality,
            report.totals_figures,
        )
    )
    return buffer.getvalue()
