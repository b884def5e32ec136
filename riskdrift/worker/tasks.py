"""arq task functions: thin glue between the queue, the agent, Postgres and the event stream.

``analyze_risk_drift`` starts the job, awaits the research agent natively on the
worker's event loop, publishes progress, then completes or fails the job. Every
state change (start, complete, fail, retry, release; with its event, batch report
and webhook) is :mod:`riskdrift.jobs`'s, so a re-run after a crash or a duplicate
delivery by arq cannot move a finished job again.

Postgres or Redis going away mid-job never fails the job (docs/RELIABILITY.md):

- a progress write (the row or the event) that fails is logged and skipped: the
  analysis goes on, and the next write tries again;
- anything else of the job's bookkeeping that fails for a lost connection (starting
  the attempt, storing the result, failing it, the retry branch's own writes) ends
  the run with arq's ``Retry``, which needs no write to Postgres: arq runs the job
  again after ``dependency_retry_delay`` (jittered), and that run does not cost the
  job one of its tries (arq's counter is given back when Redis answers; a row whose
  attempt was counted is released when Postgres does). Such a loop is bounded by
  the reconciler's "abandoned" limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

import riskdrift.jobs as lifecycle
from riskdrift.errors import PermanentError
from riskdrift.events.publish import make_event
from riskdrift.models import TERMINAL_EVENTS, AnalyzeRequest, JobEvent, JobStatus
from riskdrift.queue import Retry, give_back_try
from riskdrift.queue.retrying import (
    CONNECTION_LOST,
    is_transient,
    jittered_delay,
    retry_delay,
    retry_later,
)
from riskdrift.store import jobs
from riskdrift.store.jobs import JobRecord
from riskdrift.worker.context import WorkerContext
from riskdrift.worker.embeddings_task import record_analysis_filings
from riskdrift.worker.heartbeat import heartbeat
from riskdrift.worker.webhook_task import resume_webhook, retried_when_transient

log = structlog.get_logger(__name__)


def _deps(ctx: WorkerContext) -> dict[str, Any]:
    """The worker's clients, as :mod:`riskdrift.jobs` takes them."""
    return {
        "pool": ctx["pool"],
        "redis": ctx["redis"],
        "settings": ctx["settings"],
        "events": ctx["events"],
    }


async def _publish(ctx: WorkerContext, event: JobEvent) -> None:
    settings = ctx["settings"]
    # job_queued set the stream's expiry and XADD keeps it: only the terminal event renews it.
    ttl = settings.result_ttl if event.event in TERMINAL_EVENTS else None
    # Concurrent jobs' events share round trips (group commit); returns once in Redis.
    await ctx["events"].publish(event, maxlen=settings.stream_maxlen, ttl=ttl)


def _ended(ctx: WorkerContext) -> Callable[[JobRecord], Awaitable[None]]:
    """What the worker notes when a job's end is recorded: the row and the instant (the
    metrics wrapper's run time ends there, not after the webhook is queued)."""

    async def note(finished: JobRecord) -> None:
        ctx["job_record"] = finished
        ctx["analysis_ended"] = time.monotonic()

    return note


async def _fail(ctx: WorkerContext, job_id: uuid.UUID, reason: str) -> None:
    await lifecycle.fail(
        job_id,
        reason,
        **_deps(ctx),
        on_end=_ended(ctx),
        webhook_guard=retried_when_transient,
    )


async def _complete_despite_cancellation(work: Coroutine[Any, Any, None]) -> None:
    """Run bookkeeping to the end even if the task is cancelled again meanwhile
    (a shutdown cancels a job, then may cancel it again while it cleans up)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    task.result()


# Every step goes to the job's event stream; the row (GET /jobs/{id}, the reconciler's
# updated_at) is refreshed at most this often, so fast steps cost no Postgres round trips.
PROGRESS_ROW_INTERVAL = 1.0  # seconds


def _progress_reporter(ctx: WorkerContext, job_id: uuid.UUID) -> Any:
    loop = asyncio.get_running_loop()
    row_written = loop.time()  # start_attempt just wrote the row

    async def report(step: str, progress: int) -> None:
        nonlocal row_written
        event = make_event("step_complete", job_id, step=step, progress=progress)
        writes: list[Coroutine[Any, Any, object]] = [_publish(ctx, event)]
        if loop.time() - row_written >= PROGRESS_ROW_INTERVAL:
            row_written = loop.time()
            writes.append(jobs.record_progress(ctx["pool"], job_id, step, progress))
        for outcome in await asyncio.gather(*writes, return_exceptions=True):
            if isinstance(outcome, CONNECTION_LOST):
                # Progress is a report, not the work: Postgres or Redis away must not
                # abort the analysis (the next step writes again; the heartbeat, not
                # the row, keeps the claim).
                log.warning("progress_not_recorded", step=step, error=type(outcome).__name__)
            elif isinstance(outcome, BaseException):
                raise outcome
        log.debug("step_complete", step=step, progress=progress)

    return report


async def analyze_risk_drift(ctx: WorkerContext, job_id: str) -> str:
    """Run one analysis job; returns the job's final (or current) status."""
    settings = ctx["settings"]
    job_uuid = uuid.UUID(job_id)
    attempt = ctx.get("job_try", 1)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job_id, attempt=attempt)
    # Shorten arq's claim before anything else: a worker killed at any later point
    # frees the job within job_claim_ttl instead of job_timeout + 10 s.
    async with heartbeat(
        ctx["redis"],
        job_id,
        claim_ttl=settings.job_claim_ttl,
        interval=settings.heartbeat_interval,
    ):
        try:
            return await _analyze(ctx, job_uuid, attempt)
        except CONNECTION_LOST as exc:
            raise await _dependency_retry(ctx, job_uuid, exc) from exc


