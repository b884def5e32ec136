"""Metric families, and the cluster-wide counters kept in Redis.

Several API and worker processes run at once, and Prometheus may scrape any
API replica. So the job counters and latency histograms are not per-process
objects: every process adds its increments to one Redis hash per queue,
``riskdrift:metrics:<queue>`` (one field per exposition sample, ``HINCRBYFLOAT``
in one pipeline per flush). They are monotonic across process restarts, any
API replica renders the same cluster view, and no figure disappears when the
worker that counted it stops (one killed outright loses at most its last
publication interval: workers flush on their publisher's timer). A Redis flush
is a counter reset, which ``rate()`` handles.

Each field is the JSON ``[sample_name, {label: value}]`` with sorted labels, so
reading the hash back into Prometheus families needs no parsing of exposition
syntax. Gauges (queue depth, workers, figures from Postgres) are computed at
scrape time by :mod:`riskdrift.ops.cluster`.
"""

from __future__ import annotations

import functools
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import structlog
from prometheus_client import Metric
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from riskdrift.models import WebhookOutcome
from riskdrift.queue.keys import counters_key

log = structlog.get_logger(__name__)

# Job latency: the target is p95 < 3 min, so resolve well around 180 s.
JOB_BUCKETS: tuple[float, ...] = (
    1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 150, 180, 240, 300, 450, 600, 900, 1800,
)  # fmt: skip
WEBHOOK_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30)
#: The ``outcome`` label of the webhook families: what a delivery attempt's record says.
WEBHOOK_OUTCOMES: frozenset[str] = frozenset(get_args(WebhookOutcome))

Kind = Literal["counter", "gauge", "histogram"]


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family: its name without suffixes, type, help text and label names."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ("queue",)
    buckets: tuple[float, ...] = ()

    @property
    def sample_names(self) -> tuple[str, ...]:
        """The names its samples carry in the exposition."""
        if self.kind == "counter":
            return (self.name + "_total",)
        if self.kind == "histogram":
            return (self.name + "_bucket", self.name + "_sum", self.name + "_count")
        return (self.name,)


# --- cluster counters and histograms (Redis) ---------------------------------------------------

JOBS_SUBMITTED = Family("riskdrift_jobs_submitted", "counter", "Jobs accepted by POST /analyze.")
JOBS_COMPLETED = Family("riskdrift_jobs_completed", "counter", "Jobs that ended completed.")
JOBS_FAILED = Family("riskdrift_jobs_failed", "counter", "Jobs that ended failed.")
JOBS_CANCELLED = Family("riskdrift_jobs_cancelled", "counter", "Jobs cancelled by a client.")
JOBS_RETRIED = Family("riskdrift_jobs_retried", "counter", "Attempts that ended in a retry.")
JOB_QUEUED_SECONDS = Family(
    "riskdrift_job_queued_seconds",
    "histogram",
    "Time from submission to the first start of a job.",
    buckets=JOB_BUCKETS,
)
JOB_RUN_SECONDS = Family(
    "riskdrift_job_run_seconds",
    "histogram",
    "Time from start to end of one attempt, by outcome (completed, failed, retried).",
    labels=("queue", "outcome"),
    buckets=JOB_BUCKETS,
)
JOB_END_TO_END_SECONDS = Family(
    "riskdrift_job_end_to_end_seconds",
    "histogram",
    "Time from submission to the end of a finished job, by outcome (completed, failed).",
    labels=("queue", "outcome"),
    buckets=JOB_BUCKETS,
)
WEBHOOK_DELIVERIES = Family(
    "riskdrift_webhook_deliveries",
    "counter",
    f"Webhook delivery attempts by outcome ({', '.join(sorted(WEBHOOK_OUTCOMES))}).",
    labels=("queue", "outcome"),
)
WEBHOOK_DELIVERY_SECONDS = Family(
    "riskdrift_webhook_delivery_seconds",
    "histogram",
    "Duration of one webhook delivery attempt, by outcome.",
    labels=("queue", "outcome"),
    buckets=WEBHOOK_BUCKETS,
)
EDGAR_REQUESTS = Family(
    "riskdrift_edgar_requests", "counter", "HTTP requests sent to SEC EDGAR, retries included."
)
EDGAR_CACHE_HITS = Family(
    "riskdrift_edgar_cache_hits",
    "counter",
    "EDGAR lookups served from cache, by kind (document: disk, metadata: memory).",
    labels=("queue", "kind"),
)
WORKER_BUSY_SECONDS = Family(
    "riskdrift_worker_busy_seconds",
    "counter",
    "Job-slot seconds spent running jobs; rate() / max_jobs is the utilisation.",
)

