"""The one job lifecycle (riskdrift/jobs) over real Postgres and Redis: whoever changes a
job's state, its batch hears of it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import pytest
from arq import ArqRedis

import riskdrift.jobs as lifecycle
from riskdrift.config import Settings
from riskdrift.events.batch_progress import queue_batch_links
from riskdrift.queue.keys import batch_counts_key, batch_stream_key
from riskdrift.store import batches, jobs
from riskdrift.store.batches import Pair
from riskdrift.worker.context import WorkerContext
from riskdrift.worker.reconcile import reconcile

pytestmark = pytest.mark.integration


async def new_batch(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> batches.NewBatch:
    """A batch of two queued jobs with its Redis links, as ``POST /batches`` writes them
    (without the arq jobs: the reconciler finds nothing behind them)."""
    pairs = [Pair("ACME", 2024, 2023), Pair("BETA", 2024, 2023)]
    async with db.acquire() as conn:
        new = await batches.create_batch(conn, pairs, tenant="default", kind="universe", request={})
    async with redis.pipeline(transaction=False) as pipe:
        tickers = (p.ticker for p in pairs)
        links = zip(new.job_ids, tickers, strict=True)
        queue_batch_links(pipe, new.batch.id, links, total=2, ttl=settings.result_ttl)
        await pipe.execute()
    return new


async def abandon(db: asyncpg.Pool, job_id: uuid.UUID, attempts: int) -> None:
    """The job ran ``attempts`` times and its worker died: processing, untouched for long."""
    await db.execute(
        """UPDATE jobs SET status = 'processing', attempts = $2,
                  started_at = now() - interval '5 minutes',
                  updated_at = now() - interval '5 minutes'
           WHERE id = $1""",
        job_id,
        attempts,
    )


async def batch_events(redis: ArqRedis, batch_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    entries = await redis.xrange(batch_stream_key(batch_id))
    return [(f[b"event"].decode(), json.loads(f[b"data"])) for _, f in entries]


async def test_a_job_of_a_batch_failed_by_the_reconciler_reaches_the_batchs_stream_and_counts(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    new = await new_batch(db, redis, settings)
    first, second = new.job_ids
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    exhausted = settings.max_retries + 1
    await abandon(db, first, exhausted)  # the second is fresh: the API may be enqueueing it

    counts = await reconcile(ctx)

    assert counts["failed"] == 1
    failed = await jobs.get_job(db, first)
    assert failed is not None
    assert failed.status.value == "failed"
    events = await batch_events(redis, new.batch.id)
    assert [(name, data["job_id"], data["status"]) for name, data in events] == [
        ("batch_progress", str(first), "failed")
    ]
    reported = events[0][1]
    assert reported["error"] == failed.error
    assert reported["counts"]["failed"] == 1
    assert reported["counts"]["queued"] == 1
    assert (reported["finished"], reported["progress"]) == (1, 50)
    stored = await redis.hgetall(batch_counts_key(new.batch.id))
    assert (int(stored[b"failed"]), int(stored[b"queued"])) == (1, 1)
    batch = await batches.get_batch(db, new.batch.id)
    assert batch is not None
    assert batch.finished_at is None

    # The batch's last job failed by the reconciler ends the batch: its stream says so and
    # its row is marked finished.
    await abandon(db, second, exhausted)
    assert (await reconcile(ctx))["failed"] == 1
    events = await batch_events(redis, new.batch.id)
    assert [name for name, _ in events] == ["batch_progress", "batch_progress", "batch_completed"]
    assert events[-1][1]["counts"]["failed"] == 2
    batch = await batches.get_batch(db, new.batch.id)
    assert batch is not None
    assert batch.finished_at is not None
    # The stream's counts are the rows' counts (what GET /batches/{id} shows).
    in_postgres = await batches.state_counts(db, new.batch.id)
    assert events[-1][1]["counts"] == {status.value: n for status, n in in_postgres.items()}


async def test_a_job_of_a_batch_cancelled_on_its_own_reaches_the_batchs_stream_and_counts(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    """``POST /jobs/{id}/cancel`` of a queued job of a batch: arq drops the queued entry
    without running the task, so the batch hears of it from the cancel itself."""
    new = await new_batch(db, redis, settings)
    first, second = new.job_ids

    cancelled = await lifecycle.cancel(
        first, tenant="default", pool=db, redis=redis, settings=settings
    )

    assert cancelled is not None
    events = await batch_events(redis, new.batch.id)
    assert [(name, data["job_id"], data["status"]) for name, data in events] == [
        ("batch_progress", str(first), "cancelled")
    ]
    assert events[0][1]["error"] == cancelled.error
    stored = await redis.hgetall(batch_counts_key(new.batch.id))
    assert (int(stored[b"cancelled"]), int(stored[b"queued"])) == (1, 1)
    # Cancelling it again changes nothing; the batch's last job cancelled ends the batch.
    again = await lifecycle.cancel(first, tenant="default", pool=db, redis=redis, settings=settings)
    assert again is None
    assert await lifecycle.cancel(second, tenant="default", pool=db, redis=redis, settings=settings)
    events = await batch_events(redis, new.batch.id)
    assert [name for name, _ in events] == ["batch_progress", "batch_progress", "batch_completed"]
    batch = await batches.get_batch(db, new.batch.id)
    assert batch is not None
    assert batch.finished_at is not None
