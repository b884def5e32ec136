"""``GET /stream/{job_id}``: a job's progress events as Server-Sent Events.

Each frame carries ``id:`` (the Redis Stream entry id), ``event:`` (the event
name) and ``data:`` (the JobEvent JSON). Resumption with ``Last-Event-ID`` (the
header, or the ``last_event_id`` query parameter for clients that cannot set
headers) is exact:

1. subscribe to the process's :class:`~riskdrift.events.hub.EventHub` first,
2. replay the stream after the requested id with ``XRANGE``,
3. then pass on live entries, dropping those not later than the last id sent.

If the requested id is older than what the stream still keeps (it was trimmed,
or the stream expired), or unknown to it, the client gets a ``resync`` event
with the job's current state (the ``Job`` view) and continues from there.

A finished job's stream replays what is kept, ends with the terminal event and
closes; a reconnect whose ``Last-Event-ID`` is at or after the terminal event
gets ``204 No Content``, which tells a browser's ``EventSource`` to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import anyio
import structlog
from redis.asyncio import Redis
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.sse import SendTimeoutError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from riskdrift.api.routes_jobs import job_view, load_job
from riskdrift.api.state import app_state
from riskdrift.errors import MalformedLastEventID
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
from riskdrift.events.publish import stream_key
from riskdrift.models import TERMINAL_EVENTS
from riskdrift.store import jobs

log = structlog.get_logger(__name__)

PING_SECONDS = 15
RETRY_MS = 2000
SEND_TIMEOUT_SECONDS = 30.0
REPLAY_CHUNK = 500
SHUTDOWN_GRACE_SECONDS = 2.0
"""On server shutdown, how long streams get to send their farewell frame."""
SHUTDOWN_RETRY_MS = 250
"""The reconnect delay the farewell frame asks for: another process is up already."""
TERMINAL_GRACE_SECONDS = 5.0
"""How long a finished job's stream waits for a terminal event that is not there yet."""


def requested_position(request: Request) -> StreamId | None:
    """The ``Last-Event-ID`` header or ``last_event_id`` query value, or a 400 problem."""
    # An empty header (a browser's first connect) defers to the query parameter.
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw.strip() == "":
        return None
    try:
        return parse_stream_id(raw)
    except ValueError:
        raise MalformedLastEventID(
            "Last-Event-ID must be a stream entry id '<milliseconds>-<sequence>' "
            "as sent in an event's id field"
        ) from None


@dataclass
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


