"""arq's jobs in Redis: its key names, and what riskdrift writes and reads of them.

arq (0.28) keeps, per job id: the serialised job under ``arq:job:<id>`` (expiring),
the id in the queue's sorted set scored by when it may run, while a worker runs it a
claim ``arq:in-progress:<id>``, a try counter ``arq:retry:<id>``, and after it ran its
result ``arq:result:<id>`` (for ``keep_result``; ``enqueue_job`` refuses the id until
it expires). Ids in the sorted set ``arq:abort`` are cancelled when a worker sees them
(with ``allow_abort_jobs``); a worker refreshes ``<queue>:health-check`` while alive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from arq import ArqRedis
from arq.constants import (
    abort_jobs_ss,
    health_check_key_suffix,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import Job, JobDef, JobResult, serialize_job
from arq.utils import timestamp_ms
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from riskdrift.queue.connection import loads
from riskdrift.queue.keys import WAKE_ABORT_CHANNEL, wake_channel

__all__ = [
    "ABORT_KEY",
    "IN_PROGRESS_PREFIX",
    "JobDef",
    "JobEntry",
    "JobResult",
    "discard_result",
    "enqueue",
    "give_back_try",
    "health_check_key",
    "in_progress_key",
    "job_entries",
    "job_key",
    "job_record",
    "queue_abort",
    "queue_counts",
    "queue_discard",
    "queue_job",
    "queue_wake",
    "queued_job_ids",
    "release_claim",
    "result_key",
    "result_record",
    "retry_key",
]

ABORT_KEY = abort_jobs_ss
"""The sorted set of job ids to abort, scored by when they were asked to (ms)."""

IN_PROGRESS_PREFIX = in_progress_key_prefix
"""The prefix of every claim (for scripts that build the keys on the server)."""


def job_key(job_id: str) -> str:
    """The key of a queued job's serialised definition."""
    return job_key_prefix + job_id


def in_progress_key(job_id: str) -> str:
    """The key of a worker's claim on a job while it runs (its TTL is the claim's)."""
    return in_progress_key_prefix + job_id


def retry_key(job_id: str) -> str:
    """The key of arq's counter of a job's tries (``job_try``)."""
    return retry_key_prefix + job_id


def result_key(job_id: str) -> str:
    """The key of a finished job's result, kept for the worker's ``keep_result``."""
    return result_key_prefix + job_id


def health_check_key(queue: str) -> str:
    """The key a live worker of ``queue`` refreshes (what ``arq --check`` reads)."""
    return queue + health_check_key_suffix


def queue_job(
    pipe: Pipeline,
    redis: ArqRedis,
    function: str,
    *args: Any,
    job_id: str,
    queue: str,
    wake: bool = True,
) -> None:
    """Queue onto ``pipe`` the keys ``redis.enqueue_job(function, *args, _job_id=job_id,
    _queue_name=queue)`` would write, without its duplicate check: only for an id that
    has never been enqueued; then (``wake``) the message that wakes the queue's workers.

    The payload uses ``redis``'s own serializer and expiry, as ``enqueue_job`` does.
    Many jobs on one pipeline need one wake-up: pass ``wake=False`` and end with
    :func:`queue_wake`.
    """
    enqueue_time_ms = timestamp_ms()
    payload = serialize_job(
        function, args, {}, None, enqueue_time_ms, serializer=redis.job_serializer
    )
    # arq: expires = score - enqueue time + expires_extra_ms, with score = enqueue time
    pipe.psetex(job_key(job_id), redis.expires_extra_ms, payload)
    pipe.zadd(queue, {job_id: enqueue_time_ms})
    if wake:
        queue_wake(pipe, queue)


def queue_wake(pipe: Pipeline | Redis, queue: str) -> Any:
    """Wake ``queue``'s idle workers (:class:`riskdrift.queue.PollingWorker`) to poll now,
    not at the end of their idle wait: after the job's keys, on the same connection."""
    return pipe.publish(wake_channel(queue), b"")


async def enqueue(
    redis: ArqRedis,
    function: str,
    *args: Any,
    queue: str,
    job_id: str | None = None,
    defer_by: float | None = None,
) -> bool:
    """Enqueue ``function(*args)`` on ``queue`` as the job ``job_id`` (default: a new id);
    ``False`` if arq refused it (the id is queued, running or its result still kept)."""
    job = await redis.enqueue_job(
        function, *args, _job_id=job_id, _queue_name=queue, _defer_by=defer_by
    )
    if job is None:
        return False
    await queue_wake(redis, queue)  # a deferred job too: the woken worker notes when it is due
    return True


