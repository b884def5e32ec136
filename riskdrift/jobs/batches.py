"""What a job's state change means for its batch: the aggregate event, and at the end the
batch's ``finished_at`` and its ``batch.completed`` webhook.

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

import asyncpg
import structlog

from riskdrift.config import Settings
from riskdrift.events.batch_progress import report_state
from riskdrift.models import JobStatus
from riskdrift.queue import ArqRedis
from riskdrift.store import batches, deliveries
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
