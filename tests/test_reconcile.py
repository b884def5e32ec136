"""The reconciler repairs disagreements between Postgres and the arq queue."""

from __future__ import annotations

import datetime as dt
import time
import uuid

import asyncpg
import pytest
import structlog
from arq import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix
from arq.jobs import Job
from pydantic import SecretStr

from riskdrift.config import Settings
from riskdrift.models import AnalyzeRequest, JobStatus
from riskdrift.store import deliveries, jobs
from riskdrift.store.deliveries import DeliveryRecord
from riskdrift.webhooks.backoff import MAX_ATTEMPTS
from riskdrift.worker import serialization
from riskdrift.worker.context import WorkerContext
from riskdrift.worker.reconcile import EXHAUSTED, reconcile
from riskdrift.worker.webhook_task import attempt_job_id, enqueue_attempt, prepare_delivery
from tests.conftest import free_port, serve
from tests.doubles import SECRET, ScriptedAgent, ScriptedDNS, ScriptedReceiver, tiny_result
from tests.test_webhook_flow import drain, succeed
from tests.test_worker import events_of, run

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

    # Claimed by a worker that died before its heartbeat ran: arq's claim is 610 s long,
    # taken longer than the grace ago (what is left of it is shorter by that).
    full_ms = int((settings.job_timeout + 10) * 1000)
    claimed = await orphan(db, status="processing", attempts=1)
    await redis.enqueue_job(
        "analyze_risk_drift", str(claimed), _job_id=str(claimed), _queue_name=settings.queue_name
    )
    await redis.psetex(
        f"arq:in-progress:{claimed}", full_ms - int(settings.reconcile_grace * 1000) - 1000, b"1"
    )
    # Claimed a moment ago by a live worker whose first heartbeat has not run yet: the
    # same full-length claim, which must stay (releasing it runs the job twice at once).
    just_claimed = await orphan(db, status="queued")
    await redis.enqueue_job(
        "analyze_risk_drift",
        str(just_claimed),
        _job_id=str(just_claimed),
        _queue_name=settings.queue_name,
    )
    await redis.psetex(f"arq:in-progress:{just_claimed}", full_ms, b"1")

    counts = await reconcile(ctx)
    assert counts == {
        "requeued": 2,
        "failed": 2,
        "released": 1,
        "checked": 7,
        "webhooks_queued": 0,
        "webhooks_requeued": 0,
        "webhooks_failed": 0,
    }
    assert await redis.exists(f"arq:in-progress:{claimed}") == 0
    assert await redis.exists(f"arq:in-progress:{just_claimed}") == 1
    await redis.delete(f"arq:in-progress:{just_claimed}")  # its worker runs it below

    queue = {m.decode() for m in await redis.zrange(settings.queue_name, 0, -1)}
    assert queue == {
        str(lost_queued),
        str(lost_running),
        str(enqueued),
        str(claimed),
        str(just_claimed),
    }
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
    for job_id in (lost_queued, lost_running, enqueued, claimed, just_claimed):
        job = await jobs.get_job(db, job_id)
        assert job is not None
        assert job.status == "completed"


async def test_a_job_whose_run_arq_kept_a_failed_result_of_is_requeued_for_real(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    """A run that ended in an exception (e.g. while Postgres was away) leaves arq's result,
    and arq refuses the id for an hour: the reconciler forgets that result, re-queues the
    job, counts and logs only what arq accepted, and the job then completes."""
    stranded = await orphan(db, status="processing", attempts=1)
    await redis.set(f"{result_key_prefix}{stranded}", b"{}", ex=3600)
    await redis.set(f"arq:retry:{stranded}", b"1", ex=3600)
    # Enqueued and its result kept (a run finished, another queued since): never touched.
    queued = await orphan(db, status="processing", attempts=1)
    await redis.enqueue_job(
        "analyze_risk_drift", str(queued), _job_id=str(queued), _queue_name=settings.queue_name
    )
    await redis.set(f"{result_key_prefix}{queued}", b"{}", ex=3600)
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)

    with structlog.testing.capture_logs() as logs:
        counts = await reconcile(ctx)
    assert (counts["requeued"], counts["checked"]) == (1, 2)
    requeued = [e for e in logs if e["event"] == "job_requeued_by_reconciler"]
    assert [e["job_id"] for e in requeued] == [str(stranded)]
    assert await redis.exists(f"{result_key_prefix}{stranded}") == 0
    assert await redis.exists(f"{result_key_prefix}{queued}") == 1
    queue = {m.decode() for m in await redis.zrange(settings.queue_name, 0, -1)}
    assert queue == {str(stranded), str(queued)}

    # The next pass sees both queued: nothing to do, nothing logged.
    with structlog.testing.capture_logs() as logs:
        assert (await reconcile(ctx))["requeued"] == 0
    assert not [e for e in logs if e["event"] == "job_requeued_by_reconciler"]

    async def finish(request, progress, n):  # type: ignore[no-untyped-def]
        return tiny_result(request)

    await run(ScriptedAgent(finish), settings)
    for job_id in (stranded, queued):
        job = await jobs.get_job(db, job_id)
        assert job is not None
        assert job.status == "completed"


