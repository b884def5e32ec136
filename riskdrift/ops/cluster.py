"""The cluster view the API computes when it is scraped or the dashboard asks.

- Queue depth from Redis. arq keeps a queue as a sorted set scored by the
  time a job may run; ``ZCARD`` counts running and deferred jobs too. A job
  is *ready* when its score is due and no worker holds its in-progress claim;
  :func:`riskdrift.queue.queue_counts` counts ready, deferred and running entries
  atomically on the server.
- Live workers: each worker refreshes a hash ``riskdrift:workers:<queue>:<id>``
  (with a TTL) and its id in the index ``riskdrift:workers:<queue>`` (scored by
  the time it last published); entries older than the TTL are dead.
- Job figures from Postgres, the truth about finished jobs: counts by status,
  and over the last hour the failure ratio and the p95 end-to-end latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import asyncpg
from prometheus_client import Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from riskdrift.ops import metrics as m
from riskdrift.queue import queue_counts
from riskdrift.queue.keys import worker_key, workers_index_key
from riskdrift.store import job_stats

# arq enqueues each cron tick up to a second early as a deferred entry named after the
# cron job; the prefix keeps those housekeeping ticks out of the queue-depth gauges.
CRON_JOB_PREFIX = "cron:"


@dataclass(frozen=True, slots=True)
class QueueDepth:
    queue: str
    ready: int
    deferred: int
    running: int


async def queue_depth(redis: Redis, queue: str, *, now_ms: int | None = None) -> QueueDepth:
    """Ready, deferred and running entries of an arq queue."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    ready, deferred, running = await queue_counts(
        redis, queue, now_ms=now_ms, skip_prefix=CRON_JOB_PREFIX
    )
    return QueueDepth(queue, ready, deferred, running)


@dataclass(frozen=True, slots=True)
class WorkerFigures:
    """What one worker last published."""

    worker_id: str
    queue: str
    host: str
    pid: int
    busy: int
    max_jobs: int
    completed: int
    failed: int
    started_at: float
    seen_at: float

    @property
    def utilisation(self) -> float:
        return self.busy / self.max_jobs if self.max_jobs else 0.0


def _text(raw: dict[bytes, bytes], name: str, default: str = "0") -> str:
    value = raw.get(name.encode())
    return value.decode() if value is not None else default


