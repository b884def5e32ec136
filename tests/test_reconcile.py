"""The reconciler repairs disagreements between Postgres and the arq queue."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from arq import ArqRedis
from arq.constants import job_key_prefix

from riskdrift.config import Settings
from riskdrift.models import AnalyzeRequest
from riskdrift.store import deliveries, jobs
from riskdrift.worker.context import WorkerContext
from riskdrift.worker.reconcile import reconcile
from riskdrift.worker.webhook_task import attempt_job_id
from tests.test_worker import ScriptedAgent, events_of, run, tiny_result

pytestmark = pytest.mark.integration


async def orphan(
    db: asyncpg.Pool,
    *,
    status: str = "queued",
    attempts: int = 0,
    age: str = "5 minutes",
    started_age: str | None = None,
    callback_url: str | None = None,
) -> uuid.UUID:
    """A job row with no queue entry, last touched ``age`` ago."""
    request = AnalyzeRequest(ticker="ACME", years=[2024, 2023], callback_url=callback_url)
    job, _ = await jobs.create_job(db, request, tenant="default")
    await db.execute(
        f"""UPDATE jobs SET status = $2, attempts = $3, updated_at = now() - interval '{age}',
                   started_at = CASE WHEN $2 = 'processing'
                                     THEN now() - interval '{started_age or age}' END
            WHERE id = $1""",
        job.id,
        status,
        attempts,
    )
    return job.id


async def test_reconcile(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    lost_queued = await orphan(db)
    lost_running = await orphan(db, status="processing", attempts=1)
    exhausted = await orphan(db, status="processing", attempts=settings.max_retries + 1)
    abandoned = await orphan(db, status="processing", attempts=1, started_age="2 days")
    fresh = await orphan(db, age="1 second")  # the API may still be enqueueing it
    enqueued = await orphan(db)
    await redis.enqueue_job(
        "analyze_risk_drift", str(enqueued), _job_id=str(enqueued), _queue_name=settings.queue_name
    )

    # Claimed by a worker that died before its heartbeat ran: arq's claim is 610 s long.
    claimed = await orphan(db, status="processing", attempts=1)
    await redis.enqueue_job(
        "analyze_risk_drift", str(claimed), _job_id=str(claimed), _queue_name=settings.queue_name
    )
    await redis.psetex(f"arq:in-progress:{claimed}", 610_000, b"1")

    counts = await reconcile(ctx)
    assert counts == {"requeued": 2, "failed": 2, "released": 1, "checked": 6}
    assert await redis.exists(f"arq:in-progress:{claimed}") == 0

    queue = {m.decode() for m in await redis.zrange(settings.queue_name, 0, -1)}
    assert queue == {str(lost_queued), str(lost_running), str(enqueued), str(claimed)}
    for job_id, reason in [
        (exhausted, f"workers stopped while running the job {settings.max_retries + 1} times"),
        (abandoned, "job exceeded every time limit and was abandoned"),
    ]:
        job = await jobs.get_job(db, job_id)
        assert job is not None
        assert (job.status, job.error) == ("failed", reason)
        assert await events_of(redis, job_id) == ["job_failed"]
    still = await jobs.get_job(db, fresh)
    assert still is not None
    assert still.status == "queued"

    # A second pass finds nothing more to do, and the re-enqueued jobs run to completion.
    assert (await reconcile(ctx))["requeued"] == 0

    async def finish(request, progress, n):  # type: ignore[no-untyped-def]
        return tiny_result(request)

    await run(ScriptedAgent(finish), settings)
    for job_id in (lost_queued, lost_running, enqueued, claimed):
        job = await jobs.get_job(db, job_id)
        assert job is not None
        assert job.status == "completed"


async def test_a_job_the_reconciler_fails_sends_its_failed_webhook(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    hook = "https://hooks.example/riskdrift"
    abandoned = await orphan(
        db, status="processing", attempts=1, started_age="2 days", callback_url=hook
    )
    exhausted = await orphan(
        db, status="processing", attempts=settings.max_retries + 1, callback_url=hook
    )
    silent = await orphan(db, status="processing", attempts=1, started_age="2 days")

    counts = await reconcile(ctx)
    assert counts["failed"] == 3

    for job_id in (abandoned, exhausted):
        delivery = await deliveries.get_delivery(db, job_id, "job.failed")
        assert delivery is not None
        assert (delivery.status, delivery.attempts, delivery.callback_url) == ("pending", 0, hook)
        assert b'"type":"job.failed"' in delivery.body.replace(b" ", b"")
        # attempt 1 waits in the queue as a deliver_webhook job
        assert await redis.exists(job_key_prefix + attempt_job_id(delivery, 1)) == 1
    assert await deliveries.get_delivery(db, silent, "job.failed") is None
