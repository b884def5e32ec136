"""riskdrift's own Redis keys, all under ``riskdrift:`` (arq's are in :mod:`.jobs`).

- ``riskdrift:events:<job_id>``: a job's progress stream (events/publish.py).
- ``riskdrift:job-batch:<job_id>``: ``"<batch_id> <ticker>"``, the job's link to its batch;
  ``riskdrift:batch-states:<batch_id>`` (hash job → state),
  ``riskdrift:batch-counts:<batch_id>`` (hash state → jobs, plus ``total``) and
  ``riskdrift:batch-events:<batch_id>`` (the batch's stream) (events/batch_progress.py).
- ``riskdrift:workers:<queue>``: the index of a queue's live workers, scored by their last
  publication; ``riskdrift:workers:<queue>:<worker_id>``: one worker's figures
  (ops/worker.py writes them, ops/cluster.py reads them).
- ``riskdrift:metrics:<queue>``: a queue's cluster counters (ops/metrics.py).
- ``riskdrift:limits...``: the submission rate limiter's counters (api/limits.py).
- ``riskdrift:webhook-slots:<host>``: the webhook deliveries in flight to one receiver
  host, a sorted set of leases scored by expiry (webhooks/slots.py).
- ``riskdrift:wake:<queue>`` and ``riskdrift:wake:abort``: pub/sub channels, not keys; a
  message wakes a queue's idle workers at once (queue/workers.py).
- ``riskdrift:edgar:next-slot``: the EDGAR request slot every process shares
  (sources/fair_access.py); ``riskdrift:edgar:meta:<hash>``: shared EDGAR metadata and
  its ``:lock`` (sources/singleflight.py).
"""

from __future__ import annotations

import uuid

ROOT = "riskdrift:"

EVENTS_PREFIX = ROOT + "events:"
JOB_BATCH_PREFIX = ROOT + "job-batch:"
BATCH_STATES_PREFIX = ROOT + "batch-states:"
BATCH_COUNTS_PREFIX = ROOT + "batch-counts:"
BATCH_EVENTS_PREFIX = ROOT + "batch-events:"
WATCH_EVENTS_PREFIX = ROOT + "watch-events:"
LIMITS_PREFIX = ROOT + "limits"  # the limits library adds its own separator
EDGAR_SLOT_KEY = ROOT + "edgar:next-slot"
EDGAR_META_PREFIX = ROOT + "edgar:meta:"
WEBHOOK_SLOTS_PREFIX = ROOT + "webhook-slots:"
WAKE_ABORT_CHANNEL = ROOT + "wake:abort"


def stream_key(job_id: uuid.UUID | str) -> str:
    """The Redis key of a job's event stream."""
    return f"{EVENTS_PREFIX}{job_id}"


def job_batch_key(job_id: uuid.UUID | str) -> str:
    """The key linking a job to its batch (absent for a job in no batch)."""
    return f"{JOB_BATCH_PREFIX}{job_id}"


def batch_states_key(batch_id: uuid.UUID | str) -> str:
    """The hash of a batch's jobs' last reported states."""
    return f"{BATCH_STATES_PREFIX}{batch_id}"


def batch_counts_key(batch_id: uuid.UUID | str) -> str:
    """The hash of a batch's jobs counted by state, plus ``total``."""
    return f"{BATCH_COUNTS_PREFIX}{batch_id}"


def batch_stream_key(batch_id: uuid.UUID | str) -> str:
    """The Redis key of a batch's aggregate event stream."""
    return f"{BATCH_EVENTS_PREFIX}{batch_id}"


def watchlist_stream_key(watchlist_id: uuid.UUID | str) -> str:
    """The Redis Stream of a watchlist's ``filing_analysed`` events (issue 24)."""
    return f"{WATCH_EVENTS_PREFIX}{watchlist_id}"


def workers_index_key(queue: str) -> str:
    """The sorted set of a queue's worker ids, scored by last publication (ms)."""
    return f"{ROOT}workers:{queue}"


def worker_key(queue: str, worker_id: str) -> str:
    """The hash one worker publishes its figures into."""
    return f"{ROOT}workers:{queue}:{worker_id}"


def counters_key(queue: str) -> str:
    """The Redis hash of a queue's cluster counters."""
    return f"{ROOT}metrics:{queue}"


def edgar_meta_key(digest: str) -> str:
    """The key of one shared EDGAR metadata document (by a digest of its URL)."""
    return EDGAR_META_PREFIX + digest


def webhook_slots_key(host: str) -> str:
    """The sorted set of leases on one receiver host's delivery slots."""
    return WEBHOOK_SLOTS_PREFIX + host


def wake_channel(queue: str) -> str:
    """The pub/sub channel whose messages wake ``queue``'s idle workers (a job was queued)."""
    return f"{ROOT}wake:{queue}"