def queue_abort(pipe: Pipeline, job_ids: Iterable[str]) -> None:
    """Queue onto ``pipe`` the request that workers abort ``job_ids``: a running job is
    cancelled, a queued one dropped when a worker picks it up."""
    now = timestamp_ms()
    pipe.zadd(ABORT_KEY, dict.fromkeys(job_ids, now))
    pipe.publish(WAKE_ABORT_CHANNEL, b"")  # any queue's worker may be running one


def queue_discard(pipe: Pipeline, queue: str, job_ids: Sequence[str]) -> None:
    """Queue onto ``pipe`` the removal of never-started jobs: their queue entries and
    job keys."""
    if job_ids:
        pipe.zrem(queue, *job_ids)
        pipe.delete(*(job_key(j) for j in job_ids))


async def release_claim(redis: Redis, job_id: str) -> None:
    """Drop a worker's claim on a job, so any worker polling the queue may take it."""
    await redis.delete(in_progress_key(job_id))


_DISCARD_RESULT = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1
   or redis.call('ZSCORE', KEYS[3], ARGV[1]) then
  return 0
end
return redis.call('DEL', KEYS[4], KEYS[5])
"""


async def discard_result(redis: Redis, job_id: str, *, queue: str) -> bool:
    """Forget the result arq keeps of a finished run of ``job_id`` (and its try counter),
    so ``enqueue`` accepts the id again; ``True`` if there was something to forget.

    Atomic, and a no-op while the id is live (queued, deferred or running): only a run
    that is over, whose job Postgres says is not, is forgotten.
    """
    deleted = await redis.eval(  # type: ignore[misc]
        _DISCARD_RESULT,
        5,
        job_key(job_id),
        in_progress_key(job_id),
        queue,
        result_key(job_id),
        retry_key(job_id),
        job_id,
    )
    return bool(deleted)


async def give_back_try(redis: Redis, job_id: str) -> None:
    """Undo the try arq counted for a run that is re-queued without having cost one."""
    await redis.decr(retry_key(job_id))


class JobEntry(NamedTuple):
    """What arq holds of one job id."""

    live: bool  # a job key, a queue entry or a claim: queued, deferred or running
    claim_ms: int  # PTTL of the in-progress claim; <= 0 when there is none
    result: bool  # run, its result kept: arq refuses the id until that expires


async def job_entries(redis: Redis, queue: str, job_ids: Sequence[str]) -> list[JobEntry]:
    """What arq holds of each job id, in one round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        for job_id in job_ids:
            pipe.exists(job_key(job_id))
            pipe.zscore(queue, job_id)
            pipe.pttl(in_progress_key(job_id))
            pipe.exists(result_key(job_id))
        replies = await pipe.execute()
    return [
        JobEntry(
            live=bool(replies[i]) or replies[i + 1] is not None or replies[i + 2] > 0,
            claim_ms=replies[i + 2],
            result=bool(replies[i + 3]),
        )
        for i in range(0, len(replies), 4)
    ]


async def queued_job_ids(redis: Redis, queue: str) -> list[str]:
    """The ids in ``queue``'s sorted set (ready, deferred and running), soonest first."""
    return [raw.decode() for raw in await redis.zrange(queue, 0, -1)]


async def job_record(redis: Redis, job_id: str, *, queue: str) -> JobDef | None:
    """arq's record of job ``job_id`` (with its result once it has one), or ``None``."""
    return await Job(job_id, redis, _queue_name=queue, _deserializer=loads).info()


async def result_record(redis: Redis, job_id: str) -> JobResult | None:
    """arq's record of job ``job_id``'s result while it is kept, or ``None``."""
    return await Job(job_id, redis, _deserializer=loads).result_info()


_QUEUE_COUNTS = """
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local now = tonumber(ARGV[1])
local ready, deferred, running = 0, 0, 0
for i = 1, #entries, 2 do
  if ARGV[3] ~= '' and string.sub(entries[i], 1, #ARGV[3]) == ARGV[3] then
    -- skipped: e.g. a scheduler tick, not a job anyone submitted
  elseif redis.call('EXISTS', ARGV[2] .. entries[i]) == 1 then
    running = running + 1
  elseif tonumber(entries[i + 1]) <= now then
    ready = ready + 1
  else
    deferred = deferred + 1
  end
end
return {ready, deferred, running}
"""


async def queue_counts(
    redis: Redis, queue: str, *, now_ms: int, skip_prefix: str = ""
) -> tuple[int, int, int]:
    """``(ready, deferred, running)`` entries of ``queue``, counted atomically on the server.

    An entry is running while a worker holds its claim, else ready once its score is due;
    ids starting with ``skip_prefix`` are not counted.
    """
    ready, deferred, running = await redis.eval(  # type: ignore[misc]
        _QUEUE_COUNTS, 1, queue, str(now_ms), IN_PROGRESS_PREFIX, skip_prefix
    )
    return int(ready), int(deferred), int(running)
