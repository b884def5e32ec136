"""The research agent: fetch two filings, run the analysis off the event loop, report progress.

``ResearchAgent.arun`` is what the worker awaits. It fetches both filings
concurrently from its :class:`~riskdrift.sources.base.FilingSource`, then runs
each CPU-bound step of :mod:`riskdrift.analysis.pipeline` through
``loop.run_in_executor`` — a process pool in the worker, the default thread
pool otherwise — so progress events, heartbeats and timeouts of other jobs keep
flowing. The step functions are module-level and exchange small picklable
dataclasses, so they cross a process boundary cheaply.

Progress steps, in order: ``fetching_filings`` (15), ``extracting_risks`` (45),
``scoring_sentiment`` (60), ``matching_risks`` (80), ``building_heatmap`` (90),
``writing_summary`` (100).

Result cache: given a :class:`~riskdrift.store.result_cache.ResultCache`, the agent
looks the pair up once both filings are fetched (the filings' accession numbers or
content hashes, the years and the engine version make the key) and, on a hit, returns
the stored result marked ``cached`` straight away (steps ``fetching_filings`` then
``writing_summary``); a computed result is stored for the next job. A cache that
fails (Postgres away) is logged and skipped: the analysis never depends on it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
import structlog

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.agent.narrative import Narrator
from riskdrift.agent.progress import ProgressReporter, no_progress
from riskdrift.analysis.heatmap import build_heatmap
from riskdrift.analysis.pipeline import (
    ParsedFiling,
    build_result,
    compare_filings,
    identify,
    parse_filing,
    score_risks,
)
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.analysis.summary import write_summary
from riskdrift.errors import Item1AIncorporatedByReference
from riskdrift.models import AnalysisResult, AnalyzeRequest, FilingDocument
from riskdrift.sources.base import ExhibitSource, FilingSource
from riskdrift.store.result_cache import CacheKey, ResultCache

__all__ = ["STEPS", "ResearchAgent"]

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


class ResearchAgent:
    """Analyses how a company's Item 1A risk factors drifted between two fiscal years."""

    def __init__(
        self,
        source: FilingSource,
        *,
        executor: concurrent.futures.Executor | None = None,
        lexicon_path: Path | None = None,
        narrator: Narrator | None = None,
        cache: ResultCache | None = None,
    ) -> None:
        self.source = source
        self.executor = executor
        self.narrator = narrator
        self.cache = cache
        # Read once per process at start-up: the lexicon file is small and fixed.
        self.lexicon: Lexicon = load_lexicon(lexicon_path)

    async def _off_loop(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn, *args)

    async def _parse(self, document: FilingDocument) -> tuple[FilingDocument, ParsedFiling]:
        """Parse a filing; when its Item 1A is incorporated by reference, parse the exhibit
        that holds the risks (EX-13) instead, if the source can fetch it. Returns the
        document that was analysed with its parse."""
        try:
            return document, await self._off_loop(parse_filing, document.content, document.name)
        except Item1AIncorporatedByReference as err:
            if not isinstance(self.source, ExhibitSource):
                raise
            exhibit = await self.source.exhibit(document, err.exhibit)
            if exhibit is None:
                raise
        return exhibit, await self._off_loop(parse_filing, exhibit.content, exhibit.name)

    async def arun(
        self, request: AnalyzeRequest, progress: ProgressReporter = no_progress
    ) -> AnalysisResult:
        """Run the analysis for ``request`` and return the result.

        Raises ``FilingNotFound`` / ``FilingParseError`` / ``Item1ANotFound``
        (permanent) and ``TransientError`` from the source (retryable).
        """
        current_doc, previous_doc = await _both(
            self.source.fetch(request.ticker, request.current_year),
            self.source.fetch(request.ticker, request.previous_year),
        )
        await progress("fetching_filings", _PROGRESS["fetching_filings"])

        key = self.cache.key(current_doc, previous_doc) if self.cache is not None else None
        if key is not None:
            hit = await self._cached(key)
            if hit is not None:
                await progress("writing_summary", _PROGRESS["writing_summary"])
                return hit

        (current_doc, current), (previous_doc, previous) = await _both(
            self._parse(current_doc), self._parse(previous_doc)
        )
        await progress("extracting_risks", _PROGRESS["extracting_risks"])

        current_tones, previous_tones = await _both(
            self._off_loop(score_risks, current.risks, self.lexicon),
            self._off_loop(score_risks, previous.risks, self.lexicon),
        )
        await progress("scoring_sentiment", _PROGRESS["scoring_sentiment"])

        report = await self._off_loop(
            compare_filings, current, previous, current_tones, previous_tones
        )
        await progress("matching_risks", _PROGRESS["matching_risks"])

        heatmap = await self._off_loop(build_heatmap, report.changes)
        await progress("building_heatmap", _PROGRESS["building_heatmap"])

        identity = identify(current_doc, previous_doc, current, previous)
        summary, recommendations = await self._off_loop(
            write_summary,
            identity.company,
            identity.filings,
            report.similarity,
            report.changes,
            heatmap,
            report.themes,
        )
        result = build_result(
            current_doc,
            previous_doc,
            identity,
            report,
            heatmap,
            summary,
            recommendations,
            self.lexicon,
        )
        # Kept off the wire: the worker stores the risk texts for embeddings and search.
        result.risk_factors.update(
            {request.current_year: current.risks, request.previous_year: previous.risks}
        )
        if self.narrator is not None:
            result.narrative = await self.narrator.narrate(result)
        if key is not None:
            await self._store(key, result)
        await progress("writing_summary", _PROGRESS["writing_summary"])
        return result

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
