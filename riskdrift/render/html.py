"""The analyst's report of one result: a self-contained HTML page.

One file, no external assets (styles, the heatmap's SVG and the filter script are
inline), so it can be mailed, archived or opened offline. It opens with the material
changes (each with its score, kind, quoted sentence and reasons), then holds the summary and
recommendations, the extraction warnings, the heatmap as a picture with its colour
legend, the emerging and fading themes, every modified risk as a redline (added
sentences and words in ``<ins>``, removed ones in ``<del>``) and every new and removed
risk in full, filterable by category and status. Trivial edits (punctuation, spacing,
hyphenation, case, quote/dash style, number formatting) read as this year's text until
the reader ticks "show trivial edits"; then their word diff shows, marked ``.trivial``.

Pure: an :class:`~riskdrift.models.AnalysisResult` in, a string out. Templates are
Jinja2 with autoescaping on, so filer text never becomes markup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from riskdrift.analysis.sentences import RedlinePiece, redline
from riskdrift.analysis.summary import KIND_LABELS
from riskdrift.models import AnalysisResult, RiskChange
from riskdrift.render.charts import heatmap_svg

__all__ = ["CONTENT_SECURITY_POLICY", "render_report"]

STATUSES = ("modified", "new", "removed", "unchanged")

#: Served with the report: nothing may load from anywhere, inline style and script only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

_ENV = Environment(
    loader=PackageLoader("riskdrift.render", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


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
        kind_labels=KIND_LABELS,
        marked=[
            _marked(m.current or m.previous or "", m.highlights) for m in result.material_changes
        ],
        ordered=ordered,
        facts=[_facts(r) for r in result.risks],
        redlines={
            i: _redline_html(r)
            for i, r in enumerate(result.risks)
            if r.status == "modified" or (r.changes is not None and r.changes.trivial_edits)
        },
        trivial_count=sum(len(r.changes.trivial_edits) for r in result.risks if r.changes),
        bodies={
            i: _paragraphs_html(r.text_current if r.status != "removed" else r.text_previous)
            for i, r in enumerate(result.risks)
            if r.status != "modified"
        },
    )


def _marked(text: str, highlights: Sequence[str]) -> Markup:
    """``text`` escaped, with the words its materiality rests on in ``<mark>``."""
    words = sorted({h for h in highlights if h}, key=len, reverse=True)
    if not words:
        return escape(text)
    pieces: list[Markup] = []
    at = 0
    for m in re.finditer("|".join(re.escape(w) for w in words), text):
        pieces += [escape(text[at : m.start()]), Markup("<mark>{}</mark>").format(m.group(0))]
        at = m.end()
    pieces.append(escape(text[at:]))
    return Markup("").join(pieces)


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
    if risk.changes is not None and risk.changes.trivial_edits:
        n = len(risk.changes.trivial_edits)
        facts.append(f"{n} trivial edit{'s' if n != 1 else ''} (not counted)")
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
    elif piece.kind == "trivial":
        html = Markup(
            '<span class="trivial"><span class="trivial-text">{}</span>'
            '<span class="trivial-diff">{}</span></span>'
        ).format(piece.text, _diff_html(piece))
    elif piece.kind == "edited":
        html = _diff_html(piece)
    else:
        html = escape(piece.text)
    return piece.new_paragraph, html


def _diff_html(piece: RedlinePiece) -> Markup:
    return Markup(" ").join(
        Markup("<ins>{}</ins>").format(op.text)
        if op.op == "insert"
        else Markup("<del>{}</del>").format(op.text)
        if op.op == "delete"
        else escape(op.text)
        for op in piece.diff
    )


def _join_paragraphs(pieces: Iterable[tuple[bool, Markup]]) -> Markup:
    paragraphs: list[list[Markup]] = [[]]
    for new_paragraph, html in pieces:
        if new_paragraph and paragraphs[-1]:
            paragraphs.append([])
        paragraphs[-1].append(html)
    return Markup("").join(Markup("<p>{}</p>").format(Markup(" ").join(p)) for p in paragraphs if p)
