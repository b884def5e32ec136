"""Real-analysis throughput: the service against the bare analysis, same pairs, same run.

The corpus's consecutive-year pairs, repeated ``--repeat`` times (result cache off),
are drained

- by the service: ``riskdrift worker --processes K`` (K worker processes, each with
  its one-process CPU pool, the default ``analysis_processes=1``) over the local
  filing source, jobs created in Postgres and queued in Redis by the API's own
  enqueue path, timed from the first submission to the last ``completed`` row;
- bare: the same pairs through ``analyse_documents`` in a ``ProcessPoolExecutor``
  of K processes, files read by the child, no service around it;

for K = 1 and 2, interleaved (bare 1, service 1, bare 2, service 2), so machine
noise hits both sides alike. For K > 1 the service also runs as one worker process
with an analysis pool of K (``RISKDRIFT_ANALYSIS_PROCESSES=K``, ``4 x K`` job slots):
one event loop instead of K. Target: service ≥ 90 % of bare at each K.

    .venv/bin/python bench/bench_throughput.py [--repeat 4] [--processes 1 2]

Needs Redis and Postgres (``REDIS_URL`` / ``DATABASE_URL`` or the defaults) and the
shared corpus; works in a schema and queue of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.config import Settings  # noqa: E402

CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus")) / "real10k"
TARGET = 0.90


def corpus_pairs() -> list[tuple[str, int, int]]:
    found = []
    for ticker_dir in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        years = sorted(int(p.stem) for p in ticker_dir.glob("*.html") if p.stem.isdigit())
        found += [(ticker_dir.name, b, a) for a, b in itertools.pairwise(years) if b == a + 1]
    return found


def _bare_one(pair: tuple[str, int, int]) -> int:
    from riskdrift.agent.lexicons import load_lexicon
    from riskdrift.analysis.pipeline import analyse_documents
    from riskdrift.models import FilingDocument

    ticker, current, previous = pair

    def document(year: int) -> FilingDocument:
        path = CORPUS / ticker / f"{year}.html"
        return FilingDocument(ticker, year, path.read_bytes(), str(path), "local")

    return len(analyse_documents(document(current), document(previous), load_lexicon(None)).risks)


def start_worker(env: dict[str, str], processes: int) -> tuple[subprocess.Popen[bytes], Path]:
    """``riskdrift worker --processes N`` with its output in a temporary log file."""
    log = Path(tempfile.mkstemp(prefix="bench-worker-", suffix=".log")[1])
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "riskdrift", "worker", "--processes", str(processes)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return worker, log


def bare(pairs: list[tuple[str, int, int]], processes: int) -> float:
    """Seconds to analyse ``pairs`` in a warm process pool of ``processes``."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        list(pool.map(_bare_one, pairs[:processes]))  # warm: imports, lexicon
        started = time.perf_counter()
        list(pool.map(_bare_one, pairs))
        return time.perf_counter() - started


