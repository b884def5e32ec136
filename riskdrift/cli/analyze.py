"""``riskdrift analyze`` and ``riskdrift report``: run or fetch a result, then print it and
write it to files (an HTML report by :mod:`riskdrift.render.html`, a CSV of its risks by
:mod:`riskdrift.render.risks_csv`). The renderers are pure; the files are written here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from riskdrift.agent.narrative import create_narrator
from riskdrift.agent.research import ResearchAgent, document_limits
from riskdrift.client.api import connect, parse
from riskdrift.config import Settings
from riskdrift.errors import RiskdriftError
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.render.html import render_report
from riskdrift.render.risks_csv import risks_csv
from riskdrift.render.terminal import print_report
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


async def fetch_result(api: str, job_id: str, *, api_key: str | None) -> AnalysisResult:
    """A finished job's result from a running API (one-line errors for 404/409/outages)."""
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