CLUSTER_FAMILIES: tuple[Family, ...] = (
    JOBS_SUBMITTED,
    JOBS_COMPLETED,
    JOBS_FAILED,
    JOBS_CANCELLED,
    JOBS_RETRIED,
    JOB_QUEUED_SECONDS,
    JOB_RUN_SECONDS,
    JOB_END_TO_END_SECONDS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DELIVERY_SECONDS,
    EDGAR_REQUESTS,
    EDGAR_CACHE_HITS,
    WORKER_BUSY_SECONDS,
)

# --- gauges computed at scrape time (riskdrift.ops.cluster) -----------------------------------

QUEUE_READY = Family(
    "riskdrift_queue_ready_jobs",
    "gauge",
    "Jobs waiting in the queue that a free worker would start now (due and not running).",
)
QUEUE_DEFERRED = Family(
    "riskdrift_queue_deferred_jobs", "gauge", "Jobs in the queue deferred to a later time."
)
QUEUE_RUNNING = Family(
    "riskdrift_queue_running_jobs", "gauge", "Queue entries claimed by a worker right now."
)
JOBS_IN_PROGRESS = Family(
    "riskdrift_jobs_in_progress", "gauge", "Jobs running on live workers (sum of busy slots)."
)
WORKERS_ALIVE = Family("riskdrift_workers_alive", "gauge", "Workers that published recently.")
WORKER_BUSY_SLOTS = Family(
    "riskdrift_worker_busy_slots",
    "gauge",
    "Busy job slots of one worker.",
    labels=("queue", "worker"),
)
WORKER_MAX_JOBS = Family(
    "riskdrift_worker_max_jobs", "gauge", "Job slots of one worker.", labels=("queue", "worker")
)
WORKER_UTILISATION = Family(
    "riskdrift_worker_utilisation_ratio",
    "gauge",
    "Busy slots / job slots over the live workers of a queue, now.",
)
JOBS_BY_STATUS = Family(
    "riskdrift_jobs", "gauge", "Jobs stored in Postgres by status.", labels=("status",)
)
JOBS_FINISHED_LAST_HOUR = Family(
    "riskdrift_jobs_finished_last_hour",
    "gauge",
    "Jobs that finished in the last hour by status (Postgres).",
    labels=("status",),
)
FAILURE_RATIO_LAST_HOUR = Family(
    "riskdrift_job_failure_ratio_last_hour",
    "gauge",
    "failed / (completed + failed) over jobs that finished in the last hour (Postgres).",
    labels=(),
)
END_TO_END_P95_LAST_HOUR = Family(
    "riskdrift_job_end_to_end_p95_last_hour_seconds",
    "gauge",
    "95th percentile of submission-to-end time of jobs finished in the last hour (Postgres).",
    labels=(),
)

# --- per-process gauges -----------------------------------------------------------------------

SSE_CLIENTS = Family(
    "riskdrift_sse_clients_connected",
    "gauge",
    "SSE clients of GET /stream/{job_id} connected to this API process.",
    labels=(),
)
DASHBOARD_CLIENTS = Family(
    "riskdrift_dashboard_clients_connected",
    "gauge",
    "Dashboard event feeds open on this API process.",
    labels=(),
)

SCRAPE_FAMILIES: tuple[Family, ...] = (
    QUEUE_READY,
    QUEUE_DEFERRED,
    QUEUE_RUNNING,
    JOBS_IN_PROGRESS,
    WORKERS_ALIVE,
    WORKER_BUSY_SLOTS,
    WORKER_MAX_JOBS,
    WORKER_UTILISATION,
    JOBS_BY_STATUS,
    JOBS_FINISHED_LAST_HOUR,
    FAILURE_RATIO_LAST_HOUR,
    END_TO_END_P95_LAST_HOUR,
)
PROCESS_FAMILIES: tuple[Family, ...] = (SSE_CLIENTS, DASHBOARD_CLIENTS)
ALL_FAMILIES: tuple[Family, ...] = CLUSTER_FAMILIES + SCRAPE_FAMILIES + PROCESS_FAMILIES


def sample_names() -> frozenset[str]:
    """Every sample name riskdrift exposes (what alert rules may reference)."""
    return frozenset(n for f in ALL_FAMILIES for n in f.sample_names)


def _field(sample: str, labels: Mapping[str, str]) -> str:
    return json.dumps([sample, dict(sorted(labels.items()))], separators=(",", ":"))


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


# Distinct (family, queue, labels) children a process records: a handful of outcomes and
# kinds per queue. The bound only keeps a caller with unbounded label values from growing it.
FIELD_CACHE_SIZE = 512


