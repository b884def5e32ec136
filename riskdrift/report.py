"""``riskdrift analyze`` and ``riskdrift report``: a result as a terminal report, an HTML
file (:mod:`riskdrift.report_html`) or a CSV of its risks."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from riskdrift.agent.narrative import create_narrator
from riskdrift.agent.research import ResearchAgent, document_limits
from riskdrift.analysis.summary import quote_about
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
    "sentences_unchanged", "materiality", "material_kind", "material_changes",
)  # fmt: skip


def _materiality_by_risk(result: AnalysisResult) -> dict[int, tuple[float, str, int]]:
    """Per risk index: the highest score among its listed material changes, that change's
    kind, and how many of the result's material changes are in the risk."""
    by_risk: dict[int, tuple[float, str, int]] = {}
    for m in result.material_changes:  # most material first
        score, kind, n = by_risk.get(m.risk, (m.score, m.kind, 0))
        by_risk[m.risk] = (score, kind, n + 1)
    return by_risk


def risks_csv(result: AnalysisResult) -> str:
    """The risks table, one row per risk in the result's order (``index`` as in ``risks``).

    ``materiality`` is the highest score of the risk's changes listed in the result's
    ``material_changes`` (0 when none is: every change scored below 0.30 or ranked
    beyond the list), ``material_kind`` that change's kind, ``material_changes`` how many
    of the listed changes are the risk's.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    material = _materiality_by_risk(result)
    for n, r in enumerate(result.risks):
        c = r.changes
        score, kind, count = material.get(n, (0.0, "", 0))
        writer.writerow([
            n, r.status, r.category, r.section or "", r.title_current or "",
            r.title_previous or "", r.text_similarity, r.drift_score,
            "" if r.sentiment_previous is None else r.sentiment_previous,
            "" if r.sentiment_current is None else r.sentiment_current,
            "" if r.sentiment_delta is None else r.sentiment_delta,
            *((len(c.added), len(c.removed), len(c.edited), c.unchanged) if c else ("",) * 4),
            score, kind, count,
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
