"""The ``deliver_webhook`` arq task and the worker glue around a job's first attempt.

The webhook domain logic (payload, scheduling, outcome classification, one
recorded attempt) lives in :mod:`riskdrift.webhooks.outbox`; this module adds
what only a worker knows: arq's deadline for the calling task, arq ``Retry``
when Postgres or Redis fail, and the worker's metrics.

Flow::

    analyze_risk_drift ── terminal UPDATE ok ──▶ schedule_webhook(job, deadline)
        store the body once (outbox.prepare_delivery; a completed job's is stored
        by the statement that completes it, a failed job's here)
        attempt 1 here, in the analysis task: outbox.make_attempt(attempt=1)
        too little of arq's timeout left, or any error before the attempt is
        recorded and its follow-up queued → enqueue attempt 1 as deliver_webhook
    analyze_risk_drift re-run of a finished job ──▶ resume_webhook(job)
        store the body if a crash lost it; while pending with attempt 2 not made,
        enqueue attempt 1 (that job makes it, or finds it made and queues attempt 2)
    deliver_webhook(job_id, event_type, series, attempt)
        load the delivery, then outbox.make_attempt(series, attempt)

A redelivery (``POST /jobs/{id}/deliveries/redeliver``) starts the next series
on the same row: same ``webhook-id``, same body, attempts counted from 1 again;
its attempt 1 is a ``deliver_webhook`` job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator

import structlog

from riskdrift.models import AnalysisResult
from riskdrift.ops.metrics import WEBHOOK_OUTCOMES
from riskdrift.ops.worker import worker_metrics
from riskdrift.queue import Retry
from riskdrift.retrying import is_transient
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
    "schedule_webhook",
]

log = structlog.get_logger(__name__)

TRANSIENT_RETRY_DELAY = 5.0  # seconds, before the backoff scale: Postgres or Redis hiccups
# Attempt 1 runs in the analysis task only if, besides webhook_timeout for the attempt
# itself, this much of arq's timeout is left for recording it and queueing attempt 2.
INLINE_ATTEMPT_MARGIN = 10.0  # seconds


@contextlib.contextmanager
def _retried_when_transient() -> Iterator[None]:
    """Postgres or Redis failing while a webhook is stored or queued: arq runs the
    calling task again later, and its re-run finds the job finished."""
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


async def schedule_webhook(
    ctx: WorkerContext,
    job: JobRecord,
    result: AnalysisResult | None = None,
    *,
    deadline: float,
    delivery: DeliveryRecord | None = None,
) -> None:
    """After a job's terminal UPDATE: store its webhook (unless the UPDATE stored it:
    ``delivery``) and make attempt 1 in this task.

    ``deadline`` is when arq cancels the calling task (a loop time). If the
    attempt might not finish before it, or anything fails before the attempt is
    recorded and its follow-up queued, attempt 1 is queued as a
    ``deliver_webhook`` job instead. If Postgres or Redis fail while storing or
    queueing, the analysis task is retried by arq; its re-run finds the job
    finished and calls :func:`resume_webhook`.
    """
    settings = ctx["settings"]
    with _retried_when_transient():
        if delivery is None:
            delivery = await outbox.prepare_delivery(ctx["pool"], settings, job, result)
        if delivery is None:
            return
        time_left = deadline - asyncio.get_running_loop().time()
        fits = time_left >= settings.webhook_timeout + INLINE_ATTEMPT_MARGIN
        if fits and await _attempt_here(ctx, delivery):
            return
        await outbox.enqueue_attempt(ctx["redis"], settings, delivery, attempt=1)
        log.info("webhook_scheduled", webhook_id=delivery.webhook_id, type=delivery.event_type)


async def _attempt_here(ctx: WorkerContext, delivery: DeliveryRecord) -> bool:
    """Make attempt 1 of ``delivery`` in the calling task; ``False`` if a job must make it.

    Whatever goes wrong, the finished analysis must not fail for its webhook:
    the attempt goes to a ``deliver_webhook`` job, where the rules of every
    attempt apply (a transient error: again later; a bug: the arq job fails).
    """
    started = time.monotonic()
    with structlog.contextvars.bound_contextvars(
        webhook_id=delivery.webhook_id, type=delivery.event_type, series=delivery.series, attempt=1
    ):
        try:
            outcome = await _attempt(ctx, delivery, delivery.series, attempt=1)
        except Exception as exc:
            if is_transient(exc):
                log.warning("webhook_attempt_handed_over", error=type(exc).__name__)
            else:
                log.exception("webhook_attempt_handed_over")
            return False
    metrics = worker_metrics(ctx)
    if metrics is not None and outcome in WEBHOOK_OUTCOMES:  # as instrument_webhook counts
        metrics.note_webhook(outcome=outcome, seconds=time.monotonic() - started)
    return True


async def resume_webhook(ctx: WorkerContext, job: JobRecord) -> None:
    """For a re-run that finds its job finished: make sure attempt 1 is made.

    The run that finished the job may have died before storing the webhook,
    during attempt 1, or after recording attempt 1 but before queueing attempt
    2. Queueing attempt 1 covers all three: that job makes the attempt, or finds
    it recorded and queues attempt 2 (its fixed arq job id makes that a no-op
    if it is queued already).
    """
    with _retried_when_transient():
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
        return await _attempt(ctx, delivery, series, attempt)
    except Exception as exc:
        if not is_transient(exc):
            raise
        delay = TRANSIENT_RETRY_DELAY * ctx["settings"].webhook_backoff_scale
        log.warning("webhook_attempt_retrying", error=type(exc).__name__)
        raise Retry(defer=delay) from exc
