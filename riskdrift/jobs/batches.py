"""A batch's lifecycle: submit and cancel a batch; what a job's state change means for its
batch: the aggregate event, and at the end the batch's ``finished_at`` and its
``batch.completed`` webhook.

A batch is its row plus ordinary job rows, written in one transaction
(:func:`riskdrift.store.batches.create_batch`); every job's Redis writes (its
``job_queued`` event, its arq job, its link to the batch) go in one pipeline, with the
same writes as a single job's submission (:func:`riskdrift.queue.queue_job`).

Called by :mod:`riskdrift.jobs` after each guarded state change of a job, whoever made it
(the analysis task, the reconciler, the API cancelling a batch's jobs). A job in no batch
costs one Redis round trip (a missed ``GET`` in the report script). The batch webhook is
stored as a delivery row of the job whose end finished the batch and sent by the ordinary
``deliver_webhook`` job, with its retries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import structlog

from riskdrift.config import Settings
from riskdrift.events.batch_progress import (
    queue_batch_links,
    queue_discard_batch,
    queue_report,
    report_state,
)
from riskdrift.events.publish import make_event, queue_publish, stream_key
from riskdrift.jobs.enqueue import ANALYSIS_TASK
from riskdrift.models import JobStatus
from riskdrift.ops import metrics
from riskdrift.queue import ArqRedis, queue_abort, queue_discard, queue_job
from riskdrift.store import batches, deliveries
from riskdrift.store.batches import Pair
from riskdrift.webhooks.outbox import enqueue_attempt, public_base_url

log = structlog.get_logger(__name__)

BATCH_COMPLETED = "batch.completed"


async def report_job_state(
    redis: ArqRedis,
    pool: asyncpg.Pool,
    settings: Settings,
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    error: str | None = None,
) -> None:
    """Report ``job_id``'s new ``status`` to its batch, if it has one; finish the batch if
    this was its last job. Never raises: a batch's bookkeeping must not fail its job."""
    try:
        ended = await report_state(
            redis,
            job_id,
            status,
            error=error,
            maxlen=settings.stream_maxlen,
            ttl=settings.result_ttl,
        )
        if ended:
            batch_id = await batches.batch_of(pool, job_id)
            if batch_id is not None:
                # Shielded: a worker shutting down must not cut the batch's end in half.
                await asyncio.shield(finish_batch(redis, pool, settings, batch_id))
    except Exception:
        log.exception("batch_report_failed", job_id=str(job_id), status=status.value)


async def finish_batch(
    redis: ArqRedis, pool: asyncpg.Pool, settings: Settings, batch_id: uuid.UUID
) -> None:
    """Mark the batch finished if every job ended, and queue its webhook; the process
    whose guarded UPDATE marks it does the rest, so this runs at most once per batch.

    Called by whoever saw the last job end and, should that process have died in between,
    by the next ``GET /batches/{id}``.
    """
    batch = await batches.mark_finished(pool, batch_id)
    if batch is None:
        return
    counts = await batches.state_counts(pool, batch.id)
    log.info(
        "batch_completed",
        batch_id=str(batch.id),
        **{status.value: n for status, n in counts.items()},
    )
    if not batch.callback_url:
        return
    base = public_base_url(settings)
    body = {
        "type": BATCH_COMPLETED,
        "timestamp": (batch.finished_at or dt.datetime.now(dt.UTC)).isoformat(),
        "data": {
            "batch_id": str(batch.id),
            "total": batch.job_count,
            "counts": {status.value: n for status, n in counts.items()},
            "links": {
                "self": f"{base}/batches/{batch.id}",
                "results": f"{base}/batches/{batch.id}/results.json",
            },
        },
    }
    # The delivery row hangs off the batch's first job (by id), one row per batch.
    anchor = await batches.first_job(pool, batch.id)
    delivery, _ = await deliveries.create_delivery(
        pool,
        job_id=anchor,
        event_type=BATCH_COMPLETED,
        webhook_id=f"msg_batch_{batch.id.hex}",
        callback_url=batch.callback_url,
        body=json.dumps(body, separators=(",", ":")).encode(),
    )
    await enqueue_attempt(redis, settings, delivery, attempt=1)


