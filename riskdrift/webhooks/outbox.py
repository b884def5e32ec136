"""The webhook outbox: what a finished job sends, when each attempt runs, what it made.

The domain logic of a job's terminal webhook, independent of who runs it (the
analysis task's first attempt, a ``deliver_webhook`` arq job, the reconciler,
the redeliver route):

- payload building: a ``job.completed`` delivery stores no body (:func:`completed_webhook`,
  :func:`prepare_delivery`): :func:`delivery_body` builds it at each attempt from the
  job's one stored result, spliced into the envelope as its bytes are (the result is
  never re-serialised nor copied into the outbox), or leaves it out for a thin webhook
  (``callback_payload: "thin"``); a ``job.failed`` body (small) is built once by
  :func:`build_payload` and stored;
- attempt scheduling: :func:`enqueue_attempt` queues attempt ``n`` of a series
  as the arq job ``webhook:<webhook-id>:<series>:<n>`` (so it is queued at most
  once however often this runs), :func:`queue_first_attempt` for code that
  revisits a finished job;
- outcome classification: :func:`classify` maps a :class:`DeliveryOutcome` and
  the attempt number to the delivery's new state and the delay before the next
  attempt (the schedule of :func:`riskdrift.webhooks.next_delay`, scaled);
- :func:`make_attempt`: one attempt of a stored delivery, recorded in Postgres
  with its follow-up queued, skipping duplicates and superseded series.

Transport-level retry of the calling arq job (Postgres or Redis down) is the
worker's business: :mod:`riskdrift.worker.webhook_task`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import structlog

from riskdrift.config import Settings
from riskdrift.errors import ConfigurationError
from riskdrift.models import AnalysisResult, JobLinks, JobStatus, RiskCounts
from riskdrift.queue import ArqRedis, enqueue
from riskdrift.store import deliveries, results
from riskdrift.store.deliveries import AttemptOutcome, DeliveryRecord, NewDelivery
from riskdrift.store.jobs import JobRecord
from riskdrift.store.pool import Executor
from riskdrift.webhooks.backoff import next_delay
from riskdrift.webhooks.delivery import DeliveryClient, DeliveryOutcome, deliver
from riskdrift.webhooks.signing import EventType, WebhookPayload, webhook_id
from riskdrift.webhooks.ssrf import Resolver, parse_allowed_networks, system_resolver

log = structlog.get_logger(__name__)

TASK_NAME = "deliver_webhook"
NOT_CONFIGURED = "webhooks are not configured on this server (no RISKDRIFT_WEBHOOK_SECRETS)"

# What one call of make_attempt made of the attempt (the arq job's result).
AttemptResult = Literal[
    "delivered", "gone", "refused", "failed", "retrying", "skipped", "duplicate"
]


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
    return JobLinks.for_job(job_id, public_base_url(settings))


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


def completed_webhook(job: JobRecord) -> NewDelivery | None:
    """The ``job.completed`` webhook of ``job``, to be stored by the statement that
    completes it (no body: :func:`delivery_body` builds it from the stored result when
    it is sent); ``None`` if the job has no ``callback_url``."""
    if not job.callback_url:
        return None
    return NewDelivery("job.completed", webhook_id(job.id, "job.completed"), job.callback_url, None)


async def delivery_body(db: Executor, settings: Settings, delivery: DeliveryRecord) -> bytes:
    """The bytes an attempt of ``delivery`` signs and sends: the stored body, or, for a
    ``job.completed`` delivery, the envelope built now from the job's row with its stored
    result's bytes in it (none for a thin webhook). The same bytes at every attempt."""
    if delivery.body is not None:
        return delivery.body
    source = await results.webhook_source(db, delivery.job_id)
    if source is None:
        raise ValueError(f"job {delivery.job_id} has no stored result to send")
    envelope = WebhookPayload.completed_envelope(
        job_id=delivery.job_id,
        ticker=source.ticker,
        years=list(source.years),
        summary=source.summary,
        counts=RiskCounts(**source.counts),
        links=absolute_links(settings, delivery.job_id),
        at=source.finished_at,
    )
    if source.result_json is None:  # thin
        return envelope.to_bytes()
    return envelope.with_result_json(source.result_json)