async def _dependency_retry(ctx: WorkerContext, job_id: uuid.UUID, exc: BaseException) -> Retry:
    """arq's ``Retry`` for a run whose Postgres or Redis went away, at no cost to the job.

    Nothing here may depend on the lost service: arq re-queues a ``Retry`` with Redis
    alone. Giving back arq's try and the row's attempt are best effort, each bounded,
    so a run never hangs on a server that does not answer.
    """
    settings = ctx["settings"]
    undos: dict[str, Callable[[], Awaitable[object]]] = {
        "give_back_try": lambda: give_back_try(ctx["redis"], str(job_id)),
        "release_attempt": lambda: lifecycle.give_back_attempt(job_id, pool=ctx["pool"]),
    }
    for name, undo in undos.items():
        try:
            async with asyncio.timeout(DEPENDENCY_UNDO_TIMEOUT):
                await undo()
        except CONNECTION_LOST as undo_exc:  # TimeoutError included
            log.info("dependency_retry_not_undone", step=name, error=type(undo_exc).__name__)
    delay = jittered_delay(settings.dependency_retry_delay)
    log.warning("job_retrying_after_outage", error=type(exc).__name__, defer_s=round(delay, 2))
    return Retry(defer=delay)


# Each best-effort undo of a run interrupted by an outage waits at most this long.
DEPENDENCY_UNDO_TIMEOUT = 2.0  # seconds


async def _analyze(ctx: WorkerContext, job_uuid: uuid.UUID, attempt: int) -> str:
    settings = ctx["settings"]
    job = await lifecycle.start(job_uuid, **_deps(ctx))
    if job is None:
        log.info("job_skipped", reason="finished, cancelled or unknown")
        current = await lifecycle.revisit(job_uuid, **_deps(ctx))
        if current is not None:
            # a re-run after a crash before attempt 1 was made
            await resume_webhook(ctx, current)
        return "skipped"
    started = asyncio.get_running_loop().time()

    try:
        request = AnalyzeRequest(ticker=job.ticker, years=list(job.years), filing=job.filing)
        async with asyncio.timeout(settings.job_soft_time_limit):
            result = await ctx["agent"].arun_document(request, _progress_reporter(ctx, job_uuid))
    except asyncio.CancelledError:
        # Either the client cancelled (the API already marked the job) or the worker is
        # shutting down; then arq re-queues the job, and that run must not cost an attempt.
        await _complete_despite_cancellation(lifecycle.release(job_uuid, **_deps(ctx)))
        raise
    except TimeoutError:
        await _fail(
            ctx,
            job_uuid,
            f"analysis exceeded time limit ({settings.job_soft_time_limit:g} s)",
        )
        return JobStatus.FAILED.value
    except PermanentError as exc:
        await _fail(ctx, job_uuid, str(exc))
        return JobStatus.FAILED.value
    except Exception as exc:
        if not is_transient(exc):
            log.exception("job_crashed")
            await _fail(ctx, job_uuid, f"internal error: {type(exc).__name__}")
            return JobStatus.FAILED.value
        reason = str(exc) or type(exc).__name__
        retry = retry_later(exc, attempt, settings)
        if retry is None:
            await _fail(ctx, job_uuid, f"gave up after {attempt} attempts: {reason}")
            return JobStatus.FAILED.value
        await lifecycle.retry(job, attempt=attempt, reason=reason, **_deps(ctx))
        ctx["job_record"] = job
        log.warning("job_retrying", reason=reason, defer_s=round(retry_delay(retry), 2))
        raise retry from exc

    note = _ended(ctx)

    async def ended(finished: JobRecord) -> None:
        await record_analysis_filings(ctx, job_uuid, result)  # risks for search; never raises
        await note(finished)

    finished = await lifecycle.complete(
        job,
        result,
        started=started,
        **_deps(ctx),
        on_end=ended,
        webhook_guard=retried_when_transient,
    )
    if finished is None:
        return "skipped"
    return JobStatus.COMPLETED.value
