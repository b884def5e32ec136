"""The research agent: fetch two filings, run the analysis off the event loop, report progress.

``ResearchAgent.arun`` is what the worker awaits. It fetches both filings
concurrently from its :class:`~riskdrift.sources.base.FilingSource`, then runs
the whole CPU-bound analysis (:func:`riskdrift.analysis.pipeline.analyse_documents`)
in one call off the loop — the worker's supervised
:class:`~riskdrift.worker.analysis_pool.AnalysisPool` (any :class:`AnalysisRunner`),
or ``loop.run_in_executor`` on an executor or the default thread pool — so progress
events, heartbeats and timeouts of other jobs keep flowing. One call per job rather
than one per step: the parsed filings stay in the pool process and the job crosses
the process boundary twice (the two documents in, the result out), which keeps the
pool busy with analysis rather than with hand-offs (docs/BENCHMARKS.md, real-analysis
throughput).

The current year's filing is the one the request names when it names one
(``AnalyzeRequest.filing``: the filing watch names the 10-K/A it saw, so the amendment
is analysed in place of the original; :class:`~riskdrift.sources.base.ExactFilingSource`),
else the year's original 10-K; the previous year's is always the year's original.

Progress steps, in order: ``fetching_filings`` (15), ``extracting_risks`` (45),
``scoring_sentiment`` (60), ``matching_risks`` (80), ``building_heatmap`` (90),
``writing_summary`` (100). The four analysis steps are reported when the analysis
returns (it takes a fraction of a second; fetching the filings is what takes time).

Result cache: given a :class:`~riskdrift.store.result_cache.ResultCache`, the agent
looks the pair up once both filings are fetched (the filings' accession numbers or
content hashes, the years and the engine version make the key) and, on a hit, returns
the stored result marked ``cached`` straight away (steps ``fetching_filings`` then
``writing_summary``); a computed result is stored for the next job. A cache that
fails (Postgres away) is logged and skipped: the analysis never depends on it.

Bounded work (#23): ``limits`` (a :class:`~riskdrift.analysis.document.DocumentLimits`)
is handed to the analysis, and ``analysis_time_limit`` bounds the call: an
:class:`AnalysisRunner` kills the overrunning process; with an executor the work is
abandoned in its thread or process. Either way the job fails with
:class:`~riskdrift.errors.AnalysisTimeLimitExceeded` naming the limit and the filings.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
import structlog

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.agent.narrative import Narrator
from riskdrift.agent.progress import ProgressReporter, no_progress
from riskdrift.analysis.document import UNLIMITED, DocumentLimits
from riskdrift.analysis.pipeline import analyse_documents
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.config import Settings
from riskdrift.errors import (
    AnalysisProcessDied,
    AnalysisTimeLimitExceeded,
    InvalidRequest,
    Item1AIncorporatedByReference,
)
from riskdrift.models import AnalysisResult, AnalyzeRequest, FilingDocument
from riskdrift.sources.base import ExactFilingSource, ExhibitSource, FilingSource
from riskdrift.store.result_cache import CacheKey, ResultCache

__all__ = ["STEPS", "AnalysisRunner", "ResearchAgent", "document_limits"]

#: (step name, overall progress once it is done)
STEPS: tuple[tuple[str, int], ...] = (
    ("fetching_filings", 15),
    ("extracting_risks", 45),
    ("scoring_sentiment", 60),
    ("matching_risks", 80),
    ("building_heatmap", 90),
    ("writing_summary", 100),
)
_PROGRESS = dict(STEPS)

log = structlog.get_logger(__name__)

# Postgres away or refusing: the cache is skipped, the analysis goes on.
_CACHE_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)

T = TypeVar("T")
U = TypeVar("U")


async def _both(first: Awaitable[T], second: Awaitable[U]) -> tuple[T, U]:
    """Await both concurrently; if either fails, raise once both have finished (nothing
    left running), the first one's error first, so the current year's missing filing is
    the one named whatever finished first."""
    a, b = await asyncio.gather(first, second, return_exceptions=True)
    if isinstance(a, BaseException):
        raise a
    if isinstance(b, BaseException):
        raise b
    return a, b


class AnalysisRunner(Protocol):
    """Runs a call in a process it can kill (the worker's analysis pool)."""

    async def run(
        self, fn: Callable[..., T], *args: Any, time_limit: float | None, subject: str
    ) -> T: ...


def document_limits(settings: Settings) -> DocumentLimits:
    """The per-filing budget the settings ask for (``analysis_max_*``)."""
    return DocumentLimits(
        max_text_chars=settings.analysis_max_text_chars,
        max_elements=settings.analysis_max_elements,
        max_depth=settings.analysis_max_depth,
    )


def _subject(documents: list[FilingDocument]) -> str:
    """The filings of a call, for errors: their names (a path or a URL), current first."""
    return " and ".join(d.name for d in documents)


class ResearchAgent:
    """Analyses how a company's Item 1A risk factors drifted between two fiscal years."""

    def __init__(
        self,
        source: FilingSource,
        *,
        executor: concurrent.futures.Executor | AnalysisRunner | None = None,
        lexicon_path: Path | None = None,
        narrator: Narrator | None = None,
        cache: ResultCache | None = None,
        analysis_time_limit: float | None = None,
        limits: DocumentLimits = UNLIMITED,
    ) -> None:
        self.source = source
        self.executor = executor
        self.analysis_time_limit = analysis_time_limit
        self.limits = limits
        self.narrator = narrator
        self.cache = cache
        # Read once per process at start-up: the lexicon file is small and fixed.
        self.lexicon: Lexicon = load_lexicon(lexicon_path)

    async def _off_loop(self, documents: list[FilingDocument]) -> AnalysisResult:
        args = (documents[0], documents[1], self.lexicon, self.limits)
        limit = self.analysis_time_limit
        if self.executor is None or isinstance(self.executor, concurrent.futures.Executor):
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(limit):
                    return await loop.run_in_executor(self.executor, analyse_documents, *args)
            except TimeoutError:
                raise AnalysisTimeLimitExceeded.of(_subject(documents), limit or 0.0) from None
            except concurrent.futures.BrokenExecutor as exc:  # its process died: transient
                raise AnalysisProcessDied(
                    f"the analysis process died ({type(exc).__name__}) while analysing "
                    f"{_subject(documents)}"
                ) from exc
        return await self.executor.run(
            analyse_documents, *args, time_limit=limit, subject=_subject(documents)
        )

    async def _analyse(self, current: FilingDocument, previous: FilingDocument) -> AnalysisResult:
        """The whole analysis of the pair in one call to the executor.

        One call, not one per step: a job's CPU work crosses to the process pool once
        and its parsed filings never travel back and forth (measured in
        docs/BENCHMARKS.md). When a filing's Item 1A is incorporated by reference, the
        exhibit that holds the risks (EX-13) is fetched, if the source can, and the
        pair is analysed again with it in the filing's place.
        """
        documents = [current, previous]
        replaced: set[int] = set()
        while True:
            try:
                return await self._off_loop(documents)
            except Item1AIncorporatedByReference as err:
                if not isinstance(self.source, ExhibitSource):
                    raise
                at = next((i for i, d in enumerate(documents) if d.name == err.filing), None)
                if at is None or at in replaced:
                    raise  # an exhibit that points elsewhere again: give up with its reason
                exhibit = await self.source.exhibit(documents[at], err.exhibit)
                if exhibit is None:
                    raise
                documents[at] = exhibit
                replaced.add(at)

    async def arun(
        self, request: AnalyzeRequest, progress: ProgressReporter = no_progress
    ) -> AnalysisResult:
        """Run the analysis for ``request`` and return the result.

        Raises ``FilingNotFound`` / ``FilingParseError`` / ``Item1ANotFound``
        (permanent) and ``TransientError`` from the source (retryable).
        """
        current_doc, previous_doc = await _both(
            self._current(request),
            self.source.fetch(request.ticker, request.previous_year),
        )
        await progress("fetching_filings", _PROGRESS["fetching_filings"])

        key = (
            self.cache.key(current_doc, previous_doc, lexicon=self.lexicon.fingerprint)
            if self.cache is not None
            else None
        )
        if key is not None:
            hit = await self._cached(key)
            if hit is not None:
                await progress("writing_summary", _PROGRESS["writing_summary"])
                return hit

        result = await self._analyse(current_doc, previous_doc)
        for step, pct in STEPS[1:-1]:  # the analysis ran them all, in this order
            await progress(step, pct)
        if self.narrator is not None:
            result.narrative = await self.narrator.narrate(result)
        if key is not None:
            await self._store(key, result)
        await progress("writing_summary", _PROGRESS["writing_summary"])
        return result

    async def _current(self, request: AnalyzeRequest) -> FilingDocument:
        """The current year's filing: the one the request names (a 10-K/A the filing watch
        saw), else the year's lookup, which takes the original 10-K."""
        if request.filing is None:
            return await self.source.fetch(request.ticker, request.current_year)
        if not isinstance(self.source, ExactFilingSource):
            raise InvalidRequest(
                f"the {self.source.name} filing source cannot fetch a named filing "
                f"({request.filing})"
            )
        return await self.source.fetch_filing(request.ticker, request.current_year, request.filing)

    async def _cached(self, key: CacheKey) -> AnalysisResult | None:
        assert self.cache is not None
        try:
            hit = await self.cache.get(key)
        except _CACHE_ERRORS as exc:  # an optimisation: never fail a job over it
            log.warning("result_cache_unavailable", op="get", error=type(exc).__name__)
            return None
        if hit is None:
            return None
        log.info("result_cache_hit", engine=key.engine_version)
        return hit.model_copy(update={"cached": True})

    async def _store(self, key: CacheKey, result: AnalysisResult) -> None:
        assert self.cache is not None
        try:
            await self.cache.put(key, result)
        except _CACHE_ERRORS as exc:
            log.warning("result_cache_unavailable", op="put", error=type(exc).__name__)
