"""The research agent: fetch two filings, run the analysis off the event loop, report progress.

``ResearchAgent.arun_document`` is what the worker awaits (``arun``, for the CLI and
tests, is the same with the result as a model). It fetches both filings
concurrently from its :class:`~riskdrift.sources.base.FilingSource`, then runs
the whole CPU-bound analysis (:func:`riskdrift.agent.offload.analyse_to_document`)
in one call off the loop — the worker's supervised
:class:`~riskdrift.worker.analysis_pool.AnalysisPool` (any :class:`AnalysisRunner`),
or ``loop.run_in_executor`` on an executor or the default thread pool — so progress
events, heartbeats and timeouts of other jobs keep flowing. One call per job rather
than one per step: the parsed filings stay in the pool process and the job crosses
the process boundary twice (the two documents in, the result out), which keeps the
pool busy with analysis rather than with hand-offs (docs/BENCHMARKS.md, real-analysis
throughput). The result comes back serialised once, as bytes with a few facts
(:class:`~riskdrift.store.result_document.ResultDocument`): the worker neither
unpickles a model nor validates or re-dumps it.

The current year's filing is the one the request names when it names one
(``AnalyzeRequest.filing``: the filing watch names the 10-K/A it saw, so the amendment
is analysed in place of the original; :class:`~riskdrift.sources.base.ExactFilingSource`),
else the year's original 10-K; the previous year's is always the year's original.

Progress steps, in order: ``fetching_filings`` (15), ``extracting_risks`` (45),
``scoring_sentiment`` (60), ``matching_risks`` (80), ``building_heatmap`` (90),
``writing_summary`` (100). The four analysis steps are reported from inside the
process that runs the analysis as each stage ends (the analysis pool forwards them over
its socket; a thread executor through the loop); only a ``ProcessPoolExecutor``, which
cannot, has them reported when the analysis returns.

Result cache: given a :class:`~riskdrift.store.result_cache.ResultCache`, the agent
looks the pair up once both filings are fetched (the filings' accession numbers or
content hashes, the years and the engine version make the key) and, on a hit, returns
a reference to the stored result marked ``cached`` straight away (steps
``fetching_filings`` then ``writing_summary``; the result's bytes are not read); a
computed result is stored there for the next job, and the job's own row refers to that
entry rather than holding a second copy. A cache that fails (Postgres away) is logged
and skipped: the analysis never depends on it (the job then stores its bytes itself).

Bounded work (#23): ``limits`` (a :class:`~riskdrift.analysis.document.DocumentLimits`)
is handed to the analysis, and ``analysis_time_limit`` bounds the call: an
:class:`AnalysisRunner` kills the overrunning process; with an executor the work is
abandoned in its thread or process. Either way the job fails with
:class:`~riskdrift.errors.AnalysisTimeLimitExceeded` naming the limit and the filings.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
import structlog

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.agent.narrative import Narrator
from riskdrift.agent.offload import analyse_to_document
from riskdrift.agent.progress import ProgressReporter, no_progress
from riskdrift.analysis.document import UNLIMITED, DocumentLimits
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
from riskdrift.store.result_document import ResultDocument

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
        self,
        fn: Callable[..., T],
        *args: Any,
        time_limit: float | None,
        subject: str,
        on_step: Callable[[str], Awaitable[None]] | None = None,
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

    async def _off_loop(
        self, documents: list[FilingDocument], on_step: Callable[[str], Awaitable[None]]
    ) -> ResultDocument:
        args = (documents[0], documents[1], self.lexicon, self.limits)
        limit = self.analysis_time_limit
        if self.executor is None or isinstance(self.executor, concurrent.futures.Executor):
            try:
                async with asyncio.timeout(limit):
                    return await self._in_executor(documents, on_step)
            except TimeoutError:
                raise AnalysisTimeLimitExceeded.of(_subject(documents), limit or 0.0) from None
            except concurrent.futures.BrokenExecutor as exc:  # its process died: transient
                raise AnalysisProcessDied(
                    f"the analysis process died ({type(exc).__name__}) while analysing "
                    f"{_subject(documents)}"
                ) from exc
        return await self.executor.run(
            analyse_to_document,
            *args,
            time_limit=limit,
            subject=_subject(documents),
            on_step=on_step,
        )

    async def _in_executor(
        self, documents: list[FilingDocument], on_step: Callable[[str], Awaitable[None]]
    ) -> ResultDocument:
        """The analysis on ``self.executor``: a thread reports its steps through the loop
        as they happen; a process executor cannot, so its steps come when it returns."""
        loop = asyncio.get_running_loop()
        executor = self.executor
        assert executor is None or isinstance(executor, concurrent.futures.Executor)
        current, previous = documents
        if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
            return await loop.run_in_executor(
                executor, analyse_to_document, current, previous, self.lexicon, self.limits
            )
        steps: asyncio.Queue[str | None] = asyncio.Queue()

        def report(step: str) -> None:  # in the executor's thread
            loop.call_soon_threadsafe(steps.put_nowait, step)

        async def forward() -> None:
            while (step := await steps.get()) is not None:
                await on_step(step)

        forwarding = asyncio.create_task(forward())
        call = functools.partial(
            analyse_to_document, current, previous, self.lexicon, self.limits, report
        )
        try:
            document = await loop.run_in_executor(executor, call)
        except BaseException:
            forwarding.cancel()
            raise
        # The reports were queued before the call's result: they are all in the queue.
        steps.put_nowait(None)
        await forwarding
        return document

    async def _analyse(
        self,
        current: FilingDocument,
        previous: FilingDocument,
        on_step: Callable[[str], Awaitable[None]],
    ) -> ResultDocument:
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
                return await self._off_loop(documents, on_step)
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
        """Run the analysis for ``request`` and return the result as a model.

        Raises ``FilingNotFound`` / ``FilingParseError`` / ``Item1ANotFound``
        (permanent) and ``TransientError`` from the source (retryable).
        """
        document = await self.arun_document(request, progress)
        if document.json is None:  # held by the result cache only
            assert self.cache is not None
            assert document.cache_key is not None
            document = replace(document, json=await self.cache.result_json(document.cache_key))
        return document.model()

    async def arun_document(
        self, request: AnalyzeRequest, progress: ProgressReporter = no_progress
    ) -> ResultDocument:
        """Run the analysis for ``request``: the result serialised once, as the analysis
        process made it, or a reference to the result cache entry that holds it."""
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

        reported: list[str] = []

        async def on_step(step: str) -> None:
            reported.append(step)
            await progress(step, _PROGRESS[step])

        document = await self._analyse(current_doc, previous_doc, on_step)
        for step, pct in STEPS[1:-1]:  # steps an executor could not report as they ended
            if step not in reported:
                await progress(step, pct)
        if self.narrator is not None:
            # The one re-serialisation there is, and only with a narrator configured.
            result = document.model()
            result.narrative = await self.narrator.narrate(result)
            document = ResultDocument.of(result)
        if key is not None:
            document = await self._store(key, document)
        await progress("writing_summary", _PROGRESS["writing_summary"])
        return document

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

    async def _cached(self, key: CacheKey) -> ResultDocument | None:
        assert self.cache is not None
        try:
            hit = await self.cache.find(key)
        except _CACHE_ERRORS as exc:  # an optimisation: never fail a job over it
            log.warning("result_cache_unavailable", op="get", error=type(exc).__name__)
            return None
        if hit is None:
            return None
        log.info("result_cache_hit", engine=key.engine_version)
        return hit

    async def _store(self, key: CacheKey, document: ResultDocument) -> ResultDocument:
        """``document`` stored in the cache, as a reference to its entry; as it was if the
        cache is unavailable (the job then stores the bytes itself)."""
        assert self.cache is not None
        try:
            return await self.cache.store(key, document)
        except _CACHE_ERRORS as exc:
            log.warning("result_cache_unavailable", op="put", error=type(exc).__name__)
            return document
