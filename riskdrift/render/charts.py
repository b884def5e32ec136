"""The SVG charts riskdrift draws: a result's category heatmap and a company's history.

Pure functions, model or JSON in, SVG text out, no external assets: the HTML report
inlines them, ``GET /companies/{ticker}/history.svg`` serves the history, and
``riskdrift history --chart`` writes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

from riskdrift.models import Heatmap

__all__ = ["heatmap_svg", "history_svg"]

# Heatmap colours: counts and drift run from white to blue, relative to the column's
# highest value; the tone change diverges from white (0) to red (more negative) or green.
_SEQUENTIAL = ((255, 255, 255), (33, 102, 172))
_NEGATIVE = ((255, 255, 255), (178, 24, 43))
_POSITIVE = ((255, 255, 255), (27, 120, 55))
_DIVERGING_COLUMNS = frozenset({"mean_sentiment_change"})
_COLUMN_LABELS = {
    "count_previous": "risks, previous",
    "count_current": "risks, current",
    "new": "new",
    "removed": "removed",
    "modified": "modified",
    "mean_sentiment_change": "tone change",
    "mean_drift": "drift",
}


def _mix(scale: tuple[tuple[int, int, int], tuple[int, int, int]], t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    (r0, g0, b0), (r1, g1, b1) = scale
    return f"#{round(r0 + (r1 - r0) * t):02x}{round(g0 + (g1 - g0) * t):02x}" + (
        f"{round(b0 + (b1 - b0) * t):02x}"
    )


def _cell_colour(column: str, value: float, column_values: Sequence[float]) -> str:
    if column in _DIVERGING_COLUMNS:
        peak = max((abs(v) for v in column_values), default=0.0)
        if not peak or not value:
            return _mix(_SEQUENTIAL, 0.0)
        return _mix(_POSITIVE if value > 0 else _NEGATIVE, abs(value) / peak)
    peak = max(column_values, default=0.0)
    return _mix(_SEQUENTIAL, value / peak if peak > 0 else 0.0)


def _gradient(identifier: str, stops: Sequence[str]) -> str:
    step = 100 / (len(stops) - 1)
    inner = "".join(
        f'<stop offset="{n * step:.0f}%" stop-color="{colour}"/>' for n, colour in enumerate(stops)
    )
    return f'<linearGradient id="{identifier}">{inner}</linearGradient>'


def heatmap_svg(heatmap: Heatmap) -> Markup:
    """The category × measure heatmap as inline SVG, each cell labelled with its value,
    with a legend for both colour scales."""
    cell_w, cell_h, label_w, head_h = 92, 26, 190, 44
    width = label_w + cell_w * len(heatmap.columns) + 10
    grid_h = head_h + cell_h * len(heatmap.rows)
    height = grid_h + 70
    by_column = [[row[c] for row in heatmap.values] for c in range(len(heatmap.columns))]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="heatmap" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" '
        'font-size="12">',
        "<title>Heatmap: risk factors by category and measure</title>",
        "<defs>",
        _gradient("hm-seq", [_mix(_SEQUENTIAL, 0), _mix(_SEQUENTIAL, 1)]),
        _gradient("hm-div", [_mix(_NEGATIVE, 1), _mix(_SEQUENTIAL, 0), _mix(_POSITIVE, 1)]),
        "</defs>",
    ]
    for c, column in enumerate(heatmap.columns):
        x = label_w + c * cell_w + cell_w / 2
        label = escape(_COLUMN_LABELS.get(column, column))
        parts.append(f'<text x="{x:.0f}" y="{head_h - 10}" text-anchor="middle">{label}</text>')
    for r, (category, values) in enumerate(zip(heatmap.rows, heatmap.values, strict=True)):
        y = head_h + r * cell_h
        parts.append(
            f'<text x="{label_w - 8}" y="{y + cell_h / 2 + 4:.0f}" text-anchor="end">'
            f"{escape(category)}</text>"
        )
        for c, (column, value) in enumerate(zip(heatmap.columns, values, strict=True)):
            x = label_w + c * cell_w
            fill = _cell_colour(column, value, by_column[c])
            shown = (
                f"{value:+.3f}"
                if column in _DIVERGING_COLUMNS
                else (f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}")
            )
            dark = int(fill[1:3], 16) * 0.3 + int(fill[3:5], 16) * 0.6 < 110
            parts.append(
                f'<g class="cell"><rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" '
                f'fill="{fill}" stroke="#d9dde5"><title>{escape(category)}, '
                f"{escape(_COLUMN_LABELS.get(column, column))}: {shown}</title></rect>"
                f'<text x="{x + cell_w / 2 - 1:.0f}" y="{y + cell_h / 2 + 4:.0f}" '
                f'text-anchor="middle" fill="{"#fff" if dark else "#1d2330"}">{shown}</text></g>'
            )
    ly = grid_h + 18
    parts += [
        f'<g class="legend"><rect x="{label_w}" y="{ly}" width="160" height="12" '
        'fill="url(#hm-seq)" stroke="#d9dde5"/>',
        f'<text x="{label_w}" y="{ly + 26}">0</text>',
        f'<text x="{label_w + 160}" y="{ly + 26}" text-anchor="end">column’s highest</text>',
        f'<text x="{label_w}" y="{ly - 4}">counts, mean drift</text>',
        f'<rect x="{label_w + 220}" y="{ly}" width="200" height="12" fill="url(#hm-div)" '
        'stroke="#d9dde5"/>',
        f'<text x="{label_w + 220}" y="{ly + 26}">more negative</text>',
        f'<text x="{label_w + 420}" y="{ly + 26}" text-anchor="end">more positive</text>',
        f'<text x="{label_w + 220}" y="{ly - 4}">mean tone change (current − previous), 0 white'
        "</text></g>",
        "</svg>",
    ]
    return Markup("\n".join(parts))


SERIES = (
    ("risk_count", "risk count", "#1f77b4"),
    ("new", "new", "#2ca02c"),
    ("removed", "removed", "#d62728"),
    ("modified", "modified", "#ff7f0e"),
)


def history_svg(history: dict[str, Any], *, width: int = 720, height: int = 360) -> str:
    """An SVG line chart of the history: risk count and new/removed/modified per year
    (left axis), and the cosine similarity to the year before (0..1, dashed, right axis).

    The axis spans the years that have data (leading and trailing years without any are
    left off; all of them are kept when none has data)."""
    points = _with_data(history["years"])
    years: list[int] = [int(p["year"]) for p in points]
    left, right, top, bottom = 56, 56, 36, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [float(p[key]) for p in points for key, _, _ in SERIES if p.get(key) is not None]
    peak = max(values, default=1.0) or 1.0

    def x(year: int) -> float:
        if len(years) == 1:
            return left + plot_w / 2
        return left + plot_w * (year - years[0]) / (years[-1] - years[0])

    def y(value: float, scale: float) -> float:
        return top + plot_h * (1 - value / scale)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="{left}" y="20" font-size="14">{escape(history["ticker"])} '
        f"Item 1A, {years[0]}-{years[-1]}</text>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
    ]
    for year in years:
        parts.append(
            f'<text x="{x(year):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{year}</text>'
        )
    for tick in range(5):
        value = peak * tick / 4
        parts.append(
            f'<text x="{left - 6}" y="{y(value, peak) + 4:.1f}" '
            f'text-anchor="end">{value:.0f}</text>'
        )
    legend_x = left
    for key, label, colour in SERIES:
        coords = [
            f"{x(p['year']):.1f},{y(p[key], peak):.1f}" for p in points if p.get(key) is not None
        ]
        if coords:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                f'points="{" ".join(coords)}"><title>{label}</title></polyline>'
            )
        for p in points:  # a marker per value: a series with one year is still seen
            if p.get(key) is not None:
                parts.append(
                    f'<circle cx="{x(p["year"]):.1f}" cy="{y(p[key], peak):.1f}" '
                    f'r="3" fill="{colour}"><title>{label} {p["year"]}: '
                    f"{p[key]}</title></circle>"
                )
        parts.append(f'<text x="{legend_x}" y="{height - 8}" fill="{colour}">{label}</text>')
        legend_x += 90
    cosine = [
        f"{x(p['year']):.1f},{y(p['similarity']['cosine'], 1.0):.1f}"
        for p in points
        if p.get("similarity")
    ]
    if cosine:
        parts.append(
            f'<polyline fill="none" stroke="#555" stroke-dasharray="5,4" '
            f'stroke-width="2" points="{" ".join(cosine)}">'
            f"<title>cosine similarity</title></polyline>"
        )
    parts.append(f'<text x="{legend_x}" y="{height - 8}" fill="#555">cosine (right, 0-1)</text>')
    parts.append(f'<text x="{left + plot_w + 6}" y="{top + 4}">1.0</text>')
    parts.append(f'<text x="{left + plot_w + 6}" y="{top + plot_h + 4}">0.0</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _with_data(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def has_data(p: dict[str, Any]) -> bool:
        return p.get("risk_count") is not None or p.get("similarity") is not None

    marked = [n for n, p in enumerate(points) if has_data(p)]
    return points[marked[0] : marked[-1] + 1] if marked else points
