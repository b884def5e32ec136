"""Backfill: a newly watched company's history, submitted as a history batch (issue 24).

A watchlist with ``backfill_years: N`` asks, for each company, for the analyses of its
last ``N`` fiscal years (each against the year before) besides the watch of new filings.
At the company's first poll, once its latest 10-K's fiscal year ``Y`` is known, a
``history`` batch ``Y-N … Y`` is submitted: the batch ``POST /batches`` would make for
``{"ticker", "from_year": Y-N, "to_year": Y}``, stored in one transaction and enqueued in
one pipeline with the same writes as the batch routes make. Its idempotency key names the
watchlist and the company, so a poll that fails after it and runs again submits nothing
twice. Its jobs are the batch's (``GET /batches/{id}``), not the watch's.

The Redis writes repeat :func:`riskdrift.api.routes_batches._enqueue`'s; both belong in
the job lifecycle package once it exists.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
import structlog

from riskdrift.api.enqueue import ANALYSIS_TASK
from riskdrift.config import Settings
from riskdrift.events.batch_progress import queue_batch_links
from riskdrift.events.publish import make_event, queue_publish
from riskdrift.models import FIRST_FISCAL_YEAR, JobStatus
from riskdrift.ops import metrics
from riskdrift.queue import ArqRedis, queue_job
from riskdrift.store import batches
from riskdrift.store.batches import Pair
from riskdrift.store.watchlists import DueCompany

log = structlog.get_logger(__name__)


def backfill_pairs(ticker: str, latest: int, years: int) -> list[Pair]:
    """The pairs of a ``years``-year backfill ending with fiscal ``latest``, newest first."""
    first = max(latest - years, FIRST_FISCAL_YEAR)
    return [Pair(ticker, y, y - 1) for y in range(latest, first, -1)]


async def submit_backfill(
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    company: DueCompany,
    *,
    latest: int,
    years: int,
) -> uuid.UUID | None:
    """Submit the company's backfill as a history batch (module docstring); its id, or
    ``None`` when there is no pair to analyse or the batch was submitted before."""
    pairs = backfill_pairs(company.ticker, latest, years)
    if not pairs:
        return None
    request = {"ticker": company.ticker, "from_year": pairs[-1].previous, "to_year": latest}
    async with pool.acquire() as conn:
        new = await batches.create_batch(
            conn,
            pairs,
            tenant=company.tenant,
            kind="history",
            request=request,
            idempotency_key=f"watch-backfill:{company.watchlist_id}:{company.ticker}",
            request_hash=json.dumps(request, sort_keys=True),
        )
    if not new.created:
        return None
    ttl = settings.result_ttl
    try:
        async with redis.pipeline(transaction=False) as pipe:
            queue_batch_links(
                pipe,
                new.batch.id,
                ((job_id, company.ticker) for job_id in new.job_ids),
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
                    pipe, redis, ANALYSIS_TASK, str(job_id), job_id=str(job_id),
                    queue=settings.queue_name,
                )  # fmt: skip
            for _ in new.job_ids[1:]:
                metrics.count_job(pipe, settings.queue_name, metrics.JOBS_SUBMITTED)
            await metrics.execute_counted(pipe, settings.queue_name, metrics.JOBS_SUBMITTED)
    except Exception as exc:
        # The rows are queued with no queue entries: the reconciler enqueues them.
        log.warning("watch_backfill_enqueue_failed", batch_id=str(new.batch.id), error=repr(exc))
    log.info(
        "watch_backfill_submitted",
        batch_id=str(new.batch.id),
        watchlist_id=str(company.watchlist_id),
        ticker=company.ticker,
        pairs=len(pairs),
    )
    return new.batch.id
