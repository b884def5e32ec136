"""The ``deliver_webhook`` arq task and the worker glue around a job's webhook.

The webhook domain logic (payload, scheduling, outcome classification, one
recorded attempt) lives in :mod:`riskdrift.webhooks.outbox`; this module adds
what only a worker knows: arq ``Retry`` when Postgres or Redis fail, the cap on
deliveries in flight per receiver (:mod:`riskdrift.webhooks.slots`), and the
worker's metrics.

Every attempt, the first included, is a ``deliver_webhook`` job on the webhooks
queue (``RISKDRIFT_WEBHOOKS_QUEUE_NAME``), run by ``WebhookWorker`` processes: a
slow receiver holds webhook slots, never an analysis slot, and at most
``RISKDRIFT_WEBHOOK_RECEIVER_CONCURRENCY`` of them at once (an attempt to a receiver
whose slots are all taken is deferred, freeing its worker slot), so it delays only
its own tenant's deliveries.

Flow::

    riskdrift.jobs.complete / fail ── terminal UPDATE ok ──▶ the webhook scheduled:
        store the body once (outbox.prepare_delivery; a completed job's is stored
        by the statement that completes it, a failed job's by jobs.fail), queue attempt 1
    analyze_risk_drift re-run of a finished job ──▶ resume_webhook(job)
        store the body if a crash lost it; while pending with attempt 2 not made,
        enqueue attempt 1 (that job makes it, or finds it made and queues attempt 2)
    deliver_webhook(job_id, event_type, series, attempt)
        load the delivery, take a slot of its receiver, then
        outbox.make_attempt(series, attempt)

A redelivery (``POST /jobs/{id}/deliveries/redeliver``) starts the next series
on the same row: same ``webhook-id``, same body, attempts counted from 1 again;
its attempt 1 is a ``deliver_webhook`` job.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import structlog

from riskdrift.queue import Defer, Retry, give_back_try
from riskdrift.queue.retrying import is_transient, jittered_delay
from riskdrift.store import deliveries
from riskdrift.store.deliveries import DeliveryRecord
from riskdrift.store.jobs import JobRecord
from riskdrift.webhooks import outbox

# Re-exported: the analysis task, the reconciler and tests reach the outbox through here.
from riskdrift.webhooks.outbox import (
    TASK_NAME,
    attempt_job_id,
    build_payload,
    completed_webhook,
    enqueue_attempt,
    prepare_delivery,
)
from riskdrift.webhooks.slots import receiver_of, receiver_slot
from riskdrift.webhooks.ssrf import system_resolver
from riskdrift.worker.context import WorkerContext

__all__ = [
    "TASK_NAME",
    "attempt_job_id",
    "build_payload",
    "completed_webhook",
    "deliver_webhook",
    "enqueue_attempt",
    "prepare_delivery",
    "queue_webhook",
    "resume_webhook",
    "retried_when_transient",
]

log = structlog.get_logger(__name__)

TRANSIENT_RETRY_DELAY = 5.0  # seconds, before the backoff scale: Postgres or Redis hiccups
RECEIVER_BUSY_DELAY = 1.0  # seconds (jittered down to half): an attempt whose receiver is full
# A slot's lease outlives its attempt (webhook_timeout) by this much: a worker killed
# mid-attempt frees its slot after the lease, a live one gives it back at once.
SLOT_LEASE_MARGIN = 15.0  # seconds


@contextlib.contextmanager
def retried_when_transient() -> Iterator[None]:
    """Postgres or Redis failing while a webhook is stored or queued: arq runs the
    calling task again later, and its re-run finds the job finished and calls
    :func:`resume_webhook` (the analysis task's ``webhook_guard`` for :mod:`riskdrift.jobs`)."""
    try:
        yield
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("webhook_schedule_retrying", error=type(exc).__name__)
        raise Retry(defer=TRANSIENT_RETRY_DELAY) from exc


async def _attempt(
    ctx: WorkerContext, delivery: DeliveryRecord, series: int, attempt: int
) -> outbox.AttemptResult:
    return await outbox.make_attempt(
        ctx["pool"],
        ctx["redis"],
        ctx["settings"],
        delivery,
        series=series,
        attempt=attempt,
        client=ctx["webhook_client"],
        resolver=ctx.get("webhook_resolver", system_resolver),
    )


async def resume_webhook(ctx: WorkerContext, job: JobRecord) -> None:
    """For a re-run that finds its job finished: make sure attempt 1 is made.

    The run that finished the job may have died before storing the webhook,
    during attempt 1, or after recording attempt 1 but before queueing attempt
    2. Queueing attempt 1 covers all three: that job makes the attempt, or finds
    it recorded and queues attempt 2 (its fixed arq job id makes that a no-op
    if it is queued already).
    """
    with retried_when_transient():
        delivery = await queue_webhook(ctx, job)
        if delivery is not None:
            log.info("webhook_resumed", webhook_id=delivery.webhook_id, type=delivery.event_type)


async def queue_webhook(ctx: WorkerContext, job: JobRecord) -> DeliveryRecord | None:
    """:func:`riskdrift.webhooks.outbox.queue_first_attempt` with the worker's clients."""
    return await outbox.queue_first_attempt(ctx["pool"], ctx["redis"], ctx["settings"], job)


async def deliver_webhook(
    ctx: WorkerContext, job_id: str, event_type: str, series: int = 1, attempt: int = 1
) -> str:
    """One attempt of a job's webhook; returns what became of it (for arq's job result)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        job_id=job_id, type=event_type, series=series, attempt=attempt
    )
    try:
        delivery = await deliveries.get_delivery(ctx["pool"], uuid.UUID(job_id), event_type)
        if delivery is None:
            log.warning("webhook_delivery_missing")
            return "missing"
        structlog.contextvars.bind_contextvars(webhook_id=delivery.webhook_id)
        settings = ctx["settings"]
        async with receiver_slot(
            ctx["redis"],
            delivery.callback_url,
            limit=settings.webhook_receiver_concurrency,
            lease=settings.webhook_timeout + SLOT_LEASE_MARGIN,
        ) as slot:
            if slot:
                return await _attempt(ctx, delivery, series, attempt)
        # Every slot of this receiver is busy: free this worker slot for other
        # receivers and come back shortly, at no cost to the attempt's arq tries.
        await give_back_try(ctx["redis"], ctx.get("job_id", ""))
        delay = jittered_delay(RECEIVER_BUSY_DELAY)
        log.info(
            "webhook_receiver_busy",
            receiver=receiver_of(delivery.callback_url),
            defer_s=round(delay, 2),
        )
        raise Defer(defer=delay)
    except Exception as exc:
        if not is_transient(exc):
            raise
        delay = TRANSIENT_RETRY_DELAY * ctx["settings"].webhook_backoff_scale
        log.warning("webhook_attempt_retrying", error=type(exc).__name__)
        raise Retry(defer=delay) from exc
