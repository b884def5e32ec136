"""Chaos: 200 jobs, two worker processes, a worker SIGKILLed at random moments five times.

Every job must end ``completed`` with exactly one result row and exactly one
terminal event in its stream; the heartbeat's short claim lets a surviving or
restarted worker pick up a killed worker's jobs within seconds. Prints the
median recovery time (kill → the job's next ``job_started``).
"""

from __future__ import annotations

import asyncio
import random
import signal
import statistics
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from arq import ArqRedis

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.devrun import sample_filings_dir
from riskdrift.events.publish import parse_entry, stream_key
from riskdrift.models import TERMINAL_EVENTS
from tests.conftest import eventually, serve
from tests.processes import service_env, spawn, stop

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

JOBS = 200
KILLS = 5
CLAIM_TTL = 3.0


async def diagnose(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> str:
    """What is stuck: job states and, for each arq job left, its claim and try count."""
    states = await db.fetch("SELECT status, count(*) FROM jobs GROUP BY status")
    by_status = {r["status"]: r["count"] for r in states}
    lines = [f"jobs by status: {by_status}"]
    for member, score in await redis.zrange(settings.queue_name, 0, -1, withscores=True):
        job_id = member.decode()
        row = await db.fetchrow(
            "SELECT status, attempts, step, updated_at FROM jobs WHERE id::text = $1", job_id
        )
        lines.append(
            f"{job_id}: score={score:.0f} claim_ms={await redis.pttl('arq:in-progress:' + job_id)}"
            f" try={await redis.get('arq:retry:' + job_id)} row={dict(row) if row else None}"
        )
    return "\n".join(lines)


async def count(db: asyncpg.Pool, status: str) -> int:
    n: int = await db.fetchval("SELECT count(*) FROM jobs WHERE status = $1", status)
    return n


async def test_sigkilled_workers_lose_nothing(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    rng = random.Random(20261128)
    env = service_env(
        settings,
        RISKDRIFT_FILINGS_DIR=str(sample_filings_dir()),
        RISKDRIFT_JOB_CLAIM_TTL=str(CLAIM_TTL),
        RISKDRIFT_HEARTBEAT_INTERVAL="0.5",
        RISKDRIFT_WORKER_MAX_JOBS="4",
        RISKDRIFT_WORKER_POLL_DELAY="0.05",
        RISKDRIFT_ANALYSIS_PROCESSES="0",
        RISKDRIFT_RECONCILE_INTERVAL="5",
        RISKDRIFT_RECONCILE_GRACE="5",
        RISKDRIFT_LOG_LEVEL="WARNING",
    )
    logs = [tmp_path / "worker-0.log", tmp_path / "worker-1.log"]
    workers = [spawn(["worker"], env, log) for log in logs]
    kills: list[tuple[float, set[str]]] = []
    try:
        async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as client:
            job_ids = []
            for _ in range(JOBS):
                accepted = await client.post(
                    "/analyze", json={"ticker": "ACME", "years": [2024, 2023]}
                )
                assert accepted.status_code == 202
                job_ids.append(accepted.json()["job_id"])

        async with asyncio.timeout(150):
            for _ in range(KILLS):
                # A random moment while both workers hold jobs: more jobs running than
                # one worker's 4 slots, so whichever worker dies takes work with it.
                target = await count(db, "completed") + rng.randint(5, 25)
                goal = min(target, JOBS - 20)

                async def reached(goal: int = goal) -> bool:
                    return (
                        await count(db, "completed") >= goal and await count(db, "processing") > 4
                    )

                await eventually(reached, deadline=60)
                victim = rng.randrange(len(workers))
                running = {
                    str(r["id"])
                    for r in await db.fetch("SELECT id FROM jobs WHERE status = 'processing'")
                }
                workers[victim].send_signal(signal.SIGKILL)
                workers[victim].wait()
                kills.append((time.time(), running))
                workers[victim] = spawn(["worker"], env, logs[victim])

            async def all_done() -> bool:
                failed = await db.fetch("SELECT id, error FROM jobs WHERE status = 'failed'")
                assert not failed, failed
                # Done means quiescent: every job completed in Postgres *and* no arq job
                # left, so re-runs of killed jobs (which restore lost events) have run.
                return (
                    await count(db, "completed") == JOBS
                    and await redis.zcard(settings.queue_name) == 0
                )

            try:
                await eventually(all_done, deadline=120)
            except TimeoutError:
                raise AssertionError(await diagnose(db, redis, settings)) from None
    finally:
        stop(workers)

    assert await count(db, "completed") == JOBS
    result_rows = await db.fetchval("SELECT count(*) FROM analysis_results")
    assert result_rows == JOBS
    recoveries = []
    for job_id in job_ids:
        events = [parse_entry(fields) for _, fields in await redis.xrange(stream_key(job_id))]
        terminal = [e.event for e in events if e.event in TERMINAL_EVENTS]
        assert terminal == ["job_completed"], (job_id, [e.event for e in events])
        for killed_at, running in kills:
            if job_id in running:
                restarts = [
                    e.at
                    for e in events
                    if e.event == "job_started" and e.at.timestamp() > killed_at
                ]
                if restarts:
                    recoveries.append(min(restarts).timestamp() - killed_at)
    assert recoveries, "no killed job was recovered by another run"
    median = statistics.median(recoveries)
    print(
        f"\nchaos: {JOBS} jobs, {KILLS} SIGKILLs, {len(recoveries)} interrupted jobs re-run; "
        f"recovery median {median:.2f} s, max {max(recoveries):.2f} s "
        f"(claim TTL {CLAIM_TTL} s)"
    )
    assert max(recoveries) < 60
