"""Webhook delivery routes: a job's deliveries with every attempt, and redelivery.

``GET /jobs/{id}/deliveries`` shows what the worker did with the job's webhook;
``POST /jobs/{id}/deliveries/redeliver`` sends the job's terminal webhook again
(same ``webhook-id``, same body) as a new attempt series. Both are scoped to
the caller's tenant through :func:`routes_jobs.load_job`.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

import structlog
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.api.routes_jobs import load_job, model_response
from riskdrift.api.spec import Answer, operation
from riskdrift.api.state import app_state
from riskdrift.errors import JobNotFound, NotRedeliverable
from riskdrift.models import WebhookAttempt, WebhookDelivery, WebhookDeliveryList
from riskdrift.store import deliveries
from riskdrift.store.deliveries import AttemptRecord, DeliveryRecord
from riskdrift.webhooks.outbox import enqueue_attempt, event_type_for, prepare_delivery

log = structlog.get_logger(__name__)


def delivery_view(delivery: DeliveryRecord, attempts: list[AttemptRecord]) -> WebhookDelivery:
    """The wire view of a delivery row and its attempts."""
    return WebhookDelivery.model_validate(
        {
            "delivery_id": delivery.id,
            "job_id": delivery.job_id,
            "type": delivery.event_type,
            "webhook_id": delivery.webhook_id,
            "status": delivery.status,
            "series": delivery.series,
            "attempt_count": delivery.attempts,
            "next_attempt_at": delivery.next_attempt_at,
            "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error,
            "delivered_at": delivery.delivered_at,
            "created_at": delivery.created_at,
            "updated_at": delivery.updated_at,
            "attempts": [WebhookAttempt.model_validate(a, from_attributes=True) for a in attempts],
        }
    )


@operation(
    "GET",
    "The job's webhook deliveries, each with every attempt",
    answers={200: Answer("deliveries and attempts", WebhookDeliveryList)},
    problems=(404,),
)
async def list_deliveries(request: Request) -> Response:
    """``GET /jobs/{id}/deliveries``: the job's webhook deliveries, each with its attempts."""
    job = await load_job(request)
    pool = app_state(request)["pool"]
    rows = await deliveries.list_deliveries(pool, job.id)
    by_delivery: dict[uuid.UUID, list[AttemptRecord]] = defaultdict(list)
    for attempt in await deliveries.list_attempts(pool, job.id):
        by_delivery[attempt.delivery_id].append(attempt)
    return model_response(
        WebhookDeliveryList(deliveries=[delivery_view(d, by_delivery[d.id]) for d in rows])
    )


@operation(
    "POST",
    "Send the finished job's webhook again",
    description=(
        "Same webhook-id and body as before, a new attempt series with the full retry "
        "schedule. 409 if the job is unfinished or cancelled, has no callback_url, or "
        "webhooks are not configured on this server."
    ),
    answers={202: Answer("redelivery queued", WebhookDelivery)},
    problems=(404, 409),
)
async def redeliver(request: Request) -> Response:
    """``POST /jobs/{id}/deliveries/redeliver``: send the terminal webhook again.

    Same ``webhook-id`` and body as before, a new attempt series with the full
    retry schedule; a series still retrying is superseded. ``409`` if the job
    is unfinished or cancelled, has no ``callback_url``, or webhooks are not
    configured on this server.
    """
    state = app_state(request)
    settings = state["settings"]
    job = await load_job(request)
    if event_type_for(job.status) is None:
        raise NotRedeliverable(
            f"job is {job.status.value}: only completed or failed jobs send webhooks"
        )
    if not job.callback_url:
        raise NotRedeliverable("the job has no callback_url")
    if not settings.webhook_secrets:
        raise NotRedeliverable("webhooks are not configured on this server")
    delivery = await prepare_delivery(state["pool"], settings, job)
    if delivery is None:  # unreachable after the checks above
        raise NotRedeliverable("the job has no webhook to send")
    restarted = await deliveries.start_series(state["pool"], delivery.id)
    if restarted is None:
        raise JobNotFound(f"no job {job.id}")
    await enqueue_attempt(state["redis"], settings, restarted, attempt=1)
    log.info(
        "webhook_redelivery_requested",
        job_id=str(job.id),
        webhook_id=restarted.webhook_id,
        series=restarted.series,
    )
    return model_response(delivery_view(restarted, []), 202)
