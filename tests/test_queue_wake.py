"""The woken worker (riskdrift.queue.PollingWorker): idle, it waits on a pub/sub wake-up
instead of polling on a short timer, and still picks every job up as soon as it can run.

Each worker here has an idle wait (its ``poll_delay``) far longer than the deadline the
test waits with, so a job run within the deadline was started by a wake-up: queued
(``queue_job``, ``enqueue``), a slot freed by the worker's own job ending, or a deferred
job falling due.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq import ArqRedis

from riskdrift import queue
from riskdrift.config import Settings
from riskdrift.queue.keys import wake_channel
from tests.conftest import eventually

pytestmark = pytest.mark.integration

IDLE_WAIT = 60.0  # seconds: far beyond every deadline below
DEADLINE = 15.0


@contextlib.asynccontextmanager
async def woken_worker(settings: Settings, ran: list[str], **kwargs: Any) -> AsyncIterator[Any]:
    async def note(ctx: dict[str, Any], tag: str) -> None:
        ran.append(tag)

    worker = queue.PollingWorker(
        functions=[queue.func(note, name="note")],
        redis_settings=queue.redis_settings(settings),
        queue_name=settings.queue_name,
        job_serializer=queue.dumps,
        job_deserializer=queue.loads,
        poll_delay=IDLE_WAIT,
        handle_signals=False,
        **kwargs,
    )
    task = asyncio.create_task(worker.main())
    try:
        # Its first poll has run and the listener is subscribed (or the test's first
        # wake-up could be published before anyone listens).
        await eventually(lambda: worker._listener is not None, deadline=DEADLINE)
        channel = wake_channel(settings.queue_name).encode()
        await eventually(lambda: _subscribed(worker.pool, channel), deadline=DEADLINE)
        yield worker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await worker.close()


async def _subscribed(redis: ArqRedis, channel: bytes) -> bool:
    counts = await redis.pubsub_numsub(channel)
    return bool(counts and counts[0][1])


async def test_a_queued_job_wakes_an_idle_worker(redis: ArqRedis, settings: Settings) -> None:
    ran: list[str] = []
    async with woken_worker(settings, ran):
        job_id = uuid.uuid4().hex
        async with redis.pipeline(transaction=False) as pipe:
            queue.queue_job(pipe, redis, "note", "piped", job_id=job_id, queue=settings.queue_name)
            await pipe.execute()
        await eventually(lambda: ran == ["piped"], deadline=DEADLINE)
        assert await queue.enqueue(redis, "note", "enqueued", queue=settings.queue_name)
        await eventually(lambda: ran == ["piped", "enqueued"], deadline=DEADLINE)


async def test_a_job_ending_frees_its_slot_for_the_next(
    redis: ArqRedis, settings: Settings
) -> None:
    ran: list[str] = []
    async with woken_worker(settings, ran, max_jobs=1):
        async with redis.pipeline(transaction=False) as pipe:
            for n in range(3):
                queue.queue_job(
                    pipe,
                    redis,
                    "note",
                    str(n),
                    job_id=uuid.uuid4().hex,
                    queue=settings.queue_name,
                    wake=False,
                )
            queue.queue_wake(pipe, settings.queue_name)
            await pipe.execute()
        await eventually(lambda: sorted(ran) == ["0", "1", "2"], deadline=DEADLINE)


async def test_a_deferred_job_runs_when_due(redis: ArqRedis, settings: Settings) -> None:
    ran: list[str] = []
    async with woken_worker(settings, ran):
        assert await queue.enqueue(
            redis, "note", "deferred", queue=settings.queue_name, defer_by=0.5
        )
        await eventually(lambda: ran == ["deferred"], deadline=DEADLINE)
