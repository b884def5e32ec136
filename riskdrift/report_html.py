"""The analyst's report of one result: a self-contained HTML page.

One file, no external assets (styles, the heatmap's SVG and the filter script are
inline), so it can be mailed, archived or opened offline. It holds the summary and
recommendations, the extraction warnings, the heatmap as a picture with its colour
legend, the emerging and fading themes, every modified risk as a redline (added
sentences and words in ``<ins>``, removed ones in ``<del>``) and every new and removed
risk in full, filterable by category and status.

Pure: an :class:`~riskdrift.models.AnalysisResult` in, a string out. Templates are
Jinja2 with autoescaping on, so filer text never becomes markup.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from riskdrift.analysis.sentences import RedlinePiece, redline
from riskdrift.models import AnalysisResult, Heatmap, RiskChange

__all__ = ["CONTENT_SECURITY_POLICY", "heatmap_svg", "render_report"]

STATUSES = ("modified", "new", "removed", "unchanged")

#: Served with the report: nothing may load from anywhere, inline style and script only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_ENV = Environment(
    loader=PackageLoader("riskdrift", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

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


def render_report(result: AnalysisResult, *, note: str | None = None) -> str:
    """The whole report page for ``result``; ``note`` is shown under the title."""
    current, previous = result.years
    counts = Counter(str(r.status) for r in result.risks)
    order = {status: n for n, status in enumerate(STATUSES)}
    ordered = sorted(
        enumerate(result.risks), key=lambda ir: (order[ir[1].status], -ir[1].drift_score)
    )
    themes = result.themes
    return _ENV.get_template("report.html").render(
        r=result,
        current=current,
        previous=previous,
        note=note,
        engine=result.method.get("engine", "riskdrift"),
        warnings=[
            (f.year, text)
            for f in result.filings
            if f.extraction is not None
            for text in f.extraction.warnings
        ],
        counts={status: counts.get(status, 0) for status in STATUSES},
        statuses=STATUSES,
        categories=sorted({r.category for r in result.risks}),
        heatmap_svg=heatmap_svg(result.heatmap),
        themes=[
            ("Emerging", themes.emerging if themes else []),
            ("Fading", themes.fading if themes else []),
        ],
        risk_titles=[_title(r) for r in result.risks],
        ordered=ordered,
        facts=[_facts(r) for r in result.risks],
        redlines={
            i: _redline_html(r) for i, r in enumerate(result.risks) if r.status == "modified"
        },
        bodies={
            i: _paragraphs_html(r.text_current if r.status != "removed" else r.text_previous)
            for i, r in enumerate(result.risks)
            if r.status != "modified"
        },
    )


def _title(risk: RiskChange) -> str:
    title = risk.title_current or risk.title_previous or "(untitled)"
    return title if len(title) <= 90 else title[:89].rstrip() + "…"


def _facts(risk: RiskChange) -> str:
    facts = []
    if risk.status in ("modified", "unchanged"):
        facts.append(f"text similarity {risk.text_similarity:.2f}")
    facts.append(f"drift {risk.drift_score:.2f}")
    if risk.sentiment_delta is not None:
        facts.append(f"tone change {risk.sentiment_delta:+.3f}")
    if risk.changes is not None and risk.status == "modified":
        c = risk.changes
        facts.append(
            f"sentences: {len(c.added)} added, {len(c.removed)} removed, "
            f"{len(c.edited)} edited, {c.unchanged} kept"
        )
    return " · ".join(facts)


def _paragraphs_html(text: str | None) -> Markup:
    paragraphs = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not paragraphs:
        return Markup('<p class="meta">(no text)</p>')
    return Markup("").join(Markup("<p>{}</p>").format(p) for p in paragraphs)


def _redline_html(risk: RiskChange) -> Markup:
    if risk.changes is None:
        return _paragraphs_html(risk.text_current)
    pieces = redline(risk.text_previous, risk.text_current, risk.changes)
    return _join_paragraphs(_piece_html(p) for p in pieces) if pieces else Markup("")


def _piece_html(piece: RedlinePiece) -> tuple[bool, Markup]:
    if piece.kind == "added":
        html = Markup("<ins>{}</ins>").format(piece.text)
    elif piece.kind == "removed":
        html = Markup("<del>{}</del>").format(piece.text)
    elif piece.kind == "edited":
        html = Markup(" ").join(
            Markup("<ins>{}</ins>").format(op.text)
            if op.op == "insert"
            else Markup("<del>{}</del>").format(op.text)
            if op.op == "delete"
            else escape(op.text)
            for op in piece.diff
        )
    else:
        html = escape(piece.text)
    return piece.new_paragraph, html


def _join_paragraphs(pieces: Iterable[tuple[bool, Markup]]) -> Markup:
    paragraphs: list[list[Markup]] = [[]]
    for new_paragraph, html in pieces:
        if new_paragraph and paragraphs[-1]:
            paragraphs.append([])
        paragraphs[-1].append(html)
    return Markup("").join(
        Markup("<p>{}</p>").format(Markup(" ").join(p)) for p in paragraphs if p
    )


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
            shown = f"{value:+.3f}" if column in _DIVERGING_COLUMNS else (
                f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
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
