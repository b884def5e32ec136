"""Resumable event streams: what one SSE response sends of one Redis Stream.

A :class:`ResumableStream` is the frames of one response, for a job's stream or a
batch's. Resumption with ``Last-Event-ID`` is exact:

1. subscribe to the process's :class:`~riskdrift.events.hub.EventHub` first,
2. replay the stream after the requested id with ``XRANGE``,
3. then pass on live entries, dropping those not later than the last id sent.

Whatever is published between 1 and 2 arrives live and is either new or dropped as
a duplicate. The hub starts reading a newly watched stream at the tail as it was
read *before* subscribing (:func:`open_stream`), never later than what the replay
reads.

Gaps. Given a ``resync`` callback (the job's current state as JSON), a requested id
older than what the stream still keeps (it was trimmed, or the stream expired), or
newer than the stream, is answered with a ``resync`` event carrying that state
instead of a silent hole. Trimming is detected inside the same ``MULTI`` as each
replay chunk: if the first kept entry is later than the position + 1, entries may
be gone. A stream without the callback (a batch's) replays what is kept.

The stream ends after its terminal event. A client whose ``Last-Event-ID`` is at or
after it is :attr:`~ResumableStream.ended` (the route answers ``204``). A stream
marked ``finished`` (the job is finished in Postgres) whose terminal event is not
there waits :data:`TERMINAL_GRACE_SECONDS` for it, then sends the final state with
id :data:`~riskdrift.events.hub.MAX_ID` and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from sse_starlette import ServerSentEvent

from riskdrift.events.hub import (
    MAX_ID,
    ZERO_ID,
    EventHub,
    StreamEntry,
    StreamId,
    Subscription,
    entry_from_redis,
    format_stream_id,
    next_stream_id,
    parse_stream_id,
)

log = structlog.get_logger(__name__)

RETRY_MS = 2000
"""The reconnect delay every stream's first frame asks for."""
REPLAY_CHUNK = 500
"""Entries per ``XRANGE`` of a replay."""
SHUTDOWN_RETRY_MS = 250
"""The reconnect delay the farewell frame asks for: another process is up already."""
TERMINAL_GRACE_SECONDS = 5.0
"""How long a finished job's stream waits for a terminal event that is not there yet."""

Resync = Callable[[], Awaitable[str]]
"""The current state (JSON) that a ``resync`` event carries where entries are missing."""

Frame = bytes | ServerSentEvent


@dataclass(frozen=True, slots=True)
class Tail:
    """The newest two entries of a stream (``None`` when it is empty or gone)."""

    last: StreamEntry | None
    before_last: StreamId | None


async def read_tail(redis: Redis, key: str) -> Tail:
    """The stream's last entry and the id before it."""
    items = await redis.xrevrange(key, "+", "-", count=2)
    if not items:
        return Tail(None, None)
    last = entry_from_redis(*items[0])
    before = parse_stream_id(_text(items[1][0])) if len(items) > 1 else None
    return Tail(last, before)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


