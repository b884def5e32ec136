"""Writing progress events into a job's Redis Stream.

One stream per job, ``riskdrift:events:<job_id>``. Each entry has two fields:
``event`` (the name) and ``data`` (the JSON of a :class:`JobEvent`). The stream
is capped with ``MAXLEN ~`` and expires together with the job's result: the
expiry is set by the first event (``job_queued``) and renewed by the terminal
one; XADD keeps a key's expiry, so the events between need no EXPIRE.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from riskdrift.models import EventName, JobEvent

STREAM_PREFIX = "riskdrift:events:"


def stream_key(job_id: uuid.UUID | str) -> str:
    """The Redis key of a job's event stream."""
    return f"{STREAM_PREFIX}{job_id}"


def make_event(event: EventName, job_id: uuid.UUID, **fields: Any) -> JobEvent:
    """A :class:`JobEvent` stamped with the current time."""
    return JobEvent(event=event, job_id=job_id, at=dt.datetime.now(dt.UTC), **fields)


async def publish(redis: Redis, event: JobEvent, *, maxlen: int, ttl: int | None) -> str:
    """XADD ``event`` to its job's stream and, unless ``ttl`` is ``None``, set the stream's
    expiry (in the same round trip); returns the entry id."""
    key = stream_key(event.job_id)
    fields: dict[Any, Any] = {
        "event": event.event,
        "data": event.model_dump_json(exclude_none=True),
    }
    if ttl is None:
        entry_id = await redis.xadd(key, fields, maxlen=maxlen, approximate=True)
    else:
        async with redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, fields, maxlen=maxlen, approximate=True)
            pipe.expire(key, ttl)
            entry_id, _ = await pipe.execute()
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def parse_entry(fields: Mapping[bytes, bytes]) -> JobEvent:
    """Decode one stream entry's fields back into a :class:`JobEvent`."""
    return JobEvent.model_validate_json(fields[b"data"])
