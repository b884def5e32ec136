"""Crash recovery at the default settings: SIGKILL a worker mid-job, time the job's re-run.

Two worker processes (``python bench/bench_recovery.py worker``: riskdrift's analysis
worker, ``ResilientWorker`` as ``riskdrift worker`` runs it, with an agent that works
``--job-seconds`` in steps and reports its pid as a step) take jobs from a queue and a
Postgres schema of their own (``bench_<tag>``), with every reliability setting at its
default (claim TTL, heartbeat, poll delay). Each round submits one job, waits until it
runs, SIGKILLs the worker running it (its pid, from the job's event stream), starts a
replacement, and reads from the job's stream when it started again elsewhere and when it
completed. Prints per round and the medians:

* **kill → re-started**: the claim lapsing plus a poll (the recovery itself);
* **kill → completed**: that plus the whole analysis again (``--job-seconds``).

    .venv/bin/python bench/bench_recovery.py                 # 7 rounds, 2 s jobs
    .venv/bin/python bench/bench_recovery.py --rounds 11 --job-seconds 1

Figures only; nothing is asserted. Needs Redis and Postgres (``REDIS_URL`` /
``DATABASE_URL`` or the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from redis.asyncio import Redis

from riskdrift.agent.progress import ProgressReporter
from riskdrift.config import Settings
from riskdrift.events.publish import parse_entry, stream_key
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.queue import create_pool, enqueue
from riskdrift.store import jobs
from riskdrift.store.migrate import migrate
from riskdrift.store.pool import create_pool as create_db_pool
from riskdrift.store.result_document import ResultDocument
from riskdrift.worker.analysis_pool import AnalysisPool
from riskdrift.worker.context import Agent
from tests.doubles import tiny_result

PID_STEP = "pid:"


class SteadyAgent:
    """Works ``seconds`` in ten steps; the first step names this process."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def arun_document(
        self, request: AnalyzeRequest, progress: ProgressReporter
    ) -> ResultDocument:
        """The run's result serialised once, as the worker takes it."""
        return ResultDocument.of(await self.arun(request, progress))

    async def arun(self, request: AnalyzeRequest, progress: ProgressReporter) -> AnalysisResult:
        await progress(f"{PID_STEP}{os.getpid()}", 1)
        for step in range(10):
            await asyncio.sleep(self.seconds / 10)
            await progress("working", 10 + step * 9)
        return tiny_result(request)


def run_worker() -> None:
    from riskdrift.worker.resilient import run_resilient
    from riskdrift.worker.settings import build_worker_settings

    seconds = float(os.environ["BENCH_JOB_SECONDS"])

    @contextlib.asynccontextmanager
    async def steady(
        settings: Settings, *, executor: AnalysisPool | None, pool: asyncpg.Pool, redis: Redis
    ) -> AsyncIterator[Agent]:
        yield SteadyAgent(seconds)

    run_resilient(build_worker_settings(Settings(), agent_factory=steady))


def spawn(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, __file__, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


async def wait_for(predicate: object, deadline: float, interval: float = 0.01) -> None:
    async with asyncio.timeout(deadline):
        # The conditions live in Redis, written by other processes: polled.
        while not await predicate():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(interval)


async def main(rounds: int, job_seconds: float) -> None:
    base = Settings()
    tag = uuid.uuid4().hex[:10]
    schema = f"bench_{tag}"
    settings = base.model_copy(
        update={"database_schema": schema, "queue_name": f"bench:analysis:{tag}"}
    )
    conn = await asyncpg.connect(base.database_url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()
    db = await create_db_pool(settings, min_size=1, max_size=2)
    async with db.acquire() as migrating:
        await migrate(migrating)
    env = {
        **os.environ,
        "RISKDRIFT_DATABASE_SCHEMA": schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_LOG_LEVEL": "WARNING",
        "RISKDRIFT_AUTH_ENABLED": "false",
        "RISKDRIFT_RESULT_CACHE": "false",
        "BENCH_JOB_SECONDS": str(job_seconds),
    }
    logs = Path(f"/tmp/bench_recovery_{tag}")
    logs.mkdir()  # noqa: ASYNC240  # once, before any job runs
    workers = [spawn(env, logs / f"worker-{i}.log") for i in range(2)]
    print(
        f"claim TTL {settings.job_claim_ttl:g} s, heartbeat {settings.heartbeat_interval:g} s, "
        f"poll {settings.worker_poll_delay:g} s, job {job_seconds:g} s; logs in {logs}"
    )
    arq = await create_pool(settings)
    redis = Redis.from_url(settings.redis_url)
    restarted: list[float] = []
    completed: list[float] = []
    try:
        for n in range(1, rounds + 1):
            job, _ = await jobs.create_job(
                db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant="default"
            )
            await enqueue(
                arq,
                "analyze_risk_drift",
                str(job.id),
                job_id=str(job.id),
                queue=settings.queue_name,
            )
            key = stream_key(job.id)

            async def events(key: str = key) -> list[tuple[str, str | None, dt.datetime]]:
                out: list[tuple[str, str | None, dt.datetime]] = []
                for _, fields in await redis.xrange(key):
                    e = parse_entry(fields)
                    out.append((e.event, getattr(e, "step", None), e.at))
                return out

            async def runner_known() -> bool:
                return any(s and s.startswith(PID_STEP) for _, s, _ in await events())

            await wait_for(runner_known, deadline=60)
            pid = next(
                int(s[len(PID_STEP) :])
                for _, s, _ in await events()
                if s and s.startswith(PID_STEP)
            )
            victim = next(i for i, w in enumerate(workers) if w.pid == pid)
            workers[victim].send_signal(signal.SIGKILL)
            killed_at = time.time()
            workers[victim].wait()
            workers[victim] = spawn(env, logs / f"worker-{victim}.log")

            async def finished() -> bool:
                return any(e == "job_completed" for e, _, _ in await events())

            await wait_for(finished, deadline=120, interval=0.05)
            stream = await events()
            again = min(
                at.timestamp()
                for e, _, at in stream
                if e == "job_started" and at.timestamp() > killed_at
            )
            done = max(at.timestamp() for e, _, at in stream if e == "job_completed")
            restarted.append(again - killed_at)
            completed.append(done - killed_at)
            print(
                f"round {n}: kill -> re-started {again - killed_at:5.2f} s, "
                f"-> completed {done - killed_at:5.2f} s"
            )
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=40)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        await redis.aclose()
        await arq.aclose()
        await db.close()
        conn = await asyncpg.connect(base.database_url)
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()
    print(
        f"median over {rounds}: kill -> re-started {statistics.median(restarted):.2f} s "
        f"(max {max(restarted):.2f}), kill -> completed {statistics.median(completed):.2f} s "
        f"(max {max(completed):.2f}; includes the {job_seconds:g} s job run again)"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        run_worker()
    else:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--rounds", type=int, default=7)
        parser.add_argument("--job-seconds", type=float, default=2.0)
        args = parser.parse_args()
        asyncio.run(main(args.rounds, args.job_seconds))