async def prepare_delivery(
    db: Executor, settings: Settings, job: JobRecord
) -> DeliveryRecord | None:
    """Store the job's terminal webhook once; ``None`` if the job sends none.

    A ``job.completed`` row keeps no body (:func:`delivery_body` builds it from the
    stored result at each attempt); a ``job.failed`` row keeps its body, built here
    once. On a re-run the stored row comes back unchanged.
    """
    event_type = event_type_for(job.status)
    if event_type is None or not job.callback_url:
        return None
    body = None
    if event_type == "job.completed":
        # Only a re-run or the reconciler gets here (a fresh finish stores the row with
        # its completion): a job whose result is gone sends nothing, as it cannot.
        existing = await deliveries.get_delivery(db, job.id, event_type)
        if existing is not None:
            return existing
        if not await results.has_result(db, job.id):
            raise ValueError(f"completed job {job.id} has no result to send")
    else:
        body = build_payload(settings, job, None).to_bytes()
    delivery, _ = await deliveries.create_delivery(
        db,
        job_id=job.id,
        event_type=event_type,
        webhook_id=webhook_id(job.id, event_type),
        callback_url=job.callback_url,
        body=body,
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
    """Queue attempt ``attempt`` of the delivery's current series on the webhooks queue
    (a no-op if already queued)."""
    await enqueue(
        redis,
        TASK_NAME,
        str(delivery.job_id),
        delivery.event_type,
        delivery.series,
        attempt,
        job_id=attempt_job_id(delivery, attempt),
        queue=settings.webhooks_queue_name,
        defer_by=defer_by,
    )


async def queue_first_attempt(
    db: Executor, redis: ArqRedis, settings: Settings, job: JobRecord
) -> DeliveryRecord | None:
    """Store a finished job's webhook (once) and queue attempt 1 as a ``deliver_webhook``
    job, unless attempt 2 was already made; the delivery, or ``None`` if nothing was queued.

    For code that finishes or revisits a job without making the attempt itself (a
    re-run, the reconciler). Queueing attempt 1 again is harmless: its fixed arq job
    id makes it a no-op while queued, and a made attempt is skipped as a duplicate.
    """
    if not job.callback_url or event_type_for(job.status) is None:
        return None
    delivery = await prepare_delivery(db, settings, job)
    if delivery is None or delivery.status != "pending" or delivery.attempts > 1:
        return None
    await enqueue_attempt(redis, settings, delivery, attempt=1)
    return delivery


def classify(outcome: DeliveryOutcome, attempt: int, scale: float) -> tuple[AttemptOutcome, float]:
    """What attempt ``attempt`` makes of the delivery, and the delay before the next one.

    2xx delivers; ``410`` is ``gone``; any other outcome that must not be retried
    (a refused URL) is ``refused``; the rest retry on the backoff schedule (at
    least ``Retry-After``), times ``scale``, until it runs out: ``failed``.
    """
    if outcome.delivered:
        return "delivered", 0.0
    if not outcome.retry:
        return ("gone" if outcome.status_code == 410 else "refused"), 0.0
    delay = next_delay(attempt, outcome.retry_after)
    if delay is None:
        return "failed", 0.0
    return "retrying", delay * scale


async def make_attempt(
    db: Executor,
    redis: ArqRedis,
    settings: Settings,
    delivery: DeliveryRecord,
    *,
    series: int,
    attempt: int,
    client: DeliveryClient,
    resolver: Resolver = system_resolver,
) -> AttemptResult:
    """Attempt ``attempt`` of ``series`` of ``delivery`` (as the caller read it), and what
    became of it; the next attempt is queued when this one asks for a retry.

    Idempotent per (series, attempt): an attempt already recorded is a
    ``duplicate`` (its follow-up is queued again in case the run that recorded it
    died first), one of another series or out of order is ``skipped``.
    """
    if delivery.series != series or delivery.status != "pending":
        log.info("webhook_attempt_skipped", status=delivery.status, current_series=delivery.series)
        return "skipped"
    if delivery.attempts >= attempt:
        # An earlier run recorded this attempt; if it died before queueing the
        # next one, queue it now (the arq job id makes this a no-op otherwise).
        if delivery.attempts == attempt and delivery.next_attempt_at is not None:
            wait = (delivery.next_attempt_at - dt.datetime.now(dt.UTC)).total_seconds()
            await enqueue_attempt(
                redis, settings, delivery, attempt=attempt + 1, defer_by=max(0.0, wait)
            )
        log.info("webhook_attempt_duplicate")
        return "duplicate"
    if delivery.attempts != attempt - 1:
        log.warning("webhook_attempt_out_of_order", recorded=delivery.attempts)
        return "skipped"
    if not settings.webhook_secrets:
        await deliveries.fail_delivery(db, delivery.id, series=series, error=NOT_CONFIGURED)
        log.error("webhook_not_configured")
        return "failed"

    try:
        body = await delivery_body(db, settings, delivery)
    except ValueError as exc:  # the job's result is gone (it cannot come back)
        await deliveries.fail_delivery(db, delivery.id, series=series, error=str(exc))
        log.error("webhook_without_result", error=str(exc))
        return "failed"
    try:
        outcome = await deliver(
            client,
            delivery.callback_url,
            body,
            msg_id=delivery.webhook_id,
            secrets=settings.webhook_secrets,
            allowed=parse_allowed_networks(settings.webhook_allowed_cidrs),
            timeout=settings.webhook_timeout,
            resolver=resolver,
        )
    except ConfigurationError as exc:  # a malformed secret; the message never contains it
        await deliveries.fail_delivery(db, delivery.id, series=series, error=str(exc))
        log.error("webhook_not_configured", error=str(exc))
        return "failed"

    result, delay = classify(outcome, attempt, settings.webhook_backoff_scale)
    next_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
    updated = await deliveries.record_attempt(
        db,
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
        await enqueue_attempt(redis, settings, updated, attempt=attempt + 1, defer_by=delay)
    log.info(
        "webhook_attempt_recorded",
        outcome=result,
        status_code=outcome.status_code,
        defer_s=round(delay, 3) if result == "retrying" else None,
    )
    return result
