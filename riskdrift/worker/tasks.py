"""arq task functions: thin glue between the queue, the agent, Postgres and the event stream.

``analyze_risk_drift`` loads the job, awaits the research agent natively on the
worker's event loop, stores the result and publishes progress, then queues the
first attempt of the job's webhook on the webhooks queue
(:mod:`riskdrift.worker.webhook_task`).
State changes are guarded UPDATEs, so a re-run after a crash or a duplicate
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
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

from riskdrift.batch_lifecycle import report_job_state
from riskdrift.errors import PermanentError
from riskdrift.events.publish import make_event, stream_key
from riskdrift.models import TERMINAL_EVENTS, AnalyzeRequest, EventName, JobEvent, JobStatus
from riskdrift.queue import Retry, give_back_try
from riskdrift.retrying import (
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
from riskdrift.worker.webhook_task import completed_webhook, resume_webhook, schedule_webhook

log = structlog.get_logger(__name__)


async def _publish(ctx: WorkerContext, event: JobEvent) -> None:
    settings = ctx["settings"]
    # job_queued set the stream's expiry and XADD keeps it: only the terminal event renews it.
    ttl = settings.result_ttl if event.event in TERMINAL_EVENTS else None
    # Concurrent jobs' events share round trips (group commit); returns once in Redis.
    await ctx["events"].publish(event, maxlen=settings.stream_maxlen, ttl=ttl)


async def _fail(ctx: WorkerContext, job_id: uuid.UUID, reason: str) -> None:
    finished = await jobs.finish_job(ctx["pool"], job_id, JobStatus.FAILED, error=reason)
    if finished is None:
        log.info("job_already_finished", outcome="failed", reason=reason)
        return
    ctx["job_record"] = finished
    await _publish(ctx, make_event("job_failed", job_id, error=reason, status=JobStatus.FAILED))
    await _report_to_batch(ctx, job_id, JobStatus.FAILED, reason)
    log.warning("job_failed", reason=reason, attempts=finished.attempts)
    ctx["analysis_ended"] = time.monotonic()
    await schedule_webhook(ctx, finished)


TERMINAL_EVENT: dict[JobStatus, EventName] = {
    JobStatus.COMPLETED: "job_completed",
    JobStatus.FAILED: "job_failed",
    JobStatus.CANCELLED: "job_cancelled",
}


async def _report_to_batch(
    ctx: WorkerContext, job_id: uuid.UUID, status: JobStatus, error: str | None = None
) -> None:
    """The job's new state, to its batch's aggregate stream (a no-op outside a batch)."""
    await report_job_state(ctx["redis"], ctx["pool"], ctx["settings"], job_id, status, error=error)


async def _ensure_terminal_event(ctx: WorkerContext, job: JobRecord) -> None:
    """Publish a finished job's terminal event if a crash came between its UPDATE and XADD."""
    if not job.status.finished:
        return
    job_id = job.id
    last = await ctx["redis"].xrevrange(stream_key(job_id), count=1)
    if last and last[0][1].get(b"event", b"").decode() in TERMINAL_EVENTS:
        return
    await _publish(
        ctx,
        make_event(
            TERMINAL_EVENT[job.status],
            job_id,
            status=job.status,
            error=job.error,
            progress=100 if job.status is JobStatus.COMPLETED else None,
        ),
    )
    log.info("terminal_event_restored", status=job.status.value)


