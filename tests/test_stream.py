"""``GET /stream/{job_id}`` over real HTTP, Redis and Postgres: order, resume, end, fan-out."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from arq import ArqRedis
from httpx_sse import ServerSentEvent

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.events.hub import EventHubConfig
from riskdrift.events.publish import stream_key
from riskdrift.models import EventName, JobStatus
from riskdrift.store import jobs
from tests.conftest import eventually, serve
from tests.test_stream_helpers import (
    MAX_ID,
    emit,
    finished_job,
    job_event,
    new_job,
    payload,
    read_stream,
    redis_clients_named,
)

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.fixture
def hub_name() -> str:
    return f"rd-test-{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def api_client(
    settings: Settings, config: EventHubConfig
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(settings, hub_config=config)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=15)) as http,
    ):
        yield http


@pytest.fixture
async def client(
    settings: Settings, db: asyncpg.Pool, hub_name: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, EventHubConfig(client_name=hub_name)) as http:
        yield http


async def test_finished_job_replays_in_order_and_closes(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id, ids = await finished_job(db, redis, settings)
    async with asyncio.timeout(10):
        got = await read_stream(client, job_id)
    assert got.status == 200
    assert got.ids == ids
    assert got.names == ["job_queued", "job_started", *["step_complete"] * 5, "job_completed"]
    events = [job_event(e) for e in got.events]
    assert all(e.job_id == job_id for e in events)
    assert [e.progress for e in events if e.event == "step_complete"] == [16, 33, 50, 66, 83]


async def test_frames_carry_retry_hint_and_content_type(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id, ids = await finished_job(db, redis, settings, steps=())
    async with client.stream("GET", f"/stream/{job_id}") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-store"
        body = (await response.aread()).decode()
    assert body.startswith(f": job {job_id}\nretry: 2000\n\n")
    assert f"id: {ids[0]}\nevent: job_queued\ndata: {{" in body
    assert body.endswith("\n\n")


@pytest.mark.parametrize("query", [False, True])
async def test_resume_at_every_position(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    query: bool,
) -> None:
    job_id, ids = await finished_job(db, redis, settings)
    async with asyncio.timeout(20):
        for n, last in enumerate(ids[:-1]):
            got = await read_stream(client, job_id, last_event_id=last, query=query)
            assert got.status == 200
            assert got.ids == ids[n + 1 :], f"resume after #{n}"
        # At (or after) the terminal event: 204, and EventSource stops reconnecting.
        for after_end in (ids[-1], MAX_ID):
            got = await read_stream(client, job_id, last_event_id=after_end, query=query)
            assert got.status == 204


async def test_unknown_other_tenant_and_malformed(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    for path in (f"/stream/{uuid.uuid4()}", "/stream/not-a-uuid"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM
    theirs = await new_job(db, tenant="someone-else")
    await emit(redis, settings, theirs, "job_queued")
    response = await client.get(f"/stream/{theirs}")
    assert response.status_code == 404
    assert response.json()["status"] == 404

    job_id, _ = await finished_job(db, redis, settings, steps=())
    for bad in ("abc", "1-2-3", "12", "-1-0", "99999999999999999999999-0"):
        response = await client.get(f"/stream/{job_id}", headers={"Last-Event-ID": bad})
        assert response.status_code == 400, bad
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith("/last-event-id")
    response = await client.get(f"/stream/{job_id}", params={"last_event_id": "x"})
    assert response.status_code == 400


async def test_trimmed_history_resyncs_then_ends(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id, ids = await finished_job(db, redis, settings)
    await redis.xtrim(stream_key(job_id), maxlen=3, approximate=False)
    async with asyncio.timeout(10):
        got = await read_stream(client, job_id, last_event_id=ids[1])
    assert got.names == ["resync", "job_completed"]
    resync = payload(got.events[0])
    assert resync["status"] == "completed"
    assert resync["progress"] == 100
    assert resync["job_id"] == str(job_id)
    assert got.ids == [ids[-2], ids[-1]]
    # Still kept: resuming inside the kept range is exact, no resync.
    got = await read_stream(client, job_id, last_event_id=ids[-3])
    assert got.ids == ids[-2:]
    assert "resync" not in got.names
    # A fresh client replays what is kept.
    assert (await read_stream(client, job_id)).ids == ids[-3:]


async def test_trimmed_history_of_running_job_resyncs_then_goes_live(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id = await new_job(db)
    ids = [await emit(redis, settings, job_id, "job_queued")]
    await jobs.start_attempt(db, job_id)
    ids.append(await emit(redis, settings, job_id, "job_started", attempt=1))
    for n in range(1, 4):
        await jobs.record_progress(db, job_id, f"step{n}", n * 10)
        ids.append(
            await emit(redis, settings, job_id, "step_complete", step=f"step{n}", progress=n * 10)
        )
    await redis.xtrim(stream_key(job_id), maxlen=2, approximate=False)

    async def publish_rest() -> str:
        await emit(redis, settings, job_id, "step_complete", step="step4", progress=40)
        await jobs.finish_job(db, job_id, JobStatus.COMPLETED)
        return await emit(redis, settings, job_id, "job_completed", progress=100)

    seen: list[str] = []

    def track(events: list[ServerSentEvent]) -> bool:
        seen[:] = [e.id for e in events]
        return False

    async with asyncio.timeout(10):
        reader = asyncio.create_task(read_stream(client, job_id, last_event_id=ids[0], until=track))
        await eventually(lambda: len(seen) == 1)
        last = await publish_rest()
        got = await reader
    assert got.names == ["resync", "step_complete", "job_completed"]
    assert payload(got.events[0])["step"] == "step3"
    assert payload(got.events[0])["progress"] == 30
    assert got.ids[0] == ids[-1]
    assert got.ids[-1] == last


async def test_expired_stream_of_finished_job(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id, ids = await finished_job(db, redis, settings)
    await redis.delete(stream_key(job_id))
    async with asyncio.timeout(10):
        for last in (None, ids[2]):
            got = await read_stream(client, job_id, last_event_id=last)
            assert got.names == ["resync"]
            assert got.ids == [MAX_ID]
            assert payload(got.events[0])["status"] == "completed"
        assert (await read_stream(client, job_id, last_event_id=MAX_ID)).status == 204


async def test_finished_job_without_terminal_event_ends_with_final_state(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id = await new_job(db)
    first = await emit(redis, settings, job_id, "job_queued")
    await jobs.finish_job(
        db, job_id, JobStatus.FAILED, allowed_from=(JobStatus.QUEUED,), error="boom"
    )
    async with asyncio.timeout(15):
        got = await read_stream(client, job_id)
    assert got.names == ["job_queued", "resync"]
    assert got.ids == [first, MAX_ID]
    assert payload(got.events[1])["error"] == "boom"


async def test_live_events_arrive_while_connected(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id = await new_job(db)
    ids = [await emit(redis, settings, job_id, "job_queued")]
    seen: list[str] = []

    def progress(events: list[ServerSentEvent]) -> bool:
        seen[:] = [e.id for e in events]
        return False

    async with asyncio.timeout(15):
        reader = asyncio.create_task(read_stream(client, job_id, until=progress))
        await eventually(lambda: seen == ids[:1])
        ids.append(await emit(redis, settings, job_id, "job_started", attempt=1))
        await eventually(lambda: seen == ids)  # delivered live, one at a time
        for n in range(1, 31):
            ids.append(
                await emit(redis, settings, job_id, "step_complete", step=f"s{n}", progress=n * 3)
            )
        await eventually(lambda: seen == ids)
        ids.append(await emit(redis, settings, job_id, "job_completed", progress=100))
        got = await reader
    assert got.ids == ids
    assert got.names[-1] == "job_completed"


async def test_resume_after_disconnect_while_events_keep_coming(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    job_id = await new_job(db)
    ids = [await emit(redis, settings, job_id, "job_queued")]
    async with asyncio.timeout(15):
        first = await read_stream(client, job_id, until=lambda ev: len(ev) == 1)
        for n in range(1, 6):  # published while no client is connected
            ids.append(
                await emit(redis, settings, job_id, "step_complete", step=f"s{n}", progress=n)
            )
        second = await read_stream(
            client, job_id, last_event_id=first.ids[-1], until=lambda ev: len(ev) == 5
        )
        ids.append(await emit(redis, settings, job_id, "job_cancelled"))
        third = await read_stream(client, job_id, last_event_id=second.ids[-1])
    assert first.ids + second.ids + third.ids == ids


async def test_resume_races_publishing(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    """Clients join at random moments with random positions while events pour in:
    each gets exactly the entries after its position, in order, none twice."""
    job_id = await new_job(db)
    total = 400
    ids: list[str] = [await emit(redis, settings, job_id, "job_queued")]
    rng = random.Random(7)

    async def publisher() -> None:
        for n in range(1, total):
            event: EventName = "job_completed" if n == total - 1 else "step_complete"
            ids.append(
                await emit(redis, settings, job_id, event, step=f"s{n}", progress=n * 100 // total)
            )
            if n % 20 == 0:
                await asyncio.sleep(0)

    async def joiner() -> tuple[str | None, list[str]]:
        await eventually(lambda: len(ids) > rng.randrange(total - 50), deadline=10)
        start = rng.choice([None, *ids])
        got = await read_stream(client, job_id, last_event_id=start)
        return start, got.ids

    async with asyncio.timeout(30):
        results = await asyncio.gather(publisher(), *(joiner() for _ in range(25)))
    for start, got in results[1:]:  # type: ignore[misc]
        expected = ids if start is None else ids[ids.index(start) + 1 :]
        assert got == expected or (got == [] and start == ids[-1])


async def test_many_clients_share_one_reader(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    hub_name: str,
) -> None:
    job_ids = [await new_job(db) for _ in range(5)]
    for job_id in job_ids:
        await emit(redis, settings, job_id, "job_queued")
    # Warm up: one client makes the hub connect and use its replay pool.
    await read_stream(client, job_ids[0], until=lambda ev: len(ev) == 1)
    before = await redis_clients_named(redis, hub_name)

    opened = 0

    def on_open() -> None:
        nonlocal opened
        opened += 1

    readers = [
        asyncio.create_task(read_stream(client, job_ids[n % 5], on_open=on_open)) for n in range(50)
    ]
    async with asyncio.timeout(20):
        await eventually(lambda: opened == 50)
        during = await redis_clients_named(redis, hub_name)
        for job_id in job_ids:
            for n in range(3):
                await emit(redis, settings, job_id, "step_complete", step=f"s{n}", progress=n)
            await emit(redis, settings, job_id, "job_completed", progress=100)
        got = await asyncio.gather(*readers)
    assert all(r.names == ["job_queued", *["step_complete"] * 3, "job_completed"] for r in got)
    readers_during = [c for c in during if str(c["name"]).endswith("-reader")]
    assert len(readers_during) == 1  # one XREAD connection for the whole process
    # Replays share a bounded pool: the count does not grow with clients.
    assert len(during) <= 1 + EventHubConfig().replay_connections
    assert len(before) <= len(during) <= 1 + EventHubConfig().replay_connections


async def test_slow_client_is_dropped_and_resumes_exactly(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis, hub_name: str
) -> None:
    config = EventHubConfig(client_name=hub_name, queue_size=32, count_per_stream=16)
    settings = settings.model_copy(update={"stream_maxlen": 100_000})  # keep all history
    job_id = await new_job(db)
    ids = [await emit(redis, settings, job_id, "job_queued")]
    async with api_client(settings, config) as http:
        port = http.base_url.port
        assert port is not None
        # A client that stops reading: tiny receive buffer, nothing read after the request.
        loop = asyncio.get_running_loop()
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.setblocking(False)
        await loop.sock_connect(slow, ("127.0.0.1", port))
        await loop.sock_sendall(slow, f"GET /stream/{job_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        # A healthy client on the same job, reading as fast as it can.
        fast = asyncio.create_task(read_stream(http, job_id))
        async with asyncio.timeout(30):
            big = "x" * 2000
            n = 0
            while n < 3000:
                async with redis.pipeline(transaction=False) as pipe:
                    for _ in range(10):
                        n += 1
                        pipe.xadd(
                            stream_key(job_id),
                            {
                                "event": "step_complete",
                                "data": f'{{"event":"step_complete","job_id":"{job_id}",'
                                f'"at":"2024-01-01T00:00:00Z","step":"{big}",'
                                f'"progress":{n % 100}}}',
                            },
                        )
                    ids.extend(i.decode() for i in await pipe.execute())
                await asyncio.sleep(0)
            ids.append(await emit(redis, settings, job_id, "job_completed", progress=100))
            got_fast = await fast
            assert got_fast.ids == ids  # the slow client delayed nobody
            # The slow client was cut off: reading now reaches the end of the connection.
            chunks = []
            while chunk := await loop.sock_recv(slow, 1 << 16):
                chunks.append(chunk)
            slow.close()
            raw = b"".join(chunks)
            text = raw.decode(errors="replace")
            got_ids = [line[4:] for line in text.split("\n") if line.startswith("id: ")]
            # On a busy machine the cut can come before its first frame: still cut off.
            assert len(got_ids) < len(ids)
            assert got_ids == ids[: len(got_ids)]
            assert "event: job_completed" not in text
            # ...and resumes exactly where it was cut off.
            resume_from = got_ids[-1] if got_ids else None
            rest = await read_stream(http, job_id, last_event_id=resume_from)
        assert got_ids + rest.ids == ids


async def test_hub_reconnects_after_its_connection_is_killed(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    hub_name: str,
) -> None:
    job_id = await new_job(db)
    ids = [await emit(redis, settings, job_id, "job_queued")]
    seen: list[str] = []

    def track(events: list[ServerSentEvent]) -> bool:
        seen[:] = [e.id for e in events]
        return False

    async with asyncio.timeout(20):
        reader = asyncio.create_task(read_stream(client, job_id, until=track))
        await eventually(lambda: seen == ids)
        for conn in await redis_clients_named(redis, hub_name + "-reader"):
            await redis.client_kill_filter(_id=str(conn["id"]))
        # Published while the hub's reader is down or reconnecting.
        for n in range(5):
            ids.append(
                await emit(redis, settings, job_id, "step_complete", step=f"s{n}", progress=n)
            )
        ids.append(await emit(redis, settings, job_id, "job_completed", progress=100))
        got = await reader
    assert got.ids == ids


async def test_new_stream_wakes_the_blocked_reader(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis, hub_name: str
) -> None:
    """A stream joining the watched set is read at once, not after XREAD's block times out."""
    config = EventHubConfig(client_name=hub_name, block_ms=10_000)
    first, second = await new_job(db), await new_job(db)
    await emit(redis, settings, first, "job_queued")
    await emit(redis, settings, second, "job_queued")
    seen: list[str] = []

    def track(events: list[ServerSentEvent]) -> bool:
        seen[:] = [e.event for e in events]
        return False

    async with api_client(settings, config) as http:
        # The reader is now blocked in a 10 s XREAD on the first job's stream only.
        watcher = asyncio.create_task(read_stream(http, first, until=lambda ev: len(ev) == 2))

        async def reader_blocked() -> bool:
            return any(
                "b" in str(c["flags"]) and c["cmd"] == "xread"
                for c in await redis_clients_named(redis, hub_name + "-reader")
            )

        await eventually(reader_blocked, deadline=5)
        reader = asyncio.create_task(read_stream(http, second, until=track))
        # The deadline is half the reader's 10 s block: only CLIENT UNBLOCK wakes it in time.
        async with asyncio.timeout(5):
            await eventually(lambda: seen == ["job_queued"])
            await emit(redis, settings, second, "job_completed", progress=100)
            await reader
        await emit(redis, settings, first, "job_completed", progress=100)
        async with asyncio.timeout(15):
            await watcher
