"""A worker's analysis processes under fault and attack: real worker processes, real Redis
and Postgres, synthetic filings in a local filings directory (tests/worker/filings.py).

- the analysis process killed mid-job: the job is retried and completes, later jobs too;
- hostile filings (deep nesting, a huge text, an analysis over its time limit) fail with
  a reason naming the limit and the filing, while a valid job on the same worker completes;
- a 49 MiB filing under a 1 GiB ceiling fails clearly and the worker lives on;
- a worker killed with SIGKILL leaves no process behind;
- SIGTERM to the worker's whole process group hands running jobs back, none failed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from arq import ArqRedis

from riskdrift.config import Settings
from riskdrift.jobs.enqueue import enqueue_new_job
from riskdrift.models import AnalyzeRequest
from riskdrift.store import jobs
from tests.conftest import eventually
from tests.corpus import ROOT
from tests.processes import alive, children, service_env, spawn, stop
from tests.worker.filings import deeply_nested, huge_text, valid_filing, write

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

SLOW_RISKS = 1200  # 5-15 s of analysis on the 2-core test machine (400: 1.8-4.8 s)


def worker_env(settings: Settings, filings: Path, **overrides: str) -> dict[str, str]:
    return service_env(
        settings,
        RISKDRIFT_FILINGS_DIR=str(filings),
        RISKDRIFT_ANALYSIS_PROCESSES="1",
        RISKDRIFT_RESULT_CACHE="false",
        RISKDRIFT_RETRY_BACKOFF_BASE="0.2",
        RISKDRIFT_RETRY_BACKOFF_MAX="1",
        **overrides,
    )


async def submit(db: asyncpg.Pool, redis: ArqRedis, settings: Settings, ticker: str) -> uuid.UUID:
    job, _ = await jobs.create_job(
        db, AnalyzeRequest(ticker=ticker, years=[2024, 2023]), tenant="default"
    )
    await enqueue_new_job(redis, job.id, settings)
    return job.id


async def wait_finished(db: asyncpg.Pool, ids: list[uuid.UUID], deadline: float) -> None:
    async def finished() -> bool:
        n = await db.fetchval(
            "SELECT count(*) FROM jobs WHERE id = ANY($1) AND status IN ('completed', 'failed')",
            ids,
        )
        return bool(n == len(ids))

    await eventually(finished, deadline=deadline, interval=0.1)


async def stream_text(redis: ArqRedis, job_id: uuid.UUID) -> str:
    entries = await redis.xrange(f"riskdrift:events:{job_id}")
    return " ".join(v.decode() for _, fields in entries for v in fields.values())


def pair(filings: Path, ticker: str, current: bytes, previous: bytes | None = None) -> None:
    write(filings, ticker, 2024, current)
    write(filings, ticker, 2023, previous if previous is not None else valid_filing(2023))


def slow_pair(filings: Path) -> None:
    """SLOW: a valid pair whose analysis takes seconds."""
    pair(filings, "SLOW", *(valid_filing(y, risks=SLOW_RISKS) for y in (2024, 2023)))


def spawn_group_leader(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``riskdrift worker`` in a process group of its own, as under a shell or systemd,
    so a signal to the group reaches the worker and its children, and not pytest."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "riskdrift", "worker"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def one_pool_child(worker: subprocess.Popen[bytes]) -> int:
    async def started() -> bool:
        return len(children(worker.pid)) == 1

    await eventually(started, deadline=90, interval=0.1)
    (child,) = children(worker.pid)
    return child


async def test_killed_analysis_process_the_job_is_retried_and_later_jobs_succeed(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    filings = tmp_path / "filings"
    slow_pair(filings)
    pair(filings, "ACME", valid_filing(2024))
    log = tmp_path / "worker.log"
    worker = spawn(["worker"], worker_env(settings, filings), log)
    try:
        victim = await one_pool_child(worker)
        slow = await submit(db, redis, settings, "SLOW")

        async def analysing() -> bool:
            return "fetching_filings" in await stream_text(redis, slow)

        await eventually(analysing, deadline=60, interval=0.05)
        os.kill(victim, signal.SIGKILL)  # as the kernel's OOM killer would
        later = [await submit(db, redis, settings, "ACME") for _ in range(3)]
        await wait_finished(db, [slow, *later], deadline=180)

        job = await jobs.get_job(db, slow)
        assert job is not None
        assert job.status.value == "completed", job.error
        assert job.attempts == 2  # the attempt the dead process cost, then the one that worked
        assert "analysis process died (killed by SIGKILL)" in await stream_text(redis, slow)
        for job_id in later:
            done = await jobs.get_job(db, job_id)
            assert done is not None
            assert done.status.value == "completed", done.error
        assert victim not in children(worker.pid)
        assert len(children(worker.pid)) == 1  # replaced
    finally:
        stop([worker])
    assert "BrokenProcessPool" not in log.read_text()


async def test_hostile_filings_fail_within_the_limits_and_a_valid_job_completes(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    filings = tmp_path / "filings"
    pair(filings, "DEEP", deeply_nested(100_000))  # 1.6 MB, issue #23's filing
    pair(filings, "HUGE", huge_text(30))  # 30 MiB of text in one paragraph
    slow_pair(filings)
    pair(filings, "ACME", valid_filing(2024))
    env = worker_env(settings, filings, RISKDRIFT_ANALYSIS_TIME_LIMIT="2")
    worker = spawn(["worker"], env, tmp_path / "worker.log")
    try:
        first_child = await one_pool_child(worker)
        hostile = {t: await submit(db, redis, settings, t) for t in ("DEEP", "HUGE", "SLOW")}
        valid = [await submit(db, redis, settings, "ACME") for _ in range(2)]
        await wait_finished(db, [*hostile.values(), *valid], deadline=180)

        reasons = {}
        for ticker, job_id in hostile.items():
            job = await jobs.get_job(db, job_id)
            assert job is not None
            assert job.status.value == "failed"
            assert job.attempts == 1  # permanent: not retried
            reasons[ticker] = job.error or ""
        assert "more than 500 nesting depth" in reasons["DEEP"]
        assert str(filings / "DEEP" / "2024.html") in reasons["DEEP"]
        assert "more than 20,000,000 characters of text" in reasons["HUGE"]
        assert str(filings / "HUGE" / "2024.html") in reasons["HUGE"]
        assert "exceeded its time limit (2 s)" in reasons["SLOW"]
        assert str(filings / "SLOW" / "2024.html") in reasons["SLOW"]
        assert str(filings / "SLOW" / "2023.html") in reasons["SLOW"]
        for job_id in valid:
            job = await jobs.get_job(db, job_id)
            assert job is not None
            assert job.status.value == "completed", job.error
        assert worker.poll() is None
        # the overrunning analysis' process was killed and replaced, the worker's is fresh
        assert not alive(first_child)
        assert len(children(worker.pid)) == 1
    finally:
        stop([worker])


async def test_a_49_mib_filing_stays_under_the_memory_ceiling(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    filings = tmp_path / "filings"
    paragraph = b"<p>risk factor text</p>\n"
    big = b"<html><body>" + paragraph * (49 * 1024 * 1024 // len(paragraph)) + b"</body></html>"
    pair(filings, "BIG", big)
    pair(filings, "ACME", valid_filing(2024))
    env = worker_env(
        settings,
        filings,
        RISKDRIFT_ANALYSIS_MEMORY_MB="1024",
        # budgets out of the way: the ceiling is what is tested
        RISKDRIFT_ANALYSIS_MAX_ELEMENTS="100000000",
        RISKDRIFT_ANALYSIS_MAX_TEXT_CHARS="1000000000",
    )
    worker = spawn(["worker"], env, tmp_path / "worker.log")
    try:
        child = await one_pool_child(worker)

        def address_space_limit() -> str:
            limits = Path(f"/proc/{child}/limits").read_text().splitlines()
            return next(line for line in limits if "address space" in line).split()[3]

        async def ceiling_in_force() -> bool:  # set once the child has imported the analysis
            return address_space_limit() == str(1024 * 1024 * 1024)

        await eventually(ceiling_in_force, deadline=60, interval=0.1)
        big_job = await submit(db, redis, settings, "BIG")
        ok = await submit(db, redis, settings, "ACME")
        await wait_finished(db, [big_job, ok], deadline=300)
        job = await jobs.get_job(db, big_job)
        assert job is not None
        assert job.status.value == "failed"
        assert job.error == (
            f"filing too large to analyse within 1024 MB: {filings / 'BIG' / '2024.html'}"
            f" and {filings / 'BIG' / '2023.html'}"
        )
        done = await jobs.get_job(db, ok)
        assert done is not None
        assert done.status.value == "completed", done.error
        assert worker.poll() is None
    finally:
        stop([worker])


async def test_sigkill_of_a_worker_leaves_no_process_behind(
    settings: Settings, tmp_path: Path
) -> None:
    filings = tmp_path / "filings"
    pair(filings, "ACME", valid_filing(2024))
    worker = spawn(["worker"], worker_env(settings, filings), tmp_path / "worker.log")
    try:
        child = await one_pool_child(worker)  # its only child: no resource_tracker, no forkserver
        everyone = {child, *children(child)}
        worker.kill()
        worker.wait()

        async def gone() -> bool:
            return not any(alive(pid) for pid in everyone)

        await eventually(gone, deadline=10, interval=0.05)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


async def test_sigterm_to_the_process_group_hands_running_jobs_back(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> None:
    filings = tmp_path / "filings"
    slow_pair(filings)
    env = worker_env(settings, filings, RISKDRIFT_WORKER_SHUTDOWN_GRACE="1")
    log = tmp_path / "worker.log"
    worker = spawn_group_leader(env, log)
    try:
        child = await one_pool_child(worker)
        ids = [await submit(db, redis, settings, "SLOW") for _ in range(2)]

        async def both_running() -> bool:
            texts = [await stream_text(redis, job_id) for job_id in ids]
            return all("fetching_filings" in text for text in texts)

        await eventually(both_running, deadline=60, interval=0.05)
        os.killpg(worker.pid, signal.SIGTERM)  # the child gets it too, and ignores it
        assert alive(child)
        await asyncio.to_thread(worker.wait, 60)
        for job_id in ids:
            job = await jobs.get_job(db, job_id)
            assert job is not None
            assert job.status.value == "queued", job.error  # handed back, not failed
            assert job.attempts == 0  # the interrupted run was not charged
            assert "worker shutting down; job re-queued" in await stream_text(redis, job_id)

        async def child_gone() -> bool:
            return not alive(child)

        await eventually(child_gone, deadline=10, interval=0.05)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    text = log.read_text()
    assert "analysis_process_died" not in text
    assert "job_failed" not in text


async def test_sigkill_of_the_supervisor_leaves_no_worker_or_analysis_process(
    settings: Settings, tmp_path: Path
) -> None:
    filings = tmp_path / "filings"
    pair(filings, "ACME", valid_filing(2024))
    env = worker_env(settings, filings, RISKDRIFT_WORKER_SHUTDOWN_GRACE="2")
    supervisor = spawn(["worker", "--processes", "2"], env, tmp_path / "worker.log")
    try:

        async def workers_with_pools() -> bool:
            workers = children(supervisor.pid)
            return len(workers) == 2 and all(len(children(w)) == 1 for w in workers)

        await eventually(workers_with_pools, deadline=120, interval=0.1)
        workers = children(supervisor.pid)
        everyone = workers | {c for w in workers for c in children(w)}
        supervisor.kill()
        supervisor.wait()

        async def all_gone() -> bool:
            return not any(alive(pid) for pid in everyone)

        await eventually(all_gone, deadline=60, interval=0.1)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