async def test_a_requeue_arq_refuses_is_neither_counted_nor_logged(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The enqueue's answer decides: an id arq refuses (here, it got queued between the
    reconciler's look and its enqueue) is no repair."""
    from riskdrift.queue import JobEntry
    from riskdrift.worker import reconcile as reconcile_module

    raced = await orphan(db, status="processing", attempts=1)
    await redis.enqueue_job(
        "analyze_risk_drift", str(raced), _job_id=str(raced), _queue_name=settings.queue_name
    )

    async def stale_view(ctx: WorkerContext, ids: list[str]) -> list[JobEntry]:
        return [JobEntry(live=False, claim_ms=-2, result=False) for _ in ids]

    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    monkeypatch.setattr(reconcile_module, "_arq_entries", stale_view)
    with structlog.testing.capture_logs() as logs:
        counts = await reconcile(ctx)
    assert counts["requeued"] == 0
    events = [e["event"] for e in logs]
    assert "job_requeued_by_reconciler" not in events
    assert "job_requeue_refused" in events


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


# --- webhooks -------------------------------------------------------------------------------

HOOK = "https://hooks.example/riskdrift"


async def finished(
    db: asyncpg.Pool, status: JobStatus, *, age: str = "5 minutes", callback_url: str | None = HOOK
) -> uuid.UUID:
    """A job that finished ``age`` ago, with nothing of its webhook stored or queued."""
    request = AnalyzeRequest(ticker="ACME", years=[2024, 2023], callback_url=callback_url)
    job, _ = await jobs.create_job(db, request, tenant="default")
    await jobs.start_attempt(db, job.id)
    if status is JobStatus.COMPLETED:
        await jobs.complete_job(db, job.id, tiny_result(request))
    elif status is JobStatus.FAILED:
        await jobs.finish_job(db, job.id, status, error="the filing has no Item 1A")
    else:
        await jobs.cancel_job(db, job.id, tenant="default")
    await db.execute(
        f"UPDATE jobs SET finished_at = now() - interval '{age}' WHERE id = $1", job.id
    )
    return job.id


async def pending(
    db: asyncpg.Pool,
    settings: Settings,
    *,
    attempts: int,
    due: str = "10 minutes",
    series: int = 1,
    callback_url: str = HOOK,
) -> DeliveryRecord:
    """A failed job's pending delivery: ``attempts`` made in ``series``, the next one due
    ``due`` ago, and (as after Redis lost its data) no arq job of any attempt."""
    job = await jobs.get_job(db, await finished(db, JobStatus.FAILED, callback_url=callback_url))
    assert job is not None
    stored = await prepare_delivery(db, settings, job)
    assert stored is not None
    await db.execute(
        f"""UPDATE webhook_deliveries SET attempts = $2, series = $3,
                   next_attempt_at = now() - interval '{due}'
            WHERE id = $1""",
        stored.id,
        attempts,
        series,
    )
    delivery = await deliveries.get_delivery(db, job.id, "job.failed")
    assert delivery is not None
    return delivery


async def lose(redis: ArqRedis, settings: Settings, arq_id: str) -> None:
    """Drop one arq job as a Redis that lost its data would: its key and its queue entry."""
    await redis.delete(job_key_prefix + arq_id)
    await redis.zrem(settings.queue_name, arq_id)


async def queued_attempt(
    redis: ArqRedis, settings: Settings, delivery: DeliveryRecord, attempt: int
) -> list[object] | None:
    """The arguments of ``deliver_webhook`` for ``attempt`` if arq has it queued to run now."""
    arq_id = attempt_job_id(delivery, attempt)
    info = await Job(
        arq_id, redis, _queue_name=settings.queue_name, _deserializer=serialization.loads
    ).info()
    if info is None or info.score is None:
        return None
    assert info.function == "deliver_webhook"
    assert info.score <= time.time() * 1000 + 1000  # not deferred
    return list(info.args)


async def test_a_finished_job_without_its_webhook_gets_it_stored_and_attempt_1_queued(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    # A worker died between the terminal UPDATE and storing the webhook, and arq lost the job.
    completed = await finished(db, JobStatus.COMPLETED)
    failed = await finished(db, JobStatus.FAILED, age="40 hours")  # near the window's end

    counts = await reconcile(ctx)
    assert (counts["webhooks_queued"], counts["webhooks_requeued"]) == (2, 0)

    for job_id, event_type in ((completed, "job.completed"), (failed, "job.failed")):
        delivery = await deliveries.get_delivery(db, job_id, event_type)
        assert delivery is not None
        assert (delivery.status, delivery.series, delivery.attempts) == ("pending", 1, 0)
        assert delivery.callback_url == HOOK
        assert await queued_attempt(redis, settings, delivery, 1) == [str(job_id), event_type, 1, 1]

    # Idempotent: a second pass, even with attempt 1 overdue, finds it queued.
    await db.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = now() - interval '10 minutes'"
    )
    again = await reconcile(ctx)
    assert (again["webhooks_queued"], again["webhooks_requeued"]) == (0, 0)
    assert await redis.zcard(settings.queue_name) == 2


async def test_the_webhook_sweep_leaves_finished_jobs_it_need_not_repair_alone(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    fresh = await finished(db, JobStatus.COMPLETED, age="1 second")  # its task is storing it
    cancelled = await finished(db, JobStatus.CANCELLED)  # a cancelled job sends no webhook
    silent = await finished(db, JobStatus.FAILED, callback_url=None)
    old = await finished(db, JobStatus.FAILED, age="3 days")  # past the retry schedule's span
    # arq still holds the analysis job: its re-run stores the webhook itself (resume_webhook).
    rerun = await finished(db, JobStatus.COMPLETED)
    await redis.enqueue_job(
        "analyze_risk_drift", str(rerun), _job_id=str(rerun), _queue_name=settings.queue_name
    )

    counts = await reconcile(ctx)
    assert counts["webhooks_queued"] == 0
    for job_id in (fresh, cancelled, silent, old, rerun):
        assert await deliveries.list_deliveries(db, job_id) == []
    assert await redis.zrange(settings.queue_name, 0, -1) == [str(rerun).encode()]


async def test_a_pending_delivery_whose_queued_attempt_redis_lost_is_requeued(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    retrying = await pending(db, settings, attempts=2)
    await enqueue_attempt(redis, settings, retrying, attempt=3, defer_by=3600)
    await lose(redis, settings, attempt_job_id(retrying, 3))
    redelivered = await pending(db, settings, attempts=0, series=2)  # the route's attempt 1
    first = await pending(db, settings, attempts=0)  # queued by the reconciler, then lost

    counts = await reconcile(ctx)
    assert (counts["webhooks_queued"], counts["webhooks_requeued"]) == (0, 3)
    for delivery, attempt in ((retrying, 3), (redelivered, 1), (first, 1)):
        assert await queued_attempt(redis, settings, delivery, attempt) == [
            str(delivery.job_id),
            "job.failed",
            delivery.series,
            attempt,
        ]
    assert attempt_job_id(redelivered, 1) == f"webhook:{redelivered.webhook_id}:2:1"
    assert attempt_job_id(retrying, 3) == f"webhook:{retrying.webhook_id}:1:3"
    # The rows are the deliver_webhook jobs' to move on.
    for delivery in (retrying, redelivered, first):
        assert await deliveries.get_delivery(db, delivery.job_id, "job.failed") == delivery

    # A second pass finds every attempt queued.
    again = await reconcile(ctx)
    assert (again["webhooks_queued"], again["webhooks_requeued"]) == (0, 0)
    assert await redis.zcard(settings.queue_name) == 3


async def test_pending_deliveries_whose_attempt_arq_still_holds_are_left_alone(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    deferred = await pending(db, settings, attempts=1)  # attempt 2 waits in the queue
    await enqueue_attempt(redis, settings, deferred, attempt=2, defer_by=3600)
    running = await pending(db, settings, attempts=3)  # a worker is making attempt 4
    await redis.psetex(in_progress_key_prefix + attempt_job_id(running, 4), 30_000, b"1")
    # Attempt 5 ran without recording itself; arq refuses its id while it keeps the result.
    spent = await pending(db, settings, attempts=4)
    await redis.psetex(result_key_prefix + attempt_job_id(spent, 5), 30_000, b"1")
    # Attempt 1 is the analysis job's to make: in that job, or queued by its re-run.
    inline = await pending(db, settings, attempts=0)
    await redis.psetex(in_progress_key_prefix + str(inline.job_id), 30_000, b"1")
    recent = await pending(db, settings, attempts=1, due="10 seconds")  # inside the grace

    counts = await reconcile(ctx)
    assert (counts["webhooks_requeued"], counts["webhooks_failed"]) == (0, 0)
    assert await redis.zrange(settings.queue_name, 0, -1) == [attempt_job_id(deferred, 2).encode()]
    for delivery in (deferred, running, spent, inline, recent):
        assert await deliveries.get_delivery(db, delivery.job_id, "job.failed") == delivery


async def test_finished_deliveries_are_never_touched(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    ended = []
    for status in ("delivered", "failed", "gone", "refused"):
        delivery = await pending(db, settings, attempts=2)  # next_attempt_at long past
        await db.execute(
            "UPDATE webhook_deliveries SET status = $2 WHERE id = $1", delivery.id, status
        )
        ended.append(await deliveries.get_delivery(db, delivery.job_id, "job.failed"))

    counts = await reconcile(ctx)
    assert (counts["webhooks_queued"], counts["webhooks_requeued"]) == (0, 0)
    assert counts["webhooks_failed"] == 0
    assert await redis.zcard(settings.queue_name) == 0
    for delivery in ended:
        assert delivery is not None
        assert await deliveries.get_delivery(db, delivery.job_id, "job.failed") == delivery


async def test_a_pending_delivery_that_made_every_attempt_is_failed_not_tried_again(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    # Cannot arise from deliver_webhook (the last attempt's record fails the delivery).
    exhausted = await pending(db, settings, attempts=MAX_ATTEMPTS)

    counts = await reconcile(ctx)
    assert (counts["webhooks_requeued"], counts["webhooks_failed"]) == (0, 1)
    after = await deliveries.get_delivery(db, exhausted.job_id, "job.failed")
    assert after is not None
    assert (after.status, after.attempts, after.last_error) == ("failed", MAX_ATTEMPTS, EXHAUSTED)
    assert after.next_attempt_at is None
    assert await redis.exists(job_key_prefix + attempt_job_id(exhausted, MAX_ATTEMPTS + 1)) == 0
    assert await redis.zcard(settings.queue_name) == 0
    assert (await reconcile(ctx))["webhooks_failed"] == 0


async def test_a_job_whose_webhook_cannot_be_built_does_not_hold_up_the_rest(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    broken = await finished(db, JobStatus.COMPLETED, age="10 minutes")  # first in the batch
    await db.execute("DELETE FROM analysis_results WHERE job_id = $1", broken)
    intact = await finished(db, JobStatus.COMPLETED)

    with structlog.testing.capture_logs() as logs:
        counts = await reconcile(ctx)
    assert counts["webhooks_queued"] == 1
    assert await deliveries.get_delivery(db, intact, "job.completed") is not None
    assert await deliveries.list_deliveries(db, broken) == []
    assert [e["job_id"] for e in logs if e["event"] == "reconciler_webhook_not_queued"] == [
        str(broken)
    ]


async def test_a_failing_webhook_sweep_leaves_the_job_part_done(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    ctx = WorkerContext(settings=settings, pool=db, redis=redis)
    lost = await orphan(db)
    await db.execute("ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_away")

    with structlog.testing.capture_logs() as logs:
        counts = await reconcile(ctx)
    assert (counts["requeued"], counts["webhooks_queued"], counts["webhooks_requeued"]) == (1, 0, 0)
    assert await redis.zrange(settings.queue_name, 0, -1) == [str(lost).encode()]
    failures = [e["part"] for e in logs if e["event"] == "reconciler_webhook_sweep_failed"]
    assert failures == ["queue_missing_webhooks", "requeue_lost_attempts"]


async def test_an_attempt_the_reconciler_requeues_is_delivered(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    wh_settings = settings.model_copy(update={"webhook_secrets": [SecretStr(SECRET)]})
    ctx = WorkerContext(settings=wh_settings, pool=db, redis=redis)
    port = free_port()
    delivery = await pending(
        db, wh_settings, attempts=0, callback_url=f"http://localhost:{port}/hook"
    )
    # Attempt 1 failed and queued attempt 2, deferred; Redis then lost it.
    retrying = await deliveries.record_attempt(
        db,
        delivery.id,
        series=1,
        attempt=1,
        outcome="retrying",
        duration_ms=3.0,
        status_code=503,
        next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10),
    )
    assert retrying is not None

    assert (await reconcile(ctx))["webhooks_requeued"] == 1
    receiver = ScriptedReceiver()
    async with serve(receiver.app(), port=port):
        await drain(wh_settings, succeed(), ScriptedDNS(["127.0.0.1"]))

    after = await deliveries.get_delivery(db, delivery.job_id, "job.failed")
    assert after is not None
    assert (after.status, after.attempts) == ("delivered", 2)
    assert [
        (a.attempt, a.outcome) for a in await deliveries.list_attempts(db, delivery.job_id)
    ] == [
        (1, "retrying"),
        (2, "delivered"),
    ]
    assert [(h.verified, h.headers["webhook-id"]) for h in receiver.received] == [
        (True, delivery.webhook_id)
    ]
