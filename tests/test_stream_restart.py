"""SSE streams across restarts: of the API process (clients resume on the new one) and of
Redis (the hub reconnects and connected clients carry on), losing no event."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from arq import ArqRedis
from httpx_sse import ServerSentEvent
from redis.asyncio import Redis

from riskdrift.api.app import create_app
from riskdrift.client.follow import StreamMessage, job_messages
from riskdrift.config import Settings
from riskdrift.events.hub import EventHubConfig
from tests.conftest import eventually, free_port, serve
from tests.test_stream_helpers import (
    emit,
    new_job,
    read_stream,
    redis_connections_of,
)

pytestmark = pytest.mark.integration


def api_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_AUTH_ENABLED": "false",
        "RISKDRIFT_LOG_LEVEL": "WARNING",
    }


@contextlib.asynccontextmanager
async def api_process(settings: Settings, port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """``python -m riskdrift api`` on ``port``, ready to serve; SIGKILLed when left."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "riskdrift",
        "api",
        "--port",
        str(port),
        env=api_env(settings),
        stdout=subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30), httpx.AsyncClient(timeout=1) as http:
            while True:
                assert proc.returncode is None, f"API exited with {proc.returncode}"
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.05)
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        async with asyncio.timeout(10):
            await proc.wait()


@pytest.mark.e2e
async def test_api_restart_mid_stream_resumes_without_loss(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis
) -> None:
    job_id = await new_job(db)
    ids = [
        await emit(redis, settings, job_id, "job_queued"),
        await emit(redis, settings, job_id, "job_started", attempt=1),
    ]
    port = free_port()
    got: list[StreamMessage] = []

    async def follow(client: httpx.AsyncClient) -> None:
        async for message in job_messages(client, str(job_id)):
            got.append(message)

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        async with api_process(settings, port) as first:
            follower = asyncio.create_task(follow(client))
            for n in range(3):
                ids.append(
                    await emit(redis, settings, job_id, "step_complete", step=f"a{n}", progress=n)
                )
            await eventually(lambda: len(got) == 5, deadline=10)
            # The API keeps one reader per process, however many clients it serves.
            assert 1 <= await redis_connections_of(redis, first.pid) <= 6
            first.kill()  # no goodbye: the connection just drops
            await first.wait()
        for n in range(3):  # published while no API is running
            ids.append(
                await emit(redis, settings, job_id, "step_complete", step=f"b{n}", progress=10 + n)
            )
        async with api_process(settings, port):
            ids.append(await emit(redis, settings, job_id, "step_complete", step="c", progress=50))
            ids.append(await emit(redis, settings, job_id, "job_completed", progress=100))
            async with asyncio.timeout(20):
                await follower
    assert [m.id for m in got] == ids
    assert got[-1].event == "job_completed"


@contextlib.contextmanager
def private_redis() -> Iterator[tuple[str, Path]]:
    """A data directory and port for a Redis server of this test's own."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed: cannot restart a private Redis")
    with tempfile.TemporaryDirectory(prefix="rd-redis-") as tmp:
        yield f"redis://127.0.0.1:{free_port()}/0", Path(tmp)


def start_redis(url: str, data: Path) -> subprocess.Popen[bytes]:
    port = url.rsplit(":", 1)[1].split("/")[0]
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--dir",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
    )


async def redis_up(url: str) -> Redis:
    client: Redis = Redis.from_url(url)
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(OSError, ConnectionError, Exception):
                if await client.ping():
                    return client
            await asyncio.sleep(0.02)


async def test_hub_survives_a_redis_restart(settings: Settings, db: asyncpg.Pool) -> None:
    with private_redis() as (url, data):
        server = start_redis(url, data)
        try:
            own = settings.model_copy(update={"redis_url": url})
            publisher = await redis_up(url)
            job_id = await new_job(db)
            ids = [await emit(publisher, own, job_id, "job_queued")]
            seen: list[str] = []

            def track(events: list[ServerSentEvent]) -> bool:
                seen[:] = [e.id for e in events]
                return False

            config = EventHubConfig(
                client_name=f"rd-restart-{uuid.uuid4().hex[:8]}",
                backoff_initial=0.05,
                backoff_max=0.5,
            )
            async with (
                serve(create_app(own, hub_config=config)) as base_url,
                httpx.AsyncClient(base_url=base_url, timeout=20) as client,
            ):
                reader = asyncio.create_task(read_stream(client, job_id, until=track))
                async with asyncio.timeout(30):
                    await eventually(lambda: seen == ids)
                    await publisher.aclose()
                    server.send_signal(signal.SIGTERM)  # AOF keeps the streams
                    server.wait(timeout=10)
                    server = start_redis(url, data)
                    publisher = await redis_up(url)
                    for n in range(3):
                        ids.append(
                            await emit(
                                publisher, own, job_id, "step_complete", step=f"s{n}", progress=n
                            )
                        )
                    ids.append(await emit(publisher, own, job_id, "job_completed", progress=100))
                    got = await reader
            await publisher.aclose()
            assert got.ids == ids
        finally:
            if server.poll() is None:
                server.terminate()
            server.wait(timeout=10)
