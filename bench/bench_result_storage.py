"""What a real job with a callback costs in Postgres bytes and in the service's own CPU.

``riskdrift worker`` (one process, its one analysis process, the result cache on, the
local filing source over the shared corpus) and ``riskdrift worker --queue webhooks``
run every consecutive-year pair of the corpus as a job with a ``callback_url`` (a local
receiver answering ``204``), twice:

1. computed: each pair analysed for the first time (cache misses);
2. cached re-run: the same pairs again (answered from the result cache).

For each phase it prints, per job:

* **result bytes**: the stored size (``pg_column_size``: TOAST-compressed, lz4 where the
  server has it) of every copy of a result Postgres holds for the job: the result row's
  ``result``, the result cache entry's ``result`` (the entries the phase wrote), the
  webhook row's ``body``; against **one copy**, the mean stored size of a cache entry's
  result (the result's compressed size; the phases run the same pairs). Target: ≤ 1.1 x
  one copy per job.
* **table bytes**: the growth of every table of the schema (``pg_total_relation_size``,
  8 kB pages: indexes, the cache's risk texts and the search tables included), per job;
* **service CPU**: CPU seconds of the worker processes (the analysis worker and the
  webhook worker) without their analysis processes, per job (psutil); and the same less
  what the idle workers burn (measured for ``--idle`` seconds before the phases: arq's
  poll of Redis), i.e. the work the jobs themselves cost;
* **webhook bytes**: the mean body size the receiver got.

Needs Redis, Postgres and the shared corpus; works in a schema and queues of its own,
dropped afterwards.

    .venv/bin/python bench/bench_result_storage.py [--repeat 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.config import Settings  # noqa: E402
from riskdrift.webhooks import generate_secret  # noqa: E402

CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus")) / "real10k"
TARGET = 1.1


def corpus_pairs() -> list[tuple[str, int, int]]:
    found = []
    for ticker_dir in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        years = sorted(int(p.stem) for p in ticker_dir.glob("*.html") if p.stem.isdigit())
        found += [(ticker_dir.name, b, a) for a, b in itertools.pairwise(years) if b == a + 1]
    return found


class Receiver:
    """A keep-alive HTTP/1.1 receiver answering 204; counts bodies and their bytes."""

    def __init__(self) -> None:
        self.bodies: list[int] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                self.bodies.append(length)
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        writer.close()


def start_worker(env: dict[str, str], queue: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``riskdrift worker [--queue webhooks]`` with its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "riskdrift", "worker", *queue],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def service_cpu(roots: list[psutil.Process]) -> float:
    """CPU seconds of the worker processes, their analysis processes left out."""
    total = 0.0
    for root in roots:
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                if "child_main" in " ".join(proc.cmdline()):
                    continue
                t = proc.cpu_times()
                total += t.user + t.system
    return total


async def main_async(args: argparse.Namespace) -> None:
    from arq import create_pool as create_arq_pool

    from riskdrift.jobs.enqueue import enqueue_new_job
    from riskdrift.models import AnalyzeRequest
    from riskdrift.store import jobs
    from riskdrift.store.migrate import migrate
    from riskdrift.store.pool import create_pool
    from riskdrift.worker import serialization
    from riskdrift.worker.settings import redis_settings

    pairs = corpus_pairs() * args.repeat
    base = Settings()
    tag = uuid.uuid4().hex[:10]
    settings = base.model_copy(
        update={
            "database_schema": f"bench_{tag}",
            "queue_name": f"bench:analysis:{tag}",
            "webhooks_queue_name": f"bench:webhooks:{tag}",
            "embeddings_queue_name": f"bench:embeddings:{tag}",
        }
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
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_WEBHOOKS_QUEUE_NAME": settings.webhooks_queue_name,
        "RISKDRIFT_EMBEDDINGS_QUEUE_NAME": settings.embeddings_queue_name,
        "RISKDRIFT_FILINGS_DIR": str(CORPUS),
        "RISKDRIFT_RESULT_CACHE": "true",
        "RISKDRIFT_ANALYSIS_PROCESSES": "1",
        "RISKDRIFT_WEBHOOK_SECRETS": generate_secret(),
        "RISKDRIFT_WEBHOOK_ALLOWED_CIDRS": '["127.0.0.0/8"]',
        "RISKDRIFT_LOG_FORMAT": "json",
        "RISKDRIFT_LOG_LEVEL": "warning",
    }
    log = Path(tempfile.mkstemp(prefix="bench-storage-", suffix=".log")[1])
    workers = [
        await asyncio.to_thread(start_worker, env, queue, log)
        for queue in ([], ["--queue", "webhooks"])
    ]
    roots = [psutil.Process(w.pid) for w in workers]

    async def table_bytes() -> int:
        total: int = await db.fetchval(
            """SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relkind = 'r'""",
            settings.database_schema,
        )
        return total

    async def cache_result_bytes() -> int:
        total: int = await db.fetchval(
            "SELECT coalesce(sum(pg_column_size(result)), 0)::bigint FROM result_cache"
        )
        return total

    idle_rate = 0.0  # CPU seconds per second of the idle workers

    async def phase(name: str) -> None:
        tables0, cache0 = await table_bytes(), await cache_result_bytes()
        cpu0, bodies0 = service_cpu(roots), len(receiver.bodies)
        started = time.perf_counter()
        ids = []
        for ticker, current, previous in pairs:
            request = AnalyzeRequest(
                ticker=ticker,
                years=[current, previous],
                callback_url=f"http://127.0.0.1:{port}/hook",
            )
            job, _ = await jobs.create_job(db, request, tenant="bench")
            await enqueue_new_job(redis, job.id, settings)
            ids.append(job.id)
        async with asyncio.timeout(1800):
            while True:
                done = await db.fetchval(
                    """SELECT count(*) FROM webhook_deliveries
                       WHERE job_id = ANY($1) AND status <> 'pending'""",
                    ids,
                )
                if done == len(ids):
                    break
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu = service_cpu(roots) - cpu0
        busy = cpu - idle_rate * elapsed
        failed = await db.fetchval(
            "SELECT count(*) FROM jobs WHERE id = ANY($1) AND status <> 'completed'", ids
        )
        copies = await db.fetchrow(
            """SELECT (SELECT coalesce(sum(pg_column_size(result)), 0) FROM analysis_results
                       WHERE job_id = ANY($1))::bigint AS rows,
                      (SELECT coalesce(sum(pg_column_size(body)), 0) FROM webhook_deliveries
                       WHERE job_id = ANY($1))::bigint AS bodies""",
            ids,
        )
        assert copies is not None  # one row: two scalar subqueries
        cache = await cache_result_bytes() - cache0
        one = statistics.mean(
            [r[0] for r in await db.fetch("SELECT pg_column_size(result) FROM result_cache")]
        )
        n = len(ids)
        per_job = (copies["rows"] + copies["bodies"] + cache) / n
        bodies = receiver.bodies[bodies0:]
        print(
            f"{name}: {n} jobs in {elapsed:.1f} s, failed {failed}\n"
            f"   result bytes/job {per_job / 1024:.1f} kB = {per_job / one:.2f} x one copy "
            f"({one / 1024:.1f} kB; target <= {TARGET}) "
            f"{'met' if per_job <= TARGET * one else 'MISSED'}: rows "
            f"{copies['rows'] / n / 1024:.1f} kB, cache {cache / n / 1024:.1f} kB, "
            f"webhook rows {copies['bodies'] / n / 1024:.1f} kB\n"
            f"   table bytes/job {(await table_bytes() - tables0) / n / 1024:.1f} kB; "
            f"service CPU/job {1000 * cpu / n:.1f} ms ({1000 * busy / n:.1f} ms less idle "
            f"polling); webhook body mean "
            f"{statistics.mean(bodies) / 1024 if bodies else 0:.1f} kB ({len(bodies)} received)"
        )

    async def ready() -> None:
        """Both workers started (their arq health keys written): start-up CPU is not the
        jobs'."""
        keys = [f"{q}:health-check" for q in (settings.queue_name, settings.webhooks_queue_name)]
        async with asyncio.timeout(120):
            while await redis.exists(*keys) < len(keys):  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.1)

    try:
        await ready()
        idle0, idle_started = service_cpu(roots), time.perf_counter()
        await asyncio.sleep(args.idle)
        idle_rate = (service_cpu(roots) - idle0) / (time.perf_counter() - idle_started)
        print(f"   idle workers: {100 * idle_rate:.1f} % of a core (both together)")
        print(
            f"bench_result_storage: {len(pairs)} pairs of the corpus, cpu_count={os.cpu_count()}, "
            f"load average {os.getloadavg()[0]:.2f}"
        )
        await phase("computed")
        await phase("cached re-run")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            await asyncio.to_thread(worker.wait, 60)
        server.close()
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
    parser.add_argument("--repeat", type=int, default=1, help="times each pair is submitted")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds the idle CPU is measured")
    if not CORPUS.is_dir():
        print(f"bench_result_storage: skipped, no corpus at {CORPUS}")
        return
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
