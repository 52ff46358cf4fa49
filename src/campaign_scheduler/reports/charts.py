"""Inline SVG charts for the HTML report: no scripts, no fonts or files to fetch.

Every chart is ``<svg role="img">`` with ``<title>`` and ``<desc>`` (referenced by
``aria-labelledby``), a legend, and values written next to the marks, so that it reads
without colour too. The colours have a contrast of at least 3:1 against white (WCAG 1.4.11);
the same figures are always also given in a table next to the chart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

#: Chart colours (all >= 3:1 against white; tests check this and look for them on screen).
PLANNED = "#6F8FB8"
PUBLISHED = "#0B4F8A"
FIGURE_COLOURS = {
    "likes": "#1B6E3A",
    "reposts": "#B35C00",
    "replies": "#7A3E9D",
    "quotes": "#A3245B",
}
HASHTAG_POSTS = "#00756F"
HASHTAG_AUTHORS = "#B3261E"
EVENT_DAY = "#7F1D1D"
TEXT = "#1A1A1A"
AXIS = "#555555"
GRID = "#D9D9D9"

WIDTH = 720
FONT = 12


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[int | None]


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = FONT) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{TEXT}" '
        f'text-anchor="{anchor}">{escape(text)}</text>'
    )


def _rect(x: float, y: float, width: float, height: float, colour: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{height:.1f}" '
        f'fill="{colour}"><title>{escape(tip)}</title></rect>'
    )


def _svg(chart_id: str, title: str, desc: str, height: float, body: list[str]) -> str:
    return (
        f'<svg class="chart" id="{chart_id}" role="img" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="sans-serif">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )


def _legend(series: Sequence[tuple[str, str]], y: float, *, line: set[str] | None = None) -> str:
    parts, x = [], 0.0
    for name, colour in series:
        if line and name in line:
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 14:.1f}" y2="{y - 4:.1f}" '
                f'stroke="{colour}" stroke-width="3"/>'
            )
        else:
            parts.append(
                f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>'
            )
        parts.append(_text(x + 18, y, name))
        x += 30 + 7 * len(name)
    return "".join(parts)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nice_max(value: int) -> int:
    """A round axis maximum at or above ``value``: 1, 2, 5, 10, 20, 50, ..."""
    if value <= 1:
        return 1
    power = int(10 ** math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def horizontal_bars(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    number: Callable[[int | None], str],
    empty: str,
) -> str:
    """One row per label with one bar per series (e.g. planned and published per sender)."""
    label_width, value_width, bar, gap, group_gap, top = 210.0, 60.0, 14.0, 3.0, 12.0, 30.0
    plot = WIDTH - label_width - value_width
    if not labels:
        return _svg(chart_id, title, desc, 60, [_legend([], 20), _text(0, 40, empty)])
    peak = max([v or 0 for s in series for v in s.values] + [1])
    body = [_legend([(s.name, s.colour) for s in series], 16)]
    y = top
    row = len(series) * (bar + gap) - gap
    for index, label in enumerate(labels):
        body.append(_text(label_width - 8, y + row / 2 + 4, _shorten(label, 30), anchor="end"))
        for s in series:
            value = s.values[index]
            length = plot * (value or 0) / peak
            body.append(
                _rect(label_width, y, length, bar, s.colour, f"{label}, {s.name}: {number(value)}")
            )
            body.append(_text(label_width + length + 4, y + bar - 3, number(value), size=11))
            y += bar + gap
        y += group_gap - gap
    body.append(
        f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{y - group_gap + 4:.1f}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    return _svg(chart_id, title, desc, y + 4, body)


def stacked_bars(
    chart_id: str,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    totals: Sequence[str],
    *,
    number: Callable[[int | None], str],
    empty: str,
) -> str:
    """One bar per label, made of one segment per series; ``totals`` written at the end."""
    label_width, value_width, bar, gap, top = 130.0, 70.0, 20.0, 10.0, 30.0
    plot = WIDTH - label_width - value_width
    if not labels:
        return _svg(chart_id, title, desc, 60, [_text(0, 40, empty)])
    sums = [sum(s.values[i] or 0 for s in series) for i in range(len(labels))]
    peak = max([*sums, 1])
    body = [_legend([(s.name, s.colour) for s in series], 16)]
    y = top
    for index, label in enumerate(labels):
        body.append(_text(label_width - 8, y + bar / 2 + 4, _shorten(label, 18), anchor="end"))
        x = label_width
        for s in series:
            value = s.values[index]
            if value:
                length = plot * value / peak
                body.append(
                    _rect(x, y, length, bar, s.colour, f"{label}, {s.name}: {number(value)}")
                )
                x += length
        body.append(_text(x + 4, y + bar / 2 + 4, totals[index], size=11))
        y += bar + gap
    body.append(
        f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{y - gap + 4:.1f}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    return _svg(chart_id, title, desc, y + 4, body)


def day_columns(
    chart_id: str,
    title: str,
    desc: str,
    ticks: Sequence[str],
    series: Sequence[Series],
    *,
    line: Series | None = None,
    marker: int | None = None,
    marker_label: str = "",
    number: Callable[[int | None], str],
    empty: str,
) -> str:
    """Columns per day (one per series, side by side), an optional line over them (e.g.
    unique authors), and an optional marked day (the event)."""
    left, right, top, plot_height, bottom = 40.0, 10.0, 34.0, 180.0, 40.0
    height = top + plot_height + bottom
    if not ticks:
        return _svg(chart_id, title, desc, 60, [_text(0, 40, empty)])
    values = [v or 0 for s in [*series, *([line] if line else [])] for v in s.values]
    peak = _nice_max(max([*values, 1]))
    plot_width = WIDTH - left - right
    slot = plot_width / len(ticks)
    column = max(min(slot * 0.8 / len(series), 24.0), 1.0)
    legend = [(s.name, s.colour) for s in series] + ([(line.name, line.colour)] if line else [])
    body = [_legend(legend, 16, line={line.name} if line else None)]
    base = top + plot_height

    def y_of(value: float) -> float:
        return base - plot_height * value / peak

    for level in sorted({0, peak // 2, peak}):
        body.append(
            f'<line x1="{left}" y1="{y_of(level):.1f}" x2="{WIDTH - right}" y2="{y_of(level):.1f}" '
            f'stroke="{GRID if level else AXIS}" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y_of(level) + 4, number(level), anchor="end", size=10))
    if marker is not None:
        x = left + slot * (marker + 0.5)
        body.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{base}" stroke="{EVENT_DAY}" '
            f'stroke-width="2" stroke-dasharray="5 3" shape-rendering="crispEdges"/>'
        )
        body.append(_text(x - 4, top - 8, marker_label, anchor="end", size=10))
    every = max(1, math.ceil(len(ticks) / 16))
    for index, tick in enumerate(ticks):
        start = left + slot * index + (slot - column * len(series)) / 2
        for number_of, s in enumerate(series):
            value = s.values[index]
            if value:
                body.append(
                    _rect(
                        start + column * number_of,
                        y_of(value),
                        column,
                        base - y_of(value),
                        s.colour,
                        f"{tick}, {s.name}: {number(value)}",
                    )
                )
        if index % every == 0 or index == len(ticks) - 1:
            body.append(
                _text(left + slot * (index + 0.5), base + 16, tick, anchor="middle", size=10)
            )
    if line is not None:
        points = " ".join(
            f"{left + slot * (i + 0.5):.1f},{y_of(v or 0):.1f}" for i, v in enumerate(line.values)
        )
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{line.colour}" stroke-width="2.5"/>'
        )
        for i, v in enumerate(line.values):
            body.append(
                f'<circle cx="{left + slot * (i + 0.5):.1f}" cy="{y_of(v or 0):.1f}" r="3" '
                f'fill="{line.colour}"><title>{escape(ticks[i])}, {escape(line.name)}: '
                f"{escape(number(v))}</title></circle>"
            )
    return _svg(chart_id, title, desc, height, body)
