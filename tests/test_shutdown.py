"""SIGTERM: the worker stops taking jobs, lets running ones finish within the grace
period, and re-queues the rest without charging them an attempt."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import asyncpg
import pytest
from arq import ArqRedis
from arq.worker import create_worker

from riskdrift.agent.progress import ProgressReporter
from riskdrift.config import Settings
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.store import jobs
from tests.conftest import eventually
from tests.doubles import ScriptedAgent, settings_for, tiny_result
from tests.test_worker import events_of, run, submit

pytestmark = pytest.mark.integration


async def start_worker(
    agent: ScriptedAgent, settings: Settings
) -> tuple[object, asyncio.Task[None]]:
    worker = create_worker(settings_for(agent, settings), handle_signals=False, poll_delay=0.01)
    return worker, asyncio.create_task(worker.async_run())


async def stop(worker: object, task: asyncio.Task[None]) -> None:
    async with asyncio.timeout(20):
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()  # type: ignore[attr-defined]


async def test_running_job_finishes_within_the_grace_period(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    running, release = asyncio.Event(), asyncio.Event()

    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        running.set()
        await release.wait()
        return tiny_result(request)

    job_id = await submit(db, redis, settings)
    worker, task = await start_worker(
        ScriptedAgent(script), settings.model_copy(update={"worker_shutdown_grace": 10})
    )
    async with asyncio.timeout(10):
        await running.wait()
    worker.handle_sig_wait_for_completion(signal.SIGTERM)  # type: ignore[attr-defined]
    second = await submit(db, redis, settings)  # arrives after SIGTERM: must not be taken
    release.set()
    await stop(worker, task)
    done = await jobs.get_job(db, job_id)
    untouched = await jobs.get_job(db, second)
    assert done is not None
    assert untouched is not None
    assert (done.status, done.attempts) == ("completed", 1)
    assert (untouched.status, untouched.attempts) == ("queued", 0)


async def test_job_over_the_grace_period_is_requeued_without_losing_an_attempt(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    running = asyncio.Event()

    async def stuck(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        running.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    job_id = await submit(db, redis, settings)
    worker, task = await start_worker(
        ScriptedAgent(stuck), settings.model_copy(update={"worker_shutdown_grace": 1})
    )
    async with asyncio.timeout(10):
        await running.wait()
    worker.handle_sig_wait_for_completion(signal.SIGTERM)  # type: ignore[attr-defined]

    async def requeue_recorded() -> bool:
        return "job_retrying" in await events_of(redis, job_id)

    # The test's close() (handle_signals=False) cancels the job a second time, which a
    # real SIGTERM does not; let the task's requeue bookkeeping finish before it does.
    await eventually(requeue_recorded, deadline=15)
    await stop(worker, task)
    requeued = await jobs.get_job(db, job_id)
    assert requeued is not None
    assert (requeued.status, requeued.attempts, requeued.step) == ("queued", 0, "requeued")
    assert await redis.zscore(settings.queue_name, str(job_id)) is not None
    assert int(await redis.get(f"arq:retry:{job_id}")) == 0  # arq's try counter given back too

    async def finish(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        return tiny_result(request)

    agent = ScriptedAgent(finish)
    await run(agent, settings)
    done = await jobs.get_job(db, job_id)
    assert done is not None
    assert (done.status, done.attempts) == ("completed", 1)
    assert await events_of(redis, job_id) == [
        "job_started",
        "job_retrying",
        "job_started",
        "job_completed",
    ]
