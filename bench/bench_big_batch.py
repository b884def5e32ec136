"""Big batches: the submit call of a 1,000-ticker batch, a 10,000-job backlog, its drain.

1. The API (``bench/service_procs.py api``, auth off, per-tenant cap and rate limit
   raised to let 10,000 jobs queue) takes ``--batches`` (10) ``POST /batches`` of
   ``--tickers`` (1,000) each, one after the other, with no worker running: every job
   stays queued. Figures: the submit call's latency (p50, p99 over the batches; with 10
   batches p99 is the slowest call) and the API's RSS after each batch.
   Target: p99 < 1 s; API RSS flat (the growth from the first to the last batch is
   what stays in the process per queued job).
2. With all 10,000 jobs queued: ``GET /batches/{id}`` of the first and the last batch,
   ``--gets`` (200) calls each, one at a time. Target: p99 < 20 ms.
3. riskdrift's worker with the no-op agent (``bench/service_procs.py riskdrift``:
   the real worker, the analysis replaced, so the 10,000 jobs are the service's own
   cost) drains the backlog; the API's and the worker's RSS are sampled every second.
   Target: flat (the worker's RSS after the drain vs after its first 1,000 jobs).

RSS is read from ``/proc/PID/status`` (VmRSS). Needs Redis and Postgres
(``REDIS_URL`` / ``DATABASE_URL`` or the defaults); works in a schema and queues of
its own, dropped afterwards.

    .venv/bin/python bench/bench_big_batch.py [--batches 10] [--tickers 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.config import Settings  # noqa: E402

SUBMIT_P99 = 1.0
GET_P99 = 0.020


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0-1) by the nearest-rank method: with few samples, p99 is the max."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def start(mode: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log = Path(tempfile.mkstemp(prefix=f"bench-big-{mode}-", suffix=".log")[1])
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "service_procs.py"), mode],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return proc, log


async def wait_healthy(http: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(60):
        while True:
            if proc.poll() is not None:
                raise SystemExit("bench_big_batch: the API exited at start-up (see its log)")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)


async def run(args: argparse.Namespace) -> None:
    from riskdrift.store.migrate import migrate
    from riskdrift.store.pool import create_pool

    base = Settings(_env_file=None)
    tag = uuid.uuid4().hex[:10]
    settings = base.model_copy(
        update={
            "database_schema": f"bench_{tag}",
            "queue_name": f"bench:analysis:{tag}",
            "embeddings_queue_name": f"bench:embeddings:{tag}",
        }
    )
    admin = await create_pool(base, min_size=1, max_size=1)
    await admin.execute(f'CREATE SCHEMA "{settings.database_schema}"')
    db = await create_pool(settings, min_size=1, max_size=2)
    async with db.acquire() as conn:
        await migrate(conn)
    port = free_port()
    total = args.batches * args.tickers
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_EMBEDDINGS_QUEUE_NAME": settings.embeddings_queue_name,
        "RISKDRIFT_API_PORT": str(port),
        "RISKDRIFT_AUTH_ENABLED": "false",
        "RISKDRIFT_MAX_QUEUED_JOBS_PER_TENANT": str(total + 1),
        "RISKDRIFT_SUBMIT_RATE_LIMIT": "",
        "RISKDRIFT_WORKER_MAX_JOBS": "16",
        "RISKDRIFT_LOG_FORMAT": "json",
        "RISKDRIFT_LOG_LEVEL": "warning",
    }
    api, api_log = start("api", env)
    worker: subprocess.Popen[bytes] | None = None
    worker_log: Path | None = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await wait_healthy(http, api)
            print(f"bench_big_batch: {args.batches} batches x {args.tickers} tickers "
                  f"= {total} jobs, cpu_count={os.cpu_count()}")  # fmt: skip

            # 1. Submissions, no worker: the backlog builds up.
            api_rss = [rss_mb(api.pid)]
            submit_s: list[float] = []
            batch_ids: list[str] = []
            for b in range(args.batches):
                tickers = [f"B{b:03d}T{i:04d}" for i in range(args.tickers)]
                started = time.perf_counter()
                answer = await http.post(
                    "/batches", json={"tickers": tickers, "years": [2024, 2023]}
                )
                submit_s.append(time.perf_counter() - started)
                if answer.status_code != 202:
                    raise SystemExit(f"bench_big_batch: submit {b}: {answer.status_code} "
                                     f"{answer.text[:300]}")  # fmt: skip
                batch_ids.append(answer.json()["batch_id"])
                api_rss.append(rss_mb(api.pid))
            queued = await db.fetchval("SELECT count(*) FROM jobs WHERE status = 'queued'")
            p50, p99 = statistics.median(submit_s), percentile(submit_s, 0.99)
            verdict = "met" if p99 < SUBMIT_P99 else "MISSED"
            print(f"submit POST /batches ({args.tickers} tickers): p50 {p50 * 1000:.0f} ms, "
                  f"p99 {p99 * 1000:.0f} ms (n={len(submit_s)})  target p99 < "
                  f"{SUBMIT_P99 * 1000:.0f} ms {verdict}")  # fmt: skip
            print(f"queued jobs: {queued}")
            print("API RSS MB after each batch: " + " ".join(f"{r:.0f}" for r in api_rss))
            print(f"   API RSS growth first→last batch: {api_rss[-1] - api_rss[1]:+.1f} MB "
                  f"({(api_rss[-1] - api_rss[1]) * 1024 * 1024 / max(1, total - args.tickers):.0f}"
                  " B per queued job)")  # fmt: skip

            # 2. Reading a batch with the whole backlog queued.
            for label, batch_id in (("first", batch_ids[0]), ("last", batch_ids[-1])):
                times = []
                for _ in range(args.gets):
                    started = time.perf_counter()
                    answer = await http.get(f"/batches/{batch_id}")
                    times.append(time.perf_counter() - started)
                    answer.raise_for_status()
                g99 = percentile(times, 0.99)
                print(f"GET /batches/{{id}} ({label} batch, {queued} jobs queued): "
                      f"p50 {statistics.median(times) * 1000:.1f} ms, p99 {g99 * 1000:.1f} ms  "
                      f"target p99 < {GET_P99 * 1000:.0f} ms "
                      f"{'met' if g99 < GET_P99 else 'MISSED'}")  # fmt: skip

            # 3. The drain by the real worker with the no-op agent.
            worker, worker_log = start("riskdrift", env)
            samples: list[tuple[float, int, float, float]] = []
            started = time.perf_counter()
            async with asyncio.timeout(args.drain_timeout):
                while True:
                    finished = await db.fetchval(
                        "SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed')"
                    )
                    samples.append((time.perf_counter() - started, finished,
                                    rss_mb(api.pid), rss_mb(worker.pid)))  # fmt: skip
                    if finished >= total:
                        break
                    if worker.poll() is not None:
                        raise SystemExit("bench_big_batch: the worker exited (see its log)")
                    await asyncio.sleep(1.0)
            drain_s = samples[-1][0]
            print(f"drain by one worker process (no-op agent): {total} jobs in {drain_s:.1f} s "
                  f"({total / drain_s:.0f} jobs/s)")  # fmt: skip
            print("   t s  finished  API MB  worker MB")
            step = max(1, len(samples) // 10)
            for t, done, a_mb, w_mb in samples[::step] + samples[-1:]:
                print(f"{t:6.1f} {done:9d} {a_mb:7.0f} {w_mb:10.0f}")
            after_first = next((s for s in samples if s[1] >= args.tickers), samples[0])
            print(f"   worker RSS after its first {args.tickers} jobs {after_first[3]:.0f} MB, "
                  f"at the end {samples[-1][3]:.0f} MB "
                  f"({samples[-1][3] - after_first[3]:+.1f} MB)")  # fmt: skip
    finally:
        for proc in (worker, api):
            if proc is not None:
                proc.terminate()
                proc.wait(60)
        job_ids = [str(r["id"]) for r in await db.fetch("SELECT id FROM jobs")]
        batch_ids_db = [str(r["id"]) for r in await db.fetch("SELECT id FROM batches")]
        await db.close()
        await admin.execute(f'DROP SCHEMA "{settings.database_schema}" CASCADE')
        await admin.close()
        await forget_keys(settings.redis_url, tag, job_ids, batch_ids_db)
        for log in (api_log, worker_log):
            if log is not None:
                if "BENCH_KEEP_LOG" in os.environ:
                    print(f"   log: {log}")
                else:
                    log.unlink()


async def forget_keys(redis_url: str, tag: str, job_ids: list[str], batch_ids: list[str]) -> None:
    """Delete this run's Redis keys, and only those (other runs may share the server)."""
    from redis.asyncio import Redis

    from riskdrift.queue import in_progress_key, job_key, result_key, retry_key
    from riskdrift.queue.keys import job_batch_key, stream_key

    r = Redis.from_url(redis_url)
    try:
        patterns = [f"*{tag}*", *(f"*{batch_id}*" for batch_id in batch_ids)]
        keys = [k for pattern in patterns async for k in r.scan_iter(pattern, count=1000)]
        for job_id in job_ids:
            keys += [key(job_id) for key in (job_key, result_key, retry_key, in_progress_key,
                                             job_batch_key, stream_key)]  # fmt: skip
        for at in range(0, len(keys), 1000):
            await r.delete(*keys[at : at + 1000])
    finally:
        await r.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--tickers", type=int, default=1000)
    parser.add_argument("--gets", type=int, default=200)
    parser.add_argument("--drain-timeout", type=float, default=900)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
