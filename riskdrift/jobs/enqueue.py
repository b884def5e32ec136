"""A new job's Redis writes in one round trip: ``job_queued``, its arq job, the submit count.

``ArqRedis.enqueue_job`` costs two round trips (WATCH + EXISTS, then MULTI, PSETEX,
ZADD, EXEC) to refuse a job id that is already queued or has a result. A job
that ``POST /analyze`` has just inserted has a new UUID, so that check can never
fire; :func:`riskdrift.queue.queue_job` writes what ``enqueue_job`` writes (the
``serialize_job`` payload under the job key with arq's expiry, and the id in the
queue's sorted set scored with the enqueue time) onto a pipeline that also carries
the ``job_queued`` event and the submit counter.

The pipeline is not a MULTI/EXEC transaction: Redis runs one connection's
commands in order, so the stream entry exists before the queue entry and the job
key before a worker can see the queue entry, and every partial outcome of a
failure (some commands applied, then the connection dropped) is undone by the
caller's cleanup, :func:`discard_new_job`.
"""

from __future__ import annotations

import uuid

from riskdrift.config import Settings
from riskdrift.events.publish import make_event, queue_publish, stream_key
from riskdrift.models import JobStatus
from riskdrift.ops import metrics
from riskdrift.queue import ArqRedis, queue_discard, queue_job

ANALYSIS_TASK = "analyze_risk_drift"


async def enqueue_new_job(redis: ArqRedis, job_id: uuid.UUID, settings: Settings) -> None:
    """Publish ``job_queued``, enqueue the analysis of a freshly inserted job and count the
    submission, in one round trip.

    Raises if the event or the arq job was not written (the caller then deletes the row and
    calls :func:`discard_new_job`); the count may have been made all the same.
    """
    async with redis.pipeline(transaction=False) as pipe:
        queue_publish(
            pipe,
            make_event("job_queued", job_id, status=JobStatus.QUEUED),
            maxlen=settings.stream_maxlen,
            ttl=settings.result_ttl,
        )
        job = str(job_id)
        queue_job(pipe, redis, ANALYSIS_TASK, job, job_id=job, queue=settings.queue_name)
        await metrics.execute_counted(pipe, settings.queue_name, metrics.JOBS_SUBMITTED)


async def discard_new_job(redis: ArqRedis, job_id: uuid.UUID, settings: Settings) -> None:
    """Remove whatever :func:`enqueue_new_job` may have written for a job whose row is
    being deleted: its stream, its queue entry and its arq job key (one round trip)."""
    async with redis.pipeline(transaction=False) as pipe:
        queue_discard(pipe, settings.queue_name, [str(job_id)])
        pipe.delete(stream_key(job_id))
        await pipe.execute()
