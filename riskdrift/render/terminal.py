"""A result as a terminal report: material changes first, every table within 80 columns.

Pure: it draws onto the rich ``Console`` it is given (``riskdrift analyze``,
``riskdrift jobs result``); where that console writes is the caller's business.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from riskdrift.analysis.summary import quote_about
from riskdrift.models import AnalysisResult

#: Kinds of material change as the terminal names them (short, so the table fits 80 columns).
KIND_SHORT = {
    "realised": "realised",
    "new_law_regulation": "law/regulator",
    "new_event": "event",
    "new_risk": "new risk",
    "removed_risk": "removed risk",
    "removed_exposure": "dropped",
    "new_exposure": "exposure",
}
#: The heatmap's columns as the terminal heads them (the result's names are long).
HEATMAP_SHORT = {
    "count_previous": "before",
    "count_current": "now",
    "new": "new",
    "removed": "gone",
    "modified": "mod.",
    "mean_sentiment_change": "tone Δ",
    "mean_drift": "drift",
}
TERMINAL_MATERIAL = 10


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _number(header: str) -> Column:
    """A numeric column that never wraps or cuts its header."""
    return Column(header, justify="right", no_wrap=True, min_width=len(header))


def print_report(result: AnalysisResult, console: Console) -> None:
    """A terminal rendering of a result: the material changes first, then the filings,
    figures, largest changes, heatmap and summary. Fits 80 columns: headers are short and
    never cut, long text wraps."""
    current, previous = result.years
    console.rule(
        f"[bold]{result.company}[/bold] ({result.ticker}) — Item 1A, fiscal {current} vs {previous}"
    )
    if result.material_changes:
        material = Table(
            _number("score"),
            Column("kind", no_wrap=True, min_width=5),
            Column("risk and what changed", ratio=1, overflow="fold"),
            title="Material changes (most material first)",
        )
        for m in result.material_changes[:TERMINAL_MATERIAL]:
            quote = m.current or m.previous or ""
            verb = {"removed": "drops", "removed_risk": "read", "edited": "now reads"}.get(
                m.change, "adds"
            )
            material.add_row(
                f"{m.score:.2f}",
                KIND_SHORT[m.kind],
                Text.assemble(
                    (_clip(m.risk_title, 90), "bold"),
                    f"\n{verb}: {quote_about(quote, m.highlights)}",
                    (f"\n{'; '.join(m.reasons)}", "dim"),
                ),
            )
        console.print(material)
        more = len(result.material_changes) - TERMINAL_MATERIAL
        if more > 0:
            console.print(f"[dim]and {more} more in the result's material_changes[/dim]")
    else:
        console.print("No change scored as material.")

    filings = Table(
        _number("year"),
        Column("form", no_wrap=True),
        Column("source", no_wrap=True),
        _number("Item 1A chars"),
        _number("risks"),
        title="Filings",
    )
    for f in result.filings:
        filings.add_row(str(f.year), f.form, f.source, f"{f.item1a_chars:,}", str(f.risk_count))
    console.print(filings)
    for f in result.filings:
        for warning in f.extraction.warnings if f.extraction else []:
            console.print(f"[bold yellow]warning[/bold yellow] fiscal {f.year}: {warning}")

    sim = result.similarity
    console.print(
        f"Similarity of the whole section: min-edit {sim.min_edit:.3f}, "
        f"Jaccard {sim.jaccard:.3f}, simple {sim.simple:.3f}, cosine {sim.cosine:.3f}"
    )
    counts = Counter(r.status for r in result.risks)
    console.print(
        "Risks: "
        + ", ".join(f"{counts[s]} {s}" for s in ("new", "removed", "modified", "unchanged"))
    )

    top = sorted(
        (r for r in result.risks if r.status != "unchanged"),
        key=lambda r: r.drift_score,
        reverse=True,
    )[:10]
    if top:
        changes = Table(
            Column("status", no_wrap=True, min_width=6),
            Column("category", overflow="fold", max_width=18),
            Column("risk", ratio=1, overflow="fold"),
            _number("drift"),
            title="Largest text changes (drift)",
        )
        for r in top:
            title = r.title_current or r.title_previous or ""
            changes.add_row(r.status, r.category, _clip(title, 90), f"{r.drift_score:.2f}")
        console.print(changes)

    heat = Table(
        Column("category", ratio=1, overflow="fold"),
        *(_number(HEATMAP_SHORT.get(c, c)) for c in result.heatmap.columns),
        title="Heatmap",
        caption="before/now: risks per year; gone, mod.: removed, modified; "
        "tone Δ: mean tone change; drift: mean drift",
    )
    for row, values in zip(result.heatmap.rows, result.heatmap.values, strict=True):
        heat.add_row(row, *(f"{v:.2f}" if v % 1 else f"{v:.0f}" for v in values))
    console.print(heat)

    console.rule("Summary")
    console.print(result.summary)
    if result.recommendations:
        console.print("\n[bold]Recommendations[/bold]")
        for rec in result.recommendations:
            console.print(f" • {rec}")
    if result.narrative:
        console.rule("Narrative")
        console.print(result.narrative)
