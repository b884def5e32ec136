"""``riskdrift worker --processes N``: a supervising parent and N real worker processes.

Real processes, real Redis and Postgres: the children drain the queue, a killed
child is replaced, and SIGTERM to the parent stops every child cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import asyncpg
import pytest
from arq import ArqRedis

from riskdrift.config import Settings
from riskdrift.jobs.enqueue import enqueue_new_job
from riskdrift.models import AnalyzeRequest
from riskdrift.store import jobs
from tests.conftest import eventually
from tests.processes import alive, children, service_env, spawn

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parent.parent / "riskdrift" / "samples" / "filings"


async def test_processes_drain_restart_and_stop_cleanly(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    env = service_env(
        settings,
        RISKDRIFT_FILINGS_DIR=str(SAMPLES),
        RISKDRIFT_ANALYSIS_PROCESSES="0",
        RISKDRIFT_RESULT_CACHE="false",
        RISKDRIFT_WORKER_SHUTDOWN_GRACE="5",
    )
    proc = spawn(["worker", "--processes", "2"], env, tmp_path / "worker.log")
    parent = proc.pid
    try:

        async def two_children() -> bool:
            return len(children(parent)) == 2

        await eventually(two_children, deadline=30)
        ids = []
        for _ in range(6):
            job, _ = await jobs.create_job(
                db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant="default"
            )
            await enqueue_new_job(redis, job.id, settings)
            ids.append(job.id)

        async def all_completed() -> bool:
            n = await db.fetchval(
                "SELECT count(*) FROM jobs WHERE id = ANY($1) AND status = 'completed'", ids
            )
            return bool(n == len(ids))

        await eventually(all_completed, deadline=60)

        first = children(parent)
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)

        async def replaced() -> bool:
            now = children(parent)
            return len(now) == 2 and victim not in now

        await eventually(replaced, deadline=30)
        survivors = children(parent)

        proc.send_signal(signal.SIGTERM)
        await asyncio.to_thread(proc.wait, 30)  # raises TimeoutExpired past the deadline
        assert proc.returncode == 0, (tmp_path / "worker.log").read_text()[-2000:]
        assert not any(alive(pid) for pid in survivors)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "worker.log").read_text()
    assert "worker_process_exited" in log
    assert "Traceback" not in log


def test_processes_must_be_positive(tmp_path: Path, settings: Settings) -> None:
    proc = spawn(["worker", "--processes", "0"], service_env(settings), tmp_path / "out.log")
    assert proc.wait(timeout=30) == 2
    assert "must be at least 1" in (tmp_path / "out.log").read_text()


def test_a_webhooks_worker_on_the_analysis_queue_refuses_to_start(
    tmp_path: Path, settings: Settings
) -> None:
    # It would take analysis jobs it cannot run, and arq would end them while their rows
    # stay queued (the README test's job that never started, under load).
    env = service_env(settings, RISKDRIFT_WEBHOOKS_QUEUE_NAME=settings.queue_name)
    proc = spawn(["worker", "--queue", "webhooks"], env, tmp_path / "out.log")
    assert proc.wait(timeout=60) == 2
    out = (tmp_path / "out.log").read_text()
    assert "webhooks_queue_name is the analysis queue" in out, out
    assert "Traceback" not in out, out