async def live_workers(redis: Redis, queue: str, *, stale_after: float) -> list[WorkerFigures]:
    """The workers of ``queue`` that published within ``stale_after`` seconds."""
    index = workers_index_key(queue)
    cutoff_ms = (time.time() - stale_after) * 1000
    await redis.zremrangebyscore(index, "-inf", cutoff_ms)
    ids = [i.decode() for i in await redis.zrange(index, 0, -1)]
    if not ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for worker_id in ids:
            pipe.hgetall(worker_key(queue, worker_id))
        hashes: list[dict[bytes, bytes]] = await pipe.execute()
    found = []
    for worker_id, raw in zip(ids, hashes, strict=True):
        if not raw:  # expired between the two reads
            continue
        found.append(
            WorkerFigures(
                worker_id=worker_id,
                queue=queue,
                host=_text(raw, "host", "?"),
                pid=int(_text(raw, "pid")),
                busy=int(_text(raw, "busy")),
                max_jobs=int(_text(raw, "max_jobs")),
                completed=int(_text(raw, "completed")),
                failed=int(_text(raw, "failed")),
                started_at=float(_text(raw, "started_at")),
                seen_at=float(_text(raw, "seen_at")),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class JobFigures:
    """Job counts from Postgres: all rows by status, and what finished in the last hour."""

    by_status: dict[str, int]
    last_hour: dict[str, int]
    failure_ratio: float | None  # None when nothing finished
    p95_seconds: float | None


async def job_figures(pool: asyncpg.Pool) -> JobFigures:
    """Counts by status and the last hour's failure ratio and p95 end-to-end latency."""
    by_status, hour = await job_stats.job_counts(pool)
    last_hour = {"completed": hour.completed, "failed": hour.failed, "cancelled": hour.cancelled}
    ended = hour.completed + hour.failed
    return JobFigures(
        by_status=by_status,
        last_hour=last_hour,
        failure_ratio=hour.failed / ended if ended else None,
        p95_seconds=hour.p95_seconds,
    )


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """Everything the cluster view shows, read once."""

    queues: list[QueueDepth]
    workers: list[WorkerFigures]
    jobs: JobFigures
    counters: list[Metric]
    taken_at: float

    def as_json(self) -> dict[str, Any]:
        """The dashboard's ``/dashboard/summary`` document."""
        workers = []
        for w in self.workers:
            workers.append({**asdict(w), "utilisation": round(w.utilisation, 4)})
        return {
            "taken_at": self.taken_at,
            "queues": [asdict(q) for q in self.queues],
            "workers": workers,
            "utilisation": {q.queue: _utilisation(self.workers, q.queue) for q in self.queues},
            "jobs": {
                "by_status": self.jobs.by_status,
                "last_hour": self.jobs.last_hour,
                "failure_ratio": self.jobs.failure_ratio,
                "p95_seconds": self.jobs.p95_seconds,
            },
        }


def _utilisation(workers: Sequence[WorkerFigures], queue: str) -> float | None:
    slots = sum(w.max_jobs for w in workers if w.queue == queue)
    busy = sum(w.busy for w in workers if w.queue == queue)
    return round(busy / slots, 4) if slots else None


async def take_snapshot(
    redis: Redis, pool: asyncpg.Pool, queues: Sequence[str], *, stale_after: float
) -> ClusterSnapshot:
    """Read queue depths, live workers, Postgres figures and cluster counters concurrently."""
    depths, workers, jobs, counters = await asyncio.gather(
        asyncio.gather(*(queue_depth(redis, q) for q in queues)),
        asyncio.gather(*(live_workers(redis, q, stale_after=stale_after) for q in queues)),
        job_figures(pool),
        m.read_counters(redis, queues),
    )
    return ClusterSnapshot(
        queues=list(depths),
        workers=[w for group in workers for w in group],
        jobs=jobs,
        counters=counters,
        taken_at=time.time(),
    )


def _gauge(family: m.Family) -> Metric:
    return Metric(family.name, family.help, "gauge")


class SnapshotCollector(Collector):
    """Renders a :class:`ClusterSnapshot` as Prometheus families (for a per-scrape registry)."""

    def __init__(self, snapshot: ClusterSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot
        ready, deferred, running = (_gauge(m.QUEUE_READY), _gauge(m.QUEUE_DEFERRED),
                                    _gauge(m.QUEUE_RUNNING))  # fmt: skip
        in_progress, alive, utilisation = (
            _gauge(m.JOBS_IN_PROGRESS),
            _gauge(m.WORKERS_ALIVE),
            _gauge(m.WORKER_UTILISATION),
        )
        for q in snap.queues:
            labels = {"queue": q.queue}
            ready.add_sample(m.QUEUE_READY.name, labels, q.ready)
            deferred.add_sample(m.QUEUE_DEFERRED.name, labels, q.deferred)
            running.add_sample(m.QUEUE_RUNNING.name, labels, q.running)
            mine = [w for w in snap.workers if w.queue == q.queue]
            in_progress.add_sample(m.JOBS_IN_PROGRESS.name, labels, sum(w.busy for w in mine))
            alive.add_sample(m.WORKERS_ALIVE.name, labels, len(mine))
            ratio = _utilisation(mine, q.queue)
            if ratio is not None:
                utilisation.add_sample(m.WORKER_UTILISATION.name, labels, ratio)
        yield from (ready, deferred, running, in_progress, alive, utilisation)

        busy, slots = _gauge(m.WORKER_BUSY_SLOTS), _gauge(m.WORKER_MAX_JOBS)
        for w in snap.workers:
            labels = {"queue": w.queue, "worker": w.worker_id}
            busy.add_sample(m.WORKER_BUSY_SLOTS.name, labels, w.busy)
            slots.add_sample(m.WORKER_MAX_JOBS.name, labels, w.max_jobs)
        yield from (busy, slots)

        by_status, last_hour = _gauge(m.JOBS_BY_STATUS), _gauge(m.JOBS_FINISHED_LAST_HOUR)
        for status, n in snap.jobs.by_status.items():
            by_status.add_sample(m.JOBS_BY_STATUS.name, {"status": status}, n)
        for status, n in snap.jobs.last_hour.items():
            last_hour.add_sample(m.JOBS_FINISHED_LAST_HOUR.name, {"status": status}, n)
        yield from (by_status, last_hour)
        if snap.jobs.failure_ratio is not None:
            ratio_metric = _gauge(m.FAILURE_RATIO_LAST_HOUR)
            ratio_metric.add_sample(m.FAILURE_RATIO_LAST_HOUR.name, {}, snap.jobs.failure_ratio)
            yield ratio_metric
        if snap.jobs.p95_seconds is not None:
            p95 = _gauge(m.END_TO_END_P95_LAST_HOUR)
            p95.add_sample(m.END_TO_END_P95_LAST_HOUR.name, {}, snap.jobs.p95_seconds)
            yield p95
        yield from snap.counters


async def last_hour_series(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Per minute of the last hour: completed, failed, p95 seconds (or None), waiting jobs.

    Read from the job rows, so every API replica draws the same charts and they
    survive restarts; the waiting count is the ready backlog as the rows record it.
    """
    rows = await job_stats.last_hour_minutes(pool)
    return [
        {
            "minute": r["minute"].isoformat(),
            "completed": int(r["completed"]),
            "failed": int(r["failed"]),
            "p95_seconds": round(float(r["p95"]), 3) if r["p95"] is not None else None,
            "waiting": int(r["waiting"]),
        }
        for r in rows
    ]
