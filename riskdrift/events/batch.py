"""Group commit for progress events: one Redis round trip carries every event that
queued up while the previous round trip was in flight.

A worker runs up to ``max_jobs`` jobs at once, each publishing a handful of events
(``job_started``, one per step, the terminal one). Sent one by one, each costs a
round trip of its own. :class:`EventBatcher` sends them like a database group
commit: the first event finds no flush running and starts one; events published
while that flush waits for Redis are queued and go out together, in one pipeline
(``transaction=False``), as soon as it returns. There is no timer: an idle worker's
event leaves at once, a busy worker's events share round trips.

What a caller of :meth:`EventBatcher.publish` can rely on, as with
:func:`~riskdrift.events.publish.publish`:

* it returns once the event is in Redis, with the entry id; an event published
  after it returned is later in its stream;
* events leave in the order they were published (one flush at a time, FIFO), so
  one job's events keep their order;
* a Redis error reaches exactly the callers it concerns: a lost connection fails
  every event of that round trip (``redis.exceptions.ConnectionError``, transient
  for the worker's retry logic), a command error (``WRONGTYPE``) only the events
  whose command failed; the next flush starts afresh.

Cancelling a caller never cancels a flush, which runs in a task of its own, so
other callers' events are unaffected. A cancelled caller's event is dropped if it
has not been sent yet, and written anyway if its round trip had already started
(as with a cancelled ``publish``, the caller cannot know which).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis

from riskdrift.events.publish import entry_id, queue_publish
from riskdrift.models import JobEvent


@dataclass(slots=True)
class _Pending:
    event: JobEvent
    maxlen: int
    ttl: int | None
    future: asyncio.Future[str]


class EventBatcher:
    """Publishes job events for a whole worker process, many to a round trip.

    Made once per process (``on_startup``) and closed before its Redis client.
    ``max_batch`` bounds one pipeline; the events beyond it go in the next.
    """

    def __init__(self, redis: Redis, *, max_batch: int = 512) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._redis = redis
        self._max_batch = max_batch
        self._queue: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._closed = False
        #: Round trips sent (pipelines executed, failed ones included).
        self.flushes = 0

    @property
    def queued(self) -> int:
        """Events waiting for the next flush (not those of the flush in flight)."""
        return len(self._queue)

    async def publish(self, event: JobEvent, *, maxlen: int, ttl: int | None) -> str:
        """Write ``event`` to its job's stream (and, unless ``ttl`` is ``None``, set the
        stream's expiry) together with whatever else is queued; returns the entry id
        once it is in Redis. Raises :class:`RuntimeError` after :meth:`aclose`."""
        if self._closed:
            raise RuntimeError("EventBatcher is closed")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(event, maxlen, ttl, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_queue(), name="event-batcher")
        return await future

    async def aclose(self) -> None:
        """Refuse new events, then wait until those already published are sent."""
        self._closed = True
        if self._flusher is not None:
            await self._flusher

    async def _flush_queue(self) -> None:
        try:
            while self._queue:
                # A waiter cancelled before its event left takes the event back.
                live = [p for p in self._queue if not p.future.done()]
                batch, self._queue = live[: self._max_batch], live[self._max_batch :]
                if batch:
                    await self._flush(batch)
        finally:
            self._flusher = None

    async def _flush(self, batch: list[_Pending]) -> None:
        sent: list[tuple[_Pending, int]] = []  # each event with the end of its commands
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for pending in batch:
                    try:
                        queue_publish(pipe, pending.event, maxlen=pending.maxlen, ttl=pending.ttl)
                    except Exception as exc:  # an event that cannot be encoded fails alone
                        if not pending.future.done():
                            pending.future.set_exception(exc)
                        continue
                    sent.append((pending, len(pipe)))
                if not sent:
                    return
                self.flushes += 1
                replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            # Only the event loop shutting down (or a cancelled aclose) cancels the flusher.
            for pending in (*batch, *self._queue):
                pending.future.cancel()
            self._queue = []
            raise
        except Exception as exc:  # the round trip failed: every event in it failed
            for pending, _ in sent:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        start = 0
        for pending, end in sent:
            replies_of_event, start = replies[start:end], end
            if pending.future.done():
                continue  # cancelled while in flight; the event is written regardless
            error = next((r for r in replies_of_event if isinstance(r, Exception)), None)
            if error is not None:
                pending.future.set_exception(error)
            else:
                pending.future.set_result(entry_id(replies_of_event[0]))
