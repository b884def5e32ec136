"""A job's state changes: submit, start, complete, fail, cancel, retry, release.

Each is the guarded UPDATE of :mod:`riskdrift.store.jobs` (so a re-run after a crash or a
duplicate delivery by arq cannot move a finished job again), then its event on the job's
stream, its report to the job's batch (:func:`riskdrift.jobs.batches.report_job_state`),
for a finished job the outbox row and attempt 1 of its webhook
(:mod:`riskdrift.webhooks.outbox`), and the counters. The callers (routes, the analysis
task, the reconciler) pass their clients as keyword arguments:

- ``events``: the worker's :class:`~riskdrift.events.batch.EventBatcher` (many jobs' events
  to a Redis round trip); ``None`` publishes on ``redis`` directly;
- ``webhook_guard``: what a failure to store or queue the webhook becomes (the analysis
  task: arq's ``Retry``; the reconciler: a log line, the job is failed either way);
- ``on_end``: called once the job's end is recorded and reported, before its webhook is
  queued (the worker takes its run time and stores the result's filings there).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import structlog

from riskdrift.config import Settings
from riskdrift.events.batch import EventBatcher
from riskdrift.events.publish import make_event, publish, queue_publish, stream_key
from riskdrift.jobs.batches import report_job_state
from riskdrift.jobs.enqueue import discard_new_job, enqueue_new_job
from riskdrift.models import (
    TERMINAL_EVENTS,
    AnalyzeRequest,
    EventName,
    JobEvent,
    JobStatus,
)
from riskdrift.ops import metrics
from riskdrift.queue import ArqRedis, give_back_try, queue_abort
from riskdrift.queue.retrying import CONNECTION_LOST
from riskdrift.store import jobs as store
from riskdrift.store.deliveries import DeliveryRecord
from riskdrift.store.jobs import JobRecord
from riskdrift.store.result_document import ResultDocument
from riskdrift.webhooks import outbox

__all__ = [
    "WebhookGuard",
    "cancel",
    "complete",
    "fail",
    "give_back_attempt",
    "release",
    "retry",
    "revisit",
    "start",
    "submit",
]

log = structlog.get_logger(__name__)

WebhookGuard = Callable[[], contextlib.AbstractContextManager[Any]]
OnEnd = Callable[[JobRecord], Awaitable[None]]

TERMINAL_EVENT: dict[JobStatus, EventName] = {
    JobStatus.COMPLETED: "job_completed",
    JobStatus.FAILED: "job_failed",
    JobStatus.CANCELLED: "job_cancelled",
}


async def _publish(
    event: JobEvent, *, redis: ArqRedis, settings: Settings, events: EventBatcher | None
) -> None:
    # job_queued set the stream's expiry and XADD keeps it: only the terminal event renews it.
    ttl = settings.result_ttl if event.event in TERMINAL_EVENTS else None
    if events is None:
        await publish(redis, event, maxlen=settings.stream_maxlen, ttl=ttl)
        return
    # Concurrent jobs' events share round trips (group commit); returns once in Redis.
    await events.publish(event, maxlen=settings.stream_maxlen, ttl=ttl)


async def _schedule_webhook(
    job: JobRecord,
    *,
    delivery: DeliveryRecord | None,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
) -> None:
    """After a job's terminal UPDATE: store its webhook (unless the UPDATE stored it:
    ``delivery``) and queue attempt 1 on the webhooks queue."""
    if delivery is None:
        delivery = await outbox.prepare_delivery(pool, settings, job)
    if delivery is None:
        return
    await outbox.enqueue_attempt(redis, settings, delivery, attempt=1)
    log.info("webhook_scheduled", webhook_id=delivery.webhook_id, type=delivery.event_type)


async def submit(
    body: AnalyzeRequest,
    *,
    tenant: str,
    idempotency_key: str | None,
    request_hash: str,
    max_queued: int | None,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
) -> tuple[JobRecord, bool]:
    """Store a new job under the tenant's cap and enqueue it (``job_queued``, its arq job,
    the submit count); the job and whether it was created (``False``: the key's job).

    Raises :class:`~riskdrift.errors.TenantQueueFull` over the cap. If enqueueing fails,
    neither the row nor any Redis write is left behind.
    """
    job, created = await store.create_job(
        pool,
        body,
        tenant=tenant,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        max_queued=max_queued,
    )
    if not created:
        return job, False
    try:
        await enqueue_new_job(redis, job.id, settings)
    except BaseException:
        # No queue entry: leave no job row behind that nothing would ever run, and none of
        # the Redis writes that may have gone through.
        await store.delete_unqueued(pool, job.id)
        try:
            await discard_new_job(redis, job.id, settings)
        except Exception:
            log.warning("enqueue_cleanup_failed", job_id=str(job.id))
        raise
    log.info("job_submitted", job_id=str(job.id), ticker=job.ticker, years=list(job.years))
    return job, True


async def start(
    job_id: uuid.UUID,
    *,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    events: EventBatcher | None = None,
) -> JobRecord | None:
    """``queued|processing → processing``, counting the attempt, ``job_started``, and the
    batch hears; ``None`` (nothing done) if the job is finished, cancelled or unknown."""
    job = await store.start_attempt(pool, job_id)
    if job is None:
        return None
    structlog.contextvars.bind_contextvars(ticker=job.ticker, years=list(job.years))
    await _publish(
        make_event("job_started", job_id, attempt=job.attempts),
        redis=redis,
        settings=settings,
        events=events,
    )
    await report_job_state(redis, pool, settings, job_id, JobStatus.PROCESSING)
    return job


async def _ensure_terminal_event(
    job: JobRecord, *, redis: ArqRedis, settings: Settings, events: EventBatcher | None
) -> None:
    """Publish a finished job's terminal event if a crash came between its UPDATE and XADD."""
    if not job.status.finished:
        return
    job_id = job.id
    last = await redis.xrevrange(stream_key(job_id), count=1)
    if last and last[0][1].get(b"event", b"").decode() in TERMINAL_EVENTS:
        return
    await _publish(
        make_event(
            TERMINAL_EVENT[job.status],
            job_id,
            status=job.status,
            error=job.error,
            progress=100 if job.status is JobStatus.COMPLETED else None,
        ),
        redis=redis,
        settings=settings,
        events=events,
    )
    log.info("terminal_event_restored", status=job.status.value)


async def revisit(
    job_id: uuid.UUID,
    *,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    events: EventBatcher | None = None,
) -> JobRecord | None:
    """For a run that :func:`start` refused: the job as it is, with a finished job's terminal
    event restored and its end reported to its batch (e.g. cancelled while queued: its
    batch hears now); ``None`` if there is no such job."""
    current = await store.get_job(pool, job_id)
    if current is None:
        return None
    await _ensure_terminal_event(current, redis=redis, settings=settings, events=events)
    if current.status.finished:
        await report_job_state(redis, pool, settings, job_id, current.status, error=current.error)
    return current


async def complete(
    job: JobRecord,
    result: ResultDocument,
    *,
    started: float,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    events: EventBatcher | None = None,
    on_end: OnEnd | None = None,
    webhook_guard: WebhookGuard = contextlib.nullcontext,
) -> JobRecord | None:
    """``processing → completed`` with its result (and its webhook, in the same statement),
    ``job_completed``, the batch hears, then attempt 1 of the webhook is queued; ``None``
    if the job was no longer processing. ``started``: the event loop's time at the start."""
    # The worker's clock, never before the start (the database's): the webhook's row is
    # stored by the statement that completes the job, its body built from the stored
    # result (and this instant, the row's finished_at) when it is sent.
    finished_at = max(dt.datetime.now(dt.UTC), job.started_at or job.created_at)
    webhook = outbox.completed_webhook(job)
    completion = await store.complete_job(
        pool, job.id, result, finished_at=finished_at, webhook=webhook
    )
    if completion is None:
        log.info("job_already_finished", outcome="completed")
        return None
    finished = completion.job
    await _publish(
        make_event("job_completed", job.id, status=JobStatus.COMPLETED, progress=100),
        redis=redis,
        settings=settings,
        events=events,
    )
    await report_job_state(redis, pool, settings, job.id, JobStatus.COMPLETED)
    log.info(
        "job_completed",
        duration_s=round(asyncio.get_running_loop().time() - started, 3),
        risks=sum(result.counts.values()),
    )
    if on_end is not None:
        await on_end(finished)
    # Last, so the receiver hears of the job once everything it stores is stored.
    with webhook_guard():
        await _schedule_webhook(
            finished,
            delivery=completion.delivery,
            pool=pool,
            redis=redis,
            settings=settings,
        )
    return finished


async def fail(
    job_id: uuid.UUID,
    reason: str,
    *,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    events: EventBatcher | None = None,
    allowed_from: tuple[JobStatus, ...] = (JobStatus.PROCESSING,),
    on_end: OnEnd | None = None,
    webhook_guard: WebhookGuard = contextlib.nullcontext,
) -> JobRecord | None:
    """``allowed_from → failed`` with ``reason``, ``job_failed``, the batch hears, then the
    ``job.failed`` webhook is stored and attempt 1 queued; ``None`` if the job was not in
    ``allowed_from`` (nothing done)."""
    finished = await store.finish_job(
        pool, job_id, JobStatus.FAILED, error=reason, allowed_from=allowed_from
    )
    if finished is None:
        log.info("job_already_finished", outcome="failed", reason=reason)
        return None
    await _publish(
        make_event("job_failed", job_id, error=reason, status=JobStatus.FAILED),
        redis=redis,
        settings=settings,
        events=events,
    )
    await report_job_state(redis, pool, settings, job_id, JobStatus.FAILED, error=reason)
    log.warning("job_failed", reason=reason, attempts=finished.attempts)
    if on_end is not None:
        await on_end(finished)
    with webhook_guard():
        await _schedule_webhook(finished, delivery=None, pool=pool, redis=redis, settings=settings)
    return finished


async def cancel(
    job_id: uuid.UUID,
    *,
    tenant: str,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
) -> JobRecord | None:
    """``queued|processing → cancelled`` for the tenant's job: a worker holding it is told
    to stop, ``job_cancelled``, the cancel count, and its batch hears; ``None`` if it was
    not cancellable.

    The batch hears here: arq drops a queued job that was aborted without running the
    task, so no worker would report it (a running one's :func:`release` reports it again,
    which the batch's script ignores).
    """
    cancelled = await store.cancel_job(pool, job_id, tenant=tenant)
    if cancelled is None:
        return None
    async with redis.pipeline(transaction=False) as pipe:
        # Tell a worker that holds it to stop; a queued entry is dropped when picked up.
        queue_abort(pipe, [str(job_id)])
        queue_publish(
            pipe,
            make_event("job_cancelled", job_id, status=JobStatus.CANCELLED),
            maxlen=settings.stream_maxlen,
            ttl=settings.result_ttl,
        )
        await metrics.execute_counted(pipe, settings.queue_name, metrics.JOBS_CANCELLED)
    await report_job_state(
        redis, pool, settings, job_id, JobStatus.CANCELLED, error=cancelled.error
    )
    log.info("job_cancelled", job_id=str(job_id))
    return cancelled


async def retry(
    job: JobRecord,
    *,
    attempt: int,
    reason: str,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    events: EventBatcher | None = None,
) -> None:
    """Record that the running ``job``'s attempt ``attempt`` will be retried by arq: its
    step ``retrying`` and ``job_retrying``.

    The retry itself needs neither write (arq re-queues it): Postgres or Redis away here
    is logged and must not turn a retry into a failed arq job.
    """
    writes: list[Callable[[], Awaitable[object]]] = [
        lambda: store.record_progress(pool, job.id, "retrying", job.progress),
        lambda: _publish(
            make_event("job_retrying", job.id, attempt=attempt, error=reason),
            redis=redis,
            settings=settings,
            events=events,
        ),
    ]
    for write in writes:
        try:
            await write()
        except CONNECTION_LOST as write_exc:
            log.warning("retry_not_recorded", error=type(write_exc).__name__)


async def release(
    job_id: uuid.UUID,
    *,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    events: EventBatcher | None = None,
) -> None:
    """Give back the attempt of a run interrupted by a worker shutdown: ``processing →
    queued``, the batch hears, arq's try is given back, ``job_retrying``. A job the client
    cancelled meanwhile has nothing to give back: its batch hears of the cancel."""
    released = await store.release_attempt(pool, job_id)
    if released is None:
        # cancelled by the client: nothing to give back
        await report_job_state(
            redis, pool, settings, job_id, JobStatus.CANCELLED, error="cancelled by the client"
        )
        return
    await report_job_state(redis, pool, settings, job_id, JobStatus.QUEUED)
    await give_back_try(redis, str(job_id))
    reason = "worker shutting down; job re-queued"
    await _publish(
        make_event("job_retrying", job_id, attempt=released.attempts, error=reason),
        redis=redis,
        settings=settings,
        events=events,
    )
    log.info("job_requeued", reason=reason)


async def give_back_attempt(job_id: uuid.UUID, *, pool: asyncpg.Pool) -> JobRecord | None:
    """``processing → queued``, the attempt not counted, and nothing else: for a run whose
    Redis or Postgres went away, where no event or report could be written (arq re-runs
    the job, and that run reports it)."""
    return await store.release_attempt(pool, job_id)
