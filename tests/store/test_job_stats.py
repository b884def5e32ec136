"""The operators' reads of the jobs table (riskdrift.store.job_stats), on real Postgres."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from riskdrift.models import AnalyzeRequest, JobStatus
from riskdrift.store import job_stats
from riskdrift.store.jobs import create_job, finish_job, start_attempt

pytestmark = pytest.mark.integration


async def new_job(db: asyncpg.Pool, tenant: str = "t1") -> uuid.UUID:
    job, created = await create_job(
        db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant=tenant
    )
    assert created
    return job.id


async def test_counts_and_the_last_hour(db: asyncpg.Pool) -> None:
    queued, failed = await new_job(db), await new_job(db)
    await start_attempt(db, failed)
    assert await finish_job(db, failed, JobStatus.FAILED, error="boom") is not None

    by_status, hour = await job_stats.job_counts(db)

    assert by_status == {"queued": 1, "processing": 0, "completed": 0, "failed": 1, "cancelled": 0}
    assert (hour.completed, hour.failed, hour.cancelled) == (0, 1, 0)
    assert hour.p95_seconds is not None
    assert hour.p95_seconds >= 0
    minutes = await job_stats.last_hour_minutes(db)
    assert len(minutes) == 60
    assert sum(m["failed"] for m in minutes) == 1
    assert minutes[-1]["waiting"] == 1  # the queued job
    timings = await job_stats.attempt_timings(db, failed)
    assert timings is not None
    assert timings.attempts == 1
    assert timings.queued is not None
    assert timings.end_to_end is not None
    assert (await job_stats.attempt_timings(db, queued)) == job_stats.AttemptTimings(0, None, None)
    assert await job_stats.attempt_timings(db, uuid.uuid4()) is None


async def test_the_dashboard_feed_reads(db: asyncpg.Pool) -> None:
    first, second = await new_job(db), await new_job(db)
    await new_job(db, tenant="other")

    now, recent = await job_stats.recent_jobs(db, "t1", limit=1)
    assert [j.id for j in recent] == [second]  # newest first, limited
    assert await job_stats.jobs_changed_since(db, "t1", now) == []

    started = await start_attempt(db, first)
    assert started is not None
    changed = await job_stats.jobs_changed_since(db, "t1", now)
    assert [(job.id, job.status) for job, _ in changed] == [(first, JobStatus.PROCESSING)]
    assert changed[0][1] > now
