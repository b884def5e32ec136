"""The ``deliver_webhook`` task and the glue that makes a finished job's first attempt.

A job's first attempt is made by the task that finished the job, right after
its terminal UPDATE: one arq job per finished job instead of two. Every later
attempt is its own arq job on the analysis queue, with the arq job id
``webhook:<webhook-id>:<series>:<attempt>`` so each attempt is enqueued once
however often the code that enqueues it runs. A failed attempt enqueues the
next one itself with ``_defer_by`` from the retry schedule
(:func:`riskdrift.webhooks.next_delay`, times ``Settings.webhook_backoff_scale``):
a day-long schedule never holds a worker slot or depends on arq's ``max_tries``.

Flow::

    analyze_risk_drift ── terminal UPDATE ok ──▶ schedule_webhook(job, deadline)
        store the body once (webhook_deliveries; a completed job's is stored by
        the statement that completes it, a failed job's here)
        attempt 1 here, in the analysis task: _deliver(delivery, attempt=1)
        too little of arq's timeout left, or any error before the attempt is
        recorded and its follow-up queued → enqueue attempt 1 as deliver_webhook
    analyze_risk_drift re-run of a finished job ──▶ resume_webhook(job)
        store the body if a crash lost it; while pending with attempt 2 not made,
        enqueue attempt 1 (that job makes it, or finds it made and queues attempt 2)
    deliver_webhook(job_id, event_type, series, attempt)
        load the delivery, then _deliver(delivery, attempt):
        skip unless the delivery is pending in this series at attempt - 1 attempts
        deliver(): re-resolve + SSRF check once, sign now, POST the stored bytes
        record the attempt and the delivery's new state in one statement
        2xx → delivered · 410 → gone · unsafe URL → refused
        otherwise → enqueue attempt + 1 after the backoff, or failed after MAX_ATTEMPTS

A redelivery (``POST /jobs/{id}/deliveries/redeliver``) starts the next series
on the same row: same ``webhook-id``, same body, attempts counted from 1 again;
its attempt 1 is a ``deliver_webhook`` job.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
import uuid
from collections.abc import Iterator

import structlog
from arq import ArqRedis, Retry

from riskdrift.config import Settings
from riskdrift.errors import ConfigurationError
from riskdrift.models import AnalysisResult, JobLinks, JobStatus
from riskdrift.ops.worker import WEBHOOK_OUTCOMES, worker_metrics
from riskdrift.store import deliveries, results
from riskdrift.store.deliveries import AttemptOutcome, DeliveryRecord, NewDelivery
from riskdrift.store.jobs import JobRecord
from riskdrift.store.pool import Executor
from riskdrift.webhooks import (
    DeliveryOutcome,
    WebhookPayload,
    deliver,
    next_delay,
    parse_allowed_networks,
    system_resolver,
)
from riskdrift.webhooks.signing import EventType
from riskdrift.worker.context import WorkerContext
from riskdrift.worker.retry import is_transient

log = structlog.get_logger(__name__)

TASK_NAME = "deliver_webhook"
NOT_CONFIGURED = "webhooks are not configured on this server (no RISKDRIFT_WEBHOOK_SECRETS)"
TRANSIENT_RETRY_DELAY = 5.0  # seconds, before the backoff scale: Postgres or Redis hiccups
# Attempt 1 runs in the analysis task only if, besides webhook_timeout for the attempt
# itself, this much of arq's timeout is left for recording it and queueing attempt 2.
INLINE_ATTEMPT_MARGIN = 10.0  # seconds


def event_type_for(status: JobStatus) -> EventType | None:
    """The webhook a job in ``status`` sends: only completed and failed jobs send one."""
    if status is JobStatus.COMPLETED:
        return "job.completed"
    if status is JobStatus.FAILED:
        return "job.failed"
    return None


def public_base_url(settings: Settings) -> str:
    """Base of absolute links: ``public_url``, else the API's own host and port."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return f"http://{settings.api_host}:{settings.api_port}"


def absolute_links(settings: Settings, job_id: uuid.UUID) -> JobLinks:
    """The job's links as absolute URLs, for receivers outside the API's origin."""
    base = public_base_url(settings)
    return JobLinks(
        self=f"{base}/jobs/{job_id}",
        stream=f"{base}/stream/{job_id}",
        result=f"{base}/jobs/{job_id}/result",
    )


