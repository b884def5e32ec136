"""Announcing the analyses the watch started: the ``filing.analysed`` webhook and the
watchlist's event stream (issue 24).

Every tick of the announcing cron (``min(watch tick, 5)`` seconds) calls
:func:`announce_ended`: the watch jobs that ended since the last tick are claimed once
(:func:`riskdrift.store.watchlists.claim_ended_jobs` marks them announced in the
statement that selects them), and for each:

- with the watchlist's ``callback_url``, a signed ``filing.analysed`` webhook is stored
  as a delivery row of the job and its attempt 1 queued: the same Standard Webhooks
  delivery, retries, log and redelivery as a job's own webhook (``deliver_webhook``);
- a ``filing_analysed`` entry is appended to the watchlist's Redis Stream, which
  ``GET /stream/watchlists/{id}`` serves as resumable Server-Sent Events.

An announcement follows its job's end by at most one tick of that cron (5 s). The body
carries the figures a follower ranks by (similarities, risk counts) and links to the
result, never a second copy of the result itself.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import structlog

from riskdrift.config import Settings
from riskdrift.queue import ArqRedis
from riskdrift.queue.keys import watchlist_stream_key
from riskdrift.store import deliveries, watchlists
from riskdrift.store.pool import Pool
from riskdrift.store.watchlists import EndedWatchJob
from riskdrift.webhooks.outbox import enqueue_attempt, public_base_url

log = structlog.get_logger(__name__)

FILING_ANALYSED = "filing.analysed"
STREAM_EVENT = "filing_analysed"
BATCH = 500


def announcement(settings: Settings, ended: EndedWatchJob) -> dict[str, Any]:
    """The ``data`` of a ``filing.analysed`` webhook and of its stream event."""
    base = public_base_url(settings)
    job = f"{base}/jobs/{ended.job_id}"
    return {
        "watchlist_id": str(ended.watchlist_id),
        "watchlist": ended.watchlist_name,
        "ticker": ended.ticker,
        "filing": {"key": ended.filing_key, "form": ended.form, "fiscal_year": ended.fiscal_year},
        "job_id": str(ended.job_id),
        "years": list(ended.years),
        "status": ended.status,
        "error": ended.error,
        "similarity": ended.similarity,
        "risks": ended.risks,
        "links": {
            "job": job,
            "result": f"{job}/result",
            "report": f"{job}/report",
            "watchlist": f"{base}/watchlists/{ended.watchlist_id}",
        },
    }


def webhook_body(settings: Settings, ended: EndedWatchJob) -> bytes:
    """The webhook's exact bytes: ``{"type", "timestamp", "data"}`` as every riskdrift
    webhook, ``timestamp`` when the analysis ended."""
    at = ended.finished_at or dt.datetime.now(dt.UTC)
    data = announcement(settings, ended)
    body = {"type": FILING_ANALYSED, "timestamp": at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":")).encode()


async def announce_ended(pool: Pool, redis: ArqRedis, settings: Settings) -> int:
    """Announce every watch job that ended and was not announced yet; how many were."""
    ended = await watchlists.claim_ended_jobs(pool, limit=BATCH)
    if not ended:
        return 0
    # Webhooks first (rows in Postgres; their attempts are arq jobs with fixed ids).
    for item in ended:
        if not item.callback_url:
            continue
        delivery, _ = await deliveries.create_delivery(
            pool,
            job_id=item.job_id,
            event_type=FILING_ANALYSED,
            webhook_id=f"msg_filing_{item.job_id.hex}",
            callback_url=item.callback_url,
            body=webhook_body(settings, item),
        )
        await enqueue_attempt(redis, settings, delivery, attempt=1)
    async with redis.pipeline(transaction=False) as pipe:
        for item in ended:
            key = watchlist_stream_key(item.watchlist_id)
            data = {"event": STREAM_EVENT, **announcement(settings, item)}
            pipe.xadd(
                key,
                {"event": STREAM_EVENT, "data": json.dumps(data, separators=(",", ":"))},
                maxlen=settings.stream_maxlen,
                approximate=True,
            )
            pipe.expire(key, settings.result_ttl)
        await pipe.execute()
    for item in ended:
        log.info(
            "watch_filing_analysed",
            job_id=str(item.job_id),
            watchlist_id=str(item.watchlist_id),
            ticker=item.ticker,
            status=item.status,
            webhook=bool(item.callback_url),
        )
    return len(ended)
