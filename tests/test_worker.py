"""The analysis task's state machine, driven by a real arq worker in burst mode.

The agent here is a scripted test double (it never reaches a user); the real
research agent runs in tests/test_e2e.py and tests/test_worker_real.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Literal

import asyncpg
import pytest
from arq import ArqRedis

from riskdrift.agent.progress import ProgressReporter
from riskdrift.config import Settings
from riskdrift.errors import FilingNotFound, UpstreamUnavailable
from riskdrift.models import (
    AnalysisResult,
    AnalyzeRequest,
    JobStatus,
    RiskCounts,
)
from riskdrift.store import deliveries, jobs, results
from riskdrift.webhooks.outbox import delivery_body
from riskdrift.webhooks.signing import WebhookPayload
from riskdrift.worker.context import Agent
from riskdrift.worker.webhook_task import completed_webhook
from tests.conftest import burst_worker
from tests.doubles import ScriptedAgent, settings_for, tiny_result

pytestmark = pytest.mark.integration


async def submit(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> uuid.UUID:
    job, _ = await jobs.create_job(
        db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant="default"
    )
    await redis.enqueue_job(
        "analyze_risk_drift", str(job.id), _job_id=str(job.id), _queue_name=settings.queue_name
    )
    return job.id


async def events_of(redis: ArqRedis, job_id: uuid.UUID) -> list[str]:
    return [e[1][b"event"].decode() for e in await redis.xrange(f"riskdrift:events:{job_id}")]


async def run(agent: Agent, settings: Settings) -> None:
    worker = burst_worker(settings_for(agent, settings))
    try:
        async with asyncio.timeout(30):
            await worker.main()
    finally:
        await worker.close()


async def test_success_records_progress_and_result(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        await progress("fetching_filings", 20)
        await progress("writing_summary", 90)
        return tiny_result(request)

    job_id = await submit(db, redis, settings)
    await run(ScriptedAgent(script), settings)
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert (job.status, job.progress, job.attempts, job.error) == ("completed", 100, 1, None)
    assert job.started_at is not None
    assert job.finished_at is not None
    assert await events_of(redis, job_id) == [
        "job_started",
        "step_complete",
        "step_complete",
        "job_completed",
    ]
    stored = await results.get_result(db, job_id)
    assert stored is not None
    assert stored.ticker == "ACME"


async def test_stream_expires_with_the_result(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    """Progress events set no expiry of their own; the terminal event sets result_ttl."""
    seen_ttls: list[int] = []

    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        await progress("fetching_filings", 20)
        seen_ttls.append(await redis.ttl(f"riskdrift:events:{job_id}"))
        return tiny_result(request)

    job_id = await submit(db, redis, settings)  # no job_queued here: the stream has no TTL yet
    await run(ScriptedAgent(script), settings)
    assert seen_ttls == [-1]
    assert 0 < await redis.ttl(f"riskdrift:events:{job_id}") <= settings.result_ttl


async def test_transient_errors_retry_then_succeed(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        if n <= 2:
            raise UpstreamUnavailable("EDGAR answered 503")
        return tiny_result(request)

    job_id = await submit(db, redis, settings)
    agent = ScriptedAgent(script)
    await run(agent, settings)
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert (job.status, job.attempts, agent.calls) == ("completed", 3, 3)
    assert await events_of(redis, job_id) == [
        "job_started",
        "job_retrying",
        "job_started",
        "job_retrying",
        "job_started",
        "job_completed",
    ]


async def test_transient_errors_give_up_after_max_retries(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        raise ConnectionError("connection reset")

    job_id = await submit(db, redis, settings)
    agent = ScriptedAgent(script)
    await run(agent, settings)
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert job.status == "failed"
    assert job.attempts == settings.max_retries + 1 == agent.calls
    assert job.error == f"gave up after {agent.calls} attempts: connection reset"
    assert (await events_of(redis, job_id))[-1] == "job_failed"


async def test_permanent_error_fails_at_once(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        raise FilingNotFound("no 10-K for ACME fiscal 2024 in /filings")

    job_id = await submit(db, redis, settings)
    agent = ScriptedAgent(script)
    await run(agent, settings)
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert (job.status, job.attempts, agent.calls) == ("failed", 1, 1)
    assert job.error == "no 10-K for ACME fiscal 2024 in /filings"
    assert await results.get_result(db, job_id) is None


async def test_soft_time_limit(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> None:
    never = asyncio.Event()

    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        await never.wait()
        raise AssertionError("unreachable")

    job_id = await submit(db, redis, settings)
    await run(ScriptedAgent(script), settings.model_copy(update={"job_soft_time_limit": 0.2}))
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert job.status == "failed"
    assert job.error == "analysis exceeded time limit (0.2 s)"


async def test_cancel_running_job(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> None:
    started = asyncio.Event()
    never = asyncio.Event()

    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        started.set()
        await never.wait()
        raise AssertionError("unreachable")

    job_id = await submit(db, redis, settings)
    worker_task = asyncio.create_task(run(ScriptedAgent(script), settings))
    async with asyncio.timeout(10):
        await started.wait()
    # What POST /jobs/{id}/cancel does: guarded UPDATE, then ask arq to abort the task.
    assert await jobs.cancel_job(db, job_id, tenant="default") is not None
    await redis.zadd("arq:abort", {str(job_id): 1})
    async with asyncio.timeout(15):
        await worker_task
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert job.status == "cancelled"
    assert await results.get_result(db, job_id) is None


async def test_finished_job_is_never_rerun(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        return tiny_result(request)

    job_id = await submit(db, redis, settings)
    agent = ScriptedAgent(script)
    await run(agent, settings)
    # arq delivers at least once: a duplicate delivery of the same job id must do nothing.
    await redis.enqueue_job("analyze_risk_drift", str(job_id), _queue_name=settings.queue_name)
    await run(agent, settings)
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert (job.status, job.attempts, agent.calls) == ("completed", 1, 1)


async def test_heartbeat_keeps_the_claim_short(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    running = asyncio.Event()
    release = asyncio.Event()

    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        running.set()
        await release.wait()
        return tiny_result(request)

    job_id = await submit(db, redis, settings)
    fast = settings.model_copy(update={"job_claim_ttl": 2.0, "heartbeat_interval": 0.2})
    worker_task = asyncio.create_task(run(ScriptedAgent(script), fast))
    async with asyncio.timeout(10):
        await running.wait()
    key = f"arq:in-progress:{job_id}"
    ttls = []
    async with asyncio.timeout(10):
        while len(ttls) < 5:  # sample across several heartbeats
            ttls.append(await redis.pttl(key))
            await asyncio.sleep(0.15)
    # arq alone would hold the claim for job_timeout + 10 s = 610 s.
    assert all(0 < ttl <= 2000 for ttl in ttls), ttls
    release.set()
    async with asyncio.timeout(10):
        await worker_task
    assert await redis.exists(key) == 0


async def test_rerun_restores_a_lost_terminal_event(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    """A worker killed between the terminal UPDATE and its XADD leaves no terminal event;
    the re-run (arq delivers at least once) publishes it, exactly once."""
    job_id = await submit(db, redis, settings)
    assert await jobs.start_attempt(db, job_id) is not None
    assert await jobs.finish_job(db, job_id, JobStatus.FAILED, error="boom") is not None

    async def never(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        raise AssertionError("a finished job must not run again")

    await run(ScriptedAgent(never), settings)
    await redis.enqueue_job("analyze_risk_drift", str(job_id), _queue_name=settings.queue_name)
    await run(ScriptedAgent(never), settings)
    assert await events_of(redis, job_id) == ["job_failed"]


async def test_complete_job_stores_the_result_only_if_it_moves_the_job(db: asyncpg.Pool) -> None:
    request = AnalyzeRequest(ticker="ACME", years=[2024, 2023])
    job, _ = await jobs.create_job(db, request, tenant="default")
    first = tiny_result(request)
    assert await jobs.complete_job(db, job.id, first) is None  # still queued: nothing stored
    assert await results.get_result(db, job.id) is None

    assert await jobs.start_attempt(db, job.id) is not None
    completion = await jobs.complete_job(db, job.id, first)
    assert completion is not None
    done = completion.job
    assert completion.delivery is None
    assert (done.status, done.progress, done.step) == ("completed", 100, "done")
    assert done.finished_at is not None
    assert await results.get_result(db, job.id) == first
    row = await db.fetchrow("SELECT * FROM analysis_results WHERE job_id = $1", job.id)
    assert row is not None
    assert (row["ticker"], row["current_year"], row["previous_year"], row["cosine"]) == (
        "ACME",
        2024,
        2023,
        1.0,
    )

    # Finished: a second completion (a duplicate run) neither moves the job nor its result.
    second = first.model_copy(update={"summary": "another run"})
    assert await jobs.complete_job(db, job.id, second) is None
    assert await results.get_result(db, job.id) == first


async def test_complete_job_stores_the_webhook_with_the_finish_instant(db: asyncpg.Pool) -> None:
    request = AnalyzeRequest(
        ticker="ACME", years=[2024, 2023], callback_url="https://hooks.example.com/x"
    )
    job, _ = await jobs.create_job(db, request, tenant="default")
    started = await jobs.start_attempt(db, job.id)
    assert started is not None
    assert started.started_at is not None
    at = started.started_at + dt.timedelta(seconds=3)
    webhook = deliveries.NewDelivery("job.completed", "msg_x", "https://hooks.example.com/x", b"{}")
    completion = await jobs.complete_job(
        db, job.id, tiny_result(request), finished_at=at, webhook=webhook
    )
    assert completion is not None
    assert completion.job.finished_at == at
    stored = await deliveries.get_delivery(db, job.id, "job.completed")
    assert stored is not None
    assert completion.delivery == stored
    assert (stored.webhook_id, stored.body, stored.status, stored.attempts) == (
        "msg_x",
        b"{}",
        "pending",
        0,
    )

    # A duplicate run stores nothing: not the job's finish, not a second webhook.
    again = await jobs.complete_job(db, job.id, tiny_result(request), webhook=webhook)
    assert again is None
    assert await deliveries.list_deliveries(db, job.id) == [stored]


@pytest.mark.parametrize("payload", ["full", "thin"])
async def test_a_completed_jobs_webhook_is_built_from_its_one_stored_result(
    db: asyncpg.Pool, settings: Settings, payload: Literal["full", "thin"]
) -> None:
    """The completing statement stores the webhook row without a body (no second copy of
    the result); the body sent is the envelope around the stored result's exact bytes
    (what GET /jobs/{id}/result serves), or without the result for a thin webhook; the
    same bytes at every attempt."""
    request = AnalyzeRequest(
        ticker="ACME",
        years=[2024, 2023],
        callback_url="https://hooks.example.com/x",
        callback_payload=payload,
    )
    job, _ = await jobs.create_job(db, request, tenant="default")
    started = await jobs.start_attempt(db, job.id)
    assert started is not None
    result = tiny_result(request)
    at = dt.datetime.now(dt.UTC)
    webhook = completed_webhook(started)
    assert webhook is not None
    completion = await jobs.complete_job(db, job.id, result, finished_at=at, webhook=webhook)
    assert completion is not None
    assert completion.delivery is not None
    assert completion.delivery.body is None
    body = await delivery_body(db, settings, completion.delivery)
    assert body == await delivery_body(db, settings, completion.delivery)
    sent = WebhookPayload.model_validate_json(body)
    assert sent.timestamp == completion.job.finished_at
    assert sent.data.summary == result.summary
    assert sent.data.counts == RiskCounts(new=0, removed=0, modified=0, unchanged=0)
    stored = await results.get_result_json(db, job.id)
    assert stored is not None
    if payload == "full":
        assert sent.data.result == result
        assert body.endswith(b',"result":' + stored.encode() + b"}}")
    else:
        assert sent.data.result is None
        assert stored.encode() not in body
