"""A worker process's metrics: its own registry, its publication into Redis, task hooks.

:func:`start_worker_metrics` (called from the worker's ``on_startup``) makes a
:class:`WorkerMetrics` with a registry of its own, puts it in arq's ``ctx``,
starts the publisher task and, when ``worker_metrics_port`` is set, serves the
registry on that port (prometheus_client's HTTP server, in a daemon thread).

Every job event updates the local registry and adds the same increments to a
pending :class:`riskdrift.ops.metrics.Tally` of the queue's cluster counters.
Every ``worker_metrics_interval`` the publisher writes the worker's gauges
(busy slots, max_jobs, completed/failed since start) to its hash with a TTL of
three intervals, adds the busy slot-seconds and EDGAR traffic since the last
publication to the tally, flushes the tally into Redis, and refreshes its entry
in the queue's worker index. So the cluster counters lag a worker by up to one
interval; flushing per job cost ~80 HINCRBYFLOAT per job (docs/BENCHMARKS.md).
On shutdown it publishes (and flushes) once more and withdraws.

Tasks reach it through :func:`worker_metrics`; recording never raises into a
job: a Redis error is logged and the figures are dropped.

Hooks: :func:`instrument_analysis` and :func:`instrument_webhook` wrap
``analyze_risk_drift`` and ``deliver_webhook`` where they are registered,
:func:`track_slot` the embeddings worker's ``generate_embeddings`` (busy slots only); the
inline webhook attempt of an analysis counts through :meth:`WorkerMetrics.note_webhook`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from typing import Any, TypeVar, cast

import asyncpg
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from redis.asyncio import Redis
from redis.exceptions import RedisError

from riskdrift.config import Settings
from riskdrift.ops import metrics as m
from riskdrift.ops.metrics import WEBHOOK_OUTCOMES
from riskdrift.queue import Defer, Retry
from riskdrift.queue.keys import worker_key, workers_index_key
from riskdrift.sources.edgar import EdgarStats
from riskdrift.store import job_stats
from riskdrift.store.jobs import JobRecord

log = structlog.get_logger(__name__)

CTX_KEY = "riskdrift_metrics"
R = TypeVar("R")


def _seconds_between(start: dt.datetime, end: dt.datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _counter(family: m.Family, registry: CollectorRegistry) -> Counter:
    return Counter(family.name, family.help, family.labels, registry=registry)


def _histogram(family: m.Family, registry: CollectorRegistry) -> Histogram:
    return Histogram(
        family.name, family.help, family.labels, registry=registry, buckets=family.buckets
    )


class WorkerMetrics:
    """One worker process's figures: a local registry, busy-slot accounting, Redis tallies."""

    def __init__(self, *, queue: str, max_jobs: int, worker_id: str | None = None) -> None:
        self.queue = queue
        self.max_jobs = max_jobs
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.started_at = time.time()
        self.registry = CollectorRegistry()
        r = self.registry
        self._counters = {
            f.name: _counter(f, r)
            for f in (
                m.JOBS_COMPLETED, m.JOBS_FAILED, m.JOBS_RETRIED, m.WEBHOOK_DELIVERIES,
                m.EDGAR_REQUESTS, m.EDGAR_CACHE_HITS, m.WORKER_BUSY_SECONDS,
            )
        }  # fmt: skip
        self._histograms = {
            f.name: _histogram(f, r)
            for f in (
                m.JOB_QUEUED_SECONDS,
                m.JOB_RUN_SECONDS,
                m.JOB_END_TO_END_SECONDS,
                m.WEBHOOK_DELIVERY_SECONDS,
            )
        }
        self._busy_gauge = Gauge(
            m.WORKER_BUSY_SLOTS.name, m.WORKER_BUSY_SLOTS.help, ("queue",), registry=r
        )
        Gauge(m.WORKER_MAX_JOBS.name, m.WORKER_MAX_JOBS.help, ("queue",), registry=r).labels(
            queue
        ).set(max_jobs)
        self.busy = 0
        self.completed = 0
        self.failed = 0
        self._busy_seconds = 0.0  # integral of busy slots over time
        self._busy_mark = time.monotonic()
        self._busy_published = 0.0
        self.edgar: EdgarStats | None = None
        self._edgar_published = (0, 0, 0)
        self._pending = m.Tally(queue)  # increments a failed flush keeps for the next one

    # --- busy slots -----------------------------------------------------------------------

    def _account(self) -> None:
        now = time.monotonic()
        self._busy_seconds += self.busy * (now - self._busy_mark)
        self._busy_mark = now

    def take_slot(self) -> None:
        self._account()
        self.busy += 1
        self._busy_gauge.labels(self.queue).set(self.busy)

    def free_slot(self) -> None:
        self._account()
        self.busy -= 1
        self._busy_gauge.labels(self.queue).set(self.busy)

    # --- recording ------------------------------------------------------------------------

    def _count(self, family: m.Family, amount: float = 1.0, **labels: str) -> None:
        self._counters[family.name].labels(queue=self.queue, **labels).inc(amount)
        self._pending.count(family, amount, **labels)

    def _observe(self, family: m.Family, value: float, **labels: str) -> None:
        self._histograms[family.name].labels(queue=self.queue, **labels).observe(value)
        self._pending.observe(family, value, **labels)

    async def record_analysis(
        self,
        pool: asyncpg.Pool,
        job_id: str,
        outcome: str,
        run_seconds: float,
        *,
        job: JobRecord | None = None,
    ) -> None:
        """Count one attempt of ``analyze_risk_drift`` and its latencies (from the job row:
        ``job`` if the task left it, else read back); the next publication writes them."""
        if outcome not in ("completed", "failed", "retried"):
            return  # skipped (cancelled/finished before it ran) or aborted: nothing ran to count
        timings: job_stats.AttemptTimings | None = None
        if job is not None and str(job.id) == job_id:
            timings = job_stats.AttemptTimings(
                attempts=job.attempts,
                queued=_seconds_between(job.created_at, job.started_at),
                end_to_end=_seconds_between(job.created_at, job.finished_at),
            )
        else:
            with contextlib.suppress(asyncpg.PostgresError, OSError, ValueError):
                timings = await job_stats.attempt_timings(pool, uuid.UUID(job_id))
        self._observe(m.JOB_RUN_SECONDS, run_seconds, outcome=outcome)
        if timings is not None and timings.attempts == 1 and timings.queued is not None:
            self._observe(m.JOB_QUEUED_SECONDS, max(0.0, timings.queued))
        if outcome == "retried":
            self._count(m.JOBS_RETRIED)
        else:
            self._count(m.JOBS_COMPLETED if outcome == "completed" else m.JOBS_FAILED)
            if outcome == "completed":
                self.completed += 1
            else:
                self.failed += 1
            if timings is not None and timings.end_to_end is not None:
                self._observe(
                    m.JOB_END_TO_END_SECONDS, max(0.0, timings.end_to_end), outcome=outcome
                )

    def note_webhook(self, *, outcome: str, seconds: float) -> None:
        """Count one webhook delivery attempt and its duration (written at the next publication)."""
        self._count(m.WEBHOOK_DELIVERIES, outcome=outcome)
        self._observe(m.WEBHOOK_DELIVERY_SECONDS, seconds, outcome=outcome)

    # --- publication ----------------------------------------------------------------------

    def _collect_deltas(self) -> None:
        self._account()
        busy_delta = self._busy_seconds - self._busy_published
        self._busy_published = self._busy_seconds
        self._count(m.WORKER_BUSY_SECONDS, busy_delta)
        if self.edgar is not None:
            now = (
                self.edgar.requests,
                self.edgar.document_cache_hits,
                self.edgar.metadata_cache_hits,
            )
            requests, documents, metadata = (
                a - b for a, b in zip(now, self._edgar_published, strict=True)
            )
            self._edgar_published = now
            self._count(m.EDGAR_REQUESTS, requests)
            self._count(m.EDGAR_CACHE_HITS, documents, kind="document")
            self._count(m.EDGAR_CACHE_HITS, metadata, kind="metadata")

    async def publish(self, redis: Redis, *, ttl: float) -> None:
        """Write this worker's gauges (expiring after ``ttl``) and the counters since last time."""
        self._collect_deltas()
        key = worker_key(self.queue, self.worker_id)
        now = time.time()
        try:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.hset(
                    key,
                    mapping={
                        "host": socket.gethostname(),
                        "pid": os.getpid(),
                        "busy": self.busy,
                        "max_jobs": self.max_jobs,
                        "completed": self.completed,
                        "failed": self.failed,
                        "started_at": self.started_at,
                        "seen_at": now,
                    },
                )
                pipe.pexpire(key, int(ttl * 1000))
                pipe.zadd(workers_index_key(self.queue), {self.worker_id: now * 1000})
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("worker_metrics_publish_failed", error=type(exc).__name__)
        await self._pending.flush(redis)

    async def withdraw(self, redis: Redis) -> None:
        """Remove this worker from the live set (a clean shutdown)."""
        with contextlib.suppress(RedisError, OSError):
            await redis.delete(worker_key(self.queue, self.worker_id))
            await redis.zrem(workers_index_key(self.queue), self.worker_id)

    async def run_publisher(self, redis: Redis, *, interval: float) -> None:
        """Publish every ``interval`` seconds until cancelled."""
        while True:
            await self.publish(redis, ttl=3 * interval)
            await asyncio.sleep(interval)