def build_payload(
    settings: Settings, job: JobRecord, result: AnalysisResult | None
) -> WebhookPayload:
    """The terminal webhook of a finished job (``result`` is required when completed)."""
    links = absolute_links(settings, job.id)
    at = job.finished_at or dt.datetime.now(dt.UTC)
    if job.status is JobStatus.COMPLETED:
        if result is None:
            raise ValueError(f"completed job {job.id} has no result to send")
        return WebhookPayload.completed(job_id=job.id, result=result, links=links, at=at)
    if job.status is JobStatus.FAILED:
        return WebhookPayload.failed(
            job_id=job.id,
            ticker=job.ticker,
            years=list(job.years),
            error=job.error or "the job failed",
            links=links,
            at=at,
        )
    raise ValueError(f"job {job.id} is {job.status.value}: no terminal webhook")


def completed_webhook(
    settings: Settings, job: JobRecord, result: AnalysisResult, at: dt.datetime
) -> NewDelivery | None:
    """The ``job.completed`` webhook of ``job`` finishing at ``at``, to be stored by the
    statement that completes it; ``None`` if the job has no ``callback_url``. The same
    bytes as :func:`build_payload` makes from the completed row."""
    if not job.callback_url:
        return None
    links = absolute_links(settings, job.id)
    payload = WebhookPayload.completed(job_id=job.id, result=result, links=links, at=at)
    return NewDelivery("job.completed", payload.webhook_id, job.callback_url, payload.to_bytes())


async def prepare_delivery(
    db: Executor, settings: Settings, job: JobRecord, result: AnalysisResult | None = None
) -> DeliveryRecord | None:
    """Store the job's terminal webhook once; ``None`` if the job sends none.

    On a re-run the stored row (and its body) comes back unchanged, so every
    attempt and redelivery sends the bytes built the first time.
    """
    event_type = event_type_for(job.status)
    if event_type is None or not job.callback_url:
        return None
    if event_type == "job.completed" and result is None:
        # Only a re-run gets here (a fresh finish passes its result): look for the stored
        # row before reading the result back. Otherwise the INSERT below finds it itself.
        existing = await deliveries.get_delivery(db, job.id, event_type)
        if existing is not None:
            return existing
        result = await results.get_result(db, job.id)
    payload = build_payload(settings, job, result)
    delivery, _ = await deliveries.create_delivery(
        db,
        job_id=job.id,
        event_type=event_type,
        webhook_id=payload.webhook_id,
        callback_url=job.callback_url,
        body=payload.to_bytes(),
    )
    return delivery


def attempt_job_id(delivery: DeliveryRecord, attempt: int) -> str:
    """arq job id of one attempt: enqueued at most once per (webhook, series, attempt)."""
    return f"webhook:{delivery.webhook_id}:{delivery.series}:{attempt}"


async def enqueue_attempt(
    redis: ArqRedis,
    settings: Settings,
    delivery: DeliveryRecord,
    *,
    attempt: int,
    defer_by: float | None = None,
) -> None:
    """Queue attempt ``attempt`` of the delivery's current series (a no-op if already queued)."""
    await redis.enqueue_job(
        TASK_NAME,
        str(delivery.job_id),
        delivery.event_type,
        delivery.series,
        attempt,
        _job_id=attempt_job_id(delivery, attempt),
        _queue_name=settings.queue_name,
        _defer_by=defer_by,
    )


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
            delivery = await prepare_delivery(ctx["pool"], settings, job, result)
        if delivery is None:
            return
        time_left = deadline - asyncio.get_running_loop().time()
        fits = time_left >= settings.webhook_timeout + INLINE_ATTEMPT_MARGIN
        if fits and await _attempt_here(ctx, delivery):
            return
        await enqueue_attempt(ctx["redis"], settings, delivery, attempt=1)
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
            outcome = await _deliver(ctx, delivery, delivery.series, attempt=1)
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
    """Store a finished job's webhook (once) and queue attempt 1 as a ``deliver_webhook``
    job, unless attempt 2 was already made; the delivery, or ``None`` if nothing was queued.

    For code that finishes or revisits a job without making the attempt itself (a
    re-run, the reconciler). Queueing attempt 1 again is harmless: its fixed arq job
    id makes it a no-op while queued, and a made attempt is skipped as a duplicate.
    """
    if not job.callback_url or event_type_for(job.status) is None:
        return None
    delivery = await prepare_delivery(ctx["pool"], ctx["settings"], job)
    if delivery is None or delivery.status != "pending" or delivery.attempts > 1:
        return None
    await enqueue_attempt(ctx["redis"], ctx["settings"], delivery, attempt=1)
    return delivery


