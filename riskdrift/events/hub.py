"""The per-process fan-out hub: one Redis reader feeding every SSE client of this process.

An :class:`EventHub` owns exactly one dedicated Redis connection that runs
``XREAD BLOCK`` over the streams of all jobs this process's clients watch, and
fans each entry out to per-client bounded :class:`asyncio.Queue` objects. An
SSE client never holds a Redis connection: replays for resumption go through a
small bounded pool (:attr:`EventHub.replay`), so the process's Redis connection
count stays constant however many clients are connected.

Positions. The hub keeps one position (last id read) per watched stream. A
subscriber that joins a stream nobody watches yet brings the position to start
from: the stream's tail as the subscriber saw it just before subscribing. The
subscriber then replays history with ``XRANGE`` *after* subscribing and drops
live entries it already sent, so no entry can fall between replay and live.

Waking the reader. When a stream joins the watched set, the blocked ``XREAD``
does not know about it; the hub sends ``CLIENT UNBLOCK`` for the reader's
connection (through the replay pool), so the new stream is read at once rather
than after ``block_ms``.

Slow clients. A subscriber whose queue is full is dropped: it is removed from
the hub, its queue is not grown, and its ``abort`` callback (the SSE response's
cancel scope) ends the HTTP response. The client reconnects with
``Last-Event-ID`` and resumes exactly.

Redis restarts. Connection errors in the reader are retried with exponential
backoff and jitter (:func:`riskdrift.queue.retrying.backoff_delay`) on a fresh
connection; positions survive, so subscribers carry on from where they were.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import redis.exceptions
import structlog
from redis.asyncio import BlockingConnectionPool, Redis
from redis.typing import KeyT, StreamIdT

from riskdrift.models import TERMINAL_EVENTS
from riskdrift.queue.retrying import CONNECTION_LOST, backoff_delay

log = structlog.get_logger(__name__)

StreamId = tuple[int, int]
"""A Redis Stream entry id ``<ms>-<seq>`` as a comparable pair."""

ZERO_ID: StreamId = (0, 0)
MAX_ID: StreamId = (2**64 - 1, 2**64 - 1)
_ID_RE = re.compile(r"^(\d{1,20})-(\d{1,20})$")


def parse_stream_id(text: str) -> StreamId:
    """Parse ``"<ms>-<seq>"``; raises ``ValueError`` for anything else."""
    match = _ID_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a stream id: {text!r}")
    sid = (int(match[1]), int(match[2]))
    if sid > MAX_ID or sid[1] > MAX_ID[1]:
        raise ValueError(f"stream id out of range: {text!r}")
    return sid


def format_stream_id(sid: StreamId) -> str:
    """The ``"<ms>-<seq>"`` text of an id."""
    return f"{sid[0]}-{sid[1]}"


def next_stream_id(sid: StreamId) -> StreamId:
    """The smallest id greater than ``sid``."""
    if sid[1] < MAX_ID[1]:
        return (sid[0], sid[1] + 1)
    return (sid[0] + 1, 0)


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """One stream entry, with its SSE frame encoded once for every client."""

    id: StreamId
    id_text: str
    event: str
    data: bytes
    frame: bytes

    @property
    def terminal(self) -> bool:
        """Whether this entry ends its job's stream."""
        return self.event in TERMINAL_EVENTS


def encode_frame(id_text: str, event: str, data: bytes) -> bytes:
    """An SSE frame: ``id:``, ``event:``, one ``data:`` line per line of data."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    body = b"".join(b"data: " + line + b"\n" for line in lines)
    return b"id: " + id_text.encode() + b"\nevent: " + event.encode() + b"\n" + body + b"\n"


def entry_from_redis(raw_id: bytes | str, fields: dict[bytes, bytes]) -> StreamEntry:
    """A :class:`StreamEntry` from an ``XRANGE``/``XREAD`` item."""
    id_text = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
    event = fields.get(b"event", b"message").decode()
    data = fields.get(b"data", b"")
    return StreamEntry(
        parse_stream_id(id_text), id_text, event, data, encode_frame(id_text, event, data)
    )


@dataclass(frozen=True)
class EventHubConfig:
    """Tuning of an :class:`EventHub`; the defaults suit one API process."""

    queue_size: int = 1024
    """Entries buffered per client before it counts as too slow and is dropped;
    larger than ``count_per_stream`` so one read's burst never drops a healthy client."""
    block_ms: int = 1000
    """``XREAD BLOCK`` timeout while every watched stream fits in one call."""
    keys_per_read: int = 2000
    """Streams per ``XREAD`` call; more streams are read in several calls."""
    multi_batch_block_ms: int = 20
    """With several batches, the short block on one batch between full sweeps."""
    count_per_stream: int = 200
    """``XREAD COUNT``: entries per stream per call."""
    replay_connections: int = 4
    """Size of the bounded pool that replays use for ``XRANGE``."""
    replay_wait: float = 10.0
    """Seconds a replay waits for a pool connection before failing (503)."""
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    client_name: str | None = None
    """Redis ``CLIENT SETNAME`` prefix of the hub's connections (default: per pid)."""

    def __post_init__(self) -> None:
        if self.queue_size <= self.count_per_stream:
            raise ValueError(
                "queue_size must exceed count_per_stream: one read delivers "
                "up to count_per_stream entries to a client at once"
            )