def worker_metrics(ctx: Mapping[str, Any]) -> WorkerMetrics | None:
    """The worker's :class:`WorkerMetrics` from arq's ``ctx``, if metrics are on."""
    found = ctx.get(CTX_KEY)
    return found if isinstance(found, WorkerMetrics) else None


async def start_worker_metrics(
    ctx: Mapping[str, Any], settings: Settings, stack: AsyncExitStack, *, queue: str | None = None
) -> WorkerMetrics:
    """Create the worker's metrics, start its publisher (and HTTP server); undone by ``stack``.

    ``queue`` is the queue the worker serves (the analysis queue unless given).
    """
    redis: Redis = ctx["redis"]
    metrics = WorkerMetrics(queue=queue or settings.queue_name, max_jobs=settings.worker_max_jobs)
    cast(dict[str, Any], ctx)[CTX_KEY] = metrics
    interval = settings.worker_metrics_interval
    await metrics.publish(redis, ttl=3 * interval)
    task = asyncio.create_task(
        metrics.run_publisher(redis, interval=interval), name="worker-metrics-publisher"
    )

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await metrics.publish(redis, ttl=3 * interval)  # the last counts
        await metrics.withdraw(redis)

    stack.push_async_callback(stop)
    if settings.worker_metrics_port:
        server, thread = start_http_server(
            settings.worker_metrics_port, addr="0.0.0.0", registry=metrics.registry
        )

        def close_server() -> None:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

        stack.callback(close_server)
        log.info("worker_metrics_serving", port=settings.worker_metrics_port)
    return metrics