def _classify(outcome: DeliveryOutcome, attempt: int, scale: float) -> tuple[AttemptOutcome, float]:
    """What the attempt makes of the delivery, and the delay before the next attempt."""
    if outcome.delivered:
        return "delivered", 0.0
    if not outcome.retry:
        return ("gone" if outcome.status_code == 410 else "refused"), 0.0
    delay = next_delay(attempt, outcome.retry_after)
    if delay is None:
        return "failed", 0.0
    return "retrying", delay * scale


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
        return await _deliver(ctx, delivery, series, attempt)
    except Exception as exc:
        if not is_transient(exc):
            raise
        delay = TRANSIENT_RETRY_DELAY * ctx["settings"].webhook_backoff_scale
        log.warning("webhook_attempt_retrying", error=type(exc).__name__)
        raise Retry(defer=delay) from exc


async def _deliver(ctx: WorkerContext, delivery: DeliveryRecord, series: int, attempt: int) -> str:
    """Attempt ``attempt`` of ``series`` of ``delivery`` (as the caller read it), and what
    became of it; the next attempt is queued when this one asks for a retry."""
    settings = ctx["settings"]
    pool = ctx["pool"]
    if delivery.series != series or delivery.status != "pending":
        log.info("webhook_attempt_skipped", status=delivery.status, current_series=delivery.series)
        return "skipped"
    if delivery.attempts >= attempt:
        # An earlier run recorded this attempt; if it died before queueing the
        # next one, queue it now (the arq job id makes this a no-op otherwise).
        if delivery.attempts == attempt and delivery.next_attempt_at is not None:
            wait = (delivery.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds()
            await enqueue_attempt(
                ctx["redis"], settings, delivery, attempt=attempt + 1, defer_by=max(0.0, wait)
            )
        log.info("webhook_attempt_duplicate")
        return "duplicate"
    if delivery.attempts != attempt - 1:
        log.warning("webhook_attempt_out_of_order", recorded=delivery.attempts)
        return "skipped"
    if not settings.webhook_secrets:
        await deliveries.fail_delivery(pool, delivery.id, series=series, error=NOT_CONFIGURED)
        log.error("webhook_not_configured")
        return "failed"

    try:
        outcome = await deliver(
            ctx["webhook_client"],
            delivery.callback_url,
            delivery.body,
            msg_id=delivery.webhook_id,
            secrets=settings.webhook_secrets,
            allowed=parse_allowed_networks(settings.webhook_allowed_cidrs),
            timeout=settings.webhook_timeout,
            resolver=ctx.get("webhook_resolver", system_resolver),
        )
    except ConfigurationError as exc:  # a malformed secret; the message never contains it
        await deliveries.fail_delivery(pool, delivery.id, series=series, error=str(exc))
        log.error("webhook_not_configured", error=str(exc))
        return "failed"

    result, delay = _classify(outcome, attempt, settings.webhook_backoff_scale)
    next_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
    updated = await deliveries.record_attempt(
        pool,
        delivery.id,
        series=series,
        attempt=attempt,
        outcome=result,
        duration_ms=outcome.duration_ms,
        status_code=outcome.status_code,
        error=outcome.error,
        address=outcome.address,
        next_attempt_at=next_at if result == "retrying" else None,
    )
    if updated is None:
        log.info("webhook_attempt_superseded")
        return "skipped"
    if result == "retrying":
        await enqueue_attempt(ctx["redis"], settings, updated, attempt=attempt + 1, defer_by=delay)
    log.info(
        "webhook_attempt_recorded",
        outcome=result,
        status_code=outcome.status_code,
        defer_s=round(delay, 3) if result == "retrying" else None,
    )
    return result
