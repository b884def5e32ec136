"""Writing progress events into a job's Redis Stream.

One stream per job, ``riskdrift:events:<job_id>`` (:func:`riskdrift.queue.keys.stream_key`).
Each entry has two fields: ``event`` (the name) and ``data`` (the JSON of a
:class:`JobEvent`). The stream is capped with ``MAXLEN ~`` and expires together
with the job's result: the expiry is set by the first event (``job_queued``) and
renewed by the terminal one; XADD keeps a key's expiry, so the events between need no EXPIRE.

:func:`queue_publish` builds those commands onto a pipeline; :func:`publish` sends
one event's in a round trip of its own, and the worker's
:class:`~riskdrift.events.batch.EventBatcher` sends many events' in one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from riskdrift.models import EventName, JobEvent
from riskdrift.queue.keys import stream_key

__all__ = ["entry_id", "make_event", "publish", "queue_publish", "stream_key"]


def make_event(event: EventName, job_id: uuid.UUID, **fields: Any) -> JobEvent:
    """A :class:`JobEvent` stamped with the current time."""
    return JobEvent(event=event, job_id=job_id, at=dt.datetime.now(dt.UTC), **fields)


def queue_publish(pipe: Pipeline, event: JobEvent, *, maxlen: int, ttl: int | None) -> None:
    """Queue the commands that publish ``event`` onto ``pipe``: its XADD and, unless ``ttl``
    is ``None``, the EXPIRE of its stream. The XADD's reply is the entry id."""
    key = stream_key(event.job_id)
    fields: dict[Any, Any] = {
        "event": event.event,
        "data": event.model_dump_json(exclude_none=True),
    }
    pipe.xadd(key, fields, maxlen=maxlen, approximate=True)
    if ttl is not None:
        pipe.expire(key, ttl)


def entry_id(reply: Any) -> str:
    """The stream entry id of an XADD reply."""
    return reply.decode() if isinstance(reply, bytes) else str(reply)


async def publish(redis: Redis, event: JobEvent, *, maxlen: int, ttl: int | None) -> str:
    """XADD ``event`` to its job's stream and, unless ``ttl`` is ``None``, set the stream's
    expiry (in the same round trip); returns the entry id."""
    async with redis.pipeline(transaction=False) as pipe:
        queue_publish(pipe, event, maxlen=maxlen, ttl=ttl)
        replies = await pipe.execute()
    return entry_id(replies[0])


def parse_entry(fields: Mapping[bytes, bytes]) -> JobEvent:
    """Decode one stream entry's fields back into a :class:`JobEvent`."""
    return JobEvent.model_validate_json(fields[b"data"])
