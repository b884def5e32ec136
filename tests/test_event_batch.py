"""The worker's group-commit event publisher against a real Redis.

Round trips are counted on the wire: the batcher's client uses a connection class
that counts the packets carrying an XADD (and can run a test's hook just before
one is sent, to hold a flush in flight or have the server kill the connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from arq import ArqRedis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from riskdrift.config import Settings
from riskdrift.events.batch import EventBatcher
from riskdrift.events.publish import make_event, publish, stream_key
from riskdrift.models import AnalysisResult, AnalyzeRequest, EventName, JobEvent
from riskdrift.queue.retrying import is_transient
from tests.conftest import burst_worker
from tests.doubles import ScriptedAgent, settings_for, tiny_result

pytestmark = pytest.mark.integration

MAXLEN = 1000
TTL = 3600
Hook = Callable[[AbstractConnection], Awaitable[None]]
NewJob = Callable[[], uuid.UUID]


@dataclass
class Wire:
    """What the batcher's connections sent, and a hook run once before the next XADD packet."""

    xadd_packets: int = 0
    before_xadd: Hook | None = None


@contextlib.asynccontextmanager
async def counted_client(settings: Settings, wire: Wire) -> AsyncIterator[Redis]:
    pool = ConnectionPool.from_url(settings.redis_url)
    base: type[AbstractConnection] = pool.connection_class

    class Counted(base):  # type: ignore[valid-type,misc]
        client_id: int

        async def on_connect(self) -> None:
            await super().on_connect()
            await self.send_command("CLIENT", "ID")
            self.client_id = int(await self.read_response())

        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            chunks = [command] if isinstance(command, bytes | str) else list(command)
            if any(isinstance(c, bytes | memoryview) and b"XADD" in bytes(c) for c in chunks):
                wire.xadd_packets += 1
                hook, wire.before_xadd = wire.before_xadd, None
                if hook is not None:
                    await hook(self)
            await super().send_packed_command(chunks, check_health)

    pool.connection_class = Counted
    client = Redis.from_pool(pool)  # closing the client closes the pool
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
async def batcher(settings: Settings, wire: Wire) -> AsyncIterator[EventBatcher]:
    async with counted_client(settings, wire) as client:
        events = EventBatcher(client)
        yield events
        await events.aclose()


@pytest.fixture
async def new_job(redis: ArqRedis) -> AsyncIterator[NewJob]:
    """Job ids whose streams are deleted after the test (some are written without expiry)."""
    made: list[uuid.UUID] = []

    def new() -> uuid.UUID:
        made.append(uuid.uuid4())
        return made[-1]

    yield new
    if made:
        await redis.delete(*(stream_key(j) for j in made))


def step(job_id: uuid.UUID, n: int) -> JobEvent:
    return make_event("step_complete", job_id, step=f"step-{n}", progress=n)


async def stream(redis: ArqRedis, job_id: uuid.UUID) -> list[tuple[str, JobEvent]]:
    return [
        (entry_id.decode(), JobEvent.model_validate_json(fields[b"data"]))
        for entry_id, fields in await redis.xrange(stream_key(job_id))
    ]


def no_flusher_left() -> bool:
    return not any(t.get_name() == "event-batcher" for t in asyncio.all_tasks())


async def test_concurrent_jobs_share_round_trips_and_keep_their_order(
    batcher: EventBatcher, wire: Wire, redis: ArqRedis, new_job: NewJob
) -> None:
    """16 jobs publishing like the worker (each awaits its event before the next)."""
    names: list[EventName] = ["job_started", *["step_complete"] * 6, "job_completed"]

    async def job(job_id: uuid.UUID) -> list[str]:
        ids = []
        for n, name in enumerate(names):
            ttl = TTL if name != "step_complete" else None
            event = make_event(name, job_id, step=f"step-{n}", progress=n)
            ids.append(await batcher.publish(event, maxlen=MAXLEN, ttl=ttl))
        return ids

    job_ids = [new_job() for _ in range(16)]
    async with asyncio.timeout(20):
        returned = await asyncio.gather(*(job(j) for j in job_ids))

    for job_id, ids in zip(job_ids, returned, strict=True):
        entries = await stream(redis, job_id)
        assert [e.event for _, e in entries] == names
        assert [e.step for _, e in entries] == [f"step-{n}" for n in range(len(names))]
        assert [entry_id for entry_id, _ in entries] == ids
        assert 0 < await redis.ttl(stream_key(job_id)) <= TTL
    events = len(job_ids) * len(names)
    assert wire.xadd_packets == batcher.flushes
    # One round trip per "wave" of the 16 jobs' n-th events, give or take a straggler.
    assert batcher.flushes <= events // 4, (batcher.flushes, events)
    assert no_flusher_left()