async def service(
    pairs: list[tuple[str, int, int]], processes: int, base: Settings, pool: int = 1
) -> float:
    """Seconds for ``riskdrift worker --processes N`` (each with a CPU pool of ``pool``
    processes) to complete ``pairs`` as jobs."""
    from arq import create_pool as create_arq_pool

    from riskdrift.jobs.enqueue import enqueue_new_job
    from riskdrift.models import AnalyzeRequest
    from riskdrift.store import jobs
    from riskdrift.store.migrate import migrate
    from riskdrift.store.pool import create_pool
    from riskdrift.worker import serialization
    from riskdrift.worker.settings import redis_settings

    tag = uuid.uuid4().hex[:10]
    settings = base.model_copy(
        update={"database_schema": f"bench_{tag}", "queue_name": f"bench:analysis:{tag}"}
    )
    admin = await create_pool(base, min_size=1, max_size=1)
    await admin.execute(f'CREATE SCHEMA "{settings.database_schema}"')
    db = await create_pool(settings, min_size=1, max_size=4)
    async with db.acquire() as conn:
        await migrate(conn)
    redis = await create_arq_pool(
        redis_settings(settings),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        default_queue_name=settings.queue_name,
    )
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_FILINGS_DIR": str(CORPUS),
        "RISKDRIFT_RESULT_CACHE": "false",
        "RISKDRIFT_ANALYSIS_PROCESSES": str(pool),
        "RISKDRIFT_WORKER_MAX_JOBS": str(4 * pool),
        "RISKDRIFT_LOG_FORMAT": "json",
        "RISKDRIFT_LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "warning"),
    }
    worker, log = await asyncio.to_thread(start_worker, env, processes)
    try:
        # Warm-up jobs (one per process) so both sides start with warm pools.
        async def drain(batch: list[tuple[str, int, int]]) -> float:
            ids = []
            started = time.perf_counter()
            for ticker, current, previous in batch:
                job, _ = await jobs.create_job(
                    db, AnalyzeRequest(ticker=ticker, years=[current, previous]), tenant="bench"
                )
                await enqueue_new_job(redis, job.id, settings)
                ids.append(job.id)
            async with asyncio.timeout(600):
                while True:
                    rows = await db.fetch(
                        "SELECT status, error FROM jobs WHERE id = ANY($1) "
                        "AND status IN ('completed', 'failed', 'cancelled')",
                        ids,
                    )
                    if len(rows) == len(ids):
                        break
                    await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            failed = [r["error"] for r in rows if r["status"] != "completed"]
            if failed:
                raise SystemExit(f"bench_throughput: {len(failed)} jobs failed: {failed[:3]}")
            return elapsed

        await drain(pairs[: processes * pool * 2])
        return await drain(pairs)
    finally:
        worker.terminate()
        worker.wait(60)
        await redis.aclose()
        await db.close()
        await admin.execute(f'DROP SCHEMA "{settings.database_schema}" CASCADE')
        await admin.close()
        if "BENCH_KEEP_LOG" in os.environ:
            print(f"   worker log: {log}")
        else:
            await asyncio.to_thread(log.unlink)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=4)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--layouts",
        nargs="+",
        choices=["processes", "pool"],
        default=["processes", "pool"],
        help="K worker processes of one analysis process each, and/or one worker of K",
    )
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench_throughput: skipped, no corpus at {CORPUS}")
        return
    pairs = corpus_pairs() * args.repeat
    base = Settings(_env_file=None)
    print(f"bench_throughput: {len(pairs)} analyses ({len(pairs) // args.repeat} corpus pairs "
          f"x {args.repeat}), cache off, cpu_count={os.cpu_count()}")  # fmt: skip
    print(f"{'K':>2} {'layout':<22} {'bare s':>8} {'bare/s':>7} {'svc s':>8} {'svc/s':>7} "
          f"{'svc/bare':>9}  target")  # fmt: skip
    for k in args.processes:
        # K worker processes with one analysis process each; and, for K > 1, one worker
        # process with an analysis pool of K (one event loop, K analysis processes).
        layouts = [(k, 1)] + ([(1, k)] if k > 1 and "pool" in args.layouts else [])
        if "processes" not in args.layouts and k > 1:
            layouts = layouts[1:]
        for processes, pool in layouts:
            bare_s = bare(pairs, k)
            svc_s = asyncio.run(service(pairs, processes, base, pool))
            ratio = bare_s / svc_s
            verdict = "met" if ratio >= TARGET else "MISSED"
            layout = f"--processes {processes} x pool {pool}"
            print(f"{k:>2} {layout:<22} {bare_s:8.2f} {len(pairs) / bare_s:7.2f} {svc_s:8.2f} "
                  f"{len(pairs) / svc_s:7.2f} {ratio:8.0%}  >= {TARGET:.0%} {verdict}")  # fmt: skip
            print(f"   per-analysis cost: bare {bare_s * k / len(pairs):.3f} core-s, "
                  f"service {svc_s * k / len(pairs):.3f} core-s")  # fmt: skip


if __name__ == "__main__":
    main()
