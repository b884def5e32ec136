"""Postgres or Redis going away while jobs run: the jobs complete after it, none fails.

The shared servers stay up: the worker reaches them through a
:class:`~tests.doubles.proxy.CuttableProxy`, and the test cuts that. The test itself
reads and writes Postgres and Redis directly, so it sees what really happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from arq import ArqRedis

from riskdrift.agent.progress import ProgressReporter
from riskdrift.config import Settings
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.store import jobs
from riskdrift.worker.resilient import ResilientWorker, create_resilient_worker
from tests.conftest import eventually
from tests.doubles import ScriptedAgent, settings_for, tiny_result
from tests.doubles.proxy import CuttableProxy, proxy_for
from tests.test_worker import events_of, submit

pytestmark = [
    pytest.mark.usefixtures("collect_dead_connections"),
    pytest.mark.integration,
    pytest.mark.slow,
]

JOBS = 4
OUTAGE = 20.0  # seconds: the Postgres outage
RECOVERY = 60.0  # seconds after the outage by which every job must be completed


@contextlib.asynccontextmanager
async def worker_running(worker: ResilientWorker) -> AsyncIterator[ResilientWorker]:
    task = asyncio.create_task(worker.main())
    try:
        yield worker
        await eventually(lambda: all(t.done() for t in worker.tasks.values()), deadline=30)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        # arq's close() gathers the run tasks first and would re-raise what its own job
        # bookkeeping met during the outage (finish_job's Redis writes), skipping the
        # shutdown hook and leaving its Redis pool open; the jobs' fate is what the test
        # asserts, so collect those errors here and let close() do all of its work.
        await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
        worker.tasks.clear()
        await worker.close()


class OutageScript:
    """The first ``JOBS`` runs start, wait for the outage, then report progress through
    it (the writes fail) and finish their analysis while the server is still away;
    every later run (a re-run) finishes at once."""

    def __init__(self) -> None:
        self.started = 0
        self.finished_in_outage = 0
        self.all_started = asyncio.Event()
        self.cut = asyncio.Event()

    async def __call__(
        self, request: AnalyzeRequest, progress: ProgressReporter, n: int
    ) -> AnalysisResult:
        if n <= JOBS:
            self.started += 1
            if self.started == JOBS:
                self.all_started.set()
            await self.cut.wait()
            # Work that reports as it goes, long enough for the row to be due a write
            # (PROGRESS_ROW_INTERVAL), which fails: the analysis must go on regardless.
            for step in range(8):
                await progress("analysing", 10 + step)
                await asyncio.sleep(0.25)
            self.finished_in_outage += 1
        return tiny_result(request)


async def outage(proxy: CuttableProxy, script: OutageScript, *, least: float) -> None:
    """Cut the proxy once every job runs; restore it ``least`` seconds later at the
    earliest, once every first run has finished its analysis against the dead server."""
    await asyncio.wait_for(script.all_started.wait(), timeout=30)
    proxy.cut()
    script.cut.set()
    loop = asyncio.get_running_loop()
    cut_at = loop.time()
    await eventually(
        lambda: script.finished_in_outage == JOBS and loop.time() - cut_at >= least,
        deadline=least + 30,
        interval=0.1,
    )
    proxy.restore()


async def assert_completed_once(
    db: asyncpg.Pool, redis: ArqRedis, job_ids: list[uuid.UUID]
) -> None:
    for job_id in job_ids:
        job = await jobs.get_job(db, job_id)
        assert job is not None
        assert (job.status, job.error) == ("completed", None)
        events = await events_of(redis, job_id)
        assert events.count("job_completed") == 1
        assert events[-1] == "job_completed"
        assert "job_failed" not in events


async def all_completed(db: asyncpg.Pool, redis: ArqRedis, job_ids: list[uuid.UUID]) -> bool:
    """Every job's row completed and its stream ended (clients heard of it)."""
    rows = [await jobs.get_job(db, j) for j in job_ids]
    failed = [r.id for r in rows if r is not None and r.status == "failed"]
    assert not failed, f"jobs failed: {failed}"
    if not all(r is not None and r.status == "completed" for r in rows):
        return False
    streams = [await events_of(redis, j) for j in job_ids]
    return all(events[-1:] == ["job_completed"] for events in streams)


async def test_jobs_running_through_a_postgres_outage_complete_after_it(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    script = OutageScript()
    async with proxy_for(settings.database_url) as proxy:
        behind = settings.model_copy(
            update={
                "database_url": proxy.url_for(settings.database_url),
                "worker_max_jobs": JOBS,
            }
        )
        worker = create_resilient_worker(
            settings_for(ScriptedAgent(script), behind), handle_signals=False, poll_delay=0.01
        )
        job_ids = [await submit(db, redis, settings) for _ in range(JOBS)]
        async with worker_running(worker):
            await outage(proxy, script, least=OUTAGE)
            await eventually(
                lambda: all_completed(db, redis, job_ids), deadline=RECOVERY, interval=0.2
            )
        assert proxy.refused > 0, "the worker never tried Postgres during the outage"
    await assert_completed_once(db, redis, job_ids)


async def test_jobs_running_through_a_redis_outage_complete_after_it(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    script = OutageScript()
    async with proxy_for(settings.redis_url) as proxy:
        behind = settings.model_copy(
            update={"redis_url": proxy.url_for(settings.redis_url), "worker_max_jobs": JOBS}
        )
        worker = create_resilient_worker(
            settings_for(ScriptedAgent(script), behind), handle_signals=False, poll_delay=0.01
        )
        job_ids = [await submit(db, redis, settings) for _ in range(JOBS)]
        async with worker_running(worker):
            await outage(proxy, script, least=5.0)
            await eventually(
                lambda: all_completed(db, redis, job_ids), deadline=RECOVERY, interval=0.2
            )
        assert proxy.refused > 0, "the worker never tried Redis during the outage"
    await assert_completed_once(db, redis, job_ids)
