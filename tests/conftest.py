"""Shared fixtures: real Redis and Postgres, one isolated schema and queue per test.

Services come from ``TEST_REDIS_URL`` / ``TEST_DATABASE_URL`` when set, else
from whatever answers on the default ports, else embedded servers started for
the session (``riskdrift.dev.servers``). Never a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import socket
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import asyncpg
import pytest
import uvicorn
from arq import ArqRedis, create_pool
from arq.worker import Worker, create_worker

from riskdrift.config import Settings
from riskdrift.dev.servers import EmbeddedServices, from_environment
from riskdrift.store.migrate import migrate
from riskdrift.store.pool import create_pool as create_db_pool
from riskdrift.worker import serialization
from riskdrift.worker.settings import redis_settings
from tests.corpus import ROOT


@pytest.fixture(scope="session")
def services() -> Iterator[EmbeddedServices]:
    found = from_environment(ROOT / ".data" / "test", "TEST_REDIS_URL", "TEST_DATABASE_URL")
    yield found
    found.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
async def settings(services: EmbeddedServices) -> AsyncIterator[Settings]:
    """Settings with a schema and a queue of the test's own; the schema is dropped after."""
    tag = uuid.uuid4().hex[:12]
    schema = f"test_{tag}"
    conn = await asyncpg.connect(services.database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    yield Settings(
        redis_url=services.redis_url,
        database_url=services.database_url,
        database_schema=schema,
        queue_name=f"test:analysis:{tag}",
        # Webhook attempts on the analysis queue, so one worker drains a test's jobs and
        # their webhooks; tests of the webhooks queue itself give it its own name.
        webhooks_queue_name=f"test:analysis:{tag}",
        embeddings_queue_name=f"test:embeddings:{tag}",
        db_pool_min=1,
        db_pool_max=4,
        worker_poll_delay=0.01,
        retry_backoff_base=0.05,
        retry_backoff_max=0.2,
        analysis_processes=0,
        webhook_allowed_cidrs=["127.0.0.0/8"],
        auth_enabled=False,  # tests of auth turn it on (tests/test_auth.py)
        submit_rate_limit="",  # the window lives in shared Redis; tests/test_auth.py sets one
        edgar_cache_dir=ROOT / ".data" / "test" / f"edgar-{tag}",
        _env_file=None,  # type: ignore[call-arg]
    )
    conn = await asyncpg.connect(services.database_url)
    try:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_db_pool(settings)
    async with pool.acquire() as conn:
        await migrate(conn)
    yield pool
    await pool.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(
        redis_settings(settings),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        default_queue_name=settings.queue_name,
    )
    yield pool
    await pool.aclose()


@contextlib.asynccontextmanager
async def serve(app: Any, *, port: int | None = None) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn on loopback in this loop; yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def burst_worker(worker_settings: type, **overrides: Any) -> Worker:
    """An arq worker that drains its queue and returns (``await worker.main()``)."""
    options: dict[str, Any] = {"burst": True, "poll_delay": 0, "handle_signals": False}
    options.update(overrides)
    return create_worker(worker_settings, **options)


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]],
    *,
    deadline: float = 10.0,
    interval: float = 0.01,
) -> None:
    """Poll ``predicate`` (plain or async) until it holds; TimeoutError after ``deadline`` s.

    The one way tests wait: for conditions that live in another process (Postgres
    rows, Redis keys, an HTTP answer) or in state other tasks update (events
    received), which cannot be awaited as an event. Never a bare sleep-and-hope.
    """
    async with asyncio.timeout(deadline):
        while True:
            held = predicate()
            if inspect.isawaitable(held):
                held = await held
            if held:
                return
            await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def running_worker(worker_settings: type) -> AsyncIterator[Worker]:
    """A long-running arq worker in this event loop (unlike :func:`burst_worker`)."""
    worker = create_worker(worker_settings, burst=False, poll_delay=0.01, handle_signals=False)
    task = asyncio.create_task(worker.main())
    try:
        yield worker
        # arq's run_job tasks may still be recording a finished job; close() cancels them.
        await eventually(lambda: all(t.done() for t in worker.tasks.values()), deadline=30)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


@pytest.fixture
def collect_dead_connections() -> Iterator[None]:
    """For tests that kill or cut a Redis server under live clients: redis-py leaves the
    connections whose sockets died for the garbage collector, and their ResourceWarning
    would surface at whichever later test's teardown the collector happens to run. They
    are collected here, at the end of the test that killed their server."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