async def _complete_despite_cancellation(work: Coroutine[Any, Any, None]) -> None:
    """Run bookkeeping to the end even if the task is cancelled again meanwhile
    (a shutdown cancels a job, then may cancel it again while it cleans up)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(task)
    task.result()


async def _release_attempt(ctx: WorkerContext, job_id: uuid.UUID) -> None:
    """Give back the attempt of a run interrupted by a worker shutdown."""
    released = await jobs.release_attempt(ctx["pool"], job_id)
    if released is None:
        # cancelled by the client: nothing to give back
        await _report_to_batch(ctx, job_id, JobStatus.CANCELLED, "cancelled by the client")
        return
    await _report_to_batch(ctx, job_id, JobStatus.QUEUED)
    await give_back_try(ctx["redis"], str(job_id))
    reason = "worker shutting down; job re-queued"
    await _publish(ctx, make_event("job_retrying", job_id, attempt=released.attempts, error=reason))
    log.info("job_requeued", reason=reason)


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
        "release_attempt": lambda: jobs.release_attempt(ctx["pool"], job_id),
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
    job = await jobs.start_attempt(ctx["pool"], job_uuid)
    if job is None:
        log.info("job_skipped", reason="finished, cancelled or unknown")
        current = await jobs.get_job(ctx["pool"], job_uuid)
        if current is not None:
            await _ensure_terminal_event(ctx, current)
            if current.status.finished:  # e.g. cancelled while queued: its batch hears now
                await _report_to_batch(ctx, job_uuid, current.status, current.error)
            # a re-run after a crash before attempt 1 was made
            await resume_webhook(ctx, current)
        return "skipped"
    structlog.contextvars.bind_contextvars(ticker=job.ticker, years=list(job.years))
    await _publish(ctx, make_event("job_started", job_uuid, attempt=job.attempts))
    await _report_to_batch(ctx, job_uuid, JobStatus.PROCESSING)
    started = asyncio.get_running_loop().time()

    try:
        request = AnalyzeRequest(ticker=job.ticker, years=list(job.years), filing=job.filing)
        async with asyncio.timeout(settings.job_soft_time_limit):
            result = await ctx["agent"].arun(request, _progress_reporter(ctx, job_uuid))
    except asyncio.CancelledError:
        # Either the client cancelled (the API already marked the job) or the worker is
        # shutting down; then arq re-queues the job, and that run must not cost an attempt.
        await _complete_despite_cancellation(_release_attempt(ctx, job_uuid))
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
        # The retry itself needs neither write (arq re-queues it): Postgres or Redis
        # away here must not turn a retry into a failed arq job.
        writes: list[Callable[[], Awaitable[object]]] = [
            lambda: jobs.record_progress(ctx["pool"], job_uuid, "retrying", job.progress),
            lambda: _publish(
                ctx, make_event("job_retrying", job_uuid, attempt=attempt, error=reason)
            ),
        ]
        for write in writes:
            try:
                await write()
            except CONNECTION_LOST as write_exc:
                log.warning("retry_not_recorded", error=type(write_exc).__name__)
        ctx["job_record"] = job
        log.warning("job_retrying", reason=reason, defer_s=round(retry_delay(retry), 2))
        raise retry from exc

    # The worker's clock, never before the start (the database's): the webhook's body is
    # built now and stored by the statement that completes the job, with this instant.
    finished_at = max(dt.datetime.now(dt.UTC), job.started_at or job.created_at)
    webhook = completed_webhook(settings, job, result, finished_at)
    completion = await jobs.complete_job(
        ctx["pool"], job_uuid, result, finished_at=finished_at, webhook=webhook
    )
    if completion is None:
        log.info("job_already_finished", outcome="completed")
        return "skipped"
    finished = completion.job
    ctx["job_record"] = finished
    event: EventName = "job_completed"
    await _publish(ctx, make_event(event, job_uuid, status=JobStatus.COMPLETED, progress=100))
    await _report_to_batch(ctx, job_uuid, JobStatus.COMPLETED)
    log.info(
        "job_completed",
        duration_s=round(asyncio.get_running_loop().time() - started, 3),
        risks=len(result.risks),
    )
    await record_analysis_filings(ctx, job_uuid, result)  # risks for search; never raises
    # Last, so the receiver hears of the job once everything it stores is stored.
    ctx["analysis_ended"] = time.monotonic()
    await schedule_webhook(ctx, finished, result, delivery=completion.delivery)
    return JobStatus.COMPLETED.value