@dataclass(eq=False)
class Subscription:
    """One SSE client's registration for one stream."""

    key: str
    queue: asyncio.Queue[StreamEntry | None]
    dropped: bool = False
    closed: bool = False
    abort: Callable[[], None] | None = field(default=None, repr=False)
    """Called when the hub drops this client; ends the HTTP response."""


class EventHub:
    """One ``XREAD`` loop per process, fanning entries out to subscribers' queues."""

    def __init__(self, redis_url: str, config: EventHubConfig | None = None) -> None:
        self.config = config or EventHubConfig()
        self._url = redis_url
        name = self.config.client_name or f"riskdrift-api-{os.getpid()}"
        self.client_name = name
        self.replay: Redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                redis_url,
                max_connections=self.config.replay_connections,
                timeout=self.config.replay_wait,
                client_name=f"{name}-replay",
            )
        )
        self._subscribers: dict[str, set[Subscription]] = {}
        self._positions: dict[str, StreamId] = {}
        self._reader: Redis | None = None
        self._reader_id: int | None = None
        self._blocked = False  # the reader is inside a blocking XREAD
        self._wake_pending = False
        self._task: asyncio.Task[None] | None = None
        self._wake_task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._rotation = 0
        self.dropped_clients = 0
        self.reconnects = 0

    # --- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the reader task (connecting lazily, with retries)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="event-hub-reader")

    async def stop(self) -> None:
        """Stop reading, end every subscriber's stream, close the connections."""
        for task in (self._task, self._wake_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._wake_task = None
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                self._close(sub)
        self._subscribers.clear()
        self._positions.clear()
        await self._close_reader()
        await self.replay.aclose()
        await self.replay.connection_pool.disconnect()

    # --- subscriptions ---------------------------------------------------------------------

    @property
    def subscriber_count(self) -> int:
        """Clients currently subscribed."""
        return sum(len(s) for s in self._subscribers.values())

    @property
    def stream_count(self) -> int:
        """Streams currently read."""
        return len(self._subscribers)

    def subscribe(self, key: str, *, position: StreamId) -> Subscription:
        """Register for live entries of ``key``.

        ``position`` must not be later than the stream's tail at the moment the
        caller replays history; it is used only if nobody watches ``key`` yet.
        """
        sub = Subscription(key, asyncio.Queue(self.config.queue_size))
        subs = self._subscribers.get(key)
        if subs is None:
            self._subscribers[key] = {sub}
            self._positions[key] = position
            self._wake()
        else:
            subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Forget ``sub``; the stream stops being read when its last subscriber leaves."""
        subs = self._subscribers.get(sub.key)
        if subs is None:
            return
        subs.discard(sub)
        if not subs:
            del self._subscribers[sub.key]
            del self._positions[sub.key]

    def _close(self, sub: Subscription) -> None:
        sub.closed = True
        _clear(sub.queue)
        sub.queue.put_nowait(None)

    def _drop(self, sub: Subscription) -> None:
        self.unsubscribe(sub)
        sub.dropped = True
        self.dropped_clients += 1
        log.info(
            "sse_client_dropped",
            stream=sub.key,
            reason="queue_full",
            queue_size=self.config.queue_size,
        )
        self._close(sub)
        if sub.abort is not None:
            sub.abort()

    def _fan_out(self, key: str, entries: Sequence[StreamEntry]) -> None:
        subs = self._subscribers.get(key)
        if not subs:
            return
        for sub in list(subs):
            for entry in entries:
                try:
                    sub.queue.put_nowait(entry)
                except asyncio.QueueFull:
                    self._drop(sub)
                    break

    # --- the reader ------------------------------------------------------------------------

    def _wake(self) -> None:
        self._changed.set()
        if self._blocked and not self._wake_pending:
            self._wake_pending = True
            self._wake_task = asyncio.create_task(self._unblock(), name="event-hub-wake")

    async def _unblock(self) -> None:
        try:
            # The reader may have sent XREAD but not be blocked in Redis yet, in
            # which case UNBLOCK finds nothing; try a few times while it is.
            for _ in range(5):
                if not self._blocked or self._reader_id is None:
                    return
                if await self.replay.client_unblock(self._reader_id):
                    return
                await asyncio.sleep(0.002)
        except (redis.exceptions.RedisError, OSError):
            pass  # the reader notices the new stream after block_ms anyway
        finally:
            self._wake_pending = False

    async def _connect(self) -> Redis:
        reader: Redis = Redis.from_url(
            self._url, single_connection_client=True, client_name=f"{self.client_name}-reader"
        )
        try:
            self._reader_id = int(await reader.client_id())
        except BaseException:
            await reader.aclose()
            raise
        return reader

    async def _close_reader(self) -> None:
        reader, self._reader, self._reader_id = self._reader, None, None
        if reader is not None:
            with contextlib.suppress(Exception):
                await reader.aclose()

    async def _run(self) -> None:
        failures = 0  # in a row: the backoff's attempt number
        while True:
            try:
                if self._reader is None:
                    self._reader = await self._connect()
                    log.info(
                        "event_hub_connected",
                        client_name=self.client_name,
                        streams=len(self._positions),
                    )
                if not self._positions:
                    self._changed.clear()
                    await self._changed.wait()
                    continue
                await self._read_once(self._reader)
                failures = 0
            except CONNECTION_LOST as exc:
                self._blocked = False
                await self._close_reader()
                self.reconnects += 1
                failures += 1
                wait = backoff_delay(
                    failures, base=self.config.backoff_initial, cap=self.config.backoff_max
                )
                log.warning(
                    "event_hub_redis_error", error=type(exc).__name__, retry_in_s=round(wait, 3)
                )
                await asyncio.sleep(wait)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event_hub_crashed")
                await self._close_reader()
                failures += 1
                await asyncio.sleep(
                    backoff_delay(
                        failures,
                        base=self.config.backoff_initial,
                        cap=self.config.backoff_max,
                        jitter=0.0,
                    )
                )

    async def _read_once(self, reader: Redis) -> None:
        keys = list(self._positions)
        size = self.config.keys_per_read
        batches = [keys[i : i + size] for i in range(0, len(keys), size)]
        count = self.config.count_per_stream
        if len(batches) == 1:
            self._changed.clear()
            self._blocked = True
            try:
                reply = await reader.xread(
                    self._streams_arg(batches[0]), count=count, block=self.config.block_ms
                )
            finally:
                self._blocked = False
            self._deliver(reply)
            return
        # More streams than one call should carry: sweep every batch without
        # blocking (one round trip), then block briefly on one batch in turn.
        async with reader.pipeline(transaction=False) as pipe:
            for batch in batches:
                pipe.xread(self._streams_arg(batch), count=count)
            replies = await pipe.execute()
        got = False
        for reply in replies:
            got = self._deliver(reply) or got
        if got:
            return
        self._rotation = (self._rotation + 1) % len(batches)
        self._changed.clear()
        self._blocked = True
        try:
            reply = await reader.xread(
                self._streams_arg(batches[self._rotation]),
                count=count,
                block=self.config.multi_batch_block_ms,
            )
        finally:
            self._blocked = False
        self._deliver(reply)

    def _streams_arg(self, keys: Iterable[str]) -> dict[KeyT, StreamIdT]:
        return {
            key: format_stream_id(self._positions[key]) for key in keys if key in self._positions
        }

    def _deliver(self, reply: object) -> bool:
        if not reply:
            return False
        got = False
        for raw_key, items in reply:  # type: ignore[attr-defined]
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            if key not in self._positions or not items:
                continue
            entries = [entry_from_redis(raw_id, fields) for raw_id, fields in items]
            self._positions[key] = entries[-1].id
            self._fan_out(key, entries)
            got = True
        return got


def _clear(queue: asyncio.Queue[StreamEntry | None]) -> None:
    while True:
        try:
            queue.get_nowait()
        except asyncio.QueueEmpty:
            return
