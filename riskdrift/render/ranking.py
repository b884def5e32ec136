"""A universe ranking as a self-contained HTML page: a bar chart and a table. Pure.

``GET /batches/{id}/ranking?format=html`` (and the watchlist's) serve it: the same rows as
the JSON and the CSV, each figure printed to 4 decimals (percentiles to 2), the chart an
inline SVG with one bar per pair (its ``change``, most changed on top). No external
assets and no script, so it is served under the report's Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from markupsafe import Markup, escape

BAR_HEIGHT = 18
LABEL_WIDTH = 150
CHART_WIDTH = 720

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#1b1f24}
h1{font-size:1.35rem;margin-bottom:.2rem} p.sub{color:#57606a;margin-top:0}
table{border-collapse:collapse;width:100%;margin-top:1.5rem;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;text-align:right}
th:nth-child(-n+2),td:nth-child(-n+2){text-align:left} th{background:#f6f8fa}
svg text{font:12px system-ui,sans-serif;fill:#1b1f24} .bar{fill:#2166ac}
"""

COLUMNS: list[tuple[str, str]] = [
    ("rank", "rank"),
    ("ticker", "company"),
    ("years", "years"),
    ("change", "change"),
    ("percentile", "percentile"),
    ("similarity_min_edit", "min-edit"),
    ("similarity_jaccard", "Jaccard"),
    ("similarity_cosine", "cosine"),
    ("risks_new", "new"),
    ("risks_removed", "removed"),
    ("risks_modified", "modified"),
    ("material_changes", "material"),
]


def cell(name: str, row: Mapping[str, Any]) -> str:
    """How the page prints field ``name`` of a ranking row."""
    if name == "years":
        return f"{row['current_year']}/{row['previous_year']}"
    value = row[name]
    if value is None:
        return "–"
    if name == "percentile":
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def ranking_svg(rows: Sequence[Mapping[str, Any]]) -> Markup:
    """One horizontal bar per pair, its length the pair's ``change`` (0..1)."""
    height = max(1, len(rows)) * BAR_HEIGHT + 24
    span = CHART_WIDTH - LABEL_WIDTH - 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" role="img" '
        'aria-label="change of Item 1A against the prior year, by company">'
    ]
    for i, row in enumerate(rows):
        y = i * BAR_HEIGHT + 4
        length = max(0.0, min(1.0, float(row["change"]))) * span
        label = escape(f"{row['ticker']} {row['current_year']}")
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 13}" text-anchor="end">{label}</text>'
            f'<rect class="bar" data-ticker="{escape(row["ticker"])}" x="{LABEL_WIDTH}" '
            f'y="{y}" width="{length:.1f}" height="{BAR_HEIGHT - 4}"/>'
            f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{y + 13}">{cell("change", row)}</text>'
        )
    axis_y = len(rows) * BAR_HEIGHT + 18
    parts.append(
        f'<text x="{LABEL_WIDTH}" y="{axis_y}">0</text>'
        f'<text x="{LABEL_WIDTH + span}" y="{axis_y}" text-anchor="end">1 = nothing in common'
        "</text></svg>"
    )
    return Markup("".join(parts))


def ranking_html(title: str, subtitle: str, rows: Sequence[Mapping[str, Any]]) -> str:
    """The page: ``title``, ``subtitle``, the chart, the table (rows most changed first)."""
    head = "".join(f"<th>{escape(label)}</th>" for _, label in COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell(name, row))}</td>" for name, _ in COLUMNS) + "</tr>"
        for row in rows
    )
    empty = "" if rows else "<p>No completed pair yet.</p>"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="sub">{escape(subtitle)}</p>'
        f"{ranking_svg(rows) if rows else ''}{empty}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        '<p class="sub">change = 1 − mean(min-edit, Jaccard, cosine similarity of the whole '
        "Item 1A to the prior year's); percentile = percentile rank of change within this "
        "universe.</p></body></html>\n"
    )