def watch_edgar(metrics: WorkerMetrics, agent: object) -> None:
    """Count the EDGAR traffic of ``agent``'s filing source, if it is an EDGAR source."""
    stats = getattr(getattr(agent, "source", None), "stats", None)
    if isinstance(stats, EdgarStats):
        metrics.edgar = stats


def instrument_analysis(
    task: Callable[[Any, str], Awaitable[str]],
) -> Callable[[Any, str], Awaitable[str]]:
    """Wrap ``analyze_risk_drift``: busy slot while it runs, outcome and latencies after."""

    @functools.wraps(task)
    async def instrumented(ctx: Any, job_id: str) -> str:
        metrics = worker_metrics(ctx)
        if metrics is None:
            return await task(ctx, job_id)
        started = time.monotonic()
        outcome = "crashed"
        metrics.take_slot()
        try:
            result = await task(ctx, job_id)
            outcome = result
            return result
        except Retry:
            outcome = "retried"
            raise
        except asyncio.CancelledError:
            outcome = "aborted"  # cancelled by the client, or arq's hard timeout
            raise
        finally:
            metrics.free_slot()
            if outcome in ("completed", "failed", "retried"):
                # Run time ends when the job finished, not after its webhook attempt.
                ended = ctx.get("analysis_ended") or time.monotonic()
                await metrics.record_analysis(
                    ctx["pool"], job_id, outcome, ended - started, job=ctx.get("job_record")
                )

    return instrumented


def track_slot(task: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
    """Wrap a task without job rows (``generate_embeddings``) so its run counts as a busy slot."""

    @functools.wraps(task)
    async def tracked(ctx: Any, *args: Any, **kwargs: Any) -> R:
        metrics = worker_metrics(ctx)
        if metrics is None:
            return await task(ctx, *args, **kwargs)
        metrics.take_slot()
        try:
            return await task(ctx, *args, **kwargs)
        finally:
            metrics.free_slot()

    return tracked


def instrument_webhook(
    task: Callable[..., Awaitable[str]],
) -> Callable[..., Awaitable[str]]:
    """Wrap ``deliver_webhook``: busy slot, and each real attempt's outcome and duration.

    The task returns what became of the attempt; skipped, duplicate and missing
    attempts sent nothing and are not counted. A transient error (arq ``Retry``)
    counts as ``retrying``.
    """

    @functools.wraps(task)
    async def instrumented(ctx: Any, *args: Any, **kwargs: Any) -> str:
        metrics = worker_metrics(ctx)
        if metrics is None:
            return await task(ctx, *args, **kwargs)
        started = time.monotonic()
        outcome = "aborted"
        metrics.take_slot()
        try:
            outcome = await task(ctx, *args, **kwargs)
            return outcome
        except Defer:
            outcome = "deferred"  # put back unstarted (its receiver is busy): not counted
            raise
        except Retry:
            outcome = "retrying"
            raise
        finally:
            metrics.free_slot()
            if outcome in WEBHOOK_OUTCOMES:
                metrics.note_webhook(outcome=outcome, seconds=time.monotonic() - started)

    return instrumented
