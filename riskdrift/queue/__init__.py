"""The adapter between riskdrift and arq, and the home of every Redis key riskdrift uses.

Checked against arq 0.28.0 (``constraints.txt``). Nothing outside this package
imports ``arq`` (``tests/test_layering.py`` holds the package to that, and to
touching no private arq name), so an arq upgrade is checked here:

- :mod:`.connection`: arq's ``RedisSettings`` from our Settings, the pool
  (:func:`create_pool`, ``ArqRedis``), JSON job serialisation (:func:`dumps`,
  :func:`loads`).
- :mod:`.jobs`: arq's key layout (``arq:job:``, ``arq:in-progress:``, ``arq:retry:``,
  ``arq:result:``, ``arq:abort``, ``<queue>:health-check``) behind named functions
  (:func:`job_key`, :func:`in_progress_key`, ...), and what callers do with it:
  :func:`enqueue`, :func:`queue_job` (``enqueue_job``'s writes onto a pipeline, for a
  new id), :func:`queue_abort`, :func:`queue_discard`, :func:`give_back_try`,
  :func:`release_claim`, :func:`discard_result`, :func:`job_entries`, :func:`queue_counts`,
  :func:`queued_job_ids`,
  and arq's records (:func:`job_record`, :func:`result_record`).
- :mod:`.workers`: ``Worker`` and :class:`PollingWorker` (the one override of a private
  arq method, ``Worker._poll_iteration``), ``func``, ``cron``, ``Retry``, :class:`Defer`,
  :func:`worker_kwargs`.
- :mod:`.keys`: riskdrift's own keys (event streams, batch progress, worker figures,
  cluster counters, rate limits, EDGAR coordination).

What to re-check on an arq upgrade: the constants in ``arq.constants``; that
``enqueue_job`` still writes exactly a ``PSETEX`` of ``serialize_job(...)`` with
``expires_extra_ms`` and a ``ZADD`` scored by the enqueue time (``tests/test_submit.py``
compares :func:`queue_job` with it); that ``Worker.main`` still polls through
``_poll_iteration``; that ``get_kwargs`` still reads a WorkerSettings class; and the
keys arq puts in a task's ``ctx`` (``riskdrift/worker/context.py``).
"""

from __future__ import annotations

from riskdrift.queue.connection import (
    ArqRedis,
    RedisSettings,
    create_pool,
    dumps,
    loads,
    redis_settings,
)
from riskdrift.queue.jobs import (
    ABORT_KEY,
    IN_PROGRESS_PREFIX,
    JobDef,
    JobEntry,
    JobResult,
    discard_result,
    enqueue,
    give_back_try,
    health_check_key,
    in_progress_key,
    job_entries,
    job_key,
    job_record,
    queue_abort,
    queue_counts,
    queue_discard,
    queue_job,
    queue_wake,
    queued_job_ids,
    release_claim,
    result_key,
    result_record,
    retry_key,
)
from riskdrift.queue.workers import (
    Defer,
    PollingWorker,
    Retry,
    Worker,
    create_worker,
    cron,
    func,
    worker_kwargs,
)

__all__ = [
    "ABORT_KEY",
    "IN_PROGRESS_PREFIX",
    "ArqRedis",
    "Defer",
    "JobDef",
    "JobEntry",
    "JobResult",
    "PollingWorker",
    "RedisSettings",
    "Retry",
    "Worker",
    "create_pool",
    "create_worker",
    "cron",
    "discard_result",
    "dumps",
    "enqueue",
    "func",
    "give_back_try",
    "health_check_key",
    "in_progress_key",
    "job_entries",
    "job_key",
    "job_record",
    "loads",
    "queue_abort",
    "queue_counts",
    "queue_discard",
    "queue_job",
    "queue_wake",
    "queued_job_ids",
    "redis_settings",
    "release_claim",
    "result_key",
    "result_record",
    "retry_key",
    "worker_kwargs",
]
