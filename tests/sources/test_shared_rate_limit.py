"""SharedRateLimiter against real Redis: one pace for many processes, and its outage fallback.

Each limiter gets a Redis client of its own, standing in for a worker process;
the slot key is unique to the test. The shared pace is proved from the Redis side:
the slots the limiter reserved on the server's clock, which its contract says are
at least one interval apart, so a busy machine cannot make the test fail. The
per-process fallback stamps ``time.monotonic()`` as each ``acquire`` returns
(``asyncio.sleep`` never wakes early, so only clock granularity is slack).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import asyncpg
import pytest
from arq import ArqRedis
from redis.asyncio import Redis
from structlog.testing import capture_logs

from riskdrift.agent.research import ResearchAgent
from riskdrift.config import Settings
from riskdrift.errors import ConfigurationError
from riskdrift.sources.edgar import EdgarFilingSource
from riskdrift.sources.fair_access import RateLimiter, SharedRateLimiter
from riskdrift.worker.settings import research_agent
from tests.conftest import eventually
from tests.sources.localserver import closed_port

pytestmark = pytest.mark.integration

UNAVAILABLE = "edgar_rate_limit_redis_unavailable"
RECOVERED = "edgar_rate_limit_redis_recovered"


def unique_key() -> str:
    return f"test:edgar-slot:{uuid.uuid4().hex[:12]}"


async def stamped(limiter: SharedRateLimiter, count: int, stamps: list[float]) -> None:
    for _ in range(count):
        await limiter.acquire()
        stamps.append(time.monotonic())


def gaps(stamps: list[float]) -> list[float]:
    times = sorted(stamps)
    return sorted(b - a for a, b in itertools.pairwise(times))


async def reserved(limiter: SharedRateLimiter, count: int, slots: list[int | None]) -> None:
    for _ in range(count):
        slots.append(await limiter.acquire_slot())


async def test_processes_share_one_pace(settings: Settings, redis: ArqRedis) -> None:
    rate, processes, callers, per_caller = 20.0, 3, 2, 5
    interval_us = 1_000_000 // int(rate)
    key = unique_key()
    clients = [Redis.from_url(settings.redis_url) for _ in range(processes)]
    limiters = [SharedRateLimiter(client, rate, key=key) for client in clients]
    slots: list[int | None] = []
    try:
        with capture_logs() as logs:
            async with asyncio.timeout(20):
                # Several callers per process at once, as a worker's concurrent jobs would be.
                await asyncio.gather(
                    *(reserved(limiter, per_caller, slots) for limiter in limiters * callers)
                )
            assert await redis.exists(key)  # the last slot lives in Redis until it has passed
    finally:
        for client in clients:
            await client.aclose()
    n = processes * callers * per_caller
    assert not [e for e in logs if e["event"] == UNAVAILABLE]  # paced by Redis, not the fallback
    server_slots = sorted(slot for slot in slots if slot is not None)
    assert len(server_slots) == n
    # The limiter's contract, exactly: every reservation at least one interval after the last.
    assert min(b - a for a, b in itertools.pairwise(server_slots)) >= interval_us


async def test_an_idle_key_expires(settings: Settings, redis: ArqRedis) -> None:
    rate = 2.0
    key = unique_key()
    client = Redis.from_url(settings.redis_url)
    try:
        await SharedRateLimiter(client, rate, key=key).acquire()
        ttl_ms = await redis.pttl(key)
        assert 0 < ttl_ms <= 1000 / rate
        await eventually(lambda: _gone(redis, key), deadline=5.0)
    finally:
        await client.aclose()


async def _gone(redis: ArqRedis, key: str) -> bool:
    return not await redis.exists(key)


async def test_unreachable_redis_falls_back_to_pacing_per_process() -> None:
    rate, count = 50.0, 6
    interval = 1.0 / rate
    client = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1.0)
    limiter = SharedRateLimiter(client, rate, key=unique_key())
    stamps: list[float] = []
    try:
        with capture_logs() as logs:
            async with asyncio.timeout(10):
                await asyncio.gather(*(stamped(limiter, 1, stamps) for _ in range(count)))
    finally:
        await client.aclose()
    assert len(stamps) == count
    # The per-process limiter stamps actual releases, so only clock granularity is slack.
    assert gaps(stamps)[0] >= interval - 0.002
    assert [e["event"] for e in logs if e["log_level"] == "warning"] == [UNAVAILABLE]


async def test_a_redis_that_never_answers_falls_back_after_the_timeout() -> None:
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accept, read, never answer
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Redis(host="127.0.0.1", port=port)  # no socket timeout: the limiter's bounds it
    limiter = SharedRateLimiter(client, 50.0, key=unique_key(), timeout=0.2)
    try:
        with capture_logs() as logs:
            async with asyncio.timeout(5):
                await limiter.acquire()
                await limiter.acquire()
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()
    assert [e["event"] for e in logs] == [UNAVAILABLE]
    assert logs[0]["error"] == "TimeoutError"


@contextlib.asynccontextmanager
async def forwarder(port: int, target_host: str, target_port: int) -> AsyncIterator[None]:
    """Forward 127.0.0.1:``port`` to the target; on exit stop listening and cut every link."""
    pumps: set[asyncio.Task[None]] = set()

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def link(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        pumps.add(asyncio.create_task(pump(reader, up_writer)))
        pumps.add(asyncio.create_task(pump(up_reader, writer)))

    server = await asyncio.start_server(link, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)


async def test_pacing_returns_to_redis_and_warns_once_per_outage(
    settings: Settings, redis: ArqRedis
) -> None:
    target = urlparse(settings.redis_url)
    db = int(target.path.lstrip("/") or 0)
    port = closed_port()
    key = unique_key()
    client = Redis(host="127.0.0.1", port=port, db=db, socket_connect_timeout=1.0)
    limiter = SharedRateLimiter(client, 50.0, key=key)

    async def acquire(times: int) -> None:
        async with asyncio.timeout(10):
            for _ in range(times):
                await limiter.acquire()

    try:
        with capture_logs() as logs:
            await acquire(3)  # Redis is away
            async with forwarder(port, target.hostname or "127.0.0.1", target.port or 6379):
                await acquire(2)  # back
                assert await redis.exists(key)  # reserved in Redis, not by the fallback
            await acquire(3)  # away again
    finally:
        await client.aclose()
    events = [e["event"] for e in logs if e["event"] in (UNAVAILABLE, RECOVERED)]
    assert events == [UNAVAILABLE, RECOVERED, UNAVAILABLE]


async def test_a_rate_must_be_positive(redis: ArqRedis) -> None:
    with pytest.raises(ConfigurationError):
        SharedRateLimiter(redis, 0.0)


async def test_workers_pace_edgar_through_redis(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis
) -> None:
    edgar = settings.model_copy(
        update={"filings_source": "edgar", "edgar_requests_per_second": 7.0}
    )
    async with research_agent(edgar, executor=None, pool=db, redis=redis) as agent:
        assert isinstance(agent, ResearchAgent)
        source = agent.source
        assert isinstance(source, EdgarFilingSource)
        assert isinstance(source.limiter, SharedRateLimiter)
        assert source.limiter.interval == pytest.approx(1 / 7.0)
        assert isinstance(source.limiter.fallback, RateLimiter)
