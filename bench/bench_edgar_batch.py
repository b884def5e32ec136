"""EDGAR-bound batch: 100 companies against a local recorded-EDGAR server held to 10 req/s.

The server (in this process, real HTTP on 127.0.0.1) serves the recorded EDGAR
fixtures of tests/sources/fixtures (tickers map, submissions JSON) and the shared
corpus's 10-K documents, under 100 synthetic tickers ``SYN000``…``SYN099`` (each a
copy of one of four recorded companies' pairs with its own CIK, so every company is
its own submissions index and its own filings folder). It enforces SEC's fair-access
rate with a token bucket (10 req/s, burst 10; over the rate: ``429`` +
``Retry-After: 1``) and delays every answer by ``--latency`` plus ``--per-mb`` per MB
of body (default 50 ms + 100 ms/MB, i.e. ~10 MB/s).

``riskdrift worker --processes 2`` (EDGAR source, result cache on, an empty document
cache) drains the batch twice:

1. cold: every job needs its company's submissions index and two documents (plus one
   tickers map per worker process). Target: completion ≤ 1.15 × the request floor
   (requests made / 10 req/s).
2. warm, the same batch again: target zero document requests and ≥ 200 pairs/s, the
   results answered from the result cache.

Jobs are created and queued through the API's enqueue path, 16 submissions in
flight. Needs Redis, Postgres and the shared corpus.

    .venv/bin/python bench/bench_edgar_batch.py [--companies 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.config import Settings  # noqa: E402
from tests.doubles.edgar import stub_document  # noqa: E402  (the cover pages the tests serve)

FIXTURES = ROOT / "tests" / "sources" / "fixtures"
CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus")) / "real10k"
# (recorded CIK, years) of the pairs whose both documents the corpus holds
# (NVIDIA 2023 is in the paged history, which this server does not serve.)
BASES = [(1045810, (2025, 2024)), (354950, (2024, 2023)), (320193, (2025, 2024)),
         (1318605, (2024, 2023))]  # fmt: skip
SYNTHETIC_CIK = 9_000_000
RATE = 10.0
TARGET_FACTOR = 1.15
TARGET_CACHED_RATE = 200.0


class RecordedEdgar:
    """The rate-limited, latency-adding recorded EDGAR (module docstring)."""

    def __init__(self, companies: int, latency: float, per_mb: float) -> None:
        self.latency, self.per_mb = latency, per_mb
        self.counts: Counter[str] = Counter()
        self.throttled = 0
        self.tokens, self.stamp = RATE, time.monotonic()
        documents = json.loads((FIXTURES / "documents.json").read_text())
        self.submissions: dict[int, dict[str, object]] = {}
        self.archive: dict[tuple[int, str, str], bytes] = {}
        self.companies: list[tuple[str, int, tuple[int, int]]] = []
        for i in range(companies):
            base_cik, years = BASES[i % len(BASES)]
            cik = SYNTHETIC_CIK + i
            data = json.loads((FIXTURES / f"CIK{base_cik:010d}.json").read_text())
            data["cik"] = str(cik)
            data["filings"]["files"] = []  # the recent filings hold every year asked for
            recent = data["filings"]["recent"]
            for accession, doc in zip(
                recent["accessionNumber"], recent["primaryDocument"], strict=True
            ):
                spec = documents.get(accession, {})
                folder = accession.replace("-", "")
                if "corpus" in spec:
                    self.archive[(cik, folder, doc)] = (CORPUS / spec["corpus"]).read_bytes()
                elif "stub" in spec:  # a recorded filing outside the corpus: its cover page
                    self.archive[(cik, folder, doc)] = stub_document(**spec["stub"])
            self.submissions[cik] = data
            self.companies.append((f"SYN{i:03d}", cik, years))

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.dispatch)])

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE, self.tokens + (now - self.stamp) * RATE)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        if not self._take_token():
            self.throttled += 1
            return Response("slow down", status_code=429, headers={"Retry-After": "1"})
        response, kind = self._answer(path)
        self.counts[kind] += 1
        await asyncio.sleep(self.latency + self.per_mb * len(response.body) / 1e6)
        return response

    def _answer(self, path: str) -> tuple[Response, str]:
        if path == "/www/files/company_tickers.json":
            table = {
                str(n): {"cik_str": cik, "ticker": ticker, "title": f"Synthetic {n}"}
                for n, (ticker, cik, _) in enumerate(self.companies)
            }
            return JSONResponse(table), "tickers"
        if path.startswith("/data/submissions/CIK"):
            cik = int(path.removeprefix("/data/submissions/CIK").removesuffix(".json"))
            if cik in self.submissions:
                return JSONResponse(self.submissions[cik]), "submissions"
        parts = path.removeprefix("/www/Archives/edgar/data/").split("/")
        if len(parts) == 3 and parts[0].isdigit():
            body = self.archive.get((int(parts[0]), parts[1], parts[2]))
            if body is not None:
                return Response(body, media_type="text/html"), "documents"
        return JSONResponse({"message": "Not Found"}, status_code=404), "not_found"


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def start_worker(env: dict[str, str], processes: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = Path(tempfile.mkstemp(prefix="bench-edgar-worker-", suffix=".log")[1])
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "riskdrift", "worker", "--processes", str(processes)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    return worker, log


async def run(args: argparse.Namespace) -> None:
    from arq import create_pool as create_arq_pool

    from riskdrift.jobs.enqueue import enqueue_new_job
    from riskdrift.models import AnalyzeRequest
    from riskdrift.store import jobs
    from riskdrift.store.migrate import migrate
    from riskdrift.store.pool import create_pool
    from riskdrift.worker import serialization
    from riskdrift.worker.settings import redis_settings

    edgar = RecordedEdgar(args.companies, args.latency, args.per_mb)
    sock = _free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(edgar.app(), lifespan="off", log_config=None, access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))

    base = Settings(_env_file=None)
    tag = uuid.uuid4().hex[:10]
    settings = base.model_copy(
        update={"database_schema": f"bench_{tag}", "queue_name": f"bench:analysis:{tag}"}
    )
    admin = await create_pool(base, min_size=1, max_size=1)
    await admin.execute(f'CREATE SCHEMA "{settings.database_schema}"')
    db = await create_pool(settings, min_size=4, max_size=16)
    async with db.acquire() as conn:
        await migrate(conn)
    redis = await create_arq_pool(
        redis_settings(settings),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        default_queue_name=settings.queue_name,
    )
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-edgar-cache-"))
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_FILINGS_SOURCE": "edgar",
        "RISKDRIFT_EDGAR_BASE_URL": f"{url}/www",
        "RISKDRIFT_EDGAR_DATA_URL": f"{url}/data",
        "RISKDRIFT_EDGAR_USER_AGENT": "riskdrift-bench ops@riskdrift.example",
        "RISKDRIFT_EDGAR_REQUESTS_PER_SECOND": str(RATE),
        "RISKDRIFT_EDGAR_CACHE_DIR": str(cache_dir),
        "RISKDRIFT_RESULT_CACHE": "true",
        "RISKDRIFT_ANALYSIS_PROCESSES": "1",
        "RISKDRIFT_WORKER_MAX_JOBS": str(args.max_jobs),
        "RISKDRIFT_LOG_FORMAT": "json",
        "RISKDRIFT_LOG_LEVEL": "info",  # worker_started tells when the processes are up
    }
    worker, log = await asyncio.to_thread(start_worker, env, args.processes)
    submit_slots = asyncio.Semaphore(16)

    async def submit(ticker: str, years: tuple[int, int]) -> uuid.UUID:
        async with submit_slots:
            job, _ = await jobs.create_job(
                db, AnalyzeRequest(ticker=ticker, years=list(years)), tenant="bench"
            )
            await enqueue_new_job(redis, job.id, settings)
            return job.id

    tick = os.sysconf("SC_CLK_TCK")

    def cpu_seconds() -> tuple[float, float]:
        """CPU seconds used so far by the worker processes (and their CPU pools), and by
        this process (the recorded EDGAR and the submitter); from /proc (Linux)."""
        stats: dict[int, tuple[int, float]] = {}  # pid -> (ppid, cpu seconds)
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                stats[int(stat.parent.name)] = (int(fields[1]), cpu)
        tree, frontier = set(), {worker.pid}
        while frontier:
            tree |= frontier
            frontier = {pid for pid, (ppid, _) in stats.items() if ppid in frontier} - tree
        workers = sum(stats[pid][1] for pid in tree if pid in stats and pid != worker.pid)
        own = os.times()
        return workers, own.user + own.system

    async def batch() -> tuple[float, list[str]]:
        cpu_before = cpu_seconds()
        started = time.perf_counter()
        ids = await asyncio.gather(*(submit(t, y) for t, _, y in edgar.companies))
        submitted = time.perf_counter() - started
        async with asyncio.timeout(900):
            while True:
                rows = await db.fetch(
                    "SELECT status, error FROM jobs WHERE id = ANY($1) "
                    "AND status IN ('completed', 'failed', 'cancelled')",
                    ids,
                )
                if len(rows) == len(ids):
                    break
                await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        cached = await db.fetchval(
            "SELECT count(*) FROM analysis_results WHERE job_id = ANY($1) AND cached",
            ids,
        )
        errors = [r["error"] for r in rows if r["status"] != "completed"]
        cpu_after = cpu_seconds()
        print(f"   submitting {len(ids)} jobs took {submitted:.3f} s of the {elapsed:.3f} s")
        print(f"   cpu: workers {cpu_after[0] - cpu_before[0]:.1f} s, recorded EDGAR + "
              f"submitter {cpu_after[1] - cpu_before[1]:.1f} s, in {elapsed:.1f} s wall "
              f"on {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")  # fmt: skip
        return elapsed, [*errors, f"cached={cached}"]

    try:
        # Wait until the worker processes are up (their start is not the batch's cost).
        async with asyncio.timeout(60):
            while (await asyncio.to_thread(log.read_text)).count("worker_started") < args.processes:
                if worker.poll() is not None:
                    raise SystemExit(f"worker exited: {await asyncio.to_thread(log.read_text)}")
                await asyncio.sleep(0.1)
        n = len(edgar.companies)
        print(f"bench_edgar_batch: {n} companies, {args.processes} worker processes x "
              f"{args.max_jobs} jobs, EDGAR {RATE:g} req/s, latency {args.latency * 1000:g} ms "
              f"+ {args.per_mb * 1000:g} ms/MB")  # fmt: skip
        cold_s, cold_notes = await batch()
        cold = dict(edgar.counts)
        requests = sum(cold.values())
        floor = requests / RATE
        print(f"cold: {cold_s:.2f} s for {n} pairs ({n / cold_s:.1f} pairs/s); requests {cold}, "
              f"429s {edgar.throttled}; floor {floor:.1f} s; {cold_s / floor:.2f} x floor "
              f"(target <= {TARGET_FACTOR}) "
              f"{'met' if cold_s <= TARGET_FACTOR * floor else 'MISSED'}"
              f"; failed/cached: {cold_notes[-1]}, errors {cold_notes[:-1][:3]}")  # fmt: skip
        for attempt in range(args.warm_runs):
            edgar.counts.clear()
            warm_s, warm_notes = await batch()
            warm = dict(edgar.counts)
            docs = warm.get("documents", 0)
            rate = n / warm_s
            label = "warm" if args.warm_runs == 1 else f"warm {attempt + 1}/{args.warm_runs}"
            print(f"{label}: {warm_s:.3f} s for {n} pairs ({rate:.0f} pairs/s, target >= "
                  f"{TARGET_CACHED_RATE:g}) {'met' if rate >= TARGET_CACHED_RATE else 'MISSED'}; "
                  f"requests {warm} (documents {docs}, target 0) "
                  f"{'met' if docs == 0 else 'MISSED'}; "
                  f"{warm_notes[-1]}, errors {warm_notes[:-1][:3]}")  # fmt: skip
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 60)
        server.should_exit = True
        await serving
        await redis.aclose()
        await db.close()
        await admin.execute(f'DROP SCHEMA "{settings.database_schema}" CASCADE')
        await admin.close()
        await asyncio.to_thread(subprocess.run, ["rm", "-rf", str(cache_dir)], check=False)
        if "BENCH_KEEP_LOG" in os.environ:
            print(f"worker log: {log}")
        else:
            await asyncio.to_thread(log.unlink)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100)
    parser.add_argument("--warm-runs", type=int, default=1, help="times the warm batch runs")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--max-jobs", type=int, default=16)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--per-mb", type=float, default=0.1, help="seconds per MB of body")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench_edgar_batch: skipped, no corpus at {CORPUS}")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