class ResumableStream:
    """The frames of one SSE response for one stream: subscription, replay, live, resync.

    Made by :func:`open_stream`. Iterate :meth:`frames` once. ``abort`` (set by the
    response) is what the hub calls when this client falls behind; :meth:`set` is the
    server-shutdown hook (sse-starlette's ``shutdown_event``).
    """

    def __init__(
        self,
        hub: EventHub,
        key: str,
        *,
        requested: StreamId | None,
        tail: Tail,
        terminal_events: Collection[str],
        comment: str,
        resync: Resync | None = None,
        finished: bool = False,
        log_fields: Mapping[str, str] | None = None,
    ) -> None:
        if finished and resync is None:
            raise ValueError("a finished stream needs resync: it may end with the final state")
        self.hub = hub
        self.key = key
        self.requested = requested
        self.tail = tail
        self.terminal_events = terminal_events
        self.comment = comment
        self.resync = resync
        self.finished = finished
        self.log = log.bind(**(log_fields or {"stream": key}))
        self.subscription: Subscription | None = None
        self.abort: Callable[[], None] | None = None  # set by the response
        self.sent = 0
        self.shutting_down = False

    @property
    def ended(self) -> bool:
        """Whether the client has had everything: its ``Last-Event-ID`` is at or after
        the terminal event, or is the final state's id of a finished, expired stream."""
        requested, last = self.requested, self.tail.last
        if requested is None:
            return False
        # The worker publishes a job's terminal event after the guarded UPDATE that
        # finishes it, so the stream's own end is authoritative here.
        if last is not None and last.event in self.terminal_events and requested >= last.id:
            return True
        return self.finished and last is None and requested == MAX_ID

    def is_terminal(self, entry: StreamEntry) -> bool:
        """Whether ``entry`` ends this stream."""
        return entry.event in self.terminal_events

    def set(self) -> None:
        """Server shutdown (sse-starlette calls this as its ``shutdown_event``): wake the
        live loop so the client gets a farewell frame and reconnects to another process."""
        self.shutting_down = True
        if self.subscription is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self.subscription.queue.put_nowait(None)

    async def frames(self) -> AsyncGenerator[Frame, None]:
        """Every frame of the response, in order; returns after a terminal event."""
        hub = self.hub
        position = self.tail.last.id if self.tail.last is not None else ZERO_ID
        sub = hub.subscribe(self.key, position=position)
        sub.abort = self.abort
        self.subscription = sub
        try:
            yield ServerSentEvent(retry=RETRY_MS, comment=self.comment, sep="\n")
            last_sent = self.requested if self.requested is not None else ZERO_ID
            async for item in self._history(last_sent):
                if isinstance(item, ServerSentEvent):
                    yield item
                    last_sent = parse_stream_id(item.id or "0-0")
                    if last_sent == MAX_ID:
                        return
                    continue
                yield item.frame
                self.sent += 1
                last_sent = item.id
                if self.is_terminal(item):
                    return
            # A job finished in Postgres whose terminal event is not in the stream
            # (yet): wait a little for it, then give the final state and end.
            deadline = (
                asyncio.get_running_loop().time() + TERMINAL_GRACE_SECONDS
                if self.finished
                else None
            )
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        entry = await sub.queue.get()
                except TimeoutError:
                    yield await self._resync_frame(MAX_ID)
                    return
                if entry is None:  # dropped, shutting down, or the hub stopped
                    if self.shutting_down:
                        yield ServerSentEvent(
                            retry=SHUTDOWN_RETRY_MS,
                            sep="\n",
                            comment="server shutting down; reconnect",
                        )
                    return
                if entry.id <= last_sent:
                    continue
                yield entry.frame
                self.sent += 1
                last_sent = entry.id
                if self.is_terminal(entry):
                    return
        finally:
            hub.unsubscribe(sub)

    async def _resync_frame(self, frame_id: StreamId) -> ServerSentEvent:
        assert self.resync is not None  # only streams with resync get here
        body = await self.resync()
        self.log.info("sse_resync", frame_id=format_stream_id(frame_id))
        return ServerSentEvent(body, event="resync", id=format_stream_id(frame_id), sep="\n")

    async def _history(self, after: StreamId) -> AsyncIterator[StreamEntry | ServerSentEvent]:
        """Kept entries after ``after``, or a resync where some are gone."""
        redis = self.hub.replay
        key = self.key
        explicit = self.requested is not None
        detect_gaps = self.resync is not None
        while True:
            start = "-" if after == ZERO_ID and not explicit else "(" + format_stream_id(after)
            async with redis.pipeline(transaction=True) as pipe:
                pipe.xrange(key, "-", "+", count=1)
                pipe.xrevrange(key, "+", "-", count=2)
                pipe.xrange(key, start, "+", count=REPLAY_CHUNK)
                first_items, tail_items, items = await pipe.execute()
            if not tail_items:
                # Nothing kept: the stream expired (or never had an event).
                if self.finished:
                    yield await self._resync_frame(MAX_ID)
                elif explicit and detect_gaps:
                    yield await self._resync_frame(ZERO_ID)
                return
            if detect_gaps:
                first = parse_stream_id(_text(first_items[0][0]))
                last = entry_from_redis(*tail_items[0])
                lost = explicit and after < first and next_stream_id(after) != first
                unknown = explicit and after > last.id
                if lost or unknown:
                    before_last = (
                        parse_stream_id(_text(tail_items[1][0])) if len(tail_items) > 1 else None
                    )
                    async for frame in self._resync(last, before_last):
                        yield frame
                    return
            for raw_id, fields in items:
                yield entry_from_redis(raw_id, fields)
            if len(items) < REPLAY_CHUNK:
                return
            after = parse_stream_id(_text(items[-1][0]))
            explicit = True  # later chunks must not silently skip trimmed entries

    async def _resync(
        self, last: StreamEntry, before_last: StreamId | None
    ) -> AsyncIterator[StreamEntry | ServerSentEvent]:
        if self.is_terminal(last):
            # The final state, then the terminal event itself, so the stream ends
            # the way every finished job's stream does.
            yield await self._resync_frame(before_last or ZERO_ID)
            yield last
        else:
            yield await self._resync_frame(last.id)


async def open_stream(
    hub: EventHub,
    key: str,
    *,
    requested: StreamId | None,
    terminal_events: Collection[str],
    comment: str,
    resync: Resync | None = None,
    finished: bool = False,
    log_fields: Mapping[str, str] | None = None,
) -> ResumableStream:
    """A :class:`ResumableStream` of ``key`` for a client at ``requested`` (its
    ``Last-Event-ID``, ``None`` for everything kept); reads the stream's tail first,
    which decides :attr:`~ResumableStream.ended` and where the hub starts reading."""
    tail = await read_tail(hub.replay, key)
    return ResumableStream(
        hub,
        key,
        requested=requested,
        tail=tail,
        terminal_events=terminal_events,
        comment=comment,
        resync=resync,
        finished=finished,
        log_fields=log_fields,
    )
