"""``riskdrift analyze``: run the research agent in-process and print a readable report."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ProcessPoolExecutor

from rich.console import Console
from rich.table import Table

from riskdrift.agent.narrative import create_narrator
from riskdrift.agent.research import ResearchAgent
from riskdrift.config import Settings
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.sources import create_source


async def run_analysis(
    settings: Settings, ticker: str, current_year: int, previous_year: int, *, as_json: bool
) -> int:
    """Analyse one pair of filings and print the result; returns the exit code."""
    request = AnalyzeRequest(ticker=ticker, years=[current_year, previous_year])
    console = Console(stderr=True)
    source = create_source(settings)
    narrator = create_narrator(settings)
    try:
        with ProcessPoolExecutor(max_workers=1) as executor:

            async def progress(step: str, percent: int) -> None:
                if not as_json:
                    console.print(f"[dim]{percent:3d}%  {step}[/dim]")

            agent = ResearchAgent(
                source,
                executor=executor,
                lexicon_path=settings.lm_dictionary_path,
                narrator=narrator,
            )
            result = await agent.arun(request, progress)
    finally:
        await source.aclose()
        aclose = getattr(narrator, "aclose", None)
        if aclose is not None:
            await aclose()
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_report(result, Console())
    return 0


def print_report(result: AnalysisResult, console: Console) -> None:
    """A terminal rendering of a result: headline figures, changes, heatmap, summary."""
    current, previous = result.years
    console.rule(
        f"[bold]{result.company}[/bold] ({result.ticker}) — Item 1A, fiscal {current} vs {previous}"
    )
    filings = Table("year", "form", "source", "Item 1A chars", "risks", title="Filings")
    for f in result.filings:
        filings.add_row(str(f.year), f.form, f.source, f"{f.item1a_chars:,}", str(f.risk_count))
    console.print(filings)

    sim = result.similarity
    console.print(
        f"Similarity of the whole section: cosine {sim.cosine:.3f}, "
        f"Jaccard {sim.jaccard:.3f}, min-edit {sim.min_edit:.3f}, simple {sim.simple:.3f}"
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
        changes = Table("status", "category", "risk", "drift", title="Largest changes")
        for r in top:
            title = r.title_current or r.title_previous or ""
            changes.add_row(r.status, r.category, title[:90], f"{r.drift_score:.2f}")
        console.print(changes)

    heat = Table("category", *result.heatmap.columns, title="Heatmap")
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
