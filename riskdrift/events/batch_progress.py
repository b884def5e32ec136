"""A batch's aggregate events: one Redis Stream per batch, one entry per job state change.

Keys (all expire with the batch's results, ``result_ttl``; named in
:mod:`riskdrift.queue.keys`):

- ``riskdrift:job-batch:<job_id>``: ``"<batch_id> <ticker>"`` for every job of a batch,
  written when the batch is enqueued; a job without it is not in a batch.
- ``riskdrift:batch-states:<batch_id>``: hash job id → the state last reported.
- ``riskdrift:batch-counts:<batch_id>``: hash state → jobs in it, plus ``total``.
- ``riskdrift:batch-events:<batch_id>``: the stream SSE clients read.

A state change is reported by one Lua script (:data:`_REPORT`), so the hashes and the
stream entry change together and in one order across every worker and API process: the
counts of the stream's entries never go backwards, a repeated report of the same state
(an at-least-once re-run) adds nothing, and a finished job is never counted twice. The
stream keeps at least four entries per job (``MAXLEN ~``), so a whole batch's history
stays resumable. The report that finishes the last job also appends ``batch_completed``
(once: ``HSETNX``) and tells its caller, who then marks the batch finished in Postgres
and sends its webhook. Ordinary jobs cost one Redis round trip per report (the ``GET`` misses).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from riskdrift.models import JobStatus
from riskdrift.queue.keys import (
    BATCH_COUNTS_PREFIX,
    BATCH_EVENTS_PREFIX,
    BATCH_STATES_PREFIX,
    batch_counts_key,
    batch_states_key,
    batch_stream_key,
    job_batch_key,
)

__all__ = [
    "BATCH_EVENT",
    "BATCH_TERMINAL_EVENT",
    "batch_stream_key",
    "queue_batch_links",
    "queue_discard_batch",
    "queue_report",
    "report_state",
]

BATCH_TERMINAL_EVENT = "batch_completed"
BATCH_EVENT = "batch_progress"

# The script finds a job's batch from its link, so it builds the batch's keys itself.
_REPORT = (
    """
local link = redis.call('GET', KEYS[1])
if not link then return -1 end
local sep = string.find(link, ' ', 1, true)
local batch = string.sub(link, 1, sep - 1)
local ticker = string.sub(link, sep + 1)
local states = '@STATES@' .. batch
local counts = '@COUNTS@' .. batch
local stream = '@EVENTS@' .. batch
local job, new = ARGV[1], ARGV[2]
local old = redis.call('HGET', states, job) or 'queued'
if old == new or old == 'completed' or old == 'failed' or old == 'cancelled' then
    return 0
end
redis.call('HSET', states, job, new)
redis.call('HINCRBY', counts, old, -1)
redis.call('HINCRBY', counts, new, 1)
local raw = redis.call('HGETALL', counts)
local c = {}
for i = 1, #raw, 2 do c[raw[i]] = tonumber(raw[i + 1]) end
local total = c['total'] or 0
local function n(name) return c[name] or 0 end
local finished = n('completed') + n('failed') + n('cancelled')
local by_state = {queued = n('queued'), processing = n('processing'),
                  completed = n('completed'), failed = n('failed'),
                  cancelled = n('cancelled')}
local progress = 100
if total > 0 then progress = math.floor(finished * 100 / total) end
local event = {event = 'batch_progress', batch_id = batch, job_id = job, ticker = ticker,
               status = new, previous_status = old, counts = by_state, total = total,
               finished = finished, progress = progress, at = ARGV[4]}
if ARGV[3] ~= '' then event['error'] = ARGV[3] end
-- Room for every state change of every job (about 2-3 each, more with retries).
local maxlen, ttl = math.max(tonumber(ARGV[5]), total * 4), tonumber(ARGV[6])
redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', 'batch_progress',
           'data', cjson.encode(event))
local ended = 0
if finished >= total and redis.call('HSETNX', counts, 'ended', '1') == 1 then
    local done = {event = 'batch_completed', batch_id = batch, counts = by_state,
                  total = total, finished = finished, progress = 100, at = ARGV[4]}
    redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'event', 'batch_completed',
               'data', cjson.encode(done))
    ended = 1
end
for _, key in ipairs({stream, states, counts}) do redis.call('EXPIRE', key, ttl) end
return ended
""".replace("@STATES@", BATCH_STATES_PREFIX)
    .replace("@COUNTS@", BATCH_COUNTS_PREFIX)
    .replace("@EVENTS@", BATCH_EVENTS_PREFIX)
)


def queue_batch_links(
    pipe: Pipeline,
    batch_id: uuid.UUID,
    jobs: Iterable[tuple[uuid.UUID, str]],
    *,
    total: int,
    ttl: int,
) -> None:
    """Queue onto ``pipe`` what a new batch's reports need: each job's link to the batch
    and the counts (every job ``queued``)."""
    pipe.hset(batch_counts_key(batch_id), mapping={"total": total, "queued": total})
    pipe.expire(batch_counts_key(batch_id), ttl)
    for job_id, ticker in jobs:
        pipe.set(job_batch_key(job_id), f"{batch_id} {ticker}", ex=ttl)


def queue_discard_batch(pipe: Pipeline, batch_id: uuid.UUID, job_ids: Iterable[uuid.UUID]) -> None:
    """Queue the removal of everything :func:`queue_batch_links` and reports wrote."""
    pipe.delete(batch_counts_key(batch_id), batch_states_key(batch_id), batch_stream_key(batch_id))
    keys = [job_batch_key(j) for j in job_ids]
    if keys:
        pipe.delete(*keys)


async def report_state(
    redis: Redis,
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    error: str | None = None,
    maxlen: int,
    ttl: int,
) -> bool | None:
    """Report a job's new state to its batch's stream; ``None`` when the job is in no
    batch, else whether this report ended the batch (the caller then finishes it)."""
    replies = await redis.eval(  # type: ignore[misc]
        _REPORT, 1, *_report_args(job_id, status, error, maxlen, ttl)
    )
    ended = int(replies)
    return None if ended < 0 else ended == 1


def _report_args(
    job_id: uuid.UUID, status: JobStatus, error: str | None, maxlen: int, ttl: int
) -> tuple[str, ...]:
    """The script's key and arguments for one job's state change."""
    return (
        job_batch_key(job_id),
        str(job_id),
        status.value,
        error or "",
        dt.datetime.now(dt.UTC).isoformat(),
        str(maxlen),
        str(ttl),
    )


def queue_report(
    pipe: Pipeline,
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    error: str | None = None,
    maxlen: int,
    ttl: int,
) -> None:
    """:func:`report_state` onto a pipeline (many jobs' reports in one round trip); its
    reply is the script's: -1 not in a batch, 0 reported, 1 reported and the batch ended."""
    pipe.eval(_REPORT, 1, *_report_args(job_id, status, error, maxlen, ttl))
