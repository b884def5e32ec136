"""The research agent over an in-test filing source, in a thread and in a process pool."""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from riskdrift.agent.research import STEPS, ResearchAgent
from riskdrift.errors import FilingNotFound, Item1ANotFound
from riskdrift.models import AnalysisResult, AnalyzeRequest, FilingDocument
from tests.corpus import REAL10K, needs_corpus

SAMPLES = Path(__file__).resolve().parents[2] / "riskdrift" / "samples" / "filings"


class DirectorySource:
    """A FilingSource over ``<root>/<TICKER>/<YEAR>.html`` (or an explicit file per year)."""

    name = "test-directory"

    def __init__(self, root: Path, overrides: dict[int, str] | None = None) -> None:
        self.root = root
        self.overrides = overrides or {}
        self.fetched: list[tuple[str, int]] = []

    async def fetch(self, ticker: str, year: int) -> FilingDocument:
        self.fetched.append((ticker, year))
        path = self.root / ticker / self.overrides.get(year, f"{year}.html")
        if not path.is_file():
            raise FilingNotFound(f"no 10-K for {ticker} fiscal {year}")
        await asyncio.sleep(0)
        return FilingDocument(
            ticker=ticker,
            year=year,
            content=path.read_bytes(),
            name=str(path),
            source="local",
            accession=f"0000-{year}",
        )

    async def aclose(self) -> None:
        return None


class Recorder:
    def __init__(self) -> None:
        self.steps: list[tuple[str, int]] = []

    async def __call__(self, step: str, progress: int) -> None:
        self.steps.append((step, progress))


class FixedNarrator:
    async def narrate(self, result: AnalysisResult) -> str | None:
        return f"{result.company}: {len(result.risks)} rows"


@pytest.fixture(scope="module")
async def process_pool() -> AsyncIterator[concurrent.futures.ProcessPoolExecutor]:
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=2, mp_context=multiprocessing.get_context("spawn")
    )
    yield pool
    pool.shutdown(wait=True, cancel_futures=True)


async def test_samples_in_thread_pool_with_progress_and_narrative() -> None:
    agent = ResearchAgent(DirectorySource(SAMPLES), narrator=FixedNarrator())
    progress = Recorder()
    result = await agent.arun(AnalyzeRequest(ticker="acme", years=[2024, 2023]), progress)
    assert progress.steps == list(STEPS)
    assert result.ticker == "ACME"
    assert result.years == [2024, 2023]
    assert result.filings[0].accession == "0000-2024"
    assert result.company == "ACME Anvil & Rocket Corporation"
    assert result.narrative == f"ACME Anvil & Rocket Corporation: {len(result.risks)} rows"
    assert result.method["engine"].startswith("riskdrift-analysis/")


@needs_corpus
async def test_corpus_in_process_pool(
    process_pool: concurrent.futures.ProcessPoolExecutor,
) -> None:
    source = DirectorySource(REAL10K)
    agent = ResearchAgent(source, executor=process_pool)
    result = await agent.arun(AnalyzeRequest(ticker="NVDA", years=[2025, 2024]))
    assert sorted(source.fetched) == [("NVDA", 2024), ("NVDA", 2025)]
    assert result.company == "NVIDIA CORP"
    assert result.cik == "0001045810"
    assert [f.period_end.isoformat() for f in result.filings if f.period_end] == [
        "2025-01-26",
        "2024-01-28",
    ]
    assert [f.risk_count for f in result.filings] == [23, 24]
    assert result.narrative is None


@needs_corpus
async def test_amendment_without_item_1a_fails_permanently(
    process_pool: concurrent.futures.ProcessPoolExecutor,
) -> None:
    source = DirectorySource(REAL10K, overrides={2024: "2024.10-KA.html"})
    agent = ResearchAgent(source, executor=process_pool)
    with pytest.raises(Item1ANotFound, match="10-KA"):
        await agent.arun(AnalyzeRequest(ticker="TSLA", years=[2024, 2023]))


async def test_missing_filing_propagates() -> None:
    agent = ResearchAgent(DirectorySource(SAMPLES))
    with pytest.raises(FilingNotFound):
        await agent.arun(AnalyzeRequest(ticker="ACME", years=[2022, 2023]))


class RacingSource:
    """Neither year exists; the previous year's fetch fails first, and the current
    year's fetch fails only after it, so a first-to-fail error would name the wrong year."""

    name = "racing"

    def __init__(self) -> None:
        self.previous_failed = asyncio.Event()
        self.finished: list[int] = []

    async def fetch(self, ticker: str, year: int) -> FilingDocument:
        try:
            if year == 2024:
                await self.previous_failed.wait()
            else:
                self.previous_failed.set()
            raise FilingNotFound(f"no 10-K for {ticker} fiscal {year}")
        finally:
            self.finished.append(year)


async def test_both_filings_missing_names_the_current_year_and_leaves_nothing_running() -> None:
    source = RacingSource()
    agent = ResearchAgent(source)
    with pytest.raises(FilingNotFound, match="fiscal 2024"):
        await agent.arun(AnalyzeRequest(ticker="ZZZZ", years=[2024, 2023]))
    assert source.finished == [2023, 2024]
