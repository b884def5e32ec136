"""``riskdrift analyze`` and ``riskdrift report``: a result as a terminal report, an HTML
file (:mod:`riskdrift.report_html`) or a CSV of its risks."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from riskdrift.agent.narrative import create_narrator
from riskdrift.agent.research import ResearchAgent, document_limits
from riskdrift.config import Settings
from riskdrift.errors import RiskdriftError
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.report_html import render_report
from riskdrift.sources import create_source
from riskdrift.worker.analysis_pool import AnalysisPool


@dataclass(frozen=True, slots=True)
class Outputs:
    """Files to write a result to, besides the terminal."""

    html: Path | None = None
    csv: Path | None = None

    def check(self) -> None:
        """Refuse, before any work, files that cannot be written."""
        for path in (self.html, self.csv):
            if path is not None and not path.resolve().parent.is_dir():
                raise RiskdriftError(f"cannot write {path}: no directory {path.parent}")
            if path is not None and path.is_dir():
                raise RiskdriftError(f"cannot write {path}: it is a directory")

    def write(self, result: AnalysisResult, console: Console) -> None:
        for path, render, what in (
            (self.html, render_report, "report"),
            (self.csv, risks_csv, "risks table"),
        ):
            if path is None:
                continue
            try:
                path.write_text(render(result), encoding="utf-8", newline="")
            except OSError as exc:
                raise RiskdriftError(f"cannot write {path}: {exc.strerror or exc}") from exc
            console.print(f"{what} written to {path}")


CSV_COLUMNS = (
    "index", "status", "category", "section", "title_current", "title_previous",
    "text_similarity", "drift_score", "sentiment_previous", "sentiment_current",
    "sentiment_delta", "sentences_added", "sentences_removed", "sentences_edited",
    "sentences_unchanged",
)  # fmt: skip


def risks_csv(result: AnalysisResult) -> str:
    """The risks table, one row per risk in the result's order (``index`` as in ``risks``)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for n, r in enumerate(result.risks):
        c = r.changes
        writer.writerow([
            n, r.status, r.category, r.section or "", r.title_current or "",
            r.title_previous or "", r.text_similarity, r.drift_score,
            "" if r.sentiment_previous is None else r.sentiment_previous,
            "" if r.sentiment_current is None else r.sentiment_current,
            "" if r.sentiment_delta is None else r.sentiment_delta,
            *((len(c.added), len(c.removed), len(c.edited), c.unchanged) if c else ("",) * 4),
        ])  # fmt: skip
    return out.getvalue()


async def run_analysis(
    settings: Settings,
    ticker: str,
    current_year: int,
    previous_year: int,
    *,
    as_json: bool,
    outputs: Outputs | None = None,
) -> int:
    """Analyse one pair of filings and print the result; returns the exit code."""
    request = AnalyzeRequest(ticker=ticker, years=[current_year, previous_year])
    if outputs is not None:
        outputs.check()
    console = Console(stderr=True)
    source = create_source(settings)
    narrator = create_narrator(settings)
    # The worker's supervised process: the same memory ceiling and time limit here.
    pool = AnalysisPool(1, memory_mb=settings.analysis_memory_mb)
    try:
        await pool.start()

        async def progress(step: str, percent: int) -> None:
            if not as_json:
                console.print(f"[dim]{percent:3d}%  {step}[/dim]")

        agent = ResearchAgent(
            source,
            executor=pool,
            analysis_time_limit=settings.analysis_time_limit,
            lexicon_path=settings.lm_dictionary_path,
            narrator=narrator,
            limits=document_limits(settings),  # a hostile filing fails fast here too
        )
        result = await agent.arun(request, progress)
    finally:
        await pool.aclose()
        await source.aclose()
        aclose = getattr(narrator, "aclose", None)
        if aclose is not None:
            await aclose()
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        print_report(result, Console())
    if outputs is not None:
        outputs.write(result, console)
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
    for f in result.filings:
        for warning in f.extraction.warnings if f.extraction else []:
            console.print(f"[bold yellow]warning[/bold yellow] fiscal {f.year}: {warning}")

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


async def fetch_result(api: str, job_id: str, *, api_key: str | None) -> AnalysisResult:
    """A finished job's result from a running API (one-line errors for 404/409/outages)."""
    from riskdrift.api_client import connect, parse

    async with connect(api, api_key=api_key, request_timeout=60) as http:
        response = await http.get(f"/jobs/{job_id}/result")
    return parse(response, AnalysisResult, f"result of job {job_id}")


async def report_job(
    api: str, job_id: str, *, api_key: str | None, outputs: Outputs, console: Console
) -> int:
    """``riskdrift report JOB_ID -o FILE [--csv FILE]``."""
    outputs.check()
    outputs.write(await fetch_result(api, job_id, api_key=api_key), console)
    return 0