class JobEventSource:
    """The event source of one SSE response: subscription, replay, live, resync."""

    def __init__(self, request: Request, hub: EventHub, job_id: uuid.UUID,
                 requested: StreamId | None, tail: Tail, finished: bool) -> None:
        self.request = request
        self.hub = hub
        self.job_id = job_id
        self.key = stream_key(job_id)
        self.requested = requested
        self.tail = tail
        self.finished = finished
        self.subscription: Subscription | None = None
        self.abort: Callable[[], None] | None = None  # set by the response
        self.sent = 0
        self.shutting_down = False

    def set(self) -> None:
        """Server shutdown (sse-starlette calls this as its ``shutdown_event``): wake the
        live loop so the client gets a farewell frame and reconnects to another process."""
        self.shutting_down = True
        if self.subscription is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self.subscription.queue.put_nowait(None)

    async def _job_frame(self, frame_id: StreamId) -> ServerSentEvent:
        state = app_state(self.request)
        job = await jobs.get_job(state["pool"], self.job_id)
        body = job_view(job).model_dump_json() if job is not None else "{}"
        log.info("sse_resync", job_id=str(self.job_id), frame_id=format_stream_id(frame_id))
        return ServerSentEvent(body, event="resync", id=format_stream_id(frame_id), sep="\n")

    async def frames(self) -> AsyncIterator[bytes | ServerSentEvent]:
        """Every frame of the response, in order; returns after a terminal event."""
        hub = self.hub
        position = self.tail.last.id if self.tail.last is not None else ZERO_ID
        sub = hub.subscribe(self.key, position=position)
        sub.abort = self.abort
        self.subscription = sub
        try:
            yield ServerSentEvent(retry=RETRY_MS, comment=f"job {self.job_id}", sep="\n")
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
                if item.terminal:
                    return
            # A job finished in Postgres whose terminal event is not in the stream
            # (yet): wait a little for it, then give the final state and end.
            deadline = (asyncio.get_running_loop().time() + TERMINAL_GRACE_SECONDS
                        if self.finished else None)
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        entry = await sub.queue.get()
                except TimeoutError:
                    yield await self._job_frame(MAX_ID)
                    return
                if entry is None:  # dropped, shutting down, or the hub stopped
                    if self.shutting_down:
                        yield ServerSentEvent(retry=SHUTDOWN_RETRY_MS, sep="\n",
                                              comment="server shutting down; reconnect")
                    return
                if entry.id <= last_sent:
                    continue
                yield entry.frame
                self.sent += 1
                last_sent = entry.id
                if entry.terminal:
                    return
        finally:
            hub.unsubscribe(sub)

    async def _history(self, after: StreamId) -> AsyncIterator[StreamEntry | ServerSentEvent]:
        """Kept entries after ``after``, or a resync where some are gone."""
        redis = self.hub.replay
        key = self.key
        explicit = self.requested is not None
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
                    yield await self._job_frame(MAX_ID)
                elif explicit:
                    yield await self._job_frame(ZERO_ID)
                return
            first = parse_stream_id(_text(first_items[0][0]))
            last = entry_from_redis(*tail_items[0])
            before_last = (parse_stream_id(_text(tail_items[1][0]))
                           if len(tail_items) > 1 else None)
            lost = explicit and after < first and next_stream_id(after) != first
            unknown = explicit and after > last.id
            if lost or unknown:
                async for frame in self._resync(last, before_last):
                    yield frame
                return
            for raw_id, fields in items:
                yield entry_from_redis(raw_id, fields)
            if len(items) < REPLAY_CHUNK:
                return
            after = parse_stream_id(_text(items[-1][0]))
            explicit = True  # later chunks must not silently skip trimmed entries

    async def _resync(self, last: StreamEntry,
                      before_last: StreamId | None) -> AsyncIterator[StreamEntry | ServerSentEvent]:
        if last.terminal:
            # The final state, then the terminal event itself, so the stream ends
            # the way every finished job's stream does.
            yield await self._job_frame(before_last or ZERO_ID)
            yield last
        else:
            yield await self._job_frame(last.id)


class JobEventResponse(EventSourceResponse):
    """An SSE response that the hub can cut short when its client falls behind."""

    def __init__(self, source: JobEventSource) -> None:
        super().__init__(source.frames(), ping=PING_SECONDS, sep="\n",
                         send_timeout=SEND_TIMEOUT_SECONDS,
                         # sse-starlette only calls .set() on it: the source says goodbye.
                         shutdown_event=source,  # type: ignore[arg-type]
                         shutdown_grace_period=SHUTDOWN_GRACE_SECONDS)
        self.source = source
        source.abort = self.abort
        self._cancel: anyio.CancelScope | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with anyio.CancelScope() as cancel:
            self._cancel = cancel
            try:
                await super().__call__(scope, receive, send)
            except SendTimeoutError:
                log.info("sse_client_stalled", job_id=str(self.source.job_id),
                         sent=self.source.sent)
        sub = self.source.subscription
        if cancel.cancelled_caught or (sub is not None and sub.dropped):
            # The response ends without its closing chunk; uvicorn closes the
            # connection once its buffer drains and the client resumes.
            log.info("sse_stream_cut", job_id=str(self.source.job_id), sent=self.source.sent)

    def abort(self) -> None:
        """End the response now (the client is too slow to keep up)."""
        if self._cancel is not None:
            self._cancel.cancel()


async def stream_job(request: Request) -> Response:
    """``GET /stream/{job_id}``."""
    job = await load_job(request)
    requested = requested_position(request)
    state = app_state(request)
    hub = state["hub"]
    tail = await read_tail(hub.replay, stream_key(job.id))
    finished = job.status.finished
    if requested is not None:
        # The worker publishes the terminal event after the guarded UPDATE that
        # finishes the job, so the stream's own end is authoritative here.
        terminal_seen = (tail.last is not None and tail.last.event in TERMINAL_EVENTS
                         and requested >= tail.last.id)
        if terminal_seen or (finished and tail.last is None and requested == MAX_ID):
            return Response(status_code=204)
    source = JobEventSource(request, hub, job.id, requested, tail, finished)
    return JobEventResponse(source)
