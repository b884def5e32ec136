"""Metrics: ready queue depth, and /metrics after real jobs through the API and an arq worker.

The worker runs the scripted agent of tests/test_worker.py (a test double that
never reaches a user) so the figures are exact; the real agent runs in the
browser test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from arq import ArqRedis
from arq.constants import in_progress_key_prefix
from prometheus_client.parser import text_string_to_metric_families

from riskdrift.agent.progress import ProgressReporter
from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.errors import FilingNotFound, UpstreamUnavailable
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.ops import metrics as m
from riskdrift.ops.cluster import CRON_JOB_PREFIX, live_workers, queue_depth
from riskdrift.ops.worker import WorkerMetrics, instrument_analysis
from riskdrift.sources.edgar import EdgarStats
from tests.conftest import eventually, running_worker, serve
from tests.doubles import ScriptedAgent, settings_for, tiny_result

pytestmark = pytest.mark.integration

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> tuple[set[str], Samples]:
    """Family names and ``{(sample name, labels): value}`` of an exposition."""
    names, samples = set(), {}
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return names, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def test_queue_depth_counts_only_ready_jobs(redis: ArqRedis, settings: Settings) -> None:
    queue = settings.queue_name
    ready, deferred, running = (f"{name}-{uuid.uuid4().hex}" for name in ("r", "d", "p"))
    for job_id, defer in ((ready, None), (deferred, 600), (running, None)):
        job = await redis.enqueue_job(
            "analyze_risk_drift", job_id, _job_id=job_id, _queue_name=queue, _defer_by=defer
        )
        assert job is not None
    # the worker's next reconcile tick, enqueued early the way arq's cron does it
    tick = f"{CRON_JOB_PREFIX}reconcile:{uuid.uuid4().hex}"
    assert await redis.enqueue_job(tick, _job_id=tick, _queue_name=queue, _defer_by=1)
    await redis.set(in_progress_key_prefix + running, b"1", px=60_000)
    try:
        depth = await queue_depth(redis, queue)
        assert (depth.ready, depth.deferred, depth.running) == (1, 1, 1)
        assert await redis.zcard(queue) == 4  # what arq's own "queued" figure would say
    finally:
        await redis.delete(in_progress_key_prefix + running)


async def test_worker_publication_edgar_and_webhook_hooks(
    redis: ArqRedis, settings: Settings
) -> None:
    metrics = WorkerMetrics(queue=settings.queue_name, max_jobs=3, worker_id="w1")
    metrics.edgar = EdgarStats(requests=5, document_cache_hits=2, metadata_cache_hits=7)
    metrics.take_slot()
    await metrics.publish(redis, ttl=5)
    [worker] = await live_workers(redis, settings.queue_name, stale_after=5)
    assert (worker.worker_id, worker.busy, worker.max_jobs) == ("w1", 1, 3)
    metrics.edgar.requests += 1
    metrics.free_slot()
    await metrics.publish(redis, ttl=5)
    metrics.note_webhook(outcome="delivered", seconds=0.2)
    await metrics.publish(redis, ttl=5)

    families = await m.read_counters(redis, [settings.queue_name])
    got = {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}
    q = settings.queue_name
    assert value(got, "riskdrift_edgar_requests_total", queue=q) == 6
    assert value(got, "riskdrift_edgar_cache_hits_total", queue=q, kind="document") == 2
    assert value(got, "riskdrift_edgar_cache_hits_total", queue=q, kind="metadata") == 7
    assert value(got, "riskdrift_webhook_deliveries_total", queue=q, outcome="delivered") == 1
    assert (
        value(
            got,
            "riskdrift_webhook_delivery_seconds_bucket",
            queue=q,
            outcome="delivered",
            le="0.25",
        )
        == 1
    )
    assert value(got, "riskdrift_worker_busy_seconds_total", queue=q) > 0
    # the worker's own registry counts the same
    local = {
        (s.name, frozenset(s.labels.items())): s.value
        for f in metrics.registry.collect()
        for s in f.samples
    }
    assert value(local, "riskdrift_edgar_requests_total", queue=q) == 6
    await metrics.withdraw(redis)
    assert await live_workers(redis, settings.queue_name, stale_after=5) == []


async def test_run_time_ends_when_the_job_finishes_not_after_its_webhook(
    db: asyncpg.Pool, settings: Settings
) -> None:
    webhook_seconds = 0.3  # a slow receiver after the job finished

    async def task(ctx: dict[str, Any], job_id: str) -> str:
        ctx["analysis_ended"] = time.monotonic()  # what analyze_risk_drift marks
        await asyncio.sleep(webhook_seconds)  # stands in for a slow inline webhook attempt
        return "completed"

    metrics = WorkerMetrics(queue=settings.queue_name, max_jobs=1, worker_id="w1")
    ctx: dict[str, Any] = {"pool": db, "riskdrift_metrics": metrics}
    started = time.monotonic()
    assert await instrument_analysis(task)(ctx, str(uuid.uuid4())) == "completed"
    task_seconds = time.monotonic() - started

    local = {
        (s.name, frozenset(s.labels.items())): s.value
        for f in metrics.registry.collect()
        for s in f.samples
    }
    q = settings.queue_name
    assert value(local, "riskdrift_job_run_seconds_count", queue=q, outcome="completed") == 1
    run = value(local, "riskdrift_job_run_seconds_sum", queue=q, outcome="completed")
    assert task_seconds >= webhook_seconds
    assert run < task_seconds - webhook_seconds / 2


async def wait_finished(db: asyncpg.Pool, count: int) -> None:
    async def finished() -> bool:
        n: int = await db.fetchval(
            "SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed', 'cancelled')"
        )
        return n >= count

    await eventually(finished, deadline=20)


async def test_metrics_after_jobs(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> None:
    settings = settings.model_copy(update={"worker_metrics_interval": 0.2})
    q = settings.queue_name

    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        await progress("fetching_filings", 20)
        if request.ticker == "FAIL":
            raise FilingNotFound("no 10-K for FAIL")
        if request.ticker == "FLAKY" and not flaky_failed:
            flaky_failed.append(True)
            raise UpstreamUnavailable("EDGAR is rate limiting")
        return tiny_result(request)

    flaky_failed: list[bool] = []
    app = create_app(settings)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        cancelled = await http.post("/analyze", json={"ticker": "GONE", "years": [2024, 2023]})
        assert (await http.post(f"/jobs/{cancelled.json()['job_id']}/cancel")).status_code == 200
        async with running_worker(settings_for(ScriptedAgent(script), settings)):
            for ticker in ("ACME", "FLAKY", "FAIL"):
                response = await http.post(
                    "/analyze", json={"ticker": ticker, "years": [2024, 2023]}
                )
                assert response.status_code == 202
            await wait_finished(db, 4)

            async def idle_after_busy() -> bool:
                # The worker publishes its busy slot-seconds every interval, and its
                # in-progress gauge with them: wait for a publication after the last job.
                _, seen = parse((await http.get("/metrics")).text)

                def now(name: str) -> float | None:
                    return seen.get((name, frozenset({"queue": q}.items())))

                return (
                    (now("riskdrift_worker_busy_seconds_total") or 0) > 0
                    and now("riskdrift_jobs_in_progress") == 0
                    and now("riskdrift_worker_utilisation_ratio") == 0
                )

            await eventually(idle_after_busy, deadline=10)
            response = await http.get("/metrics")
            summary = (await http.get("/dashboard/summary")).json()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names, s = parse(response.text)
    expected = {f.name for f in m.ALL_FAMILIES} - {
        "riskdrift_webhook_deliveries",  # no callback_url in these jobs
        "riskdrift_webhook_delivery_seconds",
        "riskdrift_edgar_requests",  # local scripted agent: no EDGAR traffic
        "riskdrift_edgar_cache_hits",
    }
    assert expected <= names, expected - names

    assert value(s, "riskdrift_jobs_submitted_total", queue=q) == 4
    assert value(s, "riskdrift_jobs_cancelled_total", queue=q) == 1
    assert value(s, "riskdrift_jobs_completed_total", queue=q) == 2
    assert value(s, "riskdrift_jobs_failed_total", queue=q) == 1
    assert value(s, "riskdrift_jobs_retried_total", queue=q) == 1
    assert value(s, "riskdrift_job_queued_seconds_count", queue=q) == 3
    assert value(s, "riskdrift_job_run_seconds_count", queue=q, outcome="completed") == 2
    assert value(s, "riskdrift_job_run_seconds_count", queue=q, outcome="retried") == 1
    assert value(s, "riskdrift_job_end_to_end_seconds_count", queue=q, outcome="completed") == 2
    assert (
        value(s, "riskdrift_job_end_to_end_seconds_bucket", queue=q, outcome="failed", le="+Inf")
        == 1
    )
    assert value(s, "riskdrift_job_end_to_end_seconds_sum", queue=q, outcome="completed") < 20
    assert value(s, "riskdrift_queue_ready_jobs", queue=q) == 0
    assert value(s, "riskdrift_workers_alive", queue=q) == 1
    assert value(s, "riskdrift_jobs_in_progress", queue=q) == 0
    assert value(s, "riskdrift_worker_utilisation_ratio", queue=q) == 0
    [(worker_labels, slots)] = [
        (dict(k[1]), v) for k, v in s.items() if k[0] == "riskdrift_worker_max_jobs"
    ]
    assert slots == settings.worker_max_jobs
    assert worker_labels["queue"] == q
    assert value(s, "riskdrift_worker_busy_seconds_total", queue=q) > 0
    assert value(s, "riskdrift_jobs", status="completed") == 2
    assert value(s, "riskdrift_jobs", status="cancelled") == 1
    assert value(s, "riskdrift_jobs_finished_last_hour", status="failed") == 1
    assert value(s, "riskdrift_job_failure_ratio_last_hour") == pytest.approx(1 / 3)
    assert 0 < value(s, "riskdrift_job_end_to_end_p95_last_hour_seconds") < 20
    assert value(s, "riskdrift_sse_clients_connected") == 0

    assert summary["jobs"]["failure_ratio"] == pytest.approx(1 / 3)
    assert [w["queue"] for w in summary["workers"]] == [q]
    assert summary["queues"][0] == {"queue": q, "ready": 0, "deferred": 0, "running": 0}
    assert summary["targets"]["p95_seconds"] == 180
    # the worker withdrew on shutdown
    assert await live_workers(redis, q, stale_after=5) == []
    assert uuid.UUID(cancelled.json()["job_id"])