async def test_events_leave_in_the_order_they_were_published(
    batcher: EventBatcher, wire: Wire, redis: ArqRedis, new_job: NewJob
) -> None:
    """Publishes not awaited one by one (many tasks, one stream) still keep FIFO order."""
    job_id = new_job()
    async with asyncio.timeout(10):
        ids = await asyncio.gather(
            *(batcher.publish(step(job_id, n), maxlen=MAXLEN, ttl=None) for n in range(200))
        )
    entries = await stream(redis, job_id)
    assert [e.progress for _, e in entries] == list(range(200))
    assert [entry_id for entry_id, _ in entries] == ids
    assert batcher.flushes == wire.xadd_packets == 1  # all queued before the first flush ran


async def test_expiry_and_trimming_as_publish_applies_them(
    batcher: EventBatcher, redis: ArqRedis, new_job: NewJob
) -> None:
    """The same events through ``publish`` and through the batcher leave equal streams."""
    one_by_one, batched = new_job(), new_job()
    maxlen = 20

    def ttl_of(n: int) -> int | None:
        return {0: 300, 249: 900}.get(n)  # job_queued sets the expiry, the terminal renews it

    await publish(redis, step(one_by_one, 1), maxlen=maxlen, ttl=None)
    await batcher.publish(step(batched, 1), maxlen=maxlen, ttl=None)
    for job_id in (one_by_one, batched):
        assert await redis.ttl(stream_key(job_id)) == -1  # no ttl: no EXPIRE
        await redis.delete(stream_key(job_id))

    async with asyncio.timeout(20):
        for n in range(250):
            await publish(redis, step(one_by_one, n), maxlen=maxlen, ttl=ttl_of(n))
        await asyncio.gather(
            *(batcher.publish(step(batched, n), maxlen=maxlen, ttl=ttl_of(n)) for n in range(250))
        )
    lengths = [await redis.xlen(stream_key(j)) for j in (one_by_one, batched)]
    assert lengths[0] == lengths[1]
    assert maxlen <= lengths[0] < 250  # MAXLEN ~ trims whole nodes
    for job_id in (one_by_one, batched):
        assert 300 < await redis.ttl(stream_key(job_id)) <= 900
        entries = await stream(redis, job_id)
        assert entries[-1][1].progress == 249


async def test_a_command_error_fails_only_its_caller(
    batcher: EventBatcher, redis: ArqRedis, new_job: NewJob
) -> None:
    """WRONGTYPE for one event's XADD: the others of that round trip are written."""
    good, bad = [new_job() for _ in range(4)], new_job()
    await redis.set(stream_key(bad), b"not a stream", ex=60)

    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(
            *(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=TTL) for j in [*good[:2], bad]),
            *(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=None) for j in good[2:]),
            return_exceptions=True,
        )
    assert batcher.flushes == 1
    error = outcomes[2]
    assert isinstance(error, ResponseError)
    assert "WRONGTYPE" in str(error)
    assert not is_transient(error)  # a bug, not an outage: the task fails the job
    for job_id, entry_id in zip(good, outcomes[:2] + outcomes[3:], strict=True):
        assert [i for i, _ in await stream(redis, job_id)] == [entry_id]

    async with asyncio.timeout(10):
        await asyncio.gather(*(batcher.publish(step(j, 2), maxlen=MAXLEN, ttl=None) for j in good))
    assert batcher.flushes == 2
    for job_id in good:
        assert [e.progress for _, e in await stream(redis, job_id)] == [1, 2]


async def test_a_lost_connection_fails_its_round_trip_and_the_next_one_succeeds(
    batcher: EventBatcher, wire: Wire, redis: ArqRedis, new_job: NewJob
) -> None:
    """Redis drops the connection (CLIENT KILL) just before a flush goes out."""
    first, second = [new_job() for _ in range(3)], [new_job() for _ in range(3)]
    later: list[asyncio.Task[str]] = []

    async def kill(conn: AbstractConnection) -> None:
        await redis.execute_command("CLIENT", "KILL", "ID", conn.client_id)  # type: ignore[attr-defined]
        # Published while the doomed flush is in flight: they go in the next one.
        later.extend(
            asyncio.create_task(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=None))
            for j in second
        )

    wire.before_xadd = kill
    async with asyncio.timeout(10):
        outcomes = await asyncio.gather(
            *(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=TTL) for j in first),
            return_exceptions=True,
        )
        ids = await asyncio.gather(*later)
    assert all(isinstance(o, RedisConnectionError) for o in outcomes), outcomes
    assert all(is_transient(o) for o in outcomes)  # so the task retries the job
    for job_id in first:
        assert await redis.exists(stream_key(job_id)) == 0  # killed before the packet left
    for job_id, entry_id in zip(second, ids, strict=True):
        assert [i for i, _ in await stream(redis, job_id)] == [entry_id]
    assert batcher.flushes == wire.xadd_packets == 2


