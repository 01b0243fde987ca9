"""A report's chart as geometry for a server-drawn SVG (``templates/reports/_chart.html``):
no script and no inline style (the content security policy), colours by CSS class
(``series-0`` … ``series-7`` in ``static/css/reports.css``). Every chart is drawn from the
first measure and has the result's table beside it (the accessible form of the same
figures).

Bars are horizontal: the group labels (long, or Chinese) sit on their own line above each
bar, so a phone's width reads as well as a desktop's. Positions across are percentages
(SVG takes them): the chart fills its box at any width while its text keeps the page's
size (a scaled drawing would shrink it to nothing on a phone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from crm.reports.engine import Result

MAX_ITEMS = 30  # groups drawn; the table holds them all
SERIES = 8
WIDTH = 100  # bars and lines: x and widths in percent of the chart's width
ROW = 34  # height of one bar with its label


@dataclass
class Bar:
    label: str
    text: str  # the value as text
    y: float
    segments: list = field(default_factory=list)  # (x, width, series, title)
    url: str | None = None


@dataclass
class Slice:
    label: str
    text: str
    path: str
    series: int
    share: str
    url: str | None = None


@dataclass
class Chart:
    kind: str
    width: int = WIDTH
    height: int = 0
    bars: list[Bar] = field(default_factory=list)
    slices: list[Slice] = field(default_factory=list)
    points: str = ""  # a line's polyline
    dots: list = field(default_factory=list)  # (x, y, label, text, url)
    axis: list = field(default_factory=list)  # (x, label) under a line
    legend: list = field(default_factory=list)  # (series, label)
    cut: int = 0  # groups left out of the chart (the table has them)
    empty: bool = False


def _value(v: Any) -> float:
    try:
        return max(0.0, float(v or 0))
    except (TypeError, ValueError):
        return 0.0


def _bars(result: Result, kind: str) -> Chart:
    chart = Chart(kind=kind)
    keys = result.first_keys[:MAX_ITEMS]
    chart.cut = len(result.first_keys) - len(keys)
    if len(result.group_fields) == 2 and kind == "stacked":
        seconds = result.second_keys[: SERIES * 4]
        series = {k: n % SERIES for n, k in enumerate(seconds)}
        chart.legend = [(series[k], result.second_labels[k]) for k in seconds]
        totals = {k: result.subtotals[k] for k in keys}
        top = max((_value(totals[k].values[0]) for k in keys), default=0) or 1
        for n, k in enumerate(keys):
            bar = Bar(totals[k].labels[0], result.text(0, totals[k].values[0]), n * ROW,
                      url=totals[k].url)  # fmt: skip
            x = 0.0
            for k2 in seconds:
                cell = result.cell(k, k2)
                if cell is None or not _value(cell.values[0]):
                    continue
                w = _value(cell.values[0]) / top * WIDTH
                title = f"{result.second_labels[k2]}: {result.text(0, cell.values[0])}"
                bar.segments.append((round(x, 2), round(w, 2), series[k2], title))
                x += w
            chart.bars.append(bar)
    else:
        rows = (
            [result.subtotals[k] for k in keys]
            if len(result.group_fields) == 2
            else [r for r in result.rows if r.keys[0] in set(keys)]
        )
        top = max((_value(r.values[0]) for r in rows), default=0) or 1
        for n, r in enumerate(rows):
            w = _value(r.values[0]) / top * WIDTH
            x = (WIDTH - w) / 2 if kind == "funnel" else 0
            bar = Bar(r.labels[0], result.text(0, r.values[0]), n * ROW, url=r.url)
            bar.segments.append(
                (round(x, 2), round(w, 2), 0 if kind != "funnel" else n % SERIES, "")
            )
            chart.bars.append(bar)
    chart.height = len(chart.bars) * ROW
    chart.empty = not chart.bars
    return chart


def _line(result: Result) -> Chart:
    chart = Chart(kind="line", height=240)
    rows = (
        [r for r in result.shown_rows]
        if len(result.group_fields) == 1
        else [result.subtotals[k] for k in result.first_keys]
    )
    rows = rows[: MAX_ITEMS * 4]
    if not rows:
        chart.empty = True
        return chart
    top = max(_value(r.values[0]) for r in rows) or 1
    step = WIDTH / max(1, len(rows) - 1)
    coords = []
    every = max(1, math.ceil(len(rows) / 6))
    for n, r in enumerate(rows):
        x = round(n * step if len(rows) > 1 else WIDTH / 2, 3)
        y = round(220 - _value(r.values[0]) / top * 200, 2)
        coords.append(f"{x},{y}")
        chart.dots.append((x, y, r.labels[0], result.text(0, r.values[0]), r.url))
        if n % every == 0:
            chart.axis.append((x, r.labels[0]))
    chart.points = " ".join(coords)
    return chart


def _arc(cx: float, cy: float, r: float, inner: float, a0: float, a1: float) -> str:
    def at(radius: float, a: float) -> tuple[float, float]:
        return round(cx + radius * math.sin(a), 2), round(cy - radius * math.cos(a), 2)

    large = 1 if a1 - a0 > math.pi else 0
    x0, y0 = at(r, a0)
    x1, y1 = at(r, a1)
    if inner:
        x2, y2 = at(inner, a1)
        x3, y3 = at(inner, a0)
        return (f"M{x0},{y0} A{r},{r} 0 {large} 1 {x1},{y1} L{x2},{y2} "
                f"A{inner},{inner} 0 {large} 0 {x3},{y3} Z")  # fmt: skip
    return f"M{cx},{cy} L{x0},{y0} A{r},{r} 0 {large} 1 {x1},{y1} Z"


def _pie(result: Result, kind: str) -> Chart:
    chart = Chart(kind=kind, width=240, height=240)
    rows = (
        [r for r in result.shown_rows]
        if len(result.group_fields) == 1
        else [result.subtotals[k] for k in result.first_keys]
    )
    rows = [r for r in rows if _value(r.values[0])]
    total = sum(_value(r.values[0]) for r in rows)
    if not total:
        chart.empty = True
        return chart
    shown, rest = (
        rows[: SERIES - 1] if len(rows) > SERIES else rows,
        rows[SERIES - 1 :] if len(rows) > SERIES else [],
    )
    a = 0.0
    inner = 60 if kind == "donut" else 0
    for n, r in enumerate(shown):
        share = _value(r.values[0]) / total
        a1 = a + share * 2 * math.pi
        if share >= 0.9999:
            a1 = a + 2 * math.pi - 0.0001
        path = _arc(120, 120, 110, inner, a, a1)
        text = result.text(0, r.values[0])
        chart.slices.append(Slice(r.labels[0], text, path, n, f"{share:.0%}", r.url))
        a = a1
    if rest:
        share = sum(_value(r.values[0]) for r in rest) / total
        chart.slices.append(Slice("…", "", _arc(120, 120, 110, inner, a, 2 * math.pi - 0.0001),
                                  SERIES - 1, f"{share:.0%}"))  # fmt: skip
    return chart


def build(result: Result) -> Chart | None:
    """The chart the definition asks for, or None (no chart, or nothing grouped)."""
    kind = result.defn.chart
    if kind == "table" or not result.group_fields:
        return None
    if kind == "stacked" and len(result.group_fields) < 2:
        kind = "bar"
    if kind in ("bar", "stacked", "funnel"):
        return _bars(result, kind)
    if kind == "line":
        return _line(result)
    return _pie(result, kind)
