"""Signed webhooks: signing (pure), the SSRF guard, delivery attempts and the retry schedule.

How a ``deliver_webhook`` task uses this package::

    # job.completed: the envelope around the job's stored result bytes, built per attempt
    # (outbox.delivery_body); job.failed: payload.to_bytes(), stored with the delivery row
    envelope = WebhookPayload.completed_envelope(job_id=..., ticker=..., years=...,
                                                 summary=..., counts=..., links=...,
                                                 at=finished_at)
    body = envelope.with_result_json(stored_result_bytes)   # or envelope.to_bytes(): thin
    msg_id = envelope.webhook_id           # fixed per job and event type

    # each run of the task (the client comes from the worker's on_startup:
    # create_delivery_client(); allowed from parse_allowed_networks(settings...))
    outcome = await deliver(client, callback_url, body, msg_id=msg_id,
                            secrets=settings.webhook_secrets, allowed=allowed,
                            timeout=settings.webhook_timeout)
    record(outcome)                        # delivered / status_code / error / duration_ms
    if not outcome.delivered and outcome.retry:
        delay = next_delay(attempt, outcome.retry_after)   # None: give up
        ...                                # re-enqueue with defer=delay

Modules: :mod:`.signing` (Standard Webhooks, payload model), :mod:`.ssrf`
(resolve once, refuse non-global addresses), :mod:`.delivery` (one attempt,
pinned to a checked IP), :mod:`.backoff` (the schedule). ``parse_retry_after`` is
:func:`riskdrift.queue.retrying.parse_retry_after`, re-exported.
"""

from riskdrift.errors import (
    CallbackResolutionError,
    InvalidWebhookSecret,
    UnsafeCallbackURL,
    WebhookVerificationError,
)
from riskdrift.queue.retrying import parse_retry_after
from riskdrift.webhooks.backoff import (
    BACKOFF_SCHEDULE,
    MAX_ATTEMPTS,
    backoff_schedule,
    next_delay,
)
from riskdrift.webhooks.delivery import (
    DeliveryClient,
    DeliveryOutcome,
    attempt_delivery,
    create_delivery_client,
    deliver,
)
from riskdrift.webhooks.signing import (
    WebhookJobData,
    WebhookPayload,
    generate_secret,
    parse_secret,
    sign,
    verify,
    webhook_headers,
    webhook_id,
)
from riskdrift.webhooks.ssrf import (
    ResolvedTarget,
    parse_allowed_networks,
    refusal_reason,
    resolve_callback,
    system_resolver,
)

__all__ = [
    "BACKOFF_SCHEDULE",
    "MAX_ATTEMPTS",
    "CallbackResolutionError",
    "DeliveryClient",
    "DeliveryOutcome",
    "InvalidWebhookSecret",
    "ResolvedTarget",
    "UnsafeCallbackURL",
    "WebhookJobData",
    "WebhookPayload",
    "WebhookVerificationError",
    "attempt_delivery",
    "backoff_schedule",
    "create_delivery_client",
    "deliver",
    "generate_secret",
    "next_delay",
    "parse_allowed_networks",
    "parse_retry_after",
    "parse_secret",
    "refusal_reason",
    "resolve_callback",
    "sign",
    "system_resolver",
    "verify",
    "webhook_headers",
    "webhook_id",
]
