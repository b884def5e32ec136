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


# --- a named filing of the current year (AnalyzeRequest.filing) ----------------------------


class NamingSource(DirectorySource):
    """A DirectorySource that can also fetch a named file of a company (ExactFilingSource)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.named: list[tuple[str, int, str]] = []

    async def fetch_filing(self, ticker: str, year: int, key: str) -> FilingDocument:
        self.named.append((ticker, year, key))
        path = self.root / ticker / key
        return FilingDocument(
            ticker=ticker,
            year=year,
            content=path.read_bytes(),
            name=str(path),
            source="local",
            form="10-K/A",
            document=key,
        )


async def test_the_named_filing_is_analysed_for_the_current_year(tmp_path: Path) -> None:
    folder = tmp_path / "ACME"
    folder.mkdir()
    for year in (2023, 2024):
        (folder / f"{year}.html").write_bytes((SAMPLES / "ACME" / f"{year}.html").read_bytes())
    # The "amendment" restates the 2023 text as 2024's: the pair is then (nearly) identical.
    (folder / "2024.10-KA.html").write_bytes((SAMPLES / "ACME" / "2023.html").read_bytes())
    source = NamingSource(tmp_path)
    agent = ResearchAgent(source)
    original = await agent.arun(AnalyzeRequest(ticker="ACME", years=[2024, 2023]))
    amended = await agent.arun(
        AnalyzeRequest(ticker="ACME", years=[2024, 2023], filing="2024.10-KA.html")
    )
    assert source.named == [("ACME", 2024, "2024.10-KA.html")]
    assert source.fetched == [("ACME", 2024), ("ACME", 2023), ("ACME", 2023)]
    assert (amended.filings[0].form, amended.filings[0].document) == ("10-K/A", "2024.10-KA.html")
    assert amended.similarity.jaccard == pytest.approx(1.0)
    assert original.similarity.jaccard < 0.99


async def test_a_source_that_cannot_name_filings_refuses_a_named_request() -> None:
    from riskdrift.errors import InvalidRequest

    agent = ResearchAgent(DirectorySource(SAMPLES))
    request = AnalyzeRequest(ticker="ACME", years=[2024, 2023], filing="0001104659-25-042659")
    with pytest.raises(InvalidRequest, match="cannot fetch a named filing"):
        await agent.arun(request)


@pytest.mark.parametrize(
    ("filing", "error"),
    [
        ("2023.10-KA.html", "of fiscal 2023, not the current year 2024"),
        ("../2024.html", "EDGAR accession number"),
        ("1104659-25-042659", "EDGAR accession number"),
    ],
)
def test_a_named_filing_must_be_an_accession_or_a_file_of_the_current_year(
    filing: str, error: str
) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=error):
        AnalyzeRequest(ticker="ACME", years=[2024, 2023], filing=filing)
    # Unset, it is left out of the request's JSON (whose hash is the idempotency check).
    assert "filing" not in AnalyzeRequest(ticker="ACME", years=[2024, 2023]).model_dump_json()
