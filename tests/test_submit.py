"""The submit path: the queued-jobs cap inside the INSERT, and the one-round-trip enqueue.

``enqueue_new_job`` writes arq's keys itself, so these tests hold it to arq's own
reading of them (``Job.info()``, ``enqueue_job``'s duplicate check) and to a real
arq worker running the job.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from arq import ArqRedis
from arq.constants import job_key_prefix
from arq.jobs import Job
from redis.exceptions import ResponseError

from riskdrift.agent.progress import ProgressReporter
from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.errors import TenantQueueFull
from riskdrift.events.publish import stream_key
from riskdrift.jobs.enqueue import ANALYSIS_TASK, discard_new_job, enqueue_new_job
from riskdrift.models import AnalysisResult, AnalyzeRequest, JobStatus
from riskdrift.ops import metrics as m
from riskdrift.store import jobs
from riskdrift.worker import serialization
from tests.conftest import burst_worker, serve
from tests.doubles import ScriptedAgent, settings_for, tiny_result
from tests.test_worker import events_of

pytestmark = pytest.mark.integration

REQUEST = AnalyzeRequest(ticker="ACME", years=[2024, 2023])


async def submitted_count(redis: ArqRedis, queue: str) -> float:
    samples = {s.name: s.value for f in await m.read_counters(redis, [queue]) for s in f.samples}
    return samples.get("riskdrift_jobs_submitted_total", 0.0)


async def test_enqueue_new_job_writes_what_arq_enqueue_job_writes(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    queue = settings.queue_name
    ours, _ = await jobs.create_job(db, REQUEST, tenant="default")
    theirs, _ = await jobs.create_job(db, REQUEST, tenant="default")
    await enqueue_new_job(redis, ours.id, settings)
    assert await redis.enqueue_job(
        ANALYSIS_TASK, str(theirs.id), _job_id=str(theirs.id), _queue_name=queue
    )

    info = await Job(
        str(ours.id), redis, _queue_name=queue, _deserializer=redis.job_deserializer
    ).info()
    assert info is not None
    assert (info.function, info.args, info.kwargs, info.job_try) == (
        ANALYSIS_TASK,
        [str(ours.id)],  # JSON has no tuples; arq's own enqueue reads back the same
        {},
        None,
    )

    # The payload enqueue_job stores, but for the id and the enqueue time (= the score).
    raw_ours = serialization.loads(await redis.get(job_key_prefix + str(ours.id)))
    raw_theirs = serialization.loads(await redis.get(job_key_prefix + str(theirs.id)))
    assert raw_ours.pop("et") == await redis.zscore(queue, str(ours.id))
    assert raw_theirs.pop("et") == await redis.zscore(queue, str(theirs.id))
    assert raw_ours == {**raw_theirs, "a": [str(ours.id)]}
    ttls = [await redis.pttl(job_key_prefix + str(j.id)) for j in (ours, theirs)]
    assert abs(ttls[0] - ttls[1]) < 5_000
    assert 86_400_000 - 60_000 < ttls[0] <= 86_400_000

    # arq's duplicate check finds it where it looks for it.
    assert await redis.enqueue_job(ANALYSIS_TASK, str(ours.id), _job_id=str(ours.id)) is None

    # The rest of the same round trip: job_queued with the result's expiry, and the count.
    assert await events_of(redis, ours.id) == ["job_queued"]
    assert 0 < await redis.ttl(stream_key(ours.id)) <= settings.result_ttl
    assert await submitted_count(redis, queue) == 1


async def test_a_job_enqueued_in_one_round_trip_runs_on_an_arq_worker(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        await progress("fetching_filings", 20)
        return tiny_result(request)

    job, _ = await jobs.create_job(db, REQUEST, tenant="default")
    await enqueue_new_job(redis, job.id, settings)
    worker = burst_worker(settings_for(ScriptedAgent(script), settings))
    try:
        async with asyncio.timeout(30):
            await worker.main()
    finally:
        await worker.close()
    result = await Job(
        str(job.id), redis, _queue_name=settings.queue_name, _deserializer=redis.job_deserializer
    ).result_info()
    assert result is not None
    assert (result.function, result.success, result.result) == (ANALYSIS_TASK, True, "completed")
    done = await jobs.get_job(db, job.id)
    assert done is not None
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 1)
    assert await events_of(redis, job.id) == [
        "job_queued",
        "job_started",
        "step_complete",
        "job_completed",
    ]


async def test_queued_cap_is_checked_in_the_insert(db: asyncpg.Pool) -> None:
    first, created = await jobs.create_job(
        db, REQUEST, tenant="a", idempotency_key="k1", request_hash="h", max_queued=2
    )
    assert created
    await jobs.create_job(db, REQUEST, tenant="a", max_queued=2)
    with pytest.raises(TenantQueueFull) as full:
        await jobs.create_job(db, REQUEST, tenant="a", idempotency_key="k2", max_queued=2)
    assert (full.value.tenant, full.value.limit) == ("a", 2)
    assert await db.fetchval("SELECT count(*) FROM jobs WHERE idempotency_key = 'k2'") == 0

    # A replay of an accepted key gets its job back over the cap; nothing is inserted.
    replay, created = await jobs.create_job(
        db, REQUEST, tenant="a", idempotency_key="k1", request_hash="h", max_queued=2
    )
    assert (replay.id, created) == (first.id, False)
    # Other tenants, uncapped callers, and the tenant once a job has started are not refused.
    assert (await jobs.create_job(db, REQUEST, tenant="b", max_queued=2))[1]
    assert (await jobs.create_job(db, REQUEST, tenant="a"))[1]
    with pytest.raises(TenantQueueFull):
        await jobs.create_job(db, REQUEST, tenant="a", max_queued=3)
    assert await jobs.start_attempt(db, first.id) is not None
    assert (await jobs.create_job(db, REQUEST, tenant="a", max_queued=3))[1]
    with pytest.raises(TenantQueueFull):
        await jobs.create_job(db, REQUEST, tenant="c", max_queued=0)


async def test_concurrent_submits_with_one_key_make_one_job(db: asyncpg.Pool) -> None:
    """Same-key submits racing: one insert; the others find it, even when it was committed
    after their statement's snapshot (the fallback read)."""
    results = await asyncio.gather(
        *(
            jobs.create_job(
                db, REQUEST, tenant="a", idempotency_key="same", request_hash="h", max_queued=100
            )
            for _ in range(12)
        )
    )
    assert sum(created for _, created in results) == 1
    assert len({job.id for job, _ in results}) == 1
    assert await db.fetchval("SELECT count(*) FROM jobs") == 1


async def test_a_failed_enqueue_is_undone(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    queue = settings.queue_name
    job, _ = await jobs.create_job(db, REQUEST, tenant="default")
    # The stream key holds a string: the XADD fails, the commands after it still apply.
    await redis.set(stream_key(job.id), b"not a stream")
    with pytest.raises(ResponseError):
        await enqueue_new_job(redis, job.id, settings)
    assert await redis.zscore(queue, str(job.id)) is not None
    await discard_new_job(redis, job.id, settings)
    assert await redis.zscore(queue, str(job.id)) is None
    assert await redis.exists(stream_key(job.id), job_key_prefix + str(job.id)) == 0


async def test_a_submit_whose_enqueue_fails_leaves_no_job_row(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    await redis.set(settings.queue_name, b"not a sorted set")  # the ZADD fails (WRONGTYPE)
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})
    assert response.status_code == 500
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