async def submit_batch(
    pairs: list[Pair],
    *,
    tenant: str,
    kind: str,
    request: dict[str, Any],
    callback_url: str | None,
    idempotency_key: str | None,
    request_hash: str,
    max_queued: int | None,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
) -> batches.NewBatch:
    """Store the batch and its jobs in one transaction under the tenant's cap, then every
    job's Redis writes in one pipeline (the same writes as a single job's submission); the
    batch, ``created=False`` if the idempotency key's batch came back (nothing enqueued).

    Raises :class:`~riskdrift.errors.TenantQueueFull` over the cap. If enqueueing fails,
    neither the rows nor any Redis write is left behind.
    """
    async with pool.acquire() as conn:
        new = await batches.create_batch(
            conn,
            pairs,
            tenant=tenant,
            kind=kind,
            request=request,
            callback_url=callback_url,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            max_queued=max_queued,
        )
    if not new.created:
        return new
    try:
        await _enqueue(redis, settings, new, pairs)
    except BaseException:
        await batches.delete_unqueued(pool, new.batch.id)
        try:
            await _discard(redis, settings, new)
        except Exception:
            log.warning("batch_enqueue_cleanup_failed", batch_id=str(new.batch.id))
        raise
    log.info("batch_submitted", batch_id=str(new.batch.id), kind=kind, jobs=len(pairs))
    return new


async def _enqueue(
    redis: ArqRedis, settings: Settings, new: batches.NewBatch, pairs: list[Pair]
) -> None:
    """Every job's Redis writes, one pipeline: links to the batch first (so a worker that
    starts a job at once reports it), then per job its ``job_queued`` and arq entry."""
    ttl = settings.result_ttl
    async with redis.pipeline(transaction=False) as pipe:
        queue_batch_links(
            pipe,
            new.batch.id,
            zip(new.job_ids, (p.ticker for p in pairs), strict=True),
            total=len(pairs),
            ttl=ttl,
        )
        for job_id in new.job_ids:
            queue_publish(
                pipe,
                make_event("job_queued", job_id, status=JobStatus.QUEUED),
                maxlen=settings.stream_maxlen,
                ttl=ttl,
            )
            queue_job(
                pipe,
                redis,
                ANALYSIS_TASK,
                str(job_id),
                job_id=str(job_id),
                queue=settings.queue_name,
            )
        for _ in new.job_ids[1:]:  # every job counts as a submission; the last one runs it
            metrics.count_job(pipe, settings.queue_name, metrics.JOBS_SUBMITTED)
        await metrics.execute_counted(pipe, settings.queue_name, metrics.JOBS_SUBMITTED)


async def _discard(redis: ArqRedis, settings: Settings, new: batches.NewBatch) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        ids = [str(j) for j in new.job_ids]
        if ids:
            queue_discard(pipe, settings.queue_name, ids)
            pipe.delete(*(stream_key(j) for j in ids))
        queue_discard_batch(pipe, new.batch.id, new.job_ids)
        await pipe.execute()


async def cancel_batch(
    batch_id: uuid.UUID, *, pool: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> list[uuid.UUID]:
    """``queued → cancelled`` for every job of the batch not started yet (running jobs
    finish): each job's ``job_cancelled`` and report to the batch, and the batch's end if
    that was its last job; the cancelled jobs' ids."""
    cancelled = await batches.cancel_queued(pool, batch_id)
    ended = False
    if cancelled:
        async with redis.pipeline(transaction=False) as pipe:
            # A queued arq entry of a cancelled job is dropped when a worker picks it up.
            queue_abort(pipe, [str(j) for j in cancelled])
            for job_id in cancelled:
                queue_publish(
                    pipe,
                    make_event("job_cancelled", job_id, status=JobStatus.CANCELLED),
                    maxlen=settings.stream_maxlen,
                    ttl=settings.result_ttl,
                )
                queue_report(
                    pipe,
                    job_id,
                    JobStatus.CANCELLED,
                    error="batch cancelled by the client",
                    maxlen=settings.stream_maxlen,
                    ttl=settings.result_ttl,
                )
            replies = await pipe.execute()
        # The replies of the reports: every third reply after the ZADD.
        ended = any(r == 1 for r in replies[1:][2::3])
        if ended:
            await finish_batch(redis, pool, settings, batch_id)
    log.info("batch_cancelled", batch_id=str(batch_id), cancelled=len(cancelled))
    return cancelled
