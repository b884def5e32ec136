"""Backfill: a newly watched company's history, submitted as a history batch (issue 24).

A watchlist with ``backfill_years: N`` asks, for each company, for the analyses of its
last ``N`` fiscal years (each against the year before) besides the watch of new filings.
At the company's first poll, once its latest 10-K's fiscal year ``Y`` is known, a
``history`` batch ``Y-N … Y`` is submitted: the batch ``POST /batches`` would make for
``{"ticker", "from_year": Y-N, "to_year": Y}``, stored in one transaction and enqueued in
one pipeline by the job lifecycle's :func:`riskdrift.jobs.batches.submit_batch`, as the
batch routes do. Its idempotency key names the watchlist and the company, so a poll that
fails after it and runs again submits nothing twice (a submission that fails leaves
nothing behind and is made again by the next poll). Its jobs are the batch's
(``GET /batches/{id}``), not the watch's.
"""

from __future__ import annotations

import json
import uuid

import asyncpg
import structlog

from riskdrift.config import Settings
from riskdrift.jobs.batches import submit_batch
from riskdrift.models import FIRST_FISCAL_YEAR
from riskdrift.queue import ArqRedis
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
    new = await submit_batch(
        pairs,
        tenant=company.tenant,
        kind="history",
        request=request,
        callback_url=None,
        idempotency_key=f"watch-backfill:{company.watchlist_id}:{company.ticker}",
        request_hash=json.dumps(request, sort_keys=True),
        max_queued=None,
        pool=pool,
        redis=redis,
        settings=settings,
    )
    if not new.created:
        return None
    log.info(
        "watch_backfill_submitted",
        batch_id=str(new.batch.id),
        watchlist_id=str(company.watchlist_id),
        ticker=company.ticker,
        pairs=len(pairs),
    )
    return new.batch.id
