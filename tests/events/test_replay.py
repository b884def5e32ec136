"""ResumableStream against real Redis: exact resumption, gaps, the end, the 204 rule.

Entries are added with explicit ids (``1-1``, ``1-2``, …) so positions are easy
to name; a real :class:`~riskdrift.events.hub.EventHub` delivers the live ones.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field

import pytest
from redis.asyncio import Redis

from riskdrift.dev.servers import EmbeddedServices
from riskdrift.events.hub import MAX_ID, EventHub, EventHubConfig, format_stream_id, parse_stream_id
from riskdrift.events.publish import stream_key
from riskdrift.events.replay import Frame, ResumableStream, Resync, open_stream
from riskdrift.models import TERMINAL_EVENTS

pytestmark = pytest.mark.integration

STATE = '{"status":"processing","progress":30}'
MAX = format_stream_id(MAX_ID)


@dataclass
class Parsed:
    """One SSE frame as a client parses it."""

    id: str | None = None
    event: str | None = None
    data: str | None = None
    comments: list[str] = field(default_factory=list)
    retry: int | None = None


def parse_frame(raw: bytes) -> Parsed:
    frame = Parsed()
    for line in raw.decode().split("\n"):
        name, _, value = line.partition(": ")
        if line.startswith(":"):
            frame.comments.append(line[2:])
        elif name == "id":
            frame.id = value
        elif name == "event":
            frame.event = value
        elif name == "data":
            frame.data = value if frame.data is None else frame.data + "\n" + value
        elif name == "retry":
            frame.retry = int(value)
    return frame


async def next_frame(frames: AsyncGenerator[Frame, None]) -> Parsed:
    item = await anext(frames)
    return parse_frame(item if isinstance(item, bytes) else item.encode())


async def rest(frames: AsyncGenerator[Frame, None]) -> list[Parsed]:
    """The frames until the stream ends."""
    got = []
    async with asyncio.timeout(10):
        while True:
            try:
                got.append(await next_frame(frames))
            except StopAsyncIteration:
                return got


@pytest.fixture
async def redis(services: EmbeddedServices) -> AsyncIterator[Redis]:
    client = Redis.from_url(services.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def hub(services: EmbeddedServices) -> AsyncIterator[EventHub]:
    hub = EventHub(
        services.redis_url, EventHubConfig(client_name=f"rd-test-{uuid.uuid4().hex[:10]}")
    )
    await hub.start()
    yield hub
    await hub.stop()


@pytest.fixture
async def key(redis: Redis) -> AsyncIterator[str]:
    name = stream_key(uuid.uuid4())
    yield name
    await redis.delete(name)


async def add(redis: Redis, key: str, entry_id: str, event: str = "step_complete") -> str:
    await redis.xadd(key, {"event": event, "data": json.dumps({"event": event})}, id=entry_id)
    return entry_id


async def history(redis: Redis, key: str, *, steps: int = 4, terminal: bool = True) -> list[str]:
    """``1-1`` job_queued, ``1-2``… step_complete, then job_completed (if ``terminal``)."""
    ids = [await add(redis, key, "1-1", "job_queued")]
    ids += [await add(redis, key, f"1-{n}") for n in range(2, steps + 2)]
    if terminal:
        ids.append(await add(redis, key, f"1-{steps + 2}", "job_completed"))
    return ids


def current_state() -> Resync:
    async def read() -> str:
        return STATE

    return read


async def job_stream(
    hub: EventHub, key: str, requested: str | None, *, finished: bool = False, resync: bool = True
) -> ResumableStream:
    return await open_stream(
        hub,
        key,
        requested=parse_stream_id(requested) if requested is not None else None,
        terminal_events=TERMINAL_EVENTS,
        comment="job x",
        resync=current_state() if resync else None,
        finished=finished,
    )


async def test_first_frame_is_the_comment_and_retry_hint(
    hub: EventHub, redis: Redis, key: str
) -> None:
    await history(redis, key)
    frames = (await job_stream(hub, key, None)).frames()
    first = await next_frame(frames)
    assert (first.comments, first.retry, first.id) == (["job x"], 2000, None)
    await frames.aclose()


async def test_resumes_exactly_after_each_id_and_ends_after_the_terminal_event(
    hub: EventHub, redis: Redis, key: str
) -> None:
    ids = await history(redis, key)
    for n, position in enumerate([None, *ids[:-1]]):
        source = await job_stream(hub, key, position)
        assert not source.ended
        got = (await rest(source.frames()))[1:]
        assert [f.id for f in got] == ids[n:], f"after {position}"
        assert got[-1].event == "job_completed"
    assert hub.subscriber_count == 0


async def test_at_or_after_the_terminal_event_it_has_ended(
    hub: EventHub, redis: Redis, key: str
) -> None:
    ids = await history(redis, key)
    for position in (ids[-1], "2-0", MAX):
        assert (await job_stream(hub, key, position)).ended, position
    assert not (await job_stream(hub, key, ids[-2])).ended
    assert not (await job_stream(hub, key, None)).ended


async def test_older_than_the_first_kept_entry_gives_a_resync_then_live(
    hub: EventHub, redis: Redis, key: str
) -> None:
    ids = await history(redis, key, terminal=False)  # 1-1 … 1-5, a running job
    await redis.xtrim(key, maxlen=2, approximate=False)  # keeps 1-4, 1-5
    frames = (await job_stream(hub, key, ids[0])).frames()
    await next_frame(frames)
    resync = await next_frame(frames)
    # The job's state, with the id of the newest entry: what it replaces.
    assert (resync.event, resync.id, resync.data) == ("resync", ids[-1], STATE)
    live = asyncio.create_task(rest(frames))
    await add(redis, key, "1-6")
    await add(redis, key, "1-7", "job_completed")
    got = await live
    assert [(f.id, f.event) for f in got] == [("1-6", "step_complete"), ("1-7", "job_completed")]


async def test_a_gap_in_a_finished_stream_gives_the_final_state_then_the_terminal_event(
    hub: EventHub, redis: Redis, key: str
) -> None:
    ids = await history(redis, key)  # 1-1 … 1-6 job_completed
    await redis.xtrim(key, maxlen=3, approximate=False)  # keeps 1-4 … 1-6
    got = (await rest((await job_stream(hub, key, ids[1], finished=True)).frames()))[1:]
    assert [(f.event, f.id) for f in got] == [("resync", ids[-2]), ("job_completed", ids[-1])]
    assert got[0].data == STATE


async def test_right_before_the_first_kept_entry_is_no_gap(
    hub: EventHub, redis: Redis, key: str
) -> None:
    ids = await history(redis, key)
    await redis.xtrim(key, maxlen=3, approximate=False)  # keeps 1-4 … 1-6
    got = (await rest((await job_stream(hub, key, ids[2])).frames()))[1:]
    assert [f.id for f in got] == ids[3:]
    assert "resync" not in [f.event for f in got]


async def test_newer_than_the_stream_gives_a_resync(hub: EventHub, redis: Redis, key: str) -> None:
    ids = await history(redis, key, terminal=False)
    frames = (await job_stream(hub, key, "9-0")).frames()
    await next_frame(frames)
    resync = await next_frame(frames)
    assert (resync.event, resync.id) == ("resync", ids[-1])
    await frames.aclose()


async def test_an_expired_stream_of_a_finished_job_gives_the_final_state_and_ends(
    hub: EventHub, key: str
) -> None:
    for position in (None, "1-3"):
        got = (await rest((await job_stream(hub, key, position, finished=True)).frames()))[1:]
        assert [(f.event, f.id, f.data) for f in got] == [("resync", MAX, STATE)]
    assert (await job_stream(hub, key, MAX, finished=True)).ended
    assert not (await job_stream(hub, key, MAX, finished=False)).ended


async def test_without_resync_what_is_kept_is_replayed(
    hub: EventHub, redis: Redis, key: str
) -> None:
    # A batch's stream: no state to resync with, so a trimmed history replays as kept.
    ids = await history(redis, key)
    await redis.xtrim(key, maxlen=3, approximate=False)
    got = (await rest((await job_stream(hub, key, ids[0], resync=False)).frames()))[1:]
    assert [f.id for f in got] == ids[-3:]


async def test_live_entries_already_replayed_are_not_sent_twice(
    hub: EventHub, redis: Redis, key: str
) -> None:
    ids = await history(redis, key, terminal=False)
    source = await job_stream(hub, key, ids[1])
    frames = source.frames()
    await next_frame(frames)  # subscribed; the hub reads from the tail seen at open
    # Published after open, before the replay: both replay and the hub see it.
    ids.append(await add(redis, key, "1-6"))
    replayed = [await next_frame(frames) for _ in ids[2:]]
    assert [f.id for f in replayed] == ids[2:]
    live = asyncio.create_task(rest(frames))
    ids.append(await add(redis, key, "1-7", "job_failed"))
    assert [f.id for f in await live] == ids[-1:]


async def test_shutdown_sends_a_farewell_and_ends(hub: EventHub, redis: Redis, key: str) -> None:
    await history(redis, key, terminal=False)
    source = await job_stream(hub, key, None)
    frames = source.frames()
    for _ in range(6):  # the greeting and five entries
        await next_frame(frames)
    source.set()  # wakes the live loop wherever it is
    got = await rest(frames)
    assert [(f.comments, f.retry) for f in got] == [(["server shutting down; reconnect"], 250)]


async def test_a_finished_stream_needs_resync(hub: EventHub) -> None:
    with pytest.raises(ValueError, match="resync"):
        ResumableStream(
            hub,
            "k",
            requested=None,
            tail=None,  # type: ignore[arg-type]
            terminal_events=TERMINAL_EVENTS,
            comment="x",
            finished=True,
        )