def hold_next_flush(wire: Wire) -> tuple[asyncio.Event, asyncio.Event]:
    """Stop the next flush on the wire: ``in_flight`` is set when it gets there, and it
    goes on once ``release`` is set."""
    in_flight, release = asyncio.Event(), asyncio.Event()

    async def hold(conn: AbstractConnection) -> None:
        in_flight.set()
        await release.wait()

    wire.before_xadd = hold
    return in_flight, release


async def test_cancelled_waiters_lose_no_one_elses_events(
    batcher: EventBatcher, wire: Wire, redis: ArqRedis, new_job: NewJob
) -> None:
    """One waiter cancelled while its flush is in flight, one while its event is queued."""
    in_flight, release = hold_next_flush(wire)
    a, b = [new_job() for _ in range(3)], [new_job() for _ in range(3)]
    async with asyncio.timeout(10):
        sent = [
            asyncio.create_task(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=None)) for j in a
        ]
        await in_flight.wait()
        queued = [
            asyncio.create_task(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=None)) for j in b
        ]
        await asyncio.sleep(0)  # one loop step: each new task has queued its event
        assert batcher.queued == len(b)
        sent[1].cancel()
        queued[1].cancel()
        release.set()
        outcomes = await asyncio.gather(*sent, *queued, return_exceptions=True)

    assert isinstance(outcomes[1], asyncio.CancelledError)
    assert isinstance(outcomes[4], asyncio.CancelledError)
    for job_id, outcome in zip(a + b, outcomes, strict=True):
        entries = await stream(redis, job_id)
        if job_id == b[1]:
            assert entries == []  # taken back before it left
        elif job_id == a[1]:
            assert len(entries) == 1  # already on its way: written regardless
        else:
            assert [i for i, _ in entries] == [outcome]
    assert batcher.flushes == 2
    assert no_flusher_left()


async def test_aclose_flushes_what_is_pending_then_refuses(
    batcher: EventBatcher, wire: Wire, redis: ArqRedis, new_job: NewJob
) -> None:
    in_flight, release = hold_next_flush(wire)
    job_ids = [new_job() for _ in range(6)]
    async with asyncio.timeout(10):
        tasks = [
            asyncio.create_task(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=None))
            for j in job_ids[:3]
        ]
        await in_flight.wait()
        tasks += [
            asyncio.create_task(batcher.publish(step(j, 1), maxlen=MAXLEN, ttl=None))
            for j in job_ids[3:]
        ]
        await asyncio.sleep(0)  # one loop step: each new task has queued its event
        assert batcher.queued == 3
        closing = asyncio.create_task(batcher.aclose())
        release.set()
        await closing
    assert all(t.done() for t in tasks)
    for job_id, task in zip(job_ids, tasks, strict=True):
        assert [i for i, _ in await stream(redis, job_id)] == [task.result()]
    assert batcher.flushes == 2
    assert no_flusher_left()
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.publish(step(job_ids[0], 2), maxlen=MAXLEN, ttl=None)


async def test_worker_process_publishes_through_its_batcher(
    settings: Settings, redis: ArqRedis, new_job: NewJob
) -> None:
    """``on_startup`` makes ``ctx["events"]``; ``on_shutdown`` closes it before arq's Redis."""

    async def script(request: AnalyzeRequest, progress: Any, n: int) -> AnalysisResult:
        return tiny_result(request)

    worker = burst_worker(settings_for(ScriptedAgent(script), settings))
    try:
        async with asyncio.timeout(30):
            await worker.main()  # nothing queued: starts up and returns
        events = worker.ctx["events"]
        assert isinstance(events, EventBatcher)
        job_id = new_job()
        entry_id = await events.publish(step(job_id, 1), maxlen=MAXLEN, ttl=TTL)
        assert [i for i, _ in await stream(redis, job_id)] == [entry_id]
    finally:
        await worker.close()
    with pytest.raises(RuntimeError, match="closed"):
        await events.publish(step(job_id, 2), maxlen=MAXLEN, ttl=None)