@functools.lru_cache(maxsize=FIELD_CACHE_SIZE)
def _fields(family: Family, queue: str, labels: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The hash fields of one labelled child of ``family``, JSON-encoded once per process:
    a counter's one sample; a histogram's buckets in bound order (``+Inf`` last), then its
    ``_sum`` and ``_count``. Raises ``ValueError`` for labels the family does not take."""
    full = {"queue": queue, **dict(labels)}
    if set(full) != set(family.labels):
        raise ValueError(f"{family.name} takes labels {family.labels}, got {sorted(full)}")
    if family.kind == "counter":
        return (_field(family.name + "_total", full),)
    return (
        *(
            _field(family.name + "_bucket", {**full, "le": _le(bound)})
            for bound in (*family.buckets, math.inf)
        ),
        _field(family.name + "_sum", full),
        _field(family.name + "_count", full),
    )


@dataclass(slots=True)
class Tally:
    """Increments to a queue's cluster counters, written in one round trip by :meth:`flush`."""

    queue: str
    increments: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def count(self, family: Family, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to a counter."""
        assert family.kind == "counter"
        if amount:
            [name] = _fields(family, self.queue, tuple(sorted(labels.items())))
            self.increments[name] += amount

    def observe(self, family: Family, value: float, **labels: str) -> None:
        """Record one observation of a histogram (every bucket is written, so all exist)."""
        assert family.kind == "histogram"
        *buckets, sum_name, count_name = _fields(family, self.queue, tuple(sorted(labels.items())))
        increments = self.increments
        for name, bound in zip(buckets, (*family.buckets, math.inf), strict=True):
            increments[name] += 1.0 if value <= bound else 0.0
        increments[sum_name] += value
        increments[count_name] += 1.0

    async def flush(self, redis: Redis) -> bool:
        """Write the increments; ``False`` (logged, never raised) if Redis failed."""
        if not self.increments:
            return True
        # Take the batch before awaiting: increments added meanwhile (concurrent jobs
        # sharing this tally) go into the next flush, never into this one twice.
        batch, self.increments = self.increments, defaultdict(float)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                _queue_increments(pipe, self.queue, batch)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("metrics_flush_failed", queue=self.queue, error=type(exc).__name__)
            for name, amount in batch.items():  # keep them for the next flush
                self.increments[name] += amount
            return False
        return True


def _queue_increments(pipe: Pipeline, queue: str, increments: Mapping[str, float]) -> None:
    key = counters_key(queue)
    for name, amount in increments.items():
        pipe.hincrbyfloat(key, name, amount)


def count_job(pipe: Pipeline, queue: str, family: Family) -> None:
    """Queue one increment of a queue's cluster counter onto ``pipe``, so that it travels
    with the writes it counts, in their round trip (:func:`execute_counted` runs both)."""
    assert family.kind == "counter"
    [name] = _fields(family, queue, ())
    _queue_increments(pipe, queue, {name: 1.0})


async def execute_counted(pipe: Pipeline, queue: str, family: Family) -> list[Any]:
    """Add one to a queue's ``family`` counter and run ``pipe`` (one round trip); returns the
    replies of the commands queued before the count.

    The first of those commands that failed is raised; a failed count is only logged, as
    :meth:`Tally.flush` does: metrics never fail the request they count.
    """
    count_job(pipe, queue, family)
    *replies, counted = await pipe.execute(raise_on_error=False)
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    if isinstance(counted, Exception):
        log.warning("metrics_count_failed", queue=queue, error=type(counted).__name__)
    return replies


_BY_SAMPLE: dict[str, Family] = {n: f for f in CLUSTER_FAMILIES for n in f.sample_names}


def _sort_key(labels: Mapping[str, str]) -> tuple[tuple[tuple[str, str], ...], float]:
    rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
    return rest, float(labels.get("le", "0"))


def families_from_hash(raw: Mapping[bytes | str, bytes | str]) -> list[Metric]:
    """Prometheus families from the fields of one or more queues' counter hashes."""
    samples: dict[str, list[tuple[str, dict[str, str], float]]] = defaultdict(list)
    for key, value in raw.items():
        try:
            sample, labels = json.loads(key)
        except (ValueError, TypeError):
            continue
        family = _BY_SAMPLE.get(sample)
        if family is not None:
            samples[family.name].append((sample, labels, float(value)))
    metrics = []
    for family in CLUSTER_FAMILIES:
        found = samples.get(family.name)
        if not found:
            continue
        metric = Metric(family.name, family.help, family.kind)
        order = {n: i for i, n in enumerate(family.sample_names)}
        for name, labels, amount in sorted(
            found, key=lambda s: (_sort_key(s[1])[0], order[s[0]], _sort_key(s[1])[1])
        ):
            metric.add_sample(name, labels, amount)
        metrics.append(metric)
    return metrics


async def read_counters(redis: Redis, queues: Iterable[str]) -> list[Metric]:
    """The cluster counters of ``queues`` as Prometheus families."""
    merged: dict[bytes | str, bytes | str] = {}
    for queue in queues:
        merged.update(await redis.hgetall(counters_key(queue)))  # type: ignore[misc]
    return families_from_hash(merged)
