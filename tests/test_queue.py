"""riskdrift.queue, the arq adapter: its named keys and operations agree with arq's own."""

from __future__ import annotations

import uuid

import pytest
from arq import ArqRedis
from arq.constants import (
    abort_jobs_ss,
    health_check_key_suffix,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import Job

from riskdrift import queue
from riskdrift.config import Settings

pytestmark = pytest.mark.integration


def test_key_names_are_arqs() -> None:
    assert queue.job_key("j") == job_key_prefix + "j"
    assert queue.in_progress_key("j") == in_progress_key_prefix + "j"
    assert queue.retry_key("j") == retry_key_prefix + "j"
    assert queue.result_key("j") == result_key_prefix + "j"
    assert queue.health_check_key("analysis") == "analysis" + health_check_key_suffix
    assert abort_jobs_ss == queue.ABORT_KEY


async def test_enqueue_refuses_a_queued_id_and_reads_back(
    redis: ArqRedis, settings: Settings
) -> None:
    job_id, q = uuid.uuid4().hex, settings.queue_name
    try:
        assert await queue.enqueue(redis, "analyze_risk_drift", "x", job_id=job_id, queue=q)
        assert not await queue.enqueue(redis, "analyze_risk_drift", "x", job_id=job_id, queue=q)
        assert await queue.queued_job_ids(redis, q) == [job_id]
        record = await queue.job_record(redis, job_id, queue=q)
        assert record is not None
        assert (record.function, list(record.args)) == ("analyze_risk_drift", ["x"])
        assert await queue.result_record(redis, job_id) is None
        [entry] = await queue.job_entries(redis, q, [job_id])
        assert entry.live
        assert entry.claim_ms <= 0
        assert not entry.result
    finally:
        await redis.delete(queue.job_key(job_id), q)


async def test_discard_abort_claims_and_tries(redis: ArqRedis, settings: Settings) -> None:
    job_id, q = uuid.uuid4().hex, settings.queue_name
    try:
        async with redis.pipeline(transaction=False) as pipe:
            queue.queue_job(pipe, redis, "analyze_risk_drift", job_id, job_id=job_id, queue=q)
            await pipe.execute()
        assert await Job(job_id, redis, _queue_name=q).status() == "queued"

        async with redis.pipeline(transaction=False) as pipe:
            queue.queue_abort(pipe, [job_id])
            queue.queue_discard(pipe, q, [job_id])
            await pipe.execute()
        assert await redis.zscore(abort_jobs_ss, job_id) is not None
        assert await redis.exists(job_key_prefix + job_id, q) == 0
        assert not (await queue.job_entries(redis, q, [job_id]))[0].live

        await redis.psetex(in_progress_key_prefix + job_id, 60_000, b"1")
        assert (await queue.job_entries(redis, q, [job_id]))[0].claim_ms > 0
        await queue.release_claim(redis, job_id)
        assert await redis.exists(in_progress_key_prefix + job_id) == 0

        await redis.set(retry_key_prefix + job_id, 2)
        await queue.give_back_try(redis, job_id)
        assert int(await redis.get(retry_key_prefix + job_id)) == 1
    finally:
        await redis.zrem(abort_jobs_ss, job_id)
        await redis.delete(retry_key_prefix + job_id)
